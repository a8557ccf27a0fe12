"""The Universal Scalability Law: fit throughput against concurrency, find the peak.

    X(N) = λN / (1 + σ(N − 1) + κN(N − 1))

λ is the throughput of one unit of concurrency, σ the contention (serialised work, Amdahl) and
κ the coherency cost (pairwise crosstalk, which makes throughput fall past a peak at
N* = √((1 − σ)/κ)). Gunther, *Guerrilla Capacity Planning*; the R `usl` package.

How the fit works: least squares with the bounds λ ≥ 0, 0 ≤ σ ≤ 1, κ ≥ 0, in numpy alone.
Dividing the model through gives N/X = (1 + σ(N − 1) + κN(N − 1))/λ, which is linear in
(1/λ, σ/λ, κ/λ): one linear solve gives a starting point. Levenberg–Marquardt then minimises the
squared throughput error on each face of the bounds box (σ and κ free, σ = 0, κ = 0, σ = 1, and
their corners); the best fit that respects the bounds wins. A bounded optimum lies inside one of
those faces, so with two shape parameters this enumeration is exact, not a heuristic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

# With two shape parameters the faces of the box 0 ≤ σ ≤ 1, κ ≥ 0 are few enough to list:
# None means free, a number means held at that bound.
_FACES: tuple[tuple[float | None, float | None], ...] = (
    (None, None),
    (0.0, None),
    (None, 0.0),
    (1.0, None),
    (0.0, 0.0),
    (1.0, 0.0),
)
_MAX_ITERATIONS = 500  # LM converges in tens of steps on real data; this only bounds a bad case
_MAX_DAMPING = 1e16  # a damping this large means no step improves the fit: we are at the minimum
_RELATIVE_TOLERANCE = 1e-15  # an accepted step that gains less than this is convergence
_FEASIBILITY_SLACK = 1e-12  # a bound crossed by rounding only still counts as respected
_TIE_TOLERANCE = 1e-12  # fits whose squared errors differ by less (relative to Σx²) are equal
MIN_POINTS = 3


@dataclass(frozen=True, slots=True)
class UslFit:
    """A fitted USL curve, with its goodness of fit and the peak when throughput turns down."""

    lambda_: float
    sigma: float
    kappa: float
    r_squared: float
    points: int
    peak_concurrency: float | None
    peak_throughput: float | None
    # The measured range of concurrency and the 95 % interval of κ (None: too few points for
    # one), so a peak is claimed only where the data supports it (`supported_peak`).
    measured_low: float | None = None
    measured_high: float | None = None
    kappa_low: float | None = None
    kappa_high: float | None = None

    @property
    def supported_peak(self) -> bool:
        """Whether the data shows the peak: κ's interval excludes 0 and N* lies within the
        measured concurrency (a peak extrapolated from a flat series is not one)."""
        return (
            self.peak_concurrency is not None
            and self.kappa_low is not None
            and self.kappa_low > 0
            and self.measured_low is not None
            and self.measured_high is not None
            and self.measured_low <= self.peak_concurrency <= self.measured_high
        )

    def predict(self, n: float) -> float:
        """The modelled throughput at concurrency `n`."""
        return _model(np.array([float(n)]), self.lambda_, self.sigma, self.kappa).item()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the key for λ is `lambda`)."""
        return {
            "lambda": self.lambda_,
            "sigma": self.sigma,
            "kappa": self.kappa,
            "r_squared": self.r_squared,
            "points": self.points,
            "peak_concurrency": self.peak_concurrency,
            "peak_throughput": self.peak_throughput,
            "measured_low": self.measured_low,
            "measured_high": self.measured_high,
            "kappa_low": self.kappa_low,
            "kappa_high": self.kappa_high,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UslFit:
        """The inverse of `to_dict`."""
        return cls(
            lambda_=float(d["lambda"]),
            sigma=float(d["sigma"]),
            kappa=float(d["kappa"]),
            r_squared=float(d["r_squared"]),
            points=int(d["points"]),
            peak_concurrency=_optional_float(d.get("peak_concurrency")),
            peak_throughput=_optional_float(d.get("peak_throughput")),
            measured_low=_optional_float(d.get("measured_low")),
            measured_high=_optional_float(d.get("measured_high")),
            kappa_low=_optional_float(d.get("kappa_low")),
            kappa_high=_optional_float(d.get("kappa_high")),
        )


def fit_usl(concurrency: Sequence[float], throughput: Sequence[float]) -> UslFit:
    """Fit the USL to paired (concurrency, throughput) points; `ValueError` if they cannot be."""
    n, x = _validated(concurrency, throughput)
    start = _linearised_start(n, x)
    fits: list[tuple[int, float, Array]] = []  # (free shape parameters, sse, params)
    for fixed_sigma, fixed_kappa in _FACES:
        params = start.copy()
        free = [True, fixed_sigma is None, fixed_kappa is None]
        if fixed_sigma is not None:
            params[1] = fixed_sigma
        if fixed_kappa is not None:
            params[2] = fixed_kappa
        params = _levenberg_marquardt(n, x, params, np.array(free))
        if _feasible(params):
            params = np.clip(params, [0.0, 0.0, 0.0], [np.inf, 1.0, np.inf])
            fits.append((sum(free), _sse(n, x, params), params))
    if not fits:  # the (λ, 0, 0) face always fits; this guards against NaN slipping by
        raise ValueError("the USL could not be fitted to these points")
    # A free parameter that buys no fit is noise (κ = 1e-22 on a straight line): among fits as
    # good as the best, up to rounding, the one with the fewest free parameters wins.
    least = min(sse for _, sse, _ in fits)
    good_enough = least + _TIE_TOLERANCE * float(x @ x)
    _, sse, (lam, sigma, kappa) = min((f for f in fits if f[1] <= good_enough), key=_simplest)
    sst = float(np.sum((x - x.mean()) ** 2))
    r_squared = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)
    peak_n = math.sqrt((1.0 - sigma) / kappa) if kappa > 0 and sigma < 1 else None
    peak_x = _model(np.array([peak_n]), lam, sigma, kappa).item() if peak_n else None
    kappa_interval = _kappa_interval(n, np.array([lam, sigma, kappa]), sse)
    return UslFit(
        lambda_=float(lam),
        sigma=float(sigma),
        kappa=float(kappa),
        r_squared=r_squared,
        points=len(n),
        peak_concurrency=peak_n,
        peak_throughput=peak_x,
        measured_low=float(n.min()),
        measured_high=float(n.max()),
        kappa_low=None if kappa_interval is None else kappa_interval[0],
        kappa_high=None if kappa_interval is None else kappa_interval[1],
    )


