"""Demo corpus: layout, determinism, mixture = sum of stems, and stems that differ like real ones.

The stem checks compute simple features with numpy/scipy (independently of tfselect):
the power-weighted spectral centroid, the share of power above 5 kHz (broadband-ness) and
an onset rate from peaks of the log-magnitude spectral flux.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal
from typer.testing import CliRunner

from tfselect.audio.dataset import SOURCES, discover, load_track
from tfselect.audio.demo import META_FILE, write_demo_corpus
from tfselect.audio.synthesis import synthesize_track
from tfselect.cli import app
from tfselect.errors import TfselectError

SR = 44100


# ----------------------------------------------------------------------------- features


def _stft(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude STFT of the channel mean: (freqs (F,), |X| (F, frames))."""
    f, _, spec = signal.stft(
        x.mean(axis=0), SR, nperseg=n_fft, noverlap=n_fft - hop, boundary=None, padded=False
    )
    return f, np.abs(spec)


def centroid_hz(x: np.ndarray) -> float:
    f, mag = _stft(x)
    power = mag**2
    return float((f[:, None] * power).sum() / power.sum())


def high_share(x: np.ndarray, above_hz: float = 5000.0) -> float:
    f, mag = _stft(x)
    power = mag**2
    return float(power[f > above_hz].sum() / power.sum())


def onset_times(x: np.ndarray, hop: int = 512) -> np.ndarray:
    """Onsets (s): peaks of the half-wave rectified log-magnitude flux above a local median.

    A 4096-sample window resolves the harmonics of 40 Hz bass notes, so their beating does
    not masquerade as onsets.
    """
    _, mag = _stft(x, n_fft=4096, hop=hop)
    logmag = np.log1p(100.0 * mag / mag.max())
    flux = np.maximum(np.diff(logmag, axis=1), 0.0).sum(axis=0)
    threshold = signal.medfilt(flux, 9) + 0.15 * np.percentile(flux, 99)
    peaks, _ = signal.find_peaks(flux, height=threshold, distance=int(0.05 * SR / hop))
    # Frame k+1 of the flux is centred at (k+1)*hop; the onset lies about half a window before.
    return (peaks + 1) * hop / SR


def onset_rate(x: np.ndarray) -> float:
    return len(onset_times(x)) / (x.shape[-1] / SR)


# ----------------------------------------------------------------------------- corpus


def test_layout_and_format(demo_root: Path) -> None:
    tracks = discover(demo_root)
    assert [t.subset for t in tracks] == ["train"] * 4 + ["test"]
    meta = json.loads((demo_root / META_FILE).read_text())
    assert [m["name"] for m in meta["tracks"]] == [t.name for t in tracks]
    for track in tracks:
        assert track.name.startswith("Demo ") and track.name.endswith(" bpm")
        for source in SOURCES:
            info = sf.info(str(track.path / f"{source}.wav"))
            assert (info.samplerate, info.channels, info.frames) == (SR, 2, 8 * SR)
            assert info.subtype == "PCM_16"
    total = sum(p.stat().st_size for p in demo_root.rglob("*.wav"))
    assert total < 5 * 8 * 0.9e6  # about 0.88 MB per second of track (16-bit)


def test_mixture_is_sum_of_stems(demo_root: Path) -> None:
    for track in discover(demo_root):
        audio = load_track(track)
        stems = sum(audio[t].astype(np.float64) for t in ("vocals", "drums", "bass", "other"))
        assert np.max(np.abs(stems - audio["mixture"])) <= 1e-6
        assert 0.5 < np.max(np.abs(audio["mixture"])) < 1.0  # loud but never clipping


def _wav_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.wav"))}


def test_deterministic_for_a_seed(tmp_path: Path, demo_root: Path) -> None:
    a = write_demo_corpus(tmp_path / "a", tracks=1, seconds=8.0, seed=0, test_tracks=0)
    b = write_demo_corpus(tmp_path / "b", tracks=1, seconds=8.0, seed=0, test_tracks=0)
    files = _wav_bytes(a)
    assert len(files) == 5 and files == _wav_bytes(b)  # bitwise
    # A track does not depend on how many others are written: Demo 00 of the shared corpus.
    shared = _wav_bytes(demo_root)
    assert all(shared[name] == data for name, data in files.items())
    c = write_demo_corpus(tmp_path / "c", tracks=1, seconds=8.0, seed=1, test_tracks=0)
    other = {p.name: p.read_bytes() for p in c.rglob("vocals.wav")}
    assert list(other.values()) != [v for k, v in files.items() if k.endswith("vocals.wav")]


