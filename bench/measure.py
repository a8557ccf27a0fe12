"""Runs one client command pinned to core 0 and measures what it cost and what it sent.

The command runs under `timeout` and `taskset -c 0`; its user and sys CPU come from `wait4`
(the process and every child it waited for, so loadlens's worker processes count too).

Every tool is counted the same way, by the server: nginx's stub_status counter, read every
0.1 s while the command runs (`ServerCount`). A tool's req/s is what nginx served during the
tool's steady window: from one second after nginx saw its first request to one second before
its last, so that neither a start-up (Python imports, worker processes, connection set-up) nor
a wind-down counts for any tool, and no tool's own report (wrk's and Locust's whole-run
averages, loadlens's own seconds) decides the comparison. The whole run's count (start-up
included) is kept beside it, and divided by the command's wall time.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from target import requests_served

_POLL_S = 0.1  # how often nginx's counter is read while a tool runs
_EDGE_S = 1.0  # left out at each end of a tool's traffic: its ramp-up and wind-down


@dataclass
class Measured:
    """One run of one tool."""

    rc: int
    wall_s: float
    user_s: float
    sys_s: float
    served: int  # requests nginx counted during the run
    stdout: str
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (t, MB) of the tree
    steady_rps: float = 0.0  # nginx's count over the steady window (see the module)
    steady_s: float = 0.0  # that window's length

    @property
    def whole_rps(self) -> float:
        """nginx's count over the command's whole run, start-up included, per second."""
        return self.served / max(self.wall_s, 1e-9)

    @property
    def cpu_us_per_request(self) -> float:
        return 1e6 * (self.user_s + self.sys_s) / max(self.served, 1)


def run_pinned(
    cmd: list[str], limit_s: float, env: dict[str, str] | None = None, sample_rss: bool = False
) -> Measured:
    """Run `cmd` on core 0 within `limit_s` seconds (then it is killed)."""
    full = ["timeout", "-k", "5", str(int(limit_s)), "taskset", "-c", "0", *cmd]
    before = requests_served()
    start = time.monotonic()
    counter = ServerCount()
    counter.start()
    proc = subprocess.Popen(
        full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        text=True,
    )
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    sampler = None
    if sample_rss:
        sampler = threading.Thread(target=_sample_rss, args=(proc.pid, start, samples, stop))
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    counter.stop()
    stop.set()
    if sampler is not None:
        sampler.join()
    reader.join()
    served = requests_served() - before - 1 - counter.polls
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    steady_rps, steady_s = counter.steady_rate()
    return Measured(
        rc,
        wall,
        usage.ru_utime,
        usage.ru_stime,
        served,
        "".join(chunks),
        samples,
        steady_rps,
        steady_s,
    )


class ServerCount:
    """nginx's request counter read every `_POLL_S` in a thread: (time, requests the tool
    made so far), each poll's own request taken out."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        first = None
        while not self._stop.is_set():
            count = requests_served()
            self.polls += 1
            if first is None:
                first = count
            # every poll is a request nginx counts: the polls so far are not the tool's
            self.samples.append((time.monotonic(), count - first - (self.polls - 1)))
            self._stop.wait(_POLL_S)

    def steady_rate(self) -> tuple[float, float]:
        """Requests per second over [first request + 1 s, last request - 1 s], and that
        window's length; the whole traffic's rate when it lasted under three seconds."""
        moving = [
            i for i in range(1, len(self.samples)) if self.samples[i][1] > self.samples[i - 1][1]
        ]
        if not moving:
            return 0.0, 0.0
        began = self.samples[moving[0] - 1][0]  # the last poll before any traffic
        ended = self.samples[moving[-1]][0]  # the first poll after the last traffic
        if ended - began >= 3 * _EDGE_S:
            began, ended = began + _EDGE_S, ended - _EDGE_S
        a = _at_or_after(self.samples, began)
        b = _at_or_before(self.samples, ended)
        (t0, c0), (t1, c1) = self.samples[a], self.samples[b]
        if t1 <= t0:
            return 0.0, 0.0
        return (c1 - c0) / (t1 - t0), t1 - t0


def _at_or_after(samples: list[tuple[float, int]], t: float) -> int:
    return next(i for i, (ts, _) in enumerate(samples) if ts >= t)


def _at_or_before(samples: list[tuple[float, int]], t: float) -> int:
    return max(i for i, (ts, _) in enumerate(samples) if ts <= t)


def _tree(pid: int) -> list[int]:
    pids, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            pids.append(child)
            frontier.append(child)
    return pids


def _sample_rss(
    pid: int, start: float, out: list[tuple[float, float]], stop: threading.Event
) -> None:
    """RSS of the whole process tree (coordinator and workers), every 5 s."""
    while not stop.wait(5.0):
        total_kb = 0
        for p in _tree(pid):
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
            except OSError:
                pass
        out.append((time.monotonic() - start, total_kb / 1024))
