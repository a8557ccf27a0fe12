"""What this machine can run at most: users, arrival rates and the connections they need.

A plan beyond these limits cannot run as written (the workers would run out of file
descriptors or memory, or fall ever further behind the arrival schedule), so it is refused
before anything is sent, by `validate` as by `run`, with the limit and how to raise it:

- users: each virtual user holds at least one connection, and so one file descriptor, in its
  worker; a worker raises its soft `RLIMIT_NOFILE` to the hard limit when it starts, so a
  worker's share of users must fit in the hard limit, less `_RESERVED_FDS`;
- memory: a user costs about `BYTES_PER_USER` (its task or callback state, its connection's
  buffers and its variables); all users together must fit in the machine's memory;
- rate: one worker sustains about 50,000 arrivals/s on the benchmark machine
  (docs/benchmarks.md); `MAX_RATE_PER_WORKER` is twice that, a ceiling no stage can reach,
  so a rate beyond workers × ceiling is a typo or a unit mistake rather than a plan.
"""

from __future__ import annotations

import math
import resource

import psutil

from loadlens.errors import Problem
from loadlens.model.plan import ClosedLoad, OpenLoad
from loadlens.model.scenario import Scenario

MAX_RATE_PER_WORKER = 100_000.0  # arrivals per second: twice what one worker was measured at
BYTES_PER_USER = 64 * 1024  # generous: measured 20-30 KiB per user with its connection
_RESERVED_FDS = 64  # the worker's own pipes, event loop, files and a margin


def descriptor_limit() -> int:
    """File descriptors one worker may open: the hard RLIMIT_NOFILE (workers raise to it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = soft if hard == resource.RLIM_INFINITY else hard
    return 1 << 20 if limit == resource.RLIM_INFINITY else int(limit)


def machine_problems(scenario: Scenario, workers: int) -> list[Problem]:
    """Every stage whose users or rate this machine cannot run with `workers` workers."""
    problems: list[Problem] = []
    users_per_worker = descriptor_limit() - _RESERVED_FDS
    memory = psutil.virtual_memory().total
    for index, stage in enumerate(scenario.plan):
        load = stage.load
        if isinstance(load, ClosedLoad):
            key = f"plan[{index}].users"
            share = math.ceil(load.users / workers)
            if share > users_per_worker:
                problems.append(
                    Problem(
                        scenario.source,
                        stage.line,
                        0,
                        key,
                        f"{load.users:,} users need {share:,} connections per worker "
                        f"({workers} worker{'s' if workers != 1 else ''}), beyond the "
                        f"{users_per_worker + _RESERVED_FDS:,} file descriptors a process may "
                        "open here",
                        "raise the limit with /etc/security/limits.conf and `ulimit -n`, or "
                        "LimitNOFILE= for a service; or use more --workers or machines",
                    )
                )
            elif load.users * BYTES_PER_USER > memory:
                need = load.users * BYTES_PER_USER / 2**30
                problems.append(
                    Problem(
                        scenario.source,
                        stage.line,
                        0,
                        key,
                        f"{load.users:,} users need about {need:,.1f} GiB "
                        f"({BYTES_PER_USER // 1024} KiB each), more than this machine's "
                        f"{memory / 2**30:,.1f} GiB",
                        "use fewer users, or spread them over more machines",
                    )
                )
        elif isinstance(load, OpenLoad):
            peak = max(load.rate, load.start_rate or 0.0)
            ceiling = MAX_RATE_PER_WORKER * workers
            if peak > ceiling:
                problems.append(
                    Problem(
                        scenario.source,
                        stage.line,
                        0,
                        f"plan[{index}].rate",
                        f"{peak:,.0f}/s is beyond what {workers} worker"
                        f"{'s' if workers != 1 else ''} can start ({MAX_RATE_PER_WORKER:,.0f}/s "
                        f"each at most, {ceiling:,.0f}/s in all)",
                        "check the unit: `/s`, `/m` or `/h`; or use more --workers or machines",
                    )
                )
    return problems
