"""Training speed and peak memory: per-target demixer vs the two baselines.

Same preset, batch, chunk and loss for all three; each model trains on random input for a
few warm-up steps, then ``--steps`` timed optimizer steps (forward, shared-STFT loss,
backward, Adam). Prints the median step time, steps/s and peak memory (CUDA: max allocated;
CPU: growth of the process's peak RSS measured in a fresh subprocess per model) and the
ratios of the per-target model against each baseline (>1 = the per-target model is slower /
larger).

Then the networks: the three mask networks (BLSTM, convolutional denoiser, ConvNeXt), four
branches each on the same matrix form (``--network-spec``, default the shared Bark-262 sliCQT
rasterized), at about equal parameter count: the BLSTM keeps the preset's sizes, the CDAE's
channels and the ConvNeXt's width are chosen to come closest to its parameter count
(within 10 %), and the ConvNeXt's step time and memory are given against each.

    .venv/bin/python benchmarks/train.py [--device cpu] [--batch 2] [--chunk 2] [--steps 5]
        [--spec vocals=SPEC ...] [--part all|transforms|networks] [--network-spec SPEC]
        [--runs ragged,ragged+deoverlap]

Rows ``ragged`` and ``ragged+deoverlap``: the shared Bark-262 sliCQT in its ragged form with
the per-block denoiser, as it is and masking the overlap-added picture through a frozen
DeOverlapNet.

Default per-target specs are the per-target sliCQTs reported for MUSDB18-HQ in
docs/design.md, Numbers (as rasterized matrix forms when the sliCQT is available, else
four different STFTs).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from tfselect import TARGETS

PER_TARGET_SLICQT = {
    "vocals": "slicqt:scale=mel,bins=116,fmin=37.7,fmax=22050",
    "drums": "slicqt:scale=mel,bins=104,fmin=49.3,fmax=22050",
    "bass": "slicqt:scale=bark,bins=105,fmin=25.4,fmax=22050",
    "other": "slicqt:scale=bark,bins=35,fmin=105.2,fmax=22050",
}
PER_TARGET_STFT = {"vocals": "stft:n_fft=2048,hop=512", "drums": "stft:n_fft=1024,hop=256",
                   "bass": "stft:n_fft=8192,hop=2048", "other": "stft:n_fft=4096,hop=1024"}


def has_slicqt() -> bool:
    try:
        import tfselect.transforms.slicqt  # noqa: F401
    except ImportError:
        return False
    return True


def one(name: str, specs: dict, network: str, args, sizes: dict | None = None,
        deoverlap: bool = False) -> dict:
    """Time one model in this process; returns the measurements.

    ``sizes``: network sizes over the preset's. ``deoverlap``: ragged branches mask the
    overlap-added picture and a frozen DeOverlapNet (untrained weights: the same cost) maps
    it back to slices.
    """
    from tfselect.demix.losses import DemixLoss
    from tfselect.demix.model import Demixer, ModelConfig

    dev = torch.device(args.device)
    torch.manual_seed(0)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra = {"deoverlap": {s: {"spec": s} for s in set(specs.values())}} if deoverlap else {}
    model = Demixer(ModelConfig(specs=specs, network=network, preset=args.preset,
                                sizes=sizes or {}, **extra)).to(dev)
    loss_fn = DemixLoss().to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    n = int(args.chunk * 44100)
    x = torch.randn(args.batch, 2, n, device=dev) * 0.1
    y = torch.randn(args.batch, 4, 2, n, device=dev) * 0.05
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    times = []
    for i in range(args.warmup + args.steps):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t = time.perf_counter()
        loss, _ = loss_fn(model(x), y, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= args.warmup:
            times.append(time.perf_counter() - t)
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated(dev) / 2**20
    else:  # ru_maxrss is in KiB on Linux
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    med = statistics.median(times)
    return {"name": name, "median_s": med, "steps_per_s": 1 / med, "peak_mib": peak,
            "params": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _closest(count, goal: int, high: int = 1024) -> int:
    """The width w in 1..high whose ``count(w)`` (increasing in w) is closest to ``goal``."""
    lo, hi = 1, high
    while lo < hi:  # smallest w with count(w) >= goal
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count(mid) < goal else (lo, mid)
    return min((w for w in (lo - 1, lo) if w >= 1), key=lambda w: abs(count(w) - goal))


def matched_sizes(spec: str, preset: str, channels: int = 2) -> dict[str, dict[str, int]]:
    """Sizes of the three networks on ``spec`` (a matrix form) at about equal parameter count:
    the preset's BLSTM, and the CDAE channels / ConvNeXt width closest to its count."""
    from tfselect.demix.convnext import ConvNeXtNet
    from tfselect.demix.model import PRESETS, BLSTMNet, CDAENet
    from tfselect.transforms import build

    blocks = build(spec, 44100)(torch.zeros(1, channels, 44100))
    if len(blocks) != 1:
        raise SystemExit(f"--network-spec must be a matrix form (one block): {spec}")
    bins = int(blocks[0].shape[-3])
    sz = PRESETS[preset]
    goal = _count(BLSTMNet(channels, bins, sz["hidden"], sz["layers"]))
    cdae = _closest(lambda w: _count(CDAENet(channels, w)), goal)
    width = _closest(lambda w: _count(ConvNeXtNet(channels, w, sz["blocks"], sz["patch_bins"],
                                                  sz["patch_frames"])), goal)
    return {"blstm": {}, "cdae": {"channels": cdae}, "convnext": {"width": width}}


