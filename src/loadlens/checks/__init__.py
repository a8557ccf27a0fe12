"""Proving the service's data intact: invariants (SQL, HTTP) and reconciliation of the ledger."""

from __future__ import annotations

from loadlens.checks.ledger import read_entity_values, reconcile
from loadlens.checks.runner import run_invariants

__all__ = ["read_entity_values", "reconcile", "run_invariants"]
