"""One small HTTP GET for HTTP invariants: urllib, a timeout, errors as reasons.

Checks run once per stage, so a connection per request is cheap enough; `observe` has its
twin (the two packages are independent layers and may not import each other).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

MAX_BODY_BYTES = 8 * 1024 * 1024  # a metrics page or check response larger than this is refused


class FetchError(Exception):
    """A GET that gave no usable body; the message is the reason, fit to show."""


def http_get(url: str, timeout: float) -> bytes:
    """The body of a 2xx answer to GET `url`, or FetchError saying why not."""
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"Accept": "*/*", "User-Agent": "loadlens"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as error:
        error.close()
        raise FetchError(f"HTTP {error.code} from {url}") from None
    except urllib.error.URLError as error:
        raise FetchError(f"cannot reach {url}: {_reason(error.reason)}") from None
    except TimeoutError:
        raise FetchError(f"no answer from {url} within {timeout:g} s") from None
    except OSError as error:
        raise FetchError(f"cannot reach {url}: {_reason(error)}") from None
    if len(body) > MAX_BODY_BYTES:
        raise FetchError(f"the body of {url} is larger than {MAX_BODY_BYTES} bytes")
    return body


def get_json(url: str, timeout: float) -> object:
    """The parsed JSON body of GET `url`, or FetchError."""
    body = http_get(url, timeout)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise FetchError(f"the body of {url} is not JSON: {error}") from None


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
