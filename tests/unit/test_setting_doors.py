"""One validation of a run's settings, whatever their door (issue 52, items 1 and 7): a flag, its KIT_ variable, a
`--settings` file (a cluster's settings.json, a run.json given to a resume or a task) and a run.json read back by
`status` are checked with the same rules, declared in the records' fields with their defaults (RunSettings,
GateThresholds, TrainConfig: kit.infra.changes.setting; the grid's, CqGrid). A refusal is exit 2 naming the key (or
the flag), the value, the file and the rule, before any step runs: here no step may start at all (`no_step_runs`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.errors import InputError
from kit.infra.changes import field_rules, flags_of
from kit.infra.tree import Tree
from kit.model.recipe import TrainConfig
from kit.model.threads import choose_threads
from kit.platforms.grids import CqGrid
from kit.steps.records import write_run_record
from kit.steps.settings import RunSettings
from kit.verdict.thresholds import GateThresholds
from tests.conftest import run_here


@dataclasses.dataclass(frozen=True)
class Bad:
    key: str  # dotted, in the settings document
    value: object  # as the file holds it
    shown: str  # the value as the message spells it (the record's reading: 5 -> 5.0 for a float)
    rule: str  # words of the rule broken
    flag: tuple[str, ...] = ()  # the same value through the flag door, where the setting has a flag
    flag_rule: str = ""  # the flag door's words, where the flag's parser says it first


CASES = (
    Bad("out_dir", "runs/o", '"runs/o"', "is not an absolute path"),
    Bad("ref_dir", "refs", '"refs"', "is not an absolute path"),
    Bad("width", 8, "8", "is not a whole number from 16 to 16384", ("--width", "8")),
    Bad("height", 20000, "20000", "is not a whole number from 16 to 16384", ("--height", "20000")),
    Bad("fps", "0", '"0"', "is not a frame rate above 0 and at most 1000", ("--fps", "0")),
    Bad("encoders", ["libfoo"], '["libfoo"]', "unknown encoder 'libfoo'", ("--encoders", "libfoo")),
    # an entry of an encoder not in the run is checked against its own range (it once was not)
    Bad("cqs", {"named": {"libsvtav1": [99]}}, '{"every": [], "named": {"libsvtav1": [99]}}',
        "holds 99, outside libsvtav1's range 1..63", ("--encoders", "libx264", "--cqs", "libsvtav1:99")),
    Bad("cqs", {"named": {"": [25]}}, '"named": {"": [25]}', "names '', which is neither an encoder nor",
        ("--cqs", ":25"), "gives 25 after ':' but names no encoder before it"),  # `:25` was the list for every one
    Bad("cqs", {"every": [19, 19]}, '{"every": [19, 19]', "repeats a value in the list for every encoder",
        ("--cqs", "19,19")),
    Bad("scales", ["0.0001"], '["0.0001"]', "holds 0.0001, which gives no picture", ("--scales", "0.0001")),
    Bad("scales", ["540", "540"], '["540", "540"]', "repeats a rung", ("--scales", "540,540")),
    Bad("scales", [], "[]", "is empty", ("--scales", ",")),
    Bad("downscaler", "magic", '"magic"', "is not one of lanczos", ("--downscaler", "magic"), "'magic' is not one of"),
    Bad("upscaler", "magic", '"magic"', "is not one of lanczos", ("--upscaler", "magic"), "'magic' is not one of"),
    Bad("teacher", "model.json", '"model.json"', "nor a model file's absolute path"),
    Bad("seeds", [0, 0], "[0, 0]", "repeats a value", ("--seeds", "0,0")),  # once HOLD for a spread of 0
    Bad("seeds", [], "[]", "is empty", ("--seeds", "")),
    Bad("seeds", [-1], "[-1]", "holds -1, which is not a whole number from 0 to 2147483647", ("--seeds", "-1")),
    Bad("folds", 1, "1", "is neither loso, auto nor a number of folds of at least 2", ("--folds", "1")),
    Bad("corpus", "c.parquet", '"c.parquet"', "is not an absolute path"),
    Bad("jobs", 999, "999", "is not a whole number from 0 to 256", ("--jobs", "999")),
    Bad("ffmpeg", "ffmpeg", '"ffmpeg"', "is not an absolute path"),
    Bad("demo_clips", 65, "65", "is not a whole number from 0 to 64", ("--demo-clips", "65")),
    Bad("demo_seconds", 61, "61.0", "is not a number from 0 to 60", ("--demo-seconds", "61")),
    # issue 60: an infinity (JSON's extension Python reads) is said as the file wrote it, once said as null
    Bad("demo_seconds", float("-inf"), "-Infinity", "is not a number from 0 to 60"),
    Bad("gate.mean_plcc_min", float("inf"), " Infinity", "is not a number from -1 to 1"),
    Bad("incumbent", "inc", '"inc"', "is not an absolute path"),
    Bad("shard", {"k": 3, "n": 2}, '{"k": 3, "n": 2', "is not K/N with 1 <= K <= N", ("--shard", "3/2"),
        "K must be 1..N"),
    Bad("vmaftune_crf_range", [51, 10], "[51, 10]", "is not MIN,MAX with MIN < MAX",  # once exported so on PROMOTE
        ("--vmaftune-crf-range", "51,10")),
    Bad("vmaftune_crf_range", [10, 300], "[10, 300]", "holds 300, which is not a whole number from 0 to 255",
        ("--vmaftune-crf-range", "10,300")),
    Bad("consumer_window", 0, "0.0", "is not a number above 0 and at most 3600", ("--consumer-window", "0")),
    Bad("consumer_samplings", "all", '"all"', "is not one of cut, encoded", ("--consumer-samplings", "all"),
        "'all' is not one of"),
    Bad("model_license", "", '""', "the license is empty", ("--model-license", " ")),
    Bad("model_license_url", "ftp://example.org/L", '"ftp://example.org/L"', "not an absolute http",
        ("--model-license-url", "ftp://example.org/L")),
    Bad("encode_depth", "12bit", '"12bit"', "is not one of 8bit, source", ("--encode-depth", "12bit"),
        "'12bit' is not one of"),
    Bad("content_groups", "g.json", '"g.json"', "is not an absolute path"),
    Bad("interval_level", None, "null", "is not a number from 0.5 to 0.999", ("--interval-level", "0.3")),
    Bad("holdout", ["rungs"], '["rungs"]', "holds 'rungs', which is neither encoder, box nor rung",
        ("--holdout", "rungs")),
    Bad("train_tasks", -3, "-3", "is not a whole number from 0 to 4096", ("--train-tasks", "-3")),
    Bad("group_shared", "yes", "", "'yes' is not a bool"),
    Bad("strict", 1, "", "1 is not a bool"),
    Bad("keep_paths", "no", "", "'no' is not a bool"),
    Bad("gate.mean_plcc_min", 5, "5.0", "is not a number from -1 to 1", ("--min-mean-plcc", "5")),
    Bad("gate.plcc_spread_max", -0.1, "-0.1", "is not a number from 0 to 1e+12", ("--max-plcc-spread", "-0.1")),
    Bad("gate.per_seed_plcc_min", -2, "-2.0", "is not a number from -1 to 1", ("--min-seed-plcc", "-2")),
    Bad("gate.min_rmse_lift", 0, "0.0", "is neither a positive number nor off", ("--min-rmse-lift", "0")),
    Bad("gate.min_content_groups", 0, "0", "is not a whole number from 1 to 1000000", ("--min-content-groups", "0")),
    Bad("gate.max_abs_bias", -1, "-1.0", "is neither a positive number nor off", ("--max-abs-bias", "-1")),
    Bad("gate.max_fold_rmse", 0, "0.0", "is neither a positive number nor off", ("--max-fold-rmse", "0")),
    Bad("gate.min_coverage", 1.5, "1.5", "is not a number from 0 to 1", ("--min-coverage", "1.5")),
    Bad("gate.max_out_of_range", 2, "2.0", "is not a number from 0 to 1", ("--max-out-of-range", "2")),
    Bad("gate.holdout_min_plcc", 3, "3.0", "is not a number from -1 to 1", ("--holdout-min-plcc", "3")),
    Bad("gate.consumer_tolerance", 0, "0.0", "is not a number above 0 and at most 100", ("--consumer-tolerance", "0")),
    Bad("gate.min_consumer_share", 1.5, "1.5", "is not a number from 0 to 1", ("--min-consumer-share", "1.5")),
    Bad("gate.min_consumer_content_share", -1, "-1.0", "is not a number from 0 to 1",
        ("--min-consumer-content-share", "-1")),
    Bad("gate.max_consumer_ceiling_gap", 2, "2.0", "is not a number from 0 to 1", ("--max-consumer-ceiling-gap", "2")),
    Bad("gate.max_clip_error", {"p1": 0}, '{"p1": 0.0}', "gives p1 the limit 0.0: each limit must be above 0",
        ("--max-clip-error", "p1:0")),
    Bad("gate.max_clip_error", {"p2": 4}, '{"p2": 4.0}', "names 'p2', which is none of mean"),
    Bad("gate.max_bias", 3, "3", "is no key the kit reads there (did you mean max_abs_bias?)"),
    Bad("train.hidden", 0, "0", "is not a whole number from 1 to 4096"),
    Bad("train.dropout", 2.0, "2.0", "is not a number of at least 0 and below 1"),
    Bad("train.lr", 0, "0.0", "is not a number above 0 and at most 1"),
    Bad("train.weight_decay", -1, "-1.0", "is not a number from 0 to 1"),
    Bad("train.epochs", 0, "0", "is not a whole number from 1 to 10000", ("--epochs", "0")),  # once a verdict
    Bad("train.batch_size", 0, "0", "is not a whole number from 1 to 1048576", ("--batch-size", "0")),
    Bad("train.max_samples", 0, "0", "is not a whole number from 1 to"),
    Bad("train.max_steps", 0, "0", "is not a whole number from 1 to"),
    Bad("train.max_batch", 0, "0", "is not a whole number from 1 to 1048576"),
    Bad("train.inputs", "canonical7", '"canonical7"', "is not one of canonical6", ("--inputs", "canonical7"),
        "'canonical7' is not one of"),
    Bad("train.recipe", "soup", '"soup"', "is not one of teacher", ("--recipe", "soup"), "'soup' is not one of"),
    Bad("train.teacher_samples", 10, "10", "is not a whole number from 1000 to 10000000"),
    Bad("train.tune_steps", -1, "-1", "is not a whole number from 0 to"),
    Bad("train.tune_batch", 2, "2", "is not a whole number from 3 to 65536"),
    Bad("train.tune_lr", 2, "2.0", "is not a number above 0 and at most 1"),
    Bad("train.tune_shares", [0.5, 0.5, 0.5], "[0.5, 0.5, 0.5]", "adds up to 1.5, not 1"),
    Bad("train.tune_shares", [0.5, 0.5], "[0.5, 0.5]", "is not three shares from 0 to 1"),
    Bad("train.windows_per_encode", -1, "-1", "is not a whole number from 0 to 1024"),
    Bad("train.motion_max", 0, "0.0", "is not a number above 0 and at most 1024"),
    Bad("train.prior_seed", -1, "-1", "is not a whole number from 0 to 4294967295"),
    Bad("train.window_seed", 2**32, "4294967296", "is not a whole number from 0 to 4294967295"),
    Bad("train.optimiser", "sgd", '"sgd"', "is no key the kit reads there"),  # was recorded and ignored
    Bad("train.optimizer", "sgd", '"sgd"', 'is no setting: the kit writes "adam" there and reads nothing from it'),
    Bad("shard.kk", 1, "1", "is no key the kit reads there (did you mean k?)"),
    Bad("sedes", [0, 1], "[0, 1]", "is no key the kit reads there (did you mean seeds?)"),
)
IDS = [f"{c.key}={json.dumps(c.value)}" for c in CASES]
FLAGGED = [c for c in CASES if c.flag]


@pytest.fixture(autouse=True)
def no_step_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command whose settings were accepted would start its steps: it fails the test instead."""
    from kit.steps import runner

    def refuse(*_: object, **__: object) -> int:
        raise AssertionError("a step started: the settings were accepted")

    monkeypatch.setattr(runner, "run_steps", refuse)
    monkeypatch.setattr(runner, "run_train_task", refuse)


