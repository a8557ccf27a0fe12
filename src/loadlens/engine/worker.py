"""A worker process: runs its share of each stage on uvloop and sends a frame every second.

How it works. The worker says hello (`handshake`: its version, where it runs), boots, says
READY, and answers the coordinator's clock pings. Then the coordinator sends a `StageOrder` per
stage (or `STOP` / `EXIT`); the worker runs the stage's executor in a fresh event loop,
watching its channel for `STOP` with a reader callback, and a ticker task sends one `Frame` at
each second boundary of the stage plus a final one when the stage is over. Nothing per request
crosses the process boundary. The channel is a pipe for a local worker process and a TCP
connection for a cluster's (`ray_workers`): the same messages either way.
A local worker ignores the stop signals (SIGINT, SIGTERM, SIGHUP: they often reach the whole
process group, and the coordinator decides how to stop) and dies with the coordinator
(`loadlens.engine.lifetime`); every worker exits quietly when its channel closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import shutil
import time
import traceback
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import cast

from loadlens.engine import collector
from loadlens.engine.compiled import CompiledRequest, CompiledScenario, compile_scenario
from loadlens.engine.executors import (
    ExecutorStats,
    IterationBudget,
    StageControl,
    WorkerContext,
    run_closed,
)
from loadlens.engine.handshake import Assignment, ClockOffset, Ping, hello, pong
from loadlens.engine.lifetime import CHANNEL_CLOSED, bind_to_coordinator, coordinator_gone
from loadlens.engine.open_model import run_open
from loadlens.engine.runner import StepRunner
from loadlens.engine.schedule import ArrivalSchedule, UserRamp, starting_connections
from loadlens.engine.shipped_files import relocate, unpack
from loadlens.engine.variables import FeederCursor, SharedData
from loadlens.http import ClientOptions, HttpClient
from loadlens.metrics.frame import LAG_LEVELS_MS, Health
from loadlens.metrics.histogram import BulkHistogram, LatencySummary, encode_histogram
from loadlens.metrics.recorder import Recorder
from loadlens.model.plan import ClosedLoad, OpenLoad, Stage
from loadlens.model.scenario import Scenario

STOP = "stop"
EXIT = "exit"
READY = "ready"
WORKER_NAME = "loadlens-w"  # + the worker's number: its process name (Linux)
_LAG_PROBE_PERIOD = 0.05  # seconds between event-loop lag probes
_SHORT_INTERVAL_S = 0.5  # a frame interval shorter than this measures CPU with the one before
_PROC_STAT = "/proc/stat"  # Linux: the host's CPU times; steal is the 8th number of `cpu`


@dataclass(frozen=True, slots=True)
class WorkerShare:
    """This worker's part of a stage's load."""

    users_start: int = 0
    users: int = 0
    rate_start: float = 0.0
    rate: float = 0.0
    max_in_flight: int = 0
    # A counted stage (`Stage.counted`): this worker's part of the shared iterations (closed),
    # or its arrivals (open), and each user's iterations (closed `per_user`).
    counted: bool = False
    iterations: int = 0
    per_user: int = 0


@dataclass(frozen=True, slots=True)
class StageOrder:
    """Run one stage, starting at a monotonic time shared by all workers."""

    index: int  # index of the stage in the run's stage list
    stage: Stage
    share: WorkerShare
    start_ns: int
    pools: dict[str, list[object]] = field(default_factory=dict)
    variables: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LedgerUpdate:
    """The writes the service acknowledged during one stage on one worker (sent before the
    stage's final frame)."""

    worker: int
    stage: int
    ledger: dict[str, object]


@dataclass(frozen=True, slots=True)
class WorkerFailure:
    """A worker could not go on; the coordinator reports it."""

    worker: int
    message: str


def worker_main(
    conn: Connection,
    worker: int,
    workers: int,
    scenario: Scenario,
    client: ClientOptions,
    coordinator_pid: int,
) -> None:
    """Entry point of a local worker process: bound to the coordinator's life (`lifetime`)."""
    bind_to_coordinator(coordinator_pid, name=f"{WORKER_NAME}{worker}")
    serve(conn, worker, workers, scenario, client)


def serve(
    conn: Connection,
    worker: int,
    workers: int,
    scenario: Scenario | None,
    client: ClientOptions | None,
    node: str = "",
) -> None:
    """Say hello, then run every stage the coordinator orders until it says EXIT or its
    channel closes. A remote worker (on a cluster node, its life the cluster's to manage) is
    not bound to the coordinator's process and gets its scenario only after its hello was
    accepted (`scenario` None): a scenario pickled by another version could not be read."""
    raise_open_files_limit()
    unpacked: str | None = None
    try:
        import uvloop

        conn.send(hello(worker, node))
        if scenario is None or client is None:
            assignment = conn.recv()
            if not isinstance(assignment, Assignment):
                return  # refused (EXIT): nothing to run
            scenario = cast(Scenario, assignment.scenario)
            client = cast(ClientOptions, assignment.client)
            if assignment.files:  # the files it uploads, written here, its parts pointed there
                unpacked, moved = unpack(assignment.files)
                scenario = relocate(scenario, moved)
        compiled = compile_scenario(scenario)
        shared = SharedData(rng=random.Random())
        for feeder in scenario.feeders:
            shared.feeders[feeder.name] = FeederCursor(feeder, worker, workers, shared.rng)
        variables: dict[str, object] = {}
        offset_ns = 0  # this worker's monotonic clock minus the coordinator's
        conn.send(READY)  # booted: the first stage's start time can now be met
        while True:
            message = conn.recv()
            if message == EXIT:
                return
            if isinstance(message, Ping):
                conn.send(pong(message))
            elif isinstance(message, ClockOffset):
                offset_ns = message.offset_ns
            elif isinstance(message, StageOrder):
                if offset_ns:  # the start instant, from the coordinator's clock to this one's
                    message = replace(message, start_ns=message.start_ns + offset_ns)
                for name, values in message.pools.items():
                    shared.pools.setdefault(name, []).extend(values)
                variables.update(message.variables)
                uvloop.run(
                    _run_stage(message, conn, compiled, shared, variables, worker, workers, client)
                )
    except CHANNEL_CLOSED:
        return  # the coordinator is gone; nothing to report to
    except Exception:  # report any crash rather than die silently
        with contextlib.suppress(*CHANNEL_CLOSED):  # ... to a coordinator still there
            conn.send(WorkerFailure(worker, traceback.format_exc()))
    finally:
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)


