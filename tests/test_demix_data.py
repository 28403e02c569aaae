"""The demixer's training data against definitions written here: the ``residual`` source is
the float64 mixture minus the targets, and examples with a residual add up to a mixture.

The corpus is generic stem folders with a shipped mixture that holds more than its stems
(an extra stem no target names, plus noise), written as float32 WAV (read back exactly).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tfselect.audio.dataset import discover
from tfselect.demix.data import TrackAudio, TrainingSet, validation_examples

SR = 44100
N = 700
TARGETS = ("vocals", "bass")  # 'guitar' and the noise stay in the residual


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[list, dict[str, dict[str, np.ndarray]]]:
    rng = np.random.default_rng(0)
    written = {}
    for name in ("a", "b", "c"):
        stems = {s: (0.1 * rng.standard_normal((2, N))).astype(np.float32)
                 for s in ("vocals", "bass", "guitar")}  # fmt: skip
        mix = (stems["vocals"].astype(np.float64) + stems["bass"] + stems["guitar"]
               + 0.05 * rng.standard_normal((2, N))).astype(np.float32)
        for s, x in {**stems, "mixture": mix}.items():
            (tmp_path / "train" / name).mkdir(parents=True, exist_ok=True)
            sf.write(str(tmp_path / "train" / name / f"{s}.wav"), x.T, SR, subtype="FLOAT")
        written[name] = {**stems, "mixture": mix}
    return discover(tmp_path), written


def _residual(w: dict[str, np.ndarray]) -> np.ndarray:
    """Mixture minus the targets in float64, rounded to float32 once."""
    return (w["mixture"].astype(np.float64) - sum(w[t].astype(np.float64) for t in TARGETS)
            ).astype(np.float32)


@pytest.mark.parametrize("preload", [False, True])
def test_residual_is_the_mixture_minus_the_targets_for_every_track(corpus, preload) -> None:
    tracks, written = corpus
    audio = TrackAudio(tracks, preload=preload, targets=TARGETS)
    for i, t in enumerate(tracks):
        ref = _residual(written[t.name])
        np.testing.assert_array_equal(audio.read(i, "residual", 0, N), ref, err_msg=t.name)
        # a chunk past the end is zero-padded, for stems and the residual alike
        np.testing.assert_array_equal(audio.read(i, "residual", N - 50, 80)[:, :50], ref[:, -50:])
        np.testing.assert_array_equal(audio.read(i, "residual", N - 50, 80)[:, 50:], 0.0)
        np.testing.assert_array_equal(audio.read(i, "vocals", 100, 200),
                                      written[t.name]["vocals"][:, 100:300])


def test_fixed_examples_with_a_residual_add_up_to_the_shipped_mixture(corpus) -> None:
    tracks, written = corpus
    n = 300
    ts = TrainingSet(TrackAudio(tracks, targets=TARGETS), n / SR, seed=0, targets=TARGETS,
                     fixed=True, residual=True)
    mix, y = ts.example(0, 0)
    w, start = written[tracks[0].name], (N - n) // 2  # fixed: the middle of track 0
    np.testing.assert_array_equal(y, np.stack([w[t][:, start:start + n] for t in TARGETS]))
    np.testing.assert_allclose(mix, w["mixture"][:, start:start + n], rtol=0, atol=1e-6)


def test_drawn_residual_is_a_chunk_of_some_tracks_rest(corpus) -> None:
    """With track mixing and gains, the example's mixture minus its targets must still be a
    chunk (at a gain, possibly channel-swapped) of one track's mixture minus its targets."""
    tracks, written = corpus
    n = 200
    ts = TrainingSet(TrackAudio(tracks, preload=True, targets=TARGETS), n / SR, seed=5,
                     targets=TARGETS, residual=True)
    rests = [_residual(written[t.name]).astype(np.float64) for t in tracks]
    for index in range(4):
        mix, y = ts.example(1, index)
        extra = mix.astype(np.float64) - y.astype(np.float64).sum(0)
        best = np.inf
        for r in rests:
            for start in range(N - n + 1):
                for chunk in (r[:, start:start + n], r[::-1, start:start + n]):
                    g = float(np.sum(chunk * extra) / np.sum(chunk * chunk))
                    if 0.2 < g < 1.3:
                        best = min(best, float(np.abs(extra - g * chunk).max()))
        assert best < 1e-5, index


def test_validation_examples_with_a_residual_are_the_shipped_mixtures(corpus) -> None:
    tracks, written = corpus
    audio = TrackAudio(tracks, targets=TARGETS)
    for (mix, y), t in zip(validation_examples(audio, 300 / SR, TARGETS, residual=True), tracks,
                           strict=True):
        w, start = written[t.name], (N - 300) // 2
        np.testing.assert_array_equal(
            y[0].numpy(), np.stack([w[s][:, start:start + 300] for s in TARGETS]))
        np.testing.assert_allclose(mix[0].numpy(), w["mixture"][:, start:start + 300], atol=1e-6)
    (mix, _), *_ = validation_examples(audio, None, TARGETS)  # whole tracks, no residual
    np.testing.assert_allclose(
        mix[0].numpy(), sum(written[tracks[0].name][s].astype(np.float64) for s in TARGETS),
        atol=1e-6)


