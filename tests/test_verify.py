"""`tfselect verify`: a best.csv's pick against both references on every test track."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_error, write_wav_track
from typer.testing import CliRunner

from tfselect.audio.clips import sample_clips
from tfselect.cli import app
from tfselect.metrics import score
from tfselect.report.paired import differences
from tfselect.report.verify import verify

PICK = "stft:n_fft=1024,hop=256"
STFT = "stft:n_fft=4096,hop=1024"
SLICQT = "slicqt:scale=bark,bins=24,fmin=200,fmax=22050"  # a cheap stand-in for Bark-262
TRACKS = 4


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Four test tracks of 1 s of noise stems (and one train track, as a dataset has)."""
    path = tmp_path_factory.mktemp("verify")
    for k in range(TRACKS):
        write_wav_track(path, "test", f"Track {k}", seconds=1.0, seed=k)
    write_wav_track(path, "train", "Train", seconds=0.5)
    return path


def _best_csv(path) -> None:
    """best.csv in the layout `tfselect report` writes: vocals picks a candidate, bass the
    stft reference itself (the best was the reference)."""
    cols = ["target", "objective", "candidate", "spec", "value", "study", "number", "n_complete",
            "versus", "diff", "ci_low", "ci_high", "p_value", "n_tracks", "n_paired", "unit",
            "verdict", "selected", "mpi", "n_clips"]  # fmt: skip
    rows = [
        ["vocals", "mpi", "best", PICK, 9.1, "vocals", 7, 9, "stft", 0.3, 0.2, 0.4, 0.01, 10,
         30, "track", "better", True, 9.1, 30],
        ["vocals", "mpi", "stft", STFT, 8.8, "vocals", 0, "", "stft", 0.3, 0.2, 0.4, 0.01, 10,
         30, "track", "better", False, 8.8, 30],
        ["vocals", "mpi", "xumx-slicq", SLICQT, 8.5, "vocals", 1, "", "xumx-slicq", 0.6, 0.4,
         0.8, 0.002, 10, 30, "track", "better", False, 8.5, 30],
        ["bass", "mpi", "best", STFT, 7.0, "bass", 0, 5, "", "", "", "", "", "", "", "",
         "reference", True, 7.0, 30],
        ["bass", "mpi", "stft", STFT, 7.0, "bass", 0, "", "", "", "", "", "", "", "", "",
         "is the best", False, 7.0, 30],
        ["bass", "mpi", "xumx-slicq", SLICQT, 6.8, "bass", 1, "", "xumx-slicq", 0.2, 0.1, 0.3,
         0.04, 10, 30, "track", "better", False, 6.8, 30],
    ]
    pd.DataFrame(rows, columns=cols).to_csv(path, index=False)


def _per_track(clips, spec: str, target: str) -> np.ndarray:
    """mpi (fast SDR, dB) per clip, each scored on its own by score()."""
    return np.array([score(spec, target, [c], ["mpi"])["mpi"] for c in clips])


