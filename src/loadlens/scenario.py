"""The Python API for writing scenarios: `from loadlens.scenario import scenario, flow, ...`."""

from __future__ import annotations

from loadlens.spec.builder import (
    ScenarioDraft,
    draft,
    feeder,
    flow,
    group,
    request,
    scenario,
    stage,
    think,
)

__all__ = [
    "ScenarioDraft",
    "draft",
    "feeder",
    "flow",
    "group",
    "request",
    "scenario",
    "stage",
    "think",
]
