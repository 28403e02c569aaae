"""The ``tfselect`` command: one subcommand per user task.

Each subcommand is a thin wrapper: it parses options, calls the layer that does the work
(imported lazily so ``--help`` stays fast), and turns ``TfselectError`` into one line on
stderr with exit status 2.
"""

from __future__ import annotations

import functools
import math
import signal
import sys
from inspect import cleandoc
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

try:  # recent typer carries its own copy of click: its exceptions are not click's
    from typer._click import exceptions as click_errors
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - typer on the real click
    from click import exceptions as click_errors
    from click import get_current_context

from tfselect import __version__, interrupts
from tfselect.errors import Interrupted, TfselectError
from tfselect.interrupts import sigterm_as_ctrl_c as _sigterm_as_ctrl_c

_ABORTS = tuple({typer.Abort, getattr(click_errors, "Abort", typer.Abort)})


class _OneLineErrors(TyperGroup):
    """The command group with usage errors on one line, like every other error.

    Click (through typer and rich) prints a missing option, an unknown command or a word
    where a number belongs as a multi-line box; here it becomes ``tfselect: error: ...``
    with exit status 2. A Ctrl-C that reaches this far (outside any command's own handling)
    prints one line and exits 130, and a second one during that exit is ignored.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra: Any) -> Any:
        interrupts.reset()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
            if code == 130:  # typer makes a Ctrl-C outside the commands a silent 130
                interrupts.say_interrupted()
        except click_errors.NoArgsIsHelpError as exc:
            exc.show()  # the bare command prints its help, as before
            code = 2
        except click_errors.UsageError as exc:
            message = " ".join(exc.format_message().split())
            if exc.ctx is not None and exc.ctx.command is not self:
                message = f"{exc.ctx.info_name}: {message}"
            typer.echo(f"tfselect: error: {message}", err=True)
            code = 2
        except click_errors.ClickException as exc:  # bad file arguments and the like
            typer.echo(f"tfselect: error: {' '.join(exc.format_message().split())}", err=True)
            code = exc.exit_code
        except (KeyboardInterrupt, *_ABORTS):
            interrupts.say_interrupted()
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


# The order a user meets the commands in; `tfselect --help` lists them so.
WORKFLOW = ("demo-data", "targets", "score", "search", "survey", "report", "best", "verify",
            "train-best", "evaluate", "separate", "compare", "deoverlap", "config")  # fmt: skip
# Metavars for options that name none: a word, never a Python type name.
_METAVARS = {"int": "INT", "float": "FLOAT", "str": "TEXT", "path": "PATH"}


def _tidy_help(cmd: typer.core.TyperCommand | typer.core.TyperGroup, ctx) -> None:
    """Paragraphs on one line each and a metavar on every option (none on flags)."""
    if cmd.help:  # rich wraps paragraphs to the terminal but keeps the source's line breaks
        cmd.help = "\n\n".join(" ".join(p.split()) for p in cleandoc(cmd.help).split("\n\n"))
    for param in [*cmd.params, cmd.get_help_option(ctx)]:
        if isinstance(param, typer.core.TyperArgument):
            # Its name says what it is: no {braces} in the usage line, no type column.
            label = (param.metavar or param.name or "").upper()
            label += "..." if param.nargs != 1 else ""
            param._usage_display_name = lambda label=label: label
            param.display_type_rich = lambda ctx: None
            continue
        if param is None or param.metavar is not None:
            continue
        # A range such as [x>=1] would widen the type column for every option; the
        # error for a value out of range states it.
        param._get_number_range_help_str = lambda: None
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        else:
            kind = param.display_type(ctx).strip("<>").removeprefix("list[").rstrip("]")
            kind = kind.removesuffix(" range")  # <int range>: min/max given
            param.metavar = _METAVARS.get(kind.lower(), kind.upper())


def _expand_counts(cmd, args: list[str]) -> list[str]:
    """Read ``-v N`` / ``--verbose N`` / ``--verbose=N`` of a counter as N times ``-v``.

    Click counters take no value (``-vv`` counts two); users also write a level.
    """
    counters = {o: p.opts[0] for p in getattr(cmd, "params", ()) if getattr(p, "count", False)
                for o in p.opts}  # fmt: skip
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok == "--":
            return out + args[i:]
        name, eq, value = tok.partition("=")
        if name in counters and eq and value.isdigit():
            out += [counters[name]] * int(value)
        elif tok in counters and i + 1 < len(args) and args[i + 1].isdigit():
            out += [counters[tok]] * int(args[i + 1])
            i += 1
        else:
            out.append(tok)
        i += 1
    return out


class _Group(_OneLineErrors):
    """Help that reads well at 80 columns: workflow order, metavars, ``-v N``."""

    def list_commands(self, ctx) -> list[str]:
        rank = {name: i for i, name in enumerate(WORKFLOW)}
        return sorted(super().list_commands(ctx), key=lambda n: rank.get(n, len(rank)))

    def get_command(self, ctx, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _tidy_help(cmd, ctx)
        return cmd

    def format_help(self, ctx, formatter) -> None:
        _tidy_help(self, ctx)
        super().format_help(ctx, formatter)

    def resolve_command(self, ctx, args: list[str]):
        name, cmd, rest = super().resolve_command(ctx, args)
        return name, cmd, _expand_counts(cmd, rest)


app = typer.Typer(
    cls=_Group,
    help="Choose the time-frequency transform each music source should use.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_STORAGE = "sqlite:///studies/tfselect.db"

# Shared options (same names and meaning in every subcommand).
SubsetOpt = Annotated[str, typer.Option("--subset", help="train, valid or test.")]
RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root", metavar="DIR", show_default="$MUSDB_PATH, else the built-in demo corpus",
        help="Dataset: MUSDB18(-HQ), stem folders, MoisesDB or Slakh2100.",
    ),
]
StorageOpt = Annotated[
    str,
    typer.Option(
        "--storage", metavar="URL",
        help="Optuna storage: sqlite:///F.db, journal:///F.log or postgresql+psycopg2://...",
    ),
]
StudyOpt = Annotated[str | None, typer.Option("--study", metavar="NAME", help="Study name.")]
SelectOpt = Annotated[
    str,
    typer.Option(
        "--select", metavar="RULE",
        help="significant: the best only if significantly better than the better reference, "
        "else that reference; best: the best candidate.",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
DeviceOpt = Annotated[
    str, typer.Option("--device", metavar="DEVICE",
                      help="torch device: auto (CUDA when present), cpu, cuda, cuda:1, ...")
]
VerboseOpt = Annotated[
    int,
    typer.Option("-v", "--verbose", count=True, show_default=False,
                 help="More logging: one line per trial (-v, -vv and -v 2 alike)."),
]  # fmt: skip
TargetOpt = Annotated[
    str,
    typer.Option("--target", metavar="TARGET", help="Target name (tfselect targets lists them)."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tfselect {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """tfselect: score, search and report time-frequency transforms per source; train a demixer."""


def user_errors(fn):
    """Turn TfselectError (bad input) into one clear line and exit status 2, no traceback.

    Also: number options that are not finite (``nan``, ``inf``) stop before the command
    runs; SIGTERM (what ``timeout``, schedulers and ``kill`` send) is treated like Ctrl-C;
    a full disk, size limit or read-only file system (in any wrapping) and an OSError naming
    a file are one line too.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous = _sigterm_as_ctrl_c()
        try:
            _check_finite(kwargs)
            return fn(*args, **kwargs)
        except TfselectError as exc:
            typer.echo(f"tfselect: error: {_one_line(exc)}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:
            interrupts.say_interrupted(str(exc) if isinstance(exc, Interrupted) else "interrupted")
            previous = None  # stopping: signals stay ignored, a second one prints nothing
            raise typer.Exit(130) from None
        except MemoryError:  # a huge request that slipped past the checks
            typer.echo("tfselect: error: out of memory (try fewer bins or shorter clips)", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:  # a full disk anywhere, a closed pipe, an OSError on a file
            from tfselect.diskerrors import as_exit

            status, line = as_exit(exc)
            if status is None:
                raise
            if line:
                typer.echo(f"tfselect: error: {_one_line(line)}", err=True)
            raise typer.Exit(status) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _one_line(exc: BaseException) -> str:
    """The message on one line, with any credential masked."""
    from tfselect.redact import redact

    return redact(" ".join(str(exc).split()))


def _check_finite(kwargs: dict) -> None:
    """TfselectError for a number option given as ``nan`` or ``inf`` (click accepts them)."""
    ctx = get_current_context(silent=True)
    names = {p.name: p.opts[-1] for p in ctx.command.params} if ctx is not None else {}
    for name, value in kwargs.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise TfselectError(f"{names.get(name, name)} must be a finite number, got {value}")
    # numpy seeds are 32-bit and non-negative
    _check_range("--seed", kwargs.get("seed"), 0, 2**32 - 1)


def _check_range(option: str, value: float | None, low: float, high: float) -> None:
    """TfselectError unless ``low <= value <= high`` (None: not given, fine)."""
    if value is not None and not low <= value <= high:
        raise TfselectError(f"{option} must be in [{low}, {high}], got {value}")


def _check_out_folder(out: Path) -> None:
    """--out must be a folder we can write (created if missing)."""
    from tfselect.atomic import check_out_dir

    check_out_dir(Path(out))


# ---------------------------------------------------------------- data


@app.command("demo-data")
@user_errors
def demo_data(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write (new or empty).")
    ],
    tracks: Annotated[int, typer.Option("--tracks", help="Number of train tracks.")] = 8,
    test_tracks: Annotated[
        int | None, typer.Option("--test-tracks", help="Test tracks (default: tracks/4, >= 1).")
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="Duration of each track.")] = 12.0,
    seed: SeedOpt = 0,
    subtype: Annotated[
        str, typer.Option("--subtype", help="WAV sample format: PCM_16 or FLOAT.")
    ] = "PCM_16",
    stems: Annotated[
        str,
        typer.Option("--stems", help="musdb (vocals, drums, bass, other) or fine (vocals, "
                     "drums, bass, keys, plucks, pads; no mixture.wav)."),
    ] = "musdb",
) -> None:
    """Write the synthetic demo corpus (MUSDB18-HQ layout) to a folder."""
    import time

    from tfselect.audio.demo import write_demo_corpus

    _check_range("--tracks", tracks, 1, 10_000)
    _check_range("--test-tracks", test_tracks, 0, 10_000)
    t0 = time.perf_counter()
    path = write_demo_corpus(
        out, tracks=tracks, seconds=seconds, seed=seed, test_tracks=test_tracks,
        subtype=subtype.upper(), stems=stems,
    )  # fmt: skip
    size = sum(p.stat().st_size for p in path.rglob("*.wav"))
    n = len([p for p in path.glob("*/*") if p.is_dir()])
    typer.echo(
        f"wrote {n} tracks ({size / 1e6:.1f} MB) to {path} in {time.perf_counter() - t0:.1f} s"
    )


