"""Datasets: discovery, exact loading, every bad input, splits, default root."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from tfselect.audio import dataset, demo
from tfselect.audio.dataset import (
    Track,
    discover,
    load_track,
    read_segment,
    resolve_root,
    split_train,
    track_length,
    tracks_for,
)
from tfselect.cli import app
from tfselect.errors import DatasetError, TfselectError

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- discovery


def test_discover_sorted_hq_layout(tmp_path: Path, wav_track) -> None:
    for name in ("B", "A"):
        wav_track(tmp_path, "train", name)
    wav_track(tmp_path, "test", "C")
    (tmp_path / "train" / ".hidden").mkdir()  # ignored, like .DS_Store folders
    (tmp_path / "README.txt").write_text("not a track")
    tracks = discover(tmp_path)
    assert [(t.name, t.subset) for t in tracks] == [("A", "train"), ("B", "train"), ("C", "test")]
    assert tracks[0].path == tmp_path / "train" / "A"
    assert not tracks[0].is_stem_file


def test_nonexistent_root_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="nowhere.*does not exist"):
        discover(missing)


def test_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file.wav"
    f.write_bytes(b"")
    with pytest.raises(DatasetError, match="file.wav is not a folder"):
        discover(f)


@pytest.mark.parametrize("layout", ["empty", "empty-subsets", "flat"])
def test_root_without_tracks(tmp_path: Path, wav_track, layout: str) -> None:
    if layout == "empty-subsets":
        (tmp_path / "train").mkdir()
        (tmp_path / "test").mkdir()
    elif layout == "flat":  # tracks directly under the root: not MUSDB layout
        wav_track(tmp_path, ".", "Song")
    with pytest.raises(DatasetError, match="holds no tracks") as err:
        discover(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_missing_stem_names_file(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song", overrides={"bass": {"missing": True}})
    with pytest.raises(DatasetError, match=r"Song/bass\.wav: missing stem 'bass'"):
        discover(tmp_path)
    # Also when a track object already exists and the file disappears later.
    track = Track("Song", "train", tmp_path / "train" / "Song")
    with pytest.raises(DatasetError, match=r"bass\.wav: missing stem"):
        load_track(track)


# ----------------------------------------------------------------------------- loading


def test_load_is_exact_float32(tmp_path: Path, wav_track) -> None:
    folder = wav_track(tmp_path, "train", "Song", seconds=0.5)
    (track,) = discover(tmp_path)
    audio = load_track(track)
    assert set(audio) == {"mixture", "vocals", "drums", "bass", "other"}
    for source, x in audio.items():
        ref, sr = sf.read(str(folder / f"{source}.wav"), dtype="float32")
        assert sr == 44100
        assert x.dtype == np.float32 and x.shape == (2, 22050) and x.flags.c_contiguous
        np.testing.assert_array_equal(x, ref.T)  # bit for bit
    part = load_track(track, ("vocals",), start=0.1, duration=0.2)
    np.testing.assert_array_equal(part["vocals"], audio["vocals"][:, 4410:13230])
    assert track_length(track) == 22050
    seg = read_segment(track, ("drums", "mixture"), offset=100, frames=7)
    np.testing.assert_array_equal(seg["drums"], audio["drums"][:, 100:107])


def test_different_lengths_name_file(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song", overrides={"drums": {"frames": 8000}})
    (track,) = discover(tmp_path)
    with pytest.raises(DatasetError, match=r"Song/drums\.wav: 8000 samples .* differ in length"):
        load_track(track)
    with pytest.raises(DatasetError, match="differ in length"):
        track_length(track)


def test_different_sample_rate_names_file(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song", overrides={"other": {"samplerate": 48000}})
    (track,) = discover(tmp_path)
    with pytest.raises(DatasetError, match=r"other\.wav: sample rate 48000 Hz, expected 44100"):
        load_track(track)


def test_mono_stem_is_duplicated_to_stereo(tmp_path: Path, wav_track) -> None:
    folder = wav_track(tmp_path, "train", "Song", overrides={"vocals": {"channels": 1}})
    (track,) = discover(tmp_path)
    audio = load_track(track)
    mono, _ = sf.read(str(folder / "vocals.wav"), dtype="float32")
    assert mono.ndim == 1
    assert audio["vocals"].shape == (2, mono.size)
    np.testing.assert_array_equal(audio["vocals"][0], mono)
    np.testing.assert_array_equal(audio["vocals"][1], mono)


def test_more_than_two_channels_rejected(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song", overrides={"bass": {"channels": 6}})
    (track,) = discover(tmp_path)
    with pytest.raises(DatasetError, match=r"bass\.wav: 6 channels, expected mono or stereo"):
        load_track(track)


def test_non_audio_file_names_file(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song", overrides={"vocals": {"text": "hello, not audio\n"}})
    (track,) = discover(tmp_path)
    with pytest.raises(DatasetError, match=r"Song/vocals\.wav: not a readable audio file"):
        load_track(track)


def test_segment_outside_track_and_unknown_source(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song", seconds=0.1)
    (track,) = discover(tmp_path)
    with pytest.raises(TfselectError, match="outside track 'Song'"):
        load_track(track, start=0.05, duration=0.1)
    with pytest.raises(TfselectError, match="unknown source 'voice'"):
        load_track(track, ("voice",))


def _falcon_root(root: Path) -> Path:
    """``root`` holding stempeg's bundled example as the train track Falcon.stem.mp4."""
    import stempeg

    (root / "train").mkdir()
    shutil.copy(stempeg.example_stem_path(), root / "train" / "Falcon.stem.mp4")
    return root


