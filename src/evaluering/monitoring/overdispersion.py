"""Between-area variation that person-level standard errors miss (additive over-dispersion).

An area's change differs from the rest of the municipality's for two reasons: the persons in it
(sampling noise, measured by the person-clustered ``se``) and what happens to the area as a whole
in a year (a closed workplace, a new building, one family's cases). The second is real but is
not a departure worth flagging, and ``se`` does not contain it. Screening every area on ``se``
alone then flags far more areas than the false discovery rate promises.

As in Spiegelhalter's (2005, "Handling over-dispersion of performance indicators", *Quality and
Safety in Health Care* 14: 347-351) additive random-effects model, the differences ``d_i`` with
standard errors ``s_i`` are taken as ``d_i ~ N(0, s_i^2 + tau^2)`` when no area departs, and areas
are then judged on ``d_i / sqrt(s_i^2 + tau^2)``. The between-area variance ``tau^2`` must not
be inflated by the few areas that do depart. Spiegelhalter's moment estimator limits them by
winsorising the z-scores, but with areas of very different sizes that cuts mainly the largest,
most informative areas and underestimates ``tau^2`` badly (to a third in our simulations). Here
``tau^2`` is instead a trimmed moment estimate: the value at which the mean of the smallest 90 %
of ``u_i = d_i^2 / (s_i^2 + tau^2)`` equals that of a chi-square with one degree of freedom below
its 90 % quantile, ``P(chi2_3 <= q) / 0.9`` (since ``x f_1(x) = f_3(x)``). It is consistent under
the model, and an area that departs, however far, moves it no more than a null area at the
trimming point would. With equal ``s_i`` it is ``mean(smallest 90 % of d_i^2) / c - s^2``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

__all__ = ["between_area_variance"]

KEEP = 0.9  # the share of areas (smallest u_i) the moment is taken over


def between_area_variance(difference, se) -> float:
    """tau^2: the variance of the areas' differences beyond their sampling variance (0 if none).

    Units with a missing or non-positive standard error are left out. Fewer than 3 usable units
    give 0: there is nothing to estimate a between-area variance from.
    """
    d, s = np.asarray(difference, float), np.asarray(se, float)
    usable = np.isfinite(d) & np.isfinite(s) & (s > 0)
    d2, s2 = d[usable] ** 2, s[usable] ** 2
    if d2.size < 3:
        return 0.0
    kept = max(1, int(np.floor(KEEP * d2.size)))
    target = float(stats.chi2.cdf(stats.chi2.ppf(KEEP, 1), 3)) / KEEP  # E[X | X <= q], X ~ chi2_1

    def excess(tau2: float) -> float:
        return float(np.sort(d2 / (s2 + tau2))[:kept].mean()) - target

    if excess(0.0) <= 0:
        return 0.0
    upper = float(d2.max()) / target  # every u_i is below the target there
    return float(optimize.brentq(excess, 0.0, upper, xtol=1e-14, rtol=1e-12))