@app.command("targets")
@user_errors
def targets_cmd(
    root: RootOpt = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML whose \\[targets] table maps stems.")
    ] = None,
) -> None:
    """List the dataset's targets: where each is present and active.

    One row per target (and a residual row when the targets leave part of the mixture):
    tracks where it is present, tracks where it is active, median active fraction.
    """
    from rich.console import Console
    from rich.table import Table

    from tfselect.audio.dataset import resolve_root
    from tfselect.audio.targets import load_target_map, target_table

    data_root = resolve_root(root)
    df = target_table(data_root, load_target_map(config))
    table = Table(title=f"targets of {data_root} ({df.attrs['layout']}, {df.attrs['tracks']} "
                        f"tracks)")  # fmt: skip
    for col in ("target", "present", "active", "median active fraction"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for row in df.itertuples():
        table.add_row(row.target, str(row.present), str(row.active),
                      f"{row.median_active_fraction:.2f}")  # fmt: skip
    Console(width=120).print(table)


# ---------------------------------------------------------------- scores


@app.command("score")
@user_errors
def score_cmd(
    target: TargetOpt,
    transform: Annotated[
        str,
        typer.Option("--transform", metavar="SPEC", help="e.g. stft:n_fft=4096,hop=1024."),
    ],
    root: RootOpt = None,
    subset: SubsetOpt = "valid",
    clips: Annotated[int, typer.Option("--clips", help="Clips per track.")] = 2,
    seconds: Annotated[
        float, typer.Option("--seconds", help="Clip length in seconds (0: whole tracks).")
    ] = 10.0,
    tracks: Annotated[
        int | None, typer.Option("--tracks", help="Only the first N tracks of the subset.")
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", help="Comma-separated metrics and/or groups (default: all)."),
    ] = None,
    bss: Annotated[
        str, typer.Option("--bss", help="SDR: fast (global SDR), museval (BSSEval v4 median "
                          "over 1-s frames, slow), usdr (MDX challenge) or si-sdr.")
    ] = "fast",
    float64: Annotated[bool, typer.Option("--float64", help="Compute in float64.")] = False,
    seed: SeedOpt = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the result as a one-row CSV.")
    ] = None,
    device: DeviceOpt = "cpu",
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML whose \\[targets] table maps stems.")
    ] = None,
) -> None:
    """Score one transform for one target: metric medians over clips.

    Every metric (or those of --metrics) on --clips clips of each track of --subset, then
    the median over clips; clips where the target is silent are skipped and counted.
    """
    import json

    import torch

    from tfselect import SAMPLE_RATE
    from tfselect.audio.clips import sample_clips
    from tfselect.audio.dataset import resolve_root
    from tfselect.audio.targets import check_target, load_target_map
    from tfselect.metrics import BSS, DIRECTIONS, resolve_metrics, score
    from tfselect.metrics.output import render_table, write_csv_row
    from tfselect.transforms import TransformSpec, build

    # Cheap checks first, so a typo fails before any audio is read.
    _check_range("--clips", clips, 1, 10_000)
    _check_range("--seconds", seconds, 0, 3600)
    _check_range("--tracks", tracks, 1, 1_000_000)
    target_map = load_target_map(config)
    data_root = resolve_root(root)
    check_target(data_root, target, target_map)
    names = resolve_metrics(metrics)
    spec = TransformSpec.parse(transform)
    build(spec, SAMPLE_RATE)  # validates and designs the filterbank (cached for score below)
    if bss not in BSS:
        raise TfselectError(f"--bss must be one of {', '.join(BSS)}, got '{bss}'")
    chosen = sample_clips(
        data_root, subset, n_clips=clips, seconds=seconds, seed=seed, target=target,
        max_tracks=tracks, target_map=target_map,
    )  # fmt: skip

    def progress(done: int, total: int) -> None:  # only on a terminal: logs stay clean
        if sys.stderr.isatty():
            typer.echo(f"\rscored {done}/{total} clips", err=True, nl=done == total)

    result = score(
        spec, target, chosen, names, device=device,
        dtype=torch.float64 if float64 else torch.float32, bss=bss, progress=progress,
    )  # fmt: skip
    row = {"target": target, "transform": str(spec), "subset": subset, "seconds_per_clip":
           seconds, **result}  # fmt: skip
    if out is not None:
        write_csv_row(out, row)
    if json_out:
        # Strict JSON: a metric that could not be computed (NaN/inf) is null, never NaN.
        safe = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in row.items()}
        typer.echo(json.dumps(safe, allow_nan=False))
    else:
        render_table(row, names, DIRECTIONS)


