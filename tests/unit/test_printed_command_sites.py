"""Every place in the kit that prints a command, and the test that runs what it prints as printed.

A command the kit prints is made by kit/infra/invocation.py (kit_command, kit_cli, retry_command, receiver_commands,
shell_join) or by a function of the kit that returns one of those (crop_command, rerun, retest_command, ...: found
here, not listed). Each function that puts one in a message, a line or a log is a site, and SITES says, per site, how
what it prints is checked:

- RUN: a test provokes it from real inputs and runs the printed command as printed (tests/real/
  test_commands_as_printed.py and the tests named).
- WORDS: a template (words such as A.parquet, FILE, /path/to/clips stand for what only the reader has), a command for
  a box with hardware this one lacks, or one a whole run or a cluster prints: its words are the kit's own command
  line's (test_every_command_the_kit_spells_is_one_its_command_line_takes, below) and the tests named provoke it.
- SAME: it prints what another site prints (the same maker, the same words): that site's check stands.
- TOOL: a command for another tool (sbatch), or the failing one of a cluster's tasks: the tests named give it to that
  tool.
- LOG: a command written to a log as it was run: quoted so that a shell reads it back (the tests named).

A new site fails test_every_site_that_prints_a_command_is_in_the_catalogue until it is added here with its check.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.printed import cli_accepts

# shell_line: kit.infra.shown's, which shell_join is (a command line whose paths stay paths)
PRIMITIVES = frozenset({"kit_command", "kit_cli", "retry_command", "receiver_commands", "shell_join", "shell_line",
                        "stop_lines"})
RUN, WORDS, SAME, TOOL, LOG = "run", "words", "same", "tool", "log"

AS_PRINTED = "tests/real/test_commands_as_printed.py"
CLIP_FIXES = f"{AS_PRINTED}::test_each_fix_of_a_clip_left_out_runs_as_printed_and_the_clip_it_makes_is_accepted"
RETRY_RESUME = f"{AS_PRINTED}::test_retry_and_resume_with_run_as_printed_on_a_terminal"
MORE_HINTS = f"{AS_PRINTED}::test_more_hints_run_as_printed"
PRINTED_FIXES = "tests/real/test_printed_fixes.py::test_an_odd_clip_s_crop_is_offered_only_where_its_result_is_taken"
STATUS_AND_VERIFY = "tests/real/test_printed_commands.py::test_status_next_and_the_summary_s_verify_run_as_printed"
SLURM = "tests/pipeline/test_slurm.py::test_array_and_union_jobs_match_a_local_run"
RAY_RUN = "tests/pipeline/test_ray.py::test_the_union_on_ray_is_the_run_on_one_box"
NO_SBATCH = "tests/unit/test_slurm.py::test_without_sbatch_the_scripts_are_kept_and_the_hint_says_how_to_submit_them"


@dataclass(frozen=True)
class Check:
    how: str
    tests: tuple[str, ...] = ()  # `path::test_name`, or a site (SAME)
    why: str = ""  # why it is not run here (WORDS)


SITES: dict[str, Check] = {
    # retry: and resume with:, however the command ended
    "kit/cli/guard.py:report_failure": Check(RUN, (RETRY_RESUME, "tests/real/test_exit_signals.py::"
                                            "test_a_stop_signal_while_the_summary_is_written",
                                            "tests/unit/test_runner.py::test_the_printed_retry_command_is_the_one_that_was_run")),
    "kit/cli/run.py:execute": Check(SAME, ("kit/cli/guard.py:report_failure",),
                                    "the retry of the `error` event (--json)"),
    "kit/cli/usage.py:KitGroup.main": Check(RUN, (MORE_HINTS,), "a usage error's `--help`; a stop signal's lines"),
    "kit/__main__.py:<module>": Check(SAME, ("kit/cli/guard.py:report_failure",),
                                      "a stop signal while the modules load"),
    # a clip left out, and its fix
    "kit/media/refs.py:check_even": Check(RUN, (CLIP_FIXES, PRINTED_FIXES)),
    "kit/media/refs.py:y4m_geometry": Check(RUN, (CLIP_FIXES,)),
    "kit/media/refs.py:film_fixes": Check(RUN, ("tests/real/test_film_stream.py::test_two_streams_that_could_each_be_"
                                                "the_film_are_said_and_the_other_read_as_printed",)),
    "kit/media/discovery.py:identified": Check(RUN, (CLIP_FIXES,)),
    "kit/media/entries.py:kind_of": Check(RUN, ("tests/real/test_containers.py::test_raw_streams_are_named_with_a_"
                                               "lossless_conversion_that_keeps_every_frame",)),
    "kit/media/entries.py:sequence_kind": Check(RUN, (CLIP_FIXES,)),
    "kit/media/containers.py:check_container": Check(RUN, (CLIP_FIXES,)),
    "kit/media/containers.py:check_copy": Check(RUN, (CLIP_FIXES,)),
    "kit/media/containers.py:copy_tags": Check(SAME, ("kit/media/containers.py:check_copy",),
                                               "the same conversion, of a copy whose colour tags no option takes"),
    "kit/media/decode.py:read_master_decode": Check(RUN, ("tests/real/test_stray_slice.py::test_a_master_damaged_after_"
                                                       "its_first_frame_is_left_out_and_its_fix_runs_as_printed",)),
    "kit/media/looks.py:look_refusal": Check(RUN, ("tests/real/test_bounded_looks.py::test_a_second_look_that_hangs_"
                                                   "leaves_its_clip_out_and_the_others_are_read",)),
    # a step that needs another, or a setting changed since: rerun it (rerun, with the run's settings)
    "kit/steps/base.py:require_output": Check(RUN, (RETRY_RESUME,)),
    "kit/steps/base.py:read_prereqs": Check(SAME, ("kit/steps/base.py:require_output",), "its --force"),
    "kit/steps/corpus_inputs.py:prereq_encoders": Check(RUN, (MORE_HINTS,)),
    "kit/steps/corpus_inputs.py:checked_teacher": Check(SAME, ("kit/steps/corpus_inputs.py:prereq_encoders",)),
    "kit/steps/s04_verdict.py:VerdictStep.plan": Check(SAME, ("kit/steps/s05_bundle.py:BundleStep.check_corpus",)),
    "kit/steps/s04_verdict.py:VerdictStep.run": Check(SAME, ("kit/steps/s05_bundle.py:BundleStep.check_corpus",)),
    "kit/steps/s04_verdict.py:VerdictStep.corpus_file": Check(SAME,
                                                              ("kit/steps/s05_bundle.py:BundleStep.check_corpus",)),
    "kit/steps/s04_verdict.py:VerdictStep.predicted": Check(SAME, ("kit/steps/s05_bundle.py:BundleStep.check_corpus",),
                                                            "with its own --seeds"),
    "kit/steps/s05_bundle.py:BundleStep.check_corpus": Check(RUN, (
        "tests/pipeline/test_rerun_hints.py::test_the_bundles_rerun_hint_on_a_union_reruns_that_union",
        "tests/pipeline/test_moved_out_dir.py::test_a_bundle_whose_shard_is_missing_refuses_and_its_hint_mends_it")),
    "kit/steps/s05_bundle.py:find_verdict": Check(SAME, ("kit/steps/s05_bundle.py:BundleStep.check_corpus",),
                                                  "the verdict step for the LOSO one"),
    # the closing summary's retry of clips left out for the box's or the moment's cause: this run's command again
    "kit/report/summary.py:retry_lines": Check(RUN, (f"{AS_PRINTED}::test_the_summary_s_retry_of_clips_left_out_"
                                                     "for_the_moment_runs_as_printed",)),
    "kit/steps/members.py:missing_members": Check(RUN, ("tests/pipeline/test_train_split.py::"
                                                        "test_tasks_in_any_order_then_the_gather_make_the_one_node_run_byte_for_byte",)),
    # a tarball holding a text no kind of the catalogue admits: the hint's show-sent names it
    "kit/cli/verify.py:verify_cmd": Check(RUN, ("tests/pipeline/test_sent_catalogue.py::"
                                                "test_a_tarball_holding_a_text_no_kind_admits_is_refused_naming_it",)),
    "kit/cli/merge.py:refuse_free_text": Check(SAME, ("kit/cli/verify.py:verify_cmd",), "merge's refusal of one"),
    # status and the closing summary
    "kit/cli/status.py:status_lines": Check(RUN, (STATUS_AND_VERIFY,)),
    "kit/steps/status.py:RunStatus.next_command": Check(RUN, (STATUS_AND_VERIFY,)),
    "kit/steps/status.py:run_status": Check(RUN, (STATUS_AND_VERIFY,)),
    "kit/report/summary.py:path_lines": Check(RUN, (STATUS_AND_VERIFY, "tests/real/test_demo.py::"
                                                    "test_a_demo_run_says_its_tarball_is_the_demo_and_how_to_run_on_real_clips")),
    "kit/cli/status.py:missing_out_dir": Check(WORDS, ("tests/real/test_status.py::"
                                                       "test_a_folder_that_does_not_exist_is_an_error_naming_the_out_dirs_beside_it",),
                                               "run --out-dir X: a whole run of the demo clips"),
    "kit/steps/status.py:finished_corpus": Check(WORDS, (), "status X: of a run that holds its out-dir"),
    # encoders: the test encodes
    "kit/platforms/probe.py:Prober.probe": Check(RUN, ("tests/real/test_probe_retest.py::"
                                                       "test_the_printed_retest_command_clears_a_poisoned_cache_entry",)),
    "kit/platforms/resolve.py:refuse": Check(RUN, (MORE_HINTS,)),
    "kit/steps/s01_prereqs.py:left_out_rows": Check(SAME, ("kit/report/summary.py:left_out_lines",),
                                                    "the opt-in encoders not tested: detect"),
    "kit/report/summary.py:left_out_lines": Check(RUN, (f"{AS_PRINTED}::test_the_opt_in_encoders_left_out_are_"
                                                        "tested_and_added_as_printed",)),
    "kit/corpus/depth.py:plan_depths": Check(SAME, ("kit/platforms/resolve.py:refuse",), "`detect`"),
    "kit/platforms/probe.py:check_libvmaf": Check(WORDS, (), "binaries stage: it copies an ffmpeg into the kit's "
                                                            "own binaries/ (tests/real/test_binaries.py)"),
    "kit/platforms/probe.py:_failed": Check(SAME, ("kit/platforms/probe.py:check_libvmaf",), "binaries stage"),
    # the command line, settings files, inputs
    "kit/cli/usage.py:usage_events": Check(SAME, ("kit/cli/usage.py:KitGroup.main",), "--json's `error` event"),
    "kit/steps/settings.py:refused_settings": Check(RUN, (MORE_HINTS,)),
    "kit/cli/flags.py:check_corpus_flags": Check(RUN, (MORE_HINTS,)),
    "kit/corpus/inputs.py:load_tarball": Check(RUN, (MORE_HINTS,)),
    "kit/steps/runner.py:check_trainable": Check(WORDS, (), "step prereqs --encoders h264_amf: an AMF box"),
    "kit/steps/runner.py:corpus_only_steps": Check(WORDS, ("tests/pipeline/test_no_torch.py",), "/path/to/clips"),
    "kit/steps/runner.py:check_upstream": Check(WORDS, ("tests/pipeline/test_missing_outputs.py",),
                                                "run: the test checks the hint is the plain run, which reruns the step "
                                                "that made the missing file; running it is a whole run (test_moved_out_"
                                                "dir runs the bundle's case)"),
    # templates: what the reader has stands in them
    "kit/corpus/merge.py:merge_files": Check(WORDS, (), "merge A.parquet B.tar.gz -o merged.parquet"),
    # the merge again with --accept-key (the other new keys' inputs left out): the tests run each command the refusal's
    # hint prints
    "kit/corpus/signers.py:box_keys": Check(RUN, ("tests/pipeline/test_box_keys.py::"
                                                  "test_a_box_whose_cache_was_wiped_is_refused_until_its_new_key_is_"
                                                  "accepted", "tests/pipeline/test_box_keys.py::"
                                                  "test_each_command_a_refusal_of_two_new_keys_prints_merges")),
    "kit/corpus/split.py:refuse_small_shard": Check(WORDS, (), "merge results-A.tar.gz results-B.tar.gz"),
    "kit/corpus/split.py:shard_note": Check(WORDS, (), "merge ..."),
    "kit/model/folds.py:cut_folds": Check(WORDS, (), "merge CORPUS --content-groups FILE"),
    "kit/model/folds.py:refuse_few_groups": Check(WORDS, (), "merge ..."),
    "kit/model/holdout.py:holdout_folds": Check(WORDS, (), "merge A B -o union.parquet"),
    "kit/cli/cluster.py:refuse_flags": Check(WORDS, ("tests/unit/test_cluster_plan.py::"
                                                     "test_run_flags_that_cannot_apply_on_a_cluster_are_refused_and_"
                                                     "not_listed",),
                                             "step NAME --out-dir FOLDER"),
    # clusters
    "kit/cli/slurm.py:submitted_lines": Check(TOOL, (SLURM, "tests/unit/test_slurm.py::"
                                                             "test_status_command_names_the_resolved_shard")),
    "kit/cluster/slurm.py:submit": Check(TOOL, (SLURM, NO_SBATCH)),
    "kit/cli/ray.py:ray_cmd": Check(WORDS, (RAY_RUN,), "status X after a Ray run"),
    "kit/cli/ray.py:dry_run_lines": Check(WORDS, ("tests/unit/test_cluster_plan.py::"
                                                  "test_ray_trains_on_a_union_given_as_it_is_or_merged_first",),
                                          "the commands every task runs: a dry run"),
    "kit/cluster/ray.py:_check": Check(TOOL, ("tests/pipeline/test_ray.py::"
                                              "test_a_failing_shard_is_named_and_nothing_runs_after_it",)),
    "kit/cluster/ray.py:run_commands": Check(LOG, (RAY_RUN,)),
    # logs
    "kit/infra/proc.py:run_process": Check(LOG, ("tests/unit/test_visible.py::"
                                                 "test_printed_commands_and_logged_command_lines_stay_on_one_line",)),
}


def _name(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else call.func.attr \
        if isinstance(call.func, ast.Attribute) else ""


@functools.cache
def kit_trees() -> dict[str, ast.Module]:
    """Every module of kit/, parsed once, by its path from the repository's root."""
    return {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text())
            for path in sorted((ROOT / "kit").rglob("*.py"))}


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    """Every function of a module by its qualified name, and the module itself as `<module>`."""
    found: dict[str, ast.AST] = {"<module>": tree}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found[name] = child
                walk(child, f"{name}.")
            else:
                walk(child, prefix)
    walk(tree, "")
    return found


