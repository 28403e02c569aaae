"""Evaluate a trained demixer with museval (BSSEval v4) on a corpus split.

Writes, under ``OUT`` (default ``MODEL_DIR/eval-<subset>``):

- ``json/<track>.json``: museval's own per-track format (``museval.TrackStore``; 1-s
  frames with SDR/SIR/SAR/ISR per target), readable by ``museval.json2df``;
- ``tracks.csv``: per track and target, the median over frames of each metric, and
  ``silent_reference`` / ``silent_estimate``;
- ``medians.csv``: per target, the median over tracks of those (the MUSDB convention).

BSSEval is undefined for a silent source (museval refuses one): a target whose reference or
estimate is silent over the scored span is left out of the museval call and gets NaN in
every frame, in the JSON and ``tracks.csv`` alike; the medians skip NaN. Every file is
written atomically.

Separation runs in the main process (torch uses its threads); the BSSEval metrics, the slow
part (~2 min per 4-source song on one core), run in a pool of ``jobs`` processes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import warnings
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from tfselect import SAMPLE_RATE
from tfselect.atomic import atomic_write
from tfselect.audio.dataset import read_segment, resolve_root, track_length, tracks_for
from tfselect.audio.targets import TargetMap
from tfselect.demix.model_files import load_model
from tfselect.demix.separate import separate_array
from tfselect.errors import TfselectError

# Imported inside the functions that need them, so that importing this module stays light:
# museval.

log = logging.getLogger("tfselect.demix")
BSS_METRICS = ("SDR", "SIR", "SAR", "ISR")


def _silent(x: np.ndarray) -> np.ndarray:
    """Per target of (targets, channels, n): silent by museval's own test (all-zero sum)."""
    return np.all(x.sum(axis=1) == 0, axis=-1)