def _measure(name: str, specs: dict, network: str, args, sizes: dict | None = None) -> dict:
    """``one`` in a fresh subprocess (a clean peak-memory reading); prints one line."""
    cmd = [sys.executable, __file__, "--child", json.dumps([name, specs, network, sizes]),
           "--device", args.device, "--preset", args.preset, "--batch", str(args.batch),
           "--chunk", str(args.chunk), "--steps", str(args.steps), "--warmup",
           str(args.warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f"{name:14s} median {r['median_s'] * 1e3:8.1f} ms/step  {r['steps_per_s']:6.2f} "
          f"steps/s  peak {r['peak_mib']:8.1f} MiB  params {r['params']:,}")
    return r


def compare_networks(spec: str, args) -> None:
    """BLSTM, CDAE and ConvNeXt on ``spec`` (four branches each) at about equal size."""
    sizes = matched_sizes(spec, args.preset)
    print(f"device {args.device}, batch {args.batch}, chunk {args.chunk} s, {args.steps} timed "
          f"steps; networks on {spec} (four branches), preset {args.preset}; CDAE channels "
          f"{sizes['cdae']['channels']}, ConvNeXt width {sizes['convnext']['width']} "
          "(chosen to match the BLSTM's parameter count)")
    results = {net: _measure(net, {t: spec for t in TARGETS}, net, args, sz)
               for net, sz in sizes.items()}
    cx = results["convnext"]
    if any(abs(r["params"] / results["blstm"]["params"] - 1) > 0.1 for r in results.values()):
        print("note: a width step changes the count by more than 10 % here; not matched")
    for name in ("blstm", "cdae"):
        b = results[name]
        print(f"convnext / {name}: time x{cx['median_s'] / b['median_s']:.2f}, peak memory "
              f"x{cx['peak_mib'] / max(b['peak_mib'], 1e-9):.2f}, parameters "
              f"x{cx['params'] / b['params']:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--preset", default="small")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--chunk", type=float, default=2.0)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--spec", action="append", default=[])
    p.add_argument("--part", choices=("all", "transforms", "networks"), default="all")
    p.add_argument("--network-spec", help="matrix form of the network comparison")
    p.add_argument("--runs", help="comma-separated subset of the rows to time (default all)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:  # measure one model in a fresh process (clean peak-memory reading)
        name, specs, network, *extra = json.loads(args.child)  # [sizes, [deoverlap]]
        print(json.dumps(one(name, specs, network, args, *extra)))
        return
    from tfselect.demix.model import SHARED_SLICQT, STFT_BASELINE

    slicqt = has_slicqt()
    network_spec = args.network_spec or (SHARED_SLICQT + ",form=rasterize" if slicqt
                                         else STFT_BASELINE)
    if args.part == "networks":
        compare_networks(network_spec, args)
        return
    per_target = dict(PER_TARGET_SLICQT if slicqt else PER_TARGET_STFT)
    if slicqt:
        per_target = {t: s + ",form=rasterize" for t, s in per_target.items()}
    per_target.update(dict(s.split("=", 1) for s in args.spec))
    runs = [("per-target", per_target, "auto"), ("stft", {t: STFT_BASELINE for t in TARGETS},
                                                 "blstm")]
    if slicqt:
        runs.insert(1, ("shared-slicqt", {t: SHARED_SLICQT + ",form=rasterize"
                                          for t in TARGETS}, "auto"))
        # the ragged branch as it is, and masking the overlap-added picture instead
        ragged = {t: SHARED_SLICQT for t in TARGETS}
        runs += [("ragged", ragged, "cdae"), ("ragged+deoverlap", ragged, "cdae", True)]
    else:
        print("shared-slicqt: skipped (the sliCQT transform is not available yet)")
    if args.runs:
        runs = [r for r in runs if r[0] in args.runs.split(",")]
    print(f"device {args.device}, preset {args.preset}, batch {args.batch}, "
          f"chunk {args.chunk} s, {args.steps} timed steps; loss STFT 4096/1024")
    results = {}
    for name, specs, network, *deoverlap in runs:
        cmd = [sys.executable, __file__, "--child", json.dumps([name, specs, network, None,
                                                                *deoverlap]),
               "--device", args.device, "--preset", args.preset, "--batch", str(args.batch),
               "--chunk", str(args.chunk), "--steps", str(args.steps), "--warmup",
               str(args.warmup)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        results[name] = r
        print(f"{name:16s} median {r['median_s'] * 1e3:8.1f} ms/step  {r['steps_per_s']:6.2f} "
              f"steps/s  peak {r['peak_mib']:8.1f} MiB  params {r['params']:,}")
    pt = results.get("per-target")
    if "ragged+deoverlap" in results:
        d, r = results["ragged+deoverlap"], results["ragged"]
        print(f"ragged+deoverlap / ragged: time x{d['median_s'] / r['median_s']:.2f}, "
              f"peak memory x{d['peak_mib'] / max(r['peak_mib'], 1e-9):.2f}")
    for name in results:
        if pt is not None and name not in ("per-target", "ragged", "ragged+deoverlap"):
            b = results[name]
            print(f"per-target / {name}: time x{pt['median_s'] / b['median_s']:.2f}, "
                  f"peak memory x{pt['peak_mib'] / max(b['peak_mib'], 1e-9):.2f}")
    if args.part == "all":
        compare_networks(network_spec, args)


if __name__ == "__main__":
    main()
