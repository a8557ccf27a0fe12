"""Scenarios in YAML or Python → one validated, frozen `loadlens.model.scenario.Scenario`.

Every problem is collected with its file, line, column and key before a SpecError is raised;
a YAML scenario never executes code.

The names below are imported on first use, so that a module of this package used alone
(`spec.overrides` for `loadlens quick`) does not load the YAML reader and its validators.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loadlens.spec.loader import load_scenario, parse_yaml_text
    from loadlens.spec.validate_request import METHODS

__all__ = ["METHODS", "load_scenario", "parse_yaml_text"]

_HOMES = {
    "load_scenario": "loadlens.spec.loader",
    "parse_yaml_text": "loadlens.spec.loader",
    "METHODS": "loadlens.spec.validate_request",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
