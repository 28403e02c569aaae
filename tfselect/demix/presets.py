"""The training sizes each ``train-best --preset`` stands for, in one table.

Light on purpose (no torch, no numpy): the trainer (:func:`tfselect.demix.train.make_config`)
takes its defaults from here, and the command line shows the same values in ``--help``
without importing the trainer, so the help cannot drift from what a run uses.
"""

from __future__ import annotations

# Preset -> TrainConfig defaults: global batch size (chunks per step), training chunk
# length in seconds and steps per epoch. "small" trains on a CPU in minutes.
TRAIN_PRESETS: dict[str, dict[str, int | float]] = {
    "small": {"batch_size": 4, "chunk_seconds": 4.0, "steps": 32},
    "large": {"batch_size": 16, "chunk_seconds": 6.0, "steps": 256},
}


def preset_defaults(field: str) -> str:
    """One field's default per preset, as ``--help`` shows it: ``"small 4, large 16"``.

    Raises:
        KeyError: ``field`` is not a field of the presets.
    """
    return ", ".join(f"{name} {sizes[field]}" for name, sizes in TRAIN_PRESETS.items())
