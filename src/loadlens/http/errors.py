"""TransportError, and the one place where socket, ssl and parser errors become its kinds."""

from __future__ import annotations

import errno
import socket
import ssl

import httptools

from loadlens.http.response import Timings
from loadlens.model.outcome import ErrorKind

# asyncio (3.11) folds the failures of every address it tried into one OSError without errno
# whose text lists them; a refusal is recognised in that text, the only place it survives.
_REFUSED_TEXT = f"[Errno {errno.ECONNREFUSED}]"


class TransportError(Exception):
    """A request that got no HTTP response; `kind` is stable and recorded as the outcome."""

    def __init__(self, kind: ErrorKind, message: str, timings: Timings | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.timings = timings

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


def error_kind(exc: BaseException) -> ErrorKind:
    """The stable kind of a failure raised by sockets, ssl or the parser."""
    if isinstance(exc, TransportError):
        return exc.kind
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return ErrorKind.TLS
    if isinstance(exc, socket.gaierror):
        return ErrorKind.DNS
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.CONNECT_REFUSED
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ErrorKind.RESET
    if isinstance(exc, TimeoutError):
        return ErrorKind.CONNECT_TIMEOUT  # only a connect can time out in the OS (ETIMEDOUT)
    if isinstance(exc, httptools.HttpParserError | httptools.HttpParserUpgrade):
        return ErrorKind.PROTOCOL
    if isinstance(exc, OSError) and exc.errno is None and _REFUSED_TEXT in str(exc):
        return ErrorKind.CONNECT_REFUSED
    return ErrorKind.OTHER


def transport_error(
    exc: BaseException, where: str, timings: Timings | None = None
) -> TransportError:
    """`exc` translated at the boundary; `where` names the origin for the message."""
    if isinstance(exc, TransportError):
        return exc
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    detail = detail or type(exc).__name__
    return TransportError(error_kind(exc), f"{where}: {detail}", timings)
