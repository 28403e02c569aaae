"""The answer of ``tfselect compare``: paired per-track differences against the STFT.

The unit is the track: for each configuration, target, score (cSDR, uSDR, SI-SDR) and test
track, the configuration's score minus the baseline's *of the same seed*, averaged over the
seeds both finished. Those per-track differences go through
:func:`tfselect.report.paired.differences`: their mean, a percentile bootstrap 95 % interval
that resamples tracks, a two-sided Wilcoxon signed-rank p-value and a verdict ("better" /
"worse" only when p < 0.05 and the interval excludes 0). Target ``all`` averages the
targets per track first (one number per track for the whole demixer).

``transfer`` puts, per target, the oracle gain of a configuration's transform over the
STFT (from best.csv: the search's own oracle values) next to its trained gain.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from tfselect.atomic import atomic_write
from tfselect.report.columns import find
from tfselect.report.paired import N_BOOT, differences
from tfselect.transforms import TransformSpec

# Imported inside the functions that need them, so that importing this module stays light:
# matplotlib.

SCORES = ("csdr", "usdr", "si_sdr")
LABELS = {"csdr": "cSDR", "usdr": "uSDR", "si_sdr": "SI-SDR"}
ALL = "all"


def per_track_differences(rows: pd.DataFrame, config: str, baseline: str, target: str,
                          score: str) -> pd.Series:
    """Per track: mean over the common seeds of (config − baseline) of ``score`` in dB.

    ``target`` ``all``: the per-track mean over targets first (a track counts where every
    target is finite). Tracks or seeds where either side is NaN are left out.
    """
    sel = rows if target == ALL else rows[rows["target"] == target]
    wide = sel.pivot_table(index=["track", "seed", "target"], columns="config", values=score,
                           aggfunc="first", dropna=False)
    if config not in wide or baseline not in wide:
        return pd.Series(dtype=float)
    d = (wide[config] - wide[baseline]).rename("d").reset_index()
    if target == ALL:
        d = d.groupby(["track", "seed"])["d"].agg(lambda v: v.mean() if v.notna().all()
                                                  else math.nan).reset_index()
    d = d.dropna(subset=["d"])
    return d.groupby("track")["d"].mean()


def summarise(rows: pd.DataFrame, baseline: str = "stft", n_boot: int = N_BOOT,
              seed: int = 0) -> pd.DataFrame:
    """``summary.csv``: one row per configuration (other than the baseline) × target × score.

    Columns: config, target, score, versus, diff (dB, mean of per-track differences),
    ci_low, ci_high, p_value, n_tracks, tracks_won (per-track difference > 0), n_seeds,
    config_mean and baseline_mean (mean over tracks of the per-track seed means, dB),
    verdict.
    """
    out = []
    configs = [c for c in dict.fromkeys(rows["config"]) if c != baseline]
    targets = [*dict.fromkeys(rows["target"]), ALL]
    for config in configs:
        seeds = set(rows.loc[rows["config"] == config, "seed"]) & set(
            rows.loc[rows["config"] == baseline, "seed"])
        for target in targets:
            for score in SCORES:
                d = per_track_differences(rows, config, baseline, target, score)
                stats = differences(d.to_numpy(), n_boot, seed)
                means = _means(rows, [config, baseline], target, score, seeds)
                out.append({"config": config, "target": target, "score": score,
                            "versus": baseline, "diff": stats["diff"],
                            "ci_low": stats["ci_low"], "ci_high": stats["ci_high"],
                            "p_value": stats["p_value"], "n_tracks": stats["n"],
                            "tracks_won": int((d > 0).sum()), "n_seeds": len(seeds),
                            "config_mean": means[0], "baseline_mean": means[1],
                            "verdict": stats["verdict"]})
    return pd.DataFrame(out)


def _means(rows: pd.DataFrame, configs: list[str], target: str, score: str,
           seeds: set) -> list[float]:
    sel = rows[rows["seed"].isin(seeds)]
    if target != ALL:
        sel = sel[sel["target"] == target]
    res = []
    for c in configs:
        per_track = sel[sel["config"] == c].groupby("track")[score].mean()
        res.append(float(per_track.mean()) if len(per_track) else math.nan)
    return res


def resolution(summary: pd.DataFrame) -> pd.DataFrame:
    """The smallest difference each comparison could have called: the half-width of its
    95 % interval (a true difference much smaller than this reads "not distinguishable")."""
    s = summary.copy()
    s["half_width"] = (s["ci_high"] - s["ci_low"]) / 2
    return s


def transfer(summary: pd.DataFrame, oracle: dict[str, dict]) -> pd.DataFrame:
    """Per configuration with oracle values and target: the oracle gains over the STFT
    next to the trained cSDR gain.

    ``oracle``: {config: {target: {"mpi": gain, "irm2": gain, ...}}} (dB; the plan stores it
    from best.csv). Columns: config, target, trained (cSDR diff), ci_low, ci_high, then one
    ``<oracle>_gain`` column per oracle known.
    """
    rows = []
    csdr = summary[(summary["score"] == "csdr") & (summary["target"] != ALL)]
    for r in csdr.itertuples():
        gains = (oracle.get(r.config) or {}).get(r.target)
        if gains is None:
            continue
        rows.append({"config": r.config, "target": r.target, "trained": r.diff,
                     "ci_low": r.ci_low, "ci_high": r.ci_high,
                     **{f"{k}_gain": v for k, v in gains.items()}})
    return pd.DataFrame(rows)


def oracle_gains(best_csv: Path, configs: dict[str, dict[str, str]], baseline: str = "stft",
                 oracles: tuple[str, ...] = ("mpi", "irm2")) -> dict[str, dict]:
    """{config: {target: {oracle: gain in dB}}} of each configuration's transform over the
    baseline's, read from best.csv (the search's oracle values: ``value`` for the primary
    objective, the per-metric columns for the others). A pair is left out unless best.csv
    scores both transforms for that target; matrix forms count as their ragged original.
    """

    def key(spec: str) -> str:  # the transform searched, whatever form it was trained in
        p = TransformSpec.parse(spec)
        return str(dataclasses.replace(p, form="ragged") if p.kind == "slicqt" else p)

    df = pd.read_csv(best_csv)
    first = df.groupby("target", sort=False)["objective"].first()
    df = df[df["objective"] == df["target"].map(first)].copy()
    df["key"] = df["spec"].map(key)
    out: dict[str, dict] = {}
    for config, specs in configs.items():
        if config == baseline:
            continue
        for target, spec in specs.items():
            rows = df[df["target"] == target]
            mine = rows[rows["key"] == key(spec)]
            base = rows[rows["key"] == key(configs[baseline][target])]
            if mine.empty or base.empty:
                continue
            gains = {}
            for o in oracles:
                # the mean over clips (best.csv's <oracle>_mean; a plain name in older files)
                col = "value" if o == first[target] else (find(rows.columns, o) or o)
                if col in rows and np.isfinite(mine[col].iloc[0]) and np.isfinite(
                        base[col].iloc[0]):
                    gains[o] = float(mine[col].iloc[0] - base[col].iloc[0])
            if gains:
                out.setdefault(config, {})[target] = gains
    return out


def plot(summary: pd.DataFrame, path: Path, score: str = "csdr") -> None:
    """Per target, each configuration's mean per-track difference to the baseline with its
    95 % interval (dB); a dashed line at 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary[summary["score"] == score]
    targets = list(dict.fromkeys(s["target"]))
    configs = list(dict.fromkeys(s["config"]))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(targets), 3.6))
    width = 0.8 / max(len(configs), 1)
    for i, c in enumerate(configs):
        sel = s[s["config"] == c].set_index("target").reindex(targets)
        x = np.arange(len(targets)) + (i - (len(configs) - 1) / 2) * width
        err = np.vstack([sel["diff"] - sel["ci_low"], sel["ci_high"] - sel["diff"]])
        ax.errorbar(x, sel["diff"], yerr=np.nan_to_num(err), fmt="o", capsize=4, label=c)
    ax.axhline(0, color="grey", lw=1, ls="--")
    ax.set_xticks(np.arange(len(targets)), targets)
    versus = s["versus"].iloc[0] if len(s) else "stft"
    ax.set_ylabel(f"{LABELS[score]} − {versus}, dB")
    n = int(s["n_tracks"].max()) if len(s) else 0
    ax.set_title(f"trained demixers vs {versus}: mean per-track difference, 95 % CI "
                 f"({n} tracks)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()

    atomic_write(path, lambda p: fig.savefig(p, dpi=120))
    plt.close(fig)
