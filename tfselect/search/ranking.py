"""Which trials of a study count, and which is best: the search's side of the selection.

- Complete trials: COMPLETE ones, without the repeats answered from an earlier trial.
- The best trial: best first objective (on the Pareto front when there are several
  objectives), ties to the earliest; the report's statistics start from it
  (:mod:`tfselect.report.selection`).
- The reference trials and each trial's per-clip values, for the paired statistics; the
  values of a spec on the confirmation clips (tracks kept out of the race).
"""

from __future__ import annotations

from typing import Any

from tfselect.search.study import REFERENCES, confirm_key

# Imported inside the functions that need them, so that importing this module stays light:
# optuna.


def complete_trials(study) -> list:
    """Complete trials, without the repeats answered from an earlier trial.

    The trials are the storage's own objects, not copies: a report reads every trial of
    studies with thousands of them.
    """
    from optuna.trial import TrialState

    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "reused_from" not in t.user_attrs
    ]


def direction_sign(study) -> float:
    """+1.0 when the study's first objective is maximised, -1.0 when it is minimised: the
    factor that turns its values into "larger is better"."""
    from optuna.study import StudyDirection

    return 1.0 if study.directions[0] == StudyDirection.MAXIMIZE else -1.0


def best_trial(study):
    """Best complete trial (multi-objective: best first objective on the Pareto front);
    ties go to the earliest trial. None without a complete trial."""
    complete = complete_trials(study)
    if not complete:
        return None
    if len(study.directions) > 1:
        # Optuna's front also holds the repeats; one made of repeats only (a hand-edited
        # study: a search keeps each repeat's original, which scores the same) leaves every
        # trial in. One objective skips it: the front would be the tied best, and computing
        # it costs tens of times the max below (benchmarks/ranking.py), after every trial.
        front = {t.number for t in study.best_trials}
        complete = [t for t in complete if t.number in front] or complete
    sign = direction_sign(study)
    return max(complete, key=lambda t: (sign * t.values[0], -t.number))


def reference_trials(study) -> dict[str, Any]:
    """{reference name: the first complete trial that scored its spec} (missing while none
    has). That is the enqueued reference trial, or a candidate that drew the same spec and
    finished first (parallel workers): the reference trial is then a repeat of it."""
    by_spec = {str(spec): name for name, spec in REFERENCES.items()}
    out: dict[str, Any] = {}
    for t in complete_trials(study):
        name = by_spec.get(t.user_attrs.get("spec"))
        if name is not None:
            out.setdefault(name, t)
    return out


def clip_values(trial) -> dict[int, float]:
    """{clip id: primary objective value} of the clips a trial was scored on (may be empty)."""
    raw = trial.user_attrs.get("clip_values") or {}
    return {int(k): float(v) for k, v in raw.items() if v is not None}


def confirm_values(study, spec: str) -> dict[int, float]:
    """{confirmation clip id: primary objective value} of ``spec`` (empty when it was not
    scored on the study's confirmation clips)."""
    raw = study.user_attrs.get(confirm_key(spec)) or {}
    return {int(k): float(v) for k, v in raw.items() if v is not None}
