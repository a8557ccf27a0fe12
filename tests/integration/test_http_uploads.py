"""Multipart uploads end to end: a server on 127.0.0.1 checks each file by its SHA-256.

The server, written for this test, reads each request's body by its `Content-Length`, parses it
as `multipart/form-data` with the standard library's email parser, and answers what it found:
every field's value and every file's name, type, size and SHA-256. The scenario checks those
with JSONPath, and the test compares the server's own record with the files on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import threading
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from types import TracebackType

from loadlens.engine.compiled import compile_scenario
from loadlens.engine.runner import StepRunner
from loadlens.engine.variables import SharedData, UserState
from loadlens.http import HttpClient
from loadlens.metrics.frame import Frame, Health
from loadlens.metrics.recorder import Recorder
from loadlens.spec import parse_yaml_text
from tests.support.runs import run_scenario, write

ITERATIONS = 3


class UploadServer:
    """Answers `POST /upload` with what its multipart body held; records every body parsed.
    `/too-large` answers 413 before it reads the body, then reads what comes until the
    client closes (`early`: how many it answered so)."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.early = 0
        self._handlers: set[asyncio.Task[None]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def __enter__(self) -> str:
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for handler in self._handlers:  # a connection the client has not closed yet
            handler.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers: dict[str, str] = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, colon, value = line.partition(":")
                    if colon:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                if head.startswith(b"POST /too-large "):
                    self.early += 1
                    writer.write(b"HTTP/1.1 413 Too Large\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    await reader.readexactly(length)  # the client stops first: IncompleteRead
                    continue
                body = await reader.readexactly(length)
                found = _parse(headers.get("content-type", ""), body)
                self.received.append(found)
                payload = json.dumps(found).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload))
                writer.write(payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._handlers.discard(handler)


def _parse(content_type: str, body: bytes) -> dict[str, object]:
    """Fields and files of a multipart body, files by name, type, size and SHA-256."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    files: dict[str, dict[str, object]] = {}
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        data = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(data, bytes)
        if filename is None:
            fields[name] = data.decode()
        else:
            files[name] = {
                "filename": filename,
                "type": part.get_content_type(),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    return {"multipart": message.get_content_type(), "fields": fields, "files": files}


SCENARIO = """\
name: uploads
target: TARGET
vars: {report: q3}
defaults:
  headers: {content-type: application/json}
flows:
  - name: f
    steps:
      - request:
          name: upload
          method: POST
          url: /upload
          multipart:
            title: "Report {{ report }}"
            document:
              file: files/report.bin
              filename: "report-{{ report }}.bin"
              content_type: application/x-report
            notes: {file: files/notes.txt}
        expect:
          status: 200
          checks:
            - {name: title, jsonpath: $.fields.title, equals: Report q3}
            - {name: document, jsonpath: $.files.document.sha256, equals: DOCUMENT_SHA}
            - {name: name, jsonpath: $.files.document.filename, equals: report-q3.bin}
            - {name: notes, jsonpath: $.files.notes.sha256, equals: NOTES_SHA}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def _run(scenario: str, base_dir: Path) -> Frame:
    compiled = compile_scenario(parse_yaml_text(scenario, base_dir=base_dir))

    async def go() -> Frame:
        client = HttpClient()
        recorder = Recorder(compiled.operations)
        runner = StepRunner(client, recorder)
        variables: dict[str, object] = {n: t.static for n, t in compiled.scenario.variables}
        user = UserState(user_id=1, shared=SharedData(rng=random.Random(0)), variables=variables)
        for _ in range(ITERATIONS):
            await runner.run(compiled.flows[0], user)
        await client.close()
        return recorder.take_frame(0, 0, 0, Health(), final=True)

    return asyncio.run(go())


def test_a_multipart_upload_reaches_the_server_whole_with_its_fields(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    # 5 MiB and a few bytes: many chunks, and more than any transport buffers at once.
    document = random.Random(7).randbytes(5 * 1024 * 1024 + 3)
    (files / "report.bin").write_bytes(document)
    (files / "notes.txt").write_text("first line\r\n--not a boundary--\r\n")
    document_sha = hashlib.sha256(document).hexdigest()
    notes_sha = hashlib.sha256((files / "notes.txt").read_bytes()).hexdigest()
    server = UploadServer()
    with server as url:
        scenario = (
            SCENARIO.replace("TARGET", url)
            .replace("DOCUMENT_SHA", document_sha)
            .replace("NOTES_SHA", notes_sha)
        )
        frame = _run(scenario, tmp_path)
    assert {name: op.outcomes for name, op in frame.ops.items()} == {
        "upload": {"ok:200": ITERATIONS}
    }
    expected = {
        "multipart": "multipart/form-data",
        "fields": {"title": "Report q3"},
        "files": {
            "document": {
                "filename": "report-q3.bin",
                "type": "application/x-report",
                "size": len(document),
                "sha256": document_sha,
            },
            "notes": {
                "filename": "notes.txt",
                "type": "text/plain",
                "size": len((files / "notes.txt").read_bytes()),
                "sha256": notes_sha,
            },
        },
    }
    assert server.received == [expected] * ITERATIONS
    assert frame.ops["upload"].bytes_sent > ITERATIONS * len(document)


RUN = """\
name: uploads-run
target: http://127.0.0.1:1
flows:
  - name: f
    steps:
      - request:
          name: upload
          method: PUT
          url: /upload
          multipart:
            user: "{{ user_id }}"
            document: {file: report.bin, filename: "r-{{ user_id }}.bin"}
        expect:
          checks: [{name: whole, jsonpath: $.files.document.sha256, equals: DOCUMENT_SHA}]
plan:
  - {stage: s, users: 3, duration: 1s}
"""


def test_a_whole_run_uploads_every_file_whole_from_each_user(tmp_path: Path) -> None:
    """Through `loadlens run`: the scenario pickled to a worker, its users driven by callbacks
    (`PlainUser`), several uploads in flight at once."""
    document = random.Random(11).randbytes(1024 * 1024 + 17)
    (tmp_path / "report.bin").write_bytes(document)
    digest = hashlib.sha256(document).hexdigest()
    scenario = write(tmp_path / "uploads.yaml", RUN.replace("DOCUMENT_SHA", digest))
    server = UploadServer()
    with server as url:
        run = run_scenario(scenario, url, tmp_path / "runs", "--workers", "1")
    assert "Traceback" not in run.stderr
    result = run.result()
    outcomes = result.operations["upload"].outcomes
    assert set(outcomes) <= {"ok:200", "cancelled"}, outcomes  # cancelled: in flight at the end
    ok = outcomes["ok:200"]
    assert ok > 3
    assert ok <= len(server.received) <= ok + outcomes.get("cancelled", 0)
    for found in server.received:
        files = found["files"]
        assert isinstance(files, dict)
        assert files["document"]["sha256"] == digest
        fields = found["fields"]
        assert isinstance(fields, dict)
        assert files["document"]["filename"] == f"r-{fields['user']}.bin"


EARLY = """\
name: early
target: TARGET
flows:
  - name: f
    steps:
      - request:
          name: too-large
          method: POST
          url: /too-large
          multipart: {document: {file: big.bin}}
        expect: {status: 413}
      - request:
          name: small
          method: POST
          url: /upload
          multipart: {title: small}
        expect: {status: 200, checks: [{name: title, jsonpath: $.fields.title, equals: small}]}
plan:
  - {stage: s, users: 1, duration: 1s}
"""


def test_an_answer_before_the_upload_ends_is_judged_and_the_next_request_goes_on(
    tmp_path: Path,
) -> None:
    # Far more than the sockets' buffers hold: the 413 comes while the client is still sending.
    with (tmp_path / "big.bin").open("wb") as big:
        big.truncate(64 * 1024 * 1024)
    server = UploadServer()
    with server as url:
        frame = _run(EARLY.replace("TARGET", url), tmp_path)
    assert {name: op.outcomes for name, op in frame.ops.items()} == {
        "too-large": {"ok:413": ITERATIONS},
        "small": {"ok:200": ITERATIONS},
    }
    assert server.early == ITERATIONS
    # Only part of each 64 MiB body was sent before the answer stopped it, and only that counts.
    assert frame.ops["too-large"].bytes_sent < ITERATIONS * 32 * 1024 * 1024
