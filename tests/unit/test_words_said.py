"""What the summary and the report say, said where the reader has it (issue 90, item 4): a gate not judged says why in
the closing summary's own row (the terminal shows no row above it to point at); a HOLD's reasons are listed one a
line at the top of the report, under what to do; a column of the union's left-out clips only where a row has something
in it; no clip longer than the consumer's window said once, by the consumer's headline; the consumer's gate lines
and the table under them the same figure for the same pool."""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from pathlib import Path

from kit.corpus.manifests import LeftOut
from kit.model.consumer import CRF_RANGE
from kit.report.html import left_out_section, recommendation_html, render_report
from kit.report.sections import consumer_section
from kit.report.summary import closing_rows
from kit.verdict.consumer import consumer_fit
from kit.verdict.consumer_gates import ceiling_gate, share_gate
from kit.verdict.document import Verdict
from kit.verdict.gates import CONSUMER_CEILING, CONSUMER_CONTENT_SHARE, CONSUMER_SHARE
from tests.conftest import ROOT
from tests.unit.test_ceiling_gate import FRAME

GOLDEN = ROOT / "tests" / "data" / "verdict_promote.json"


def golden() -> Verdict:
    return Verdict.from_json(json.loads(GOLDEN.read_text()))


def with_consumer(share: float | None, content: float | None, gap: float | None, no_ceiling: bool = False) -> Verdict:
    """The golden verdict with the consumer block of test_ceiling_gate's FRAME (no window: whole encodes) and its
    three gates at these thresholds."""
    frame = FRAME.assign(ceiling=float("nan")) if no_ceiling else FRAME
    fit = consumer_fit(frame, 1.5, CRF_RANGE, no_ceiling="NEG reads features of its own" if no_ceiling else None)
    rows = (share_gate(fit, share, CONSUMER_SHARE.measure, False),
            share_gate(fit, content, CONSUMER_CONTENT_SHARE.measure, True),
            ceiling_gate(fit, gap, CONSUMER_CEILING.measure))
    return replace(golden(), consumer=fit, consumer_gates=rows)


def test_a_gate_not_judged_says_why_in_the_closing_summary_itself(tmp_path: Path) -> None:
    rows = dict(closing_rows(tmp_path, with_consumer(0.5, 0.5, 0.15, no_ceiling=True)))
    said = rows["not judged"]
    assert said == "consumer share under its ceiling: no ceiling: NEG reads features of its own"
    assert "above" not in said and "not judged" not in rows.get("other gates", "")


def test_a_hold_s_reasons_are_listed_one_a_line_under_what_to_do() -> None:
    v = replace(golden(), verdict="HOLD", reasons=["seed spread 0.0075 exceeds 0.005", "mean PLCC 0.9 is below 0.95"],
                recommendation="HOLD: seed spread 0.0075 exceeds 0.005; mean PLCC 0.9 is below 0.95. Send the results "
                               "tarball back; do not ship these models.")
    assert v.advice == "Send the results tarball back; do not ship these models."
    head, listed, act = recommendation_html(v)  # the reasons first, then what to do (issue 98, item 7)
    assert head == "<p>HOLD, for the gates that failed:</p>"
    assert listed == "<ul><li>Seed spread 0.0075 exceeds 0.005.</li><li>Mean PLCC 0.9 is below 0.95.</li></ul>"
    assert act == "<p>Send the results tarball back; do not ship these models.</p>"
    page = render_report(v)
    assert page.index(head) < page.index(listed) < page.index(act) < page.index("<h2 id='worst'>")
    promote = golden()
    assert promote.advice is None and recommendation_html(promote) == [f"<p>{promote.recommendation}</p>"]


def test_the_left_out_table_has_a_column_only_where_a_row_fills_it() -> None:
    plain = (LeftOut("a.y4m", "odd width", "box1"), LeftOut("b.mp4", "no moov atom", "box2"))
    v = golden()
    section = "".join(left_out_section(replace(v, corpus=replace(v.corpus, left_out=plain)), ()))
    assert "refuted by the independent check" not in section and "no moov atom" in section
    refuted = (*plain, LeftOut("c.y4m", "its scores do not hold", "box1", by_check=True))
    section = "".join(left_out_section(replace(v, corpus=replace(v.corpus, left_out=refuted)), ()))
    assert "<th>refuted by the independent check</th>" in section and section.count("<td>yes</td>") == 1


def test_the_gate_lines_and_the_table_under_them_say_the_same_figure_for_the_same_pool() -> None:
    """Every `<label> X% of N` a consumer gate line says is the table's gated cell of that row; the table's other
    figures name their own pools in their headers; no sampling section repeats that no clip is longer."""
    v = with_consumer(0.9, 0.75, 0.15)
    page = "".join(consumer_section(v))
    by = {"all": "all", "encoder": "encoder", "CRF band (vmaf-tune's)": "CRF", "rung": "rung",
          "content group": "content"}
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    rows = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in body.split("<tr>")[1:]]
    table = {"all" if r[0] == "all" else f"{by[r[0]]} {r[1]}": r for r in rows}
    said = [(m[1], m[2]) for g in v.consumer_gates or () for m in re.finditer(
        r"(all|CRF [\d-]+|encoder \S+|content \w+) (\d+\.\d% of \d+)", str(g.statement))]
    assert len(said) >= 4, said
    for label, figure in said:
        assert table[label][4] == figure, (label, figure, table[label])
    assert "the student within, of the pool (gated)" in page and "the ceiling within: the pool" in page
    assert "id='sampling'" not in page  # FRAME has no window: said once, by the headline
    assert "judged on each whole encode (no window placed" in page
