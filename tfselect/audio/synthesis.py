"""The demo corpus's signals: short synthetic songs, one stem per source.

Each track has its own tempo (90-140 bpm), key, mode and chord progression (one chord per
bar), and four stems that differ in time-frequency structure the way real stems do:

- **drums**: kick (sine whose pitch drops from ~150 to ~50 Hz, plus a click), snare (tone
  plus band-passed noise), closed/open hi-hats (high-passed noise bursts) and a crash, on a
  16th-note grid -- transient and broadband;
- **bass**: low sustained notes (41-200 Hz) on the chord roots and fifths, a band-limited
  sawtooth through a low-pass whose brightness decays after each attack, plus a sine sub;
- **other**: piano-like block chords and arpeggios in the mid range (~165-1000 Hz
  fundamentals), slightly inharmonic partials with exponential decays that are faster for
  higher partials;
- **vocals**: a harmonic voice whose pitch follows a melody with portamento glides,
  5-6 Hz vibrato and a little drift, shaped by vowel formants (F1-F3) that move between
  notes, with short consonant noise bursts and breath; phrases are separated by gaps of
  exact digital silence (the intro is always silent), so silent-target handling is
  exercised.

With ``stems='fine'`` the same songs come with a finer split of ``other``, for targets beyond
MUSDB's four: **keys** (the piano-like block chords), **plucks** (the arpeggio, played by a
guitar-like plucked string instead of the piano) and **pads** (new: slow-attack sustained
chords, drawn from a generator of their own so every other stem stays note for note the
same).

Everything is numpy/scipy and seeded: the same ``seed`` gives bitwise the same audio. Stems
are panned slightly at random and mixed at plausible levels. ``demo`` writes the corpus.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import signal

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.errors import TfselectError

SR = SAMPLE_RATE
DEMO_VERSION = "2"
"""Version of the synthesis: bump it when the audio changes, so caches are rebuilt."""

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Major / minor scales as semitones above the tonic (not the frequency scales of transforms).
MUSICAL_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
# Scale degrees (0 = tonic), one chord per bar.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 4, 3), (5, 3, 0, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (5, 6, 0, 0)),
}
# Vowel formants F1-F3 (Hz) after Peterson & Barney, plus a fixed "singer's formant" near
# 3 kHz (the cluster that lets trained voices carry over a band); bandwidths / gains for all.
VOWELS = {
    "a": (730.0, 1090.0, 2440.0, 3200.0),
    "e": (530.0, 1840.0, 2480.0, 3200.0),
    "i": (270.0, 2290.0, 3010.0, 3400.0),
    "o": (570.0, 840.0, 2410.0, 3100.0),
    "u": (300.0, 870.0, 2240.0, 3100.0),
}
FORMANT_BW = np.array([90.0, 120.0, 180.0, 300.0])
FORMANT_GAIN = np.array([1.0, 0.8, 0.6, 0.5])
VOWEL_P = (0.3, 0.25, 0.12, 0.23, 0.1)  # a e i o u
# Active-part RMS of each stem in dBFS before the joint peak guard: rough MUSDB levels.
LEVELS_DB = {"vocals": -17.0, "drums": -16.0, "bass": -18.0, "other": -20.0,
             "keys": -21.0, "plucks": -22.0, "pads": -25.0}  # fmt: skip
STEM_SETS = {"musdb": TARGETS, "fine": ("vocals", "drums", "bass", "keys", "plucks", "pads")}


def _hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan of mono ``x`` (samples,) to (2, samples); pan in [-1, 1]."""
    theta = (pan + 1.0) * math.pi / 4.0
    return np.stack([math.cos(theta) * x, math.sin(theta) * x])


def _add(buf: np.ndarray, x: np.ndarray, at: int) -> None:
    """Add ``x`` into ``buf`` from sample ``at``, cut at the end of ``buf``."""
    if at >= buf.shape[-1]:
        return
    n = min(x.shape[-1], buf.shape[-1] - at)
    buf[..., at : at + n] += x[..., :n]


@lru_cache(maxsize=256)
def _sos(kind: str, freq: float | tuple[float, float], order: int = 4) -> np.ndarray:
    return signal.butter(order, freq, btype=kind, fs=SR, output="sos")


