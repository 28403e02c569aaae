"""Overlap-add of sliCQT slices and the window-weighted split, against loops and formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfselect.transforms import build
from tfselect.transforms.filterbank import tukey
from tfselect.transforms.overlap import Overlap, overlap_add, snr_db, split, split_weights, tukey_at

SPEC = "slicqt:scale=bark,bins=48,fmin=60,fmax=22050"


def _ola_loop(c: np.ndarray) -> np.ndarray:
    """The overlap-add written as the definition: slice j's frame n lands on j·F/2 + n."""
    *lead, S, F = c.shape
    out = np.zeros((*lead, (S + 1) * F // 2), dtype=c.dtype)
    for j in range(S):
        for n in range(F):
            out[..., j * F // 2 + n] += c[..., j, n]
    return out


def test_overlap_add_matches_a_loop():
    rng = np.random.default_rng(0)
    c = rng.standard_normal((2, 3, 5, 7, 12)) + 1j * rng.standard_normal((2, 3, 5, 7, 12))
    got = overlap_add(torch.from_numpy(c)).numpy()
    np.testing.assert_allclose(got, _ola_loop(c), rtol=0, atol=1e-12)


def test_overlap_add_refuses_odd_frames():
    with pytest.raises(ValueError, match="even"):
        overlap_add(torch.zeros(1, 3, 5))


@pytest.mark.parametrize(("sllen", "trlen"), [(64, 16), (64, 32), (96, 20)])
def test_tukey_at_integer_positions_is_the_slice_window(sllen, trlen):
    t = np.arange(sllen)
    np.testing.assert_allclose(tukey_at(t, sllen, trlen), tukey(sllen, trlen), atol=1e-12)


def test_split_weights_share_each_overlap_frame_between_two_slices():
    sllen, trlen, F, S = 3276, 820, 20, 6
    w = split_weights(F, S, sllen, trlen)
    # inner overlaps: slice j's second half + slice j+1's first half = 1 at every frame
    np.testing.assert_allclose(w[:-1, F // 2:] + w[1:, : F // 2], 1.0, atol=1e-12)
    # the slice's own window at its frame instants (partition of unity: the share is w itself)
    np.testing.assert_allclose(w[1, :], tukey_at(np.arange(F) * sllen / F, sllen, trlen),
                               atol=1e-12)
    assert (w[0, : F // 2] == 1).all() and (w[-1, F // 2:] == 1).all()  # no neighbour there


def test_split_is_a_right_inverse_of_overlap_add():
    rng = np.random.default_rng(1)
    S, F = 5, 16
    w = split_weights(F, S, 3276, 820)
    pic = torch.from_numpy(rng.standard_normal((2, 4, (S + 1) * F // 2)) + 0j)
    torch.testing.assert_close(overlap_add(split(pic, w)), pic, rtol=0, atol=1e-12)


def test_split_is_exact_for_slices_that_are_window_shares_of_one_picture():
    # slices whose content is exactly their window's share of a common picture (no smear
    # beyond the window): the split recovers them exactly
    rng = np.random.default_rng(2)
    S, F = 6, 24
    w = split_weights(F, S, 3276, 820)
    Z = rng.standard_normal((3, (S + 1) * F // 2)) + 1j * rng.standard_normal((3, (S + 1) * F // 2))
    slices = np.stack([w[j] * Z[:, j * F // 2 : j * F // 2 + F] for j in range(S)], -2)
    got = split(overlap_add(torch.from_numpy(slices)), w).numpy()
    np.testing.assert_allclose(got, slices, atol=1e-12)


@pytest.mark.parametrize("phase", ["local", "global"])
def test_overlapping_slices_see_an_impulse_with_the_same_phase(phase):
    # An impulse where two slice windows cross (both 0.5): slice j sees it at local time
    # 3·sllen/4, slice j+1 at sllen/4. With consistent phase conventions the two slices'
    # coefficients are the same kernel, one hop (F/2 frames, circularly) apart, in every bin;
    # a per-bin sign or carrier left in them would make the complex overlap-add cancel.
    T = build(f"{SPEC},phase={phase}", 44100).double()
    H, j = T.sllen // 2, 3
    x = torch.zeros(1, 8 * H, dtype=torch.float64)
    x[0, (j - 1) * H + 3 * T.sllen // 4] = 1.0
    for c in T(x):
        F = c.shape[-1]
        here, there = c[0, :, j], c[0, :, j + 1]
        torch.testing.assert_close(torch.roll(here, -F // 2, -1), there, rtol=1e-9, atol=1e-12)
        assert here.abs().max() > 1e-3
    # the overlap-added picture is the whole kernel, not a cancellation
    pic = overlap_add(T(x)[0])
    assert float(pic.abs().max()) > 1.9 * float(T(x)[0].abs().max())


def test_baseline_split_on_a_real_signal_is_finite_and_good():
    rng = np.random.default_rng(3)
    T = build(SPEC, 44100).double()
    t = np.arange(2 * 44100) / 44100
    x = sum(np.sin(2 * np.pi * f * t + p) for f, p in zip(rng.uniform(50, 8000, 20),
                                                           rng.uniform(0, 6, 20), strict=True))
    x = torch.from_numpy(np.stack([x, 0.3 * x + 0.01 * rng.standard_normal(len(t))]))
    C = T(x)
    ov = Overlap.of(T)
    est = ov.split(ov.ola(C))
    coef = snr_db(torch.cat([c.flatten() for c in C]), torch.cat([e.flatten() for e in est]))
    wave = snr_db(x, T.inverse(est, x.shape[-1]))
    assert np.isfinite(coef) and np.isfinite(wave)
    assert coef > 8 and wave > 25
    # and it is not exact: the long windows smear beyond the slice window
    assert coef < 60


def test_snr_db():
    ref = torch.tensor([3.0, 4.0])
    assert snr_db(ref, ref) == float("inf")
    assert snr_db(ref, ref * 0.9) == pytest.approx(20.0)
