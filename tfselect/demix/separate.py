"""Separate songs with a trained demixer: any length, rate and mono/stereo.

Long inputs are processed in chunks (default 30 s) that overlap (default 2 s) and are
cross-faded with linear ramps, so memory stays bounded by the chunk length. Other sample
rates are resampled to 44.1 kHz with ``scipy.signal.resample_poly`` and back; mono input is
duplicated to stereo for the model and the stems are averaged back to mono. Every stem has
the input's length, rate and channel count.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from tfselect import SAMPLE_RATE
from tfselect.atomic import atomic_write
from tfselect.audio.dataset import check_finite
from tfselect.demix.model import Demixer
from tfselect.demix.separate_io import FLOAT_WAV, AudioInput, OutputFormat, Stem, stem_plan
from tfselect.demix.shared_stft import SharedSTFT
from tfselect.demix.wiener import wiener_waveforms
from tfselect.errors import DatasetError, TfselectError

# Imported inside the functions that need them, so that importing this module stays light:
# scipy.signal (resampling).

# Wiener-EM converges in a few iterations (Open-Unmix uses 1); more only costs time.
MAX_WIENER_ITERATIONS = 20
# The longest chunk: the model holds a chunk's coefficients in memory at once.
MAX_CHUNK_SECONDS = 3600.0


def check_chunking(chunk_seconds: float, overlap_seconds: float) -> None:
    """TfselectError (one line) unless 0 <= overlap < chunk <= an hour, both finite."""
    # One chain says it all: NaN fails every comparison, and infinity the bounds.
    if not 0 <= overlap_seconds < chunk_seconds <= MAX_CHUNK_SECONDS:
        raise TfselectError(
            f"--chunk {chunk_seconds} s and --overlap {overlap_seconds} s: need "
            f"0 <= overlap < chunk <= {MAX_CHUNK_SECONDS:g}"
        )
    if int(round(chunk_seconds * SAMPLE_RATE)) - int(round(overlap_seconds * SAMPLE_RATE)) < 1:
        raise TfselectError(
            f"--chunk {chunk_seconds} s is shorter than one sample past the overlap"
        )


def base_names(paths: list[Path]) -> list[str]:
    """Each input's folder name before it is made unique: the file's stem made safe (no
    separators, no leading dot, so no ``..``); MUSDB's ``<Track>/mixture.wav`` takes its
    folder's name."""
    names = []
    for p in map(Path, paths):
        stem = p.name.split(".")[0] if p.name.endswith(".stem.mp4") else p.stem
        if stem == "mixture" and p.parent.name not in ("", ".."):  # Path drops "." parts
            stem = p.resolve().parent.name
        safe = re.sub(r"[^\w.\- +,()\[\]]", "_", stem).lstrip(".").strip() or "song"
        names.append(safe)
    return names


def output_names(paths: list[Path]) -> list[str]:
    """One folder name per input, safe and unique: never a path component of its own.

    The name is the file's stem made safe (no separators, no leading dot, so no ``..``);
    MUSDB's ``<Track>/mixture.wav`` takes its folder's name; repeats get ``-2``, ``-3``...
    """
    names = base_names(paths)
    plain, taken, out = set(names), set(), []
    for name in names:
        candidate, k = name, 1
        # later repeats take the first free "-k" that no other input is named plainly
        while candidate in taken or (k > 1 and candidate in plain):
            k += 1
            candidate = f"{name}-{k}"
        taken.add(candidate)
        out.append(candidate)
    return out


def shared_names(paths: list[Path]) -> list[tuple[Path, str]]:
    """(input, folder name) of every input whose name another input shares (all of them,
    the first too), in input order; empty when every input has a name of its own. What a
    user needs told: folders ``song`` and ``song-2`` no longer say which input is which."""
    bases = base_names(paths)
    counts = Counter(bases)
    return [
        (Path(p), name)
        for p, name, base in zip(paths, output_names(paths), bases, strict=True)
        if counts[base] > 1
    ]


