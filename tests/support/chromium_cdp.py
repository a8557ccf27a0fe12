"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`).

How it works: Chromium reads JSON commands, each ended by a NUL byte, from its fd 3 and
writes answers and events the same way to its fd 4; no port is opened and nothing beyond the
standard library is needed. `Page` opens one tab, navigates it, waits for the load event and
evaluates expressions in it. Every wait is bounded by the timeout given.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any


def chromium_path() -> str:
    """Debian's chromium, or a failure that says how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, (
        "headless Chromium is needed to check report.html: install Debian's package with "
        "`apt-get install -y chromium` (CI does this in .ci/run)"
    )
    return path


class Page:
    """One headless Chromium with one tab; use as a context manager."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 2000) -> None:
        commands_read, self._to_child_w = os.pipe()
        self._from_child_r, replies_write = os.pipe()
        # Above 9, so that the shell's redirections below cannot overwrite each other; bash
        # (dash reads one-digit fds only) then runs Chromium with them as its fds 3 and 4
        # (no preexec_fn: the test process may have threads).
        read_high = fcntl.fcntl(commands_read, fcntl.F_DUPFD_CLOEXEC, 10)
        write_high = fcntl.fcntl(replies_write, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (commands_read, replies_write):
            os.close(fd)
        args = [
            chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--remote-debugging-pipe", "--no-first-run", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--window-size={width},{height}",
            f"--user-data-dir={profile}", "about:blank",
        ]  # fmt: skip
        redirect = f'exec "$@" 3<&{read_high} 4>&{write_high} {read_high}<&- {write_high}>&-'
        self._process = subprocess.Popen(
            ["/bin/bash", "-c", redirect, "sh", *args],
            pass_fds=(read_high, write_high),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(read_high)
        os.close(write_high)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._session = ""

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        """End Chromium (politely, then not) and close the pipes."""
        if self._process.poll() is None:
            try:
                os.write(self._to_child_w, b'{"id": 0, "method": "Browser.close"}\0')
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=30)
        os.close(self._to_child_w)
        os.close(self._from_child_r)

    def open(self, url: str, timeout_s: float) -> None:
        """A new tab on `url`; returns after its load event."""
        target = self.command("Target.createTarget", {"url": "about:blank"}, timeout_s=timeout_s)
        attached = self.command(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            timeout_s=timeout_s,
        )
        self._session = attached["sessionId"]
        self.command("Page.enable", timeout_s=timeout_s)
        self._events.clear()
        self.command("Page.navigate", {"url": url}, timeout_s=timeout_s)
        self._wait_event("Page.loadEventFired", timeout_s)

    def evaluate(self, expression: str, timeout_s: float = 30.0) -> Any:
        """The value of a JavaScript expression in the tab (promises awaited)."""
        answer = self.command(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout_s=timeout_s,
        )
        assert "exceptionDetails" not in answer, answer["exceptionDetails"]
        return answer["result"].get("value")

    def command(
        self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """Send one command and return its result (events meanwhile are kept)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session and not method.startswith("Target."):
            message["sessionId"] = self._session
        os.write(self._to_child_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, (method, reply["error"])
                result: dict[str, Any] = reply["result"]
                return result
            if "method" in reply:
                self._events.append(reply)

    def _wait_event(self, method: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self._events:
                if event["method"] == method:
                    return event
            self._events.append(self._read(deadline))

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer in time"
            ready, _, _ = select.select([self._from_child_r], [], [], left)
            if ready:
                chunk = os.read(self._from_child_r, 1 << 20)
                assert chunk, "Chromium closed its DevTools pipe"
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed
