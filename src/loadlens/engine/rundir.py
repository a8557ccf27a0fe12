"""The run directory: one per run, never overwritten, written while the run goes.

RUN_ID/
  run.json        who, what and when, written at the start (enough to rebuild a result)
  scenario.*      a copy of the scenario file
  frames.jsonl    one line per worker frame, appended and flushed every second
  result.json     the RunResult, written at the end (also after Ctrl-C, marked incomplete)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any, TextIO

from loadlens.metrics.frame import Frame


def new_run_id(scenario: str) -> str:
    """A sortable, unique id: UTC time, the scenario's slug, and a random suffix."""
    slug = re.sub(r"[^a-z0-9]+", "-", scenario.lower()).strip("-")[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{slug}-{secrets.token_hex(4)}"


class RunDirectory:
    """Creates the directory of a new run and appends to its files."""

    def __init__(self, out: Path, run_id: str) -> None:
        self.run_id = run_id
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / run_id
        self.path.mkdir()  # never reuse a directory: fails if it exists
        self._frames: TextIO = (self.path / "frames.jsonl").open("a", encoding="utf-8")

    @property
    def result_path(self) -> Path:
        """Where result.json goes."""
        return self.path / "result.json"

    def copy_scenario(self, source: str) -> None:
        """Keep the scenario beside its result, so the run can be repeated."""
        path = Path(source)
        if path.is_file():
            shutil.copyfile(path, self.path / f"scenario{path.suffix}")

    def write_json(self, name: str, value: dict[str, Any]) -> None:
        """Write a small JSON document atomically."""
        tmp = self.path / f".{name}.tmp"
        tmp.write_text(json.dumps(value, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path / name)

    def append_frame(self, frame: Frame) -> None:
        """Append one frame and flush, so a crash loses at most the current second."""
        self._frames.write(json.dumps(frame.to_dict(), separators=(",", ":")))
        self._frames.write("\n")
        self._frames.flush()

    def close(self) -> None:
        """Close the frames file."""
        self._frames.close()
