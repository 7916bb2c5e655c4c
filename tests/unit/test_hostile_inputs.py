"""Merge, verify, corpus info and the training reader judge what they are given the same way (issue 15, §5).

Table-driven per kind: tarballs that do not match their manifest, hostile member names, damaged
parquet, damaged JSONL, implausible values, and bombs. Every case must end as exit 2 with one
line naming the file, and no traceback; bombs must be refused before anything is extracted.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.corpus import commit as commit_mod
from kit.corpus.training import training_corpus
from kit.errors import InputError
from kit.infra import archive, limits, parquet
from kit.infra.files import host_tag
from kit.infra.parquet import read_frame, read_parquet
from kit.infra.tree import Tree
from kit.rundir import LAYOUT, manifest_path
from tests.kitfiles import flip_data_page, results_tarball, shard_table, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")

TOP = "results-boxa-20261122T000000Z"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, list(map(str, args)))


def assert_refused(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit), res.output
    error = "\n".join(ln for ln in res.stderr.splitlines() if ln.startswith(("error: ", "MISMATCH: ")))
    assert all(n in error for n in needles), error
    assert "hint: " in res.stderr
    return error


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp dir merge and verify extract into: it must be left empty."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# ---- tarballs that do not match their manifest, or hold members a results tarball cannot ----

def _repack(src: Path, dest: Path, edit: Callable[[dict[str, bytes]], dict[str, bytes]]) -> Path:
    """The members of src, edited, packed again (as someone with tar and an editor would)."""
    with tarfile.open(src) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    with tarfile.open(dest, "w:gz") as tar:
        for name, data in edit(files).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest


def _edited_shard(files: dict[str, bytes]) -> bytes:
    table = pq.read_table(pa.BufferReader(files[f"{TOP}/{LAYOUT.shard.as_posix()}"]))
    sink = pa.BufferOutputStream()
    pq.write_table(table.set_column(table.schema.get_field_index("vmaf"), "vmaf",
                                    pa.array([1.0] * table.num_rows)), sink)
    return sink.getvalue().to_pybytes()


def _manifest(edit: Callable[[dict], object]) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    def go(files: dict[str, bytes]) -> dict[str, bytes]:
        key = f"{TOP}/manifest.json"
        return {**files, key: json.dumps(edit(json.loads(files[key]))).encode()}
    return go


SHARD = f"{TOP}/{LAYOUT.shard.as_posix()}"
TARBALL_CASES: dict[str, tuple[Callable[[dict[str, bytes]], dict[str, bytes]], str]] = {
    "no manifest, shard edited": (lambda f: {k: (_edited_shard(f) if k == SHARD else v) for k, v in f.items()
                                             if not k.endswith("/manifest.json")}, "no top-level manifest.json"),
    "manifest removed": (lambda f: {k: v for k, v in f.items() if not k.endswith("/manifest.json")},
                         "no top-level manifest.json"),
    "entries are strings": (_manifest(lambda m: {**m, "files": {k: v["sha256"] for k, v in m["files"].items()}}),
                            "manifest.json is damaged"),
    "files is a list": (_manifest(lambda m: {**m, "files": list(m["files"])}), "manifest.json is damaged"),
    "manifest is a list": (_manifest(lambda m: [m]), "manifest.json is damaged"),
    "manifest not json": (lambda f: {**f, f"{TOP}/manifest.json": b"{\"files\": {"}, "manifest.json is damaged"),
    "manifest not utf-8": (lambda f: {**f, f"{TOP}/manifest.json": b"\xff\xfe{}"}, "manifest.json is damaged"),
    "shard edited": (lambda f: {**f, SHARD: _edited_shard(f)}, "sha256 mismatch"),
    "shard missing": (lambda f: {k: v for k, v in f.items() if k != SHARD}, "listed in the manifest but missing"),
    "extra file": (lambda f: {**f, f"{TOP}/02_corpus/extra.parquet": b"x"}, "in the tarball but not in the manifest"),
    "member outside the top folder": (lambda f: {**f, "elsewhere/x.json": b"{}"}, "outside the top folder"),
    "member at the root": (lambda f: {**f, "x.json": b"{}"}, "outside the top folder"),
    "backslash member": (lambda f: {**f, f"{TOP}\\02_corpus\\shard.parquet": f[SHARD]}, "backslash"),
}


@pytest.mark.parametrize("case", sorted(TARBALL_CASES))
@pytest.mark.parametrize("command", ["merge", "verify"])
def test_merge_and_verify_refuse_the_same_tarballs(case: str, command: str, tmp_path: Path, scratch: Path) -> None:
    edit, needle = TARBALL_CASES[case]
    bad = _repack(results_tarball(tmp_path / "orig.tar.gz"), tmp_path / "results-bad.tar.gz", edit)
    out = tmp_path / "m.parquet"
    res = invoke("merge", bad, "-o", out) if command == "merge" else invoke("verify", bad)
    error = assert_refused(res, needle)
    if command == "merge":
        assert str(bad) in error, error
        assert not out.exists() and not manifest_path(out).exists()
    assert list(scratch.iterdir()) == []


def test_a_byte_changed_anywhere_in_a_tarball_is_refused_for_what_it_did(tmp_path: Path, scratch: Path) -> None:
    """Every place a byte can change in a tarball (its gzip header, the compressed data, the trailer), the
    lowest bit flipped and the byte set to 0xff: `verify` refuses it (exit 2) unless what the tarball holds is the
    same bytes (gzip's header's time, flags, system and file name, a deflate stream's padding bits say nothing of
    them), and calls it "data
    after the end-of-archive block" only where the gzip stream is whole (a hostile tester's flipped byte decoded as
    other data ending the archive early, and was called appended data where gzip's CRC said damage)."""
    # two members of text that compresses, 380 KB each: a changed byte mid-stream decodes as other data for long (a
    # tarball of a tiny shard stops the decoder at once); 18 of 60 such bytes were called appended data
    rng = random.Random(7)
    text = "".join(f"{k},{rng.random():.6f},{rng.choice(['a', 'bb', 'ccc'])}\n" for k in range(60000)).encode()
    tarball = tmp_path / "results-b-20261122T000000Z.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, data in (("results-b-20261122T000000Z/a.csv", text), ("results-b-20261122T000000Z/b.csv",
                                                                         text[::-1])):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    good = tarball.read_bytes()
    holds = gzip.decompress(good)
    step = max(1, len(good) // 60)
    offsets = sorted({*range(0, len(good), step), *range(12), *range(len(good) - 12, len(good))})
    seen = set()
    for at in offsets:
        for value in (good[at] ^ 1, 0xFF):
            if value == good[at]:
                continue
            bad = tmp_path / "results-bad.tar.gz"
            bad.write_bytes(good[:at] + bytes([value]) + good[at + 1:])
            try:
                same = gzip.decompress(bad.read_bytes()) == holds
                whole = True
            except (OSError, EOFError, zlib.error):
                same = whole = False
            res = invoke("verify", bad)
            if res.exit_code == 0:
                assert same, (at, value, res.output)
                continue
            error = assert_refused(res, "")
            if "data after the end-of-archive block" in error:
                assert whole, (at, value, error)
            seen.add(error.split("(")[1][:40] if "(" in error else error[:40])
    assert len(seen) > 3, seen  # the causes differ by where the byte is


def test_an_intact_tarball_merges_and_verifies(tmp_path: Path, scratch: Path) -> None:
    good = results_tarball(tmp_path / "results-good.tar.gz")
    assert invoke("verify", good).exit_code == 0
    res = invoke("merge", good, "-o", tmp_path / "m.parquet")
    assert res.exit_code == 0, res.output
    assert pq.read_table(tmp_path / "m.parquet").num_rows == shard_table().num_rows
    assert list(scratch.iterdir()) == []


# ---- damaged parquet: every reader, one guarded path ----

def _dup_columns(path: Path) -> None:
    table = shard_table()
    pq.write_table(pa.table([*table.columns, table["vmaf"]], names=[*table.column_names, "vmaf"]), path)


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


PARQUET_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "corrupted vmaf page": (lambda p: flip_data_page(p, "vmaf"), "damaged parquet: "),
    "corrupted src page": (lambda p: flip_data_page(p, "src"), "damaged parquet: "),
    "corrupted feature page": (lambda p: flip_data_page(p, "adm2"), "damaged parquet: "),
    "two columns of one name": (_dup_columns, "column 'vmaf' appears 2 times"),
    "cut in half": (_truncated, "not a readable parquet file"),
}


