"""The search space: which transform specs a trial may propose.

A :class:`SearchSpace` turns an Optuna trial into one canonical transform spec string
(``slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050`` or ``stft:n_fft=4096,hop=1024``).
Defaults follow the published xumx-sliCQ searches (DESIGN §6), with the bin range widened
toward 1000 because oracle quality tends to grow with the bin count; the slice length that
such a transform needs is capped (``sllen_max`` samples, 44100 = 1 s at 44.1 kHz).

Parameters are conditional: ``scale`` is one of the sliCQT scales or ``stft``, ``gamma``
exists only for the ``vqlog`` scale, ``n_fft``/``overlap`` only for the STFT, ``phase`` and
``form`` only when several values are allowed. Optuna's TPE (multivariate, grouped)
handles such conditional spaces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from tfselect import SAMPLE_RATE
from tfselect.errors import SpecError, TfselectError
from tfselect.transforms.spec import MAX_BINS, MAX_N_FFT, MAX_SLLEN

SCALES = ("log", "mel", "bark", "vqlog", "lin")
PHASES = ("local", "global")
FORMS = ("ragged", "zeropad", "rasterize")


def _pair(name: str, value: Any, kind: type) -> tuple:
    """Read a ``[lo, hi]`` range (or a single number meaning a fixed value) from config."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise TfselectError(f"space.{name}: expected [low, high], got {value!r}")
    if not all(_is_number(v, kind) for v in value):
        what = "integers" if kind is int else "finite numbers"
        raise TfselectError(f"space.{name}: expected two {what}, got {value!r}")
    lo, hi = (kind(v) for v in value)
    if lo > hi:
        raise TfselectError(f"space.{name}: low {lo} is above high {hi}")
    return lo, hi


def _is_number(v: Any, kind: type) -> bool:
    """A TOML number of the right kind: no booleans, no strings, integers for ``int``."""
    if isinstance(v, bool):
        return False
    if kind is int:
        return isinstance(v, int)
    return isinstance(v, (int, float)) and math.isfinite(v)


def _choices(name: str, value: Any, allowed: tuple | None = None, kind: type = str) -> tuple:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise TfselectError(f"space.{name}: expected a list, got {value!r}")
    if not all(_is_number(v, kind) if kind is not str else isinstance(v, str) for v in value):
        raise TfselectError(f"space.{name}: bad value in {value!r}")
    out = tuple(kind(v) for v in value)
    if allowed is not None:
        bad = [v for v in out if v not in allowed]
        if bad:
            raise TfselectError(
                f"space.{name}: unknown value {bad[0]!r} (allowed: {', '.join(allowed)})"
            )
    return tuple(dict.fromkeys(out))  # dedupe, keep order