# ---------------------------------------------------------------- demixer


@app.command("train-best")
@user_errors
def train_best(
    root: RootOpt = None,
    best: Annotated[
        Path | None,
        typer.Option("--best", metavar="CSV",
                     help="best.csv of `tfselect report` (default: reports/best.csv unless "
                     "--study/--spec name the targets); one branch per target."),
    ] = None,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: StudyOpt = None,
    select: SelectOpt = "significant",
    spec: Annotated[
        list[str] | None,
        typer.Option("--spec", metavar="TARGET=SPEC",
                     help="Repeatable; overrides best.csv / the study."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")] = Path(
        "models/per-target"
    ),
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Epochs (in total).")] = 10,
    preset: Annotated[str, typer.Option("--preset", help="small (CPU) or large.")] = "small",
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="shared-slicqt (one sliCQT for all) or stft (UMX)."),
    ] = None,
    shared_spec: Annotated[
        str | None, typer.Option("--shared-spec", help="Transform of --baseline shared-slicqt.")
    ] = None,
    network: Annotated[
        str, typer.Option("--network", help="auto, blstm or convnext (matrix forms), or cdae "
                          "(per block).")
    ] = "auto",
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, show_default="small 4, large 16",
                     help="Global batch size."),
    ] = None,
    chunk: Annotated[
        float | None,
        typer.Option("--chunk", show_default="small 4.0, large 6.0",
                     help="Training chunk length in seconds."),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option("--steps", min=1, show_default="small 32, large 256", help="Steps per epoch."),
    ] = None,
    valid_seconds: Annotated[
        float, typer.Option("--valid-seconds", help="Validation chunk per track, seconds.")
    ] = 10.0,
    patience: Annotated[int, typer.Option("--patience", help="Early-stopping patience.")] = 30,
    time_loss: Annotated[str, typer.Option("--time-loss", help="wsdr, sdr or sisdr.")] = "wsdr",
    freq_loss: Annotated[str, typer.Option("--freq-loss", help="mag or complex.")] = "mag",
    alpha: Annotated[float, typer.Option("--alpha", help="Weight of the time loss.")] = 10.0,
    masksum: Annotated[
        float, typer.Option("--masksum", help="Weight of the mask-sum regulariser (0: off).")
    ] = 0.0,
    no_augment: Annotated[
        bool, typer.Option("--no-augment", help="No gain/swap augmentation or track mixing.")
    ] = False,
    amp: Annotated[bool, typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA.")] = True,
    seed: SeedOpt = 42,
    device: DeviceOpt = "cpu",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML whose \\[targets] table maps stems.")
    ] = None,
    deoverlap: Annotated[
        str, typer.Option("--deoverlap", help="none, or learned: ragged branches mask the "
                          "overlap-added picture; a frozen DeOverlapNet maps it to slices.")
    ] = "none",
    deoverlap_model: Annotated[
        list[Path] | None,
        typer.Option("--deoverlap-model", metavar="DIR",
                     help="Repeatable: a `tfselect deoverlap train` folder, one per ragged "
                     "sliCQT (with --deoverlap learned)."),
    ] = None,
) -> None:
    """Train the demixer: each target on its own best transform.

    The transforms come from --best (the report's best.csv, as chosen by --select), from
    --study NAME (the studies NAME-<target>, e.g. NAME-vocals) or from --spec; one branch
    per target named. --baseline trains a comparison instead. Re-running the same command
    resumes from OUT/checkpoint.safetensors. Several GPUs or processes: torchrun
    --nproc-per-node N -m tfselect train-best ...
    """
    import logging

    from tfselect.demix.model import baseline_specs
    from tfselect.demix.specs import canonical, parse_overrides, resolve_specs
    from tfselect.demix.train import make_config, train
    from tfselect.errors import TfselectError

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if preset not in ("small", "large"):
        raise TfselectError(f"--preset must be small or large, got {preset!r}")
    if network not in ("auto", "blstm", "cdae", "convnext"):
        raise TfselectError(f"--network must be auto, blstm, cdae or convnext, got {network!r}")
    if baseline is not None:
        if baseline not in ("shared-slicqt", "stft"):
            raise TfselectError(f"--baseline must be shared-slicqt or stft, got {baseline!r}")
        if baseline == "stft" and network == "auto":
            network = "blstm"  # the Open-Unmix baseline (another --network is kept)
        specs = {t: canonical(s) for t, s in baseline_specs(baseline, shared_spec,
                                                            network).items()}
    else:
        study_specs = None
        if study is not None:
            from tfselect.demix.specs import study_best_specs

            study_specs = study_best_specs(storage, study, select)
        specs = resolve_specs(best, parse_overrides(spec or []), study_specs, select)
    # config field -> (its command-line option, value); all must be positive
    given = {"batch_size": ("--batch-size", batch_size), "chunk_seconds": ("--chunk", chunk),
             "steps": ("--steps", steps)}  # fmt: skip
    checks = [*[o for o in given.values() if o[1] is not None],
              ("--valid-seconds", valid_seconds), ("--patience", patience)]  # fmt: skip
    for option, value in checks:
        if value is not None and value <= 0:
            raise TfselectError(f"{option} must be positive, got {value}")
    # Upper bounds: far beyond any useful run, short of allocating the machine away.
    for option, value, high in (("--epochs", epochs, 100_000), ("--batch-size", batch_size, 4096),
                                ("--chunk", chunk, 600), ("--steps", steps, 1_000_000),
                                ("--valid-seconds", valid_seconds, 3600),
                                ("--patience", patience, 100_000), ("--alpha", alpha, 10**6),
                                ("--masksum", masksum, 10**6)):
        _check_range(option, value, 0, high)
    opts = {k: v for k, (_, v) in given.items() if v is not None}
    deoverlap_cfg = _deoverlap_models(deoverlap, deoverlap_model or [], specs)
    if deoverlap_cfg:
        opts["deoverlap"] = deoverlap_cfg
    if Path(out).exists() and not Path(out).is_dir():  # before the dataset is looked for
        raise TfselectError(f"--out {out} is a file, not a folder")
    from tfselect.audio.dataset import resolve_root
    from tfselect.audio.targets import check_target, load_target_map

    target_map = load_target_map(config)
    data_root = resolve_root(root)
    for target in specs:  # before anything is written
        check_target(data_root, target, target_map)
    if target_map is not None:
        opts["targets"] = target_map.as_dict()
    try:
        config = make_config(
            specs, preset, network, baseline, epochs=epochs, valid_seconds=valid_seconds,
            patience=patience, seed=seed, augment=not no_augment, mix_tracks=not no_augment,
            amp=amp, root=str(root) if root else None, time=time_loss, freq=freq_loss,
            alpha=alpha, masksum=masksum, **opts,
        )
    except ValueError as exc:
        raise TfselectError(str(exc)) from None
    try:
        history = train(config, out, device=device, progress=not quiet)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: checkpoints are atomic, the last one stands
        raise Interrupted(f"interrupted; {out} keeps the checkpoint of the last finished epoch: "
                          "rerun the same command to resume") from None
    if history:
        last = history[-1]
        typer.echo(f"epoch {int(last['epoch'])}: train {last['train_loss']:.4f} "
                   f"valid {last['valid_loss']:.4f}; model in {out}")


