"""The classic faults the demo service can be switched into, all off by default.

Each fault reproduces one failure from a real load-test report, in the smallest code that shows
the same symptom, so that loadlens can be tested against (and demonstrated on) a service whose
problems are known in advance.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

FAULT_DESCRIPTIONS: dict[str, str] = {
    "id-format": "POST /users answers doc_<8 hex> ids, reads look up user-<int>: new users 404",
    "token-race": "refresh tokens derive from a login count read early: concurrent logins -> 500",
    "no-lock": "reservations check then write outside a transaction: concurrent reserves overbook",
    "slow-hash": "every 5th seeded account (user4, user9, ...) keeps a legacy hash 200x as costly",
    "leak": "the read cache never evicts and is searched linearly: latency and RSS drift up",
    "small-pool": "2 database connections, each held 2 ms per operation: throughput plateaus",
}
FAULTS: tuple[str, ...] = tuple(FAULT_DESCRIPTIONS)


@dataclass(frozen=True, slots=True)
class Faults:
    """Which faults are switched on; build with `Faults.parse`."""

    id_format: bool = False
    token_race: bool = False
    no_lock: bool = False
    slow_hash: bool = False
    leak: bool = False
    small_pool: bool = False

    @classmethod
    def parse(cls, names: Collection[str]) -> Faults:
        """Faults from their names; any unknown name is a ValueError listing the valid ones."""
        if isinstance(names, str):
            names = [names]
        unknown = sorted(set(names) - set(FAULTS))
        if unknown:
            raise ValueError(
                f"unknown fault(s): {', '.join(unknown)}; valid faults: {', '.join(FAULTS)}"
            )
        return cls(**{name.replace("-", "_"): True for name in names})

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the faults that are on, in the order of FAULTS."""
        return tuple(name for name in FAULTS if getattr(self, name.replace("-", "_")))
