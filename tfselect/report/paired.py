"""Paired statistics of two trials over the clips both were scored on.

Every trial of a study is scored on clips of one pool, so two candidates can be compared
clip by clip: the per-clip differences remove what makes a clip hard for every transform,
which is most of the spread. The clips of one track are not independent, though (same
singer, mix, level): a transform that suits a track tends to suit all its clips, so the
per-clip differences of a track share an offset. A claim about unseen music generalises
over tracks, so the unit of the test is the track (:func:`paired_by_track`): the per-clip
differences are averaged per track and the statistics below are computed on those means
(the bootstrap resamples tracks, the signed-rank test ranks tracks). :func:`paired` keeps the
clip as the unit, for studies that do not know their clips' tracks.

For the best candidate against a reference, over the units (tracks or clips):

- ``diff``: mean difference, signed so that positive = the best candidate is better (for a
  minimised objective, reference minus best);
- ``ci_low``/``ci_high``: bootstrap 95 % interval of that mean (percentile, seeded);
- ``p_value``: two-sided Wilcoxon signed-rank test of the differences;
- ``verdict``: "better" when p < ``ALPHA`` and the interval lies above 0, "worse" when
  p < ``ALPHA`` and it lies below 0, else "not distinguishable".

With n units the exact two-sided signed-rank p is at least 2/2**n, so fewer than 6 tracks
can never give "better" or "worse".

Caveat: the best candidate is the maximum over many candidates scored on the same clips,
so its advantage on those clips is biased upwards (winner's curse); this test does not
correct for that. A study with a confirmation split measures the advantage again on tracks
that never raced (:mod:`tfselect.report.selection`), which removes the bias.
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
    d = np.fromiter(_clip_differences(best, reference, sign).values(), dtype=float)
    out = differences(d, n_boot, seed)
    out["n_paired"] = out.pop("n")
    return out


def paired_by_track(
    best: Mapping[int, float],
    reference: Mapping[int, float],
    tracks: Mapping[int, str],
    sign: float = 1.0,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """Paired comparison with the track as the unit (a cluster bootstrap over tracks).

    The per-clip differences over the clips both saw (finite ones only) are averaged per
    track; :func:`differences` then treats each track's mean as one observation. ``diff`` is
    thus the mean over tracks of the per-track mean difference (each track weighs the same,
    whatever its number of clips), in the objective's unit (dB for the oracles). The track
    means go to the bootstrap in the order of the track names.

    Args:
        best, reference: per-clip objective values ({clip id: value}).
        tracks: {clip id: track name}; it must name every clip both saw.
        sign, n_boot, seed: as :func:`paired`.

    Returns:
        {diff, ci_low, ci_high, p_value, n_tracks, n_paired (clips), verdict}; NaN
        statistics and "not distinguishable" with fewer than 2 tracks.

    Raises:
        ValueError: a common clip id missing from ``tracks``.
    """
    d = _clip_differences(best, reference, sign)
    missing = sorted(set(d) - set(tracks))
    if missing:
        raise ValueError(f"no track for clip id(s) {missing[:5]}")
    per_track: dict[str, list[float]] = {}
    for c, v in d.items():
        if math.isfinite(v):
            per_track.setdefault(tracks[c], []).append(v)
    means = np.array([np.mean(v) for _, v in sorted(per_track.items())], dtype=float)
    out = differences(means, n_boot, seed)
    out["n_tracks"] = out.pop("n")
    out["n_paired"] = sum(len(v) for v in per_track.values())
    return out


def _clip_differences(
    best: Mapping[int, float], reference: Mapping[int, float], sign: float
) -> dict[int, float]:
    """{clip id: sign * (best - reference)} over the clips in both, by clip id."""
    return {c: sign * (best[c] - reference[c]) for c in sorted(set(best) & set(reference))}


def differences(d: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
                ) -> dict[str, float | int | str]:
    """The statistics of paired differences ``d`` (n,), positive = the first is better.

    One difference per independent unit (a clip in :func:`paired`, a track's mean in
    :func:`paired_by_track`): non-finite ones are dropped. Returns {diff (mean), ci_low,
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
