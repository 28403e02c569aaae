"""What a person sees of the held-out checks: the paired tables of ``verify`` and
``compare``, and the training curve and evaluation of a de-overlap net.

Split from :mod:`tfselect.cli.present` (search, report, best and survey output) to keep each
presentation module small; both only turn the API's results into text.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tfselect.cli.present import num

if TYPE_CHECKING:
    import pandas as pd


def print_compare(result) -> None:
    """The answer of a comparison (a ``CompareResult``): per configuration and target, the
    mean per-track cSDR/uSDR difference to the STFT with its interval, p, tracks won and the
    verdict; then the transfer of oracle gains, the budget and the files."""
    console = Console(width=min(Console().width, 120))
    s = result.summary
    plan = result.plan
    if s is None or not len(s):
        console.print("no finished run yet")
        return
    n_tracks = int(s["n_tracks"].max())
    table = Table(
        title=f"trained demixers minus stft, dB: mean of per-track differences "
        f"({n_tracks} tracks, seeds averaged)",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,  # one space between columns: "not distinguishable" fits 80
        pad_edge=False,
    )
    for col in ("config", "target", "cSDR [95% CI]", "p", "won", "uSDR", "verdict"):
        table.add_column(
            # config and verdict wrap at a word rather than lose their ends at 80 columns
            col,
            justify="right" if col in ("p", "won", "uSDR") else "left",
            no_wrap=col not in ("config", "verdict"),
        )
    wide = s.set_index(["config", "target", "score"])
    for (config, target), _ in s.groupby(["config", "target"], sort=False):
        c, u = wide.loc[(config, target, "csdr")], wide.loc[(config, target, "usdr")]
        table.add_row(
            config,
            target,
            f"{num(c['diff'])} [{num(c['ci_low'])}, {num(c['ci_high'])}]",
            num(c["p_value"], ".2g"),
            f"{int(c['tracks_won'])}/{int(c['n_tracks'])}",
            num(u["diff"]),
            str(c["verdict"]),
        )
    console.print(table)
    if result.transfer is not None and len(result.transfer):
        console.print(_transfer_table(result.transfer))
    params = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in plan.params.items())
    console.print(f"budget: {plan.budget}; seeds {len(plan.seeds)}; parameters: {params}")
    for f in result.files:
        console.print(f"  {f}")


def _transfer_table(t: pd.DataFrame) -> Table:
    """A comparison's transfer.csv: oracle gains of the search next to the trained gain."""
    tt = Table(
        title="oracle gain over stft (search, best.csv) vs trained cSDR gain, dB",
        box=box.SIMPLE_HEAD,
    )
    gains = [c for c in t.columns if c.endswith("_gain")]
    for col in ("config", "target", *gains, "trained [95% CI]"):
        tt.add_column(col)
    for r in t.to_dict("records"):
        tt.add_row(
            r["config"],
            r["target"],
            *[num(r[g]) for g in gains],
            f"{num(r['trained'])} [{num(r['ci_low'])}, {num(r['ci_high'])}]",
        )
    return tt


