"""Score one transform for one target: every metric's median over clips."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

import tfselect.metrics as metric_layer
from tfselect import SAMPLE_RATE
from tfselect.atomic import write_csv_row
from tfselect.audio.clips import sample_clips
from tfselect.audio.dataset import resolve_root
from tfselect.audio.targets import check_target, load_target_map
from tfselect.checks import check_range, check_seed
from tfselect.errors import TfselectError
from tfselect.metrics import BSS, resolve_metrics
from tfselect.transforms import TransformSpec, build


@dataclass(frozen=True)
class Score:
    """The score of one transform for one target.

    Attributes:
        row: target, transform (canonical spec), subset, seconds_per_clip, then each
            metric's median over clips (dB for oracles, see ``metrics.UNITS``), n_clips and
            n_skipped (clips where the target is silent).
        metrics: the metric names scored, in ``METRICS`` order.
    """

    row: dict[str, object]
    metrics: tuple[str, ...]

    def json_safe(self) -> dict[str, object]:
        """``row`` for strict JSON: a metric that could not be computed (NaN/inf) is None."""
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in self.row.items()}  # fmt: skip


def score(
    target: str,
    transform: str | TransformSpec,
    root: Path | str | None = None,
    subset: str = "valid",
    clips: int = 2,
    seconds: float = 10.0,
    tracks: int | None = None,
    metrics: str | None = None,
    bss: str = "fast",
    float64: bool = False,
    seed: int = 0,
    device: str = "cpu",
    config: Path | str | None = None,
    out: Path | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Score:
    """Score ``transform`` for ``target`` on ``clips`` clips per track of ``subset``.

    Args:
        target: a target of the dataset (``targets`` lists them).
        transform: spec, e.g. ``stft:n_fft=4096,hop=1024``.
        root: dataset root (None: ``$MUSDB_PATH``, else the demo corpus).
        subset: train, valid or test.
        clips: clips per track (1 to 10 000).
        seconds: clip length in seconds (0: whole tracks).
        tracks: only the first N tracks of the subset.
        metrics: comma-separated metrics and/or groups (None: all).
        bss: SDR convention: fast, museval, usdr or si-sdr.
        float64: compute in float64.
        seed: clip sampling seed.
        device: torch device.
        config: study TOML whose ``[targets]`` table maps stems.
        out: also write the row as a one-row CSV there.
        progress: called as ``progress(done, total)`` after each clip.
    """
    # Cheap checks first, so a typo fails before any audio is read.
    check_seed(seed)
    check_range("--clips", clips, 1, 10_000)
    check_range("--seconds", seconds, 0, 3600)
    check_range("--tracks", tracks, 1, 1_000_000)
    target_map = load_target_map(config)
    data_root = resolve_root(root)
    check_target(data_root, target, target_map)
    names = resolve_metrics(metrics)
    spec = TransformSpec.parse(transform)
    build(spec, SAMPLE_RATE)  # validates and designs the filterbank (cached for score below)
    if bss not in BSS:
        raise TfselectError(f"--bss must be one of {', '.join(BSS)}, got '{bss}'")
    chosen = sample_clips(
        data_root, subset, n_clips=clips, seconds=seconds, seed=seed, target=target,
        max_tracks=tracks, target_map=target_map,
    )  # fmt: skip
    result = metric_layer.score(  # looked up when called: a stand-in can replace it
        spec, target, chosen, names, device=device,
        dtype=torch.float64 if float64 else torch.float32, bss=bss, progress=progress,
    )  # fmt: skip
    row = {"target": target, "transform": str(spec), "subset": subset, "seconds_per_clip":
           seconds, **result}  # fmt: skip
    if out is not None:
        write_csv_row(Path(out), row)
    return Score(row, names)
