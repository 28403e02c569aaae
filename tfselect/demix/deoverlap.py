"""Learned de-overlap of ragged sliCQT blocks: DeOverlapNet, its trainer and its evaluation.

A network that works on the overlap-added picture of a block (:mod:`tfselect.transforms.
overlap`) needs a way back to the slices the exact inverse takes. The window-weighted split
is close but not exact: a coefficient of a long (low-frequency) window smears a few frames
around its instant, so near the slice windows' transitions part of it belongs to the other
slice. DeOverlapNet learns that correction.

Design, and why:

- **Complex, linear.** When the overlap-added picture of real signals determines the signal
  (it keeps about one complex coefficient per sample, and the low blocks, where the split
  errs, are many times redundant), the slices are a *linear* function of the picture. So the
  network is a learned real-linear operator on (real, imaginary) -- no non-linearity, which
  also makes it exactly scale-equivariant: a masked picture at any gain is treated alike.
- **A transfer between neighbours.** For each overlap region (F/2 frames shared by slices
  j-1 and j) the network predicts ``D``; slice j gets ``+D`` on its first half and slice j-1
  ``-D`` on its second half. So the output always overlap-adds back to the input picture,
  and with D = 0 (the initial weights) it *is* the window-weighted split: training starts at
  the baseline and can only be judged against it.
- **Fitted, not descended.** Being linear, the network's best weights for a set of clips
  are a ridge least-squares solution: the trainer accumulates Gram matrices and solves them
  (:func:`train_deoverlap`), which reaches that optimum exactly instead of approaching it
  with gradient steps. The module is still an ``nn.Module``: gradients flow through it when
  a demixer branch masks the picture in front of it.
- **Locally connected.** ``D`` at frame m of bin k of a block reads the picture at bins
  k±``bins_radius`` of the same block and frames m±``frames_radius`` around it, with its own
  weights per (bin, frame position in the overlap): the correction depends on where in the
  slice window a frame sits (a convolution could not tell) and on each bin's neighbours,
  whose windows overlap very differently on the low Bark bins.

Shapes: a picture is a list of blocks (..., bins_b, (S+1)·F_b/2) complex; slices are
(..., bins_b, S, F_b) as the ragged sliCQT returns them.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from tfselect import SAMPLE_RATE
from tfselect.atomic import atomic_write, check_out_dir
from tfselect.audio.dataset import resolve_root, tracks_for
from tfselect.audio.synthesis import synthesize_track
from tfselect.demix.checkpoints import CHECKPOINT, MODEL, CheckpointError, load_weights
from tfselect.demix.data import TrackAudio
from tfselect.demix.tensorfile import load_state, save_state
from tfselect.errors import TfselectError
from tfselect.transforms import TransformSpec, build
from tfselect.transforms.overlap import Overlap, snr_db

log = logging.getLogger("tfselect.deoverlap")

CURVE = "curve.csv"
KIND = "deoverlap"


@dataclass
class DeOverlapConfig:
    """What rebuilds a DeOverlapNet (stored in its files)."""

    spec: str
    sample_rate: int = SAMPLE_RATE
    bins_radius: int = 4
    frames_radius: int = 8
    max_frames: int = 64

    def __post_init__(self) -> None:
        # from the command line or a stored file: checked before a net is built
        if self.bins_radius < 0 or self.frames_radius < 0:
            raise TfselectError(f"de-overlap radii must be >= 0, got bins {self.bins_radius}, "
                                f"frames {self.frames_radius}")  # fmt: skip
        if self.max_frames < 2:
            raise TfselectError(f"de-overlap max_frames must be >= 2, got {self.max_frames}")

    def to_dict(self) -> dict:
        return asdict(self)


def ragged_slicqt(spec: str, sample_rate: int = SAMPLE_RATE):
    """The ragged SliCQT of ``spec``; TfselectError (one line) for any other transform."""
    parsed = TransformSpec.parse(spec)
    if parsed.kind != "slicqt" or parsed.form != "ragged":
        what = parsed.kind if parsed.kind != "slicqt" else f"form={parsed.form}"
        raise TfselectError(
            f"de-overlap needs a ragged sliCQT (slices overlap only there), got {what} in "
            f"{parsed}; use a slicqt: spec without form= (or form=ragged)"
        )
    return build(parsed, sample_rate)


class DeOverlapNet(nn.Module):
    """Overlap-added picture -> slices, for one ragged sliCQT (see the module docstring).

    Attributes:
        transform: the SliCQT (no parameters). overlap: its :class:`Overlap`.
        weights: per block b a parameter (bins_b·F_b/2·2, bins_b·P_b·2), P_b = F_b/2 + 2r:
            the linear map from a patch of the picture (all bins of the block, the F_b/2
            frames of one overlap and r = ``frames_radius`` frames either side, re/im) to
            the transfer D of that overlap (bins, F_b/2 frames, re/im). Only entries within
            ``bins_radius`` bins and r frames of the output are used (``masks``): stored
            dense so that one matrix product applies it.
    """

    def __init__(self, config: DeOverlapConfig) -> None:
        super().__init__()
        self.config = config
        self.transform = ragged_slicqt(config.spec, config.sample_rate)
        self.overlap = Overlap.of(self.transform)
        r, R = config.frames_radius, config.bins_radius
        self.weights = nn.ParameterList()
        self._masks: list[Tensor] = []
        for b in self.transform.out_blocks:
            K, half = b.bins, b.frames // 2
            P = half + 2 * r
            if b.frames > config.max_frames:  # short windows: the split is already close
                self._masks.append(torch.zeros(0, dtype=torch.bool))
                self.weights.append(nn.Parameter(torch.zeros(0, 0)))
                continue
            k = torch.arange(K)
            near_bin = (k[:, None] - k[None, :]).abs() <= R  # (K out, K in)
            m = torch.arange(half) + r  # output frame m sits at patch position m + r
            near_frame = (m[:, None] - torch.arange(P)[None, :]).abs() <= r  # (half, P)
            mask = near_bin[:, None, None, :, None, None] & near_frame[None, :, None, None, :, None]
            mask = mask.expand(K, half, 2, K, P, 2).reshape(K * half * 2, K * P * 2)
            self._masks.append(mask)
            w = nn.Parameter(torch.zeros(K * half * 2, K * P * 2))
            # entries outside the neighbourhood start at zero and get no gradient, so they
            # stay zero (Adam moves nothing that has no gradient): a dense product applies it
            w.register_hook(lambda g, m=mask: g * m.to(g.device))
            self.weights.append(w)

    def transfer(self, block: int, ola: Tensor) -> Tensor:
        """(..., bins, (S+1)·F/2) complex -> D (..., bins, S+1, F/2) complex."""
        W = self.weights[block]
        r, K = self.config.frames_radius, ola.shape[-2]
        half = self.transform.out_blocks[block].frames // 2
        lead, N = ola.shape[:-2], ola.shape[-1]
        x = torch.view_as_real(ola.reshape(-1, K, N)).to(W.dtype)  # (B, K, N, 2)
        x = nn.functional.pad(x, (0, 0, r, r))  # frames by r
        x = x.unfold(2, half + 2 * r, half)  # (B, K, S+1, 2, P): one patch per overlap
        B, S1 = x.shape[0], x.shape[2]
        x = x.permute(0, 2, 1, 4, 3).reshape(B * S1, -1)  # (B·(S+1), K·P·2)
        out = x @ W.T  # (B·(S+1), K·half·2)
        out = out.view(B, S1, K, half, 2).permute(0, 2, 1, 3, 4).contiguous()
        out = torch.view_as_complex(out)
        return out.reshape(*lead, K, S1, half).to(ola.dtype)

    def forward(self, pic: list[Tensor]) -> list[Tensor]:
        """Picture (list of (..., bins_b, (S+1)·F_b/2)) -> slices (..., bins_b, S, F_b)."""
        base = self.overlap.split(pic)
        out = []
        for i, (o, c) in enumerate(zip(pic, base, strict=True)):
            if self.weights[i].numel() == 0:
                out.append(c)
                continue
            D = self.transfer(i, o)[..., 1:-1, :]  # inner overlaps 1..S-1: two slices share
            z = torch.zeros_like(D[..., :1, :])
            first = torch.cat([z, D], -2)  # slice j gets +D_j on its first half
            second = torch.cat([-D, z], -2)  # slice j-1 gives it from its second half
            out.append(c + torch.cat([first, second], -1))
        return out

    def deoverlap(self, C: list[Tensor]) -> list[Tensor]:
        """Slices -> overlap-add -> this network: how well it recovers ``C``."""
        return self(self.overlap.ola(C))


# ----------------------------------------------------------------------------- files


def save_model(net: DeOverlapConfig | DeOverlapNet, path: Path, extra: dict | None = None) -> None:
    """Weights and configuration as one safetensors file (data only, written atomically)."""

    save_state(
        {
            "kind": KIND,
            "config": net.config.to_dict(),
            "state_dict": net.state_dict(),
            **(extra or {}),
        },
        path,
    )


def net_from_state(state: dict, where: str) -> DeOverlapNet:
    """A DeOverlapNet from a stored state dict ({kind, config, state_dict}); one-line errors."""

    if not isinstance(state, dict) or state.get("kind") != KIND or "config" not in state:
        raise CheckpointError(f"{where} is not a tfselect de-overlap model")
    try:
        net = DeOverlapNet(DeOverlapConfig(**state["config"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: unusable de-overlap configuration ({exc})") from None
    load_weights(net, state["state_dict"], Path(where))
    with torch.no_grad():  # only the neighbourhood is part of the model
        for w, m in zip(net.weights, net._masks, strict=True):
            w.mul_(m)
    return net


def load_net(model_dir: Path) -> DeOverlapNet:
    """The DeOverlapNet saved in ``model_dir`` (``model.safetensors``, else the checkpoint)."""

    model_dir = Path(model_dir)
    path = model_dir / MODEL if (model_dir / MODEL).exists() else model_dir / CHECKPOINT
    if not path.exists():
        raise CheckpointError(
            f"no de-overlap model in {model_dir} (expected {MODEL}; run "
            f"`tfselect deoverlap train --out {model_dir}` first)"
        )
    try:
        state = load_state(path)
    except TfselectError as exc:
        raise CheckpointError(str(exc)) from None
    return net_from_state(state, str(path)).eval()


def deoverlap_models(mode: str, dirs: list[Path], specs: dict[str, str]) -> dict[str, dict]:
    """``ModelConfig.deoverlap`` for a demixer on ``specs`` ({target: spec}): {spec: net
    config + its ``source`` folder}, one trained net (``dirs``) per ragged sliCQT branch
    (an ensemble target's ragged sliCQT members included: each is a branch of its own).

    ``mode``: ``none`` (no nets; ``dirs`` must be empty) or ``learned`` (every ragged
    sliCQT branch needs one model, every model a branch).

    Raises:
        TfselectError: a bad mode, a model without a branch or a branch without a model.
    """
    if mode not in ("none", "learned"):
        raise TfselectError(f"--deoverlap must be none or learned, got {mode!r}")
    if mode == "none":
        if dirs:
            raise TfselectError("--deoverlap-model needs --deoverlap learned")
        return {}
    parsed = {}
    for s in specs.values():
        p = TransformSpec.parse(s)
        for q in p.members if p.kind == "ens" else (p,):  # an ensemble's members are branches
            parsed[str(q)] = q
    ragged = {s for s, p in parsed.items() if p.kind == "slicqt" and p.form == "ragged"}
    if not ragged:
        raise TfselectError(
            "--deoverlap learned needs a branch on a ragged sliCQT; these "
            f"are all matrix forms: {', '.join(sorted(set(specs.values())))}"
        )
    out: dict[str, dict] = {}
    for d in dirs:
        net = load_net(d)
        rate = net.config.sample_rate
        mine = TransformSpec.parse(net.config.spec).resolved(rate)
        match = [s for s in ragged if parsed[s].resolved(rate) == mine]
        if not match:
            raise TfselectError(
                f"the de-overlap model in {d} is for {net.config.spec}, which no ragged branch uses"
            )
        out[match[0]] = {**net.config.to_dict(), "source": str(d)}
    missing = sorted(ragged - set(out))
    if missing:
        raise TfselectError(
            f"--deoverlap learned: no --deoverlap-model for {missing[0]}; "
            f"train one with `tfselect deoverlap train --transform {missing[0]} "
            "--out DIR`"
        )
    return out


# ----------------------------------------------------------------------------- data


class ClipSource:
    """Training clips, drawn deterministically from (seed, step, index).

    Each clip (2, samples) float32 is, with probability ``synthetic``, a synthetic signal
    (a stem or mixture of a generated demo song, or noise with a random spectral tilt), else
    a random source (mixture or a stem) of a random corpus track at a random start; gain is
    random in [0.1, 1]. Determinism per (step, index) makes resumed runs see exactly the
    clips an uninterrupted run would.
    """

    def __init__(
        self, tracks: list, seconds: float, seed: int, synthetic: float = 0.25, songs: int = 4
    ) -> None:
        self.audio = TrackAudio(tracks, preload=len(tracks) <= 20) if tracks else None
        self.n = int(round(seconds * SAMPLE_RATE))
        self.seed, self.synthetic, self.songs = int(seed), float(synthetic), int(songs)
        self._songs: dict[int, dict[str, np.ndarray]] = {}

    def _song(self, k: int) -> dict[str, np.ndarray]:
        if k not in self._songs:
            seconds = max(12.0, 2 * self.n / SAMPLE_RATE)
            self._songs[k] = synthesize_track(self.seed + 7919, k, seconds)[1]
        return self._songs[k]

    def clip(self, step: int, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, step, index])
        gain = np.float32(rng.uniform(0.1, 1.0))
        if self.audio is None or rng.random() < self.synthetic:
            kind = int(rng.integers(3))
            if kind == 0:  # coloured noise: every frequency, any slope
                white = rng.standard_normal((2, self.n))
                spec = np.fft.rfft(white)
                f = np.maximum(np.arange(spec.shape[-1]), 1.0)
                spec *= f ** (-rng.uniform(0.0, 1.0))
                x = np.fft.irfft(spec, n=self.n)
                return (gain * 0.1 * x / (x.std() + 1e-12)).astype(np.float32)
            song = self._song(int(rng.integers(self.songs)))
            src = list(song)[int(rng.integers(len(song)))]
            a = song[src]
            start = int(rng.integers(max(a.shape[1] - self.n, 0) + 1))
            return gain * np.ascontiguousarray(a[:, start : start + self.n])
        i = int(rng.integers(len(self.audio.tracks)))
        sources = ("mixture", *self.audio.tracks[i].targets)
        src = sources[int(rng.integers(len(sources)))]
        start = int(rng.integers(max(self.audio.lengths[i] - self.n, 0) + 1))
        return gain * self.audio.read(i, src, start, self.n)

    def batch(self, step: int, size: int) -> Tensor:
        """(size, 2, samples) float32."""
        return torch.from_numpy(np.stack([self.clip(step, i) for i in range(size)]))


# ----------------------------------------------------------------------------- training


@dataclass
class TrainSettings:
    """A training run (stored in the checkpoint; all but ``minutes`` must match on resume)."""

    config: dict
    minutes: float = 5.0
    batch_size: int = 8
    seconds: float = 3.0
    ridge: float = 1e-6
    seed: int = 42
    synthetic: float = 0.25
    root: str | None = None
    valid_clips: int = 4
    solve_seconds: float = 120.0
    steps: int | None = None  # stop after this many steps in all (None: only --minutes)

    def comparable(self) -> dict:
        d = asdict(self)
        for k in ("minutes", "root", "solve_seconds", "ridge", "steps"):
            d.pop(k)
        return d


def _valid_signals(tracks: list, clips: int, seconds: float = 6.0) -> list[Tensor]:
    """Fixed held-out clips (1, 2, samples): the middle of each track's mixture, then stems."""
    if not tracks:
        return []
    audio = TrackAudio(tracks, preload=False)
    n = int(round(seconds * SAMPLE_RATE))
    out = []
    for src_i in range(5):
        for i, t in enumerate(tracks):
            sources = ("mixture", *t.targets)
            if len(out) >= clips or src_i >= len(sources):
                continue
            start = max((audio.lengths[i] - n) // 2, 0)
            x = audio.read(i, sources[src_i], start, n)
            if np.abs(x).max() > 0:
                out.append(torch.from_numpy(x)[None])
    return out


@torch.no_grad()
def measure(net: DeOverlapNet, x: Tensor) -> dict:
    """Coefficient and waveform SNR (dB) of the learned net and the baseline split on ``x``.

    x (..., channels, samples). Returns {coef_learned, coef_baseline, wave_learned,
    wave_baseline, blocks: [(coef_learned, coef_baseline) per block]}.
    """
    C, est, base = _learned_and_split(net, x)
    return {
        **_whole_snrs(net.transform, x, C, est, base),
        "blocks": [(snr_db(c, e), snr_db(c, b)) for c, e, b in zip(C, est, base, strict=True)],
    }


def _learned_and_split(net: DeOverlapNet, x: Tensor) -> tuple[list[Tensor], ...]:
    """(true slices, the net's slices, the window split's slices) of ``x``, block lists."""
    C = net.transform(x.to(next(net.parameters()).dtype))
    pic = net.overlap.ola(C)
    return C, net(pic), net.overlap.split(pic)


def _whole_snrs(
    T, x: Tensor, C: list[Tensor], est: list[Tensor], base: list[Tensor]
) -> dict[str, float]:
    """Coefficient SNR over all blocks and waveform SNR after the exact inverse (dB), of the
    learned slices and of the split: {coef_learned, coef_baseline, wave_learned,
    wave_baseline}."""
    flat = [torch.cat([c.flatten() for c in Z]) for Z in (C, est, base)]
    return {
        "coef_learned": snr_db(flat[0], flat[1]),
        "coef_baseline": snr_db(flat[0], flat[2]),
        "wave_learned": snr_db(x, T.inverse(est, x.shape[-1])),
        "wave_baseline": snr_db(x, T.inverse(base, x.shape[-1])),
    }


def patches(net: DeOverlapNet, C: list[Tensor]) -> dict[int, tuple[Tensor, Tensor]]:
    """Regression data of every learned block: {block: (X, Y)} float64.

    X (rows, bins·P·2): the picture patch of each inner overlap (what ``transfer`` reads);
    Y (rows, bins·F/2·2): the true transfer there (slice's first half minus its split).
    Rows are the (example, overlap) pairs; each example's rows are divided by the RMS of its
    picture in that block, so that loud and quiet clips weigh alike (the map is linear, so
    this changes the weighting only).
    """
    out = {}
    pic = net.overlap.ola(C)
    base = net.overlap.split(pic)
    r = net.config.frames_radius
    for i, (c, o, bs) in enumerate(zip(C, pic, base, strict=True)):
        if net.weights[i].numel() == 0:
            continue
        K, S, F = c.shape[-3:]
        half = F // 2
        o = o.reshape(-1, K, o.shape[-1]).to(torch.complex128)
        x = nn.functional.pad(torch.view_as_real(o), (0, 0, r, r)).unfold(2, half + 2 * r, half)
        x = x.permute(0, 2, 1, 4, 3)[:, 1:-1]  # (B, S-1, K, P, 2): inner overlaps
        y = (c - bs).reshape(-1, K, S, F)[..., 1:, :half].to(torch.complex128)
        y = torch.view_as_real(y).permute(0, 2, 1, 3, 4)  # (B, S-1, K, half, 2)
        rms = o.abs().pow(2).mean(dim=(1, 2)).sqrt().clamp_min(1e-20)  # (B,)
        keep = rms > 1e-9  # silent examples carry nothing to learn
        x = (x / rms[:, None, None, None, None])[keep]
        y = (y / rms[:, None, None, None, None])[keep]
        # row widths from the shapes: an all-silent batch keeps no example (zero rows)
        out[i] = (x.reshape(-1, math.prod(x.shape[2:])), y.reshape(-1, math.prod(y.shape[2:])))
    return out


def solve(net: DeOverlapNet, stats: dict, ridge: float) -> None:
    """Set the weights to the ridge least-squares fit of the accumulated statistics.

    ``stats`` {block: {"xx": X^T X, "xy": X^T Y}} (float64). Each output row has its own
    neighbourhood (its mask row), so rows are solved in groups that share one; the ridge is
    ``ridge`` times the mean diagonal of each group's Gram matrix.
    """
    with torch.no_grad():
        for i, st in stats.items():
            W, mask = net.weights[i], net._masks[i]
            groups, inv = torch.unique(mask, dim=0, return_inverse=True)
            rows = [(inv == g).nonzero().squeeze(1) for g in range(groups.shape[0])]
            sizes = groups.sum(1)
            new = torch.zeros(W.shape, dtype=torch.float64)
            # one batched solve per (support size, rows) kind, in chunks that bound memory
            kinds: dict[tuple[int, int], list[int]] = {}
            for g in range(groups.shape[0]):
                kinds.setdefault((int(sizes[g]), len(rows[g])), []).append(g)
            for (size, _), members in kinds.items():
                chunk = max(1, int(2e7 // (size * size)))
                for first in range(0, len(members), chunk):
                    part = members[first : first + chunk]
                    idx = torch.stack([groups[g].nonzero().squeeze(1) for g in part])
                    out_rows = torch.stack([rows[g] for g in part])  # (n, rows)
                    G = st["xx"][idx[:, :, None], idx[:, None, :]]  # (n, size, size)
                    lam = ridge * G.diagonal(dim1=1, dim2=2).mean(1) + 1e-30
                    G = G + lam[:, None, None] * torch.eye(size, dtype=G.dtype)
                    rhs = st["xy"][idx[:, :, None], out_rows[:, None, :]]  # (n, size, rows)
                    # G is symmetric positive definite with the ridge: Cholesky (batched LU
                    # rejects some batches outright); a failed factor is NaN -> stronger ridge
                    L, info = torch.linalg.cholesky_ex(G.contiguous())
                    sol = torch.cholesky_solve(rhs.contiguous(), L)
                    sol[info != 0] = math.nan
                    new[out_rows[:, :, None], idx[:, None, :]] = sol.transpose(1, 2)
            new = new.to(W.dtype)
            if not torch.isfinite(new).all():  # near-singular: retry with a stronger ridge
                if ridge >= 1.0:
                    raise TfselectError(f"the de-overlap fit of block {i} does not converge")
                solve(net, {i: st}, ridge * 10)
                continue
            W.copy_(new)


def train_deoverlap(
    settings: TrainSettings,
    out: Path,
    progress: bool = True,
    tracks: tuple[list, list] | None = None,
) -> list[dict]:
    """Train (or resume) a DeOverlapNet into ``out`` for ``settings.minutes`` of wall time.

    Training is least squares: the target is linear in the picture, so instead of gradient
    steps the trainer accumulates the Gram matrices ``X^T X`` and ``X^T Y`` of every learned
    block over random clips (:func:`patches`) and solves the ridge regression (:func:`solve`)
    from time to time (after ``solve_seconds``, then at twice the time of the previous solve)
    and at the end; the solution is the optimum of the coefficient-domain MSE for the clips
    seen, and more clips only refine it. ``minutes`` is wall time including the solves.

    ``tracks`` = (train, valid) overrides the corpus of ``settings.root``. Writes
    ``checkpoint.safetensors`` (the statistics, steps, time and curve; every
    ``solve_seconds`` and at each solve: a re-run resumes from it and continues to
    ``minutes`` in all), ``model.safetensors`` (weights + configuration) and ``curve.csv``
    (one row per solve: minutes trained, clips seen, held-out coefficient and waveform SNR of
    the learned net and of the baseline split, medians over the validation clips). Returns
    the curve rows.

    Each solve during the run logs its row (:func:`curve_line`) as progress; the closing
    solve does not: its row is the result, the returned curve's last, for the caller to
    show once (``tfselect deoverlap train`` prints it).
    """
    out = Path(out)
    check_out_dir(out)
    cfg = DeOverlapConfig(**settings.config)
    ragged_slicqt(cfg.spec, cfg.sample_rate)  # one-line error before any data is read
    ck_path = out / CHECKPOINT
    resume = None
    if ck_path.exists():
        try:
            resume = load_state(ck_path)
            old = TrainSettings(**resume["settings"])
        except (TfselectError, TypeError, KeyError) as exc:
            raise CheckpointError(f"{ck_path}: not a de-overlap checkpoint ({exc})") from None
        if old.comparable() != settings.comparable():
            diff = sorted(k for k, v in settings.comparable().items() if old.comparable()[k] != v)
            raise CheckpointError(
                f"{ck_path} was trained with other settings (differs in: "
                f"{', '.join(diff)}); use another --out or the same options"
            )
    if tracks is None:
        root = resolve_root(Path(settings.root) if settings.root else None)
        tracks = (
            tracks_for(root, "train", seed=settings.seed),
            tracks_for(root, "valid", seed=settings.seed),
        )
    train_tracks, valid_tracks = tracks
    net = DeOverlapNet(cfg)
    state = {"step": 0, "seconds": 0.0, "curve": [], "rows": 0}
    stats: dict = {}
    if resume is not None:
        state, stats = resume["state"], resume["stats"]
        stats = {int(k): v for k, v in stats.items()}
        log.info("resumed from %s after %d steps", ck_path, state["step"])
    data = ClipSource(train_tracks, settings.seconds, settings.seed, settings.synthetic)
    valid = _valid_signals(valid_tracks or train_tracks, settings.valid_clips)
    T = net.transform
    budget = settings.minutes * 60.0

    def save() -> None:
        save_state(
            {
                "kind": KIND,
                "config": cfg.to_dict(),
                "settings": asdict(settings),
                "state": state,
                "stats": {str(k): v for k, v in stats.items()},
            },
            ck_path,
        )

    def solve_and_validate(announce: bool) -> None:
        t0 = time.perf_counter()
        if stats:
            solve(net, stats, settings.ridge)
        rows = [measure(net, v) for v in valid]
        # the solve and the validation count as training time (the curve is honest wall time)
        state["seconds"] += time.perf_counter() - t0
        row = {
            "minutes": state["seconds"] / 60.0,
            "steps": state["step"],
            "clips": state["step"] * settings.batch_size,
            "rows": state["rows"],
        }
        for k in ("coef_learned", "coef_baseline", "wave_learned", "wave_baseline"):
            row[f"valid_{k}_db"] = float(np.median([r[k] for r in rows])) if rows else math.nan
        state["curve"].append(row)
        if announce:
            log.info("%s", curve_line(row))
        save()
        save_model(net, out / MODEL, {"curve": state["curve"]})

        atomic_write(
            out / CURVE,
            lambda tmp: pd.DataFrame(state["curve"]).to_csv(tmp, index=False, float_format="%.6g"),
        )

    # Seconds of data gathered, shown whole (tqdm would print the float sums as they are).
    bar = tqdm(
        total=round(budget),
        initial=min(round(state["seconds"]), round(budget)),
        unit="s",
        desc="de-overlap",
        disable=not progress,
        leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s "
        "[{elapsed}<{remaining}{postfix}]",
    )
    last_save, fresh = time.perf_counter(), False
    # solves are spaced geometrically (2x the time trained at the last one, at least
    # solve_seconds): a curve from the first minute on, and most of the time spent on data
    next_solve = max(
        settings.solve_seconds,
        2 * (state["curve"][-1]["minutes"] * 60.0 if state["curve"] else 0.0),
    )
    redirect = logging_redirect_tqdm() if progress else contextlib.nullcontext()
    with redirect:  # log lines (a solve's held-out SNR) above the bar, not through it
        while state["seconds"] < budget and (
            settings.steps is None or state["step"] < settings.steps
        ):
            t0 = time.perf_counter()
            with torch.no_grad():
                x = data.batch(state["step"], settings.batch_size)
                data_rows = patches(net, T(x))
                for i, (X, Y) in data_rows.items():
                    st = stats.setdefault(i, {"xx": 0, "xy": 0})
                    st["xx"] = st["xx"] + X.T @ X
                    st["xy"] = st["xy"] + X.T @ Y
                state["rows"] += max((len(X) for X, _ in data_rows.values()), default=0)
            state["step"] += 1
            fresh = True
            dt = time.perf_counter() - t0
            state["seconds"] += dt
            # not at the last step: the closing solve comes next and would only repeat it
            last_step = settings.steps is not None and state["step"] >= settings.steps
            if state["seconds"] >= next_solve and state["seconds"] < budget and not last_step:
                solve_and_validate(announce=True)
                fresh = False
                next_solve = max(state["seconds"] + settings.solve_seconds, 2 * state["seconds"])
                last_save = time.perf_counter()
            elif time.perf_counter() - last_save >= settings.solve_seconds:
                save()  # the statistics: an interrupted run loses at most a minute of data
                last_save = time.perf_counter()
            # the bar follows the trained time, solves included (as the budget counts them)
            bar.update(min(state["seconds"], budget) - bar.n)
            bar.set_postfix_str(f"{state['step'] * settings.batch_size} clips")
        bar.close()
    if fresh or not state["curve"]:
        solve_and_validate(announce=False)
    return state["curve"]


def curve_line(row: dict) -> str:
    """One training-curve row in words: time, clips and the held-out SNRs (dB), e.g.
    ``after 2.0 min, 240 clips: held-out waveform SNR 31.2 dB (window split 24.9 dB),
    coefficients 22.0 dB (18.1 dB)``."""
    return (
        f"after {row['minutes']:.1f} min, {int(row['clips'])} clips: held-out waveform SNR "
        f"{row['valid_wave_learned_db']:.1f} dB (window split {row['valid_wave_baseline_db']:.1f}"
        f" dB), coefficients {row['valid_coef_learned_db']:.1f} dB "
        f"({row['valid_coef_baseline_db']:.1f} dB)"
    )


# ----------------------------------------------------------------------------- evaluation


def _block_wave_snrs(
    T, x: Tensor, C: list[Tensor], est: list[Tensor], base: list[Tensor], chunk: int = 8
) -> tuple[list[float], list[float]]:
    """Waveform SNRs (dB) of ``x`` when only block b is replaced, by ``est[b]`` (first list)
    or by ``base[b]`` (second), for every block b.

    The inverse is linear, so the waveform error of block b alone is the inverse of that
    block's coefficient error by itself (``SliCQT.block_inverses``: no inverse of zeros,
    ``chunk`` errors synthesised per call); a block the net leaves to the split (beyond
    ``max_frames``: ``est[b]`` is ``base[b]``) is inverted once for both lists.
    """
    energy = float(torch.linalg.vector_norm(x) ** 2)
    parts, slots = [], []  # the errors to invert; per block, where its two SNRs come from
    for b, (c, e, s) in enumerate(zip(C, est, base, strict=True)):
        same = e is s or torch.equal(e, s)
        if not same:
            parts.append((b, e - c))
        parts.append((b, s - c))
        slots.append((len(parts) - 1 - (not same), len(parts) - 1))
    snrs = []
    for first in range(0, len(parts), chunk):
        err = T.block_inverses(parts[first : first + chunk], x.shape[-1])
        den = torch.linalg.vector_norm(err.reshape(len(err), -1), dim=1) ** 2
        snrs += [math.inf if d == 0 else 10 * math.log10(energy / d) for d in den.tolist()]
    return [snrs[i] for i, _ in slots], [snrs[j] for _, j in slots]


def evaluate_deoverlap(
    net: DeOverlapNet,
    tracks: list,
    seconds: float | None = 10.0,
    sources: tuple[str, ...] | None = None,
    progress: bool = True,
):
    """Per (track, source, block) SNRs of the learned net and the baseline split.

    ``tracks``: held-out tracks; each source (mixture and stems, or ``sources``) contributes
    its middle ``seconds`` (None: the whole track); silent ones are skipped. Float64
    throughout. Returns a pandas DataFrame with columns ``track, source, block, start_bin,
    bins, frames, fmin_hz, fmax_hz, coef_snr_learned, coef_snr_baseline, wave_snr_learned,
    wave_snr_baseline``: block ``all`` de-overlaps every block; a numbered block
    de-overlaps only that one (the others exact), so its waveform SNR says how much of the
    error it causes. ``progress``: a bar over the signals on stderr (each costs a few plain
    inverses: one slice synthesis per block, :func:`_block_wave_snrs`).
    """
    T = net.transform
    net = net.double()
    freqs = T.frequencies()
    audio = TrackAudio(tracks, preload=False)
    rows = []
    n_signals = sum(len(sources or ("mixture", *t.targets)) for t in tracks)
    bar = tqdm(
        total=n_signals, desc="de-overlap eval", unit="signal", disable=not progress, leave=False
    )
    for i, t in enumerate(tracks):
        n = (
            audio.lengths[i]
            if seconds is None
            else min(audio.lengths[i], int(round(seconds * SAMPLE_RATE)))
        )
        start = (audio.lengths[i] - n) // 2
        for src in ("mixture", *t.targets) if sources is None else sources:
            x = torch.from_numpy(audio.read(i, src, start, n)).double()
            if not float(x.abs().max()) > 0:
                bar.update(1)
                continue
            with torch.no_grad():
                C, est, base = _learned_and_split(net, x)
                whole = _whole_snrs(T, x, C, est, base)
                rows.append(
                    {
                        "track": t.name,
                        "source": src,
                        "block": "all",
                        "start_bin": 0,
                        "bins": len(freqs),
                        "frames": math.nan,
                        "fmin_hz": 0.0,
                        "fmax_hz": float(freqs[-1]),
                        **{k.replace("_", "_snr_", 1): v for k, v in whole.items()},
                    }
                )
                wave_e, wave_b = _block_wave_snrs(T, x, C, est, base)
                for b, blk in enumerate(T.out_blocks):
                    rows.append(
                        {
                            "track": t.name,
                            "source": src,
                            "block": str(b),
                            "start_bin": blk.start,
                            "bins": blk.bins,
                            "frames": blk.frames,
                            "fmin_hz": float(freqs[blk.start]),
                            "fmax_hz": float(freqs[blk.start + blk.bins - 1]),
                            "coef_snr_learned": snr_db(C[b], est[b]),
                            "coef_snr_baseline": snr_db(C[b], base[b]),
                            "wave_snr_learned": wave_e[b],
                            "wave_snr_baseline": wave_b[b],
                        }
                    )
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)
