"""What a study holds, read and written through Optuna's public API only.

- Tags: a study is created once (by whichever worker comes first) and tagged in its user
  attrs with its target, objective, clip pool, dataset root and categorical choices. Every
  later worker or re-run checks the tags *before* touching the study: running with another
  target, objective, clip setting or root is a one-line error and nothing is written.
- References: STFT 4096/1024 and Bark-262 are enqueued as the study's first trials
  (user attr ``reference``), so they race on the same clips as every candidate. Every start
  of a worker queues again a reference that has no complete, running or waiting trial (one
  interrupted by Ctrl-C or a crash ends FAIL), so none is lost for good.
- Confirmation: tracks of the pool kept out of the race (tag ``confirm``); the finalists'
  and the references' per-clip values there are study user attrs ``confirm:<spec>``.
- Per-clip values: each trial keeps the primary objective's value per clip of the pool
  (user attr ``clip_values``, clip id -> value; the racing also reports them to Optuna as
  intermediate values), so paired statistics need no audio.
- Lookups of earlier results (a repeated candidate is answered from them); which trials
  count and which is best: :mod:`tfselect.search.ranking`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tfselect.errors import TfselectError
from tfselect.search import stale
from tfselect.transforms.spec import TransformSpec

# Imported inside the functions that need them, so that importing this module stays light:
# optuna (and numpy for the sampler's seed).

SAMPLERS = ("tpe", "gp", "random", "cmaes", "nsga2")
TAG = "tfselect"  # user attr holding the tag dict
# Reference transforms: trials of every study, raced on the same clips as the candidates.
# Stored (user attr ``spec``, ``confirm:<spec>``) as ``str(spec)``, the canonical text.
REFERENCES: dict[str, TransformSpec] = {
    "stft": TransformSpec(kind="stft", n_fft=4096, hop=1024),
    "xumx-slicq": TransformSpec(
        kind="slicqt", scale="bark", bins=262, fmin=32.9, fmax=22050, phase="local", form="ragged"
    ),
}
# The trial attribute naming the aggregate of its stored metrics over clips ("mean"; absent
# in studies written when trials stored medians).
AGGREGATE_ATTR = "aggregate"
# User attrs of a trial that are not metrics.
RESERVED_ATTRS = (
    "spec", "fail_reason", "reused_from", "reference", "reference_params", "clips",
    "clip_values", "n_metric_clips", "reference_ticket", AGGREGATE_ATTR, "screen_score",
    "clip_metrics", "design", "design_spec", *stale.ATTRS,
)  # fmt: skip
CONFIRM_PREFIX = "confirm:"  # study user attr prefix: per-clip values on the held-out tracks


def confirm_key(spec: str | TransformSpec) -> str:
    """The study user attr holding ``spec``'s values on the confirmation clips."""
    return CONFIRM_PREFIX + str(spec)


def stored_spec(trial) -> TransformSpec:
    """The spec a trial scored, read back from its user attr ``spec`` (canonical text)."""
    return TransformSpec.parse(trial.user_attrs["spec"])


