"""Survey the search space: do the cheap metrics predict the oracles?"""

from __future__ import annotations

from pathlib import Path

from tfselect.checks import check_range
from tfselect.report.survey import SurveyReport, run_and_report
from tfselect.search.config import load_config
from tfselect.search.storage import DEFAULT_STORAGE
from tfselect.search.survey import SurveyResult


def survey(
    target: str | None = None,
    candidates: int = 64,
    storage: str = DEFAULT_STORAGE,
    study: str | None = None,
    config: Path | str | None = None,
    root: Path | str | None = None,
    out: Path | str = "reports/survey",
    bootstrap: int = 1000,
    plots: bool = True,
    seed: int | None = None,
    jobs: int | None = None,
    progress: bool = True,
) -> tuple[SurveyResult | None, SurveyReport]:
    """Score ``candidates`` points of a Sobol design over the space (and both references)
    for ``target`` on every clip of the pool with every metric (resumable study, default
    name survey-TARGET), then report every survey study of ``storage`` (or ``study``) into
    ``out``. ``target`` None: only rewrite the report.

    Returns (the run's counts, or None without a target; the report: predictors, ridge,
    files).
    """
    check_range("--candidates", candidates, 1, 100_000)
    check_range("--jobs", jobs, 1, 1024)
    cfg = load_config(config).override(seed=seed, jobs=jobs)
    return run_and_report(
        target, storage=storage, study=study, config=cfg,
        root=Path(root) if root is not None else None, candidates=candidates, out=Path(out),
        n_boot=bootstrap, with_plots=plots, progress=progress,
    )  # fmt: skip
