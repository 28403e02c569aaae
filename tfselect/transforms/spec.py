"""``TransformSpec``: one canonical string per transform, parsed, validated and printed.

Grammar: ``KIND:field=value,field=value,...`` with these kinds and fields (canonical order)::

    slicqt:scale=S,bins=N,fmin=F,fmax=F[,gamma=G][,sllen=N][,trlen=N][,phase=P][,form=R]
    stft:n_fft=N,hop=N[,window=W]
    nsgt:fmin=F,fmax=F,bpo=N[,gamma=G][,rasterize=R][,phase=P]
    nsgcq:fmin=F,fmax=F,bpo=N[,gamma=G][,rasterize=R][,phase=P]
    mrstft:edges=F|F…,n_fft=N|N|N…,hop=N|N|N…[,window=W]
    ens:SPEC+SPEC[+SPEC]

- ``slicqt`` the sliced constant-Q-like transform (torch; :mod:`.slicqt`). ``scale`` is one of
  log, mel, bark, vqlog, lin; ``gamma`` (Hz, >= 0) only with vqlog; ``sllen``/``trlen`` slice
  and transition length in samples (omitted = the smallest valid ones, see
  :meth:`TransformSpec.resolved`); ``phase`` local (2012, default) or global (2014);
  ``form`` ragged (default), zeropad, rasterize (full: every bin at the finest time grid) or
  piecewise (rasterized per octave to power-of-two fractions of the finest grid).
- ``stft`` the STFT (torch; :mod:`.stft`); ``window`` one of hann (default), hamming,
  blackman, bartlett (torch's periodic windows, all exactly invertible for hop <= n_fft/2).
- ``nsgt`` non-sliced torch NSGT with essentia's constant-Q design; ``nsgcq`` essentia's
  ``NSGConstantQ`` itself. ``bpo`` = bins per octave, ``rasterize`` none|full|piecewise
  (default full), ``phase`` local|global (default global), as essentia's defaults.
- ``mrstft`` the band-wise multi-resolution STFT (torch; :mod:`.mrstft`): ``edges`` are the
  crossover frequencies in Hz (increasing, at least half an octave apart), ``n_fft`` and
  ``hop`` one value per band (one more than edges, lowest band first), ``window`` as stft.
  Lists are separated by ``|``.
- ``ens`` an ensemble of 2 or 3 transforms of the other kinds (:mod:`.ensemble`) whose
  waveforms are averaged; members are canonical specs joined by ``+``.

Printing rule: the core fields (slicqt: scale, bins, fmin, fmax; stft: n_fft, hop;
nsgt/nsgcq: fmin, fmax, bpo) are required and always printed; every other field is printed
only when it differs from its default (``sllen``/``trlen`` only when given). Numbers print as
the shortest string that reads back to the same float, integers without ``.0``. Hence
``parse(str(s)) == s`` for every spec, and ``str(parse(t)) == t`` for every canonical ``t``.

Every problem raises :class:`tfselect.errors.SpecError` with one line naming the field, the
value and the allowed range.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from tfselect.errors import SpecError

from .scales import SCALES, centres_and_q, min_slice_length

KINDS = ("slicqt", "stft", "nsgt", "nsgcq", "mrstft", "ens")
PHASES = ("local", "global")
FORMS = ("ragged", "zeropad", "rasterize", "piecewise")
RASTERIZE = ("none", "full", "piecewise")
# STFT windows: torch's ``<name>_window`` functions that need no shape parameter.
WINDOWS = ("hann", "hamming", "blackman", "bartlett")

# canonical field order per kind; the first ones (up to _CORE[kind]) are required
_FIELDS = {
    "slicqt": ("scale", "bins", "fmin", "fmax", "gamma", "sllen", "trlen", "phase", "form"),
    "stft": ("n_fft", "hop", "window"),
    "nsgt": ("fmin", "fmax", "bpo", "gamma", "rasterize", "phase"),
    "nsgcq": ("fmin", "fmax", "bpo", "gamma", "rasterize", "phase"),
    "mrstft": ("edges", "n_fft", "hop", "window"),
    "ens": ("members",),
}
_CORE = {
    "slicqt": ("scale", "bins", "fmin", "fmax"),
    "stft": ("n_fft", "hop"),
    "nsgt": ("fmin", "fmax", "bpo"),
    "nsgcq": ("fmin", "fmax", "bpo"),
    "mrstft": ("edges", "n_fft", "hop"),
    "ens": ("members",),
}
_DEFAULTS = {
    "slicqt": {"gamma": None, "sllen": None, "trlen": None, "phase": "local", "form": "ragged"},
    "stft": {"window": "hann"},
    "nsgt": {"gamma": 0.0, "rasterize": "full", "phase": "global"},
    "nsgcq": {"gamma": 0.0, "rasterize": "full", "phase": "global"},
    "mrstft": {"window": "hann"},
    "ens": {},
}
# Upper bounds that keep a typo (bins=1e9) from exhausting memory before any other check.
MAX_BINS = 10_000
MAX_N_FFT = 2**20
MAX_SLLEN = 2**22  # samples: 95 s at 44.1 kHz, far beyond any useful slice
MAX_BANDS = 8  # mrstft: more bands than this is a typo, not a design
# mrstft crossovers are raised-cosine transitions this many octaves wide, centred (in log
# frequency) on each edge; consecutive edges at least this far apart never overlap.
CROSSOVER_OCTAVES = 0.5
ENSEMBLE_SIZES = (2, 3)
# An ensemble's members are split at a "+" that starts another spec (a "+" may also be a
# number's sign: fmin=+30 or 1e+3).
_MEMBERS = "|".join(k for k in KINDS if k != "ens")
_MEMBER_SPLIT = re.compile(rf"\+(?=\s*(?:{_MEMBERS}):)")
_LIST_FIELDS = {"edges", "n_fft", "hop"}  # mrstft: one value per edge / band, "|"-separated
# Numbers as the grammar writes them: ASCII decimal, optional sign, fraction and exponent
# (Python's float() would also take "1_000", "inf", "nan" and non-ASCII digits).
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")

_INT_FIELDS = {"bins", "sllen", "trlen", "n_fft", "hop", "bpo"}
_FLOAT_FIELDS = {"fmin", "fmax", "gamma"}
_ALL_FIELDS = (
    "scale", "bins", "fmin", "fmax", "gamma", "sllen", "trlen", "phase", "form",
    "n_fft", "hop", "bpo", "rasterize", "window", "edges", "members",
)  # fmt: skip


def _fmt_number(x: float | int) -> str:
    """Shortest exact text for a number: ints plain, floats by repr without a trailing .0."""
    if isinstance(x, int):
        return str(x)
    if float(x).is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(float(x))


@dataclass(frozen=True)
class TransformSpec:
    """A validated transform description; see the module docstring for the grammar.

    Construct with :meth:`parse` (or directly with keyword fields, validated the same way).
    Fields not used by ``kind`` are None. For ``mrstft`` ``n_fft`` and ``hop`` are tuples
    (one per band) and ``edges`` a tuple of Hz; for ``ens`` ``members`` is a tuple of specs.
    """

    kind: str
    scale: str | None = None
    bins: int | None = None
    fmin: float | None = None
    fmax: float | None = None
    gamma: float | None = None
    sllen: int | None = None
    trlen: int | None = None
    phase: str | None = None
    form: str | None = None
    n_fft: int | tuple[int, ...] | None = None
    hop: int | tuple[int, ...] | None = None
    bpo: int | None = None
    rasterize: str | None = None
    window: str | None = None
    edges: tuple[float, ...] | None = None
    members: tuple[TransformSpec, ...] | None = None

    # ------------------------------------------------------------------ parsing / printing
    @classmethod
    def parse(cls, text: str | TransformSpec) -> TransformSpec:
        """Parse ``text`` (or return a spec unchanged); raises SpecError on any problem."""
        if isinstance(text, TransformSpec):
            return text
        if not isinstance(text, str):
            raise SpecError(f"transform spec must be a string, got {type(text).__name__}")
        s = text.strip()
        kind, sep, body = s.partition(":")
        kind = kind.strip()
        if kind not in KINDS:
            raise SpecError(
                f"transform spec {s!r}: unknown kind {kind!r} (allowed: {', '.join(KINDS)})"
            )
        values: dict[str, object] = {}
        if kind == "ens":
            parts = [p.strip() for p in _MEMBER_SPLIT.split(body)] if body.strip() else []
            if any(p.startswith("ens:") for p in parts):
                raise SpecError(f"transform spec {s!r}: an ensemble cannot hold an ensemble")
            return cls(kind="ens", members=tuple(cls.parse(p) for p in parts))
        items = [p.strip() for p in body.split(",")] if sep and body.strip() else []
        if "" in items:
            raise SpecError(f"transform spec {s!r}: empty field (a stray comma?)")
        for item in items:
            name, eq, raw = item.partition("=")
            name, raw = name.strip(), raw.strip()
            if name not in _FIELDS[kind]:
                raise SpecError(
                    f"transform spec {s!r}: unknown field {name!r} for kind {kind!r} "
                    f"(allowed: {', '.join(_FIELDS[kind])})"
                )
            if not eq or raw == "":
                raise SpecError(f"transform spec {s!r}: field {name!r} has no value (use {name}=…)")
            if name in values:
                raise SpecError(f"transform spec {s!r}: field {name!r} given twice")
            if kind == "mrstft" and name in _LIST_FIELDS:
                values[name] = tuple(_convert(s, name, r.strip()) for r in raw.split("|"))
            else:
                values[name] = _convert(s, name, raw)
        return cls._make(kind, values, s)

    @classmethod
    def _make(cls, kind: str, values: dict, text: str) -> TransformSpec:
        for name in _CORE[kind]:
            if name not in values:
                raise SpecError(
                    f"transform spec {text!r}: missing field {name!r} "
                    f"(required for {kind}: {', '.join(_CORE[kind])})"
                )
        full = dict(_DEFAULTS[kind])
        full.update(values)
        if kind == "slicqt" and full.get("scale") == "vqlog" and full.get("gamma") is None:
            full["gamma"] = 0.0
        return cls(kind=kind, **full)

    def label(self) -> str:
        """A compact label for plots: ``stft 4096/1024`` or ``bark,bins=262,fmin=32.9``."""
        if self.kind == "stft":
            window = "" if self.window in (None, "hann") else f" {self.window}"
            return f"stft {self.n_fft}/{self.hop}{window}"
        if self.kind == "ens":
            return " + ".join(m.label() for m in self.members)
        if self.kind == "mrstft":
            window = "" if self.window in (None, "hann") else f" {self.window}"
            bands = " ".join(f"{n}/{h}" for n, h in zip(self.n_fft, self.hop, strict=True))
            edges = "|".join(_fmt_number(e) for e in self.edges)
            return f"mrstft {bands} @{edges}{window}"
        body = str(self).split(":", 1)[1].replace("scale=", "")
        return body.replace(",fmax=22050", "")  # Nyquist at 44.1 kHz: the usual top

    def __str__(self) -> str:
        if self.kind == "ens":
            return "ens:" + "+".join(str(m) for m in self.members)
        parts = []
        defaults = dict(_DEFAULTS[self.kind])
        if self.kind == "slicqt" and self.scale == "vqlog":
            defaults["gamma"] = 0.0
        for name in _FIELDS[self.kind]:
            v = getattr(self, name)
            if name not in _CORE[self.kind] and (v is None or v == defaults.get(name)):
                continue
            if isinstance(v, tuple):
                parts.append(f"{name}={'|'.join(_fmt_number(e) for e in v)}")
            else:
                parts.append(f"{name}={v if isinstance(v, str) else _fmt_number(v)}")
        return f"{self.kind}:{','.join(parts)}"

    def __repr__(self) -> str:
        return f"TransformSpec({str(self)!r})"

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        kind = self.kind
        if kind not in KINDS:
            raise SpecError(f"transform spec: unknown kind {kind!r} (allowed: {', '.join(KINDS)})")
        allowed = set(_FIELDS[kind])
        for name in _ALL_FIELDS:
            v = getattr(self, name)
            if v is not None and name not in allowed:
                raise SpecError(self._msg(name, v, f"not a field of kind {kind!r}"))
        for name in _CORE[kind]:
            if getattr(self, name) is None:
                raise SpecError(self._msg(name, None, "required"))
        if kind in ("mrstft", "ens"):  # list fields: their own checks normalise them
            getattr(self, f"_check_{kind}")()
            return
        # normalise numeric types so equality and printing are exact
        for name in _INT_FIELDS & allowed:
            v = getattr(self, name)
            if v is not None:
                if isinstance(v, bool) or not float(v).is_integer():
                    raise SpecError(self._msg(name, v, "must be an integer"))
                object.__setattr__(self, name, int(v))
        for name in _FLOAT_FIELDS & allowed:
            v = getattr(self, name)
            if v is not None:
                fv = float(v)
                if not math.isfinite(fv):
                    raise SpecError(self._msg(name, v, "must be a finite number"))
                object.__setattr__(self, name, fv)
        getattr(self, f"_check_{kind}")()

    def _msg(self, field: str, value: object, rule: str) -> str:
        if isinstance(value, tuple):
            specs = all(isinstance(v, TransformSpec) for v in value)
            shown = ("+" if specs else "|").join(
                str(v) if specs else _fmt_number(v) for v in value
            )
        elif isinstance(value, str) or value is None:
            shown = value
        else:
            shown = _fmt_number(value)
        return f"transform spec {self.kind}: field {field}={shown}: {rule}"

    def _check_freqs(self) -> None:
        if self.fmin <= 0:
            raise SpecError(self._msg("fmin", self.fmin, "must be > 0 Hz"))
        if self.fmax <= self.fmin:
            raise SpecError(
                self._msg("fmax", self.fmax, f"must be > fmin={_fmt_number(self.fmin)} Hz")
            )
        if self.gamma is not None and self.gamma < 0:
            raise SpecError(self._msg("gamma", self.gamma, "must be >= 0 Hz"))

    def _check_choice(self, field: str, choices: tuple[str, ...]) -> None:
        v = getattr(self, field)
        if v not in choices:
            raise SpecError(self._msg(field, v, f"must be one of {'|'.join(choices)}"))

    def _check_slicqt(self) -> None:
        self._check_choice("scale", SCALES)
        if not 2 <= self.bins <= MAX_BINS:
            raise SpecError(
                self._msg("bins", self.bins, f"must be an integer in [2, {MAX_BINS}]")
            )
        self._check_freqs()
        if self.scale != "vqlog" and self.gamma is not None:
            raise SpecError(
                self._msg("gamma", self.gamma, f"only applies to scale=vqlog, not {self.scale}")
            )
        self._check_choice("phase", PHASES)
        self._check_choice("form", FORMS)
        if self.sllen is not None and (self.sllen <= 0 or self.sllen % 4
                                       or self.sllen > MAX_SLLEN):
            raise SpecError(self._msg("sllen", self.sllen,
                                      f"must be a positive multiple of 4, <= {MAX_SLLEN}"))
        if self.trlen is not None:
            if self.trlen < 0 or self.trlen % 2:
                raise SpecError(self._msg("trlen", self.trlen, "must be an even integer >= 0"))
            if self.sllen is not None and self.trlen > self.sllen // 2:
                raise SpecError(
                    self._msg("trlen", self.trlen, f"must be <= sllen/2 = {self.sllen // 2}")
                )

    def _check_stft(self) -> None:
        if not 16 <= self.n_fft <= MAX_N_FFT:
            raise SpecError(
                self._msg("n_fft", self.n_fft, f"must be an integer in [16, {MAX_N_FFT}]")
            )
        if not 1 <= self.hop <= self.n_fft // 2:
            raise SpecError(
                self._msg("hop", self.hop, f"must be in [1, n_fft/2 = {self.n_fft // 2}]")
            )
        if self.window is None:  # direct construction: the default window
            object.__setattr__(self, "window", "hann")
        self._check_choice("window", WINDOWS)

    def _check_nsgt(self) -> None:
        self._check_freqs()
        if not 1 <= self.bpo <= MAX_BINS:
            raise SpecError(self._msg("bpo", self.bpo, f"must be an integer in [1, {MAX_BINS}]"))
        self._check_choice("rasterize", RASTERIZE)
        self._check_choice("phase", PHASES)

    _check_nsgcq = _check_nsgt

    def _numbers(self, field: str, kind: type, count: int | None) -> tuple:
        """Normalise a list field to a tuple of ``kind``; SpecError unless ``count`` long."""
        v = getattr(self, field)
        if not isinstance(v, (tuple, list)):
            v = (v,)
        out = []
        for e in v:
            ok = not isinstance(e, bool) and isinstance(e, (int, float)) and math.isfinite(e)
            if not ok or (kind is int and not float(e).is_integer()):
                what = "integers" if kind is int else "finite numbers"
                raise SpecError(self._msg(field, None, f"must be {what} separated by |"))
            out.append(kind(e))
        if count is not None and len(out) != count:
            raise SpecError(self._msg(field, tuple(out), f"needs {count} values (one per band: "
                                      f"one more than edges)"))
        object.__setattr__(self, field, tuple(out))
        return tuple(out)

    def _check_mrstft(self) -> None:
        edges = self._numbers("edges", float, None)
        if not 1 <= len(edges) < MAX_BANDS:
            raise SpecError(self._msg("edges", edges, f"needs 1 to {MAX_BANDS - 1} edges"))
        if edges[0] <= 0:
            raise SpecError(self._msg("edges", edges, "must be > 0 Hz"))
        ratio = 2.0**CROSSOVER_OCTAVES
        if any(b < a * ratio * (1 - 1e-12) for a, b in zip(edges, edges[1:], strict=False)):
            raise SpecError(self._msg("edges", edges, f"must increase, each at least "
                                      f"{CROSSOVER_OCTAVES:g} octave above the one below"))
        n_fft = self._numbers("n_fft", int, len(edges) + 1)
        hop = self._numbers("hop", int, len(edges) + 1)
        for n, h in zip(n_fft, hop, strict=True):
            if not 16 <= n <= MAX_N_FFT:
                raise SpecError(self._msg("n_fft", n_fft, f"each must be in [16, {MAX_N_FFT}]"))
            if not 1 <= h <= n // 2:
                raise SpecError(self._msg("hop", hop, "each must be in [1, its n_fft/2]"))
        if self.window is None:
            object.__setattr__(self, "window", "hann")
        self._check_choice("window", WINDOWS)

    def _check_ens(self) -> None:
        members = self.members
        if not isinstance(members, (tuple, list)) or not all(
            isinstance(m, TransformSpec) for m in members
        ):
            raise SpecError("transform spec ens: members must be transform specs")
        members = tuple(members)
        object.__setattr__(self, "members", members)
        if len(members) not in ENSEMBLE_SIZES:
            raise SpecError(self._msg("members", members, "an ensemble has 2 or 3 members "
                                      "(specs joined by +)"))
        if any(m.kind == "ens" for m in members):
            raise SpecError("transform spec ens: an ensemble cannot hold an ensemble")
        if len(set(members)) < len(members):
            raise SpecError(self._msg("members", members, "the same spec twice"))

    # ------------------------------------------------------------------ sample-rate checks
    def validate(self, sample_rate: float) -> TransformSpec:
        """Check the parts that need the sample rate; returns ``self`` (raises SpecError)."""
        self.resolved(sample_rate)
        return self

    def min_slice(self, sample_rate: float) -> tuple[int, int]:
        """Smallest valid (sllen, trlen) in samples for this slicqt spec at ``sample_rate``."""
        if self.kind != "slicqt":
            raise SpecError(f"transform spec {self}: only slicqt has a slice length")
        f, q = centres_and_q(self.scale, self.fmin, self.fmax, self.bins, self.gamma or 0.0)
        try:
            return min_slice_length(f, q, sample_rate)
        except ValueError as e:
            raise SpecError(self._msg("fmin", self.fmin, str(e))) from None

    def resolved(self, sample_rate: float) -> TransformSpec:
        """This spec with everything the sample rate decides filled in and checked.

        For slicqt, missing ``sllen``/``trlen`` become the smallest valid values
        (``sllen`` from :func:`.scales.min_slice_length`, ``trlen = sllen/4`` rounded up to
        even); a given ``sllen`` below the minimum is an error naming the minimum.
        """
        sr = float(sample_rate)
        if not sr > 0:
            raise SpecError(f"sample rate {sample_rate}: must be > 0 Hz")
        nyq = sr / 2.0
        if self.kind == "stft":
            return self
        if self.kind == "ens":
            return dataclasses.replace(
                self, members=tuple(m.resolved(sr) for m in self.members)
            )
        if self.kind == "mrstft":
            top = self.edges[-1] * 2.0 ** (CROSSOVER_OCTAVES / 2)
            if top >= nyq:
                limit = _fmt_number(round(nyq / top * self.edges[-1], 1))
                raise SpecError(self._msg(
                    "edges", self.edges, f"the top crossover must end below Nyquist = "
                    f"{_fmt_number(nyq)} Hz (edge <= {limit})"
                ))  # fmt: skip
            return self
        if self.fmax > nyq:
            raise SpecError(
                self._msg("fmax", self.fmax, f"must be <= Nyquist = {_fmt_number(nyq)} Hz")
            )
        if self.kind != "slicqt":
            return self
        if self.fmin >= nyq:
            raise SpecError(
                self._msg("fmin", self.fmin, f"must be < Nyquist = {_fmt_number(nyq)} Hz")
            )
        min_sl, _ = self.min_slice(sr)
        sllen = self.sllen
        if sllen is None:
            sllen = min_sl
        elif sllen < min_sl:
            raise SpecError(
                self._msg(
                    "sllen", sllen,
                    f"too short for the lowest window of this scale: must be >= {min_sl} "
                    "(a multiple of 4)",
                )  # fmt: skip
            )
        trlen = self.trlen
        if trlen is None:
            trlen = sllen // 4
            trlen += trlen % 2
        elif trlen > sllen // 2:
            raise SpecError(self._msg("trlen", trlen, f"must be <= sllen/2 = {sllen // 2}"))
        return dataclasses.replace(self, sllen=sllen, trlen=trlen)


def _convert(text: str, name: str, raw: str) -> object:
    """Convert one raw field value to its Python type; SpecError naming field and value."""
    if name in _INT_FIELDS:
        f = float(raw) if _NUMBER.match(raw) else math.nan
        if not (math.isfinite(f) and f.is_integer()):
            raise SpecError(f"transform spec {text!r}: field {name}={raw}: must be an integer")
        return int(f)
    if name in _FLOAT_FIELDS or name == "edges":
        f = float(raw) if _NUMBER.match(raw) else math.nan
        if not math.isfinite(f):
            raise SpecError(
                f"transform spec {text!r}: field {name}={raw}: must be a finite number (Hz)"
            )
        return f
    return raw
