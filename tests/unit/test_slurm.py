"""`--shard auto` (the Slurm array rule), `{shard}` in --out-dir/--box-id, and the scripts `slurm` writes."""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kit.cli.flags import build_settings
from kit.cli.main import cli
from kit.cluster.slurm import HOLD_GOES_ON
from kit.corpus.split import ShardSpec, parse_shard
from kit.errors import InputError
from kit.infra.arrays import slurm_position as array_position
from kit.infra.host import default_box_id
from kit.infra.invocation import kit_command
from kit.steps.settings import RunSettings, settings_command


def env(task: int | None = None, lo: int | None = None, hi: int | None = None, count: int | None = None,
        step: int | None = None) -> dict[str, str]:
    values = {"ID": task, "MIN": lo, "MAX": hi, "COUNT": count, "STEP": step}
    return {f"SLURM_ARRAY_TASK_{k}": str(v) for k, v in values.items() if v is not None}


# (environment, shard K/N) -- a 0-based and a 1-based array both give shards 1..N
MAPPED = [
    (env(0, 0, 2, 3, 1), (1, 3)), (env(1, 0, 2, 3, 1), (2, 3)), (env(2, 0, 2, 3, 1), (3, 3)),  # --array=0-2
    (env(1, 1, 3, 3, 1), (1, 3)), (env(2, 1, 3, 3, 1), (2, 3)), (env(3, 1, 3, 3, 1), (3, 3)),  # --array=1-3
    (env(7, 5, 8, 4), (3, 4)),  # --array=5-8: any contiguous range
    (env(0, 0, 0, 1), (1, 1)),  # one task
    (env(4, 1, 5), (4, 5)),  # no COUNT: MIN/MAX alone
    (env(2, 0, count=4), (3, 4)),  # no MAX: MIN and COUNT
]


@pytest.mark.parametrize(("environ", "expected"), MAPPED)
def test_array_tasks_map_to_shards(environ: dict[str, str], expected: tuple[int, int]) -> None:
    pos = array_position(environ)
    assert pos is not None and (pos.k, pos.n) == expected
    spec = parse_shard("auto", environ)
    assert spec == ShardSpec(*expected) and spec is not None and spec.how.startswith("--shard auto: Slurm array task")


@pytest.mark.parametrize("base", [0, 1, 10])
def test_every_shard_exactly_once(base: int) -> None:
    n = 7
    shards = [array_position(env(t, base, base + n - 1, n, 1)) for t in range(base, base + n)]
    assert sorted((p.k, p.n) for p in shards if p) == [(k, n) for k in range(1, n + 1)]


# (environment, words of the one-line cause) -- each refused with exit 2
REFUSED = [
    (env(3, 1, 4, 3, 1), "has 3 task(s) but spans 1..4"),  # --array=1,3,4: a list
    (env(3, 0, 6, 3, 3), "step of 3"),  # --array=0-6:3
    (env(None, 0, 2, 3), "SLURM_ARRAY_TASK_ID not set"),
    (env(1, None, 2, 3), "SLURM_ARRAY_TASK_MIN not set"),
    (env(1, 0), "number of shards is unknown"),
    (env(5, 0, 2, 3), "SLURM_ARRAY_TASK_ID=5 is outside the array 0..2"),
    (env(0, 1, 3, 3), "SLURM_ARRAY_TASK_ID=0 is outside the array 1..3"),
    ({**env(1, 0, 2), "SLURM_ARRAY_TASK_ID": "x1"}, "'x1' is not a whole number"),
    ({"SLURM_ARRAY_JOB_ID": "77"}, "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_MIN not set"),
]


@pytest.mark.parametrize(("environ", "cause"), REFUSED)
def test_inconsistent_array_variables_are_refused(environ: dict[str, str], cause: str) -> None:
    with pytest.raises(InputError, match="--shard auto") as info:
        parse_shard("auto", environ)
    assert cause in info.value.message and info.value.hint and info.value.exit_code == 2


def test_auto_outside_an_array_is_the_whole_set_and_says_so() -> None:
    assert array_position({"SLURM_JOB_ID": "12"}) is None  # a plain batch job is no array task
    spec = parse_shard(" AUTO ", {})
    assert spec == ShardSpec(1, 1) and spec is not None
    assert "not in an array task" in spec.how and "(1/1)" in spec.how


def settings_of(*args: str | Path) -> RunSettings:
    """The settings `run` would run with for these flags (parsed by click, as on the command line)."""
    return build_settings(cli.commands["run"].make_context("run", [str(a) for a in args]).params)