@dataclass(frozen=True)
class StudyTags:
    """What a study searches; stored as one dict in the study's user attrs.

    Attributes:
        target: the source (vocals, drums, bass, other).
        objective: canonical objective text (see ``objectives``).
        directions: "maximize"/"minimize" per objective.
        clips: clip-sampling settings (split, n_clips, seconds, seed, ...): every worker
            must score on the same clips, so they must agree.
        metrics: metric names each trial computes.
        root: dataset root (resolved path); a run with another ``--root`` is refused, since
            the clips, and so every score, come from it.
        choices: the categorical choices of the search space (scales, phase, form, STFT
            sizes): Optuna cannot change them within a study, so workers must agree.
            Numeric ranges may change between runs (e.g. to widen bins).
        pool: ``track@start`` per clip of the pool, clip id = index
            (:func:`tfselect.search.trial.pool_ids`); empty for a study stored without it.
        confirm: ``track@start`` per clip of the confirmation split (tracks kept out of the
            race); empty when the study has none.
    """

    target: str
    objective: str
    directions: tuple[str, ...]
    clips: Mapping[str, Any]
    metrics: tuple[str, ...]
    root: str = ""
    choices: Mapping[str, Any] = field(default_factory=dict)
    pool: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()

    def clip_tracks(self) -> dict[int, str]:
        """{clip id: track name} of the pool (empty when the study did not store it)."""
        return {i: s.rpartition("@")[0] for i, s in enumerate(self.pool)}

    def confirm_tracks(self) -> dict[int, str]:
        """{clip id: track name} of the confirmation clips (empty without a split)."""
        return {i: s.rpartition("@")[0] for i, s in enumerate(self.confirm)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "objective": self.objective,
            "directions": list(self.directions),
            "clips": dict(self.clips),
            "metrics": list(self.metrics),
            "root": self.root,
            "choices": dict(self.choices),
            "pool": list(self.pool),
            "confirm": list(self.confirm),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StudyTags:
        return cls(
            target=d["target"],
            objective=d["objective"],
            directions=tuple(d["directions"]),
            clips=dict(d.get("clips", {})),
            metrics=tuple(d.get("metrics", ())),
            root=d.get("root", ""),
            choices=dict(d.get("choices", {})),
            pool=tuple(d.get("pool", ())),
            confirm=tuple(d.get("confirm", ())),
        )


def make_sampler(name: str, seed: int | None, n_objectives: int):
    """An Optuna sampler by short name; TfselectError for unknown or unsuitable ones."""
    import optuna

    name = name.lower()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            # multivariate+group models the conditional space (gamma only for vqlog ...);
            # constant_liar keeps parallel workers from proposing the same point.
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True
            )
        if name == "gp":
            # Gaussian-process BO (needs torch and scipy, both dependencies). It models the
            # parameters every trial has; conditional ones are drawn at random.
            return optuna.samplers.GPSampler(seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "cmaes":
            if n_objectives > 1:
                raise TfselectError("sampler cmaes handles one objective only (use tpe or nsga2)")
            # Categorical parameters (scale, kind) fall back to random sampling.
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
    raise TfselectError(f"unknown sampler {name!r} (choose from {', '.join(SAMPLERS)})")


def reseed_sampler(sampler, seed: int, number: int) -> None:
    """Seed every random state of ``sampler`` (and of the samplers inside it) from
    (``seed``, trial ``number``), before the trial draws its parameters.

    Trial numbers are unique within a study, so workers sharing it draw different streams
    while one process with one seed replays the same proposals on a fresh study. Optuna has
    no public per-trial seed (``reseed_rng`` draws OS entropy), so this sets the
    ``LazyRandomState`` objects its samplers keep.
    """
    import numpy as np
    from optuna.samplers import BaseSampler
    from optuna.samplers._lazy_random_state import LazyRandomState

    state = int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 4, int(number)])
                .generate_state(1)[0])  # fmt: skip
    seen: set[int] = set()

    def visit(obj) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        for value in vars(obj).values():
            if isinstance(value, LazyRandomState):
                value.rng.seed(state)
            elif isinstance(value, BaseSampler):
                visit(value)

    visit(sampler)


