"""Tarball extraction refuses anything that could escape or surprise."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from kit.bundle.tarball import safe_extract, verify_tarball, write_results_tarball
from kit.errors import InputError


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


def test_written_tarball_verifies(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text("{}")
    out = tmp_path / "r.tar.gz"
    write_results_tarball(out, "results-x", {"sub/a.json": a}, {"box_id": "x"})
    report = verify_tarball(out)
    assert report.ok and report.files == 1


def test_not_a_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"nope")
    with pytest.raises(InputError, match="damaged or not a tarball") as caught:
        verify_tarball(junk)
    assert str(caught.value) == f"{junk}: damaged or not a tarball (neither a tar archive nor a gzip, bzip2 or xz " \
        "compressed one)"  # one line, not tarfile's list of the methods it tried
