"""Every warning the kit prints, by its own test (issue 74, item 3).

This file declares each kind of warning the kit prints (a `WARNING` row of the summary, a warning of the report, a
`warning:` line of `merge`, `corpus info` or the corpus step) once: its name, the function that makes its words
(WARNINGS), the functions that print kinds others make (PRINTERS), and the record fields that carry them (CARRIERS).
It finds in kit/ every function named `*_warning` or `*_warnings`, every function holding a `WARNING` or `warning: `
of its own, and every record field named `warning` or `warnings`, and refuses any the table does not declare: a new
warning fails here until it is declared and given its pair. PAIRS holds, per kind, a test that raises it and one that
does not (one test may do both); REAL says which pairs run on real clips, real runs or real corpus steps; each other
kind says in NOT_REAL why no real material here raises it (its raise case calls the maker on what a real run would
hand it). BY_HAND keeps the raise cases made by hand before a real one was found."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT


@dataclass(frozen=True)
class WarningKind:
    name: str
    maker: str  # `kit/<file>.py:<function>`: where its words are made
    says: str  # what it warns of


WARNINGS: tuple[WarningKind, ...] = (
    WarningKind("low bitrate", "kit/media/discovery.py:low_bitrate_warning",
                "a compressed reference of very low bitrate, whose own artefacts the encodes are scored against"),
    WarningKind("repeated pictures", "kit/verdict/regimes.py:FrameRegime.text",
                "a source whose decoded pictures repeat the one before, bit for bit, in a pattern its mean hides"),
    WarningKind("teacher range", "kit/corpus/summary.py:teacher_ranges",
                "an encoder whose encodes do not span the teacher's scale the proxy is used over"),
    WarningKind("coverage", "kit/verdict/intervals.py:coverage_warning",  # raised by hand alone: NOT_REAL says why
                "held-out coverage of the 95 % interval far below nominal: the intervals are too narrow"),
    WarningKind("window", "kit/verdict/sampling.py:window_warnings",
                "a content whose first seconds (vmaf-tune's window) lie beyond the tolerance of its whole clip"),
    WarningKind("teacher suspects", "kit/verdict/plausibility.py:suspects_text",
                "sources whose teacher scores look wrong for their features"),
    WarningKind("unbounded interval", "kit/bundle/conformal.py:unbounded_warning",
                "an exported interval too few content groups can bound"),
    WarningKind("missing shards", "kit/corpus/merge.py:shard_warnings",
                "shards of one reference set not all among a merge's inputs"),
    WarningKind("one name, several files", "kit/corpus/merge.py:name_warnings",
                "one source name used by several different files"),
    WarningKind("one file, several names", "kit/corpus/merge.py:rename_warnings",
                "one file named differently by a merge's inputs"),
    WarningKind("mixed builds", "kit/corpus/provenance.py:build_warnings",
                "a corpus scored by more than one ffmpeg/libvmaf build"),
    WarningKind("undecided contents", "kit/corpus/contents.py:group_sources",
                "two sources whose pictures cannot be told one content or two"),
    WarningKind("legacy links", "kit/corpus/legacy.py:legacy_links",
                "a bash-kit JSONL source named as a source whose rows differ"),
    WarningKind("box warnings", "kit/corpus/merge.py:box_warnings",
                "each box's own warnings, carried into the union, naming the box"),
    WarningKind("mixed teachers", "kit/cli/merge.py:info_cmd", "a corpus holding rows of several teacher models"),
    WarningKind("foreign manifest", "kit/cli/merge.py:info_cmd",
                "a manifest beside a corpus that does not describe its bytes"),
    WarningKind("unknown variable", "kit/infra/variables.py:unknown_variable_warnings",
                "a KIT_ variable set that the kit does not read (a misspelling), with the nearest one it reads"),
)

# the kinds no real material on this machine raises, and why: their raise case is made by hand (the rest are raised by
# real clips, runs or corpus steps: REAL, below)
NOT_REAL: dict[str, str] = {
    "coverage": "the 95 % level is measured only with more than 19 content groups (19 bound it, one is held out), "
                "and its pooled held-out coverage must fall under 90 %: a real run on 24 contents (the public clips "
                "cut short and the tiny clips) measures 98.9 %, 99.3 % with a 160-frame noise clip added (the "
                "group-weighted calibration covers an odd content from the others' worst); the tiny clips' runs "
                "are 4 groups, unbounded at 95 %. tests/unit/test_verdict_figures.py raises it on a level set by "
                "hand; tests/pipeline/test_warnings_real.py's 24 contents do not",
    "unknown variable": "no clip, run or corpus makes it, the environment does: the real CLI raises it, started with "
                        "a misspelt variable set, and does not with the variable spelt right",
}

# the functions that print warnings others make (each prints kinds of the table, never words of its own)
PRINTERS: tuple[str, ...] = (
    "kit/report/summary.py:teacher_rows", "kit/report/summary.py:interval_rows", "kit/report/summary.py:sampling_rows",
    "kit/report/summary.py:summary_rows", "kit/report/summary.py:closing_rows",
    "kit/report/summary.py:print_corpus_only", "kit/report/html.py:caveats", "kit/report/sections.py:sampling_section",
    "kit/verdict/decide.py:with_suspects", "kit/cli/merge.py:merge_cmd", "kit/media/discovery.py:discover",
    "kit/corpus/merge.py:merge_warnings", "kit/cli/guard.py:_run",
)

# the record fields that carry warnings to where they are printed, and the kinds each carries
CARRIERS: dict[str, tuple[str, ...]] = {
    "kit/corpus/manifests.py:ShardManifest.warnings": ("low bitrate",),
    "kit/corpus/manifests.py:MergeManifest.warnings": (
        "missing shards", "one name, several files", "one file, several names", "mixed builds", "undecided contents",
        "legacy links", "box warnings"),
    "kit/corpus/summary.py:TeacherRange.warning": ("teacher range",),
    "kit/corpus/summary.py:CorpusSummary.warnings": ("low bitrate", "box warnings"),
    "kit/corpus/summary.py:ManifestSays.warnings": ("low bitrate", "box warnings"),
    "kit/verdict/document.py:ConsumerSampling.warnings": ("window",),
    "kit/verdict/document.py:Intervals.warning": ("coverage",),
}

KINDS = {k.name: k for k in WARNINGS}
STILL_BOX = ("tests/real/test_still_clip.py::"
             "test_a_box_with_a_still_clip_and_a_repeating_one_warns_of_the_repeating_one_alone")
UNION = "tests/pipeline/test_warnings_raised.py::test_a_merge_of_two_real_boxes_warns_of_nothing"
FIGURES = "tests/unit/test_verdict_figures.py::test_a_nominal_spelled_as_a_standard_level_replaces_it_once"
PROVENANCE = "tests/unit/test_merge_provenance.py::"
BOXES = "tests/pipeline/test_warnings_real.py::"  # real corpus steps, merged and read by corpus info

# kind: (a test that raises it, a test that does not)
PAIRS: dict[str, tuple[str, str]] = {
    "low bitrate": (STILL_BOX, "tests/real/test_reference_quality.py::"
                               "test_a_master_of_very_low_bitrate_is_warned_of_and_a_good_one_is_not"),
    "repeated pictures": (STILL_BOX, STILL_BOX),
    "teacher range": ("tests/pipeline/test_warnings_raised.py::test_a_grid_short_of_the_teachers_scale_is_warned",
                      STILL_BOX),
    "coverage": (FIGURES, BOXES + "test_a_real_run_whose_95_level_is_measured_and_covered_is_not_warned_of_coverage"),
    "window": ("tests/pipeline/test_consumer_sampling.py::test_a_scene_change_after_the_window_is_warned",
               "tests/pipeline/test_consumer_sampling.py::test_a_scene_change_after_the_window_is_warned"),
    "teacher suspects": ("tests/pipeline/test_teacher_plausibility_run.py::"
                         "test_a_suspect_teacher_is_named_by_the_verdict_the_summary_and_the_report",
                         "tests/pipeline/test_teacher_plausibility_run.py::"
                         "test_a_run_without_a_suspect_says_the_check_found_none"),
    "unbounded interval": ("tests/pipeline/test_no_figure_without_a_bound.py::"
                           "test_no_file_a_run_writes_states_a_coverage_beside_an_unbounded_level",
                           "tests/pipeline/test_no_figure_without_a_bound.py::"
                           "test_no_file_a_run_writes_states_a_coverage_beside_an_unbounded_level"),
    "missing shards": ("tests/real/test_shard.py::test_small_shards_encode_then_merge_into_the_whole_set", UNION),
    "one name, several files": ("tests/pipeline/test_same_names.py::"
                                "test_the_union_completes_and_names_each_intro_apart", UNION),
    "one file, several names": (BOXES + "test_one_file_named_two_ways_by_two_real_boxes_is_said_at_their_merge",
                                UNION),
    "mixed builds": (BOXES + "test_two_real_ffmpeg_builds_are_warned_of_at_the_merge_and_by_corpus_info", UNION),
    "undecided contents": ("tests/real/test_identity.py::"
                           "test_discovery_groups_the_bars_and_says_the_cards_are_undecided", UNION),
    "legacy links": (BOXES + "test_a_bash_kit_jsonl_under_a_real_sources_name_with_other_rows_is_said_at_the_merge",
                     UNION),
    "box warnings": ("tests/pipeline/test_checks_seen.py::"
                     "test_the_union_says_the_boxes_left_out_clips_their_warnings_and_that_nothing_is_sent", UNION),
    "mixed teachers": (BOXES + "test_corpus_info_warns_of_two_real_boxes_of_two_teachers_concatenated",
                       BOXES + "test_corpus_info_warns_of_two_real_boxes_of_two_teachers_concatenated"),
    "foreign manifest": (BOXES + "test_corpus_info_flags_a_real_shard_beside_another_boxs_manifest", UNION),
    "unknown variable": ("tests/unit/test_variables.py::test_a_misspelt_variable_is_warned_of_once_with_the_one_meant",
                         "tests/unit/test_variables.py::test_a_misspelt_variable_is_warned_of_once_with_the_one_meant"),
}
# the raise cases made by hand before a real one was found: kept beside it (their edges: a build line of each shape,
# a rename within one input's rows, an older kit's --mixed-teachers corpus, a kill between the merge's renames)
BY_HAND: dict[str, str] = {
    "one file, several names": "tests/unit/test_small_things.py::"
                               "test_a_source_renamed_across_boxes_is_said_at_the_merge_with_the_name_the_union_gives_it",
    "mixed builds": PROVENANCE + "test_merge_and_corpus_info_list_the_builds_and_warn_when_they_mix",
    "legacy links": "tests/unit/test_legacy_contents.py::"
                    "test_a_jsonl_source_of_a_clips_name_with_other_rows_is_another_content_said_so",
    "mixed teachers": PROVENANCE + "test_corpus_info_warns_of_a_corpus_of_two_teachers_and_not_of_one",
    "foreign manifest": "tests/unit/test_hostile_inputs.py::test_corpus_info_flags_a_manifest_of_other_bytes",
}
# the pairs whose both tests run on real clips, a real run or real corpus steps
REAL = frozenset({"low bitrate", "repeated pictures", "teacher range", "window", "teacher suspects",
                  "unbounded interval", "missing shards", "undecided contents", "box warnings",
                  "one name, several files", "one file, several names", "mixed builds", "legacy links",
                  "mixed teachers", "foreign manifest"})


def _defs(tree: ast.AST, prefix: str = "") -> dict[str, ast.AST]:
    """Every function and class of a module by its dotted name."""
    found: dict[str, ast.AST] = {}
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[prefix + node.name] = node
            found.update(_defs(node, f"{prefix}{node.name}."))
    return found


def _says_a_warning(node: ast.AST) -> bool:
    """Whether the function's own body (not a function inside it) holds a `WARNING` or a `warning: ` of its own."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        sub = todo.pop()
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and (
                "WARNING" in sub.value or sub.value.lower().startswith("warning: ")):
            return True
        todo.extend(ast.iter_child_nodes(sub))
    return False


