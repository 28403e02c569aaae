"""What ``separate`` reads and writes, settled before any song is separated.

Inputs: files, and folders standing for the audio files directly in them; each one is
opened and its header read, so a missing, unreadable or non-audio file stops the command
before anything is written. Outputs: which stems to write (every stem, a subset of the
targets, or two stems: a target and the rest of the mixture) and in which file format.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from tfselect.errors import DatasetError, TfselectError

# What a folder given as input is searched for (lower case; libsndfile reads them all).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au",
                    ".caf", ".w64", ".rf64")  # fmt: skip
FORMATS = ("wav", "flac")
BITS = ("16", "24", "32f")
_SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
# The stem written for --two-stems T besides T itself (demucs names it so too).
COMPLEMENT_PREFIX = "no_"


@dataclass(frozen=True)
class AudioInput:
    """An input file as its header describes it: ``frames`` samples per channel at
    ``rate`` Hz, ``channels`` 1 or 2."""

    path: Path
    frames: int
    rate: int
    channels: int


@dataclass(frozen=True)
class OutputFormat:
    """The stems' file format: ``kind`` ``wav`` or ``flac``; ``bits`` ``16``, ``24``
    (integer PCM: samples beyond full scale are clipped) or ``32f`` (float, WAV only:
    kept as computed)."""

    kind: str = "wav"
    bits: str = "32f"

    @property
    def suffix(self) -> str:
        return f".{self.kind}"

    @property
    def subtype(self) -> str:
        """soundfile's subtype: PCM_16, PCM_24 or FLOAT."""
        return _SUBTYPES[self.bits]

    def write(self, path: Path, y, rate: int) -> None:
        """Write ``y`` (channels, n) at ``rate`` Hz to ``path`` in this format."""
        sf.write(str(path), y.T, rate, subtype=self.subtype, format=self.kind.upper())


# What separate wrote before it had a choice, and still writes by default.
FLOAT_WAV = OutputFormat()


@dataclass(frozen=True)
class Stem:
    """One stem to write: ``name`` (its file name without suffix) and what it holds:
    ``kind`` ``target`` (the estimate of ``target``), ``residual`` (the input minus every
    target's estimate) or ``complement`` (the input minus the estimate of ``target``)."""

    name: str
    kind: str
    target: str | None = None


def output_format(kind: str = "wav", bits: str | None = None) -> OutputFormat:
    """The checked format; ``bits`` None: ``32f`` for WAV (float, what separation computes),
    ``24`` for FLAC (which holds integers only). TfselectError (one line) otherwise."""
    if kind not in FORMATS:
        raise TfselectError(f"--format must be wav or flac, got {kind!r}")
    if bits is None:
        bits = "32f" if kind == "wav" else "24"
    if bits not in BITS:
        raise TfselectError(f"--bits must be 16, 24 or 32f, got {bits!r}")
    if kind == "flac" and bits == "32f":
        raise TfselectError("--bits 32f: FLAC holds no float samples (use --bits 16 or 24, "
                            "or --format wav)")  # fmt: skip
    return OutputFormat(kind, bits)


def stem_plan(
    targets: Sequence[str],
    residual: bool,
    only: Sequence[str] | None = None,
    two_stems: str | None = None,
) -> list[Stem]:
    """The stems to write for a model with ``targets`` (and a residual stem when
    ``residual``): all of them; those named in ``only`` (``--targets``, written in the
    model's order); or, with ``two_stems`` T, T and ``no_T`` (the input minus T's estimate).
    TfselectError (one line, listing the model's stems) for a name the model lacks."""
    available = [*targets, "residual"] if residual else list(targets)
    listed = ", ".join(available)
    if only is not None and two_stems is not None:
        raise TfselectError("--targets and --two-stems exclude each other: give one")
    if two_stems is not None:
        if two_stems not in targets:
            raise TfselectError(f"--two-stems: the model has no target {two_stems!r} "
                                f"(its targets: {', '.join(targets)})")  # fmt: skip
        # The complement is the input minus the estimate rather than the sum of the other
        # estimates: the two files then add up to the input exactly, and nothing the model's
        # targets leave out (its residual) or their masks fail to cover is lost.
        return [
            Stem(two_stems, "target", two_stems),
            Stem(COMPLEMENT_PREFIX + two_stems, "complement", two_stems),
        ]
    if only is None:
        chosen = available
    else:
        if not only:
            raise TfselectError(f"--targets names no target (the model's: {listed})")
        unknown = [t for t in only if t not in available]
        if unknown:
            raise TfselectError(f"--targets: the model has no stem {unknown[0]!r} "
                                f"(its stems: {listed})")  # fmt: skip
        chosen = [t for t in available if t in set(only)]
    return [Stem(t, "residual") if t == "residual" and residual else Stem(t, "target", t)
            for t in chosen]  # fmt: skip


def parse_targets(text: str | None) -> list[str] | None:
    """``"vocals,drums"`` -> ``["vocals", "drums"]`` (blanks dropped); None stays None."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def expand_inputs(items: Sequence[Path | str]) -> list[Path]:
    """The input files: each file as given, each folder replaced by the audio files directly
    in it (sorted by name; extensions in :data:`AUDIO_EXTENSIONS`, any case; hidden files
    such as macOS's ``._song.wav`` left out). TfselectError (one line) for a path that does
    not exist, a folder without audio files, or no input at all."""
    if not items:
        raise TfselectError("no input file given")
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted((p for p in item.iterdir() if is_audio_name(p) and p.is_file()),
                           key=lambda p: p.name)  # fmt: skip
            if not found:
                raise TfselectError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) in "
                                    f"{item}")  # fmt: skip
            files += found
        elif not item.exists():
            raise TfselectError(f"no such file: {item}")
        else:
            files.append(item)
    return files


def is_audio_name(path: Path) -> bool:
    """Whether a folder's entry counts as an audio file: a known extension, not hidden."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def check_input(path: Path) -> AudioInput:
    """Open ``path`` and read its header: an :class:`AudioInput`, else one line naming the
    file (no such file, not a file, unreadable, not audio, over two channels, empty)."""
    try:
        with open(path, "rb"):  # the system's own words for what stops a read
            pass
    except FileNotFoundError:
        raise TfselectError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise TfselectError(f"{path}: a folder, not a file") from None
    except OSError as exc:
        raise TfselectError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = sf.info(os.fsencode(path))
    except sf.LibsndfileError as exc:
        raise DatasetError(f"{path}: cannot read audio ({exc.error_string})") from None
    except Exception as exc:  # soundfile also raises RuntimeError, TypeError...
        raise DatasetError(f"{path}: cannot read audio ({exc})") from None
    if info.channels > 2:
        raise DatasetError(f"{path}: {info.channels} channels; separate handles mono or stereo")
    if info.frames <= 0:
        raise DatasetError(f"{path}: the file holds no samples")
    return AudioInput(Path(path), int(info.frames), int(info.samplerate), int(info.channels))
