"""Watching the service while a run goes: JSON and Prometheus endpoints, local processes."""

from __future__ import annotations

from loadlens.observe.session import ObservationSession

__all__ = ["ObservationSession"]