def print_verify(df: pd.DataFrame) -> None:
    """The answer of ``tfselect verify`` (rows of :func:`tfselect.report.verify.verify`): per
    target, the pick's spec, then per comparison the means over tracks, the mean of the
    per-track differences pick − reference with its bootstrap 95 % interval, p, tracks won
    and the verdict."""
    console = Console(width=120)
    for target, rows in df.groupby("target", sort=False):
        first = rows.iloc[0]
        picked = "" if first["picked"] == "best" else f" (the reference {first['picked']})"
        refs = dict(zip(rows["reference"], rows["reference_spec"], strict=True))
        table = Table(
            title=f"{target}: pick {first['pick']}{picked}", title_justify="left",
            caption=f"{first['objective']} on {first['n_tracks']} {first['subset']} tracks; "
            + "; ".join(f"{n} = {s}" for n, s in refs.items())
            + ("; under 6 tracks, p cannot fall below 0.05" if first["n_tracks"] < 6 else ""),
            caption_justify="left",
        )  # fmt: skip
        for col in (
            "versus",
            "pick",
            "reference",
            "pick − reference [95% CI]",
            "p",
            "won",
            "verdict",
        ):
            table.add_column(col, justify="left" if col in ("versus", "verdict") else "right")
        for r in rows.to_dict("records"):
            versus = r["reference"] if r["comparison"] == r["reference"] else (
                f"better: {r['reference']}")  # fmt: skip
            same = r["verdict"] == "is the pick"
            stats = (
                ["", "", "", "the pick is this reference"]
                if same
                else [
                    f"{num(r['diff'])} [{num(r['ci_low'])}, {num(r['ci_high'])}]",
                    num(r["p_value"], ".2g"),
                    f"{r['tracks_won']}/{r['n_tracks']}",
                    r["verdict"],
                ]
            )
            table.add_row(
                versus, num(r["pick_value"], ".2f"), num(r["reference_value"], ".2f"), *stats
            )
        console.print(table)
    silent = {t: v for t, v in df.attrs.get("silent", {}).items() if v}
    for target, tracks in silent.items():
        console.print(f"{target}: {len(tracks)} track(s) left out, the target is silent there")


def print_deoverlap_curve(curve: list[dict], out: Path) -> None:
    """One line: the last point of a DeOverlapNet's training curve."""
    last = curve[-1]
    typer.echo(
        f"{last['minutes']:.1f} min, {int(last['clips'])} clips: held-out waveform SNR "
        f"{last['valid_wave_learned_db']:.1f} dB (window split "
        f"{last['valid_wave_baseline_db']:.1f} dB); model in {out}"
    )


# The SNRs of `deoverlap eval` as a person reads them: (kind, of what); the CSV keeps its
# column names (files are an interface).
SNR_LABELS = {
    "wave_snr_learned": ("waveform", "learned"),
    "wave_snr_baseline": ("waveform", "window split"),
    "coef_snr_learned": ("coefficients", "learned"),
    "coef_snr_baseline": ("coefficients", "window split"),
}


def deoverlap_eval_lines(result) -> list[str]:
    """A ``DeOverlapEval`` in words, at most 80 columns: the median SNRs (dB) over signals
    with every block de-overlapped, learned next to the window split, then the blocks that
    limit the waveform most (each alone de-overlapped: its band in Hz, median SNRs in dB)."""
    m = result.medians()
    lines = [
        f"median SNR over {result.n_signals} signals, every block de-overlapped:",
        f"  {'SNR, dB':<12}  {'learned':>7}  {'window split':>12}",
    ]
    for kind in ("waveform", "coefficients"):
        learned, split = (m[c] for c, label in SNR_LABELS.items() if label[0] == kind)
        lines.append(f"  {kind:<12}  {num(learned, '.2f'):>7}  {num(split, '.2f'):>12}")
    worst = result.worst_blocks()
    lines += [
        "blocks that limit the waveform most (that block alone de-overlapped):",
        f"  {'':<5}  {'':<11}  {'waveform SNR, dB':^21}  {'coefficient SNR, dB':^21}".rstrip(),
        f"  {'block':>5}  {'band, Hz':<11}  {'learned':>7}  {'window split':>12}  "
        f"{'learned':>7}  {'window split':>12}",
    ]
    for block, r in worst.iterrows():
        band = f"{r['fmin_hz']:.0f}-{r['fmax_hz']:.0f}"
        snrs = [num(r[c], ".2f") for c in SNR_LABELS]  # waveform, then coefficients
        lines.append(
            f"  {block!s:>5}  {band:<11}  {snrs[0]:>7}  {snrs[1]:>12}  {snrs[2]:>7}  {snrs[3]:>12}"
        )
    return lines


def print_deoverlap_eval(result) -> None:
    """Medians over signals of a ``DeOverlapEval``, the blocks that limit it most
    (:func:`deoverlap_eval_lines`), then the CSV written."""
    for line in deoverlap_eval_lines(result):
        typer.echo(line)
    typer.echo(f"wrote {result.out}")