def _own_calls(node: ast.AST) -> set[str]:
    """The names a function (or a module's top level) calls itself, not in the functions it defines."""
    names: set[str] = set()
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(child, ast.Call):
            names.add(_name(child))
        todo += ast.iter_child_nodes(child)
    return names


@functools.cache
def scan() -> tuple[dict[str, set[str]], frozenset[str]]:
    """(each site: the command makers it calls, the makers): a maker returns a command (annotated `-> str` or a pair
    of them, its return calling a maker); a site is any other function of kit/ (or module) that calls one."""
    calls: dict[str, set[str]] = {}  # each function's own calls
    returned: dict[str, set[str]] = {}  # ... and those in its returns, for a function that returns text
    for where, tree in kit_trees().items():
        if where == "kit/infra/invocation.py":
            continue  # the makers themselves
        for name, node in _functions(tree).items():
            site = f"{where}:{name}"
            calls[site] = _own_calls(node)
            returns = ast.unparse(node.returns) if isinstance(node, ast.FunctionDef) and node.returns else ""
            if returns in ("str", "tuple[str, str]"):
                returned[site] = {_name(c) for r in ast.walk(node) if isinstance(r, ast.Return) and r.value
                                  for c in ast.walk(r.value) if isinstance(c, ast.Call)}
    makers, grew = set(PRIMITIVES), True
    while grew:
        found = {site.rsplit(".", 1)[-1].rsplit(":", 1)[-1] for site, names in returned.items() if names & makers}
        grew, makers = not found <= makers, makers | found
    sites = {site: made for site, names in calls.items()
             if site.rsplit(".", 1)[-1].rsplit(":", 1)[-1] not in makers and (made := names & makers)}
    return sites, frozenset(makers)


