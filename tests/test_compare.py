"""``tfselect compare``: its statistics against an independent computation, its configuration
grammar, the parameter matching, the run claims and budgets, and one tiny run end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_error
from scipy import stats
from typer.testing import CliRunner

from tfselect.cli import app

TARGETS = ("vocals", "drums", "bass", "other")
STFT = "stft:n_fft=4096,hop=1024"


# ------------------------------------------------------------------ statistics


def _rows(effects: dict[str, np.ndarray], seeds: int = 3, tracks: int = 9,
          rng_seed: int = 0) -> pd.DataFrame:
    """compare.csv-like rows: baseline scores per (seed, track, target) drawn at random, and
    each config = baseline + effects[config][track] + a seed-dependent jitter."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    base = rng.normal(3.0, 2.0, size=(seeds, tracks, len(TARGETS)))
    for config, eff in {"stft": np.zeros(tracks), **effects}.items():
        jitter = rng.normal(0, 0.1, size=base.shape) if config != "stft" else 0.0
        values = base + (eff[None, :, None] if config != "stft" else 0.0) + jitter
        for s in range(seeds):
            for k in range(tracks):
                for j, t in enumerate(TARGETS):
                    v = values[s, k, j]
                    rows.append({"config": config, "seed": s, "track": f"T{k}", "target": t,
                                 "csdr": v, "usdr": v + 0.5, "si_sdr": v - 1.0})
    return pd.DataFrame(rows)


def test_summary_equals_a_direct_per_track_computation():
    from tfselect.report.compare import summarise

    effect = np.linspace(-0.2, 1.0, 9)  # a known per-track gain, mostly positive
    rows = _rows({"selected": effect})
    rows.loc[(rows.config == "selected") & (rows.seed == 2) & (rows.track == "T0"), "csdr"] = (
        np.nan)  # one seed of one track missing: that track averages the other two seeds
    summary = summarise(rows, n_boot=500, seed=3).set_index(["config", "target", "score"])

    for target in TARGETS:
        sel = rows[rows.target == target]
        a = sel[sel.config == "selected"].set_index(["track", "seed"])["csdr"]
        b = sel[sel.config == "stft"].set_index(["track", "seed"])["csdr"]
        d = (a - b).dropna().groupby("track").mean().to_numpy()
        row = summary.loc[("selected", target, "csdr")]
        assert row["diff"] == pytest.approx(d.mean())
        assert row["p_value"] == pytest.approx(stats.wilcoxon(d, zero_method="zsplit").pvalue)
        ci = stats.bootstrap((d,), np.mean, n_resamples=500, method="percentile",
                             rng=np.random.default_rng(3)).confidence_interval
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
        assert row["n_tracks"] == 9 and row["tracks_won"] == int((d > 0).sum())
        assert row["n_seeds"] == 3 and row["versus"] == "stft"
    # "all": the per-track mean over targets first; a track with a missing target is out
    # only for the seed where it is missing
    wide = rows.pivot_table(index=["track", "seed", "target"], columns="config", values="csdr")
    per = (wide["selected"] - wide["stft"]).groupby(["track", "seed"]).agg(
        lambda v: v.mean() if v.notna().all() else np.nan).dropna().groupby("track").mean()
    assert summary.loc[("selected", "all", "csdr"), "diff"] == pytest.approx(per.mean())
    # uSDR and SI-SDR are the same shifted scores here: the same differences
    for score in ("usdr", "si_sdr"):
        assert summary.loc[("selected", "bass", score), "diff"] == pytest.approx(
            summary.loc[("selected", "bass", "csdr"), "diff"], abs=0.2)


def test_summary_verdicts_have_a_known_answer():
    """A clear gain on every track is 'better'; no gain is 'not distinguishable'; a clear loss
    'worse' (9 tracks: the smallest two-sided Wilcoxon p is 2/2^9)."""
    from tfselect.report.compare import summarise

    rows = _rows({"gain": np.full(9, 1.0), "same": np.zeros(9), "loss": np.full(9, -1.0)})
    s = summarise(rows, n_boot=300)
    verdicts = s[(s.score == "csdr") & (s.target == "all")].set_index("config")["verdict"]
    assert verdicts.to_dict() == {"gain": "better", "same": "not distinguishable",
                                  "loss": "worse"}


