"""The selection, each step against an independent reference: the best trial (pandas, for
maximised, minimised and two-objective studies), the paired statistics (scipy), the
significance rule, best.csv read back, and the sentence the CLI prints.

Studies are built in memory from frozen trials, so every test takes milliseconds; `make
mutate` runs this file against the selection modules.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from scipy import stats

from tfselect.errors import TfselectError
from tfselect.report.best import read_best
from tfselect.search.ranking import best_trial


def _frozen(values: list[float], spec: str):
    return optuna.trial.create_trial(values=values, user_attrs={"spec": spec})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_trial_of_a_min_study_equals_pandas(seed):
    import pandas as pd

    rng = np.random.default_rng(seed)
    study = optuna.create_study(direction="minimize")
    values = rng.integers(0, 8, 25).astype(float)  # the minimum is tied: the earliest wins
    for i, v in enumerate(values):
        study.add_trial(_frozen([float(v)], f"stft:n_fft={512 * (i + 1)},hop=128"))
    df = pd.DataFrame({"number": range(25), "value": values})
    assert (values == values.min()).sum() > 1  # the data are as the comment says
    expected = df.sort_values(["value", "number"]).iloc[0]["number"]
    assert best_trial(study).number == expected


@pytest.mark.parametrize("seed", [0, 1])
def test_best_trial_of_two_objectives_is_the_front_best_first_objective(seed):
    import pandas as pd

    rng = np.random.default_rng(seed)
    study = optuna.create_study(directions=["maximize", "minimize"])
    # Six or seven trials share the top quality and only the cheapest of those is on the
    # front, so "the earliest trial with the best quality" would be wrong.
    vals = np.stack([np.minimum(rng.normal(0, 1, 30).round(0), 1.0),
                     rng.integers(0, 10, 30).astype(float)], axis=1)  # fmt: skip
    for i, (a, b) in enumerate(vals):
        study.add_trial(_frozen([float(a), float(b)], f"stft:n_fft={512 * (i + 1)},hop=64"))
    df = pd.DataFrame(vals, columns=["q", "cost"])
    dominated = [
        any((df.q >= r.q) & (df.cost <= r.cost) & ((df.q > r.q) | (df.cost < r.cost)))
        for r in df.itertuples()
    ]
    front = df[~np.array(dominated)]
    expected = front.sort_values("q", ascending=False, kind="stable").index[0]
    assert expected != df.index[df.q == df.q.max()][0]  # the data are as the comment says
    assert best_trial(study).number == expected


def _study_with_clips(per_trial: dict[str, tuple[list[float], str | None]], direction: str,
                      name: str = "paired", storage: str | None = None, target: str = "vocals"):
    """A tagged study (in memory unless ``storage``) whose trials hold the given per-clip
    values; a trial's value is the mean of its clips."""
    trials = [(spec, values, ref) for spec, (values, ref) in per_trial.items()]
    return _add_study(name, target, "mpi", direction, trials, storage)


def _add_study(name: str, target: str, objective: str, direction: str,
               trials: list[tuple[str | None, list[float], str | None]],
               storage: str | None = None, pool: tuple[str, ...] = ()):
    """A tagged study of ``target`` and ``objective``; one trial per (spec or None for a
    trial without one, per-clip values, reference name or None), numbered in that order.
    A trial's value is the mean of its clips, its metric ``mpi`` their median. ``pool``:
    the stored pool (``track@start`` per clip id; none by default, as in older studies)."""
    from tfselect.search.study import TAG, StudyTags

    st = optuna.create_study(study_name=name, direction=direction, storage=storage)
    tags = StudyTags(target, objective, (direction,), {}, ("mpi",), pool=pool)
    st.set_user_attr(TAG, tags.as_dict())
    for spec, values, reference in trials:
        attrs = {"mpi": float(np.median(values)),
                 "clip_values": {str(i): v for i, v in enumerate(values)}}  # fmt: skip
        if spec is not None:
            attrs["spec"] = spec
        if reference:
            attrs["reference"] = reference
        st.add_trial(optuna.trial.create_trial(value=float(np.mean(values)), user_attrs=attrs))
    return st


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_best_csv_paired_statistics_equal_scipy(direction):
    from tfselect.report.selection import best_frame

    rng = np.random.default_rng(5)
    hard = rng.normal(0, 3, 24)  # clip difficulty, shared by every transform
    sign = 1.0 if direction == "maximize" else -1.0
    stft = list(10 + hard + rng.normal(0, 0.1, 24))
    bark = list(10 - sign * 0.5 + hard + rng.normal(0, 0.1, 24))
    cand = list(np.array(stft) + sign * 0.3 + rng.normal(0, 0.1, 24))
    st = _study_with_clips({
        "stft:n_fft=4096,hop=1024": (stft, "stft"),
        "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050": (bark, "xumx-slicq"),
        "stft:n_fft=4096,hop=512": (cand, None),
    }, direction)  # fmt: skip
    b = best_frame([st], n_boot=500).set_index("candidate")
    assert b.loc["best", "spec"] == "stft:n_fft=4096,hop=512"
    d = sign * (np.array(cand) - np.array(stft))
    # The best row against the better reference (STFT: better value in the study's
    # direction), positive = the best is better; the significant improvement selects it.
    assert b.loc["best", "versus"] == "stft" and b.loc["best", "diff"] == pytest.approx(d.mean())
    assert b.loc["best", "p_value"] == pytest.approx(stats.wilcoxon(d).pvalue)
    assert b.loc["best", "ci_low"] < d.mean() < b.loc["best", "ci_high"]
    assert b.loc["best", "n_paired"] == 24 and b.loc["best", "verdict"] == "better"
    assert b.loc["best", "selected"] and not b.loc["stft", "selected"]
    # Each reference row speaks for itself, against the best: it is the worse one.
    assert b.loc["stft", "versus"] == "best" and b.loc["stft", "verdict"] == "worse"
    assert b.loc["stft", "diff"] == pytest.approx(-d.mean())
    assert b.loc["stft", "p_value"] == b.loc["best", "p_value"]
    assert b.loc["stft", "ci_low"] < -d.mean() < b.loc["stft", "ci_high"] < 0
    d_bark = sign * (np.array(bark) - np.array(cand))
    assert b.loc["xumx-slicq", "diff"] == pytest.approx(d_bark.mean())
    assert b.loc["xumx-slicq", "verdict"] == "worse"


