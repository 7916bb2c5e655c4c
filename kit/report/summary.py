"""The closing summary: verdict, figures, worst folds, where the tarball is; and a run's last event (`run_finished`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kit.events import RunFinished
from kit.infra.faults import kill_point
from kit.infra.invocation import kit_command, receiver_commands, retry_command
from kit.infra.records import read_record
from kit.infra.tree import Tree, read_out_dir
from kit.infra.visible import visible
from kit.media.discovery import SkippedClips, Unusable
from kit.model.conformal import percent
from kit.model.pooling import POOL_WORDS
from kit.platforms.prereqs import read_prereqs
from kit.platforms.resolve import detect_command
from kit.report import gatelines
from kit.report.gatelines import gate_lines
from kit.report.markup import num
from kit.rundir import RunDir
from kit.verdict.document import NOTHING_TO_SEND, ExportedInterval, IntervalLevel, Verdict, read_verdict
from kit.verdict.gates import CLIP_ERROR_GATES, CONSUMER_GATES, COVERAGE_GATE, HOLDOUT_PLCC, RANGE_GATE, shown
from kit.verdict.kinds import CLIP, CONSUMER, GROUPS, POOLED, POOLED_CLIP, SOURCE
from kit.verdict.plausibility import suspects_text


def _verdict(tree: Tree, out_dir: Path) -> Verdict | None:
    """The run's verdict document, when exactly one verdict file is on disk."""
    found = RunDir(out_dir).verdict_on_disk(tree)
    if found is None:
        return None
    _, path = found
    return read_verdict(tree, path)


class Row(NamedTuple):
    """One row of the summary; `ok` is the outcome of a gate that is on (None otherwise), never read from the text;
    `unjudged`: a gate on with nothing to judge (its row says why)."""

    label: str
    text: str
    ok: bool | None = None
    unjudged: bool = False
    why: str = ""  # a gate not judged: why (the closing summary says it where the gate's row is not shown)


def gated(label: str, said: str, row: Any, sign: str = "", off: str = "no gate", after: str = "") -> Row:
    """A gate's row (a LimitGate, FoldGate or LiftGate): what it found, then its threshold and outcome, or `off`."""
    why = str(getattr(row, "not_judged", None) or "") if row.enabled else ""
    return Row(label, gatelines.gated(said, row, sign, off) + after, gatelines.ok_of(row), bool(why), why)


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.0f} KiB"


def gate_rows(verdict: Verdict) -> list[Row]:
    return [Row(line.short, line.said, line.ok, line.unjudged, line.why) for line in gate_lines(verdict) if line.said]


BASELINES_LINE = ("ridge: a ridge regression on the ensemble's own inputs; linear and mlp_small: seed document "
                  "000's 6->1 and 6->16->8->1 nets on the six features, trained with the ensemble's recipe; "
                  "teacher_fn (where LOSO proved it): the teacher's own function, the student's floor")


FLOOR_LABEL = "against its teacher's function"  # the teacher recipe's floor (kit.model.floor): what the export keeps


def baseline_rows(verdict: Verdict) -> list[tuple[str, str]]:
    """Every baseline the verdict carries, the lift, the incumbent."""
    rows = [(f"{name} baseline", f"PLCC {num(b.mean_plcc)}, RMSE {num(b.mean_rmse, '.2f')}, {GROUPS}")
            for name, b in verdict.baselines.items()]
    if rows:
        rows.append(("the baselines", BASELINES_LINE))
    if verdict.lift.statement:
        rows.append(("what the ensemble adds", verdict.lift.statement))
    if verdict.correction is not None:
        rows.append((FLOOR_LABEL, verdict.correction.label))
    if verdict.incumbent is not None:
        rows.append(("incumbent", f"PLCC {num(verdict.incumbent.mean_plcc)}, "
                                  f"RMSE {num(verdict.incumbent.mean_rmse, '.2f')}, {GROUPS}"))
    challenger = verdict.challenger_gate
    if challenger.enabled and challenger.statement:
        rows.append(("champion/challenger", challenger.statement))
    return rows


