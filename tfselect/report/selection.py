"""The selection: per target, the best trial, its paired statistics against the reference
transforms, and the one spec that is selected (what best.csv holds and train-best reads).

Rule: the best candidate is selected only when it is significantly better than the better
reference (verdict "better" of :func:`tfselect.report.paired.paired_by_track`: the tracks of
the study's pool are the units), or when it is a reference itself; otherwise the better
reference is. A study stored without its pool falls back to clips as the units
(:func:`tfselect.report.paired.paired`), and its rows say so (``unit`` = "clip").

Confirmation: the race's lead of the best candidate is biased upwards (it is the maximum
over many candidates scored on the same clips: the winner's curse). A study with a
confirmation split scored its finalists and both references on tracks that never raced;
when both sides of a comparison were scored there, the statistics and the verdict come from
those tracks alone (``stage`` = "confirmation"), and the race's lead stays beside them
(``race_diff``) to show the bias. Otherwise they come from the race (``stage`` = "race").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from tfselect.errors import TfselectError
from tfselect.report.columns import COUNT_COLUMNS, trial_metrics
from tfselect.report.paired import paired, paired_by_track
from tfselect.report.tables import ordered_metrics, report_order
from tfselect.search.ranking import (
    best_trial,
    clip_values,
    complete_trials,
    confirm_values,
    direction_sign,
    reference_trials,
)
from tfselect.search.study import REFERENCES, read_tags

STAT_COLUMNS = ["versus", "diff", "ci_low", "ci_high", "p_value", "n_tracks", "n_paired", "unit",
                "stage", "race_diff", "verdict", "selected"]  # fmt: skip


def paired_statistics(
    best: Mapping[int, float],
    reference: Mapping[int, float],
    tracks: Mapping[int, str],
    sign: float = 1.0,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, float | int | str]:
    """The paired statistics of two trials' per-clip values ({clip id: value} each), by track
    when ``tracks`` ({clip id: track name}) names every clip both saw, else by clip.

    Returns :func:`tfselect.report.paired.paired_by_track`'s dict, or ``paired``'s with
    ``n_tracks`` NaN, plus ``unit``: "track" or "clip".
    """
    if tracks and set(best) & set(reference) <= set(tracks):
        return {**paired_by_track(best, reference, tracks, sign, n_boot, seed), "unit": "track"}
    return {**paired(best, reference, sign, n_boot, seed), "n_tracks": math.nan, "unit": "clip"}


def compare_trials(
    study, best, reference, sign: float = 1.0, n_boot: int = 2000, seed: int = 0
) -> dict[str, float | int | str]:
    """:func:`paired_statistics` of trial ``best`` against trial ``reference`` of ``study``:
    on the confirmation clips when both specs were scored there (``stage`` "confirmation"),
    else on the race's clips (``stage`` "race"); ``race_diff`` is the race's ``diff``."""
    tags = read_tags(study)
    race = paired_statistics(clip_values(best), clip_values(reference), tags.clip_tracks(),
                             sign, n_boot, seed)  # fmt: skip
    held = tags.confirm_tracks()
    b = confirm_values(study, best.user_attrs.get("spec", ""))
    r = confirm_values(study, reference.user_attrs.get("spec", ""))
    if held and len(set(b) & set(r)) >= 2:
        out = paired_statistics(b, r, held, sign, n_boot, seed)
        return {**out, "stage": "confirmation", "race_diff": race["diff"]}
    return {**race, "stage": "race", "race_diff": race["diff"]}


def check_one_root(studies: Sequence) -> None:
    """Refuse to choose a target's transform among studies made on different corpora: their
    values are on other clips, so comparing them says nothing (studies that recorded no
    root are not checked).

    Raises:
        TfselectError: one line naming the target, two studies and their roots.
    """
    seen: dict[str, tuple[str, str]] = {}
    for st in studies:
        tags = read_tags(st)
        if tags is None or not tags.root:
            continue
        first = seen.setdefault(tags.target, (st.study_name, tags.root))
        if first[1] != tags.root:
            raise TfselectError(
                f"target {tags.target!r}: study {first[0]!r} searched {first[1]} but "
                f"{st.study_name!r} searched {tags.root}; name the studies of one corpus "
                "with --study"
            )


def from_reference(stats: Mapping) -> dict:
    """The statistics of the best against a reference (:func:`compare_trials`), turned
    round to read from the reference's row: ``versus`` "best", ``diff``, its interval and
    ``race_diff`` negated, "better" and "worse" swapped (p and the counts are symmetric)."""
    swap = {"better": "worse", "worse": "better"}
    out = {**stats, "versus": "best", "verdict": swap.get(stats["verdict"], stats["verdict"])}
    out["diff"], out["race_diff"] = -stats["diff"], -stats["race_diff"]
    out["ci_low"], out["ci_high"] = -stats["ci_high"], -stats["ci_low"]
    return out


def best_frame(studies: Sequence, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Best spec per (target, objective) next to the reference transforms, with paired
    statistics and the selected spec.

    Rows, per target and objective: ``candidate="best"`` (the best complete trial; with
    several studies of the same target and objective, the best of them), then ``"stft"``
    (stft:n_fft=4096,hop=1024) and ``"xumx-slicq"`` (Bark-262), the reference trials of that
    study, raced on the same clips. Per target the default objective (``mpi``) comes first,
    else the objective of the study with the most trials. ``value`` is the first objective's
    value (mean over clips) for every row.

    Statistics (:func:`compare_trials`, first objective, clips both saw, tracks as the
    units when the study stored them; the confirmation tracks when the study has them and
    scored both sides there): every row compares its own candidate with the one named in
    ``versus``, from its own point of view (``diff`` = this row minus ``versus``, signed so
    that positive = this row is better; ``verdict`` "better" = this row beats ``versus``):
    the best row against the better reference, each reference row against the best
    (``versus`` = "best"; :func:`from_reference`). ``selected`` marks one row per (target,
    objective): the best candidate when its verdict against the better reference is
    "better" (or it is a reference itself), else the better reference.

    Columns: target, objective, candidate, spec, value, study, number, n_complete, versus,
    diff, ci_low, ci_high, p_value, n_tracks, n_paired (clips), unit (track / clip), stage
    (confirmation / race), race_diff, verdict, selected, n_clips (the clips behind ``value``
    and the objective's metrics), n_metric_clips (the clips behind the other metrics), then
    one column per metric, its mean over clips (``mpi_mean``, ...; as trials.csv).
    """
    check_one_root(studies)
    chosen: dict[tuple[str, str], tuple] = {}
    order: list[tuple[str, str]] = []
    for st in report_order(studies):
        tags = read_tags(st)
        key = (tags.target, tags.objective)
        if key not in order:
            order.append(key)
        t = best_trial(st)
        if t is None:
            continue
        sign = direction_sign(st)
        # Strictly better: on a tie the study earlier in report order keeps it.
        if key not in chosen or sign * t.values[0] > sign * chosen[key][1].values[0]:
            chosen[key] = (st, t)
    rows = []
    metric_names: set[str] = set()
    for key in order:
        if key not in chosen:
            continue
        st, t = chosen[key]
        target, objective = key
        sign = direction_sign(st)
        refs = reference_trials(st)
        best_is_ref = next((n for n, r in refs.items() if r.number == t.number), None)
        better_ref = max(refs, key=lambda n: sign * refs[n].values[0]) if refs else None
        stats = {n: compare_trials(st, t, r, sign, n_boot, seed)
                 for n, r in refs.items() if r.number != t.number}  # fmt: skip
        if best_is_ref is not None or better_ref is None:
            keep = "best"
        else:
            keep = "best" if stats[better_ref]["verdict"] == "better" else better_ref
        common = {"target": target, "objective": objective, "study": st.study_name}

        def metrics_of(trial, objective: str = objective) -> dict:
            attrs = trial.user_attrs
            m = trial_metrics(attrs, objective, trial.values[0])
            metric_names.update(m)
            counts = {c: attrs.get(c) for c in COUNT_COLUMNS}
            return {**counts, **m}

        best_stats = {}
        if best_is_ref is None and better_ref is not None:
            best_stats = {"versus": better_ref, **stats[better_ref]}
        rows.append({
            **common, "candidate": "best", "spec": t.user_attrs.get("spec", ""),
            "value": t.values[0], "number": t.number, "n_complete": len(complete_trials(st)),
            **best_stats, "verdict": best_stats.get("verdict", "reference" if best_is_ref
                                                    else "no reference"),
            "selected": keep == "best", **metrics_of(t),
        })  # fmt: skip
        for candidate in REFERENCES:
            r = refs.get(candidate)
            if r is None:
                continue
            rows.append({
                **common, "candidate": candidate, "spec": r.user_attrs["spec"],
                "value": r.values[0], "number": r.number,
                **(from_reference(stats[candidate]) if candidate in stats
                   else {"versus": math.nan, "verdict": "is the best"}),
                "selected": keep == candidate,
                **metrics_of(r),
            })  # fmt: skip
    cols = ["target", "objective", "candidate", "spec", "value", "study", "number", "n_complete"]
    df = pd.DataFrame(rows).reindex(
        columns=cols + STAT_COLUMNS + list(COUNT_COLUMNS) + ordered_metrics(metric_names))
    df["selected"] = df["selected"].astype(bool)
    return df.astype({"value": float, "number": int, "n_complete": "Int64", "n_tracks": "Int64",
                      "n_paired": "Int64", "n_clips": "Int64", "n_metric_clips": "Int64"})