def test_significance_rule_falls_back_to_the_reference_on_a_tie(tmp_path):
    from tfselect.report.selection import best_frame
    from tfselect.report.tables import write_csv

    rng = np.random.default_rng(6)
    hard = rng.normal(0, 3, 24)
    stft = list(10 + hard + rng.normal(0, 0.2, 24))
    noise = rng.normal(0, 0.2, 24)
    tie = list(np.array(stft) + 0.01 + noise - noise.mean())  # best by a hair, noise-level
    st = _study_with_clips({
        "stft:n_fft=4096,hop=1024": (stft, "stft"),
        "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050": (list(5 + hard), "xumx-slicq"),
        "stft:n_fft=6144,hop=768,window=blackman": (tie, None),
    }, "maximize")  # fmt: skip
    b = best_frame([st], n_boot=500)
    best = b[b.candidate == "best"].iloc[0]
    assert best["spec"] == "stft:n_fft=6144,hop=768,window=blackman" and best["value"] > 10
    assert best["verdict"] == "not distinguishable" and not best["selected"]
    assert b[b.selected].iloc[0]["candidate"] == "stft"
    path = write_csv(b, tmp_path / "best.csv")
    assert read_best(path) == {"vocals": "stft:n_fft=4096,hop=1024"}
    assert read_best(path, select="best") == {"vocals": "stft:n_fft=6144,hop=768,window=blackman"}
    with pytest.raises(TfselectError, match="--select must be significant or best"):
        read_best(path, select="top")


def test_choice_sentence_says_the_verdict_in_words():
    from tfselect.report.best import Choice

    ref = "stft:n_fft=4096,hop=1024"
    tie = Choice(spec=ref, study="s", value=10.0, best_spec="stft:n_fft=4096,hop=512",
                 reference="stft", reference_spec=ref, diff=0.01, ci_low=-0.05, ci_high=0.07,
                 p_value=0.6, verdict="not distinguishable", fell_back=True)  # fmt: skip
    assert tie.sentence() == (
        "best stft:n_fft=4096,hop=512 is not distinguishable from the reference "
        f"{ref} (+0.01 [-0.05, +0.07], p=0.6): taking the reference {ref}"
    )
    win = Choice(spec="stft:n_fft=4096,hop=512", study="s", value=10.3,
                 best_spec="stft:n_fft=4096,hop=512", reference="stft", reference_spec=ref,
                 diff=0.3, ci_low=0.2, ci_high=0.4, p_value=1e-5, verdict="better")  # fmt: skip
    assert win.sentence().startswith("best stft:n_fft=4096,hop=512 is better than the reference")
    assert "taking" not in win.sentence()


def test_read_best_errors(tmp_path):
    with pytest.raises(TfselectError, match="no such file"):
        read_best(tmp_path / "best.csv")
    p = tmp_path / "best.csv"
    p.write_text("target,spec\nvocals,stft:n_fft=1024,hop=256\n")
    with pytest.raises(TfselectError,
                       match=r"best\.csv: not a best\.csv \(no column 'objective'\)"):
        read_best(p)
    p.write_text(
        "target,objective,candidate,spec,value\n"
        'vocals,mpi,stft,"stft:n_fft=4096,hop=1024",1.0\n'
        'vocals,mpi,best,"stft:n_fft=1024,hop=256",2.0\n'
    )
    assert read_best(p) == {"vocals": "stft:n_fft=1024,hop=256"}
    with pytest.raises(TfselectError, match="no best spec for target 'bass'"):
        read_best(p, targets=("vocals", "bass"))


STFT_REF = "stft:n_fft=4096,hop=1024"
BARK_REF = "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"


def _expected(cand: list[float], ref: list[float], sign: float = 1.0) -> dict:
    """The paired statistics from their definitions: mean signed difference, zsplit
    Wilcoxon, and the verdict rule (p < 0.05 and the interval on one side of 0)."""
    d = sign * (np.array(cand) - np.array(ref))
    return {"diff": d.mean(), "p_value": stats.wilcoxon(d, zero_method="zsplit").pvalue}


def test_best_choice_across_stored_studies_equals_the_definitions(tmp_path):
    """`tfselect best` / train-best's choice, from a storage with two studies of the target
    and one of another, recomputed from the per-clip values."""
    from tfselect.report.best import best_choice, best_spec

    url = f"sqlite:///{tmp_path}/sel.db"
    rng = np.random.default_rng(21)
    hard = rng.normal(0, 3, 16)
    stft = list(10 + hard + rng.normal(0, 0.1, 16))
    bark = list(9 + hard + rng.normal(0, 0.1, 16))
    strong = list(np.array(stft) + 0.4 + rng.normal(0, 0.1, 16))  # clearly better
    noise = rng.normal(0, 0.3, 16)
    tie = list(np.array(stft) + 0.5 + noise - noise.mean() - 0.45)  # +0.05: noise level
    _study_with_clips({STFT_REF: (stft, "stft"), BARK_REF: (bark, "xumx-slicq"),
                       "stft:n_fft=2048,hop=512": (strong, None)}, "maximize", "a", url)
    _study_with_clips({STFT_REF: (stft, "stft"), BARK_REF: (bark, "xumx-slicq"),
                       "stft:n_fft=8192,hop=1024": (tie, None)}, "maximize", "b", url)
    _study_with_clips({STFT_REF: (bark, "stft")}, "maximize", "d", url, target="drums")
    want = _expected(strong, stft)
    c = best_choice(url, "vocals")  # both studies: the best candidate over them, from "a"
    assert (c.spec, c.study, c.best_spec) == ("stft:n_fft=2048,hop=512", "a",
                                              "stft:n_fft=2048,hop=512")
    assert c.value == pytest.approx(np.mean(strong))
    assert (c.reference, c.reference_spec, c.verdict, c.fell_back) == ("stft", STFT_REF,
                                                                      "better", False)
    assert c.diff == pytest.approx(want["diff"]) and c.p_value == pytest.approx(want["p_value"])
    assert c.ci_low < c.diff < c.ci_high and c.ci_low > 0
    assert best_spec(url, "vocals") == (c.spec, "a", c.value)
    # Study "b" alone: its candidate is best by a noise-level margin, so the reference is taken.
    tie_want = _expected(tie, stft)
    c = best_choice(url, "vocals", "b")
    assert c.best_spec == "stft:n_fft=8192,hop=1024" and c.verdict == "not distinguishable"
    assert tie_want["p_value"] >= 0.05 and c.p_value == pytest.approx(tie_want["p_value"])
    assert (c.spec, c.study, c.fell_back) == (STFT_REF, "b", True)
    assert c.value == pytest.approx(np.mean(stft))  # the chosen spec's value, not the best's
    c = best_choice(url, "vocals", "b", select="best")
    assert (c.spec, c.fell_back) == ("stft:n_fft=8192,hop=1024", False)
    assert c.value == pytest.approx(np.mean(tie))
    # The best trial is a reference itself: chosen, with no statistics against itself.
    c = best_choice(url, "drums")
    assert (c.spec, c.verdict, c.reference, c.fell_back) == (STFT_REF, "reference", "", False)
    assert c.sentence() == f"the best candidate is the reference {STFT_REF} itself"
    for args, message in [
        (("bass",), "no study for target 'bass'"),
        (("vocals", "d"), "study 'd' searches target 'drums', not 'vocals'"),
        (("vocals", "nope"), "nope"),
        (("vocals", "a", "top"), "--select must be significant or best"),
    ]:
        with pytest.raises(TfselectError, match=message):
            best_choice(url, *args)
    optuna.create_study(study_name="plain", storage=url)
    with pytest.raises(TfselectError, match="study 'plain' was not created by tfselect"):
        best_choice(url, "vocals", "plain")
    _study_with_clips({}, "maximize", "empty", url, target="bass")
    with pytest.raises(TfselectError, match=r"no complete trial yet for target 'bass' \(stud"):
        best_choice(url, "bass")


