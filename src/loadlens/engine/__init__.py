"""The load engine: a coordinator process that owns time and worker processes that send load."""
