"""Scenarios in YAML or Python → one validated, frozen `loadlens.model.scenario.Scenario`.

Every problem is collected with its file, line, column and key before a SpecError is raised;
a YAML scenario never executes code.
"""

from __future__ import annotations

from loadlens.spec.loader import load_scenario, parse_yaml_text
from loadlens.spec.validate_request import METHODS

__all__ = ["METHODS", "load_scenario", "parse_yaml_text"]
