"""Ctrl-C and SIGTERM end a command with one line and exit status 130, whenever they come.

A parallel search (``--jobs 2``) used to leave trials RUNNING: a second signal raised
KeyboardInterrupt in the main thread while it joined the worker threads, and on Python <= 3.11
a join cut that way marks the running thread dead (CPython gh-90882), so the interpreter
exited under a worker still in torch (reported as segfaults). A Ctrl-C in the first second
(the CLI's imports) printed a traceback, or nothing, ended with status -2, or aborted the
process inside torch's import.

Each case runs several times: the outcome depends on where the signal lands.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import cli_env
from optuna.trial import TrialState

CASES = {
    "SIGTERM": (signal.SIGTERM,),
    "SIGINT": (signal.SIGINT,),
    # the second one lands while the main thread waits for the workers to stop
    "SIGTERM+SIGINT": (signal.SIGTERM, signal.SIGINT),
}


def _search(tmp_path: Path, demo_root: Path, config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tfselect", "search", "--target", "vocals",
            "--storage", f"sqlite:///{tmp_path}/s.db", "--study", "s", "--config", str(config),
            "--root", str(demo_root), "--quiet", *extra]  # fmt: skip


def _start(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start ``cmd`` as from a terminal: Ctrl-C not ignored, even when these tests run in a
    job a script started with `&` (its children inherit SIGINT ignored, and tfselect leaves
    it so)."""
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _trials(tmp_path: Path) -> list:
    st = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/s.db")
    return st.get_trials(deepcopy=False)


def _wait_for_running(proc: subprocess.Popen, tmp_path: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        try:
            if any(t.state == TrialState.RUNNING for t in _trials(tmp_path)):
                return
        except Exception:  # storage or study not created yet
            pass
    pytest.fail(f"no trial started in time (exit status {proc.poll()})")


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("case", list(CASES))
def test_signals_stop_a_parallel_search(tmp_path, demo_root, small_study, case, attempt):
    cmd = _search(tmp_path, demo_root, small_study, "--trials", "100", "--jobs", "2")
    proc = _start(cmd, tmp_path, cli_env())
    try:
        _wait_for_running(proc, tmp_path)
        for sig in CASES[case]:
            proc.send_signal(sig)
            time.sleep(0.2)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    # 130, not a negative status (killed by a signal: -11 is the segfault) nor a traceback
    assert proc.returncode == 130, (proc.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "rerun the same command to continue" in lines[0], err
    trials = _trials(tmp_path)
    # Every trial the workers were running is finished: FAIL "interrupted", or done.
    assert trials and not [t.number for t in trials if t.state == TrialState.RUNNING]
    assert all(t.user_attrs.get("fail_reason") == "interrupted"
               for t in trials if t.state == TrialState.FAIL)  # fmt: skip


# Imported by Python itself once its own start-up is done (site): before it, a Ctrl-C can
# only be Python's own traceback (that takes ~40 ms, far more on a busy machine).
SITECUSTOMIZE = """
import os, pathlib
pathlib.Path(os.environ["TFSELECT_TEST_STARTED"]).touch()
"""


def _handles_sigterm(pid: int) -> bool:
    """Whether the process has a SIGTERM handler (the first thing tfselect installs)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone already
        return True
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (signal.SIGTERM - 1) & 1)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
@pytest.mark.parametrize("delay", [0.05, 0.1, 0.2, 0.3])
@pytest.mark.parametrize("command", ["score", "search"])
def test_early_ctrl_c_is_one_line(tmp_path, demo_root, small_study, command, delay):
    """Ctrl-C while the command is still importing (typer, pydantic, numpy, torch)."""
    if command == "score":
        cmd = [sys.executable, "-m", "tfselect", "score", "--target", "drums",
               "--root", str(demo_root), "--transform", "stft:n_fft=1024,hop=256",
               "--clips", "1", "--seconds", "2"]  # fmt: skip
    else:
        cmd = _search(tmp_path, demo_root, small_study, "--trials", "1")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    started = tmp_path / "started"
    env = cli_env()
    env["PYTHONPATH"] += os.pathsep + str(tmp_path / "site")
    env["TFSELECT_TEST_STARTED"] = str(started)
    start = time.monotonic()
    proc = _start(cmd, tmp_path, env)
    try:
        while not started.exists() and time.monotonic() - start < 30:
            time.sleep(0.001)
        # Then runpy finds and compiles tfselect/__main__.py, whose first act is to handle
        # SIGTERM. Wait for it, though no more than 0.2 s (so that a tfselect that installed
        # its handling later would still get its Ctrl-C during the imports).
        handled = time.monotonic() + 0.2
        while not _handles_sigterm(proc.pid) and time.monotonic() < handled:
            time.sleep(0.001)
        time.sleep(max(start + delay - time.monotonic(), 0))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfselect: interrupted"), err
