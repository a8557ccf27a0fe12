"""Runs one worker's executor in this process, for profiling the hot path (not the harness).

    .venv/bin/python bench/inproc.py bench/scenarios/get.yaml --seconds 5 [--rate 5000] [--cprofile]

Prints requests per second and CPU µs per request (user+sys of this process during the run).
py-spy can attach to it (`py-spy record -o out.svg -- .venv/bin/python bench/inproc.py ...`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import sys
import time
from pathlib import Path

import uvloop

from loadlens.engine import collector
from loadlens.engine.compiled import compile_scenario
from loadlens.engine.executors import ExecutorStats, StageControl, WorkerContext, run_closed
from loadlens.engine.open_model import run_open
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule, UserRamp
from loadlens.engine.variables import SharedData
from loadlens.http import ClientOptions, HttpClient
from loadlens.metrics.histogram import LatencySummary
from loadlens.metrics.recorder import Recorder
from loadlens.spec import load_scenario


async def _main(args: argparse.Namespace) -> None:
    scenario = load_scenario(Path(args.scenario))
    compiled = compile_scenario(scenario)
    recorder = Recorder(compiled.operations)
    # The scenario's protocol, as the coordinator gives it to the workers; TLS unverified (the
    # benchmark's nginx has a self-signed certificate).
    options = ClientOptions(
        verify_tls=False, http2=scenario.http2, max_streams=scenario.max_streams
    )
    client = HttpClient(options)
    runner = StepRunner(client, recorder)
    context = WorkerContext(compiled, runner, SharedData(rng=random.Random()), {}, 0, 1)
    stats = ExecutorStats()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic_ns()

    async def progress() -> None:  # per second: sent, dropped, connections (open model)
        last = 0
        while True:
            await asyncio.sleep(1)
            print(
                f"  +{runner.sent - last} sent, dropped so far {stats.dropped}, "
                f"in flight {runner.in_flight}, connections {client.open_connections}"
            )
            last = runner.sent

    watcher = asyncio.get_running_loop().create_task(progress()) if args.progress else None
    if args.rate:
        schedule = ArrivalSchedule(
            start_rate=args.rate, rate=args.rate, ramp=0.0, length=args.seconds, phase=0.0
        )
        await run_open(context, schedule, 1000, start, 1.0, StageControl(), stats)
    else:
        ramp = UserRamp(args.users, args.users, 0.0)
        await run_closed(context, ramp, 0, start / 1e9, args.seconds, 1.0, StageControl(), stats)
    if watcher is not None:
        watcher.cancel()
    wall = (time.monotonic_ns() - start) / 1e9
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(f"connections open at the end: {client.open_connections}")
    await client.close()
    sent = runner.sent
    user = after.ru_utime - before.ru_utime
    system = after.ru_stime - before.ru_stime
    print(
        f"{sent} requests in {wall:.2f} s: {sent / wall:,.0f} req/s; "
        f"cpu {100 * (user + system) / wall:.0f} %; "
        f"µs/req user {1e6 * user / max(sent, 1):.2f} sys {1e6 * system / max(sent, 1):.2f}"
    )
    late, dropped, lateness = stats.take()
    if lateness.histogram is not None:
        summary = LatencySummary.of(lateness.histogram)
        print(
            f"lateness p50 {summary.p50:.3f} ms p99 {summary.p99:.3f} ms "
            f"max {summary.max:.3f} ms late {late} dropped {dropped}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--progress", action="store_true", help="print each second's counts")
    parser.add_argument("--gc", choices=["on", "off", "calm"], default="calm")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DURATION", "1s")
    os.environ.setdefault("BENCH_RATE", "1/s")
    if args.gc == "off":
        gc.disable()
    elif args.gc == "calm":
        collector.stage_begins()  # as a worker does (runs here are too short to collect)
    if args.cprofile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        uvloop.run(_main(args))
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    else:
        uvloop.run(_main(args))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
