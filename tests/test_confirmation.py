"""The confirmation split and the references' guarantee.

- Tracks kept out of the race: the split rule, the finalists and references scored there,
  best.csv's statistics taken from them (checked against a per-track computation written
  here), resuming, and studies made before the split existed.
- References: one interrupted inside its trial is queued again on the next start; two
  workers that queue the same reference leave exactly one scored trial.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tfselect.errors import Interrupted, TfselectError
from tfselect.report.selection import best_frame
from tfselect.search.config import load_config
from tfselect.search.objectives import parse_objectives
from tfselect.search.ranking import reference_trials
from tfselect.search.run import run_search
from tfselect.search.space import SearchSpace
from tfselect.search.storage import open_storage
from tfselect.search.study import (
    REFERENCES,
    TAG,
    StudyTags,
    confirm_key,
    enqueue_references,
    open_study,
    read_tags,
)
from tfselect.search.trial import TrialObjective, split_confirmation

# the references as the text the studies store
REF_TEXT = {name: str(spec) for name, spec in REFERENCES.items()}
STFTS = ("stft:n_fft=1024,hop=256", "stft:n_fft=2048,hop=512", "stft:n_fft=3072,hop=768")


@pytest.fixture
def config(small_study):
    """Three STFTs, a random sampler, every clip of the demo corpus's 4 train tracks, and
    half of them (2 tracks) kept out of the race."""
    cfg = load_config(small_study)
    space = replace(cfg.space, scales=(), stft_n_fft=(1024, 3072), stft_n_fft_step=1024,
                    stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    clips = replace(cfg.clips, max_tracks=None, n_clips=2, confirm=0.5, confirm_min=2)
    search = replace(cfg.search, metrics=("mpi",), finalists=2)
    return replace(cfg, space=space, clips=clips, search=search)


class TrackScorer:
    """mpi = level(spec) + offset(track) + a small (spec, clip) term: values that differ by
    track and clip, known to the test."""

    LEVELS = {**dict(zip(STFTS, (1.0, 2.0, 3.0), strict=True)),
              REF_TEXT["stft"]: 2.5, REF_TEXT["xumx-slicq"]: 0.5}  # fmt: skip

    def __init__(self) -> None:
        self.scored: list[tuple[str, str, int]] = []

    @staticmethod
    def value(spec: str, track: str, start: int) -> float:
        offset = (sum(map(ord, track)) % 7) * 0.5
        wiggle = ((start // 1000 + len(spec)) % 5) * 0.01
        return TrackScorer.LEVELS[spec] + offset + wiggle

    def __call__(self, spec, target, metrics, device):
        text = str(spec)

        def score_clip(clip, wanted):
            self.scored.append((text, clip.track, clip.start))
            return {m: self.value(text, clip.track, clip.start) for m in wanted}

        return score_clip


def _study(url: str, name: str):
    return optuna.load_study(study_name=name, storage=open_storage(url))


# ---------------------------------------------------------------------------- the split
def test_split_keeps_a_seeded_share_of_tracks_out_of_the_race():
    pool = [SimpleNamespace(track=f"t{i:02d}", start=s) for i in range(20) for s in (0, 9)]
    race, held = split_confirmation(pool, 0.3, 3, seed=5)
    held_tracks = {c.track for c in held}
    assert len(held_tracks) == max(3, round(0.3 * 20)) == 6
    assert not held_tracks & {c.track for c in race}  # by track: both clips go together
    assert sorted(race + held, key=lambda c: (c.track, c.start)) == pool
    assert [c for c in pool if c in race] == race  # pool order kept on both sides
    again, _ = split_confirmation(pool, 0.3, 3, seed=5)
    assert again == race
    draws = {frozenset(c.track for c in split_confirmation(pool, 0.3, 3, seed=s)[1])
             for s in range(6)}  # fmt: skip
    assert len(draws) > 1  # the seed decides which tracks
    assert split_confirmation(pool, 0.1, 4, seed=5)[1] != []  # at least the minimum
    assert len({c.track for c in split_confirmation(pool, 0.1, 4, seed=5)[1]}) == 4
    # Off, or too few tracks for the minimum on both sides: every clip races.
    assert split_confirmation(pool, 0.0, 3, seed=5) == (pool, [])
    eight = [c for c in pool if c.track < "t08"]
    assert split_confirmation(eight, 0.3, 6, seed=5) == (eight, [])


def test_confirmation_defaults_are_validated(small_study):
    cfg = load_config(small_study)
    assert (cfg.clips.confirm, cfg.clips.confirm_min, cfg.search.finalists) == (0.3, 6, 3)
    with pytest.raises(TfselectError, match=r"clips.confirm: must be in \[0, 1\)"):
        cfg.override(confirm=1.0)
    with pytest.raises(TfselectError, match=r"search.finalists: must be in \[1, "):
        cfg.override(finalists=0)


# ---------------------------------------------------------------------------- confirmation
def test_finalists_and_references_are_scored_on_held_out_tracks(tmp_path, demo_root, config):
    url = f"sqlite:///{tmp_path}/c.db"
    scorer = TrackScorer()
    r = run_search("vocals", storage=url, study="c", config=config, root=demo_root, trials=5,
                   progress=False, scorer=scorer)  # fmt: skip
    st = _study(url, "c")
    tags = read_tags(st)
    race_tracks = set(tags.clip_tracks().values())
    held = tags.confirm_tracks()
    assert len(set(held.values())) == 2 and len(race_tracks) == 2
    assert not race_tracks & set(held.values())
    # No trial ever saw a held-out clip.
    held_ids = set(tags.confirm)
    race_scored = {f"{tr}@{s}" for spec, tr, s in scorer.scored if tr in race_tracks}
    assert race_scored == set(tags.pool)
    # The 2 finalists (the two best STFTs) and both references, each once, on every clip.
    want = {STFTS[2], STFTS[1], *REF_TEXT.values()}
    assert set(r.confirmed) == want
    for spec in want:
        stored = st.user_attrs[confirm_key(spec)]
        assert len(stored) == len(held_ids)
        for cid, ident in enumerate(tags.confirm):
            track, _, start = ident.rpartition("@")
            assert stored[str(cid)] == pytest.approx(TrackScorer.value(spec, track, int(start)))
    assert st.user_attrs.get(confirm_key(STFTS[0])) is None  # not a finalist

    # best.csv: the best (3072) against the better reference (stft 4096), on held-out tracks.
    rows = best_frame([st], n_boot=200).set_index("candidate")
    best = rows.loc["best"]
    assert best["spec"] == STFTS[2] and best["versus"] == "stft"
    assert best["stage"] == "confirmation" and best["n_tracks"] == 2
    assert best["n_paired"] == len(held_ids)
    per_track: dict[str, list[float]] = {}
    for ident in tags.confirm:
        track, _, start = ident.rpartition("@")
        d = (TrackScorer.value(STFTS[2], track, int(start))
             - TrackScorer.value(REF_TEXT["stft"], track, int(start)))  # fmt: skip
        per_track.setdefault(track, []).append(d)
    assert best["diff"] == pytest.approx(np.mean([np.mean(v) for v in per_track.values()]))
    # Two tracks can never make a significant verdict: the reference stays selected.
    assert best["verdict"] == "not distinguishable" and not best["selected"]
    assert rows.loc["stft", "selected"]
    # The race's lead is kept beside it, computed on the race's clips.
    assert np.isfinite(best["race_diff"])


def test_confirmation_resumes_and_the_study_remembers_its_split(tmp_path, demo_root, config):
    url = f"sqlite:///{tmp_path}/c.db"
    scorer = TrackScorer()
    run_search("vocals", storage=url, study="c", config=config, root=demo_root, trials=2,
               progress=False, scorer=scorer)  # fmt: skip
    st = _study(url, "c")
    first = read_tags(st)
    # Lose one stored confirmation (an interrupted one never stores anything).
    key = confirm_key(REFERENCES["xumx-slicq"])
    st.set_user_attr(key, None)
    n = len(scorer.scored)
    r = run_search("vocals", storage=url, study="c", config=config, root=demo_root, trials=0,
                   progress=False, scorer=scorer)  # fmt: skip
    assert read_tags(_study(url, "c")).confirm == first.confirm
    # --trials 0 ran no trial; only the missing confirmation was scored again.
    assert r.ran == 0 and r.confirmed == [REF_TEXT["xumx-slicq"]]
    assert len(scorer.scored) - n == len(first.confirm)
    # Another split is another study.
    other = replace(config, clips=replace(config.clips, confirm=0.7))
    with pytest.raises(TfselectError, match="confirm"):
        run_search("vocals", storage=url, study="c", config=other, root=demo_root, trials=1,
                   progress=False, scorer=scorer)  # fmt: skip


def test_a_study_made_before_the_split_keeps_racing_on_its_pool(tmp_path, demo_root, config):
    url = f"sqlite:///{tmp_path}/old.db"
    scorer = TrackScorer()
    no_split = replace(config, clips=replace(config.clips, confirm=0.0))
    run_search("vocals", storage=url, study="old", config=no_split, root=demo_root, trials=1,
               progress=False, scorer=scorer)  # fmt: skip
    st = _study(url, "old")
    raw = dict(st.user_attrs[TAG])
    raw["clips"] = {k: v for k, v in raw["clips"].items() if k not in ("confirm", "confirm_min")}
    raw.pop("confirm")
    st.set_user_attr(TAG, raw)  # what an earlier version stored
    r = run_search("vocals", storage=url, study="old", config=config, root=demo_root, trials=1,
                   progress=False, scorer=scorer)  # fmt: skip
    assert r.ran == 1 and r.confirmed == []
    assert read_tags(_study(url, "old")).confirm == ()
    rows = best_frame([_study(url, "old")], n_boot=100)
    assert set(rows["stage"].dropna()) == {"race"}


# ---------------------------------------------------------------------------- references
def test_a_reference_interrupted_inside_its_trial_is_queued_again(tmp_path, demo_root, config):
    url = f"sqlite:///{tmp_path}/i.db"
    plain = replace(config, clips=replace(config.clips, confirm=0.0))
    good = TrackScorer()

    def ctrl_c_in_bark(spec, target, metrics, device):
        if str(spec) == REF_TEXT["xumx-slicq"]:
            raise KeyboardInterrupt  # Ctrl-C while the Bark reference is being scored
        return good(spec, target, metrics, device)

    with pytest.raises(Interrupted):
        run_search("vocals", storage=url, study="i", config=plain, root=demo_root, trials=3,
                   progress=False, scorer=ctrl_c_in_bark)  # fmt: skip
    st = _study(url, "i")
    lost = [t for t in st.trials if t.user_attrs.get("reference") == "xumx-slicq"]
    assert [t.state for t in lost] == [TrialState.FAIL]
    run_search("vocals", storage=url, study="i", config=plain, root=demo_root, trials=3,
               progress=False, scorer=good)  # fmt: skip
    st = _study(url, "i")
    refs = reference_trials(st)
    assert set(refs) == set(REFERENCES)
    assert refs["xumx-slicq"].user_attrs["spec"] == REF_TEXT["xumx-slicq"]
    bark = [t for t in st.trials if t.user_attrs.get("reference") == "xumx-slicq"]
    assert [t.state for t in bark] == [TrialState.FAIL, TrialState.COMPLETE]
    # A third start queues nothing: each reference has its complete trial.
    run_search("vocals", storage=url, study="i", config=plain, root=demo_root, trials=1,
               progress=False, scorer=good)  # fmt: skip
    st = _study(url, "i")
    assert sum(t.user_attrs.get("reference") == "xumx-slicq" for t in st.trials) == 2


def test_two_workers_queueing_the_same_reference_score_it_once(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/w.db"
    store = open_storage(url)
    tags = StudyTags(target="vocals", objective="mpi", directions=("maximize",),
                     clips={}, metrics=("mpi",))  # fmt: skip
    sampler = optuna.samplers.RandomSampler(seed=0)
    st = open_study(store, "w", tags, sampler)
    # A second worker that read the study before the first one queued anything.
    real = st.get_trials
    monkeypatch.setattr(st, "get_trials", lambda *a, **k: [])
    enqueue_references(st)
    monkeypatch.setattr(st, "get_trials", real)
    waiting = st.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 2 * len(REFERENCES)  # each reference queued twice
    enqueue_references(st)  # a third worker, later: sees them waiting, queues nothing
    assert len(st.get_trials(states=(TrialState.WAITING,))) == len(waiting)

    space = SearchSpace(scales=(), stft_n_fft=(1024, 1024), stft_n_fft_step=1024,
                        stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    scorer = TrackScorer()
    pool = [SimpleNamespace(track=f"t{i}", start=0) for i in range(8)]
    obj = TrialObjective(space, parse_objectives("mpi"), "vocals", pool, ["mpi"],
                         scorer=scorer, race=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        st.optimize(obj, n_trials=len(waiting))
    for name, spec in REF_TEXT.items():
        mine = [t for t in st.trials if t.user_attrs.get("reference") == name]
        assert [t.state for t in mine] == [TrialState.COMPLETE, TrialState.PRUNED]
        assert mine[1].user_attrs["reused_from"] == mine[0].number
        assert sum(s == spec for s, _, _ in scorer.scored) == len(pool)  # scored once
    assert set(reference_trials(st)) == set(REFERENCES)


# ---------------------------------------------------------------------------- reproducible
SEARCH_IN_A_PROCESS = '''
import json, sys
from dataclasses import replace
from tfselect.search.config import load_config
from tfselect.search.run import run_search
from tfselect.search.storage import open_storage
import optuna

def scorer(spec, target, metrics, device):
    text = str(spec)
    level = (sum(map(ord, text)) % 97) / 10.0
    return lambda clip, wanted: {m: level + (clip.start % 11) / 100.0 for m in wanted}

toml, root, url = sys.argv[1:4]
cfg = load_config(toml)
cfg = replace(cfg, clips=replace(cfg.clips, max_tracks=None, n_clips=2),
              search=replace(cfg.search, sampler="tpe", metrics=("mpi",)))
run_search("drums", storage=url, study="r", config=cfg, root=root, trials=14,
           progress=False, scorer=scorer)
st = optuna.load_study(study_name="r", storage=open_storage(url))
print(json.dumps([[t.number, t.state.name, t.user_attrs.get("spec"), t.values]
                  for t in st.trials]))
'''


def test_the_same_search_twice_gives_the_same_trials(tmp_path, demo_root, small_study):
    """One seed, one corpus, one process each (other pids): identical trials, past TPE's 10
    random start-up trials. Proposals used to depend on the process id."""
    import json
    import subprocess
    import sys

    script = tmp_path / "search_once.py"
    script.write_text(SEARCH_IN_A_PROCESS)
    runs = []
    for i in range(2):
        out = subprocess.run(
            [sys.executable, str(script), str(small_study), str(demo_root),
             f"sqlite:///{tmp_path}/r{i}.db"],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert len(runs[0]) >= 14
    assert runs[0] == runs[1]
    specs = [r[2] for r in runs[0] if r[2]]
    assert len(set(specs)) > 5  # a real search, not one candidate repeated


def test_workers_sharing_a_study_draw_different_proposals():
    from tfselect.search.study import reseed_sampler

    def proposals(seed: int, numbers: range) -> list[float]:
        sampler = optuna.samplers.TPESampler(seed=0)
        study = optuna.create_study(sampler=sampler)
        out = []
        for n in numbers:
            reseed_sampler(sampler, seed, n)
            t = study.ask()
            out.append(t.suggest_float("x", 0.0, 1.0))
            study.tell(t, 0.0)
        return out

    assert proposals(3, range(4)) == proposals(3, range(4))
    assert proposals(3, range(4)) != proposals(4, range(4))
    # Trial numbers 0-3 vs 4-7 (another worker's trials): other draws.
    first = proposals(3, range(4))
    later = proposals(3, range(4, 8))
    assert not set(first) & set(later)
