"""Objectives: what a search maximises or minimises, parsed from one short string.

Syntax (spaces around operators are allowed)::

    OBJECTIVES := OBJECTIVE ("," OBJECTIVE)*          several = multi-objective (Pareto)
    OBJECTIVE  := [("max:" | "min:")] TERM (("+" | "-") TERM)*
    TERM       := [NUMBER "*"] METRIC                   METRIC: any name of tfselect.metrics.METRICS

Examples: ``mpi`` (the default: mix-phase oracle SDR, maximised), ``mpi+0.5*irm1``
(a weighted sum), ``mpi-0.2*redundancy``, ``mpi,redundancy`` (two objectives: MPI up,
redundancy down), ``min:seconds``.

Direction: a single metric takes its own direction from ``DIRECTIONS``; a weighted sum takes
the direction of its first metric unless ``max:``/``min:`` says otherwise. Each objective's
value is ``Σ weight·metric`` over the medians that ``score`` returns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tfselect.errors import TfselectError
from tfselect.metrics import DIRECTIONS, METRICS, resolve_metrics

DEFAULT_OBJECTIVE = "mpi"

_TERM = re.compile(
    r"\s*([+-]?)\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\s*\*\s*)?"
    r"([A-Za-z_][A-Za-z0-9_]*)\s*"
)


def _metric_tables() -> tuple[tuple[str, ...], Mapping[str, str]]:
    return tuple(METRICS), DIRECTIONS


@dataclass(frozen=True)
class Objective:
    """One objective: a weighted sum of metrics and a direction ("maximize"/"minimize")."""

    terms: tuple[tuple[float, str], ...]
    direction: str

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(m for _, m in self.terms)

    def value(self, metrics: Mapping[str, float]) -> float:
        """Σ weight·metric; NaN when a metric is missing or NaN (e.g. every clip skipped)."""
        total = 0.0
        for w, m in self.terms:
            v = metrics.get(m)
            if v is None:
                return math.nan
            total += w * float(v)
        return total

    def __str__(self) -> str:
        out = ""
        for i, (w, m) in enumerate(self.terms):
            sign = "-" if w < 0 else ("+" if i else "")
            a = abs(w)
            out += sign + (m if a == 1 else f"{a:g}*{m}")
        return out

    def canonical(self, default_direction: str) -> str:
        """The text with an explicit prefix only where the direction is not the default."""
        text = str(self)
        if self.direction != default_direction:
            text = ("max:" if self.direction == "maximize" else "min:") + text
        return text


@dataclass(frozen=True)
class Objectives:
    """The ordered objectives of a study; the first is the primary one."""

    items: tuple[Objective, ...]
    text: str  # canonical text, stored in the study so workers and reports agree

    @property
    def directions(self) -> list[str]:
        return [o.direction for o in self.items]

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric any objective needs, in first-use order."""
        return tuple(dict.fromkeys(m for o in self.items for m in o.metrics))

    @property
    def primary(self) -> Objective:
        return self.items[0]

    def values(self, metrics: Mapping[str, float]) -> list[float]:
        return [o.value(metrics) for o in self.items]

    def __len__(self) -> int:
        return len(self.items)


def parse_objectives(text: str) -> Objectives:
    """Parse an objective string (see the module docstring).

    Raises:
        TfselectError: unknown metric, bad syntax or empty text (one line, naming the part).
    """
    metrics, directions = _metric_tables()
    if not text or not text.strip():
        raise TfselectError("objective is empty (e.g. --objective mpi)")
    items: list[Objective] = []
    canon: list[str] = []
    for part in text.split(","):
        src = part.strip()
        if not src:
            raise TfselectError(f"objective {text!r}: empty item between commas")
        forced = None
        low = src.lower()
        if low.startswith(("max:", "min:")):
            forced = "maximize" if low.startswith("max:") else "minimize"
            src = src[4:].strip()
        terms: list[tuple[float, str]] = []
        pos = 0
        while pos < len(src):
            m = _TERM.match(src, pos)
            if m is None or (terms and not m.group(1)):
                raise TfselectError(
                    f"objective {part.strip()!r}: cannot read it at {src[pos:]!r} "
                    "(syntax: [max:|min:][w*]metric[+w*metric...])"
                )
            sign, weight, name = m.groups()
            if name not in metrics:
                raise TfselectError(
                    f"objective: unknown metric {name!r} (known: {', '.join(metrics)})"
                )
            w = float(weight) if weight else 1.0
            if not math.isfinite(w):  # 1e999 reads as inf: every trial's value would be too
                raise TfselectError(f"objective {part.strip()!r}: weight {weight} is not finite")
            terms.append((-w if sign == "-" else w, name))
            pos = m.end()
        if not terms:
            raise TfselectError(f"objective {part.strip()!r}: no metric")
        default = directions[terms[0][1]] if terms[0][0] > 0 else _flip(directions[terms[0][1]])
        obj = Objective(tuple(terms), forced or default)
        items.append(obj)
        canon.append(obj.canonical(default))
    names = [str(o) for o in items]
    if len(set(names)) != len(names):
        raise TfselectError(f"objective {text!r}: the same objective appears twice")
    return Objectives(tuple(items), ",".join(canon))


def _flip(direction: str) -> str:
    return "minimize" if direction == "maximize" else "maximize"


def trial_metrics(requested: Sequence[str] | str, objectives: Objectives) -> tuple[str, ...]:
    """Metric names each trial computes: the objectives' ones, then the requested ones
    (``"all"`` or metric and group names, expanded by :func:`tfselect.metrics.resolve_metrics`,
    the one owner of those names), without repeats."""
    names = resolve_metrics(None if requested == "all" else list(requested)) if requested else ()
    return tuple(dict.fromkeys((*objectives.metrics, *names)))
