"""The README matches the tool, and `--help` reads well at 80 columns.

README: every transform spec builds and round-trips (``parse(str(spec)) == spec``), every
Python block runs, every ``tfselect`` command line parses through the real click command
(options, types and required values; nothing is executed), and the table of shared options
says which commands take each one. Help: no Python type names, one line per command in
workflow order, the defaults users need, ``-v`` as a counter that also takes a level.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys

import pytest
from conftest import REPO
from test_api import api_blocks
from typer.main import get_command
from typer.testing import CliRunner

from tfselect.cli import WORKFLOW, app
from tfselect.search.config import load_config
from tfselect.transforms import TransformSpec, build

README = (REPO / "README.md").read_text()
GROUP = get_command(app)
SPEC_RE = re.compile(r"\b(?:slicqt|stft|nsgt|nsgcq):[A-Za-z0-9_=.,]*[A-Za-z0-9]")


def _blocks(*langs: str) -> list[str]:
    """Fenced code blocks of the README whose info string is one of ``langs``."""
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)
            if m.group(1) in langs]  # fmt: skip


def _command_lines() -> list[list[str]]:
    """The argument lists after ``tfselect`` of every command line in the README's shell
    blocks (continuations joined, prompts, comments, redirections and ``&`` cut off)."""
    out = []
    for block in _blocks("bash", "sh", "console"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            words = shlex.split(line, comments=True)
            for stop in ("&", "&&", "|", ";", ">", "2>"):
                if stop in words:
                    words = words[: words.index(stop)]
            if "tfselect" in words and words[0] in ("tfselect", "torchrun", "nice"):
                out.append(words[words.index("tfselect") + 1 :])
    return out


def _parse(args: list[str]):
    """Parse ``tfselect ARGS`` with the real commands, without running them: the
    subcommand's context (its ``params``), or a UsageError / BadParameter."""
    ctx = GROUP.make_context("tfselect", list(args))
    name, cmd, rest = GROUP.resolve_command(ctx, ctx._protected_args + ctx.args)
    return cmd.make_context(name, rest, parent=ctx)


# ------------------------------------------------------------------------------ README


def test_every_spec_in_the_readme_builds_and_round_trips():
    specs = sorted(set(SPEC_RE.findall(README)))
    assert len(specs) >= 5 and any(s.startswith("slicqt:scale=vqlog") for s in specs)
    for text in specs:
        spec = TransformSpec.parse(text)
        assert TransformSpec.parse(str(spec)) == spec, text
        build(spec, 44100)  # designs the filterbank: a slice too short for the scale fails


def test_the_readme_spec_defaults_are_the_parser_defaults():
    # "omitted = default": the README's list of defaults, each checked against the parser.
    paragraph = README[README.index("Defaults (dropped by") :].split("\n\n")[0]
    base = {
        "slicqt": "slicqt:scale=vqlog,bins=40,fmin=40,fmax=22050",
        "nsgt": "nsgt:fmin=65.4,fmax=6000,bpo=12",
        "nsgcq": "nsgcq:fmin=65.4,fmax=6000,bpo=12",
    }
    checked = set()
    for part in paragraph.split(". ")[0].split(";"):  # "slicqt ...; nsgt and nsgcq ..."
        kinds = [k for k in base if re.search(rf"\b{k}\b", part)]
        fields = re.findall(r"`([a-z]+=[a-z0-9.]+)`", part)
        for kind, field in [(k, f) for k in kinds for f in fields]:
            with_default = TransformSpec.parse(f"{base[kind]},{field}")
            assert with_default == TransformSpec.parse(base[kind]), (kind, field)
            assert str(with_default) == base[kind]  # printed without it
            checked.add((kind, field))
    assert {("slicqt", "phase=local"), ("slicqt", "form=ragged"), ("slicqt", "gamma=0"),
            ("nsgt", "rasterize=full"), ("nsgt", "phase=global")} <= checked  # fmt: skip


def test_the_readme_python_blocks_run(tmp_path, monkeypatch, demo_root):
    # The Python API section trains and evaluates: tests/test_api.py runs it (slow).
    blocks = [b for b in _blocks("python") if b not in api_blocks()]
    assert len(blocks) >= 2
    # The blocks read $MUSDB_PATH (here the test corpus) and a song folder of stem WAVs.
    monkeypatch.setenv("MUSDB_PATH", str(demo_root))
    shutil.copytree(next((demo_root / "test").iterdir()), tmp_path / "song")
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


def _inline_commands() -> list[list[str]]:
    """Arguments of the README's inline `tfselect ...` commands that have options."""
    texts = re.findall(r"`tfselect ([^`]+)`", README.replace("\n", " "))
    return [shlex.split(t) for t in texts if "--" in t and "…" not in t and "--help" not in t]


