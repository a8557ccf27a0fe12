"""What text a header value (or a request line) cannot carry as it is.

One rule for both places that apply it: `validate` refuses such text written in a scenario's
header, and a worker refuses to send a request whose variable brought it in at run time.
"""

from __future__ import annotations


def breaks_line(text: str) -> bool:
    """Whether `text` holds CR, LF or NUL: it would end the header (an injection) or the line."""
    return "\r" in text or "\n" in text or "\0" in text


def beyond_latin1(text: str) -> bool:
    """Whether `text` holds a character a header's bytes (Latin-1) cannot encode."""
    return not text.isascii() and any(ord(ch) > 0xFF for ch in text)


def unwritable(text: str) -> bool:
    """Whether `text` cannot go into a header as it is."""
    return breaks_line(text) or beyond_latin1(text)
