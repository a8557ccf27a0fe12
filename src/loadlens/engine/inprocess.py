"""Setup and teardown: steps run once, by one virtual user, in the coordinator's process."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from loadlens.engine.compiled import CompiledScenario, CompiledStep
from loadlens.engine.runner import StepRunner
from loadlens.engine.variables import SETUP_COOKIES, FeederCursor, SharedData, UserState
from loadlens.http import ClientOptions, HttpClient
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.recorder import Recorder

_STOP_POLL_S = 0.05
COORDINATOR = -1  # the `worker` number of frames recorded by the coordinator itself


def run_phase(
    compiled: CompiledScenario,
    steps: tuple[CompiledStep, ...],
    stage: int,
    client: ClientOptions,
    should_stop: Callable[[], bool],
    variables: dict[str, object] | None = None,
) -> tuple[Frame, dict[str, list[object]], dict[str, object]]:
    """Run the steps once, the user starting with `variables`; the frame of what was sent, and
    the pools and variables it left."""
    shared = SharedData(rng=random.Random())
    for feeder in compiled.scenario.feeders:
        shared.feeders[feeder.name] = FeederCursor(feeder, 0, 1, shared.rng)
    user = UserState(user_id=0, shared=shared, variables=dict(variables or {}))
    recorder = Recorder(compiled.operations)
    asyncio.run(_run(steps, user, recorder, client, should_stop))
    health = Health(
        cpu_percent=0.0,
        loop_lag_ms=0.0,
        in_flight=0,
        users=1,
        late=0,
        dropped=0,
        lateness_p99_ms=0.0,
    )
    frame = recorder.take_frame(COORDINATOR, stage, 0, health, final=True)
    variables = dict(user.variables)
    if user.cookies is not None and len(user.cookies):  # setup's cookies seed every user
        variables[SETUP_COOKIES] = user.cookies
    return frame, shared.pools, variables


async def _run(
    steps: tuple[CompiledStep, ...],
    user: UserState,
    recorder: Recorder,
    options: ClientOptions,
    should_stop: Callable[[], bool],
) -> None:
    client = HttpClient(options)
    runner = StepRunner(client, recorder)
    user.draw_rows()
    task = asyncio.create_task(runner.run(steps, user))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=_STOP_POLL_S)
            if should_stop() and not task.done():
                task.cancel()
        if not task.cancelled():
            task.result()
    finally:
        await client.close()
