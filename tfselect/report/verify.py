"""Verify a best.csv on held-out tracks: the pick against both references, track by track.

A search picks each target's transform on the clips of its pool (train and valid tracks);
whether the pick holds on music it never saw is a separate, honest question. Here every
track of a split (default: test) is scored, per target, with the target's objective oracle
(best.csv's ``objective`` column, e.g. ``mpi``) for the picked spec and for both references
(the ``stft`` and ``xumx-slicq`` rows' specs; a missing row falls back to the study default
of :data:`tfselect.search.study.REFERENCES`).

Per track one value per spec: the objective on the whole track (``seconds == 0``) or the
mean over the track's consecutive clips of ``seconds`` (from the start; the remainder
shorter than a clip is left out, a track shorter than one clip is one clip). Clips where the
target is silent are skipped; a track with no audible clip is left out and counted.

Per comparison, the per-track differences ``d = sign·(pick − reference)`` (positive = the
pick is better; ``sign`` = −1 for a minimised objective) go to
:func:`tfselect.report.paired.differences`: ``diff`` is the mean of the per-track
differences (each track weighs the same), with a percentile bootstrap 95 % interval
resampling tracks, a two-sided Wilcoxon signed-rank p and a verdict. The difference of the
two medians over tracks is not what is tested. Comparisons: the better reference (the one
with the better mean over these tracks: choosing it on the same tracks makes the test
conservative for the pick), then each reference. A comparison of the pick with itself (the
pick is that reference) is not computed: its verdict is ``is the pick``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tfselect import SAMPLE_RATE
from tfselect.atomic import atomic_write
from tfselect.audio.clips import Clip
from tfselect.audio.dataset import Track, read_segment, track_length, tracks_for
from tfselect.audio.targets import TargetMap, check_target
from tfselect.errors import TfselectError
from tfselect.metrics import BSS, ClipScorer
from tfselect.report.best import read_best
from tfselect.report.paired import N_BOOT, differences
from tfselect.search.objectives import parse_objectives
from tfselect.search.study import REFERENCES
from tfselect.transforms import TransformSpec

log = logging.getLogger(__name__)

BETTER = "better reference"
IS_PICK = "is the pick"
COLUMNS = ["target", "objective", "pick", "picked", "comparison", "reference",
           "reference_spec", "pick_value", "reference_value", "diff", "ci_low", "ci_high",
           "p_value", "tracks_won", "n_tracks", "verdict", "subset", "seconds", "bss"]  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What to verify for one target (from best.csv).

    Attributes:
        target: the target.
        objective: best.csv's objective text (its first objective is scored).
        pick: the selected spec (canonical string).
        picked: its candidate name: ``best``, or the reference it equals.
        references: {reference name: canonical spec}.
    """

    target: str
    objective: str
    pick: str
    picked: str
    references: dict[str, str]


def read_plans(path: str | Path, select: str = "significant") -> list[Plan]:
    """One :class:`Plan` per target of ``best.csv``, its primary objective's rows.

    The pick is what ``train-best`` would take (:func:`tfselect.report.best.read_best`).

    Raises:
        TfselectError: unreadable or malformed file, a spec that does not parse.
    """

    picks = read_best(path, select=select)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    plans = []
    for target, pick in picks.items():
        mine = rows[rows["target"] == target]
        mine = mine[mine["objective"] == mine["objective"].iloc[0]]
        refs = {}
        for name, default in REFERENCES.items():
            given = mine.loc[mine["candidate"] == name, "spec"]
            refs[name] = _canonical(given.iloc[0]) if len(given) and given.iloc[0] else str(default)
        pick = _canonical(pick)
        picked = next((n for n, s in refs.items() if s == pick), "best")
        plans.append(Plan(target, mine["objective"].iloc[0], pick, picked, refs))
    return plans


def _canonical(spec: str) -> str:
    return str(TransformSpec.parse(spec))


def track_clips(track: Track, seconds: float) -> Iterator[Clip]:
    """The clips a track is scored on: the whole track (``seconds`` 0), else consecutive
    clips of ``seconds`` from the start (remainder dropped; a shorter track is one clip).
    Arrays (2, samples) float32, read one clip at a time."""
    total = track_length(track)
    length = min(int(round(seconds * SAMPLE_RATE)), total) if seconds > 0 else total
    for start in range(0, total - length + 1, max(length, 1)):
        audio = read_segment(track, None, start, length)
        mixture = audio.pop("mixture")
        yield Clip(track.name, start, length, mixture, audio)