def corpus_row(out_dir: Path, verdict: Verdict) -> tuple[str, str]:
    corpus = verdict.corpus
    demo = "  (DEMO corpus)" if corpus.demo_corpus else ""
    path = RunDir(out_dir).found(corpus.path)  # this out-dir's shard is named relative to it
    size = f", {mib(path.stat().st_size)} on disk" if path.is_file() else ""
    return ("corpus", f"{corpus.rows} frames, {corpus.contents_text}, "
                      f"encoders {', '.join(map(str, corpus.encoders))}, "
                      f"boxes {', '.join(map(str, corpus.boxes))}{size}{demo}")


def teacher_rows(verdict: Verdict) -> list[tuple[str, str]]:
    """Per encoder: how far its encodes reached on the teacher's scale, its grid and rungs, and its warning."""
    rows: list[tuple[str, str]] = []
    for t in verdict.corpus.teachers or ():
        rows.append((f"teacher range {t.encoder}", f"{t.lo:.1f} to {t.hi:.1f} (mean score of each of its {t.encodes} "
                                                   f"encodes); cq {','.join(map(str, t.cq_grid))}; rungs "
                                                   f"{', '.join(t.rungs)}"))
        if t.warning:
            rows.append(("WARNING", t.warning))
    return rows


CHECK_LABEL = "independent check"  # what the independent libvmaf check found (kit.corpus.oracle)


def left_out_rows(verdict: Verdict) -> list[tuple[str, str]]:
    """The clips the boxes left out, as the union's manifest carries them (a box's own run: skipped_rows)."""
    left = verdict.corpus.left_out or ()
    if not left:
        return []
    names = "; ".join(f"{u.file} on box {u.box_id or '?'} ({u.why})" for u in left[:3]) + (
        f" and {len(left) - 3} more (the report lists them all)" if len(left) > 3 else "")
    return [("SKIPPED clips", f"{len(left)} left out on the boxes: {names}")]


GROUPS_SHOWN = 5  # content groups the summary lists; the report lists them all


def group_rows(verdict: Verdict) -> list[tuple[str, str]]:
    """The content groups of more than one source: their members and why they are one content."""
    groups = verdict.corpus.groups or ()
    rows = [("content group", f"{', '.join(m.src for m in g.members)}: {'; '.join(g.why) or 'no reason recorded'}")
            for g in groups[:GROUPS_SHOWN]]
    if len(groups) > GROUPS_SHOWN:
        rows.append(("content group", f"and {len(groups) - GROUPS_SHOWN} more (the report lists them all)"))
    return rows


def level_text(x: IntervalLevel, n_groups: int) -> str:
    """One level of the intervals: its measured coverage and width, or why there is none."""
    if x.unbounded:
        return f"{percent(x.level)} unbounded ({n_groups} content groups: needs more)"
    if x.coverage is None:
        return f"{percent(x.level)} unbounded without each row's own group: no coverage"
    return f"{percent(x.level)} covers {x.coverage:.1%}, width {num(x.mean_width, '.1f')}"


def interval_rows(verdict: Verdict) -> list[Row]:
    """The intervals, their warning, whole-clip use, each clip pooling, the optional gates on them."""
    iv = verdict.intervals
    if iv is None:
        return []
    rows = [Row("intervals (held out)", "; ".join(level_text(x, iv.n_groups) for x in iv.levels) + f" ({POOLED})")]
    if iv.warning:
        rows.append(Row("WARNING", iv.warning))
    if (e := iv.exported) is not None:
        rows.append(Row("exported interval", exported_text(e)))
    if iv.clip_use is not None:
        rows.append(Row("per-clip use", f"{iv.clip_use.note} ({CLIP})"))
    if verdict.clip_pooling is not None:
        rows += [Row("clip pooled", f"{POOL_WORDS[e.stat]}: RMSE {e.rmse:.2f}, max {e.max_abs_error:.2f} "
                                    f"({e.worst_clip}), bias {e.bias:+.2f} over {e.n_clips} clips ({POOLED_CLIP})")
                 for e in verdict.clip_pooling.pooled]
    return rows + [gated(s.short, s.row.statement, s.row)
                   for s in [*shown(verdict, CLIP_ERROR_GATES), *shown(verdict, COVERAGE_GATE, RANGE_GATE)]
                   if s.row.enabled or (s.gate.warns_off and s.row.statement and s.row.worst_value > 0)]


