"""Benchmark: forward + inverse of 30 s stereo 44.1 kHz float32 audio on the CPU.

    .venv/bin/python benchmarks/transforms.py [--runs 5] [--seconds 30] [--threads N]
                                              [--skip-nsgt] [--configs bark,log,mel,vqlog]

For each sliCQT configuration it times (median of ``--runs`` after one warm-up):

- ``tfselect``  the torch sliCQT of this package;
- ``peer``      the torch sliCQT of the PyPI package ``xumx-slicq-v2`` (speed only: its
                inverse is known to be inexact for some configurations). Not a dependency;
                install it into the benchmark environment with
                ``pip install --no-deps xumx-slicq-v2`` (see benchmarks/requirements.txt);
                skipped with a note when missing;
- ``nsgt``      the numpy reference (nsgt 0.19 through tfselect's shim);

and once, as the floor, ``torch.stft`` + ``torch.istft`` 4096/1024 (Hann).
Every measurement runs in a fresh subprocess, so its peak memory (growth of the maximum
resident set size over the state after setup) is its own. Ratios: tfselect/peer (target
<= 0.8) and tfselect/STFT floor (target <= 3).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

CONFIGS = {
    # name: (tfselect spec, peer arguments (scale, bins, fmin, fmax, gamma))
    "bark": ("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050", ("bark", 262, 32.9, 22050.0, 0.0)),
    "log": ("slicqt:scale=log,bins=84,fmin=40,fmax=22050", ("cqlog", 84, 40.0, 22050.0, 0.0)),
    "mel": ("slicqt:scale=mel,bins=116,fmin=37.7,fmax=22050", ("mel", 116, 37.7, 22050.0, 0.0)),
    "vqlog": (
        "slicqt:scale=vqlog,bins=200,fmin=40,fmax=22050,gamma=15",
        ("vqlog", 200, 40.0, 22050.0, 15.0),
    ),
}
STFT_SPEC = "stft:n_fft=4096,hop=1024"
SR = 44100


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _setup(method: str, config: str, x_np):
    """Return (forward, inverse) closures of ``method`` for ``config``, or a note if missing."""
    import numpy as np
    import torch

    length = x_np.shape[-1]
    if method in ("tfselect", "stft"):
        from tfselect.transforms import build

        T = build(STFT_SPEC if method == "stft" else CONFIGS[config][0], SR)
        x = torch.from_numpy(x_np)[None]
        return (lambda: T(x)), (lambda C: T.inverse(C, length))
    if method == "peer":
        try:
            from xumx_slicq_v2.transforms import NSGTBase, make_filterbanks
        except ImportError:
            return "pip install --no-deps xumx-slicq-v2"
        import contextlib
        import io

        scale, bins, fmin, fmax, gamma = CONFIGS[config][1]
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameters
            base = NSGTBase(scale, bins, fmin, fmax, fgamma=gamma, fs=SR, device="cpu")
        enc, dec = make_filterbanks(base, sample_rate=SR)
        x = torch.from_numpy(x_np)[None]
        return (lambda: enc(x)), (lambda C: dec(C, length))
    if method == "nsgt":
        from tfselect.reference.nsgt_sliced import NSGTReference
        from tfselect.transforms import TransformSpec

        R = NSGTReference(TransformSpec.parse(CONFIGS[config][0]), SR, dtype=np.float32)
        return (lambda: R.forward(x_np)), (lambda C: R.inverse(C, length))
    raise ValueError(method)


def worker(mode: str, methods: list[str], config: str, args: argparse.Namespace) -> dict:
    """``time``: round-robin timing of ``methods`` in this process (so load changes hit
    all alike); ``mem``: one forward+inverse of a single method, peak RSS growth."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    x_np = np.random.default_rng(0).standard_normal((2, int(args.seconds * SR)))
    x_np = x_np.astype(np.float32)
    fns, out = {}, {}
    for m in methods:
        f = _setup(m, config, x_np)
        if isinstance(f, str):
            out[m] = {"missing": f}
        else:
            fns[m] = f
    with torch.no_grad():
        if mode == "mem":
            ((m, (fwd, inv)),) = fns.items()
            base = _rss_mib()
            inv(fwd())
            return {m: {"peak_mib": max(0.0, _maxrss_mib() - base)}}
        for fwd, inv in fns.values():
            inv(fwd())  # warm-up (plans, caches)
        times = {m: ([], []) for m in fns}
        for _ in range(args.runs):
            for m, (fwd, inv) in fns.items():
                t0 = time.perf_counter()
                C = fwd()
                t1 = time.perf_counter()
                inv(C)
                t2 = time.perf_counter()
                times[m][0].append(t1 - t0)
                times[m][1].append(t2 - t1)
                del C
    for m, (tf, ti) in times.items():
        out[m] = {
            "fwd": statistics.median(tf),
            "inv": statistics.median(ti),
            "total": statistics.median(a + b for a, b in zip(tf, ti, strict=True)),
        }
    return out


def run_sub(mode: str, methods: list[str], config: str, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable, __file__, "--worker", f"{mode}:{','.join(methods)}", "--configs", config,
        "--runs", str(args.runs), "--seconds", str(args.seconds), "--threads", str(args.threads),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        err = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"
        return {m: {"error": err} for m in methods}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(r: dict) -> str:
    if "missing" in r:
        return f"not installed ({r['missing']})"
    if "error" in r:
        return f"error: {r['error']}"
    mem = f"  peak +{r['peak_mib']:6.0f} MiB" if "peak_mib" in r else ""
    return f"fwd {r['fwd']:7.3f} s  inv {r['inv']:7.3f} s  total {r['total']:7.3f} s{mem}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--skip-nsgt", action="store_true", help="skip the slow numpy reference")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        mode, methods = args.worker.split(":")
        print(json.dumps(worker(mode, methods.split(","), args.configs, args)))
        return
    print(
        f"forward+inverse, {args.seconds:g} s stereo {SR} Hz float32, CPU, {args.threads} "
        f"threads, median of {args.runs} runs, methods timed round-robin in one process; "
        "peak memory from one run per method in its own process"
    )
    for name in args.configs.split(","):
        spec = CONFIGS[name][0]
        print(f"\n[{name}] {spec}")
        methods = ["tfselect", "peer", "stft"] + ([] if args.skip_nsgt else ["nsgt"])
        res = run_sub("time", methods, name, args)
        for m in methods:
            if "total" in res[m]:
                res[m].update(run_sub("mem", [m], name, args)[m])
        for m in methods:
            label = f"STFT floor ({STFT_SPEC})" if m == "stft" else m
            print(f"  {label:38s} {_fmt(res[m])}")
        ours = res["tfselect"].get("total")
        for m, target in (("peer", 0.8), ("stft", 3.0), ("nsgt", None)):
            other = res.get(m, {}).get("total")
            if ours and other:
                goal = f"  (target <= {target:g})" if target else ""
                print(f"  ratio tfselect/{m}: {ours / other:.2f}{goal}")
        if "missing" in res["peer"]:
            print("  peer: pip install --no-deps xumx-slicq-v2  (see benchmarks/requirements.txt)")


if __name__ == "__main__":
    main()
