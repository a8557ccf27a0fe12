"""`multipart/form-data` bodies (RFC 7578): compiled at load, rendered per request as an Upload.

How it works: at load a body becomes a list of pieces: the bytes of every delimiter and part
header that has no variable, the templates of field values and file names, and the files
themselves (path and size). Per request the templates are rendered and the pieces joined into
an `Upload` (`loadlens.http.upload`), whose files the connection reads from disk chunk by chunk
while it sends: a file is never held whole in memory, by any user. Its length, known before a
byte is read, goes into the head's `Content-Length`, so the body needs no chunked framing,
which some servers still refuse for uploads.

The boundary is random per worker and per request definition (128 bits, as urllib3 and
requests make theirs): a body is not searched for it, which would mean reading every file.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from loadlens.http.upload import FilePiece, Upload
from loadlens.model.scenario import FormPart
from loadlens.model.template import Template, VarRef, render


@dataclass(frozen=True, slots=True)
class _Quoted:
    """A file name rendered per request, escaped for a quoted header parameter."""

    template: Template


_Piece = bytes | Template | _Quoted | FilePiece


@dataclass(frozen=True, slots=True)
class MultipartBody:
    """A multipart body ready to render for any user."""

    content_type: str  # `multipart/form-data; boundary=...`
    pieces: tuple[_Piece, ...]
    upload: Upload | None  # the whole body when nothing in it is templated

    def render(self, lookup: Callable[[VarRef], object]) -> Upload:
        """The body for one request (MissingVariableError when a variable has no value)."""
        if self.upload is not None:
            return self.upload
        out: list[bytes | FilePiece] = []
        for piece in self.pieces:
            if isinstance(piece, bytes | FilePiece):
                out.append(piece)
            elif isinstance(piece, _Quoted):
                out.append(quote_parameter(render(piece.template, lookup)).encode())
            else:
                out.append(render(piece, lookup).encode())
        return Upload.of(out)


def compile_multipart(parts: tuple[FormPart, ...]) -> MultipartBody:
    """The body of `parts`, with a fresh boundary."""
    boundary = "loadlens-" + secrets.token_hex(16)
    delimiter = f"--{boundary}\r\n".encode()
    pieces: list[_Piece] = []
    for part in parts:
        disposition = f'Content-Disposition: form-data; name="{quote_parameter(part.name)}"'
        pieces.append(delimiter + disposition.encode())
        if part.path is None:
            pieces.append(b"\r\n\r\n")
            if part.value is not None:
                pieces.append(_literal_or(part.value, quoted=False))
        else:
            pieces.append(b'; filename="')
            filename = part.filename or Template.literal(os.path.basename(part.path))
            pieces.append(_literal_or(filename, quoted=True))
            content_type = part.content_type or guess_type(part.path)
            pieces.append(f'"\r\nContent-Type: {content_type}\r\n\r\n'.encode())
            pieces.append(FilePiece(part.path, part.size))
        pieces.append(b"\r\n")
    pieces.append(f"--{boundary}--\r\n".encode())
    static = all(isinstance(p, bytes | FilePiece) for p in pieces)
    upload = Upload.of([p for p in pieces if isinstance(p, bytes | FilePiece)]) if static else None
    return MultipartBody(f"multipart/form-data; boundary={boundary}", tuple(pieces), upload)


def guess_type(path: str) -> str:
    """A file's content type from its name; `application/octet-stream` when unknown."""
    return mimetypes.guess_type(path, strict=False)[0] or "application/octet-stream"


def quote_parameter(text: str) -> str:
    """`text` for a quoted `name` or `filename` parameter, escaped as browsers do (WHATWG)."""
    return text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def _literal_or(template: Template, *, quoted: bool) -> _Piece:
    if template.static is not None:
        text = quote_parameter(template.static) if quoted else template.static
        return text.encode()
    return _Quoted(template) if quoted else template
