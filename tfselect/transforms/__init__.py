"""Time-frequency transforms of tfselect behind one spec string and one interface.

    >>> from tfselect.transforms import TransformSpec, build
    >>> T = build("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050", sample_rate=44100)
    >>> C = T(x)                 # x (..., channels, samples) -> list of complex blocks
    >>> y = T.inverse(C, x.shape[-1])

Kinds: ``slicqt`` (torch sliCQT, :mod:`.slicqt`), ``stft`` (:mod:`.stft`), ``nsgt``
(non-sliced torch NSGT with essentia's design, :mod:`.nsgt2014`) and ``nsgcq`` (essentia's
NSGConstantQ itself, :mod:`tfselect.reference.essentia_nsgcq`), ``mrstft`` (band-wise
multi-resolution STFT, :mod:`.mrstft`) and ``ens`` (ensembles whose waveforms are averaged,
:mod:`.ensemble`). All but the first two are imported lazily.
"""

from __future__ import annotations

from .base import Coefs, Transform
from .spec import FORMS, KINDS, PHASES, TransformSpec

__all__ = ["Coefs", "FORMS", "KINDS", "PHASES", "Transform", "TransformSpec", "build"]


def build(spec: TransformSpec | str, sample_rate: int = 44100) -> Transform:
    """Build the transform described by ``spec`` for signals sampled at ``sample_rate`` Hz.

    Validates the sample-rate dependent parts first (fmax <= Nyquist, slice length), so a
    bad spec raises :class:`tfselect.errors.SpecError` before anything is computed; a
    sliCQT whose tables would exceed the memory limit (:mod:`tfselect.memlimit`) raises
    :class:`tfselect.errors.TfselectError` naming the size, before any is allocated.
    Filterbanks are cached per (spec, sample rate): building the same spec twice is cheap.
    """
    spec = TransformSpec.parse(spec)
    spec.validate(sample_rate)
    if spec.kind == "stft":
        from .stft import STFT

        return STFT(spec, sample_rate)
    if spec.kind == "slicqt":
        from tfselect.memlimit import check_bytes

        from .filterbank import estimated_bytes
        from .slicqt import SliCQT

        resolved = spec.resolved(sample_rate)
        check_bytes(f"transform {spec}", estimated_bytes(resolved, sample_rate))

        return SliCQT(spec, sample_rate)
    if spec.kind == "nsgt":
        from .nsgt2014 import NSGT2014

        return NSGT2014(spec, sample_rate)
    if spec.kind == "nsgcq":
        from tfselect.reference.essentia_nsgcq import EssentiaNSGCQ

        return EssentiaNSGCQ(spec, sample_rate)
    if spec.kind == "mrstft":
        from .mrstft import MRSTFT

        return MRSTFT(spec, sample_rate)
    if spec.kind == "ens":
        from .ensemble import Ensemble

        return Ensemble(spec, sample_rate)
    raise AssertionError(f"unhandled kind {spec.kind}")  # parse() rejects unknown kinds
