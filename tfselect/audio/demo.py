"""The built-in demo corpus: the synthetic songs of ``synthesis`` in MUSDB18-HQ layout.

The ``fine`` stem set is written without ``mixture.wav`` (generic stem folders: the mixture is
the stems' sum).

The same ``seed`` gives bitwise the same files. The tracks are written by default as 16-bit
WAV like MUSDB18-HQ (``subtype='PCM_16'``, half the size of float32): ``mixture.wav`` is the
integer sum of the quantised stems, so it equals the sum of the stems as read back exactly.
``subtype='FLOAT'`` writes float32 WAVs instead (mixture = sum within float32 rounding).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from tfselect import SAMPLE_RATE
from tfselect.audio.synthesis import DEMO_VERSION, STEM_SETS, synthesize_track
from tfselect.errors import TfselectError

log = logging.getLogger(__name__)

DEFAULT_TRACKS = 8
DEFAULT_TEST_TRACKS = 2
DEFAULT_SECONDS = 12.0
META_FILE = "tfselect-demo.json"

_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command code (sndfile.h)


def _write_wav(path: Path, data: np.ndarray, subtype: str) -> None:
    """Write (samples, channels) ``data`` as a reproducible WAV.

    libsndfile stamps the PEAK chunk of float WAVs with the current time; turning the chunk
    off makes the same seed give byte-identical files, not only identical samples.
    """
    with sf.SoundFile(str(path), "w", SAMPLE_RATE, data.shape[1], subtype=subtype,
                      format="WAV") as f:
        try:
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        except AttributeError:  # pragma: no cover - a soundfile without these internals
            pass
        f.write(data)


def _write_track(folder: Path, audio: dict[str, np.ndarray], subtype: str) -> None:
    """Write the WAVs of one track so that mixture == sum of stems as read back (no
    ``mixture.wav`` when ``audio`` holds no mixture)."""
    folder.mkdir(parents=True)
    if subtype == "FLOAT":
        for source, x in audio.items():
            _write_wav(folder / f"{source}.wav", x.T, "FLOAT")
        return
    # PCM_16 (what MUSDB18-HQ ships): quantise each stem to integers and write the integer
    # sum as the mixture, so the files read back (int / 32768) sum exactly, bit for bit.
    ints = {
        t: np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int32)
        for t, x in audio.items() if t != "mixture"
    }
    mix = sum(ints.values())
    if np.max(np.abs(mix)) > 32767:  # cannot happen below the -1 dBFS peak guard
        raise TfselectError(f"{folder}: the 16-bit mixture would clip")
    for source, x in (({"mixture": mix} if "mixture" in audio else {}) | ints).items():
        _write_wav(folder / f"{source}.wav", x.T.astype(np.int16), "PCM_16")


def write_demo_corpus(
    out: Path,
    tracks: int = DEFAULT_TRACKS,
    seconds: float = DEFAULT_SECONDS,
    seed: int = 0,
    test_tracks: int | None = None,
    subtype: str = "PCM_16",
    stems: str = "musdb",
) -> Path:
    """Write a deterministic demo corpus in MUSDB18-HQ layout under ``out``.

    ``stems='fine'`` writes vocals, drums, bass, keys, plucks and pads instead, as generic
    stem folders without ``mixture.wav`` (see the module docstring).

    Args:
        out: folder to write (created; must not already hold train/ or test/).
        tracks: number of train tracks (validation is split off them like for any root).
        seconds: duration of every track in seconds.
        seed: the same seed gives bitwise the same files.
        test_tracks: number of test tracks (default: a quarter of ``tracks``, at least 1).
        subtype: ``'FLOAT'`` (float32 WAV; mixture = float32 sum of the stems, within
            float32 rounding) or ``'PCM_16'`` (16-bit like MUSDB18-HQ, half the size;
            mixture = exact sum of the quantised stems).

    Returns:
        ``out``. Files: ``out/{train,test}/<Track>/{mixture,vocals,drums,bass,other}.wav``,
        stereo 44100 Hz, plus ``tfselect-demo.json`` describing the corpus. Size: about
        1.76 MB (FLOAT) or 0.88 MB (PCM_16) per second of track.
    """
    if stems not in STEM_SETS:
        raise TfselectError(f"unknown demo stem set '{stems}': choose {', '.join(STEM_SETS)}")
    if subtype not in ("FLOAT", "PCM_16"):
        raise TfselectError(f"unknown WAV subtype '{subtype}': choose FLOAT or PCM_16")
    if tracks < 1:
        raise TfselectError(f"number of demo tracks must be at least 1, got {tracks}")
    if test_tracks is None:
        test_tracks = max(1, int(round(tracks / 4)))
    if test_tracks < 0:
        raise TfselectError(f"number of demo test tracks must be >= 0, got {test_tracks}")
    if not (1.0 <= seconds <= 600.0):
        raise TfselectError(f"demo track duration must be 1-600 seconds, got {seconds:g}")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise TfselectError(f"{out} exists and is not a folder")
    for sub in ("train", "test"):
        if (out / sub).exists():
            raise TfselectError(
                f"{out / sub} already exists: choose an empty --out folder or delete it first"
            )
    existed = out.is_dir()
    try:
        (out if existed else out.parent).mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed into place: a full disk or a kill leaves no partial
        # corpus under ``out`` (only this hidden folder, removed on any error).
        tmp = Path(tempfile.mkdtemp(prefix=".demo-partial-", dir=out if existed else out.parent))
    except OSError as exc:
        raise TfselectError(f"cannot create {out}: {exc.strerror or exc}") from None
    meta = {
        "version": DEMO_VERSION,
        "seed": seed,
        "seconds": seconds,
        "subtype": subtype,
        "tracks": [],
    }
    if stems != "musdb":  # the default corpus's metadata stays as it was
        meta["stems"] = stems
    try:
        for index in range(tracks + test_tracks):
            subset = "train" if index < tracks else "test"
            name, audio = synthesize_track(seed, index, seconds, stems)
            if stems != "musdb":
                del audio["mixture"]  # generic stem folders: the mixture is the sum
            _write_track(tmp / subset / name, audio, subtype)
            meta["tracks"].append({"name": name, "subset": subset})
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        if existed:
            for sub in ("train", "test"):
                if (tmp / sub).exists():
                    os.rename(tmp / sub, out / sub)
            os.replace(tmp / META_FILE, out / META_FILE)  # last: marks the corpus complete
        else:
            tmp.chmod(0o755)  # mkdtemp makes it private
            os.rename(tmp, out)
    except (OSError, RuntimeError) as exc:  # soundfile's errors are RuntimeErrors
        raise TfselectError(f"cannot write the demo corpus to {out}: "
                            f"{getattr(exc, 'strerror', None) or exc}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def cache_dir() -> Path:
    """Where cached corpora live: ``$TFSELECT_CACHE``, else ``~/.cache/tfselect``."""
    env = os.environ.get("TFSELECT_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tfselect"


def demo_path() -> Path:
    """Where the default demo corpus lives (:func:`demo_root` builds it there): the corpus
    of every command without ``--root`` or ``$MUSDB_PATH``, and of ``make demo``."""
    return cache_dir() / f"demo-{DEMO_VERSION}"


def demo_root() -> Path:
    """The default demo corpus, built on first use under :func:`cache_dir`.

    It is written into a temporary sibling folder and renamed into place, so concurrent
    processes never see half a corpus: the loser of a race discards its copy.
    """
    final = demo_path()
    if (final / META_FILE).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    log.warning("tfselect: building the demo corpus in %s (once) ...", final)
    tmp = Path(tempfile.mkdtemp(prefix=f".demo-{DEMO_VERSION}-", dir=final.parent))
    try:
        # Module constants read at call time (tests shrink them to keep builds fast).
        write_demo_corpus(tmp, tracks=DEFAULT_TRACKS, seconds=DEFAULT_SECONDS,
                          test_tracks=DEFAULT_TEST_TRACKS)  # fmt: skip
        tmp.chmod(0o755)  # mkdtemp makes it private; a cache others may share should not be
        try:
            os.rename(tmp, final)
        except OSError as exc:  # another process won the race, or the path is taken
            if not (final / META_FILE).is_file():
                raise TfselectError(
                    f"{final} exists but is not a complete demo corpus: delete it ({exc})"
                ) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
