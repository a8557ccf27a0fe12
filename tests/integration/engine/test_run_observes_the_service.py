"""`loadlens run` watches the service while it runs, and an observer that dies (here: never
answers, with the preflight skipped) never stops the run."""

from __future__ import annotations

import socket
from pathlib import Path

from loadlens.demo import DemoServer
from tests.support.runs import loadlens, write

OBSERVED = """\
name: observed
target: http://127.0.0.1:1
observe:
  every: 250ms
  sources:
    - json: "{{{{ target }}}}/health"
      metrics: {{cache_hits: $.cache.hits, cache_misses: $.cache.misses, rss: $.memory.rss}}
    - json: "http://127.0.0.1:{closed}/metrics"
      metrics: {{nothing: $.x}}
  derived:
    cache_hit_rate: cache_hits / (cache_hits + cache_misses)
flows:
  - name: read
    steps:
      - request: {{name: read, method: GET, url: "/users/user-{{{{ random_int(0, 9) }}}}"}}
plan:
  - {{stage: s, users: 2, duration: 2s}}
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_observations_are_recorded_and_a_closed_port_only_counts_misses(tmp_path: Path) -> None:
    scenario = write(tmp_path / "observed.yaml", OBSERVED.format(closed=_closed_port()))
    with DemoServer(tmp_path / "demo") as server:
        assert server.url is not None
        # --no-preflight: the preflight would refuse the dead source before the run
        run = loadlens(
            "run", str(scenario), "--target", server.url, "--out", str(tmp_path / "runs"),
            "--workers", "1", "--quiet", "--no-preflight", out=tmp_path / "runs",
        )  # fmt: skip
    assert run.code in (0, 3), run.stdout + run.stderr
    result = run.result()
    assert result.complete
    observation = result.observation
    assert observation is not None
    rss = observation.series("rss")
    assert rss is not None and len(rss.samples) >= 4 and all(v > 0 for _, v in rss.samples)
    hit_rate = observation.series("cache_hit_rate")
    assert hit_rate is not None and hit_rate.samples
    assert all(0.0 <= v <= 1.0 for _, v in hit_rate.samples)
    # the dead source: every attempt missed, with the reason, and the run went on regardless
    dead = [s for s in observation.sources if "/metrics" in s.source]
    assert len(dead) == 1
    assert dead[0].attempts >= 4 and dead[0].missed == dead[0].attempts
    assert dead[0].last_error and "refused" in dead[0].last_error.lower()
    assert result.operations["read"].count > 0
    assert f"missed {dead[0].missed} of {dead[0].attempts} samples" in run.stdout


GATED = """\
name: cache-gate
target: http://127.0.0.1:1
observe:
  every: 250ms
  sources:
    - json: "{{ target }}/health"
      metrics: {cache_hits: $.cache.hits, cache_misses: $.cache.misses}
  derived:
    cache_hit_rate: cache_hits / (cache_hits + cache_misses)
flows:
  - name: read
    steps:
      - request: {name: read, method: GET, url: "/users/user-{{ random_int(0, 9) }}"}
plan:
  - {stage: s, users: 2, duration: 2s, gates: ["cache_hit_rate > 85%"]}
"""


def _cache_gate(tmp_path: Path, faults: list[str]) -> tuple[str, float | None, int]:
    scenario = write(tmp_path / f"gated-{len(faults)}.yaml", GATED)
    out = tmp_path / f"runs-{len(faults)}"
    with DemoServer(tmp_path / f"demo-{len(faults)}", faults=faults) as server:
        assert server.url is not None
        run = loadlens(
            "run", str(scenario), "--target", server.url, "--out", str(out),
            "--workers", "1", "--quiet", out=out,
        )  # fmt: skip
    (gate,) = run.result().gates
    assert gate.gate == "cache_hit_rate > 0.85"  # 85 % of a unitless metric
    return gate.status, gate.measured, gate.samples


def test_a_gate_on_an_observed_service_metric_is_judged(tmp_path: Path) -> None:
    # ten users read over and over: the demo's read cache serves nearly all of them
    status, measured, samples = _cache_gate(tmp_path, [])
    assert status == "passed", (measured, samples)
    assert measured is not None and measured > 0.85 and samples >= 4
    # with `leak`, every read misses the cache (its keys never repeat)
    status, measured, samples = _cache_gate(tmp_path, ["leak"])
    assert status == "failed", (measured, samples)
    assert measured is not None and measured < 0.85
