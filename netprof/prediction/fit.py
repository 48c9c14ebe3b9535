"""Non-negative least squares, for fitting a device profile's latency models, and a robust line.

Lawson and Hanson's active-set method (Solving Least Squares Problems, 1974,
chapter 23): the coefficients stay non-negative, so that no fitted kind can make
an op cost less than nothing. numpy only; profiles have a few dozen unknowns.
Theil and Sen's line (``theil_sen``) for a residual a few outliers must not tilt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np


def nnls(a: np.ndarray, b: np.ndarray, *, max_iterations: int | None = None) -> np.ndarray:
    """``x >= 0`` minimising ``||a @ x - b||``. Columns are scaled to unit norm inside, for conditioning."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    norms = np.linalg.norm(a, axis=0)
    usable = norms > 0
    scaled = np.zeros_like(a)
    scaled[:, usable] = a[:, usable] / norms[usable]
    x = _lawson_hanson(scaled, b, max_iterations or 3 * a.shape[1] + 30)
    out = np.zeros(a.shape[1])
    out[usable] = x[usable] / norms[usable]
    return out


def fit_relative(
    design: np.ndarray,
    seconds: np.ndarray,
    groups: Sequence[str],
    ceilings: Sequence[float] | None = None,
    emphasis: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Non-negative coefficients ``c`` with ``design @ c`` close to ``seconds`` in relative error: rows
    weighted by ``1 / seconds``, and each group of rows (one-op benchmarks, synthetic networks) carrying
    the same total weight, so that neither the many nor the few decide alone, times its ``emphasis``
    (1 where not given). A coefficient with a positive entry in ``ceilings`` that the fit puts above it
    is held at it, and the rest fitted again."""
    sizes = Counter(groups)
    emphasis = emphasis or {}
    share = np.array(
        [len(groups) / (len(sizes) * sizes[group]) * emphasis.get(group, 1.0) for group in groups]
    )
    weighted = design * (share / seconds)[:, None]
    coefficients = nnls(weighted, share)
    if ceilings is None:
        return coefficients
    limits = np.asarray(ceilings, dtype=float)
    held = (limits > 0) & (coefficients > limits)
    if held.any():
        coefficients[held] = limits[held]
        coefficients[~held] = nnls(weighted[:, ~held], share - weighted[:, held] @ limits[held])
    return coefficients


def _lawson_hanson(a: np.ndarray, b: np.ndarray, max_iterations: int) -> np.ndarray:
    n = a.shape[1]
    passive = np.zeros(n, dtype=bool)
    x = np.zeros(n)
    tolerance = 1e-12 * max(1.0, float(np.abs(a).sum()))
    for _ in range(max_iterations):
        gradient = a.T @ (b - a @ x)
        candidates = ~passive & (gradient > tolerance)
        if not candidates.any():
            break
        passive[np.argmax(np.where(candidates, gradient, -np.inf))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            # Step back to the boundary: the first passive coefficient to reach zero leaves the set.
            shrinking = passive & (z <= 0)
            alpha = np.min(x[shrinking] / (x[shrinking] - z[shrinking]))
            x = x + alpha * (z - x)
            passive &= x > tolerance
            x[~passive] = 0.0
    return x


def theil_sen(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """``(intercept, slope)`` of Theil and Sen's line: the median slope over every pair of points with
    different ``x``, then the median of ``y - slope * x``; slope 0 where all ``x`` are equal. A third
    of the points can lie anywhere without moving it far (Sen, JASA 1968)."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(len(xs), k=1)
    apart = xs[j] != xs[i]
    slope = float(np.median((ys[j] - ys[i])[apart] / (xs[j] - xs[i])[apart])) if apart.any() else 0.0
    return float(np.median(ys - slope * xs)), slope
