"""Outputs that follow a run while it goes (the Prometheus endpoint), fed the coordinator's
merged numbers through its RunListener; never the workers, never the hot path."""