def test_pcm16_mixture_is_exact_sum(tmp_path: Path) -> None:
    root = write_demo_corpus(tmp_path / "pcm", tracks=1, seconds=2.0, seed=2, subtype="PCM_16")
    for track in discover(root):
        assert sf.info(str(track.path / "mixture.wav")).subtype == "PCM_16"
        audio = load_track(track)
        stems = sum(audio[t].astype(np.float64) for t in ("vocals", "drums", "bass", "other"))
        np.testing.assert_array_equal(stems, audio["mixture"])  # exact, not just close


# ----------------------------------------------------------------------------- stems


@pytest.fixture(scope="module")
def features(demo_root: Path) -> list[dict[str, dict[str, float]]]:
    rows = []
    for track in discover(demo_root):
        audio = load_track(track)
        rows.append({
            name: {"centroid": centroid_hz(x), "high": high_share(x), "rate": onset_rate(x)}
            for name, x in audio.items() if name != "mixture"
        })  # fmt: skip
    return rows


def test_spectral_centroids_order_the_stems(features) -> None:
    for row in features:
        c = {name: f["centroid"] for name, f in row.items()}
        assert c["bass"] < 250.0, c  # low notes, 41-200 Hz fundamentals
        assert 200.0 < c["other"] < 700.0, c  # mid-range chords and arpeggios
        assert 450.0 < c["vocals"] < 3000.0, c  # voice harmonics, formants, consonants
        assert c["drums"] > 3000.0, c  # hats, snare noise, clicks
        assert c["bass"] * 1.8 < c["other"] and c["other"] * 1.3 < c["vocals"], c


def test_drums_are_broadband_and_densest_in_onsets(features) -> None:
    for row in features:
        assert row["drums"]["high"] > 0.2, row
        assert all(row[s]["high"] < 0.1 for s in ("vocals", "bass", "other")), row
        rate = {name: f["rate"] for name, f in row.items()}
        assert rate["drums"] > 4.0, rate  # 16th-note hats at 90-140 bpm: 6-9 per second
        assert rate["drums"] > 1.4 * max(rate[s] for s in ("vocals", "bass", "other")), rate
        assert 0.2 < rate["bass"] < 3.0 and 0.2 < rate["vocals"] < 3.0, rate


def test_drum_onsets_sit_on_the_tempo_grid(demo_root: Path) -> None:
    for track in discover(demo_root):
        bpm = int(track.name.split()[-2])
        step = 60.0 / bpm / 4  # a 16th note
        drums = load_track(track, ("drums",))["drums"]
        times = onset_times(drums)
        # Onsets on a grid share one phase modulo the step (whatever the detector's latency):
        # the resultant length of their phase vectors is near 1 (random times: near 0).
        resultant = np.abs(np.mean(np.exp(2j * np.pi * times / step)))
        assert len(times) > 20 and resultant > 0.8, (track.name, resultant)
        # A grid of another tempo does not fit (the check can fail).
        assert np.abs(np.mean(np.exp(2j * np.pi * times / (step * 1.1)))) < 0.5


def test_vocals_have_phrases_and_silent_gaps(demo_root: Path) -> None:
    for track in discover(demo_root):
        v = load_track(track, ("vocals",))["vocals"]
        silent = np.all(v == 0.0, axis=0)  # exact digital silence
        assert 0.15 < silent.mean() < 0.85, silent.mean()
        edges = np.flatnonzero(np.diff(np.r_[0, silent.astype(np.int8), 0]))
        longest = np.max(edges[1::2] - edges[::2]) / SR
        assert longest > 0.5  # at least one real gap (the intro bar is silent)
        assert silent[: int(0.3 * SR)].all()


def test_bass_sustains_and_stems_are_panned(demo_root: Path) -> None:
    for track in discover(demo_root):
        audio = load_track(track)
        bass = audio["bass"]
        frames = bass[:, : bass.shape[1] // 1024 * 1024].reshape(2, -1, 1024)
        active = np.sqrt(np.mean(frames**2, axis=(0, 2))) > 1e-3
        assert active.mean() > 0.8  # sustained notes, not plucks
        for name in ("vocals", "drums", "bass", "other"):
            left, right = audio[name]
            assert not np.array_equal(left, right)  # panned, so not dual mono
            assert np.corrcoef(left, right)[0, 1] > 0.5 or name == "drums"


def test_synthesis_is_vectorised_fast_enough() -> None:
    import time

    t0 = time.process_time()
    name, audio = synthesize_track(0, 0, 4.0)
    assert time.process_time() - t0 < 3.0  # about 0.15 s on one core
    assert audio["mixture"].shape == (2, 4 * SR) and name.startswith("Demo 00 - ")


# ----------------------------------------------------------------------------- bad input


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TfselectError, match="at least 1"):
        write_demo_corpus(tmp_path / "a", tracks=0)
    with pytest.raises(TfselectError, match="1-600 seconds"):
        write_demo_corpus(tmp_path / "a", seconds=0.5)
    with pytest.raises(TfselectError, match="subtype 'MP3'"):
        write_demo_corpus(tmp_path / "a", subtype="MP3")
    (tmp_path / "f").write_text("x")
    with pytest.raises(TfselectError, match="not a folder"):
        write_demo_corpus(tmp_path / "f")


