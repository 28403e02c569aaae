"""Which trials of a study count, and which is best: the search's side of the selection.

- Complete trials: COMPLETE ones, without the repeats answered from an earlier trial.
- The best trial: best first objective (on the Pareto front when there are several
  objectives), ties to the earliest; the report's statistics start from it
  (:mod:`tfselect.report.selection`).
- The reference trials and each trial's per-clip values, for the paired statistics.
"""

from __future__ import annotations

from typing import Any

from tfselect.search.study import REFERENCES


def complete_trials(study) -> list:
    """Complete trials, without the repeats answered from an earlier trial."""
    from optuna.trial import TrialState

    return [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "reused_from" not in t.user_attrs
    ]


def best_trial(study):
    """Best complete trial (multi-objective: best first objective on the Pareto front);
    ties go to the earliest trial. None without a complete trial."""
    complete = complete_trials(study)
    if not complete:
        return None
    sign = 1.0 if study.directions[0].name == "MAXIMIZE" else -1.0
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        complete = [t for t in complete if t.number in front] or complete
    return max(complete, key=lambda t: (sign * t.values[0], -t.number))


def reference_trials(study) -> dict[str, Any]:
    """{reference name: its first complete trial} (missing while not yet complete)."""
    out: dict[str, Any] = {}
    by_spec = {spec: name for name, spec in REFERENCES.items()}
    for t in complete_trials(study):
        name = t.user_attrs.get("reference") or by_spec.get(t.user_attrs.get("spec", ""))
        if name in REFERENCES and name not in out:
            out[name] = t
    return out


def clip_values(trial) -> dict[int, float]:
    """{clip id: primary objective value} of the clips a trial was scored on (may be empty)."""
    raw = trial.user_attrs.get("clip_values") or {}
    return {int(k): float(v) for k, v in raw.items() if v is not None}