def test_auto_box_id_and_shard_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in env(2, 1, 3, 3, 1).items():
        monkeypatch.setenv(name, value)
    s = settings_of("--shard", "auto")
    assert s.shard == ShardSpec(2, 3) and s.box_id == f"{default_box_id()}-shard2of3"
    assert s.out_dir == (Path("runs") / s.box_id).absolute()
    s = settings_of("--shard", "auto", "--box-id", "lab-{shard}", "--out-dir", tmp_path / "shared" / "{shard}")
    assert s.box_id == "lab-shard2of3" and s.out_dir == tmp_path / "shared" / "shard2of3"
    s = settings_of("--shard", "2/4", "--out-dir", tmp_path / "{shard}")
    assert s.out_dir == tmp_path / "shard2of4" and s.box_id == default_box_id()  # K/N keeps the host name
    with pytest.raises(InputError, match=r"holds \{shard\} but no --shard is given"):
        settings_of("--out-dir", tmp_path / "{shard}")


def test_a_long_host_name_keeps_the_shard_in_the_box_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kit.infra.host.default_box_id", lambda: "h" * 80)
    for name, value in env(11, 0, 11).items():
        monkeypatch.setenv(name, value)
    box = settings_of("--shard", "auto").box_id
    assert box.endswith("-shard12of12") and len(box) <= 64


def test_status_command_names_the_resolved_shard() -> None:
    """Typed outside the array task that recorded it, `--shard auto` would mean 1/1: the command names the shard
    it resolved to, and auto's default box id (<host>-shard<K>of<N>: K/N alone gives <host>, and redoes every job)."""
    settings = RunSettings(out_dir=Path("/s/shards/shard2of3"), box_id="node7-shard2of3", shard=ShardSpec(2, 3, "auto"))
    assert settings_command(settings, Path("/s/shards/shard2of3/run.json"), "run") == kit_command(
        "run", "--settings", "/s/shards/shard2of3/run.json", "--out-dir", "/s/shards/shard2of3", "--box-id",
        "node7-shard2of3", "--shard", "2/3")


# -- the scripts ------------------------------------------------------------------------------------------
@pytest.fixture
def refs(tmp_path: Path) -> Path:
    folder = tmp_path / "my clips"  # only listed at submission, never read
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        (folder / f"{name}.y4m").write_bytes(b"YUV4MPEG2 ")
    return folder


