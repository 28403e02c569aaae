"""tfselect.api: the README's examples run; checks are the library's; faces import lightly.

Every error a user can cause is a one-line ``TfselectError`` raised by the API itself
(the command line adds nothing), and importing one module of a package does not load what
the rest needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

from tfselect import api
from tfselect.errors import TfselectError

README = (REPO / "README.md").read_text()


def api_blocks() -> list[str]:
    """The Python blocks of the README's "Python API" section, in order."""
    section = README[README.index("\n## Python API\n") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(r"^```python\n(.*?)^```", section, re.M | re.S)


@pytest.mark.slow
def test_the_readme_api_examples_run(tmp_path, monkeypatch, demo_root, capsys):
    blocks = api_blocks()
    assert len(blocks) >= 3
    monkeypatch.setenv("MUSDB_PATH", str(demo_root))
    shutil.copytree(next((demo_root / "test").iterdir()), tmp_path / "song")
    monkeypatch.chdir(tmp_path)
    for block in blocks:  # one after the other: each reads what the previous wrote
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "reports/api/best.csv" in out
    written = sorted(p.name for p in (tmp_path / "separated" / "song").iterdir())
    assert written == ["bass.wav", "residual.wav", "vocals.wav"]


def test_every_name_the_face_lists_loads():
    for name in api.__all__:
        assert callable(getattr(api, name)), name


def test_the_face_loads_nothing_heavy():
    code = ("import sys, tfselect.api, tfselect.report.best, tfselect.search.storage, "
            "tfselect.metrics, tfselect.audio, tfselect.transforms; "
            "print(sorted(m for m in ('torch', 'optuna', 'tfselect.search.run') "
            "if m in sys.modules))")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)  # fmt: skip
    assert res.stdout.strip() == "[]"


@pytest.mark.parametrize(("call", "message"), [
    (lambda: api.demo_data("x", tracks=0), "--tracks must be in [1, 10000], got 0"),
    (lambda: api.demo_data("x", seed=-1), "--seed must be in [0, 4294967295], got -1"),
    (lambda: api.score("vocals", "stft:n_fft=512,hop=128", clips=0),
     "--clips must be in [1, 10000], got 0"),
    (lambda: api.search("vocals", jobs=2000), "--jobs must be in [1, 1024], got 2000"),
    (lambda: api.train_best(spec=["vocals=stft:n_fft=512,hop=128"], preset="huge"),
     "--preset must be small or large, got 'huge'"),
    (lambda: api.train_best(spec=["vocals=stft:n_fft=512,hop=128"], network="rnn"),
     "--network must be auto, blstm, cdae or convnext, got 'rnn'"),
    (lambda: api.train_best(spec=["vocals=stft:n_fft=512,hop=128"], patience=0),
     "--patience must be positive, got 0"),
    (lambda: api.train_best(spec=["vocals=stft:n_fft=512,hop=128"], deoverlap="learned"),
     "--deoverlap learned needs a branch on a ragged sliCQT; these are all matrix forms: "
     "stft:n_fft=512,hop=128"),
    (lambda: api.evaluate("m", wiener_iterations=0),
     "--wiener-iterations must be in [1, 20], got 0"),
    (lambda: api.compare("o", chunk=0.01), "--chunk must be in [0.1, 600], got 0.01"),
    (lambda: api.deoverlap_train("stft:n_fft=512,hop=128", "o"),
     "de-overlap needs a ragged sliCQT (slices overlap only there), got stft in "
     "stft:n_fft=512,hop=128; use a slicqt: spec without form= (or form=ragged)"),
    (lambda: api.verify(seconds=-1.0), "--seconds must be in [0, 3600], got -1.0"),
])  # fmt: skip
def test_the_api_checks_its_arguments(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, and nothing is there to read
    with pytest.raises(TfselectError) as info:
        call()
    assert str(info.value) == message
    assert list(tmp_path.iterdir()) == []


def test_the_stft_baseline_is_a_blstm_unless_told_otherwise():
    specs, networks = api.train_specs(baseline="stft")
    assert set(specs.values()) == {"stft:n_fft=4096,hop=1024"}
    assert networks == dict.fromkeys(specs, "blstm")
    assert set(api.train_specs(baseline="stft", network="cdae")[1].values()) == {"cdae"}
    assert set(api.train_specs(baseline="shared-slicqt")[1].values()) == {"auto"}
    # per target: the others keep the baseline's auto (the STFT baseline's: a BLSTM)
    assert api.train_specs(baseline="stft", network="vocals=convnext")[1] == {
        "vocals": "convnext",
        "drums": "blstm",
        "bass": "blstm",
        "other": "blstm",
    }


def test_a_name_stays_its_function_after_its_module_of_the_same_name_is_imported():
    # metrics.score is a function in metrics/score.py: importing the module first must not
    # hide the function behind it (the import system binds the module on the package).
    code = ("import types\nfrom tfselect.metrics.score import ClipScorer\n"
            "from tfselect.metrics import score\nimport tfselect.metrics as m\n"
            "print(isinstance(score, types.FunctionType), m.score is score)")  # fmt: skip
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO)  # fmt: skip
    assert res.stdout.split() == ["True", "True"]
