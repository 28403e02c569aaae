"""Search machinery in-process: objectives, space, config, storage, study tags, run_search.

Scoring uses the real ``tfselect.metrics.score`` on one 2-second demo clip with a cheap metric
subset, so each trial takes well under a second.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from conftest import REPO
from optuna.trial import TrialState

from tfselect.errors import SpecError, TfselectError
from tfselect.search.config import StudyConfig, load_config
from tfselect.search.objectives import parse_objectives
from tfselect.search.ranking import best_trial, clip_values, reference_trials
from tfselect.search.run import run_search
from tfselect.search.space import WINDOWS, SearchSpace
from tfselect.search.storage import open_storage, redact
from tfselect.search.study import REFERENCES, make_pruner, make_sampler, read_tags
from tfselect.search.trial import TrialObjective
from tfselect.transforms import TransformSpec

# the references as the text the studies store
REF_TEXT = {name: str(spec) for name, spec in REFERENCES.items()}

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
        else:
            assert 512 <= spec.n_fft <= 16384 and spec.n_fft % 512 == 0
            assert spec.n_fft // spec.hop in (2, 4, 8) and spec.window in WINDOWS[:3]
        study.tell(trial, 0.0)
    assert kinds == {"slicqt", "stft"}


@pytest.mark.parametrize("sllen_max, fmin", [(44100, (10.0, 130.0)), (16384, (40.0, 130.0))])
def test_space_never_proposes_an_infeasible_candidate(sllen_max, fmin):
    """Property over many seeded draws: every proposal fits the slice-length cap, and the
    bins still reach the cap's neighbourhood (the range is constrained, not collapsed)."""
    space = SearchSpace(sllen_max=sllen_max, stft=False, fmin=fmin,
                        scales=("log", "mel", "bark", "vqlog"))  # fmt: skip
    space.validate()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=sllen_max))
    top = 0
    for _ in range(400):
        trial = study.ask()
        spec = space.propose(trial)
        sllen = spec.resolved(44100).sllen
        assert sllen <= sllen_max, str(spec)
        top = max(top, sllen)
        study.tell(trial, 0.0)
    assert top > 0.7 * sllen_max


@pytest.mark.parametrize("spec", [*REF_TEXT.values(), "stft:n_fft=6144,hop=768,window=blackman",
                                  "slicqt:scale=vqlog,bins=80,fmin=40.5,fmax=22050,gamma=12.3"])
def test_params_for_reproduce_a_spec_through_propose(spec):
    """The references are enqueued with the parameters that make the space propose them."""
    space = SearchSpace()
    params = space.params_for(TransformSpec.parse(spec))
    assert params is not None
    study = optuna.create_study()
    study.enqueue_trial(params)
    assert str(space.propose(study.ask())) == spec
    assert SearchSpace(scales=("log",)).params_for(REFERENCES["xumx-slicq"]) is None


def test_references_read_and_write_the_texts_stored_studies_hold():
    """Studies stored before the references were spec objects hold these exact texts: they
    are still written byte for byte, read back equal, and found as the references."""
    from tfselect.search.run import finalists
    from tfselect.search.study import enqueue_references

    stored = {"stft": "stft:n_fft=4096,hop=1024",
              "xumx-slicq": "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"}  # fmt: skip
    assert REF_TEXT == stored and list(REFERENCES) == list(stored)
    assert {n: TransformSpec.parse(t) for n, t in stored.items()} == REFERENCES
    assert {hash(TransformSpec.parse(t)) for t in stored.values()} == set(
        map(hash, REFERENCES.values())
    )
    study = optuna.create_study()
    for i, (name, text) in enumerate(stored.items()):
        study.add_trial(optuna.trial.create_trial(
            value=float(i), user_attrs={"reference": name, "spec": text}))  # fmt: skip
    assert {n: t.user_attrs["spec"] for n, t in reference_trials(study).items()} == stored
    enqueue_references(study, SearchSpace())
    assert len(study.trials) == 2  # both found: none queued again
    assert finalists(study, 3) == list(REFERENCES.values())  # no candidate but the references