def make_pruner(name: str, p_threshold: float = 0.05, min_clips: int = 6):
    """The racing pruner: Optuna's WilcoxonPruner, or NopPruner for "none".

    Args:
        name: "wilcoxon" or "none".
        p_threshold: stop a candidate when the one-sided Wilcoxon signed-rank test on the
            clips it shares with the best trial gives p below this (in (0, 1)).
        min_clips: clips a candidate sees before it may be stopped.
    """
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name != "wilcoxon":
        raise TfselectError(f"unknown pruner {name!r} (use wilcoxon or none)")
    if not 0.0 < p_threshold < 1.0:
        raise TfselectError(f"p_threshold must be in (0, 1), got {p_threshold}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.WilcoxonPruner(p_threshold=p_threshold, n_startup_steps=min_clips)


def read_tags(study) -> StudyTags | None:
    """The study's tags, or None for a study tfselect did not (yet) tag."""
    raw = study.user_attrs.get(TAG)
    return StudyTags.from_dict(raw) if isinstance(raw, Mapping) else None


def find_study(storage, name: str):
    """The stored study ``name`` (Optuna's ``FrozenStudy``: name, user attrs) or None."""
    for s in storage.get_all_studies():
        if s.study_name == name:
            return s
    return None


def n_trials(storage, name: str) -> int:
    """Trials of study ``name`` in every state (0 when there is no such study)."""
    if find_study(storage, name) is None:
        return 0
    return storage.get_n_trials(storage.get_study_id_from_name(name))


def open_study(storage, name: str, tags: StudyTags, sampler, pruner=None, space=None):
    """Load study ``name`` after checking its tags, or create, tag it and enqueue the
    reference transforms as its first trials.

    Raises:
        TfselectError: the study exists for another target/objective/clip setting, or was
            not made by tfselect. Nothing is written in that case.
    """
    import optuna

    existing = find_study(storage, name)
    if existing is not None:
        found = existing.user_attrs.get(TAG)
        if isinstance(found, Mapping):
            check_tags(name, StudyTags.from_dict(found), tags)
        elif n_trials(storage, name):
            # Untagged but empty: a worker that is creating it right now; tag it below.
            raise TfselectError(f"study {name!r} exists but was not created by tfselect")
        study = optuna.load_study(
            study_name=name, storage=storage, sampler=sampler, pruner=pruner
        )
    else:
        try:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                sampler=sampler,
                directions=list(tags.directions),
                pruner=pruner,
            )
        except optuna.exceptions.DuplicatedStudyError:
            # Another worker created it a moment ago: check its tags like any existing study.
            return open_study(storage, name, tags, sampler, pruner, space)
    current = study.user_attrs.get(TAG)
    if isinstance(current, Mapping):
        check_tags(name, StudyTags.from_dict(current), tags)
    else:
        if [d.name.lower() for d in study.directions] != list(tags.directions):
            raise TfselectError(f"study {name!r} exists with other directions")
        study.set_user_attr(TAG, tags.as_dict())
    stale.fail_stale(study)  # a dead worker's RUNNING reference must not count as alive
    enqueue_references(study, space)
    return study


def check_tags(name: str, found: StudyTags, wanted: StudyTags) -> None:
    """Raise TfselectError when a worker's settings disagree with the study's tags."""
    if found.target != wanted.target:
        raise TfselectError(
            f"study {name!r} searches target {found.target!r}, not {wanted.target!r} "
            "(pick another --study)"
        )
    if found.objective != wanted.objective:
        raise TfselectError(
            f"study {name!r} has objective {found.objective!r}, not {wanted.objective!r} "
            "(pick another --study or the same --objective)"
        )
    if dict(found.choices) != dict(wanted.choices):
        k = next(k for k in set(found.choices) | set(wanted.choices)
                 if found.choices.get(k) != wanted.choices.get(k))  # fmt: skip
        raise TfselectError(
            f"study {name!r} searches {k}={found.choices.get(k)!r}, not "
            f"{wanted.choices.get(k)!r}: Optuna cannot change a study's choices (pick another "
            "--study, or keep them; numeric ranges may change)"
        )
    if found.root and wanted.root and found.root != wanted.root:
        raise TfselectError(
            f"study {name!r} scores clips of root {found.root}, not {wanted.root} "
            "(pick another --study, or the same --root)"
        )
    if found.pool and wanted.pool and (
        (tuple(found.pool), tuple(found.confirm)) != (tuple(wanted.pool), tuple(wanted.confirm))
    ):
        raise TfselectError(
            f"study {name!r} was made on other clips than this root gives now (were tracks "
            "added or changed?): pick another --study"
        )
    if dict(found.clips) != dict(wanted.clips):
        diff = sorted(
            k
            for k in set(found.clips) | set(wanted.clips)
            if found.clips.get(k) != wanted.clips.get(k)
        )
        k = diff[0]
        raise TfselectError(
            f"study {name!r} scores clips with {k}={found.clips.get(k)!r}, "
            f"not {wanted.clips.get(k)!r} (every worker must use the same clips)"
        )


