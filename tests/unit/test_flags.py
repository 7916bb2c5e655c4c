"""The run flags are defined once (kit/cli/flags.py): typed at the flag, every default the settings' own; a
`--settings` file (a run.json, a cluster's settings.json) gives the very same settings, a flag on the command line
overrides it, and no run flag's variable is read beside it."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import shlex
from pathlib import Path

import click
import pytest

from kit.cli.flags import BY_NAME, FLAGS, OWN, build_settings, given_here
from kit.cli.main import cli
from kit.cli.params import FlagError
from kit.corpus.split import ShardSpec
from kit.errors import InputError
from kit.infra.changes import changes_nothing, flag_of, flags_of, setting
from kit.infra.flags import Flag, Int
from kit.infra.host import default_box_id
from kit.infra.invocation import kit_command
from kit.infra.records import Record
from kit.infra.tree import Tree
from kit.model.threads import choose_threads
from kit.platforms.encoders import get_spec
from kit.platforms.grids import CqGrid
from kit.steps.records import write_run_record
from kit.steps.settings import RunSettings, settings_command, task_flags
from kit.verdict.thresholds import GateThresholds
from tests.conftest import ROOT


def parse(*args: str | Path) -> dict[str, object]:
    return dict(cli.commands["run"].make_context("run", [str(a) for a in args]).params)


def settings_of(*args: str | Path) -> RunSettings:
    """The settings `run ARGS` runs with, as the command builds them (the flags given, the file, the variables)."""
    ctx = cli.commands["run"].make_context("run", [str(a) for a in args])
    return build_settings(ctx.params, given_here(ctx))


def test_no_flag_means_the_settings_own_defaults(tmp_path: Path) -> None:
    made = build_settings(parse("--out-dir", tmp_path, "--box-id", "b"))
    assert made == dataclasses.replace(RunSettings(out_dir=tmp_path, box_id="b"))
    assert made.gate == GateThresholds() and made.encoders == ("auto",)


@pytest.mark.parametrize(("at", "flag"), [(at, f) for at, f, _ in flags_of(RunSettings) if not f.computed],
                         ids=lambda x: getattr(x, "opt", ""))
def test_each_flags_default_is_read_from_the_settings(at: tuple[str, ...], flag: Flag) -> None:
    default: object = RunSettings(out_dir=Path("runs"))
    for name in at:
        default = getattr(default, name)  # the setting the flag's field holds
    assert parse()[flag.name] == default


def test_each_flag_is_declared_once_in_its_settings_field_or_among_the_cli_s_own() -> None:
    """A setting's flag is declared in its field (its default beside it), the few that set none in kit/cli/flags.py
    (OWN): `run` has each once, in rank order, and the cli module declares no other flag nor any default."""
    assert len(FLAGS) == len(list(flags_of(RunSettings))) + len(OWN)
    assert len({f.opt for f in FLAGS}) == len({f.rank for f in FLAGS}) == len(FLAGS)
    options = [max(p.opts, key=len) for p in cli.commands["run"].params if p.name in BY_NAME]
    assert options == [f.opt for f in FLAGS] == [f.opt for f in sorted(FLAGS, key=lambda f: f.rank)]
    tree = ast.parse((ROOT / "kit" / "cli" / "flags.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Flag"]
    assert len(calls) == len(OWN)
    assert not any(k.arg == "default" for c in calls for k in c.keywords)


def test_a_settings_help_is_given_to_its_flag() -> None:
    """Every flag of a setting has its help, given to its Flag in its field (read as written: no source is read at
    run time); a flag without one is refused as its record's class is made, naming the flag."""
    @dataclasses.dataclass(frozen=True)
    class Helped(Record):
        given: int = setting(1, changes=changes_nothing("a record of this test"),
                             flag=Flag("--given", Int(), f"Worked out: {1 + 1}.", rank=2))

    assert flag_of(Helped, "given").help == "Worked out: 2."
    for bare in ("", "  "):
        with pytest.raises(TypeError, match=r"--bare: a setting's flag says its help"):
            setting(1, changes=changes_nothing("a record of this test"), flag=Flag("--bare", Int(), bare, rank=3))
    assert all(flag.help.strip() for flag in FLAGS), [f.opt for f in FLAGS if not f.help.strip()]
    helps = {p.name: p.help for p in cli.commands["run"].params if isinstance(p, click.Option)}
    assert helps["cqs"].startswith("Quality grid, in each encoder's own scale (the value the encoder receives): auto")
    assert "\n" not in helps["cqs"] and "  " not in helps["cqs"]