def test_stem_mp4_through_musdb(tmp_path: Path) -> None:
    """A MUSDB18 .stem.mp4 (stempeg's bundled example) is discovered and decoded."""
    _falcon_root(tmp_path)
    (tmp_path / "train" / "Broken.stem.mp4").write_text("not a stem file")
    tracks = discover(tmp_path)
    assert [t.name for t in tracks] == ["Broken", "Falcon"]
    broken, falcon = tracks
    assert falcon.is_stem_file and falcon.source_path("vocals") == falcon.path
    assert track_length(falcon) == 268288
    audio = load_track(falcon, start=1.0, duration=0.5)
    assert {k: v.shape for k, v in audio.items()} == {k: (2, 22050) for k in dataset.SOURCES}
    assert all(v.dtype == np.float32 for v in audio.values())
    assert np.std(audio["mixture"]) > 1e-3  # real music, not zeros
    with pytest.raises(DatasetError, match=r"Broken\.stem\.mp4: not a readable stem file"):
        load_track(broken)


def test_stem_mp4_segments_match_a_whole_decode(tmp_path: Path) -> None:
    """Every source of a segment (start, middle, the very end) equals the same samples of
    stempeg's decode of the whole file, to one 16-bit step: the seek, the length fix and
    the stream order are right."""
    import stempeg

    (falcon,) = discover(_falcon_root(tmp_path))
    whole = stempeg.read_stems(str(falcon.path), dtype=np.float32)[0]  # (5, samples, 2)
    n = whole.shape[1]
    for offset, frames in [(0, 4410), (44100, 22050), (n - 1000, 1000)]:
        got = dataset.read_segment(falcon, None, offset, frames)
        assert list(got) == list(dataset.SOURCES)
        for source, x in got.items():
            ref = whole[dataset.STEM_IDS[source], offset : offset + frames].T
            assert x.shape == (2, frames) and x.dtype == np.float32
            np.testing.assert_allclose(x, ref, rtol=0, atol=2.0**-15, err_msg=source)


class _FakeMultiTrack:
    """musdb's MultiTrack as _read_stem_file uses it: records how it was opened and the
    segment asked for, and decodes ``short`` samples fewer than asked (as a decoder that
    rounds its seek may)."""

    opened: list = []
    streams, short, fail, channels = 5, 3, None, 2

    def __init__(self, **kwargs) -> None:
        self.opened.append(kwargs)
        self.info = type("Info", (), {"nb_audio_streams": self.streams})()
        self.chunk_start = self.chunk_duration = None

    @property
    def stems(self) -> np.ndarray:
        if self.fail is not None:
            raise self.fail
        n = round(self.chunk_duration * 44100) - self.short
        start = round(self.chunk_start * 44100)
        ramp = (start + np.arange(n))[None, :, None] / 1e6  # sample k holds k/1e6
        return np.concatenate([ramp * (i + 1) for i in range(5)], 0).repeat(self.channels, 2)


