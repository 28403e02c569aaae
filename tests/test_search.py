"""Search machinery in-process: objectives, space, config, storage, study tags, run_search.

Scoring uses the real ``tfselect.metrics.score`` on one 2-second demo clip with a cheap metric
subset, so each trial takes well under a second.
"""

from __future__ import annotations

import math

import optuna
import pytest
from conftest import REPO
from optuna.trial import TrialState

from tfselect.errors import SpecError, TfselectError
from tfselect.search.config import StudyConfig, load_config
from tfselect.search.objectives import parse_objectives
from tfselect.search.run import REFERENCES, TrialObjective, run_search
from tfselect.search.space import SearchSpace, check_slice_length
from tfselect.search.storage import open_storage, redact
from tfselect.search.study import baselines, make_sampler, read_tags
from tfselect.transforms import TransformSpec


@pytest.fixture()
def small_config(small_study) -> StudyConfig:
    return load_config(small_study)


# ----------------------------------------------------------------------------- objectives
def test_objective_syntax_and_directions():
    o = parse_objectives("mpi")
    assert o.text == "mpi" and o.directions == ["maximize"] and len(o) == 1
    o = parse_objectives(" mpi + 0.5 * irm1 ")
    assert o.text == "mpi+0.5*irm1"
    assert o.primary.value({"mpi": 10.0, "irm1": 4.0}) == pytest.approx(12.0)
    o = parse_objectives("mpi-0.2*redundancy,redundancy")
    assert o.directions == ["maximize", "minimize"]
    assert o.values({"mpi": 5.0, "redundancy": 2.0}) == pytest.approx([4.6, 2.0])
    assert o.metrics == ("mpi", "redundancy")
    assert parse_objectives("min:mpi").directions == ["minimize"]
    assert parse_objectives("min:mpi").text == "min:mpi"
    assert parse_objectives("-redundancy").directions == ["maximize"]  # = minimise redundancy
    assert parse_objectives("max:mpi").text == "mpi"  # default prefix dropped
    assert math.isnan(parse_objectives("mpi").primary.value({"gini": 1.0}))


@pytest.mark.parametrize(
    "text, words",
    [
        ("sdr", "unknown metric 'sdr'"),
        ("mpi+", "cannot read"),
        ("mpi irm1", "cannot read"),
        ("", "empty"),
        ("mpi,,irm1", "empty item"),
        ("mpi,mpi", "twice"),
    ],
)
def test_objective_errors(text, words):
    with pytest.raises(TfselectError, match=words):
        parse_objectives(text)


# ----------------------------------------------------------------------------- space
def test_space_suggests_valid_canonical_specs():
    space = SearchSpace(scales=("log", "mel", "bark", "vqlog"), phase=("local", "global"))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    kinds = set()
    for _ in range(60):
        trial = study.ask()
        text = space.suggest(trial)
        spec = TransformSpec.parse(text)
        assert str(spec) == text  # canonical: what the trials store equals the spec string
        kinds.add(spec.kind)
        if spec.kind == "slicqt":
            assert 10 <= spec.bins <= 1000 and 10.0 <= spec.fmin <= 130.0
            assert ("gamma" in trial.params) == (spec.scale == "vqlog")
        study.tell(trial, 0.0)
    assert kinds == {"slicqt", "stft"}


def test_slice_length_cap():
    ok = TransformSpec.parse("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050")
    check_slice_length(ok, 44100, 44100)  # needs 18060 samples
    with pytest.raises(SpecError, match="slice length 18060"):
        check_slice_length(ok, 44100, 10000)
    check_slice_length(TransformSpec.parse("stft:n_fft=4096,hop=1024"), 44100, 16)


@pytest.mark.parametrize(
    "table, words",
    [
        ({"scales": [], "stft": False}, "search space is empty"),
        ({"scales": ["cqt"]}, "unknown value 'cqt'"),
        ({"bins": [300, 10]}, "above high"),
        ({"fmin": [10, 30000]}, "not below"),
        ({"binz": [1, 2]}, "unknown key 'binz'"),
    ],
)
def test_space_errors(table, words):
    with pytest.raises(TfselectError, match=words):
        SearchSpace.from_dict(table)


def test_default_toml_equals_builtin_defaults():
    assert load_config(REPO / "studies" / "default.toml") == load_config(None)