def track_values(
    plans: Sequence[Plan],
    tracks: Sequence[Track],
    seconds: float = 0.0,
    bss: str = "fast",
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Per target, per spec, per track: the primary objective's value (see the module
    docstring), e.g. SDR in dB for an oracle.

    Returns:
        {target: {spec: {track name: value}}}; tracks whose target is silent in every clip
        are absent.
    """

    objectives = {p.target: parse_objectives(p.objective).primary for p in plans}
    scorers = {(p.target, s): ClipScorer(s, p.target, objectives[p.target].metrics,
                                         device=device, bss=bss)
               for p in plans for s in dict.fromkeys([p.pick, *p.references.values()])}  # fmt: skip
    sums: dict[tuple[str, str], dict[str, list[float]]] = {k: {} for k in scorers}
    for i, track in enumerate(tracks):
        for clip in track_clips(track, seconds):
            for (target, spec), scorer in scorers.items():
                row = scorer(clip)
                if row is not None:
                    value = objectives[target].value(row)
                    sums[target, spec].setdefault(track.name, []).append(value)
        if progress is not None:
            progress(i + 1, len(tracks))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (target, spec), per_track in sums.items():
        out.setdefault(target, {})[spec] = {t: float(np.mean(v)) for t, v in per_track.items()}
    return out


def compare(
    plan: Plan, values: dict[str, dict[str, float]], sign: float = 1.0, n_boot: int = N_BOOT,
    seed: int = 0,
) -> list[dict]:
    """The comparison rows of one target (columns of :data:`COLUMNS` but the run's settings).

    Args:
        plan: the target's plan.
        values: {spec: {track: value}} (:func:`track_values` of the target).
        sign: +1 for a maximised objective, -1 for a minimised one.
    """
    pick = values[plan.pick]

    def mean_over(spec: str, tracks: Sequence[str]) -> float:
        return float(np.mean([values[spec][t] for t in tracks])) if tracks else math.nan

    shared = sorted(set.intersection(*(set(values[s]) for s in values)))
    better = max(plan.references, key=lambda n: sign * mean_over(plan.references[n], shared))
    rows = []
    for comparison, name in ((BETTER, better), *((n, n) for n in plan.references)):
        spec = plan.references[name]
        row = {"target": plan.target, "objective": plan.objective, "pick": plan.pick,
               "picked": plan.picked, "comparison": comparison, "reference": name,
               "reference_spec": spec}  # fmt: skip
        tracks = sorted(set(pick) & set(values[spec]))
        row["pick_value"], row["reference_value"] = mean_over(plan.pick, tracks), mean_over(
            spec, tracks)
        if spec == plan.pick:
            rows.append({**row, "n_tracks": len(tracks), "verdict": IS_PICK})
            continue
        d = np.array([sign * (pick[t] - values[spec][t]) for t in tracks], dtype=float)
        stats = differences(d, n_boot, seed)
        stats["n_tracks"] = stats.pop("n")
        rows.append({**row, **stats, "tracks_won": int(np.sum(d > 0))})
    return rows


def verify(
    best: str | Path,
    root: Path,
    subset: str = "test",
    seconds: float = 0.0,
    bss: str = "fast",
    device: str = "cpu",
    select: str = "significant",
    target_map: TargetMap | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score the pick and both references of every target of ``best`` on every track of
    ``subset`` and compare them per track (module docstring).

    Returns:
        One row per target × comparison, columns :data:`COLUMNS` (values in the
        objective's unit, dB for an oracle); ``attrs["silent"]``: {target: tracks left out
        because the target is silent in all their clips}.

    Raises:
        TfselectError: bad best.csv, subset without tracks, unknown target, bad options.
    """

    if bss not in BSS:
        raise TfselectError(f"--bss must be one of {', '.join(BSS)}, got '{bss}'")
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise TfselectError(f"--seconds must be >= 0 (0: whole tracks), got {seconds}")
    plans = read_plans(best, select)
    for plan in plans:
        check_target(root, plan.target, target_map)
    tracks = tracks_for(root, subset, target_map=target_map)
    if not tracks:
        raise TfselectError(f"subset '{subset}' of dataset root {root} holds no tracks")
    values = track_values(plans, tracks, seconds, bss, device, progress)
    rows, silent = [], {}
    for plan in plans:
        direction = parse_objectives(plan.objective).primary.direction
        per_spec = values[plan.target]
        silent[plan.target] = sorted({t.name for t in tracks} - set(per_spec[plan.pick]))
        for row in compare(plan, per_spec, 1.0 if direction == "maximize" else -1.0):
            rows.append({**row, "subset": subset, "seconds": seconds, "bss": bss})
    df = pd.DataFrame(rows).reindex(columns=COLUMNS)
    df.attrs["silent"] = silent
    return df.astype({"tracks_won": "Int64", "n_tracks": "Int64"})


def write_verify(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the rows of :func:`verify` as a CSV, atomically."""

    return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))
