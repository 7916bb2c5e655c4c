"""Confounding said (issue 37, item 6): a box whose rows are one encoder set, or that holds the only rows of an
encoder or a content, is said to stand for them in the breakdown, the --holdout tables and the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kit.report.summary import summary_rows
from kit.verdict.assess import Predicted, assess, holdout_gate
from kit.verdict.confounding import confounding


def union_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(meta, predictions of two seeds): box realA ran libx264 on contents c0-c2, box realB libx265 and libsvtav1 on
    c0 (a copy of the same content) and c3-c5."""
    rng = np.random.default_rng(1)
    parts = []
    for box, encoders, contents in (("realA", ["libx264"], [0, 1, 2]), ("realB", ["libx265", "libsvtav1"],
                                                                        [0, 3, 4, 5])):
        for enc in encoders:
            for c in contents:
                parts.append(pd.DataFrame({"src": f"c{c}", "src_sha256": f"{c:064x}", "content": f"{c:064x}",
                                           "encoder": enc, "cq": np.tile([19, 37], 4), "box_id": box, "width": 640,
                                           "height": 360, "frame_index": np.arange(8)}))
    meta = pd.concat(parts, ignore_index=True)
    meta = meta.assign(corpus_row=np.arange(len(meta))).set_index("corpus_row", drop=False)
    y = rng.uniform(30, 95, len(meta))
    preds = pd.concat([pd.DataFrame({"seed": s, "corpus_row": np.arange(len(meta)), "vmaf": y,
                                     "pred": y + rng.normal(0, 2, len(meta))}) for s in (0, 1)], ignore_index=True)
    return meta, preds


def test_a_box_that_ran_its_own_encoders_is_said_to_be_them() -> None:
    meta, _ = union_rows()
    said = confounding(meta)
    assert said.note("box", "realA") == ("box realA ran only libx264: its figures are libx264's; box realA holds the "
                                         "only rows of 2 content group(s) (c1, c2): its figures are also partly "
                                         "those contents'")
    assert "box realB ran only libsvtav1, libx265: its figures are libsvtav1, libx265's" in str(said.note("box",
                                                                                                          "realB"))
    assert said.note("encoder", "libx264") == "encoder libx264 ran only on box realA: its figures are box realA's too"
    assert said.note("encoder", "nvenc") is None and len(said.sentences) == 7
    one_box = meta.assign(box_id="realA")
    assert confounding(one_box).sentences == []  # one box: nothing for it to be confounded with


def test_the_breakdown_the_holdout_tables_and_the_summary_say_it(tmp_path: Path) -> None:
    meta, preds = union_rows()
    holdout = preds.assign(heldout=meta["box_id"].to_numpy()[preds["corpus_row"]], scheme="every box left out")
    a = assess(Predicted.of(preds, meta), meta, None, {"box": holdout}, 0.95)
    box = next(g for g in a.breakdown if g.by == "box" and g.group == "realA")
    assert box.note is not None and box.note.startswith("box realA ran only libx264")
    enc = next(g for g in a.breakdown if g.by == "encoder" and g.group == "libx265")
    assert enc.note == "encoder libx265 ran only on box realB: its figures are box realB's too"
    unseen = next(g for g in a.holdout[0].groups if g.group == "realB")
    assert unseen.note is not None and "ran only libsvtav1, libx265" in unseen.note  # "unseen box" = those
    assert "box realA ran only libx264: its figures are libx264's" in a.confounding

    from dataclasses import replace

    from kit.verdict.document import Verdict
    from tests.report_run import GOLDEN_VERDICT

    golden = Verdict.from_json(__import__("json").loads(GOLDEN_VERDICT.read_text()))
    held = tuple(b.judged(holdout_gate(b.kind, b.groups, None)) for b in a.holdout)
    verdict = replace(golden, breakdown=a.breakdown, holdout=held, confounding=list(a.confounding))
    rows = summary_rows(tmp_path, verdict)
    assert ("confounded", "box realA ran only libx264: its figures are libx264's") in rows
    worst_box = dict(rows).get("worst box", "")
    assert "ran only" in worst_box  # the worst box's line says what it also stands for
