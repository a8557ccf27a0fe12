"""Measurements: recording requests in workers, merging frames, and the RunResult.

Modules: `histogram` (HDR latency histograms), `recorder` (worker hot path), `frame` (one
worker-second), `series` (per-second points in bounded memory), `accumulate` (coordinator
merge and live view), `result` (result.json). Imports only the model, errors, hdrh and numpy.
"""
