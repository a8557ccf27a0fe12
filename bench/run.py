"""`make bench`: loadlens and its peers, interleaved round by round, into docs/benchmarks.md.

    .venv/bin/python bench/run.py [--quick] [--skip-soak] [--only get,crud,rate,get-h2,ray,soak]

Every client runs on core 0 (taskset), nginx on core 1; every run is bounded by `timeout`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import report
import tools
from measure import Measured, run_pinned
from target import Nginx

from loadlens import native

Row = dict[str, object]
BASE = report.BASE


def _loadlens(
    name: str,
    scenario: str,
    seconds: int,
    env: dict[str, str],
    workers: int = 1,
    sample_rss: bool = False,
    checkout: Path = tools.ROOT,
    extra: tuple[str, ...] = (),
) -> Row:
    slug = "".join(c if c.isalnum() else "-" for c in name)
    run_dir = tools.OUT / "runs" / f"{slug}-{time.strftime('%H%M%S')}-{time.monotonic_ns()}"
    cmd = tools.loadlens_cmd(scenario, run_dir, workers, checkout, extra)
    env = {"BENCH_DURATION": f"{seconds}s", **env}
    m = run_pinned(cmd, seconds + 60, env=env, sample_rss=sample_rss)
    # 0 GO, 1 NO-GO, 3 INCONCLUSIVE (a generator flat out is, honestly, its own bottleneck)
    if m.rc not in (0, 1, 3):
        raise RuntimeError(f"{name} failed ({m.rc}):\n{m.stdout[-2000:]}")
    rep = tools.loadlens_report(run_dir)
    envtext = " ".join(f"{k}={v}" for k, v in env.items())
    return _row(name, m, rep, " ".join(_short(cmd)), prefix=f"env {envtext} ")


def _peer(name: str, cmd: list[str], seconds: int, parse: object, csv: Path | None = None) -> Row:
    m = run_pinned(cmd, seconds + 30)
    if m.rc != 0:
        raise RuntimeError(f"{name} failed ({m.rc}):\n{m.stdout[-2000:]}")
    rep = parse(csv) if csv is not None else parse(m.stdout)  # type: ignore[operator]
    return _row(name, m, rep, " ".join(_short(cmd)))


def _row(name: str, m: Measured, rep: tools.Report, command: str, prefix: str = "") -> Row:
    # req/s is the server's count over the tool's steady window, the same rule for every tool
    # (bench/measure.py); what the tool said of itself is kept for reference only.
    extra = {**rep.extra, "own_rps": rep.rps, "whole_rps": m.whole_rps, "window_s": m.steady_s}
    return {
        "tool": name,
        "rps": m.steady_rps,
        "p50": rep.p50_ms,
        "p99": rep.p99_ms,
        "cpu_us": m.cpu_us_per_request,
        "user_us": 1e6 * m.user_s / max(m.served, 1),
        "served": m.served,
        "wall": m.wall_s,
        "extra": extra,
        "rss": m.rss_mb,
        "command": prefix + "taskset -c 0 " + command,
    }


def _short(cmd: list[str]) -> list[str]:
    return [c.replace(str(tools.ROOT) + "/", "") for c in cmd]


def _base_rows(scenario: str, seconds: int, base: Path | None) -> list[Row]:
    """Another checkout's build on the same scenario in the same round (`--base`): a change's
    cost measured against its parent's under the same conditions."""
    return [] if base is None else [_loadlens(BASE, scenario, seconds, {}, checkout=base)]


def workload_get(rounds: int, seconds: int, base: Path | None = None) -> list[list[Row]]:
    out = []
    for _ in range(rounds):
        r = [_loadlens("loadlens", "get.yaml", seconds, {}), *_base_rows("get.yaml", seconds, base)]
        r.append(_peer("wrk", tools.wrk_cmd(seconds), seconds, tools.wrk_report))
        if tools.autocannon_available():
            r.append(
                _peer("autocannon", tools.autocannon_cmd(seconds), seconds, tools.autocannon_report)
            )
        csv = tools.OUT / "locust-get"
        r.append(
            _peer(
                "locust",
                tools.locust_cmd("locust_get.py", seconds, csv),
                seconds,
                tools.locust_report,
                csv,
            )
        )
        r.append(_loadlens("loadlens --workers 2", "get.yaml", seconds, {}, workers=2))
        out.append(r)
    return out


def workload_get_h2(rounds: int, seconds: int) -> list[list[Row]]:
    """`get` over HTTP/2 (h2c): 50 users' requests as streams of one connection."""
    out = []
    for _ in range(rounds):
        r = [_loadlens("loadlens", "get-h2.yaml", seconds, {})]
        if tools.h2load_available():
            r.append(_peer("h2load", tools.h2load_cmd(seconds), seconds, tools.h2load_report))
        out.append(r)
    return out


def workload_crud(rounds: int, seconds: int, base: Path | None = None) -> list[list[Row]]:
    out = []
    for _ in range(rounds):
        csv = tools.OUT / "locust-crud"
        out.append(
            [
                _loadlens("loadlens", "crud.yaml", seconds, {}),
                *_base_rows("crud.yaml", seconds, base),
                _peer(
                    "locust",
                    tools.locust_cmd("locust_crud.py", seconds, csv),
                    seconds,
                    tools.locust_report,
                    csv,
                ),
            ]
        )
    return out


