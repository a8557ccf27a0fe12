"""Conditions of the whole test session, set once before any test runs."""

from __future__ import annotations

import signal

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Stop signals as a terminal delivers them.

    A suite started in the background by a script (`make test &` without job control ignores
    SIGINT) or under `nohup` (SIGHUP ignored) passes those dispositions on to every process the
    tests start, and the tests of Ctrl-C, SIGHUP and `demo serve` would then test an ignored
    signal (seen: four failures, all of them that). loadlens leaves a signal ignored on purpose
    ignored, which its own test checks; every other test starts from the defaults.
    """
    del config
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
