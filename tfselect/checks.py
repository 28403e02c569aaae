"""Checks of user-given values shared by the API's tasks: one line each, option names as
the command line spells them (the API's keyword arguments carry the same names)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tfselect.errors import TfselectError

# numpy seeds are 32-bit and non-negative
SEED_RANGE = (0, 2**32 - 1)


def check_range(option: str, value: float | None, low: float, high: float) -> None:
    """TfselectError unless ``low <= value <= high`` (None: not given, fine; NaN fails)."""
    if value is not None and not low <= value <= high:
        raise TfselectError(f"{option} must be in [{low}, {high}], got {value}")


def check_ranges(*checks: tuple[str, float | None, float, float]) -> None:
    """:func:`check_range` on each ``(option, value, low, high)``, in order."""
    for option, value, low, high in checks:
        check_range(option, value, low, high)


def check_seed(seed: int | None, option: str = "--seed") -> None:
    """A seed numpy accepts: an integer in [0, 2**32 - 1] (None: not given)."""
    check_range(option, seed, *SEED_RANGE)


def check_choice(option: str, value: str, choices: Sequence[str]) -> None:
    """TfselectError unless ``value`` is one of ``choices`` ("a, b or c" in the message)."""
    if value not in choices:
        names = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise TfselectError(f"{option} must be {names}, got {value!r}")


def check_not_a_file(out: Path | str, option: str = "--out") -> None:
    """An output folder that may not exist yet but must not be a file."""
    if Path(out).exists() and not Path(out).is_dir():
        raise TfselectError(f"{option} {out} is a file, not a folder")