def test_paired_edge_cases_follow_the_definitions():
    from tfselect.report.paired import paired

    rng = np.random.default_rng(22)
    ref = {i: float(v) for i, v in enumerate(rng.normal(10, 1, 12))}
    worse = {i: v - 0.5 + 0.01 * i for i, v in ref.items()}
    out = paired(worse, ref, n_boot=300)
    d = np.array([worse[i] - ref[i] for i in range(12)])
    assert out["verdict"] == "worse" and out["ci_high"] < 0 and out["n_paired"] == 12
    assert out["diff"] == pytest.approx(d.mean())
    assert out["p_value"] == pytest.approx(stats.wilcoxon(d, zero_method="zsplit").pvalue)
    # Minimised: the sign flips the difference and the verdict.
    flipped = paired(worse, ref, sign=-1.0, n_boot=300)
    assert flipped["verdict"] == "better" and flipped["diff"] == pytest.approx(-d.mean())
    # Only the clips both saw, finite differences only.
    partial = {**{i: worse[i] for i in range(6)}, 99: 0.0, 5: float("nan")}
    p = paired(partial, ref, n_boot=300)
    assert p["n_paired"] == 5 and p["diff"] == pytest.approx(d[:5].mean())
    # Every clip the same difference: a zero-width interval at that value, a real p-value.
    same = paired({i: v + 0.25 for i, v in ref.items()}, ref, n_boot=300)
    assert same["ci_low"] == same["ci_high"] == pytest.approx(0.25)
    assert same["p_value"] == pytest.approx(
        stats.wilcoxon(np.full(12, 0.25), zero_method="zsplit").pvalue)
    assert same["verdict"] == "better"
    # Identical values: p = 1, never "better".
    tie = paired(dict(ref), ref, n_boot=300)
    assert (tie["diff"], tie["ci_low"], tie["ci_high"], tie["p_value"]) == (0.0, 0.0, 0.0, 1.0)
    assert tie["verdict"] == "not distinguishable"
    # Fewer than two common clips: NaN statistics.
    one = paired({0: 1.0}, {0: 0.0, 1: 0.0})
    assert one["n_paired"] == 1 and one["diff"] == 1.0 and one["verdict"] == "not distinguishable"
    assert all(np.isnan(one[k]) for k in ("ci_low", "ci_high", "p_value"))
    none = paired({}, ref)
    assert none["n_paired"] == 0 and np.isnan(none["diff"])
    # The interval is a seeded percentile bootstrap of the mean.
    boot = stats.bootstrap((d,), np.mean, n_resamples=300, method="percentile",
                           rng=np.random.default_rng(3)).confidence_interval
    seeded = paired(worse, ref, n_boot=300, seed=3)
    assert (seeded["ci_low"], seeded["ci_high"]) == pytest.approx((boot.low, boot.high))


def test_read_best_takes_one_row_per_target_of_its_primary_objective(tmp_path):
    p = tmp_path / "best.csv"
    header = "target,objective,candidate,spec,value,selected\n"
    p.write_text(header + "".join(f'{t},{o},{c},"{s}",1.0,{sel}\n' for t, o, c, s, sel in [
        ("vocals", "mpi", "best", "stft:n_fft=1024,hop=256", "false"),
        ("vocals", "mpi", "stft", STFT_REF, "true"),
        ("vocals", "mpi", "best", "stft:n_fft=512,hop=128", "true"),  # a later duplicate
        ("vocals", "sdr", "best", "stft:n_fft=2048,hop=512", "true"),  # not the primary
        ("bass", "sdr", "stft", STFT_REF, "false"),  # primary sdr: no best row, none selected
        ("bass", "mpi", "best", "stft:n_fft=8192,hop=2048", "true"),
        ("drums", "mpi", "best", "", "true"),  # an empty spec is not a choice
        ("drums", "mpi", "xumx-slicq", BARK_REF, "TRUE"),
    ]))  # fmt: skip
    assert read_best(p) == {"vocals": STFT_REF, "drums": BARK_REF}
    assert read_best(p, select="best") == {"vocals": "stft:n_fft=1024,hop=256"}
    with pytest.raises(TfselectError, match=r"no best spec for target 'bass' \(have: vocals, "
                                            r"drums\)"):
        read_best(p, targets=("vocals", "bass"))
    p.write_text(header)
    with pytest.raises(TfselectError, match=r"no best spec for target 'bass' \(have: none\)"):
        read_best(p, targets=("bass",))
    with pytest.raises(TfselectError, match=f"{tmp_path}: cannot read it \\(Is a directory"):
        read_best(tmp_path)


# --------------------------------------------------------------------------- the ranking


def _trial(values, state=None, **attrs):
    from optuna.trial import TrialState

    state = state or TrialState.COMPLETE
    done = state == TrialState.COMPLETE
    return optuna.trial.create_trial(state=state, values=values if done else None,
                                     user_attrs=attrs)  # fmt: skip


def test_complete_trials_are_the_finished_originals_as_stored():
    from optuna.trial import TrialState

    from tfselect.search.ranking import complete_trials

    study = optuna.create_study()
    study.add_trial(_trial([1.0], spec="a"))
    study.add_trial(_trial(None, TrialState.PRUNED, spec="b"))
    study.add_trial(_trial(None, TrialState.FAIL, spec="c"))
    study.add_trial(_trial([1.0], spec="a", reused_from=0))  # a repeat of trial 0
    study.add_trial(_trial([2.0], spec="d"))
    assert [t.number for t in complete_trials(study)] == [0, 4]
    # The storage's own trials, not deep copies (a report reads thousands of them).
    assert complete_trials(study)[0] is study.get_trials(deepcopy=False)[0]


