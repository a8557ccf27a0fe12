"""How much of the real overlap on an entity the `overlap:` features can show.

How it works. Each worker process marks a request `overlap:VAR` when another request *of the
same worker* with the same value of VAR was in flight meanwhile: workers share nothing per
request, so a concurrent request on another worker is invisible. With W workers, of the
concurrent requests that really shared a value, only those whose partner ran in the same
worker are counted, so a share of failures that "overlapped" shrinks as the load is split
over more processes (about 1/W), while the failures themselves do not change.

`visible_share` is the chance that one other concurrent request runs in the same worker, from
what the result records of the split: a closed stage's N users are split as evenly as integers
allow (n_w each; a user is one request at a time, so a partner is one of the N − 1 others and
the chance is Σ n_w (n_w − 1) / (N (N − 1))); an open stage's arrivals are dealt round-robin,
so a partner is the same worker's with chance 1/W. It is a lower bound on what a worker sees
of a request that overlapped: with k partners, at least one is in the same worker with chance
1 − (1 − v)^k ≥ v. With one worker it is 1, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadlens.metrics.result import StageResult


def visible_share(stage: StageResult, workers: int) -> float:
    """The chance that another request in flight during `stage` ran in the same worker."""
    if workers <= 1:
        return 1.0
    load = stage.info.load
    users = load.get("users")
    if load.get("model") == "closed" and isinstance(users, int):
        if users <= 1:
            return 1.0  # one user: no request of this stage had a concurrent partner anyway
        shares = [users // workers + (1 if w < users % workers else 0) for w in range(workers)]
        return sum(n * (n - 1) for n in shares) / (users * (users - 1))
    return 1.0 / workers


def weighted_visible_share(
    stages: Sequence[StageResult], weights: Sequence[int], workers: int
) -> float:
    """`visible_share` averaged over `stages`, each counted `weights` times (its failures)."""
    total = sum(weights)
    if total == 0:
        return 1.0
    return sum(visible_share(s, workers) * w for s, w in zip(stages, weights, strict=True)) / total
