"""What a lost worker means for the verdict: the planned load was not delivered.

A worker that dies mid-stage takes its share of the load with it; the coordinator stops the
stage, but until then, and for every stage that did not run, the service saw less than the
plan. Whatever the gates say, that is no verdict on the service at the planned load, so the
run is INCONCLUSIVE and the reasons say which worker, when, and by how much the load fell short.

A cluster run goes on without a lost worker (its nodes come and go): the stage ends short of
the lost worker's share for the rest of the stage, and the next stages are shared by the workers
left. Such a loss makes the run INCONCLUSIVE only when the load not delivered exceeds
`LOST_LOAD_TOLERANCE` of its stage's plan (docs/distributed.md).
"""

from __future__ import annotations

from loadlens.metrics.lost_worker import LostWorker
from loadlens.metrics.result import RunResult

# The part of a stage's planned load a cluster run may lose to lost workers and still be judged:
# 5 % is about what a stage's rate varies by from one second to the next on a busy generator.
LOST_LOAD_TOLERANCE = 0.05


def lost_worker_reasons(result: RunResult) -> list[str]:
    """One reason per lost worker that takes the verdict away; empty when none does."""
    return [_reason(lost) for lost in result.lost_workers if _decisive(lost, result)]


def _decisive(lost: LostWorker, result: RunResult) -> bool:
    if not lost.went_on:
        return True
    short = sum(other.shortfall for other in result.lost_workers if other.stage == lost.stage)
    return short > LOST_LOAD_TOLERANCE


def _reason(lost: LostWorker) -> str:
    pid = f" (pid {lost.pid})" if lost.pid is not None else ""
    unreported = (
        f"at least {lost.unreported:,} it had sent were never reported"
        if lost.unreported
        else "none was in flight at its last frame"
    )
    if lost.went_on:
        return (
            f"worker {lost.worker}{pid} was lost {lost.lost_after_s:.1f} s into stage "
            f"`{lost.stage_name}` ({lost.cause}) after reporting {lost.reported:,} requests; "
            f"{unreported}; the stage went on without its share ({lost.share}), so "
            f"{lost.shortfall:.0%} of the stage's planned load was not sent (over the "
            f"{LOST_LOAD_TOLERANCE:.0%} tolerated)"
        )
    return (
        f"worker {lost.worker}{pid} was lost {lost.lost_after_s:.1f} s into stage "
        f"`{lost.stage_name}` ({lost.cause}) after reporting {lost.reported:,} requests; "
        f"{unreported}; from then on the delivered load fell {lost.share_fraction:.0%} below "
        f"the plan (its share: {lost.share}), so the stage was stopped and the rest of the "
        "plan not run"
    )
