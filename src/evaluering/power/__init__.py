"""Can the next survey wave detect anything? Minimum detectable effects and sample sizes.

``mde`` and ``mde_did`` give the smallest change (or difference-in-differences) in a share that a
planned wave detects with the required power; ``sample_size`` and ``sample_size_did`` invert
them; ``kish_deff`` is the design effect of a set of weights. The plan of the next wave per
district and survey indicator, from the evaluation's designs, is ``evaluering.evaluation.survey_plan``.
"""

from .formulas import PowerError, kish_deff, mde, mde_did, sample_size, sample_size_did

__all__ = ["PowerError", "kish_deff", "mde", "mde_did", "sample_size", "sample_size_did"]
