from __future__ import annotations

import textwrap

import pytest

from loadlens.errors import SpecError
from loadlens.model.integrity import InvariantKind, Moment
from loadlens.model.observation import SourceKind
from loadlens.spec import parse_yaml_text

HEAD = """\
name: watched
target: http://127.0.0.1:8000
steps:
  - request: {name: reserve, method: POST, url: /authorizations/1/reserve, json: {units: 1}}
plan:
  - {stage: one, users: 1, duration: 1s}
"""

FULL = HEAD + textwrap.dedent(
    """\
    observe:
      every: 500ms
      sources:
        - json: http://127.0.0.1:8000/health
          metrics: {cache_hits: $.cache.hits, cache_misses: $.cache.misses, rss: $.memory.rss}
        - prometheus: "{{ target }}/metrics"
          metrics: {http_requests: "http_requests_total{route=\\"/users\\"}"}
          quantiles: [p50, 0.95]
        - process: {port: "{{ target_port }}"}
        - process: {pid: 123}
          name: db
      derived:
        cache_hit_rate: cache_hits / (cache_hits + cache_misses)
    invariants:
      - name: no authorization overbooked
        db: sqlite:///{{ demo_db }}
        sql: SELECT id FROM authorizations WHERE used_units + scheduled_units > total_units
        when: [each_stage, end]
      - name: nothing left scheduled
        scalar: SELECT count(*) FROM authorizations WHERE scheduled_units > 0
        expect: "== 0"
      - name: users have names
        http: "{{ target }}/users?limit=100"
        path: $.items[*]
        expect: "name != null"
    ledger:
      - operation: reserve
        when_status: [200]
        entity: "{{ auth_id }}"
        field: scheduled_units
        delta: "{{ units }}"
      - {operation: release, entity: "1", field: scheduled_units, delta: -1}
    reconcile:
      db: sqlite:///demo.sqlite3
      query: SELECT id AS entity, scheduled_units AS value FROM authorizations WHERE id IN :entities
    """
)


def test_the_documented_yaml_validates() -> None:
    scenario = parse_yaml_text(FULL)
    observe = scenario.observe
    assert observe is not None and observe.every == 0.5
    json_source, prometheus, by_port, by_pid = observe.sources
    assert json_source.kind is SourceKind.JSON
    assert [m.name for m in json_source.json_metrics] == ["cache_hits", "cache_misses", "rss"]
    assert prometheus.prometheus_metrics[0].labels == (("route", "/users"),)
    assert prometheus.prometheus_metrics[0].metric == "http_requests_total"
    assert prometheus.quantiles == (0.5, 0.95)
    assert by_port.process is not None and by_port.process.port == "{{ target_port }}"
    assert by_pid.prefix == "db"
    assert observe.derived[0].name == "cache_hit_rate"
    rows, scalar, http = scenario.invariant_specs
    assert rows.kind is InvariantKind.SQL_ROWS and rows.when == {Moment.EACH_STAGE, Moment.END}
    assert scalar.kind is InvariantKind.SQL_SCALAR and scalar.db == "{{ db }}"
    assert http.kind is InvariantKind.HTTP and http.path is not None
    assert scenario.ledger is not None and len(scenario.ledger.rules) == 2
    assert scenario.ledger.rules[0].statuses == {200}
    assert scenario.ledger.rules[1].delta == -1.0
    assert scenario.ledger.reconcile is not None


def test_the_short_list_form_of_observe() -> None:
    scenario = parse_yaml_text(HEAD + "observe:\n  - json: http://127.0.0.1:8000/health\n")
    assert scenario.observe is not None and scenario.observe.sources[0].json_metrics == ()


def problems(extra: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_yaml_text(HEAD + textwrap.dedent(extra), file="s.yaml")
    return [p.render() for p in caught.value.problems]


def test_bad_observers_are_located() -> None:
    found = problems(
        """\
        observe:
          every: fast
          sources:
            - json: http://127.0.0.1:8000/health
              metrics: {hits: $.cache.hits, misses: $.cache.misses}
            - json: http://127.0.0.1:8000/health
              metrics: {size: "cache.size"}
            - prometheus: "{{ host }}/metrics"
              metrics: {x: "bad{selector"}
            - process: {port: 70000}
            - json: x
              prometheus: y
          derived:
            rate: hits / (hits + misess)
            evil: __import__('os')
        """
    )
    text = "\n".join(found)
    assert "s.yaml:8:10: observe.every: `fast` is not a duration" in text
    assert "s.yaml:13:23: observe.sources[1].metrics.size: bad JSONPath" in text
    assert "s.yaml:14:19: observe.sources[2].prometheus: unknown placeholder `{{ host }}`" in text
    assert "s.yaml:15:20: observe.sources[2].metrics.x: bad selector" in text
    assert "observe.sources[3].process.port: expected a TCP port" in text
    assert (
        "observe.sources[4]: a source needs exactly one of `json`, `prometheus`, `process`" in text
    )
    assert "observe.derived.rate: unknown metric `misess` (did you mean `misses`?)" in text
    assert "observe.derived.evil: bad expression" in text


def test_bad_invariants_and_ledger_are_located() -> None:
    found = problems(
        """\
        invariants:
          - name: both
            sql: SELECT 1
            http: http://127.0.0.1:1/x
          - name: scalar without expect
            scalar: SELECT 1
          - name: bad when
            sql: SELECT 1
            when: [sometimes]
          - name: bad expect
            http: http://127.0.0.1:1/x
            expect: "a +"
        ledger:
          - {operation: reserve, entity: "{{ id", field: f, delta: 1, when_status: [700]}
        """
    )
    text = "\n".join(found)
    assert "s.yaml:8:5: invariants[0]: an invariant needs exactly one of" in text
    assert "invariants[1].expect: `scalar:` needs `expect`" in text
    assert "s.yaml:15:11: invariants[2].when: unknown moment `sometimes`" in text
    assert "invariants[3].expect: bad expectation" in text
    assert "ledger[0].entity" in text
    assert "ledger[0].when_status" in text