def test_best_trial_ties_fronts_and_repeats():
    from optuna.trial import TrialState

    from tfselect.search.ranking import best_trial

    def study_of(*values, directions=("maximize",), reused=()):
        st = optuna.create_study(directions=list(directions))
        for i, v in enumerate(values):
            extra = {"reused_from": 0} if i in reused else {}
            st.add_trial(_trial(list(v), spec=f"s{i}", **extra))
        return st

    # A tie on the best value goes to the earliest trial, in both directions.
    assert best_trial(study_of([1.0], [3.0], [2.0], [3.0])).number == 1
    assert best_trial(study_of([2.0], [1.0], [3.0], [1.0], directions=("minimize",))).number == 1
    # Two objectives: trial 0 has the best quality but trial 1 has it too and costs less,
    # so only trial 1 is on the front.
    two = ("maximize", "minimize")
    assert best_trial(study_of([3.0, 5.0], [3.0, 2.0], [1.0, 1.0], directions=two)).number == 1
    # A repeat is never the best, even when it scores best (a hand-edited study).
    assert best_trial(study_of([1.0], [2.0], [9.0], reused=(2,))).number == 1
    # ... and a front made of repeats only leaves every complete trial in.
    assert best_trial(study_of([1.0, 1.0], [9.0, 0.0], [2.0, 5.0], directions=two,
                               reused=(1,))).number == 2  # fmt: skip
    # The same in a minimised study: the repeat (1) alone dominates, so every complete
    # trial stays in and the lowest first objective wins, ties to the earliest.
    low = ("minimize", "minimize")
    assert best_trial(study_of([2.0, 1.0], [0.5, 0.5], [3.0, 0.9], [1.5, 9.0], [1.5, 8.0],
                               directions=low, reused=(1,))).number == 3  # fmt: skip
    # No complete trial (failed ones, repeats only): no best.
    st = optuna.create_study()
    st.add_trial(_trial(None, TrialState.FAIL))
    assert best_trial(st) is None
    assert best_trial(study_of([1.0], reused=(0,))) is None


def test_reference_trials_are_the_first_complete_scoring_of_each_reference_spec():
    from optuna.trial import TrialState

    from tfselect.search.ranking import clip_values, reference_trials

    study = optuna.create_study()
    # A candidate drew the STFT reference spec and finished before the reference trial,
    # which became its repeat: the candidate stands in for the reference.
    study.add_trial(_trial([1.0], spec=STFT_REF, clip_values={"3": 1.0, "4": None}))
    study.add_trial(_trial([1.0], spec=STFT_REF, reference="stft", reused_from=0))
    study.add_trial(_trial(None, TrialState.FAIL, spec=BARK_REF, reference="xumx-slicq"))
    study.add_trial(_trial([2.0], spec="stft:n_fft=2048,hop=512"))
    study.add_trial(_trial([3.0], spec=BARK_REF, reference="xumx-slicq"))
    study.add_trial(_trial([4.0], spec=BARK_REF))  # a later scoring of the same spec
    study.add_trial(_trial([5.0]))  # no spec at all (added by hand)
    refs = reference_trials(study)
    assert {name: t.number for name, t in refs.items()} == {"stft": 0, "xumx-slicq": 4}
    assert clip_values(refs["stft"]) == {3: 1.0} and clip_values(refs["xumx-slicq"]) == {}


# ----------------------------------------------------------------- the paired statistics


@pytest.mark.filterwarnings("error")
def test_paired_small_samples_zeros_and_disagreeing_tests_follow_the_definitions():
    from tfselect.report.paired import paired

    def boot(d, n_boot, seed):
        ci = stats.bootstrap((np.asarray(d),), np.mean, n_resamples=n_boot,
                             method="percentile", rng=np.random.default_rng(seed))  # fmt: skip
        return pytest.approx((ci.confidence_interval.low, ci.confidence_interval.high))

    def zsplit(d):
        return pytest.approx(stats.wilcoxon(d, zero_method="zsplit").pvalue)

    ref = {i: 0.0 for i in range(40)}
    # Two common clips are enough for statistics.
    two = paired({0: 1.0, 1: 2.0}, ref, n_boot=300)
    assert two["n_paired"] == 2 and two["p_value"] == zsplit([1.0, 2.0])
    assert (two["ci_low"], two["ci_high"]) == boot([1.0, 2.0], 300, 0)
    # A spread of exactly 1 is resampled like any other.
    three = {0: 1.0, 1: 2.0, 2: 1.5}
    o = paired(three, ref, n_boot=300, seed=4)
    assert (o["ci_low"], o["ci_high"]) == boot([1.0, 2.0, 1.5], 300, 4)
    # Zero differences count half on each side (zsplit), not dropped: with 30 clips, 13 of
    # them ties, the two rules give different p-values.
    d = np.round(np.random.default_rng(0).normal(0.2, 1, 30), 0)
    out = paired(dict(enumerate(d)), ref)
    assert out["p_value"] == zsplit(d) and (out["ci_low"], out["ci_high"]) == boot(d, 2000, 0)
    assert out["p_value"] != pytest.approx(stats.wilcoxon(d).pvalue)
    # The verdict needs both: three clips all worse have an interval below 0 but p = 0.25.
    worse3 = paired({0: -0.3, 1: -0.2, 2: -0.4}, ref, n_boot=300)
    assert worse3["ci_high"] < 0 and worse3["p_value"] == zsplit([-0.3, -0.2, -0.4])
    assert worse3["verdict"] == "not distinguishable"
    # ... and one large outlier against 15 small differences makes the signed-rank test
    # significant while the mean's interval straddles 0, in either direction.
    for s in (1.0, -1.0):
        outlier = dict(enumerate(s * np.array([0.1] * 15 + [-2.0])))
        o = paired(outlier, ref, n_boot=500)
        assert o["p_value"] < 0.05 and o["ci_low"] < 0 < o["ci_high"] < 1
        assert o["verdict"] == "not distinguishable"
    # No common clip: NaN, without a numpy warning (warnings are errors here).
    assert np.isnan(paired({}, ref)["diff"])
    # Constant and all-zero differences go through scipy without a warning.
    assert paired({0: 0.5, 1: 0.5, 2: 0.5}, ref)["ci_low"] == pytest.approx(0.5)
    assert paired({0: 0.0, 1: 0.0, 2: 0.0}, ref)["p_value"] == 1.0


# ------------------------------------------------------------------ best.csv, row by row


