"""Tarball extraction refuses anything that could escape or surprise."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from kit.bundle.tarball import safe_extract, verify_tarball, write_results_tarball
from kit.errors import InputError
from kit.infra.tree import Tree


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
        safe_extract(bad, target)
    assert list(target.rglob("*")) == []  # nothing written, not even the safe member
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE])
def test_links_and_special_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    link = tarfile.TarInfo("top/link")
    link.type = kind
    link.linkname = "/etc/passwd"
    bad = _tar(tmp_path / "bad.tar.gz", [link])
    with pytest.raises(InputError, match=r"link|special"):
        safe_extract(bad, tmp_path / "t")


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
    assert len(safe_extract(good, tmp_path / "ok")) == 1
    data = bytearray(good.read_bytes())
    data[len(data) // 2 if where == "inside a member" else -6] ^= 0xFF  # gzip's CRC; xz's and bzip2's end fields
    bad = tmp_path / f"bad.tar.{mode}"
    bad.write_bytes(bytes(data))
    target = tmp_path / "t"
    with pytest.raises(InputError, match="damaged or not a tarball") as caught:
        safe_extract(bad, target)
    assert "\n" not in str(caught.value) and caught.value.hint and "sha256" in caught.value.hint
    assert not target.exists() or list(target.rglob("*")) == []  # refused before anything was written


def test_only_zero_padding_may_follow_the_end_of_the_archive(tmp_path: Path) -> None:
    """tarfile takes a damaged, short or missing header after the first member for the end of the archive, and
    stops at the end of the first of two archives concatenated: only a block of zeros ends an archive, and what
    follows it must be tar's zeros, boundedly."""
    import gzip

    from kit.infra.limits import MAX_TRAILER_BYTES

    big = [_file("top/a.bin", 4096), _file("top/b.bin", 4096), _file("top/c.bin", 4096)]
    plain = gzip.decompress(_tar(tmp_path / "r.tar.gz", big, b"y" * 4096).read_bytes())
    (tmp_path / "pad.tar").write_bytes(plain + bytes(2 << 20))  # GNU tar -b 4096 pads its record to 2 MiB
    assert len(safe_extract(tmp_path / "pad.tar", tmp_path / "a")) == 3
    second = plain.index(b"top/b.bin")  # the second member's header
    damaged = bytearray(plain)
    damaged[second + 101] ^= 0x01  # a digit of its mode field (bytes 100-107): the header checksum fails
    # an empty last member whose header is damaged: only zeros follow the header tarfile refused
    empty_last = gzip.decompress(_tar(tmp_path / "e.tar.gz", [_file("top/a.bin", 1), _file("top/z.bin", 0)])
                                 .read_bytes())
    last = bytearray(empty_last)
    last[empty_last.index(b"top/z.bin") + 101] ^= 0x01
    cases = {
        "header.tar": (bytes(damaged),
                       f"the member header at byte {second} of the tar stream is damaged: bad checksum"),
        "header.tar.gz": (gzip.compress(bytes(damaged)), "is damaged: bad checksum"),
        "last.tar": (bytes(last), "is damaged: bad checksum"),
        "last.tar.gz": (gzip.compress(bytes(last)), "is damaged: bad checksum"),
        "cut.tar": (plain[:second],
                    f"header at byte {second} of the tar stream is missing: the file ends without tar's end-of"),
        "midheader.tar": (plain[:second + 200], f"header at byte {second} of the tar stream is cut short"),
        "cat.tar": (plain.rstrip(b"\0") + bytes(1024) + plain, "data after the end-of-archive block"),
    }
    for name, (data, why) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match="damaged or not a tarball") as caught:
            safe_extract(tmp_path / name, tmp_path / name.replace(".", "_"))
        assert why in str(caught.value), (name, str(caught.value))
        assert "nothing was extracted" in str(caught.value) and "\n" not in str(caught.value)
        assert caught.value.hint and "sha256" in caught.value.hint
        assert not (tmp_path / name.replace(".", "_")).exists()  # nothing extracted, not even member a
    (tmp_path / "zeros.tar.gz").write_bytes(gzip.compress(plain + bytes(MAX_TRAILER_BYTES + 1)))
    with pytest.raises(InputError, match=r"more than 16\.0 MiB of zeros after the end of the archive"):
        safe_extract(tmp_path / "zeros.tar.gz", tmp_path / "b")


@pytest.mark.parametrize("name", ["e.tar", "e.tar.gz"])
def test_an_empty_tarball_is_refused_by_name(tmp_path: Path, name: str) -> None:
    """A tarball of no members (`tar -cf e.tar -T /dev/null`) is bad input, not an internal error."""
    empty = tmp_path / name
    with tarfile.open(empty, "w:gz" if name.endswith(".gz") else "w"):
        pass
    with pytest.raises(InputError, match=r"e\.tar(\.gz)?: an empty tarball \(it holds no files"):
        verify_tarball(empty)