@pytest.mark.parametrize("case", sorted(PARQUET_DAMAGE))
def test_damaged_parquet_is_refused_by_every_reader(case: str, tmp_path: Path) -> None:
    damage, needle = PARQUET_DAMAGE[case]
    bad = write_shard(tmp_path / "bad shard.parquet")
    damage(bad)
    assert_refused(invoke("merge", bad, "-o", tmp_path / "m.parquet"), str(bad), needle)
    assert_refused(invoke("corpus", "info", bad), str(bad), needle)
    with pytest.raises(InputError, match=needle):  # what `run --corpus` trains on
        training_corpus(bad)[0]
    assert not (tmp_path / "m.parquet").exists()


def test_a_parquet_without_checksums_is_still_read(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pq.write_table(shard_table(), plain)  # another writer's defaults: no page checksums
    assert read_parquet(plain).num_rows == shard_table().num_rows


def test_parquet_is_read_through_arrows_own_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python file object handed to arrow leaves buffers its thread pool frees under the GIL, after the read
    returned: a kit exiting right after a refused corpus aborted ("terminate called without an active
    exception", exit -6) when a pool thread freed one during the interpreter's shutdown (kit/infra/parquet.py)."""
    shard = write_shard(tmp_path / "s.parquet")
    given: list[object] = []
    real = pq.ParquetFile

    def spy(source: object, *args: object, **kw: object) -> pq.ParquetFile:
        given.append(source)
        return real(source, *args, **kw)

    monkeypatch.setattr(pq, "ParquetFile", spy)
    assert read_parquet(shard).num_rows == shard_table().num_rows
    assert given and all(isinstance(s, pa.NativeFile) and not isinstance(s, pa.PythonFile) for s in given), given
    with pytest.raises(InputError, match=r"missing\.parquet: cannot be read \(No such file or directory\)"):
        read_parquet(tmp_path / "missing.parquet")
    with pytest.raises(InputError, match=r": cannot be read \(a directory\)"):
        read_parquet(tmp_path)
    latin1 = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.parquet"))  # a name that is not UTF-8, as old boxes make
    shutil.copy(shard, latin1)
    assert read_parquet(latin1).num_rows == shard_table().num_rows
    with pytest.raises(InputError, match="cannot be read"):
        read_parquet(latin1.with_name(os.fsdecode(b"gon\xe9.parquet")))


def test_the_kits_own_files_read_as_pandas_reads_them_and_damage_is_a_sentence(tmp_path: Path) -> None:
    """`read_frame` (the verdict's and the report's reader of LOSO's files) gives pandas' frame, has no row limit
    of a corpus, and names a damaged file."""
    shard = write_shard(tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(read_frame(shard), pd.read_parquet(shard), check_exact=True)
    pd.testing.assert_frame_equal(read_frame(shard, ["vmaf", "src"]), pd.read_parquet(shard, columns=["vmaf", "src"]))
    flip_data_page(shard, "vmaf")
    with pytest.raises(InputError, match=f"damaged parquet: {re.escape(str(shard))}"):
        read_frame(shard)


# ---- damaged JSONL ----

JSONL_ROW = {"src": "a", "encoder": "libx264", "cq": 23, "enc_bytes": 1000, "enc_time_ms": 5.0, "frame_index": 0,
             "vmaf": 50.0, "adm2": 0.9, "vif_scale0": 0.5, "vif_scale1": 0.6, "vif_scale2": 0.7, "vif_scale3": 0.8,
             "motion2": 1.0}


def _line(**kw: object) -> bytes:
    return json.dumps({**JSONL_ROW, **kw}).encode()


BIG = "9" * 400
JSONL_CASES: dict[str, tuple[bytes, str]] = {
    "invalid utf-8 in a string": (_line().replace(b'"a"', b'"\xff\xfeb"'), "line 2: not UTF-8 text"),
    "invalid utf-8 outside strings": (b"\xc3" + _line(), "line 2: not UTF-8 text"),
    "lone high surrogate": (_line().replace(b'"a"', b'"\\ud800b"'), "line 2: a lone surrogate"),
    "lone low surrogate in a key": (_line().replace(b'"src"', b'"\\udc00"', 1)[:-1] + b', "src": "a"}',
                                    "line 2: a lone surrogate"),
    "400-digit cq": (_line().replace(b'"cq": 23', f'"cq": {BIG}'.encode()), "line 2 column 'cq'"),
    "400-digit vmaf": (_line().replace(b'"vmaf": 50.0', f'"vmaf": {BIG}'.encode()), "line 2 column 'vmaf'"),
    "400-digit enc_bytes": (_line().replace(b'"enc_bytes": 1000', f'"enc_bytes": {BIG}'.encode()),
                            "line 2 column 'enc_bytes'"),
    "5000-digit integer": (_line().replace(b'"cq": 23', b'"cq": ' + b"9" * 5000), "line 2: not valid JSON"),
    "deeply nested": (b'{"a": ' + b"[" * 100_000 + b"\n", "line 2: not valid JSON"),
    "1e308 feature": (_line(adm2=1e308), "line 2 column 'adm2'"),
}


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
def test_damaged_jsonl_names_the_line(case: str, tmp_path: Path) -> None:
    line, needle = JSONL_CASES[case]
    bad = tmp_path / "legacy.jsonl"
    bad.write_bytes(_line(frame_index=5) + b"\n" + line + b"\n" + _line(frame_index=7) + b"\n")
    assert_refused(invoke("merge", bad, "-o", tmp_path / "m.parquet"), str(bad), needle)


def test_a_surrogate_pair_is_text(tmp_path: Path) -> None:
    good = tmp_path / "emoji.jsonl"
    good.write_bytes(_line().replace(b'"a"', b'"clip \\ud83d\\ude00"') + b"\n")
    res = invoke("merge", good, "-o", tmp_path / "m.parquet")
    assert res.exit_code == 0, res.output
    assert pq.read_table(tmp_path / "m.parquet")["src"].to_pylist() == ["clip \U0001F600"]


# ---- implausible values ----

RANGE_CASES = [("adm2", 1e308), ("vif_scale0", -0.5), ("vif_scale3", 3.0), ("motion2", 1e6), ("motion2", -1.0),
               ("vmaf", 100.5), ("vmaf", -1e-3), ("adm2", 1.7976931348623157e308)]


@pytest.mark.parametrize(("column", "value"), RANGE_CASES)
def test_implausible_values_name_file_row_column_value(column: str, value: float, tmp_path: Path) -> None:
    table = shard_table()
    values = table[column].to_pylist()
    values[17] = value
    bad = write_shard(tmp_path / "odd.parquet", table.set_column(table.schema.get_field_index(column), column,
                                                                  pa.array(values, pa.float64())))
    error = assert_refused(invoke("merge", bad, "-o", tmp_path / "m.parquet"), str(bad), f"row 17 column '{column}'")
    assert repr(value) in error or str(value) in error, error
    with pytest.raises(InputError, match=f"row 17 column '{column}'"):
        training_corpus(bad)[0]


def test_values_at_the_edges_of_the_ranges_are_kept(tmp_path: Path) -> None:
    table = shard_table()
    edges = {"adm2": 1.15, "vif_scale0": 0.0, "vif_scale1": 1.2, "motion2": 255.0, "vmaf": 100.0}
    for column, value in edges.items():
        values = table[column].to_pylist()
        values[3] = value
        table = table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.float64()))
    assert training_corpus(write_shard(tmp_path / "edges.parquet", table))[0].shape[0] == table.num_rows


# ---- bombs: refused on their headers, before anything is extracted or read ----

def _raw_tar(dest: Path, infos: list[tarfile.TarInfo], data: bytes = b"x", gz: bool = True) -> Path:
    """A tar whose headers declare what they like: only `data` is stored per member (a header-only bomb)."""
    buf = bytearray()
    for info in infos:
        buf += info.tobuf(tarfile.PAX_FORMAT)
        buf += data + b"\0" * (-len(data) % 512)
    buf += b"\0" * 1024
    dest.write_bytes(gzip.compress(bytes(buf)) if gz else bytes(buf))
    return dest


def _member(name: str, size: int, sparse_real: int | None = None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"{TOP}/{name}")
    info.size = size
    if sparse_real is not None:  # GNU sparse 0.1 in PAX: 1 byte stored, sparse_real bytes once extracted
        info.pax_headers = {"GNU.sparse.map": "0,1", "GNU.sparse.size": str(sparse_real)}
    return info


def _zero_bomb(dest: Path, size: int) -> Path:
    """A real bomb: one member of `size` zero bytes, gzip-compressed."""
    with tarfile.open(dest, "w:gz") as tar:
        info = tarfile.TarInfo(f"{TOP}/02_corpus/shard.parquet")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    return dest


def _pax_bomb(dest: Path, size: int) -> Path:
    """A PAX extended header of `size` bytes of records (tarfile would read it whole into memory)."""
    record = b"30 comment=" + b"a" * 18 + b"\n"
    body = record * (size // len(record))
    head = tarfile.TarInfo("././@PaxHeader")
    head.type, head.size = tarfile.XHDTYPE, len(body)
    member = _member("02_corpus/shard.parquet", 1)
    raw = head.tobuf(tarfile.USTAR_FORMAT) + body + b"\0" * (-len(body) % 512) + member.tobuf(tarfile.USTAR_FORMAT)
    dest.write_bytes(gzip.compress(raw + b"x" + b"\0" * 511 + b"\0" * 1024))
    return dest


BOMBS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "PAX header of 2 MiB": (lambda d: _pax_bomb(d, 2 << 20), "of extended records, over the 1.0 MiB limit"),
    "member declaring 7 GiB": (lambda d: _raw_tar(d, [_member("02_corpus/shard.parquet", 7 << 30)]),
                               "over the 2.0 GiB limit per member"),
    "sparse member of 7 GiB in a 10 KB tar": (
        lambda d: _raw_tar(d, [_member("02_corpus/shard.parquet", 1, sparse_real=7 << 30)], gz=False),
        "over the 2.0 GiB limit per member"),
    "sparse member of 1 GiB (under the member limit)": (
        lambda d: _raw_tar(d, [_member("02_corpus/shard.parquet", 1, sparse_real=1 << 30)], gz=False),
        "over the limit of 100x expansion"),
    "80 MiB of zeros in 80 KB": (lambda d: _zero_bomb(d, 80 << 20), "over the limit of 100x expansion"),
    "2001 one-byte members": (lambda d: _raw_tar(d, [_member(f"f{i}", 1) for i in range(limits.MAX_MEMBERS + 1)]),
                              f"more than {limits.MAX_MEMBERS} members"),
}


@pytest.mark.parametrize("case", sorted(BOMBS))
@pytest.mark.parametrize("command", ["merge", "verify"])
def test_bombs_are_refused_before_extraction(case: str, command: str, tmp_path: Path, scratch: Path) -> None:
    make, needle = BOMBS[case]
    bomb = make(tmp_path / "results-bomb.tar.gz")
    begin = time.process_time()  # CPU: what inflating the bomb would cost, which a busy box does not stretch
    res = invoke("merge", bomb, "-o", tmp_path / "m.parquet") if command == "merge" else invoke("verify", bomb)
    took = time.process_time() - begin
    assert_refused(res, str(bomb), needle, "nothing was extracted")
    assert took < 10, f"{case}: refusing took {took:.1f} s of CPU"
    assert list(scratch.iterdir()) == []


def test_total_size_limit(tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 5000)  # the real 4 GiB would need members over the ratio
    monkeypatch.setattr(archive, "MAX_RATIO", 10**9)
    bomb = _raw_tar(tmp_path / "r.tar.gz", [_member(f"f{i}", 1, sparse_real=2000) for i in range(3)], gz=False)
    assert_refused(invoke("verify", bomb), "over the limit on the total size")
    assert list(scratch.iterdir()) == []


def test_parquet_declaring_too_many_rows_is_refused_unread(tmp_path: Path) -> None:
    bomb = tmp_path / "rows.parquet"  # real default: one more row than the limit, all nulls: a small file
    pq.write_table(pa.table({"src": pa.nulls(limits.MAX_CORPUS_ROWS + 1, pa.string())}), bomb)
    with pytest.raises(InputError, match=f"declares {limits.MAX_CORPUS_ROWS + 1} rows, over the limit"):
        read_parquet(bomb)


def test_parquet_declaring_too_much_data_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "MAX_PARQUET_BYTES", 1000)
    shard = write_shard(tmp_path / "s.parquet")
    assert_refused(invoke("merge", shard, "-o", tmp_path / "m.parquet"), "of data, over the limit of 1000 bytes")


