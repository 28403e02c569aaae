"""Datasets in MUSDB layout: discovery, train/valid/test splits and exact audio loading.

Two layouts are understood, both as MUSDB18 ships them:

- MUSDB18-HQ (WAV): ``ROOT/{train,test}/<Track>/{mixture,vocals,drums,bass,other}.wav``,
  read with soundfile as exact float32 (no resampling, no ffmpeg round trip);
- MUSDB18 (``.stem.mp4``): ``ROOT/{train,test}/<Track>.stem.mp4``, decoded through the musdb
  package (ffmpeg, 16-bit), as musdb itself does.

Every array returned has shape (channels=2, samples), dtype float32, at 44100 Hz. Mono
files are *accepted* and duplicated to both channels (a mono stem is still a valid source;
refusing it would only push users to convert files by hand). Everything else a source
separation pipeline cannot use -- a missing root, a root without tracks, a missing stem,
stems of different lengths or sample rates, more than two channels, a file that is not
audio -- raises :class:`~tfselect.errors.DatasetError` naming the file and the problem.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.errors import DatasetError, TfselectError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from tfselect.audio.targets import TargetMap

SOURCES: tuple[str, ...] = ("mixture", *TARGETS)
"""Every file of a MUSDB-layout track: the mixture and the four targets."""

SUBSETS: tuple[str, ...] = ("train", "valid", "test")
STEM_SUFFIX = ".stem.mp4"
# Stream order inside a MUSDB18 .stem.mp4 (musdb's configs/mus.yaml, ``stem_ids``).
STEM_IDS = {"mixture": 0, "drums": 1, "bass": 2, "other": 3, "vocals": 4}
# Fraction of train tracks held out for validation when the names are not MUSDB18's.
VALID_FRACTION = 1 / 7


@dataclass(frozen=True)
class Track:
    """One song in MUSDB layout.

    Attributes:
        name: the track's name (folder name, or file name without ``.stem.mp4``).
        subset: ``'train'`` or ``'test'`` (the folder it lives in; validation is a split of
            train, see :func:`tracks_for`).
        path: the track folder (MUSDB18-HQ WAV layout) or the ``.stem.mp4`` file.
        stems: None for MUSDB layout; otherwise ``((target, files), ...)``: the files summed
            into each target (none: the stem is absent from this track, i.e. silent); other
            layouts are read through :mod:`tfselect.audio.stem_files`.
        mixture: the files summed into the mixture (one shipped mixture file, or every stem).
        rest: stem files that no target holds (after a target map): part of the mixture.
        has_mixture: the dataset ships a mixture file (checked against the stems' sum).
    """

    name: str
    subset: str
    path: Path
    stems: tuple[tuple[str, tuple[Path, ...]], ...] | None = None
    mixture: tuple[Path, ...] = ()
    rest: tuple[Path, ...] = ()
    has_mixture: bool = False

    @property
    def targets(self) -> tuple[str, ...]:
        """The target names of this track's dataset (MUSDB layout: the four MUSDB names)."""
        return TARGETS if self.stems is None else tuple(name for name, _ in self.stems)

    @property
    def sources(self) -> tuple[str, ...]:
        """``('mixture', *targets)``."""
        return ("mixture", *self.targets)

    @property
    def is_stem_file(self) -> bool:
        """True for a MUSDB18 ``.stem.mp4`` track, False for a folder of WAVs."""
        return self.path.name.endswith(STEM_SUFFIX)

    def source_path(self, source: str) -> Path:
        """The file holding ``source`` (for a ``.stem.mp4`` track, the stem file itself)."""
        return self.path if self.is_stem_file else self.path / f"{source}.wav"


# ----------------------------------------------------------------------------- roots

_announced: set[str] = set()


def resolve_root(root: Path | None) -> Path:
    """The dataset root to use: ``root``, else ``$MUSDB_PATH``, else the built-in demo corpus.

    The demo corpus is built on first use and cached (see :func:`tfselect.audio.demo.demo_root`);
    falling back to it is said once per process on stderr, so a user who forgot ``--root``
    knows their results are not on their data.
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("MUSDB_PATH", "").strip()
    if env:
        if not Path(env).expanduser().exists():
            raise DatasetError(f"dataset root $MUSDB_PATH={env} does not exist")
        return Path(env).expanduser()
    from tfselect.audio.demo import demo_root  # lazy: synthesis is not needed otherwise

    path = demo_root()
    if str(path) not in _announced:
        _announced.add(str(path))
        # Logged, not printed: with no logging set up, Python shows warnings on stderr as is.
        log.warning(
            "tfselect: no --root and no $MUSDB_PATH: using the built-in demo corpus at %s", path
        )
    return path


def discover(root: Path) -> list[Track]:
    """All tracks under ``root/train`` and ``root/test``, sorted by subset then name.

    A track is a sub-folder (MUSDB18-HQ) or a ``*.stem.mp4`` file (MUSDB18); hidden entries
    are ignored. Folder tracks must hold all five WAVs (mixture and the four targets).

    Raises:
        DatasetError: the root does not exist or is not a folder, it holds no track, or a
            track folder lacks one of its files.
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset root {root} does not exist")
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} is not a folder")
    from tfselect.audio.layouts import detect_layout  # lazy: the adapters import this module

    layout = detect_layout(root)
    if layout.name != "musdb":
        return layout.discover(root)
    tracks: list[Track] = []
    for subset in ("train", "test"):
        folder = root / subset
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                for source in SOURCES:
                    if not (entry / f"{source}.wav").is_file():
                        raise DatasetError(
                            f"{entry / f'{source}.wav'}: missing stem '{source}' of track "
                            f"'{entry.name}' (a track folder needs {', '.join(SOURCES)} .wav)"
                        )
                tracks.append(Track(entry.name, subset, entry))
            elif entry.name.endswith(STEM_SUFFIX):
                tracks.append(Track(entry.name[: -len(STEM_SUFFIX)], subset, entry))
    if not tracks:
        raise DatasetError(
            f"dataset root {root} holds no tracks: expected "
            f"{root}/{{train,test}}/<track>/mixture.wav (MUSDB18-HQ) or "
            f"{root}/{{train,test}}/<track>.stem.mp4 (MUSDB18)"
        )
    return tracks


