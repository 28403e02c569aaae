"""Separate songs with a trained demixer: any length, rate and mono/stereo.

Long inputs are processed in chunks (default 30 s) that overlap (default 2 s) and are
cross-faded with linear ramps, so memory stays bounded by the chunk length. Other sample
rates are resampled to 44.1 kHz with ``scipy.signal.resample_poly`` and back; mono input is
duplicated to stereo for the model and the stems are averaged back to mono. Every stem has
the input's length, rate and channel count.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import torch

from tfselect import SAMPLE_RATE
from tfselect.atomic import atomic_write
from tfselect.demix.losses import SharedSTFT
from tfselect.demix.model import Demixer
from tfselect.demix.wiener import wiener_waveforms
from tfselect.errors import DatasetError, TfselectError


@torch.no_grad()
def separate_array(model: Demixer, mixture: np.ndarray, chunk_seconds: float = 30.0,
                   overlap_seconds: float = 2.0, wiener: bool = False,
                   stft: SharedSTFT | None = None) -> np.ndarray:
    """Estimates (targets, 2, n) float32 of a stereo 44.1 kHz ``mixture`` (2, n).

    ``wiener`` applies one Wiener-EM iteration in ``stft`` (default 4096/1024) per chunk.
    """
    if chunk_seconds <= 0 or overlap_seconds < 0 or overlap_seconds >= chunk_seconds:
        raise TfselectError(
            f"chunk {chunk_seconds} s and overlap {overlap_seconds} s: need 0 <= overlap < chunk"
        )
    dev = next(model.parameters()).device
    n = mixture.shape[-1]
    chunk = int(round(chunk_seconds * SAMPLE_RATE))
    ov = int(round(overlap_seconds * SAMPLE_RATE))
    stft = (stft or SharedSTFT()).to(dev)
    out = np.zeros((len(model.targets), 2, n), np.float32)
    weight = np.zeros(n, np.float32)
    for s in range(0, max(n - ov, 1), chunk - ov):
        e = min(s + chunk, n)
        x = torch.from_numpy(np.ascontiguousarray(mixture[:, s:e], dtype=np.float32)).to(dev)
        y = model(x[None])
        if wiener:
            y = wiener_waveforms(y, x[None], stft, iterations=1)
        w = np.ones(e - s, np.float32)
        k = min(ov, e - s)
        if k > 0:  # no overlap: chunks simply abut (w[-0:] would be the whole array)
            ramp = (np.arange(k, dtype=np.float32) + 0.5) / k
            if s > 0:
                w[:k] = ramp  # fade in where the previous chunk fades out
            if e < n:
                w[-k:] = np.minimum(w[-k:], ramp[::-1])
        out[..., s:e] += y[0].cpu().numpy() * w
        weight[s:e] += w
        if e == n:
            break
    return out / np.maximum(weight, 1e-8)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(channels, n) float32 and the rate of an audio file; DatasetError if unusable."""
    import soundfile as sf

    try:
        x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, OSError...
        raise DatasetError(f"{path}: cannot read audio ({exc})") from None
    if x.shape[1] > 2:
        raise DatasetError(f"{path}: {x.shape[1]} channels; separate handles mono or stereo")
    if x.shape[0] == 0:
        raise DatasetError(f"{path}: the file holds no samples")
    return np.ascontiguousarray(x.T), int(rate)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    from scipy.signal import resample_poly

    g = gcd(src, dst)
    return resample_poly(x, dst // g, src // g, axis=-1).astype(np.float32)


def separate_file(model: Demixer, path: Path, out_dir: Path, wiener: bool = False,
                  chunk_seconds: float = 30.0, overlap_seconds: float = 2.0) -> list[Path]:
    """Write ``out_dir/<song>/<target>.wav`` for every target; return the written paths.

    A model whose targets do not cover its training mixtures (``config.residual``) also
    writes ``residual.wav``: the input minus the written stems, so the files sum to the input.
    """
    import soundfile as sf

    path = Path(path)
    x, rate = read_audio(path)
    channels, n = x.shape
    x44 = _resample(x, rate, SAMPLE_RATE)
    stereo = np.repeat(x44, 2, 0) if channels == 1 else x44
    est = separate_array(model, stereo, chunk_seconds, overlap_seconds, wiener)
    folder = Path(out_dir) / path.stem
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rest = x.astype(np.float64)
    for target, y in zip(model.targets, est, strict=True):
        y = y.mean(0, keepdims=True) if channels == 1 else y
        y = _resample(y, SAMPLE_RATE, rate)
        y = y[:, :n] if y.shape[1] >= n else np.pad(y, ((0, 0), (0, n - y.shape[1])))
        dest = folder / f"{target}.wav"
        atomic_write(dest, lambda tmp, y=y: sf.write(str(tmp), y.T, rate, subtype="FLOAT"))
        written.append(dest)
        rest -= y  # what the stems as written leave of the input
    # Only a Demixer trained with a residual (targets not covering the mixture) has one.
    if getattr(getattr(model, "config", None), "residual", False):
        dest = folder / "residual.wav"
        rest = rest.astype(np.float32)
        atomic_write(dest, lambda tmp: sf.write(str(tmp), rest.T, rate, subtype="FLOAT"))
        written.append(dest)
    return written
