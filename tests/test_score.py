"""score(): all metrics on the demo corpus, silent targets, bad input; `tfselect score`."""

from __future__ import annotations

import csv
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tfselect import TARGETS
from tfselect.cli import app
from tfselect.errors import SpecError, TfselectError
from tfselect.metrics import DIRECTIONS, GROUPS, METRICS, resolve_metrics, score
from tfselect.transforms import build

STFT = "stft:n_fft=4096,hop=1024"
SLICQT = "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"


def _silenced(clip, target: str):
    """A copy of ``clip`` whose ``target`` stem is zero (and left out of the mixture)."""
    stems = dict(clip.stems)
    stems[target] = np.zeros_like(stems[target])
    mixture = sum(stems.values()).astype(np.float32)
    return dataclasses.replace(clip, mixture=mixture, stems=stems)


def test_groups_directions_and_resolution() -> None:
    assert METRICS == tuple(m for g in GROUPS.values() for m in g)
    assert len(set(METRICS)) == 17
    assert set(DIRECTIONS) == set(METRICS)
    assert set(DIRECTIONS.values()) == {"maximize", "minimize"}
    assert DIRECTIONS["mpi"] == "maximize" and DIRECTIONS["renyi3"] == "minimize"
    assert DIRECTIONS["peak_mb"] == "minimize"
    assert resolve_metrics(None) == METRICS
    assert resolve_metrics("cost, gini") == ("gini", "redundancy", "seconds", "peak_mb")
    assert resolve_metrics(["oracles", "mpi"]) == GROUPS["oracles"]
    with pytest.raises(TfselectError, match="unknown metric 'sparsness'"):
        resolve_metrics("gini,sparsness")
    with pytest.raises(TfselectError, match="no metric"):
        resolve_metrics(" , ")


@pytest.mark.parametrize("spec", [STFT, SLICQT], ids=["stft", "slicqt"])
def test_all_metrics_on_the_demo_corpus(clips, spec: str) -> None:
    # 2-s clips (memoised, test_oracles.py draws them too): the same code paths on half the
    # samples; the checks (finite, in range, the redundancy of this length) hold at any length
    chosen = clips(subset="train", n_clips=1, seconds=2.0)
    result = score(spec, "vocals", chosen)
    assert list(result) == [*METRICS, "n_clips", "n_skipped"]
    assert result["n_clips"] + result["n_skipped"] == len(chosen) and result["n_clips"] >= 2
    for name in METRICS:
        assert math.isfinite(result[name]), name
    for name in ("mpi", "irm1"):
        assert 0.0 < result[name] < 40.0, (name, result[name])
    assert 0.0 < result["gini"] < 1.0 and 0.0 < result["hoyer"] < 1.0
    for name in GROUPS["ridges"]:
        if "energy" in name or "stability" in name:
            assert 0.0 <= result[name] <= 1.0, name
    n = chosen[0].length
    assert result["redundancy"] == pytest.approx(build(spec).redundancy(n), rel=1e-9)
    assert result["seconds"] > 0 and result["peak_mb"] > 0


def test_silent_targets_are_skipped_and_counted(clips) -> None:
    chosen = clips(subset="train", n_clips=1, seconds=2.0)
    audible = [c for c in chosen if np.abs(c.stems["bass"]).max() > 0]
    mixed = [_silenced(audible[0], "bass"), *audible, _silenced(audible[-1], "bass")]
    wanted = ["oracles", "gini", "renyi3"]
    result = score(STFT, "bass", mixed, wanted)
    assert result["n_skipped"] == 2 and result["n_clips"] == len(audible)
    alone = score(STFT, "bass", audible, wanted)
    for name in resolve_metrics(wanted):
        assert math.isfinite(result[name])
        assert result[name] == pytest.approx(alone[name], rel=1e-9)
    with pytest.raises(TfselectError, match="silent in all 2 clip"):
        score(STFT, "bass", [mixed[0], mixed[-1]], wanted)


def test_bad_arguments(clips) -> None:
    chosen = clips()
    with pytest.raises(TfselectError, match="unknown target 'voice'"):
        score(STFT, "voice", chosen)
    with pytest.raises(TfselectError, match="unknown metric"):
        score(STFT, "vocals", chosen, ["sdr"])
    with pytest.raises(SpecError):
        score("stft:n_fft=4096", "vocals", chosen)
    with pytest.raises(TfselectError, match="no clips"):
        score(STFT, "vocals", [])
    with pytest.raises(TfselectError, match="SDR method"):
        score(STFT, "vocals", chosen, ["mpi"], bss="bss_eval")
    with pytest.raises(TfselectError, match="device"):
        score(STFT, "vocals", chosen, ["mpi"], device="tpu:9")


def test_only_cost_needs_no_coefficients(clips) -> None:
    result = score(STFT, "drums", clips(), ["redundancy"])
    assert list(result) == ["redundancy", "n_clips", "n_skipped"]


def test_float64_matches_float32_and_timings_are_reported(clips) -> None:
    chosen = clips()
    stages: dict[str, float] = {}
    low = score(STFT, "bass", chosen, ["mpi", "ridge_energy_time"], timings=stages)
    high = score(STFT, "bass", chosen, ["mpi", "ridge_energy_time"], dtype=torch.float64)
    assert high["mpi"] == pytest.approx(low["mpi"], abs=0.05)
    assert high["ridge_energy_time"] == pytest.approx(low["ridge_energy_time"], abs=0.01)
    # mpi alone needs only the mixture and the target: one stem analysed, not four.
    assert {"forward (mixture + 1 stem)", "oracles (masks)", "ridges: time"} <= set(stages)
    assert all(v >= 0 for v in stages.values())
    stages.clear()
    both = score(STFT, "bass", chosen, ["mpi", "irm1"], timings=stages)
    assert "forward (mixture + 4 stems)" in stages
    assert both["mpi"] == pytest.approx(low["mpi"], abs=1e-4)  # same mpi either way


