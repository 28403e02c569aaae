"""Commands of the search: ``search``, ``survey``, ``best`` and ``config``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli import present
from tfselect.cli.options import (
    PlotsOpt,
    QuietOpt,
    RootOpt,
    SelectOpt,
    StorageOpt,
    StudyJobsOpt,
    StudyOpt,
    StudySeedOpt,
    TargetOpt,
    VerboseOpt,
    config_default,
)
from tfselect.search.storage import DEFAULT_STORAGE


def search(
    target: TargetOpt,
    trials: Annotated[
        int | None,
        typer.Option(
            "--trials",
            metavar="N",
            show_default=config_default("search", "trials"),
            help="Run N more trials in this process.",
        ),
    ] = None,
    until: Annotated[
        int | None,
        typer.Option("--until", help="Stop once the study holds N complete trials."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop starting trials after S seconds.")
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective",
            metavar="OBJ",
            show_default=config_default("search", "objective"),
            help='Metric, weighted sum or several: "mpi", "mpi+0.5*irm1", "mpi,redundancy".',
        ),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option(
            "--sampler",
            show_default=config_default("search", "sampler"),
            help="tpe, gp, random, cmaes or nsga2.",
        ),
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option(
            "--pruner",
            show_default=config_default("search", "pruner"),
            help="wilcoxon (race candidates clip by clip) or none.",
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            show_default=config_default("search", "metrics"),
            help='Metrics per trial: "all" or a comma list.',
        ),
    ] = None,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: StudyOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="TOML",
            help="Study configuration (`tfselect config` prints the defaults).",
        ),
    ] = None,
    root: RootOpt = None,
    clips: Annotated[
        int | None,
        typer.Option(
            "--clips", show_default=config_default("clips", "n_clips"), help="Clips per track."
        ),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--seconds",
            show_default=config_default("clips", "seconds"),
            help="Clip length, seconds.",
        ),
    ] = None,
    max_tracks: Annotated[
        int | None, typer.Option("--max-tracks", help="Use only the first N tracks.")
    ] = None,
    seed: StudySeedOpt = None,
    jobs: StudyJobsOpt = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            metavar="DEVICE",
            show_default=config_default("search", "device"),
            help="torch device: auto (CUDA when present), cpu, cuda, cuda:1, ...",
        ),
    ] = None,
    screen: Annotated[
        int | None,
        typer.Option(
            "--screen",
            metavar="K",
            show_default=config_default("search", "screen"),
            help="Screen K proposals with a cheap metric; race the best.",
        ),
    ] = None,
    quiet: QuietOpt = False,
    fail_stale: Annotated[
        bool,
        typer.Option(
            "--fail-stale",
            help="Only mark FAIL the RUNNING trials of dead workers on this host, then exit.",
        ),
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Search the best transform for one target (Optuna, resumable).

    The study (default name: the target) lives in --storage; re-running the same command
    adds trials to it. Several processes or machines running the same command share the
    study: a journal file (journal:///studies/x.log) or SQLite for processes on one machine,
    PostgreSQL (postgresql+psycopg2://user:password@host/db) for several machines. The
    defaults marked "config" come from --config (`tfselect config` prints them).
    """
    from tfselect.api import searching  # optuna and torch: --help stays fast

    if fail_stale:
        stale = searching.fail_stale(target, storage, study)
        shown = ", ".join(map(str, stale.failed)) if stale.failed else "none"
        typer.echo(
            f"study {stale.study}: marked FAIL {len(stale.failed)} trial(s) of dead "
            f"workers ({shown})"
        )
        return
    outcome = searching.search(
        target, trials, until, timeout, objective, sampler, pruner, metrics, storage, study,
        config, root, clips, seconds, max_tracks, seed, jobs, device, screen,
        progress=not quiet, verbose=verbose,
    )  # fmt: skip
    typer.echo(present.search_summary(outcome))


def best(
    target: TargetOpt,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: StudyOpt = None,
    select: SelectOpt = "significant",
) -> None:
    """Print the spec chosen for a target (one line, for scripts).

    The best complete trial of --study, or of all the target's studies in --storage
    (on a multi-objective study, the best first objective on the Pareto front).

    --select significant (default): the best candidate only when it is significantly better
    than the better reference on the study's clips, else that reference (said on stderr).
    --select best: the best candidate whatever the statistics say.
    """
    from tfselect.api.searching import best as choose  # optuna: --help stays fast

    choice = choose(target, storage, study, select)
    if choice.fell_back:
        typer.echo(f"tfselect: {choice.sentence()}", err=True)
    typer.echo(choice.spec)


def config() -> None:
    """Print the default study configuration (TOML) to copy and edit.

    tfselect config > mine.toml, edit it, then: tfselect search --config mine.toml ...
    """
    from tfselect.api.searching import default_config

    typer.echo(default_config(), nl=False)


def survey(
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="TARGET",
            help="Target to survey (omit it to only rewrite the report).",
        ),
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", metavar="N", help="Sobol design points.")
    ] = 64,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: Annotated[
        str | None,
        typer.Option(
            "--study", metavar="NAME", show_default="survey-TARGET", help="Survey study name."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="TOML", help="Study configuration (space, clips)."),
    ] = None,
    root: RootOpt = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Report folder.")] = Path(
        "reports/survey"
    ),
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples of the intervals.")
    ] = 1000,
    plots: PlotsOpt = True,
    seed: StudySeedOpt = None,
    jobs: StudyJobsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Survey the space: do the cheap metrics predict the oracles?

    Scores --candidates points of a Sobol design over the search space (and both
    references) on every clip of the pool with every metric, no racing, in a study of its
    own (resumable, parallel like a search). Then writes to --out: survey.csv,
    survey_predictors.csv (each metric's Spearman with each oracle, partial given bins and
    redundancy, gain over the best trivial predictor, intervals resampling tracks and
    candidates), survey_ridge.csv (a leave-one-family-out ridge combination) and plots.
    """
    from tfselect.api.surveying import survey as run  # optuna and torch: --help stays fast

    result, rep = run(target, candidates, storage, study, config, root, out, bootstrap, plots,
                      seed, jobs, progress=not quiet)  # fmt: skip
    present.print_survey(result, rep, out)