def _scenario(storage: str) -> dict[str, list[list[float]]]:
    """Studies of six targets in ``storage``, each shaped for one rule of the selection;
    returns {study name: per-clip values of its trials, by trial number}."""
    rng = np.random.default_rng(30)
    hard = rng.normal(0, 3, 12)  # clip difficulty, shared by every transform

    def clips(offset: float) -> list[float]:
        return list(10 + offset + hard + rng.normal(0, 0.05, 12))

    stft, bark = clips(0), clips(-1)
    noise = rng.normal(0, 0.2, 12)
    tie = list(np.array(stft) + 0.01 + noise - noise.mean())  # best by a noise-level hair
    studies = {
        ("b-empty", "bass", "mpi", "maximize"): [],  # no trial yet: no rows
        ("b-empty2", "bass", "mpi", "maximize"): [],
        # Minimised, two studies: the lower best (d2's) is chosen though d1 comes first.
        ("d1", "drums", "cost", "minimize"): [
            (STFT_REF, clips(0), "stft"), (BARK_REF, clips(2), "xumx-slicq"),
            ("stft:n_fft=2048,hop=512", clips(-0.5), None),
            ("stft:n_fft=8192,hop=2048", clips(1), None)],
        # ... and d2 raced only the Bark reference.
        ("d2", "drums", "cost", "minimize"): [
            (BARK_REF, clips(2), "xumx-slicq"), ("stft:n_fft=1024,hop=256", clips(-1), None)],
        # ... and d3, later in report order, does not replace d2's better best.
        ("d3", "drums", "cost", "minimize"): [("stft:n_fft=512,hop=512", clips(3), None)],
        # No reference trials; the best trial has no spec (added by hand).
        ("g1", "guitar", "mpi", "maximize"): [
            ("stft:n_fft=2048,hop=256", clips(0), None), (None, clips(1), None)],
        # No reference for the primary objective, references for the second one.
        ("o1", "other", "mpi", "maximize"): [
            ("stft:n_fft=2048,hop=256", clips(0), None),
            ("stft:n_fft=1024,hop=512", clips(1), None)],
        ("o-sdr", "other", "sdr", "maximize"): [
            (STFT_REF, stft, "stft"), (BARK_REF, bark, "xumx-slicq"),
            ("stft:n_fft=512,hop=256", clips(0.5), None)],
        # The best trial is a reference.
        ("p1", "piano", "mpi", "maximize"): [
            (STFT_REF, clips(1), "stft"), (BARK_REF, clips(0), "xumx-slicq"),
            ("stft:n_fft=2048,hop=512", clips(0.5), None)],
        # Two mpi studies tie on their best value: v1 (more trials, earlier in report order)
        # keeps it; its best is not distinguishable from the STFT, which is selected. The
        # sdr study is larger, but the default objective comes first.
        ("v1", "vocals", "mpi", "maximize"): [
            (STFT_REF, stft, "stft"), (BARK_REF, bark, "xumx-slicq"),
            ("stft:n_fft=4096,hop=512", tie, None), ("stft:n_fft=512,hop=128", clips(-3), None)],
        ("v2", "vocals", "mpi", "maximize"): [
            (STFT_REF, stft, "stft"), (BARK_REF, bark, "xumx-slicq"),
            ("stft:n_fft=6144,hop=768,window=blackman", tie, None)],
        ("v-sdr", "vocals", "sdr", "maximize"): [
            (STFT_REF, stft, "stft"), (BARK_REF, bark, "xumx-slicq"),
            ("stft:n_fft=2048,hop=1024", clips(0.2), None),
            ("stft:n_fft=1024,hop=1024", clips(0.4), None),
            ("stft:n_fft=256,hop=64", clips(-2), None)],
    }  # fmt: skip
    assert stats.wilcoxon(np.array(tie) - stft, zero_method="zsplit").pvalue > 0.05
    for (name, target, objective, direction), trials in studies.items():
        _add_study(name, target, objective, direction, trials, storage)
    return {key[0]: [values for _, values, _ in trials] for key, trials in studies.items()}


# (target, objective, candidate, spec, study, number, n_complete, versus, verdict, selected):
# every row speaks for itself, against `versus` (a reference row against the best).
EXPECTED_BEST_CSV = [
    ("drums", "cost", "best", "stft:n_fft=1024,hop=256", "d2", 1, 2, "xumx-slicq", "better", True),
    ("drums", "cost", "xumx-slicq", BARK_REF, "d2", 0, None, "best", "worse", False),
    ("guitar", "mpi", "best", "", "g1", 1, 2, None, "no reference", True),
    ("other", "mpi", "best", "stft:n_fft=1024,hop=512", "o1", 1, 2, None, "no reference", True),
    ("other", "sdr", "best", "stft:n_fft=512,hop=256", "o-sdr", 2, 3, "stft", "better", True),
    ("other", "sdr", "stft", STFT_REF, "o-sdr", 0, None, "best", "worse", False),
    ("other", "sdr", "xumx-slicq", BARK_REF, "o-sdr", 1, None, "best", "worse", False),
    ("piano", "mpi", "best", STFT_REF, "p1", 0, 3, None, "reference", True),
    ("piano", "mpi", "stft", STFT_REF, "p1", 0, None, None, "is the best", False),
    ("piano", "mpi", "xumx-slicq", BARK_REF, "p1", 1, None, "best", "worse", False),
    ("vocals", "mpi", "best", "stft:n_fft=4096,hop=512", "v1", 2, 4, "stft",
     "not distinguishable", False),
    ("vocals", "mpi", "stft", STFT_REF, "v1", 0, None, "best", "not distinguishable", True),
    ("vocals", "mpi", "xumx-slicq", BARK_REF, "v1", 1, None, "best", "worse", False),
    ("vocals", "sdr", "best", "stft:n_fft=1024,hop=1024", "v-sdr", 3, 5, "stft", "better", True),
    ("vocals", "sdr", "stft", STFT_REF, "v-sdr", 0, None, "best", "worse", False),
    ("vocals", "sdr", "xumx-slicq", BARK_REF, "v-sdr", 1, None, "best", "worse", False),
]  # fmt: skip


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('sel')}/scenario.db"
    return url, _scenario(url)