def bss_eval(references: np.ndarray, estimates: np.ndarray) -> dict[str, np.ndarray]:
    """museval v4 metrics of (targets, 2, n) arrays: metric -> (targets, frames) of 1-s frames.

    Targets whose reference or estimate is silent are not scored (museval raises on them):
    their frames are NaN. ``silent_reference`` and ``silent_estimate`` (targets,) say which.
    """
    import museval

    n_targets, n = references.shape[0], references.shape[-1]
    silent_ref, silent_est = _silent(references), _silent(estimates)
    scored = np.flatnonzero(~(silent_ref | silent_est))
    frames = max(1, n // SAMPLE_RATE)  # museval's frame count for win = hop = 1 s
    out = {m: np.full((n_targets, frames), np.nan) for m in BSS_METRICS}
    if len(scored) and n:
        sdr, isr, sir, sar = museval.evaluate(
            np.transpose(references[scored], (0, 2, 1)),
            np.transpose(estimates[scored], (0, 2, 1)),
            win=SAMPLE_RATE, hop=SAMPLE_RATE,
        )
        for m, v in zip(("SDR", "ISR", "SIR", "SAR"), (sdr, isr, sir, sar), strict=True):
            out[m][scored] = v
    return {**out, "silent_reference": silent_ref, "silent_estimate": silent_est}


def _nanmedian(x: np.ndarray) -> float:
    """Median of the finite frames; NaN (no warning) when there are none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slice of a silent target
        return float(np.nanmedian(x))


def _store(name: str, targets: list[str], scores: dict[str, np.ndarray]) -> str:
    import museval

    store = museval.TrackStore(name, win=1.0, hop=1.0)
    for j, target in enumerate(targets):
        store.add_target(target, {m: scores[m][j].tolist() for m in BSS_METRICS})
    return store.json


# museval (BSSEval v4) scores 1-s frames: a shorter excerpt has no frame to score, and its
# "medians" would be numbers about nothing.
MIN_SCORED_SECONDS = 1.0
MAX_SCORED_SECONDS = 36_000.0


def check_duration(duration: float | None) -> None:
    """TfselectError unless ``duration`` (seconds scored per track; None: whole tracks) is
    in [MIN_SCORED_SECONDS, MAX_SCORED_SECONDS]."""
    if duration is not None and not MIN_SCORED_SECONDS <= duration <= MAX_SCORED_SECONDS:
        raise TfselectError(f"--duration must be in [{MIN_SCORED_SECONDS:g}, "
                            f"{MAX_SCORED_SECONDS:g}] seconds (museval scores 1-s frames), "
                            f"got {duration:g}")


def evaluate_model(model_dir: Path, root: Path | None = None, subset: str = "test",
                   tracks: int | None = None, jobs: int = 1, wiener: bool = False,
                   device: str = "cpu", duration: float | None = None,
                   out: Path | None = None, progress: bool = True,
                   wiener_iterations: int = 1) -> pd.DataFrame:
    """Separate and score the first ``tracks`` tracks of ``subset``; return ``medians.csv``.

    ``duration`` (seconds) scores only the track's first seconds (quick checks);
    ``wiener_iterations`` Wiener-EM iterations when ``wiener``. How the model was evaluated
    is recorded in ``info.json`` (and carried into ``demix.csv`` by :func:`demix_table`).
    """
    if jobs < 1:
        raise TfselectError(f"--jobs must be at least 1, got {jobs}")
    check_duration(duration)
    if tracks is not None and tracks < 1:
        raise TfselectError(f"--tracks must be at least 1, got {tracks}")
    model = load_model(model_dir, device)
    tmap = (model.train_config or {}).get("targets")
    if tmap:

        tmap = TargetMap.from_dict(tmap, f"{model_dir} (its target map)")
    all_tracks = tracks_for(resolve_root(root), subset, target_map=tmap or None)
    if not all_tracks:
        raise TfselectError(f"no {subset} tracks to evaluate on")
    chosen = all_tracks[:tracks] if tracks else all_tracks
    out = Path(out) if out else Path(model_dir) / f"eval-{subset}"
    (out / "json").mkdir(parents=True, exist_ok=True)
    targets = list(model.targets)
    # A model whose targets leave part of the mixture is also scored on that residual.
    residual = bool(getattr(model.config, "residual", False))
    names = [*targets, "residual"] if residual else targets
    pool = ProcessPoolExecutor(jobs, mp_context=_spawn()) if jobs > 1 else None
    pending: list[tuple[str, Future | dict]] = []
    try:
        for track in tqdm(chosen, desc="separate", disable=not progress, unit="track"):
            n = track_length(track)
            n = n if duration is None else min(n, int(round(duration * SAMPLE_RATE)))
            audio = read_segment(track, ("mixture", *targets), 0, n)
            est = separate_array(model, audio["mixture"], wiener=wiener,
                                 wiener_iterations=wiener_iterations)
            ref = np.stack([audio[t] for t in targets])
            if residual:
                mix = audio["mixture"]
                ref = np.concatenate([ref, (mix - ref.sum(0))[None]])
                est = np.concatenate([est, (mix - est.sum(0))[None]])
            job = pool.submit(bss_eval, ref, est) if pool else bss_eval(ref, est)
            pending.append((track.name, job))
        rows = []
        for name, job in tqdm(pending, desc="bss_eval", disable=not progress, unit="track"):
            scores = job.result() if isinstance(job, Future) else job
            store = _store(name, names, scores)
            atomic_write(out / "json" / f"{name}.json", lambda p, s=store: p.write_text(s))
            for j, target in enumerate(names):
                ref, est = bool(scores["silent_reference"][j]), bool(scores["silent_estimate"][j])
                if ref or est:
                    log.warning("%s: %s %s silent over the scored span; its metrics are NaN",
                                name, target, "reference is" if ref else "estimate is")
                rows.append({"track": name, "target": target,
                             **{m: _nanmedian(scores[m][j]) for m in BSS_METRICS},
                             "silent_reference": ref, "silent_estimate": est})
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    per_track = pd.DataFrame(rows)
    atomic_write(out / "tracks.csv", lambda p: per_track.to_csv(p, index=False))
    # pandas' groupby median skips NaN: silent targets do not count (NaN if all are silent).
    medians = (per_track.groupby("target", sort=False)[list(BSS_METRICS)].median().reset_index())
    medians.insert(0, "model", _model_name(model_dir, model.train_config))
    atomic_write(out / "medians.csv", lambda p: medians.to_csv(p, index=False))
    silent = per_track[per_track["silent_reference"] | per_track["silent_estimate"]]
    info = json.dumps({
        "model": str(model_dir), "subset": subset, "tracks": [t.name for t in chosen],
        "wiener": wiener, "wiener_iterations": wiener_iterations if wiener else 0,
        "duration": duration,
        "unscored": [{"track": r.track, "target": r.target,
                      "silent": "reference" if r.silent_reference else "estimate"}
                     for r in silent.itertuples()]}, indent=2)
    atomic_write(out / "info.json", lambda p: p.write_text(info))
    return medians


def _spawn():
    return mp.get_context("spawn")  # no fork of a process holding torch's thread pools


def _model_name(model_dir: Path, train_config: dict) -> str:
    """``per-target`` or the baseline's name (``shared-slicqt``, ``stft``)."""
    return (train_config or {}).get("baseline") or "per-target"


def demix_table(model_dirs: list[Path], subset: str = "test") -> pd.DataFrame:
    """Per-target median SDR/SIR/SAR/ISR of several evaluated models (``demix.csv``).

    Columns: ``model`` (per-target, shared-slicqt, stft), ``dir``, ``target``, the four
    metrics, then how the model was evaluated: ``subset``, ``tracks`` (count), ``duration``
    (seconds scored per track, empty = whole tracks), ``wiener`` and ``wiener_iterations``
    (0 without Wiener). Reads ``DIR/eval-<subset>/{medians.csv,info.json}`` written by
    :func:`evaluate_model`.
    """
    frames = []
    for d in map(Path, model_dirs):
        path = d / f"eval-{subset}" / "medians.csv"
        if not path.is_file():
            raise TfselectError(f"{d} has no evaluation on {subset} (run `tfselect evaluate "
                                f"--model {d} --subset {subset}` first)")
        df = pd.read_csv(path)
        df.insert(1, "dir", str(d))
        for column, value in _evaluated_how(path.parent / "info.json", subset).items():
            df[column] = value
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["model", "dir", "target", *BSS_METRICS, *EVALUATED_HOW])
    return pd.concat(frames, ignore_index=True)


EVALUATED_HOW = ("subset", "tracks", "duration", "wiener", "wiener_iterations")


def _evaluated_how(info_path: Path, subset: str) -> dict:
    """The evaluation settings of ``info.json`` (None where an older file lacks them)."""
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError):
        info = {}
    wiener = info.get("wiener")
    iterations = info.get("wiener_iterations", 1 if wiener else 0 if wiener is False else None)
    tracks = info.get("tracks")
    return {"subset": subset, "tracks": len(tracks) if isinstance(tracks, list) else None,
            "duration": info.get("duration"), "wiener": wiener, "wiener_iterations": iterations}
