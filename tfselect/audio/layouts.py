"""Dataset layouts behind one interface: how a root is recognised and how its tracks are found.

Every adapter returns :class:`~tfselect.audio.dataset.Track` objects; MUSDB-layout tracks are
read by :mod:`tfselect.audio.dataset` (soundfile, or musdb for ``.stem.mp4``), every other
layout describes its tracks as tables of stem files read by :mod:`tfselect.audio.stem_files`.
No adapter copies or converts the corpus.

Layouts, tried in this order:

- ``moisesdb``: ``ROOT/<track>/data.json`` and one folder per stem type;
- ``slakh``: ``ROOT/{train,validation,test}/<Track>/metadata.yaml``, ``stems/Sxx.flac``;
- ``stem-folders``: ``ROOT/{train,test}/<track>/<stem>.wav`` with any names, mixture optional;
- ``musdb``: MUSDB18-HQ folders or MUSDB18 ``.stem.mp4`` files (the default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tfselect.audio import moisesdb, musdb_layout, slakh, stem_folders


@dataclass(frozen=True)
class Layout:
    """One dataset layout.

    Attributes:
        name: short name shown by ``tfselect targets``.
        detect: ``detect(root) -> bool``: whether ``root`` is in this layout (cheap: names
            and small metadata files only).
        discover: ``discover(root) -> list[Track]`` sorted by subset then name; raises
            ``DatasetError`` naming the file on bad metadata.
    """

    name: str
    detect: Callable[[Path], bool]
    discover: Callable[[Path], list]


LAYOUTS: tuple[Layout, ...] = (
    Layout("moisesdb", moisesdb.detect, moisesdb.discover),
    Layout("slakh", slakh.detect, slakh.discover),
    Layout("stem-folders", stem_folders.detect, stem_folders.discover),
    Layout("musdb", musdb_layout.detect, musdb_layout.discover),
)


def detect_layout(root: Path) -> Layout:
    """The first layout of ``LAYOUTS`` that recognises ``root`` (MUSDB when none does)."""
    return next(layout for layout in LAYOUTS if layout.detect(Path(root)))