def _deoverlap_models(mode: str, dirs: list[Path], specs: dict[str, str]) -> dict:
    """``ModelConfig.deoverlap`` for --deoverlap/--deoverlap-model: {spec: net config +
    source}; every ragged sliCQT branch needs one model, every model a branch."""
    from tfselect.demix.deoverlap import load_net
    from tfselect.transforms import TransformSpec

    if mode not in ("none", "learned"):
        raise TfselectError(f"--deoverlap must be none or learned, got {mode!r}")
    if mode == "none":
        if dirs:
            raise TfselectError("--deoverlap-model needs --deoverlap learned")
        return {}
    ragged = {s for s in specs.values() if TransformSpec.parse(s).kind == "slicqt"
              and TransformSpec.parse(s).form == "ragged"}
    if not ragged:
        raise TfselectError("--deoverlap learned needs a branch on a ragged sliCQT; these "
                            f"are all matrix forms: {', '.join(sorted(set(specs.values())))}")
    out: dict[str, dict] = {}
    for d in dirs:
        net = load_net(d)
        mine = TransformSpec.parse(net.config.spec).resolved(net.config.sample_rate)
        match = [s for s in ragged
                 if TransformSpec.parse(s).resolved(net.config.sample_rate) == mine]
        if not match:
            raise TfselectError(f"the de-overlap model in {d} is for {net.config.spec}, which "
                                "no ragged branch uses")
        out[match[0]] = {**net.config.to_dict(), "source": str(d)}
    missing = sorted(ragged - set(out))
    if missing:
        raise TfselectError(f"--deoverlap learned: no --deoverlap-model for {missing[0]}; "
                            f"train one with `tfselect deoverlap train --transform {missing[0]} "
                            "--out DIR`")
    return out


