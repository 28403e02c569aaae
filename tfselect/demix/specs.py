"""Which transform each target uses: from ``best.csv``, a study, or ``--spec`` overrides."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tfselect import TARGETS
from tfselect.errors import SpecError, TfselectError


def canonical(spec: str) -> str:
    """The canonical string of ``spec`` (raises SpecError for an invalid one)."""
    from tfselect.transforms import TransformSpec

    return str(TransformSpec.parse(spec))


def read_best_csv(path: Path) -> dict[str, str]:
    """target -> spec of its first ``best`` row in a ``best.csv`` (the report layer's reader).

    Raises TfselectError for a missing or unreadable file or one that is not a best.csv.
    """
    from tfselect.report.best import read_best

    path = Path(path)
    if not path.is_file():
        raise TfselectError(
            f"best transforms file not found: {path} (run `tfselect search` and `tfselect "
            "report` first, or give every target with --spec TARGET=SPEC)"
        )
    return dict(read_best(path))


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["vocals=SPEC", ...]`` -> {target: spec}; raises SpecError for a malformed item."""
    out = {}
    for item in items:
        target, sep, spec = item.partition("=")
        target = target.strip()
        if not sep or not spec.strip():
            raise SpecError(f"--spec must look like TARGET=SPEC, got {item!r}")
        if target not in TARGETS:
            raise SpecError(f"--spec target must be one of {', '.join(TARGETS)}, got {target!r}")
        out[target] = spec.strip()
    return out


def resolve_specs(best: Path | None, overrides: dict[str, str],
                  study_specs: dict[str, str] | None = None) -> dict[str, str]:
    """Merge sources (overrides win) and check that every target has a valid spec.

    ``best.csv`` is only read when the overrides and the study leave a target without one.
    """
    specs = dict(study_specs or {})
    if any(t not in {**specs, **overrides} for t in TARGETS):
        if best is None:
            raise TfselectError("no transform for some targets: give --best, --study or --spec")
        specs = {**read_best_csv(best), **specs}
        where = str(best)
    else:
        where = "the command line"
    specs.update(overrides)
    missing = [t for t in TARGETS if t not in specs]
    if missing:
        raise TfselectError(
            f"{where} has no transform for target(s) {', '.join(missing)} (incomplete; "
            "give them with --spec TARGET=SPEC)"
        )
    return {t: canonical(specs[t]) for t in TARGETS}


def study_best_specs(storage: str, study: str) -> dict[str, str]:
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
    from tfselect.report.best import best_spec
    from tfselect.search.storage import open_storage, redact
    from tfselect.search.study import tagged_studies

    store = open_storage(storage, create=False)
    specs = {}
    for target in TARGETS:
        names = {s.study_name for s in tagged_studies(store, target=target)}
        name = next((n for n in (f"{study}-{target}", study) if n in names), None)
        if name is not None:
            specs[target] = best_spec(storage, target, name)[0]
    if not specs:
        raise TfselectError(f"no study {study!r} or {study}-<target> in {redact(storage)}")
    return specs
