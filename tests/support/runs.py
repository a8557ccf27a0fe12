"""Run the real `loadlens` command in a subprocess and read what it wrote."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from loadlens.metrics.result import RunResult, read_result
from loadlens.model.verdict import GateStatus

RUN_TIMEOUT_S = 120  # a bound on every run a test starts; runs themselves last seconds


@dataclass
class Finished:
    """A finished `loadlens` command."""

    code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def run_dir(self) -> Path:
        dirs = sorted(p for p in self.out.iterdir() if p.is_dir())
        assert len(dirs) == 1, dirs
        return dirs[0]

    def result(self) -> RunResult:
        return read_result(self.run_dir / "result.json")

    def assert_go_unless_starved(self) -> None:
        """GO, or INCONCLUSIVE only for the generator: its error bound straddles a gate, or it
        was saturated and did not deliver the planned load.

        For tests of what is measured, not of the verdict: on a shared 2-core machine the
        worker may be descheduled long enough to widen the bound past a tight gate, and then
        the run rightly calls itself inconclusive. Any other outcome fails, with the output.
        """
        assert self.code in (0, 3), f"exit {self.code}\n{self.stdout}\n{self.stderr}"
        if self.code == 3:
            result = self.result()
            uncertain = [g for g in result.gates if g.status is GateStatus.UNCERTAIN]
            reasons = result.verdict.reasons if result.verdict is not None else ()
            starved = [r for r in reasons if r.startswith("the planned load was not delivered")]
            assert uncertain or starved, f"inconclusive, not for the generator:\n{self.stdout}"


def loadlens(*args: str, out: Path, env: dict[str, str] | None = None) -> Finished:
    """Run `python -m loadlens ARGS` and wait for it (bounded)."""
    process = subprocess.run(
        [sys.executable, "-m", "loadlens", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Finished(process.returncode, process.stdout, process.stderr, out)


def write(path: Path, text: str) -> Path:
    """Write a scenario file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path


def op_counts(result: RunResult) -> dict[str, int]:
    """Requests per operation over the whole run."""
    return {name: stats.count for name, stats in result.operations.items()}


def run_scenario(
    scenario: Path, url: str, out: Path, *extra: str, env: dict[str, str] | None = None
) -> Finished:
    """`loadlens run SCENARIO --target URL --out OUT --quiet EXTRA...`, waited for."""
    return loadlens(
        "run", str(scenario), "--target", url, "--out", str(out), "--quiet", *extra,
        out=out, env=env,
    )  # fmt: skip


@dataclass
class Running:
    """A `loadlens` command going on in the background; its stdout's lines arrive in `lines`."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    reader: threading.Thread | None = None

    def next_line(self) -> str:
        """The next line it printed (bounded by RUN_TIMEOUT_S)."""
        return self.lines.get(timeout=RUN_TIMEOUT_S)

    def wait(self) -> tuple[int, str]:
        """Its exit code (bounded by RUN_TIMEOUT_S) and what it printed not read yet."""
        code = self.process.wait(timeout=RUN_TIMEOUT_S)
        if self.reader is not None:
            self.reader.join(timeout=5)  # the lines it printed last are all forwarded
        return code, self.rest()

    def rest(self) -> str:
        return "".join(self.lines.get_nowait() for _ in range(self.lines.qsize()))


@contextmanager
def running(*args: str) -> Iterator[Running]:
    """`loadlens ARGS` started in the background (stderr discarded); killed if it is still
    going when the block ends, so no process outlives the test."""
    with subprocess.Popen(
        [sys.executable, "-m", "loadlens", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        run = Running(process)
        assert process.stdout is not None
        reader = threading.Thread(target=_forward, args=(process.stdout, run.lines), daemon=True)
        run.reader = reader
        reader.start()
        try:
            yield run
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            reader.join(timeout=5)


def _forward(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)
