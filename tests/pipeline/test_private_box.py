"""Nothing of the box's folders leaves it, by construction (issue 69, item 1; ARCHITECTURE.md, "What leaves the box"): a
box whose every folder (--ref-dir, the out-dir, HOME, KIT_CACHE_DIR, KIT_FFMPEG's folder, the current folder, the kit's
own folder) carries a quote, a space, a dollar, a colon, brackets, a backslash, bytes that are not UTF-8 and a secret
word runs the kit with a --teacher model file in a folder of its own: a failing job first (its ffmpeg echoes the paths
it was given on stderr), clips left out (an odd size, a master that does not decode, one whose strict look hangs until
its budget stops it, its refusal read from the kit's cache on the next runs), then PROMOTE, then HOLD. Each results
tarball is read member by member, every member decompressed (parquet's cells and metadata, ONNX's metadata and names,
JSON's strings, HTML unescaped), and the secret word is in no byte of it, in any of the spellings a path takes (UTF-8,
UTF-16, UTF-32, base64, URL-escaped, JSON-escaped, shell-quoted, ffmpeg's filter escaping: the word is ASCII letters,
which each of those keeps as they are or encodes as searched). `verify` and `merge` take the tarballs. The kit runs from
a copy of itself in such a folder, started by its path, as an untarred kit is."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.infra.tree import Tree
from kit.media.libvmaf import escape_filter_value
from kit.media.svr import builtin_model_text
from kit.rundir import RunDir
from tests import pace
from tests.conftest import FAST, LENIENT, ODD, ROOT, TINY_SOURCES, render

SECRET = "Zq7Sekritwort"
# every character the issue names, and bytes no UTF-8 decoder takes, then the word
AWKWARD = os.fsdecode(b"it's $HOME: [b] \\ \xff\xfe ") + SECRET
FAIL_ENV = "PRIVATE_BOX_FAIL"  # the wrapper's own variable: while it names an existing file, cq 37 fails
HANGS = "hangs.mp4"  # a clip whose strict look hangs, as opencv-doc's box.mp4's did (tests/real/test_bounded_looks.py)
WRAPPER = """#!/bin/sh
# the box's ffmpeg: fails every job at cq 37 while the marker exists, saying every argument it was given; hangs on the
# strict look at HANGS, ignoring SIGTERM and saying every argument it was given, until the kit kills it
if [ -e "${FAIL}" ]; then
  case "$*" in *cq037*) echo "cannot encode, given: $*" >&2; exit 1;; esac
fi
case "$*" in *-xerror*HANGS*)
  trap '' TERM
  while :; do echo "[h264 @ 0x5581] [error] mmco: unref short failure, given: $*" >&2; sleep 0.2; done;;
