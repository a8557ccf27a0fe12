"""The coordinator: owns time, starts stages on the workers, merges their frames, stops cleanly.

How it works. Workers are started first (by `start_workers`, as early as the caller can),
through a `WorkerBackend` (`placement`: local processes by default, forked from this process
where that is safe, else spawned to boot while the caller does its own imports, see `launch`;
Ray actors for `--cluster`); meanwhile setup runs here, in one virtual
user, and its pools and variables go to the workers with the first stage, once every worker
has said hello (a worker of another version is refused: `handshake`) and that it is ready; a
remote worker's clock is measured then, so that it converts each stage's start instant.
For each stage the coordinator sends every worker a `StageOrder` with a common start time,
then reads frames until each worker has sent its final one: every frame is appended to
`frames.jsonl` (so nothing measured is lost), merged into the `RunAccumulator`, and shown to
the `StageJudge`, which may abort the stage and decides whether the next one runs.
Around the plan, a `ServiceWatch` observes the service, checks its invariants after each stage
and reconciles its acknowledged writes. Teardown runs here after the last stage.

Stopping: the first stop signal (SIGINT, SIGTERM or SIGHUP, see `stop_signals`) sends STOP to
the workers, which stop starting iterations, let those in flight finish within the stage's
grace, and send their final frames; the result is then written marked incomplete and
interrupted, naming the signal. A second signal stops waiting and kills the workers at once;
what they had reported is still written. Workers die with the coordinator (`lifetime`).

A lost worker (killed, crashed: its pipe reaches end-of-file, or it sends a `WorkerFailure`)
is recorded as a `LostWorker`: when, why, how many requests it had reported, and how many it
had in flight at its last frame. Locally the stage is stopped at once rather than go on silently
at a fraction of its planned load, and no further stage runs; the verdict names the loss. A
cluster's backend tolerates losses (nodes come and go): the stage goes on without the lost
share, the next stages are split among the workers left, and the verdict is INCONCLUSIVE only
when the load not sent exceeds the tolerance (`analysis.lost_workers`). A frame is taken once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

from loadlens import __version__, native
from loadlens.engine.compiled import CompiledScenario, CompiledStep
from loadlens.engine.handshake import Assignment, ClockOffset, check_hello, measure_clock
from loadlens.engine.inprocess import run_phase
from loadlens.engine.lifetime import CHANNEL_CLOSED
from loadlens.engine.placement import LocalWorkers, WorkerBackend
from loadlens.engine.rundir import RunDirectory, new_run_id
from loadlens.engine.service_watch import ServiceWatch
from loadlens.engine.shipped_files import read_files
from loadlens.engine.stages import share_of, stage_infos
from loadlens.engine.stop_signals import StopSignals
from loadlens.engine.worker import (
    EXIT,
    READY,
    STOP,
    LedgerUpdate,
    StageOrder,
    WorkerFailure,
)
from loadlens.engine.worker_tally import WorkerTally
from loadlens.http import ClientOptions
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame
from loadlens.metrics.lost_worker import LostWorker
from loadlens.metrics.placement import WorkerPlace
from loadlens.metrics.result import RunInfo, RunResult, StageInfo, write_result
from loadlens.model.integrity import Ledger, Moment
from loadlens.model.plan import OpenLoad
from loadlens.model.redaction import Redactor
from loadlens.model.template import Filtered, Template, VarRef, VarSource

# From sending a stage's orders to its common start: lets every worker (booted, waiting on its
# pipe) receive its order and build its client — a few ms, so 50 ms leaves room for a busy
# machine; an open stage also opens its first connections in this time (`worker._warm`), so it
# keeps 200 ms.
_START_DELAY_NS = 50_000_000
_OPEN_START_DELAY_NS = 200_000_000
_POLL_S = 0.1
_KILL_AFTER_S = 10.0  # beyond a stage's grace, how long to wait for workers after STOP
_BOOT_TIMEOUT_S = 60.0  # how long spawned workers may take to import and compile
_EXIT_WAIT_S = 5.0  # after the run, how long workers may take to exit before being killed
# A cluster worker whose clock offset is known less precisely than this starts its stages
# that much apart from the others: the run goes on, with a note (docs/distributed.md).
CLOCK_UNCERTAINTY_LIMIT_MS = 50.0


class RunListener(Protocol):
    """What a live view implements; the engine never prints."""

    def stage_started(self, info: StageInfo) -> None: ...

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None: ...

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None: ...


class StageJudge(Protocol):
    """Decides, from what was measured, whether a stage is aborted, passed, and what the run
    concludes. The engine only asks; the gates live in `loadlens.analysis`, wired by the CLI."""

    def observe(self, frame: Frame, histograms: Mapping[str, Any]) -> None: ...

    def observe_service(self, stage: int, values: Mapping[str, Sequence[float]]) -> None: ...

    def breach(self, stage: int, elapsed_s: float) -> str | None: ...

    def stage_passed(self, stage: int, accumulator: RunAccumulator) -> bool: ...

    def conclude(self, result: RunResult, stages_not_run: list[str]) -> None: ...


class _Silent:
    def stage_started(self, info: StageInfo) -> None:
        pass

    def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
        pass

    def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run, beyond the scenario."""

    out: Path
    workers: int
    continue_on_fail: bool = False  # run every stage even when one fails its gates
    variables: dict[str, str] = field(default_factory=dict)  # for invariants' placeholders
    client: ClientOptions = field(default_factory=ClientOptions)
    command: tuple[str, ...] = ()