@dataclass(frozen=True)
class SearchSpace:
    """Ranges and choices a trial samples from.

    Attributes:
        scales: sliCQT frequency scales; empty = no sliCQT candidates.
        bins: inclusive [low, high] number of frequency bins.
        bins_log: sample bins log-uniformly (small and large counts get equal attention).
        fmin: [low, high] lowest bin frequency in Hz (rounded to 0.1 Hz).
        fmax: [low, high] highest bin frequency in Hz (default: Nyquist, fixed).
        gamma: [low, high] vqlog bandwidth offset in Hz.
        sllen_max: largest slice length in samples a candidate may need; larger -> pruned.
        phase: sliCQT phase conventions tried.
        form: sliCQT coefficient forms tried.
        stft: whether the STFT is a candidate.
        stft_n_fft: STFT window lengths tried (samples).
        stft_overlap: hop = n_fft / overlap, values tried.
    """

    scales: tuple[str, ...] = ("log", "mel", "bark", "vqlog")
    bins: tuple[int, int] = (10, 1000)
    bins_log: bool = True
    fmin: tuple[float, float] = (10.0, 130.0)
    fmax: tuple[float, float] = (22050.0, 22050.0)
    gamma: tuple[float, float] = (0.0, 100.0)
    sllen_max: int = 44100
    phase: tuple[str, ...] = ("local",)
    form: tuple[str, ...] = ("ragged",)
    stft: bool = True
    stft_n_fft: tuple[int, ...] = (1024, 2048, 4096, 8192)
    stft_overlap: tuple[int, ...] = (4,)

    def choices(self) -> dict[str, list]:
        """The categorical choices (JSON-able), which a study cannot change once created."""
        return {
            "scales": list(self.scales), "phase": list(self.phase), "form": list(self.form),
            "stft": self.stft, "stft_n_fft": list(self.stft_n_fft),
            "stft_overlap": list(self.stft_overlap),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SearchSpace:
        """Build from the ``[space]`` table of a study TOML; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TfselectError(
                f"space: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
            )
        kw: dict[str, Any] = {}
        for key, value in d.items():
            if key == "scales":
                kw[key] = _choices(key, value, SCALES)
            elif key == "bins":
                kw[key] = _pair(key, value, int)
            elif key in ("fmin", "fmax", "gamma"):
                kw[key] = _pair(key, value, float)
            elif key == "phase":
                kw[key] = _choices(key, value, PHASES)
            elif key == "form":
                kw[key] = _choices(key, value, FORMS)
            elif key in ("stft_n_fft", "stft_overlap"):
                kw[key] = _choices(key, value, None, int)
            elif key in ("stft", "bins_log"):
                if not isinstance(value, bool):
                    raise TfselectError(f"space.{key}: expected true or false, got {value!r}")
                kw[key] = value
            elif key == "sllen_max":
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise TfselectError(f"space.sllen_max: expected a positive int, got {value!r}")
                kw[key] = value
        space = cls(**kw)
        space.validate()
        return space

    def validate(self) -> None:
        """Raise TfselectError (one line) if the space is empty or inconsistent."""
        if not self.scales and not self.stft:
            raise TfselectError("search space is empty: no sliCQT scales and the STFT is off")
        if self.stft and (not self.stft_n_fft or not self.stft_overlap):
            raise TfselectError("search space: stft is on but stft_n_fft/stft_overlap is empty")
        if self.scales:
            if not self.phase or not self.form:
                raise TfselectError("search space is empty: no phase or no form choice")
            if self.bins[0] < 1:
                raise TfselectError(f"space.bins: low must be >= 1, got {self.bins[0]}")
            if self.fmin[0] <= 0:
                raise TfselectError(f"space.fmin: low must be > 0 Hz, got {self.fmin[0]}")
            if self.fmin[1] >= self.fmax[0]:
                raise TfselectError(
                    f"search space is empty: fmin up to {self.fmin[1]} Hz is not below "
                    f"fmax from {self.fmax[0]} Hz"
                )
            # what a spec can hold (the spec's own limits; sampled values stay inside)
            if self.bins[1] > MAX_BINS:
                raise TfselectError(f"space.bins: high must be <= {MAX_BINS}, got {self.bins[1]}")
            if self.fmax[1] > SAMPLE_RATE / 2:
                raise TfselectError(f"space.fmax: high must be <= Nyquist = {SAMPLE_RATE // 2} "
                                    f"Hz, got {self.fmax[1]}")
            if self.gamma[0] < 0 or self.gamma[1] > SAMPLE_RATE / 2:
                raise TfselectError(f"space.gamma: must lie in [0, {SAMPLE_RATE // 2}] Hz, "
                                    f"got {list(self.gamma)}")
        if not 1 <= self.sllen_max <= MAX_SLLEN:
            raise TfselectError(f"space.sllen_max: must be in [1, {MAX_SLLEN}], "
                                f"got {self.sllen_max}")
        for n in self.stft_n_fft:
            if not 16 <= n <= MAX_N_FFT:
                raise TfselectError(f"space.stft_n_fft: {n} must be in [16, {MAX_N_FFT}]")
        for o in self.stft_overlap:
            # hop = n_fft / overlap must be in [1, n_fft/2], as the STFT spec requires
            if not 2 <= o <= min(self.stft_n_fft or (16,)):
                raise TfselectError(f"space.stft_overlap: {o} must be in [2, the smallest "
                                    f"n_fft = {min(self.stft_n_fft or (16,))}]")

    def suggest(self, trial) -> str:
        """Sample one candidate from ``trial`` and return its spec string (not yet validated)."""
        # The STFT is one more choice of "scale": it gets the prior weight of one scale,
        # not half of all trials as a separate kind/sliCQT coin flip would give it.
        choices = self.scales + (("stft",) if self.stft else ())
        scale = _cat(trial, "scale", choices)
        if scale == "stft":
            n_fft = _cat(trial, "n_fft", self.stft_n_fft)
            overlap = _cat(trial, "overlap", self.stft_overlap)
            return f"stft:n_fft={n_fft},hop={max(1, n_fft // overlap)}"
        bins = (
            self.bins[0]
            if self.bins[0] == self.bins[1]
            else trial.suggest_int("bins", self.bins[0], self.bins[1], log=self.bins_log)
        )
        fmin = _float(trial, "fmin", self.fmin, step=0.1)
        fmax = _float(trial, "fmax", self.fmax, step=0.1)
        parts = [f"scale={scale}", f"bins={bins}", f"fmin={_num(fmin)}", f"fmax={_num(fmax)}"]
        if scale == "vqlog":
            parts.append(f"gamma={_num(_float(trial, 'gamma', self.gamma, step=0.1))}")
        phase = _cat(trial, "phase", self.phase)
        form = _cat(trial, "form", self.form)
        # Defaults are left out so the string equals the canonical spec of the transforms.
        if phase != "local":
            parts.append(f"phase={phase}")
        if form != "ragged":
            parts.append(f"form={form}")
        return "slicqt:" + ",".join(parts)


def _cat(trial, name: str, choices: tuple):
    return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, list(choices))


def _float(trial, name: str, bounds: tuple[float, float], step: float) -> float:
    lo, hi = bounds
    if lo == hi:
        return lo
    # A 0.1 Hz grid keeps spec strings short and lets identical candidates repeat exactly.
    lo_g, hi_g = round(lo / step) * step, round(hi / step) * step
    if lo_g >= hi_g:
        return lo
    return round(trial.suggest_float(name, lo_g, hi_g, step=step), 6)


def _num(x: float) -> str:
    """Format a frequency like the spec strings do: integers without a decimal point."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_slice_length(spec, sample_rate: int, sllen_max: int) -> None:
    """Raise SpecError when ``spec`` is invalid at ``sample_rate`` or needs slices longer
    than ``sllen_max`` samples.

    Long slices make the sliCQT slow and memory-hungry and blur onsets; the cap bounds the
    space the way the xumx-sliCQ searches did. Only sliCQT specs have slices.
    """
    resolved = spec.resolved(sample_rate)  # SpecError for fmax above Nyquist etc.
    sllen = getattr(resolved, "sllen", None)
    if spec.kind == "slicqt" and sllen is not None and sllen > sllen_max:
        raise SpecError(
            f"{spec}: needs slice length {sllen} samples, above the cap sllen_max={sllen_max}"
        )