def dry_run(*args: str | Path, environ: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    res = CliRunner().invoke(cli, ["slurm", "--dry-run", *map(str, args)], env=environ)
    scripts: dict[str, str] = {}
    for part in res.stdout.split("# ==> ")[1:]:
        head, text = part.split("\n", 1)
        scripts[Path(head.removesuffix(" <==")).name] = text
    return res.exit_code, scripts, res.stderr


def kit_lines(script: str) -> list[list[str]]:
    """Every line of the script that calls the kit, as the argv bash gives it (a HOLD that goes on left off)."""
    return [shlex.split(line.split(" || ")[0]) for line in script.splitlines()
            if ("__main__.py" in line or "ensemble-kit " in line) and not line.startswith(("#", "  echo"))]


def test_dry_run_prints_the_settings_and_both_scripts(refs: Path, tmp_path: Path) -> None:
    root = tmp_path / "shared runs" / "it's"  # a space and a quote: bash must get them back intact
    flags = ["--encoders", "libx264", "--cqs", "22,30", "--seeds", "0,1,2", "--min-mean-plcc", "0.9",
             "--max-plcc-spread", "0.01", "--min-seed-plcc", "0.85", "--max-abs-bias", "off", "--epochs", "5"]
    code, scripts, err = dry_run("--shards", "3", "--ref-dir", refs, "--out-dir", root, "--box-id", "lab",
                                 "--partition", "cpu q", "--time", "2:00:00", "--cpus-per-task", "4", "--mem", "8G",
                                 "--sbatch-arg=--account=vq", "--sbatch-arg", "--exclusive", *flags,
                                 environ={"KIT_JOBS": "2", "KIT_CACHE_DIR": "/cache dir"})
    assert code == 0, err
    assert set(scripts) == {"settings.json", "array.sh", "union.sh"} and "dry run: nothing written or submitted" in err
    assert not root.exists()  # a dry run writes nothing
    # every task reads the submission's settings from one file: the flags' and the variables' (KIT_JOBS)
    recorded = RunSettings.from_json(json.loads(scripts["settings.json"]))
    assert recorded == dataclasses.replace(settings_of(*flags, "--ref-dir", refs, "--jobs", "2"), out_dir=root,
                                           box_id="lab")
    array, union = scripts["array.sh"], scripts["union.sh"]
    for text, name in ((array, "corpus"), (union, "union")):
        assert f"#SBATCH --job-name=ensemble-kit-{name}" in text
        for line in ('#SBATCH --partition="cpu q"', "#SBATCH --time=2:00:00", "#SBATCH --cpus-per-task=4",
                     "#SBATCH --mem=8G", "#SBATCH --account=vq", "#SBATCH --exclusive"):
            assert line in text.splitlines(), line
        assert "export KIT_CACHE_DIR='/cache dir'" in text
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0  # valid bash
    assert "#SBATCH --array=1-3" in array and "#SBATCH --array" not in union
    assert f'#SBATCH --output="{root}/slurm/logs/corpus-%A_%a.out"' in array
    prereqs, corpus = kit_lines(array)
    union_merge, union_loso, union_verdict, union_run = kit_lines(union)  # each step in a process of its own
    assert [line for line in union.splitlines() if line.endswith(HOLD_GOES_ON)] == [shlex.join(union_verdict)
                                                                                    + HOLD_GOES_ON]
    for argv in (prereqs, corpus, union_loso, union_verdict, union_run):
        assert Path(argv[0]).is_absolute() and Path(argv[1]).is_file()  # this python, the kit's __main__.py
        assert argv[argv.index("--settings") + 1] == f"{root}/slurm/settings.json"
    assert prereqs[2:4] == ["step", "prereqs"] and corpus[2:4] == ["step", "corpus"]
    for argv in (prereqs, corpus):
        assert argv[6:] == ["--shard", "auto", "--out-dir", f"{root}/shards/{{shard}}", "--box-id", "lab-{shard}"]
    assert union_merge[2] == "merge" and union_merge[3:6] == [f"{root}/shards/shard{k}of3" for k in (1, 2, 3)]
    assert union_merge[6:] == ["-o", f"{root}/union.parquet"]
    on_union = ["--settings", f"{root}/slurm/settings.json", "--corpus", f"{root}/union.parquet", "--out-dir",
                f"{root}/union", "--box-id", "lab"]
    assert (union_loso[2:], union_verdict[2:], union_run[2:]) == (["step", "loso", *on_union],
                                                                  ["step", "verdict", *on_union], ["run", *on_union])


def test_defaults_are_left_to_the_jobs(refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, scripts, err = dry_run("--shards", "2", "--ref-dir", "my clips", environ={"KIT_CACHE_DIR": "cache"})
    assert code == 0, err
    prereqs = kit_lines(scripts["array.sh"])[0]
    assert prereqs[4:] == ["--settings", f"{tmp_path}/runs/slurm/slurm/settings.json", "--shard", "auto", "--out-dir",
                           f"{tmp_path}/runs/slurm/shards/{{shard}}", "--box-id", f"{default_box_id()}-{{shard}}"]
    recorded = RunSettings.from_json(json.loads(scripts["settings.json"]))  # the relative --ref-dir made absolute
    assert recorded == RunSettings(out_dir=tmp_path / "runs" / "slurm", box_id=default_box_id(), ref_dir=refs)
    assert not any(line.startswith("cd ") for line in scripts["array.sh"].splitlines())  # all paths absolute
    assert f"export KIT_CACHE_DIR={tmp_path}/cache" in scripts["array.sh"].splitlines()


@pytest.mark.parametrize(("args", "cause"), [
    (["--corpus", "x.parquet"], "--corpus cannot be used with `slurm`"),
    (["--shard", "1/2"], "--shard cannot be used with `slurm`"),
    (["--force"], "--force cannot be used with `slurm`"),
    (["--only", "loso"], "--only cannot be used with `slurm`"),
    (["--shards", "5"], "--shards 5 but"),
    (["--cqs", "19,99"], "outside"),
    (["--sbatch-arg", "account=x"], "is not an sbatch option"),
    (["--partition", 'a"b'], "which an #SBATCH line cannot carry"),
    (["--out-dir", "runs/{shard}"], "holds {shard}"),
])
def test_bad_slurm_flags_exit_2_before_anything_is_written(refs: Path, tmp_path: Path, args: list[str],
                                                           cause: str) -> None:
    full = ["--shards", "2", "--ref-dir", str(refs), "--out-dir", str(tmp_path / "o"), *args]
    if "--shards" in args:
        full = full[2:]
    res = CliRunner().invoke(cli, ["slurm", *full])
    assert res.exit_code == 2, res.output
    assert cause in res.stderr and "hint: " in res.stderr and "Traceback" not in res.output, res.stderr
    assert not (tmp_path / "o").exists()


def test_a_refused_flag_from_the_environment_says_so(refs: Path) -> None:
    res = CliRunner().invoke(cli, ["slurm", "--dry-run", "--shards", "2", "--ref-dir", str(refs)],
                             env={"KIT_CORPUS": "x.parquet"})
    assert res.exit_code == 2 and "--corpus (from KIT_CORPUS) cannot be used" in res.stderr


def test_without_sbatch_the_scripts_are_kept_and_the_hint_says_how_to_submit_them(
        refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on it
    root = tmp_path / "o"
    res = CliRunner().invoke(cli, ["slurm", "--shards", "2", "--ref-dir", str(refs), "--out-dir", str(root)])
    assert res.exit_code == 2 and "sbatch not found" in res.stderr, res.output
    for name in ("array.sh", "union.sh"):
        script = root / "slurm" / name
        assert script.is_file() and script.stat().st_mode & 0o111
    # the hint says what happened and what --dry-run does (it writes nothing), and how to submit what was written
    hint = " ".join(line for line in res.stderr.splitlines() if line.startswith("hint: "))
    assert "the scripts are written and kept" in hint and "(--dry-run only prints the scripts)" in hint, hint
    assert f"sbatch {root}/slurm/array.sh, then sbatch --dependency=afterok:N --kill-on-invalid-dep=yes " \
           f"{root}/slurm/union.sh with N the job id the first one printed" in hint, hint
    dry = CliRunner().invoke(cli, ["slurm", "--dry-run", "--shards", "2", "--ref-dir", str(refs), "--out-dir",
                                   str(tmp_path / "dry")])
    assert dry.exit_code == 0 and not (tmp_path / "dry").exists()
    helptext = " ".join(CliRunner().invoke(cli, ["slurm", "--help"]).output.split())
    assert "--dry-run Print the batch scripts; write and submit nothing. Without it, on a host with no " \
           "sbatch, the scripts are written and kept" in helptext


def test_the_kits_own_array_variable_places_a_task_and_two_schedulers_must_agree() -> None:
    from kit.infra.arrays import array_position as placed

    assert parse_shard("auto", {"KIT_ARRAY_TASK": "2/5"}) == ShardSpec(2, 5)
    assert placed({"KIT_ARRAY_TASK": "3/3", **env(2, 0, 2)}) is not None  # both say task 3 of 3
    with pytest.raises(InputError, match="placed twice, differently"):
        placed({"KIT_ARRAY_TASK": "1/3", **env(2, 0, 2)})
    for bad in ("0/3", "4/3", "x"):
        with pytest.raises(InputError, match="KIT_ARRAY_TASK"):
            placed({"KIT_ARRAY_TASK": bad})


# -- sbatch failing (issue 98, item 6): each way a Slurm client or daemon fails is the kit's one line, exit 2, with
# `retry:` where the same command again can submit (munge or the controller mended), never exit 70 ----------------
MUNGE_DOWN = """sbatch: error: If munged is up, restart with --num-threads=10
sbatch: error: Munge encode failed: Failed to access "/run/munge/munge.socket.2": No such file or directory (Did you start munged?)
sbatch: error: slurm_send_node_msg: auth_g_create: REQUEST_SUBMIT_BATCH_JOB has authentication error
sbatch: error: Batch job submission failed: Protocol authentication error"""  # noqa: E501  (sbatch 22.05's words, captured)
OTHER_KEY = "sbatch: error: Batch job submission failed: Invalid authentication credential"
CONTROLLER_DOWN = "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"
CONTROLLER_SLOW = "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
PARTITION = """sbatch: error: invalid partition specified: nope
sbatch: error: Batch job submission failed: Invalid partition name specified"""
TIME_LIMIT = ("sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some "
              "limit)")
MUNGE_WORDS = "munge, Slurm's authentication, is not running on this host or holds another key than the cluster's"
CONTROLLER_WORDS = "the Slurm controller (slurmctld) does not answer"


@dataclasses.dataclass(frozen=True)
class SbatchCase:
    body: str  # the fake sbatch's shell lines
    said: str  # what the error line says after `error: `, {script} the array script's path
    retry: bool  # whether `retry:` (the same command again) is printed
    whole: bool = True  # one line: none of sbatch's own lines under it


def failing(stderr: str, code: int = 1) -> str:
    return "cat >&2 <<'WORDS'\n" + stderr + "\nWORDS\nexit " + str(code)


SBATCH_CASES = {
    "munge down": SbatchCase(failing(MUNGE_DOWN), f"sbatch could not submit {{script}}: {MUNGE_WORDS} ('Batch job "
                                                  "submission failed: Protocol authentication error')", True),
    "another munge key": SbatchCase(failing(OTHER_KEY), f"sbatch could not submit {{script}}: {MUNGE_WORDS} ('Batch "
                                                        "job submission failed: Invalid authentication credential')",
                                    True),
    "controller down": SbatchCase(failing(CONTROLLER_DOWN), f"sbatch could not submit {{script}}: {CONTROLLER_WORDS} "
                                                            "('Batch job submission failed: Unable to contact slurm "
                                                            "controller (connect failure)')", True),
    "controller slow": SbatchCase(failing(CONTROLLER_SLOW), f"sbatch could not submit {{script}}: {CONTROLLER_WORDS} "
                                                            "('Batch job submission failed: Socket timed out on "
                                                            "send/recv operation')", True),
    "partition refused": SbatchCase(failing(PARTITION), "Slurm refused {script}: 'Invalid partition name specified'",
                                    False),
    "time refused": SbatchCase(failing(TIME_LIMIT), "Slurm refused {script}: 'Requested time limit is invalid "
                                                    "(missing or exceeds some limit)'", False),
    "sbatch crashes": SbatchCase("kill -SEGV $$", "sbatch crashed (SIGSEGV) submitting {script}", True),
    "sbatch fails otherwise": SbatchCase(failing("sbatch: fatal: something new", 3), "sbatch refused {script} (exit 3)",
                                         True, whole=False),
    "no job id": SbatchCase("echo Submitted", "sbatch printed no job id for {script}: 'Submitted'", True, whole=False),
    "sbatch hangs": SbatchCase("exec sleep 60", f"sbatch could not submit {{script}}: {CONTROLLER_WORDS} (no answer "
                                                "within 1 s)", True),
}


@pytest.mark.parametrize("case", sorted(SBATCH_CASES))
def test_each_way_sbatch_fails_is_one_line_and_exit_2(case: str, refs: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake sbatch on the PATH for each way the real one fails (its words captured from sbatch 22.05 with munged or
    slurmctld stopped, tests/pipeline/test_slurm.py runs those for real): before, every one said `sbatch refused …
    (exit 1)` with sbatch's lines under it and a hint about partitions, whatever the cause, and none said `retry:`."""
    from kit.infra import slurm as slurm_module

    c = SBATCH_CASES[case]
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "sbatch").write_text(f"#!/bin/sh\n{c.body}\n")
    (folder / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    monkeypatch.setattr(slurm_module, "SBATCH_TIMEOUT_S", 1.0)  # the hanging one's
    root = tmp_path / "o"
    res = CliRunner().invoke(cli, ["slurm", "--shards", "2", "--ref-dir", str(refs), "--out-dir", str(root)])
    said = res.stderr.splitlines()
    errors = [line for line in said if line.startswith("error: ")]
    assert res.exit_code == 2 and len(errors) == 1, res.stderr
    assert errors[0].startswith("error: " + c.said.format(script=root / "slurm" / "array.sh")), errors[0]
    assert "Traceback" not in res.output and "internal error" not in res.output
    assert any(line.startswith("retry: ") for line in said) == c.retry, res.stderr
    assert not c.whole or not any(line.startswith("    | ") for line in said), res.stderr
    assert "partition" not in " ".join(said) or "refused" in errors[0]  # a partition's hint only for a refusal


def test_a_later_script_sbatch_fails_on_names_the_jobs_submitted_and_offers_no_retry(
        refs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The array is submitted, the union's sbatch meets munge down: the jobs submitted are named, and the same
    command again (which would submit them again) is not offered; the hint submits the rest."""
    folder, count = tmp_path / "bin", tmp_path / "count"
    folder.mkdir()
    (folder / "sbatch").write_text(f"#!/bin/sh\nif [ -e {count} ]; then\n{failing(MUNGE_DOWN)}\nfi\ntouch {count}\n"
                                   "echo 41\n")
    (folder / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    root = tmp_path / "o"
    res = CliRunner().invoke(cli, ["slurm", "--shards", "2", "--ref-dir", str(refs), "--out-dir", str(root)])
    (error,) = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert res.exit_code == 2 and error.startswith(f"error: job(s) 41 are submitted, but union.sh is not: sbatch "
                                                   f"could not submit {root / 'slurm' / 'union.sh'}: {MUNGE_WORDS}")
    assert "retry: " not in res.stderr and "hint: fix the cause, then: sbatch --dependency=afterok:41" in res.stderr
