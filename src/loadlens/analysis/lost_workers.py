"""What a lost worker means for the verdict: the planned load was not delivered.

A worker that dies mid-stage takes its share of the load with it; the coordinator stops the
stage, but until then, and for every stage that did not run, the service saw less than the
plan. Whatever the gates say, that is no verdict on the service at the planned load, so the
run is INCONCLUSIVE and the reasons say which worker, when, and by how much the load fell short.
"""

from __future__ import annotations

from loadlens.metrics.lost_worker import LostWorker
from loadlens.metrics.result import RunResult


def lost_worker_reasons(result: RunResult) -> list[str]:
    """One reason per lost worker; empty when none was lost."""
    return [_reason(lost) for lost in result.lost_workers]


def _reason(lost: LostWorker) -> str:
    pid = f" (pid {lost.pid})" if lost.pid is not None else ""
    unreported = (
        f"at least {lost.unreported:,} it had sent were never reported"
        if lost.unreported
        else "none was in flight at its last frame"
    )
    return (
        f"worker {lost.worker}{pid} was lost {lost.lost_after_s:.1f} s into stage "
        f"`{lost.stage_name}` ({lost.cause}) after reporting {lost.reported:,} requests; "
        f"{unreported}; from then on the delivered load fell {lost.share_fraction:.0%} below "
        f"the plan (its share: {lost.share}), so the stage was stopped and the rest of the "
        "plan not run"
    )
