"""Tarball extraction refuses anything that could escape or surprise (kit.infra.archive.check_results, which
`verify` and `merge` share); what it does not refuse itself, a tar that ends early, its manifest check finds."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kit.bundle.tarball import verify_tarball, write_results_tarball
from kit.errors import InputError
from kit.infra.archive import check_results
from kit.infra.tree import Tree


def extract(source: Path, dest: Path) -> list[Path]:
    """The files check_results extracted into dest (a tarball without a manifest is a problem, not an error)."""
    report = check_results(source, dest)
    assert report.top is not None
    return sorted(p for p in report.top.rglob("*") if p.is_file())


def _tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            tar.addfile(m, io.BytesIO(data) if m.isfile() else None)
    return path


def _file(name: str, size: int = 1) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


@pytest.mark.parametrize("name", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    bad = _tar(tmp_path / "bad.tar.gz", [_file("ok/fine.txt"), _file(name)])
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(InputError, match="unsafe member path"):
        extract(bad, target)
    assert list(target.rglob("*")) == []  # nothing written, not even the safe member
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_special_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    link = tarfile.TarInfo("top/link")
    link.type = kind
    link.linkname = "/etc/passwd"
    bad = _tar(tmp_path / "bad.tar.gz", [link])
    with pytest.raises(InputError, match=r"link|special"):
        extract(bad, tmp_path / "t")


def test_written_tarball_verifies(tmp_path: Path, tree: Tree) -> None:
    a = tmp_path / "a.json"
    a.write_text("{}")
    out = tmp_path / "r.tar.gz"
    write_results_tarball(tree, out, "results-x", {"sub/a.json": a}, {"box_id": "x"})
    report = verify_tarball(out)
    assert report.ok and report.files == 1


def test_not_a_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"nope")
    with pytest.raises(InputError, match="damaged or not a tarball") as caught:
        verify_tarball(junk)
    assert str(caught.value) == f"{junk}: damaged or not a tarball (not readable as a tar archive, plain or " \
        "gzip, bzip2 or xz compressed)"  # one line, not tarfile's list of the methods it tried


@pytest.mark.parametrize("mode", ["gz", "bz2", "xz"])
@pytest.mark.parametrize("where", ["inside a member", "in the trailer"])
def test_a_changed_byte_in_a_compressed_tarball_is_damage_found_before_extracting(
        tmp_path: Path, mode: str, where: str) -> None:
    """tarfile stops reading at the end block: the stream is read on to its end, so gzip's CRC-32 sees a byte
    changed inside a member's data, which extracted silently before; xz's damage was lzma's own error (exit 70),
    bzip2's was already caught: all three are "damaged" now, before anything is written."""
    import os

    good = tmp_path / f"r.tar.{mode}"
    info = _file("top/noise.bin", 300_000)
    with tarfile.open(good, f"w:{mode}") as tar:
        tar.addfile(info, io.BytesIO(os.urandom(info.size)))  # incompressible: a changed byte stays a changed byte
    assert len(extract(good, tmp_path / "ok")) == 1
    data = bytearray(good.read_bytes())
    data[len(data) // 2 if where == "inside a member" else -6] ^= 0xFF  # gzip's CRC; xz's and bzip2's end fields
    bad = tmp_path / f"bad.tar.{mode}"
    bad.write_bytes(bytes(data))
    target = tmp_path / "t"
    with pytest.raises(InputError, match="damaged or not a tarball") as caught:
        extract(bad, target)
    assert "\n" not in str(caught.value) and caught.value.hint and "sha256" in caught.value.hint
    assert not target.exists() or list(target.rglob("*")) == []  # refused before anything was written


def _results_tar(files: dict[str, bytes]) -> bytes:
    """A plain results tar: top/manifest.json listing the sha256 of `files` (under top/), then the files."""
    manifest = {"files": {name: {"sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()}}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in {"manifest.json": json.dumps(manifest).encode(), **files}.items():
            tar.addfile(_file(f"top/{name}", len(data)), io.BytesIO(data))
    return buf.getvalue()


def test_a_tar_that_ends_early_or_goes_on_is_never_taken_whole(tmp_path: Path) -> None:
    """tarfile takes a damaged, short or missing header after the first member for the end of the archive, and
    stops at the end of the first of two archives concatenated. Whatever follows the end must be tar's zeros,
    boundedly (else damage, before anything is extracted); a tar that ends early extracts what comes before, and
    the manifest finds the rest missing: none of these tarballs verifies."""
    import gzip

    from kit.infra.limits import MAX_TRAILER_BYTES

    plain = _results_tar({"a.bin": b"a" * 4096, "b.bin": b"b" * 4096, "c.bin": b"c" * 4096})
    (tmp_path / "pad.tar").write_bytes(plain + bytes(2 << 20))  # GNU tar -b 4096 pads its record to 2 MiB
    assert check_results(tmp_path / "pad.tar", tmp_path / "a").ok
    second = plain.index(b"top/b.bin")  # the header of b.bin
    damaged = bytearray(plain)
    damaged[second + 101] ^= 0x01  # a digit of its mode field (bytes 100-107): the header checksum fails
    empty_last = bytearray(_results_tar({"a.bin": b"a", "z.bin": b""}))  # an empty last member, its header damaged:
    empty_last[empty_last.index(b"top/z.bin") + 101] ^= 0x01  # only zeros follow the header tarfile refused
    cases = {
        "header.tar": bytes(damaged), "header.tar.gz": gzip.compress(bytes(damaged)),
        "last.tar": bytes(empty_last), "last.tar.gz": gzip.compress(bytes(empty_last)),
        "cut.tar": plain[:second], "midheader.tar": plain[:second + 200],
        "cat.tar": plain.rstrip(b"\0") + bytes(1024) + plain,
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        try:
            report = check_results(tmp_path / name, tmp_path / name.replace(".", "_"))
        except InputError as exc:  # refused whole: damage after the end block
            assert "damaged or not a tarball" in str(exc) and "nothing was extracted" in str(exc), (name, str(exc))
            assert exc.hint and "sha256" in exc.hint and "\n" not in str(exc)
            assert not (tmp_path / name.replace(".", "_")).exists()
        else:  # extracted up to where it ends: the manifest names what is missing
            assert not report.ok and any("listed in the manifest but missing" in p for p in report.problems), name
    (tmp_path / "zeros.tar.gz").write_bytes(gzip.compress(plain + bytes(MAX_TRAILER_BYTES + 1)))
    with pytest.raises(InputError, match=r"more than 16\.0 MiB of zeros after the end of the archive"):
        check_results(tmp_path / "zeros.tar.gz", tmp_path / "b")


@pytest.mark.parametrize("name", ["e.tar", "e.tar.gz"])
def test_an_empty_tarball_is_refused_by_name(tmp_path: Path, name: str) -> None:
    """A tarball of no members (`tar -cf e.tar -T /dev/null`) is bad input, not an internal error."""
    empty = tmp_path / name
    with tarfile.open(empty, "w:gz" if name.endswith(".gz") else "w"):
        pass
    with pytest.raises(InputError, match=r"e\.tar(\.gz)?: an empty tarball \(it holds no files"):
        verify_tarball(empty)


@pytest.mark.parametrize("reader", [("verify",), ("merge", "-o", "OUT/m.parquet"), ("corpus", "info"),
                                    ("corpus", "export", "--format", "vmaftune", "-o", "OUT/x.jsonl")])
def test_a_signed_tarball_with_a_member_swapped_is_refused_by_every_reader(tmp_path: Path, tree: Tree,
                                                                          reader: tuple[str, ...]) -> None:
    """A signed tarball whose shard was swapped for another file, its signed manifest kept (its signature checks):
    every command that reads a tarball refuses it, exit 2, naming the member, in its own words (`corpus info` merges
    nothing). `run --corpus` reads no tarball (a parquet file only)."""
    from kit.infra.keys import sign_manifest
    from tests.conftest import assert_clean_failure, run_here

    shard = tmp_path / "shard.parquet"
    shard.write_bytes(b"PAR1 the box's rows PAR1")
    out = tmp_path / "results-b10-20261129T101500Z.tar.gz"
    with Tree.open(tmp_path / "box") as box:
        write_results_tarball(tree, out, out.name.removesuffix(".tar.gz"), {"02_corpus/shard.parquet": shard},
                              {"box_id": "b10"}, sign=lambda doc: sign_manifest(doc, "b10", "", box))
    with tarfile.open(out) as tar:
        files = {m.name: (m, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    with tarfile.open(out, "w:gz") as tar:
        for name, (m, data) in files.items():
            data = b"PAR1 another box's rows PAR1" if name.endswith("shard.parquet") else data
            m.size = len(data)
            tar.addfile(m, io.BytesIO(data))
    words = [w.replace("OUT", str(tmp_path)) for w in reader]
    res = run_here(*words, out, env={"KIT_CACHE_DIR": str(tmp_path / "lead")})
    assert_clean_failure(res, *(() if reader[0] == "verify" else ("02_corpus/shard.parquet: sha256 mismatch",)))
    assert "02_corpus/shard.parquet: sha256 mismatch" in res.stdout + res.stderr
    assert reader[0] == "merge" or "merged" not in res.stderr, res.stderr
