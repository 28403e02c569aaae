"""Training and validation data for the demixer (Open-Unmix conventions).

Training examples are drawn *deterministically* from ``(seed, epoch, index)``: every example
has its own ``numpy.random.Generator``. So the data needs no RNG state in checkpoints (exact
resume), and ranks of a DistributedDataParallel run can each build their share of a global
batch that is identical to the single-process one.

Per example and per target: a random track (``mix_tracks``: random track mixing across
stems, so the sources are uncorrelated), a random chunk start, a random gain in
[0.25, 1.25] and a random left/right swap (``augment``); the mixture is the sum of the
augmented stems, plus (``residual``) the rest of one more track's mixture when the targets do
not cover it. Shapes: a batch is ``mixture`` (batch, 2, samples) and ``targets``
(batch, targets, 2, samples), float32 at 44.1 kHz.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.audio.dataset import read_segment, track_length


def _to_stereo(a: np.ndarray) -> np.ndarray:
    """(channels, n) -> (2, n): mono is duplicated, extra channels are dropped."""
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    return np.repeat(a, 2, 0) if a.shape[0] == 1 else a[:2]


class TrackAudio:
    """Reads stems of corpus tracks through the audio layer, optionally cached in memory.

    ``preload=True`` keeps every stem of every track in RAM after the first read (right for
    small corpora and the demo; for MUSDB itself chunks are read from disk each time).
    """

    def __init__(self, tracks: Sequence, preload: bool = False,
                 targets: Sequence[str] = TARGETS) -> None:

        self.tracks, self.targets = list(tracks), tuple(targets)
        self._read, self.preload = read_segment, preload
        self._cache: dict[tuple[int, str], np.ndarray] = {}
        self.lengths = [int(track_length(t)) for t in self.tracks]  # samples at 44.1 kHz

    def read(self, i: int, source: str, start: int, n: int) -> np.ndarray:
        """(2, n) float32 of ``source`` of track ``i`` from sample ``start`` (zero-padded).

        ``source='residual'``: the mixture minus the sum of ``targets``.
        """
        if source == "residual":
            rest = self.read(i, "mixture", start, n).astype(np.float64)
            for t in self.targets:
                rest -= self.read(i, t, start, n)
            return rest.astype(np.float32)
        if self.preload:
            key = (i, source)
            if key not in self._cache:
                self._cache[key] = _to_stereo(self._read(self.tracks[i], (source,))[source])
            a = self._cache[key][:, start:start + n]
        else:
            m = max(0, min(n, self.lengths[i] - start))
            a = _to_stereo(self._read(self.tracks[i], (source,), start, m)[source])
        if a.shape[1] < n:
            a = np.pad(a, ((0, 0), (0, n - a.shape[1])))
        return a


class TrainingSet:
    """Random chunks with track mixing and augmentation, indexed by (epoch, index).

    ``fixed=True`` turns every random choice off: each example is the middle ``chunk`` of
    track 0 as it is (the overfit check).
    """

    def __init__(self, audio: TrackAudio, chunk_seconds: float, seed: int,
                 targets: Sequence[str] = TARGETS, mix_tracks: bool = True,
                 augment: bool = True, fixed: bool = False, residual: bool = False) -> None:
        if not audio.tracks:
            raise ValueError("no training tracks")
        self.audio, self.targets, self.seed = audio, tuple(targets), int(seed)
        self.residual = residual
        self.n = int(round(chunk_seconds * SAMPLE_RATE))
        self.mix_tracks, self.augment, self.fixed = mix_tracks, augment, fixed

    def example(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(mixture (2, n), targets (targets, 2, n)) for one example."""
        rng = np.random.default_rng([self.seed, epoch, index])
        ntr = len(self.audio.tracks)
        base = int(rng.integers(ntr))
        stems = []
        for target in (*self.targets, "residual") if self.residual else self.targets:
            i = 0 if self.fixed else (int(rng.integers(ntr)) if self.mix_tracks else base)
            span = max(self.audio.lengths[i] - self.n, 0)
            start = span // 2 if self.fixed else int(rng.integers(span + 1))
            s = self.audio.read(i, target, start, self.n)
            if self.augment and not self.fixed:
                s = s * np.float32(rng.uniform(0.25, 1.25))
                if rng.random() < 0.5:
                    s = s[::-1]
            stems.append(s)
        y = np.stack(stems)
        return y.sum(0), y[: len(self.targets)]

    def batch(self, epoch: int, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Stacked tensors: mixture (batch, 2, n), targets (batch, targets, 2, n)."""
        ex = [self.example(epoch, i) for i in indices]
        return (torch.from_numpy(np.stack([e[0] for e in ex])),
                torch.from_numpy(np.ascontiguousarray(np.stack([e[1] for e in ex]))))


def validation_examples(audio: TrackAudio, seconds: float | None,
                        targets: Sequence[str] = TARGETS,
                        residual: bool = False) -> list[tuple[torch.Tensor, ...]]:
    """One fixed chunk per validation track: ``seconds`` from the track's middle (all of
    it with ``None``); mixture = sum of the stems (and of the residual with ``residual``).
    Items are ((1, 2, n), (1, targets, 2, n))."""
    out = []
    for i, length in enumerate(audio.lengths):
        n = length if seconds is None else min(length, int(round(seconds * SAMPLE_RATE)))
        start = (length - n) // 2
        y = np.stack([audio.read(i, t, start, n) for t in targets])
        mix = y.sum(0) + (audio.read(i, "residual", start, n) if residual else 0)
        out.append((torch.from_numpy(mix)[None], torch.from_numpy(y)[None]))
    return out
