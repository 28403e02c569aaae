"""Audio layer: datasets in MUSDB layout, clip sampling and the built-in demo corpus.

The lowest layer of tfselect: it imports nothing from transforms, metrics, search, report
or demix.
"""

from tfselect.audio.clips import Clip, is_silent, sample_clips
from tfselect.audio.dataset import (
    SOURCES,
    Track,
    discover,
    load_track,
    read_segment,
    resolve_root,
    track_length,
    tracks_for,
)
from tfselect.audio.demo import demo_root, write_demo_corpus

__all__ = [
    "SOURCES",
    "Clip",
    "Track",
    "demo_root",
    "discover",
    "is_silent",
    "load_track",
    "read_segment",
    "resolve_root",
    "sample_clips",
    "track_length",
    "tracks_for",
    "write_demo_corpus",
]