class _Song:
    """The musical plan of one track: tempo, key, chords and grid helpers."""

    def __init__(self, rng: np.random.Generator, seconds: float) -> None:
        self.rng = rng
        self.n = int(round(seconds * SR))
        self.bpm = int(rng.integers(90, 141))
        self.beat = 60.0 / self.bpm
        self.step = self.beat / 4.0  # a 16th note, in seconds
        self.tonic = int(rng.integers(0, 12))
        self.mode = str(rng.choice(list(MUSICAL_SCALES)))
        self.scale = MUSICAL_SCALES[self.mode]
        progs = PROGRESSIONS[self.mode]
        self.progression = progs[int(rng.integers(len(progs)))]
        self.n_bars = int(math.ceil(seconds / (4 * self.beat)))
        # Render with a tail so notes ringing past the end are cut, not missing.
        self.length = self.n + SR

    def sample(self, bar: int, step16: float) -> int:
        """Sample index of a 16th-note position within a bar."""
        return int(round((bar * 16 + step16) * self.step * SR))

    def chord(self, bar: int) -> list[int]:
        """Pitch classes (semitones above C, may exceed 11) of the bar's triad."""
        d = self.progression[bar % len(self.progression)]
        return [self.tonic + self.scale[(d + k) % 7] + 12 * ((d + k) // 7) for k in (0, 2, 4)]

    def name(self, index: int) -> str:
        return f"Demo {index:02d} - {NOTE_NAMES[self.tonic]} {self.mode} {self.bpm} bpm"


# ----------------------------------------------------------------------------- drums


def _kick(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.4 * SR)) / SR
    f_hi, f_lo = rng.uniform(130, 170), rng.uniform(45, 55)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / 0.035)  # the pitch drop that makes a kick
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / rng.uniform(0.1, 0.16))
    click = signal.sosfilt(_sos("highpass", 1500, 2), rng.standard_normal(t.size))
    click *= np.exp(-t / 0.002) * 0.5
    return body + click


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.3 * SR)) / SR
    f0 = rng.uniform(175, 200)
    tone = (np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 1.7 * f0 * t)) * np.exp(-t / 0.05)
    noise = signal.sosfilt(_sos("bandpass", (1200, 9000), 2), rng.standard_normal(t.size))
    return 0.6 * tone + 1.6 * noise * np.exp(-t / rng.uniform(0.08, 0.13))


def _hat(rng: np.random.Generator, open_: bool) -> np.ndarray:
    decay = rng.uniform(0.15, 0.25) if open_ else rng.uniform(0.02, 0.04)
    t = np.arange(int(min(6 * decay, 0.6) * SR)) / SR
    noise = signal.sosfilt(_sos("highpass", 7000, 4), rng.standard_normal(t.size))
    return 0.9 * noise * np.exp(-t / decay)


def _crash(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(1.8 * SR)) / SR
    noise = signal.sosfilt(_sos("highpass", 3500, 2), rng.standard_normal(t.size))
    return 0.5 * noise * np.exp(-t / 0.6) * (1 - np.exp(-t / 0.002))


def _drums(song: _Song) -> np.ndarray:
    rng = song.rng
    out = np.zeros((2, song.length))
    kick_pats = ([0, 8], [0, 6, 8], [0, 8, 10], [0, 3, 8, 11], [0, 7, 10])
    kicks = [kick_pats[i] for i in rng.integers(len(kick_pats), size=2)]
    kick_tpl = _kick(rng)
    pan_hat, pan_snare = rng.uniform(-0.35, 0.35), rng.uniform(-0.15, 0.15)
    for bar in range(song.n_bars):
        for s in kicks[bar % 2]:
            _add(out, _pan(kick_tpl * rng.uniform(0.85, 1.0), 0.0), song.sample(bar, s))
        for s in (4, 12):
            _add(out, _pan(_snare(rng) * rng.uniform(0.8, 1.0), pan_snare), song.sample(bar, s))
        if rng.random() < 0.4:  # ghost note
            _add(out, _pan(_snare(rng) * 0.25, pan_snare), song.sample(bar, 15))
        for s in range(16):  # 16th-note hats: drums carry the densest onsets
            open_ = s == 14 and rng.random() < 0.5
            accent = 1.0 if s % 4 == 0 else 0.6
            hat = _hat(rng, open_) * accent * rng.uniform(0.8, 1.0)
            _add(out, _pan(hat, pan_hat), song.sample(bar, s))
        if bar % 4 == 0:
            _add(out, _pan(_crash(rng), -pan_hat), song.sample(bar, 0))
    return out


