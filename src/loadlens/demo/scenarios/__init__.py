"""The scenarios bundled with the demo service, as YAML files beside this module.

Each reproduces one real load-test report (see README.md here); `loadlens demo` runs them against
a fresh demo service, and `examples/` holds copies for users to read. Feeders' CSV files live in
`data/` and ship with the package.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

# name -> one line: what it reproduces, and the fault that shows it
SCENARIOS: dict[str, str] = {
    "crud-level1": "CRUD mix at 20 -> 100 -> 200 req/s after creating 100 users (fault: id-format)",
    "login-burst": "concurrent logins and token refreshes of user0..user9 (faults: token-race, "
    "slow-hash)",
    "chat-smoke": "70 % send / 30 % history by message-id cursor, 5 -> 20 -> 50 users",
    "high-contention": "50 concurrent reserve(10) on one 50-unit authorization: 5 x 200, "
    "45 x 409 (fault: no-lock)",
    "high-throughput": "reserve/read/release over 25 large authorizations plus cached user reads, "
    "50 -> 600 arrivals/s (faults: small-pool, leak)",
    "mixed": "70 % reserve / 20 % release / 10 % consume, 80 % spread and 20 % on hot "
    "authorizations",
    "soak": "90 s at a constant 30 arrivals/s of user reads and reservations, RSS observed "
    "(fault: leak)",
}
DEFAULT_SCENARIO = "crud-level1"

# fault -> the scenario that exercises it (`loadlens demo --fault X` runs it unless --scenario
# says otherwise), and the finding that explains it: (class, attribution) as findings name them
FAULT_SCENARIOS: dict[str, str] = {
    "id-format": "crud-level1",
    "token-race": "login-burst",
    "no-lock": "high-contention",
    "slow-hash": "login-burst",
    "leak": "soak",
    "small-pool": "high-throughput",
}
FAULT_FINDINGS: dict[str, tuple[str, str]] = {
    "id-format": ("broken_chain", "test_script"),
    "token-race": ("race", "service_bug"),
    "no-lock": ("integrity", "service_bug"),
    # the slow accounts are an input: their tail folds into the slow_input finding naming them
    "slow-hash": ("slow_input", "service_bug"),
    "leak": ("drift", "service_bug"),
    "small-pool": ("saturation", "service_capacity"),
}


def scenario_for(faults: tuple[str, ...]) -> str:
    """The scenario that exercises the first fault given, or the default one."""
    return FAULT_SCENARIOS.get(faults[0], DEFAULT_SCENARIO) if faults else DEFAULT_SCENARIO


def scenario_path(name: str) -> Path:
    """The YAML file of the bundled scenario `name` (a KeyError if there is none)."""
    if name not in SCENARIOS:
        raise KeyError(name)
    # Installed from a wheel or editable, the package is a directory on disk, and the scenario
    # must be read by path: its feeders are found relative to it.
    return Path(str(importlib.resources.files(__name__) / f"{name}.yaml"))