def test_to_stereo_duplicates_mono_and_drops_extra_channels() -> None:
    from tfselect.demix.data import _to_stereo

    x = np.arange(6, dtype=np.float64)
    for mono in (x, x[None]):
        out = _to_stereo(mono)
        assert out.dtype == np.float32 and out.shape == (2, 6)
        np.testing.assert_array_equal(out, np.stack([x, x]).astype(np.float32))
    three = np.stack([x, 2 * x, 3 * x])
    np.testing.assert_array_equal(_to_stereo(three), three[:2].astype(np.float32))
    np.testing.assert_array_equal(_to_stereo(three[:2]), three[:2].astype(np.float32))


def test_reads_past_the_end_are_zero_padded_to_the_length_asked(corpus) -> None:
    tracks, written = corpus
    for preload in (False, True):
        audio = TrackAudio(tracks, preload=preload, targets=TARGETS)
        tail = audio.read(1, "bass", N - 30, 100)
        assert tail.shape == (2, 100)
        np.testing.assert_array_equal(tail[:, :30], written[tracks[1].name]["bass"][:, -30:])
        np.testing.assert_array_equal(tail[:, 30:], 0.0)
        at_end = audio.read(1, "bass", N, 5)  # the furthest start a caller asks for
        assert at_end.shape == (2, 5) and not at_end.any()


def test_default_examples_mix_tracks_with_gains_and_swaps(corpus) -> None:
    """Defaults: track mixing, augmentation, no residual. Chunks as long as the tracks, so
    every target must be a whole stem of some track, at a gain in [0.25, 1.25], maybe with
    its channels swapped; the same (epoch, index) gives the same example in a new instance."""
    tracks, written = corpus
    stems = [(w[t].astype(np.float64), name, t) for name, w in written.items() for t in TARGETS]
    ts = TrainingSet(TrackAudio(tracks, targets=TARGETS), N / SR, seed=2, targets=TARGETS)
    again = TrainingSet(TrackAudio(tracks, targets=TARGETS), N / SR, seed=2, targets=TARGETS)
    gains, swaps, mixed = [], [], 0
    for index in range(12):
        mix, y = ts.example(3, index)
        m2, y2 = again.example(3, index)
        assert np.array_equal(mix, m2) and np.array_equal(y, y2)
        assert y.shape == (len(TARGETS), 2, N)
        np.testing.assert_allclose(mix, y.astype(np.float64).sum(0), atol=1e-6)
        sources = []
        for k, target in enumerate(TARGETS):
            found = []
            for ref, name, t in stems:
                for swapped, chunk in ((False, ref), (True, ref[::-1])):
                    g = float(np.sum(chunk * y[k]) / np.sum(chunk * chunk))
                    if t == target and np.abs(y[k] - g * chunk).max() < 1e-6:
                        found.append((name, g, swapped))
            assert len(found) == 1, (index, target)
            name, g, swapped = found[0]
            sources.append(name)
            gains.append(g)
            swaps.append(swapped)
        mixed += len(set(sources)) > 1
    assert all(0.25 <= g <= 1.25 for g in gains) and max(gains) - min(gains) > 0.5
    assert max(gains) > 1.0  # the range reaches above unity gain
    assert 0 < sum(swaps) < len(swaps)  # some swapped, some not
    assert mixed > 0  # targets drawn from different tracks
    assert not np.array_equal(ts.example(4, 0)[0], ts.example(3, 0)[0])  # other epoch


def test_no_tracks_is_refused() -> None:
    with pytest.raises(ValueError, match="^no training tracks$"):
        TrainingSet(TrackAudio([]), 1.0, seed=0)


def test_batch_stacks_the_examples_it_names(corpus) -> None:
    tracks, _ = corpus
    ts = TrainingSet(TrackAudio(tracks, targets=TARGETS), 100 / SR, seed=1, targets=TARGETS)
    mix, y = ts.batch(2, [5, 0, 5])
    assert mix.shape == (3, 2, 100) and y.shape == (3, len(TARGETS), 2, 100)
    assert mix.dtype == y.dtype == torch.float32 and y.is_contiguous()
    for row, index in enumerate([5, 0, 5]):
        m, t = ts.example(2, index)
        np.testing.assert_array_equal(mix[row].numpy(), m)
        np.testing.assert_array_equal(y[row].numpy(), t)


def test_without_track_mixing_every_target_comes_from_one_track(corpus) -> None:
    tracks, written = corpus
    ts = TrainingSet(TrackAudio(tracks, targets=TARGETS), N / SR, seed=4, targets=TARGETS,
                     mix_tracks=False, augment=False)
    names = set()
    for index in range(6):
        _, y = ts.example(0, index)
        (name,) = [n for n, w in written.items()
                   if all(np.array_equal(y[k], w[t]) for k, t in enumerate(TARGETS))]
        names.add(name)
    assert len(names) > 1  # the track is drawn per example


def test_chunk_starts_are_drawn_over_the_whole_track(corpus) -> None:
    tracks, written = corpus
    n = 100
    ts = TrainingSet(TrackAudio(tracks, targets=TARGETS), n / SR, seed=6, targets=TARGETS,
                     mix_tracks=False, augment=False)
    starts = set()
    for index in range(8):
        _, y = ts.example(0, index)
        for w in written.values():
            starts |= {s for s in range(N - n + 1) if np.array_equal(y[0], w["vocals"][:, s:s + n])}
    assert len(starts) == 8 and min(starts) >= 0 and max(starts) <= N - n
    assert starts != {(N - n) // 2}