def test_best_csv_rows_equal_the_rules_spelled_out(scenario):
    """Every row and column of best.csv for the scenario's studies, against the table
    above and the statistics recomputed with scipy from the per-clip values."""
    from tfselect.report.selection import STAT_COLUMNS, best_frame
    from tfselect.search.storage import open_storage
    from tfselect.search.study import tagged_studies

    url, values = scenario
    sts = tagged_studies(open_storage(url, create=False))
    b = best_frame(sts)
    keys = ["target", "objective", "candidate", "spec", "study", "number", "n_complete",
            "versus", "verdict", "selected"]  # fmt: skip
    assert list(b.columns) == ["target", "objective", "candidate", "spec", "value", "study",
                               "number", "n_complete", *STAT_COLUMNS, "n_clips",
                               "n_metric_clips", "mpi_mean", "mpi_median"]  # fmt: skip
    got = b[keys].astype(object).where(b[keys].notna(), None)
    assert got.values.tolist() == [list(row) for row in EXPECTED_BEST_CSV]
    assert (b["selected"].dtype, b["number"].dtype) == (bool, np.int64)
    assert b["n_complete"].dtype == b["n_paired"].dtype == b["n_tracks"].dtype == "Int64"
    # These studies stored no pool: the clips are the units, and the rows say so.
    assert b["n_tracks"].isna().all() and set(b["unit"].dropna()) == {"clip"}
    again = best_frame(sts, n_boot=300, seed=7)
    for i, row in b.iterrows():
        own = values[row["study"]][row["number"]]
        assert row["value"] == pytest.approx(np.mean(own))
        # Studies made before trials stored means: the stored median keeps its own column
        # and the objective's mean is the value (the cost objective is no single metric).
        assert row["mpi_median"] == pytest.approx(np.median(own))
        if row["objective"] == "mpi":
            assert row["mpi_mean"] == pytest.approx(np.mean(own))
        if not isinstance(row["versus"], str):
            assert row[["diff", "ci_low", "ci_high", "p_value", "n_paired", "unit"]].isna().all()
            continue
        group = b[(b.target == row["target"]) & (b.objective == row["objective"])]
        other = values[row["study"]][group[group.candidate == row["versus"]].iloc[0]["number"]]
        sign = -1.0 if row["target"] == "drums" else 1.0  # drums' cost is minimised
        d = sign * (np.array(own) - np.array(other))  # positive: this row is better
        assert row["diff"] == pytest.approx(d.mean()) and row["n_paired"] == 12
        assert row["p_value"] == pytest.approx(stats.wilcoxon(d, zero_method="zsplit").pvalue)
        for n_boot, seed, frame in ((2000, 0, b), (300, 7, again)):
            ci = stats.bootstrap((d,), np.mean, n_resamples=n_boot, method="percentile",
                                 rng=np.random.default_rng(seed)).confidence_interval
            assert (frame.loc[i, "ci_low"], frame.loc[i, "ci_high"]) == pytest.approx(
                (ci.low, ci.high))  # fmt: skip


def test_best_choice_reads_the_same_rows(scenario, tmp_path):
    from tfselect.report.best import best_choice, best_spec

    url, values = scenario
    c = best_choice(url, "drums")
    assert (c.spec, c.study, c.best_spec, c.reference, c.reference_spec, c.verdict,
            c.fell_back) == ("stft:n_fft=1024,hop=256", "d2", "stft:n_fft=1024,hop=256",
                             "xumx-slicq", BARK_REF, "better", False)  # fmt: skip
    assert c.value == pytest.approx(np.mean(values["d2"][1]))
    assert c.diff == pytest.approx(np.mean(np.array(values["d2"][0]) - values["d2"][1]))
    # The primary objective's rows only, though it has a single row and no reference.
    c = best_choice(url, "other")
    assert (c.spec, c.study, c.reference, c.reference_spec, c.verdict) == (
        "stft:n_fft=1024,hop=512", "o1", "", "", "no reference")
    assert c.sentence() == "best stft:n_fft=1024,hop=512 (no reference trial to compare with)"
    assert best_spec(url, "vocals") == (STFT_REF, "v1", pytest.approx(np.mean(values["v1"][0])))
    assert best_spec(url, "vocals", "v2") == (STFT_REF, "v2", pytest.approx(np.mean(
        values["v2"][0])))  # fmt: skip
    assert best_spec(url, "vocals", "v2", "best") == (
        "stft:n_fft=6144,hop=768,window=blackman", "v2", pytest.approx(np.mean(values["v2"][2])))
    with pytest.raises(TfselectError, match=r"no complete trial yet for target 'bass' "
                                            r"\(studies: b-empty, b-empty2\)$"):
        best_choice(url, "bass")
    missing = tmp_path / "missing.db"
    with pytest.raises(TfselectError, match="no such file"):
        best_choice(f"sqlite:///{missing}", "vocals")
    assert not missing.exists()


def test_choice_sentence_of_a_worse_best():
    from tfselect.report.best import Choice

    c = Choice(spec=STFT_REF, study="s", value=9.0, best_spec="stft:n_fft=512,hop=128",
               reference="stft", reference_spec=STFT_REF, diff=-0.4, ci_low=-0.5,
               ci_high=-0.3, p_value=0.001, verdict="worse", fell_back=True)  # fmt: skip
    assert c.sentence() == (
        f"best stft:n_fft=512,hop=128 is worse than the reference {STFT_REF} "
        f"(-0.40 [-0.50, -0.30], p=0.001): taking the reference {STFT_REF}"
    )


# ------------------------------------------------------------ statistics by track


