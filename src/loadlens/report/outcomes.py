"""Outcome keys as people read them."""

from __future__ import annotations

_ERROR_TEXT = {
    "connect_refused": "connection refused",
    "connect_timeout": "connect timeout",
    "reset": "connection reset",
    "read_timeout": "read timeout",
    "total_timeout": "total timeout",
    "tls": "TLS error",
    "dns": "DNS lookup failed",
    "protocol": "malformed HTTP response",
    "closed": "connection closed before the response ended",
    "other": "other transport error",
}


def describe_outcome(key: str) -> str:
    """`status:404` → `HTTP 404`; `missing_variable:id@create` → `missing variable ...`."""
    kind, _, detail = key.partition(":")
    if kind == "ok":
        return f"HTTP {detail} (expected)" if detail else "ok"
    if kind == "status":
        return f"HTTP {detail}"
    if kind == "error":
        return _ERROR_TEXT.get(detail, detail)
    if kind == "check_failed":
        return f"check `{detail}` failed"
    if kind == "capture_failed":
        return f"capture of `{detail}` found nothing"
    if kind == "missing_variable":
        name, _, step = detail.partition("@")
        if step:
            return f"missing variable `{name}` (capture in step `{step}` found nothing)"
        return f"missing variable `{name}` (never set)"
    if kind == "cancelled":
        return "cancelled at stop (in flight when the grace ran out)"
    return key
