"""Terminal presentation of results (rich tables), kept apart from computing them."""

from __future__ import annotations

import math


def _num(v: float, fmt: str = "+.2f") -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def print_compare(result) -> None:
    """The answer of a comparison (a ``CompareResult``): per configuration and target, the
    mean per-track cSDR/uSDR difference to the STFT with its interval, p, tracks won and the
    verdict; then the transfer of oracle gains, the budget and the files."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=min(Console().width, 120))
    s = result.summary
    plan = result.plan
    if s is None or not len(s):
        console.print("no finished run yet")
        return
    n_tracks = int(s["n_tracks"].max())
    table = Table(title=f"trained demixers minus stft, dB: mean of per-track differences "
                  f"({n_tracks} tracks, seeds averaged)", box=box.SIMPLE_HEAD)
    for col in ("config", "target", "cSDR [95% CI]", "p", "won", "uSDR", "verdict"):
        table.add_column(col, justify="right" if col in ("p", "won", "uSDR") else "left",
                         no_wrap=col != "config")
    wide = s.set_index(["config", "target", "score"])
    for (config, target), _ in s.groupby(["config", "target"], sort=False):
        c, u = wide.loc[(config, target, "csdr")], wide.loc[(config, target, "usdr")]
        table.add_row(config, target,
                      f"{_num(c['diff'])} [{_num(c['ci_low'])}, {_num(c['ci_high'])}]",
                      _num(c["p_value"], ".2g"), f"{int(c['tracks_won'])}/{int(c['n_tracks'])}",
                      _num(u["diff"]), str(c["verdict"]))
    console.print(table)
    t = result.transfer
    if t is not None and len(t):
        tt = Table(title="oracle gain over stft (search, best.csv) vs trained cSDR gain, dB",
                   box=box.SIMPLE_HEAD)
        gains = [c for c in t.columns if c.endswith("_gain")]
        for col in ("config", "target", *gains, "trained [95% CI]"):
            tt.add_column(col)
        for r in t.to_dict("records"):
            tt.add_row(r["config"], r["target"], *[_num(r[g]) for g in gains],
                       f"{_num(r['trained'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]")
        console.print(tt)
    params = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in plan.params.items())
    console.print(f"budget: {plan.budget}; seeds {len(plan.seeds)}; parameters: {params}")
    for f in result.files:
        console.print(f"  {f}")


def print_verify(df) -> None:
    """The answer of ``tfselect verify`` (rows of :func:`tfselect.report.verify.verify`): per
    target, the pick's spec, then per comparison the means over tracks, the mean of the
    per-track differences pick − reference with its bootstrap 95 % interval, p, tracks won
    and the verdict."""
    from rich.console import Console
    from rich.table import Table

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
        for col in ("versus", "pick", "reference", "pick − reference [95% CI]", "p", "won",
                    "verdict"):
            table.add_column(col, justify="left" if col in ("versus", "verdict") else "right")
        for r in rows.to_dict("records"):
            versus = r["reference"] if r["comparison"] == r["reference"] else (
                f"better: {r['reference']}")  # fmt: skip
            same = r["verdict"] == "is the pick"
            stats = ["", "", "", "the pick is this reference"] if same else [
                f"{_num(r['diff'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]",
                _num(r["p_value"], ".2g"), f"{r['tracks_won']}/{r['n_tracks']}", r["verdict"]]
            table.add_row(versus, _num(r["pick_value"], ".2f"), _num(r["reference_value"], ".2f"),
                          *stats)
        console.print(table)
    silent = {t: v for t, v in df.attrs.get("silent", {}).items() if v}
    for target, tracks in silent.items():
        console.print(f"{target}: {len(tracks)} track(s) left out, the target is silent there")