def test_verify_cli_matches_differences_of_per_track_oracles(root, tmp_path) -> None:
    best, out = tmp_path / "best.csv", tmp_path / "sub" / "verify.csv"
    _best_csv(best)
    res = CliRunner().invoke(app, ["verify", "--best", str(best), "--root", str(root),
                                   "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "vocals: pick stft:n_fft=1024,hop=256" in res.stdout
    assert "bass: pick stft:n_fft=4096,hop=1024 (the reference stft)" in res.stdout
    assert "the pick is this reference" in res.stdout
    got = pd.read_csv(out)
    assert list(got["target"]) == ["vocals"] * 3 + ["bass"] * 3
    assert list(got["comparison"]) == ["better reference", "stft", "xumx-slicq"] * 2
    whole = sample_clips(root, "test", seconds=0)
    assert len(whole) == TRACKS
    for target, pick in (("vocals", PICK), ("bass", STFT)):
        values = {s: _per_track(whole, s, target) for s in (PICK, STFT, SLICQT)}
        better = STFT if values[STFT].mean() > values[SLICQT].mean() else SLICQT
        rows = got[got["target"] == target].set_index("comparison")
        assert rows.loc["better reference", "reference_spec"] == better
        for comparison, ref in (("better reference", better), ("stft", STFT),
                                ("xumx-slicq", SLICQT)):
            row = rows.loc[comparison]
            assert row["pick"] == pick and row["n_tracks"] == TRACKS
            assert row["pick_value"] == pytest.approx(values[pick].mean(), abs=1e-9)
            assert row["reference_value"] == pytest.approx(values[ref].mean(), abs=1e-9)
            if ref == pick:  # never compared with itself
                assert row["verdict"] == "is the pick" and math.isnan(row["diff"])
                continue
            d = values[pick] - values[ref]
            want = differences(d)
            for key in ("diff", "ci_low", "ci_high", "p_value"):
                assert row[key] == pytest.approx(want[key], abs=1e-9), (target, comparison, key)
            assert row["verdict"] == want["verdict"] and row["tracks_won"] == np.sum(d > 0)
    assert (got.loc[got["target"] == "bass", "picked"] == "stft").all()
    assert (got.loc[got["target"] == "vocals", "picked"] == "best").all()
    assert not list(out.parent.glob(".verify.csv*"))  # written atomically, nothing left over


def test_seconds_averages_consecutive_clips_per_track(root, tmp_path) -> None:
    best = tmp_path / "best.csv"
    _best_csv(best)
    df = verify(best, root, seconds=0.5)
    halves = [dataclasses.replace(c, start=a, length=22050, mixture=c.mixture[:, a:a + 22050],
                                  stems={k: v[:, a:a + 22050] for k, v in c.stems.items()})
              for c in sample_clips(root, "test", seconds=0) for a in (0, 22050)]  # fmt: skip
    per_track = _per_track(halves, PICK, "vocals").reshape(TRACKS, 2).mean(1)
    row = df[(df["target"] == "vocals") & (df["comparison"] == "stft")].iloc[0]
    assert row["pick_value"] == pytest.approx(per_track.mean(), abs=1e-9)
    assert row["seconds"] == 0.5 and row["n_tracks"] == TRACKS


def test_verify_bad_input_is_one_line(root, tmp_path) -> None:
    best = tmp_path / "best.csv"
    _best_csv(best)
    run = CliRunner().invoke
    one_line_error(run(app, ["verify", "--best", str(tmp_path / "no.csv"), "--root", str(root)]),
                   "no such file")
    one_line_error(run(app, ["verify", "--best", str(best), "--root", str(root), "--bss", "x"]),
                   "--bss")
    one_line_error(run(app, ["verify", "--best", str(best), "--root", str(root), "--subset",
                             "dev"]), "dev")  # fmt: skip


def test_compare_signs_a_minimised_objective_and_picks_the_better_reference() -> None:
    from tfselect.report.verify import Plan, compare

    plan = Plan("bass", "min:mpi", "p", "best", {"stft": "a", "xumx-slicq": "b"})
    values = {"p": {"t1": 1.0, "t2": 2.0, "t3": 3.0}, "a": {"t1": 2.0, "t2": 2.5, "t3": 4.0},
              "b": {"t1": 0.0, "t2": 1.0, "t3": 9.0}}  # fmt: skip
    rows = {r["comparison"]: r for r in compare(plan, values, sign=-1.0)}
    # lower is better: a's mean 2.83 beats b's 3.33, and the pick wins where it is lower
    assert rows["better reference"]["reference"] == "stft"
    d = -(np.array([1.0, 2.0, 3.0]) - np.array([2.0, 2.5, 4.0]))
    assert rows["stft"]["diff"] == pytest.approx(d.mean()) and rows["stft"]["tracks_won"] == 3
    assert rows["xumx-slicq"]["tracks_won"] == 1 and rows["xumx-slicq"]["n_tracks"] == 3
    assert rows["stft"]["pick_value"] == pytest.approx(2.0)
