"""The ``tfselect`` command: one subcommand per user task.

Each subcommand is a thin wrapper: it parses options, calls the layer that does the work
(imported lazily so ``--help`` stays fast), and turns ``TfselectError`` into one line on
stderr with exit status 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated

import typer

from tfselect import __version__
from tfselect.errors import TfselectError

app = typer.Typer(
    help="Choose the time-frequency transform each music source should use.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_STORAGE = "sqlite:///studies/tfselect.db"

# Shared options (same names and meaning in every subcommand).
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="Dataset in MUSDB layout (default: $MUSDB_PATH, else the built-in demo corpus).",
    ),
]
StorageOpt = Annotated[
    str, typer.Option("--storage", help="Optuna storage URL (sqlite, journal file, postgresql).")
]
StudyOpt = Annotated[str | None, typer.Option("--study", help="Study name.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="torch device: cpu, cuda, cuda:1, ...")]
VerboseOpt = Annotated[int, typer.Option("-v", "--verbose", count=True, help="More logging.")]


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


def user_errors(fn):
    """Turn TfselectError (bad input) into one clear line and exit status 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TfselectError as exc:
            typer.echo(f"tfselect: error: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("tfselect: interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def run() -> None:  # pragma: no cover - console entry for `python -m tfselect`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