@lru_cache(maxsize=1)
def musdb_validation_names() -> frozenset[str]:
    """MUSDB18's validation track names, as shipped by the musdb package (``mus.yaml``)."""
    import musdb
    import yaml

    with open(Path(musdb.__path__[0]) / "configs" / "mus.yaml") as f:
        return frozenset(yaml.safe_load(f)["validation_tracks"])


def split_train(tracks: Sequence[Track], seed: int = 42) -> tuple[list[Track], list[Track]]:
    """Split train tracks into (train, valid), both sorted by name and disjoint.

    When any track name is one of MUSDB18's validation tracks, the split is musdb's own
    (``musdb.DB(..., split='valid')``), so results compare with published ones. Otherwise
    ``ceil(n/7)`` tracks are drawn with ``seed`` (at least one as soon as two exist, so
    a train set is always left).
    """
    tracks = sorted(tracks, key=lambda t: t.name)
    names = musdb_validation_names()
    if any(t.name in names for t in tracks):
        return [t for t in tracks if t.name not in names], [t for t in tracks if t.name in names]
    if len(tracks) < 2:
        return list(tracks), []
    n_valid = max(1, math.ceil(len(tracks) * VALID_FRACTION))
    chosen = set(np.random.default_rng(seed).permutation(len(tracks))[:n_valid].tolist())
    train = [t for i, t in enumerate(tracks) if i not in chosen]
    valid = [t for i, t in enumerate(tracks) if i in chosen]
    return train, valid


def tracks_for(
    root: Path, subset: str, seed: int = 42, target_map: TargetMap | None = None
) -> list[Track]:
    """The tracks of ``subset`` (``'train'``, ``'valid'`` or ``'test'``) under ``root``.

    ``target_map`` (a :class:`~tfselect.audio.targets.TargetMap`) regroups the stems.

    ``valid`` is split off ``train`` by :func:`split_train`; ``train`` is what remains.
    The result may be empty (e.g. ``valid`` of a root with a single train track): callers
    that need tracks say so (see :func:`tfselect.audio.clips.sample_clips`).
    """
    if subset not in SUBSETS:
        raise TfselectError(f"unknown subset '{subset}': choose one of {', '.join(SUBSETS)}")
    tracks = discover(root)
    if target_map is not None:
        from tfselect.audio.targets import apply_target_map

        tracks = apply_target_map(tracks, target_map, root)
    if subset == "test":
        return [t for t in tracks if t.subset == "test"]
    if any(t.subset == "valid" for t in tracks):  # the layout ships its own validation split
        return [t for t in tracks if t.subset == subset]
    train, valid = split_train([t for t in tracks if t.subset == "train"], seed)
    return valid if subset == "valid" else train


