"""X-UMX losses computed in ONE shared STFT domain (docs/design.md, Demixer).

Each target's branch works in its own transform, so the branches' coefficients do not share
a shape; the losses therefore take the four *waveform* estimates and put them through one
common STFT (``shared_stft.SharedSTFT``, default 4096/1024). This is what lets every target
keep its own transform.

Shapes: ``estimates`` and ``targets`` are (batch, n_targets, channels, samples) float;
``mixture`` is (batch, channels, samples). Every loss returns a scalar tensor.

    L = L_freq + alpha * L_time (+ beta * L_masksum)

- L_freq: MSE of STFT magnitudes (``freq="mag"``) or of the complex STFT (``freq="complex"``).
- L_time: weighted SDR (Choi et al. 2019, ``time="wsdr"``), or negative plain SDR /
  SI-SDR in dB (``time="sdr"`` / ``"sisdr"``; note these are in dB, so alpha 10 weighs them
  far more heavily than the [-1, 1] wSDR).
- combination loss: both terms averaged over subsets of the targets, comparing sums of
  estimates with sums of targets: for K <= ``ALL_SUBSETS_MAX`` targets every non-empty proper
  subset (2^K - 2: 14 for four targets, 30 for five); for more targets, per training step,
  the K single targets plus K subsets of 2..K-1 targets drawn by a generator seeded with
  (seed, step) (size uniform, then members uniform). So a step costs 2K subset sums instead
  of 2^K - 2, about linear in K (the STFT of each target is computed once either way);
  validation uses the draw of step -1, the same every epoch, so its loss stays comparable.
- L_masksum (optional): ``mean((sum_t |Y_t| - |X|)^2)`` in the shared STFT, i.e. the
  deviation of the effective masks' sum from 1 weighted by the mixture's energy
  (``|X|^2 (sum_t M_t - 1)^2`` with ``M_t = |Y_t|/|X|``), which stays finite where |X| -> 0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tfselect.demix.shared_stft import SharedSTFT

EPS = 1e-8
ALL_SUBSETS_MAX = 5  # up to this many targets the combination loss uses every subset


def combinations(n_targets: int) -> list[tuple[int, ...]]:
    """All non-empty proper subsets of ``range(n_targets)`` (14 for 4 targets), by size."""
    return [
        c for r in range(1, n_targets) for c in itertools.combinations(range(n_targets), r)
    ] or [(0,)]


def sampled_combinations(n_targets: int, seed: int, step: int) -> list[tuple[int, ...]]:
    """The K single targets and K seeded subsets of 2..K-1 targets (for K > ALL_SUBSETS_MAX)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(step) + 1])  # step -1: validation
    out = [(i,) for i in range(n_targets)]
    for _ in range(n_targets):
        size = int(rng.integers(2, n_targets))
        out.append(tuple(sorted(int(i) for i in rng.choice(n_targets, size, replace=False))))
    return out


def _mag(z: Tensor) -> Tensor:
    """Magnitude of a complex tensor given as its real view (..., 2)."""
    return (z.pow(2).sum(-1) + 1e-20).sqrt()


def weighted_sdr(mixture: Tensor, target: Tensor, estimate: Tensor) -> Tensor:
    """Weighted SDR loss of Choi et al. (2019) per signal, in [-1, 1] (lower is better).

    Args are (..., samples); the cosine is taken over the last axis. With n = x - s and
    n^ = x - s^, ``a = |s|^2 / (|s|^2 + |n|^2)`` and
    ``wSDR = -a cos(s, s^) - (1 - a) cos(n, n^)``. Returns shape (...).
    """
    noise, noise_est = mixture - target, mixture - estimate

    def cos(a: Tensor, b: Tensor) -> Tensor:
        return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)

    es, en = target.pow(2).sum(-1), noise.pow(2).sum(-1)
    a = es / (es + en + EPS)
    return -a * cos(target, estimate) - (1 - a) * cos(noise, noise_est)


def neg_sdr(target: Tensor, estimate: Tensor) -> Tensor:
    """Negative plain SDR in dB over the last axis, ``-10 log10(|s|^2 / |s - s^|^2)``."""
    num = target.pow(2).sum(-1) + EPS
    den = (target - estimate).pow(2).sum(-1) + EPS
    return -10 * torch.log10(num / den)


def neg_sisdr(target: Tensor, estimate: Tensor) -> Tensor:
    """Negative scale-invariant SDR in dB over the last axis (Le Roux et al. 2019)."""
    scale = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + EPS)
    proj = scale * target
    return neg_sdr(proj, estimate)


