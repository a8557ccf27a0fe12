"""Checks the built wheel as a user gets it (`make wheel-check`, part of `make test`).

    .venv/bin/python tools/check_wheel.py dist

Installs dist/loadlens-*.whl into a fresh virtual environment (pip's cache makes it quick), then
runs that environment's `loadlens quick` against a small HTTP server on 127.0.0.1 (port 0),
from a directory outside the checkout so nothing is imported from the sources. Fails unless the
run exits 0 (GO), writes result.json, and — for a platform wheel — ran the compiled hot path.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import venv
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_INSTALL_TIMEOUT_S = 300  # pip from its cache takes seconds; a cold cache downloads numpy etc.
_RUN_TIMEOUT_S = 120  # a 1-second stage, plus start-up and reports on a busy machine


class _Ok(BaseHTTPRequestHandler):
    """200 and a small JSON body for every GET."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # thousands of requests: no log line for each


def _wheel(dist: Path) -> Path:
    wheels = sorted(dist.glob("loadlens-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"wheel-check: expected one loadlens wheel in {dist}, found {wheels}")
    return wheels[0]


def main() -> int:
    wheel = _wheel(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")).resolve()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="loadlens-wheel-") as tmp:
        root = Path(tmp)
        # No pip of its own (ensurepip takes seconds): this pip installs into it; no .pyc
        # compiled at install (numpy's and SQLAlchemy's take most of an install's time).
        venv.create(root / "venv", with_pip=False)
        pip = [sys.executable, "-m", "pip", "--python", str(root / "venv" / "bin" / "python")]
        subprocess.run(
            [*pip, "install", "-q", "--no-compile", "--disable-pip-version-check", str(wheel)],
            check=True,
            timeout=_INSTALL_TIMEOUT_S,
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            command = [root / "venv" / "bin" / "loadlens", "quick", url, "-u", "2", "-d", "1s"]
            run = subprocess.run(
                [*map(str, command), "--out", "runs", "--quiet", "--workers", "1"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=_RUN_TIMEOUT_S,
                check=False,
            )
        finally:
            server.shutdown()
        results = list((root / "runs").glob("*/result.json"))
        if run.returncode != 0 or len(results) != 1:
            print(run.stdout, run.stderr, sep="\n")
            print(f"wheel-check: FAILED: exit {run.returncode}, result.json files: {results}")
            return 1
        hot_path = json.loads(results[0].read_text())["run"]["hot_path"]
        platform_wheel = not wheel.name.endswith("-none-any.whl")
        if platform_wheel and not hot_path.startswith("compiled"):
            print(f"wheel-check: FAILED: a platform wheel ran the hot path {hot_path}")
            return 1
    elapsed = time.monotonic() - started
    print(
        f"wheel-check: {wheel.name} installed in a fresh venv; `loadlens quick` exit 0, "
        f"result.json written, hot path {hot_path} ({elapsed:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
