"""Slakh2100: ``ROOT/{train,validation,test}/<Track>/{metadata.yaml, mix.flac, stems/Sxx.flac}``.

Each track's ``metadata.yaml`` describes its stems (``stems.Sxx.inst_class``: Guitar, Piano,
Bass, Drums, Strings, ...; ``audio_rendered: false`` for instruments without audio). Stems are
grouped by ``inst_class`` into targets named in lower case with ``_`` for spaces
(``Chromatic Percussion`` -> ``chromatic_percussion``; ``Strings (continued)``, the GM
ensemble programs, joins ``strings``); the files of one class are summed. ``mix.flac`` is the
shipped mixture. The ``validation`` folder is the ``valid`` split; ``omitted`` is skipped.

Hand-written: ``mirdata``'s Slakh loader needs an index file fetched from the network and
loads whole files through librosa; tfselect reads sample-exact clips with soundfile. PyYAML
(already required by musdb) parses the metadata.
"""

from __future__ import annotations

import re
from pathlib import Path

from tfselect.audio.stem_files import check_target_name, subfolders
from tfselect.audio.stem_folders import order_targets
from tfselect.audio.track import Track
from tfselect.datafiles import load_yaml
from tfselect.errors import DatasetError

# Imported inside the functions that need them, so that importing this module stays light: yaml.

SUBSETS = {"train": "train", "validation": "valid", "test": "test"}
META = "metadata.yaml"


def _track_folders(root: Path):
    for folder, subset in SUBSETS.items():
        for p in subfolders(root / folder):
            yield subset, p


def detect(root: Path) -> bool:
    """A root whose split folders hold tracks with ``metadata.yaml``."""
    return any((p / META).is_file() for _, p in _track_folders(root))


def class_target(inst_class: str) -> str:
    """Target name of a Slakh ``inst_class``: lower case, ``_`` for spaces."""
    name = re.sub(r"\s*\(continued\)\s*$", "", str(inst_class).strip(), flags=re.I)
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _stems_of(folder: Path) -> tuple[dict[str, list[Path]], Path]:
    meta_path = folder / META
    if not meta_path.exists():
        raise DatasetError(f"{meta_path}: missing (every Slakh track folder has one)")
    meta = load_yaml(meta_path, DatasetError)  # size, depth, encoding: one line
    try:
        audio_dir = folder / str(meta.get("audio_dir") or "stems")
        stems: dict[str, list[Path]] = {}
        for sid, info in sorted(meta["stems"].items()):
            if not info.get("audio_rendered", True):
                continue  # instruments Slakh did not render have no file
            name = check_target_name(class_target(info["inst_class"]), meta_path)
            stems.setdefault(name, []).append(audio_dir / f"{sid}.flac")
    except (KeyError, TypeError, AttributeError) as exc:
        raise DatasetError(
            f"{meta_path}: not Slakh metadata (expected stems.Sxx.inst_class; {exc!r})"
        ) from None
    for name, files in stems.items():
        for f in files:
            if not f.is_file():
                raise DatasetError(f"{f}: named by {meta_path} (class '{name}') but missing")
    mix = folder / "mix.flac"
    if not mix.is_file():
        raise DatasetError(f"{mix}: missing mixture of Slakh track '{folder.name}'")
    return stems, mix


def discover(root: Path) -> list[Track]:
    """Every Slakh track under ``root``: train, valid, test, each sorted by name."""

    found = [(subset, folder, *_stems_of(folder)) for subset, folder in _track_folders(root)]
    targets = order_targets({t for _, _, stems, _ in found for t in stems})
    order = {"train": 0, "valid": 1, "test": 2}
    tracks = [
        Track(folder.name, subset, folder,
              stems=tuple((t, tuple(stems.get(t, ()))) for t in targets),
              mixture=(mix,), has_mixture=True)  # fmt: skip
        for subset, folder, stems, mix in found
    ]
    return sorted(tracks, key=lambda t: (order[t.subset], t.name))
