"""The ``tfselect`` command line: a thin layer over :mod:`tfselect.api`.

:mod:`.app` (the typer app and entry point), :mod:`.group` (one-line errors, help layout),
:mod:`.options` (shared options), one module per group of commands, :mod:`.present` (what
a person sees). Importing it loads typer and the commands' options, not their work (the
commands import :mod:`tfselect.api` when they run).
"""

from tfselect.cli.app import app, run
from tfselect.cli.group import WORKFLOW

__all__ = ["WORKFLOW", "app", "run"]