@app.command("compare")
@user_errors
def compare_cmd(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Comparison folder.")],
    best: Annotated[
        Path | None,
        typer.Option("--best", metavar="CSV", help="best.csv of `tfselect report` (for "
                     "selected and oracle-best-shared)."),
    ] = None,
    root: RootOpt = None,
    configs: Annotated[
        str, typer.Option("--configs", metavar="NAMES",
                          help="Comma-separated: selected (best.csv), stft (4096/1024 for "
                          "all: Open-Unmix), shared-slicqt (Bark-262 for all: xumx-sliCQ), "
                          "oracle-best-shared (best mean oracle over targets in best.csv).")
    ] = "selected,stft,shared-slicqt",
    config_spec: Annotated[
        list[str] | None,
        typer.Option("--config-spec", metavar="NAME=SPECS",
                     help="Repeatable: your own configuration, NAME=SPEC (all targets) or "
                     "NAME=vocals:SPEC,drums:SPEC,..."),
    ] = None,
    preset: Annotated[
        str, typer.Option("--preset", help="cpu (2 cores, small BLSTM, 150 steps per run) or "
                          "gpu (Open-Unmix size, 120 min per run on CUDA).")
    ] = "cpu",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per configuration.")] = 3,
    steps: Annotated[
        int | None, typer.Option("--steps", show_default="the preset's",
                                 help="Step budget per run (equal for all runs).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Wall-clock training budget per run "
                                   "instead of --steps.")
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", show_default="the preset's (blstm)",
                                 help="blstm, convnext or cdae: one family for every run.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, max=4096,
                                 show_default="the preset's", help="Batch size.")
    ] = None,
    chunk: Annotated[
        float | None, typer.Option("--chunk", show_default="the preset's",
                                   help="Training chunk, seconds.")
    ] = None,
    match: Annotated[
        str, typer.Option("--match", help="params: each branch's width tuned to the stft "
                          "branch's parameter count; width: the preset's width everywhere.")
    ] = "params",
    jobs: Annotated[int, typer.Option("--jobs", help="Runs in parallel (processes).")] = 1,
    subset: SubsetOpt = "test",
    duration: Annotated[
        float | None, typer.Option("--duration", help="Score only each track's first seconds.")
    ] = None,
    select: SelectOpt = "significant",
    device: Annotated[
        str | None, typer.Option("--device", metavar="DEVICE", show_default="the preset's",
                                 help="torch device: auto (CUDA when present), cpu, "
                                 "cuda, cuda:1, ...")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Equal-budget demixers, paired per test track against the STFT.

    Does the per-target choice pay? Every run uses the same network family at parameter counts
    within 5 % of the stft configuration's, branch by branch (the width is tuned), the same
    optimiser, data order, seeds and step (or wall-clock) budget; ragged sliCQTs are trained in
    their rasterized matrix form. Each run is scored per test track: cSDR (museval v4, median of
    1-s frames), uSDR (whole-track SDR of the Music Demixing Challenge) and SI-SDR. Writes
    compare.csv (a row per config x seed x track x target), summary.csv (per-track differences
    to stft, averaged over seeds: mean, bootstrap 95 % CI over tracks, Wilcoxon p, verdict),
    transfer.csv (oracle gain vs trained gain) and compare.png. Rerunning resumes; several
    processes or machines given the same command and --out share the runs.
    """
    from tfselect.demix.compare import compare, parse_user_config

    user = dict(parse_user_config(item) for item in config_spec or [])
    names = [c.strip() for c in configs.split(",") if c.strip()]
    if chunk is not None:
        _check_range("--chunk", chunk, 0.1, 600)
    try:
        result = compare(out, names, user, best, select, preset, seeds, steps, minutes, root,
                         network, jobs, device, subset, duration, progress=not quiet,
                         batch_size=batch_size, chunk_seconds=chunk, match=match,
                         on_done=lambda r: typer.echo(f"run {r['config']} seed {r['seed']}: "
                                                      f"{r['steps']} steps, {r['seconds']:.0f} s"))
    except KeyboardInterrupt:  # checkpoints and scores are atomic: finished runs stand
        raise Interrupted(f"interrupted; rerun the same command to resume {out}") from None
    from tfselect.report.present import print_compare

    print_compare(result)
    if result.missing:
        typer.echo(f"tfselect: warning: {len(result.missing)} run(s) unfinished (held by "
                   "another process, or failed): rerun the same command to finish them",
                   err=True)


@app.command("evaluate")
@user_errors
def evaluate(
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Folder of a trained model.")
    ],
    root: RootOpt = None,
    subset: SubsetOpt = "test",
    tracks: Annotated[
        int | None, typer.Option("--tracks", min=1, help="Only the first N tracks.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Processes for BSSEval.")] = 1,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Score only the first seconds.")
    ] = None,
    wiener: Annotated[bool, typer.Option("--wiener", help="Wiener-EM post-filter.")] = False,
    wiener_iterations: Annotated[
        int, typer.Option("--wiener-iterations", help="Wiener-EM iterations (with --wiener).")
    ] = 1,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default MODEL/eval-SUBSET).")
    ] = None,
    device: DeviceOpt = "cpu",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Score a trained demixer with museval (BSSEval v4) on a subset.

    Writes per-track JSON, tracks.csv and medians.csv (median over tracks per target) to
    MODEL/eval-SUBSET.
    """
    from tfselect.demix.evaluate import evaluate_model
    from tfselect.demix.separate import MAX_WIENER_ITERATIONS

    if duration is not None and not 0 < duration <= 36_000:
        raise TfselectError(f"--duration must be in (0, 36000] seconds, got {duration:g}")
    _check_range("--wiener-iterations", wiener_iterations, 1, MAX_WIENER_ITERATIONS)
    _check_range("--jobs", jobs, 1, 1024)
    if out is not None:
        _check_out_folder(out)
    medians = evaluate_model(model, root, subset, tracks, jobs, wiener, device, duration, out,
                             progress=not quiet, wiener_iterations=wiener_iterations)
    typer.echo(medians.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


@app.command("separate")
@user_errors
def separate(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="Audio files (wav, flac, ...).")
    ],
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Folder of a trained model.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")] = Path(
        "separated"
    ),
    wiener: Annotated[bool, typer.Option("--wiener", help="Wiener-EM post-filter.")] = False,
    wiener_iterations: Annotated[
        int, typer.Option("--wiener-iterations", help="Wiener-EM iterations (with --wiener).")
    ] = 1,
    chunk: Annotated[float, typer.Option("--chunk", help="Chunk length, seconds.")] = 30.0,
    overlap: Annotated[float, typer.Option("--overlap", help="Chunk overlap, seconds.")] = 2.0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace stems already in --out.")
    ] = False,
    device: DeviceOpt = "cpu",
) -> None:
    """Separate songs into one WAV per target with a trained demixer.

    Writes OUT/<song>/<target>.wav (and residual.wav when the targets do not cover the
    mixture) at the input's length and sample rate. <song> is the file's name without
    extension (its folder's name for a MUSDB mixture.wav), made unique with -2, -3... when
    several inputs share it.
    """
    from tfselect.demix.model_files import load_model
    from tfselect.demix.separate import (
        MAX_WIENER_ITERATIONS,
        check_chunking,
        output_folder,
        output_names,
        separate_file,
        stem_names,
    )

    check_chunking(chunk, overlap)
    _check_range("--wiener-iterations", wiener_iterations, 1, MAX_WIENER_ITERATIONS)
    demixer = load_model(model, device)
    _check_out_folder(out)
    names = output_names(files)
    for name in names:  # every clash is found before any song is separated
        output_folder(out, name, stem_names(demixer), overwrite)
    for f, name in zip(files, names, strict=True):
        for path in separate_file(demixer, f, out, wiener, chunk, overlap,
                                  wiener_iterations=wiener_iterations, overwrite=overwrite,
                                  name=name):
            typer.echo(str(path))


