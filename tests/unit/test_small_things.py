"""Issue 41's small things: each said where kit 0.1 said nothing, or said it wrong."""

from __future__ import annotations

import json
from io import StringIO

import pyarrow as pa

from kit import events as ev
from kit.corpus.inputs import LoadedInput
from kit.corpus.merge import rename_warnings
from kit.report.html import corpus_section, run_provenance
from kit.report.terminal import Renderer
from kit.verdict.document import Verdict
from tests.conftest import ROOT


def shard(name: str, rows: list[tuple[str, str]]) -> LoadedInput:
    table = pa.table({"src_sha256": [sha for sha, _ in rows], "src": [src for _, src in rows]})
    return LoadedInput(f"/boxes/{name}/shard.parquet", "parquet", name * 8, table)


def test_a_source_renamed_across_boxes_is_said_at_the_merge_with_the_name_the_union_gives_it() -> None:
    a = shard("boxa", [("ab" * 32, "city"), ("cd" * 32, "forest")])
    b = shard("boxb", [("ab" * 32, "city_night"), ("ef" * 32, "sea")])
    merged = pa.table({"src_sha256": ["ab" * 32, "cd" * 32, "ef" * 32], "src": ["city", "forest", "sea"]})
    (warning,) = rename_warnings([a, b], merged)
    assert warning.startswith(f"file {'ab' * 6} is named 'city' in ")
    assert "'city_night' in " in warning and "the union calls it 'city'" in warning
    assert rename_warnings([a, shard("boxc", [("ab" * 32, "city")])], merged) == []  # one name: nothing to say


def test_the_corpus_hash_is_labelled_as_a_hash_of_the_rows_not_of_the_file() -> None:
    verdict = Verdict.from_json(json.loads((ROOT / "tests" / "data" / "verdict_promote.json").read_text()))
    page = "".join(corpus_section(verdict, ""))
    assert "<td>rows sha256 (a hash of the rows&#x27; content, not of the file&#x27;s bytes)</td>" in page
    assert "<td>sha256</td>" not in page  # beside the file's path, a bare "sha256" read as the file's


def test_a_run_on_a_given_corpus_names_the_encoders_of_its_rows() -> None:
    """No prereqs resolved encoders (the run encoded nothing): the corpus's rows' encoders, said so."""
    said = run_provenance(None, None, ["libx264", "hevc_nvenc"])
    assert said["encoders_used"] == "libx264, hevc_nvenc (in the given corpus's rows; this run encoded nothing)"


def test_the_bundle_line_counts_the_files_as_verify_does() -> None:
    """48 members: manifest.json and the 47 files it lists, which `verify` counts ("OK: 47 files match")."""
    buf = StringIO()
    Renderer(stream=buf)(ev.BundleWritten("/r/results-a-1.tar.gz", 48, "ab" * 32))
    assert "(47 files with their sha256 in its manifest.json" in buf.getvalue()
