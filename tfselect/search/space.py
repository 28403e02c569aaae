"""The search space: which transforms a trial may propose.

:meth:`SearchSpace.propose` turns an Optuna trial into one :class:`TransformSpec`
(``slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050`` or
``stft:n_fft=6144,hop=768,window=blackman``).
sliCQT defaults follow the published xumx-sliCQ searches, with the bin range widened toward
1000 because oracle quality tends to grow with the bin count. The STFT is a real competitor:
any n_fft in a stepped range, hop = n_fft / {2, 4, 8}, window hann, hamming or blackman.

Every proposal is feasible: the slice length a sliCQT needs grows with its bin count, so
the bins are drawn last, as a fraction ``bins_q`` of the range that fits under the cap
``sllen_max`` for the scale, fmin, fmax and gamma already drawn. The search never spends a
trial on a candidate it would have to reject. :meth:`SearchSpace.check` is the one rule of
feasibility: the bisection over bins asks it, and ``propose`` asks it of what it returns.

The band-wise multi-resolution STFT (``mrstft``) is off by default (``mrstft = true`` turns
it on): 2 or 3 bands (``mrstft_bands``), edges drawn log-uniformly in ``mrstft_edges`` Hz,
each at least :data:`~tfselect.transforms.spec.CROSSOVER_OCTAVES` octave above the one
below (drawn in order, as fractions of the range still feasible, so every proposal is valid),
one n_fft per band on the STFT's grid (``mrstft_n_fft``), one overlap and one window shared
by the bands (``stft_overlap``, ``stft_window``).

Parameters are conditional: ``scale`` is one of the sliCQT scales or ``stft``, ``gamma``
exists only for the ``vqlog`` scale, the ``stft_*`` parameters only for the STFT, ``phase``
and ``form`` only when several values are allowed. Optuna's TPE (multivariate, grouped)
handles such conditional spaces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from tfselect import SAMPLE_RATE
from tfselect.errors import SpecError, TfselectError
from tfselect.transforms import TransformSpec
from tfselect.transforms.scales import SCALES
from tfselect.transforms.spec import (
    CROSSOVER_OCTAVES,
    MAX_BANDS,
    MAX_BINS,
    MAX_N_FFT,
    MAX_SLLEN,
    PHASES,
    WINDOWS,
)
from tfselect.transforms.spec import FORMS as SPEC_FORMS

# The choices come from the transforms layer, which owns them; a study may choose every
# sliCQT form but piecewise (an intermediate between ragged and rasterize).
FORMS = tuple(f for f in SPEC_FORMS if f != "piecewise")


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
        stft_n_fft: inclusive [low, high] STFT window length in samples, on a grid of
            ``stft_n_fft_step`` samples.
        stft_n_fft_step: grid of n_fft in samples (low and high must be multiples of it).
        stft_overlap: hop = n_fft / overlap, values tried (each must divide n_fft).
        stft_window: STFT windows tried.
        mrstft: whether the band-wise multi-resolution STFT is a candidate (off by default).
        mrstft_bands: numbers of bands tried (each in [2, MAX_BANDS]).
        mrstft_edges: [low, high] range of the crossover edges in Hz.
        mrstft_n_fft: inclusive [low, high] n_fft of each band, on the ``stft_n_fft_step``
            grid; overlap and window as the STFT's.
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
    stft_n_fft: tuple[int, int] = (512, 16384)
    stft_n_fft_step: int = 512
    stft_overlap: tuple[int, ...] = (2, 4, 8)
    stft_window: tuple[str, ...] = ("hann", "hamming", "blackman")
    mrstft: bool = False
    mrstft_bands: tuple[int, ...] = (2, 3)
    mrstft_edges: tuple[float, float] = (100.0, 8000.0)
    mrstft_n_fft: tuple[int, int] = (1024, 16384)

    def choices(self) -> dict[str, list]:
        """The categorical choices (JSON-able), which a study cannot change once created."""
        out = {
            "scales": list(self.scales), "phase": list(self.phase), "form": list(self.form),
            "stft": self.stft, "stft_overlap": list(self.stft_overlap),
            "stft_window": list(self.stft_window),
        }  # fmt: skip
        if self.mrstft:  # only then: studies stored before the family existed still match
            out |= {"mrstft": True, "mrstft_bands": list(self.mrstft_bands)}
        return out

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
            elif key in ("stft_n_fft", "mrstft_n_fft"):
                kw[key] = _pair(key, value, int)
            elif key == "mrstft_edges":
                kw[key] = _pair(key, value, float)
            elif key == "mrstft_bands":
                kw[key] = _choices(key, value, None, int)
            elif key == "stft_overlap":
                kw[key] = _choices(key, value, None, int)
            elif key == "stft_window":
                kw[key] = _choices(key, value, WINDOWS)
            elif key in ("stft", "bins_log", "mrstft"):
                if not isinstance(value, bool):
                    raise TfselectError(f"space.{key}: expected true or false, got {value!r}")
                kw[key] = value
            elif key in ("sllen_max", "stft_n_fft_step"):
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise TfselectError(f"space.{key}: expected a positive int, got {value!r}")
                kw[key] = value
        space = cls(**kw)
        space.validate()
        return space

    def validate(self) -> None:
        """Raise TfselectError (one line) if the space is empty or inconsistent."""
        if not self.scales and not self.stft and not self.mrstft:
            raise TfselectError("search space is empty: no sliCQT scales, the STFT and the "
                                "mrstft are off")
        if (self.stft or self.mrstft) and (not self.stft_overlap or not self.stft_window):
            raise TfselectError("search space: stft or mrstft is on but stft_overlap/"
                                "stft_window is empty")
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
        if self.scales:
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
        grids = (["stft_n_fft"] if self.stft else []) + (["mrstft_n_fft"] if self.mrstft else [])
        for name in grids:
            lo, hi = getattr(self, name)
            step = self.stft_n_fft_step
            if not 16 <= lo <= hi <= MAX_N_FFT:
                raise TfselectError(
                    f"space.{name}: [{lo}, {hi}] must be a range within [16, {MAX_N_FFT}]"
                )
            if lo % step or hi % step:
                raise TfselectError(
                    f"space.{name}: [{lo}, {hi}] must be multiples of stft_n_fft_step={step}"
                )
        if self.mrstft:
            self._validate_mrstft()
        if self.stft or self.mrstft:
            step = self.stft_n_fft_step
            for o in self.stft_overlap:
                # hop <= n_fft/2 keeps the STFT exactly invertible; n_fft/overlap must be whole.
                if o < 2 or step % o:
                    raise TfselectError(
                        f"space.stft_overlap: {o} must be >= 2 and divide stft_n_fft_step={step}"
                    )
        if self.scales:
            lowest = min(
                self.max_bins(s, self.fmin[0], self.fmax[0], self.gamma[0]) for s in self.scales
            )
            if lowest < self.bins[0]:
                raise TfselectError(
                    f"search space: {self.bins[0]} bins already need slices above "
                    f"sllen_max={self.sllen_max} for some scale (raise sllen_max or lower bins)"
                )

    def _validate_mrstft(self) -> None:
        """The mrstft rules: band counts, and edge ranges that hold every count's edges."""
        if not self.mrstft_bands or not all(2 <= b <= MAX_BANDS for b in self.mrstft_bands):
            raise TfselectError(f"space.mrstft_bands: each must be in [2, {MAX_BANDS}], got "
                                f"{list(self.mrstft_bands)}")
        lo, hi = self.mrstft_edges
        top = hi * 2.0 ** (CROSSOVER_OCTAVES / 2)
        if lo <= 0 or top >= SAMPLE_RATE / 2:
            raise TfselectError(f"space.mrstft_edges: [{lo:g}, {hi:g}] Hz must be > 0 and its "
                                f"top crossover below Nyquist (high <= "
                                f"{SAMPLE_RATE / 2 / 2 ** (CROSSOVER_OCTAVES / 2):.0f} Hz)")
        need = CROSSOVER_OCTAVES * (max(self.mrstft_bands) - 2)
        if math.log2(hi / lo) < need - 1e-9:
            raise TfselectError(f"space.mrstft_edges: [{lo:g}, {hi:g}] Hz is too narrow for "
                                f"{max(self.mrstft_bands)} bands (edges {CROSSOVER_OCTAVES:g} "
                                f"octave apart need {need:g} octaves)")

    def max_bins(self, scale: str, fmin: float, fmax: float, gamma: float = 0.0) -> int:
        """Most bins (within ``bins``) whose slices fit under ``sllen_max``; ``bins[0] - 1``
        when even the fewest do not fit.

        The needed slice length grows with the bin count (narrower bands, longer windows),
        so a bisection over the integer range finds the limit.
        """

        def fits(bins: int) -> bool:
            try:
                self.check(_slicqt_spec(scale, bins, fmin, fmax, gamma))
            except SpecError:
                return False
            return True

        lo, hi = self.bins
        if not fits(lo):
            return lo - 1
        while lo < hi:  # invariant: fits(lo)
            mid = (lo + hi + 1) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid - 1
        return lo

    def check(self, spec: TransformSpec) -> TransformSpec:
        """``spec`` if it is feasible here, else SpecError (one line): invalid at the
        search's sample rate (fmax above Nyquist, ...) or, for a sliCQT, needing slices
        longer than ``sllen_max`` samples.

        Long slices make the sliCQT slow and memory-hungry and blur onsets; the cap bounds
        the space the way the xumx-sliCQ searches did. Only sliCQT specs have slices.
        """
        resolved = spec.resolved(SAMPLE_RATE)  # SpecError for fmax above Nyquist etc.
        if spec.kind == "slicqt" and resolved.sllen > self.sllen_max:
            raise SpecError(f"{spec}: needs slice length {resolved.sllen} samples, above the "
                            f"cap sllen_max={self.sllen_max}")  # fmt: skip
        return spec

    def propose(self, trial) -> TransformSpec:
        """Sample one feasible candidate from ``trial`` (checked by :meth:`check`)."""
        return self.check(self._propose(trial))

    def _propose(self, trial) -> TransformSpec:
        # The STFT is one more choice of "scale": it gets the prior weight of one scale,
        # not half of all trials as a separate kind/sliCQT coin flip would give it.
        choices = self.scales + (("stft",) if self.stft else ())
        choices += ("mrstft",) if self.mrstft else ()
        scale = _cat(trial, "scale", choices)
        if scale == "mrstft":
            return self._propose_mrstft(trial)
        if scale == "stft":
            lo, hi = self.stft_n_fft
            step = self.stft_n_fft_step
            n_fft = lo if lo == hi else trial.suggest_int("stft_n_fft", lo, hi, step=step)
            overlap = _cat(trial, "stft_overlap", self.stft_overlap)
            window = _cat(trial, "stft_window", self.stft_window)
            return TransformSpec(kind="stft", n_fft=n_fft, hop=n_fft // overlap, window=window)
        fmin = _float(trial, "fmin", self.fmin, step=0.1)
        fmax = _float(trial, "fmax", self.fmax, step=0.1)
        gamma = _float(trial, "gamma", self.gamma, step=0.1) if scale == "vqlog" else None
        top = self.max_bins(scale, fmin, fmax, gamma or 0.0)
        lo = self.bins[0]
        if top < lo:  # validate() rules this out for the range's corners; keep it loud
            raise SpecError(f"{scale} with fmin={fmin}: {lo} bins exceed sllen_max")
        if self.bins[0] == self.bins[1]:
            bins = lo
        else:
            # A fixed [0, 1] parameter mapped onto the feasible range [lo, top]: the range
            # moves with scale/fmin/gamma, a fixed distribution keeps Optuna's models valid.
            q = trial.suggest_float("bins_q", 0.0, 1.0)
            if self.bins_log:
                bins = round(math.exp(math.log(lo) + q * (math.log(top) - math.log(lo))))
            else:
                bins = round(lo + q * (top - lo))
            bins = min(max(bins, lo), top)
        phase = _cat(trial, "phase", self.phase)
        form = _cat(trial, "form", self.form)
        return TransformSpec(
            kind="slicqt", scale=scale, bins=bins, fmin=fmin, fmax=fmax, gamma=gamma,
            phase=phase, form=form,
        )  # fmt: skip

    def _propose_mrstft(self, trial):
        """An always-valid mrstft: edges in order, each a fraction of what still fits."""

        bands = _cat(trial, "mrstft_bands", self.mrstft_bands)
        lo, hi = (math.log2(v) for v in self.mrstft_edges)
        edges: list[float] = []
        for i in range(bands - 1):
            # room left for the edges above this one, CROSSOVER_OCTAVES apart
            a = lo if not edges else math.log2(edges[-1]) + CROSSOVER_OCTAVES
            b = hi - CROSSOVER_OCTAVES * (bands - 2 - i)
            q = trial.suggest_float(f"mrstft_edge{i}_q", 0.0, 1.0)
            # rounded up to 0.1 Hz: never below the spacing the spec requires
            edges.append(math.ceil(2.0 ** (a + q * max(b - a, 0.0)) * 10) / 10)
        n_lo, n_hi = self.mrstft_n_fft
        step = self.stft_n_fft_step
        n_fft = tuple(n_lo if n_lo == n_hi else trial.suggest_int(f"mrstft_n_fft{i}", n_lo,
                                                                  n_hi, step=step)
                      for i in range(bands))  # fmt: skip
        overlap = _cat(trial, "stft_overlap", self.stft_overlap)
        window = _cat(trial, "stft_window", self.stft_window)
        return TransformSpec(kind="mrstft", edges=tuple(edges), n_fft=n_fft,
                             hop=tuple(n // overlap for n in n_fft), window=window)  # fmt: skip

    def suggest(self, trial) -> str:
        """``propose`` as a canonical spec string."""
        return str(self.propose(trial))

    def params_for(self, spec: TransformSpec) -> dict[str, Any] | None:
        """Trial parameters under which ``propose`` gives ``spec`` (for ``enqueue_trial``), or
        None when the space cannot express it (then the spec is evaluated without params).

        Samplers that model only the parameters every trial has (GP) need the references'
        parameters too, or they would model nothing.
        """

        choices = self.scales + (("stft",) if self.stft else ())
        params: dict[str, Any] = {}
        scale = "stft" if spec.kind == "stft" else spec.scale
        if spec.kind not in ("stft", "slicqt") or scale not in choices:
            return None
        if len(choices) > 1:
            params["scale"] = scale
        if spec.kind == "stft":
            lo, hi = self.stft_n_fft
            overlap = spec.n_fft // spec.hop
            if not (lo <= spec.n_fft <= hi and spec.n_fft % self.stft_n_fft_step == 0
                    and overlap in self.stft_overlap and spec.window in self.stft_window
                    and spec.n_fft == spec.hop * overlap):  # fmt: skip
                return None
            fixed = {"stft_n_fft": spec.n_fft, "stft_overlap": overlap, "stft_window": spec.window}
            params.update(_varying(fixed, lo == hi, self.stft_overlap, self.stft_window))
            return params
        if spec.sllen is not None or spec.trlen is not None or spec.phase not in self.phase or (
            spec.form not in self.form
        ):
            return None
        for name, bounds in (("fmin", self.fmin), ("fmax", self.fmax)):
            value = getattr(spec, name)
            if not bounds[0] <= value <= bounds[1]:
                return None
            if bounds[0] != bounds[1]:
                params[name] = value
        if spec.scale == "vqlog":
            if not self.gamma[0] <= spec.gamma <= self.gamma[1]:
                return None
            if self.gamma[0] != self.gamma[1]:
                params["gamma"] = spec.gamma
        lo, top = self.bins[0], self.max_bins(spec.scale, spec.fmin, spec.fmax, spec.gamma or 0.0)
        if not lo <= spec.bins <= top:
            return None
        if self.bins[0] != self.bins[1]:
            if top == lo:
                q = 0.0
            elif self.bins_log:
                q = (math.log(spec.bins) - math.log(lo)) / (math.log(top) - math.log(lo))
            else:
                q = (spec.bins - lo) / (top - lo)
            params["bins_q"] = q
        if len(self.phase) > 1:
            params["phase"] = spec.phase
        if len(self.form) > 1:
            params["form"] = spec.form
        return params


def _varying(fixed: dict[str, Any], n_fft_fixed: bool, overlaps: tuple, windows: tuple) -> dict:
    """The STFT parameters that ``propose`` actually suggests (single choices are not)."""
    out = dict(fixed)
    if n_fft_fixed:
        out.pop("stft_n_fft")
    if len(overlaps) == 1:
        out.pop("stft_overlap")
    if len(windows) == 1:
        out.pop("stft_window")
    return out


def _slicqt_spec(scale: str, bins: int, fmin: float, fmax: float, gamma: float):
    return TransformSpec(
        kind="slicqt", scale=scale, bins=bins, fmin=fmin, fmax=fmax,
        gamma=gamma if scale == "vqlog" else None, phase="local", form="ragged",
    )  # fmt: skip


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

