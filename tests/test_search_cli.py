"""`tfselect search` as users run it: real processes sharing one study, kill -9, bad input.

Every search scores one 2-second demo clip with three cheap metrics (real ``score``), so a
trial takes about a second; the cost is mostly process start-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from conftest import SMALL_STUDY, cli_env, write_wav_track
from optuna.trial import TrialState
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.search.storage import open_storage


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tfselect", *args]


def _search_args(url: str, study: str, config: Path, root: Path, *extra: str) -> list[str]:
    return _cmd("search", "--target", "vocals", "--storage", url, "--study", study,
                "--config", str(config), "--root", str(root), "--quiet", *extra)  # fmt: skip


def _trials(url: str, study: str):
    st = optuna.load_study(study_name=study, storage=open_storage(url))
    return st.get_trials(deepcopy=False)


def _run_workers(cmds: list[list[str]], cwd: Path, timeout: float = 400) -> None:
    procs = [
        subprocess.Popen(c, cwd=cwd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)  # fmt: skip
        for c in cmds
    ]
    outs = [p.communicate(timeout=timeout) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"worker failed ({p.returncode}):\n{out}\n{err}"


def _distinct(trials) -> list:
    """Trials that evaluated a candidate (not repeats answered from an earlier trial)."""
    return [t for t in trials if "reused_from" not in t.user_attrs]


@pytest.fixture()
def racing_study(tmp_path: Path) -> Path:
    """SMALL_STUDY with 4 clips and racing allowed after 2 of them: the concurrency tests
    run with the Wilcoxon pruner actually stopping candidates."""
    text = SMALL_STUDY.replace("n_clips = 1", "n_clips = 4").replace(
        'sampler = "random"', 'sampler = "random"\nrace_min_clips = 2\np_threshold = 0.3'
    )
    assert "race_min_clips = 2" in text and "n_clips = 4" in text
    p = tmp_path / "racing.toml"
    p.write_text(text)
    return p


def _assert_exact(trials, expected: int) -> None:
    # none lost or doubled: numbers are contiguous, and exactly `expected` distinct candidates
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert len(_distinct(trials)) == expected, [t.state for t in trials]
    assert all(t.state.is_finished() for t in trials)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "journal"])
def test_three_processes_share_one_study(tmp_path, demo_root, racing_study, backend):
    url = f"sqlite:///{tmp_path}/s.db" if backend == "sqlite" else f"journal:///{tmp_path}/s.log"
    cmd = _search_args(url, "shared", racing_study, demo_root, "--trials", "2")
    _run_workers([cmd] * 3, tmp_path)
    trials = _trials(url, "shared")
    _assert_exact(trials, 6)
    # Workers started together must not propose alike (continuous fmin: no chance repeats).
    # Both references are among them, raced on the same clips, each scored once (workers
    # starting together may queue one twice: the later copy ends as a repeat of the first).
    assert sorted(t.user_attrs["reference"] for t in _distinct(trials)
                  if t.user_attrs.get("reference")) == ["stft", "xumx-slicq"]  # fmt: skip
    slicqts = [t.user_attrs.get("spec") for t in _distinct(trials)
               if t.params.get("scale") != "stft"]  # fmt: skip
    slicqts = [s for s in slicqts if s and s.startswith("slicqt:")]
    assert len(set(slicqts)) == len(slicqts), slicqts


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_on_postgresql(tmp_path, demo_root, small_study):
    url = os.environ.get("TFSELECT_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):  # .ci/run starts the server: its absence there is a failure
            pytest.fail("CI without TFSELECT_TEST_POSTGRES_URL: scripts/ci-services.sh failed")
        pytest.skip("TFSELECT_TEST_POSTGRES_URL not set (bash scripts/ci-services.sh sets it)")
    study = f"pg-{uuid.uuid4().hex[:8]}"
    cmd = _search_args(url, study, small_study, demo_root, "--trials", "2")
    _run_workers([cmd] * 2, tmp_path)
    _assert_exact(_trials(url, study), 4)


@pytest.mark.slow
def test_kill_9_keeps_finished_trials_and_resumes(tmp_path, demo_root, racing_study):
    url = f"sqlite:///{tmp_path}/k.db"
    cmd = _search_args(url, "k", racing_study, demo_root, "--trials", "100")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        done: list = []
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if (tmp_path / "k.db").exists():
                try:
                    done = [t for t in _trials(url, "k") if t.state.is_finished()]
                except (KeyError, Exception):  # study not created yet
                    done = []
            if len(done) >= 2:
                break
        assert len(done) >= 2, "the search did not finish 2 trials in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = {t.number: (t.state, t.values) for t in _distinct(_trials(url, "k"))
              if t.state.is_finished()}  # fmt: skip
    assert len(before) >= 2
    subprocess.run(_search_args(url, "k", racing_study, demo_root, "--trials", "2"), cwd=tmp_path,
                   env=cli_env(), check=True, capture_output=True, timeout=300)  # fmt: skip
    after = _trials(url, "k")
    finished = {t.number: (t.state, t.values) for t in _distinct(after) if t.state.is_finished()}
    assert {n: finished[n] for n in before} == before  # nothing finished was lost or changed
    # The killed worker's trial is failed by the next worker on this host (its pid is gone).
    killed = [t for t in _distinct(after) if t.number not in before
              and t.state == optuna.trial.TrialState.FAIL]  # fmt: skip
    assert len(killed) <= 1 and all("worker" in t.user_attrs.get("fail_reason", "")
                                    for t in killed)  # fmt: skip
    assert len(finished) == len(before) + len(killed) + 2  # resumed: exactly two more candidates
    # At most the one trial that was running at the kill is left RUNNING (until its
    # heartbeat grace period lets a later worker mark it FAIL).
    assert sum(t.state == TrialState.RUNNING for t in after) <= 1


@pytest.mark.slow
def test_ctrl_c_stops_cleanly(tmp_path, demo_root, small_study):
    url = f"sqlite:///{tmp_path}/c.db"
    proc = subprocess.Popen(_search_args(url, "c", small_study, demo_root, "--trials", "100"),
                            cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
            try:
                if any(t.state.is_finished() for t in _trials(url, "c")):
                    break
            except Exception:  # storage or study not created yet
                pass
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "rerun the same command to continue" in err and "Traceback" not in err
    trials = _trials(url, "c")
    # Nothing left RUNNING (a queued reference may still be WAITING for the next run).
    assert trials and all(t.state != TrialState.RUNNING for t in trials)
    stopped = [t for t in trials if t.state == TrialState.FAIL]
    assert all(t.user_attrs.get("fail_reason") == "interrupted" for t in stopped)
    assert len(stopped) <= 1


# ----------------------------------------------------------------------------- bad input
runner = CliRunner()


def _bad(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip()
    assert err.startswith("tfselect: error: ") and "\n" not in err, err
    assert "Traceback" not in res.output
    return err


@pytest.fixture(scope="module")
def existing(tmp_path_factory, demo_root):
    """A finished 1-trial study to check that bad commands leave it untouched."""
    d = tmp_path_factory.mktemp("bad")
    cfg = d / "small.toml"
    cfg.write_text(SMALL_STUDY)
    url = f"sqlite:///{d}/b.db"
    res = runner.invoke(app, ["search", "--target", "vocals", "--storage", url, "--study", "b",
                              "--config", str(cfg), "--root", str(demo_root), "--trials", "1",
                              "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    return url, cfg


def _snapshot(url: str):
    st = optuna.load_study(study_name="b", storage=open_storage(url))
    return dict(st.user_attrs), [(t.number, t.state, t.values) for t in st.get_trials()]


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--objective", "sdr"], "unknown metric 'sdr'"),
        (["--sampler", "grid"], "unknown sampler 'grid'"),
        (["--pruner", "median"], "unknown pruner 'median'"),
        (["--root", "/"], "holds no tracks"),
        (["--root", "OTHER"], "scores clips of root"),  # a valid corpus, not the study's
        (["--target", "piano"], "unknown target 'piano'"),
        (["--target", "drums"], "searches target 'vocals', not 'drums'"),
        (["--objective", "irm1"], "has objective 'mpi', not 'irm1'"),
        (["--seconds", "3"], "seconds=2.0, not 3.0"),
        (["--trials", "-1"], "--trials must be in [0,"),
    ],
)
def test_bad_search_input_one_line_exit_2_study_intact(existing, demo_root, extra, words):
    url, cfg = existing
    before = _snapshot(url)
    args = ["search", "--target", "vocals", "--storage", url, "--study", "b", "--config",
            str(cfg), "--root", str(demo_root), "--trials", "1", "--quiet"]  # fmt: skip
    # later options win in click: the extra ones replace the defaults above
    if extra == ["--root", "OTHER"]:
        other = Path(cfg).parent / "other-corpus"
        if not other.exists():
            write_wav_track(other, "train", "One", seconds=3.0)
        extra = ["--root", str(other)]
    err = _bad(args + extra)
    assert words in err
    assert _snapshot(url) == before


@pytest.mark.parametrize(
    "toml, words",
    [
        ("[search]\np_threshold = 1.5\n", "search.p_threshold: must be in (0, 1), got 1.5"),
        ("[search]\npruner = 'hyperband'\n", "unknown pruner 'hyperband'"),
        ("[space]\nstft_window = ['gauss']\n", "unknown value 'gauss'"),
    ],
)
def test_bad_racing_and_pool_settings_one_line(tmp_path, demo_root, toml, words):
    """Bad pruner settings, unknown windows and an empty pool: one line, exit 2, no study."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    url = f"sqlite:///{tmp_path}/bad.db"
    err = _bad(["search", "--target", "vocals", "--config", str(cfg), "--storage", url,
                "--root", str(demo_root), "--trials", "1", "--quiet"])  # fmt: skip
    assert words in err
    if (tmp_path / "bad.db").exists():
        assert not optuna.get_all_study_summaries(open_storage(url))