esac
exec REAL "$@"
"""


def spellings(word: str) -> list[bytes]:
    """The word as any file may hold it: UTF-8 and its escapes (which keep ASCII letters), UTF-16 and UTF-32 both
    ways, base64 at each of its three alignments, and, lower-cased, for a case-folded copy."""
    text = [word, urllib.parse.quote(word), json.dumps(word)[1:-1], shlex.quote(word), escape_filter_value(word),
            html.escape(word)]
    found = {t.encode() for t in text} | {word.lower().encode()}
    found |= {word.encode(enc) for enc in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")}
    for pad in range(3):  # base64 of the word behind 0, 1 or 2 bytes: its stable middle
        coded = base64.b64encode(b"\0" * pad + word.encode())
        found.add(coded[4:-4])
    return sorted(f for f in found if len(f) >= 8)  # a short middle would be found anywhere


def views(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """What a member holds, each way it can be read: its bytes, then its decompressed or decoded forms."""
    yield "bytes", data
    if name.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(pa.BufferReader(data))
        yield "parquet metadata", repr(pf.metadata.metadata).encode("utf-8", "surrogateescape")
        table = pf.read()
        yield "parquet schema", repr(table.schema).encode("utf-8", "surrogateescape")
        yield "parquet cells", repr(table.to_pylist()).encode("utf-8", "surrogateescape")
    elif name.endswith(".onnx"):
        import onnx

        model = onnx.load_model_from_string(data)
        props = [f"{p.key}={p.value}" for p in model.metadata_props]
        names = [n.name for n in model.graph.node] + [i.name for i in model.graph.initializer]
        said = [model.doc_string, model.producer_name, model.graph.doc_string, model.graph.name, *props, *names]
        yield "onnx metadata", "\n".join(said).encode("utf-8", "surrogateescape")
    elif name.endswith(".json"):
        yield "json strings", "\n".join(strings(json.loads(data))).encode("utf-8", "surrogateescape")
    elif name.endswith(".html"):
        yield "html text", html.unescape(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")


def strings(doc: object) -> Iterator[str]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from strings(value)
    elif isinstance(doc, str):
        yield doc


def scan(tarball: Path, word: str = SECRET) -> tuple[dict[str, int], list[str]]:
    """(what was read: members, bytes, views; where `word` is: `member: view`)."""
    words, found = spellings(word), []
    counts = {"members": 0, "bytes": 0, "views": 0}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            found += [f"{member.name}: its name"] if word.lower() in member.name.lower() else []
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            counts["members"] += 1
            counts["bytes"] += len(data)
            for view, seen in views(member.name, data):
                counts["views"] += 1
                folded = seen.lower()
                found += [f"{member.name}: {view}" for w in words if w in seen or w.lower() in folded][:1]
    return counts, found


class Box:
    """The folders of the box, each awkward, and a copy of the kit in one of them."""

    def __init__(self, base: Path, ffmpeg: str, tiny_refs: Path) -> None:
        self.refs, self.out, self.home, self.cwd = (base / f"{tag} {AWKWARD}" for tag in ("refs", "out", "home", "cwd"))
        self.cache = Path(f"{self.refs} old")  # a sibling whose name goes on from --ref-dir's
        self.ff, self.kit = base / f"ff {AWKWARD}" / "ffmpeg", base / f"kit {AWKWARD}"
        for folder in (self.refs, self.home, self.cwd, self.cache, self.ff.parent):
            folder.mkdir(parents=True)
        for name in TINY_SOURCES:
            shutil.copy(tiny_refs / f"{name}.y4m", self.refs / f"{name}.y4m")
        render(ffmpeg, ODD, self.refs / "odd.y4m", pix_fmt="yuv444p")  # 175x143: left out
        # what the corpus step says of a set, each naming files: a twin (alpha's pictures again), a clip whose name
        # reduces to another's source name ('alpha'), and two sources one content by a --content-groups file
        shutil.copy(tiny_refs / "alpha.y4m", self.refs / "alpha_twin.y4m")
        render(ffmpeg, "smptebars=s=176x144:r=25", self.refs / "alpha_25fps.y4m")
        self.groups = self.home / "groups.json"
        self.groups.write_text(json.dumps({"same": [["beta", "gamma"]]}))
        (self.refs / "broken.mp4").write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 200)  # no moov: left out
        # a clip whose strict look hangs (the wrapper): left out by its look's budget (about 30 s) on the first run,
        # from the kit's cache on the next ones
        render(ffmpeg, TINY_SOURCES["alpha"], self.refs / HANGS, frames=4, fmt="mp4", extra=("-c:v", "libx264"))
        self.ff.write_text(WRAPPER.replace("${FAIL}", f"${{{FAIL_ENV}}}").replace("REAL", shlex.quote(ffmpeg))
                           .replace("HANGS", HANGS))
        self.ff.chmod(0o755)
        shutil.copytree(ROOT / "kit", self.kit / "kit", ignore=shutil.ignore_patterns("__pycache__"))
        self.marker = base / "fail-cq37"
        # a --teacher model file in a folder of its own: vmaf_v0.6.1 as this ffmpeg's libvmaf holds it
        self.teacher = base / f"teacher {AWKWARD}" / "v061.json"
        self.teacher.parent.mkdir()
        self.teacher.write_text(builtin_model_text(Path(ffmpeg), "vmaf_v0.6.1"))

    def run(self, *args: str, out: Path | None = None, entry: list[str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.home), "KIT_CACHE_DIR": str(self.cache), "KIT_FFMPEG": str(self.ff),
               FAIL_ENV: str(self.marker), "PYTHONPATH": ""}
        refs = os.path.relpath(self.refs, self.cwd)  # as typed: relative to where it runs
        teacher = os.path.relpath(self.teacher, self.cwd)
        cmd = [*(entry or [sys.executable, str(self.kit / "kit" / "__main__.py")]), "run", "--ref-dir", refs,
               "--out-dir", str(out or self.out), "--box-id", "awkward", "--teacher", teacher,
               "--content-groups", str(self.groups), *FAST, *args]
        return pace.run(cmd, cwd=self.cwd, env=env, capture_output=True, text=True, errors="surrogateescape",
                        timeout=1200)

    def latest(self) -> Path:
        found = RunDir(self.out).latest_tarball(Tree.open(self.out, make=False))
        assert found is not None
        return found


@pytest.fixture(scope="module")
def box(ffmpeg: str, tiny_refs: Path, tmp_path_factory: pytest.TempPathFactory) -> Box:
    return Box(tmp_path_factory.mktemp("private-box"), ffmpeg, tiny_refs)


def said(res: subprocess.CompletedProcess[str]) -> str:
    return res.stdout[-3000:] + res.stderr[-3000:]


@pytest.mark.slow  # three whole runs in a box of its own
def test_a_box_with_awkward_folders_sends_none_of_them(box: Box, tmp_path: Path) -> None:
    box.marker.touch()
    failed = box.run(*LENIENT)  # every cq 37 job fails: the step log holds the commands and what ffmpeg said
    assert failed.returncode in (0, 2) and "internal error" not in failed.stderr, said(failed)
    assert SECRET in (box.out / "02_corpus" / "logs" / "corpus.log").read_text(errors="surrogateescape")
    box.marker.unlink()
    promoted = box.run(*LENIENT)
    assert promoted.returncode == 0, said(promoted)
    first = tmp_path / box.latest().name  # the next bundle moves it aside
    shutil.copy(box.latest(), first)
    held = box.run("--min-mean-plcc", "0.9999")  # the verdict again, and the bundle
    assert held.returncode == 1, said(held)
    second = box.latest()
    assert first.name != second.name
    for tarball in (first, second):
        counts, found = scan(tarball)
        assert counts["members"] >= 20 and counts["views"] > counts["members"], counts
        assert found == [], (tarball.name, found)
        with tarfile.open(tarball) as tar:
            names = tar.getnames()
        assert any(n.endswith("02_corpus/logs/corpus.log") for n in names)  # the log is sent, its paths shown
        assert any(n.endswith("02_corpus/skipped.json") for n in names)
    # what the log and the records say instead: the folders by their tags
    with tarfile.open(first) as tar:
        text = {m.name.split("/", 1)[1]: tar.extractfile(m).read().decode("utf-8", "surrogateescape")  # type: ignore
                for m in tar.getmembers() if m.isfile() and not m.name.endswith((".parquet", ".onnx"))}
    assert "'[ref-dir]/alpha.y4m'" in text["02_corpus/logs/corpus.log"]
    # the failure was sent by its kind (issue 96: kit.infra.ended), what ffmpeg said kept in the box's own log
    assert "  ended: exit code 1" in text["02_corpus/logs/corpus.log"]
    assert "cannot encode, given: " not in text["02_corpus/logs/corpus.log"]
    # the set's own lines and records name its files under [ref-dir], a content group's members by their names
    log = text["02_corpus/logs/corpus.log"]
    assert "[ref-dir]/alpha_twin.y4m holds the same pictures as [ref-dir]/alpha.y4m" in log
    assert "[ref-dir]/alpha_25fps.y4m as 'alpha_25fps'" in log
    manifest = json.loads(text["02_corpus/shard.manifest.json"])
    assert {m["file"] for g in manifest["groups"] for m in g["members"]} == {"beta.y4m", "gamma.y4m"}, manifest
    assert [t["file"] for t in manifest["twins"]] == ["[ref-dir]/alpha_twin.y4m"], manifest["twins"]
    run = json.loads(text["run.json"])
    assert run["argv"][:6] == ["[kit]/kit/__main__.py", "run", "--ref-dir", "[ref-dir]", "--out-dir", "[out-dir]"]
    assert run["provenance"]["cwd"] == "[elsewhere]" and run["settings"]["ffmpeg"] == "[elsewhere]/ffmpeg"
    skipped = {u["path"]: u for u in json.loads(text["02_corpus/skipped.json"])["skipped"]}
    assert sorted(skipped) == ["[ref-dir]/broken.mp4", f"[ref-dir]/{HANGS}", "[ref-dir]/odd.y4m"]
    assert "'[ref-dir]/odd_even.mkv'" in skipped["[ref-dir]/odd.y4m"]["fix"]
    hung = skipped[f"[ref-dir]/{HANGS}"]  # its look's refusal, read from the kit's cache on this second run
    assert hung["reason"].startswith(f"[ref-dir]/{HANGS}: ffmpeg "), hung
    # what ffmpeg said stays in the box's own log (issue 96): the kit's words alone, and the fix's command
    assert "mmco" not in hung["reason"] and "'[ref-dir]/hangs.mkv'" in hung["fix"], hung
    # the teacher's model file, under none of the box's roots: by the mark alone (its name is the box's), in the
    # settings and as typed; the teacher itself by its digest
    teacher = run["argv"][run["argv"].index("--teacher") + 1]
    assert run["settings"]["teacher"] == "[elsewhere]" and teacher == "[elsewhere]"
    assert "[ref-dir] old" not in "".join(text.values())  # the sibling folder is its own: [cache]
    for tarball in (first, second):
        assert subprocess.run([sys.executable, "-m", "kit", "verify", str(tarball)], cwd=ROOT, capture_output=True,
                              text=True).returncode == 0
    merged = subprocess.run([sys.executable, "-m", "kit", "merge", str(first), str(second), "-o",
                             str(tmp_path / "union.parquet")], cwd=ROOT, capture_output=True, text=True)
    assert merged.returncode == 0, said(merged)


def test_the_scan_finds_the_word_in_each_spelling(tmp_path: Path) -> None:
    """The scan is a test too: the word hidden each way a member could hold it is found."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "t"
    folder.mkdir()
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": [f"/data/{SECRET}/a.y4m"] * 1000}), buf, compression="zstd")  # compressed
    (folder / "a.parquet").write_bytes(buf.getvalue())
    (folder / "b.json").write_text(json.dumps({"p": f"/é/{SECRET}"}))  # ASCII-escaped around it
    (folder / "c.log").write_bytes(f"x {SECRET} y".encode("utf-16-le"))
    (folder / "d.txt").write_bytes(base64.b64encode(f"/home/{SECRET}/x".encode()))
    (folder / "e.html").write_text(f"<td>&#x{ord(SECRET[0]):x};{SECRET[1:]}</td>")  # an entity
    tarball = tmp_path / "t.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder, "t")
    _, found = scan(tarball)
    assert sorted({f.split(":")[0] for f in found}) == [f"t/{n}" for n in ("a.parquet", "b.json", "c.log", "d.txt",
                                                                              "e.html")], found


@pytest.mark.slow
def test_a_box_without_torch_in_awkward_folders_sends_none_of_them(box: Box) -> None:
    """The corpus-only bundle (a box whose Python cannot import torch: tests/pipeline/test_no_torch.py's simulation,
    the kit copy on its path) sends none of the box's folders either."""
    from tests.pipeline.test_no_torch import NO_TORCH

    out = box.out.with_name(f"corpus-only {AWKWARD}")
    entry = [NO_TORCH[0], NO_TORCH[1], f"import sys; sys.path.insert(0, {str(box.kit)!r})\n" + NO_TORCH[2]]
    res = box.run(out=out, entry=entry)
    assert res.returncode == 0 and "training happens at the lead" in res.stdout + res.stderr, said(res)
    (tarball,) = (out / "05_bundle").glob("results-*.tar.gz")
    counts, found = scan(tarball)
    assert counts["members"] >= 7 and found == [], (counts, found)
