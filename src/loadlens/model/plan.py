"""Stages of a plan and their load models.

A stage ramps from the previous stage's level (or `start`) to its own level during `ramp`,
then holds for `duration`. In-flight iterations get `grace` to finish at the stage's end.

A stage may instead run a number of iterations (as k6's shared- and per-VU-iterations
executors do): `iterations` shared by all its users (or, in the open model, the number of
arrivals), or `per_user` for each user of a closed stage. It ends when they are done, its
`duration` then being a time limit (iterations not started by then are not run).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loadlens.model.threshold import Threshold


@dataclass(frozen=True, slots=True)
class ClosedLoad:
    """N virtual users, each running iterations back to back (latency from the actual send)."""

    users: int
    start_users: int | None = None  # ramp from here; None: from the previous stage's level
    iterations: int | None = None  # the stage's iterations, shared by its users
    per_user: int | None = None  # iterations of each user


@dataclass(frozen=True, slots=True)
class OpenLoad:
    """Iterations started at an arrival rate per second, each at its scheduled time."""

    rate: float
    start_rate: float | None = None  # ramp from here; None: from the previous stage's rate
    max_in_flight: int = 10_000  # iterations beyond this are dropped, and counted
    iterations: int | None = None  # arrivals of the stage (started or dropped), then it ends


LoadModel = ClosedLoad | OpenLoad

# The time limit of an iteration stage written without `duration` (k6's `maxDuration` default).
ITERATIONS_TIME_LIMIT = 600.0


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a plan."""

    name: str
    load: LoadModel
    duration: float  # seconds of hold, > 0
    ramp: float = 0.0  # seconds of ramp before the hold, >= 0
    grace: float = 5.0  # seconds in-flight iterations may take to finish at the end
    gates: tuple[Threshold, ...] = ()  # this stage's own gates (the scenario's apply too)
    line: int = field(default=0, compare=False)  # where it was written, for messages

    @property
    def counted(self) -> bool:
        """Whether the stage runs a number of iterations (its duration a time limit)."""
        load = self.load
        if isinstance(load, ClosedLoad):
            return load.iterations is not None or load.per_user is not None
        return load.iterations is not None

    @property
    def length(self) -> float:
        """Ramp plus hold, in seconds."""
        return self.ramp + self.duration
