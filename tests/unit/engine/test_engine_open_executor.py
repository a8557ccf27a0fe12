"""The open executor counts late and dropped iterations instead of absorbing them."""

from __future__ import annotations

import asyncio
import random
import time

from loadlens.engine.compiled import CompiledRequest, Outgoing, compile_scenario
from loadlens.engine.executors import ExecutorStats, StageControl, WorkerContext, run_open
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule
from loadlens.engine.variables import SharedData, UserState
from loadlens.http import HttpClient
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


class BlockingRunner(StepRunner):
    """Sends nothing; blocks the event loop for 60 ms once, as a stuck generator would.

    The scenario's flow is one plain request, so its users are callback-driven and each
    request starts with `begin`; returning None sends nothing (as a missing variable would)."""

    def __init__(self) -> None:
        super().__init__(HttpClient(), Recorder(["get"]))
        self.calls = 0

    def begin(self, step: CompiledRequest, user: UserState) -> Outgoing | None:
        self.calls += 1
        if self.calls == 50:
            time.sleep(0.06)
        return None


def _run(schedule: ArrivalSchedule, max_in_flight: int) -> tuple[ExecutorStats, int]:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    runner = BlockingRunner()
    context = WorkerContext(compiled, runner, SharedData(rng=random.Random(1)), {}, 0, 1)
    stats = ExecutorStats()

    async def main() -> None:
        start = time.monotonic_ns() + 10_000_000
        await run_open(context, schedule, max_in_flight, start, 1.0, StageControl(), stats)

    asyncio.run(main())
    return stats, runner.calls


def test_a_blocked_generator_shows_up_as_late_iterations() -> None:
    stats, calls = _run(ArrivalSchedule(1000, 1000, 0, 0.3), max_in_flight=1000)
    late, dropped, lateness = stats.take()
    assert calls == 300  # every arrival still started: late, not lost
    assert dropped == 0
    assert late >= 40  # the ~60 arrivals due during the block
    assert max(lateness) >= 40_000_000  # ns


def test_stopping_ends_dispatch_early() -> None:
    compiled = compile_scenario(parse_yaml_text(SCENARIO))
    runner = BlockingRunner()
    context = WorkerContext(compiled, runner, SharedData(rng=random.Random(1)), {}, 0, 1)
    control = StageControl(stopping=True)

    async def main() -> None:
        schedule = ArrivalSchedule(1000, 1000, 0, 10)
        await run_open(context, schedule, 10, time.monotonic_ns(), 1.0, control, ExecutorStats())

    asyncio.run(main())
    assert runner.calls == 0
