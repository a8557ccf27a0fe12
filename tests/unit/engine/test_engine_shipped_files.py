"""A scenario's uploaded files, read once, written on a node, the scenario pointed at them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loadlens.engine import shipped_files
from loadlens.engine.shipped_files import read_files, relocate, unpack, uploaded_files
from loadlens.errors import ClusterError
from loadlens.model.scenario import Scenario
from loadlens.spec import load_scenario

SCENARIO = """\
name: uploads
target: http://127.0.0.1:9
flows:
  - name: up
    steps:
      - request:
          method: POST
          url: /a
          multipart: {doc: {file: a/report.bin}, note: hi}
      - group: twice
        steps:
          - request:
              method: POST
              url: /b
              multipart: {doc: {file: b/report.bin}, again: {file: a/report.bin}}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def _scenario(tmp_path: Path) -> Scenario:
    for folder, data in (("a", b"first"), ("b", b"second!")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.bin").write_bytes(data)
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    return load_scenario(str(tmp_path / "s.yaml"))


def test_files_are_read_once_written_apart_and_the_parts_moved(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    a, b = str(tmp_path / "a" / "report.bin"), str(tmp_path / "b" / "report.bin")
    assert uploaded_files(scenario) == [a, b]
    files = read_files(scenario)
    assert files == {a: b"first", b: b"second!"}
    directory, moved = unpack(files)
    try:
        # the same base name twice: each in its own folder, the name sent unchanged
        assert [Path(moved[p]).name for p in (a, b)] == ["report.bin", "report.bin"]
        assert Path(moved[a]).read_bytes() == b"first"
        assert Path(moved[b]).read_bytes() == b"second!"
        there = relocate(scenario, moved)
        assert uploaded_files(there) == [moved[a], moved[b]]
    finally:
        shutil.rmtree(directory)


def test_more_than_the_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = _scenario(tmp_path)
    monkeypatch.setattr(shipped_files, "MAX_SHIPPED_BYTES", 10)
    with pytest.raises(ClusterError) as raised:
        read_files(scenario)
    assert raised.value.message == (
        "the files the scenario uploads exceed the 10 bytes a cluster run ships to its nodes"
    )