def test_cli_demo_data(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["demo-data", "--out", str(tmp_path / "d"), "--tracks", "1", "--seconds", "1.5",
            "--seed", "4", "--subtype", "pcm_16"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wrote 2 tracks" in result.stdout
    assert len(discover(tmp_path / "d")) == 2
    again = runner.invoke(app, args)  # refuses to mix two corpora in one folder
    assert again.exit_code == 2
    assert again.stderr.strip().splitlines() == [
        f"tfselect: error: {tmp_path / 'd' / 'train'} already exists: choose an empty --out "
        "folder or delete it first"
    ]


def test_the_demo_signal_is_pinned_to_its_version() -> None:
    """Any change to the synthesis changes this fingerprint; it must come with a new
    DEMO_VERSION (cached corpora are keyed on it) and a regenerated fingerprint."""
    from demo_fingerprint import FILE, fingerprint

    want, got = json.loads(FILE.read_text()), fingerprint()
    assert got["version"] == want["version"], (
        "DEMO_VERSION changed: regenerate with `python tests/demo_fingerprint.py`")
    for g, w in zip(got["songs"], want["songs"], strict=True):
        assert g["name"] == w["name"] and list(g["stems"]) == list(w["stems"])
        for stem, ref in w["stems"].items():
            where = f"{w['name']}/{stem}: the synthesis changed; bump DEMO_VERSION"
            np.testing.assert_allclose(g["stems"][stem]["energy"], ref["energy"],
                                       rtol=1e-7, atol=1e-9, err_msg=where)  # fmt: skip
            np.testing.assert_allclose(g["stems"][stem]["samples"], ref["samples"],
                                       rtol=1e-6, atol=1e-7, err_msg=where)  # fmt: skip


# ----------------------------------------------------------------------------- writing


def test_test_tracks_default_to_a_quarter_at_least_one(tmp_path: Path) -> None:
    for tracks, test_tracks in ((1, 1), (2, 1), (6, 2)):  # 6/4 = 1.5 rounds to 2
        out = write_demo_corpus(tmp_path / str(tracks), tracks=tracks, seconds=1.0)
        assert len(list((out / "test").iterdir())) == test_tracks
        assert len(list((out / "train").iterdir())) == tracks


def test_bad_sizes_and_a_used_folder_are_refused_by_name(tmp_path: Path) -> None:
    def refused(**kwargs) -> str:
        with pytest.raises(TfselectError) as err:
            write_demo_corpus(tmp_path / "c", **kwargs)
        return str(err.value)

    assert refused(test_tracks=-1) == "number of demo test tracks must be >= 0, got -1"
    assert refused(seconds=600.5) == "demo track duration must be 1-600 seconds, got 600.5"
    (tmp_path / "c" / "test").mkdir(parents=True)
    assert refused() == (f"{tmp_path / 'c' / 'test'} already exists: choose an empty --out "
                         "folder or delete it first")  # fmt: skip


@pytest.mark.parametrize("exists", [False, True])
def test_a_corpus_is_staged_beside_its_place_and_renamed(tmp_path: Path, monkeypatch,
                                                         exists: bool) -> None:
    """Tracks are written into a hidden ``.demo-partial-*`` folder inside ``out`` (when it
    exists: the user's folder stays where it is) or beside it, then moved into place."""
    from tfselect.audio import demo

    out = tmp_path / "a" / "b" / "corpus"  # parents made as needed
    if exists:
        out.mkdir(parents=True)
    staged: list[Path] = []
    real = demo._write_track

    def write(folder: Path, audio: dict, subtype: str) -> None:
        staged.append(folder.parent.parent)  # <stage>/<subset>/<track>
        real(folder, audio, subtype)

    monkeypatch.setattr(demo, "_write_track", write)
    assert write_demo_corpus(out, tracks=1, seconds=1.0) == out
    stage = staged[0]
    assert set(staged) == {stage} and stage.name.startswith(".demo-partial-")
    assert stage.parent == (out if exists else out.parent)
    assert not stage.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([META_FILE, "test", "train"])
    assert [p.name for p in out.parent.iterdir()] == ["corpus"]


def test_float_wavs_carry_no_peak_chunk(tmp_path: Path) -> None:
    """The float files hold no PEAK chunk (it records the write time, so two runs of the same
    seed would differ by bytes)."""
    out = write_demo_corpus(tmp_path / "c", tracks=1, test_tracks=0, seconds=1.0,
                            subtype="FLOAT")  # fmt: skip
    for wav in (out / "train").rglob("*.wav"):
        assert b"PEAK" not in wav.read_bytes()[:200], wav
