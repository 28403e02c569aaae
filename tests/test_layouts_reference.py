"""Dataset layouts against definitions written here: every track of every layout, the MoisesDB
split pinned from its documented rule, the -60 dB thresholds crossed on both sides, and which
targets cover a mixture.

Audio is written as float32 WAV (exact on reading back); the references are numpy sums of the
arrays written, and levels are computed here in float64 from the definitions in the docstrings.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tfselect.audio import moisesdb
from tfselect.audio.dataset import discover, read_segment, track_length
from tfselect.audio.layouts import detect_layout
from tfselect.audio.targets import (
    TargetMap,
    activity,
    apply_target_map,
    covers_mixture,
    target_table,
)

SR = 44100
N = 600  # samples per file: enough for every check here, cheap to write


def _noise(rng: np.random.Generator, n: int = N) -> np.ndarray:
    return (0.1 * rng.standard_normal((n, 2))).astype(np.float32)


def _write(path: Path, x: np.ndarray, fmt: str = "WAV") -> np.ndarray:
    """Write (n, 2) float32 and return it as (2, n) (FLOAT WAV and the FLAC below are exact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, SR, format=fmt, subtype="FLOAT" if fmt == "WAV" else "PCM_24")
    back = sf.read(str(path), dtype="float32", always_2d=True)[0]
    return back.T.copy()


def _sum64(arrays) -> np.ndarray:
    total = np.zeros((2, N), np.float64)
    for a in arrays:
        total += a
    return total.astype(np.float32)


def _assert_every_source(track, expected: dict[str, np.ndarray]) -> None:
    got = read_segment(track, None, 0, N)
    assert set(got) == set(expected), track.name
    for name, ref in expected.items():
        np.testing.assert_array_equal(got[name], ref, err_msg=f"{track.name}/{name}")


# ----------------------------------------------------------------------------- every track


def test_stem_folders_every_track_reads_its_own_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    layout = {("train", "a"): ("vocals", "guitar"), ("train", "b"): ("vocals", "banjo"),
              ("train", "c"): ("guitar",), ("test", "d"): ("banjo", "guitar", "vocals")}
    written: dict[str, dict[str, np.ndarray]] = {}
    for (subset, name), stems in layout.items():
        written[name] = {s: _write(tmp_path / subset / name / f"{s}.wav", _noise(rng))
                         for s in stems}  # fmt: skip
    tracks = discover(tmp_path)
    assert [(t.name, t.subset) for t in tracks] == [(n, s) for s, n in layout]
    for t in tracks:
        assert t.targets == ("vocals", "banjo", "guitar") and not t.has_mixture
        assert track_length(t) == N
        w = written[t.name]
        silence = np.zeros((2, N), np.float32)
        _assert_every_source(t, {"mixture": _sum64(w.values()),
                                 **{s: w.get(s, silence) for s in t.targets}})  # fmt: skip


def moisesdb_tree(root: Path, names: list[str], rng: np.random.Generator) -> dict:
    """Each track: vocals in one file, guitar in a number of files that depends on the track."""
    written = {}
    for k, name in enumerate(names):
        ids = {"vocals": ["v"], "guitar": [f"g{j}" for j in range(1 + k % 3)]}
        meta = {"stems": [{"stemName": s, "tracks": [{"id": f"{name}-{i}", "extension": "wav"}
                                                     for i in ids[s]]} for s in ids]}  # fmt: skip
        written[name] = {s: [_write(root / name / s / f"{name}-{i}.wav", _noise(rng))
                             for i in ids[s]] for s in ids}  # fmt: skip
        (root / name / "data.json").write_text(json.dumps(meta))
    return written


def test_moisesdb_every_track_sums_its_own_files(tmp_path: Path) -> None:
    names = ["t0", "t1", "t2", "t3"]
    written = moisesdb_tree(tmp_path, names, np.random.default_rng(1))
    tracks = discover(tmp_path)
    assert sorted(t.name for t in tracks) == names
    for t in tracks:
        w = written[t.name]
        every = [a for arrays in w.values() for a in arrays]
        _assert_every_source(t, {"mixture": _sum64(every), "vocals": _sum64(w["vocals"]),
                                 "guitar": _sum64(w["guitar"])})  # fmt: skip


