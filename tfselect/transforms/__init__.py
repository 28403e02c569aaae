"""Time-frequency transforms of tfselect behind one spec string and one interface.

    >>> from tfselect.transforms import TransformSpec, build
    >>> T = build("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050", sample_rate=44100)
    >>> C = T(x)                 # x (..., channels, samples) -> list of complex blocks
    >>> y = T.inverse(C, x.shape[-1])

Kinds: ``slicqt`` (torch sliCQT, :mod:`.slicqt`), ``stft`` (:mod:`.stft`), ``nsgt``
(non-sliced torch NSGT with essentia's design, :mod:`.nsgt2014`) and ``nsgcq`` (essentia's
NSGConstantQ itself, :mod:`tfselect.reference.essentia_nsgcq`), ``mrstft`` (band-wise
multi-resolution STFT, :mod:`.mrstft`) and ``ens`` (ensembles whose waveforms are averaged,
:mod:`.ensemble`). The spec grammar and :func:`build` (:mod:`.registry`) import nothing
heavy; ``Coefs``, ``Transform`` and each kind's module load torch when first used.
"""

from __future__ import annotations

from tfselect.lazy import lazy_exports

from .registry import build
from .spec import FORMS, KINDS, PHASES, TransformSpec

__all__ = ["Coefs", "FORMS", "KINDS", "PHASES", "Transform", "TransformSpec", "build"]
__getattr__, __dir__ = lazy_exports(__name__, {"Coefs": "base", "Transform": "base"})
