"""pandas tables built from tfselect studies: trials, best, correlations, Pareto fronts.

Every function takes plain data (studies or a trials DataFrame) and returns a DataFrame;
``write_csv`` writes one atomically. The correlation table answers the open question of
docs/design.md (Report): do the cheap metrics predict the mask oracles better than the
trivial predictors (bin count, redundancy)? Hence the baselines and the partial Spearman given
redundancy in every row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tfselect.atomic import atomic_write
from tfselect.errors import SpecError
from tfselect.metrics import DIRECTIONS, GROUPS, METRICS
from tfselect.report.columns import (
    AGGREGATES,
    COUNT_COLUMNS,
    column,
    find,
    metric_of,
    trial_metrics,
)
from tfselect.search.objectives import DEFAULT_OBJECTIVE
from tfselect.search.study import RESERVED_ATTRS, read_tags
from tfselect.transforms import TransformSpec

# Columns that describe a trial rather than measure it.
ID_COLUMNS = [
    "study",
    "target",
    "objective",
    "number",
    "state",
    "spec",
    "kind",
    "bins",
    "value",
]
TAIL_COLUMNS = ["duration_s", "fail_reason", "reused_from", "clips", "datetime_start"]
NOT_PREDICTORS = {"n_clips", "n_skipped", "n_metric_clips"}
BASELINE_PREDICTORS = ("bins", "redundancy")


def _metric_groups() -> tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]:
    """(metric order, metric -> group, oracle names) from tfselect.metrics."""

    group_of = {m: g for g, ms in GROUPS.items() for m in ms}
    return tuple(METRICS), group_of, tuple(GROUPS.get("oracles", ()))


def spec_kind(spec: str | None) -> str:
    """The kind of a spec (``slicqt``, ``stft``, ...); "" when there is none or it is invalid."""

    try:
        return TransformSpec.parse(spec).kind if spec else ""
    except SpecError:
        return ""


def spec_bins(spec: str | None) -> float:
    """Number of frequency bins a spec asks for (STFT: n_fft/2 + 1); NaN if unknown."""
    if not spec:
        return math.nan

    try:
        s = TransformSpec.parse(spec)
    except SpecError:
        return math.nan
    if s.kind == "stft":
        return float(s.n_fft // 2 + 1)
    bins = getattr(s, "bins", None)
    return float(bins) if bins is not None else math.nan


def ordered_metrics(names: Iterable[str]) -> list[str]:
    """Metric columns in ``METRICS`` order (the mean before the median of one metric), then
    any other name, sorted."""
    order, _, _ = _metric_groups()
    names = set(names)
    known = [column(m, a) for m in order for a in AGGREGATES if column(m, a) in names]
    return known + sorted(names - set(known))


def trials_frame(studies: Sequence) -> pd.DataFrame:
    """One row per trial of every study.

    Columns: study, target, objective, number, state (COMPLETE/PRUNED/FAIL/RUNNING/WAITING),
    spec, kind (slicqt/stft), bins, value (first objective; ``value_2``... for more), one column
    per metric (NaN where not computed), duration_s, fail_reason, reused_from (number of the
    trial whose scores a repeated spec copied), clips (the pool's clip ids the trial was
    scored on, in its order, space-separated), datetime_start.

    Metric columns are means over clips, named ``<metric>_mean`` (units in
    :data:`tfselect.metrics.UNITS`): the objective's metrics over every clip the trial
    saw (``n_clips``, so ``value`` = ``mpi_mean`` for the objective mpi), the other metrics
    over the fixed metric subset (``n_metric_clips``; only candidates that finished the race
    have them). Trials of studies written when trials stored medians fill ``<metric>_median``
    instead (:mod:`tfselect.report.columns`).
    """
    metrics, _, _ = _metric_groups()
    rows = []
    n_obj = 1
    for st in studies:
        tags = read_tags(st)
        for t in st.get_trials(deepcopy=False):
            row = {
                "study": st.study_name,
                "target": tags.target if tags else "",
                "objective": tags.objective if tags else "",
                "number": t.number,
                "state": t.state.name,
                "spec": t.user_attrs.get("spec", ""),
            }
            row["kind"] = spec_kind(row["spec"])
            row["bins"] = spec_bins(row["spec"])
            values = list(t.values) if t.values is not None else []
            n_obj = max(n_obj, len(values))
            row["value"] = values[0] if values else math.nan
            for i, v in enumerate(values[1:], start=2):
                row[f"value_{i}"] = v
            for k, v in t.user_attrs.items():
                if k in RESERVED_ATTRS or k in metrics:
                    continue
                row[k] = math.nan if v is None else v
            row.update(trial_metrics(t.user_attrs, row["objective"], row["value"]))
            row["n_metric_clips"] = t.user_attrs.get("n_metric_clips", math.nan)
            row["duration_s"] = t.duration.total_seconds() if t.duration is not None else math.nan
            reason = t.user_attrs.get("fail_reason") or t.system_attrs.get("fail_reason", "")
            row["fail_reason"] = reason or ""
            row["reused_from"] = t.user_attrs.get("reused_from", math.nan)
            row["clips"] = " ".join(str(c) for c in t.user_attrs.get("clips") or [])
            row["datetime_start"] = t.datetime_start.isoformat() if t.datetime_start else ""
            rows.append(row)
    value_cols = ["value"] + [f"value_{i}" for i in range(2, n_obj + 1)]
    df = pd.DataFrame(rows)
    fixed = set(ID_COLUMNS) | set(TAIL_COLUMNS) | set(value_cols) | set(COUNT_COLUMNS)
    metric_cols = ordered_metrics(c for c in df.columns if c not in fixed)
    cols = ID_COLUMNS + value_cols[1:] + list(COUNT_COLUMNS) + metric_cols + TAIL_COLUMNS
    df = df.reindex(columns=cols)
    for c in metric_cols + value_cols + list(COUNT_COLUMNS) + ["bins", "duration_s"]:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df["reused_from"] = pd.to_numeric(df["reused_from"], errors="coerce").astype("Int64")
    return df.sort_values(["target", "study", "number"], kind="stable").reset_index(drop=True)


def metric_columns(df: pd.DataFrame) -> list[str]:
    """The metric columns of a trials frame (``mpi_mean``, ...)."""
    fixed = set(ID_COLUMNS) | set(TAIL_COLUMNS) | set(COUNT_COLUMNS)
    return [c for c in df.columns if c not in fixed and not c.startswith("value_")]


def report_order(studies: Sequence) -> list:
    """Studies in report order: per target, the default objective first, then by size."""

    def key(st):
        tags = read_tags(st)
        n = len(st.get_trials(deepcopy=False, states=None))
        return (tags.target, tags.objective != DEFAULT_OBJECTIVE, -n, st.study_name)

    return sorted((s for s in studies if read_tags(s) is not None), key=key)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Spearman correlation of 2-D arrays (B, n): Pearson of average ranks."""
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def partial_from(r_xy, r_xz, r_yz):
    """Partial correlation of x and y given z from the three pairwise correlations."""
    with np.errstate(invalid="ignore", divide="ignore"):
        den = np.sqrt((1 - np.square(r_xz)) * (1 - np.square(r_yz)))
        return np.where(den > 0, (r_xy - r_xz * r_yz) / den, np.nan)


