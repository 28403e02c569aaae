"""One entry point: every metric of one transform for one target over a set of clips.

Per clip, the mixture and every source (only the target when no ratio mask is asked for)
are analysed in ONE batched forward call, the
target's coefficients are shared by sparsity and ridge analysis, and every estimate that
needs an inverse (four oracles, two ridge-restricted targets) goes through ONE batched
inverse call. Per-clip values are then reduced to medians over clips. Clips whose target is
silent (SDR undefined) are skipped and counted, never averaged in.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

from tfselect import SAMPLE_RATE
from tfselect.audio.clips import is_silent
from tfselect.devices import resolve_device
from tfselect.errors import TfselectError
from tfselect.transforms import Transform, TransformSpec, build

from .cost import forward_inverse_seconds, peak_memory_mb
from .names import BSS, GROUPS, RIDGE_KINDS, resolve_metrics
from .oracles import ALL_SOURCES, ORACLES, oracle_estimates
from .ridges import GridAdjoint, RidgeConfig, ridge_analysis
from .sdr import fast_sdr, museval_sdr, si_sdr, usdr
from .sparsity import sparsity_scores, structural_support

log = logging.getLogger(__name__)

class _ClipScorer:
    """Computes the requested metrics of one transform for one clip at a time."""

    def __init__(
        self,
        transform: Transform,
        target: str,
        metrics: tuple[str, ...],
        device: torch.device,
        dtype: torch.dtype,
        bss: str,
        ridge_config: RidgeConfig,
    ) -> None:
        self.T = transform
        self.target = target
        self.metrics = metrics
        self.device = device
        self.dtype = dtype
        self.bss = bss
        self.cfg = ridge_config
        self._peak: dict[int, float] = {}  # peak memory per clip length (deterministic)
        self._freqs = transform.frequencies()
        self._rate = transform.frame_rate()
        self.timings: dict[str, float] = {}  # seconds per stage, summed over clips
        self._warm: set[int] = set()  # clip lengths already run once (untimed warm-up)
        self._adjoints: dict[tuple, GridAdjoint] = {}
        self._supports: dict[int, list[Tensor] | None] = {}

    def _adjoint(self, blocks: list[Tensor], n_masks: int) -> GridAdjoint:
        """The grid adjoint for blocks of this shape (built once: clips share a length)."""
        key = (tuple(tuple(c.shape) for c in blocks), n_masks)
        if key not in self._adjoints:
            self._adjoints.clear()  # one shape at a time keeps memory bounded
            self._adjoints[key] = GridAdjoint(self.T, blocks, n_masks)
        return self._adjoints[key]

    def _support(self, blocks: list[Tensor], n: int) -> list[Tensor] | None:
        """Structural support of the transform for signals of n samples (cached per length)."""
        if n not in self._supports:
            g = torch.Generator().manual_seed(0)
            noise = torch.randn(1, n, generator=g, dtype=torch.float64)
            with torch.no_grad():
                coefs = self.T.forward(noise.to(self.device, self.dtype))
            self._supports[n] = structural_support(coefs)
        return self._supports[n]

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Accumulate the wall time of a stage (synchronising CUDA so it is attributed)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def __call__(
        self,
        mixture: np.ndarray,
        stems: dict[str, np.ndarray],
        metrics: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """The requested metrics of one clip: mixture (2, n), stems {target: (2, n)}.

        ``metrics`` narrows the scorer's metrics for this clip (None: all of them).
        """
        want = set(self.metrics if metrics is None else metrics)
        mix = torch.as_tensor(np.asarray(mixture)).to(self.device, self.dtype)
        n = mix.shape[-1]
        out: dict[str, float] = {}
        if "seconds" in want:
            with self._stage("cost: seconds"):
                if n not in self._warm:  # first call per length builds filterbanks/FFT plans
                    forward_inverse_seconds(self.T, mix)
                    self._warm.add(n)
                out["seconds"] = forward_inverse_seconds(self.T, mix) / (n / self.T.sample_rate)
        if "peak_mb" in want:
            if n not in self._peak:
                with self._stage("cost: peak_mb"):
                    self._peak[n] = peak_memory_mb(self.T, mix)
            out["peak_mb"] = self._peak[n]
        needs_coefs = want & (set(GROUPS["sparsity"]) | set(GROUPS["ridges"]) | set(ORACLES))
        if not needs_coefs:
            if "redundancy" in want:
                out["redundancy"] = float(self.T.redundancy(n))
            return out

        # Only the ratio masks (irm1, irm2) and the Wiener filter (mwf) need the other sources:
        # without them, analyse just the mixture and the target (2 signals instead of 5, e.g.
        # a search racing on mpi).
        if want & ALL_SOURCES:
            src, ti = _sources(mix, stems, self.target, self.device, self.dtype)
        else:
            src = torch.as_tensor(np.asarray(stems[self.target]))[None]
            src, ti = src.to(self.device, self.dtype), 0
        reference = src[ti]
        stems_label = f"{len(src)} stem{'s' if len(src) > 1 else ''}"
        with self._stage(f"forward (mixture + {stems_label})"), torch.no_grad():
            C = self.T.forward(torch.cat([mix[None], src]))  # (1+S, ch, bins_b, slices, frames_b)
        # A copy, so that `del C` below frees the mixture and the other stems' coefficients.
        target = [c[1 + ti].clone() for c in C]
        if "redundancy" in want:
            out["redundancy"] = sum(c[0].numel() for c in target) / float(n)
        sparse = [m for m in GROUPS["sparsity"] if m in want]
        if sparse:
            with self._stage("sparsity"):
                support = self._support(target, n)
                out.update(sparsity_scores(target, reference.numel(), sparse, support))

        # Estimates to invert: (name, blocks with a leading estimate axis).
        pending: list[tuple[list[str], list[Tensor]]] = []
        oracles = [m for m in ORACLES if m in want]
        if oracles:
            with self._stage("oracles (masks)"):
                est = oracle_estimates([c[0] for c in C], [c[1:] for c in C], ti, oracles)
            pending.append((oracles, est))
        del C
        directions = [d for d in ("time", "freq") if want & {f"ridge_{k}_{d}" for k in RIDGE_KINDS}]
        if directions:
            with self._stage("ridges: grid"), torch.no_grad():
                power = self.T.grid(target).abs().square().sum(dim=0)  # channels summed
        masks = []
        for direction in directions:
            with self._stage(f"ridges: {direction}"):
                ridges = ridge_analysis(power, self._freqs, self._rate, direction, self.cfg)
            for key in ("energy", "stability"):
                if f"ridge_{key}_{direction}" in want:
                    out[f"ridge_{key}_{direction}"] = float(ridges[key])
            if f"ridge_sdr_{direction}" in want:
                masks.append((f"ridge_sdr_{direction}", ridges["mask"]))
        if masks:
            with self._stage("ridges: masks to blocks"):
                adjoint = self._adjoint(target, len(masks))
                kept = adjoint(torch.stack([m for _, m in masks]))
                kept = [c[None] * k for c, k in zip(target, kept, strict=True)]
            pending.append(([name for name, _ in masks], kept))
        if pending:
            names = [name for group, _ in pending for name in group]
            blocks = [torch.cat([est[b] for _, est in pending]) for b in range(len(target))]
            with self._stage(f"inverse ({len(names)} estimates)"), torch.no_grad():
                y = self.T.inverse(blocks, n)  # (estimates, ch, n)
            with self._stage("sdr"):
                out.update(zip(names, self._sdr(reference, y), strict=True))
        return out

    def _sdr(self, reference: Tensor, y: Tensor) -> list[float]:
        """SDR in dB of each estimate y (estimates, ch, n) against reference (ch, n), by
        ``self.bss``."""
        if self.bss == "fast":
            return fast_sdr(reference, y).tolist()
        if self.bss == "museval":
            return [museval_sdr(reference, e, self.T.sample_rate) for e in y]
        fn = usdr if self.bss == "usdr" else si_sdr
        ref = reference.detach().cpu().double().numpy()
        return [fn(ref, e) for e in y.detach().cpu().double().numpy()]


def _sources(
    mix: Tensor, stems: dict[str, np.ndarray], target: str, device: torch.device,
    dtype: torch.dtype,
) -> tuple[Tensor, int]:
    """The sources the oracles see, (S, ch, n), and the target's index among them.

    Every stem of the clip, plus the residual ``mixture - sum of the stems`` when it is not
    exactly zero (a target map's unmapped stems, a shipped mixture that differs from its
    stems): so the sources always sum to the mixture, and with only the target given this is
    the two-source case, target against the rest of the mixture. IRM1/IRM2 divide by the sum
    over these sources, as sigsep's oracles do on MUSDB, so MUSDB scores are unchanged (its
    four stems sum to the mixture); against a two-source split (target, mixture - target) the
    denominators would be smaller (|X - S_t| <= sum of the other |S_i|) and the masks larger.
    MPI and IBM use only the target and the mixture, whatever the split.
    """
    names = list(stems)
    src = torch.stack([torch.as_tensor(np.asarray(stems[t])) for t in names])
    src = src.to(device, dtype)
    residual = mix - src.sum(0)
    if bool(torch.any(residual != 0)):
        src = torch.cat([src, residual[None]])
    return src, names.index(target)


def _check_options(bss: str, dtype: torch.dtype, device: str) -> torch.device:
    """The torch device for ``device`` after checking the SDR method and the dtype."""
    if bss not in BSS:
        raise TfselectError(f"unknown SDR method '{bss}': choose one of {', '.join(BSS)}")
    if dtype not in (torch.float32, torch.float64):
        raise TfselectError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return resolve_device(device)


class ClipScorer:
    """Per-clip scoring of one transform for one target, one clip at a time.

    For callers that decide clip by clip what to do next (a search racing candidates):
    ``scorer(clip)`` returns ``{metric: value}`` for that clip, or None when its target is
    silent (SDR undefined); ``scorer(clip, metrics=(...))`` computes only some of the
    metrics given at construction. Arguments as :func:`score`.
    """

    def __init__(
        self,
        spec: str | TransformSpec,
        target: str,
        metrics: Sequence[str] | str | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
        sample_rate: int = SAMPLE_RATE,
        bss: str = "fast",
        ridge_config: RidgeConfig | None = None,
    ) -> None:
        self.metrics = resolve_metrics(metrics)
        dev = _check_options(bss, dtype, device)
        self.target = target
        transform = build(spec, sample_rate=sample_rate).to(dev)
        self._scorer = _ClipScorer(
            transform, target, self.metrics, dev, dtype, bss, ridge_config or RidgeConfig()
        )

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage, summed over the clips scored so far."""
        return self._scorer.timings

    def __call__(self, clip, metrics: Sequence[str] | None = None) -> dict[str, float] | None:
        if self.target not in clip.stems:
            raise TfselectError(
                f"unknown target '{self.target}': the clip holds {', '.join(clip.stems)}"
            )
        if is_silent(clip.stems[self.target], clip.mixture):
            return None
        return self._scorer(clip.mixture, clip.stems, metrics)


