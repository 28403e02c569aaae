"""The spec per target: from a study (``tfselect best``) or from ``best.csv``.

``best.csv`` contract (written by ``tfselect report``, read by ``train-best``): columns at
least ``target, objective, candidate, spec, value`` plus, per row, the paired statistics
``versus, diff, ci_low, ci_high, p_value, n_tracks, n_paired, unit, stage, race_diff,
verdict`` and ``selected`` (each row against the one named in ``versus``, from its own point
of view), the counts ``n_clips, n_metric_clips``, then one column per metric, its mean over
clips (``mpi_mean``, ...; ``value`` is the first objective's mean over the ``n_clips``
clips). ``stage`` is "confirmation" when the statistics come from tracks kept out of the
race, "race" otherwise; ``race_diff`` is the race's lead (biased upwards). ``candidate`` is
``best``, ``stft`` or ``xumx-slicq``; per target the primary objective's rows come first.
A best.csv written before ``n_tracks``, ``unit``, ``stage``, the means (plain metric names,
medians) or ``n_metric_clips`` existed reads the same way (only ``selected`` or
``candidate`` decide).

Selection (``select``): "significant" (default) takes the best candidate only when its
improvement over the better reference is significant (verdict "better"), else that
reference; "best" takes the best candidate whatever the statistics say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tfselect.errors import TfselectError
from tfselect.metrics.names import METRICS
from tfselect.report.columns import COUNT_COLUMNS, split
from tfselect.report.selection import best_frame
from tfselect.report.tables import report_order
from tfselect.search.storage import open_storage
from tfselect.search.study import load_study, read_tags, tagged_studies

# Imported inside the functions that need them, so that importing this module stays light:
# pandas.

REQUIRED_COLUMNS = ("target", "objective", "candidate", "spec", "value")
SELECTIONS = ("significant", "best")


def _check_select(select: str) -> None:
    if select not in SELECTIONS:
        raise TfselectError(f"--select must be significant or best, got {select!r}")


def read_best(
    path: str | Path, targets: tuple[str, ...] | None = None, select: str = "significant"
) -> dict[str, str]:
    """{target: spec} from a ``best.csv``: per target, of its primary objective, the
    ``selected`` row (``select="significant"``) or the ``best`` row (``select="best"``).

    A best.csv without a ``selected`` column (written before the statistics existed) gives
    its best rows.

    Args:
        path: the CSV file.
        targets: targets that must be present (default: none required).
        select: "significant" or "best" (see the module docstring).

    Raises:
        TfselectError: missing/unreadable file, missing columns, bad ``select``, or a
            required target absent.
    """
    _check_select(select)
    from tfselect.datafiles import read_csv

    p = Path(path)
    if not p.exists():
        raise TfselectError(f"{p}: no such file (run `tfselect report` first)")
    # not text, binary, a huge field, a short row, a missing column: one line
    header, rows = read_csv(p, REQUIRED_COLUMNS, kind="best.csv")
    by_flag = select == "significant" and "selected" in header
    primary: dict[str, str] = {}
    out: dict[str, str] = {}
    for row in rows:
        t = row["target"]
        primary.setdefault(t, row["objective"])
        if row["objective"] != primary[t] or t in out or not row["spec"]:
            continue
        if by_flag:
            if row["selected"].strip().lower() == "true":
                out[t] = row["spec"]
        elif row["candidate"] == "best":
            out[t] = row["spec"]
    for t in targets or ():
        if t not in out:
            raise TfselectError(f"{p}: no best spec for target {t!r} (have: {_have(out)})")
    return out


def table_columns(columns) -> list[str]:
    """The columns of best.csv worth a table: all but the per-metric and bookkeeping ones
    (whatever else a report writes, e.g. a verdict, is shown). ``columns``: a DataFrame or
    its column names."""
    skip = {*METRICS, *COUNT_COLUMNS, "study", "number", "n_complete", "n_skipped"}
    return [c for c in columns if c not in skip and split(c) is None]


def row_verdict(row) -> str:
    """A best.csv row's verdict in words, saying who beats whom: "better than stft" on the
    best row, "worse than best" on a reference row the best beats. Files written before
    each row spoke for itself (a reference row's ``versus`` is its own name and its verdict
    the best's) read "best is better than this"."""
    verdict = getattr(row, "verdict", "")
    versus = getattr(row, "versus", None)
    if not isinstance(verdict, str) or not isinstance(versus, str):
        return verdict if isinstance(verdict, str) else ""
    words = {"better": "better than", "worse": "worse than"}.get(verdict)
    if words is None and verdict != "not distinguishable":
        return verdict
    words = words or "not distinguishable from"
    if versus == getattr(row, "candidate", None):  # an older file: the best's point of view
        return f"best is {words} this"
    return f"{words} {versus}"


def _have(found: dict[str, str]) -> str:
    return ", ".join(found) or "none"


@dataclass(frozen=True)
class Choice:
    """The spec chosen for a target and why (one row of best.csv's statistics).

    Attributes:
        spec: the chosen spec.
        study: the study it comes from.
        value: its first-objective value (mean over clips).
        best_spec: the best candidate's spec (equal to ``spec`` unless it fell back).
        reference: the better reference's name ("" when there is none).
        reference_spec: its spec.
        diff, ci_low, ci_high, p_value: the best candidate against that reference.
        n_tracks, n_paired: the tracks and clips behind them (``n_tracks`` None when the
            study knows no tracks and the clips were the units).
        verdict: better / not distinguishable / worse / reference / no reference.
        fell_back: the choice is the reference because the best was not significantly better.
        stage: "confirmation" (statistics on tracks kept out of the race) or "race".
        race_diff: the race's lead (biased upwards: those clips chose the winner).
    """

    spec: str
    study: str
    value: float
    best_spec: str
    reference: str = ""
    reference_spec: str = ""
    diff: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_value: float = math.nan
    n_tracks: int | None = None
    n_paired: int | None = None
    verdict: str = "no reference"
    fell_back: bool = False
    stage: str = "race"
    race_diff: float = math.nan

    def sentence(self) -> str:
        """One line in words: the best candidate against the better reference."""
        if self.verdict == "reference":
            return f"the best candidate is the reference {self.best_spec} itself"
        if not self.reference:
            return f"best {self.best_spec} (no reference trial to compare with)"
        stats = (f"{self.diff:+.2f} [{self.ci_low:+.2f}, {self.ci_high:+.2f}], "
                 f"p={self.p_value:.2g}{self._over()}")  # fmt: skip
        words = {"better": "better than", "worse": "worse than"}.get(
            self.verdict, "not distinguishable from"
        )
        line = f"best {self.best_spec} is {words} the reference {self.reference_spec} ({stats})"
        if self.fell_back:
            line += f": taking the reference {self.reference_spec}"
        return line

    def _over(self) -> str:
        """The units behind the statistics, e.g. ' over 10 tracks (30 clips)', ' over 30
        clips' (no tracks known), or '' (no counts)."""
        if self.n_tracks is not None:
            noun = "held-out track" if self.stage == "confirmation" else "track"
            race = (f"; the race said {self.race_diff:+.2f}"
                    if self.stage == "confirmation" and math.isfinite(self.race_diff) else "")
            return (f" over {_n(self.n_tracks, noun)} "
                    f"({_n(self.n_paired or 0, 'clip')}){race}")
        return f" over {_n(self.n_paired, 'clip')}" if self.n_paired is not None else ""


def best_choice(
    storage_url: str, target: str, study: str | None = None, select: str = "significant"
) -> Choice:
    """The spec chosen for ``target`` with its statistics (the rows best.csv would hold).

    With ``study`` given, that study (it must search ``target``); otherwise all the target's
    studies in the storage; the first objective (the default, mpi, when there is one).

    Raises:
        TfselectError: unknown target or select, unreachable storage, no such study, a
            study of another target, or no complete trial yet.
    """

    _check_select(select)
    store = open_storage(storage_url, create=False)
    if study is not None:
        st = load_study(store, study)
        tags = read_tags(st)
        if tags is None:
            raise TfselectError(f"study {study!r} was not created by tfselect")
        if tags.target != target:
            raise TfselectError(f"study {study!r} searches target {tags.target!r}, not {target!r}")
        candidates = [st]
    else:
        candidates = report_order(tagged_studies(store, target=target))
        if not candidates:
            raise TfselectError(f"no study for target {target!r} in the storage")
    # The same selection as best.csv (one function decides for both).
    rows = best_frame(candidates)
    if rows.empty:
        names = ", ".join(s.study_name for s in candidates)
        raise TfselectError(f"no complete trial yet for target {target!r} (studies: {names})")
    rows = rows[rows["objective"] == rows.iloc[0]["objective"]]
    best = rows[rows["candidate"] == "best"].iloc[0]
    chosen = rows[rows["selected"]].iloc[0] if select == "significant" else best
    better = best["versus"] if isinstance(best["versus"], str) else ""
    ref_row = rows[rows["candidate"] == better].iloc[0] if better else None
    return Choice(
        spec=str(chosen["spec"]),
        study=str(chosen["study"]),
        value=float(chosen["value"]),
        best_spec=str(best["spec"]),
        reference=better,
        reference_spec="" if ref_row is None else str(ref_row["spec"]),
        diff=float(best["diff"]),
        ci_low=float(best["ci_low"]),
        ci_high=float(best["ci_high"]),
        p_value=float(best["p_value"]),
        n_tracks=_count(best["n_tracks"]),
        n_paired=_count(best["n_paired"]),
        verdict=str(best["verdict"]),
        fell_back=chosen["candidate"] != "best",
        stage=str(best["stage"]) if isinstance(best.get("stage"), str) else "race",
        race_diff=float(best["race_diff"]) if "race_diff" in best else math.nan,
    )


def best_spec(
    storage_url: str, target: str, study: str | None = None, select: str = "significant"
) -> tuple[str, str, float]:
    """(spec, study name, value) chosen for ``target`` (see :func:`best_choice`)."""
    c = best_choice(storage_url, target, study, select)
    return c.spec, c.study, c.value


def _count(v) -> int | None:
    """A count column's value as an int, None where it is missing (NaN/NA)."""
    import pandas as pd

    return None if pd.isna(v) else int(v)


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
