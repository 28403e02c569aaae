"""Paired statistics of two trials over the clips both were scored on.

Every trial of a study is scored on clips of one pool, so two candidates can be compared
clip by clip: the per-clip differences remove what makes a clip hard for every transform,
which is most of the spread. For the best candidate against a reference this gives:

- ``diff``: mean per-clip difference, signed so that positive = the best candidate is
  better (for a minimised objective, reference minus best);
- ``ci_low``/``ci_high``: bootstrap 95 % interval of that mean (percentile, seeded);
- ``p_value``: two-sided Wilcoxon signed-rank test of the differences;
- ``verdict``: "better" when p < ``ALPHA`` and the interval lies above 0, "worse" when
  p < ``ALPHA`` and it lies below 0, else "not distinguishable".

Caveat: the best candidate is the maximum over many candidates scored on the same clips,
so its advantage is biased upwards (winner's curse); the test does not correct for that.
Requiring significance before leaving a reference is the conservative side of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

ALPHA = 0.05
N_BOOT = 2000


def paired(
    best: Mapping[int, float],
    reference: Mapping[int, float],
    sign: float = 1.0,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """Paired comparison of ``best`` against ``reference`` ({clip id: value} each).

    Args:
        best, reference: per-clip objective values; only the clips in both are used.
        sign: +1 when larger values are better (maximised objective), -1 otherwise.
        n_boot: bootstrap resamples.
        seed: bootstrap seed.

    Returns:
        {diff, ci_low, ci_high, p_value, n_paired, verdict}; NaN statistics and "not
        distinguishable" with fewer than 2 common clips.
    """
    common = sorted(set(best) & set(reference))
    d = np.array([sign * (best[c] - reference[c]) for c in common], dtype=float)
    out = differences(d, n_boot, seed)
    out["n_paired"] = out.pop("n")
    return out


def differences(d: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
                ) -> dict[str, float | int | str]:
    """The statistics of paired differences ``d`` (n,), positive = the first is better.

    One difference per independent unit (a clip here; a track in ``compare`` and the
    track-level verdicts): non-finite ones are dropped. Returns {diff (mean), ci_low,
    ci_high (percentile bootstrap 95 % interval of the mean, seeded), p_value (two-sided
    Wilcoxon signed-rank, zsplit), n, verdict}; NaN statistics and "not distinguishable"
    with fewer than 2 units.
    """
    from scipy import stats

    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    out: dict[str, float | int | str] = {
        "diff": float(d.mean()) if d.size else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "p_value": math.nan,
        "n": int(d.size),
        "verdict": "not distinguishable",
    }
    if d.size < 2:
        return out
    # Every unit the same difference gives a zero-width interval there, and all-zero
    # differences p = 1: scipy handles both without a warning.
    ci = stats.bootstrap(
        (d,), np.mean, n_resamples=n_boot, method="percentile", rng=np.random.default_rng(seed)
    ).confidence_interval
    out["ci_low"], out["ci_high"] = float(ci.low), float(ci.high)
    # zsplit: ties (zero differences) count half for each side instead of being dropped.
    # Two-sided, scipy's default.
    p = float(stats.wilcoxon(d, zero_method="zsplit").pvalue)
    out["p_value"] = p
    significant = p < ALPHA
    if significant and out["ci_low"] > 0:
        out["verdict"] = "better"
    elif significant and out["ci_high"] < 0:
        out["verdict"] = "worse"
    return out