@app.command("search")
@user_errors
def search(
    target: TargetOpt,
    trials: Annotated[
        int | None,
        typer.Option("--trials", metavar="N", show_default="config: 20",
                     help="Run N more trials in this process."),
    ] = None,
    until: Annotated[
        int | None,
        typer.Option("--until", help="Stop once the study holds N complete trials."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop starting trials after S seconds.")
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(
            "--objective", metavar="OBJ", show_default="config: mpi",
            help='Metric, weighted sum or several: "mpi", "mpi+0.5*irm1", "mpi,redundancy".',
        ),
    ] = None,
    sampler: Annotated[
        str | None,
        typer.Option("--sampler", show_default="config: tpe",
                     help="tpe, gp, random, cmaes or nsga2."),
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option("--pruner", show_default="config: wilcoxon",
                     help="wilcoxon (race candidates clip by clip) or none."),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", show_default="config: all",
                     help='Metrics per trial: "all" or a comma list.'),
    ] = None,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: StudyOpt = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="TOML",
                     help="Study configuration (`tfselect config` prints the defaults)."),
    ] = None,
    root: RootOpt = None,
    clips: Annotated[
        int | None, typer.Option("--clips", show_default="config: 1", help="Clips per track.")
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option("--seconds", show_default="config: 10.0", help="Clip length, seconds."),
    ] = None,
    max_tracks: Annotated[
        int | None, typer.Option("--max-tracks", help="Use only the first N tracks.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", show_default="config: 0", help="Random seed.")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", show_default="config: 1", help="Parallel trials (threads)."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", metavar="DEVICE", show_default="config: cpu",
                     help="torch device: auto (CUDA when present), cpu, cuda, cuda:1, ..."),
    ] = None,
    screen: Annotated[
        int | None,
        typer.Option("--screen", metavar="K", show_default="config: 0 (off)",
                     help="Screen K proposals with a cheap metric; race the best."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    fail_stale: Annotated[
        bool,
        typer.Option("--fail-stale", help="Only mark FAIL the RUNNING trials of dead workers "
                     "on this host, then exit."),
    ] = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Search the best transform for one target (Optuna, resumable).

    The study (default name: the target) lives in --storage; re-running the same command
    adds trials to it. Several processes or machines running the same command share the
    study: a journal file (journal:///studies/x.log) or SQLite for processes on one machine,
    PostgreSQL (postgresql+psycopg2://user:password@host/db) for several machines. The
    defaults marked "config" come from --config (`tfselect config` prints them).
    """
    from tfselect.search.config import load_config
    from tfselect.search.run import default_study_name, run_search

    if fail_stale:
        from tfselect.search.stale import fail_stale_in

        name = study or default_study_name(target)
        failed = fail_stale_in(storage, name)
        shown = ", ".join(map(str, failed)) if failed else "none"
        typer.echo(f"study {name}: marked FAIL {len(failed)} trial(s) of dead workers ({shown})")
        return
    for option, value, low, high in (("--trials", trials, 0, 10**9), ("--until", until, 1, 10**9),
                                     ("--clips", clips, 1, 10_000), ("--jobs", jobs, 1, 1024),
                                     ("--max-tracks", max_tracks, 1, 10**6),
                                     ("--seconds", seconds, 0, 3600)):
        _check_range(option, value, low, high)
    metric_list = None
    if metrics is not None:
        metric_list = "all" if metrics.strip() == "all" else tuple(
            m.strip() for m in metrics.split(",") if m.strip()
        )
    cfg = load_config(config).override(
        objective=objective, sampler=sampler, pruner=pruner, metrics=metric_list, seed=seed,
        device=device, jobs=jobs, n_clips=clips, seconds=seconds, max_tracks=max_tracks,
        screen=screen,
    )  # fmt: skip
    result = run_search(
        target, storage=storage, study=study, config=cfg, root=root, trials=trials,
        until=until, timeout=timeout, progress=not quiet, verbose=verbose,
    )  # fmt: skip
    typer.echo(_search_summary(result, storage, target))


def _search_summary(result, storage: str, target: str) -> str:
    """Two lines: what this run did, what the study holds; then the verdict in words."""
    run = f"this run: {result.ran} new candidate(s)"
    if result.raced:
        run += f" ({result.raced} raced out early)"
    if result.repeats:
        run += f", {result.repeats} repeated proposal(s) answered from the study"
    if result.exhausted:
        run += ", stopped: the space looks exhausted (widen it in the config)"
    if result.gave_up:
        run += (", stopped: trials kept failing to complete (see their fail_reason in "
                "`tfselect report`)")
    held = (f"study {result.study} now holds {result.complete} complete, {result.pruned} "
            f"pruned, {result.failed} failed candidate(s)")  # fmt: skip
    if result.best_spec is None:
        return f"{run}; {held}; no complete candidate yet"
    from tfselect.report.best import best_choice

    choice = best_choice(storage, target, result.study)
    return f"{run}\n{held}\n{choice.sentence()}; selected: {choice.spec}"


@app.command("survey")
@user_errors
def survey_cmd(
    target: Annotated[
        str | None,
        typer.Option("--target", metavar="TARGET",
                     help="Target to survey (omit it to only rewrite the report)."),
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", metavar="N", help="Sobol design points.")
    ] = 64,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: Annotated[
        str | None,
        typer.Option("--study", metavar="NAME", show_default="survey-TARGET",
                     help="Survey study name."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="TOML", help="Study configuration (space, clips)."),
    ] = None,
    root: RootOpt = None,
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Report folder.")
    ] = Path("reports/survey"),
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples of the intervals.")
    ] = 1000,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG figures.")] = True,
    seed: Annotated[
        int | None, typer.Option("--seed", show_default="config: 0", help="Random seed.")
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", show_default="config: 1", help="Parallel trials (threads)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Survey the space: do the cheap metrics predict the oracles?

    Scores --candidates points of a Sobol design over the search space (and both
    references) on every clip of the pool with every metric, no racing, in a study of its
    own (resumable, parallel like a search). Then writes to --out: survey.csv,
    survey_predictors.csv (each metric's Spearman with each oracle, partial given bins and
    redundancy, gain over the best trivial predictor, intervals resampling tracks and
    candidates), survey_ridge.csv (a leave-one-family-out ridge combination) and plots.
    """
    from tfselect.report.survey import run_and_report, summary_lines
    from tfselect.search.config import load_config

    _check_range("--candidates", candidates, 1, 100_000)
    _check_range("--jobs", jobs, 1, 1024)
    cfg = load_config(config).override(seed=seed, jobs=jobs)
    result, rep = run_and_report(
        target, storage=storage, study=study, config=cfg, root=root, candidates=candidates,
        out=out, n_boot=bootstrap, with_plots=plots, progress=not quiet,
    )  # fmt: skip
    if result is not None:
        typer.echo(f"survey {result.study}: {result.complete} of {result.points} candidates "
                   f"scored ({result.ran} in this run)")
    for line in summary_lines(rep.predictors, rep.ridge):
        typer.echo(line)
    typer.echo(f"report in {out}: {', '.join(Path(f).name for f in rep.files)}")


@app.command("report")
@user_errors
def report(
    storage: StorageOpt = DEFAULT_STORAGE,
    study: Annotated[
        list[str] | None,
        typer.Option("--study", metavar="NAME",
                     help="Study name, repeatable (default: every tfselect study)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Report folder.")] = Path(
        "reports"
    ),
    root: RootOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples of the correlation CIs.")
    ] = 1000,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG figures.")] = True,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model", metavar="DIR",
            help="Evaluated demixer folder, repeatable (per-target and baselines): adds demix.csv.",
        ),
    ] = None,
    subset: Annotated[
        str, typer.Option("--subset", help="Evaluation subset the --model folders were scored on.")
    ] = "test",
    seed: SeedOpt = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files in --out that no earlier report "
                           "wrote (a user's own best.csv).")
    ] = False,
) -> None:
    """Write the report of studies: best.csv, tables and plots.

    Files: trials.csv, best.csv (what train-best reads), correlations.csv, pareto.csv and
    PNG plots. With --model, also demix.csv: median SDR/SIR/SAR/ISR per target of each
    evaluated demixer (run `tfselect evaluate` first), e.g. the per-target model against
    both baselines.

    Only the report's own files in --out change: it is built aside, then each file is
    renamed into place; the files the previous report wrote and this one does not are
    removed (--out/.tfselect-report.json lists them); everything else stays, and a symlinked
    --out is written through. A file of the same name that no report wrote stops the
    report (exit 2, nothing changed) unless --overwrite.
    """
    from tfselect.report.build import make_report

    demix = None
    if model:  # read first: a model that was never evaluated stops before anything is written
        # The CLI composes the layers: report never imports demix (demix sits above it).
        from tfselect.demix.evaluate import demix_table

        demix = demix_table(model, subset=subset)
    rep = make_report(
        storage, studies=study, out=out, root=root, n_boot=bootstrap, with_plots=plots,
        seed=seed, extra_tables={"demix.csv": demix} if demix is not None else None,
        overwrite=overwrite,
    )  # fmt: skip
    typer.echo(
        f"report of {len(rep.studies)} stud{'y' if len(rep.studies) == 1 else 'ies'} "
        f"({rep.n_trials} trials) in {out}:"
    )
    pngs = [f for f in rep.files if Path(f).suffix == ".png"]
    for f in rep.files:
        if f not in pngs:
            typer.echo(f"  {f}")
    if pngs:  # one line for the plots: their kinds, each written per target
        kinds = dict.fromkeys(Path(f).stem.split("_")[0] + ("_grid" if "grid" in Path(f).stem
                                                             else "_*") for f in pngs)
        typer.echo(f"  {len(pngs)} plots: {out}/{{{','.join(kinds)}}}.png")
    for msg in rep.warnings:
        typer.echo(f"tfselect: warning: {msg}", err=True)
    _print_best(out / "best.csv")


