"""Names of the metric columns of a report: the metric and its aggregate over clips.

A trial scores its candidate clip by clip; one number per metric reaches the report, the
**mean over clips** (the same aggregate as the trial's ``value``, which the Wilcoxon pruner
and the paired statistics compare). Report files name it in the column: ``mpi_mean`` (dB),
``redundancy_mean`` (coefficients per sample), ... (units: :data:`UNITS`).

Studies written before the trials stored means (their trials carry no ``aggregate``
attribute) stored medians over clips: their metrics go to ``<metric>_median`` columns, so a
median is never shown as a mean. Their primary objective's mean is still known (the trial's
``value`` is the mean over clips), so a single-metric objective also fills
``<metric>_mean`` from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tfselect.search.study import AGGREGATE_ATTR

MEAN = "mean"
MEDIAN = "median"
AGGREGATES = (MEAN, MEDIAN)
# Counts a trial stores next to its metrics: clips of the objective (every clip it saw) and
# of the other metrics (the fixed metric subset).
COUNT_COLUMNS = ("n_clips", "n_metric_clips")


def _metrics() -> tuple[str, ...]:
    from tfselect.metrics import METRICS

    return tuple(METRICS)


def column(metric: str, aggregate: str = MEAN) -> str:
    """The report column of ``metric`` aggregated by ``aggregate``: ``mpi`` -> ``mpi_mean``."""
    return f"{metric}_{aggregate}"


def split(name: str) -> tuple[str, str] | None:
    """(metric, aggregate) of a metric column name, None for any other column."""
    for agg in AGGREGATES:
        base = name.removesuffix(f"_{agg}")
        if base != name and base in _metrics():
            return base, agg
    return None


def metric_of(name: str) -> str:
    """The metric a column holds (``mpi_mean`` -> ``mpi``); the name itself otherwise."""
    parts = split(name)
    return parts[0] if parts else name


def find(columns: Iterable[str], metric: str) -> str | None:
    """The column of ``metric`` among ``columns``: the mean, else the median, else None."""
    cols = set(columns)
    return next((column(metric, a) for a in AGGREGATES if column(metric, a) in cols), None)


def primary_metric(objective: str) -> str | None:
    """The metric of a study's first objective when it is a single metric (``mpi``,
    ``max:mpi``), else None (a weighted sum such as ``mpi+0.5*irm1``)."""
    first = objective.split(",")[0].strip()
    for prefix in ("max:", "min:"):
        first = first.removeprefix(prefix).strip()
    return first if first in _metrics() else None


def trial_metrics(attrs: Mapping[str, object], objective: str, value: float) -> dict[str, float]:
    """The metric columns of one trial: ``{column: value}`` from its user attributes.

    Args:
        attrs: the trial's user attributes (metric name -> aggregate; None = undefined).
        objective: the study's objective text (``mpi``, ``mpi+0.5*irm1``, ...).
        value: the trial's first objective value (mean over clips; NaN if none).
    """
    agg = MEAN if attrs.get(AGGREGATE_ATTR) == MEAN else MEDIAN
    out: dict[str, float] = {}
    for name in _metrics():
        if name in attrs:
            v = attrs[name]
            out[column(name, agg)] = math.nan if v is None else float(v)  # type: ignore[arg-type]
    primary = primary_metric(objective)
    if agg == MEDIAN and primary is not None and primary in attrs:
        out[column(primary, MEAN)] = float(value)  # the value is the mean over clips
    return out
