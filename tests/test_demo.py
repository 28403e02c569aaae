"""`make demo` end to end: scripts/demo.sh (what the Makefile runs) with tiny sizes.

The script runs every command of the pipeline (demo-data, a search per target, report,
train-best, evaluate, separate); the test then checks what each step left behind against
the next step's needs, and the summary against the files it was read from.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys

import pandas as pd
import pytest
import soundfile as sf
from conftest import REPO, SMALL_STUDY, cli_env

from tfselect import TARGETS
from tfselect.demix.model_files import load_model


def test_makefile_runs_the_demo_script_with_its_variables():
    res = subprocess.run(["make", "-n", "-s", "-o", ".venv/.installed", "demo", "TRIALS=3",
                          "EPOCHS=2", "BASELINES=stft"], cwd=REPO, capture_output=True,
                         text=True, check=True)  # fmt: skip
    words = shlex.split(res.stdout.replace("\\\n", " "))
    assert words[-2:] == ["bash", "scripts/demo.sh"]
    env = dict(w.split("=", 1) for w in words[:-2])
    assert env["TRIALS"] == "3" and env["EPOCHS"] == "2" and env["BASELINES"] == "stft"
    assert env["TFSELECT"].endswith("/bin/tfselect") and env["PYTHON"].endswith("/bin/python")


def _run_demo(folder, env) -> str:
    """scripts/demo.sh run in ``folder``; its stdout, after checking it exited 0."""
    # Its own process group, so a timeout stops the running tfselect command too.
    proc = subprocess.Popen(["bash", str(REPO / "scripts" / "demo.sh")], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=1800)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"{out}\n{err}"
    return out


@pytest.mark.slow
def test_demo_script_runs_the_whole_pipeline(tmp_path):
    (tmp_path / "small.toml").write_text(SMALL_STUDY)
    env = {
        **cli_env(),
        "TFSELECT": f"{sys.executable} -m tfselect",
        "PYTHON": sys.executable,
        "TRIALS": "2",
        "CLIP_SECONDS": "2",
        "SEARCH_OPTS": "--config small.toml",
        "BOOTSTRAP": "20",
        "EPOCHS": "1",
        "STEPS": "2",
        "CHUNK": "1",
        "VALID_SECONDS": "1",
        "BATCH_SIZE": "2",
        "TRAIN_OPTS": "--no-augment",
        "DEMO_ROOT": "data/demo",  # a tiny corpus of its own, not the built-in one
        "CORPUS_TRACKS": "2",
        "CORPUS_SECONDS": "4",
        "QUIET": "1",
    }
    out = _run_demo(tmp_path, env)
    # Every step ran, in workflow order, each printed before it ran.
    steps = re.findall(r"^\$ tfselect (\S+)", out, flags=re.M)
    assert steps == ["demo-data", *["search"] * 4, "report", "train-best", "evaluate",
                     "separate"]  # fmt: skip
    # One study per target, named <study>-<target>, all in one report: best.csv has all four.
    for t in TARGETS:
        assert f"study demo-{t} now holds" in out
    best = pd.read_csv(tmp_path / "reports" / "demo" / "best.csv")
    best_rows = best[best["candidate"] == "best"].drop_duplicates("target").set_index("target")
    assert set(best_rows.index) == set(TARGETS)
    assert set(best_rows["study"]) == {f"demo-{t}" for t in TARGETS}
    # train-best used exactly the selected specs (the best, or the better reference when the
    # best is not significantly better).
    rows = best[best["selected"].astype(bool)].drop_duplicates("target").set_index("target")
    assert set(rows.index) == set(TARGETS)
    model = load_model(tmp_path / "models" / "demo")
    assert {t: str(model.config.specs[t]) for t in TARGETS} == rows["spec"].to_dict()
    # The summary: best spec per target, the evaluation's medians, the stems.
    # At most 80 columns (the stems' paths aside); per target a heading, then the spec
    # train-best used (wrapped after its commas when long).
    summary = out[out.index("== best transform per target") :]
    assert all(len(x) <= 80 for x in summary.splitlines() if "separated/" not in x), summary
    blocks = re.split(r"\n(?=\S)", summary[: summary.index("== median SDR")])
    for t in TARGETS:
        block = next(b for b in blocks if b.startswith(f"{t} · "))
        assert rows.loc[t, "spec"] in re.sub(r",\s+", ",", block), block
    medians = pd.read_csv(tmp_path / "models" / "demo" / "eval-test" / "medians.csv")
    sdr = summary[summary.index("== median SDR") : summary.index("== stems")]
    for t, v in medians.set_index("target")["SDR"].items():
        assert re.search(rf"^{t}\s+{'NaN' if pd.isna(v) else f'{v:.2f}'}\s*$", sdr, re.M), sdr
    stems = sorted((tmp_path / "separated" / "demo").rglob("*.wav"))
    assert sorted(p.stem for p in stems) == sorted(TARGETS)
    mixture = next((tmp_path / "data" / "demo" / "test").rglob("mixture.wav"))
    for p in stems:
        assert f"  {p.relative_to(tmp_path)}" in summary
        assert sf.info(p).frames == sf.info(mixture).frames
    # The same command again: it passes, the searches add trials, the stems are replaced.
    def held(text: str, t: str) -> int:  # complete + pruned + failed candidates
        m = re.search(rf"study demo-{t} now holds (\d+) complete, (\d+) pruned, (\d+) failed",
                      text)  # fmt: skip
        return sum(map(int, m.groups()))

    again = _run_demo(tmp_path, env)
    for t in TARGETS:
        assert held(again, t) > held(out, t), t
    assert sorted((tmp_path / "separated" / "demo").rglob("*.wav")) == stems


@pytest.mark.parametrize(("args", "producer"), [
    (["train-best", "--best", "{tmp}/reports/best.csv", "--out", "{tmp}/m"],
     "tfselect report --out {tmp}/reports"),
    (["train-best", "--study", "demo", "--storage", "sqlite:///{tmp}/s.db", "--out", "{tmp}/m"],
     "tfselect search --target TARGET --study demo-TARGET"),
    (["evaluate", "--model", "{tmp}/m"], "tfselect train-best --out {tmp}/m"),
    (["separate", "--model", "{tmp}/m", "{tmp}/song.wav"], "tfselect train-best --out {tmp}/m"),
    (["report", "--model", "{tmp}/m", "--out", "{tmp}/r"], "tfselect evaluate --model {tmp}/m"),
])  # fmt: skip
def test_a_missing_prerequisite_names_the_command_that_makes_it(tmp_path, args, producer):
    from typer.testing import CliRunner

    from tfselect.cli import app

    res = CliRunner().invoke(app, [a.format(tmp=tmp_path) for a in args])
    assert res.exit_code == 2
    assert res.output.startswith("tfselect: error:") and len(res.output.splitlines()) == 1
    assert f"`{producer.format(tmp=tmp_path)}" in res.output, res.output


def test_the_torch_build_chosen_for_setup_reaches_pip(tmp_path):
    """`make setup TORCH_INDEX_URL=...` (a CUDA build) reaches scripts/setup.sh and its pip
    call; without it, pip gets the pinned CPU wheel and no index. Run with stub programs:
    a fake interpreter that records its pip arguments, and a fake ffmpeg."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pip.log"
    fake_python = bin_dir / "python"
    # Plays `python -m venv DIR` (makes DIR/bin/python, this script) and `python -m pip ...`
    # (records the arguments).
    fake_python.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1 $2" = "-m venv" ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; exit 0; fi\n'
        f'echo "$*" >> {log}\n'
    )
    fake_python.chmod(0o755)
    (bin_dir / "ffmpeg").write_text("#!/bin/sh\n")
    (bin_dir / "ffmpeg").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    venv = tmp_path / "venv"

    def setup(*make_vars: str) -> list[str]:
        log.unlink(missing_ok=True)
        if venv.exists():
            import shutil

            shutil.rmtree(venv)
        subprocess.run(["make", "setup", f"VENV={venv}", f"PYTHON={fake_python}", *make_vars],
                       cwd=REPO, env=env, capture_output=True, text=True, check=True)  # fmt: skip
        return [line for line in log.read_text().splitlines() if "torch" in line]

    cuda = setup("TORCH_INDEX_URL=file:///wheels/cu126")
    assert cuda == ["-m pip --disable-pip-version-check -q install torch==2.13.0 "
                    "--index-url file:///wheels/cu126"]  # fmt: skip
    cpu = setup()
    assert cpu == ["-m pip --disable-pip-version-check -q install torch==2.13.0"]
