"""The command group: one-line errors, help that reads well at 80 columns, and the
wrapper every command runs in (a user's error is one line and exit 2, never a traceback)."""

from __future__ import annotations

import functools
import math
import signal
import sys
from inspect import cleandoc
from typing import Any

import typer
from typer.core import TyperGroup

try:  # recent typer carries its own copy of click: its exceptions are not click's
    from typer._click import exceptions as click_errors
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - typer on the real click
    from click import exceptions as click_errors
    from click import get_current_context

from tfselect import interrupts
from tfselect.diskerrors import as_exit
from tfselect.errors import Interrupted, TfselectError
from tfselect.interrupts import sigterm_as_ctrl_c
from tfselect.redact import redact

_ABORTS = tuple({typer.Abort, getattr(click_errors, "Abort", typer.Abort)})

class _OneLineErrors(TyperGroup):
    """The command group with usage errors on one line, like every other error.

    Click (through typer and rich) prints a missing option, an unknown command or a word
    where a number belongs as a multi-line box; here it becomes ``tfselect: error: ...``
    with exit status 2. A Ctrl-C that reaches this far (outside any command's own handling)
    prints one line and exits 130, and a second one during that exit is ignored.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra: Any) -> Any:
        interrupts.reset()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
            if code == 130:  # typer makes a Ctrl-C outside the commands a silent 130
                interrupts.say_interrupted()
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()  # the bare command prints its help, as before
            code = 2
        except click_errors.UsageError as exc:
            message = " ".join(exc.format_message().split())
            if exc.ctx is not None and exc.ctx.command is not self:
                message = f"{exc.ctx.info_name}: {message}"
            typer.echo(f"tfselect: error: {message}", err=True)
            code = 2
        except click_errors.ClickException as exc:  # bad file arguments and the like
            typer.echo(f"tfselect: error: {' '.join(exc.format_message().split())}", err=True)
            code = exc.exit_code
        except (KeyboardInterrupt, *_ABORTS):
            interrupts.say_interrupted()
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


# The order a user meets the commands in; `tfselect --help` lists them so.
WORKFLOW = ("demo-data", "targets", "score", "search", "survey", "report", "best", "verify",
            "train-best", "evaluate", "separate", "compare", "deoverlap", "config")  # fmt: skip
# Metavars for options that name none: a word, never a Python type name.
_METAVARS = {"int": "INT", "float": "FLOAT", "str": "TEXT", "path": "PATH"}


def _tidy_help(cmd: typer.core.TyperCommand | typer.core.TyperGroup, ctx) -> None:
    """Paragraphs on one line each and a metavar on every option (none on flags)."""
    if cmd.help:  # rich wraps paragraphs to the terminal but keeps the source's line breaks
        cmd.help = "\n\n".join(" ".join(p.split()) for p in cleandoc(cmd.help).split("\n\n"))
    for param in [*cmd.params, cmd.get_help_option(ctx)]:
        if isinstance(param, typer.core.TyperArgument):
            # Its name says what it is: no {braces} in the usage line, no type column.
            label = (param.metavar or param.name or "").upper()
            label += "..." if param.nargs != 1 else ""
            param._usage_display_name = lambda label=label: label
            param.display_type_rich = lambda ctx: None
            continue
        if param is None or param.metavar is not None:
            continue
        # A range such as [x>=1] would widen the type column for every option; the
        # error for a value out of range states it.
        param._get_number_range_help_str = lambda: None
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            kind = param.display_type(ctx).strip("<>").removeprefix("list[").rstrip("]")
            kind = kind.removesuffix(" range")  # <int range>: min/max given
            param.metavar = _METAVARS.get(kind.lower(), kind.upper())


def _expand_counts(cmd, args: list[str]) -> list[str]:
    """Read ``-v N`` / ``--verbose N`` / ``--verbose=N`` of a counter as N times ``-v``.

    Click counters take no value (``-vv`` counts two); users also write a level.
    """
    counters = {o: p.opts[0] for p in getattr(cmd, "params", ()) if getattr(p, "count", False)
                for o in p.opts}  # fmt: skip
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            return out + args[i:]
        name, eq, value = tok.partition("=")
        if name in counters and eq and value.isdigit():
            out += [counters[name]] * int(value)
        elif tok in counters and i + 1 < len(args) and args[i + 1].isdigit():
            out += [counters[tok]] * int(args[i + 1])
            i += 1
        else:
            out.append(tok)
        i += 1
    return out


class Group(_OneLineErrors):
    """Help that reads well at 80 columns: workflow order, metavars, ``-v N``."""

    def list_commands(self, ctx) -> list[str]:
        rank = {name: i for i, name in enumerate(WORKFLOW)}
        return sorted(super().list_commands(ctx), key=lambda n: rank.get(n, len(rank)))

    def get_command(self, ctx, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _tidy_help(cmd, ctx)
        return cmd

    def format_help(self, ctx, formatter) -> None:
        _tidy_help(self, ctx)
        super().format_help(ctx, formatter)

    def resolve_command(self, ctx, args: list[str]):
        name, cmd, rest = super().resolve_command(ctx, args)
        return name, cmd, _expand_counts(cmd, rest)


def user_errors(fn):
    """Turn TfselectError (bad input) into one clear line and exit status 2, no traceback.

    Also: number options that are not finite (``nan``, ``inf``) stop before the command
    runs; SIGTERM (what ``timeout``, schedulers and ``kill`` send) is treated like Ctrl-C;
    a full disk, size limit or read-only file system (in any wrapping) and an OSError naming
    a file are one line too.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous = sigterm_as_ctrl_c()
        try:
            _check_finite(kwargs)
            return fn(*args, **kwargs)
        except TfselectError as exc:
            typer.echo(f"tfselect: error: {_one_line(exc)}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            interrupts.say_interrupted(str(exc) if isinstance(exc, Interrupted) else "interrupted")
            previous = None  # stopping: signals stay ignored, a second one prints nothing
            raise typer.Exit(130) from None
        except MemoryError:  # a huge request that slipped past the checks
            typer.echo("tfselect: error: out of memory (try fewer bins or shorter clips)", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:  # a full disk anywhere, a closed pipe, an OSError on a file
            status, line = as_exit(exc)
            if status is None:
                raise
            if line:
                typer.echo(f"tfselect: error: {_one_line(line)}", err=True)
            raise typer.Exit(status) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _one_line(exc: BaseException) -> str:
    """The message on one line, with any credential masked."""
    return redact(" ".join(str(exc).split()))


def _check_finite(kwargs: dict) -> None:
    """TfselectError for a number option given as ``nan`` or ``inf`` (click accepts them)."""
    ctx = get_current_context(silent=True)
    names = {p.name: p.opts[-1] for p in ctx.command.params} if ctx is not None else {}
    for name, value in kwargs.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise TfselectError(f"{names.get(name, name)} must be a finite number, got {value}")

