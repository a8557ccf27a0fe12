"""After the generator stalls, the open model catches up on the connections it has.

Each case runs one worker's open executor in this process against a test server in another
process, and blocks this process's event loop once, as a stuck generator would.
"""

from __future__ import annotations

import asyncio
import random
import time

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.executors import ExecutorStats, StageControl, WorkerContext
from loadlens.engine.open_model import run_open
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule
from loadlens.engine.variables import SharedData
from loadlens.http import HttpClient
from loadlens.metrics.histogram import BulkHistogram, LatencySummary
from loadlens.metrics.recorder import Recorder
from loadlens.spec import parse_yaml_text
from tests.support.testserver import LocalServer

SCENARIO = """\
name: backlog
target: {url}
steps:
  - request: {{name: find, method: GET, url: /users}}
plan:
  - {{stage: s, rate: 1/s, duration: 1s}}
"""


async def _run_with_a_stall(
    url: str,
    rate: float,
    seconds: float,
    stall_at: float,
    stall: float,
    split_at: float | None = None,
) -> tuple[StepRunner, ExecutorStats, int, list[BulkHistogram]]:
    """The stage's runner and stats, the most connections open at once, and (with `split_at`)
    the lateness up to `split_at` seconds into the stage."""
    compiled = compile_scenario(parse_yaml_text(SCENARIO.format(url=url)))
    runner = StepRunner(HttpClient(), Recorder(compiled.operations))
    context = WorkerContext(compiled, runner, SharedData(rng=random.Random(1)), {}, 0, 1)
    stats = ExecutorStats()
    loop = asyncio.get_running_loop()
    most = 0

    def watch() -> None:
        nonlocal most
        most = max(most, runner.client.open_connections)
        handle = loop.call_later(0.0005, watch)
        handles.append(handle)

    handles: list[asyncio.TimerHandle] = []
    watch()
    loop.call_later(stall_at, time.sleep, stall)  # the generator's loop stuck for `stall` s
    earlier: list[BulkHistogram] = []
    if split_at is not None:
        loop.call_later(split_at, lambda: earlier.append(stats.take()[2]))
    # Counted: exactly `rate × seconds` arrivals, however late a busy machine makes the last
    # of them (a 60 s time limit that never bites), so every count below is exact.
    arrivals = round(rate * seconds)
    schedule = ArrivalSchedule(rate, rate, 0.0, 60.0, limit=arrivals)
    try:
        await run_open(
            context, schedule, 1000, time.monotonic_ns(), 2.0, StageControl(), stats, counted=True
        )
    finally:
        handles[-1].cancel()
        await runner.client.close()
    return runner, stats, most, earlier


def test_a_stall_does_not_open_a_connection_per_waiting_arrival() -> None:
    # 200 arrivals fall due during the 200 ms stall. The connections there are, plus a few
    # (up to the hold floor of 16, then 8 per tick while the backlog does not shrink), carry
    # them once the loop runs again: 22-68 open at most here, with both cores busy or not.
    # Opening one per waiting arrival, as before, held 260-320 open at once.
    with LocalServer("crud") as url:
        runner, stats, most, _ = asyncio.run(_run_with_a_stall(url, 1000, 0.6, 0.2, 0.2))
    late, dropped, lateness = stats.take()
    assert runner.sent == 600  # every arrival was sent: late, not lost
    assert dropped == 0
    assert late >= 100  # the arrivals that waited out the stall are counted late
    assert _summary(lateness).max >= 180  # ms
    assert most <= 120, most  # well under one connection per waiting arrival


def test_after_a_stall_a_slow_server_gets_the_connections_it_needs() -> None:
    # The "slow" server answers every request in 20 ms: 900 arrivals/s keep about 18 in
    # flight, just past the hold floor (16), and the stage's connections carry about that many.
    # The 180 arrivals due during a 200 ms stall need more: on those connections alone the
    # backlog would shrink by about 100 a second and the rest of the stage would run late. The
    # generator, on time again, opens a few per tick while the backlog does not shrink, and the
    # last arrivals are on time.
    with LocalServer("slow") as url:
        runner, stats, _, [until_last] = asyncio.run(
            _run_with_a_stall(url, 900, 1.5, 0.3, 0.2, split_at=1.2)
        )
    _, dropped, last = stats.take()
    assert runner.sent == 1350
    assert dropped == 0
    assert _summary(until_last).max >= 150  # ms
    # The last 0.3 s are on time again. (Their median, not their max: this shared machine
    # may still delay one now and then.)
    assert _summary(last).count >= 200
    assert _summary(last).p50 < 2.0, _summary(last)


def _summary(lateness: BulkHistogram) -> LatencySummary:
    assert lateness.histogram is not None
    return LatencySummary.of(lateness.histogram)