def test_config_errors(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[clips]\nsecondz = 3\n")
    with pytest.raises(TfselectError, match="clips: unknown key 'secondz'"):
        load_config(p)
    p.write_text("[search\n")
    with pytest.raises(TfselectError, match="TOML syntax error"):
        load_config(p)
    with pytest.raises(TfselectError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(TfselectError, match="n_clips"):
        load_config(None).override(n_clips=0)


# ----------------------------------------------------------------------------- storage
def test_storage_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    open_storage("sqlite:///a/b/s.db")
    assert (tmp_path / "a" / "b" / "s.db").exists()  # relative path, parent created
    open_storage("journal:///j/s.log")
    assert (tmp_path / "j" / "s.log").exists()
    with pytest.raises(TfselectError, match="unknown scheme 'redis'"):
        open_storage("redis://localhost")
    with pytest.raises(TfselectError, match="not a URL"):
        open_storage("studies/x.db")
    shown = r"cannot open storage postgresql\+psycopg2://u:\*\*\*@127.0.0.1:1/db: .*refused"
    with pytest.raises(TfselectError, match=shown):
        open_storage("postgresql+psycopg2://u:secret@127.0.0.1:1/db")
    assert redact("postgresql://me:pw@h/db") == "postgresql://me:***@h/db"


def test_metric_selection():
    from tfselect.search.run import resolve_metrics

    obj = parse_objectives("mpi-0.1*redundancy")
    assert resolve_metrics(["gini", "oracles"], obj) == (
        "mpi", "redundancy", "gini", "irm1", "irm2", "ibm",
    )  # fmt: skip
    assert len(resolve_metrics("all", obj)) == 16
    with pytest.raises(TfselectError, match="unknown metric 'sdr'"):
        resolve_metrics(["sdr"], obj)


def test_samplers():
    for name in ("tpe", "random", "cmaes", "nsga2"):
        assert make_sampler(name, 0, 1) is not None
    with pytest.raises(TfselectError, match="unknown sampler 'grid'"):
        make_sampler("grid", 0, 1)
    with pytest.raises(TfselectError, match="one objective only"):
        make_sampler("cmaes", 0, 2)


# ----------------------------------------------------------------------------- run_search
def _trials(url: str, name: str):
    st = optuna.load_study(study_name=name, storage=open_storage(url))
    return st, st.get_trials(deepcopy=False)


def test_run_search_resumes_and_stores_every_metric(tmp_path, demo_root, small_config):
    url = f"sqlite:///{tmp_path}/s.db"
    r1 = run_search("vocals", storage=url, config=small_config, root=demo_root, trials=2,
                    progress=False)  # fmt: skip
    assert r1.ran == 2 and r1.study == "vocals"
    r2 = run_search("vocals", storage=url, config=small_config, root=demo_root, trials=1,
                    progress=False)  # fmt: skip
    assert r2.ran == 1
    st, trials = _trials(url, "vocals")
    assert len(trials) == 3 and all(t.state.is_finished() for t in trials)
    tags = read_tags(st)
    assert tags.target == "vocals" and tags.objective == "mpi"
    assert tags.clips["seconds"] == 2.0 and tags.root == str(demo_root.resolve())
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert done, "no complete trial"
    for t in done:
        assert {"spec", "mpi", "gini", "redundancy", "n_clips"} <= set(t.user_attrs)
        assert t.values[0] == pytest.approx(t.user_attrs["mpi"])
    refs = baselines(st)
    assert set(refs) == set(REFERENCES.values())
    assert all(math.isfinite(m["mpi"]) for m in refs.values())
    # --until N counts complete trials of the study and runs only what is missing.
    n_complete = len(done)
    r3 = run_search("vocals", storage=url, config=small_config, root=demo_root,
                    until=n_complete + 1, progress=False)  # fmt: skip
    assert r3.complete >= n_complete + 1


def test_invalid_candidates_are_pruned_with_reason(tmp_path, demo_root, small_config, monkeypatch):
    from dataclasses import replace

    cfg = replace(small_config, space=replace(small_config.space, sllen_max=64, stft=False))
    url = f"sqlite:///{tmp_path}/p.db"
    r = run_search("bass", storage=url, study="tiny", config=cfg, root=demo_root, trials=3,
                   progress=False)  # fmt: skip
    assert r.ran == 3 and r.pruned == 3 and r.best_spec is None
    _, trials = _trials(url, "tiny")
    assert all("above the cap sllen_max=64" in t.user_attrs["fail_reason"] for t in trials)
    # --until on a space that never completes a trial gives up instead of looping forever.
    monkeypatch.setattr("tfselect.search.run.GIVE_UP_AFTER", 4)
    r = run_search("bass", storage=url, study="tiny", config=cfg, root=demo_root, until=1,
                   progress=False)  # fmt: skip
    assert r.ran == 4 and r.complete == 0


def test_scorer_errors_fail_one_trial_only(tmp_path, demo_root, small_config):
    calls = []

    def flaky(spec, target, clips, metrics=None, device="cpu"):
        calls.append(str(spec))
        if len(calls) % 2:
            raise RuntimeError("out of memory (simulated)")
        return {"mpi": float(len(calls)), "gini": 0.5, "redundancy": 2.0, "n_clips": 1}

    url = f"sqlite:///{tmp_path}/f.db"
    r = run_search("drums", storage=url, config=small_config, root=demo_root, trials=4,
                   progress=False, scorer=flaky)  # fmt: skip
    assert r.ran == 4 and r.failed >= 1 and r.complete + r.pruned + r.failed == 4
    _, trials = _trials(url, "drums")
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert all("RuntimeError: out of memory" in t.user_attrs["fail_reason"] for t in failed)


def test_repeated_spec_reuses_scores():
    class Counting:
        n = 0

        def __call__(self, spec, target, clips, metrics=None, device="cpu"):
            self.n += 1
            return {"mpi": 7.0, "gini": 0.5, "redundancy": 2.0}

    scorer = Counting()
    space = SearchSpace(scales=(), stft=True, stft_n_fft=(2048,))
    obj = TrialObjective(space, parse_objectives("mpi"), "vocals", [], ["mpi", "gini"],
                         scorer=scorer)  # fmt: skip
    study = optuna.create_study(direction="maximize")
    study.optimize(obj, n_trials=3)
    assert scorer.n == 1
    assert [t.user_attrs.get("reused_from") for t in study.trials] == [None, 0, 0]
    assert all(t.value == 7.0 for t in study.trials)


def test_other_target_is_refused_and_study_untouched(tmp_path, demo_root, small_config):
    url = f"sqlite:///{tmp_path}/t.db"
    run_search("vocals", storage=url, study="s", config=small_config, root=demo_root, trials=1,
               progress=False)  # fmt: skip
    before = _trials(url, "s")
    attrs = dict(before[0].user_attrs)
    with pytest.raises(TfselectError, match="searches target 'vocals', not 'drums'"):
        run_search("drums", storage=url, study="s", config=small_config, root=demo_root,
                   trials=1, progress=False)  # fmt: skip
    from dataclasses import replace

    other = replace(small_config, search=replace(small_config.search, objective="irm1"))
    with pytest.raises(TfselectError, match="objective 'mpi', not 'irm1'"):
        run_search("vocals", storage=url, study="s", config=other, root=demo_root, trials=1,
                   progress=False)  # fmt: skip
    # Optuna cannot change categorical choices within a study: refused up front, one line.
    narrow = replace(small_config, space=replace(small_config.space, scales=("log",)))
    with pytest.raises(TfselectError, match="searches scales=\\['bark', 'mel'\\], not \\['log'\\]"):
        run_search("vocals", storage=url, study="s", config=narrow, root=demo_root, trials=1,
                   progress=False)  # fmt: skip
    # Numeric ranges may change (e.g. to widen bins).
    wider = replace(small_config, space=replace(small_config.space, bins=(12, 200)))
    run_search("vocals", storage=url, study="s", config=wider, root=demo_root, trials=1,
               progress=False)  # fmt: skip
    after = _trials(url, "s")
    assert len(after[1]) == len(before[1]) + 1 and dict(after[0].user_attrs) == attrs


def test_bare_postgresql_url_uses_the_installed_driver():
    # SQLAlchemy maps postgresql:// to psycopg 3 (not installed): the error must be about the
    # server, not about a missing module.
    with pytest.raises(TfselectError) as err:
        open_storage("postgresql://u:secret@127.0.0.1:1/db")
    assert "install" not in str(err.value).lower() and "secret" not in str(err.value)