def test_jsonl_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kit.corpus import jsonl
    monkeypatch.setattr(jsonl, "MAX_JSONL_BYTES", 100)
    big = tmp_path / "big.jsonl"
    big.write_bytes(_line() + b"\n" + _line(frame_index=1) + b"\n")
    assert_refused(invoke("merge", big, "-o", tmp_path / "m.parquet"), "over the limit of 100 bytes per JSONL")


# ---- leftovers of killed commands ----

def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_are_removed_live_ones_kept(tmp_path: Path, tree: Tree) -> None:
    """Temporaries of a dead writer of this host go; a live one's, another host's and one without a pid stay until
    they are old (a pid may have been recycled; another host's cannot be asked)."""
    dead, live, here = _dead_pid(), os.getppid(), host_tag()
    names = (f".tmp-m.parquet.{dead}.{here}.abcd1234", f".tmp-m.parquet.{dead}.abcd1234",  # this kit's, an earlier's
             f".tmp-m.parquet.{live}.{here}.abcd1234", f".tmp-m.parquet.{dead}.0badf00d.abcd1234",  # another host's
             ".tmp-m.parquet.legacy")
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / f".tmp-kit-merge.{dead}.{here}.x_yz1234").mkdir()
    (tmp_path / f".tmp-kit-merge.{dead}.{here}.x_yz1234" / "shard.parquet").write_bytes(b"x")
    (tmp_path / f".tmp-kit-merge.{live}.{here}.x_yz1234").mkdir()
    # an earlier kit's shape (no host) could be a user's name: it waits until it is old, whatever its pid
    assert tree.remove_stale(tmp_path, names=["m.parquet"]) == 1
    assert tree.remove_stale(tmp_path, names=["kit-merge"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        *names[1:], f".tmp-kit-merge.{live}.{here}.x_yz1234"])
    old = time.time() - limits.STALE_TEMP_S - 60
    for p in tmp_path.iterdir():
        os.utime(p, (old, old))
    # age wins over a pid that may have been recycled; a name the kit does not give (`.legacy`) is never its own
    assert tree.remove_stale(tmp_path, names=["m.parquet"]) == 3
    assert tree.remove_stale(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-m.parquet.legacy"]


# names a user may give their own files and folders that begin as the kit's temporaries do, none of them one the kit
# gives (kit.infra.files._TEMP, _OLD_TEMP): each survives every clean-up, at any age, in every folder the kit cleans
USERS_TEMP_LIKE = (".tmp-", ".tmp-backup", ".tmp-thesis draft.txt", ".tmp-draft.1.2.3", ".tmp-x.12345",
                   ".tmp-run.json.abc123", ".tmp-m.parquet.1.host.abcd1234", ".tmp-m.1.0badf00d.ABCD1234",
                   ".tmp-m.1.0badf00d.abcd12345", ".tmp-m.1.abcd123", ".tmp-m.x.abcd1234", ".tmp-m.1.abcd1234.bak",
                   ".tmp-m.1.0badf00d.abcd1234~", ".TMP-m.1.abcd1234", "tmp-m.1.abcd1234",
                   ".tmp-m.12345678901.abcd1234")


@pytest.mark.parametrize("folder", [False, True], ids=["file", "folder"])
def test_a_users_names_that_begin_as_temporaries_are_never_removed(tmp_path: Path, tree: Tree, folder: bool) -> None:
    """Every clean-up the kit makes (max_age_s=0, recursive, as a run cleans its out-dir and its step folders) removes
    the temporaries of dead writers it named, and none of the user's files or folders, however old, at any depth."""
    dead, here = _dead_pid(), host_tag()
    ours = [f".tmp-run.json.{dead}.{here}.abcd1234", f".tmp-m.parquet.{dead}.abcd_123",  # an earlier kit's, old
            f".tmp-kit-merge.{dead}.{here}.x_yz1234", f".tmp-a\nb.{dead}.{here}.abcd1234"]  # a name of two lines
    old = time.time() - limits.STALE_TEMP_S - 60
    for depth in ("", "02_corpus", "02_corpus/jobs/deep"):
        where = tmp_path / depth
        where.mkdir(parents=True, exist_ok=True)
        for name in (*USERS_TEMP_LIKE, *ours):
            if folder:
                (where / name).mkdir()
                (where / name / "data.txt").write_text("precious")
            else:
                (where / name).write_text("precious")
            os.utime(where / name, (old, old))
    assert tree.remove_stale(tmp_path, max_age_s=0, recursive=True) == 3 * len(ours)
    for depth in ("", "02_corpus", "02_corpus/jobs/deep"):
        left = {p.name for p in (tmp_path / depth).iterdir()} - {"02_corpus", "jobs", "deep"}
        assert left == set(USERS_TEMP_LIKE), depth
        for name in USERS_TEMP_LIKE:
            assert (tmp_path / depth / name / "data.txt" if folder else tmp_path / depth / name).read_text() == \
                "precious"


def test_an_interrupted_commit_is_completed_before_anything_else(tmp_path: Path) -> None:
    """A merge killed between its two renames: its journal names the new parquet by its sha256 and the new manifest
    names it too, so the next merge completes the pair before anything else."""
    out = tmp_path / "m.parquet"
    a = write_shard(tmp_path / "a.parquet")
    assert invoke("merge", a, "-o", out).exit_code == 0
    old = (out.read_bytes(), manifest_path(out).read_bytes())
    other = tmp_path / "other" / "n.parquet"
    assert invoke("merge", write_shard(tmp_path / "b.parquet", shard_table(seed=3)), "-o", other).exit_code == 0
    new = (other.read_bytes(), manifest_path(other).read_bytes())
    dead = _dead_pid()
    new_parquet = tmp_path / f".tmp-m.parquet.{dead}.{host_tag()}.abcd1234"
    new_manifest = tmp_path / f".tmp-m.manifest.json.{dead}.{host_tag()}.abcd1234"
    new_parquet.write_bytes(new[0])
    new_manifest.write_bytes(new[1])
    journal = commit_mod.commit_journal(out)
    journal.write_text(json.dumps(commit_mod.Commit(dead, json.loads(new[1])["sha256"], [
        [new_parquet.name, out.name], [new_manifest.name, manifest_path(out).name]]).to_json()))
    os.replace(new_parquet, out)  # killed between the two renames
    with Tree.open(tmp_path) as tree:
        recovered = commit_mod.recover_output(tree, out)
    assert recovered == [
        f"completed the interrupted merge into {out} (it was killed while replacing its files)"]
    assert (out.read_bytes(), manifest_path(out).read_bytes()) == new != old
    assert not journal.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.parquet", "b.parquet", "m.manifest.json", "m.parquet", "other"]


def test_a_commit_of_a_live_merge_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    commit_mod.commit_journal(out).write_text(json.dumps(commit_mod.Commit(os.getppid(), "f" * 64, []).to_json()))
    assert_refused(invoke("merge", write_shard(tmp_path / "a.parquet"), "-o", out), "is writing", "right now")
    assert commit_mod.commit_journal(out).exists()
    old = time.time() - commit_mod.COMMIT_STALE_S - 1  # a recycled pid cannot hold the output forever
    os.utime(commit_mod.commit_journal(out), (old, old))
    # no longer a live merge's, and no killed merge's either (it names no files of its own): not followed, kept
    assert_refused(invoke("merge", tmp_path / "a.parquet", "-o", out), "is no earlier merge's commit journal")
    assert commit_mod.commit_journal(out).exists()


@pytest.mark.parametrize("journal", [
    '{"pid": 1, "sha256": "x", "moves": [["a"], 5]}',  # damaged
    json.dumps({"pid": 999999999, "sha256": "x", "moves": [["../../etc/x", "m.parquet"]]}),  # out of the folder
    json.dumps({"pid": 999999999, "sha256": "f" * 64, "moves": [[".tmp-m.parquet.1.x", "m.parquet"],
                                                                  [".tmp-m.manifest.json.1.y", "m.manifest.json"]]}),
    "the user's own notes"])
def test_a_commit_journal_that_is_not_a_killed_merges_own_is_refused_and_kept(tmp_path: Path, journal: str) -> None:
    """Issue 52: a journal is followed only when it is the kit's own and matches its files; any other (damaged,
    renaming out of the folder, naming files that are not there, or a file of the user's) is refused, and neither
    it nor the -o beside it is touched."""
    out = tmp_path / "m.parquet"
    out.write_bytes(b"the user's own -o")
    commit_mod.commit_journal(out).write_text(journal)
    assert_refused(invoke("merge", write_shard(tmp_path / "a.parquet"), "-o", out),
                   f"{commit_mod.commit_journal(out)} beside -o {out} is no earlier merge's commit journal")
    assert out.read_bytes() == b"the user's own -o" and commit_mod.commit_journal(out).read_text() == journal
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.parquet.merge-commit.json", "a.parquet", "m.parquet"]


def test_corpus_info_flags_a_manifest_of_other_bytes(tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    assert invoke("merge", write_shard(tmp_path / "a.parquet"), "-o", out).exit_code == 0
    write_shard(out, shard_table(seed=3))  # new parquet, old manifest: what a kill between renames once left
    res = invoke("corpus", "info", out)
    assert res.exit_code == 0 and f"warning: {manifest_path(out)} does not describe {out}" in res.stderr
