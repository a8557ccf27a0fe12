"""What the coordinator does about the service itself, beside sending it load: watch its
metrics while the plan runs, check its invariants after stages, and reconcile the writes it
acknowledged with what its database kept. Errors never escape: they become results.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from loadlens.model.integrity import InvariantResult, Ledger, Moment, ReconciliationResult
from loadlens.model.observation import ObservationResult
from loadlens.model.redaction import Redactor
from loadlens.model.scenario import Scenario

if TYPE_CHECKING:
    from loadlens.observe import ObservationSession

_ENTITIES_UNKNOWN = (
    "the reconcile query uses :entities, so the values before the run could not be read; "
    "write it without :entities (every row it returns is read first)"
)


class ServiceWatch:
    """Observation, invariants and reconciliation for one run."""

    def __init__(self, scenario: Scenario, variables: dict[str, str], redactor: Redactor) -> None:
        self.scenario = scenario
        self.variables = variables
        self.redactor = redactor
        self.invariants: list[InvariantResult] = []
        self.ledger = Ledger()  # the workers' acknowledged writes, merged
        self.reconciliation: ReconciliationResult | None = None
        self._initial: dict[tuple[str, str], float] | None = None
        self._session: ObservationSession | None = None
        self._session_started = 0.0
        self._observation: ObservationResult | None = None

    # -- observation ---------------------------------------------------------------------------

    def start_observing(self) -> None:
        """Start sampling the service's metrics, if the scenario says what to observe."""
        observe = self.scenario.observe
        if observe is None:
            return
        # Imported only for a scenario that observes (prometheus_client, psutil: ~50 ms that
        # every run paid before its workers could start).
        from loadlens.observe import ObservationSession

        length = sum(stage.length + stage.grace for stage in self.scenario.plan)
        self._session = ObservationSession(
            observe,
            target=self.scenario.target,
            max_samples=int(length / observe.every) + 2,
            redactor=self.redactor,
        )
        self._session_started = time.monotonic()  # the session's clock counts from here
        self._session.start()

    def observed_since(self, since: float) -> dict[str, list[float]]:
        """Each observed metric's values sampled since the monotonic time `since`."""
        if self._session is None:
            return {}
        offset = since - self._session_started
        return {
            metric.name: [value for t, value in metric.samples if t >= offset]
            for metric in self._session.result().metrics
        }

    def stop_observing(self) -> ObservationResult | None:
        """Stop sampling (once) and keep what was seen."""
        if self._session is not None:
            self._observation = self._session.stop()
            self._session = None
        return self._observation

    # -- invariants ------------------------------------------------------------------------------

    def check(self, moment: Moment, stage: str | None = None) -> None:
        """Run the invariants due at this moment and keep their results."""
        if self.scenario.invariant_specs:
            from loadlens.checks import run_invariants  # SQLAlchemy: only when there are any

            self.invariants.extend(
                run_invariants(
                    self.scenario.invariant_specs,
                    moment=moment,
                    stage=stage,
                    target=self.scenario.target,
                    variables=self.variables,
                    redactor=self.redactor,
                )
            )

    # -- reconciliation ---------------------------------------------------------------------------

    def read_initial_values(self) -> None:
        """The ledger's entities before the plan: every row the reconcile query returns."""
        ledger = self.scenario.ledger
        if ledger is None or ledger.reconcile is None or ":entities" in ledger.reconcile.query:
            return  # nothing to reconcile, or the entities are not known before the run
        from loadlens.checks import read_entity_values
        from loadlens.checks.sql import SqlError

        try:
            self._initial = read_entity_values(
                ledger.reconcile, [], ledger.fields,
                variables=self.variables, redactor=self.redactor,
            )  # fmt: skip
        except SqlError as error:
            self._fail(str(error))

    def reconcile(self) -> None:
        """Compare the acknowledged writes with what the database kept (once)."""
        ledger = self.scenario.ledger
        if ledger is None or ledger.reconcile is None or self.reconciliation is not None:
            return
        if self._initial is None:
            self._fail(_ENTITIES_UNKNOWN)
            return
        from loadlens.checks import read_entity_values, reconcile
        from loadlens.checks.sql import SqlError

        try:
            final = read_entity_values(
                ledger.reconcile, self.ledger.entities(), ledger.fields,
                variables=self.variables, redactor=self.redactor,
            )  # fmt: skip
        except SqlError as error:
            self._fail(str(error))
            return
        self.reconciliation = reconcile(self.ledger, self._initial, final)

    def _fail(self, error: str) -> None:
        self.reconciliation = ReconciliationResult(
            self.ledger.writes, 0, 0, 0.0, 0, 0.0, error=error
        )
