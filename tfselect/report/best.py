"""The best spec per target: from a study (``tfselect best``) or from ``best.csv``.

``best.csv`` contract (written by ``tfselect report``, read by ``train-best``): columns at
least ``target, objective, candidate, spec, value`` plus one per metric; ``candidate`` is
``best``, ``stft`` or ``xumx-slicq``; per target the primary objective's ``best`` row comes
first.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tfselect import TARGETS
from tfselect.errors import TfselectError

REQUIRED_COLUMNS = ("target", "objective", "candidate", "spec", "value")


def read_best(path: str | Path, targets: tuple[str, ...] | None = None) -> dict[str, str]:
    """{target: spec of its first ``best`` row} from a ``best.csv``.

    Args:
        path: the CSV file.
        targets: targets that must be present (default: none required).

    Raises:
        TfselectError: missing/unreadable file, missing columns, or a required target absent.
    """
    p = Path(path)
    try:
        with p.open(newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise TfselectError(f"{p}: not a best.csv (no column {missing[0]!r})")
            out: dict[str, str] = {}
            for row in reader:
                if row["candidate"] == "best" and row["target"] not in out and row["spec"]:
                    out[row["target"]] = row["spec"]
    except FileNotFoundError:
        raise TfselectError(f"{p}: no such file (run `tfselect report` first)") from None
    except OSError as exc:
        raise TfselectError(f"{p}: cannot read it ({exc.strerror})") from None
    for t in targets or ():
        if t not in out:
            raise TfselectError(f"{p}: no best spec for target {t!r} (have: {_have(out)})")
    return out


def _have(found: dict[str, str]) -> str:
    return ", ".join(t for t in TARGETS if t in found) or "none"


def best_spec(storage_url: str, target: str, study: str | None = None) -> tuple[str, str, float]:
    """(spec, study name, value) of the best trial for ``target``.

    With ``study`` given, that study (it must search ``target``); otherwise all the target's
    studies in the storage. The choice is best.csv's (:func:`best_frame`): the best complete
    trial over the studies of the first objective (the default, mpi, when there is one).

    Raises:
        TfselectError: unknown target, unreachable storage, no such study, a study of another
            target, or no complete trial yet.
    """
    from tfselect.report.tables import best_frame, report_order
    from tfselect.search.storage import open_storage
    from tfselect.search.study import load_study, read_tags, tagged_studies

    if target not in TARGETS:
        raise TfselectError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
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
    # The same selection as best.csv (one function decides "best" for both).
    rows = best_frame(candidates)
    rows = rows[rows["candidate"] == "best"]
    if rows.empty:
        names = ", ".join(s.study_name for s in candidates)
        raise TfselectError(f"no complete trial yet for target {target!r} (studies: {names})")
    row = rows.iloc[0]
    return str(row["spec"]), str(row["study"]), float(row["value"])
