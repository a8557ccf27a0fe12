"""A test server that answers every request after exactly a known delay (delay_server.c).

Python's event loops time in whole milliseconds, and a Python server at 20,000 requests/s
would itself be the bottleneck on a small machine; this one is C (epoll and a timerfd), built
with the system's C compiler the first time a test needs it, and cached by its source's hash.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_SOURCE = Path(__file__).with_name("delay_server.c")


def _binary() -> Path:
    """The compiled server, built once per version of its source."""
    source = _SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    binary = Path(tempfile.gettempdir()) / f"loadlens-delay-server-{digest}"
    if binary.exists():
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("tests/support/delay_server.c needs a C compiler (cc or gcc)")
    building = binary.with_name(f"{binary.name}.{os.getpid()}")
    subprocess.run(
        [compiler, "-O2", "-o", str(building), str(_SOURCE)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    building.replace(binary)  # atomic: tests running side by side may build it at once
    return binary


class DelayServer:
    """`with DelayServer(delay_us=5000) as url:`: answers each request `delay_us` after it
    was read; with `stall_after`, freezes for `stall_ms` at that request (every answer due
    meanwhile waits for the end of the freeze)."""

    def __init__(self, delay_us: int, *, stall_after: int = 0, stall_ms: int = 0) -> None:
        self.args = [str(delay_us)]
        if stall_after:
            self.args += [str(stall_after), str(stall_ms)]
        self.url = ""

    def __enter__(self) -> str:
        self._process = subprocess.Popen(
            [str(_binary()), *self.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        port = self._process.stdout.readline().strip()
        if not port.isdigit():
            self.__exit__()
            raise RuntimeError(f"delay server did not start: {port!r}")
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def __exit__(self, *exc: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()  # the server exits when its stdin closes
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
