"""The torch sliCQT against the nsgt 0.19 reference (through tfselect's numpy-2 shim)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfselect.errors import SpecError
from tfselect.reference.nsgt_sliced import NSGTReference, patch_nsgt
from tfselect.transforms import TransformSpec, build

SR = 44100
# small but real configurations: every scale, ragged and nsgt's matrixform (= rasterize)
CASES = [
    "slicqt:scale=log,bins=40,fmin=40,fmax=20000",
    "slicqt:scale=mel,bins=50,fmin=30,fmax=22000,form=rasterize",
    "slicqt:scale=lin,bins=60,fmin=30,fmax=22000",
    "slicqt:scale=bark,bins=60,fmin=30,fmax=22050",
    "slicqt:scale=bark,bins=48,fmin=30,fmax=22050,sllen=9000,trlen=1000,form=rasterize",
    "slicqt:scale=vqlog,bins=30,fmin=30,fmax=16000,gamma=20",
]


@pytest.mark.parametrize("spec", CASES)
def test_coefficients_match_nsgt(spec: str) -> None:
    x = np.random.default_rng(1).standard_normal((2, 23456))
    R = NSGTReference(TransformSpec.parse(spec), SR)
    T = build(spec, SR)
    C_ref = R.forward(x)
    C = T(torch.from_numpy(x))
    assert len(C) == len(C_ref)
    for a, b in zip(C_ref, C, strict=True):
        assert a.shape == tuple(b.shape)
        err = np.abs(a - b.numpy()).max() / np.abs(a).max()
        assert err < 1e-8
    # both invert, to each other's precision
    y_ref = R.inverse(C_ref, x.shape[-1])
    y = T.inverse(C, x.shape[-1]).numpy()
    assert np.abs(y - y_ref).max() < 1e-10
    assert 10 * np.log10(np.sum(x**2) / np.sum((x - y_ref) ** 2)) > 250


def test_shim_makes_nsgfwin_work_on_numpy2() -> None:
    nsgt = patch_nsgt()
    f, q = nsgt.LogScale(50, 10000, 20)()
    g, rfbas, M = nsgt.nsgfwin_sl.nsgfwin(f, q, 44100, 20000, sliced=True, min_win=16)
    assert M.dtype.kind == "i" and M.min() >= 16 and len(g) == len(M) == 2 * 20 + 2
    assert patch_nsgt() is nsgt  # idempotent


def test_reference_rejects_what_nsgt_lacks() -> None:
    with pytest.raises(SpecError, match="phase=local"):
        NSGTReference(
            TransformSpec.parse("slicqt:scale=log,bins=20,fmin=50,fmax=10000,phase=global"), SR
        )
    with pytest.raises(SpecError, match="form"):
        NSGTReference(
            TransformSpec.parse("slicqt:scale=log,bins=20,fmin=50,fmax=10000,form=piecewise"), SR
        )
