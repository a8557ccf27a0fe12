"""loadlens: load and stress testing for HTTP services that explains its own results."""

from __future__ import annotations

__version__ = "0.1.0"
