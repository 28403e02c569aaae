"""Learned de-overlap of a ragged sliCQT: train a DeOverlapNet, measure it per block."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tfselect.atomic import atomic_write
from tfselect.audio.dataset import resolve_root, tracks_for
from tfselect.checks import check_not_a_file, check_range, check_ranges, check_seed
from tfselect.demix.deoverlap import (
    DeOverlapConfig,
    TrainSettings,
    evaluate_deoverlap,
    load_net,
    ragged_slicqt,
    train_deoverlap,
)
from tfselect.errors import TfselectError

SNR_COLUMNS = ("coef_snr_learned", "coef_snr_baseline", "wave_snr_learned", "wave_snr_baseline")


def deoverlap_train(
    transform: str,
    out: Path | str,
    root: Path | str | None = None,
    minutes: float = 5.0,
    batch_size: int = 8,
    seconds: float = 3.0,
    synthetic: float = 0.25,
    bins_radius: int = 4,
    frames_radius: int = 8,
    max_frames: int = 64,
    ridge: float = 1e-6,
    seed: int = 42,
    progress: bool = True,
) -> list[dict]:
    """Train (or resume) a DeOverlapNet for the ragged sliCQT ``transform`` into ``out``
    for ``minutes`` of wall time in all; return its curve (one dict per measurement:
    minutes, clips, held-out SNRs in dB of the learned net and of the window split).

    ``batch_size`` clips of ``seconds`` per step, a share ``synthetic`` (0 to 1) of them
    synthetic; ``ridge``: relative ridge of the least-squares fit.
    """
    check_seed(seed)
    check_ranges(("--minutes", minutes, 1e-3, 10**5), ("--seconds", seconds, 0.5, 600),
                 ("--synthetic", synthetic, 0, 1), ("--ridge", ridge, 0, 1),
                 ("--batch-size", batch_size, 1, 4096))  # fmt: skip
    ragged_slicqt(transform)  # a non-ragged spec is one line before anything is written
    check_not_a_file(out)
    config = DeOverlapConfig(transform, bins_radius=bins_radius, frames_radius=frames_radius,
                             max_frames=max_frames)  # fmt: skip
    settings = TrainSettings(config=config.to_dict(), minutes=minutes, batch_size=batch_size,
                             seconds=seconds, ridge=ridge, seed=seed, synthetic=synthetic,
                             root=str(root) if root else None)  # fmt: skip
    return train_deoverlap(settings, Path(out), progress=progress)


@dataclass(frozen=True)
class DeOverlapEval:
    """SNRs of a DeOverlapNet (``table``: one row per signal and block, coefficient and
    waveform SNR in dB, learned and window split; block "all" de-overlaps every block) and
    the CSV they were written to."""

    table: pd.DataFrame
    out: Path

    def medians(self) -> pd.Series:
        """Median over signals of each SNR column (block "all"), dB."""
        return self.table[self.table.block == "all"][list(SNR_COLUMNS)].median()

    @property
    def n_signals(self) -> int:
        """Signals measured (mixtures and stems)."""
        return int((self.table.block == "all").sum())

    def worst_blocks(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` blocks that limit the waveform most: per block (that block alone
        de-overlapped), its band (``fmin_hz``, ``fmax_hz``, Hz) and the median SNRs (dB),
        lowest learned waveform SNR first."""
        alone = self.table[self.table.block != "all"]
        groups = alone.groupby("block", sort=False)
        blocks = groups[["fmin_hz", "fmax_hz"]].first().join(groups[list(SNR_COLUMNS)].median())
        return blocks.sort_values("wave_snr_learned").head(n)


def deoverlap_eval(
    model: Path | str,
    root: Path | str | None = None,
    subset: str = "test",
    seconds: float = 10.0,
    out: Path | str | None = None,
    progress: bool = True,
) -> DeOverlapEval:
    """Reconstruction SNR of the DeOverlapNet in ``model`` and of the window split, per
    block, on ``seconds`` from the middle of every track of ``subset`` (mixture and
    stems); written to ``out`` (default MODEL/eval-SUBSET.csv). ``progress``: a bar over
    the signals on stderr."""
    check_range("--seconds", seconds, 0.5, 36_000)
    net = load_net(Path(model))
    data_root = resolve_root(root)
    tracks = tracks_for(data_root, subset)
    if not tracks:
        raise TfselectError(f"no {subset} tracks under {data_root}")
    path = Path(out) if out is not None else Path(model) / f"eval-{subset}.csv"
    if path.is_dir():
        raise TfselectError(f"--out {path} is a folder; give a CSV file name")
    df = evaluate_deoverlap(net, tracks, seconds, progress=progress)
    atomic_write(path, lambda tmp: df.to_csv(tmp, index=False, float_format="%.4f"))
    return DeOverlapEval(df, path)
