"""After the generator stalls, the open model catches up on the connections it has.

Each case runs one worker's open executor in this process against a test server in another
process, and blocks this process's event loop once, as a stuck generator would.
"""

from __future__ import annotations

import asyncio
import random
import time

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.executors import ExecutorStats, StageControl, WorkerContext, run_open
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule
from loadlens.engine.variables import SharedData
from loadlens.http import HttpClient
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
    url: str, rate: float, seconds: float, stall_at: float, stall: float
) -> tuple[StepRunner, ExecutorStats, int]:
    """The stage's runner and stats, and the most connections open at once."""
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
    schedule = ArrivalSchedule(rate, rate, 0.0, seconds)
    try:
        await run_open(context, schedule, 1000, time.monotonic_ns(), 2.0, StageControl(), stats)
    finally:
        handles[-1].cancel()
        await runner.client.close()
    return runner, stats, most


def test_a_stall_does_not_open_a_connection_per_waiting_arrival() -> None:
    # 100 arrivals fall due during the 50 ms stall; a fast server answers in well under a
    # millisecond, so the few connections there are carry them once the loop runs again.
    with LocalServer("crud") as url:
        runner, stats, most = asyncio.run(_run_with_a_stall(url, 2000, 0.5, 0.2, 0.05))
    late, dropped, lateness = stats.take()
    assert runner.sent == 1000  # every arrival was sent: late, not lost
    assert dropped == 0
    assert late >= 50  # the arrivals that waited out the stall are counted late
    assert max(lateness) >= 40_000_000  # ns
    assert most <= 40, most  # not one new connection per waiting arrival (~100)


def test_after_a_stall_a_slow_server_gets_the_connections_it_needs() -> None:
    # The "delays" server answers in 10 ms (every tenth request in 100 ms): 500 arrivals/s
    # keep about 10 in flight. After the stall the backlog needs more connections than the
    # stage had, and the generator, no longer behind, opens them: the last arrivals are on time.
    with LocalServer("delays") as url:
        runner, stats, _ = asyncio.run(_run_with_a_stall(url, 500, 1.2, 0.3, 0.05))
    _, dropped, lateness = stats.take()
    assert runner.sent == 600
    assert dropped == 0
    assert max(lateness) >= 40_000_000
    assert max(lateness[-150:]) < 5_000_000, max(lateness[-150:])  # the last 0.3 s