def load_study(storage, name: str):
    """Load an existing study by name; TfselectError listing the available ones if absent."""
    import optuna

    names = [s.study_name for s in storage.get_all_studies()]
    if name not in names:
        have = ", ".join(sorted(names)) or "none"
        raise TfselectError(f"no study {name!r} in the storage (studies: {have})")
    return optuna.load_study(study_name=name, storage=storage)


def is_survey(tags: StudyTags) -> bool:
    """Whether a study is a survey (``tfselect survey``: a fixed design, no search)."""
    return "survey" in tags.clips


def tagged_studies(
    storage, names: list[str] | None = None, target: str | None = None, surveys: bool = False
) -> list:
    """Studies made by tfselect (all, or the named ones), optionally for one target only.

    Without names, only searches (``surveys=False``: a survey's best is no search result,
    and best.csv must not pick it) or only surveys (``surveys=True``)."""
    import optuna

    summaries = storage.get_all_studies()
    if names:
        studies = [load_study(storage, n) for n in names]
    else:
        studies = [
            optuna.load_study(study_name=s.study_name, storage=storage)
            for s in summaries
            if isinstance(s.user_attrs.get(TAG), Mapping)
        ]
    out = []
    for st in studies:
        tags = read_tags(st)
        if tags is None:
            if names:
                raise TfselectError(f"study {st.study_name!r} was not created by tfselect")
            continue
        if not names and is_survey(tags) != surveys:
            continue
        if target is None or tags.target == target:
            out.append(st)
    return out


def earlier_result(study, spec: str, metrics: tuple[str, ...] = ()):
    """A finished (complete or pruned) trial that scored ``spec``, not itself a repeat, or
    None. A complete one must hold every metric in ``metrics``."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        attrs = t.user_attrs
        if attrs.get("spec") != spec or "reused_from" in attrs:
            continue
        if t.state == TrialState.COMPLETE and not all(m in attrs for m in metrics):
            continue
        return t
    return None


def enqueue_references(study, space=None) -> None:
    """Queue each reference transform that has no complete, running or waiting trial.

    Runs on every start of a worker, so a reference trial that ended FAIL (Ctrl-C, a crash)
    is queued again. Idempotent, and safe for workers starting together: each queued trial
    carries a ticket (reference name and how many of its trials had failed); two workers
    that queue the same ticket leave one extra trial, which finds the earlier one when it
    starts and ends at once as its repeat (:func:`duplicate_reference`). The parameters that
    give a reference in ``space`` (a ``SearchSpace``) are enqueued when it can express them.
    """
    from optuna.trial import TrialState

    # PRUNED: a reference is never raced, so only an undefined objective prunes it: final.
    live = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
    trials = study.get_trials(deepcopy=False)
    for name, spec in REFERENCES.items():
        mine = [t for t in trials if t.user_attrs.get("reference") == name]
        if any(t.state in live for t in mine):
            continue
        if any(t.state == TrialState.COMPLETE and t.user_attrs.get("spec") == str(spec)
               for t in trials):  # fmt: skip
            continue  # a candidate that drew the reference's spec stands for it
        params = (space.params_for(spec) if space is not None else None) or {}
        ticket = f"{name}#{sum(t.state == TrialState.FAIL for t in mine)}"
        study.enqueue_trial(
            params,
            user_attrs={"reference": name, "reference_params": bool(params),
                        "reference_ticket": ticket},
        )  # fmt: skip


def duplicate_reference(trial):
    """The earlier trial holding the same reference ticket as ``trial`` (queued twice by
    workers that started together), unless it failed; None when ``trial`` is the one."""
    from optuna.trial import TrialState

    ticket = trial.user_attrs.get("reference_ticket")
    if ticket is None:
        return None
    for t in trial.study.get_trials(deepcopy=False):
        if (t.number < trial.number and t.user_attrs.get("reference_ticket") == ticket
                and t.state != TrialState.FAIL):  # fmt: skip
            return t
    return None