def test_every_command_line_in_the_readme_parses():
    lines = _command_lines()
    seen = {args[0] for args in lines + _inline_commands() if args and args[0][0] != "-"}
    assert seen >= set(WORKFLOW), f"README shows no command line of {set(WORKFLOW) - seen}"
    for args in lines + _inline_commands():
        if "--help" in args or "--version" in args or args == ["config"]:
            continue
        try:
            _parse(args)
        except Exception as exc:  # a click usage error names what is wrong
            pytest.fail(f"README: `tfselect {shlex.join(args)}` does not parse: {exc}")


def _leaf_commands(group=GROUP, prefix: str = "") -> dict:
    """Every command by the name a user types after ``tfselect``: a group's subcommands as
    ``deoverlap train``, never the group itself."""
    out = {}
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            out |= _leaf_commands(cmd, f"{prefix}{name} ")
        else:
            out[f"{prefix}{name}"] = cmd
    return out


def test_the_readme_table_of_shared_options_is_true():
    section = README[README.index("Options shared by several commands") :]
    rows = re.findall(r"^\| `(-[^` /]+)[^`]*` \| ([a-z, -]+) \|", section, re.M)
    assert len(rows) >= 6
    commands = _leaf_commands()
    assert "deoverlap eval" in commands and "deoverlap" not in commands
    for option, listed in rows:
        names = {c.strip() for c in listed.split(",")}
        having = {n for n, c in commands.items() if any(option in p.opts for p in c.params)}
        assert names == having, option


def test_no_citation_of_a_design_document_the_repository_lacks():
    assert "DESIGN" not in README


# ------------------------------------------------------------------------------ config


def test_config_prints_the_packaged_default_study(tmp_path):
    res = CliRunner().invoke(app, ["config"])
    assert res.exit_code == 0
    assert res.output == (REPO / "tfselect" / "default.toml").read_text()
    assert res.output == (REPO / "studies" / "default.toml").read_text()
    mine = tmp_path / "mine.toml"
    mine.write_text(res.output)
    assert load_config(mine) == load_config(None)


def test_default_toml_is_package_data():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "default.toml" in meta["tool"]["setuptools"]["package-data"]["tfselect"]


# ------------------------------------------------------------------------------ help


