"""The ``tfselect`` command: the typer app, one subcommand per user task.

Each subcommand (in :mod:`.data`, :mod:`.scoring`, :mod:`.searching`, :mod:`.reporting`,
:mod:`.training`, :mod:`.demixing`, :mod:`.deoverlap`) declares its options, calls
:mod:`tfselect.api` (imported inside the command, so ``--help`` stays fast) and shows the
result through :mod:`.present`; :func:`.group.user_errors` turns a ``TfselectError`` into one
line on stderr with exit status 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tfselect import __version__
from tfselect.cli import data, demixing, deoverlap, reporting, scoring, searching, training
from tfselect.cli.group import Group, user_errors

app = typer.Typer(
    cls=Group,
    help="Choose the time-frequency transform each music source should use.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tfselect {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """tfselect: score, search and report time-frequency transforms per source; train a demixer."""


# name -> the function behind it; `tfselect --help` orders them by group.WORKFLOW
COMMANDS = {
    "demo-data": data.demo_data, "targets": data.targets, "score": scoring.score,
    "search": searching.search, "survey": searching.survey, "report": reporting.report,
    "best": searching.best,
    "verify": reporting.verify, "train-best": training.train_best,
    "evaluate": demixing.evaluate, "separate": demixing.separate, "compare": training.compare,
    "config": searching.config,
}  # fmt: skip
for _name, _fn in COMMANDS.items():
    app.command(_name)(user_errors(_fn))

deoverlap_app = typer.Typer(
    cls=Group, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Learn to split a sliCQT's overlap-added picture into slices.",
)
deoverlap_app.command("train")(user_errors(deoverlap.train))
deoverlap_app.command("eval")(user_errors(deoverlap.evaluate))
app.add_typer(deoverlap_app, name="deoverlap")


def run() -> None:  # pragma: no cover - console entry for `python -m tfselect`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