def document(key: str, value: object, out: Path) -> dict[str, Any]:
    """A valid settings document (a cluster's settings.json: the record) with `value` at dotted `key`."""
    doc = RunSettings(out_dir=out).to_json()
    *path, last = key.split(".")
    at: Any = doc
    for part in path:
        at[part] = at[part] if isinstance(at.get(part), dict) else {}
        at = at[part]
    at[last] = value
    return doc


def error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert any(ln.startswith("hint: ") for ln in stderr.splitlines()), stderr
    return lines[0]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_setting_through_the_file_door(case: Bad, tmp_path: Path) -> None:
    out = tmp_path / "out"
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(document(case.key, case.value, out)))
    res = run_here("run", "--settings", file, "--out-dir", out)
    assert res.returncode == 2, (res.returncode, res.stderr)
    line = error_line(res.stderr)
    assert str(file) in line and case.key.rpartition(".")[2] in line and case.rule in line, line
    assert case.shown in line, line
    assert "Traceback" not in res.stderr and not out.exists()  # refused before any step, nothing made


@pytest.mark.parametrize("case", FLAGGED, ids=[f"{' '.join(c.flag)}" for c in FLAGGED])
def test_the_same_values_through_the_flag_door(case: Bad, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run_here("run", *case.flag, "--out-dir", out)
    assert res.returncode == 2, (res.returncode, res.stderr)
    line = error_line(res.stderr)
    named = case.flag[-2]  # the flag whose value breaks the rule (after any it goes with)
    assert named in line and (case.flag_rule or case.rule) in line, line
    assert not out.exists()


@pytest.mark.parametrize(("variable", "value", "words"), [
    ("KIT_EPOCHS", "0", "--epochs '0' is not a whole number from 1 to 10000 (from KIT_EPOCHS)"),
    ("KIT_SEEDS", "3,3", "--seeds '3,3' repeats a value (from KIT_SEEDS)"),
    ("KIT_SCALES", "0.0001", "--scales '0.0001' holds 0.0001, which gives no picture"),
    ("KIT_MIN_MEAN_PLCC", "1.5", "--min-mean-plcc '1.5' is not a number from -1 to 1 (from KIT_MIN_MEAN_PLCC)"),
])
def test_a_variable_that_sets_a_setting_keeps_its_rule(variable: str, value: str, words: str, tmp_path: Path) -> None:
    res = run_here("run", "--out-dir", tmp_path / "out", env={variable: value})
    assert res.returncode == 2 and words in error_line(res.stderr), res.stderr


def test_the_grid_against_the_encoders_names_the_door_that_gave_it(tmp_path: Path) -> None:
    """A rule across settings (the list for every encoder against the run's encoders) is said of the flag, its
    variable, or the file, whichever gave the grid."""
    out = tmp_path / "out"
    res = run_here("run", "--encoders", "h264_videotoolbox", "--cqs", "0,50", "--out-dir", out)
    assert "--cqs '0,50' holds 0, outside h264_videotoolbox's range 1..100" in error_line(res.stderr)
    res = run_here("run", "--encoders", "h264_videotoolbox", "--out-dir", out, env={"KIT_CQS": "0,50"})
    assert error_line(res.stderr).endswith("outside h264_videotoolbox's range 1..100 (from KIT_CQS)")
    file = tmp_path / "settings.json"
    doc = document("cqs", {"every": [60]}, out)
    file.write_text(json.dumps({**doc, "encoders": ["libx264"]}))
    line = error_line(run_here("run", "--settings", file, "--out-dir", out).stderr)
    assert f"--settings {file}: cqs " in line and "holds 60, outside libx264's range 0..51" in line
    assert not out.exists()


def ruled(cls: type) -> set[str]:
    """The fields of a record declared with a rule (kit.infra.changes.setting)."""
    return {f.name for f in dataclasses.fields(cls) if field_rules(f)}


def test_every_setting_with_a_rule_is_tested_through_the_file_door() -> None:
    tested = {c.key for c in CASES}
    every = ruled(RunSettings) | {f"gate.{key}" for key in ruled(GateThresholds)} | \
        {f"train.{key}" for key in ruled(TrainConfig)}
    assert every <= tested, sorted(every - tested)
    fields = {f.name for f in dataclasses.fields(RunSettings)}
    # what has no rule: the box id (made safe for a file name, and a command's own flag), the three switches, and
    # the records held, whose fields have theirs
    assert fields - ruled(RunSettings) == {"box_id", "gate", "train", "group_shared", "strict", "keep_paths"}
    assert {f.name for f in dataclasses.fields(GateThresholds)} == ruled(GateThresholds)
    assert {f.name for f in dataclasses.fields(TrainConfig)} == ruled(TrainConfig)
    flags = {".".join(at) for at, _, _ in flags_of(RunSettings)} - {
        "out_dir", "box_id", "corpus", "ref_dir", "content_groups", "ffmpeg", "incumbent", "group_shared", "strict",
        "keep_paths", "teacher"}
    flagged = {c.key for c in CASES if c.flag}
    assert flags <= flagged, sorted(flags - flagged)  # every flag with a rule, through its door too


@pytest.fixture()
def finished(tmp_path: Path) -> Iterator[Path]:
    """An out-dir whose run.json a run wrote (the runner's own writer), with valid settings."""
    out = tmp_path / "out"
    out.mkdir()
    settings = RunSettings(out_dir=out, box_id="lab", seeds=(0, 1), ref_dir=tmp_path / "refs")
    write_run_record(Tree.open(out), out / "run.json", settings, ["run"], choose_threads())
    yield out


@pytest.mark.parametrize(("key", "value", "words"), [
    ("train.epochs", 0, "settings.train.epochs 0 is not a whole number from 1 to 10000"),
    ("seeds", [0, 0], "settings.seeds [0, 0] repeats a value"),
    ("vmaftune_crf_range", [51, 10], "settings.vmaftune_crf_range [51, 10] is not MIN,MAX with MIN < MAX"),
    ("gate.mean_plcc_min", -5, "settings.gate.mean_plcc_min -5.0 is not a number from -1 to 1"),
    ("train.optimiser", "sgd", "settings.train.optimiser \"sgd\" is no key the kit reads there"),
])
def test_a_run_json_changed_after_its_run_is_refused_by_status_and_by_a_resume(finished: Path, key: str,
                                                                                value: object, words: str) -> None:
    run_json = finished / "run.json"
    assert run_here("status", finished).returncode == 0  # as the run wrote it
    doc = json.loads(run_json.read_text())
    *path, last = key.split(".")
    at = doc["settings"]
    for part in path:
        at = at[part]
    at[last] = value
    run_json.write_text(json.dumps(doc))
    before = sorted(p.name for p in finished.iterdir())
    status = run_here("status", finished)
    assert status.returncode == 2 and "next:" not in status.stdout, status.stdout
    assert error_line(status.stderr) == f"error: {run_json}: {words}" + error_line(status.stderr).partition(words)[2]
    # the resume status would print, and a task run with the out-dir's run.json
    for command in (["run"], ["step", "loso", "--train-task", "1/2"]):
        res = run_here(*command, "--settings", run_json, "--out-dir", finished, "--box-id", "lab")
        assert res.returncode == 2 and f"--settings {run_json}: {words}" in error_line(res.stderr), res.stderr
    assert sorted(p.name for p in finished.iterdir()) == before  # no step ran, nothing written


@pytest.mark.parametrize("values", [{"base_steps": 6_000, "base_batch": 256, "base_lr": 2e-3},
                                    {"base_steps": 7, "base_batch": 3, "base_lr": 0.5}], ids=["as-written", "edited"])
def test_the_retired_settings_of_an_older_run_json_are_read_and_left_out(finished: Path, tmp_path: Path,
                                                                         values: dict[str, object]) -> None:
    """kits 2.1 to 2.3 wrote the bases' settings (TrainConfig.RETIRED) into run.json's `train`, and a settings file
    may still name them: the document reads through every door, with them left out, as the same settings; no record
    the kit writes holds them, nor any step's fingerprint, so no value of theirs reruns anything."""
    from kit.steps.view import settings_fingerprint

    run_json = finished / "run.json"
    doc = json.loads(run_json.read_text())
    assert not set(TrainConfig.RETIRED) & set(doc["settings"]["train"])  # this kit writes none
    plain = RunSettings.from_json(doc["settings"])
    doc["settings"]["train"] |= values
    run_json.write_text(json.dumps(doc))
    assert RunSettings.from_json(doc["settings"]) == plain
    assert run_here("status", finished).returncode == 0
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(doc["settings"]))
    for given in (run_json, file):  # accepted: the steps would start (no_step_runs)
        res = run_here("run", "--settings", given, "--out-dir", finished, "--box-id", "lab")
        assert "a step started: the settings were accepted" in res.stderr and "--settings" not in res.stderr, res.stderr
    for step in ("loso", "bundle"):
        train = settings_fingerprint(plain, step)["train"]
        assert isinstance(train, dict) and "tune_steps" in train and not set(TrainConfig.RETIRED) & set(train)


