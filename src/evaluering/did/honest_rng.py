"""R's default normal random numbers (Mersenne-Twister, inversion) and ``mvtnorm::rmvnorm``.

HonestDiD's conditional-least-favourable (C-LF) hybrid takes its first-stage critical value from
1000 simulated draws after ``set.seed(0)``. Replaying the same draws makes the Python intervals
land on the same grid points as R's instead of differing by simulation noise.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

__all__ = ["r_rmvnorm", "r_rnorm"]

_TWO_POW_MINUS_32 = 2.3283064365386963e-10  # R's MT_genrand scale to [0, 1)
_HALF_UNIT = 0.5 * 2.328306437080797e-10  # R's fixup() for draws at exactly 0 or 1
_BIG = 134217728.0  # 2^27: R's INVERSION combines two uniforms for 53-bit precision


def _r_mersenne_key(seed: int) -> np.ndarray:
    """The 624-word Mersenne-Twister state R's ``set.seed(seed)`` produces (RNG_Init scrambling)."""
    s = seed & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        key[j] = s
    return key[1:]  # key[0] is R's position word, reset to 624 by FixupSeeds


def r_rnorm(n: int, seed: int) -> np.ndarray:
    """``set.seed(seed); rnorm(n)`` in R (default kinds), e.g. seed 0 gives 1.2629543, -0.3262334, ..."""
    generator = np.random.MT19937()
    generator.state = {"bit_generator": "MT19937", "state": {"key": _r_mersenne_key(seed), "pos": 624}}
    uniforms = generator.random_raw(2 * n).astype(np.float64) * _TWO_POW_MINUS_32
    uniforms = np.clip(uniforms, _HALF_UNIT, 1.0 - _HALF_UNIT)
    combined = (np.floor(_BIG * uniforms[0::2]) + uniforms[1::2]) / _BIG
    return ndtri(combined)


def r_rmvnorm(n: int, sigma: np.ndarray, seed: int) -> np.ndarray:
    """``set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma)``: rows filled by row, times the symmetric root."""
    sigma = np.asarray(sigma, dtype=float)
    values, vectors = np.linalg.eigh(sigma)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    draws = r_rnorm(n * sigma.shape[0], seed).reshape(n, sigma.shape[0])
    return draws @ root
