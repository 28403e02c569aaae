"""Optuna studies tagged with what they search: target, objective, clips, sampler seed.

A study is created once (by whichever worker comes first) and tagged in its user attrs.
Every later worker or re-run checks the tags *before* touching the study: running with
another target, objective or clip setting is a one-line error and nothing is written.
Scores of the reference transforms on the same clips are kept in the study too
(``baselines``), so ``best.csv`` can compare without re-reading audio.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tfselect.errors import TfselectError

SAMPLERS = ("tpe", "random", "cmaes", "nsga2")
TAG = "tfselect"  # user attr holding the tag dict
BASELINE_PREFIX = "tfselect.baseline:"  # + spec -> {metric: value}
CHECKED = ("target", "objective", "clips")  # must agree between workers


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
        root: dataset root the creator used (informational; machines may mount it elsewhere).
        choices: the categorical choices of the search space (scales, phase, form, STFT
            sizes): Optuna cannot change them within a study, so workers must agree.
            Numeric ranges may change between runs (e.g. to widen bins).
    """

    target: str
    objective: str
    directions: tuple[str, ...]
    clips: Mapping[str, Any]
    metrics: tuple[str, ...]
    root: str = ""
    choices: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "objective": self.objective,
            "directions": list(self.directions),
            "clips": dict(self.clips),
            "metrics": list(self.metrics),
            "root": self.root,
            "choices": dict(self.choices),
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


def read_tags(study) -> StudyTags | None:
    """The study's tags, or None for a study tfselect did not (yet) tag."""
    raw = study.user_attrs.get(TAG)
    return StudyTags.from_dict(raw) if isinstance(raw, Mapping) else None


def _find(storage, name: str):
    for s in storage.get_all_studies():
        if s.study_name == name:
            return s
    return None


def open_study(storage, name: str, tags: StudyTags, sampler):
    """Load study ``name`` after checking its tags, or create and tag it.

    Raises:
        TfselectError: the study exists for another target/objective/clip setting, or was
            not made by tfselect. Nothing is written in that case.
    """
    import optuna

    existing = _find(storage, name)
    if existing is not None:
        found = existing.user_attrs.get(TAG)
        if isinstance(found, Mapping):
            check_tags(name, StudyTags.from_dict(found), tags)
        elif storage.get_n_trials(existing._study_id):
            # Untagged but empty: a worker that is creating it right now; tag it below.
            raise TfselectError(f"study {name!r} exists but was not created by tfselect")
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler)
    else:
        try:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                sampler=sampler,
                directions=list(tags.directions),
            )
        except optuna.exceptions.DuplicatedStudyError:
            # Another worker created it a moment ago: check its tags like any existing study.
            return open_study(storage, name, tags, sampler)
    current = study.user_attrs.get(TAG)
    if isinstance(current, Mapping):
        check_tags(name, StudyTags.from_dict(current), tags)
    else:
        if [d.name.lower() for d in study.directions] != list(tags.directions):
            raise TfselectError(f"study {name!r} exists with other directions")
        study.set_user_attr(TAG, tags.as_dict())
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


def tagged_studies(storage, names: list[str] | None = None, target: str | None = None) -> list:
    """Studies made by tfselect (all, or the named ones), optionally for one target only."""
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
        if target is None or tags.target == target:
            out.append(st)
    return out


def baselines(study) -> dict[str, dict[str, float]]:
    """{spec: {metric: value}} of the reference transforms scored on the study's clips."""
    out = {}
    for key, value in study.user_attrs.items():
        if key.startswith(BASELINE_PREFIX) and isinstance(value, Mapping):
            out[key[len(BASELINE_PREFIX) :]] = dict(value)
    return out


def set_baseline(study, spec: str, metrics: Mapping[str, float]) -> None:
    """Store the scores of a reference transform (one attr per spec: no lost updates)."""
    study.set_user_attr(BASELINE_PREFIX + spec, {k: float(v) for k, v in metrics.items()})
