"""Clip sampling: determinism, exactness, whole tracks, silent-target skipping, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfselect.audio.clips import is_silent, sample_clips
from tfselect.audio.dataset import read_segment, track_length, tracks_for
from tfselect.errors import DatasetError, TfselectError

SR = 44100


def _same(a, b) -> bool:
    return (
        a.track == b.track and a.start == b.start and a.length == b.length
        and np.array_equal(a.mixture, b.mixture)
        and all(np.array_equal(a.stems[t], b.stems[t]) for t in a.stems)
    )  # fmt: skip


def test_clips_are_deterministic_for_a_seed(demo_root: Path) -> None:
    a = sample_clips(demo_root, "train", n_clips=3, seconds=1.5, seed=7)
    b = sample_clips(demo_root, "train", n_clips=3, seconds=1.5, seed=7)
    assert len(a) == 3 * len(tracks_for(demo_root, "train"))
    assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    c = sample_clips(demo_root, "train", n_clips=3, seconds=1.5, seed=8)
    assert [x.start for x in a] != [x.start for x in c]


def test_clip_content_is_the_exact_segment(demo_root: Path) -> None:
    clips = sample_clips(demo_root, "train", n_clips=2, seconds=1.0, seed=3)
    tracks = {t.name: t for t in tracks_for(demo_root, "train")}
    for clip in clips:
        assert clip.length == SR and clip.seconds == pytest.approx(1.0)
        assert set(clip.stems) == {"vocals", "drums", "bass", "other"}
        track = tracks[clip.track]
        assert 0 <= clip.start <= track_length(track) - clip.length
        ref = read_segment(track, offset=clip.start, frames=clip.length)
        np.testing.assert_array_equal(clip.mixture, ref["mixture"])
        for name, x in clip.stems.items():
            assert x.shape == (2, SR) and x.dtype == np.float32
            np.testing.assert_array_equal(x, ref[name])


def test_clips_of_a_track_do_not_depend_on_other_tracks(demo_root: Path) -> None:
    everything = sample_clips(demo_root, "train", n_clips=2, seconds=1.0, seed=5)
    first = sample_clips(demo_root, "train", n_clips=2, seconds=1.0, seed=5, max_tracks=1)
    assert len(first) == 2 and {c.track for c in first} == {everything[0].track}
    assert all(_same(x, y) for x, y in zip(first, everything[:2], strict=True))


def test_zero_seconds_means_whole_tracks(demo_root: Path) -> None:
    clips = sample_clips(demo_root, "test", n_clips=5, seconds=0)
    tracks = tracks_for(demo_root, "test")
    assert [c.track for c in clips] == [t.name for t in tracks]  # one clip per track
    for clip, track in zip(clips, tracks, strict=True):
        assert clip.start == 0 and clip.length == track_length(track)


def test_clips_longer_than_a_track(demo_root: Path) -> None:
    with pytest.raises(TfselectError, match=r"clips of 9 s are longer than track 'Demo"):
        sample_clips(demo_root, "valid", seconds=9.0)


def test_skip_silent_avoids_silent_targets(demo_root: Path) -> None:
    # Demo vocals have a silent intro and gaps between phrases: short clips often miss them.
    kwargs = dict(subset="train", n_clips=12, seconds=0.5, seed=0, target="vocals")
    plain = sample_clips(demo_root, **kwargs)
    silent = [c for c in plain if is_silent(c.stems["vocals"], c.mixture)]
    assert silent, "the demo corpus should have silent vocal sections"
    kept = sample_clips(demo_root, skip_silent=True, **kwargs)
    assert len(kept) == len(plain)  # redrawn, not dropped: vocals are audible often enough
    assert not any(is_silent(c.stems["vocals"], c.mixture) for c in kept)
    again = sample_clips(demo_root, skip_silent=True, **kwargs)
    assert all(_same(x, y) for x, y in zip(kept, again, strict=True))


def test_skip_silent_everywhere_silent(tmp_path: Path, wav_track) -> None:
    for name in ("A", "B", "C"):
        wav_track(tmp_path, "train", name, seconds=0.5, overrides={"bass": {"silent": True}})
    assert len(sample_clips(tmp_path, "train", seconds=0.1, target="bass")) == 4
    with pytest.raises(DatasetError, match="has an audible bass"):
        sample_clips(tmp_path, "train", seconds=0.1, target="bass", skip_silent=True)
    with pytest.raises(DatasetError, match="has an audible bass"):
        sample_clips(tmp_path, "train", seconds=0, target="bass", skip_silent=True)
    assert len(sample_clips(tmp_path, "train", seconds=0.1, target="drums", skip_silent=True)) == 4


def test_empty_subset_and_bad_arguments(tmp_path: Path, wav_track, demo_root: Path) -> None:
    wav_track(tmp_path, "train", "Only", seconds=0.5)
    with pytest.raises(DatasetError, match="subset 'valid' .* holds no tracks"):
        sample_clips(tmp_path, "valid", seconds=0.1)
    with pytest.raises(DatasetError, match="subset 'test' .* holds no tracks"):
        sample_clips(tmp_path, "test", seconds=0.1)
    for kwargs, text in [
        ({"n_clips": 0}, "number of clips"),
        ({"seconds": -1.0}, "clip duration"),
        ({"target": "piano"}, "unknown target 'piano'"),
        ({"skip_silent": True}, "needs a target"),
        ({"max_tracks": 0}, "max_tracks"),
        ({"subset": "dev"}, "unknown subset 'dev'"),
    ]:
        with pytest.raises(TfselectError, match=text):
            sample_clips(demo_root, **{"seconds": 1.0, **kwargs})


def test_is_silent() -> None:
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 1000))
    assert is_silent(np.zeros((2, 1000)))
    assert is_silent(np.zeros((2, 1000)), ref)
    assert is_silent(ref * 10 ** (-70 / 20), ref)  # -70 dB below the mixture
    assert not is_silent(ref * 10 ** (-50 / 20), ref)
    assert not is_silent(ref * 1e-3, ref, threshold_db=-80.0)
    assert not is_silent(ref, np.zeros_like(ref))  # a sound against a silent reference
    assert is_silent(np.full(100, 1e-4))  # -80 dBFS
    assert not is_silent(np.full(100, 0.1))  # -20 dBFS
    # the edges: an energy of exactly 1, one sample just on the level, a quiet mixture
    assert not is_silent(np.array([[1.0, 0.0]]))  # -3 dBFS
    assert not is_silent(np.array([1e-3]), threshold_db=-61.0)  # -60 dBFS, one sample
    quiet = 0.01 * ref
    assert not is_silent(quiet * 10 ** (-50 / 20), quiet)  # relative to the mixture's energy
    # PCM integers are measured in float64, as floats are (their squares overflow int16)
    pcm = np.clip(20000 * ref, -32767, 32767).astype(np.int16)
    assert not is_silent((pcm // 100).astype(np.int16), pcm, threshold_db=-41.0)  # -40 dB
    assert is_silent((pcm // 100).astype(np.int16), pcm, threshold_db=-39.0)


def test_clips_fixture(clips) -> None:
    got = clips()
    assert got is clips()  # memoised
    assert len(got) == 1 and got[0].length == 4 * SR


def test_a_clip_shorter_than_one_sample_is_refused(demo_root: Path) -> None:
    # rounding 1e-6 s to 0 samples must not silently mean "whole tracks"
    with pytest.raises(TfselectError, match="shorter than one sample"):
        sample_clips(demo_root, subset="valid", n_clips=1, seconds=1e-6)


# ----------------------------------------------------------------------------- edges


def test_defaults_are_ten_seconds_with_seed_zero(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Long", seconds=10.5)
    (clip,) = sample_clips(tmp_path, "train", n_clips=1)
    assert clip.length == 441000 and clip.mixture.shape == (2, 441000)
    (same,) = sample_clips(tmp_path, "train", n_clips=1, seconds=10.0, seed=0)
    assert same.start == clip.start
    starts = {sample_clips(tmp_path, "train", n_clips=1, seed=s)[0].start for s in range(1, 6)}
    assert starts - {clip.start}  # another seed, other starts


def test_one_sample_clips_are_allowed(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "A")
    clips = sample_clips(tmp_path, "train", n_clips=3, seconds=1 / 44100)
    assert [c.mixture.shape for c in clips] == [(2, 1)] * 3


def test_track_seed_reads_a_non_utf8_name_by_its_bytes() -> None:
    import zlib

    from tfselect.audio.clips import _track_rng

    name = b"Caf\xe9".decode("utf-8", "surrogateescape")  # a Latin-1 folder name
    want = np.random.default_rng([7, zlib.crc32(b"Caf\xe9")]).integers(1 << 30)
    assert _track_rng(7, name).integers(1 << 30) == want


def test_silence_is_measured_against_the_mixture_at_the_threshold_given(tmp_path: Path,
                                                                         wav_track,
                                                                         caplog) -> None:
    """Whole tracks and clips alike measure the target against its own (here quiet) mixture,
    with the threshold given: -30 dB vocals pass at -40, not at -20; absolute levels do not
    count."""
    import soundfile as sf

    for name in ("A", "B"):
        folder = wav_track(tmp_path, "test", name, seconds=0.2, seed=ord(name))
        stems = {s: sf.read(str(folder / f"{s}.wav"), dtype="float32")[0] * 1e-3
                 for s in ("drums", "bass", "other")}  # fmt: skip
        stems["vocals"] = stems["drums"] * 10 ** (-30 / 20)  # about -100 dBFS
        for s, x in stems.items():
            sf.write(str(folder / f"{s}.wav"), x, 44100, subtype="FLOAT")
        sf.write(str(folder / "mixture.wav"), sum(stems.values()), 44100, subtype="FLOAT")
    caplog.set_level("INFO", logger="tfselect")
    kept = sample_clips(tmp_path, "test", seconds=0, target="vocals", skip_silent=True,
                        silence_db=-40.0)  # fmt: skip
    assert [c.track for c in kept] == ["A", "B"]
    with pytest.raises(DatasetError):
        sample_clips(tmp_path, "test", seconds=0, target="vocals", skip_silent=True,
                     silence_db=-20.0)  # fmt: skip
    assert "skipping track A: vocals is silent" in caplog.messages
    assert "skipping track B: vocals is silent" in caplog.messages
    # clips, measured the same way
    assert len(sample_clips(tmp_path, "test", n_clips=2, seconds=0.05, target="vocals",
                            skip_silent=True, silence_db=-40.0)) == 4  # fmt: skip
    with pytest.raises(DatasetError, match="all below -20 dB relative to the mixture"):
        sample_clips(tmp_path, "test", n_clips=2, seconds=0.05, target="vocals",
                     skip_silent=True, silence_db=-20.0)  # fmt: skip


def test_bad_targets_are_named(tmp_path: Path, wav_track) -> None:
    from tfselect.audio.targets import TargetMap

    wav_track(tmp_path, "train", "A")
    with pytest.raises(TfselectError) as err:
        sample_clips(tmp_path, "train", skip_silent=True)
    assert str(err.value) == "skipping silent clips needs a target"
    with pytest.raises(TfselectError) as err:  # the targets after the map are listed
        sample_clips(tmp_path, "train", seconds=0.1, target="vocals",
                     target_map=TargetMap.from_dict({"voice": "vocals"}))  # fmt: skip
    assert str(err.value) == f"unknown target 'vocals': the dataset at {tmp_path} has voice"


def test_clip_starts_cover_every_position_and_no_more(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "test", "A", seconds=0.1)
    (track,) = tracks_for(tmp_path, "test")
    total = track_length(track)
    starts = {sample_clips(tmp_path, "test", n_clips=1, seconds=(total - 1) / 44100,
                           seed=s)[0].start for s in range(24)}  # fmt: skip
    assert starts == {0, 1}  # two positions, each drawn
    (whole,) = sample_clips(tmp_path, "test", n_clips=1, seconds=total / 44100)
    assert whole.start == 0 and whole.length == total  # a clip may be the whole track
    with pytest.raises(TfselectError) as err:
        sample_clips(tmp_path, "test", n_clips=1, seconds=(total + 1) / 44100)
    assert str(err.value) == (f"clips of {(total + 1) / 44100:g} s are longer than track 'A' "
                              "(0.10 s): choose a shorter duration, or 0 for whole tracks")


def test_a_track_without_audible_clips_is_logged_and_others_kept(tmp_path: Path, wav_track,
                                                                 caplog) -> None:
    wav_track(tmp_path, "test", "A", overrides={"vocals": {"silent": True}})
    wav_track(tmp_path, "test", "B", seed=1)
    caplog.set_level("INFO", logger="tfselect")
    clips = sample_clips(tmp_path, "test", n_clips=2, seconds=0.05, target="vocals",
                         skip_silent=True)  # fmt: skip
    assert [c.track for c in clips] == ["B", "B"]
    assert [m for m in caplog.messages if "clips have audible" in m] == [
        "track A: 0 of 2 clips have audible vocals"]  # B found all: nothing said of it
