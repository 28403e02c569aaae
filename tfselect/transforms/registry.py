"""Which class builds each kind of transform spec, and :func:`build`.

The registry names each kind's module and class as strings and imports the module when
that kind is first built: the kinds' modules load torch (and ``nsgcq`` essentia, through
its adapter in :mod:`tfselect.reference`), and an ensemble builds its members with this
same function, so no module here imports another kind's module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from tfselect.memlimit import check_bytes

from .filterbank import estimated_bytes
from .spec import TransformSpec

if TYPE_CHECKING:
    from .base import Transform

# kind -> (module, class); every kind of spec.KINDS has one
CLASSES: dict[str, tuple[str, str]] = {
    "stft": ("tfselect.transforms.stft", "STFT"),
    "slicqt": ("tfselect.transforms.slicqt", "SliCQT"),
    "nsgt": ("tfselect.transforms.nsgt2014", "NSGT2014"),
    "nsgcq": ("tfselect.reference.essentia_nsgcq", "EssentiaNSGCQ"),
    "mrstft": ("tfselect.transforms.mrstft", "MRSTFT"),
    "ens": ("tfselect.transforms.ensemble", "Ensemble"),
}


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
    if spec.kind == "slicqt":
        check_bytes(f"transform {spec}", estimated_bytes(spec.resolved(sample_rate), sample_rate))
    module, name = CLASSES[spec.kind]  # parse() rejects unknown kinds
    return getattr(importlib.import_module(module), name)(spec, sample_rate)
