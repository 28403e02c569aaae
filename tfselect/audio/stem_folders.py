"""Generic stem folders: ``ROOT/{train,test}/<track>/<stem>.wav`` with any stem names.

Each audio file (``.wav`` or ``.flac``) of a track folder is one stem, named after the file;
``mixture.wav`` is optional: absent, the mixture is the sum of the stems; present, it is
read as shipped and checked against that sum on first read (the residual is logged and
counts as the rest of the mixture, see :mod:`tfselect.audio.stem_files`). A stem missing
from one track but present in others is silent in that track. The target names are the
union of the stem names of every track.
"""

from __future__ import annotations

from pathlib import Path

from tfselect import TARGETS
from tfselect.audio.stem_files import AUDIO_SUFFIXES, check_target_name, subfolders
from tfselect.audio.track import Track
from tfselect.errors import DatasetError

MUSDB_NAMES = frozenset(("mixture", *TARGETS))


def order_targets(names) -> tuple[str, ...]:
    """MUSDB's four names first (in their usual order), then the others alphabetically."""
    names = set(names)
    return tuple(t for t in TARGETS if t in names) + tuple(sorted(names - set(TARGETS)))


def _audio_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.name.startswith(".") or not p.is_file() or p.suffix.lower() not in AUDIO_SUFFIXES:
            continue
        if p.stem in files:
            raise DatasetError(f"{p}: stem '{p.stem}' of track '{folder.name}' exists twice")
        files[p.stem] = p
    return files


def _track_folders(root: Path):
    for subset in ("train", "test"):
        for entry in subfolders(root / subset):
            yield subset, entry


def detect(root: Path) -> bool:
    """Stem folders that are not MUSDB18-HQ: a track folder without ``mixture.wav`` or with a
    stem outside MUSDB's names (folders with exactly MUSDB's names keep MUSDB's strict checks)."""
    for _, entry in _track_folders(root):
        names = set(_audio_files(entry))
        if names and ("mixture" not in names or not names <= MUSDB_NAMES):
            return True
    return False


def discover(root: Path) -> list[Track]:
    """Tracks of a generic stem-folder root, sorted by subset then name.

    Raises:
        DatasetError: a track folder without any stem file, or a stem named like a reserved
            source (``residual``).
    """

    found: list[tuple[str, Path, dict[str, Path]]] = []
    for subset, entry in _track_folders(root):
        files = _audio_files(entry)
        mixture = files.pop("mixture", None)
        if not files:
            raise DatasetError(f"{entry}: track '{entry.name}' holds no stem file (.wav/.flac)")
        for name, path in files.items():
            check_target_name(name, path)
        found.append((subset, entry, {"mixture": mixture, **files} if mixture else files))
    names = order_targets({s for _, _, files in found for s in files} - {"mixture"})
    tracks = []
    for subset, entry, files in found:
        stems = tuple((t, (files[t],) if t in files else ()) for t in names)
        shipped = files.get("mixture")
        mixture = (shipped,) if shipped else tuple(f for _, fs in stems for f in fs)
        tracks.append(Track(entry.name, subset, entry, stems=stems, mixture=mixture,
                            has_mixture=shipped is not None))  # fmt: skip
    return tracks
