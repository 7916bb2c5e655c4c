"""The report's section on the consumer: the held-out encodes as vmaf-tune predicts them (from
03_loso/encodes.parquet), the gates on it and the untrained slots of its one-hot (from the verdict)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from kit.report.markup import CONSUMER_TABLE, ROWS_SHOWN, Graded, cells, esc, headers, note, sorted_by, table
from kit.verdict.consumer import consumer_fit
from kit.verdict.gates import CONSUMER_CONTENT_SHARE, CONSUMER_GATES, CONSUMER_SHARE, Shown, shown
from kit.verdict.kinds import CONSUMER

if TYPE_CHECKING:
    import pandas as pd

    from kit.verdict.document import ConsumerGroup, Verdict

ENCODES_FILE = "03_loso/encodes.parquet"
BY_WORDS = {"all": "all", "encoder": "encoder", "crf_band": "CRF band (vmaf-tune's)", "rung": "rung",
            "content": "content group"}


def share_cell(g: ConsumerGroup, verdict: Verdict) -> Graded:
    """The share within the tolerance, red where it is below the gate that judges its group (none judges a rung)."""
    gate = CONSUMER_CONTENT_SHARE if g.by == "content" else None if g.by == "rung" else CONSUMER_SHARE
    floor = verdict.provenance.thresholds.get(gate.threshold) if gate else None
    shown = f"{g.share_within:.1%}" if math.isfinite(g.share_within) else "n/a"
    return Graded(shown, "g2" if isinstance(floor, int | float) and not g.share_within >= floor else "")


def table_rows(groups: list[ConsumerGroup], verdict: Verdict) -> list[list[object]]:
    """Each grouping's groups, worst first; a grouping longer than ROWS_SHOWN cut there."""
    return [cells(CONSUMER_TABLE, g, label=words, share_within=share_cell(g, verdict))
            for by, words in BY_WORDS.items() for g in [g for g in groups if g.by == by][:ROWS_SHOWN]]


def consumer_section(verdict: Verdict, encodes: pd.DataFrame | None) -> list[str]:
    """The section: headline, gates, untrained slots, table; nothing for a verdict without the block."""
    c = verdict.consumer
    if c is None:
        return []
    parts = ["<h2 id='consumer'>As vmaf-tune uses it</h2>"]
    if encodes is None:
        return [*parts, note(f"{ENCODES_FILE} was not found: no figure.")]
    # from the file alone, as the verdict
    fit = consumer_fit(encodes, c.tolerance, (c.crf_range[0], c.crf_range[1]), c.codec_note is not None)
    whole, groups = fit.whole, [fit.whole, *fit.groups]
    parts.append(f"<p>{esc(headline(whole, c.tolerance))}</p>")
    parts += [f"<p class='{'warn' if s.row.enabled and not s.row.passed else 'note'}'>{esc(gate_line(s))}</p>"
              for s in shown(verdict, CONSUMER_GATES)]
    if c.train_hint:
        said = ("vmaf-tune's one-hot slots the models never trained (no figure here is theirs; its predictions there "
                f"are extrapolation): {c.train_hint}.")
        parts.append(f"<p class='warn'>{esc(said)}</p>")
    if c.codec_note:
        parts.append(note(f"The one-hot: {c.codec_note}."))
    if verdict.teacher_function is not None:
        parts.append(note(f"The teacher's function: {verdict.teacher_function.label}; the recipe: "
                          f"{verdict.recipe or 'frames'} (docs/teachers.md)."))
    parts += [note(text) for text in (c.not_counted, unmeasured_text(c.unmeasured_bands)) if text]
    return [*parts, sorted_by("all first, then encoder, CRF band, rung and content group; in each, the lowest share "
                              "within the tolerance first, then the largest miss"),
            table(headers(CONSUMER_TABLE), table_rows(groups, verdict), cls="compact"),
            note(f"{CONSUMER}: {c.how}. Misses in VMAF points; a share below the gate that judges its group in red. "
                 f"From {ENCODES_FILE} (its {whole.n_encodes} counted rows); every content group is in the file.")]


def headline(whole: ConsumerGroup, tolerance: float) -> str:
    if not whole.n_encodes:
        return "No held-out encode vmaf-tune can query: no figure."
    return (f"{whole.share_within:.1%} of {whole.n_encodes} held-out encodes within {tolerance:g} VMAF of the teacher "
            f"as vmaf-tune predicts them; median miss {whole.median_miss:.2f}, largest {whole.max_miss:.2f} "
            f"({whole.worst_encode}).")


def gate_line(s: Shown) -> str:
    g = s.row
    state = f"gate {g.threshold:g}: {'pass' if g.passed else 'FAIL'}" if g.enabled else "no gate"
    return f"{g.statement} ({s.gate.flag}, {state})."


def unmeasured_text(bands: list[str] | None) -> str | None:
    if not bands:
        return None
    return (f"CRF {', '.join(bands)}: no held-out encode falls there, so vmaf-tune's queries there are unmeasured "
            "(widen --cqs to cover them).")
