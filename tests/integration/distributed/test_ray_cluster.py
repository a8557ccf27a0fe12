"""A Ray cluster of two nodes on this machine: one worker per node, one set of numbers.

The cluster is started once for the module (`ray start --head`, then a second node joining it,
one CPU each, usage statistics and dashboard off, its files under the test's temp dir) and
stopped at the end whatever happened. `make test`'s environment has Ray (`loadlens[ray]`): a
missing Ray fails these tests rather than skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray

from loadlens.metrics.histogram import LatencySummary, decode_histogram
from loadlens.metrics.result import read_frames, read_result
from tests.support.runs import loadlens, op_counts, write
from tests.support.testserver import LocalServer

_RAY = str(Path(sys.executable).with_name("ray"))
_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}
_START_TIMEOUT_S = 90

COUNTED = """\
name: cluster-counts
target: http://127.0.0.1:1
flows:
  - name: read
    steps:
      - request: {name: find, method: GET, url: "/users?limit=5"}
plan:
  - {stage: counted, users: 4, iterations: 600, duration: 60s}
"""

LONG = """\
name: cluster-loss
target: http://127.0.0.1:1
flows:
  - name: read
    steps:
      - request: {name: find, method: GET, url: "/users?limit=5"}
      - think: 20ms
plan:
  - {stage: load, users: 4, duration: 6s}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Cluster:
    address: str  # the head's HOST:PORT, for a driver on a node
    client: str  # ray://HOST:PORT, its Ray Client server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A two-node cluster on 127.0.0.1."""
    assert os.access(_RAY, os.X_OK), f"no `ray` command at {_RAY}: install loadlens[ray]"
    temp = tmp_path_factory.mktemp("ray")
    # Ray's socket paths must stay short (107 bytes): a short directory of its own.
    short = Path(f"/tmp/ll-ray-{os.getpid()}")
    short.mkdir(exist_ok=True)
    port, client = _free_port(), _free_port()
    address = f"127.0.0.1:{port}"
    env = {**os.environ, **_ENV}
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    log = (temp / "ray.log").open("w")
    try:
        subprocess.run(
            [_RAY, "start", "--head", f"--port={port}", "--include-dashboard=false",
             f"--ray-client-server-port={client}", f"--temp-dir={short}", *common],
            env=env, check=True, timeout=_START_TIMEOUT_S, stdout=log, stderr=log,
        )  # fmt: skip
        subprocess.run(
            [_RAY, "start", f"--address={address}", *common],
            env=env, check=True, timeout=_START_TIMEOUT_S, stdout=log, stderr=log,
        )  # fmt: skip
        yield Cluster(address, f"ray://127.0.0.1:{client}")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run(
            [_RAY, "stop", "--force"], env=env, timeout=60, stdout=log, stderr=log, check=False
        )
        log.close()
        shutil.rmtree(short, ignore_errors=True)


def test_one_worker_per_node_counts_equal_the_servers(cluster: Cluster, tmp_path: Path) -> None:
    scenario = write(tmp_path / "counted.yaml", COUNTED)
    server = LocalServer("crud")
    with server as url:
        run = loadlens(
            "run", str(scenario), "--target", url, "--cluster", cluster.address, "--quiet",
            "--listen", f"127.0.0.1:{_free_port()}",
            "--out", str(tmp_path / "runs"), out=tmp_path / "runs", env=_ENV,
        )  # fmt: skip
        served = server.counters()
    assert run.code in (0, 3), f"exit {run.code}\n{run.stdout}\n{run.stderr}"
    result = run.result()
    assert result.complete and not result.lost_workers
    # Every request the server counted is in the result, and only those: 600 iterations.
    assert op_counts(result) == {"find": served["GET /users"]} == {"find": 600}
    # One worker on each node, with its clock measured.
    assert result.run.cluster == f"ray {cluster.address}"
    assert len(result.run.places) == 2
    assert len({place.node for place in result.run.places}) == 2
    assert all(0 <= place.clock_uncertainty_ms < 50 for place in result.run.places)
    # Both workers sent frames, and the merged percentiles are those of the union of what
    # each worker recorded (HDR histograms merge losslessly).
    frames = [f for f in read_frames(run.run_dir / "frames.jsonl") if f.worker >= 0]
    assert {frame.worker for frame in frames} == {0, 1}
    union = None
    for frame in frames:
        if "find" in frame.ops:
            decoded = decode_histogram(frame.ops["find"].histogram)
            if union is None:
                union = decoded
            else:
                union.add(decoded)
    assert union is not None
    merged, recorded = result.operations["find"].latency, LatencySummary.of(union)
    assert (merged.count, merged.p50, merged.p95, merged.p99) == (
        recorded.count, recorded.p50, recorded.p95, recorded.p99,
    )  # fmt: skip