@functools.cache
def scan() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(the functions named for a warning, the functions that say one, the record fields that carry one) in kit/."""
    named, saying, fields = set(), set(), set()
    for path in sorted((ROOT / "kit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name, node in _defs(ast.parse(path.read_text())).items():
            if isinstance(node, ast.ClassDef):
                fields |= {f"{rel}:{name}.{s.target.id}" for s in node.body if isinstance(s, ast.AnnAssign)
                           and isinstance(s.target, ast.Name) and s.target.id in ("warning", "warnings")}
                continue
            if name.split(".")[-1].endswith(("_warning", "_warnings")):
                named.add(f"{rel}:{name}")
            if _says_a_warning(node):
                saying.add(f"{rel}:{name}")
    return frozenset(named), frozenset(saying), frozenset(fields)


def test_every_warning_the_kit_makes_or_prints_is_declared() -> None:
    named, saying, fields = scan()
    makers = {k.maker for k in WARNINGS}
    carriers_of = {"kit/corpus/merge.py:merge_warnings"}  # gathers the merge's kinds: a printer of the table
    assert named - makers - set(PRINTERS) - carriers_of == set(), "declare these in WARNINGS or PRINTERS here"
    assert saying - makers - set(PRINTERS) == set(), "declare these in WARNINGS or PRINTERS here"
    assert fields == set(CARRIERS), "declare these carriers in CARRIERS here"
    for kinds in CARRIERS.values():
        assert set(kinds) <= set(KINDS), kinds


def test_every_declared_maker_and_printer_exists() -> None:
    for site in {*(k.maker for k in WARNINGS), *PRINTERS}:
        path, name = site.split(":")
        assert name in _defs(ast.parse((ROOT / path).read_text())), site


def _tests_in(path: str) -> set[str]:
    return {n.name for n in ast.walk(ast.parse((ROOT / path).read_text()))
            if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_kind_has_a_test_that_raises_it_and_one_that_does_not() -> None:
    assert set(PAIRS) == set(KINDS), "each kind of WARNINGS needs its pair in PAIRS"
    assert set(PAIRS) >= REAL


def test_every_kind_is_raised_by_real_material_or_says_why_not() -> None:
    assert REAL | set(NOT_REAL) == set(KINDS) and not REAL & set(NOT_REAL), "each kind: real, or why not"


@pytest.mark.parametrize("kind", sorted(PAIRS))
def test_each_pair_names_tests_that_exist(kind: str) -> None:
    for node in (*PAIRS[kind], *([BY_HAND[kind]] if kind in BY_HAND else [])):
        path, name = node.split("::")
        assert name in _tests_in(path), node
