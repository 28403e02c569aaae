"""Property: whatever a user types, a command exits 0, or exits 2 with one line and no traceback.

Hypothesis (derandomized: the same examples on every run) feeds random transform specs,
study TOML files and values of every number option to the real CLI, in-process through
typer's CliRunner. Each command points at a dataset root that does not exist, so an input
that passes every check ends at that root's one-line error instead of running for minutes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tfselect.cli import app

runner = CliRunner()


def _settings(examples: int) -> settings:
    """Derandomized (the same examples every run), no example database, no deadline."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=examples,
                    suppress_health_check=list(HealthCheck))

# Pieces of the spec grammar, recombined with junk: most examples are near-misses.
KINDS = st.sampled_from(["stft", "slicqt", "nsgt", "nsgcq", "mrstft", "ens", "ens:stft",
                         "STFT", "", "foo"])
FIELDS = st.sampled_from(["n_fft", "hop", "scale", "bins", "fmin", "fmax", "gamma", "sllen",
                          "trlen", "phase", "form", "bpo", "rasterize", "edges", "", "x"])
NUMBERS = st.one_of(
    st.integers(-10, 5000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "1e400", "1_0", "٣", "１６", "0x10", "", " ", "true",
                     "bark", "mel", "global", "zeropad", "1e3", "-0", ".5", "300|4000",
                     "4096|1024", "|", "1||2", "512+stft:n_fft=1024"]),
)
SPECS = st.builds(
    lambda kind, items, tail: f"{kind}:" + ",".join(f"{k}={v}" for k, v in items) + tail,
    KINDS, st.lists(st.tuples(FIELDS, NUMBERS), max_size=6),
    st.sampled_from(["", ",", ",,", " ", "=", ":"]),
)
VALUES = st.one_of(
    st.integers(-(10**15), 10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "-inf", "inf", "1e309", "abc", "", "٣", "0x1f", "1_000", "--",
                     "-1", "0", "1", "2.5"]),
    st.text(max_size=4),
)


def _assert_clean(res, args) -> None:
    assert res.exception is None or isinstance(res.exception, SystemExit), (args, res.exception)
    assert res.exit_code in (0, 2), (args, res.exit_code, res.output)
    assert "Traceback" not in res.output, (args, res.output)
    if res.exit_code == 2:
        err = res.stderr.strip()
        assert err.startswith("tfselect: error: ") and "\n" not in err, (args, err)


@pytest.fixture(scope="module")
def nowhere(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prop") / "no-such-root"


@pytest.fixture(autouse=True)
def built_once(monkeypatch):
    """Build the click command of the app once: typer rebuilds it on every invoke (~80 ms),
    which would dominate hundreds of examples."""
    import typer.testing
    from typer.main import get_command

    command = get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command",
                        lambda a: command if a is app else get_command(a))


@_settings(120)
@given(spec=SPECS)
def test_random_specs(spec, nowhere):
    args = ["score", "--target", "bass", "--transform", spec, "--root", str(nowhere)]
    _assert_clean(runner.invoke(app, args), args)


TOML_VALUES = st.one_of(
    st.booleans().map(lambda b: str(b).lower()),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1.5", "0.0", '"1024"', '"bark"', '"all"', "[]",
                     "[true, 10]", "[10, 5]", "[1, 100000000]", "[nan, 1.0]", '["bark"]',
                     '["log", "mel"]', "[4096]", "[2]", "[0]", "[30.0, 22050.0]", "{}"]),
)
TOML_KEYS = st.sampled_from([
    "space.scales", "space.bins", "space.bins_log", "space.fmin", "space.fmax", "space.gamma",
    "space.sllen_max", "space.phase", "space.form", "space.stft", "space.stft_n_fft",
    "space.stft_overlap", "clips.split", "clips.n_clips", "clips.seconds", "clips.max_tracks",
    "clips.skip_silent", "search.objective", "search.sampler", "search.trials",
    "search.metrics", "search.seed", "search.jobs", "space.colour", "other.key",
])


def _toml(pairs: list[tuple[str, str]]) -> str:
    tables: dict[str, list[str]] = {}
    for key, value in pairs:
        table, name = key.split(".")
        tables.setdefault(table, []).append(f"{name} = {value}")
    return "\n".join(f"[{t}]\n" + "\n".join(dict.fromkeys(lines)) for t, lines in tables.items())


@_settings(120)
@given(pairs=st.lists(st.tuples(TOML_KEYS, TOML_VALUES), max_size=5),
       raw=st.one_of(st.none(), st.binary(max_size=20)))
def test_random_study_configs(pairs, raw, nowhere, tmp_path_factory):
    folder = tmp_path_factory.mktemp("toml", numbered=True)
    config = folder / "study.toml"
    config.write_bytes(raw if raw is not None else _toml(pairs).encode())
    args = ["search", "--target", "vocals", "--config", str(config), "--root", str(nowhere),
            "--storage", f"journal:///{folder}/j.log", "--trials", "1", "--quiet"]
    _assert_clean(runner.invoke(app, args), args)


COMMANDS = {
    "score": (["score", "--target", "bass", "--transform", "stft:n_fft=512,hop=128"],
              ["--clips", "--seconds", "--tracks", "--seed"]),
    "search": (["search", "--target", "bass", "--quiet"],
               ["--trials", "--until", "--timeout", "--clips", "--seconds", "--max-tracks",
                "--jobs", "--seed"]),
    "separate": (["separate", "x.wav"], ["--chunk", "--overlap", "--wiener-iterations"]),
    "evaluate": (["evaluate"], ["--tracks", "--jobs", "--duration", "--wiener-iterations"]),
    "train-best": (["train-best", "--quiet", "--spec", "vocals=stft:n_fft=512,hop=128",
                    "--spec", "drums=stft:n_fft=512,hop=128", "--spec",
                    "bass=stft:n_fft=512,hop=128", "--spec", "other=stft:n_fft=512,hop=128"],
                   ["--epochs", "--batch-size", "--chunk", "--steps", "--valid-seconds",
                    "--patience", "--alpha", "--masksum", "--seed"]),
    "report": (["report", "--no-plots"], ["--bootstrap", "--seed"]),
}


@_settings(250)
@given(command=st.sampled_from(sorted(COMMANDS)), data=st.data())
def test_random_option_values(command, data, nowhere, tmp_path_factory):
    folder = tmp_path_factory.mktemp("opt", numbered=True)
    base, options = COMMANDS[command]
    chosen = data.draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True))
    args = list(base)
    for option in chosen:
        args += [option, data.draw(VALUES)]
    # Places that cannot hold anything: no dataset, no model, a fresh journal file.
    if command in ("score", "search", "train-best"):
        args += ["--root", str(nowhere)]
    if command in ("search", "report"):
        args += ["--storage", f"journal:///{folder}/j.log"]
    if command in ("separate", "evaluate"):
        args += ["--model", str(nowhere)]
    if command in ("separate", "train-best", "report"):
        args += ["--out", str(folder / "out")]
    _assert_clean(runner.invoke(app, args), args)