def _ci(samples: np.ndarray) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    if len(s) < 10:
        return math.nan, math.nan
    lo, hi = np.percentile(s, [2.5, 97.5])
    return float(lo), float(hi)


def correlation_row(
    x: np.ndarray, y: np.ndarray, z: np.ndarray | None, n_boot: int, rng: np.random.Generator
) -> dict[str, float]:
    """Spearman, Kendall (tau-b) and partial Spearman given ``z``, each with a bootstrap CI.

    Args:
        x, y: paired samples (n,), no NaN.
        z: the controlled variable (n,) or None (partial not computed).
        n_boot: bootstrap resamples (percentile 95 % intervals); 0 = no intervals.
    """
    n = len(x)
    out = {"n": n}
    keys = ["spearman", "kendall", "partial_spearman"]
    for k in keys:
        out[k] = out[f"{k}_lo"] = out[f"{k}_hi"] = math.nan
    if n < 3:
        return out
    out["spearman"] = float(_spearman_rows(x[None], y[None])[0])
    out["kendall"] = float(stats.kendalltau(x, y).statistic)
    if z is not None and n >= 4:  # a partial correlation needs a residual degree of freedom
        r_xz = _spearman_rows(x[None], z[None])[0]
        r_yz = _spearman_rows(y[None], z[None])[0]
        out["partial_spearman"] = float(partial_from(out["spearman"], r_xz, r_yz))
    if n_boot <= 0 or n < 4:
        return out
    idx = rng.integers(0, n, size=(n_boot, n))
    xb, yb = x[idx], y[idx]
    sp = _spearman_rows(xb, yb)
    out["spearman_lo"], out["spearman_hi"] = _ci(sp)
    with np.errstate(invalid="ignore"):
        kd = np.array([stats.kendalltau(a, b).statistic for a, b in zip(xb, yb, strict=True)])
    out["kendall_lo"], out["kendall_hi"] = _ci(kd)
    if z is not None and n >= 4:
        zb = z[idx]
        pb = partial_from(sp, _spearman_rows(xb, zb), _spearman_rows(yb, zb))
        out["partial_spearman_lo"], out["partial_spearman_hi"] = _ci(pb)
    return out


