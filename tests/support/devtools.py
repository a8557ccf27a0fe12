"""Headless Chromium driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`):
no port, no websocket library. Chromium reads commands from its fd 3 and writes replies and
events to its fd 4, each a JSON message ended by a NUL byte."""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

REPLY_TIMEOUT_S = 60  # a bound on any one command, on a busy machine


def chromium_path() -> str:
    """Debian's chromium; a test that needs it fails, saying how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, (
        "headless Chromium is needed: install Debian's package with `apt-get install -y "
        "chromium` (CI does this in .ci/run)"
    )
    return path


class DevTools:
    """One headless Chromium and one page in it; `evaluate` runs JavaScript there."""

    def __init__(self, profile: Path) -> None:
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        # Above 3 and 4, so that the shell's redirections below cannot overwrite each other;
        # bash (dash reads one-digit fds only) then runs chromium with them as its fds 3 and
        # 4 (no preexec_fn: this process has threads).
        read_high = fcntl.fcntl(commands_read, fcntl.F_DUPFD_CLOEXEC, 10)
        write_high = fcntl.fcntl(replies_write, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (commands_read, replies_write):
            os.close(fd)
        self.process = subprocess.Popen(
            [
                "/bin/bash", "-c",
                f'exec "$@" 3<&{read_high} 4>&{write_high} {read_high}<&- {write_high}>&-',
                "sh", chromium_path(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(read_high, write_high),
        )  # fmt: skip
        os.close(read_high)
        os.close(write_high)
        self._next_id = 0
        self._buffer = b""
        self._session: str | None = None

    def __enter__(self) -> DevTools:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self, url: str) -> None:
        """Open URL in a new page and attach to it."""
        target = self.send("Target.createTarget", url=url)["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        reply = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in reply, reply
        return reply["result"].get("value")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait (bounded) for its reply; events are skipped."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session is not None and not method.startswith("Target."):
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply["result"]
                return result

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer in time"
            ready, _, _ = select.select([self._replies], [], [], left)
            if ready:
                chunk = os.read(self._replies, 65536)
                assert chunk, "Chromium closed its DevTools pipe"
                self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        """End Chromium (politely, then not) and close the pipes."""
        if self.process.poll() is None:
            try:
                os.write(self._commands, json.dumps({"id": 0, "method": "Browser.close"}).encode())
                os.write(self._commands, b"\0")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