def test_a_gates_flag_is_its_threshold_fields() -> None:
    """The gate table names each threshold's flag as its GateThresholds field declares it (`--max-abs-bias`)."""
    from kit.verdict.gates import GATES

    flags = {at[-1]: flag.opt for at, flag, _ in flags_of(RunSettings) if at[0] == "gate"}
    assert {g.flag for g in GATES} <= set(flags.values())
    assert all(g.flag == flags[g.threshold] for g in GATES)
    assert [g.flag for g in GATES][:2] == ["--max-abs-bias", "--max-fold-rmse"]


@pytest.mark.parametrize("args", [
    ["--cqs", "22,30", "--seeds", "3", "--max-abs-bias", "off", "--max-fold-rmse", "7.5", "--epochs", "5",
     "--folds", "07"],
    ["--max-abs-bias", "1.23456789", "--max-fold-rmse", "0.1", "--min-mean-plcc", "0.987654321"],  # never rounded
    ["--encoders", "libx264,libx265", "--encode-depth", "source", "--min-mean-plcc", "0.9", "--min-rmse-lift", "0.7",
     "--vmaftune-crf-range", "0,63", "--fps", "30000/1001", "--width", "1920", "--height", "1080", "--jobs", "3"],
    ["--shard", "2/5", "--demo-clips", "4", "--demo-seconds", "1.5", "--batch-size", "128", "--ffmpeg", "ffmpeg"],
    ["--model-license", "MIT OR Apache-2.0", "--model-license-url", "https://spdx.org/licenses/MIT.html"],
    ["--cqs", "19,25;libsvtav1:20,32,44,56;x265:18,30", "--scales", "native,720,0.5", "--downscaler", "area",
     "--upscaler", "lanczos", "--holdout", "rung,encoder"],
])
def test_a_run_json_gives_the_very_same_settings(args: list[str], tmp_path: Path) -> None:
    """A cluster task, a training task and every printed command run with `--settings FILE`: the settings are the
    record's, placed by the command's own --out-dir, --box-id, --shard and --corpus."""
    first = settings_of(*args, "--ref-dir", tmp_path / "refs", "--out-dir", tmp_path / "o", "--box-id", "lab")
    write_run_record(Tree.open(tmp_path), tmp_path / "run.json", first, ["run"], choose_threads())
    again = settings_of("--settings", tmp_path / "run.json", *task_flags(first))
    assert again == first
    (tmp_path / "settings.json").write_text(json.dumps(first.to_json()))  # a cluster's file: the record alone
    assert settings_of("--settings", tmp_path / "settings.json", *task_flags(first)) == first


def test_a_rerun_hint_runs_with_the_runs_settings_and_its_own_flags_over_them(tmp_path: Path) -> None:
    """A hint that reruns part of a run (steps/base.rerun): the command's words, `--settings` the run.json and the
    placing flags, then the hint's own flags, which win over the file; nothing else rebuilt as a flag."""
    corpus = tmp_path / "merged.parquet"
    first = settings_of("--corpus", corpus, "--out-dir", tmp_path / "union", "--box-id", "u", "--seeds", "0,1",
                        "--min-mean-plcc", "0.5", "--epochs", "9")
    write_run_record(Tree.open(tmp_path), tmp_path / "run.json", first, ["run"], choose_threads())
    printed = settings_command(first, tmp_path / "run.json", "run", "--from", "loso", "--seeds", "3")
    words = shlex.split(printed.removeprefix(kit_command()))
    assert words == ["run", "--settings", str(tmp_path / "run.json"), "--out-dir", str(tmp_path / "union"),
                     "--box-id", "u", "--corpus", str(corpus), "--from", "loso", "--seeds", "3"]
    ctx = cli.commands["run"].make_context("run", words[1:])
    assert build_settings(ctx.params, given_here(ctx)) == dataclasses.replace(first, seeds=(3,))