def test_every_site_that_prints_a_command_is_in_the_catalogue() -> None:
    sites, makers = scan()
    assert {"crop_command", "convert_command", "rerun", "retest_command", "settings_command"} <= makers  # it finds them
    new, gone = sorted(set(sites) - set(SITES)), sorted(set(SITES) - set(sites))
    assert not new, f"sites that print a command with no check in SITES (add each, with the test that runs it): {new}"
    assert not gone, f"SITES names what prints no command (any more): {gone}"


@functools.cache
def _test_names(path: Path) -> set[str]:
    return {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}


@pytest.mark.parametrize("site", sorted(SITES))
def test_each_site_s_check_names_what_exists(site: str) -> None:
    check = SITES[site]
    assert check.how in (RUN, WORDS, SAME, TOOL, LOG), check
    assert check.tests or check.how == WORDS, f"{site}: {check.how} names no test"
    assert check.how != WORDS or check.why, f"{site}: why is it not run here?"
    for ref in check.tests:
        if check.how == SAME:
            assert ref in SITES and SITES[ref].how != SAME, (site, ref)  # the other site's own check stands
            continue
        path, _, name = ref.partition("::")
        assert (ROOT / path).is_file(), ref
        assert not name or name in _test_names(ROOT / path), ref


# --- the words of every command the kit spells: its own command line takes them ----------------------------------
# a value for a word the code computes (a path, an encoder the user asked for), by the word before it; else a path
SAMPLES = {"step": "prereqs", "--encoders": "libx264", "--ffmpeg": "ffmpeg", "--teacher": "vmaf_v0.6.1",
           "--inputs": "canonical6", "--train-task": "1/2", "--seeds": "0,1", "--content-groups": "groups.json",
           "-o": "out.parquet", "--from": "loso"}
