"""Multiplier bootstrap on influence functions, with sup-t critical values for uniform bands.

As R's ``did::mboot`` (via ``BMisc::multiplier_bootstrap``): each draw multiplies the units'
influence functions by independent Rademacher weights (+1 or -1 with probability 1/2). Bootstrap
standard errors are the interquartile range of the draws over that of a standard normal (R's
type-1 quantiles), and the critical value of a uniform band is the ``confidence`` quantile of the
largest absolute t-statistic across the parameters. Draws are made in chunks, so memory stays
bounded for many units; the same ``seed`` always gives the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["BootstrapSummary", "multiplier_bootstrap", "summarise_draws"]

TINY = np.sqrt(np.finfo(float).eps) * 10
IQR_NORMAL = stats.norm.ppf(0.75) - stats.norm.ppf(0.25)


@dataclass(frozen=True)
class BootstrapSummary:
    """Bootstrap standard errors (NaN where degenerate) and the sup-t critical value."""

    se: np.ndarray
    crit: float


def multiplier_bootstrap(inf: np.ndarray, n_boot: int, seed: int, *, chunk_cells: int = 4_000_000) -> np.ndarray:
    """Draws ``sqrt(n) * mean(v * inf)`` (``n_boot`` x k) with Rademacher multipliers ``v``."""
    inf = np.asarray(inf, dtype=float)
    if inf.ndim == 1:
        inf = inf[:, None]
    n = inf.shape[0]
    rng = np.random.default_rng(seed)
    per_chunk = max(1, min(n_boot, chunk_cells // max(n, 1)))
    out = np.empty((n_boot, inf.shape[1]))
    clean = np.nan_to_num(inf)
    total = clean.sum(axis=0)
    for start in range(0, n_boot, per_chunk):
        stop = min(n_boot, start + per_chunk)
        size = (stop - start) * n
        bits = np.unpackbits(rng.integers(0, 256, size=(size + 7) // 8, dtype=np.uint8), count=size)
        heads = bits.reshape(stop - start, n).astype(float)  # fair coin flips
        out[start:stop] = (2 * (heads @ clean) - total) / np.sqrt(n)  # multipliers 2 * heads - 1 = +-1
    out[:, ~np.all(np.isfinite(inf), axis=0)] = np.nan
    return out


def _type1_quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q, method="inverted_cdf"))


def summarise_draws(draws: np.ndarray, n: int, confidence: float) -> BootstrapSummary:
    """Standard errors and uniform-band critical value from bootstrap draws (as ``did::mboot``)."""
    if draws.ndim == 1:
        draws = draws[:, None]
    k = draws.shape[1]
    usable = np.all(np.isfinite(draws), axis=0) & (np.sum(np.nan_to_num(draws) ** 2, axis=0) > TINY)
    sigma = np.full(k, np.nan)
    if usable.any():
        q25, q75 = np.quantile(draws[:, usable], [0.25, 0.75], axis=0, method="inverted_cdf")
        sigma[usable] = (q75 - q25) / IQR_NORMAL
    sigma[~(sigma > TINY)] = np.nan
    crit = np.nan
    keep = np.isfinite(sigma)
    if keep.any():
        t_max = np.max(np.abs(draws[:, keep] / sigma[keep]), axis=1)
        t_max = t_max[np.isfinite(t_max)]
        if t_max.size:
            crit = _type1_quantile(t_max, confidence)
    return BootstrapSummary(se=sigma / np.sqrt(n), crit=crit)
