"""Band-wise multi-resolution STFT and ensembles: spec round trip, exact inverse, equality
with torch.stft and band filters written here, the ensemble's oracle against a hand average."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfselect.errors import SpecError, TfselectError
from tfselect.metrics.oracles import oracle_estimates
from tfselect.transforms import TransformSpec, build

SR = 44100
MR = "mrstft:edges=300|4000,n_fft=16384|4096|1024,hop=2048|512|128"


def _snr(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(x.pow(2).sum() / (x - y).pow(2).sum()))


def _noise(*shape: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "text",
    [
        MR,
        "mrstft:edges=250.5,n_fft=8192|2048,hop=1024|256,window=blackman",
        "ens:stft:n_fft=4096,hop=1024+stft:n_fft=8192,hop=1024",
        "ens:stft:n_fft=4096,hop=1024+slicqt:scale=bark,bins=50,fmin=40,fmax=22050+" + MR,
    ],
)
def test_canonical_round_trip(text: str) -> None:
    spec = TransformSpec.parse(text)
    assert str(spec) == text and TransformSpec.parse(str(spec)) == spec
    assert hash(TransformSpec.parse(text)) == hash(spec)


def test_non_canonical_input_is_normalised() -> None:
    spec = TransformSpec.parse(" mrstft: hop=512.0 | 128, n_fft=4096|1024, edges=300.0 ")
    assert str(spec) == "mrstft:edges=300,n_fft=4096|1024,hop=512|128"
    assert spec.n_fft == (4096, 1024) and spec.hop == (512, 128) and spec.edges == (300.0,)
    ens = TransformSpec.parse("ens: stft:n_fft=512,hop=128 + stft:hop=256,n_fft=1024")
    assert str(ens) == "ens:stft:n_fft=512,hop=128+stft:n_fft=1024,hop=256"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mrstft:edges=300|350,n_fft=4096|2048|1024,hop=512|256|128", ["edges", "octave"]),
        ("mrstft:edges=300,n_fft=4096,hop=512", ["n_fft", "2 values"]),
        ("mrstft:edges=300,n_fft=4096|x,hop=512|128", ["n_fft=x", "integer"]),
        ("mrstft:edges=300,n_fft=4096|1024,hop=4000|128", ["hop", "n_fft/2"]),
        ("mrstft:edges=0,n_fft=4096|1024,hop=512|128", ["edges", "> 0"]),
        ("mrstft:edges=20000,n_fft=4096|1024,hop=512|128", ["edges", "Nyquist"]),
        ("mrstft:n_fft=4096|1024,hop=512|128", ["missing", "edges"]),
        ("ens:stft:n_fft=4096,hop=1024", ["2 or 3"]),
        ("ens:stft:n_fft=512,hop=128+stft:n_fft=512,hop=128", ["twice"]),
        ("ens:ens:stft:n_fft=512,hop=128", ["ensemble"]),
    ],
)
def test_bad_spec_one_clear_line(text: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        TransformSpec.parse(text).validate(SR)
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


@pytest.mark.parametrize(("dtype", "min_db"), [(torch.float64, 250.0), (torch.float32, 100.0)])
@pytest.mark.parametrize("length", [SR, 5001, 300])
def test_round_trip_and_shapes(dtype: torch.dtype, min_db: float, length: int) -> None:
    T = build(MR, SR)
    x = _noise(3, 2, length, dtype=dtype, seed=length)
    C = T(x)
    assert [tuple(c.shape) for c in C] == [
        (3, 2, n // 2 + 1, 1, 1 + length // h) for n, h in ((16384, 2048), (4096, 512),
                                                            (1024, 128))
    ]
    assert all(c.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
               for c in C)  # fmt: skip
    assert _snr(x, T.inverse(C, length)) > min_db
    assert T.redundancy(length) == pytest.approx(sum(c[0, 0].numel() for c in C) / length)
    assert len(T.frequencies()) == sum(c.shape[-3] for c in C)
    if length < SR:  # the grid: every band's bins on the finest band's frames
        assert T.grid(C).shape == (3, 2, len(T.frequencies()), 1 + length // 128)


def _band_masks(edges: list[float], n: int) -> np.ndarray:
    """The crossovers from their definition: per edge e, 1 below e/2^¼, 0 above e·2^¼,
    cos²(π/2·t) between, t linear in log2 f from 0 to 1; bands are products of these."""
    f = np.arange(n // 2 + 1) * SR / n
    low = []
    for e in edges:
        a, b = e * 2**-0.25, e * 2**0.25
        w = np.ones_like(f)
        for i, fi in enumerate(f):
            if fi >= b:
                w[i] = 0.0
            elif fi > a:
                w[i] = np.cos(0.5 * np.pi * (np.log2(fi) - np.log2(a)) / 0.5) ** 2
        low.append(w)
    bands, above = [], np.ones_like(f)
    for w in low:
        bands.append(above * w)
        above = above * (1 - w)
    return np.stack([*bands, above])


def test_equal_bands_are_torch_stft_of_the_band_signals_and_sum_to_the_stft() -> None:
    n_fft, hop, n = 1024, 256, 6000
    T = build(f"mrstft:edges=500|3000,n_fft={n_fft}|{n_fft}|{n_fft},hop={hop}|{hop}|{hop}", SR)
    x = _noise(2, n, seed=3)
    k = torch.arange(n_fft, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * torch.pi * k / n_fft)

    def stft(s: torch.Tensor) -> torch.Tensor:
        return torch.stft(s, n_fft, hop, window=hann, center=True, pad_mode="constant",
                          return_complex=True)  # fmt: skip

    C = T(x)
    H = _band_masks([500.0, 3000.0], n)
    X = np.fft.rfft(x.numpy(), axis=-1)
    for b, c in enumerate(C):
        xb = torch.from_numpy(np.fft.irfft(X * H[b], n=n, axis=-1))
        torch.testing.assert_close(c[..., 0, :], stft(xb), rtol=0, atol=1e-9)
    torch.testing.assert_close(sum(c[..., 0, :] for c in C), stft(x), rtol=0, atol=1e-9)


def test_gradients_flow_through_the_round_trip() -> None:
    T = build("mrstft:edges=1000,n_fft=1024|256,hop=256|64", SR)
    x = _noise(2, 3000, seed=4).requires_grad_(True)
    T.inverse(T(x), 3000).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x), rtol=0, atol=1e-8)


def test_ensemble_round_trip_and_blocks() -> None:
    T = build("ens:stft:n_fft=1024,hop=256+" + MR, SR)
    x = _noise(2, 20000, dtype=torch.float32, seed=5)
    C = T(x)
    assert len(C) == 4 and C[0].shape == (2, 513, 1, 1 + 20000 // 256)
    assert _snr(x, T.inverse(C, 20000)) > 100
    fresh = build(str(T.spec), SR)  # never ran forward: counts its members' blocks itself
    torch.testing.assert_close(fresh.inverse(C, 20000), T.inverse(C, 20000))
    with pytest.raises(TfselectError, match="expected 4 blocks"):
        fresh.inverse(C[:3], 20000)
    with pytest.raises(TfselectError, match="ensembles"):
        T.grid(C)


def test_ensemble_oracle_is_the_average_of_the_members_oracles_by_hand() -> None:
    members = ["stft:n_fft=2048,hop=512", "stft:n_fft=4096,hop=1024",
               "mrstft:edges=400,n_fft=4096|1024,hop=512|256"]  # fmt: skip
    T = build("ens:" + "+".join(members), SR)
    n = SR // 2
    stems = _noise(3, 2, n, seed=6) * torch.tensor([1.0, 0.5, 0.2], dtype=torch.float64)[
        :, None, None]
    mix = stems.sum(0)
    C = T(torch.cat([mix[None], stems]))
    est = oracle_estimates([c[0] for c in C], [c[1:] for c in C], 1, ["mpi", "irm2"])
    got = T.inverse(est, n)  # (2 oracles, channels, n)
    want = []
    for spec in members:  # each member alone, its masks written out in numpy
        M = build(spec, SR)
        per = {"mpi": [], "irm2": []}
        for Xc, Sc in zip(M(mix), M(stems), strict=True):
            X, S = Xc.numpy(), Sc.numpy()
            t = np.abs(S[1])
            per["mpi"].append(np.where(np.abs(X) > 0, t * X / np.abs(X), 0))
            per["irm2"].append(t**2 / (np.abs(S) ** 2).sum(0) * X)
        want.append(torch.stack([
            M.inverse([torch.from_numpy(b) for b in per[name]], n) for name in ("mpi", "irm2")
        ]))  # fmt: skip
    torch.testing.assert_close(got, sum(want) / 3, rtol=0, atol=1e-9)


def test_ridge_metrics_of_an_ensemble_are_one_clear_error() -> None:
    from tfselect.metrics import score

    class Clip:  # the two attributes score() reads
        mixture = _noise(2, 8000, dtype=torch.float32, seed=7).numpy()
        stems = {"vocals": 0.5 * mixture}

    spec = "ens:stft:n_fft=512,hop=128+stft:n_fft=1024,hop=256"
    got = score(spec, "vocals", [Clip()], metrics="mpi,redundancy")
    assert got["mpi"] > 100  # the target is half the mixture: its phase is the mixture's
    with pytest.raises(TfselectError, match="--metrics oracles"):
        score(spec, "vocals", [Clip()], metrics="ridge_energy_time")
