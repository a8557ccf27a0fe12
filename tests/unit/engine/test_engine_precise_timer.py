"""The dispatcher's timer: never early, the last instant wins, nothing after close, and on Linux
finer than the event loop's millisecond timers."""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import pytest
import uvloop

from loadlens.engine.precise_timer import PreciseTimer

LOOPS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


def _wake_ups(run: object, precise: bool, gap_ns: int, count: int) -> list[int]:
    """Sleep `count` times for `gap_ns` each; how late (ns) each wake-up came."""
    lateness: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        due = time.monotonic_ns() + gap_ns

        def woke() -> None:
            nonlocal due
            now = time.monotonic_ns()
            lateness.append(now - due)
            if len(lateness) == count:
                done.set_result(None)
                return
            due = now + gap_ns
            timer.at(due)

        timer = PreciseTimer(loop, woke, precise=precise)
        timer.at(due)
        try:
            await asyncio.wait_for(done, 10)
        finally:
            timer.close()

    run(main())  # type: ignore[operator]
    return lateness


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("precise", [True, False])
def test_never_calls_back_before_its_instant(loop: str, precise: bool) -> None:
    lateness = _wake_ups(LOOPS[loop], precise, gap_ns=300_000, count=30)
    assert len(lateness) == 30
    assert min(lateness) >= 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")
def test_wakes_well_within_a_millisecond_on_linux() -> None:
    # The loop's own timers round 0.2 ms up to 1 ms and more: each wake-up ≥ 0.8 ms late.
    coarse = _wake_ups(uvloop.run, False, gap_ns=200_000, count=50)
    fine = _wake_ups(uvloop.run, True, gap_ns=200_000, count=50)
    assert statistics.median(coarse) >= 700_000
    assert statistics.median(fine) < 500_000


@pytest.mark.parametrize("precise", [True, False])
def test_a_later_instant_replaces_an_earlier_one(precise: bool) -> None:
    calls: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        timer = PreciseTimer(loop, lambda: calls.append(time.monotonic_ns()), precise=precise)
        start = time.monotonic_ns()
        timer.at(start + 1_000_000)
        timer.at(start + 30_000_000)
        await asyncio.sleep(0.06)
        timer.close()
        assert len(calls) == 1
        assert calls[0] - start >= 30_000_000

    uvloop.run(main())


@pytest.mark.parametrize("precise", [True, False])
def test_no_call_back_after_close(precise: bool) -> None:
    calls: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        timer = PreciseTimer(loop, lambda: calls.append(1), precise=precise)
        timer.at(time.monotonic_ns() + 5_000_000)
        timer.close()
        await asyncio.sleep(0.03)

    uvloop.run(main())
    assert calls == []