def workload_rate(rounds: int, seconds: int) -> list[list[Row]]:
    out = []
    for _ in range(rounds):
        r = []
        for rate in (5000, 50000):
            r.append(
                _loadlens(f"loadlens @{rate}", "rate.yaml", seconds, {"BENCH_RATE": f"{rate}/s"})
            )
            if tools.autocannon_available():
                r.append(
                    _peer(
                        f"autocannon @{rate}",
                        tools.autocannon_cmd(seconds, rate),
                        seconds,
                        tools.autocannon_report,
                    )
                )
        out.append(r)
    return out


def workload_ray(rounds: int, seconds: int) -> list[list[Row]]:
    """`get` with one worker: a local worker process against a Ray actor (a one-node Ray
    cluster started here, on core 0 like every client: its raylet, GCS and the actor inherit
    the pinning). The actor's CPU is outside the loadlens process tree that `wait4` measures,
    so both rows' CPU per request adds the worker's own (from its frames) to the coordinator's
    tree: for the local row the worker is in the tree already and is not added twice."""
    with ray_head() as address:
        out = []
        for _ in range(rounds):
            local = _loadlens("loadlens", "get.yaml", seconds, {})
            actor = _loadlens(
                "loadlens --cluster (1 Ray actor)", "get.yaml", seconds, {},
                extra=("--cluster", address),
            )  # fmt: skip
            worker_us = _worker_cpu_us(actor)
            actor["cpu_us"] = float(actor["cpu_us"]) + worker_us  # type: ignore[arg-type]
            actor["extra"]["worker_cpu_us"] = worker_us  # type: ignore[index]
            out.append([local, actor])
    return out


def _worker_cpu_us(row: Row) -> float:
    """The worker's CPU µs per request: its mean CPU share over the steady seconds, per
    request it reported in them."""
    extra = row["extra"]
    rps = float(extra["own_rps"])  # type: ignore[index]
    return 1e6 * float(extra["worker_cpu_percent"]) / 100.0 / max(rps, 1.0)  # type: ignore[index]


@contextlib.contextmanager
def ray_head() -> Iterator[str]:
    """A one-node Ray cluster with one CPU on 127.0.0.1, pinned to core 0; stopped after."""
    ray = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    port, client = _free_port(), _free_port()  # ephemeral: outside Ray's worker port range
    temp = Path(f"/tmp/ll-bench-ray-{os.getpid()}")
    start = ["taskset", "-c", "0", ray, "start", "--head", f"--port={port}", "--num-cpus=1",
             f"--ray-client-server-port={client}", "--include-dashboard=false",
             "--disable-usage-stats", "--node-ip-address=127.0.0.1",
             f"--temp-dir={temp}"]  # fmt: skip
    try:
        subprocess.run(start, env=env, check=True, timeout=120, capture_output=True)
        yield f"127.0.0.1:{port}"
    finally:
        stop = [ray, "stop", "--force"]
        subprocess.run(stop, env=env, timeout=60, capture_output=True, check=False)
        shutil.rmtree(temp, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def workload_soak(seconds: int) -> list[list[Row]]:
    return [[_loadlens("loadlens soak", "get.yaml", seconds, {}, sample_rss=True)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 s runs, 2 rounds")
    parser.add_argument(
        "--seconds", type=int, help="each run's length (a smoke test of the harness)"
    )
    parser.add_argument("--rounds", type=int, help="rounds of each workload")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument(
        "--base",
        type=Path,
        help="another checkout (its own .venv built): its loadlens also runs get and crud",
    )
    parser.add_argument("--only", default="get,crud,rate,get-h2,ray,soak")
    parser.add_argument("--out", default=str(tools.ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    seconds, rounds = (5, 2) if args.quick else (15, 3)
    seconds, rounds = args.seconds or seconds, args.rounds or rounds
    soak_s = 60 if args.quick else 600
    only = set(args.only.split(","))
    nginx = Nginx(tools.OUT / "nginx")
    nginx.start()
    results: dict[str, list[list[Row]]] = {}
    try:
        if "get" in only:
            results["get"] = workload_get(rounds, seconds, args.base)
        if "crud" in only:
            results["crud"] = workload_crud(rounds, seconds, args.base)
        if "rate" in only:
            results["rate"] = workload_rate(rounds, seconds)
        if "ray" in only:
            results["ray"] = workload_ray(rounds, seconds)
        if "get-h2" in only:
            results["get-h2"] = workload_get_h2(rounds, seconds)
        if "soak" in only and not args.skip_soak:
            results["soak"] = workload_soak(soak_s)
    finally:
        nginx.stop()
    machine = {
        "cpu": _cpu_model(),
        "cores": str(len(__import__("os").sched_getaffinity(0))),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadlens hot path": native.build_state(),  # "compiled" after `make native`
        "nginx": _version(["nginx", "-v"]),
        "mode": f"{'quick' if args.quick else 'full'}: {seconds} s runs, {rounds} rounds",
        "req/s": "nginx's count over each tool's traffic less its first and last second",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    text = report.render(results, machine, " ".join(sys.argv[1:]))
    (tools.OUT / "last.md").write_text(text)
    Path(args.out).write_text(report.merge(Path(args.out), text))
    print(text)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _version(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout + done.stderr else ""


if __name__ == "__main__":
    main()
