"""Measure: the best band-wise multi-resolution STFT and the best ensemble next to the best STFT.

    .venv/bin/python benchmarks/families.py --root DIR [--select train] [--subset test]
                                            [--seconds 0] [--metric mpi] [--out CSV]
                                            [--grid wide --prior CSV]

Per target, every candidate below is scored (``--metric``, an oracle; SDR in dB, fast
convention) on every track of ``--select``; the best of each family there is then scored
on every track of ``--subset`` (held out) and compared, track by track, with the best STFT of
``--select``: the mean of the per-track differences (family − STFT), its bootstrap 95 %
interval (resampling tracks), the Wilcoxon p and the tracks won
(:func:`tfselect.report.paired.differences`, as ``tfselect verify``). Choosing on one split and
testing on another keeps the winner's curse out of the held-out numbers.

``--grid wide`` scores the candidates of ``WIDE`` (longer windows, three-band layouts with a
32 768-sample low band, ensembles holding an mrstft) together with each family's best of
an earlier run (``--prior``, its ``--out`` CSV): since a candidate's score on the selection
split does not depend on what else is scored, this is the best over both grids.

Candidates: Blackman windows and hop n_fft/8 everywhere, the shape of every STFT pick on
held-out tracks so far; the band layouts echo per-source cut-offs of hand-built systems.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _stft(n: int) -> str:
    return f"stft:n_fft={n},hop={n // 8},window=blackman"


def _mr(edges: str, ns: tuple[int, ...]) -> str:
    return (f"mrstft:edges={edges},n_fft={'|'.join(map(str, ns))},"
            f"hop={'|'.join(str(n // 8) for n in ns)},window=blackman")  # fmt: skip


def _ens(*ns: int) -> str:
    return "ens:" + "+".join(_stft(n) for n in ns)


FAMILIES = {
    "stft": [_stft(n) for n in (4096, 6144, 8192, 12288, 16384)],
    "mrstft": [
        _mr("300|4000", (16384, 4096, 1024)),
        _mr("300|4000", (16384, 8192, 4096)),
        _mr("200|2000", (16384, 8192, 4096)),
        _mr("500", (16384, 8192)),
        _mr("1000", (16384, 4096)),
        _mr("2000", (8192, 4096)),
        _mr("4000", (8192, 2048)),
        _mr("8000", (8192, 4096)),
    ],
    "ens": [
        _ens(4096, 8192), _ens(8192, 16384), _ens(4096, 16384), _ens(4096, 8192, 16384),
        "ens:stft:n_fft=4096,hop=1024+stft:n_fft=8192,hop=1024",
    ],
}


WIDE = {
    "stft": [_stft(24576), _stft(32768)],
    "mrstft": [
        _mr("200", (32768, 8192)),
        _mr("150|1500", (32768, 16384, 4096)),
        _mr("300|4000", (32768, 8192, 2048)),
        _mr("1000|6000", (16384, 4096, 1024)),
        _mr("300|4000", (16384, 4096, 2048)),
    ],
    "ens": [
        _ens(16384, 32768), _ens(8192, 32768),
        "ens:" + _mr("300|4000", (16384, 4096, 1024)) + "+" + _stft(8192),
        "ens:" + _mr("300|4000", (16384, 4096, 1024)) + "+" + _stft(4096) + "+" + _stft(16384),
    ],
}


def _values(specs, target, tracks, seconds, metric) -> dict[str, dict[str, float]]:
    """{spec: {track: mean of ``metric`` over the track's audible clips}}."""
    from tfselect.metrics import ClipScorer
    from tfselect.report.verify import track_clips

    scorers = {s: ClipScorer(s, target, (metric,)) for s in specs}
    out: dict[str, dict[str, list[float]]] = {s: {} for s in specs}
    for track in tracks:
        for clip in track_clips(track, seconds):
            for s, scorer in scorers.items():
                row = scorer(clip)
                if row is not None:
                    out[s].setdefault(track.name, []).append(row[metric])
    return {s: {t: float(np.mean(v)) for t, v in d.items()} for s, d in out.items()}


def main() -> None:
    from tfselect.audio.dataset import tracks_for
    from tfselect.report.paired import differences

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--select", default="train")
    ap.add_argument("--subset", default="test")
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--metric", default="mpi")
    ap.add_argument("--targets", default="vocals,drums,bass,other")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--grid", choices=("default", "wide"), default="default")
    ap.add_argument("--prior", type=Path, help="--out CSV of a default run (with --grid wide)")
    args = ap.parse_args()
    prior = pd.read_csv(args.prior) if args.prior else None
    torch.set_num_threads(1)
    sel_tracks, test_tracks = tracks_for(args.root, args.select), tracks_for(args.root, args.subset)
    rows = []
    for target in args.targets.split(","):
        families = FAMILIES
        if args.grid == "wide":
            families = {f: list(v) for f, v in WIDE.items()}
            if prior is not None:
                for r in prior[prior.target == target].itertuples():
                    families[r.family].insert(0, r.spec)
        every = [s for specs in families.values() for s in specs]
        sel = _values(every, target, sel_tracks, args.seconds, args.metric)
        best = {fam: max(specs, key=lambda s: np.mean(list(sel[s].values())))
                for fam, specs in families.items()}  # fmt: skip
        test = _values(list(best.values()), target, test_tracks, args.seconds, args.metric)
        ref = test[best["stft"]]
        for fam, spec in best.items():
            common = sorted(set(test[spec]) & set(ref))
            d = np.array([test[spec][t] - ref[t] for t in common])
            st = differences(d) if fam != "stft" else {}
            rows.append({
                "target": target, "family": fam, "spec": spec,
                "select_mean": np.mean(list(sel[spec].values())),
                "test_median": np.median(list(test[spec].values())),
                "diff": st.get("diff", 0.0), "ci_low": st.get("ci_low", np.nan),
                "ci_high": st.get("ci_high", np.nan), "p_value": st.get("p_value", np.nan),
                "won": int((d > 0).sum()) if fam != "stft" else 0, "n_tracks": len(common),
            })  # fmt: skip
            r = rows[-1]
            print(f"{target:7s} {fam:7s} sel {r['select_mean']:6.2f} test med "
                  f"{r['test_median']:6.2f} diff {r['diff']:+.2f} [{r['ci_low']:+.2f}, "
                  f"{r['ci_high']:+.2f}] p={r['p_value']:.3f} won {r['won']}/{r['n_tracks']}  "
                  f"{spec}", flush=True)  # fmt: skip
    if args.out:
        pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
