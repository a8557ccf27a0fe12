"""Change points across the stored history of each scenario, operation and metric."""

from __future__ import annotations

from dataclasses import dataclass

from loadlens.analysis.changepoints import ChangePoint, detect
from loadlens.store.history import Store

HISTORY_METRICS = ("p50", "p95", "p99", "error_rate", "rps")


@dataclass(frozen=True, slots=True)
class HistoryChange:
    """A change point in one series of the history, located at a run."""

    scenario: str
    operation: str  # schema.ALL_OPERATIONS for every operation together
    metric: str
    run_id: str  # the first run after the change
    until_run_id: str | None  # the first run after the next change of this series; None: it stayed
    point: ChangePoint


def history_changes(
    store: Store,
    scenario: str | None = None,
    *,
    metrics: tuple[str, ...] = HISTORY_METRICS,
    max_pvalue: float = 0.001,
    min_size: int = 3,
) -> list[HistoryChange]:
    """Every change point of every stored series (optionally of one scenario), in order."""
    found: list[HistoryChange] = []
    scenarios = [scenario] if scenario is not None else store.scenarios()
    for name in scenarios:
        for operation in store.operations(name):
            for metric in metrics:
                series = store.series(name, operation, metric)
                points = detect([p.value for p in series], max_pvalue=max_pvalue, min_size=min_size)
                for i, point in enumerate(points):
                    following = points[i + 1].index if i + 1 < len(points) else None
                    found.append(
                        HistoryChange(
                            scenario=name,
                            operation=operation,
                            metric=metric,
                            run_id=series[point.index].run_id,
                            until_run_id=None if following is None else series[following].run_id,
                            point=point,
                        )
                    )
    return found