def test_slakh_every_track_reads_its_own_mixture_and_stems(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    classes = {"S00": "Guitar", "S01": "Bass", "S02": "Guitar", "S03": "Piano"}
    written = {}
    for folder, name in (("train", "Track1"), ("train", "Track2"), ("validation", "Track3"),
                         ("test", "Track4")):  # fmt: skip
        track = tmp_path / folder / name
        lines = ["stems:"]
        stems = {}
        for sid, cls in classes.items():
            rendered = not (name == "Track2" and sid == "S03")  # no piano rendered in Track2
            lines += [f"  {sid}:", f"    inst_class: {cls}", f"    audio_rendered: {rendered}"]
            if rendered:
                stems[sid] = _write(track / "stems" / f"{sid}.flac", _noise(rng), "FLAC")
        (track / "metadata.yaml").write_text("\n".join(lines) + "\n")
        # each mixture differs from the stems' sum, so reading another track's file shows
        mix = _write(track / "mix.flac", rng.uniform(-0.5, 0.5, (N, 2)).astype(np.float32),
                     "FLAC")
        written[name] = (stems, mix)
    tracks = discover(tmp_path)
    assert [(t.name, t.subset) for t in tracks] == [
        ("Track1", "train"), ("Track2", "train"), ("Track3", "valid"), ("Track4", "test")]
    for t in tracks:
        stems, mix = written[t.name]
        assert t.targets == ("bass", "guitar", "piano") and t.has_mixture
        piano = stems["S03"] if "S03" in stems else np.zeros((2, N), np.float32)
        _assert_every_source(t, {"mixture": mix, "bass": stems["S01"], "piano": piano,
                                 "guitar": _sum64([stems["S00"], stems["S02"]])})  # fmt: skip


# ----------------------------------------------------------------------------- MoisesDB split

# From the documented rule (names sorted, max(1, round(0.2 n)) test tracks once two exist,
# numpy.random.default_rng(42).permutation): pinned so that a changed seed, fraction or
# rounding shows.
PINNED_TEST = {1: set(), 2: {"t01"}, 3: {"t02"}, 5: {"t04"}, 7: {"t03"}, 8: {"t03", "t04"},
               13: {"t00", "t07", "t12"}}  # fmt: skip


@pytest.mark.parametrize("n", sorted(PINNED_TEST))
def test_moisesdb_split_membership_is_pinned(n: int) -> None:
    names = [f"t{i:02d}" for i in range(n)]
    rule = set()
    if n >= 2:
        count = max(1, int(math.floor(0.2 * n + 0.5)))
        rule = {names[i] for i in np.random.default_rng(42).permutation(n)[:count]}
    assert rule == PINNED_TEST[n]
    assert moisesdb.split(names[::-1]) == PINNED_TEST[n]  # the input order does not matter


def test_moisesdb_discover_puts_the_pinned_tracks_in_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    names = [f"t{i:02d}" for i in range(8)]
    for name in names:  # data.json and files only: discovery reads no audio
        meta = {"stems": [{"stemName": "vocals", "tracks": [{"id": "v", "extension": "wav"}]}]}
        _write(tmp_path / name / "vocals" / "v.wav", _noise(rng, 8))
        (tmp_path / name / "data.json").write_text(json.dumps(meta))
    tracks = discover(tmp_path)
    test = sorted(PINNED_TEST[8])
    train = sorted(set(names) - PINNED_TEST[8])
    assert [(t.name, t.subset) for t in tracks] == (
        [(n, "train") for n in train] + [(n, "test") for n in test])


# ----------------------------------------------------------------------------- layout choice


@pytest.mark.parametrize("stems, layout", [
    (("mixture", "vocals", "drums", "bass", "other"), "musdb"),
    (("mixture", "vocals", "guitar"), "stem-folders"),  # a mixture beside non-MUSDB names
    (("mixture", "vocals", "drums", "bass", "other", "piano"), "stem-folders"),
    (("vocals", "drums", "bass", "other"), "stem-folders"),  # MUSDB names without a mixture
])  # fmt: skip
def test_layout_of_a_stem_folder_root(tmp_path: Path, stems, layout) -> None:
    """The first track is plain MUSDB; the second decides (any track can make it generic)."""
    for s in ("mixture", "vocals", "drums", "bass", "other"):
        _write(tmp_path / "train" / "a" / f"{s}.wav", np.zeros((8, 2), np.float32))
    for s in stems:
        _write(tmp_path / "train" / "b" / f"{s}.wav", np.zeros((8, 2), np.float32))
    assert detect_layout(tmp_path).name == layout
    if layout == "stem-folders":
        assert all(t.stems is not None for t in discover(tmp_path))


# ----------------------------------------------------------------------------- thresholds


def _activity_by_loops(stem: np.ndarray, mix: np.ndarray, frame: int) -> float:
    """The docstring's definition: a frame is active when the stem's energy is non-zero and
    at least -60 dB (energy ratio 1e-6) of the mixture frame's, or the mixture frame is silent."""
    n = stem.shape[-1]
    flags = []
    for start in range(0, n, frame):
        es = float(np.sum(stem[:, start:start + frame].astype(np.float64) ** 2))
        em = float(np.sum(mix[:, start:start + frame].astype(np.float64) ** 2))
        flags.append(es > 0 and (em == 0 or es >= 1e-6 * em))
    return sum(flags) / len(flags)


def test_activity_threshold_is_60_db_of_energy_on_both_sides() -> None:
    rng = np.random.default_rng(4)
    frame = 100
    mix = (0.5 * rng.standard_normal((2, 7 * frame + 30))).astype(np.float64)
    # per frame: stem level relative to the mixture frame, in dB (None: silent stem)
    levels = [-59.5, -60.5, -30.0, None, -61.0, -59.0, 0.0, -59.8]
    stem = np.zeros_like(mix)
    for k, level in enumerate(levels):
        sl = slice(k * frame, (k + 1) * frame)
        if level is not None:
            stem[:, sl] = mix[:, sl] * 10 ** (level / 20)
    mix[:, 2 * frame:3 * frame] = 0.0  # a silent mixture frame keeps its sounding stem active
    stem[:, 2 * frame:3 * frame] = 1e-3
    expected = _activity_by_loops(stem, mix, frame)
    assert expected == pytest.approx(5 / 8)  # -59.5, silent mix, 0, -59, -59.8 on the last
    assert activity(stem, mix, frame) == pytest.approx(expected)
    assert activity(stem[:, :0], mix[:, :0], frame) == 0.0


def test_activity_of_float32_audio_is_measured_in_float64() -> None:
    """Stems are read as float32; a faint stem under a silent mixture is active although its
    squares underflow in float32 (1e-23 squared is below float32's smallest number)."""
    frame = 50
    stem = np.zeros((2, 4 * frame), np.float32)
    stem[:, :frame] = 1e-23  # under a silent mixture frame: active
    stem[:, frame : 2 * frame] = 0.25
    mix = np.zeros_like(stem)
    mix[:, frame : 3 * frame] = 0.5  # the last frame: silent stem under a silent mixture
    assert np.square(stem[:, :frame]).sum() == 0.0  # what float32 would measure
    expected = _activity_by_loops(stem, mix, frame)
    assert expected == 0.5
    assert activity(stem, mix, frame) == expected


def test_activity_at_exactly_minus_60_db_and_a_mixture_frame_of_energy_one() -> None:
    """-60 dB itself is active (``>=``); a mixture frame of energy exactly 1 is an ordinary
    frame (only 0 is special). Float64 energies chosen to be exact: 0.001**2 == 1e-6."""
    frame = 4
    stem, mix = np.zeros((2, 3 * frame)), np.zeros((2, 3 * frame))
    mix[0, 0] = mix[0, frame] = mix[0, 2 * frame] = 1.0  # every mixture frame: energy 1
    stem[0, 0] = 1e-3  # exactly -60 dB: active
    stem[0, frame] = 1e-4  # -80 dB under energy 1: inactive
    stem[0, 2 * frame] = 0.5
    assert _activity_by_loops(stem, mix, frame) == pytest.approx(2 / 3)
    assert activity(stem, mix, frame) == pytest.approx(2 / 3)


def _track_with_shipped_mixture(root: Path, extra_db: float | None, name: str = "a"):
    """Two stems and a shipped mixture = their sum + noise at ``extra_db`` of the sum (None:
    exactly the sum, in float64 then float32 like the reader)."""
    rng = np.random.default_rng(5)
    folder = root / "train" / name
    stems = [_write(folder / f"{s}.wav", _noise(rng)) for s in ("vocals", "guitar")]
    total = stems[0].astype(np.float64) + stems[1]
    mix = total.copy()
    if extra_db is not None:
        extra = rng.standard_normal(total.shape)
        extra *= math.sqrt(np.sum(total**2) / np.sum(extra**2)) * 10 ** (extra_db / 20)
        mix += extra
    mix = _write(folder / "mixture.wav", mix.astype(np.float32).T)
    _write(root / "test" / "t" / "vocals.wav", np.zeros((N, 2), np.float32))
    res = mix.astype(np.float64) - total
    level = 10 * math.log10(np.sum(res**2) / np.sum(mix.astype(np.float64) ** 2)) if np.any(
        res) else -math.inf
    (track,) = [t for t in discover(root) if t.name == name]
    return track, level


@pytest.mark.parametrize("extra_db, warns", [(None, False), (-61.0, False), (-59.0, True)])
def test_shipped_mixture_warns_above_minus_60_db_only(tmp_path: Path, caplog, extra_db,
                                                      warns) -> None:
    track, level = _track_with_shipped_mixture(tmp_path, extra_db)
    if extra_db is not None:  # the level the test meant, on the side it meant
        assert abs(level - extra_db) < 0.3
    with caplog.at_level(logging.WARNING, logger="tfselect.audio.stem_files"):
        read_segment(track, ("mixture",), 0, N)
    said = [r for r in caplog.records if "differs from the sum of the stems" in r.getMessage()]
    assert len(said) == int(warns)
    if warns:
        assert f"by {level:.1f} dB" in said[0].getMessage()


@pytest.mark.parametrize("extra_db, row", [(None, False), (-101.0, False), (-99.0, True)])
def test_targets_table_shows_a_residual_above_minus_100_db_only(tmp_path: Path, extra_db,
                                                                row) -> None:
    _, level = _track_with_shipped_mixture(tmp_path, extra_db)
    if extra_db is not None:
        assert abs(level - extra_db) < 0.3
    df = target_table(tmp_path)
    assert ("residual" in set(df["target"])) == row


# ----------------------------------------------------------------------------- covers_mixture


def test_covers_mixture_by_construction_only(tmp_path: Path, wav_track) -> None:
    rng = np.random.default_rng(6)
    for name in ("a", "b"):
        for s in ("vocals", "guitar", "piano"):
            _write(tmp_path / "gen" / "train" / name / f"{s}.wav", _noise(rng, 8))
    _write(tmp_path / "gen" / "train" / "b" / "mixture.wav", _noise(rng, 8))
    a, b = discover(tmp_path / "gen")
    every = ("vocals", "guitar", "piano")
    assert covers_mixture(a, every) and covers_mixture(a, every[::-1])  # order is irrelevant
    assert not covers_mixture(a, ("vocals", "guitar"))  # a subset of the stems
    assert not covers_mixture(a, (*every, "bass"))  # a name the dataset lacks
    assert not covers_mixture(b, every)  # a shipped mixture may hold more than its stems
    keep_all = TargetMap.from_dict({"voice": "vocals", "band": ["guitar", "piano"]})
    leave_out = TargetMap.from_dict({"voice": "vocals", "gtr": "guitar"})
    # the file form: one list per target, read back to the same map
    assert keep_all.as_dict() == {"voice": ["vocals"], "band": ["guitar", "piano"]}
    assert TargetMap.from_dict(keep_all.as_dict()) == keep_all
    (a_all, _) = apply_target_map([a, b], keep_all, tmp_path)
    (a_part, _) = apply_target_map([a, b], leave_out, tmp_path)
    assert covers_mixture(a_all, ("voice", "band"))
    assert not covers_mixture(a_part, ("voice", "gtr"))  # piano is left in the rest
    wav_track(tmp_path / "musdb", "train", "Song")
    (song,) = discover(tmp_path / "musdb")
    assert covers_mixture(song, ("vocals", "drums", "bass", "other"))
    assert not covers_mixture(song, ("vocals", "drums", "bass"))


@pytest.mark.parametrize("data, message", [
    ({}, "[targets] must map target names to stem names"),
    (["vocals"], "[targets] must map target names to stem names"),
    ({"voice": []}, "targets.voice must be a stem name or a list of stem names"),
    ({"voice": ["vocals", ""]}, "targets.voice must be a stem name or a list of stem names"),
    ({"voice": ["vocals", 3]}, "targets.voice must be a stem name or a list of stem names"),
    ({"voice": 3}, "targets.voice must be a stem name or a list of stem names"),
])  # fmt: skip
def test_a_bad_target_map_is_refused_by_name(data, message: str) -> None:
    from tfselect.errors import TfselectError

    with pytest.raises(TfselectError) as err:
        TargetMap.from_dict(data, "map.toml")
    assert str(err.value) == f"map.toml: {message}"
    with pytest.raises(TfselectError) as err:
        TargetMap.from_dict(data)
    assert str(err.value) == f"target map: {message}"  # the default origin


def test_a_mapped_musdb_track_keeps_its_shipped_mixture(tmp_path: Path, wav_track) -> None:
    """Regrouping MUSDB stems keeps mixture.wav as the mixture: it may hold more than the
    stems (here a quiet extra), so the mixture is read from the file, never summed."""
    folder = wav_track(tmp_path, "train", "Song", seconds=N / SR)
    mix = sf.read(str(folder / "mixture.wav"), dtype="float32")[0]
    extra = (mix + 0.01 * np.random.default_rng(1).standard_normal(mix.shape)).astype(np.float32)
    sf.write(str(folder / "mixture.wav"), extra, SR, subtype="FLOAT")
    (song,) = discover(tmp_path)
    (mapped,) = apply_target_map([song], TargetMap.from_dict({"voice": "vocals"}), tmp_path)
    assert mapped.has_mixture and mapped.mixture == (folder / "mixture.wav",)
    assert not covers_mixture(mapped, ("voice",))
    got = read_segment(mapped, ("mixture", "voice"), 0, N)
    np.testing.assert_array_equal(got["mixture"], extra.T)
    np.testing.assert_array_equal(got["voice"], sf.read(str(folder / "vocals.wav"),
                                                        dtype="float32")[0].T)  # fmt: skip


def test_a_mapped_stem_one_track_lacks_is_silence_there(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    a_vox = _write(tmp_path / "train" / "a" / "vocals.wav", _noise(rng))
    a_gtr = _write(tmp_path / "train" / "a" / "guitar.wav", _noise(rng))
    b_vox = _write(tmp_path / "train" / "b" / "vocals.wav", _noise(rng))
    a, b = apply_target_map(discover(tmp_path), TargetMap.from_dict({"voice": "vocals",
                                                                      "gtr": "guitar"}),
                            tmp_path)  # fmt: skip
    assert dict(b.stems)["gtr"] == ()
    _assert_every_source(a, {"mixture": _sum64([a_vox, a_gtr]), "voice": a_vox, "gtr": a_gtr})
    _assert_every_source(b, {"mixture": b_vox, "voice": b_vox,
                             "gtr": np.zeros((2, N), np.float32)})  # fmt: skip


def test_target_maps_refuse_stem_files(tmp_path: Path) -> None:
    from tfselect.audio.track import Track
    from tfselect.errors import DatasetError

    track = Track(name="Song", subset="train", path=tmp_path / "Song.stem.mp4")
    with pytest.raises(DatasetError) as err:
        apply_target_map([track], TargetMap.from_dict({"voice": "vocals"}), tmp_path)
    assert str(err.value) == (f"{tmp_path / 'Song.stem.mp4'}: target maps need stems as "
                              f"separate files (MUSDB18-HQ WAVs, not .stem.mp4)")  # fmt: skip


# ----------------------------------------------------------------------------- MoisesDB metadata


def test_moisesdb_file_extensions_default_to_wav(tmp_path: Path) -> None:
    """``tracks[].extension`` names the file's suffix; a track without one is a .wav."""
    rng = np.random.default_rng(7)
    g = _write(tmp_path / "s" / "guitar" / "g.flac", _noise(rng), "FLAC")
    v = _write(tmp_path / "s" / "vocals" / "v.wav", _noise(rng))
    meta = {"stems": [{"stemName": "guitar", "tracks": [{"id": "g", "extension": "flac"}]},
                      {"stemName": "vocals", "tracks": [{"id": "v"}]}]}  # fmt: skip
    (tmp_path / "s" / "data.json").write_text(json.dumps(meta))
    (track,) = discover(tmp_path)
    assert track.path == tmp_path / "s"
    assert dict(track.stems) == {"vocals": (tmp_path / "s" / "vocals" / "v.wav",),
                                 "guitar": (tmp_path / "s" / "guitar" / "g.flac",)}
    _assert_every_source(track, {"mixture": _sum64([g, v]), "guitar": g, "vocals": v})


@pytest.mark.parametrize("damage, words", [
    ("absent", "missing (every MoisesDB track folder has one)"),
    ("folder", "cannot read it"),
    ("keys", "not MoisesDB metadata (expected stems[].stemName"),
    ("name", "'residual' cannot name a target"),
])  # fmt: skip
def test_moisesdb_bad_metadata_names_its_file(tmp_path: Path, damage: str, words: str) -> None:
    from tfselect.errors import DatasetError

    moisesdb_tree(tmp_path, ["t0", "t1"], np.random.default_rng(8))
    meta = tmp_path / "t1" / "data.json"
    meta.unlink()
    if damage == "folder":
        meta.mkdir()
    elif damage == "keys":
        meta.write_text(json.dumps({"stems": [{"name": "vocals", "tracks": []}]}))
    elif damage == "name":
        meta.write_text(json.dumps({"stems": [{"stemName": "residual", "tracks": []}]}))
    with pytest.raises(DatasetError) as info:
        discover(tmp_path)
    assert str(info.value).startswith(f"{meta}: ") and words in str(info.value)


# ----------------------------------------------------------------------------- Slakh metadata


@pytest.mark.parametrize("inst_class, target", [
    ("Guitar", "guitar"), ("Chromatic Percussion", "chromatic_percussion"),
    ("Strings (continued)", "strings"), ("Strings (Continued)", "strings"),
    ("  Synth Lead  ", "synth_lead"), ("Sound Effects!", "sound_effects"),
    ("(Pipe) Organ", "pipe_organ"), ("Brass (continued) 2", "brass_continued_2"),
])  # fmt: skip
def test_slakh_class_names_become_target_names(inst_class: str, target: str) -> None:
    from tfselect.audio.slakh import class_target

    assert class_target(inst_class) == target


def _slakh_track(root: Path, subset: str, name: str, stems: dict[str, str | None],
                 rng: np.random.Generator, audio_dir: str | None = None) -> dict:
    """``stems``: {sid: inst_class}, None for an unrendered one; files under ``audio_dir``."""
    track = root / subset / name
    lines = [f"audio_dir: {audio_dir}"] if audio_dir else []
    lines.append("stems:")
    written = {}
    for sid, cls in stems.items():
        lines += [f"  {sid}:", f"    inst_class: {cls or 'Piano'}"]
        if cls is None:
            lines.append("    audio_rendered: false")
        else:  # no audio_rendered key: rendered
            written[sid] = _write(track / (audio_dir or "stems") / f"{sid}.flac", _noise(rng),
                                  "FLAC")
    (track / "metadata.yaml").write_text("\n".join(lines) + "\n")
    written["mix"] = _write(track / "mix.flac", _noise(rng), "FLAC")
    return written


def test_slakh_order_audio_dir_and_unrendered_stems(tmp_path: Path) -> None:
    """Train, then valid, then test, whatever the names; ``audio_dir`` names the stems'
    folder; an unrendered stem is skipped and the stems after it are kept."""
    rng = np.random.default_rng(9)
    w = {"Z1": _slakh_track(tmp_path, "train", "Z1", {"S00": None, "S01": "Bass"}, rng,
                            audio_dir="audio"),
         "B2": _slakh_track(tmp_path, "validation", "B2", {"S00": "Bass", "S01": "Organ"}, rng),
         "A3": _slakh_track(tmp_path, "test", "A3", {"S00": "Organ"}, rng)}  # fmt: skip
    tracks = discover(tmp_path)
    assert [(t.name, t.subset) for t in tracks] == [("Z1", "train"), ("B2", "valid"),
                                                    ("A3", "test")]  # fmt: skip
    silence = np.zeros((2, N), np.float32)
    z1, b2, a3 = tracks
    assert z1.path == tmp_path / "train" / "Z1" and z1.targets == ("bass", "organ")
    assert dict(z1.stems)["bass"] == (tmp_path / "train" / "Z1" / "audio" / "S01.flac",)
    _assert_every_source(z1, {"mixture": w["Z1"]["mix"], "bass": w["Z1"]["S01"],
                              "organ": silence})  # fmt: skip
    _assert_every_source(b2, {"mixture": w["B2"]["mix"], "bass": w["B2"]["S00"],
                              "organ": w["B2"]["S01"]})  # fmt: skip
    _assert_every_source(a3, {"mixture": w["A3"]["mix"], "bass": silence,
                              "organ": w["A3"]["S00"]})  # fmt: skip


@pytest.mark.parametrize("damage, words", [
    ("absent", "missing (every Slakh track folder has one)"),
    ("folder", "cannot read it"),
    ("yaml", "not valid YAML (while parsing"),
    ("keys", "not Slakh metadata (expected stems.Sxx.inst_class"),
    ("name", "'residual' cannot name a target"),
    ("mix", "missing mixture of Slakh track 'T2'"),
])  # fmt: skip
def test_slakh_bad_metadata_names_its_file(tmp_path: Path, damage: str, words: str) -> None:
    from tfselect.errors import DatasetError

    rng = np.random.default_rng(10)
    _slakh_track(tmp_path, "train", "T1", {"S00": "Bass"}, rng)
    _slakh_track(tmp_path, "train", "T2", {"S00": "Bass"}, rng)
    meta = tmp_path / "train" / "T2" / "metadata.yaml"
    bad = meta
    if damage == "absent":
        meta.unlink()
    elif damage == "folder":
        meta.unlink()
        meta.mkdir()
    elif damage == "yaml":
        meta.write_text("stems: [\n  S00: {\n")
    elif damage == "keys":
        meta.write_text("stems:\n  S00:\n    program: 3\n")
    elif damage == "name":
        meta.write_text("stems:\n  S00:\n    inst_class: Residual\n")
    else:
        bad = tmp_path / "train" / "T2" / "mix.flac"
        bad.unlink()
    with pytest.raises(DatasetError) as info:
        discover(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{bad}: ") and words in message and "\n" not in message


# ----------------------------------------------------------------------------- stem folders


def test_stem_folders_skip_hidden_folders_and_other_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    track = tmp_path / "train" / "a"
    written = {s: _write(track / f"{s}.wav", _noise(rng)) for s in ("vocals", "zither")}
    _write(track / ".hidden.wav", _noise(rng))  # hidden: not a stem
    (track / "a_notes.txt").write_text("not audio")  # sorts before the stems
    (track / "folder.wav").mkdir()  # a folder, whatever its name
    (track / "b.flac.bak").write_text("not audio either")
    (track,) = discover(tmp_path)
    assert track.targets == ("vocals", "zither")
    _assert_every_source(track, {"mixture": _sum64(written.values()), **written})


@pytest.mark.parametrize("damage, words", [
    ("twice", "stem 'vocals' of track 'a' exists twice"),
    ("empty", "track 'a' holds no stem file (.wav/.flac)"),
    ("name", "'residual' cannot name a target"),
])  # fmt: skip
def test_stem_folders_bad_tracks_name_the_file(tmp_path: Path, damage: str, words: str) -> None:
    from tfselect.errors import DatasetError

    rng = np.random.default_rng(12)
    track = tmp_path / "train" / "a"
    _write(tmp_path / "train" / "b" / "guitar.wav", _noise(rng, 8))
    if damage == "twice":
        _write(track / "vocals.wav", _noise(rng, 8))
        _write(track / "vocals.flac", _noise(rng, 8), "FLAC")
        bad = track / "vocals.wav"  # the second one seen, in name order
    elif damage == "empty":
        _write(track / "mixture.wav", _noise(rng, 8))
        bad = track
    else:
        _write(track / "residual.wav", _noise(rng, 8))
        bad = track / "residual.wav"
    with pytest.raises(DatasetError) as info:
        discover(tmp_path)
    assert str(info.value).startswith(f"{bad}: ") and words in str(info.value)


# ----------------------------------------------------------------------------- stem-file tables


def _name_rule(name: object) -> bool:
    """The target-name rule as ``TARGET_NAME_RULE`` states it, character by character."""
    if not isinstance(name, str) or name in ("mixture", "residual") or name.startswith("."):
        return False
    if any(c in "/\\" or unicodedata.category(c)[0] in "CZ" and c != " " for c in name):
        return False  # separators, control and other unprintable characters
    return 1 <= len(name.encode("utf-8")) <= 200


@pytest.mark.parametrize("name", [
    "vocals", "Vocals 2", "a.b", "x" * 200, "é" * 100, "x" * 201, "é" * 101, "", "mixture",
    "residual", "Mixture", "mixtures", ".hidden", "..", "a/b", "a\\b", "a\0b", "a\nb", "a\tb",
    None, 3,
])  # fmt: skip
def test_target_names_follow_the_stated_rule(name) -> None:
    from tfselect.audio.stem_files import TARGET_NAME_RULE, check_target_name, is_target_name
    from tfselect.errors import DatasetError

    assert "1 to 200 bytes" in TARGET_NAME_RULE
    assert is_target_name(name) == _name_rule(name)
    if isinstance(name, str) and not _name_rule(name):
        with pytest.raises(DatasetError) as info:
            check_target_name(name, Path("/d/meta.json"))
        assert str(info.value) == (f"/d/meta.json: {name!r} cannot name a target "
                                   f"({TARGET_NAME_RULE})")  # fmt: skip
    elif isinstance(name, str):
        assert check_target_name(name, Path("/d/meta.json")) == name


def _exact_track(root: Path, name: str, mix_of) -> tuple:
    """Two stems on a 1/1024 grid (their float32 sum is exact) and a shipped mixture
    ``mix_of(stem_sum)``; returns the track and the three (2, N) arrays written."""
    rng = np.random.default_rng(13)
    folder = root / "train" / name
    stems = [
        _write(folder / f"{s}.wav", (rng.integers(-99, 100, (N, 2)) / 1024).astype(np.float32))
        for s in ("vocals", "guitar")
    ]
    mix = _write(folder / "mixture.wav", np.asarray(mix_of(stems[0] + stems[1]), np.float32).T)
    (track,) = [t for t in discover(root) if t.name == name]
    return track, stems, mix


def test_shipped_mixture_is_checked_on_the_segment_read(tmp_path: Path, caplog) -> None:
    """The check compares the segment read (offset and length) with the same segment of the
    stems; a mixture equal to its stems says nothing and computes no log of zero; an all-zero
    mixture is not compared (no level relative to silence), a faint one is (its energy in
    float64: 1e-23 squared underflows in float32); the warning names the samples."""
    import warnings

    off, n = 100, 300
    exact, _, _ = _exact_track(tmp_path, "exact", lambda s: s)
    silent, _, _ = _exact_track(tmp_path, "silent", np.zeros_like)
    loud = _exact_track(tmp_path, "loud", lambda s: s * 1.01)  # -40 dB
    faint = _exact_track(tmp_path, "faint", lambda s: np.full_like(s, 1e-23))
    with caplog.at_level(logging.WARNING, logger="tfselect.audio.stem_files"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a log10(0) would be a RuntimeWarning
            for track in (exact, silent):
                got = read_segment(track, ("mixture", "vocals"), off, n)["mixture"]
            np.testing.assert_array_equal(got, np.zeros((2, n), np.float32))
            assert caplog.records == []
            for track, _, _ in (loud, faint):
                read_segment(track, ("mixture",), off, n)
    seg = slice(off, off + n)
    expected = []
    for track, stems, mix in (loud, faint):
        res = mix[:, seg].astype(np.float64) - stems[0][:, seg] - stems[1][:, seg]
        level = 10 * math.log10(np.sum(res**2) / np.sum(mix[:, seg].astype(np.float64) ** 2))
        expected.append(
            f"{track.mixture[0]}: the mixture differs from the sum of the stems by {level:.1f} "
            f"dB (relative to the mixture, samples {off}-{off + n}): that residual counts as "
            "the rest of the mixture"
        )
    assert [r.getMessage() for r in caplog.records] == expected


def test_targets_of_a_one_track_dataset_and_errors_naming_its_root(tmp_path: Path) -> None:
    from tfselect.audio.targets import check_target, dataset_targets
    from tfselect.errors import DatasetError, TfselectError

    rng = np.random.default_rng(14)
    for s in ("vocals", "guitar"):
        _write(tmp_path / "train" / "only" / f"{s}.wav", _noise(rng, 8))
    assert dataset_targets(tmp_path) == ("vocals", "guitar")
    tmap = TargetMap.from_dict({"voice": "vocals"}, "map.toml")
    assert dataset_targets(tmp_path, tmap) == ("voice",)
    check_target(tmp_path, "voice", tmap)
    with pytest.raises(TfselectError) as info:
        check_target(tmp_path, "guitar", tmap)
    assert str(info.value) == f"unknown target 'guitar': the dataset at {tmp_path} has voice"
    bad = TargetMap.from_dict({"keys": "piano"}, "map.toml")
    for call in (dataset_targets, target_table):
        with pytest.raises(DatasetError) as info:
            call(tmp_path, bad)
        assert str(info.value) == ("map.toml: targets.keys names stem 'piano', which no track "
                                   f"of {tmp_path} has (stems: vocals, guitar)")  # fmt: skip


def test_targets_table_measures_a_faint_mixture_in_float64(tmp_path: Path) -> None:
    """A shipped mixture one float32 step above its only stem (1e-23): a residual of about
    -145 dB is rounding. The floor is measured in float64; in float32 the mixture's squares
    underflow to a floor of 0 and the step would count as a residual."""
    faint = np.full((N, 2), 1e-23, np.float32)
    _write(tmp_path / "train" / "a" / "vocals.wav", faint)
    _write(tmp_path / "train" / "a" / "mixture.wav", np.nextafter(faint, np.float32(1)))
    _write(tmp_path / "test" / "t" / "vocals.wav", np.zeros((N, 2), np.float32))
    assert np.sum(np.square(faint)) == 0.0  # what float32 would measure
    a = float(faint[0, 0])
    step = float(np.nextafter(faint[0, 0], np.float32(1))) - a
    assert 10 * math.log10(step**2 / a**2) < -100.0  # rounding by the table's own rule
    assert list(target_table(tmp_path)["target"]) == ["vocals"]


def test_targets_table_of_a_stem_no_track_renders_and_of_a_silent_one(tmp_path: Path) -> None:
    """MoisesDB metadata may list a stem without files: present in no track, its row says 0
    tracks and a median of 0; a silent stem file is present but not active."""
    rng = np.random.default_rng(15)
    for name, vocals in (("t0", _noise(rng)), ("t1", np.zeros((N, 2), np.float32))):
        _write(tmp_path / name / "vocals" / f"{name}-v.wav", vocals)
        meta = {"stems": [{"stemName": "vocals", "tracks": [{"id": f"{name}-v"}]},
                          {"stemName": "piano", "tracks": []}]}  # fmt: skip
        (tmp_path / name / "data.json").write_text(json.dumps(meta))
    df = target_table(tmp_path)
    assert df.attrs == {"layout": "moisesdb", "tracks": 2}
    assert df.to_dict("list") == {
        "target": ["vocals", "piano"],
        "present": [2, 0],
        "active": [1, 0],
        "median_active_fraction": [0.5, 0.0],
    }


def test_targets_table_of_a_musdb_root(tmp_path: Path, wav_track) -> None:
    """MUSDB tracks have no stem table: every target is present (here: noise, active)."""
    wav_track(tmp_path, "train", "Song", seconds=0.1)
    df = target_table(tmp_path)
    assert df.attrs == {"layout": "musdb", "tracks": 1}
    assert df.to_dict("list") == {"target": ["vocals", "drums", "bass", "other"],
                                  "present": [1] * 4, "active": [1] * 4,
                                  "median_active_fraction": [1.0] * 4}  # fmt: skip


def test_every_source_read_is_float32_an_absent_stem_too(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    for s in ("vocals", "guitar"):
        _write(tmp_path / "train" / "a" / f"{s}.wav", _noise(rng, 8))
    _write(tmp_path / "train" / "b" / "vocals.wav", _noise(rng, 8))
    b = discover(tmp_path)[1]
    assert dict(b.stems)["guitar"] == ()
    got = read_segment(b, None, 2, 5)
    assert {s: (a.dtype, a.shape) for s, a in got.items()} == {
        s: (np.dtype(np.float32), (2, 5)) for s in ("mixture", "vocals", "guitar")
    }
    np.testing.assert_array_equal(got["guitar"], 0.0)


def test_hidden_track_folders_are_skipped_and_missing_files_named(tmp_path: Path) -> None:
    from tfselect.audio.stem_files import track_length
    from tfselect.audio.track import Track
    from tfselect.errors import DatasetError

    rng = np.random.default_rng(17)
    for name in ("b", ".trash", "a"):
        _write(tmp_path / "train" / name / "vocals.wav", _noise(rng, 8))
    tracks = discover(tmp_path)
    assert [t.name for t in tracks] == ["a", "b"]
    (tmp_path / "train" / "b" / "vocals.wav").unlink()  # gone after discovery
    with pytest.raises(DatasetError) as info:
        track_length(tracks[1])
    gone = tmp_path / "train" / "b" / "vocals.wav"
    assert str(info.value) == f"{gone}: missing stem file of track 'b'"
    empty = Track("e", "train", tmp_path / "e", stems=(("vocals", ()),))
    with pytest.raises(DatasetError) as info:
        track_length(empty)
    assert str(info.value) == f"{tmp_path / 'e'}: track 'e' has no audio file"
