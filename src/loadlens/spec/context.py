"""What validation knows while it walks a scenario: feeders, pools, and variables in scope.

User variables are defined by `vars:`, by captures in setup, and by captures in earlier steps
of the same flow; a reference is checked against the scope at the point it is written. Pool
reads are checked at the end, since any flow (or setup) may fill a pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loadlens.model.template import Template, VarSource
from loadlens.spec.nodes import Node
from loadlens.spec.reader import Reader, did_you_mean
from loadlens.spec.templates import BUILTINS, TemplateSyntaxError, compile_template


@dataclass(slots=True)
class Scope:
    """User variables defined so far, in definition order (a dict: an ordered set)."""

    names: dict[str, None] = field(default_factory=dict)

    def define(self, name: str) -> None:
        self.names[name] = None

    def include(self, other: Scope) -> None:
        """Define every name `other` defines."""
        self.names.update(other.names)

    def copy(self) -> Scope:
        return Scope(dict(self.names))


@dataclass(slots=True)
class Context:
    """Shared state of one validation."""

    reader: Reader
    feeders: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # None: unreadable
    pool_writes: set[str] = field(default_factory=set)
    pool_reads: list[tuple[str, Node, str]] = field(default_factory=list)
    base_dir: Path | None = None  # where files the scenario names are found (None: the cwd)

    def template(self, node: Node, key: str, scope: Scope) -> Template | None:
        """The compiled template of a string node, its references checked against `scope`."""
        text = self.reader.string(node, key)
        if text is None:
            return None
        return self.compile(text, node, key, scope)

    def compile(self, text: str, node: Node, key: str, scope: Scope) -> Template | None:
        """Compile `text` (written at `node`) and check its references."""
        try:
            template = compile_template(text)
        except TemplateSyntaxError as error:
            self.reader.report(node, key, str(error))
            return None
        for ref in template.refs:
            if ref.source is VarSource.USER and ref.name not in scope.names:
                known = [*scope.names, *BUILTINS, *(f"pool.{p}" for p in self.pool_writes)]
                self.reader.report(
                    node, key, f"undefined variable `{ref.name}`", did_you_mean(ref.name, known)
                )
            elif ref.source is VarSource.POOL:
                self.pool_reads.append((ref.name, node, key))
            elif ref.source is VarSource.FEEDER:
                self._check_feeder(ref.name, ref.field or "", node, key)
        return template

    def _check_feeder(self, feeder: str, column: str, node: Node, key: str) -> None:
        if feeder not in self.feeders:
            hint = did_you_mean(feeder, self.feeders) or (
                f"declared feeders: {', '.join(self.feeders)}"
                if self.feeders
                else "declare it under `data:`"
            )
            self.reader.report(node, key, f"unknown feeder `{feeder}` in `{feeder}.{column}`", hint)
            return
        columns = self.feeders[feeder]
        if columns is not None and column not in columns:
            self.reader.report(
                node,
                key,
                f"feeder `{feeder}` has no column `{column}`",
                f"columns: {', '.join(columns)}",
            )

    def check_pools(self) -> None:
        """Report every pool read that no capture fills."""
        for name, node, key in self.pool_reads:
            if name not in self.pool_writes:
                known = sorted(self.pool_writes)
                hint = did_you_mean(name, known) or "capture into it with `pool.NAME: $.path`"
                self.reader.report(node, key, f"no capture fills pool `{name}`", hint)
