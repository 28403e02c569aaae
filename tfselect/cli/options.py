"""Options shared by several commands: the same name, help and meaning everywhere."""

from __future__ import annotations

import sys
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer


@cache
def _default_study() -> dict[str, Any]:
    """The packaged default study configuration (``tfselect config`` prints the same file)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib.loads(files("tfselect").joinpath("default.toml").read_text())


def config_default(table: str, key: str) -> str:
    """``show_default`` text of an option whose default is ``[table] key`` of the default
    study, e.g. ``"config: 4.0"``: read from the file, so help never drifts from it.
    A zero ``screen`` reads ``"config: 0 (off)"``; a list of names is comma-joined."""
    value = _default_study()[table][key]
    shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    if key == "screen" and value == 0:
        shown += " (off)"
    return f"config: {shown}"


# Shared options (same names and meaning in every subcommand).
SubsetOpt = Annotated[str, typer.Option("--subset", help="train, valid or test.")]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="DIR",
        show_default="$MUSDB_PATH, else the built-in demo corpus",
        help="Dataset: MUSDB18(-HQ), stem folders, MoisesDB or Slakh2100.",
    ),
]
StorageOpt = Annotated[
    str,
    typer.Option(
        "--storage",
        metavar="URL",
        help="Optuna storage: sqlite:///F.db, journal:///F.log or postgresql+psycopg2://...",
    ),
]
StudyOpt = Annotated[str | None, typer.Option("--study", metavar="NAME", help="Study name.")]
SelectOpt = Annotated[
    str,
    typer.Option(
        "--select",
        metavar="RULE",
        help="significant: the best only if significantly better than the better reference, "
        "else that reference; best: the best candidate.",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        metavar="DEVICE",
        help="torch device: auto (CUDA when present), cpu, cuda, cuda:1, ...",
    ),
]
VerboseOpt = Annotated[
    int,
    typer.Option("-v", "--verbose", count=True, show_default=False,
                 help="More logging: one line per trial (-v, -vv and -v 2 alike)."),
]  # fmt: skip
TargetOpt = Annotated[
    str,
    typer.Option("--target", metavar="TARGET", help="Target name (tfselect targets lists them)."),
]
ConfigMapOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML whose \\[targets] table maps stems.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
PlotsOpt = Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG figures.")]
WienerOpt = Annotated[bool, typer.Option("--wiener", help="Wiener-EM post-filter.")]
WienerIterationsOpt = Annotated[
    int, typer.Option("--wiener-iterations", help="Wiener-EM iterations (with --wiener).")
]
# The seed and threads of a study: their defaults are the study configuration's.
StudySeedOpt = Annotated[
    int | None,
    typer.Option("--seed", show_default=config_default("search", "seed"), help="Random seed."),
]
StudyJobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs", show_default=config_default("search", "jobs"), help="Parallel trials (threads)."
    ),
]