def test_a_rerun_hint_without_a_run_json_says_the_run_s_other_flags_are_missing(tmp_path: Path) -> None:
    """A training task writes no run.json: before any run in its out-dir, the hint cannot name one."""
    from kit.steps.base import Context, rerun

    settings = settings_of("--out-dir", tmp_path, "--box-id", "u")
    ctx = Context(settings, lambda event: None, lambda line: None, Tree.open(tmp_path))
    placed = kit_command("step", "corpus", "--out-dir", tmp_path, "--box-id", "u", "--force")
    said = f" (with the run's other flags: no {tmp_path}/run.json yet)"
    assert rerun(ctx, "step", "corpus", "--force") == placed + said
    write_run_record(ctx.tree, tmp_path / "run.json", settings, ["run"], choose_threads())
    assert rerun(ctx, "step", "corpus", "--force") == settings_command(settings, tmp_path / "run.json", "step",
                                                                       "corpus", "--force")


def test_the_command_line_beats_the_file_which_beats_the_variables(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = dataclasses.replace(settings_of("--seeds", "3,4", "--epochs", "7", "--shard", "2/3", "--out-dir",
                                               tmp_path / "o", "--box-id", "lab"), corpus=tmp_path / "c.parquet")
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(recorded.to_json()))
    monkeypatch.setenv("KIT_SEEDS", "9")
    monkeypatch.setenv("KIT_MAX_FOLD_RMSE", "3")
    assert settings_of().seeds == (9,)  # without --settings, a variable sets its flag's setting
    made = settings_of("--settings", file, "--epochs", "8", "--out-dir", tmp_path / "p")
    assert made.seeds == (3, 4) and made.gate.max_fold_rmse is None  # the file's, not the variables'
    assert made.train.epochs == 8  # the command line's
    # where a command runs is its own: never the file's shard, corpus, out-dir or box id
    assert (made.shard, made.corpus, made.out_dir, made.box_id) == (None, None, tmp_path / "p", default_box_id())
    assert settings_of("--settings", file, "--seeds", "5").seeds == (5,)


def test_a_settings_file_that_is_no_run_s_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for text in ("[1]", '{"settings": {"seeds": "x"}}', '{"out_dir": "/o", "folds": 1}', "{"):
        bad.write_text(text)
        with pytest.raises(InputError, match=r"--settings .*bad\.json cannot be read as a run's settings"):
            settings_of("--settings", bad)
    with pytest.raises(InputError, match="cannot be read"):
        settings_of("--settings", tmp_path / "missing.json")


def test_values_arrive_typed_and_bad_ones_are_refused_at_the_flag() -> None:
    values = parse("--cqs", "31,19", "--max-abs-bias", "off", "--shard", "1/2", "--vmaftune-crf-range", "5,40")
    assert values["cqs"] == CqGrid((19, 31)) and values["max_abs_bias"] is None and values["shard"] == ShardSpec(1, 2)
    assert values["vmaftune_crf_range"] == (5, 40) and values["max_fold_rmse"] is None
    for args, message in ((["--seeds", "0,0"], "--seeds '0,0' repeats a value"),
                          (["--max-abs-bias", "0"], "neither a positive number nor off"),
                          (["--shard", "0/2"], "K must be 1..N"), (["--fps", "1/0"], "is not a frame rate"),
                          (["--encoders", "auto,libx264"], "mixes 'auto' with encoder names"),
                          (["--model-license", " "], "the license is empty"),
                          (["--model-license", "x" * 129], "the registry allows 128"),
                          (["--model-license-url", "ftp://example.org/L"], "not an absolute http"),
                          (["--model-license-url", "https://example.org/a b"], "holds spaces"),
                          (["--cqs", "libfoo:20,30"], "'libfoo' is neither an encoder nor an encoder family"),
                          (["--cqs", "x264:20;x264:30"], "gives x264 twice"), (["--cqs", "19;25"], "gives the list"),
                          (["--cqs", ";"], "is empty"), (["--cqs", "libx264:"], "is empty"),
                          (["--scales", "native,0"], "0 lines is outside 32..8640"),
                          (["--scales", "x"], "neither native, a height"),
                          (["--scales", "native,1.5"], "neither native"), (["--scales", "16"], "outside 32..8640"),
                          (["--scales", "540,540"], "repeats a rung"), (["--holdout", "rungs"], "neither encoder"),
                          (["--min-coverage", "x"], "is neither a number from 0 to 1 nor off"),
                          (["--max-out-of-range", "1.5"], "is not a number from 0 to 1"),
                          (["--holdout-min-plcc", "x"], "is neither a number from -1 to 1 nor off")):
        with pytest.raises(FlagError, match=message) as err:
            parse(*args)
        assert err.value.hint