def test_usdr_and_si_sdr_options_match_numpy(clips) -> None:
    from tfselect.metrics.oracles import oracle_estimates

    clip = clips(seconds=2.0, target="vocals", skip_silent=True)[0]
    x = torch.from_numpy(clip.mixture).double()
    s = clip.stems["vocals"].astype(np.float64)
    T = build(STFT)
    C = T(torch.stack([x, torch.from_numpy(s)]))
    est = oracle_estimates([c[0] for c in C], [c[1:] for c in C], 0, ("mpi",))
    y = T.inverse(est, x.shape[-1])[0].numpy()
    usdr = 10 * np.log10((np.sum(s**2) + 1e-7) / (np.sum((s - y) ** 2) + 1e-7))
    alpha = np.sum(y * s) / np.sum(s * s)
    si = 10 * np.log10(np.sum((alpha * s) ** 2) / np.sum((alpha * s - y) ** 2))
    got = {b: score(STFT, "vocals", [clip], ["mpi"], dtype=torch.float64, bss=b)["mpi"]
           for b in ("usdr", "si-sdr")}  # fmt: skip
    assert got["usdr"] == pytest.approx(usdr, abs=1e-9)
    assert got["si-sdr"] == pytest.approx(si, abs=1e-9)
    assert abs(got["usdr"] - got["si-sdr"]) > 1e-3  # two conventions, two numbers


@pytest.mark.slow
def test_museval_option_is_close_to_fast_sdr(clips) -> None:
    chosen = clips()
    fast = score(STFT, "bass", chosen, ["irm1"])
    bss = score(STFT, "bass", chosen, ["irm1"], bss="museval")
    assert math.isfinite(bss["irm1"]) and abs(bss["irm1"] - fast["irm1"]) < 5.0


# ------------------------------------------------------------------------------------- CLI

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["score", *args])


def test_cli_json_and_csv(demo_root, tmp_path) -> None:
    out = tmp_path / "sub" / "score.csv"
    res = _run(
        "--target", "drums", "--transform", STFT, "--root", str(demo_root), "--clips", "1",
        "--seconds", "3", "--metrics", "oracles,redundancy", "--json", "--out", str(out),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    assert row["target"] == "drums" and row["transform"] == STFT
    assert row["n_clips"] + row["n_skipped"] == 1
    assert set(GROUPS["oracles"]) <= set(row)
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and float(rows[0]["mpi"]) == pytest.approx(row["mpi"])
    assert not list(out.parent.glob(".*.tmp"))  # the temporary file was moved into place


def test_cli_table(demo_root) -> None:
    res = _run(
        "--target", "bass", "--transform", STFT, "--root", str(demo_root), "--clips", "1",
        "--seconds", "2", "--metrics", "gini,mpi",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "gini" in res.stdout and "mpi" in res.stdout and "skipped" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "voice", "--transform", STFT], "unknown target"),
        (["--target", "bass", "--transform", STFT, "--metrics", "gini,foo"], "unknown metric"),
        (["--target", "bass", "--transform", "stft:n_fft=4096,hop=0"], "hop"),
        (["--target", "bass", "--transform", "wavelet:x=1"], "wavelet"),
        (["--target", "bass", "--transform", STFT, "--seconds", "100"], "longer than"),
        (["--target", "bass", "--transform", STFT, "--subset", "dev"], "dev"),
    ],
    ids=["target", "metric", "spec-field", "spec-kind", "too-long", "subset"],
)
def test_cli_bad_input_exits_2_with_one_line(demo_root, args, message) -> None:
    res = _run(*args, "--root", str(demo_root))
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfselect: error:"), res.stderr
    assert message in lines[0]


def test_cli_empty_subset_exits_2(tmp_path, wav_track) -> None:
    wav_track(tmp_path, "test", "Only Test Track", seconds=1.0)
    res = _run("--target", "vocals", "--transform", STFT, "--root", str(tmp_path))
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no tracks" in lines[0], res.stderr


def test_targets_are_the_package_targets() -> None:
    assert set(TARGETS) == {"vocals", "drums", "bass", "other"}


@pytest.mark.parametrize("device", ["mps", "meta", "xla"])
def test_devices_other_than_cpu_and_cuda_are_refused(clips, device):
    with pytest.raises(TfselectError, match="auto, cpu, cuda or cuda:N"):
        score("stft:n_fft=1024,hop=256", "vocals", clips(), metrics=["mpi"], device=device)


def test_clip_scorer_gives_the_per_clip_values_behind_the_medians(clips) -> None:
    """ClipScorer's per-clip rows reduce (numpy median) to what score returns."""
    from tfselect.metrics import ClipScorer

    cs = clips(subset="train", n_clips=2, seconds=2.0)
    spec = "stft:n_fft=1024,hop=256"
    scorer = ClipScorer(spec, "vocals", ["mpi", "gini"])
    rows = [scorer(c) for c in cs]
    assert all(r is not None and set(r) == {"mpi", "gini"} for r in rows)
    medians = score(spec, "vocals", cs, metrics=["mpi", "gini"])
    for m in ("mpi", "gini"):
        assert medians[m] == pytest.approx(float(np.median([r[m] for r in rows])), rel=1e-6)
    only = scorer(cs[0], metrics=["mpi"])
    assert set(only) == {"mpi"} and only["mpi"] == pytest.approx(rows[0]["mpi"], rel=1e-6)