def output_folder(
    out_dir: Path, name: str, targets: list[str], overwrite: bool, suffix: str = ".wav"
) -> Path:
    """``out_dir/name``, checked to lie inside ``out_dir``, its stems (``<target><suffix>``)
    to lie inside it (:func:`stem_path`) and, unless ``overwrite``, to hold none of the
    stems about to be written; TfselectError (one line) otherwise."""
    out_dir = Path(out_dir)
    folder = out_dir / name
    base = out_dir.resolve()
    if folder.resolve().parent != base:
        raise TfselectError(f"output name {name!r} would leave --out {out_dir}")
    stems = [stem_path(folder, t, suffix) for t in targets]
    if not overwrite:
        existing = [p for p in stems if p.exists()]
        if existing:
            raise TfselectError(f"{existing[0]} exists (use --overwrite to replace it)")
    return folder


def stem_path(folder: Path, target: str, suffix: str = ".wav") -> Path:
    """``folder/<target><suffix>``, checked to be a file directly in ``folder``;
    TfselectError otherwise. Target names come from a model folder, which is data from
    someone else: they are checked when it is loaded, and this is the last guard before a
    file is written."""
    dest = folder / f"{target}{suffix}"
    if dest.name != f"{target}{suffix}" or dest.parent.resolve() != folder.resolve():
        raise TfselectError(f"target name {target!r} would leave {folder}")
    return dest


def stem_names(model: Demixer) -> list[str]:
    """The names of the stems separation writes: the targets, and ``residual`` for a model
    whose targets do not cover its training mixtures (so that it too is never clobbered)."""
    residual = getattr(getattr(model, "config", None), "residual", False)
    return [*model.targets, "residual"] if residual else list(model.targets)


