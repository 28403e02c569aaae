"""TransformSpec: canonical round trip, defaults, resolution of sllen/trlen, every bad spec."""

from __future__ import annotations

import pytest

from tfselect.errors import SpecError
from tfselect.transforms import TransformSpec, build
from tfselect.transforms.slicqt import SliCQT
from tfselect.transforms.stft import STFT

CANONICAL = [
    "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050",
    "slicqt:scale=vqlog,bins=100,fmin=20,fmax=20000,gamma=15.5,sllen=40000,trlen=10000",
    "slicqt:scale=log,bins=48,fmin=40.25,fmax=16000,phase=global,form=piecewise",
    "slicqt:scale=mel,bins=116,fmin=37.7,fmax=22050,trlen=2000,form=zeropad",
    "slicqt:scale=lin,bins=64,fmin=10,fmax=22050,form=rasterize",
    "stft:n_fft=4096,hop=1024",
    "stft:n_fft=6144,hop=768,window=blackman",
    "nsgt:fmin=27.5,fmax=7040,bpo=48",
    "nsgt:fmin=27.5,fmax=7040,bpo=12,gamma=3,rasterize=piecewise,phase=local",
    "nsgcq:fmin=65.4,fmax=5000,bpo=24,rasterize=none",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_canonical_round_trip(text: str) -> None:
    spec = TransformSpec.parse(text)
    assert str(spec) == text
    assert TransformSpec.parse(str(spec)) == spec
    assert hash(TransformSpec.parse(text)) == hash(spec)


def test_non_canonical_input_is_normalised() -> None:
    spec = TransformSpec.parse(
        " slicqt: fmax=22050.0 , fmin=32.90, scale=bark, bins=262.0, phase=local, form=ragged "
    )
    assert str(spec) == "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"
    assert spec.phase == "local" and spec.form == "ragged" and spec.sllen is None
    vq = TransformSpec.parse("slicqt:scale=vqlog,bins=10,fmin=20,fmax=2000")
    assert vq.gamma == 0.0 and str(vq) == "slicqt:scale=vqlog,bins=10,fmin=20,fmax=2000"
    nsgcq = TransformSpec.parse("nsgcq:fmin=30,fmax=5000,bpo=12")
    assert (nsgcq.rasterize, nsgcq.phase, nsgcq.gamma) == ("full", "global", 0.0)
    assert TransformSpec.parse(spec) is spec


def test_bark262_smallest_slice() -> None:
    spec = TransformSpec.parse("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050")
    r = spec.resolved(44100)
    assert (r.sllen, r.trlen) == (18060, 4516)
    assert spec.min_slice(44100) == (18060, 4516)
    assert str(r) == "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050,sllen=18060,trlen=4516"
    # a longer slice is fine; trlen then defaults to sllen/4 rounded up to even
    r2 = TransformSpec.parse(str(spec) + ",sllen=20004").resolved(44100)
    assert (r2.sllen, r2.trlen) == (20004, 5002)
    T = build(spec, 44100)
    assert (T.sllen, T.trlen) == (18060, 4516)


BAD = [
    ("foo:bins=2", ["kind", "'foo'", "slicqt"]),
    ("slicqt:scale=bark,bins=10,fmin=30", ["fmax", "missing", "required"]),
    ("slicqt:scale=barx,bins=10,fmin=30,fmax=300", ["scale=barx", "log|mel|bark|vqlog|lin"]),
    ("slicqt:scale=bark,bins=0,fmin=30,fmax=300", ["bins=0", "[2, 10000]"]),
    ("slicqt:scale=bark,bins=1,fmin=30,fmax=300", ["bins=1", "[2, 10000]"]),
    ("slicqt:scale=bark,bins=ten,fmin=30,fmax=300", ["bins=ten", "integer"]),
    ("slicqt:scale=bark,bins=10,fmin=300,fmax=30", ["fmax=30", "fmin=300"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=30", ["fmax=30", "> fmin=30"]),
    ("slicqt:scale=bark,bins=10,fmin=-5,fmax=30", ["fmin=-5", "> 0"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,sllen=1002", ["sllen=1002", "multiple of 4"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,sllen=1000,trlen=7", ["trlen=7", "even"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,sllen=1000,trlen=502", ["trlen=502", "500"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,gamma=4", ["gamma=4", "vqlog"]),
    ("slicqt:scale=vqlog,bins=10,fmin=30,fmax=300,gamma=-1", ["gamma=-1", ">= 0"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,phase=zero", ["phase=zero", "local|global"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,form=dense", ["form=dense", "ragged|zeropad"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,n_fft=4", ["'n_fft'", "allowed"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,bins=12", ["'bins'", "twice"]),
    ("slicqt:scale=bark,bins=10,fmin=30,fmax=300,sllen", ["'sllen'", "no value"]),
    ("stft:n_fft=4096", ["hop", "missing"]),
    ("stft:n_fft=8,hop=2", ["n_fft=8", "[16, 1048576]"]),
    ("stft:n_fft=4096,hop=3000", ["hop=3000", "2048"]),
    ("stft:n_fft=4096,hop=0", ["hop=0", "[1,"]),
    ("stft:n_fft=4096,hop=1024,window=gauss", ["window=gauss", "hann|hamming|blackman|bartlett"]),
    ("nsgcq:fmin=30,fmax=5000,bpo=0", ["bpo=0", "[1, 10000]"]),
    ("nsgt:fmin=30,fmax=5000,bpo=12,rasterize=half", ["rasterize=half", "none|full|piecewise"]),
    ("nsgt:fmin=30,fmax=5000,bpo=12,fmin=20", ["'fmin'", "twice"]),
    ("nsgt:fmin=30,fmax=nan,bpo=12", ["fmax=nan", "finite"]),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_spec_one_clear_line(text: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        TransformSpec.parse(text)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


BAD_AT_RATE = [
    ("slicqt:scale=bark,bins=262,fmin=32.9,fmax=24000", ["fmax=24000", "Nyquist = 22050"]),
    ("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050,sllen=8000", ["sllen=8000", ">= 18060"]),
    ("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050,trlen=9100", ["trlen=9100", "9030"]),
    ("slicqt:scale=log,bins=2,fmin=10,fmax=22000", ["bins=2", "too few bins"]),
    ("nsgcq:fmin=30,fmax=30000,bpo=12", ["fmax=30000", "Nyquist"]),
]


@pytest.mark.parametrize(("text", "words"), BAD_AT_RATE)
def test_bad_spec_at_sample_rate(text: str, words: list[str]) -> None:
    with pytest.raises(SpecError) as e:
        build(text, sample_rate=44100)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_build_dispatch_and_rates() -> None:
    assert isinstance(build("stft:n_fft=512,hop=128", 16000), STFT)
    T = build("slicqt:scale=mel,bins=20,fmin=40,fmax=8000", sample_rate=16000)
    assert isinstance(T, SliCQT) and T.sample_rate == 16000
    # Nyquist depends on the rate: 8000 Hz is fine at 16 kHz, not at 8 kHz
    with pytest.raises(SpecError, match="Nyquist = 4000"):
        build("slicqt:scale=mel,bins=20,fmin=40,fmax=8000", sample_rate=8000)


def test_direct_construction_is_validated() -> None:
    s = TransformSpec(kind="stft", n_fft=1024, hop=256)
    assert str(s) == "stft:n_fft=1024,hop=256"
    with pytest.raises(SpecError, match="scale"):
        TransformSpec(kind="stft", n_fft=1024, hop=256, scale="bark")
    with pytest.raises(SpecError, match="bins=1.5"):
        TransformSpec(kind="slicqt", scale="log", bins=1.5, fmin=10, fmax=100)


@pytest.mark.parametrize(
    "text, field",
    [
        ("slicqt:scale=bark,bins=1000000000,fmin=30,fmax=22050", "bins"),
        ("stft:n_fft=1000000000000,hop=4", "n_fft"),
        ("nsgt:fmin=40,fmax=20000,bpo=100000", "bpo"),
    ],
)
def test_huge_values_are_refused_before_any_allocation(text, field):
    with pytest.raises(SpecError, match=f"field {field}=.*must be an integer in"):
        TransformSpec.parse(text).validate(44100)


def test_label_is_compact_and_built_from_the_fields():
    assert TransformSpec.parse("stft:n_fft=4096,hop=1024").label() == "stft 4096/1024"
    assert TransformSpec.parse("stft:n_fft=2048,hop=512,window=blackman").label() == (
        "stft 2048/512 blackman"
    )
    bark = TransformSpec.parse("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050,phase=global")
    assert bark.label() == "bark,bins=262,fmin=32.9,phase=global"


def test_equal_specs_are_one_key_of_the_design_cache():
    """Specs are frozen and hashable: one written as text and one built field by field are
    the same dict key, so the sliCQT's cached filterbank design is built once for both."""
    from tfselect.transforms.filterbank import design

    a = TransformSpec.parse("slicqt:scale=bark,bins=60,fmin=40,fmax=22050")
    b = TransformSpec(kind="slicqt", scale="bark", bins=60.0, fmin=40, fmax=22050.0,
                      phase="local", form="ragged")  # fmt: skip
    assert a == b and hash(a) == hash(b) and {a: "x"}[b] == "x"
    assert design(a, 44100) is design(b, 44100)
    other = TransformSpec.parse("slicqt:scale=bark,bins=61,fmin=40,fmax=22050")
    assert design(other, 44100) is not design(a, 44100)