def exported_text(e: ExportedInterval) -> str:
    """The interval the manifests export: its multiplier and what it covers, or none."""
    if not e.calibrated:
        return f"none (not calibrated): {e.reason}"
    held = (f"{e.coverage_held_out:.1%} of held-out frames on content it was not calibrated on"
            if e.coverage_held_out is not None else "its coverage on content it was not calibrated on cannot be "
            "measured (unbounded without a row's own group)")
    return (f"mu +- {e.conformal_q_residual:.3f} std over the members ({percent(e.nominal)} nominal): covers {held}; "
            f"{num(e.coverage, '.1%')} pooled with the exported q, lowest content group "
            f"{num(e.group_coverage_min, '.1%')}")


WORST_BY = ("encoder", "box", "resolution", "rung", "quality")  # the groupings the summary names the worst of


def group_error_rows(verdict: Verdict) -> list[Row]:
    """Every held-out frame pooled, the worst group of each grouping, what they confound, each --holdout block."""
    p = verdict.overall.pooled_ensemble
    rows = [Row("all held-out frames", f"RMSE {num(p.rmse, '.2f')}, PLCC {num(p.plcc)}, {POOLED} ({p.n_frames} "
                                    "frames): the kind of the worst-group lines below")]
    rows += [Row(f"worst {by}", f"{g.group}: RMSE {g.rmse:.2f}, PLCC {num(g.plcc)}, {POOLED}; bias {g.bias:+.2f}, "
                                f"max miss {g.max_abs_error:.1f}, {g.share_out_of_range:.1%} out of range"
                                + (f" ({g.note})" if g.note else "")) for by, g in verdict.worst_groups(WORST_BY)]
    rows += [Row("confounded", sentence) for sentence in verdict.confounding or ()]
    for block in verdict.holdout or ():  # each block's gate is HOLDOUT_PLCC's row
        label = HOLDOUT_PLCC.short.format(kind=block.kind)
        worst = next((g for g in block.groups if g.group == block.gate.worst), None)
        rows.append(gated(label, f"{block.gate.statement}, {POOLED}", block.gate, off=f"no gate: {HOLDOUT_PLCC.flag}",
                          after=f"; {worst.note}" if worst is not None and worst.note else ""))
        if block.left_out:
            rows.append(Row(f"{label}: rows left out", block.left_out))
    if verdict.completeness is not None and not verdict.completeness.passed:
        rows.append(Row("FOLDS WITHOUT RESULTS", ", ".join(verdict.completeness.missing)))
    return rows


CONSUMER_LABEL = "as vmaf-tune uses it"


