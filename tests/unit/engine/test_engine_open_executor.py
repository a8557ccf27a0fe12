"""The open executor counts late and dropped iterations instead of absorbing them."""

from __future__ import annotations

import asyncio
import random
import time

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.executors import ExecutorStats, StageControl, WorkerContext
from loadlens.engine.open_model import LATE_NS, MIN_PAUSE_NS, run_open
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule
from loadlens.engine.variables import SharedData
from loadlens.http import HttpClient
from loadlens.metrics.histogram import LatencySummary
from loadlens.metrics.recorder import Recorder
from loadlens.spec import parse_yaml_text

SCENARIO = """\
name: t
target: http://127.0.0.1:9
flows:
  - name: f
    steps:
      - request: {name: get, method: GET, url: /}
plan:
  - {stage: s, rate: 1000/s, duration: 1s}
"""


def _runner() -> StepRunner:
    # Port 9 refuses every connection at once: each arrival's request starts and fails, sent
    # nowhere, so what is counted is the executor's dispatch alone.
    return StepRunner(HttpClient(), Recorder(["get"]))


def _run(schedule: ArrivalSchedule, max_in_flight: int) -> tuple[ExecutorStats, int]:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    runner = _runner()
    context = WorkerContext(compiled, runner, SharedData(rng=random.Random(1)), {}, 0, 1)
    stats = ExecutorStats()

    async def main() -> None:
        start = time.monotonic_ns() + 10_000_000
        # A stuck generator: the event loop blocked for 60 ms, 50 ms into the stage.
        asyncio.get_running_loop().call_later(0.06, time.sleep, 0.06)
        await run_open(context, schedule, max_in_flight, start, 1.0, StageControl(), stats)
        await runner.client.close()

    asyncio.run(main())
    return stats, runner.sent


def test_a_blocked_generator_shows_up_as_late_iterations() -> None:
    stats, sent = _run(ArrivalSchedule(1000, 1000, 0, 0.3), max_in_flight=1000)
    late, dropped, lateness = stats.take()
    assert sent == 300  # every arrival still started: late, not lost
    assert dropped == 0
    assert late >= 40  # the ~60 arrivals due during the block
    assert lateness.histogram is not None
    assert LatencySummary.of(lateness.histogram).max >= 40  # ms


def test_stopping_ends_dispatch_early() -> None:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    runner = _runner()
    context = WorkerContext(compiled, runner, SharedData(rng=random.Random(1)), {}, 0, 1)
    control = StageControl(stopping=True)

    async def main() -> None:
        schedule = ArrivalSchedule(1000, 1000, 0, 10)
        await run_open(context, schedule, 10, time.monotonic_ns(), 1.0, control, ExecutorStats())

    asyncio.run(main())
    assert runner.sent == 0


def test_the_dispatchers_pause_keeps_lateness_under_the_target_and_short_of_late() -> None:
    # The pause is most of an on-time generator's lateness: under the 0.2 ms p99 target with
    # room for the wake-up, and far from what counts an arrival as late.
    assert MIN_PAUSE_NS <= 150_000
    assert LATE_NS >= 10 * MIN_PAUSE_NS
