"""Dataset layouts beyond MUSDB: generic stem folders, MoisesDB, Slakh2100, target maps.

Every tree is written by the tests (tiny float32 noise files); references are numpy sums of
the very arrays written, so reading, summing and regrouping are checked sample by sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from tfselect.audio.clips import sample_clips
from tfselect.audio.dataset import discover, read_segment, track_length, tracks_for
from tfselect.audio.layouts import detect_layout
from tfselect.audio.targets import (
    TargetMap,
    activity,
    check_target,
    dataset_targets,
    load_target_map,
    target_table,
)
from tfselect.cli import app
from tfselect.errors import DatasetError, TfselectError

SR = 44100
SIX = ("vocals", "drums", "bass", "guitar", "piano", "strings")


def _noise(rng: np.random.Generator, n: int, silent_from: int | None = None) -> np.ndarray:
    x = (0.05 * rng.standard_normal((n, 2))).astype(np.float32)
    if silent_from is not None:
        x[silent_from:] = 0.0
    return x


def _write(path: Path, x: np.ndarray, rate: int = SR) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = "FLAC" if path.suffix == ".flac" else "WAV"
    sf.write(str(path), x, rate, subtype="PCM_24" if fmt == "FLAC" else "FLOAT", format=fmt)
    return sf.read(str(path), dtype="float32", always_2d=True)[0]  # what a reader gets back


def stem_folders(root: Path, tracks=(("train", "a"), ("train", "b"), ("train", "c"),
                                     ("test", "d")), n: int = SR, seed: int = 0) -> dict:
    """Six stems, no mixture; track 'b' has no strings, piano is silent after 0.5 s in 'a'."""
    rng = np.random.default_rng(seed)
    written = {}
    for subset, name in tracks:
        stems = {}
        for stem in SIX:
            if name == "b" and stem == "strings":
                continue
            silent = n // 2 if (name == "a" and stem == "piano") else None
            stems[stem] = _write(root / subset / name / f"{stem}.wav", _noise(rng, n, silent))
        written[name] = stems
    return written


def _sum(arrays) -> np.ndarray:
    return np.sum([a.astype(np.float64) for a in arrays], axis=0).astype(np.float32).T


# ----------------------------------------------------------------------------- generic


def test_stem_folders_six_stems_without_mixture(tmp_path: Path) -> None:
    written = stem_folders(tmp_path)
    assert detect_layout(tmp_path).name == "stem-folders"
    tracks = discover(tmp_path)
    assert [(t.name, t.subset) for t in tracks] == [
        ("a", "train"), ("b", "train"), ("c", "train"), ("d", "test")]  # fmt: skip
    # MUSDB names first in MUSDB order, then the others alphabetically.
    assert tracks[0].targets == ("vocals", "drums", "bass", "guitar", "piano", "strings")
    assert dataset_targets(tmp_path) == tracks[0].targets
    b = tracks[1]
    assert track_length(b) == SR
    audio = read_segment(b, None, 1000, 2000)
    assert set(audio) == {"mixture", *SIX}
    np.testing.assert_array_equal(audio["strings"], 0.0)  # absent stem: silence
    np.testing.assert_array_equal(audio["guitar"], written["b"]["guitar"][1000:3000].T)
    ref = _sum(written["b"].values())[:, 1000:3000]
    np.testing.assert_array_equal(audio["mixture"], ref)


def test_targets_table_counts_present_and_active(tmp_path: Path) -> None:
    written = stem_folders(tmp_path)
    df = target_table(tmp_path).set_index("target")
    assert df.attrs["layout"] == "stem-folders" and df.attrs["tracks"] == 4
    assert df.loc["strings", "present"] == 3 and df.loc["guitar", "present"] == 4
    assert df.loc["piano", "active"] == 4
    # piano of 'a' is silent in its second half: active in 1 of its 1-s frames... the whole
    # track is one 1-s frame, so check the fraction against the definition on 0.25-s frames.
    frac = activity(written["a"]["piano"].T, _sum(written["a"].values()), SR // 4)
    assert frac == pytest.approx(0.5)
    assert "residual" not in df.index  # no mixture shipped: the stems are the mixture


def test_shipped_mixture_residual_is_reported(tmp_path: Path, caplog) -> None:
    written = stem_folders(tmp_path, tracks=(("train", "a"), ("test", "t")))
    mix = _sum(written["a"].values()).T
    extra = 0.1 * np.random.default_rng(5).standard_normal(mix.shape).astype(np.float32)
    _write(tmp_path / "train" / "a" / "mixture.wav", mix + extra)
    (track,) = tracks_for(tmp_path, "train")
    assert track.has_mixture
    with caplog.at_level("WARNING"):
        audio = read_segment(track, ("mixture",), 0, 4000)
        read_segment(track, ("mixture",), 0, 4000)
    said = [r for r in caplog.records if "differs from the sum of the stems" in r.getMessage()]
    assert len(said) == 1 and "mixture.wav" in said[0].getMessage()  # once per track
    np.testing.assert_array_equal(audio["mixture"], (mix + extra)[:4000].T)
    df = target_table(tmp_path).set_index("target")
    assert df.loc["residual", "present"] == 1 and df.loc["residual", "active"] == 1


def test_stems_of_different_length_or_rate_name_the_file(tmp_path: Path) -> None:
    stem_folders(tmp_path, tracks=(("train", "a"),))
    _write(tmp_path / "train" / "a" / "piano.wav", np.zeros((SR - 5, 2), np.float32))
    (track,) = discover(tmp_path)
    with pytest.raises(DatasetError, match=r"piano\.wav: 44095 samples .* differ in length"):
        track_length(track)
    _write(tmp_path / "train" / "a" / "piano.wav", np.zeros((SR, 2), np.float32), rate=48000)
    with pytest.raises(DatasetError, match=r"piano\.wav: sample rate 48000 Hz"):
        read_segment(track, None, 0, 10)


def test_musdb_folders_keep_their_strict_checks(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song")
    assert detect_layout(tmp_path).name == "musdb"
    assert discover(tmp_path)[0].stems is None


# ----------------------------------------------------------------------------- target maps


def test_target_map_merges_and_leaves_the_rest(tmp_path: Path) -> None:
    written = stem_folders(tmp_path)
    cfg = tmp_path / "map.toml"
    cfg.write_text('[targets]\nkeys = ["piano", "strings"]\nguitar = "guitar"\n')
    tmap = load_target_map(cfg)
    assert tmap.targets == ("keys", "guitar") and tmap.origin == str(cfg)
    tracks = {t.name: t for t in tracks_for(tmp_path, "train", target_map=tmap)}
    a = read_segment(tracks["a"], None, 0, SR)
    assert set(a) == {"mixture", "keys", "guitar"}
    np.testing.assert_array_equal(a["keys"], _sum([written["a"]["piano"], written["a"]["strings"]]))
    np.testing.assert_array_equal(a["mixture"], _sum(written["a"].values()))  # rest stays in
    b = read_segment(tracks["b"], ("keys",), 0, SR)  # b has no strings: keys = piano
    np.testing.assert_array_equal(b["keys"], written["b"]["piano"].T)
    df = target_table(tmp_path, tmap).set_index("target")
    assert list(df.index) == ["keys", "guitar", "residual"] and df.loc["residual", "active"] == 4
    check_target(tmp_path, "keys", tmap)
    with pytest.raises(TfselectError, match="unknown target 'piano'.* has keys, guitar"):
        check_target(tmp_path, "piano", tmap)


def test_target_map_on_musdb_folders(tmp_path: Path, wav_track) -> None:
    wav_track(tmp_path, "train", "Song")
    tmap = TargetMap.from_dict({"accompaniment": ["drums", "bass", "other"]})
    (track,) = tracks_for(tmp_path, "train", target_map=tmap)
    audio = read_segment(track, None, 0, 100)
    ref = read_segment(discover(tmp_path)[0], None, 0, 100)
    np.testing.assert_allclose(
        audio["accompaniment"], ref["drums"] + ref["bass"] + ref["other"], atol=1e-7
    )


@pytest.mark.parametrize(
    "table, message",
    [
        ('guitar = ["guitar", "banjo"]', "targets.guitar names stem 'banjo', which no track"),
        ('a = "piano"\nb = "piano"', "stem 'piano' is mapped to both 'a' and 'b'"),
        ("residual = 'piano'", "'residual' cannot name a target"),
        ("x = 3", "targets.x must be a stem name or a list"),
    ],
)
def test_bad_target_map_one_line_naming_the_file(tmp_path: Path, table, message) -> None:
    stem_folders(tmp_path / "data", tracks=(("train", "a"),))
    cfg = tmp_path / "map.toml"
    cfg.write_text(f"[targets]\n{table}\n")
    res = CliRunner().invoke(app, ["targets", "--root", str(tmp_path / "data"),
                                   "--config", str(cfg)])  # fmt: skip
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfselect: error:") and str(cfg) in lines[0]
    assert message in lines[0]


def test_targets_command_prints_the_table(tmp_path: Path) -> None:
    stem_folders(tmp_path)
    res = CliRunner().invoke(app, ["targets", "--root", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "stem-folders, 4 tracks" in res.stdout
    rows = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if "│" in line}
    assert set(SIX) <= set(rows)
    assert [c.strip() for c in rows["strings"].split("│")[2:5]] == ["3", "3", "1.00"]


def test_unknown_target_lists_the_available_ones(tmp_path: Path) -> None:
    stem_folders(tmp_path)
    res = CliRunner().invoke(app, ["score", "--target", "cello", "--transform",
                                   "stft:n_fft=1024,hop=256", "--root", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        f"tfselect: error: unknown target 'cello': the dataset at {tmp_path} has "
        "vocals, drums, bass, guitar, piano, strings"
    )
    with pytest.raises(TfselectError, match="unknown target 'cello'"):
        sample_clips(tmp_path, "train", seconds=0.5, target="cello")


# ----------------------------------------------------------------------------- MoisesDB


def moisesdb_tree(root: Path, names=("t0", "t1", "t2", "t3", "t4"), n: int = SR // 2) -> dict:
    """Tracks with guitar in two files, vocals in one, other_plucked only in t1."""
    rng = np.random.default_rng(1)
    written = {}
    for name in names:
        stems = {"vocals": ["v"], "guitar": ["g1", "g2"]} | ({"other_plucked": ["p"]}
                                                            if name == "t1" else {})  # fmt: skip
        meta = {"song": name, "artist": "a", "genre": "g", "stems": []}
        arrays = {}
        for stem, ids in stems.items():
            files = [{"id": f"{name}-{i}", "trackType": "x", "extension": "wav"} for i in ids]
            meta["stems"].append({"stemName": stem, "id": stem, "tracks": files})
            arrays[stem] = [_write(root / name / stem / f"{name}-{i}.wav", _noise(rng, n))
                            for i in ids]  # fmt: skip
        (root / name / "data.json").write_text(json.dumps(meta))
        written[name] = arrays
    return written


def test_moisesdb_sums_files_per_stem_and_splits(tmp_path: Path) -> None:
    written = moisesdb_tree(tmp_path)
    assert detect_layout(tmp_path).name == "moisesdb"
    tracks = discover(tmp_path)
    assert tracks[0].targets == ("vocals", "guitar", "other_plucked")  # MoisesDB's order
    test = [t.name for t in tracks if t.subset == "test"]
    assert len(test) == 1 and [t.name for t in tracks_for(tmp_path, "test")] == test
    assert discover(tmp_path) == tracks  # the seeded split is stable
    t1 = next(t for t in tracks if t.name == "t1")
    audio = read_segment(t1, None, 0, SR // 2)
    np.testing.assert_array_equal(audio["guitar"], _sum(written["t1"]["guitar"]))
    every = [x for arrays in written["t1"].values() for x in arrays]
    np.testing.assert_allclose(audio["mixture"], _sum(every), atol=0)
    t0 = read_segment(next(t for t in tracks if t.name == "t0"), ("other_plucked",), 0, 10)
    np.testing.assert_array_equal(t0["other_plucked"], 0.0)


@pytest.mark.parametrize("damage", ["syntax", "missing-file"])
def test_moisesdb_bad_metadata_one_line(tmp_path: Path, damage: str) -> None:
    moisesdb_tree(tmp_path, names=("t0", "t1"))
    if damage == "syntax":
        (tmp_path / "t1" / "data.json").write_text('{"stems": [')
        bad, words = tmp_path / "t1" / "data.json", "not valid JSON"
    else:
        bad = tmp_path / "t0" / "guitar" / "t0-g2.wav"
        bad.unlink()
        words = "listed in"
    res = CliRunner().invoke(app, ["targets", "--root", str(tmp_path)])
    assert res.exit_code == 2, res.output
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith(f"tfselect: error: {bad}: ") and words in line


# ----------------------------------------------------------------------------- Slakh2100


def slakh_tree(root: Path, n: int = SR // 2) -> dict:
    """Two tracks (train, validation): two Guitar stems, a Strings (continued), an unrendered."""
    rng = np.random.default_rng(2)
    written = {}
    for folder, name in (("train", "Track00001"), ("validation", "Track00002"),
                         ("test", "Track00003")):  # fmt: skip
        track = root / folder / name
        classes = {"S00": "Guitar", "S01": "Guitar", "S02": "Strings (continued)", "S03": "Bass",
                   "S04": "Chromatic Percussion"}  # fmt: skip
        lines = ["UUID: x", "audio_dir: stems", "stems:"]
        arrays = {}
        for sid, cls in classes.items():
            rendered = sid != "S04"
            lines += [f"  {sid}:", f"    inst_class: {cls}", f"    audio_rendered: {rendered}",
                      "    is_drum: false", "    program_num: 0"]  # fmt: skip
            if rendered:
                arrays[sid] = _write(track / "stems" / f"{sid}.flac", _noise(rng, n))
        (track / "metadata.yaml").write_text("\n".join(lines) + "\n")
        arrays["mix"] = _write(track / "mix.flac", _sum(arrays.values()).T)
        written[name] = arrays
    return written


def test_slakh_groups_stems_by_class(tmp_path: Path) -> None:
    written = slakh_tree(tmp_path)
    assert detect_layout(tmp_path).name == "slakh"
    tracks = discover(tmp_path)
    assert [(t.name, t.subset) for t in tracks] == [
        ("Track00001", "train"), ("Track00002", "valid"), ("Track00003", "test")]  # fmt: skip
    assert tracks_for(tmp_path, "valid") == [tracks[1]]  # Slakh's own validation split
    assert tracks[0].targets == ("bass", "guitar", "strings")  # unrendered class left out
    w = written["Track00001"]
    audio = read_segment(tracks[0], None, 0, SR // 2)
    np.testing.assert_array_equal(audio["guitar"], _sum([w["S00"], w["S01"]]))
    np.testing.assert_array_equal(audio["strings"], w["S02"].T)
    np.testing.assert_array_equal(audio["mixture"], w["mix"].T)


def test_slakh_metadata_naming_a_missing_file(tmp_path: Path) -> None:
    slakh_tree(tmp_path)
    missing = tmp_path / "test" / "Track00003" / "stems" / "S01.flac"
    missing.unlink()
    res = CliRunner().invoke(app, ["targets", "--root", str(tmp_path)])
    assert res.exit_code == 2
    assert res.stderr.strip().startswith(f"tfselect: error: {missing}: named by ")


# ----------------------------------------------------------------------------- metrics, search


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))


def test_score_a_mapped_target_against_the_rest(tmp_path: Path) -> None:
    """Oracles of 'keys' with the other stems unmapped: sources = keys and the rest."""
    import torch

    from tfselect.metrics import score
    from tfselect.transforms import build

    stem_folders(tmp_path, n=SR)
    tmap = TargetMap.from_dict({"keys": ["piano", "strings"]})
    clips = sample_clips(tmp_path, "test", n_clips=1, seconds=0.5, seed=3, target_map=tmap)
    assert set(clips[0].stems) == {"keys"}
    spec = "stft:n_fft=1024,hop=256"
    got = score(spec, "keys", clips, ["mpi", "irm1", "irm2", "ibm"], dtype=torch.float64)
    T = build(spec, sample_rate=SR)
    x = torch.from_numpy(clips[0].mixture.astype(np.float64))
    s = torch.from_numpy(clips[0].stems["keys"].astype(np.float64))
    X, S, R = (T(v)[0] for v in (x, s, x - s))  # the two sources: keys, mixture - keys
    masks = {
        "mpi": S.abs() / X.abs(),
        "irm1": S.abs() / (S.abs() + R.abs()),
        "irm2": S.abs() ** 2 / (S.abs() ** 2 + R.abs() ** 2),
        "ibm": (S.abs() / X.abs() >= 0.5).double(),
    }
    for name, m in masks.items():
        y = T.inverse([X * torch.nan_to_num(m)], x.shape[-1]).numpy()
        assert got[name] == pytest.approx(_sdr(s.numpy(), y), abs=1e-6), name


@pytest.mark.slow
def test_search_and_report_on_a_non_musdb_target(tmp_path: Path) -> None:
    import pandas as pd
    from conftest import SMALL_STUDY

    stem_folders(tmp_path / "data", n=int(2.5 * SR))
    cfg = tmp_path / "study.toml"
    cfg.write_text(SMALL_STUDY + '[targets]\nkeys = ["piano", "strings"]\nguitar = "guitar"\n')
    url = f"sqlite:///{tmp_path}/s.db"
    runner = CliRunner()
    for target, trials in (("keys", "2"), ("guitar", "1")):
        res = runner.invoke(app, ["search", "--target", target, "--trials", trials, "--config",
                                  str(cfg), "--root", str(tmp_path / "data"), "--storage", url,
                                  "--quiet"])  # fmt: skip
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["search", "--target", "piano", "--trials", "1", "--config",
                              str(cfg), "--root", str(tmp_path / "data"),
                              "--storage", url])  # fmt: skip
    assert res.exit_code == 2 and "has keys, guitar" in res.stderr
    out = tmp_path / "rep"
    res = runner.invoke(app, ["report", "--storage", url, "--out", str(out), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    best = pd.read_csv(out / "best.csv")
    assert {"keys", "guitar"} <= set(best["target"])
    for name in ("clip_keys.png", "pareto_keys.png", "pareto_grid.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name


def test_pareto_grid_scales_to_ten_targets(tmp_path: Path) -> None:
    import pandas as pd

    from tfselect.report import plots

    rng = np.random.default_rng(0)
    targets = [f"t{i}" for i in range(10)]
    rows = [{"target": t, "spec": f"stft:n_fft={256 * (k + 1)},hop=64", "state": "COMPLETE",
             "mpi_mean": float(rng.normal(5, 1)), "redundancy_mean": float(k + 1)}
            for t in targets for k in range(4)]  # fmt: skip
    path = plots.pareto_grid(pd.DataFrame(rows), targets, tmp_path / "grid.png")
    width, height = (int.from_bytes(path.read_bytes()[o : o + 4], "big") for o in (16, 20))
    assert (width, height) == (round(4 * 3.2 * 110), round(3 * 2.6 * 110))  # 4 x 3 panels


# ----------------------------------------------------------------------------- demo --stems fine


def test_demo_fine_stems_split_other_from_the_same_songs(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path / "fine"), "--tracks", "1",
                                   "--test-tracks", "0", "--seconds", "3", "--subtype", "FLOAT",
                                   "--stems", "fine"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "wrote 1 tracks" in res.stdout
    from tfselect.audio.demo import write_demo_corpus

    write_demo_corpus(tmp_path / "four", tracks=1, seconds=3, test_tracks=0, subtype="FLOAT")
    (fine,) = discover(tmp_path / "fine")
    (four,) = discover(tmp_path / "four")
    assert fine.targets == ("vocals", "drums", "bass", "keys", "pads", "plucks")  # sorted
    assert not (fine.path / "mixture.wav").exists() and fine.name == four.name
    a, b = read_segment(fine), read_segment(four)
    # Same song: vocals, drums and bass are the default's up to the joint mix gain.
    ratio = float(np.sum(a["vocals"] * b["vocals"]) / np.sum(b["vocals"] ** 2))
    for stem in ("vocals", "drums", "bass"):
        np.testing.assert_allclose(a[stem], ratio * b[stem], atol=2e-6)
    np.testing.assert_allclose(a["mixture"], sum(a[t] for t in fine.targets), atol=1e-6)
    df = target_table(tmp_path / "fine").set_index("target")
    assert (df.loc[["keys", "plucks", "pads"], "active"] == 1).all()
    bad = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path / "x"), "--stems", "all"])
    assert bad.exit_code == 2 and "unknown demo stem set 'all'" in bad.stderr


def test_every_config_reader_says_non_utf8_in_one_line(tmp_path):
    from tfselect.audio.targets import load_target_map
    from tfselect.errors import TfselectError
    from tfselect.search.config import load_config

    bad = tmp_path / "latin1.toml"
    bad.write_bytes("[targets]\nguitar = \"gitarre-\xe9\"\n".encode("latin-1"))
    for read in (load_target_map, load_config):
        with pytest.raises(TfselectError, match=r"latin1.toml: not UTF-8 text \(byte \d+\)"):
            read(bad)