def consumer_rows(verdict: Verdict, shortfall: bool = True) -> list[Row]:
    """The held-out encodes as vmaf-tune uses the models in one row (the gates' figure, its pool, the worst groups,
    and the input's shortfall unless `shortfall` is False: a HOLD's closing rows say it on a row of its own, after
    the reasons), then each of its gates that is on."""
    gates = [gated(s.short, s.row.statement, s.row, f"{s.gate.sign} ") for s in shown(verdict, CONSUMER_GATES)
             if s.row.enabled and s.row.threshold is not None]
    c = verdict.consumer
    if c is None:
        return gates
    if not c.n_encodes:
        said = f"no held-out encode vmaf-tune can query ({c.not_counted or 'none'})"
    elif (j := c.judged) is None:  # a verdict of an older kit: its per-encode figure
        said = (f"{c.share_within:.1%} of {c.n_encodes} held-out encodes within {c.tolerance:g} VMAF ({CONSUMER})"
                f"{c.whole.ceiling_words(full=True)}")
    else:
        worst = "".join(f"; worst {t.label} {t.pooled_words()}" for by in ("crf_band", "encoder", "content")
                        if len(j.of(by)) > 1 and (t := j.of(by)[0]).pool)
        said = (f"{c.judged_words()}; median miss {num(j.median_miss, '.2f')}, largest "
                f"{num(j.max_miss, '.2f')} ({j.worst_encode}){worst}")
        if shortfall and (short := j.shortfall_words()):
            said += f"; {short}"
    if c.train_hint:
        said += f"; untrained slots of vmaf-tune's one-hot, no figure given: {c.train_hint}"
    if c.codec_note:
        said += "; the one-hot is not read: every encoder slot predicts alike"
    return [Row(CONSUMER_LABEL, said), *gates]


SAMPLING_LABEL = "vmaf-tune's sampling"


def sampling_rows(verdict: Verdict) -> list[Row]:
    """The sampling that would serve vmaf-tune, then a WARNING for each content whose window is not its clip."""
    c = verdict.consumer
    if c is None or c.sampling is None:
        return []
    s = c.sampling
    warnings = [Row("WARNING", w) for w in s.warnings or ()]
    if s.not_measured or not c.n_longer or not s.shares:  # said once, by the consumer's row: no window, or the clip
        return warnings
    # which sampling serves best, said as a difference: the share as vmaf-tune samples is the consumer row's
    return [Row(SAMPLING_LABEL, f"which sampling serves vmaf-tune best: {s.best}"), *warnings]


def summary_rows(out_dir: Path, verdict: Verdict) -> list[tuple[str, str]]:
    """The table: verdict, figures, baselines, corpus (the paths follow it, see path_lines)."""
    worst = "; ".join(f"{w.src} ({w.reason})" if w.reason else f"{w.src} (PLCC {num(w.plcc, '.3f')})"
                      for w in verdict.worst_folds)
    return [("verdict", verdict.headline), ("validation", verdict.scheme_text), *map(pair, gate_rows(verdict)),
            *baseline_rows(verdict), ("worst folds", f"{worst} ({SOURCE})"), *map(pair, consumer_rows(verdict)),
            *map(pair, sampling_rows(verdict)),
            *map(pair, interval_rows(verdict)),
            *map(pair, group_error_rows(verdict)),
            *([(CHECK_LABEL, verdict.independent_check.text)] if verdict.independent_check is not None else []),
            *(("WARNING", w) for w in verdict.corpus.warnings or ()), corpus_row(out_dir, verdict),
            *teacher_rows(verdict),
            *([("WARNING", suspects_text(verdict.teacher_suspects))] if verdict.teacher_suspects else []),
            *(("WARNING", r.text) for r in verdict.frame_regimes or ()),
            *group_rows(verdict)]


def pair(row: Row) -> tuple[str, str]:
    return row.label, row.text


THE_REST = ("the rest", "baselines, what the ensemble adds, intervals, per-clip use, each kind's worst group in "
                        "full, teacher ranges, content groups: in the report (below) and the verdict file")


UNCOUNTED_LABEL = "no gate counts"  # a HOLD's row of what no gate counts (the input's shortfall), after its reasons


def closing_rows(out_dir: Path, verdict: Verdict) -> list[tuple[str, str]]:
    """The closing summary: a failing gate in full, the rest in a row, the worst, the warnings, the corpus; a HOLD's
    opens with its reasons (gate_summary)."""
    full = summary_rows(out_dir, verdict)
    consumer = consumer_rows(verdict, shortfall=verdict.verdict != "HOLD")
    rows = [*gate_summary(verdict, consumer), *(row for row in full if row[0] == "worst folds"), held_out_row(verdict)]
    rows += [pair(row) for row in [*consumer[:1], *sampling_rows(verdict)[:1]]]
    rows += [row for row in full if row[0] == FLOOR_LABEL]  # the student is, or beats, its teacher's function
    rows += [row for row in full if row[0] in ("WARNING", "FOLDS WITHOUT RESULTS")]
    rows += [row for row in full if row[0] == CHECK_LABEL]
    rows.append(corpus_row(out_dir, verdict))
    return [*rows, THE_REST]