def test_stem_file_reader_opens_seeks_and_fixes_the_length(tmp_path: Path,
                                                           monkeypatch) -> None:
    import musdb.audio_classes

    monkeypatch.setattr(musdb.audio_classes, "MultiTrack", _FakeMultiTrack)
    monkeypatch.setattr(_FakeMultiTrack, "opened", [])
    track = Track(name="Song", subset="test", path=tmp_path / "Song.stem.mp4")
    got = dataset._read_stem_file(track, ("vocals", "mixture"), 4410, 100)
    assert _FakeMultiTrack.opened == [{"path": str(track.path), "name": "Song", "subset": "test",
                                       "stem_id": 0, "is_wav": False}]  # fmt: skip
    want = (4410 + np.arange(97)) / 1e6
    for source, scale in (("vocals", 5), ("mixture", 1)):  # stream order of STEM_IDS
        x = got[source]
        assert x.shape == (2, 100) and x.dtype == np.float32
        np.testing.assert_allclose(x[:, :97], np.float32(scale * want)[None].repeat(2, 0))
        assert not x[:, 97:].any()  # padded at the end with silence
    monkeypatch.setattr(_FakeMultiTrack, "short", -2)  # a decoder giving more: cut
    x = dataset._read_stem_file(track, ("vocals",), 4410, 100)["vocals"]
    np.testing.assert_allclose(x, np.float32(5 * (4410 + np.arange(100)) / 1e6)[None].repeat(2, 0))
    monkeypatch.setattr(_FakeMultiTrack, "channels", 3)
    with pytest.raises(DatasetError, match=r"Song\.stem\.mp4: 3 channels, expected mono or stereo"):
        dataset._read_stem_file(track, ("vocals",), 0, 10)
    monkeypatch.setattr(_FakeMultiTrack, "channels", 2)
    monkeypatch.setattr(_FakeMultiTrack, "streams", 2)
    with pytest.raises(DatasetError) as err:
        dataset._read_stem_file(track, ("vocals",), 0, 10)
    assert str(err.value) == (f"{track.path}: 2 audio streams, a MUSDB18 stem file has 5 "
                              "(mixture, drums, bass, other, vocals)")  # fmt: skip
    monkeypatch.setattr(_FakeMultiTrack, "streams", 5)
    monkeypatch.setattr(_FakeMultiTrack, "fail", OSError("ffmpeg said no"))
    with pytest.raises(DatasetError) as err:
        dataset._read_stem_file(track, ("vocals",), 0, 10)
    assert str(err.value) == f"{track.path}: cannot decode stem file (ffmpeg said no)"


# ----------------------------------------------------------------------------- splits


def _touch_track(root: Path, subset: str, name: str) -> None:
    folder = root / subset / name
    folder.mkdir(parents=True)
    for source in dataset.SOURCES:
        (folder / f"{source}.wav").touch()  # discovery only looks at names


def test_valid_split_uses_musdb_names(tmp_path: Path) -> None:
    musdb_valid = ["Actions - One Minute Smile", "Leaf - Summerghost", "Triviul - Angelsaint"]
    for name in musdb_valid:
        assert name in dataset.musdb_validation_names()
    others = ["A Classic Education - NightOwl", "ANiMAL - Clinic A", "Zeno - Signs"]
    for name in musdb_valid + others:
        _touch_track(tmp_path, "train", name)
    _touch_track(tmp_path, "test", "Al James - Schoolboy Facination")
    valid = tracks_for(tmp_path, "valid", seed=1)
    train = tracks_for(tmp_path, "train", seed=1)
    assert [t.name for t in valid] == sorted(musdb_valid)
    assert [t.name for t in train] == sorted(others)
    assert tracks_for(tmp_path, "valid", seed=99) == valid  # musdb's list ignores the seed
    assert [t.name for t in tracks_for(tmp_path, "test")] == ["Al James - Schoolboy Facination"]


def test_seeded_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    names = [f"Song {i}" for i in range(8)]
    for name in names:
        _touch_track(tmp_path, "train", name)
    splits = {}
    for seed in range(6):
        train, valid = tracks_for(tmp_path, "train", seed), tracks_for(tmp_path, "valid", seed)
        assert len(valid) == 2  # ceil(8 / 7)
        assert {t.name for t in train}.isdisjoint({t.name for t in valid})
        assert sorted(t.name for t in train + valid) == names
        assert tracks_for(tmp_path, "valid", seed) == valid  # same seed, same split
        splits[seed] = tuple(t.name for t in valid)
    assert len(set(splits.values())) > 1  # the seed matters