def test_transfer_pairs_oracle_gains_with_trained_gains(tmp_path):
    from tfselect.report.compare import oracle_gains, summarise, transfer

    best = pd.DataFrame([
        {"target": "bass", "objective": "mpi", "candidate": "best",
         "spec": "stft:n_fft=8192,hop=1024", "value": 8.5, "irm2": 10.0},
        {"target": "bass", "objective": "mpi", "candidate": "stft", "spec": STFT,
         "value": 8.0, "irm2": 9.75},
        {"target": "other", "objective": "mpi", "candidate": "best",
         "spec": "slicqt:scale=bark,bins=100,fmin=40,fmax=22050", "value": 9.0, "irm2": 9.0},
        {"target": "other", "objective": "mpi", "candidate": "stft", "spec": STFT,
         "value": 9.5, "irm2": 9.0},
    ])
    path = tmp_path / "best.csv"
    best.to_csv(path, index=False)
    configs = {"stft": {"bass": STFT, "other": STFT},
               "selected": {"bass": "stft:n_fft=8192,hop=1024",  # trained rasterized:
                            "other": "slicqt:scale=bark,bins=100,fmin=40,fmax=22050,"
                                     "form=rasterize"}}  # still the searched transform
    gains = oracle_gains(path, configs)
    assert gains == {"selected": {"bass": {"mpi": 0.5, "irm2": 0.25},
                                  "other": {"mpi": -0.5, "irm2": 0.0}}}
    rows = _rows({"selected": np.full(9, 0.3)})
    rows = rows[rows.target.isin(["bass", "other"])]
    t = transfer(summarise(rows, n_boot=200), gains).set_index("target")
    assert t.loc["bass", "mpi_gain"] == 0.5 and t.loc["other", "irm2_gain"] == 0.0
    assert t.loc["bass", "trained"] == pytest.approx(0.3, abs=0.1)


# ------------------------------------------------------------------ configurations


def test_user_configurations_parse_specs_with_commas():
    from tfselect.demix.compare import parse_user_config

    name, specs = parse_user_config("long=stft:n_fft=8192,hop=1024")
    assert name == "long" and specs == dict.fromkeys(TARGETS, "stft:n_fft=8192,hop=1024")
    name, specs = parse_user_config(
        "mix=vocals:stft:n_fft=4096,hop=512,bass:slicqt:scale=bark,bins=100,fmin=40,fmax=22050")
    assert specs == {"vocals": "stft:n_fft=4096,hop=512",
                     "bass": "slicqt:scale=bark,bins=100,fmin=40,fmax=22050"}
    from tfselect.errors import TfselectError

    for bad in ("noequals", "=stft:n_fft=4096,hop=1024", "stft=stft:n_fft=4096,hop=1024",
                "a/b=stft:n_fft=4096,hop=1024", "x=vocals"):
        with pytest.raises(TfselectError):
            parse_user_config(bad)


def test_configurations_need_the_baseline_and_every_target(tmp_path):
    from tfselect.demix.compare import build_configs
    from tfselect.errors import TfselectError

    with pytest.raises(TfselectError, match="needs the stft configuration"):
        build_configs(["shared-slicqt"], {}, None, "significant", "blstm")
    with pytest.raises(TfselectError, match="needs --best"):
        build_configs(["selected", "stft"], {}, None, "significant", "blstm")
    with pytest.raises(TfselectError, match="exactly the targets"):
        build_configs(["stft"], {"x": {"vocals": STFT}}, None, "significant", "blstm")
    c = build_configs(["stft", "shared-slicqt"], {}, None, "significant", "blstm")
    # a matrix network gets the sliCQT in its rasterized matrix form
    assert set(c["shared-slicqt"].values()) == {
        "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050,form=rasterize"}
    assert build_configs(["stft", "shared-slicqt"], {}, None, "significant", "cdae")[
        "shared-slicqt"]["vocals"] == "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"


def test_oracle_best_shared_is_the_best_mean_over_targets():
    from tfselect.demix.compare import oracle_best_shared

    rows = pd.DataFrame([
        {"target": "vocals", "objective": "mpi", "spec": "A", "value": 10.0},
        {"target": "vocals", "objective": "mpi", "spec": "B", "value": 9.0},
        {"target": "vocals", "objective": "mpi", "spec": "C", "value": 30.0},  # vocals only
        {"target": "bass", "objective": "mpi", "spec": "A", "value": 5.0},
        {"target": "bass", "objective": "mpi", "spec": "B", "value": 7.0},
        {"target": "bass", "objective": "irm1", "spec": "A", "value": 99.0},  # not primary
    ])
    assert oracle_best_shared(rows) == "B"  # mean 8.0 against A's 7.5


def test_parameters_match_the_baseline_branch_by_branch():
    from tfselect.demix.compare import PARAM_TOLERANCE, count_parameters, equal_sizes
    from tfselect.demix.model import block_bins
    from tfselect.transforms import build

    configs = {"stft": dict.fromkeys(TARGETS, STFT),
               "mine": {"vocals": STFT, "drums": "stft:n_fft=1024,hop=256",
                        "bass": "stft:n_fft=8192,hop=2048", "other": STFT}}
    sizes, params = equal_sizes(configs, "blstm", "small")
    assert sizes["stft"] == dict.fromkeys(TARGETS, {"hidden": 64})
    assert sizes["mine"]["vocals"] == {"hidden": 64}  # the baseline's transform: its network
    assert sizes["mine"]["drums"]["hidden"] > 64 > sizes["mine"]["bass"]["hidden"]
    goal = count_parameters("blstm", block_bins(build(STFT, 44100), 2, 44100),
                            {"hidden": 64, "layers": 1})
    for t, spec in configs["mine"].items():
        n = count_parameters("blstm", block_bins(build(spec, 44100), 2, 44100),
                             {"layers": 1, **sizes["mine"][t]})
        assert abs(n - goal) <= PARAM_TOLERANCE * goal, (t, n, goal)
    assert abs(params["mine"] - params["stft"]) <= PARAM_TOLERANCE * params["stft"]