def gate_summary(verdict: Verdict, consumer: list[Row]) -> list[tuple[str, str]]:
    """The verdict, its validation and the PLCC's gates, then every other gate: each that fails in full, those that
    pass in one row, those not judged (and why) in another. A HOLD opens with the reason first (issue 98, item 7):
    the verdict, each gate that fails, what no gate counts (the input's shortfall), then the validation and the
    PLCC's gates that pass."""
    plcc = gate_rows(verdict)
    others = [*plcc[3:], *consumer[1:], *interval_rows(verdict), *group_error_rows(verdict)]  # all but the PLCC's gates
    if verdict.verdict == "HOLD":
        j = verdict.consumer.judged if verdict.consumer is not None else None
        uncounted = j.shortfall_words() if j is not None else None
        rows = [("verdict", verdict.headline), *(pair(row) for row in [*plcc[:3], *others] if row.ok is False),
                *([(UNCOUNTED_LABEL, uncounted)] if uncounted else []), ("validation", verdict.scheme_text),
                *(pair(row) for row in plcc[:3] if row.ok is not False)]
    else:
        rows = [("verdict", verdict.headline), ("validation", verdict.scheme_text), *map(pair, plcc[:3])]
        rows += [pair(row) for row in others if row.ok is False]
    if passing := [row.label for row in others if row.ok]:
        rows.append(("other gates", f"{', '.join(passing)}: pass"))
    if unjudged := [row for row in others if row.unjudged]:
        rows.append(("not judged", "; ".join(f"{row.label}: {row.why or 'nothing to judge'}" for row in unjudged)))
    return rows


def held_out_row(verdict: Verdict) -> tuple[str, str]:
    """Every held-out frame's error, then each kind's worst group in a few words."""
    p = verdict.overall.pooled_ensemble
    worst = "; ".join(f"worst {by} {g.group}: RMSE {g.rmse:.2f}" for by, g in verdict.worst_groups(WORST_BY))
    return (f"held-out error ({POOLED})", f"all {p.n_frames} frames: RMSE {num(p.rmse, '.2f')}, PLCC {num(p.plcc)}"
            + (f"; {worst}" if worst else ""))


DEMO_TARBALL = ("of the DEMO corpus (synthetic clips, no --ref-dir): it shows that the kit works on this box, not how "
                "the models do on your content, so it is not what the lead needs")
REAL_CLIPS = "the results to send are made from your own reference clips: run (with the other flags you used)"
SHOW_SENT = "read every text it sends, file by file, before you send it"
RECEIVER = "the lead checks it, in the folder they saved it in, with"
RECEIVER_UNTARRED = "or, from the folder of an untarred kit (the tarball's path in place of its name)"
LEAD_TARBALL = f"{NOTHING_TO_SEND['lead']}; keep it with the union"  # as the recommendation says it