def test_split_edge_cases(tmp_path: Path) -> None:
    tracks = [Track(f"T{i}", "train", tmp_path / f"T{i}") for i in range(2)]
    train, valid = split_train(tracks, seed=0)
    assert len(train) == 1 and len(valid) == 1
    assert split_train(tracks[:1], seed=0) == (tracks[:1], [])  # nothing to hold out
    with pytest.raises(TfselectError, match="unknown subset 'validation'"):
        tracks_for(tmp_path, "validation")


# ----------------------------------------------------------------------------- default root


def test_resolve_root_order(tmp_path: Path, isolated_env, monkeypatch) -> None:
    assert resolve_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("MUSDB_PATH", str(tmp_path / "musdb"))
    with pytest.raises(DatasetError, match=r"\$MUSDB_PATH=.*musdb does not exist"):
        resolve_root(None)
    (tmp_path / "musdb").mkdir()
    assert resolve_root(None) == tmp_path / "musdb"
    assert resolve_root(tmp_path / "x") == tmp_path / "x"  # --root wins over the environment


@pytest.fixture
def tiny_default_corpus(monkeypatch, isolated_env) -> Path:
    """Shrink the default demo corpus so building it in a test takes a fraction of a second."""
    monkeypatch.setattr(demo, "DEFAULT_TRACKS", 1)
    monkeypatch.setattr(demo, "DEFAULT_TEST_TRACKS", 1)
    monkeypatch.setattr(demo, "DEFAULT_SECONDS", 1.0)
    monkeypatch.setattr(dataset, "_announced", set())
    return isolated_env / f"demo-{demo.DEMO_VERSION}"


def test_default_root_is_cached_demo_said_once(tiny_default_corpus: Path, caplog) -> None:
    caplog.set_level("WARNING", logger="tfselect")
    root = resolve_root(None)
    assert root == tiny_default_corpus
    assert len(discover(root)) == 2
    said = caplog.text
    assert "building the demo corpus" in said
    assert ("tfselect: no --root and no $MUSDB_PATH: using the built-in demo corpus at "
            f"{root}") in caplog.messages  # fmt: skip
    caplog.clear()
    stamp = (root / demo.META_FILE).stat().st_mtime_ns
    assert resolve_root(None) == root
    assert caplog.text == ""  # said once, built once
    assert (root / demo.META_FILE).stat().st_mtime_ns == stamp