@dataclass
class LossConfig:
    """Options of the multi-domain combination loss (see module docstring)."""

    alpha: float = 10.0
    freq: str = "mag"  # mag | complex
    time: str = "wsdr"  # wsdr | sdr | sisdr
    combination: bool = True
    masksum: float = 0.0  # weight beta of the mask-sum regulariser; 0 = off
    n_fft: int = 4096
    hop: int = 1024

    def __post_init__(self) -> None:
        if self.freq not in ("mag", "complex"):
            raise ValueError(f"freq loss must be 'mag' or 'complex', got {self.freq!r}")
        if self.time not in ("wsdr", "sdr", "sisdr"):
            raise ValueError(f"time loss must be 'wsdr', 'sdr' or 'sisdr', got {self.time!r}")


class DemixLoss(torch.nn.Module):
    """Multi-domain X-UMX loss with combinations, in one shared STFT.

    ``forward(estimates, targets, mixture, step) -> (loss, parts)`` where ``parts`` holds
    the detached scalar terms ``freq``, ``time`` and ``masksum`` for logging; ``step`` (the
    global training step, None for validation) picks the subset draw for K > 5 targets.
    """

    def __init__(self, config: LossConfig | None = None, n_targets: int = 4,
                 seed: int = 0) -> None:
        super().__init__()
        self.config = config or LossConfig()
        self.stft = SharedSTFT(self.config.n_fft, self.config.hop)
        self.n_targets, self.seed = n_targets, seed
        self.sampled = self.config.combination and n_targets > ALL_SUBSETS_MAX
        subsets = combinations(n_targets) if self.config.combination else [
            (i,) for i in range(n_targets)
        ]
        self.register_buffer("selection", _selection(subsets, n_targets), persistent=False)

    def subsets(self, step: int | None = None) -> list[tuple[int, ...]]:
        """The target subsets of the combination loss at ``step`` (see the module docstring)."""
        if self.sampled:
            return sampled_combinations(self.n_targets, self.seed, -1 if step is None else step)
        return [tuple(int(i) for i in row.nonzero()) for row in self.selection]

    def forward(
        self, estimates: Tensor, targets: Tensor, mixture: Tensor, step: int | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        cfg = self.config
        sel = self.selection
        if self.sampled:
            sel = _selection(self.subsets(step), self.n_targets).to(sel.device)
        sel = sel.to(estimates.dtype)
        # (batch, subsets, channels, samples): sums of estimates / targets per subset.
        est = torch.einsum("kt,btcn->bkcn", sel, estimates)
        ref = torch.einsum("kt,btcn->bkcn", sel, targets)
        # The STFT is linear: transform the 4 signals once and sum subsets in that domain
        # (3.5x less STFT work than transforming the 14 sums). Sums and magnitudes run on
        # the real view (re, im): much faster on CPU than complex einsum and hypot.
        Et = torch.view_as_real(self.stft(estimates))
        Rt = torch.view_as_real(self.stft(targets))
        E = torch.einsum("kt,btcfnz->bkcfnz", sel, Et)
        R = torch.einsum("kt,btcfnz->bkcfnz", sel, Rt)
        if cfg.freq == "mag":
            # sqrt(re^2 + im^2 + tiny): the tiny term keeps the gradient finite at 0
            l_freq = (_mag(E) - _mag(R)).pow(2).mean()
        else:
            l_freq = (E - R).pow(2).sum(-1).mean()
        if cfg.time == "wsdr":
            l_time = weighted_sdr(mixture.unsqueeze(1), ref, est).mean()
        elif cfg.time == "sdr":
            l_time = neg_sdr(ref, est).mean()
        else:
            l_time = neg_sisdr(ref, est).mean()
        loss = l_freq + cfg.alpha * l_time
        l_mask = loss.new_zeros(())
        if cfg.masksum > 0:
            Y = self.stft(estimates).abs().sum(1)
            l_mask = (Y - self.stft(mixture).abs()).pow(2).mean()
            loss = loss + cfg.masksum * l_mask
        parts = {
            "freq": float(l_freq.detach()), "time": float(l_time.detach()),
            "masksum": float(l_mask.detach()),
        }
        return loss, parts


def _selection(subsets: list[tuple[int, ...]], n_targets: int) -> Tensor:
    """(n_subsets, n_targets) 0/1 matrix: sums over subsets become one einsum."""
    sel = torch.zeros(len(subsets), n_targets)
    for k, s in enumerate(subsets):
        sel[k, list(s)] = 1.0
    return sel
