"""StopSignals: counts SIGINT, SIGTERM and SIGHUP while catching, nests, restores."""

from __future__ import annotations

import os
import signal

from loadlens.engine.stop_signals import StopSignals


def test_signals_are_counted_the_first_remembered_and_the_handlers_restored() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    signals = StopSignals()
    with signals.catching():
        with signals.catching():  # the CLI's block around the coordinator's
            os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) != before[signal.SIGTERM]  # still the outer's
        os.kill(os.getpid(), signal.SIGHUP)
    assert (signals.count, signals.first_name) == (2, "SIGTERM")
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_signal_ignored_on_purpose_stays_ignored() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under `nohup`
    try:
        signals = StopSignals()
        with signals.catching():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
            os.kill(os.getpid(), signal.SIGTERM)
        assert (signals.count, signals.first_name) == (1, "SIGTERM")
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_no_signal_no_name() -> None:
    signals = StopSignals()
    with signals.catching():
        pass
    assert (signals.count, signals.first_name) == (0, None)
