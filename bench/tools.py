"""Each tool's command line and how its own report is read (req/s, p50, p99 in ms)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from target import H2URL, URL

from loadlens.metrics.histogram import LatencySummary, decode_histogram, merge_into, new_histogram

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
LOCUST = ROOT / ".venv-bench" / "bin" / "locust"
AUTOCANNON = ROOT / "bench" / "out" / "node" / "node_modules" / "autocannon" / "autocannon.js"


@dataclass
class Report:
    """What a tool said about its run."""

    rps: float
    p50_ms: float | None
    p99_ms: float | None
    extra: dict[str, float]


# -- loadlens -------------------------------------------------------------------------------


def loadlens_cmd(
    scenario: str,
    run_dir: Path,
    workers: int = 1,
    checkout: Path = ROOT,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """`checkout`: whose build runs (`--base` names another one); the scenario is always ours;
    `extra`: more options (`--cluster ADDRESS`)."""
    return [
        str(checkout / ".venv" / "bin" / "loadlens"),
        "run",
        str(ROOT / "bench" / "scenarios" / scenario),
        "--workers",
        str(workers),
        "--quiet",
        "--out",
        str(run_dir),
        *extra,
    ]


def loadlens_report(run_dir: Path) -> Report:
    """What loadlens said of its run (its req/s over the stage's full seconds, the first and
    last left out, kept for reference: bench/measure.py counts every tool at the server)."""
    [result_path] = run_dir.glob("*/result.json")
    result = json.loads(result_path.read_text())
    series = [p for p in result["series"] if p["stage"] == 0]
    steady = series[1:-1] if len(series) > 3 else series
    rps = sum(p["total"]["count"] for p in steady) / max(len(steady), 1)
    cpu = [p["health"]["cpu_percent"] for p in steady]
    lateness = [p["health"]["lateness_p99_ms"] for p in steady]
    latency = result["total"]["latency"]
    steady_lateness = _steady_lateness(
        result_path.parent / "frames.jsonl", {p["second"] for p in steady}
    )
    run_lateness = result["health"].get("lateness") or {}
    extra = {
        "worker_cpu_percent": sum(cpu) / max(len(cpu), 1),
        "lateness_p99_ms_max": max(lateness, default=0.0),
        "late": float(result["health"]["late"]),
        "dropped": float(result["health"]["dropped"]),
        "errors": float(result["total"]["errors"]),
        "count": float(result["total"]["count"]),
    }
    if steady_lateness is not None:
        extra["lateness_p50_ms"] = steady_lateness.p50
        extra["lateness_p99_ms"] = steady_lateness.p99
        extra["lateness_p99_ms_run"] = float(run_lateness.get("p99", 0.0))
    return Report(rps, latency["p50"], latency["p99"], extra)


def _steady_lateness(frames: Path, seconds: set[int]) -> LatencySummary | None:
    """Every arrival's dispatch lateness over the seconds req/s is counted on (stage 0)."""
    merged = new_histogram()
    for line in frames.read_text().splitlines():
        frame = json.loads(line)
        if frame["stage"] == 0 and frame["second"] in seconds and frame.get("lateness"):
            merge_into(merged, decode_histogram(frame["lateness"]))
    return LatencySummary.of(merged) if merged.get_total_count() else None


# -- wrk ------------------------------------------------------------------------------------


def wrk_cmd(seconds: int, path: str = "/") -> list[str]:
    return ["wrk", "-t1", "-c50", f"-d{seconds}s", "--latency", URL + path]


def wrk_report(text: str) -> Report:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    pct = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", text, re.M))
    return Report(rps, _ms(pct.get("50")), _ms(pct.get("99")), {})


def _ms(value: str | None) -> float | None:
    if value is None:
        return None
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


# -- h2load (nghttp2-client) ---------------------------------------------------------------


def h2load_available() -> bool:
    return shutil.which("h2load") is not None


def h2load_cmd(seconds: int, streams: int = 50) -> list[str]:
    # One connection carrying `streams` requests at once, as loadlens's get-h2 (50 users on
    # one connection); h2load has no percentiles, only min/max/mean per request.
    return ["h2load", "-c1", f"-m{streams}", "-t1", "-D", str(seconds), H2URL + "/"]


def h2load_report(text: str) -> Report:
    found = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
    assert found is not None, text[-500:]
    return Report(float(found.group(1)), None, None, {})


# -- autocannon -----------------------------------------------------------------------------


def autocannon_available() -> bool:
    return AUTOCANNON.exists() and shutil.which("node") is not None


def autocannon_cmd(seconds: int, rate: int | None = None) -> list[str]:
    cmd = ["node", str(AUTOCANNON), "-c", "50", "-d", str(seconds), "-p", "1", "-j"]
    if rate:
        cmd += ["-R", str(rate)]
    return [*cmd, URL + "/"]


def autocannon_report(text: str) -> Report:
    data = json.loads(text[text.index("{") :])
    latency = data["latency"]
    return Report(data["requests"]["average"], latency.get("p50"), latency.get("p99"), {})


# -- locust ---------------------------------------------------------------------------------


def locust_cmd(locustfile: str, seconds: int, csv_prefix: Path) -> list[str]:
    return [
        str(LOCUST),
        "-f",
        str(ROOT / "bench" / "peers" / locustfile),
        "--headless",
        "-u",
        "50",
        "-r",
        "50",
        "-t",
        f"{seconds}s",
        "--host",
        URL,
        "--only-summary",
        "--csv",
        str(csv_prefix),
    ]


def locust_report(csv_prefix: Path) -> Report:
    lines = Path(f"{csv_prefix}_stats.csv").read_text().splitlines()
    header = lines[0].split(",")
    agg = dict(zip(header, lines[-1].split(","), strict=False))
    return Report(
        float(agg["Requests/s"]),
        float(agg["50%"]),
        float(agg["99%"]),
        {"failures": float(agg["Failure Count"])},
    )