def test_paired_by_track_equals_numpy_and_scipy_on_unequal_tracks():
    """Per-track means of the per-clip differences (clips both saw, finite ones), then the
    mean, the seeded percentile bootstrap and the zsplit signed-rank test over tracks."""
    from tfselect.report.paired import paired_by_track

    # Clip ids are not contiguous; tracks hold 1 to 4 clips; clip 9 only in the best, clip
    # 13 undefined (NaN) in the reference, so track "e" keeps one of its two clips.
    tracks = {0: "c", 1: "c", 2: "c", 3: "c", 5: "a", 6: "b", 7: "b", 9: "b", 10: "d",
              11: "d", 12: "d", 13: "e", 14: "e", 20: "f", 21: "f"}  # fmt: skip
    ref = {0: 10.0, 1: 8.0, 2: 12.0, 3: 9.0, 5: 7.0, 6: 11.0, 7: 6.0, 10: 9.5, 11: 10.5,
           12: 8.5, 13: float("nan"), 14: 12.0, 20: 5.0, 21: 6.0}  # fmt: skip
    best = {0: 10.4, 1: 8.1, 2: 12.5, 3: 8.8, 5: 7.9, 6: 11.2, 7: 6.4, 9: 99.0, 10: 9.4,
            11: 10.9, 12: 8.8, 13: 3.0, 14: 12.3, 20: 5.6, 21: 6.2}  # fmt: skip
    by_track = {"a": [0.9], "b": [0.2, 0.4], "c": [0.4, 0.1, 0.5, -0.2],
                "d": [-0.1, 0.4, 0.3], "e": [0.3], "f": [0.6, 0.2]}  # fmt: skip
    means = np.array([np.mean(by_track[k]) for k in sorted(by_track)])
    for sign in (1.0, -1.0):
        out = paired_by_track(best, ref, tracks, sign=sign, n_boot=400, seed=3)
        d = sign * means
        ci = stats.bootstrap((d,), np.mean, n_resamples=400, method="percentile",
                             rng=np.random.default_rng(3)).confidence_interval  # fmt: skip
        assert out["diff"] == pytest.approx(d.mean())
        assert (out["ci_low"], out["ci_high"]) == pytest.approx((ci.low, ci.high))
        assert out["p_value"] == pytest.approx(stats.wilcoxon(d, zero_method="zsplit").pvalue)
        assert (out["n_tracks"], out["n_paired"]) == (6, 13)
    # Each track weighs the same: the mean over tracks is not the mean over clips.
    clip_mean = np.mean([v for vs in by_track.values() for v in vs])
    assert out["diff"] != pytest.approx(-clip_mean)
    # Six tracks all better: p = 2/64 < 0.05, an interval above 0, so "better"...
    assert paired_by_track(best, ref, tracks)["verdict"] == "better"
    # ... while five tracks can never reach p < 0.05 (2/32), however clear each one is.
    five = {c: t for c, t in tracks.items() if t != "f"}
    few = paired_by_track({c: ref.get(c, 0.0) + 1.0 for c in five}, ref, five)
    assert few["p_value"] == pytest.approx(0.0625) and few["verdict"] == "not distinguishable"
    # One track: no statistics. A common clip without a track: an error, not a guess.
    one = paired_by_track({5: 8.0}, ref, tracks)
    assert (one["n_tracks"], one["n_paired"], one["diff"]) == (1, 1, pytest.approx(1.0))
    assert np.isnan(one["p_value"]) and one["verdict"] == "not distinguishable"
    with pytest.raises(ValueError, match=r"no track for clip id\(s\) \[7\]"):
        paired_by_track(best, ref, {c: t for c, t in tracks.items() if c != 7})


def test_clip_tracks_of_a_stored_pool():
    from tfselect.search.study import StudyTags

    tags = StudyTags("vocals", "mpi", ("maximize",), {}, ("mpi",),
                     pool=("A@0", "A@88200", "x@y@176400", "B@0"))  # fmt: skip
    assert tags.clip_tracks() == {0: "A", 1: "A", 2: "x@y", 3: "B"}
    assert StudyTags.from_dict(tags.as_dict()).clip_tracks() == tags.clip_tracks()
    assert StudyTags("vocals", "mpi", ("maximize",), {}, ("mpi",)).clip_tracks() == {}


def test_paired_statistics_fall_back_to_clips_only_without_every_track():
    from tfselect.report.paired import paired, paired_by_track
    from tfselect.report.selection import paired_statistics

    best = {i: 1.0 + 0.1 * i for i in range(8)}
    ref = {i: 0.0 for i in range(9)}  # clip 8 only in the reference: not needed
    tracks = {i: f"t{i // 2}" for i in range(8)}
    got = paired_statistics(best, ref, tracks, -1.0, 300, 2)
    assert got == {**paired_by_track(best, ref, tracks, -1.0, 300, 2), "unit": "track"}
    for partial in ({}, {i: t for i, t in tracks.items() if i != 3}):
        got = paired_statistics(best, ref, partial, -1.0, 300, 2)
        want = paired(best, ref, -1.0, 300, 2)
        assert np.isnan(got.pop("n_tracks")) and got == {**want, "unit": "clip"}


