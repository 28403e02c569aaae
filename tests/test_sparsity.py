"""Sparsity measures: Gini's defining properties, Rényi normalisation, ragged weighting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tfselect.metrics.sparsity import (
    block_weights,
    gini,
    hoyer,
    renyi3,
    renyi3_normalised,
    sparsity_scores,
)


@pytest.fixture
def mags() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(4000, generator=g, dtype=torch.float64).abs() ** 3


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_gini_one_hot_and_constant(n: int) -> None:
    one_hot = torch.zeros(n)
    one_hot[n // 3] = 5.0
    assert gini(one_hot) == pytest.approx(1 - 1 / n, abs=1e-12)
    assert gini(torch.full((n,), 0.7)) == pytest.approx(0.0, abs=1e-12)


def test_gini_scale_and_cloning_invariance(mags: torch.Tensor) -> None:
    g = gini(mags)
    assert 0.0 < g < 1.0
    assert gini(mags * 123.4) == pytest.approx(g, rel=1e-12)
    assert gini(mags.repeat(2)) == pytest.approx(g, rel=1e-12)  # every coefficient twice
    assert gini(mags.repeat_interleave(3)) == pytest.approx(g, rel=1e-12)
    # Hoyer is not cloning-invariant (documented): it must move when N doubles.
    assert hoyer(mags.repeat(2)) != pytest.approx(hoyer(mags), rel=1e-3)


def test_gini_matches_the_textbook_formula(mags: torch.Tensor) -> None:
    c = np.sort(mags.numpy())
    n = c.size
    k = np.arange(1, n + 1)
    expected = 1 - 2 * np.sum(c / c.sum() * (n - k + 0.5) / n)
    assert gini(mags) == pytest.approx(expected, rel=1e-12)


def test_weights_equal_repetition(mags: torch.Tensor) -> None:
    w = torch.randint(1, 5, mags.shape, generator=torch.Generator().manual_seed(1))
    expanded = mags.repeat_interleave(w)
    wf = w.to(torch.float64)
    assert gini(mags, wf) == pytest.approx(gini(expanded), rel=1e-12)
    assert hoyer(mags, wf) == pytest.approx(hoyer(expanded), rel=1e-12)
    assert renyi3(mags, wf) == pytest.approx(renyi3(expanded), rel=1e-12)


def test_hoyer_extremes() -> None:
    one_hot = torch.zeros(50)
    one_hot[3] = 1.0
    assert hoyer(one_hot) == pytest.approx(1.0)
    assert hoyer(torch.ones(50)) == pytest.approx(0.0, abs=1e-12)


def test_renyi_normalised_is_unchanged_by_2x_oversampling() -> None:
    """A spectrogram and the same grid oversampled 2x in time (each frame twice)."""
    t = torch.arange(44100, dtype=torch.float64) / 44100
    x = torch.sin(2 * math.pi * 440 * t) + 0.1 * torch.randn(44100, dtype=torch.float64)
    w = torch.hann_window(2048, dtype=torch.float64)
    mag = torch.stft(x, 2048, 512, window=w, return_complex=True).abs()
    over = mag.repeat_interleave(2, dim=-1)
    n = x.numel()
    assert renyi3(over) == pytest.approx(renyi3(mag) + 1.0, abs=1e-9)  # adds log2(2)
    assert renyi3_normalised(over, n) == pytest.approx(renyi3_normalised(mag, n), abs=1e-9)
    assert gini(over) == pytest.approx(gini(mag), rel=1e-12)


def test_renyi_one_hot_is_zero_bits() -> None:
    v = torch.zeros(64)
    v[7] = 2.0
    assert renyi3(v) == pytest.approx(0.0, abs=1e-12)
    assert renyi3(torch.ones(64)) == pytest.approx(6.0, abs=1e-12)  # log2(64)


def test_ragged_weighting_equals_rasterizing_by_repetition() -> None:
    """Blocks with 4 and 8 frames per slice score like both repeated onto 8 frames."""
    g = torch.Generator().manual_seed(2)
    coarse = torch.randn(2, 3, 5, 4, generator=g, dtype=torch.complex128)
    fine = torch.randn(2, 6, 5, 8, generator=g, dtype=torch.complex128)
    raster = torch.cat([coarse.repeat_interleave(2, dim=-1), fine], dim=1)
    ws = block_weights([coarse, fine])
    assert [float(w.flatten()[0]) for w in ws] == [2.0, 1.0]
    ragged = sparsity_scores([coarse, fine], n_samples=2 * 1000)
    flat = sparsity_scores([raster], n_samples=2 * 1000)
    for key in ("gini", "hoyer", "renyi3"):
        assert ragged[key] == pytest.approx(flat[key], rel=1e-12)
    assert flat["gini"] == pytest.approx(gini(raster.abs()), rel=1e-12)
    assert flat["hoyer"] == pytest.approx(hoyer(raster.abs()), rel=1e-12)
    assert flat["renyi3"] == pytest.approx(renyi3_normalised(raster.abs(), 2 * 1000), rel=1e-12)


def test_sinusoid_is_sparser_than_noise() -> None:
    t = torch.arange(2 * 44100, dtype=torch.float64) / 44100
    w = torch.hann_window(4096, dtype=torch.float64)
    tone = torch.sin(2 * math.pi * 440 * t)[None]
    noise = torch.randn(
        1, t.numel(), dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    blocks = [
        torch.stft(s, 4096, 1024, window=w, return_complex=True)[:, :, None] for s in (tone, noise)
    ]
    a, b = (sparsity_scores([c], t.numel()) for c in blocks)
    assert a["gini"] > b["gini"] + 0.3
    assert a["hoyer"] > b["hoyer"]
    assert a["renyi3"] < b["renyi3"] - 3.0


def test_all_zero_is_defined() -> None:
    z = torch.zeros(10)
    assert gini(z) == 0.0 and hoyer(z) == 0.0 and renyi3(z) == 0.0


def test_zero_padding_is_not_sparsity() -> None:
    """A zero-padded matrix form scores like its ragged blocks: padding is left out."""
    from tfselect.metrics.sparsity import structural_support
    from tfselect.transforms import build

    g = torch.Generator().manual_seed(4)
    n = 2 * 44100
    t = torch.arange(n, dtype=torch.float64) / 44100
    x = (
        torch.sin(2 * math.pi * 330 * t) + 0.05 * torch.randn(n, generator=g, dtype=torch.float64)
    )[None]
    noise = torch.randn(1, n, generator=g, dtype=torch.float64)
    spec = "slicqt:scale=bark,bins=40,fmin=40,fmax=22050"
    ragged, padded = build(spec), build(spec + ",form=zeropad")
    stft = build("stft:n_fft=4096,hop=1024")
    assert structural_support(stft(noise)) is None  # every STFT position is a coefficient
    supports = [structural_support(T(noise)) for T in (ragged, padded)]
    assert all(s is not None for s in supports)  # padding: zeropad frames, the final slice
    a = sparsity_scores(ragged(x), n, support=supports[0])
    b = sparsity_scores(padded(x), n, support=supports[1])
    naive = sparsity_scores(padded(x), n)
    for key in ("gini", "hoyer", "renyi3"):
        assert b[key] == pytest.approx(a[key], rel=1e-9)
    assert naive["gini"] > a["gini"] + 0.01  # what counting the padding would have said