def path_lines(tree: Tree, out_dir: Path, demo: bool = False, lead: bool = False) -> list[tuple[str, str]]:
    """(what, a path, command or flag) to print whole: the encoders left out, the report, the tarball and its verify
    commands (here and at the lead's; a demo's: the run on real clips instead)."""
    run = RunDir(out_dir)
    lines = left_out_lines(tree, out_dir)
    if tree.is_file(run.report):
        lines.append(("report (open it in a browser; it works offline)", str(run.report)))
    tarball = run.latest_tarball(tree)
    if tarball is None:
        lines.append(("results tarball: the bundle step has not run yet", ""))
        return lines
    size = mib(found.st.st_size if (found := tree.entry(tarball)) is not None else 0)
    if demo:
        lines += [(f"results tarball ({size}) {DEMO_TARBALL}", str(tarball)),
                  ("check it here with", kit_command("verify", tarball)),
                  (REAL_CLIPS, kit_command("run", "--ref-dir", "/path/to/clips", "--box-id", "mybox"))]
    elif lead:
        lines += [(f"results tarball ({size}): {LEAD_TARBALL}", str(tarball)),
                  ("check it with", kit_command("verify", tarball))]
    else:
        installed, untarred = receiver_commands("verify", tarball.name)
        lines += [(f"results tarball ({size}): send it to the lead as it is", str(tarball)),
                  ("check it here with", kit_command("verify", tarball)),
                  (SHOW_SENT, kit_command("verify", "--show-sent", tarball)),
                  (RECEIVER, installed), (RECEIVER_UNTARRED, untarred)]
    if tree.is_folder(aside := run.set_aside_for(tarball)):
        lines.append(("the earlier models and tarballs it replaced, moved aside (kept, not in the tarball)",
                      str(aside)))
    return lines


def left_out_lines(tree: Tree, out_dir: Path) -> list[tuple[str, str]]:
    """The opt-in encoders --encoders auto left out (prereqs.json), with the flag or command that adds them."""
    prereqs, _ = read_prereqs(tree, RunDir(out_dir).prereqs_json)
    if prereqs is None:
        return []
    lines = []
    if working := prereqs.left_out:
        lines.append((f"encoders that work here (detect tested them) but --encoders auto left out (opt-in): "
                      f"{', '.join(working)}; to encode with them too, run with",
                      f"--encoders {prereqs.adding(working)}"))
    if untested := prereqs.untested:
        lines.append((f"opt-in encoders --encoders auto left out, not tested here yet: {', '.join(untested)}; test "
                      f"them with (then add those that work with --encoders {prereqs.adding(untested)})",
                      detect_command(untested, prereqs.ffmpeg)))
    return lines


