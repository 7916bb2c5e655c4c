"""Every kind of warning the kit prints (a `WARNING` row of the summary, a warning of the report, a `warning:` line of
`merge`, `corpus info` or the corpus step), declared once: its name, the function that makes its words, the records
that carry it to where it is printed, and what it warns of. tests/unit/test_warning_kinds.py finds in kit/ every
function that makes or prints one and every record field that carries one, refuses any this table does not declare,
and holds, for each kind, a test on real clips, a real run or real corpus steps that raises it and one that does not,
or, where no real material here raises it, NOT_REAL's reason beside a case made by hand (issue 74)."""

from __future__ import annotations

from dataclasses import dataclass


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
# real clips, runs or corpus steps: tests/unit/test_warning_kinds.py's REAL)
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