PREFIX = {"rerun": 1, "settings_command": 2}  # arguments before the command's words (ctx; settings, run.json)
RERUN_FLAGS = ["--settings", "run.json", "--out-dir", "out"]  # what rerun and settings_command put after the words
TEMPLATE = re.compile(r"`\{kit\} ([^`]+)`")  # a hint's `{kit} step NAME ...`, the kit's spelling put in its place


def _words(call: ast.Call, skip: int) -> list[str] | None:
    """The words of a kit command call, a sample value for each the code computes; None where a starred argument
    (`*words`) leaves them unknown here (its callers' words are checked instead)."""
    words: list[str] = []
    for arg in call.args[skip:]:
        if isinstance(arg, ast.Starred):
            return None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            words.append(arg.value)
        else:  # a name, a call, f"{tasks[0]}/{n}": a sample of its kind
            words.append(SAMPLES.get(words[-1], "x") if words else "x")
    return words


def spelled_commands() -> list[tuple[str, list[str]]]:
    """(where, words) of every kit command the kit's code spells with words it can read here."""
    found = []
    for where, tree in kit_trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (name := _name(node)) in ("kit_command", "receiver_commands",
                                                                         *PREFIX):
                words = _words(node, PREFIX.get(name, 0))
                if words:
                    cut = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
                    placed = [*words[:cut], *RERUN_FLAGS, *words[cut:]] if name in PREFIX else words
                    found.append((f"{where}:{node.lineno}", placed))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found += [(f"{where}:{node.lineno}", m.split()) for m in TEMPLATE.findall(node.value)]
    return found


def test_every_command_the_kit_spells_is_one_its_command_line_takes() -> None:
    """Every kit command in the code, its computed words given sample values and a template's placeholders values
    of their kind: each command word names a command, each flag is one of that command's with a value its type
    takes. A renamed flag or command, or a hint that spells one wrong, fails here before anyone runs it."""
    found = spelled_commands()
    assert len(found) >= 40 and any(w[:2] == ["step", "prereqs"] and "--settings" in w for _, w in found)
    refused = [f"{where}: {' '.join(words)}: {why}" for where, words in found if (why := cli_accepts(words))]
    assert not refused, "\n".join(refused)


def test_the_check_of_words_refuses_what_the_command_line_refuses() -> None:
    assert cli_accepts(["step", "prereqs", "--settings", "run.json", "--out-dir", "o", "--encoders", "libx264"]) == ""
    assert cli_accepts(["merge"]) == ""  # a bare command name, as in `merge ...`
    assert "no command" in cli_accepts(["stepp", "prereqs"])
    assert "No such option" in cli_accepts(["run", "--from-step", "loso"])
    assert cli_accepts(["run", "--seeds", "zero"])  # a value its type refuses
    assert cli_accepts(["step", "prereqs", "--train-task", "1/2"]) == ""