@torch.no_grad()
def separate_array(
    model: Demixer,
    mixture: np.ndarray,
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 2.0,
    wiener: bool = False,
    stft: SharedSTFT | None = None,
    wiener_iterations: int = 1,
    on_chunk: Callable[[], object] | None = None,
) -> np.ndarray:
    """Estimates (targets, 2, n) float32 of a stereo 44.1 kHz ``mixture`` (2, n).

    ``wiener`` applies ``wiener_iterations`` Wiener-EM iterations in ``stft`` (default
    4096/1024) per chunk; ``on_chunk`` is called after each chunk (:func:`chunk_count` of
    them).
    """
    check_chunking(chunk_seconds, overlap_seconds)
    if not 1 <= wiener_iterations <= MAX_WIENER_ITERATIONS:
        raise TfselectError(
            f"--wiener-iterations must be 1 to {MAX_WIENER_ITERATIONS}, got {wiener_iterations}"
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
            y = wiener_waveforms(y, x[None], stft, iterations=wiener_iterations)
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
        if on_chunk is not None:
            on_chunk()
        if e == n:
            break
    return out / np.maximum(weight, 1e-8)


def chunk_count(n: int, chunk_seconds: float, overlap_seconds: float) -> int:
    """How many chunks :func:`separate_array` cuts ``n`` samples (44.1 kHz) into: starts
    0, step, 2·step... (step = chunk - overlap) up to the first chunk that reaches ``n``."""
    size = round(chunk_seconds * SAMPLE_RATE)
    step = size - round(overlap_seconds * SAMPLE_RATE)
    return 1 + max(0, -(-(n - size) // step))  # ceil((n - size) / step), at least 0


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(channels, n) float32 and the rate of an audio file; DatasetError if unusable."""
    try:
        x, rate = sf.read(os.fsencode(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, OSError...
        raise DatasetError(f"{path}: cannot read audio ({exc})") from None
    if x.shape[1] > 2:
        raise DatasetError(f"{path}: {x.shape[1]} channels; separate handles mono or stereo")
    if x.shape[0] == 0:
        raise DatasetError(f"{path}: the file holds no samples")
    check_finite(x, path)
    return np.ascontiguousarray(x.T), int(rate)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """``x`` (channels, n) at ``src`` Hz -> float32 at ``dst`` Hz, ``ceil(n·dst/src)`` samples
    (``resample_poly`` rounds up, so resampling there and back never loses a sample)."""
    if src == dst:
        return x
    from scipy.signal import resample_poly

    ratio = Fraction(dst, src)  # in lowest terms: the smallest polyphase filter
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)


def separate_file(
    model: Demixer,
    path: Path,
    out_dir: Path,
    wiener: bool = False,
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 2.0,
    wiener_iterations: int = 1,
    overwrite: bool = False,
    name: str | None = None,
    stems: list[Stem] | None = None,
    output: OutputFormat = FLOAT_WAV,
    on_chunk: Callable[[], object] | None = None,
) -> list[Path]:
    """Write ``out_dir/<name>/<stem><suffix>`` for every stem; return the written paths.

    ``stems`` (default :func:`default_stems`): every target, and for a model whose targets
    do not cover its training mixtures (``config.residual``) ``residual``, the input minus
    the targets' estimates, so the files sum to the input; or those :func:`stem_plan` chose.
    ``output``: the file format (default float WAV). ``name`` defaults to
    :func:`output_names` of this one file. Existing stems are replaced only with
    ``overwrite``. ``on_chunk`` is called after each chunk the model has separated.
    """
    path = Path(path)
    stems = stems if stems is not None else default_stems(model)
    name = name if name is not None else output_names([path])[0]
    folder = output_folder(out_dir, name, [s.name for s in stems], overwrite, output.suffix)
    x, rate = read_audio(path)
    channels, n = x.shape
    x44 = _resample(x, rate, SAMPLE_RATE)
    stereo = np.repeat(x44, 2, 0) if channels == 1 else x44
    est = separate_array(
        model,
        stereo,
        chunk_seconds,
        overlap_seconds,
        wiener,
        wiener_iterations=wiener_iterations,
        on_chunk=on_chunk,
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TfselectError(f"cannot create {folder}: {exc.strerror or exc}") from None
    # Each target's estimate at the input's rate, length and channels (float32).
    back = {}
    for target, y in zip(model.targets, est, strict=True):
        y = y.mean(0, keepdims=True) if channels == 1 else y
        back[target] = _resample(y, SAMPLE_RATE, rate)[:, :n]  # never shorter (_resample)
    written = []
    for stem in stems:
        if stem.kind == "target":
            y = back[stem.target]
        elif stem.kind == "complement":  # the input minus one estimate (float64 sum)
            y = x.astype(np.float64) - back[stem.target]
        else:  # residual: what the targets' estimates leave of the input
            y = x.astype(np.float64) - np.sum([back[t] for t in model.targets], 0, dtype=np.float64)
        dest = stem_path(folder, stem.name, output.suffix)
        atomic_write(dest, lambda tmp, y=y: output.write(tmp, y, rate))
        written.append(dest)
    return written


def default_stems(model: Demixer) -> list[Stem]:
    """Every stem of ``model`` (:func:`stem_names`): its targets, then its residual."""
    residual = "residual" in stem_names(model)
    return stem_plan(list(model.targets), residual)


def separate_songs(
    model: Demixer,
    songs: list[AudioInput],
    names: list[str],
    out_dir: Path,
    wiener: bool = False,
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 2.0,
    wiener_iterations: int = 1,
    overwrite: bool = False,
    stems: list[Stem] | None = None,
    output: OutputFormat = FLOAT_WAV,
    progress: bool = True,
    on_file: Callable[[Path], object] | None = None,
) -> list[Path]:
    """:func:`separate_file` for each song into ``out_dir/<names[i]>``, under one progress
    bar (stderr) counting the chunks of all songs; ``on_file`` is called with each stem once
    written (with the bar cleared, so a line printed there stays whole)."""
    total = sum(chunk_count(-(-s.frames * SAMPLE_RATE // s.rate), chunk_seconds,
                            overlap_seconds) for s in songs)  # fmt: skip
    written: list[Path] = []
    bar = tqdm(total=total, unit="chunk", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)  # fmt: skip
    try:
        for i, (song, name) in enumerate(zip(songs, names, strict=True), 1):
            bar.set_description(f"song {i}/{len(songs)}", refresh=False)
            bar.set_postfix_str(name if len(name) <= 30 else name[:29] + "…")
            for stem in separate_file(model, song.path, out_dir, wiener, chunk_seconds,
                                      overlap_seconds, wiener_iterations, overwrite, name,
                                      stems, output, on_chunk=bar.update):  # fmt: skip
                written.append(stem)
                if on_file is not None:
                    with tqdm.external_write_mode(file=sys.stdout):
                        on_file(stem)
    except BaseException:
        bar.leave = False  # a terminal shows the error alone, not a bar stopped midway
        raise
    finally:
        bar.close()
    return written