def test_every_optional_gate_takes_off_at_its_flag() -> None:
    """An optional gate's field may be None (off, its default); its flag takes `off` too (issue 71 item 4: the
    three of them took a number only; tests/pipeline/test_gates_off.py runs each off)."""
    gates = ("min_coverage", "max_out_of_range", "holdout_min_plcc")
    assert all(parse()[name] is None for name in gates)
    on = parse("--min-coverage", "0.9", "--max-out-of-range", "0.05", "--holdout-min-plcc", "0.8")
    assert [on[name] for name in gates] == [0.9, 0.05, 0.8]
    off = parse("--min-coverage", "off", "--max-out-of-range", "OFF", "--holdout-min-plcc", "off")
    assert all(off[name] is None for name in gates)


def test_a_grid_per_encoder_and_family_resolves_as_documented() -> None:
    """An encoder's own entry wins over its family's, which wins over the list for every encoder, which wins over
    the encoder's default; out-of-range values are refused at the flag for the encoders named."""
    grid = parse("--cqs", "19,25;svtav1:30,50;libx265:18")["cqs"]
    assert grid.for_encoder("libsvtav1") == (30, 50) and grid.for_encoder("libx265") == (18,)
    assert grid.for_encoder("libx264") == (19, 25) and grid.text == "19,25;libx265:18;svtav1:30,50"
    assert parse("--cqs", grid.text)["cqs"] == grid
    auto = parse()["cqs"]
    assert auto == CqGrid() and auto.text == "auto"
    assert auto.by_encoder(["libx264", "libsvtav1", "h264_videotoolbox"]) == {
        "libx264": list(get_spec("libx264").grid), "libsvtav1": list(get_spec("libsvtav1").grid),
        "h264_videotoolbox": list(get_spec("h264_videotoolbox").grid)}
    for encoders in ("libx264", "libsvtav1"):  # a named entry is checked whatever the run's encoders
        with pytest.raises(FlagError, match=r"--cqs 'libx264:60' holds 60, outside libx264's range 0\.\.51"):
            parse("--encoders", encoders, "--cqs", "libx264:60")
    svt = build_settings(parse("--encoders", "libsvtav1", "--cqs", "libsvtav1:60"))
    assert svt.cqs.for_encoder("libsvtav1") == (60,)
    with pytest.raises(InputError, match=r"--cqs '0,50' holds 0, outside h264_videotoolbox's range 1\.\.100"):
        build_settings(parse("--encoders", "h264_videotoolbox", "--cqs", "0,50"))


def test_usage_errors_print_as_the_kit_prints_errors() -> None:
    from click.testing import CliRunner

    res = CliRunner().invoke(cli, ["run", "--cqs", "19,abc"])
    assert res.exit_code == 2
    assert res.output.splitlines() == ["error: --cqs '19,abc' is not a comma-separated list of whole numbers",
                                       "hint: e.g. --cqs 19,25,31,37"]
    res = CliRunner().invoke(cli, ["run", "--no-such-flag"])
    assert res.exit_code == 2 and res.output.splitlines()[1] == f"hint: see `{kit_command('run', '--help')}`"
    res = CliRunner().invoke(cli, ["run", "--seeds", "x"], env={"KIT_SEEDS": "x"})
    assert "(from KIT_SEEDS)" not in res.output  # given on the command line
    res = CliRunner().invoke(cli, ["run"], env={"KIT_SEEDS": "x"})
    assert res.output.startswith("error: --seeds 'x' is not a comma-separated list of whole numbers (from KIT_SEEDS)")


def test_the_status_default_out_dir_is_the_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.cli.status import default_out_dir

    monkeypatch.setenv("KIT_BOX_ID", "lab-box")
    monkeypatch.delenv("KIT_OUT_DIR", raising=False)
    assert default_out_dir() == Path("runs") / "lab-box" == build_settings(parse()).out_dir.relative_to(Path.cwd())
    assert isinstance(cli.commands["run"], click.Command)


