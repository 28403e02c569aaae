"""Mask oracles and SDR: exact on a one-source mixture, sensible on a two-source one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tfselect.metrics.oracles import ORACLES, oracle_estimates
from tfselect.metrics.sdr import fast_sdr, museval_sdr
from tfselect.transforms import build

SR = 44100


@pytest.fixture(
    scope="module",
    params=["stft:n_fft=4096,hop=1024", "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"],
    ids=["stft", "slicqt"],
)
def transform(request):
    return build(request.param, sample_rate=SR)


def _signal(seed: int, n: int = 3 * SR) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64) / SR
    tone = 0.3 * torch.sin(2 * math.pi * (220 + 40 * seed) * t)
    return tone + 0.05 * torch.randn(2, n, dtype=torch.float64, generator=g)


def _oracle_sdrs(T, mixture: torch.Tensor, stems: torch.Tensor, target: int) -> dict[str, float]:
    C = T(torch.cat([mixture[None], stems]))
    est = oracle_estimates([c[0] for c in C], [c[1:] for c in C], target)
    y = T.inverse(est, mixture.shape[-1])
    return {name: float(fast_sdr(stems[target], y[i])) for i, name in enumerate(ORACLES)}


def test_every_oracle_is_exact_on_a_one_source_mixture(transform) -> None:
    s = _signal(0)
    stems = torch.stack([s, torch.zeros_like(s), torch.zeros_like(s), torch.zeros_like(s)])
    sdrs = _oracle_sdrs(transform, s, stems, target=0)
    assert set(sdrs) == set(ORACLES)
    for name, value in sdrs.items():
        assert value >= 100.0, name


def test_oracles_on_two_sources_are_finite_and_ordered(transform) -> None:
    a, b = _signal(1), _signal(2)
    stems = torch.stack([a, b, torch.zeros_like(a), torch.zeros_like(a)])
    sdrs = _oracle_sdrs(transform, a + b, stems, target=0)
    for name, value in sdrs.items():
        assert math.isfinite(value) and 0.0 < value < 60.0, (name, value)
    # The mixture itself scores 10·log10(Σa²/Σb²) ≈ 0 dB: every oracle must beat it clearly.
    assert min(sdrs.values()) > float(fast_sdr(a, a + b)) + 5.0


def test_float32_oracles_are_close_to_float64(transform) -> None:
    a, b = _signal(3), _signal(4)
    stems = torch.stack([a, b, torch.zeros_like(a), torch.zeros_like(a)])
    hi = _oracle_sdrs(transform, a + b, stems, 0)
    lo = _oracle_sdrs(transform, (a + b).float(), stems.float(), 0)
    for name in ORACLES:
        assert lo[name] == pytest.approx(hi[name], abs=0.05)


def test_fast_sdr_values() -> None:
    s = torch.randn(2, 1000, dtype=torch.float64)
    assert float(fast_sdr(s, 0.5 * s)) == pytest.approx(10 * math.log10(4.0))
    assert float(fast_sdr(s, torch.zeros_like(s))) == pytest.approx(0.0, abs=1e-12)
    assert math.isfinite(float(fast_sdr(s, s)))  # perfect estimate: large but finite
    batch = fast_sdr(s, torch.stack([s, 0.5 * s]))
    assert batch.shape == (2,) and float(batch[1]) == pytest.approx(6.0206, abs=1e-3)


@pytest.mark.slow
def test_museval_sdr_agrees_with_fast_sdr_on_additive_noise() -> None:
    rng = np.random.default_rng(0)
    s = torch.from_numpy(rng.standard_normal((2, 3 * SR)))
    noisy = s + 0.1 * torch.from_numpy(rng.standard_normal((2, 3 * SR)))
    assert float(fast_sdr(s, noisy)) == pytest.approx(20.0, abs=0.2)
    assert museval_sdr(s, noisy) == pytest.approx(20.0, abs=1.0)