def rank_gain(
    x: np.ndarray, base: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """|Spearman(x, y)| - |Spearman(base, y)| and its paired percentile bootstrap 95 % CI.

    Args:
        x, base, y: (n,) predictor, baseline predictor and oracle of the same candidates.
        n_boot: resamples of candidates (the same ones for x and base); 0 = no interval.
    """
    n = len(x)
    if n < 3:
        return math.nan, math.nan, math.nan
    value = float(abs(_spearman_rows(x[None], y[None])[0])
                  - abs(_spearman_rows(base[None], y[None])[0]))  # fmt: skip
    if n_boot <= 0 or n < 4:
        return value, math.nan, math.nan
    idx = rng.integers(0, n, size=(n_boot, n))
    boot = np.abs(_spearman_rows(x[idx], y[idx])) - np.abs(_spearman_rows(base[idx], y[idx]))
    lo, hi = _ci(boot)
    return value, lo, hi


def unique_complete(df: pd.DataFrame) -> pd.DataFrame:
    """Complete trials, one per (target, spec): repeated candidates would count twice."""
    done = df[df["state"] == "COMPLETE"]
    return done.drop_duplicates(subset=["target", "spec"], keep="first")


def correlations_frame(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per target: each cheap metric (and the baselines bins, redundancy) against each oracle.

    Uses complete trials, one per distinct spec, pooled over the target's studies. Columns:
    target, predictor, group (baseline/sparsity/ridges/cost/...), oracle, n, spearman,
    spearman_lo, spearman_hi, kendall (tau-b), kendall_lo, kendall_hi, partial_spearman
    (given redundancy; NaN for redundancy itself), partial_spearman_lo, partial_spearman_hi.
    Intervals: percentile bootstrap (``n_boot`` resamples of trials, seeded).

    Does a cheap metric add anything over the trivial predictors? ``minus_bins`` and
    ``minus_redundancy`` (each with ``_lo``/``_hi``): |Spearman| of the predictor minus
    |Spearman| of that baseline, against the same oracle over the same candidates (rows
    where both are known), with a paired bootstrap interval (the same resampled candidates
    for both), so an interval above 0 means the metric ranks the oracle better than the
    baseline does. Absolute values: a metric that predicts the oracle's order backwards is
    as useful as one that predicts it forwards. NaN on the baselines' own rows.
    """
    _, group_of, oracles = _metric_groups()
    rng = np.random.default_rng(seed)
    gain_rng = np.random.default_rng([seed, 1])  # its own stream: other columns stay as before
    data = unique_complete(df)
    mcols = metric_columns(df)
    present_oracles = [c for c in mcols if metric_of(c) in oracles]
    predictors = ["bins"] + [m for m in mcols
                             if metric_of(m) not in oracles and m not in NOT_PREDICTORS]
    predictors = list(dict.fromkeys(predictors))
    # The baselines' columns: bins, and redundancy's (its mean; a median in older studies).
    base_cols = {b: b if b in df.columns else find(mcols, b) for b in BASELINE_PREDICTORS}
    redundancy = base_cols["redundancy"]
    rows = []
    for target, sub in data.groupby("target", sort=True):
        for oracle in present_oracles:
            for pred in predictors:
                use_z = redundancy is not None and metric_of(pred) != "redundancy"
                cols = [pred, oracle] + ([redundancy] if use_z else [])
                clean = sub[cols].astype(float).dropna()
                z = clean[redundancy].to_numpy() if use_z else None
                stats_ = correlation_row(
                    clean[pred].to_numpy(), clean[oracle].to_numpy(), z, n_boot, rng
                )
                is_base = metric_of(pred) in BASELINE_PREDICTORS
                group = "baseline" if is_base else group_of.get(metric_of(pred), "")
                for base in BASELINE_PREDICTORS:
                    gain = (math.nan, math.nan, math.nan)
                    bcol = base_cols[base]
                    if not is_base and bcol is not None:
                        both = sub[[pred, bcol, oracle]].astype(float).dropna()
                        gain = rank_gain(both[pred].to_numpy(), both[bcol].to_numpy(),
                                         both[oracle].to_numpy(), n_boot, gain_rng)  # fmt: skip
                    stats_ |= dict(zip([f"minus_{base}{s}" for s in ("", "_lo", "_hi")], gain,
                                       strict=True))  # fmt: skip
                rows.append(
                    {"target": target, "predictor": pred, "group": group, "oracle": oracle} | stats_
                )
    cols = ["target", "predictor", "group", "oracle", "n"] + [
        f"{k}{s}" for k in ("spearman", "kendall", "partial_spearman") for s in ("", "_lo", "_hi")
    ] + [f"minus_{b}{s}" for b in BASELINE_PREDICTORS for s in ("", "_lo", "_hi")]
    return pd.DataFrame(rows).reindex(columns=cols)


def pareto_mask(quality: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Non-dominated points for (maximise quality, minimise cost); (n,) bool."""
    order = np.lexsort((-quality, cost))  # cost ascending, then quality descending
    keep = np.zeros(len(quality), dtype=bool)
    best = -np.inf
    for i in order:
        if quality[i] > best:
            keep[i] = True
            best = quality[i]
    return keep


def pareto_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Per target: the trials no other trial beats in both quality and cost.

    Quality = each oracle column present (``mpi_mean``, ...; higher is better), cost = each
    cost metric column present (``redundancy_mean``, ``seconds_mean``, ``peak_mb_mean``; lower
    is better); ``quality_metric`` and ``cost_metric`` name those columns of trials.csv, and
    ``quality``/``cost`` repeat their values. Columns: target, quality_metric,
    cost_metric, quality, cost, spec, study, number; sorted by cost.
    """

    _, group_of, oracles = _metric_groups()
    data = unique_complete(df)
    mcols = metric_columns(df)
    qualities = [c for c in mcols if metric_of(c) in oracles]
    costs = [c for c in mcols if group_of.get(metric_of(c)) == "cost"
             and DIRECTIONS.get(metric_of(c)) == "minimize"]
    rows = []
    for target, sub in data.groupby("target", sort=True):
        for q in qualities:
            for c in costs:
                clean = sub[["spec", "study", "number", q, c]].dropna(subset=[q, c])
                if clean.empty:
                    continue
                keep = pareto_mask(clean[q].to_numpy(float), clean[c].to_numpy(float))
                front = clean[keep].sort_values(c)
                for _, r in front.iterrows():
                    rows.append(
                        {
                            "target": target,
                            "quality_metric": q,
                            "cost_metric": c,
                            "quality": r[q],
                            "cost": r[c],
                            "spec": r["spec"],
                            "study": r["study"],
                            "number": int(r["number"]),
                        }
                    )
    cols = ["target", "quality_metric", "cost_metric", "quality", "cost", "spec", "study", "number"]
    return pd.DataFrame(rows).reindex(columns=cols)


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as CSV atomically (no index; floats round-trip exactly)."""
    return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
