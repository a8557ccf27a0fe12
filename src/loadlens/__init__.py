"""loadlens: load and stress testing for HTTP services that explains its own results."""

from __future__ import annotations

from loadlens import native

__version__ = "0.1.0"

# Before any submodule is imported: a compiled hot path older than its sources must not run.
native.route_imports()