def _help(*args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    return res.output


TYPE_NAMES = re.compile(r"<(?:bool|int|float|str|path|list\[[^>]*\])>|\{files\}|INT RANGE")


@pytest.mark.parametrize("command", ["", *WORKFLOW])
def test_help_at_80_columns(command):
    text = _help(*([command] if command else []))
    assert not TYPE_NAMES.findall(text), TYPE_NAMES.findall(text)
    assert max(len(x) for x in text.splitlines()) <= 80
    # The description is wrapped at the terminal's width, never at the source's line
    # breaks: a line ends inside a paragraph only where the next word would not fit.
    description = [x.rstrip() for x in text[text.index("Usage:") : text.index("╭")].splitlines()]
    for line, after in zip(description[1:], description[2:], strict=False):
        if line and after:
            assert len(line) + 1 + len(after.split()[0]) > 79, (line, after)


def test_commands_listed_one_line_each_in_workflow_order():
    text = _help()
    panel = text[text.index("Commands") :].splitlines()
    names = [line.split()[1] for line in panel if line.startswith("│")]
    assert names == list(WORKFLOW)  # one line each: no row wraps onto a second line


def _option_help(text: str, option: str) -> str:
    """The help cell of ``option`` in a rendered options panel, wrapped lines joined."""
    rows = re.split(r"\n(?=│ [ *]*(?:--|-\w))", text)
    row = next(r for r in rows if re.match(rf"│ [ *]*{re.escape(option)}\b", r))
    return " ".join(x.strip("│ ") for x in row.splitlines())


@pytest.mark.parametrize(("command", "options"), [
    ("search", ["--trials", "--objective", "--sampler", "--clips", "--seconds", "--seed"]),
    ("train-best", ["--batch-size", "--chunk", "--steps", "--seed"]),
    ("score", ["--clips", "--seconds", "--seed"]),
])  # fmt: skip
def test_defaults_are_shown(command, options):
    text = _help(command)
    for option in options:
        assert "[default:" in _option_help(text, option), option


# train-best's preset-dependent options and the field of the preset table behind each.
PRESET_OPTIONS = {"--batch-size": "batch_size", "--chunk": "chunk_seconds", "--steps": "steps"}


def _preset_help(table: dict) -> dict[str, str]:
    """What `train-best --help` should say per option for a preset table: "small 4, large 16"."""
    return {
        option: ", ".join(f"{name} {sizes[field]}" for name, sizes in table.items())
        for option, field in PRESET_OPTIONS.items()
    }


def test_train_best_help_shows_the_presets_the_trainer_uses(monkeypatch):
    """The presets' defaults in the help come from the table the trainer builds its
    configuration from: changed there, both follow (the help is made at import)."""
    import importlib

    import typer

    import tfselect.cli.training as training
    from tfselect.demix import presets
    from tfselect.demix.train import make_config

    text = _help("train-best")
    for option, shown in _preset_help(presets.TRAIN_PRESETS).items():
        assert f"[default: ({shown})]" in _option_help(text, option), option
    for name, sizes in presets.TRAIN_PRESETS.items():
        config = make_config({"vocals": "stft:n_fft=4096,hop=1024"}, name)
        assert (config.batch_size, config.chunk_seconds, config.steps) == (
            sizes["batch_size"], sizes["chunk_seconds"], sizes["steps"])  # fmt: skip

    other = {"small": {"batch_size": 3, "chunk_seconds": 2.5, "steps": 7},
             "large": {"batch_size": 64, "chunk_seconds": 9.0, "steps": 512}}  # fmt: skip
    for name, sizes in other.items():
        monkeypatch.setitem(presets.TRAIN_PRESETS, name, sizes)
    try:
        fresh = typer.Typer()
        fresh.command()(importlib.reload(training).train_best)
        res = CliRunner().invoke(fresh, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
        for option, shown in _preset_help(other).items():
            assert f"[default: ({shown})]" in _option_help(res.output, option), option
        assert make_config({"vocals": "stft:n_fft=4096,hop=1024"}, "large").steps == 512
    finally:
        monkeypatch.undo()
        importlib.reload(training)


def _default_toml() -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads((REPO / "tfselect" / "default.toml").read_text())


# Options whose help default is "config: X": the key of the default study that sets them.
CONFIG_KEYS = {"--clips": ("clips", "n_clips"), "--seconds": ("clips", "seconds")}


def test_config_defaults_in_help_are_the_default_configs_values():
    study = _default_toml()
    checked = []
    for name, cmd in GROUP.commands.items():
        text = _help(name)
        for param in cmd.params:
            option = max(param.opts, key=len)
            if param.param_type_name != "option" or "config:" not in _option_help(text, option):
                continue
            shown = re.search(r"\[default: \(config: (.*?)\)\]", _option_help(text, option))
            assert shown, (name, option)
            table, key = CONFIG_KEYS.get(option, ("search", option.removeprefix("--")))
            value = study[table][key]
            words = shown.group(1).removesuffix(" (off)")
            if isinstance(value, bool) or isinstance(value, str):
                assert words == str(value), (name, option, words, value)
            elif isinstance(value, list):
                assert words.split(",") == value, (name, option)
            else:
                assert float(words) == value and type(value)(words) == value, (name, option)
            checked.append((name, option))
    # search shows eleven such defaults, survey two: a renamed key cannot empty the test
    assert len([c for c in checked if c[0] == "search"]) == 11, checked
    assert {("search", "--clips"), ("search", "--seconds"), ("survey", "--seed")} <= set(checked)


def test_config_option_help_shows_the_targets_table_literally():
    # Rich markup reads "[targets]" as a style tag and drops it unless it is escaped.
    having = [
        n
        for n, c in GROUP.commands.items()
        if any("--config" in p.opts and "targets" in (p.help or "") for p in c.params)
    ]
    assert {"verify", "score", "targets", "train-best"} <= set(having)
    for name in having:
        assert "[targets] table" in _option_help(_help(name), "--config"), name


def test_root_help_names_every_layout():
    having = [n for n, c in GROUP.commands.items() if any("--root" in p.opts for p in c.params)]
    assert len(having) >= 6
    for name in having:
        cell = _option_help(_help(name), "--root")
        for layout in ("MUSDB18(-HQ)", "stem folders", "MoisesDB", "Slakh2100"):
            assert layout in cell, (name, layout)
        assert "layout" not in cell, (name, cell)


@pytest.mark.parametrize(("args", "level"), [
    ([], 0), (["-v"], 1), (["-vv"], 2), (["-v", "2"], 2), (["--verbose", "3"], 3),
    (["--verbose=2"], 2), (["-v", "-v"], 2), (["-v", "--quiet"], 1),
])  # fmt: skip
def test_verbose_is_a_counter_that_takes_a_level(args, level):
    ctx = _parse(["search", "--target", "vocals", *args])
    assert ctx.params["verbose"] == level


def test_score_footer_is_one_line(capsys, monkeypatch):
    from tfselect.cli.present import render_table
    from tfselect.metrics import DIRECTIONS

    monkeypatch.setenv("COLUMNS", "80")
    row = {"target": "vocals", "transform": "stft:n_fft=4096,hop=1024", "n_clips": 12,
           "n_skipped": 3, "mpi": 12.5, "gini": 0.61}  # fmt: skip
    render_table(row, ["mpi", "gini"], DIRECTIONS)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "median over 12 clip(s); 3 skipped (silent target)"
