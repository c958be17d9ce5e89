"""The synthetic resident survey: who is asked, who responds, and their 1-5 answers.

Every adult in the districts is asked, plus a simple random sample of the rest (the comparison
group). Response and top-box answers follow additive probability models with the planted effects
after the baseline wave.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...config import Params, SurveyOutsideView, SurveyShare
from .effects import Effects
from .settings import (
    CLIP,
    COMPARISON_SAMPLE,
    RESPONSE,
    SKIP_QUESTION,
    SURVEY_AGE_EDGES,
    SURVEY_BASE_CLIP,
    SURVEY_MODELS,
)
from .world import World


def _answers(p: np.ndarray, asked: np.ndarray, rng: np.random.Generator) -> pd.arrays.IntegerArray:
    """1-5 answers with a top-box (4 or 5) event of probability ``p``; NA unless asked and not skipped."""
    n = len(p)
    event = rng.random(n) < np.clip(p, *CLIP)
    top = 4 + (rng.random(n) < 0.5)
    low = rng.integers(1, 4, n)
    answered = asked & (rng.random(n) >= SKIP_QUESTION)
    return pd.arrays.IntegerArray(np.where(event, top, low).astype(np.int64), ~answered)


def survey_wave(wave: int, reg: dict[str, np.ndarray], world: World, effects: Effects, params: Params,
                rng: np.random.Generator) -> dict:
    """One wave: every adult in the districts plus a simple random sample from the rest.

    Response depends only on age band, sex, origin and sample group/district. Top-box events
    depend on age band, sex, origin and district-or-rest, a common wave trend and the planted
    effect after the baseline; the outside view is asked of comparison respondents only.
    """
    adult = reg["age"] >= 18
    district = world.district[reg["area"]]
    rest = np.flatnonzero(adult & (district < 0))
    sampled_rest = rng.choice(rest, size=min(COMPARISON_SAMPLE, len(rest)), replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(adult & (district >= 0)), sampled_rest]))
    n = len(rows)
    d = district[rows]
    comparison = d < 0
    band = np.searchsorted(SURVEY_AGE_EDGES, reg["age"][rows], side="right") - 1
    female, origin = reg["female"][rows], reg["origin"][rows]
    post = wave > params.survey.baseline_wave

    shift = np.array([profile.response_shift for profile in world.profiles])
    p_respond = (RESPONSE["level"] + np.array(RESPONSE["age"])[band] + RESPONSE["female"] * female
                 + np.array(RESPONSE["origin"])[origin]
                 + np.where(comparison, RESPONSE["comparison"], RESPONSE["district"] + np.append(shift, 0.0)[d]))
    responded = rng.random(n) < np.clip(p_respond, 0.05, 0.95)

    answers: dict[str, pd.arrays.IntegerArray] = {}
    for ind in params.indicators:
        comp = ind.computation
        if isinstance(comp, SurveyShare):
            m = SURVEY_MODELS[ind.key]
            base = np.clip(m["level"] + m["gap"] * ~comparison + np.array(m["age"])[band] + m["female"] * female
                           + np.array(m["origin"])[origin], *SURVEY_BASE_CLIP)
            effect = post * np.append(effects.survey[comp.question], 0.0)[d]
            answers[comp.question] = _answers(base + m["trend"].get(wave, 0.0) + effect, responded, rng)
        elif isinstance(comp, SurveyOutsideView):
            for j, dist in enumerate(params.districts):
                p = world.profiles[j].outside_view + post * effects.outside_view[j]
                answers[f"{comp.question_prefix}{dist.code}"] = _answers(np.full(n, p), responded & comparison, rng)
    return {
        "idx": reg["idx"][rows],
        "area": reg["area"][rows],
        "comparison": comparison,
        "design_weight": np.where(comparison, len(rest) / len(sampled_rest), 1.0),
        "responded": responded,
        "answers": answers,
    }