# ----------------------------------------------------------------------------- bass


def _saw(f0: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited sawtooth (polyBLEP) of ``n`` samples, random start phase."""
    dt = f0 / SR
    phase = (rng.random() + dt * np.arange(n)) % 1.0
    saw = 2.0 * phase - 1.0
    # polyBLEP: smooth the jump at each wrap, which removes most of the aliasing.
    lo = phase < dt
    t = phase[lo] / dt
    saw[lo] -= t + t - t * t - 1.0
    hi = phase > 1.0 - dt
    t = (phase[hi] - 1.0) / dt
    saw[hi] -= t * t + t + t + 1.0
    return saw


def _bass(song: _Song) -> np.ndarray:
    rng = song.rng
    out = np.zeros(song.length)
    # (start, length) in 16ths and the interval above the root (0 root, 7 fifth, 12 octave).
    patterns = (
        [(0, 16, 0)],
        [(0, 8, 0), (8, 8, 7)],
        [(0, 6, 0), (6, 4, 0), (10, 6, 12)],
        [(0, 4, 0), (4, 4, 0), (8, 4, 7), (12, 4, 0)],
        [(0, 12, 0), (12, 4, 7)],
    )
    pattern = patterns[int(rng.integers(len(patterns)))]
    base = 28 + (song.tonic - 4) % 12  # MIDI of the key's lowest root from E1 (41 Hz) up
    cutoff_hi, cutoff_lo = rng.uniform(1200, 2200), rng.uniform(250, 450)
    sos_hi, sos_lo = _sos("lowpass", cutoff_hi, 2), _sos("lowpass", cutoff_lo, 2)
    for bar in range(song.n_bars):
        root = base + (song.chord(bar)[0] - song.tonic) % 12
        for start, dur, interval in pattern:
            midi = root + interval
            while _hz(midi) > 200.0:
                midi -= 12
            f0 = float(_hz(midi))
            n = int(dur * song.step * SR * 0.95)  # legato with a short gap
            t = np.arange(n) / SR
            saw = _saw(f0, n, rng)
            # Filter sweep: bright attack fading into a dark sustain (a filtered saw).
            bright = signal.sosfilt(sos_hi, saw) * np.exp(-t / 0.12)
            dark = signal.sosfilt(sos_lo, saw)
            sub = np.sin(2 * np.pi * f0 * t)
            env = np.minimum(1.0, t / 0.005) * (0.75 + 0.25 * np.exp(-t / 0.2))
            env *= np.minimum(1.0, (n - 1 - np.arange(n)) / (0.02 * SR))  # release
            _add(out, (0.8 * bright + dark + 0.6 * sub) * env, song.sample(bar, start))
    return _pan(out, rng.uniform(-0.1, 0.1))


# ----------------------------------------------------------------------------- other


def _piano(midi: int, seconds: float, tau: float) -> np.ndarray:
    """A piano-like note: inharmonic partials, faster decay for higher ones."""
    f0 = float(_hz(midi))
    t = np.arange(int(seconds * SR)) / SR
    k = np.arange(1, 11)[:, None]
    k = k[k[:, 0] * f0 < 9000]
    freqs = k * f0 * np.sqrt(1.0 + 2e-4 * k * k)  # stiff-string inharmonicity
    amps = 1.0 / k**1.3
    taus = tau / (1.0 + 0.6 * (k - 1))
    partials = amps * np.sin(2 * np.pi * freqs * t) * np.exp(-t / taus)
    env = np.minimum(1.0, t / 0.003) * np.minimum(1.0, (t.size - 1 - np.arange(t.size)) / 500.0)
    return partials.sum(axis=0) * env


def _pluck(midi: int, seconds: float) -> np.ndarray:
    """A guitar-like plucked string: harmonic partials weighted by the plucking point (1/5 of
    the string), bright attack, fast decay of the upper partials."""
    f0 = float(_hz(midi))
    t = np.arange(int(seconds * SR)) / SR
    k = np.arange(1, 25)[:, None]
    k = k[k[:, 0] * f0 < 12000]
    amps = np.abs(np.sin(np.pi * k * 0.2)) / k + 1e-3
    taus = 0.5 / (1.0 + 0.5 * (k - 1))
    partials = amps * np.sin(2 * np.pi * k * f0 * t) * np.exp(-t / taus)
    env = np.minimum(1.0, t / 0.001) * np.minimum(1.0, (t.size - 1 - np.arange(t.size)) / 300.0)
    return partials.sum(axis=0) * env


def _pads(song: _Song, rng: np.random.Generator) -> np.ndarray:
    """Sustained chords, one per bar, an octave above the keys: detuned saw-like stacks with
    a slow attack and release, low-passed (a string-machine pad)."""
    out = np.zeros((2, song.length))
    n_bar = int(4 * song.beat * SR)
    t = np.arange(n_bar) / SR
    env = np.minimum(1.0, t / 0.4) * np.minimum(1.0, (n_bar - 1 - np.arange(n_bar)) / (0.3 * SR))
    sos = _sos("lowpass", 3000.0, 2)
    for bar in range(song.n_bars):
        voice = np.zeros(n_bar)
        for pc in song.chord(bar):
            f0 = float(_hz(64 + (pc - 64) % 12))
            for detune in (-0.004, 0.0, 0.004):
                for k in range(1, 8):
                    voice += np.sin(2 * np.pi * k * f0 * (1 + detune) * t + rng.uniform(0, 6.3)) / k
        voice = signal.sosfilt(sos, voice) * env
        _add(out, _pan(voice, float(rng.uniform(-0.5, 0.5))), song.sample(bar, 0))
    return out


def _other(song: _Song, fine: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The piano part; ``fine``: (chords, arpeggio) apart, the arpeggio plucked, with the
    same random draws (so the song is the same)."""
    rng = song.rng
    out = np.zeros((2, song.length))
    arp_out = np.zeros((2, song.length)) if fine else out
    cache: dict[tuple[int, str], np.ndarray] = {}

    def note(midi: int, kind: str) -> np.ndarray:
        # Chord tones repeat across bars: synthesize each (pitch, kind) once.
        if (midi, kind) not in cache:
            if kind == "chord":
                cache[midi, kind] = _piano(midi, 4 * song.beat, 1.2)
            elif fine:
                cache[midi, kind] = _pluck(midi, min(2 * song.beat, 0.9))
            else:
                cache[midi, kind] = _piano(midi, min(2 * song.beat, 0.9), 0.35)
        return cache[midi, kind]

    pan_chord, pan_arp = rng.uniform(-0.3, 0.0), rng.uniform(0.0, 0.3)
    strikes = ([0], [0, 8], [0, 6, 12])[int(rng.integers(3))]
    arp_step = int(rng.choice([2, 2, 4]))  # 16th or 8th arpeggio
    arp_shape = ([0, 1, 2, 3], [0, 1, 2, 1], [3, 2, 1, 0], [0, 2, 1, 3])[int(rng.integers(4))]
    for bar in range(song.n_bars):
        chord = song.chord(bar)
        # Close voicing between E3 and G4 (165-392 Hz).
        voicing = [52 + (pc - 52) % 12 for pc in chord]
        for s in strikes:
            for m in voicing:
                _add(
                    out,
                    _pan(note(m, "chord") * rng.uniform(0.5, 0.7), pan_chord),
                    song.sample(bar, s),
                )
        arp_notes = sorted(64 + (pc - 64) % 12 for pc in chord) + [64 + (chord[0] - 64) % 12 + 12]
        for i, s in enumerate(range(0, 16, arp_step)):
            m = arp_notes[arp_shape[i % 4]]
            _add(arp_out, _pan(note(m, "arp") * rng.uniform(0.35, 0.5), pan_arp),
                 song.sample(bar, s))  # fmt: skip
    return (out, arp_out) if fine else out


# ----------------------------------------------------------------------------- vocals


def _vocals(song: _Song) -> np.ndarray:
    rng = song.rng
    n = song.length
    semis = np.zeros(n)  # target pitch (MIDI) per sample
    note_age = np.zeros(n)  # seconds since the current note started (for vibrato onset)
    voiced = np.zeros(n)  # amplitude envelope (0 in the gaps: exact silence)
    vowel_f = np.zeros((4, n))  # formant targets per sample
    consonants = np.zeros(n)
    artic = np.ones(n)  # dips between syllables

    centre = 57 + 10 * int(rng.integers(2))  # low (A3) or high (G4) voice
    scale_notes = np.array(
        [m for m in range(centre - 9, centre + 10) if (m - song.tonic) % 12 in song.scale]
    )
    vib_rate, vib_depth = rng.uniform(5.0, 6.0), rng.uniform(0.25, 0.5)  # Hz, semitones
    vowel_names = list(VOWELS)
    bar_s = 4 * song.beat

    phrases: list[tuple[int, int]] = []
    # The first bar is an instrumental intro (no vocals), when the track has room for it.
    bar = 1 if song.n >= 2 * bar_s * SR else 0
    while bar < song.n_bars:
        length = int(rng.choice([1, 2, 2]))
        phrases.append((bar, min(bar + length, song.n_bars)))
        bar += length + int(rng.choice([1, 1, 2]))  # rest of one or two bars

    idx = int(np.abs(scale_notes - centre).argmin())
    for b0, b1 in phrases:
        p0 = song.sample(b0, int(rng.choice([0, 0, 2])))
        p1 = min(song.sample(b1, 0) - int(rng.uniform(0.2, 0.45) * bar_s * SR), n)
        pos = p0
        while pos < p1 - int(0.1 * SR):
            dur = int(rng.choice([2, 2, 4, 4, 6, 8]) * song.step * SR)
            end = min(pos + dur, p1)
            if p1 - end < int(0.1 * SR):  # the last note holds to the end of the phrase
                end = p1
            # Melody: mostly steps on the scale, sometimes leaps, drawn towards the centre.
            idx = int(
                np.clip(idx + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]), 0, len(scale_notes) - 1)
            )
            semis[pos:end] = scale_notes[idx]
            note_age[pos:end] = np.arange(end - pos) / SR
            vowel = vowel_names[int(rng.choice(5, p=VOWEL_P))]  # open vowels carry sung notes
            vowel_f[:, pos:end] = np.array(VOWELS[vowel])[:, None]
            if pos > p0:  # articulation: a short dip in loudness between syllables
                w = min(int(0.03 * SR), pos - p0, end - pos)
                artic[pos - w : pos + w] *= 1.0 - 0.6 * np.hanning(2 * w)
            if rng.random() < 0.55:  # a consonant (s, t, sh ...) at the syllable onset
                m = min(int(rng.uniform(0.025, 0.07) * SR), end - pos)
                band = (float(rng.uniform(2500, 4500)), float(rng.uniform(7000, 11000)))
                burst = signal.sosfilt(_sos("bandpass", band, 2), rng.standard_normal(m))
                burst *= np.hanning(m) * rng.uniform(0.15, 0.35)
                consonants[pos : pos + m] += burst
            pos = end
        seg = np.arange(p1 - p0)
        att, rel = 0.04 * SR, 0.08 * SR
        voiced[p0:p1] = np.minimum(1.0, np.minimum(seg / att, (p1 - p0 - 1 - seg) / rel))
    voiced *= artic

    # Portamento: a one-pole glide (~35 ms) between consecutive notes of a phrase.
    a = math.exp(-1.0 / (0.035 * SR))
    active = voiced > 0
    starts = np.flatnonzero(np.diff(active.astype(np.int8), prepend=0) == 1)
    ends = np.flatnonzero(np.diff(active.astype(np.int8), append=0) == -1) + 1
    pitch = np.zeros(n)
    formants = np.zeros((4, n))
    b_f = math.exp(-1.0 / (0.04 * SR))
    for s, e in zip(starts, ends, strict=True):
        pitch[s:e] = signal.lfilter([1 - a], [1, -a], semis[s:e], zi=[a * semis[s]])[0]
        for j in range(4):
            formants[j, s:e] = signal.lfilter(
                [1 - b_f], [1, -b_f], vowel_f[j, s:e], zi=[b_f * vowel_f[j, s]]
            )[0]
    t = np.arange(n) / SR
    vib_env = np.clip((note_age - 0.15) / 0.25, 0.0, 1.0)  # vibrato sets in on held notes
    drift = signal.sosfilt(_sos("lowpass", 3.0, 2), rng.standard_normal(n)) * 2.0  # ~cents
    pitch = pitch + vib_depth * vib_env * np.sin(2 * np.pi * vib_rate * t) + 0.08 * drift
    f0 = np.where(active, _hz(pitch), 0.0)
    phi = 2 * np.pi * np.cumsum(f0) / SR

    # Harmonic source with a -3.6 dB/octave tilt, each harmonic weighted by the formant
    # envelope at its frequency (computed at a 64-sample control rate, then interpolated).
    # Only voiced samples are synthesized: the gaps are silent anyway.
    on = np.flatnonzero(active)
    if on.size == 0:
        return np.zeros((2, n))
    hop = 64
    ctrl = on[::hop]
    f0_c, form_c = f0[ctrl], formants[:, ctrl]
    k_max = int(8000 / max(float(_hz(scale_notes.min())), 1.0))
    ph = phi[on]
    c, s_prev, s_cur = np.cos(ph), np.zeros(on.size), np.sin(ph)
    voice = np.zeros(n)
    voice_on = np.zeros(on.size)
    for k in range(1, k_max + 1):
        fk = k * f0_c  # (frames,)
        gain = FORMANT_GAIN[:, None] / (1.0 + ((fk - form_c) / (FORMANT_BW[:, None] / 2)) ** 2)
        w = (gain.sum(axis=0) + 0.01) / k**0.6 * (fk < 10000)  # bright, pressed phonation
        voice_on += np.interp(on, ctrl, w) * s_cur
        s_prev, s_cur = s_cur, 2 * c * s_cur - s_prev  # sin((k+1)phi) by recurrence
    voice[on] = voice_on
    breath = signal.sosfilt(_sos("highpass", 1500, 2), rng.standard_normal(n)) * 0.03
    out = (voice + breath) * voiced + consonants
    out[~active] = 0.0  # exact digital silence between phrases
    return _pan(out, rng.uniform(-0.1, 0.1))


