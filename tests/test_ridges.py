"""Ridge extraction: exact DP, chirps and two components on the STFT and a sliCQT."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from tfselect.metrics.ridges import (
    RidgeConfig,
    extract_ridges,
    grid_mask_to_blocks,
    ridge_analysis,
)
from tfselect.transforms import build

SR = 44100
DUR = 4.0
STFT = "stft:n_fft=4096,hop=1024"
SLICQT = "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"


@pytest.fixture(scope="module", params=[STFT, SLICQT], ids=["stft", "slicqt"])
def transform(request):
    return build(request.param, sample_rate=SR)


def _tone(freq_of_t) -> tuple[torch.Tensor, np.ndarray]:
    """Unit sinusoid with instantaneous frequency freq_of_t(t) (Hz), shape (1, samples)."""
    t = np.arange(int(SR * DUR)) / SR
    phase = 2 * np.pi * np.cumsum(freq_of_t(t)) / SR
    return torch.from_numpy(np.sin(phase))[None], t


def _analyse(T, x: torch.Tensor, config: RidgeConfig, direction: str = "time"):
    with torch.no_grad():
        power = T.grid(T(x)).abs().square().sum(0)
    return ridge_analysis(power, T.frequencies(), T.frame_rate(), direction, config)


def _frame_times(T, res) -> np.ndarray:
    """Centre time (s) of every analysed (possibly pooled) frame."""
    r = res["factor"]
    n = res["paths"].shape[-1]
    return (np.arange(n) * r + (r - 1) / 2) / T.frame_rate()


def _hit_rate(T, res, freq_of_t) -> float:
    """Share of in-signal frames where some ridge is within ±1 bin of the true frequency."""
    f = T.frequencies()
    times = _frame_times(T, res)
    inside = times < DUR
    true_bin = np.abs(f[None, :] - freq_of_t(times[inside])[:, None]).argmin(axis=1)
    paths = res["paths"].numpy()[:, inside]  # (K, frames)
    return float((np.abs(paths - true_bin[None]) <= 1).any(axis=0).mean())


def linear(t):
    return 200.0 + (3000.0 - 200.0) * t / DUR


def exponential(t):
    return 100.0 * 2.0 ** (4.0 * t / DUR)  # 100 Hz -> 1.6 kHz, 4 octaves


@pytest.mark.parametrize("law", [linear, exponential], ids=["linear", "exponential"])
def test_chirp_ridge_within_one_bin(transform, law) -> None:
    x, _ = _tone(law)
    res = _analyse(transform, x, RidgeConfig(n_ridges=1))
    assert _hit_rate(transform, res, law) >= 0.95
    assert res["stability"] >= 0.9  # a clean chirp: the same ridge for every penalty
    assert 0.5 < res["energy"] <= 1.0


def test_two_components_each_tracked(transform) -> None:
    def steady(t):
        return np.full_like(t, 2500.0)

    a, _ = _tone(linear)
    b, _ = _tone(steady)
    res = _analyse(transform, a + b, RidgeConfig(n_ridges=2))
    assert _hit_rate(transform, res, linear) >= 0.95
    assert _hit_rate(transform, res, steady) >= 0.95


def test_ridge_restricted_sinusoid_rebuilds_well(transform) -> None:
    """Keeping ±1 bin around one ridge of a steady tone keeps nearly all of it."""
    x, _ = _tone(lambda t: np.full_like(t, 1000.0))
    C = transform(x)
    res = _analyse(transform, x, RidgeConfig(n_ridges=1))
    masks = grid_mask_to_blocks(transform, C, res["mask"])
    y = transform.inverse([c * m for c, m in zip(C, masks, strict=True)], x.shape[-1])
    err = (x - y)[..., SR // 2 : -SR // 2]  # edges: windows cut by the signal's ends
    ref = x[..., SR // 2 : -SR // 2]
    sdr = 10 * math.log10(float(ref.square().sum() / err.square().sum()))
    assert sdr > 10.0


def test_mask_to_blocks_all_none_and_local(transform) -> None:
    x = torch.randn(
        2, int(SR * 2.0), dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    C = transform(x)
    bins, frames = transform.grid(C).shape[-2:]
    ones = grid_mask_to_blocks(transform, C, torch.ones(bins, frames))
    zeros = grid_mask_to_blocks(transform, C, torch.zeros(bins, frames))
    # Every coefficient the grid sees is kept; a sliCQT's first half-slice lies before t = 0,
    # outside the grid, and is dropped (it holds no ridge).
    for m in ones:
        assert bool((m[..., 1:, :] == 1).all())
        assert float(m[..., 0, :].mean()) >= 0.5
    assert all(bool((m == 0).all()) for m in zeros)
    # The first half of the grid in time: kept coefficients cover about half of each block.
    half = torch.zeros(bins, frames)
    half[:, : frames // 2] = 1
    masks = grid_mask_to_blocks(transform, C, half)
    for c, m in zip(C, masks, strict=True):
        assert m.expand_as(c)[0].shape == c[0].shape
        assert 0.3 < float(m.mean()) < 0.7


def _best_cost(cost: np.ndarray, s: np.ndarray, lam: float, band: int) -> float:
    """Exhaustive-transition DP (O(L·S²)) of the same objective, for reference."""
    n_states, n_steps = cost.shape
    acc = cost[:, 0].copy()
    for n in range(1, n_steps):
        new = np.empty(n_states)
        for k in range(n_states):
            new[k] = cost[k, n] + min(
                acc[j] + lam * (s[k] - s[j]) ** 2 for j in range(n_states) if abs(j - k) <= band
            )
        acc = new
    return float(acc.min())


@pytest.mark.parametrize("band", [1, 3, 20])
def test_dp_is_optimal(band: int) -> None:
    rng = np.random.default_rng(band)
    power = rng.random((12, 15)) ** 4
    s = np.log2(np.linspace(100, 1000, 12))
    lam, eps = 5.0, 1e-8
    path = extract_ridges(torch.from_numpy(power), s, lam, n_ridges=1, band=band, eps=eps)[0]
    p = path.numpy()
    assert np.abs(np.diff(p)).max() <= band
    cost = -np.log(power / power.max(axis=0) + eps)
    found = cost[p, np.arange(15)].sum() + lam * np.sum(np.diff(s[p]) ** 2)
    assert found == pytest.approx(_best_cost(cost, s, lam, band), rel=1e-6)  # float32 DP


def test_penalties_batch_equals_one_by_one() -> None:
    rng = np.random.default_rng(7)
    power = torch.from_numpy(rng.random((30, 40)) ** 3)
    s = np.arange(30) / 10.0
    both = extract_ridges(power, s, [0.5, 50.0], n_ridges=3, band=4)
    for i, lam in enumerate([0.5, 50.0]):
        assert torch.equal(both[i], extract_ridges(power, s, lam, n_ridges=3, band=4))


def test_ridges_are_cleared_apart() -> None:
    rng = np.random.default_rng(8)
    power = torch.from_numpy(rng.random((40, 25)))
    paths = extract_ridges(power, np.arange(40.0), 0.01, n_ridges=3, band=8, clear=3)
    for a, b in itertools.combinations(paths.numpy(), 2):
        assert (np.abs(a - b) > 3).all()


def test_freq_ridges_find_clicks() -> None:
    """Vertical ridges (along frequency) of two clicks sit at the clicks' frames."""
    T = build(STFT, sample_rate=SR)
    x = 1e-4 * torch.randn(
        1, int(SR * DUR), dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    clicks = [int(1.0 * SR), int(2.5 * SR)]
    for c in clicks:
        x[0, c] += 1.0
    res = _analyse(T, x, RidgeConfig(n_ridges=2), direction="freq")
    paths = res["paths"].numpy()  # (K, bins): frame index per bin
    for c in clicks:
        frame = round(c / T.hop)
        assert (np.abs(paths - frame) <= 1).any(axis=0).mean() >= 0.95
    assert res["energy"] > 0.5


def test_ridge_scores_do_not_depend_on_the_nsgt_phase(clips):
    """Global-phase NSGT grids are demodulated like local ones: same ridge scores."""
    from tfselect.metrics import score

    cl = clips(seconds=2.0, target="vocals", skip_silent=True)
    body = "nsgt:fmin=40,fmax=20000,bpo=12"
    names = ["ridge_energy_freq", "ridge_sdr_freq", "ridge_sdr_time"]
    glob = score(f"{body},phase=global", "vocals", cl, metrics=names, dtype=torch.float64)
    loc = score(f"{body},phase=local", "vocals", cl, metrics=names, dtype=torch.float64)
    for name in names:
        assert glob[name] == pytest.approx(loc[name], abs=1e-3), name
