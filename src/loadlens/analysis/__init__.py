"""Analysis of a RunResult: gates, verdicts, capacity."""