def test_a_cluster_task_refuses_a_changed_settings_json(tmp_path: Path) -> None:
    """A shard task of `slurm`/`ray` reads <root>/<scheduler>/settings.json with --settings and --shard auto."""
    out = tmp_path / "root" / "shards" / "shard1of2"
    file = tmp_path / "settings.json"
    file.write_text(json.dumps(document("train.dropout", 2.0, out)))
    res = run_here("step", "prereqs", "--settings", file, "--shard", "auto", "--out-dir", out, "--box-id", "b",
                   env={"KIT_ARRAY_TASK": "1/2"})
    assert res.returncode == 2 and f"--settings {file}: train.dropout 2.0 is not a number of at least 0 and below 1" \
        in error_line(res.stderr), res.stderr
    assert not out.exists()


def test_a_grid_is_a_set_per_encoder_so_its_order_changes_no_fingerprint(tmp_path: Path) -> None:
    """`--cqs 25,19` and `--cqs 19,25` are one grid: the same settings, so the same fingerprints (LOSO is not
    trained again for a reordered flag)."""
    from tests.unit.test_flags import settings_of

    def made(cqs: str) -> RunSettings:
        return settings_of("--cqs", cqs, "--out-dir", tmp_path / "o", "--box-id", "b")

    assert made("25,19;x265:30,18;libsvtav1:44,20") == made("19,25;libsvtav1:20,44;x265:18,30")
    assert made("25,19").to_json() == made("19,25").to_json() and made("31,19,25").cqs.every == (19, 25, 31)
    assert CqGrid.from_json({"every": [37, 25]}) == CqGrid((25, 37)) and CqGrid.from_json([37, 25]).text == "25,37"