def _kappa_interval(n: Array, params: Array, sse: float) -> tuple[float, float] | None:
    """κ ± t·se from the linearised covariance s²(JᵀJ)⁻¹; None without a residual degree of
    freedom or with a singular Jacobian (the data cannot pin κ down)."""
    from scipy import stats as scipy_stats

    dof = len(n) - len(params)
    if dof <= 0:
        return None
    jacobian = _jacobian(n, params)
    try:
        covariance = np.linalg.inv(jacobian.T @ jacobian) * (sse / dof)
    except np.linalg.LinAlgError:
        return None
    variance = float(covariance[2, 2])
    if not math.isfinite(variance) or variance < 0:
        return None
    half = float(scipy_stats.t.ppf(0.975, dof)) * math.sqrt(variance)
    return max(float(params[2]) - half, 0.0), float(params[2]) + half


def _validated(concurrency: Sequence[float], throughput: Sequence[float]) -> tuple[Array, Array]:
    n = np.asarray(concurrency, dtype=np.float64)
    x = np.asarray(throughput, dtype=np.float64)
    if n.ndim != 1 or x.ndim != 1 or n.shape != x.shape:
        raise ValueError(
            f"concurrency and throughput must be flat sequences of one length "
            f"(got {n.shape} and {x.shape})"
        )
    if len(n) < MIN_POINTS:
        raise ValueError(f"the USL needs at least {MIN_POINTS} points, got {len(n)}")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(x))):
        raise ValueError("concurrency and throughput must be finite numbers")
    if np.any(n <= 0) or np.any(x < 0):
        raise ValueError("concurrency must be positive and throughput not negative")
    levels = len(np.unique(n[x > 0]))
    if levels < MIN_POINTS:
        raise ValueError(
            f"the USL needs at least {MIN_POINTS} distinct concurrency levels with some "
            f"throughput, got {levels}"
        )
    return n, x


