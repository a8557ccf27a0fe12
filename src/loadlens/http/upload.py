"""Request bodies sent after the head in pieces: bytes as they are, and files read from disk.

How it works: an `Upload` lists a body's pieces in order, bytes and `FilePiece`s, and its total
length (the request's head already says it in `Content-Length`). The connection writes the head,
then asks an `UploadReader` for one chunk after another and writes each until the transport says
its buffer is full (`pause_writing`); it goes on when the buffer drains (`resume_writing`). A file
is opened when its turn comes and read `CHUNK_BYTES` at a time, so a user sending a large file
holds one chunk of it, plus what the transport buffers, never the whole file.

A file is sent with exactly the size it had when the scenario was loaded (the head was written
with it): one that has shrunk since fails the request (UploadError) rather than send a body
shorter than its `Content-Length`; one that has grown is cut at that size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Final

# Read from disk per chunk: large enough that a 100 MB file costs ~1,600 reads and writes, small
# enough that a thousand users uploading at once hold 64 MB between them; asyncio's transports
# pause writing past 64 KiB buffered, so a bigger chunk would only wait in their buffers.
CHUNK_BYTES: Final = 64 * 1024


class UploadError(Exception):
    """A file of an upload could not be read as it was at load."""


@dataclass(frozen=True, slots=True)
class FilePiece:
    """A file sent as a piece of a body: exactly `size` bytes of it."""

    path: str
    size: int


@dataclass(frozen=True, slots=True)
class Upload:
    """A body streamed after the request's head; `length` bytes in all."""

    pieces: tuple[bytes | FilePiece, ...]
    length: int

    @classmethod
    def of(cls, pieces: list[bytes | FilePiece]) -> Upload:
        """An upload of `pieces`, consecutive bytes joined, its length counted."""
        joined: list[bytes | FilePiece] = []
        length = 0
        for piece in pieces:
            if isinstance(piece, FilePiece):
                length += piece.size
                joined.append(piece)
            elif piece:
                length += len(piece)
                if joined and isinstance(joined[-1], bytes):
                    joined[-1] += piece
                else:
                    joined.append(piece)
        return cls(tuple(joined), length)

    def reader(self) -> UploadReader:
        """A reader of this body from its first byte (a resend starts a new one)."""
        return UploadReader(self.pieces)


class UploadReader:
    """The chunks of one sending of an Upload, read as they are asked for."""

    __slots__ = ("_file", "_index", "_left", "_pieces")

    def __init__(self, pieces: tuple[bytes | FilePiece, ...]) -> None:
        self._pieces = pieces
        self._index = 0
        self._file: BinaryIO | None = None
        self._left = 0  # bytes of the open file still to send

    def next_chunk(self) -> bytes:
        """The next bytes to send; b"" at the end. Raises UploadError."""
        while True:
            if self._file is not None:
                return self._read_file()
            if self._index >= len(self._pieces):
                return b""
            piece = self._pieces[self._index]
            self._index += 1
            if isinstance(piece, bytes):
                return piece
            if piece.size == 0:
                continue
            try:
                self._file = open(piece.path, "rb")  # noqa: SIM115 (closed at its end or `close`)
            except OSError as error:
                raise UploadError(f"cannot open {piece.path}: {error.strerror}") from None
            self._left = piece.size

    def _read_file(self) -> bytes:
        file = self._file
        assert file is not None
        try:
            chunk = file.read(min(CHUNK_BYTES, self._left))
        except OSError as error:
            self.close()
            raise UploadError(f"cannot read {file.name}: {error.strerror}") from None
        if not chunk:
            self.close()
            raise UploadError(f"{file.name} is shorter than when the scenario was loaded")
        self._left -= len(chunk)
        if self._left == 0:
            self.close()
        return chunk

    def close(self) -> None:
        """Close the file being read, if any (the rest is not sent)."""
        if self._file is not None:
            self._file.close()
            self._file = None
