"""A small web app that speaks HTTP as real services do: cookies, redirects, gzip, auth.

It runs on 127.0.0.1 port 0 in a thread of the test process (`WebServer` as a context manager
gives its base URL), keep-alive with Content-Length bodies, and records what it received so a
test can compare: every request line, and every `authorization` and `cookie` value.

Routes:
- `POST /login`: sets a new `session` cookie (Path=/, HttpOnly), answers `{"ok": true}`;
  `POST /big-login` the same with a 300 kB body; `POST /long-head-login` the same after a
  6 KiB field; `POST /split-login` the same with its head sent in two writes 20 ms apart, cut
  inside the name `set-cookie`; `POST /login-later`: the same bytes without a cookie for its
  first `plain_logins` answers, then a cookie spelled `Set-Cookie` (a login that starts
  working, for the runner's memo of heads without cookies);
- `GET /me`: 200 `{"user": "alice"}` with a session cookie the server issued, else 401;
- `GET /redirect/N`: 302 to `/redirect/N-1`; `/redirect/0` is 200 `{"done": true}`;
  `GET /slow/N` the same, each answer after 30 ms at least;
- `GET /loop`: 302 to itself; `GET /away`: 302 to the absolute URL in `away_to` (another
  server: another origin); `GET /final`: 200 `{"final": true}`;
- `POST /see-other`: 303 to `/echo`; `POST /temporary`: 307 to `/echo`; `* /echo`: 200 with
  the method and body it got as JSON;
- `GET /gzip`, `/deflate`, `/br`, `/zstd`: `{"coded": "<coding>", "n": 7}` compressed when
  asked (counted in `coded`); `GET /broken-gzip`, `/broken-br`, `/broken-zstd`: say so, are
  not; `GET /bomb`: 10 MiB of zeros, gzipped;
- `GET /basic`, `GET /bearer`: 200 when the credential is the expected one, else 401;
- `GET /hostile-values`: JSON whose `crlf` holds CR LF and a header line, `wide` a character
  beyond Latin-1, `plain` a plain token (what a hostile or careless service hands out);
  `GET /spaced-redirect`: 302 to a `Location` with raw spaces (`/landing page?q=a b`);
- `GET /v1/...` and anything else: 200 with the request's path, query and headers as JSON.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import secrets
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from types import TracebackType

import brotli
import zstandard

BASIC = ("alice", "s3cret-pass")
BEARER = "tok-9f8e7d6c5b4a"
_BOMB = gzip.compress(b"\0" * (10 * 1024 * 1024))
_CODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


class WebServer:
    """The app, served from a thread with its own event loop."""

    def __init__(self, away_to: str = "") -> None:
        self.away_to = away_to
        self.counters: Counter[str] = Counter()
        self.coded: Counter[str] = Counter()  # answers sent compressed, by coding
        self.authorizations: list[str] = []
        self.cookies: list[str] = []
        self.echoed: list[tuple[str, bytes]] = []
        self.last_echo = b""  # the last answer of the echo route
        self.sessions: set[str] = set()  # every session cookie value issued
        self.plain_logins = 2  # answers of `/login-later` without a cookie
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.url = ""

    def __enter__(self) -> str:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.url = started.result(timeout=10)
        return self.url

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                if target.startswith("/slow/"):  # each hop of a slow chain takes 30 ms at least
                    await asyncio.sleep(0.03)
                status, extra, payload = self._answer(method, target, headers, body)
                fields = "".join(f"{n}: {v}\r\n" for n, v in extra)
                line = f"HTTP/1.1 {status} X\r\ncontent-length: {len(payload)}\r\n{fields}\r\n"
                data = line.encode() + payload
                cut = data.find(b"okie:") if target == "/split-login" else -1
                if cut > 0:  # "set-co" in one read, "okie: ..." in the next
                    writer.write(data[:cut])
                    await writer.drain()
                    await asyncio.sleep(0.02)
                    data = data[cut:]
                writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        path = target.split("?", 1)[0]
        self.counters[f"{method} {path}"] += 1
        if "authorization" in headers:
            self.authorizations.append(headers["authorization"])
        if "cookie" in headers:
            self.cookies.append(headers["cookie"])
        if "x-injected" in headers:  # a header line smuggled in through a value
            self.counters["injected"] += 1
        if method == "POST" and path == "/login-later" and self.plain_logins > 0:
            self.plain_logins -= 1
            return 200, [], b'{"ok":true}'
        logins = ("/login", "/big-login", "/long-head-login", "/split-login", "/login-later")
        if method == "POST" and path in logins:
            session = f"sess-{len(self.sessions) + 1:08d}-{secrets.token_hex(6)}"
            self.sessions.add(session)
            name = "Set-Cookie" if path == "/login-later" else "set-cookie"
            cookie = [(name, f"session={session}; Path=/; HttpOnly")]
            if path == "/long-head-login":  # the field after more than 4 KiB of head
                cookie.insert(0, ("x-pad", "p" * 6144))
            if path == "/big-login":  # a body larger than one read: the head is searched alone
                return 200, cookie, b'{"ok":true,"pad":"' + b"x" * 300_000 + b'"}'
            return 200, cookie, b'{"ok":true}'
        if path == "/me":
            sent = dict(
                part.strip().split("=", 1)
                for part in headers.get("cookie", "").split(";")
                if "=" in part
            )
            if sent.get("session") in self.sessions:
                return 200, [], b'{"user":"alice"}'
            return 401, [], b'{"error":"no session"}'
        if path.startswith(("/redirect/", "/slow/")):
            left = int(path.rsplit("/", 1)[1])
            if left == 0:
                return 200, [], b'{"done":true}'
            return 302, [("location", f"{path.rsplit('/', 1)[0]}/{left - 1}")], b""
        if path == "/loop":
            return 302, [("location", "/loop")], b""
        if path == "/away":
            return 302, [("location", f"{self.away_to}/final")], b""
        if path == "/hostile-values":
            values = {"crlf": "a\r\nX-Injected: 1", "wide": "\u0141ukasz", "plain": "ok-1"}
            return 200, [], json.dumps(values).encode()
        if path == "/spaced-redirect":
            return 302, [("location", "/landing page?q=a b")], b""
        if path == "/final":
            return 200, [], b'{"final":true}'
        if path in ("/see-other", "/temporary"):
            return (303 if path == "/see-other" else 307), [("location", "/echo")], b""
        if path == "/echo":
            self.echoed.append((method, body))
            return 200, [], json.dumps({"method": method, "body": body.decode()}).encode()
        if path[1:] in _CODERS:
            coding = path[1:]
            document = json.dumps({"coded": coding, "n": 7}).encode()
            asked = [c.strip() for c in headers.get("accept-encoding", "").split(",")]
            if coding not in asked:
                return 200, [], document
            self.coded[coding] += 1
            return 200, [("content-encoding", coding)], _CODERS[coding](document)
        if path == "/broken-gzip":
            return 200, [("content-encoding", "gzip")], b"\x1f\x8b\x08\x00not-gzip-at-all"
        if path in ("/broken-br", "/broken-zstd"):
            return 200, [("content-encoding", path[8:])], b"not compressed at all"
        if path == "/bomb":
            return 200, [("content-encoding", "gzip")], _BOMB
        if path == "/basic":
            expected = "Basic " + base64.b64encode(":".join(BASIC).encode()).decode()
            return (200 if headers.get("authorization") == expected else 401), [], b"{}"
        if path == "/bearer":
            good = headers.get("authorization") == f"Bearer {BEARER}"
            return (200 if good else 401), [], b"{}"
        query = target.split("?", 1)[1] if "?" in target else ""
        echo = {"path": path, "query": query, "headers": headers}
        self.last_echo = json.dumps(echo).encode()
        return 200, [], self.last_echo
