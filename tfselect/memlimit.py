"""The memory a single request may ask for, and the one-line refusal above it.

A transform spec or a network size is checked against this limit *before* anything is
allocated: a typo (``bins=10000`` with 2**22-sample slices) is one line naming the size,
not a machine swapping for minutes or an out-of-memory kill.

The limit is ``TFSELECT_MAX_MEMORY_GB`` (gigabytes, 1e9 bytes) when set, else half of this
machine's physical memory (16 GB when that cannot be read).
"""

from __future__ import annotations

import os

from tfselect.errors import TfselectError

ENV = "TFSELECT_MAX_MEMORY_GB"
FALLBACK_BYTES = 16 * 10**9


def memory_limit() -> tuple[int, str]:
    """``(bytes, where the limit comes from)``.

    Raises:
        TfselectError: ``TFSELECT_MAX_MEMORY_GB`` is not a positive number.
    """
    if (text := os.environ.get(ENV)) is not None:
        try:
            gb = float(text)
        except ValueError:
            gb = float("nan")
        if not 0 < gb < 1e9:
            raise TfselectError(f"{ENV}={text!r}: expected a positive number of gigabytes")
        return int(gb * 1e9), f"{ENV}"
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return FALLBACK_BYTES, f"the default; set {ENV} to change it"
    return total // 2, f"half this machine's memory; set {ENV} to change it"


def check_bytes(what: str, need: int) -> None:
    """TfselectError (one line, naming ``what``, the size and the limit) if ``need`` bytes
    exceed :func:`memory_limit`."""
    limit, source = memory_limit()
    if need > limit:
        raise TfselectError(f"{what} needs about {need / 1e9:.1f} GB of memory, over the "
                            f"limit of {limit / 1e9:.1f} GB ({source})")