def score(
    spec: str | TransformSpec,
    target: str,
    clips: Sequence,
    metrics: Sequence[str] | str | None = None,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    sample_rate: int = SAMPLE_RATE,
    bss: str = "fast",
    ridge_config: RidgeConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, float]:
    """Score one transform for one target: the median over clips of every metric.

    Args:
        spec: transform spec (string or ``TransformSpec``); invalid -> ``SpecError``.
        target: a key of every clip's ``stems``.
        clips: objects with ``.mixture`` (2, n) and ``.stems`` {target: (2, n)} arrays
            (``tfselect.audio.clips.Clip``); the stems need not cover the mixture (the rest,
            mixture minus the stems, is one more source, see ``_sources``).
        metrics: metric or group names (see ``resolve_metrics``); None = all of ``METRICS``.
        device: torch device for the transform ("cpu", "cuda", ...).
        dtype: torch.float32 or torch.float64 (signals and coefficients).
        sample_rate: of the clips, in Hz.
        bss: every SDR's convention: "fast" (global SDR, default), "museval" (BSSEval v4,
            slow), "usdr" (the MDX challenge's SDR) or "si-sdr" (scale-invariant).
        ridge_config: ridge extraction parameters (default ``RidgeConfig()``).
        progress: called as ``progress(done, total)`` after each clip.
        timings: if given, filled with the wall time in seconds of every stage (forward,
            sparsity, oracles, ridges, inverse, sdr, cost), summed over clips.

    Returns:
        ``{metric: median over the scored clips}`` in ``METRICS`` order, then ``n_clips``
        (clips scored) and ``n_skipped`` (clips skipped because the target is silent).
        SDRs are in dB, seconds per second of audio, peak memory in MB.

    Raises:
        TfselectError: unknown target, metric, bss or device; no clip; target silent in
            every clip.
        SpecError: invalid spec (from the transforms).
    """

    if clips and target not in clips[0].stems:
        raise TfselectError(
            f"unknown target '{target}': the clips hold {', '.join(clips[0].stems)}"
        )
    names = resolve_metrics(metrics)
    _check_options(bss, dtype, device)  # before "no clips", as ClipScorer checks them too
    if not clips:
        raise TfselectError("no clips to score")
    scorer = ClipScorer(spec, target, names, device, dtype, sample_rate, bss, ridge_config)
    per_clip: list[dict[str, float]] = []
    skipped = 0
    for i, clip in enumerate(clips):
        row = scorer(clip)
        if row is None:
            skipped += 1
        else:
            per_clip.append(row)
        if progress is not None:
            progress(i + 1, len(clips))
    if timings is not None:
        timings.update(scorer.timings)
    if not per_clip:
        raise TfselectError(
            f"target '{target}' is silent in all {len(clips)} clip(s): nothing to score"
        )
    result: dict[str, float] = {}
    for name in names:
        values = np.array([v[name] for v in per_clip], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size < values.size:
            log.warning("%s: %d non-finite value(s) left out", name, values.size - finite.size)
        result[name] = float(np.median(finite)) if finite.size else math.nan
    result["n_clips"] = len(per_clip)
    result["n_skipped"] = skipped
    return result
