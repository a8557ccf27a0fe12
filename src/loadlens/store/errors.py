"""The store's one error: a history database that cannot be opened, read or written."""

from __future__ import annotations

from loadlens.errors import LoadlensError


class StoreError(LoadlensError):
    """The run history could not be reached or used; the run directory is unaffected."""