# ----------------------------------------------------------------------------- corpus


def _rms_db(x: np.ndarray) -> float:
    active = x[:, np.any(x != 0, axis=0)]
    return 10 * math.log10(max(float(np.mean(active**2)), 1e-20)) if active.size else -200.0


def synthesize_track(
    seed: int, index: int, seconds: float, stem_set: str = "musdb"
) -> tuple[str, dict[str, np.ndarray]]:
    """Synthesize one track.

    Args:
        stem_set: ``'musdb'`` (vocals, drums, bass, other) or ``'fine'`` (other split into
            keys, plucks and pads; see the module docstring).

    Returns:
        (name, {'mixture'|<stem>: (2, samples) float32}); the mixture is the float32 sum of
        the float32 stems.
    """
    if stem_set not in STEM_SETS:
        raise TfselectError(
            f"unknown demo stem set '{stem_set}': choose {', '.join(STEM_SETS)}"
        )
    names = STEM_SETS[stem_set]
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, index])
    song = _Song(rng, seconds)
    raw = {
        "vocals": _vocals(song),
        "drums": _drums(song),
        "bass": _bass(song),
    }
    if stem_set == "fine":
        raw["keys"], raw["plucks"] = _other(song, fine=True)
        raw["pads"] = _pads(song, np.random.default_rng([int(seed) & 0xFFFFFFFF, index, 1]))
    else:
        raw["other"] = _other(song)
    stems = {}
    for name in names:
        x = raw[name][:, : song.n]
        stems[name] = x * 10 ** ((LEVELS_DB[name] - _rms_db(x)) / 20)
    mix = sum(stems.values())
    peak = float(np.max(np.abs(mix)))
    gain = min(1.0, 0.89 / peak) if peak > 0 else 1.0  # joint gain: keep the mix below -1 dBFS
    out = {name: (stems[name] * gain).astype(np.float32) for name in names}
    mixture = np.zeros_like(out["vocals"], dtype=np.float64)
    for name in names:
        mixture += out[name]
    out = {"mixture": mixture.astype(np.float32), **out}
    return song.name(index), out