def test_a_killed_worker_actor_is_recorded_and_the_run_completes(
    cluster: Cluster, tmp_path: Path
) -> None:
    from loadlens.cli.judging import attach_judge
    from loadlens.engine.compiled import compile_scenario
    from loadlens.engine.coordinator import Coordinator, RunOptions
    from loadlens.engine.ray_workers import RayWorkers
    from loadlens.metrics.accumulate import RunAccumulator
    from loadlens.metrics.result import StageInfo
    from loadlens.spec import load_scenario

    server = LocalServer("crud")
    with server as url:
        scenario = load_scenario(str(write(tmp_path / "long.yaml", LONG)), target_override=url)
        backend = RayWorkers.connect(cluster.address)
        assert len(backend.slots) == 2
        killed = threading.Event()

        class KillOne:
            def stage_started(self, info: StageInfo) -> None:
                pass

            def tick(self, info: StageInfo, elapsed: float, accumulator: RunAccumulator) -> None:
                if elapsed > 1.5 and not killed.is_set():
                    killed.set()
                    ray.kill(backend.actors[1])

            def stage_finished(self, info: StageInfo, accumulator: RunAccumulator) -> None:
                pass

        options = RunOptions(out=tmp_path / "runs", workers=2)
        coordinator = Coordinator(
            compile_scenario(scenario), options, listener=KillOne(), backend=backend
        )
        attach_judge(coordinator)
        outcome = coordinator.run()
        served = server.counters()
        ray.shutdown()
    assert killed.is_set()
    result = read_result(outcome.directory / "result.json")
    (lost,) = result.lost_workers
    assert lost.worker == 1 and lost.went_on and lost.stage_name == "load"
    assert 1.5 <= lost.lost_after_s <= 6.0
    assert lost.shortfall == pytest.approx(0.5 * (6.0 - lost.lost_after_s) / 6.0)
    assert "actor died" in lost.cause
    # The run went on: the stage ran to its end on the other worker, and nothing measured
    # was counted twice: no more requests in the result than the server answered.
    assert result.stages[0].ran
    frames = read_frames(outcome.directory / "frames.jsonl")
    keys = [(f.worker, f.stage, f.second, f.final) for f in frames]
    assert len(keys) == len(set(keys))
    assert any(f.worker == 0 and f.final for f in frames)
    assert 0 < op_counts(result)["find"] <= served["GET /users"]
    # Half the load lost for the rest of the stage (noticed by 5 s even on a busy machine:
    # 0.5 × 1/6 = 8 %): more than tolerated.
    assert result.verdict is not None and result.verdict.kind.value == "inconclusive"
    assert any("worker 1" in reason and "went on" in reason for reason in result.verdict.reasons)
    # ... and the report says so.
    written = loadlens("report", str(outcome.directory), out=outcome.directory)
    assert written.code == 0, written.stderr
    report = (outcome.directory / "report.md").read_text(encoding="utf-8")
    assert "worker 1" in report and "went on without its share" in report
    assert "| worker 1 lost | " in report and f"| cluster | ray {cluster.address} |" in report


def test_a_ray_client_address_runs_the_same(cluster: Cluster, tmp_path: Path) -> None:
    scenario = write(tmp_path / "counted.yaml", COUNTED.replace("600", "100"))
    server = LocalServer("crud")
    with server as url:
        run = loadlens(
            "run", str(scenario), "--target", url, "--cluster", cluster.client, "--quiet",
            "--out", str(tmp_path / "runs"), out=tmp_path / "runs", env=_ENV,
        )  # fmt: skip
        served = server.counters()
    assert run.code in (0, 3), f"exit {run.code}\n{run.stdout}\n{run.stderr}"
    result = run.result()
    assert op_counts(result) == {"find": served["GET /users"]} == {"find": 100}
    assert len({place.node for place in result.run.places}) == 2


def test_cluster_auto_finds_the_running_cluster(cluster: Cluster, tmp_path: Path) -> None:
    # `auto` is Ray's own discovery: RAY_ADDRESS names the cluster a node's driver joins.
    scenario = write(tmp_path / "counted.yaml", COUNTED.replace("600", "50"))
    server = LocalServer("crud")
    with server as url:
        run = loadlens(
            "run", str(scenario), "--target", url, "--cluster", "auto", "--quiet",
            "--out", str(tmp_path / "runs"), out=tmp_path / "runs",
            env={**_ENV, "RAY_ADDRESS": cluster.address},
        )  # fmt: skip
        served = server.counters()
    assert run.code in (0, 3), f"exit {run.code}\n{run.stdout}\n{run.stderr}"
    result = run.result()
    assert op_counts(result) == {"find": served["GET /users"]} == {"find": 50}
    assert result.run.cluster is not None and result.run.cluster.startswith("ray ")
    assert len({place.node for place in result.run.places}) == 2


UPLOAD = """\
name: cluster-upload
target: http://127.0.0.1:1
flows:
  - name: upload
    steps:
      - request:
          name: upload
          method: POST
          url: /upload
          multipart:
            note: "from {{ user_id }}"
            document: {file: report.bin}
        expect: {status: 404}
plan:
  - {stage: counted, users: 2, iterations: 40, duration: 60s}
"""


def test_uploaded_files_are_shipped_to_the_nodes(cluster: Cluster, tmp_path: Path) -> None:
    from loadlens.engine.compiled import compile_scenario
    from loadlens.engine.coordinator import Coordinator, RunOptions
    from loadlens.engine.ray_workers import RayWorkers
    from loadlens.spec import load_scenario

    document = tmp_path / "report.bin"
    document.write_bytes(bytes(range(256)) * 40)  # 10,240 bytes
    server = LocalServer("crud")
    with server as url:
        scenario = load_scenario(str(write(tmp_path / "up.yaml", UPLOAD)), target_override=url)
        backend = RayWorkers.connect(cluster.address)
        options = RunOptions(out=tmp_path / "runs", workers=len(backend.slots))
        coordinator = Coordinator(compile_scenario(scenario), options, backend=backend)
        coordinator.start_workers()  # the files are read here, once
        document.unlink()  # ... so the workers cannot be reading this path
        outcome = coordinator.run()
        served = server.counters()
        ray.shutdown()
    result = read_result(outcome.directory / "result.json")
    upload = result.operations["upload"]
    assert upload.count == upload.ok == served["POST /upload"] == 40
    assert upload.bytes_sent > 40 * 10_240  # each body carried the whole file
    assert len({place.node for place in result.run.places}) == 2