# ----------------------------------------------------------------------------- loading


def _info(path: Path):
    """soundfile's header info, with unreadable files turned into a DatasetError."""
    try:
        return sf.info(os.fsencode(path))  # bytes: a name that is not UTF-8 too
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        if not path.exists():
            raise DatasetError(f"{path}: file does not exist") from None
        raise DatasetError(f"{path}: not a readable audio file ({exc})") from None


def check_format(path: Path):
    """soundfile's info of one stem file after checking what every reader needs: 44.1 kHz,
    mono or stereo (DatasetError naming the file otherwise)."""
    info = _info(path)
    if info.samplerate != SAMPLE_RATE:
        raise DatasetError(
            f"{path}: sample rate {info.samplerate} Hz, expected {SAMPLE_RATE} Hz "
            f"like the rest of tfselect (resample the track first)"
        )
    if info.channels not in (1, 2):
        raise DatasetError(f"{path}: {info.channels} channels, expected mono or stereo")
    return info


def _check_wav_track(track: Track) -> int:
    """Validate every WAV of a folder track; return its common length in samples."""
    lengths: dict[str, int] = {}
    for source in SOURCES:
        path = track.source_path(source)
        if not path.is_file():
            raise DatasetError(f"{path}: missing stem '{source}' of track '{track.name}'")
        info = check_format(path)
        lengths[source] = int(info.frames)
    if len(set(lengths.values())) > 1:
        ref = lengths["mixture"]
        odd = next(s for s in SOURCES if lengths[s] != ref)
        raise DatasetError(
            f"{track.source_path(odd)}: {lengths[odd]} samples but mixture.wav has {ref}: "
            f"stems of track '{track.name}' differ in length"
        )
    return lengths["mixture"]


def _stem_info(track: Track):
    import stempeg

    try:
        return stempeg.Info(str(track.path))
    except Exception as exc:  # stempeg raises bare Exceptions / ffprobe errors
        raise DatasetError(f"{track.path}: not a readable stem file ({exc})") from None


def track_length(track: Track) -> int:
    """Length of ``track`` in samples at 44100 Hz, from file headers only (cheap).

    For a WAV folder every stem's header is checked (same length, same rate).
    """
    if track.stems is not None:
        from tfselect.audio import stem_files

        return stem_files.track_length(track)
    if not track.is_stem_file:
        return _check_wav_track(track)
    info = _stem_info(track)
    rate = int(info.rate(0))
    if rate != SAMPLE_RATE:
        raise DatasetError(f"{track.path}: sample rate {rate} Hz, expected {SAMPLE_RATE} Hz")
    return int(info.samples(0))


def _check_sources(sources: Sequence[str], track: Track) -> None:
    known = track.sources
    for s in sources:
        if s not in known:
            raise TfselectError(f"unknown source '{s}': choose among {', '.join(known)}")


def _to_stereo(x: np.ndarray, path: Path) -> np.ndarray:
    """(samples, channels) -> (2, samples) float32; mono is duplicated to both channels."""
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    elif x.shape[1] != 2:
        raise DatasetError(f"{path}: {x.shape[1]} channels, expected mono or stereo")
    check_finite(x, path)
    return np.ascontiguousarray(x.T, dtype=np.float32)


def check_finite(x: np.ndarray, path: Path) -> None:
    """DatasetError naming ``path`` if ``x`` holds a NaN or an infinite sample.

    Float WAVs can hold them; every later stage (transforms, losses, SDR) would turn them
    into NaN everywhere. min and max propagate both, so two reductions without a copy.
    """
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise DatasetError(f"{path}: holds NaN or infinite samples")