@pytest.mark.parametrize(("box", "why"), [("boîte-1", "holds characters"), ("lab box", "holds characters"),
                                          ("a/b", "holds characters"), ("lab.", "starts or ends with"),
                                          ("-lab", "starts or ends with"),
                                          ("a" * 70, "is 70 characters long, over 64")])
def test_a_box_id_a_file_name_cannot_hold_is_refused_with_the_name_it_could_be(box: str, why: str) -> None:
    """Not renamed without a word (`boîte-1` became `bo-te-1` in kit 0.1): refused with its own cause, the safe name
    offered."""
    with pytest.raises(InputError) as caught:
        build_settings(parse("--box-id", box))
    assert f"--box-id {box!r} {why}" in str(caught.value) and "--box-id " in caught.value.hint


@pytest.mark.parametrize("scheduler", ["slurm", "ray"])
def test_a_cluster_refuses_the_box_id_run_refuses(scheduler: str, tmp_path: Path) -> None:
    """`slurm`/`ray --box-id "lab box"` is refused as `run`'s is (it once ran silently as lab-box), before any file."""
    from click.testing import CliRunner

    out = tmp_path / "root"
    res = CliRunner().invoke(cli, [scheduler, "--dry-run", "--shards", "2", "--box-id", "lab box", "--out-dir",
                                   str(out)])
    assert res.exit_code == 2, res.output
    assert "--box-id 'lab box' holds characters a file name may not" in res.output and "--box-id lab-box" in res.output
    assert not out.exists()


def test_a_run_on_a_given_corpus_is_the_union_unless_named(tmp_path: Path) -> None:
    corpus = tmp_path / "merged.parquet"
    corpus.write_bytes(b"")
    assert build_settings(parse("--corpus", corpus)).box_id == "union"
    assert build_settings(parse("--corpus", corpus, "--box-id", "lead-2")).box_id == "lead-2"
    assert build_settings(parse()).box_id != "union"


def test_a_path_with_dotdot_after_a_link_is_the_one_the_kernel_writes(tmp_path: Path) -> None:
    real = tmp_path / "real" / "inner"
    real.mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    made = build_settings(parse("--out-dir", tmp_path / "link" / ".." / "out", "--box-id", "b"))
    assert made.out_dir == tmp_path / "real" / "out"  # the link's parent, as the kernel resolves `..`


def test_the_ref_dir_help_names_every_container_the_kit_reads() -> None:
    """`run --help` for --ref-dir lists each extension discovery takes (kit.media.refs.CLIP_EXTS), none left out."""
    from click.testing import CliRunner

    from kit.media.containers import DIRECT_EXTS, INTERMEDIATE_EXTS

    text = " ".join(CliRunner().invoke(cli, ["run", "--help"], terminal_width=2000).output.split())
    line = text[text.index("--ref-dir"):text.index("--content-groups")]
    named = set(re.findall(r"\.[a-z0-9]+", line))
    assert named >= {".y4m", ".yuv", *DIRECT_EXTS, *INTERMEDIATE_EXTS}, sorted(named)


@pytest.mark.parametrize("command", [path for path in ("run", "step", "slurm", "ray")])
def test_an_empty_box_id_is_refused_naming_the_flag(command: str, tmp_path: Path) -> None:
    """`--box-id ''` became the host name without a word (issue 91, item 6): refused, exit 2, in one line, by every
    command that takes it; its variable set empty is unset, as every variable's, and is not refused."""
    from click.testing import CliRunner

    from kit.cli.main import cli

    args = [command, *(["prereqs"] if command == "step" else []), "--out-dir", str(tmp_path / "out")]
    for empty in ("", " "):
        res = CliRunner().invoke(cli, [*args, "--box-id", empty])
        assert res.exit_code == 2, res.output
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
        assert errors == [f"error: --box-id {empty!r} is empty: the box is named by it in its rows and its results "
                          "tarball"], res.stderr
        assert not (tmp_path / "out").exists()
    unset = CliRunner().invoke(cli, ["status", str(tmp_path / "none")], env={"KIT_BOX_ID": ""})
    assert "box-id" not in unset.stderr and "KIT_BOX_ID" not in unset.stderr, unset.stderr
