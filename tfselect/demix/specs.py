"""Which transform each target uses: from ``best.csv``, a study, or ``--spec`` overrides.

The targets of a model are whatever these name (one branch each): every target of
``best.csv`` when it is read, plus those of the studies and of ``--spec``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tfselect.errors import SpecError, TfselectError
from tfselect.report.best import best_spec, read_best
from tfselect.search.storage import open_storage, redact
from tfselect.search.study import read_tags, tagged_studies
from tfselect.transforms import TransformSpec

DEFAULT_BEST = Path("reports/best.csv")


def canonical(spec: str) -> str:
    """The canonical string of ``spec`` (raises SpecError for an invalid one)."""

    return str(TransformSpec.parse(spec))


def read_best_csv(path: Path, select: str = "significant") -> dict[str, str]:
    """target -> spec chosen in a ``best.csv`` (the report layer's reader; ``select`` as
    :func:`tfselect.report.best.read_best`).

    Raises TfselectError for a missing or unreadable file or one that is not a best.csv.
    """

    path = Path(path)
    if not path.is_file():
        raise TfselectError(
            f"best.csv not found: {path} (run `tfselect report --out {path.parent}` after "
            "`tfselect search`, or give every target with --spec TARGET=SPEC)"
        )
    return dict(read_best(path, select=select))


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["vocals=SPEC", ...]`` -> {target: spec}; raises SpecError for a malformed item.

    Any target name is accepted here; the training data decides whether it exists.
    """
    out = {}
    for item in items:
        target, sep, spec = item.partition("=")
        target = target.strip()
        if not sep or not spec.strip():
            raise SpecError(f"--spec must look like TARGET=SPEC, got {item!r}")
        if not target or target in ("mixture", "residual"):
            raise SpecError(f"--spec needs a target name before '=', got {item!r}")
        out[target] = spec.strip()
    return out


def resolve_specs(best: Path | None, overrides: dict[str, str],
                  study_specs: dict[str, str] | None = None,
                  select: str = "significant") -> dict[str, str]:
    """Merge sources (overrides win, then the studies, then best.csv) into {target: spec}.

    ``best`` is read when given, or (as ``reports/best.csv``) when neither the studies nor
    the overrides name any target; the model then has one branch per target named anywhere.
    Raises TfselectError when no target is named at all or best.csv has a ``network``
    column, SpecError for an invalid spec.
    """
    specs = {**(study_specs or {}), **overrides}
    if best is not None or not specs:
        path = Path(best) if best is not None else DEFAULT_BEST
        specs = {**read_best_csv(path, select), **specs}
        _refuse_network_column(path)
    if not specs:
        raise TfselectError("no transform for some targets: give --best, --study or --spec")
    return {t: canonical(s) for t, s in specs.items()}


def _refuse_network_column(path: Path) -> None:
    """best.csv holds the search's transforms; a network is a training choice, given with
    ``--network`` and stored in the model folder. A hand-added ``network`` column is
    refused rather than ignored without a word."""
    from tfselect.datafiles import read_csv

    if "network" in read_csv(path, kind="best.csv")[0]:
        raise TfselectError(f"{path}: train-best does not read a network column; give the "
                            "networks with --network TARGET=NETWORK,... instead")


def study_best_specs(storage: str, study: str, select: str = "significant") -> dict[str, str]:
    """target -> spec of the best complete trial of that target's study.

    A tfselect study searches one target, so ``study`` names either one study per target
    (``study-<target>``) or a study of a single target; for each target the study named
    ``study-<target>`` is used, else ``study`` itself when it searches that target. Ranking
    is the search's own (:func:`tfselect.report.best.best_spec`, first objective). Targets
    without such a study are left out (``resolve_specs`` takes them from best.csv or --spec).

    Raises:
        TfselectError: unreachable storage, no study of that name at all, or a matching study
            without a complete trial.
    """

    try:
        store = open_storage(storage, create=False)
    except TfselectError as exc:  # no storage yet: say which command makes the studies
        what = str(exc).removesuffix(" (run `tfselect search` first)")
        raise TfselectError(
            f"{what} (run `tfselect search --target TARGET --study {study}-TARGET --storage "
            f"{redact(storage)}` for each target first)"
        ) from None
    specs = {}
    stored = dict.fromkeys(t.target for t in map(read_tags, tagged_studies(store)) if t)
    for target in stored:
        names = {s.study_name for s in tagged_studies(store, target=target)}
        name = next((n for n in (f"{study}-{target}", study) if n in names), None)
        if name is not None:
            specs[target] = best_spec(storage, target, name, select)[0]
    if not specs:
        raise TfselectError(
            f"no study {study!r} or {study}-<target> in {redact(storage)} (run `tfselect search "
            f"--target TARGET --study {study}-TARGET --storage {redact(storage)}` first)"
        )
    return specs