def raise_open_files_limit() -> None:
    """Allow as many sockets as the system lets this process have (each connection is one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _run_stage(
    order: StageOrder,
    conn: Connection,
    compiled: CompiledScenario,
    shared: SharedData,
    variables: dict[str, object],
    worker: int,
    workers: int,
    client_options: ClientOptions,
) -> None:
    loop = asyncio.get_running_loop()
    control = StageControl()
    stats = ExecutorStats()
    recorder = Recorder(compiled.operations)
    client = HttpClient(client_options)
    runner = StepRunner(client, recorder)
    context = WorkerContext(compiled, runner, shared, variables, worker, workers)

    def on_message() -> None:
        try:
            while conn.poll():
                if conn.recv() in (STOP, EXIT):
                    control.stopping = True
        except CHANNEL_CLOSED:  # readable at end-of-file: the coordinator died
            coordinator_gone()

    loop.add_reader(conn.fileno(), on_message)
    collector.stage_begins()
    ticker = Ticker(conn, recorder, stats, runner, worker, order.index, order.start_ns)
    ticker_task = loop.create_task(ticker.run())
    try:
        if isinstance(order.stage.load, OpenLoad):
            await _warm(client, compiled, order)
        await asyncio.sleep(max(order.start_ns - time.monotonic_ns(), 0) / 1e9)
        await _execute(order, context, control, stats)
    finally:
        loop.remove_reader(conn.fileno())
        os.set_blocking(conn.fileno(), True)  # the loop made it non-blocking; recv() needs it
        ticker_task.cancel()
        (ticked,) = await asyncio.gather(ticker_task, return_exceptions=True)
        if isinstance(ticked, Exception):  # a broken ticker loses frames: never hide it
            raise ticked
        await client.close()
        collector.stage_ends()
    if runner.ledger.writes:
        conn.send(LedgerUpdate(worker, order.index, runner.ledger.to_dict()))
    conn.send(ticker.frame(final=True))


async def _warm(client: HttpClient, compiled: CompiledScenario, order: StageOrder) -> None:
    """Open an open stage's first connections before it starts (as far as time allows).

    One connection per 1,000 arrivals per second of this worker's rate (what 1 ms of latency
    keeps busy), at least 4, at most the stage's in-flight bound; for each origin the flows
    send to. Connections that cannot be opened are left to the requests to report.
    """
    share = order.share
    count = starting_connections(share.rate, share.rate_start)
    count = min(count, share.max_in_flight or count)
    origins = {
        step.prepared.origin
        for flow in compiled.flows
        for step in flow
        if isinstance(step, CompiledRequest)
    }
    left = (order.start_ns - time.monotonic_ns()) / 1e9
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(left, 0.0)):
            await asyncio.gather(*(client.warm(origin, count) for origin in origins))


async def _execute(
    order: StageOrder, context: WorkerContext, control: StageControl, stats: ExecutorStats
) -> None:
    stage, share = order.stage, order.share
    if isinstance(stage.load, ClosedLoad):
        ramp = UserRamp(share.users_start, share.users, stage.ramp)
        start = order.start_ns / 1e9
        budget = IterationBudget(share.counted, share.iterations, share.per_user)
        await run_closed(
            context, ramp, context.worker, start, stage.length, stage.grace, control, stats, budget
        )
    else:
        assert isinstance(stage.load, OpenLoad)
        schedule = ArrivalSchedule(
            start_rate=share.rate_start,
            rate=share.rate,
            ramp=stage.ramp,
            length=stage.length,
            phase=context.worker / context.workers,
            limit=share.iterations if share.counted else -1,
        )
        await run_open(
            context,
            schedule,
            share.max_in_flight,
            order.start_ns,
            stage.grace,
            control,
            stats,
            counted=share.counted,
        )


class Ticker:
    """Sends a frame at each second boundary of the stage, with the worker's health."""

    def __init__(
        self,
        conn: Connection,
        recorder: Recorder,
        stats: ExecutorStats,
        runner: StepRunner,
        worker: int,
        stage: int,
        start_ns: int,
    ) -> None:
        self.conn = conn
        self.recorder = recorder
        self.stats = stats
        self.runner = runner
        self.worker = worker
        self.stage = stage
        self.start_ns = start_ns
        self.second = 0
        self.max_lag = 0.0
        self.lags: list[float] = []  # this second's lag probes (ms): about 20
        self._cpu = time.process_time()
        self._wall = time.monotonic()
        self._earlier = (self._cpu, self._wall)  # the start of the previous interval
        self._switches = _involuntary_switches()
        self._host = _host_cpu_times()

    async def run(self) -> None:
        """Probe the loop's lag and send a frame at every second boundary."""
        boundary = self.start_ns + 1_000_000_000
        while True:
            expected = time.monotonic_ns() + int(_LAG_PROBE_PERIOD * 1e9)
            await asyncio.sleep(_LAG_PROBE_PERIOD)
            now = time.monotonic_ns()
            lag = (now - expected) / 1e6
            self.max_lag = max(self.max_lag, lag)
            self.lags.append(lag)
            if now >= boundary:
                try:
                    self.conn.send(self.frame(final=False))
                except CHANNEL_CLOSED:
                    coordinator_gone()
                collector.second_ends(self.second)
                self.second += 1
                boundary += 1_000_000_000

    def frame(self, *, final: bool) -> object:
        """The frame for the current second, resetting the recorder and the health counters."""
        cpu, wall = time.process_time(), time.monotonic()
        since_cpu, since_wall = self._cpu, self._wall
        if wall - since_wall < _SHORT_INTERVAL_S:
            # A stage's last frame may cover a few busy milliseconds of closing connections;
            # over so short a time the CPU share says nothing, so it spans the second before too.
            since_cpu, since_wall = self._earlier
        cpu_percent = 100.0 * (cpu - since_cpu) / max(wall - since_wall, 1e-6)
        self._earlier = (self._cpu, self._wall)
        self._cpu, self._wall = cpu, wall
        late, dropped, lateness = self.stats.take()
        p99 = _p99_ms(lateness)
        encoded = "" if lateness.histogram is None else encode_histogram(lateness.histogram)
        switches, host = _involuntary_switches(), _host_cpu_times()
        health = Health(
            cpu_percent=cpu_percent,
            loop_lag_ms=self.max_lag,
            in_flight=self.runner.in_flight,
            users=self.stats.active,
            late=late,
            dropped=dropped,
            lateness_p99_ms=p99,
            loop_lag_p99_ms=_rank(self.lags, 0.99),
            loop_lag_p50_ms=_rank(self.lags, 0.50),
            lag_over=[sum(1 for lag in self.lags if lag > level) for level in LAG_LEVELS_MS],
            lag_over_ms=[sum(lag for lag in self.lags if lag > level) for level in LAG_LEVELS_MS],
            involuntary_switches=max(switches - self._switches, 0),
            steal_percent=_steal_percent(self._host, host),
        )
        self._switches, self._host = switches, host
        self.max_lag = 0.0
        self.lags.clear()
        return self.recorder.take_frame(
            self.worker, self.stage, self.second, health, final=final, lateness=encoded
        )


def _rank(values: list[float], share: float) -> float:
    """A quantile of a second's few lag probes (nearest rank); 0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _involuntary_switches() -> int:
    """How often the kernel has taken the CPU from this process so far (another was due)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nivcsw


def _host_cpu_times() -> tuple[int, int]:
    """The host's (steal, total) CPU ticks so far; (0, 0) where /proc/stat is not readable."""
    try:
        with open(_PROC_STAT, encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0, 0
    ticks = [int(f) for f in fields[1:] if f.isdigit()]
    return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])


def _steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the host's CPU time its hypervisor stole between two readings."""
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


def _p99_ms(lateness: BulkHistogram) -> float:
    """A second's lateness p99 in ms, from its histogram (folded as arrivals went out: sorting
    the second's list took 5.6 ms per 50k values, in one piece, inside the event loop)."""
    lateness.fold()
    if lateness.histogram is None:
        return 0.0
    return LatencySummary.of(lateness.histogram).p99
