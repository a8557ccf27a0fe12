"""Runs one client command pinned to core 0 and measures what it cost.

The command runs under `timeout` and `taskset -c 0`; its user and sys CPU come from `wait4`
(the process and every child it waited for, so loadlens's worker processes count too). The
request count comes from nginx's stub_status, so every tool is charged per request alike.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from target import requests_served


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
    stop.set()
    if sampler is not None:
        sampler.join()
    reader.join()
    served = requests_served() - before - 1
    rc = os.waitstatus_to_exitcode(status)
    proc.returncode = rc
    return Measured(rc, wall, usage.ru_utime, usage.ru_stime, served, "".join(chunks), samples)


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
