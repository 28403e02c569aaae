"""``tfselect report``: read studies, write the CSV tables and PNG plots of a report.

Files (built aside, then each renamed into the folder; only the files that a report
listed in the folder's ``.tfselect-report.json`` are ever replaced or removed)::

    trials.csv        one row per trial (target, spec, state, every metric, duration, reason)
    best.csv          best spec per (target, objective) next to STFT and xumx-sliCQ rows
    correlations.csv  cheap metrics vs oracles per target (Spearman, Kendall, partial, CIs)
    pareto.csv        quality vs cost fronts per target
    scatter_<target>.png, pareto_<target>.png, clip_<target>.png
    pareto_grid.png   every target's quality against cost, one panel per target (2+ targets)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd

from tfselect.atomic import staged_files
from tfselect.audio.dataset import resolve_root
from tfselect.audio.targets import TargetMap
from tfselect.errors import TfselectError
from tfselect.report import plots
from tfselect.report.selection import best_frame
from tfselect.report.tables import (
    correlations_frame,
    pareto_frame,
    trials_frame,
    write_csv,
)
from tfselect.search.config import ClipConfig
from tfselect.search.storage import open_storage
from tfselect.search.study import read_tags, tagged_studies
from tfselect.search.trial import sample_pool

log = logging.getLogger(__name__)

# Resamples of the correlation intervals: 1000 is the default; far beyond 10**5 the
# intervals no longer move and the report only takes longer (minutes per study).
MAX_BOOTSTRAP = 100_000


@dataclass
class Report:
    """What ``make_report`` wrote.

    Attributes:
        out: the report folder.
        files: every file written, in order.
        studies: study names included.
        n_trials: rows of trials.csv.
        warnings: one line per thing left out (e.g. a clip plot without audio).
    """

    out: Path
    files: list[Path] = field(default_factory=list)
    studies: list[str] = field(default_factory=list)
    n_trials: int = 0
    warnings: list[str] = field(default_factory=list)


# What a report wrote in its folder, so the next one knows exactly which files are its own:
# a name pattern would also claim a user's pareto_notes.png.
MANIFEST = ".tfselect-report.json"


def make_report(
    storage: str,
    studies: list[str] | None = None,
    out: str | Path = "reports",
    root: Path | None = None,
    n_boot: int = 1000,
    with_plots: bool = True,
    seed: int = 0,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    overwrite: bool = False,
) -> Report:
    """Build the report of ``studies`` (default: every tfselect study in ``storage``).

    The whole report is built in a hidden folder inside ``out`` and its files renamed into
    place at the end (``atomic.staged_files``): a failed run changes nothing, and only the
    files of this report and of the previous one (listed in ``MANIFEST``) are touched.

    Args:
        storage: Optuna storage URL (read only: a missing SQLite/journal file is an error).
        studies: study names (repeatable --study); None = all tagged studies.
        out: output folder (created).
        root: dataset root for the clip plots (default: the root each study recorded,
            else ``$MUSDB_PATH``/the demo corpus).
        n_boot: bootstrap resamples for the correlation intervals.
        with_plots: write the PNG figures.
        seed: bootstrap seed.
        extra_tables: more CSVs of the same report, file name -> table (``demix.csv``).
            With them and no ``studies`` named, a storage without studies (or without a
            file) is fine: the report holds those tables alone.
        overwrite: replace files in ``out`` that this report writes but no earlier report
            wrote (a user's own ``best.csv``); without it they stop the report.

    Raises:
        TfselectError: unreachable storage, unknown study, no tfselect study at all, a
            user's file in the way (without ``overwrite``).
    """

    if isinstance(n_boot, bool) or not 0 <= n_boot <= MAX_BOOTSTRAP:
        raise TfselectError(f"--bootstrap must be in [0, {MAX_BOOTSTRAP}], got {n_boot}")
    alone = bool(extra_tables) and not studies  # e.g. demixers trained without a study
    try:
        sts = tagged_studies(open_storage(storage, create=False), names=studies or None)
    except TfselectError:
        if not alone:
            raise
        sts = []
    if not sts and not alone:
        raise TfselectError("no tfselect study in the storage (run `tfselect search` first)")
    final = Path(out)
    report = Report(out=final, studies=[s.study_name for s in sts])
    with staged_files(final, MANIFEST, overwrite) as stage:
        report.out = stage
        if sts:
            trials = trials_frame(sts)
            report.n_trials = len(trials)
            best = best_frame(sts)
            corr = correlations_frame(trials, n_boot=n_boot, seed=seed)
            pareto = pareto_frame(trials)
            for name, df in (
                ("trials.csv", trials),
                ("best.csv", best),
                ("correlations.csv", corr),
                ("pareto.csv", pareto),
            ):
                report.files.append(write_csv(df, stage / name))
            if with_plots:
                _plots(report, sts, trials, best, corr, root)
        for name, df in (extra_tables or {}).items():
            report.files.append(write_csv(df, stage / name))
    report.out = final
    report.files = [final / Path(f).relative_to(stage) for f in report.files]
    return report


def _plots(report: Report, sts, trials: pd.DataFrame, best, corr, root) -> None:
    out = report.out
    targets = sorted(t for t in trials["target"].dropna().unique() if t)
    if len(targets) > 1:
        path = plots.pareto_grid(trials, targets, out / "pareto_grid.png")
        if path is not None:
            report.files.append(path)
    for target in targets:
        for maker, name in (
            (lambda p, t=target: plots.scatter_plot(trials, corr, t, p), "scatter"),
            (lambda p, t=target: plots.pareto_plot(trials, t, p), "pareto"),
        ):
            path = maker(out / f"{name}_{target}.png")
            if path is not None:
                report.files.append(path)
    if best.empty:
        return
    by_name = {s.study_name: s for s in sts}
    for target in targets:
        rows = best[(best["target"] == target) & (best["candidate"] == "best")]
        if rows.empty:
            continue
        row = rows.iloc[0]
        try:
            clip = _first_clip(by_name[row["study"]], root)
            captions = _captions(best, target, row["objective"], trials)
            path = plots.clip_plot(
                clip, target, row["spec"], out / f"clip_{target}.png", captions=captions
            )
            report.files.append(path)
        except (TfselectError, OSError) as exc:
            msg = f"clip_{target}.png left out: {exc}"
            report.warnings.append(msg)  # the caller (the CLI) decides who sees it


def _captions(best: pd.DataFrame, target: str, objective: str, trials) -> dict[str, str]:
    oracle = plots.primary_oracle(trials)
    rows = best[(best["target"] == target) & (best["objective"] == objective)]
    out = {}
    if oracle is None or oracle not in rows.columns:
        return out
    for _, r in rows.iterrows():
        v = r[oracle]
        if pd.notna(v):
            out[r["spec"]] = f"{oracle} {float(v):.2f} dB"
    return out


def _first_clip(study, root: Path | None):
    """Clip 0 of the study's pool (same split, seed, length, silence rule)."""
    tags = read_tags(study)
    c = dict(tags.clips)
    if root is None and tags.root and Path(tags.root).exists():
        root = Path(tags.root)
    known = {f.name for f in fields(ClipConfig)}
    cfg = ClipConfig(**{k: v for k, v in c.items() if k in known})
    tmap = TargetMap.from_dict(c["targets"], "study") if c.get("targets") else None
    clips = sample_pool(resolve_root(root), cfg, int(c.get("seed", 0)), tags.target, tmap)
    if not clips:
        raise TfselectError("no clip could be drawn")
    return clips[0]
