"""Scales: centre frequencies and Q match nsgt's (log, mel, lin) and xumx-sliCQ's (bark, vqlog)."""

from __future__ import annotations

import numpy as np
import pytest

from tfselect.reference.nsgt_sliced import BarkScale, VQLogScale, patch_nsgt
from tfselect.transforms.scales import (
    SCALES,
    bark2hz,
    centres_and_q,
    hz2bark,
    hz2mel,
    mel2hz,
    min_slice_length,
)


@pytest.mark.parametrize(
    ("scale", "fmin", "fmax", "bins"),
    [("log", 32.7, 16000.0, 84), ("mel", 37.7, 22050.0, 116), ("lin", 10.0, 22000.0, 50)],
)
def test_matches_nsgt(scale: str, fmin: float, fmax: float, bins: int) -> None:
    fs = patch_nsgt().fscale
    ref = {"log": fs.LogScale, "mel": fs.MelScale, "lin": fs.LinScale}[scale](fmin, fmax, bins)
    f_ref, q_ref = ref()
    f, q = centres_and_q(scale, fmin, fmax, bins)
    np.testing.assert_allclose(f, f_ref, rtol=1e-13)
    np.testing.assert_allclose(q, q_ref, rtol=1e-6)  # nsgt's Q of mel is a 1e-8 finite step


def test_bark_and_vqlog_match_their_nsgt_scales() -> None:
    f, q = centres_and_q("bark", 32.9, 22050.0, 262)
    f_ref, q_ref = BarkScale(32.9, 22050.0, 262)()
    np.testing.assert_allclose(f, f_ref, rtol=1e-13)
    np.testing.assert_allclose(q, q_ref, rtol=1e-6)
    f, q = centres_and_q("vqlog", 40.0, 16000.0, 60, gamma=15.0)
    f_ref, q_ref = VQLogScale(40.0, 16000.0, 60, gamma=15.0)()
    np.testing.assert_allclose(f, f_ref, rtol=1e-13)
    np.testing.assert_allclose(q, q_ref, rtol=1e-13)


def test_scale_shapes() -> None:
    for scale in SCALES:
        f, q = centres_and_q(scale, 50.0, 10000.0, 30, gamma=20.0)
        assert f.shape == q.shape == (30,)
        assert np.all(np.diff(f) > 0) and np.all(q > 0)
        shift = 20.0 if scale == "vqlog" else 0.0
        np.testing.assert_allclose([f[0], f[-1]], [50.0 + shift, 10000.0 + shift], rtol=1e-12)
    # Q = F / (2·dF/db): on the log scale that is constant, on lin it grows with F
    _, q = centres_and_q("log", 50.0, 10000.0, 30)
    assert np.ptp(q) == 0
    f, q = centres_and_q("lin", 50.0, 10000.0, 30)
    np.testing.assert_allclose(q, f / (2 * (10000.0 - 50.0) / 29))
    # vqlog: the log scale's Q at a higher centre = wider windows at the bottom
    f0, q0 = centres_and_q("log", 50.0, 10000.0, 30)
    f1, q1 = centres_and_q("vqlog", 50.0, 10000.0, 30, gamma=30.0)
    assert f1[0] / q1[0] > f0[0] / q0[0]


def test_conversions_invert() -> None:
    f = np.array([20.0, 440.0, 22050.0])
    np.testing.assert_allclose(mel2hz(hz2mel(f)), f, rtol=1e-12)
    np.testing.assert_allclose(bark2hz(hz2bark(f)), f, rtol=1e-12)
    assert hz2mel(1000.0) == pytest.approx(1000.0, rel=2e-3)


def test_min_slice_length() -> None:
    f, q = centres_and_q("bark", 32.9, 22050.0, 262)
    assert min_slice_length(f, q, 44100) == (18060, 4516)
    f, q = centres_and_q("log", 100.0, 1000.0, 10)
    sl, tr = min_slice_length(f, q, 8000)
    assert sl % 4 == 0 and tr % 2 == 0 and sl >= np.max(q * 8 * 8000 / f) > sl - 4
    with pytest.raises(ValueError, match="Nyquist"):
        min_slice_length(np.array([5000.0, 6000.0]), np.array([1.0, 1.0]), 8000)