def _model(n: Array, lam: float, sigma: float, kappa: float) -> Array:
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def _sse(n: Array, x: Array, params: Array) -> float:
    residual = x - _model(n, *params)
    return float(residual @ residual)


def _linearised_start(n: Array, x: Array) -> Array:
    """(λ, σ, κ) from the linear form N/X = a + b(N − 1) + cN(N − 1), clipped to the bounds."""
    keep = x > 0
    nk = n[keep]
    design = np.column_stack([np.ones_like(nk), nk - 1.0, nk * (nk - 1.0)])
    fallback = np.array([float(np.max(x[keep] / nk)), 0.0, 0.0])
    (a, b, c), *_ = np.linalg.lstsq(design, nk / x[keep], rcond=None)
    if not a > 0:
        return fallback
    start = np.array([1.0 / a, b / a, c / a], dtype=np.float64)
    return np.clip(start, [0.0, 0.0, 0.0], [np.inf, 1.0, np.inf])


def _jacobian(n: Array, params: Array) -> Array:
    lam, sigma, kappa = params
    denominator = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
    d_lambda = n / denominator
    d_sigma = -lam * n * (n - 1.0) / denominator**2
    d_kappa = -lam * n * n * (n - 1.0) / denominator**2
    return np.column_stack([d_lambda, d_sigma, d_kappa])


def _valid(n: Array, params: Array) -> bool:
    _, sigma, kappa = params
    denominator = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
    return bool(np.all(np.isfinite(params)) and np.all(denominator > 0))


def _levenberg_marquardt(n: Array, x: Array, start: Array, free: NDArray[np.bool_]) -> Array:
    """Least squares over the free parameters, the others held; Marquardt's diagonal scaling."""
    params = start.copy()
    sse = _sse(n, x, params)
    damping = 1e-3
    for _ in range(_MAX_ITERATIONS):
        jac = _jacobian(n, params)[:, free]
        residual = x - _model(n, *params)
        normal = jac.T @ jac
        gradient = jac.T @ residual
        scale = np.diag(np.maximum(np.diag(normal), 1e-300))
        while True:
            try:
                step = np.linalg.solve(normal + damping * scale, gradient)
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                candidate = params.copy()
                candidate[free] += step
                if _valid(n, candidate):
                    candidate_sse = _sse(n, x, candidate)
                    if candidate_sse < sse:
                        break
            damping *= 10.0
            if damping > _MAX_DAMPING:
                return params
        gain = sse - candidate_sse
        params, sse = candidate, candidate_sse
        damping = max(damping / 10.0, 1e-12)
        if gain <= _RELATIVE_TOLERANCE * max(sse, 1e-300):
            break
    return params


def _feasible(params: Array) -> bool:
    lam, sigma, kappa = params
    slack = _FEASIBILITY_SLACK
    return bool(
        np.all(np.isfinite(params))
        and lam >= -slack
        and -slack <= sigma <= 1.0 + slack
        and kappa >= -slack
    )


def _simplest(fit: tuple[int, float, Array]) -> tuple[int, float]:
    return fit[0], fit[1]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