def test_mrstft_is_off_by_default_and_its_switch_proposes_valid_band_layouts():
    assert "mrstft" not in SearchSpace().choices()  # old studies' stored choices still match
    space = SearchSpace.from_dict({"mrstft": True, "scales": [], "stft": False,
                                   "mrstft_bands": [2, 3, 4], "mrstft_edges": [100.0, 400.0]})
    assert space.choices()["mrstft_bands"] == [2, 3, 4]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    counts = set()
    for _ in range(200):
        trial = study.ask()
        spec = space.propose(trial)
        spec.validate(44100)  # edges half an octave apart, top crossover below Nyquist
        assert TransformSpec.parse(str(spec)) == spec and spec.kind == "mrstft"
        e = spec.edges
        assert 100.0 <= e[0] and e[-1] <= 400.1
        assert all(b / a >= 2**0.5 * (1 - 1e-9) for a, b in zip(e, e[1:], strict=False))
        assert all(1024 <= n <= 16384 and n % 512 == 0 for n in spec.n_fft)
        assert len({n // h for n, h in zip(spec.n_fft, spec.hop, strict=True)}) == 1
        counts.add(len(spec.n_fft))
        study.tell(trial, 0.0)
    assert counts == {2, 3, 4}  # two octaves hold four bands' edges


@pytest.mark.parametrize(
    "table, words",
    [
        ({"mrstft": True, "mrstft_bands": [4], "mrstft_edges": [100, 150]}, "too narrow"),
        ({"mrstft": True, "mrstft_edges": [100, 20000]}, "Nyquist"),
        ({"mrstft": True, "mrstft_bands": [1]}, "mrstft_bands"),
        ({"mrstft": "yes"}, "true or false"),
    ],
)
def test_mrstft_space_errors(table, words):
    with pytest.raises(TfselectError, match=words):
        SearchSpace.from_dict(table)


def test_a_space_whose_fewest_bins_exceed_the_cap_is_refused():
    with pytest.raises(TfselectError, match="already need slices above sllen_max=64"):
        SearchSpace(sllen_max=64, stft=False).validate()


def test_slice_length_cap():
    ok = TransformSpec.parse("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050")
    assert SearchSpace(sllen_max=44100).check(ok) is ok  # needs 18060 samples
    with pytest.raises(SpecError, match="slice length 18060"):
        SearchSpace(sllen_max=10000).check(ok)
    stft = TransformSpec.parse("stft:n_fft=4096,hop=1024")
    assert SearchSpace(sllen_max=16).check(stft) is stft
    with pytest.raises(SpecError, match="Nyquist"):
        SearchSpace().check(TransformSpec.parse("slicqt:scale=log,bins=50,fmin=30,fmax=30000"))


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
    from tfselect.search.run import trial_metrics

    obj = parse_objectives("mpi-0.1*redundancy")
    assert trial_metrics(["gini", "oracles"], obj) == (
        "mpi", "redundancy", "gini", "irm1", "irm2", "ibm", "mwf",
    )  # fmt: skip
    assert len(trial_metrics("all", obj)) == 17
    assert trial_metrics([], obj) == ("mpi", "redundancy")
    with pytest.raises(TfselectError, match="unknown metric 'sdr'"):
        trial_metrics(["sdr"], obj)


@pytest.mark.parametrize(
    "name, cls",
    [("tpe", "TPESampler"), ("gp", "GPSampler"), ("random", "RandomSampler"),
     ("cmaes", "CmaEsSampler"), ("nsga2", "NSGAIISampler")],
)  # fmt: skip
def test_sampler_per_name_and_seeded_proposals_repeat(name, cls):
    assert type(make_sampler(name, 0, 1)).__name__ == cls

    def proposals(seed: int) -> list[str]:
        study = optuna.create_study(sampler=make_sampler(name, seed, 1), direction="maximize")
        space = SearchSpace(scales=("bark",), stft=False)
        out = []
        for i in range(12):  # past the samplers' random start-up trials
            trial = study.ask()
            out.append(space.suggest(trial))
            study.tell(trial, float(i % 5))
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b, c = proposals(3), proposals(3), proposals(4)
    assert a == b and a != c


def test_sampler_errors():
    with pytest.raises(TfselectError, match="unknown sampler 'grid'"):
        make_sampler("grid", 0, 1)
    with pytest.raises(TfselectError, match="one objective only"):
        make_sampler("cmaes", 0, 2)
    with pytest.raises(TfselectError, match="unknown pruner 'median'"):
        make_pruner("median")
    with pytest.raises(TfselectError, match=r"p_threshold must be in \(0, 1\)"):
        make_pruner("wilcoxon", 1.0)


# ----------------------------------------------------------------------------- run_search
def _trials(url: str, name: str):
    st = optuna.load_study(study_name=name, storage=open_storage(url))
    return st, st.get_trials(deepcopy=False)


def test_run_search_resumes_and_stores_every_metric(tmp_path, demo_root, small_config):
    url = f"sqlite:///{tmp_path}/s.db"
    r1 = run_search("vocals", storage=url, config=small_config, root=demo_root, trials=3,
                    progress=False)  # fmt: skip
    assert r1.ran == 3 and r1.study == "vocals"
    r2 = run_search("vocals", storage=url, config=small_config, root=demo_root, trials=1,
                    progress=False)  # fmt: skip
    assert r2.ran == 1
    st, trials = _trials(url, "vocals")
    distinct = [t for t in trials if "reused_from" not in t.user_attrs]
    assert len(distinct) == 4 and all(t.state.is_finished() for t in trials)
    tags = read_tags(st)
    assert tags.target == "vocals" and tags.objective == "mpi"
    assert tags.clips["seconds"] == 2.0 and tags.root == str(demo_root.resolve())
    assert len(tags.pool) == 1  # max_tracks = 1, n_clips = 1
    # The references are the study's first trials, scored on the same clips.
    assert [t.user_attrs.get("reference") for t in trials[:2]] == list(REFERENCES)
    refs = reference_trials(st)
    assert {n: t.user_attrs["spec"] for n, t in refs.items()} == REF_TEXT
    done = [t for t in distinct if t.state == TrialState.COMPLETE]
    for t in done:
        assert {"spec", "mpi", "gini", "redundancy", "n_clips", "clips"} <= set(t.user_attrs)
        per_clip = clip_values(t)
        assert sorted(per_clip) == t.user_attrs["clips"] == [0]
        assert t.values[0] == pytest.approx(np.mean(list(per_clip.values())))
    # --until N counts complete candidates of the study and runs only what is missing.
    n_complete = len(done)
    r3 = run_search("vocals", storage=url, config=small_config, root=demo_root,
                    until=n_complete + 1, progress=False)  # fmt: skip
    assert r3.complete >= n_complete + 1


def test_default_tpe_search_proposes_distinct_feasible_candidates(tmp_path, demo_root,
                                                                  small_config):  # fmt: skip
    from dataclasses import replace

    cfg = replace(small_config, search=replace(small_config.search, sampler="tpe"))
    assert cfg.search.sampler == load_config(None).search.sampler
    url = f"sqlite:///{tmp_path}/tpe.db"
    r = run_search("bass", storage=url, config=cfg, root=demo_root, trials=5, progress=False)
    _, trials = _trials(url, "bass")
    distinct = [t for t in trials if "reused_from" not in t.user_attrs]
    specs = [t.user_attrs["spec"] for t in distinct]
    assert r.ran == 5 and len(distinct) == 5 and len(set(specs)) == 5
    assert all(t.state == TrialState.COMPLETE for t in distinct)  # feasible: none pruned


class Synthetic:
    """A ScorerFactory with known per-clip scores: mpi = level(spec) + effect(clip).

    Clips are namespaces with an ``id``; the clip effect is shared by every candidate (some
    clips are hard for all), as in real audio, so paired comparisons see through it.
    """

    def __init__(self, levels: dict[str, float], n: int = 30, noise: float = 0.05) -> None:
        rng = np.random.default_rng(0)
        self.levels = levels
        self.effect = rng.normal(0.0, 3.0, n)
        self.noise = {k: rng.normal(0.0, noise, n) for k in levels}
        self.clips = [SimpleNamespace(id=i) for i in range(n)]
        self.calls = 0

    def __call__(self, spec, target, metrics, device):
        text = str(spec)

        def score_clip(clip, wanted):
            self.calls += 1
            i = getattr(clip, "id", 0)  # real clips (a run_search pool of one clip): id 0
            v = self.levels[text] + self.effect[i] + self.noise[text][i]
            return {m: (v if m == "mpi" else 1.0) for m in wanted}

        return score_clip


def test_racing_stops_a_clearly_worse_candidate_after_few_clips():
    good, bad, close = ("stft:n_fft=4096,hop=1024", "stft:n_fft=1024,hop=256",
                        "stft:n_fft=2048,hop=512")  # fmt: skip
    ref = REF_TEXT["xumx-slicq"]
    syn = Synthetic({good: 10.0, bad: 9.0, close: 10.0, ref: 5.0})
    space = SearchSpace(scales=(), stft_n_fft=(1024, 4096), stft_n_fft_step=1024,
                        stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    obj = TrialObjective(space, parse_objectives("mpi"), "vocals", syn.clips, ["mpi", "gini"],
                         scorer=syn, metric_clips=4)  # fmt: skip
    study = optuna.create_study(direction="maximize", pruner=make_pruner("wilcoxon", 0.02, 6))
    study.enqueue_trial({"stft_n_fft": 4096})
    study.enqueue_trial({}, user_attrs={"reference": "xumx-slicq"})
    study.enqueue_trial({"stft_n_fft": 1024})
    study.enqueue_trial({"stft_n_fft": 2048, "stft_overlap": 4})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(obj, n_trials=4)
    t_good, t_ref, t_bad, t_close = study.trials
    assert t_good.state == TrialState.COMPLETE and t_good.user_attrs["n_clips"] == 30
    # The reference is far worse but never raced out: paired statistics need all its clips.
    assert t_ref.state == TrialState.COMPLETE and t_ref.user_attrs["n_clips"] == 30
    # 1 dB worse on every clip: stopped as soon as the race may stop it (6 clips).
    assert t_bad.state == TrialState.PRUNED and t_bad.user_attrs["n_clips"] == 6
    assert t_bad.user_attrs["fail_reason"].startswith("raced out after 6 of 30 clips")
    # Its clips are its own shuffle of the pool; each clip's value went to Optuna as a step.
    assert t_bad.user_attrs["clips"] != t_good.user_attrs["clips"][:6]
    assert sorted(t_bad.intermediate_values) == sorted(t_bad.user_attrs["clips"])
    # As good up to 0.05 dB of noise: never significantly worse, so it runs to the end.
    assert t_close.state == TrialState.COMPLETE and t_close.user_attrs["n_clips"] == 30
    # Non-objective metrics only for finished candidates, on the fixed subset of clips.
    assert t_good.user_attrs["n_metric_clips"] == 4 and t_good.user_attrs["gini"] == 1.0
    assert "gini" not in t_bad.user_attrs or t_bad.user_attrs["gini"] is None
    assert t_good.value == pytest.approx(np.mean(10.0 + syn.effect + syn.noise[good]))


def test_stored_metrics_are_means_over_clips_like_the_value():
    """Skewed per-clip values (median != mean): each stored metric is the mean over the
    clips it was scored on (marked by the trial's ``aggregate``), the same aggregate as the
    objective value returned to Optuna."""
    spec = "stft:n_fft=4096,hop=1024"
    mpi = [1.0, 2.0, 3.0, 10.0, 50.0, -4.0, 7.0]
    gini = [0.1, 0.9, 0.2, 0.8, 0.3, 0.35, 0.7]

    def factory(spec, target, metrics, device):
        return lambda clip, wanted: {m: {"mpi": mpi, "gini": gini}[m][clip.id] for m in wanted}

    clips = [SimpleNamespace(id=i) for i in range(len(mpi))]
    space = SearchSpace(scales=(), stft_n_fft=(4096, 4096), stft_n_fft_step=1024,
                        stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    obj = TrialObjective(space, parse_objectives("mpi"), "vocals", clips, ["mpi", "gini"],
                         scorer=factory, race=False, metric_clips=3)  # fmt: skip
    study = optuna.create_study(direction="maximize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(obj, n_trials=1)
    (t,) = study.trials
    assert t.user_attrs["spec"] == spec and t.user_attrs["n_clips"] == 7
    assert sorted(mpi)[3] == 3.0  # the median, which is not what is stored
    assert t.user_attrs["mpi"] == pytest.approx(sum(mpi) / len(mpi))
    assert t.user_attrs["aggregate"] == "mean"
    assert t.value == pytest.approx(sum(mpi) / len(mpi))
    subset = sorted(t.user_attrs["clips"][i] for i in range(7)
                    if t.user_attrs["clips"][i] in obj.metric_ids)  # fmt: skip
    assert len(subset) == 3 and t.user_attrs["n_metric_clips"] == 3
    assert t.user_attrs["gini"] == pytest.approx(sum(gini[i] for i in subset) / 3)
    assert clip_values(t) == dict(enumerate(mpi))


def test_repeats_do_not_consume_trials(tmp_path, demo_root, small_config, monkeypatch):
    """A space of 2 STFTs: --trials 5 evaluates the references and the 2, answers every
    repeat from the study without scoring, and stops with the space exhausted."""
    from dataclasses import replace

    # 20 repeats in a row before giving up: with 2 candidates, a random sampler draws the
    # one it has seen 20 times running with probability (1/2)^20 < 1e-5 (each repeat is a
    # stored trial: fewer candidates, fewer of them to store).
    monkeypatch.setattr("tfselect.search.run.MAX_REPEATS", 20)
    space = replace(small_config.space, scales=(), stft_n_fft=(1024, 2048),
                    stft_n_fft_step=1024, stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    cfg = replace(small_config, space=space)
    syn = Synthetic({"stft:n_fft=1024,hop=256": 1.0, "stft:n_fft=2048,hop=512": 2.0,
                     **{s: 0.0 for s in REF_TEXT.values()}}, n=1)  # fmt: skip
    url = f"sqlite:///{tmp_path}/r.db"
    r = run_search("vocals", storage=url, study="rep", config=cfg, root=demo_root, trials=2,
                   progress=False, scorer=syn)  # fmt: skip
    assert r.ran == 2 and r.repeats == 0  # the two references
    calls = syn.calls
    r = run_search("vocals", storage=url, study="rep", config=cfg, root=demo_root, trials=5,
                   progress=False, scorer=syn)  # fmt: skip
    st, trials = _trials(url, "rep")
    distinct = [t for t in trials if "reused_from" not in t.user_attrs]
    assert r.exhausted and r.ran == 2 and r.repeats >= 20  # only 2 candidates exist
    assert sorted(t.user_attrs["spec"] for t in distinct[2:]) == [
        "stft:n_fft=1024,hop=256", "stft:n_fft=2048,hop=512"]
    # Two calls each (the objective, then the other metrics on the metric clip); repeats
    # were never scored.
    assert syn.calls - calls == 2 * 2
    for t in trials:
        if "reused_from" in t.user_attrs:
            src = st.trials[t.user_attrs["reused_from"]]
            assert t.values == src.values and t.user_attrs["spec"] == src.user_attrs["spec"]
    assert best_trial(st).user_attrs["spec"] == "stft:n_fft=2048,hop=512"


def test_scorer_errors_fail_one_trial_only(tmp_path, demo_root, small_config):
    calls = []

    def flaky(spec, target, metrics, device):
        calls.append(str(spec))
        if len(calls) % 2:
            raise RuntimeError("out of memory (simulated)")
        return lambda clip, wanted: {m: float(len(calls)) for m in wanted}

    url = f"sqlite:///{tmp_path}/f.db"
    r = run_search("drums", storage=url, config=small_config, root=demo_root, trials=4,
                   progress=False, scorer=flaky)  # fmt: skip
    assert r.ran == 4 and r.failed >= 1 and r.complete + r.pruned + r.failed == 4
    _, trials = _trials(url, "drums")
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert all("RuntimeError: out of memory" in t.user_attrs["fail_reason"] for t in failed)


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
    # Another (valid) dataset root: other clips, other scores; refused before reading audio.
    from conftest import write_wav_track

    other_root = tmp_path / "other-corpus"
    write_wav_track(other_root, "train", "One", seconds=3.0)
    with pytest.raises(TfselectError, match="scores clips of root"):
        run_search("vocals", storage=url, study="s", config=small_config, root=other_root,
                   trials=1, progress=False)  # fmt: skip
    # Numeric ranges may change (e.g. to widen bins).
    wider = replace(small_config, space=replace(small_config.space, bins=(12, 200)))
    run_search("vocals", storage=url, study="s", config=wider, root=demo_root, trials=1,
               progress=False)  # fmt: skip
    after = _trials(url, "s")
    def finished(trials) -> int:
        return sum(t.state.is_finished() for t in trials)

    assert finished(after[1]) == finished(before[1]) + 1 and dict(after[0].user_attrs) == attrs


def test_bare_postgresql_url_uses_the_installed_driver():
    # SQLAlchemy maps postgresql:// to psycopg 3 (not installed): the error must be about the
    # server, not about a missing module.
    with pytest.raises(TfselectError) as err:
        open_storage("postgresql://u:secret@127.0.0.1:1/db")
    assert "install" not in str(err.value).lower() and "secret" not in str(err.value)


@pytest.mark.parametrize("oracle", ["mwf", "irm2"])
def test_the_objective_can_follow_a_wiener_demixer(tmp_path, demo_root, small_config, oracle):
    """--objective mwf / irm2 race on that oracle like mpi: the scorer is asked for it on
    every clip and the trial's value is its mean."""
    from dataclasses import replace

    asked: list[tuple[str, ...]] = []

    def scorer(spec, target, metrics, device):
        def score_clip(clip, wanted):
            asked.append(tuple(wanted))
            return {m: (7.0 if m == oracle else 1.0) for m in wanted}

        return score_clip

    cfg = replace(small_config, search=replace(small_config.search, objective=oracle,
                                               metrics=(oracle,)))  # fmt: skip
    url = f"sqlite:///{tmp_path}/o.db"
    r = run_search("vocals", storage=url, config=cfg, root=demo_root, trials=2,
                   progress=False, scorer=scorer)  # fmt: skip
    st, _ = _trials(url, "vocals")
    assert r.complete == 2 and asked and all(w == (oracle,) for w in asked)
    assert best_trial(st).values == [7.0] and read_tags(st).objective == oracle


def test_verbose_search_says_each_trial_in_specs_not_parameter_names(tmp_path, demo_root,
                                                                      small_config, capsys):
    """-v: one line per trial, above the bar, with its spec and value; none of Optuna's
    lines with internal parameter names (kind, stft_n_fft, ...)."""
    from dataclasses import replace

    space = replace(small_config.space, scales=(), stft_n_fft=(1024, 2048),
                    stft_n_fft_step=1024, stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    syn = Synthetic({"stft:n_fft=1024,hop=256": 1.0, "stft:n_fft=2048,hop=512": 2.0,
                     **{s: 0.0 for s in REF_TEXT.values()}}, n=1)  # fmt: skip
    run_search("vocals", storage=f"sqlite:///{tmp_path}/v.db", study="v",
               config=replace(small_config, space=space), root=demo_root, trials=3,
               progress=False, verbose=1, scorer=syn)  # fmt: skip
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("trial ")]
    assert len(lines) >= 3, err
    ref = REF_TEXT["stft"]  # queued first; one clip: its value is that clip's
    assert lines[0] == f"trial 0 complete: mpi={syn.effect[0] + syn.noise[ref][0]:.3f} {ref}"
    assert "parameters" not in err and "stft_n_fft" not in err
