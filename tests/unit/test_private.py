"""The folders a results tarball does not name (kit.bundle.private), however a file spells them."""

from __future__ import annotations

import html
import json
from pathlib import Path

from kit.bundle.private import Private

REFS = Path("/data/Ann Smith/clips é")
OUT = Path("/data/Ann Smith/runs/box")
HOME = Path("/data/Ann Smith")


def private() -> Private:
    return Private.of(REFS, OUT, HOME)


def test_each_folder_is_written_as_its_word_in_json_html_and_plain_text() -> None:
    doc = {"path": f"{REFS}/odd.y4m", "shard": f"{OUT}/02_corpus/shard.parquet", "kit": f"{HOME}/kit/.venv"}
    assert json.loads(private().rewrite(json.dumps(doc).encode())) == {
        "path": "[ref-dir]/odd.y4m", "shard": "[out-dir]/02_corpus/shard.parquet", "kit": "~/kit/.venv"}
    assert json.loads(private().rewrite(json.dumps(doc, ensure_ascii=False).encode()))["path"] == "[ref-dir]/odd.y4m"
    page = f"<td>{html.escape(str(REFS))}/a&amp;b.y4m</td><td>--ref-dir '{REFS}'</td>".encode()
    assert private().rewrite(page) == b"<td>[ref-dir]/a&amp;b.y4m</td><td>--ref-dir '[ref-dir]'</td>"


def test_a_folder_whose_name_goes_on_is_another_folder() -> None:
    text = f"{REFS}2/x.y4m {HOME}x/y".encode()  # clips é2 lies in the home folder, not in --ref-dir
    assert private().rewrite(text) == "~/clips é2/x.y4m /data/Ann Smithx/y".encode()


def test_bytes_that_are_not_utf8_are_kept() -> None:
    data = b"\xff\xfe " + f"{OUT}/run.json".encode() + b" \x80"
    assert private().rewrite(data) == b"\xff\xfe [out-dir]/run.json \x80"


def test_only_the_kit_s_text_files_outside_the_exports_are_rewritten() -> None:
    assert private().applies("02_corpus/skipped.json") and private().applies("05_bundle/report.html")
    assert private().applies("02_corpus/logs/corpus.log")
    assert not private().applies("02_corpus/shard.parquet")
    assert not private().applies("05_bundle/exports/ensemble.json")