def skipped_rows(tree: Tree, out_dir: Path) -> list[tuple[str, str]]:
    """The reference clips the corpus step left out (02_corpus/skipped.json): how many, which, where the fixes are."""
    path = RunDir(out_dir).skipped_clips
    record, why = read_record(SkippedClips, tree, path)
    if record is None:  # none left out, or a damaged record: said, not a traceback
        return [] if why == "missing" else [("SKIPPED clips", f"{path} is {why}: rerun the corpus step to list them")]
    skipped = record.skipped
    names = "; ".join(f"{Path(u.path).name} ({u.why})" for u in skipped[:3]) + (
        f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    rows = [("SKIPPED clips", f"{len(skipped)} left out (--strict refuses instead): {names}; each one's fix: {path}")]
    if again := left_out_again(skipped):
        rows.append(("retry", f"left out for this run only, for the box's or the moment's cause (not the clip's): "
                              f"{', '.join(again)}; the same command tries them again, below"))
    return rows


def left_out_again(skipped: Sequence[Unusable]) -> list[str]:
    """The names of the clips left out for the box's or the moment's cause, never the clip's (`again`)."""
    return [Path(u.path).name for u in skipped if u.again]


def tried_again(tree: Tree, out_dir: Path) -> list[str]:
    """The names of the clips left out for the box's or the moment's cause (skipped.json's `again`)."""
    record, _ = read_record(SkippedClips, tree, RunDir(out_dir).skipped_clips)
    return left_out_again(record.skipped) if record is not None else []


def retry_lines(tree: Tree, out_dir: Path) -> list[tuple[str, str]]:
    """The command that tries again the clips skipped_rows' `retry` row names, under the table (never in a cell)."""
    if not (again := tried_again(tree, out_dir)):
        return []
    return [(f"the same command tries {', '.join(again)} again, the rest reused", retry_command())]


def print_summary(out_dir: Path, console: Console) -> Verdict | None:
    """The closing summary of the run's verdict, and that verdict (None: none on disk, nothing printed)."""
    with read_out_dir(out_dir) as tree:
        verdict = _verdict(tree, out_dir)
        if verdict is None:
            return None
        style = {"PROMOTE": "bold green", "HOLD": "bold yellow"}.get(verdict.verdict)
        rows = closing_rows(out_dir, verdict)
        record, _ = tree.read_json_object(RunDir(out_dir).run_json)
        settings = record.get("settings") if record is not None else None
        lead = isinstance(settings, dict) and bool(settings.get("corpus"))  # trained on a given corpus: the union
        skipped = left_out_rows(verdict) if lead else skipped_rows(tree, out_dir)
        print_table(console, [*rows[:-1], *skipped, rows[-1]], "verdict", style)
        kill_point("summary")  # the harness's instant "while the summary is written" (tests/real/test_exit_signals.py)
        retry = [] if lead else retry_lines(tree, out_dir)
        print_paths(console, [*retry, *path_lines(tree, out_dir, verdict.corpus.demo_corpus and not lead, lead)])
    return verdict


def print_table(console: Console, rows: list[tuple[str, str]], marked: str, style: str | None) -> None:
    """The summary's table, the row labelled `marked` in `style`; the user's names made visible, as Text."""
    table = Table(title="ensemble-kit summary", show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, text in rows:
        table.add_row(label, Text(visible(text)), style=style if label == marked else None)
    console.print(table)


def print_paths(console: Console, lines: list[tuple[str, str]]) -> None:
    """Each of path_lines whole on a line of its own (never wrapped), its path, command or flag indented under it."""
    for label, text in lines:
        console.print(visible(f"{label}:" if text else label), markup=False, highlight=False, soft_wrap=True)
        if text:
            console.print(f"  {visible(text)}", markup=False, highlight=False, soft_wrap=True)


def print_corpus_only(out_dir: Path, console: Console, why: str) -> None:
    """The closing block of a box that cannot train (kit.platforms.prereqs.corpus_only_reason)."""
    from kit.corpus.manifests import ShardManifest
    from kit.corpus.summary import independent_check
    from kit.infra.records import RecordError

    with read_out_dir(out_dir) as tree:
        run = RunDir(out_dir)
        manifest = tree.read_json_object(run.shard_manifest)[0] or {}
        demo, n = manifest.get("demo_corpus") is True, manifest.get("rows")
        made = f"{n} rows, " if isinstance(n, int) else ""
        try:
            shard = ShardManifest.from_json(manifest, "shard.manifest.json")
        except RecordError:  # a damaged manifest: none of its rows
            said = []
        else:
            said = [*(("WARNING", w) for w in shard.warnings), (CHECK_LABEL, independent_check(shard).text)]
        rows = [("this box", f"corpus only: {why}"), *said, ("corpus", f"{made}{run.shard}"),
                *skipped_rows(tree, out_dir),
                ("training", "happens at the lead: LOSO, the verdict and the models run on the union of the boxes' "
                             "corpora; this box's corpus is in the results tarball below, to send as it is")]
        print_table(console, rows, "this box", "bold yellow")
        print_paths(console, [*retry_lines(tree, out_dir), *path_lines(tree, out_dir, demo)])


def finished_event(out_dir: Path, exit_code: int, seconds: float, with_results: bool,
                   verdict: Verdict | None = None) -> RunFinished:
    """The last event; with_results when the run reached the verdict or bundle step (else the files may be old).
    `verdict`: the one the summary read just before (a document of 0.4 GiB at 50,000 contents is read once), else
    the one on disk."""
    if not with_results:
        return RunFinished(exit_code, round(seconds, 3))
    run = RunDir(out_dir)
    with read_out_dir(out_dir) as tree:
        verdict = verdict if verdict is not None else _verdict(tree, out_dir)
        tarball, report = run.latest_tarball(tree), tree.is_file(run.report)
    return RunFinished(exit_code, round(seconds, 3), verdict.verdict if verdict is not None else None,
                       str(tarball) if tarball else None, str(run.report) if report else None)