def test_empty_clip_pool_is_one_line(tmp_path):
    """A corpus whose vocals are silent everywhere: no clip to race on, nothing written."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        d = tmp_path / "silent" / "train" / name
        d.mkdir(parents=True)
        stems = {"drums": rng.normal(0, 0.1, (44100 * 2, 2)), "vocals": np.zeros((88200, 2)),
                 "bass": rng.normal(0, 0.1, (88200, 2)), "other": rng.normal(0, 0.1, (88200, 2))}
        for stem, x in {**stems, "mixture": sum(stems.values())}.items():
            sf.write(d / f"{stem}.wav", x.astype(np.float32), 44100, subtype="FLOAT")
    url = f"sqlite:///{tmp_path}/e.db"
    silent = str(tmp_path / "silent")
    err = _bad(["search", "--target", "vocals", "--storage", url, "--root", silent,
                "--seconds", "1", "--trials", "1", "--quiet"])  # fmt: skip
    assert "the clip pool is empty" in err
    if (tmp_path / "e.db").exists():
        assert not optuna.get_all_study_summaries(open_storage(url))


def test_best_without_a_complete_trial_exits_2(tmp_path, demo_root, small_study):
    url = f"sqlite:///{tmp_path}/none.db"
    runner.invoke(app, ["search", "--target", "bass", "--storage", url, "--study", "z",
                        "--config", str(small_study), "--root", str(demo_root), "--trials",
                        "0", "--quiet"])  # fmt: skip
    err = _bad(["best", "--target", "bass", "--storage", url])
    assert "no complete trial yet for target 'bass'" in err
    err = _bad(["train-best", "--study", "z", "--storage", url, "--out", str(tmp_path / "m")])
    assert "no complete trial yet" in err


def test_empty_space_and_unreachable_storage(tmp_path, demo_root):
    empty = tmp_path / "empty.toml"
    empty.write_text("[space]\nscales = []\nstft = false\n")
    err = _bad(["search", "--target", "bass", "--config", str(empty),
                "--storage", f"sqlite:///{tmp_path}/e.db"])  # fmt: skip
    assert "search space is empty" in err
    err = _bad(["search", "--target", "bass", "--storage",
                "postgresql+psycopg2://me:hunter2@127.0.0.1:1/x"])  # fmt: skip
    assert "cannot open storage" in err and "hunter2" not in err
    err = _bad(["report", "--storage", f"sqlite:///{tmp_path}/none.db", "--out",
                str(tmp_path / "r")])  # fmt: skip
    assert "no such file" in err
    assert not (tmp_path / "none.db").exists()  # reading never creates an empty database
    open_storage(f"sqlite:///{tmp_path}/empty.db")  # exists, holds no study
    err = _bad(["report", "--storage", f"sqlite:///{tmp_path}/empty.db", "--out",
                str(tmp_path / "r")])  # fmt: skip
    assert "no tfselect study" in err
    err = _bad(["best", "--target", "bass", "--storage", f"sqlite:///{tmp_path}/empty.db"])
    assert "no study for target 'bass'" in err
    err = _bad(["best", "--target", "bass", "--storage", f"journal:///{tmp_path}/none.log"])
    assert "no such file" in err and not (tmp_path / "none.log").exists()
