"""Target maps: the ``[targets]`` table of a study TOML, merging or renaming stems.

    [targets]
    guitar = ["guitar", "other_plucked"]
    keys = "piano"

With a map the targets are its keys, in the order written; stems no key names count as the
rest of the mixture (mixture - sum of the targets), never dropped from the mixture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tfselect import TARGETS
from tfselect.audio.stem_files import check_target_name
from tfselect.audio.track import Track
from tfselect.errors import DatasetError, TfselectError
from tfselect.tomlfile import read_toml


@dataclass(frozen=True)
class TargetMap:
    """Targets built from stems: ``groups = ((target, (stem, ...)), ...)``.

    Attributes:
        groups: each target and the stems summed into it, in the order given.
        origin: where the map comes from (a file name), named in error messages.
    """

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    origin: str = "target map"

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.groups)

    def as_dict(self) -> dict[str, list[str]]:
        """``{target: [stem, ...]}``: the form a TOML or JSON file holds."""
        return {t: list(s) for t, s in self.groups}

    @classmethod
    def from_dict(cls, data: Mapping, origin: str = "target map") -> TargetMap:
        """Parse ``{target: stem or [stems]}``; a stem may feed one target only.

        Raises:
            TfselectError: an empty map, a bad name or value, or a stem used twice.
        """
        if not isinstance(data, Mapping) or not data:
            raise TfselectError(f"{origin}: [targets] must map target names to stem names")
        groups, used = [], {}
        for target, stems in data.items():
            check_target_name(str(target), Path(origin))
            stems = [stems] if isinstance(stems, str) else stems
            if not isinstance(stems, list) or not stems or not all(
                isinstance(s, str) and s for s in stems
            ):
                raise TfselectError(
                    f"{origin}: targets.{target} must be a stem name or a list of stem names"
                )
            for s in stems:
                if s in used:
                    raise TfselectError(
                        f"{origin}: stem '{s}' is mapped to both '{used[s]}' and '{target}'"
                    )
                used[s] = str(target)
            groups.append((str(target), tuple(stems)))
        return cls(tuple(groups), origin)


def load_target_map(path: str | Path | None) -> TargetMap | None:
    """The ``[targets]`` table of a TOML file (None when the file has none, or no file)."""
    if path is None:
        return None
    p = Path(path)
    data = read_toml(p)
    if "targets" not in data:
        return None
    return TargetMap.from_dict(data["targets"], str(p))


def _as_table(track: Track) -> Track:
    """A MUSDB-layout WAV track as a file table (so a map can regroup its stems)."""
    if track.stems is not None:
        return track
    if track.is_stem_file:
        raise DatasetError(
            f"{track.path}: target maps need stems as separate files (MUSDB18-HQ WAVs, "
            f"not .stem.mp4)"
        )
    return replace(track, stems=tuple((t, (track.path / f"{t}.wav",)) for t in TARGETS),
                   mixture=(track.path / "mixture.wav",), has_mixture=True)  # fmt: skip


def apply_target_map(
    tracks: Sequence[Track], target_map: TargetMap, root: Path
) -> list[Track]:
    """``tracks`` regrouped by ``target_map``; unmapped stems move to the rest of the mixture.

    Raises:
        DatasetError: the map names a stem that no track of ``root`` has (listing the stems).
    """
    tables = [_as_table(t) for t in tracks]
    stems = list(dict.fromkeys(name for t in tables for name, _ in t.stems))
    for target, names in target_map.groups:
        for s in names:
            if s not in stems:
                raise DatasetError(
                    f"{target_map.origin}: targets.{target} names stem '{s}', which no track of "
                    f"{root} has (stems: {', '.join(stems)})"
                )
    mapped = {s for _, names in target_map.groups for s in names}
    out = []
    for t in tables:
        files = dict(t.stems)
        groups = tuple(
            (target, tuple(f for s in names for f in files.get(s, ())))
            for target, names in target_map.groups
        )
        rest = t.rest + tuple(f for s, fs in t.stems if s not in mapped for f in fs)
        out.append(replace(t, stems=groups, rest=rest))
    return out