def test_default_root_build_is_atomic_under_races(tiny_default_corpus: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(demo.demo_root())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [tiny_default_corpus] * 3
    assert len(discover(tiny_default_corpus)) == 2
    # Losers cleaned up their temporary copies: only the corpus is left in the cache.
    assert [p.name for p in tiny_default_corpus.parent.iterdir()] == [tiny_default_corpus.name]


def test_cache_dir_is_the_variable_else_the_home_cache(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TFSELECT_CACHE", "~/elsewhere")
    assert demo.cache_dir() == tmp_path / "home" / "elsewhere"
    home_cache = tmp_path / "home" / ".cache" / "tfselect"
    monkeypatch.setenv("TFSELECT_CACHE", "  ")  # blank counts as unset
    assert demo.cache_dir() == home_cache
    monkeypatch.delenv("TFSELECT_CACHE")
    assert demo.cache_dir() == home_cache
    assert demo.demo_path() == home_cache / f"demo-{demo.DEMO_VERSION}"


def _recording_writer(monkeypatch, calls: list, before=None) -> None:
    """Replace the corpus writer by the real one at a tenth of the size, recording each call
    (folder, sizes asked for); ``before(folder)`` runs first, as another process would."""
    real = demo.write_demo_corpus

    def write(folder: Path, **sizes) -> None:
        calls.append((folder, sizes))
        if before is not None:
            before(folder)
        real(folder, tracks=1, seconds=1.0, test_tracks=1)

    monkeypatch.setattr(demo, "write_demo_corpus", write)


def test_default_corpus_is_written_beside_its_place_then_renamed(monkeypatch, tmp_path: Path,
                                                                 caplog) -> None:
    monkeypatch.setenv("TFSELECT_CACHE", str(tmp_path / "a" / "b"))  # parents made too
    calls: list = []
    _recording_writer(monkeypatch, calls)
    caplog.set_level("WARNING", logger="tfselect")
    final = demo.demo_path()
    assert demo.demo_root() == final
    ((folder, sizes),) = calls
    assert folder.parent == final.parent and folder.name.startswith(f".demo-{demo.DEMO_VERSION}-")
    assert sizes == {"tracks": demo.DEFAULT_TRACKS, "seconds": demo.DEFAULT_SECONDS,
                     "test_tracks": demo.DEFAULT_TEST_TRACKS}  # fmt: skip
    assert f"building the demo corpus in {final} (once)" in caplog.text
    assert (final.stat().st_mode & 0o777) == 0o755  # shared caches stay readable
    assert [p.name for p in final.parent.iterdir()] == [final.name]
    shutil.rmtree(final)  # the cache folder exists now: building again is no error
    assert demo.demo_root() == final and len(calls) == 2


def test_losing_the_race_keeps_the_winners_corpus(monkeypatch, isolated_env) -> None:
    final, real = demo.demo_path(), demo.write_demo_corpus

    def winner(_: Path) -> None:  # another process finishes first
        real(final, tracks=1, seconds=1.0, test_tracks=1)
        (final / "winner").touch()

    _recording_writer(monkeypatch, [], before=winner)
    assert demo.demo_root() == final
    assert (final / "winner").is_file()  # the winner's corpus, not ours
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # our copy is gone


def test_a_folder_in_the_way_is_one_clear_error(monkeypatch, isolated_env) -> None:
    final = demo.demo_path()
    final.mkdir(parents=True)
    (final / "notes.txt").write_text("mine")
    _recording_writer(monkeypatch, [])
    with pytest.raises(TfselectError, match=r"demo-.* exists but is not a complete demo "
                                            r"corpus: delete it"):  # fmt: skip
        demo.demo_root()
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # no copy left behind
    assert [p.name for p in final.iterdir()] == ["notes.txt"]  # and the user's file kept


# ----------------------------------------------------------------------------- CLI


def _bad_roots(tmp_path: Path, wav_track) -> dict[str, tuple[Path, str]]:
    """Each bad input -> (root, text the one error line must contain)."""
    cases = {}
    cases["nonexistent"] = (tmp_path / "missing", "missing does not exist")
    (tmp_path / "empty").mkdir()
    cases["no-tracks"] = (tmp_path / "empty", "holds no tracks")
    for case, overrides, text in [
        ("missing-stem", {"bass": {"missing": True}}, "bass.wav: missing stem"),
        ("lengths", {"drums": {"frames": 40000}}, "drums.wav: 40000 samples"),
        ("rates", {"other": {"samplerate": 22050}}, "other.wav: sample rate 22050 Hz"),
        ("not-audio", {"vocals": {"text": "{}"}}, "vocals.wav: not a readable audio file"),
    ]:
        root = tmp_path / case
        for name in ("A", "B"):  # two train tracks so the valid subset is not empty
            wav_track(root, "train", name, seconds=1.0, overrides=overrides)
        cases[case] = (root, text)
    return cases


def test_cli_bad_inputs_one_line_exit_2(tmp_path: Path, wav_track) -> None:
    runner = CliRunner()
    for case, (root, text) in _bad_roots(tmp_path, wav_track).items():
        result = runner.invoke(
            app,
            ["score", "--target", "vocals", "--transform", "stft:n_fft=1024,hop=256",
             "--root", str(root), "--seconds", "0.5", "--clips", "1", "--metrics", "gini"],
        )  # fmt: skip
        assert result.exit_code == 2, (case, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (case, result.stderr)
        assert lines[0].startswith("tfselect: error: ") and text in lines[0], (case, lines)
        assert "Traceback" not in result.output


def test_cli_subprocess_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tfselect", "score", "--target", "vocals", "--transform",
         "stft:n_fft=1024,hop=256", "--root", str(tmp_path / "nope")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"tfselect: error: dataset root {tmp_path / 'nope'} does not exist"
    ]