@dataclass(slots=True)
class RunOutcome:
    """What `run` hands back: the result, where it is, and what went wrong on the way."""

    result: RunResult
    directory: Path
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Coordinator:
    """Runs one scenario's plan, start to end."""

    def __init__(
        self,
        compiled: CompiledScenario,
        options: RunOptions,
        listener: RunListener | None = None,
        judge: StageJudge | None = None,
        signals: StopSignals | None = None,
        backend: WorkerBackend | None = None,
    ) -> None:
        self.compiled = compiled
        self.backend: WorkerBackend = backend or LocalWorkers()
        self.options = options
        self.listener: RunListener = listener or _Silent()
        self.judge = judge
        self.stages_not_run: list[str] = []
        self.failed_stage: str | None = None
        scenario = compiled.scenario
        # The protocol is the scenario's: every worker's client opens its origins with it.
        self.client_options = replace(
            options.client, http2=scenario.http2, max_streams=scenario.max_streams
        )
        self.redactor = Redactor.of(scenario.secrets)
        self.infos = stage_infos(
            scenario.plan, setup=bool(compiled.setup), teardown=bool(compiled.teardown)
        )
        self.accumulator = RunAccumulator(compiled.operations, self.infos)
        # The CLI passes its own, held until the reports are written; else the run's alone.
        self.signals = signals or StopSignals()
        self.lost: list[LostWorker] = []
        self.failures: list[str] = []  # what kept the run from completing
        self.notes: list[str] = []  # what a reader should know (e.g. a stage aborted by a gate)
        self.service = ServiceWatch(scenario, options.variables, self.redactor)
        self._conns: list[Connection] = []
        self._started = False
        self._alive: list[int] = []  # workers not lost, by number
        self.places: list[WorkerPlace] = []  # where each worker runs, from its hello
        self._tally = WorkerTally()  # to account for a worker lost mid-stage
        self._seen: set[tuple[int, int, bool]] = set()  # this stage's frames taken
        self._shipped: dict[str, bytes] = {}  # a remote worker's uploaded files (shipped_files)
        self._directory: RunDirectory | None = None

    @property
    def run_id(self) -> str | None:
        """The run's id once `run` has begun (its directory's name), else None."""
        return self._directory.run_id if self._directory is not None else None

    @property
    def interrupts(self) -> int:
        """How many stop signals arrived during the run."""
        return self.signals.count

    def plan_indices(self) -> list[int]:
        """The result's stage index of each stage of the plan, in plan order."""
        offset = 1 if self.compiled.setup else 0
        return [offset + position for position in range(len(self.compiled.scenario.plan))]

    def run(self) -> RunOutcome:
        """Run setup, every stage that may run, and teardown; always write a result."""
        scenario = self.compiled.scenario
        run_id = new_run_id(scenario.name)
        directory = RunDirectory(self.options.out, run_id)
        directory.copy_scenario(scenario.source)
        info = RunInfo(
            run_id=run_id,
            scenario=scenario.name,
            source=scenario.source,
            source_sha256=scenario.source_sha256,
            target=self.redactor.text(scenario.target),
            command=[self.redactor.text(part) for part in self.options.command],
            workers=self.options.workers,
            hostname=socket.gethostname(),
            loadlens_version=__version__,
            python_version=sys.version.split()[0],
            started_at=time.time(),
            hot_path="compiled (mypyc)" if native.running_compiled() else "interpreted",
            cluster=self.backend.describe(),
        )
        directory.write_json(
            "run.json", {"run": info.to_dict(), "stages": [s.to_dict() for s in self.infos]}
        )
        self._directory = directory
        with self.signals.catching():
            return self._run_and_write(directory, info)

    def _run_and_write(self, directory: RunDirectory, info: RunInfo) -> RunOutcome:
        completed = False
        try:
            completed = self._run_all(directory)
        finally:
            self._shutdown_workers()
            info.ended_at = time.time()
            result = self.accumulator.result(
                run=info, complete=completed, interrupted=self.interrupts > 0
            )
            result.interrupted_by = self.signals.first_name if self.interrupts else None
            result.lost_workers = list(self.lost)
            if self.backend.remote:
                info.places = list(self.places)
            result.observation = self.service.stop_observing()
            self.service.check(Moment.END)
            result.invariants = self.service.invariants
            result.reconciliation = self.service.reconciliation
            if self.judge is not None:
                self.judge.conclude(result, self.stages_not_run)
            write_result(result, directory.result_path)
            directory.close()
        return RunOutcome(result, directory.path, self.failures, self.notes)

    def _run_all(self, directory: RunDirectory) -> bool:
        compiled = self.compiled
        self.start_workers()  # unless the caller already has
        index = 0
        pools: dict[str, list[object]] = {}
        variables = _constant_variables(compiled.scenario.variables)
        if compiled.setup:
            pools, variables = self._in_process(directory, index, compiled.setup, variables)
            index += 1
        self._await_workers()
        self.service.start_observing()
        self.service.read_initial_values()
        previous = None
        for position, stage in enumerate(compiled.scenario.plan):
            if self.interrupts or self.failures:  # the verdict names what was not run
                self.stages_not_run = [s.name for s in compiled.scenario.plan[position:]]
                return False
            if self.failed_stage is not None and not self.options.continue_on_fail:
                self.stages_not_run = [s.name for s in compiled.scenario.plan[position:]]
                break
            if not self._alive:  # a cluster run that lost every worker
                self.failures.append("every worker was lost: no stage can run")
                self.stages_not_run = [s.name for s in compiled.scenario.plan[position:]]
                return False
            delay = _OPEN_START_DELAY_NS if isinstance(stage.load, OpenLoad) else _START_DELAY_NS
            # The workers still there share the stage (all of them, unless one was lost).
            orders = {
                worker: StageOrder(
                    index=index,
                    stage=stage,
                    share=share_of(stage, previous, position, len(self._alive)),
                    start_ns=time.monotonic_ns() + delay,
                    pools=pools,
                    variables=variables,
                )
                for position, worker in enumerate(self._alive)
            }
            pools, variables = {}, {}  # sent once; workers keep them
            if not self._run_stage(directory, orders) and self.failed_stage is None:
                self.failed_stage = stage.name
            self.service.check(Moment.EACH_STAGE, stage.name)
            previous = stage
            index += 1
        self.service.stop_observing()  # the service is watched during the plan's stages only
        self.service.reconcile()  # before teardown, which may delete what the run wrote
        if self.interrupts or self.failures:
            return False
        if compiled.teardown:
            self._in_process(directory, index, compiled.teardown)
        return not (self.interrupts or self.failures)

    def _in_process(
        self,
        directory: RunDirectory,
        index: int,
        steps: tuple[CompiledStep, ...],
        variables: dict[str, object] | None = None,
    ) -> tuple[dict[str, list[object]], dict[str, object]]:
        info = self.infos[index]
        self.listener.stage_started(info)
        started = time.time()
        frame, pools, variables = run_phase(
            self.compiled,
            steps,
            index,
            self.client_options,
            lambda: self.interrupts > 0,
            variables,
        )
        self._take(directory, frame)
        self.accumulator.mark_stage(index, started_at=started, ended_at=time.time())
        self.listener.stage_finished(info, self.accumulator)
        return pools, variables

    def _run_stage(self, directory: RunDirectory, orders: dict[int, StageOrder]) -> bool:
        """Run a stage on every worker still there; whether it passed its gates."""
        first = next(iter(orders.values()))
        index = first.index
        info = self.infos[index]
        stage = first.stage
        self._tally.begin(orders)
        self._seen.clear()
        pending = set(orders)
        for worker, order in orders.items():
            try:
                self._conns[worker].send(order)
            except (*CHANNEL_CLOSED, OSError):  # it died since the last stage
                self._lose(worker)
                pending.discard(worker)
        self.listener.stage_started(info)
        start_ns = first.start_ns
        delay_s = (start_ns - time.monotonic_ns()) / 1e9
        self.accumulator.mark_stage(index, started_at=time.time() + delay_s)
        stop_sent = False
        breached = False
        give_up_at: float | None = None
        while pending:
            elapsed = (time.monotonic_ns() - start_ns) / 1e9
            if not stop_sent and self.judge is not None and not self.interrupts:
                reason = self.judge.breach(index, elapsed)
                if reason is not None:
                    breached = True
                    self.notes.append(f"stage `{info.name}` aborted: {reason}")
            stop_for_loss = bool(self.lost) and not self.backend.tolerates_loss
            if (self.interrupts or breached or stop_for_loss) and not stop_sent:
                self._broadcast(STOP)
                stop_sent = True
                give_up_at = time.monotonic() + stage.grace + _KILL_AFTER_S
            if self.interrupts > 1:
                self.failures.append(
                    f"a second {self.signals.first_name} stopped the run at once: "
                    "requests still in flight were not reported"
                )
                break
            if give_up_at is not None and time.monotonic() > give_up_at:
                self.failures.append("workers did not stop in time; killed")
                break
            if not pending:  # every worker still running the stage was lost at once
                break
            for ready in wait([self._conns[w] for w in pending], timeout=_POLL_S):
                assert isinstance(ready, Connection)
                worker = self._conns.index(ready)
                if self._receive(directory, ready, worker):
                    pending.discard(worker)
            self.listener.tick(info, max(elapsed, 0.0), self.accumulator)
        self.accumulator.mark_stage(index, ended_at=time.time())
        self.listener.stage_finished(info, self.accumulator)
        if self.judge is None:
            return True
        self.judge.observe_service(index, self.service.observed_since(start_ns / 1e9))
        return self.judge.stage_passed(index, self.accumulator) and not breached

    def _receive(self, directory: RunDirectory, conn: Connection, worker: int) -> bool:
        """Handle one message; True when this worker is done with the stage."""
        try:
            message = conn.recv()
        except (EOFError, OSError):
            self._lose(worker)
            return True
        if isinstance(message, LedgerUpdate):
            self.service.ledger.merge(Ledger.from_dict(message.ledger))
            return False
        if isinstance(message, WorkerFailure):
            self._lose(worker, message.message)
            return True
        assert isinstance(message, Frame)
        # A frame is taken once: a worker numbers its frames by stage and second, and one that
        # came again (a retried send, a reconnected worker) is dropped.
        key = (message.worker, message.second, message.final)
        if message.worker != worker or key in self._seen:
            return message.final
        self._seen.add(key)
        if self.backend.remote and self.places[worker].clock_offset_ms:
            # Its wall clock, in the coordinator's: the run's time line is the coordinator's.
            message = replace(
                message, time=message.time - self.places[worker].clock_offset_ms / 1e3
            )
        self._take(directory, message)
        return message.final

    def _lose(self, worker: int, crash: str | None = None) -> None:
        """Record a worker lost during the current stage; `crash` is its traceback, if it
        could send one (written to the run directory: too long for a terminal)."""
        if worker in self._alive:
            self._alive.remove(worker)
        pid, cause = self.backend.ended(worker)
        if self.backend.remote and worker < len(self.places):
            place = self.places[worker]
            pid = place.pid if pid is None else pid
            cause = f"{cause} (on {place.host}, node {place.node})"
        if crash is not None:
            last = (crash.strip().splitlines() or ["?"])[-1]
            cause = f"crashed: {self.redactor.text(last)}"
            if self._directory is not None:
                path = self._directory.path / f"worker-{worker}-traceback.txt"
                with contextlib.suppress(OSError):
                    path.write_text(self.redactor.text(crash), encoding="utf-8")
                    cause += f" (traceback in {path})"
        lost = self._tally.lost(worker, pid, cause, went_on=self.backend.tolerates_loss)
        self.lost.append(lost)
        if self.backend.tolerates_loss:
            self.notes.append(
                f"worker {worker} was lost {lost.lost_after_s:.1f} s into stage "
                f"`{lost.stage_name}`: {cause}; the stage went on without its share "
                f"({lost.share}), the workers left share the next stages"
            )
            return
        self.failures.append(
            f"worker {worker} (pid {lost.pid}) was lost {lost.lost_after_s:.1f} s into stage "
            f"`{lost.stage_name}`: {cause}; its share ({lost.share}) was no longer sent, so the "
            "stage was stopped and no further stage ran"
        )

    def _take(self, directory: RunDirectory, frame: Frame) -> None:
        self._tally.count(frame)
        directory.append_frame(frame)
        histograms = self.accumulator.add(frame)
        if self.judge is not None:
            self.judge.observe(frame, histograms)  # decoded once, for both

    def _await_workers(self) -> None:
        """Wait until every worker has said hello (its version accepted, else a
        `WorkerVersionError`) and booted (imports take a while in a spawned process), so that
        the first stage's common start time is one they can all meet; then measure the clock
        of each remote worker."""
        waiting = set(range(len(self._conns)))
        greeted: set[int] = set()
        self.places = [WorkerPlace(w, "", "", 0) for w in range(len(self._conns))]
        deadline = time.monotonic() + _BOOT_TIMEOUT_S
        while waiting and not self.interrupts and time.monotonic() < deadline:
            for ready in wait([self._conns[w] for w in waiting], timeout=_POLL_S):
                assert isinstance(ready, Connection)
                worker = self._conns.index(ready)
                try:
                    message = ready.recv()
                except (EOFError, OSError):
                    message = None
                if worker not in greeted and not isinstance(message, WorkerFailure | None):
                    self.places[worker] = check_hello(message, worker)
                    greeted.add(worker)
                    if self.backend.remote:
                        scenario = self.compiled.scenario
                        ready.send(Assignment(scenario, self.client_options, self._shipped))
                elif message == READY:
                    waiting.discard(worker)
                else:
                    waiting.discard(worker)
                    detail = message.message if isinstance(message, WorkerFailure) else "exited"
                    self.failures.append(f"worker {worker} did not start: {detail}")
        if waiting and not self.interrupts:
            self.failures.append(f"workers {sorted(waiting)} did not start in time")
        if self.backend.remote and not self.failures and not self.interrupts:
            for worker, conn in enumerate(self._conns):
                self.places[worker], offset_ns = measure_clock(conn, self.places[worker])
                conn.send(ClockOffset(offset_ns))
                if self.places[worker].clock_uncertainty_ms > CLOCK_UNCERTAINTY_LIMIT_MS:
                    self.notes.append(
                        f"worker {worker}'s clock is known to within "
                        f"{self.places[worker].clock_uncertainty_ms:.0f} ms only (over "
                        f"{CLOCK_UNCERTAINTY_LIMIT_MS:.0f} ms): its stages may start that much "
                        "apart from the others'"
                    )

    def start_workers(self) -> None:
        """Start the workers now: local ones forked before the caller starts any thread
        (`launch`), or spawned to boot (a new interpreter, the hot path's imports: ~0.3 s each)
        while the caller finishes its own set-up; `run` does it otherwise. `close` ends them if
        `run` is never called."""
        if not self._started:
            if self.backend.remote:  # read first: a file that cannot be shipped starts nothing
                self._shipped = read_files(self.compiled.scenario)
            self._started = True
            self._conns = self.backend.start(
                self.compiled.scenario, self.client_options, self.options.workers
            )
            self._alive = list(range(len(self._conns)))

    def close(self) -> None:
        """End the workers, if any are still there (`run` ends them itself)."""
        self._shutdown_workers()

    def _broadcast(self, message: str) -> None:
        for conn in self._conns:
            with contextlib.suppress(OSError):  # a worker gone is already recorded
                conn.send(message)

    def _shutdown_workers(self) -> None:
        """Tell the workers to exit; kill those still there after a while, or at once after
        a second stop signal."""
        self._broadcast(EXIT)
        self.backend.stop(_EXIT_WAIT_S, lambda: self.interrupts >= 2)
        for conn in self._conns:
            conn.close()
        self._conns.clear()


def default_workers() -> int:
    """One worker per core."""
    return max(1, os.cpu_count() or 1)


def _constant_variables(variables: tuple[tuple[str, Template], ...]) -> dict[str, object]:
    """The `vars:` (and `--var`) values that are the same for every user: plain text, or
    templates of such values only; they start every user's variables (setup's captures add to
    them). A template with a builtin, feeder or pool reference is left out."""
    values: dict[str, object] = {}

    def known(ref: VarRef) -> bool:
        return ref.source is VarSource.USER and ref.name in values

    def lookup(ref: VarRef) -> object:
        return values[ref.name]

    for name, template in variables:
        if template.static is not None:
            values[name] = template.static
        elif all(
            isinstance(part, str)
            or all(
                known(ref) for ref in (part.inner.refs if isinstance(part, Filtered) else (part,))
            )
            for part in template.parts
        ):
            values[name] = "".join(
                part
                if isinstance(part, str)
                else part.apply(lookup)
                if isinstance(part, Filtered)
                else str(lookup(part))
                for part in template.parts
            )
    return values
