"""result.json: round trips, atomic writes, clear errors, recovery from frames.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from metrics_samples import RUN, STAGES, frame, histogram

from loadlens.errors import ResultError
from loadlens.metrics.accumulate import RunAccumulator
from loadlens.metrics.frame import Frame, Health, OpFrame
from loadlens.metrics.result import (
    SCHEMA_VERSION,
    RunResult,
    read_result,
    rebuild_from_frames,
    write_result,
)


def _result() -> RunResult:
    acc = RunAccumulator(["get"], STAGES)
    for second in range(3):
        for worker in range(2):
            acc.add(frame(worker, second, [1000 + worker * 100] * 5, errors=worker))
    cancelled = {"get": OpFrame("", {"cancelled": 2})}
    acc.add(Frame(0, 1, 0, 1005.0, cancelled, Health(dropped=4), True, histogram([150, 300])))
    return acc.result(run=RUN, complete=False, interrupted=True)


def test_dict_round_trip_is_equal() -> None:
    result = _result()
    data = json.loads(json.dumps(result.to_dict()))
    assert RunResult.from_dict(data) == result
    assert data["health"]["lateness"]["count"] == 2
    assert data["stages"][1]["info"]["latency_origin"] == "scheduled"
    assert data["stages"][0]["info"]["latency_origin"] == "actual"
    assert data["total"]["error_rate"] == result.total.error_rate > 0


def test_write_then_read(tmp_path: Path) -> None:
    result = _result()
    path = tmp_path / "result.json"
    write_result(result, path)
    assert read_result(path) == result
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert path.read_text().startswith('{\n "complete": false')


def test_read_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ResultError, match="no result file"):
        read_result(tmp_path / "result.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "does not hold a result object"),
        ('{"schema_version": 99}', "schema version 99 is not supported"),
        (json.dumps({"schema_version": SCHEMA_VERSION, "run": {}}), "not a loadlens result"),
    ],
)
def test_read_garbage_is_a_result_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "result.json"
    path.write_text(text)
    with pytest.raises(ResultError, match=message) as info:
        read_result(path)
    assert info.value.exit_code == 2


def test_rebuild_from_frames_tolerates_a_truncated_last_line(tmp_path: Path) -> None:
    frames = [frame(w, s, [1000] * 3) for s in range(3) for w in range(2)]
    path = tmp_path / "frames.jsonl"
    last = frame(0, 3, [1000] * 3).to_json_line()
    path.write_text("".join(f.to_json_line() for f in frames) + last[: len(last) // 2])

    result = rebuild_from_frames(path, RUN, STAGES)

    assert not result.complete
    assert result.total.count == 18
    assert len(result.series) == 3


def test_rebuild_refuses_a_corrupt_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "frames.jsonl"
    good = frame(0, 0, [1000]).to_json_line()
    path.write_text(good + "garbage\n" + good)
    with pytest.raises(ResultError, match=r"frames\.jsonl:2"):
        rebuild_from_frames(path, RUN, STAGES)
