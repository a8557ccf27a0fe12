"""Outputs that follow a run while it goes (the Prometheus endpoint, OTLP export, the live web
dashboard), fed the coordinator's merged numbers through its RunListener; never the workers,
never the hot path."""
