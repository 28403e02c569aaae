"""Audio layer: datasets in MUSDB layout, clip sampling and the built-in demo corpus.

The lowest layer of tfselect: it imports nothing from transforms, metrics, search, report
or demix.

Names load from their modules when first used (no numpy or soundfile before).
"""

from __future__ import annotations

from tfselect.lazy import lazy_exports

_WHERE = {
    "SOURCES": "dataset",
    "Track": "dataset",
    "discover": "dataset",
    "load_track": "dataset",
    "read_segment": "dataset",
    "resolve_root": "dataset",
    "track_length": "dataset",
    "tracks_for": "dataset",
    "Clip": "clips",
    "is_silent": "clips",
    "sample_clips": "clips",
    "demo_root": "demo",
    "write_demo_corpus": "demo",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
