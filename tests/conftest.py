"""Shared fixtures: a small demo corpus written once per test session, and clips from it.

``demo_root``: a MUSDB18-HQ-layout corpus of 4 train + 1 test synthetic tracks of 8 s
(seed 0): ``tracks_for(root, 'valid')`` is one track, ``'train'`` three, ``'test'`` one.
``clips(**kwargs)``: ``sample_clips(demo_root, **kwargs)``, memoised per argument set
(defaults: subset 'valid', 1 clip of 4 s, seed 0) -- treat the arrays as read-only.
``isolated_env``: no ``$MUSDB_PATH`` and a fresh ``$TFSELECT_CACHE`` for code that
resolves the default root.
``SMALL_STUDY``: a study TOML small enough for tests (two scales, 2-s clips, one track, five
metrics); ``small_study``: that file written to the test's tmp_path.
``cli_env()``: environment for ``python -m tfselect`` subprocesses (this checkout first on
PYTHONPATH, no ``$MUSDB_PATH``).
``one_line_error(result, *words)``: assert a CliRunner result is exit status 2 with one line
``tfselect: error: ...`` holding ``words``.
Every test starts from the same global random state (Python, numpy and torch seeded with
``$TFSELECT_TEST_SEED``, default 0, printed in the session header), so a test that draws from
the global generators (model initialisation, ``torch.randn`` without a generator) is
reproducible whatever runs before it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

DEMO_TRACKS = 4
DEMO_TEST_TRACKS = 1
DEMO_SECONDS = 8.0
REPO = Path(__file__).resolve().parents[1]

# A small search space (two sliCQT scales and short STFTs) that the tests' studies share.
SMALL_SPACE = """
[space]
scales = ["bark", "mel"]
bins = [12, 100]
fmin = [40.0, 120.0]
stft_n_fft = [1024, 2048]
"""

SMALL_STUDY = SMALL_SPACE + """[clips]
n_clips = 1
seconds = 2.0
max_tracks = 1
[search]
metrics = ["mpi", "irm1", "gini", "hoyer", "redundancy"]
sampler = "random"
"""


TEST_SEED = int(os.environ.get("TFSELECT_TEST_SEED", "0"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"random seed: {TEST_SEED} (set TFSELECT_TEST_SEED to change it)"


@pytest.fixture(autouse=True)
def _seed_global_generators() -> None:
    """Seed Python's, numpy's and torch's global generators before every test."""
    import numpy as np
    import torch

    random.seed(TEST_SEED)
    np.random.seed(TEST_SEED)
    torch.manual_seed(TEST_SEED)


def cli_env() -> dict[str, str]:
    """Environment for ``python -m tfselect`` subprocesses run from another folder."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MUSDB_PATH", None)
    return env


def one_line_error(res, *words: str) -> str:
    """Assert the CLI result is exit 2 with one line `tfselect: error: ...`; return it."""
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 2, (res.exit_code, res.output)
    err = res.stderr.strip()
    assert err.startswith("tfselect: error: ") and "\n" not in err, err
    assert "Traceback" not in res.output
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture()
def small_study(tmp_path: Path) -> Path:
    """``SMALL_STUDY`` written to ``tmp_path/small.toml``."""
    p = tmp_path / "small.toml"
    p.write_text(SMALL_STUDY)
    return p


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo corpus (4 train + 1 test tracks of 8 s, seed 0), built once."""
    from tfselect.audio.demo import write_demo_corpus

    out = tmp_path_factory.mktemp("demo") / "corpus"
    return write_demo_corpus(
        out, tracks=DEMO_TRACKS, seconds=DEMO_SECONDS, seed=0, test_tracks=DEMO_TEST_TRACKS
    )


@pytest.fixture(scope="session")
def clips(demo_root: Path) -> Callable[..., list]:
    """Factory: ``clips(subset='valid', n_clips=1, seconds=4.0, seed=0, ...)`` -> list[Clip]."""
    from tfselect.audio.clips import sample_clips

    cache: dict[tuple, list] = {}

    def make(**kwargs) -> list:
        kwargs = {"subset": "valid", "n_clips": 1, "seconds": 4.0, "seed": 0, **kwargs}
        key = tuple(sorted(kwargs.items()))
        if key not in cache:
            cache[key] = sample_clips(demo_root, **kwargs)
        return cache[key]

    return make


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Unset ``$MUSDB_PATH`` and point ``$TFSELECT_CACHE`` at a fresh folder (returned)."""
    cache = tmp_path / "cache"
    monkeypatch.delenv("MUSDB_PATH", raising=False)
    monkeypatch.setenv("TFSELECT_CACHE", str(cache))
    return cache


def write_wav_track(
    root: Path,
    subset: str,
    name: str,
    seconds: float = 0.2,
    seed: int = 0,
    overrides: dict[str, dict] | None = None,
) -> Path:
    """Write a tiny MUSDB18-HQ track of noise (float32, stereo, 44.1 kHz) and return its folder.

    ``overrides[source]`` changes one file: ``{'frames': n}``, ``{'samplerate': sr}``,
    ``{'channels': c}``, ``{'silent': True}``, ``{'text': '...'}`` (a non-audio file) or
    ``{'missing': True}``. The mixture is the sum of the stems (where lengths allow).
    """
    import numpy as np
    import soundfile as sf

    overrides = overrides or {}
    folder = root / subset / name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(round(seconds * 44100))
    stems = {}
    for source in ("vocals", "drums", "bass", "other"):
        silent = overrides.get(source, {}).get("silent", False)
        x = np.zeros((n, 2)) if silent else 0.1 * rng.standard_normal((n, 2))
        stems[source] = x.astype(np.float32)
    audio = {"mixture": sum(stems.values()).astype(np.float32), **stems}
    for source, x in audio.items():
        opt = overrides.get(source, {})
        path = folder / f"{source}.wav"
        if opt.get("missing"):
            continue
        if "text" in opt:
            path.write_text(opt["text"])
            continue
        x = x[: opt.get("frames", n)]
        if "frames" in opt and opt["frames"] > n:
            x = np.concatenate([x, np.zeros((opt["frames"] - n, 2), np.float32)])
        channels = opt.get("channels", 2)
        x = x[:, :1] if channels == 1 else np.repeat(x[:, :1], channels, 1) if channels > 2 else x
        sf.write(str(path), x, opt.get("samplerate", 44100), subtype="FLOAT")
    return folder


@pytest.fixture
def wav_track() -> Callable[..., Path]:
    """The :func:`write_wav_track` factory, for tests that need a hand-made root."""
    return write_wav_track