def _print_best(path: Path) -> None:
    """Show best.csv as a table: each target's best spec next to the two references, with
    the statistics and the units they were computed over ("10 tracks", "12 held-out tracks"
    for a confirmation split, or "30 clips" for a study that stored no pool)."""
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from tfselect.report.best import row_verdict

    if not path.is_file():
        return
    df = pd.read_csv(path)
    table = Table(title="best transform per target (best.csv; * = selected)")
    cols = ("target", "objective", "candidate", "spec", "value", "diff [95% CI]", "p", "over",
            "verdict")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="right" if col in ("value", "p", "over") else "left")
    has_stats = "diff" in df.columns
    for row in df.itertuples():
        stats = ["", "", "", ""]
        if has_stats and pd.notna(row.diff):
            stats = [f"{row.diff:+.2f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}]",
                     f"{row.p_value:.2g}", _units(row), row_verdict(row)]  # fmt: skip
        elif has_stats and isinstance(row.verdict, str):
            stats[3] = row.verdict
        mark = "*" if has_stats and bool(row.selected) else ""
        table.add_row(row.target, row.objective, row.candidate + mark, row.spec,
                      f"{row.value:.2f}", *stats)  # fmt: skip
    Console(width=190).print(table)


def _units(row) -> str:
    """The units behind one best.csv row's statistics: "10 tracks" (track level) or "30
    clips" (clip level, or a best.csv written before tracks were counted)."""
    import pandas as pd

    n_tracks = getattr(row, "n_tracks", None)
    if n_tracks is not None and pd.notna(n_tracks):
        held = "held-out " if getattr(row, "stage", "") == "confirmation" else ""
        return f"{int(n_tracks)} {held}tracks"
    return f"{int(row.n_paired)} clips" if pd.notna(row.n_paired) else ""


def best_columns(df) -> list[str]:
    """The columns of best.csv worth a table (:func:`tfselect.report.best.table_columns`)."""
    from tfselect.report.best import table_columns

    return table_columns(df.columns)


@app.command("config")
@user_errors
def config_cmd() -> None:
    """Print the default study configuration (TOML) to copy and edit.

    tfselect config > mine.toml, edit it, then: tfselect search --config mine.toml ...
    """
    from importlib.resources import files

    typer.echo(files("tfselect").joinpath("default.toml").read_text(), nl=False)


@app.command("best")
@user_errors
def best(
    target: TargetOpt,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: StudyOpt = None,
    select: SelectOpt = "significant",
) -> None:
    """Print the spec chosen for a target (one line, for scripts).

    The best complete trial of --study, or of all the target's studies in --storage
    (on a multi-objective study, the best first objective on the Pareto front).

    --select significant (default): the best candidate only when it is significantly better
    than the better reference on the study's clips, else that reference (said on stderr).
    --select best: the best candidate whatever the statistics say.
    """
    from tfselect.report.best import best_choice

    choice = best_choice(storage, target, study, select)
    if choice.fell_back:
        typer.echo(f"tfselect: {choice.sentence()}", err=True)
    typer.echo(choice.spec)