def _correlated(rng, n_tracks: int = 10, n_clips: int = 3, track_sd: float = 1.0,
                offset_sd: float = 0.5, clip_sd: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Two candidates' per-clip values (n_tracks * n_clips,), clips of a track adjacent, with
    NO true difference: a track effect shared by both (``track_sd``), a per-track offset of
    the difference (``offset_sd``, mean 0), independent clip noise (``clip_sd`` each)."""
    track = np.repeat(rng.normal(0, track_sd, n_tracks), n_clips)
    offset = np.repeat(rng.normal(0, offset_sd, n_tracks), n_clips)
    ref = track + rng.normal(0, clip_sd, track.size)
    return track + offset + rng.normal(0, clip_sd, track.size), ref


def test_track_level_verdicts_keep_the_false_positive_rate_where_clip_level_does_not():
    """400 simulated studies of 10 tracks x 3 clips where the candidate is no better than the
    reference, but its difference shares an offset within each track: the track-level rule
    says "better" (one-sided, nominally 2.5 %) and anything but "not distinguishable"
    (two-sided, nominally 5 %) at about the nominal rates; the clip-level rule, counting
    30 correlated clips as independent, far more often."""
    from tfselect.report.paired import paired, paired_by_track

    rng = np.random.default_rng(0)
    tracks = {i: f"track {i // 3:02d}" for i in range(30)}
    verdicts: dict[str, list[str]] = {"track": [], "clip": []}
    for _ in range(400):
        cand, ref = _correlated(rng)
        best, reference = dict(enumerate(cand)), dict(enumerate(ref))
        verdicts["track"].append(paired_by_track(best, reference, tracks, n_boot=200)["verdict"])
        verdicts["clip"].append(paired(best, reference, n_boot=200)["verdict"])
    better = {k: float(np.mean([v == "better" for v in vs])) for k, vs in verdicts.items()}
    called = {k: float(np.mean([v != "not distinguishable" for v in vs]))
              for k, vs in verdicts.items()}  # fmt: skip
    rates = (f"false 'better': track {better['track']:.3f}, clip {better['clip']:.3f}; "
             f"better or worse: track {called['track']:.3f}, clip {called['clip']:.3f}")
    print(rates)
    # Monte Carlo slack: 400 studies give a standard error of about 0.011 at 5 %.
    assert better["track"] <= 0.05 and called["track"] <= 0.08, rates
    assert called["clip"] >= 0.10 and called["clip"] > 2 * called["track"], rates
    assert better["clip"] > better["track"], rates


def test_best_csv_tests_tracks_when_the_study_stored_its_pool(tmp_path):
    """A pick that 30 clips call "better" is not distinguishable over the 10 tracks they
    come from: best.csv takes the track-level verdict and selects the reference, and so do
    `tfselect best` and train-best (the same rows, through best_choice)."""
    import pandas as pd

    from tfselect.report.best import best_choice
    from tfselect.report.selection import best_frame

    rng = np.random.default_rng(19)  # clip-level p = 0.025, track-level p = 0.16
    pool = tuple(f"track {i // 3}@{44100 * (i % 3)}" for i in range(30))
    cand, stft = _correlated(rng, offset_sd=0.5)
    cand = cand + 0.15  # a small true gain, swamped by the per-track offsets
    bark = stft - 1.0 + rng.normal(0, 0.1, 30)
    url = f"sqlite:///{tmp_path}/pool.db"
    studies = {}
    for name, p in (("tracks", pool), ("clips", ())):
        studies[name] = _add_study(name, "vocals", "mpi", "maximize", [
            (STFT_REF, list(stft), "stft"), (BARK_REF, list(bark), "xumx-slicq"),
            ("stft:n_fft=4096,hop=512", list(cand), None)], url, pool=p)  # fmt: skip
    by_clip = best_frame([studies["clips"]], n_boot=500).set_index("candidate")
    by_track = best_frame([studies["tracks"]], n_boot=500).set_index("candidate")
    d = cand - stft
    means = d.reshape(10, 3).mean(axis=1)  # track i // 3: clips 3i..3i+2, names in order
    assert by_clip.loc["best", "verdict"] == "better" and by_clip.loc["best", "selected"]
    assert by_clip.loc["best", "unit"] == "clip" and pd.isna(by_clip.loc["best", "n_tracks"])
    best = by_track.loc["best"]
    assert (best["versus"], best["unit"], best["n_tracks"], best["n_paired"]) == (
        "stft", "track", 10, 30)
    assert best["diff"] == pytest.approx(means.mean())
    assert best["p_value"] == pytest.approx(stats.wilcoxon(means, zero_method="zsplit").pvalue)
    assert best["p_value"] >= 0.05 and best["verdict"] == "not distinguishable"
    assert not best["selected"] and by_track.loc["stft", "selected"]
    bark_means = (bark - cand).reshape(10, 3).mean(axis=1)  # its own row: bark - best
    assert by_track.loc["xumx-slicq", "diff"] == pytest.approx(bark_means.mean())
    assert by_track.loc["xumx-slicq", "verdict"] == "worse"
    c = best_choice(url, "vocals", "tracks")
    assert (c.spec, c.verdict, c.fell_back, c.n_tracks, c.n_paired) == (
        STFT_REF, "not distinguishable", True, 10, 30)
    assert c.p_value == pytest.approx(best["p_value"])
    assert f"p={c.p_value:.2g} over 10 tracks (30 clips)): taking the reference" in c.sentence()
    c = best_choice(url, "vocals", "clips")
    assert (c.spec, c.verdict, c.n_tracks, c.n_paired) == (
        "stft:n_fft=4096,hop=512", "better", None, 30)
    assert f"p={c.p_value:.2g} over 30 clips)" in c.sentence()


def test_studies_of_one_target_on_two_corpora_are_not_compared(tmp_path):
    """best.csv and `tfselect best` refuse to pick a target's transform among studies made
    on different dataset roots (one line naming both); one root, or one named study, is fine."""
    import dataclasses

    from tfselect.report.best import best_choice
    from tfselect.report.selection import best_frame
    from tfselect.search.study import TAG, read_tags

    url = f"sqlite:///{tmp_path}/roots.db"
    studies = []
    for name, root in (("demo-vocals", "/data/demo"), ("vocals", "/cache/demo-2"),
                       ("vocals-old", "")):  # fmt: skip
        st = _add_study(name, "vocals", "mpi", "maximize",
                        [("stft:n_fft=1024,hop=256", [1.0, 2.0], None)], url)  # fmt: skip
        st.set_user_attr(TAG, dataclasses.replace(read_tags(st), root=root).as_dict())
        studies.append(st)
    with pytest.raises(TfselectError, match=r"^target 'vocals': study 'demo-vocals' searched "
                       r"/data/demo but 'vocals' searched /cache/demo-2; name the studies"):
        best_frame(studies)
    with pytest.raises(TfselectError, match="name the studies of one corpus with --study"):
        best_choice(url, "vocals")
    # A study that recorded no root is not checked; one named study is one corpus.
    assert len(best_frame([studies[0], studies[2]])) == 1
    assert best_choice(url, "vocals", "vocals").study == "vocals"


@pytest.mark.parametrize("fields, units", [
    ({"n_tracks": 10, "n_paired": 30}, " over 10 tracks (30 clips)"),
    ({"n_tracks": 1, "n_paired": 1}, " over 1 track (1 clip)"),
    ({"n_tracks": 8, "n_paired": 24, "stage": "confirmation", "race_diff": 0.123},
     " over 8 held-out tracks (24 clips); the race said +0.12"),
    ({"n_tracks": 8, "n_paired": 24, "stage": "confirmation"},
     " over 8 held-out tracks (24 clips)"),  # no race lead known
    ({"n_tracks": 8, "n_paired": 24, "race_diff": 0.5}, " over 8 tracks (24 clips)"),
    ({"n_tracks": 2, "n_paired": None}, " over 2 tracks (0 clips)"),
    ({"n_paired": 30}, " over 30 clips"),
    ({"n_paired": 1}, " over 1 clip"),
    ({}, ""),
])  # fmt: skip
def test_the_units_behind_a_choices_statistics(fields: dict, units: str) -> None:
    from tfselect.report.best import Choice

    c = Choice(spec="a", study="s", value=0.0, best_spec="a", reference="stft",
               reference_spec="b", diff=0.25, ci_low=0.1, ci_high=0.4, p_value=0.01,
               verdict="better", **fields)  # fmt: skip
    assert c.sentence() == (f"best a is better than the reference b "
                            f"(+0.25 [+0.10, +0.40], p=0.01{units})")  # fmt: skip


def test_a_best_rows_verdict_in_words() -> None:
    from types import SimpleNamespace as Row

    from tfselect.report.best import row_verdict

    assert row_verdict(Row()) == ""  # no verdict column
    assert row_verdict(Row(verdict=math.nan, versus="stft")) == ""  # an empty cell
    assert row_verdict(Row(verdict="better")) == "better"  # no versus column
    assert row_verdict(Row(verdict="better", versus=math.nan)) == "better"
    assert row_verdict(Row(verdict="reference", versus="stft")) == "reference"
    assert row_verdict(Row(verdict="better", versus="stft")) == "better than stft"
    assert row_verdict(Row(verdict="worse", versus="best", candidate="stft")) == "worse than best"
    assert row_verdict(Row(verdict="not distinguishable", versus="best")) == (
        "not distinguishable from best")
    # a file written before each row spoke for itself: the best's verdict on a reference row
    assert row_verdict(Row(verdict="better", versus="stft", candidate="stft")) == (
        "best is better than this")
