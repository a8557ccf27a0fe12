"""`loadlens run` keeps a ledger of acknowledged writes and reconciles it with the database."""

from __future__ import annotations

from pathlib import Path

from tests.support.lossy import DROP_EVERY, lossy_service
from tests.support.runs import loadlens, write

INCREMENTS = """\
name: increments
target: http://127.0.0.1:1
defaults:
  headers: {content-type: application/json}
flows:
  - name: add
    steps:
      - request:
          name: increment
          method: POST
          url: "/counters/{{ random_int(1, 10) }}/increment"
          json: {amount: 2}
plan:
  - {stage: s, rate: 300/s, duration: 2s}
ledger:
  - operation: increment
    entity: "{{ random_int(1, 10) }}"
    field: value
    delta: 2
reconcile:
  db: "sqlite:///{{ db }}"
  query: SELECT id AS entity, value FROM counters
"""


def test_an_acknowledged_write_that_was_dropped_is_found(tmp_path: Path) -> None:
    with lossy_service(tmp_path) as (url, path):
        scenario = write(tmp_path / "increments.yaml", INCREMENTS)
        run = loadlens(
            "run", str(scenario), "--target", url, "--out", str(tmp_path / "runs"),
            "--workers", "2", "--quiet", "--var", f"db={path}", out=tmp_path / "runs",
        )  # fmt: skip
    result = run.result()
    reconciliation = result.reconciliation
    assert reconciliation is not None, run.stdout
    assert reconciliation.error is None, reconciliation.error
    # 600 increments were acknowledged (2 workers' ledgers merged); every 100th was dropped
    assert reconciliation.acknowledged_writes == 600
    assert reconciliation.lost_amount == 2 * (600 // DROP_EVERY)
    assert reconciliation.phantom == 0
    assert reconciliation.examples and all(d.final < d.expected for d in reconciliation.examples)
    assert result.verdict is not None and result.verdict.kind == "no_go"
    assert run.code == 1
