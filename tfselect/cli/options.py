"""Options shared by several commands: the same name, help and meaning everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# Shared options (same names and meaning in every subcommand).
SubsetOpt = Annotated[str, typer.Option("--subset", help="train, valid or test.")]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root", metavar="DIR", show_default="$MUSDB_PATH, else the built-in demo corpus",
        help="Dataset: MUSDB18(-HQ), stem folders, MoisesDB or Slakh2100.",
    ),
]
StorageOpt = Annotated[
    str,
    typer.Option(
        "--storage", metavar="URL",
        help="Optuna storage: sqlite:///F.db, journal:///F.log or postgresql+psycopg2://...",
    ),
]
StudyOpt = Annotated[str | None, typer.Option("--study", metavar="NAME", help="Study name.")]
SelectOpt = Annotated[
    str,
    typer.Option(
        "--select", metavar="RULE",
        help="significant: the best only if significantly better than the better reference, "
        "else that reference; best: the best candidate.",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
DeviceOpt = Annotated[
    str, typer.Option("--device", metavar="DEVICE",
                      help="torch device: auto (CUDA when present), cpu, cuda, cuda:1, ...")
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