@app.command("verify")
@user_errors
def verify_cmd(
    best: Annotated[
        Path, typer.Option("--best", metavar="CSV", help="best.csv of `tfselect report`.")
    ] = Path("reports/best.csv"),
    root: RootOpt = None,
    subset: SubsetOpt = "test",
    seconds: Annotated[
        float, typer.Option("--seconds", help="0: whole tracks; else consecutive clips of S "
                            "seconds from each track's start, averaged per track.")
    ] = 0.0,
    bss: Annotated[str, typer.Option("--bss", help="SDR: fast, museval, usdr or si-sdr.")] = "fast",
    select: SelectOpt = "significant",
    device: DeviceOpt = "cpu",
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML whose [targets] table maps stems.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="CSV", help="Also write one row per target "
                                  "and comparison.")
    ] = None,
) -> None:
    """Check best.csv's picks against both references on test tracks.

    Every track of --subset is scored with the target's objective (best.csv's objective
    column, e.g. mpi) for the pick and the stft and xumx-slicq rows' specs. Per comparison:
    the mean over tracks of the per-track differences pick − reference (the difference of
    the medians is not what is tested), its bootstrap 95 % interval (resampling tracks), the
    Wilcoxon signed-rank p over tracks, the tracks the pick wins and the verdict; first
    against the better reference (better mean on these tracks), then each reference.
    """
    from tfselect.audio.dataset import resolve_root
    from tfselect.audio.targets import load_target_map
    from tfselect.report.present import print_verify
    from tfselect.report.verify import verify, write_verify

    _check_range("--seconds", seconds, 0, 3600)

    def progress(done: int, total: int) -> None:  # only on a terminal: logs stay clean
        if sys.stderr.isatty():
            typer.echo(f"\rscored {done}/{total} tracks", err=True, nl=done == total)

    df = verify(best, resolve_root(root), subset, seconds, bss, device, select,
                load_target_map(config), progress)  # fmt: skip
    if out is not None:
        write_verify(df, out)
    print_verify(df)


# ---------------------------------------------------------------- de-overlap

deoverlap_app = typer.Typer(
    cls=_Group, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Learn to split a sliCQT's overlap-added picture into slices.",
)
app.add_typer(deoverlap_app, name="deoverlap")


@deoverlap_app.command("train")
@user_errors
def deoverlap_train(
    transform: Annotated[
        str, typer.Option("--transform", metavar="SPEC", help="A ragged slicqt: spec.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")],
    root: RootOpt = None,
    minutes: Annotated[
        float, typer.Option("--minutes", help="Training time in all (wall clock).")
    ] = 5.0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Clips per step.")] = 8,
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length, seconds.")] = 3.0,
    synthetic: Annotated[
        float, typer.Option("--synthetic", help="Share of synthetic clips (0 to 1).")
    ] = 0.25,
    bins_radius: Annotated[
        int, typer.Option("--bins-radius", min=0, help="Neighbour bins each side.")
    ] = 4,
    frames_radius: Annotated[
        int, typer.Option("--frames-radius", min=0, help="Neighbour frames each side.")
    ] = 8,
    max_frames: Annotated[
        int, typer.Option("--max-frames", min=2, help="Learn blocks up to this many frames.")
    ] = 64,
    ridge: Annotated[float, typer.Option("--ridge", help="Relative ridge of the fit.")] = 1e-6,
    seed: SeedOpt = 42,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a DeOverlapNet for one ragged sliCQT.

    On random clips of the corpus's train tracks (mixtures and stems) plus synthetic
    signals; validation on its valid tracks. Re-running the same command resumes from
    OUT/checkpoint.safetensors and trains until --minutes in all. OUT/curve.csv records the
    held-out SNR against training time.
    """
    import logging

    from tfselect.demix.deoverlap import (
        DeOverlapConfig,
        TrainSettings,
        ragged_slicqt,
        train_deoverlap,
    )

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for option, value, low, high in (("--minutes", minutes, 1e-3, 10**5),
                                     ("--seconds", seconds, 0.5, 600),
                                     ("--synthetic", synthetic, 0, 1),
                                     ("--ridge", ridge, 0, 1),
                                     ("--batch-size", batch_size, 1, 4096)):
        _check_range(option, value, low, high)
    ragged_slicqt(transform)  # a non-ragged spec is one line before anything is written
    if Path(out).exists() and not Path(out).is_dir():
        raise TfselectError(f"--out {out} is a file, not a folder")
    config = DeOverlapConfig(transform, bins_radius=bins_radius, frames_radius=frames_radius,
                             max_frames=max_frames)
    settings = TrainSettings(config=config.to_dict(), minutes=minutes, batch_size=batch_size,
                             seconds=seconds, ridge=ridge, seed=seed, synthetic=synthetic,
                             root=str(root) if root else None)
    try:
        curve = train_deoverlap(settings, out, progress=not quiet)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {out} keeps the last checkpoint (one a minute): "
                          "rerun the same command to resume") from None
    last = curve[-1]
    typer.echo(f"{last['minutes']:.1f} min, {int(last['clips'])} clips: held-out waveform SNR "
               f"{last['valid_wave_learned_db']:.1f} dB (window split "
               f"{last['valid_wave_baseline_db']:.1f} dB); model in {out}")


@deoverlap_app.command("eval")
@user_errors
def deoverlap_eval(
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Folder of a trained DeOverlapNet.")
    ],
    root: RootOpt = None,
    subset: SubsetOpt = "test",
    seconds: Annotated[
        float, typer.Option("--seconds", help="Seconds from the middle of each track.")
    ] = 10.0,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="CSV", help="Default MODEL/eval-SUBSET.csv.")
    ] = None,
) -> None:
    """Reconstruction SNR of a DeOverlapNet and of the window split, per block.

    For every source (mixture, stems) of the held-out tracks: the coefficient SNR and the
    waveform SNR after the exact inverse, with all blocks de-overlapped (block "all") and
    with one block at a time (the others exact).
    """
    from tfselect.atomic import atomic_write
    from tfselect.audio.dataset import resolve_root, tracks_for
    from tfselect.demix.deoverlap import evaluate_deoverlap, load_net

    _check_range("--seconds", seconds, 0.5, 36_000)
    net = load_net(model)
    tracks = tracks_for(resolve_root(root), subset)
    if not tracks:
        raise TfselectError(f"no {subset} tracks under {resolve_root(root)}")
    out = Path(out) if out is not None else Path(model) / f"eval-{subset}.csv"
    if out.is_dir():
        raise TfselectError(f"--out {out} is a folder; give a CSV file name")
    df = evaluate_deoverlap(net, tracks, seconds)
    atomic_write(out, lambda tmp: df.to_csv(tmp, index=False, float_format="%.4f"))
    cols = ["coef_snr_learned", "coef_snr_baseline", "wave_snr_learned", "wave_snr_baseline"]
    every = df[df.block == "all"]
    typer.echo(f"median over {len(every)} signals, dB (learned | window split):")
    typer.echo(every[cols].median().to_string(float_format=lambda v: f"{v:.2f}"))
    blocks = df[df.block != "all"].groupby("block", sort=False)[cols].median()
    worst = blocks.sort_values("wave_snr_learned").head(5)
    typer.echo("blocks that limit the waveform most (median dB, that block alone):")
    typer.echo(worst.to_string(float_format=lambda v: f"{v:.2f}"))
    typer.echo(f"wrote {out}")


def run() -> None:  # pragma: no cover - console entry for `python -m tfselect`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
