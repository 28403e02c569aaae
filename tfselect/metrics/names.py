"""Names of the metrics, their groups, directions and units, and the SDR conventions.

Plain data (no numpy, no torch), so tables and reports can name metrics without loading
what computes them (:mod:`.score`).
"""

from __future__ import annotations

from collections.abc import Sequence

from tfselect.errors import TfselectError

ORACLES = ("mpi", "irm1", "irm2", "ibm", "mwf")

GROUPS: dict[str, tuple[str, ...]] = {
    "sparsity": ("gini", "hoyer", "renyi3"),
    "ridges": (
        "ridge_energy_time",
        "ridge_energy_freq",
        "ridge_sdr_time",
        "ridge_sdr_freq",
        "ridge_stability_time",
        "ridge_stability_freq",
    ),
    "oracles": ORACLES,
    "cost": ("redundancy", "seconds", "peak_mb"),
}
METRICS: tuple[str, ...] = tuple(m for group in GROUPS.values() for m in group)

# Which way is "better" for a search. Sparser (higher Gini/Hoyer, lower entropy), more ridge
# energy, better SDRs and more stable ridges are maximised or minimised as a *hypothesis*;
# whether they predict the oracles is what the report measures. Cost is always minimised.
DIRECTIONS: dict[str, str] = {
    **{m: "maximize" for m in ("gini", "hoyer")},
    "renyi3": "minimize",
    **{m: "maximize" for m in GROUPS["ridges"]},
    **{m: "maximize" for m in ORACLES},
    **{m: "minimize" for m in GROUPS["cost"]},
}

# The unit of each metric's value, where it has one (shown next to scores).
UNITS: dict[str, str] = {
    **{m: "dB" for m in ("mpi", "irm1", "irm2", "ibm", "mwf", "ridge_sdr_time", "ridge_sdr_freq")},
    "renyi3": "bits",
    "redundancy": "coefs/sample",
    "seconds": "s per s of audio",
    "peak_mb": "MB",
}

# SDR conventions (docs/design.md, Metrics): fast = global SDR (searches), museval = BSSEval v4
# median over 1-s frames (SiSEC18), usdr = the MDX challenge's SDR (1e-7 floor), si-sdr =
# scale-invariant SDR.
BSS = ("fast", "museval", "usdr", "si-sdr")
RIDGE_KINDS = ("energy", "sdr", "stability")


def resolve_metrics(metrics: str | Sequence[str] | None) -> tuple[str, ...]:
    """Expand metric and group names into metric names, in ``METRICS`` order.

    Args:
        metrics: None (all), a comma-separated string, or a sequence of names; each name is
            a metric of ``METRICS`` or a group of ``GROUPS``.

    Raises:
        TfselectError: an unknown name, or nothing selected.
    """
    if metrics is None:
        return METRICS
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    wanted: set[str] = set()
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        if name in GROUPS:
            wanted.update(GROUPS[name])
        elif name in METRICS:
            wanted.add(name)
        else:
            raise TfselectError(
                f"unknown metric '{name}': choose from {', '.join(METRICS)} "
                f"or a group ({', '.join(GROUPS)})"
            )
    if not wanted:
        raise TfselectError("no metric selected: give at least one metric or group name")
    return tuple(m for m in METRICS if m in wanted)
