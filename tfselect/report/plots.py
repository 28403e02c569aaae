"""PNG figures of a report (matplotlib, Agg backend, written atomically).

- ``scatter_<target>.png``: every cheap metric (and the baselines bins, redundancy) against
  the primary oracle, one panel each, points coloured by scale, Spearman ρ in the title.
- ``pareto_<target>.png``: oracle SDR against redundancy, the Pareto front drawn.

Every point is a trials.csv row and every axis one of its columns (``mpi_mean``, ...): the
plots show the numbers the tables hold.
- ``pareto_grid.png``: the same for every target, one panel each, in a grid.
- ``clip_<target>.png``: one clip of the target in its best transform next to the STFT
  4096/1024, magnitudes in dB on ``Transform.grid`` (frequency axis logarithmic).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tfselect import SAMPLE_RATE
from tfselect.atomic import atomic_write
from tfselect.errors import SpecError
from tfselect.metrics import GROUPS, UNITS
from tfselect.report.columns import find, split
from tfselect.report.tables import (
    metric_columns,
    pareto_mask,
    unique_complete,
)
from tfselect.transforms import TransformSpec, build

# Imported inside the functions that need them, so that importing this module stays light:
# matplotlib and torch.

STFT_REFERENCE = "stft:n_fft=4096,hop=1024"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _plt()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path


def _parsed(spec: str):
    try:
        return TransformSpec.parse(spec)
    except SpecError:  # a trial that failed before its spec was canonical
        return None


def _scale_of(spec: str) -> str:
    p = _parsed(spec)
    return spec if p is None else p.scale or p.kind


def _short(spec: str) -> str:
    """A compact label: 'bark,bins=262,fmin=32.9' or 'stft 4096/1024'."""
    p = _parsed(spec)
    return spec if p is None else p.label()


def primary_oracle(df: pd.DataFrame) -> str | None:
    """The oracle column the plots use: MPI's mean over clips when present, else the first
    oracle column present (``irm1_mean``, ... ; a median of an older study last)."""
    cols = metric_columns(df)
    found = [find(cols, o) for o in ("mpi", *GROUPS.get("oracles", ()))]
    return next((c for c in found if c is not None), None)


def _label(col: str) -> str:
    """An axis label for a metric column: 'mpi oracle SDR (dB), mean over clips'."""
    parts = split(col)
    if parts is None:
        return col
    metric, agg = parts
    name = f"{metric} oracle SDR" if UNITS.get(metric) == "dB" else metric
    unit = f" ({UNITS[metric]})" if metric in UNITS else ""
    return f"{name}{unit}, {agg} over clips"


def scatter_plot(df: pd.DataFrame, corr: pd.DataFrame, target: str, path: Path) -> Path | None:
    """Cheap metrics against the primary oracle for ``target`` (complete, distinct specs)."""
    plt = _plt()
    data = unique_complete(df)
    data = data[data["target"] == target]
    oracle = primary_oracle(df)
    if oracle is None or data.empty:
        return None
    sub = corr[(corr["target"] == target) & (corr["oracle"] == oracle)]
    predictors = [p for p in sub["predictor"] if data[p].notna().any()]
    if not predictors:
        return None
    ncols = min(4, len(predictors))
    nrows = math.ceil(len(predictors) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.9 * nrows), squeeze=False)
    scales = data["spec"].map(_scale_of)
    palette = plt.get_cmap("tab10")
    colour = {s: palette(i % 10) for i, s in enumerate(sorted(scales.unique()))}
    for ax, pred in zip(axes.flat, predictors, strict=False):
        for s in sorted(scales.unique()):
            pts = data[scales == s]
            ax.scatter(pts[pred], pts[oracle], s=14, color=colour[s], label=s, alpha=0.8)
        row = sub[sub["predictor"] == pred].iloc[0]
        rho, lo, hi = row["spearman"], row["spearman_lo"], row["spearman_hi"]
        ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
        ax.set_title(f"{pred}: ρ={rho:.2f}{ci} n={int(row['n'])}", fontsize=8)
        ax.set_xlabel(_label(pred), fontsize=8)
        ax.set_ylabel(_label(oracle), fontsize=8)
        ax.tick_params(labelsize=7)
        if pred == "bins":
            ax.set_xscale("log")
    for ax in list(axes.flat)[len(predictors) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{target}: cheap metrics against {oracle}", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def pareto_plot(df: pd.DataFrame, target: str, path: Path, cost: str = "redundancy") -> Path | None:
    """Primary oracle against a cost metric, with the non-dominated front."""
    plt = _plt()
    data = unique_complete(df)
    data = data[data["target"] == target]
    oracle = primary_oracle(df)
    cost = find(metric_columns(df), cost) or cost
    if oracle is None or cost not in data.columns:
        return None
    clean = data[["spec", oracle, cost]].dropna()
    if clean.empty:
        return None
    q, c = clean[oracle].to_numpy(float), clean[cost].to_numpy(float)
    keep = pareto_mask(q, c)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(c, q, s=14, color="0.6", label="trials")
    order = np.argsort(c[keep])
    ax.plot(c[keep][order], q[keep][order], "o-", color="C3", ms=4, label="Pareto front")
    for spec, x, y in zip(clean["spec"][keep], c[keep], q[keep], strict=True):
        ax.annotate(_short(spec), (x, y), fontsize=6, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    if c.min() > 0 and c.max() / c.min() > 10:  # log axis only where it spreads the points
        ax.set_xscale("log")
    ax.set_xlabel(f"{_label(cost)}; lower is cheaper")
    ax.set_ylabel(_label(oracle))
    ax.set_title(f"{target}: quality against cost")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def pareto_grid(
    df: pd.DataFrame, targets: list[str], path: Path, cost: str = "redundancy"
) -> Path | None:
    """Every target's primary oracle against ``cost``, one panel per target in a grid.

    The grid has ``ceil(sqrt(K))`` columns, so ten or more targets stay readable on one page;
    panels share no axes (oracle ranges differ between targets).
    """
    plt = _plt()
    data = unique_complete(df)
    oracle = primary_oracle(df)
    cost = find(metric_columns(df), cost) or cost
    if oracle is None or cost not in data.columns or not targets:
        return None
    cols = math.ceil(math.sqrt(len(targets)))
    rows = math.ceil(len(targets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(targets):]:
        ax.axis("off")
    for ax, target in zip(axes.flat, targets, strict=False):
        clean = data[data["target"] == target][["spec", oracle, cost]].dropna()
        ax.set_title(target, fontsize=9)
        if clean.empty:
            ax.text(0.5, 0.5, "no complete trial", ha="center", va="center", fontsize=8)
            continue
        q, c = clean[oracle].to_numpy(float), clean[cost].to_numpy(float)
        keep = pareto_mask(q, c)
        order = np.argsort(c[keep])
        ax.scatter(c, q, s=8, color="0.6")
        ax.plot(c[keep][order], q[keep][order], "o-", color="C3", ms=3)
        if c.min() > 0 and c.max() / c.min() > 10:
            ax.set_xscale("log")
        ax.tick_params(labelsize=7)
    fig.supxlabel(f"{_label(cost)}; lower is cheaper", fontsize=9)
    fig.supylabel(_label(oracle), fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _db_grid(spec: str, x: np.ndarray):
    """(freqs Hz (bins,), times s (frames,), dB (bins, frames)) of a stereo clip (2, n)."""
    import torch

    T = build(spec, sample_rate=SAMPLE_RATE)
    with torch.no_grad():
        g = T.grid(T(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))))
    power = (g.abs() ** 2).mean(dim=0).cpu().numpy()  # mean over channels: (bins, frames)
    db = 10.0 * np.log10(power + 1e-12)
    freqs = np.asarray(T.frequencies(), dtype=float)
    times = np.arange(power.shape[-1]) / float(T.frame_rate())
    return freqs, times, db


def clip_plot(
    clip, target: str, best_spec: str, path: Path, captions: Mapping[str, str] | None = None
) -> Path:
    """The target stem of ``clip`` in ``best_spec`` next to the STFT 4096/1024 (dB).

    ``captions`` maps a spec to an extra title line (e.g. its oracle SDR).
    """
    plt = _plt()
    x = clip.stems[target]
    panels = [(best_spec, "best")]
    if best_spec != STFT_REFERENCE:
        panels.append((STFT_REFERENCE, "STFT reference"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.2), squeeze=False)
    grids = [_db_grid(spec, x) for spec, _ in panels]
    vmax = max(float(np.max(db)) for _, _, db in grids)
    for ax, (spec, label), (f, t, db) in zip(axes.flat, panels, grids, strict=True):
        keep = f > 0  # log axis: the DC bin has no place on it
        mesh = ax.pcolormesh(
            t, f[keep], db[keep], shading="nearest", cmap="magma", vmin=vmax - 80, vmax=vmax
        )
        ax.set_yscale("log")
        ax.set_ylim(max(20.0, f[keep].min()), f.max())
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        title = f"{label}: {spec}"
        if captions and spec in captions:
            title += "\n" + captions[spec]
        ax.set_title(title, fontsize=8)
        fig.colorbar(mesh, ax=ax, label="dB")
    fig.suptitle(f"{target} of {clip.track} @ {clip.start / 44100:.1f} s", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