def read_segment(
    track: Track,
    sources: Sequence[str] | None = None,
    offset: int = 0,
    frames: int | None = None,
) -> dict[str, np.ndarray]:
    """Read ``frames`` samples from sample ``offset`` of each source (sample-exact).

    Args:
        track: the track to read.
        sources: names among ``track.sources`` (None: all of them; MUSDB layout: mixture,
            vocals, drums, bass, other).
        offset: first sample (>= 0).
        frames: number of samples (None: to the end of the track).

    Returns:
        ``{source: array (2, frames) float32}``; WAV data is exact (soundfile float32).

    Raises:
        DatasetError: a file is missing, unreadable, or inconsistent with the others.
        TfselectError: the segment lies outside the track.
    """
    sources = track.sources if sources is None else tuple(sources)
    _check_sources(sources, track)
    length = track_length(track)
    if frames is None:
        frames = length - offset
    if offset < 0 or frames < 0 or offset + frames > length:
        raise TfselectError(
            f"segment [{offset}, {offset + frames}) samples lies outside track "
            f"'{track.name}' ({length} samples)"
        )
    if track.stems is not None:
        from tfselect.audio import stem_files

        return stem_files.read_segment(track, sources, offset, frames)
    if track.is_stem_file:
        return _read_stem_file(track, sources, offset, frames)
    return {source: read_file(track.source_path(source), offset, frames) for source in sources}


def read_file(path: Path, offset: int, frames: int) -> np.ndarray:
    """``frames`` samples of one audio file from ``offset``: float32 (2, frames), exact.

    Raises:
        DatasetError: naming the file: unreadable, truncated, or holding NaN/inf samples.
    """
    try:
        x, _ = sf.read(os.fsencode(path), start=offset, frames=frames, dtype="float32",
                       always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read audio ({exc})") from None
    if x.shape[0] != frames:  # a header lying about the length: truncated file
        raise DatasetError(f"{path}: expected {frames} samples, read {x.shape[0]} (truncated)")
    return _to_stereo(x, path)


def _read_stem_file(
    track: Track, sources: Sequence[str], offset: int, frames: int
) -> dict[str, np.ndarray]:
    """Decode a MUSDB18 .stem.mp4 through musdb's reader (stempeg/ffmpeg, 16-bit)."""
    from musdb.audio_classes import MultiTrack

    try:
        mt = MultiTrack(
            path=str(track.path), name=track.name, subset=track.subset, stem_id=0, is_wav=False
        )
        if mt.info.nb_audio_streams < len(STEM_IDS):
            raise DatasetError(
                f"{track.path}: {mt.info.nb_audio_streams} audio streams, a MUSDB18 stem file "
                f"has {len(STEM_IDS)} (mixture, drums, bass, other, vocals)"
            )
        mt.chunk_start = offset / SAMPLE_RATE
        mt.chunk_duration = frames / SAMPLE_RATE
        stems = np.asarray(mt.stems, dtype=np.float32)  # (5, samples, channels)
    except DatasetError:
        raise
    except Exception as exc:  # ffmpeg/stempeg failures surface as assorted exception types
        raise DatasetError(f"{track.path}: cannot decode stem file ({exc})") from None
    out = {}
    for source in sources:
        x = stems[STEM_IDS[source]]
        # ffmpeg seeks to the nearest sample: fix the length so every source lines up exactly.
        x = x[:frames] if x.shape[0] >= frames else np.pad(x, ((0, frames - x.shape[0]), (0, 0)))
        out[source] = _to_stereo(x, track.path)
    return out


def load_track(
    track: Track,
    sources: Sequence[str] | None = None,
    start: float = 0.0,
    duration: float | None = None,
) -> dict[str, np.ndarray]:
    """Load the sources of ``track``, optionally a segment of it.

    Args:
        track: from :func:`discover` / :func:`tracks_for`.
        sources: any of ``track.sources`` (None: all; MUSDB layout: ``'mixture', 'vocals',
            'drums', 'bass', 'other'``).
        start: start time in seconds.
        duration: length in seconds (None: to the end).

    Returns:
        ``{source: array (2, samples) float32}`` at 44100 Hz, all of the same length.
        WAVs are read by soundfile as exact float32; ``.stem.mp4`` through musdb (16-bit).
        Mono files are accepted and duplicated to both channels.

    Raises:
        DatasetError: missing stem, stems of different lengths or sample rates, more than
            two channels, or a file that is not audio (the message names the file).
    """
    offset = int(round(start * SAMPLE_RATE))
    frames = None if duration is None else int(round(duration * SAMPLE_RATE))
    return read_segment(track, sources, offset, frames)