@pytest.mark.parametrize(("scales", "sizes", "words"), [
    (("0.1",), [(176, 144), (352, 288)], "--scales 0.1 gives no clip a picture of 32 lines or more (the tallest clip, "
                                        "288 lines, would be encoded at 28)"),
    (("native", "0.02"), [(1920, 1080)], "--scales 0.02 gives no clip a picture of 32 lines or more"),
    (("720", "540"), [(176, 144)], "--scales 720,540 gives no clip an encode: each rung is at or above the height"),
])
def test_a_ladder_that_gives_the_clips_no_picture_is_refused_at_the_corpus_step(scales: tuple[str, ...],
                                                                                 sizes: list[tuple[int, int]],
                                                                                 words: str) -> None:
    """Before any encode (never an empty corpus that LOSO blames): a rung below 32 lines for every clip of the
    set, or a ladder that gives no clip an encode, named as --scales."""
    from kit.steps.checks import check_ladder

    with pytest.raises(InputError) as err:
        check_ladder(scales, sizes)
    assert err.value.message.startswith(words) and "--scales" in err.value.hint, err.value
    check_ladder(("native", "0.5"), sizes)  # what the defaults ask
    check_ladder(("0.1",), [(176, 144), (3840, 2160)])  # a rung that fits one clip of the set


def test_an_encoder_named_twice_is_refused_alike_at_the_flag_and_in_a_file() -> None:
    """`--encoders libx264,libx264` was taken as one at the flag (silently) and refused in a settings file."""
    from kit.platforms.encoders import parse_encoder_list
    from kit.steps.checks import encoders_problem

    assert parse_encoder_list("libx264, libx264") == ("libx264", "libx264")
    assert encoders_problem(("libx264", "libx264")) == "repeats an encoder"
    assert encoders_problem(("libx264", "libx265")) is None