# ------------------------------------------------------------------ runs


def test_a_run_is_claimed_once_and_a_dead_owner_is_replaced(tmp_path):
    import socket
    import subprocess
    import sys

    from tfselect.demix.compare import claim, release

    folder = tmp_path / "run"
    assert claim(folder) and not claim(folder)  # held by a live process (this one)
    release(folder)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / ".claim").write_text(f"{socket.gethostname()} {dead.pid}")
    assert claim(folder)  # its owner is gone: taken over
    (folder / ".claim").write_text(f"another-host {os.getpid()}")
    assert not claim(folder)  # another machine's claim is never broken


def test_wall_clock_budget_stops_training_and_resumes_its_account(demo_root, tmp_path):
    from tfselect.demix.model_files import CHECKPOINT, load_checkpoint
    from tfselect.demix.train import make_config, train

    cfg = make_config({"vocals": "stft:n_fft=1024,hop=256"}, "small", "blstm", None,
                      epochs=50, steps=4, batch_size=1, chunk_seconds=0.5, valid_seconds=1.0,
                      root=str(demo_root), max_seconds=1e-9)
    history = train(cfg, tmp_path / "m", progress=False)
    state = load_checkpoint(tmp_path / "m" / CHECKPOINT)["state"]
    # the budget is spent after the first step: that epoch is validated and saved, then stop
    assert len(history) == 1 and state["steps"] == 1 and state["train_seconds"] > 0
    assert train(cfg, tmp_path / "m", progress=False) == history  # nothing left to spend


@pytest.mark.slow
def test_compare_end_to_end_resumes_and_refuses_other_options(demo_root, tmp_path):
    """Two configurations at 1 step each on the demo corpus's test track: every file, one
    row per config x seed x track x target, a rerun that trains nothing, and a rerun with
    another budget refused in one line."""
    out = tmp_path / "cmp"
    args = ["compare", "--root", str(demo_root), "--out", str(out), "--configs", "stft",
            "--config-spec", "short=stft:n_fft=2048,hop=512", "--seeds", "1", "--steps", "1",
            "--chunk", "0.5", "--batch-size", "1", "--duration", "2", "--quiet"]
    runner = CliRunner()
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    for f in ("compare.csv", "summary.csv", "transfer.csv", "compare.png", "plan.json"):
        assert (out / f).is_file(), f
    rows = pd.read_csv(out / "compare.csv")
    assert len(rows) == 2 * 1 * 1 * 4 and set(rows.steps) == {1}
    # uSDR is defined everywhere; museval's cSDR is NaN where the reference is silent over
    # the scored 2 s (the demo's vocals pause), which uSDR shows as its -95 dB floor case
    assert rows["usdr"].notna().all() and rows["csdr"].notna().any()
    assert (rows["csdr"].notna() | (rows["usdr"] < -60)).all()
    plan = json.loads((out / "plan.json").read_text())
    assert plan["sizes"]["short"]["vocals"]["hidden"] > 64
    summary = pd.read_csv(out / "summary.csv")
    # one test track; 0 where its reference is silent for museval (cSDR of that target)
    assert set(summary.config) == {"short"} and set(summary.n_tracks) <= {0, 1}
    assert set(summary[summary.score == "usdr"].n_tracks) == {1}
    assert "short" in res.output and "budget: 1 steps per run" in res.output

    stamp = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/scores.csv")}
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/scores.csv")} == stamp
    res = runner.invoke(app, [*args[:-1], "--steps", "2", "--quiet"])
    one_line_error(res, "other options", "steps_per_epoch")


def test_compare_refuses_bad_options_before_writing(tmp_path):
    out = tmp_path / "never"
    runner = CliRunner()
    for extra, words in ((["--seeds", "0"], ["--seeds"]), (["--preset", "tpu"], ["--preset"]),
                         (["--steps", "5", "--minutes", "1"], ["not both"]),
                         (["--configs", "stft,bogus"], ["bogus"])):
        res = runner.invoke(app, ["compare", "--out", str(out), *extra])
        one_line_error(res, *words)
    assert not Path(out).exists()


def test_each_model_folder_gets_only_its_own_log_lines(tmp_path):
    """compare trains several models in one process: a later run's lines must not land in
    an earlier run's train.log."""
    from tfselect.demix.train import _setup_log, log

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _setup_log(a)
    log.info("first run")
    _setup_log(b)
    log.info("second run")
    for h in list(log.handlers):
        h.flush()
    assert "second run" not in (a / "train.log").read_text()
    assert "first run" in (a / "train.log").read_text()
    assert (b / "train.log").read_text().count("second run") == 1
    for h in [h for h in log.handlers if str(tmp_path) in getattr(h, "baseFilename", "")]:
        log.removeHandler(h)
        h.close()
