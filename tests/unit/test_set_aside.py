"""Earlier outputs are moved aside, never deleted (issue 24 B): Tree.move_into and the bundle's set_aside, on real
files and folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.errors import InputError
from kit.infra.tree import Tree
from kit.rundir import RunDir
from kit.steps.s05_bundle import set_aside


@pytest.fixture()
def out(tmp_path: Path) -> Iterator[Tree]:
    with Tree.open(tmp_path / "out") as opened:
        yield opened


@pytest.fixture()
def run(out: Tree) -> RunDir:
    return RunDir(out.root)


def test_earlier_exports_and_tarballs_move_into_the_dated_folder(run: RunDir, out: Tree) -> None:
    (run.exports / "vmaftune").mkdir(parents=True)
    (run.exports / "ensemble.json").write_text("{}")
    (run.exports / "vmaftune" / "m.onnx").write_bytes(b"model")
    tarballs = [run.tarball(run.results_stem("box", t)) for t in ("20260101T000000Z", "20260102T000000Z")]
    for t in tarballs:
        t.write_bytes(t.name.encode())
    aside = run.set_aside("20260103T000000Z")
    moved = set_aside(out, run, aside)
    assert moved == [aside / "exports", *(aside / t.name for t in tarballs)]
    assert (aside / "exports" / "vmaftune" / "m.onnx").read_bytes() == b"model"
    assert [(aside / t.name).read_bytes() for t in tarballs] == [t.name.encode() for t in tarballs]
    assert not run.exports.exists() and run.tarballs(out) == []
    assert run.set_aside_for(run.tarball(run.results_stem("my-box", "20260103T000000Z"))) == aside


def test_an_empty_exports_folder_is_removed_and_nothing_reported(run: RunDir, out: Tree) -> None:
    run.exports.mkdir(parents=True)
    assert set_aside(out, run, run.set_aside("20260103T000000Z")) == []
    assert not run.exports.exists() and not run.previous.exists()


def test_a_taken_name_gets_a_number_instead_of_being_replaced(run: RunDir, out: Tree) -> None:
    folder = run.set_aside("20260103T000000Z")
    folder.mkdir(parents=True)
    (folder / "a.tar.gz").write_bytes(b"first")
    second = run.step("bundle") / "a.tar.gz"
    second.parent.mkdir(parents=True, exist_ok=True)
    second.write_bytes(b"second")
    assert out.move_into(second, folder) == folder / "a.tar.gz.2"
    assert (folder / "a.tar.gz").read_bytes() == b"first" and (folder / "a.tar.gz.2").read_bytes() == b"second"


def test_a_link_planted_where_exports_were_is_refused_not_moved(run: RunDir, out: Tree, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep")
    run.exports.parent.mkdir(parents=True)
    run.exports.symlink_to(victim)
    with pytest.raises(InputError, match=r"exports is a symbolic link to .*victim"):
        set_aside(out, run, run.set_aside("20260103T000000Z"))
    assert run.exports.is_symlink() and (victim / "precious").read_text() == "keep"
    assert not run.previous.exists()


def test_a_copy_never_reads_through_a_link(run: RunDir, out: Tree, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("private key")
    (run.root / "m.onnx").symlink_to(secret)
    with pytest.raises(InputError, match=r"m\.onnx is a symbolic link"):
        out.write_bytes(run.root / "copy.onnx", out.read_bytes(run.root / "m.onnx", trusted=False))
    assert not (run.root / "copy.onnx").exists()
    (run.root / "real.onnx").write_bytes(b"\x00onnx")
    out.write_bytes(run.root / "copy.onnx", out.read_bytes(run.root / "real.onnx", trusted=False))
    assert (run.root / "copy.onnx").read_bytes() == b"\x00onnx"


def test_the_new_tarball_stays_and_new_exports_are_placed_whole(run: RunDir, out: Tree) -> None:
    """The bundle builds its exports in a temporary folder and moves them into place once its tarball is written:
    the earlier exports and tarballs go aside, the new tarball stays."""
    run.exports.mkdir(parents=True)
    (run.exports / "old.onnx").write_bytes(b"old")
    old, new = (run.tarball(run.results_stem("box", t)) for t in ("20260101T000000Z", "20260102T000000Z"))
    staged = out.new_temp_folder(run.exports)
    assert staged.parent == run.exports.parent and staged.name.startswith(".tmp-exports.") and not any(staged.iterdir())
    (staged / "new.onnx").write_bytes(b"new")
    with pytest.raises(InputError, match="exports"):  # never over an earlier exports/
        out.place_folder(staged, run.exports)
    for t in (old, new):
        t.write_bytes(t.name.encode())
    aside = run.set_aside("20260102T000000Z")
    assert set_aside(out, run, aside, keep=new) == [aside / "exports", aside / old.name]
    out.place_folder(staged, run.exports)
    assert (run.exports / "new.onnx").read_bytes() == b"new" and not staged.exists()
    assert (aside / "exports" / "old.onnx").read_bytes() == b"old" and run.tarballs(out) == [new]
    abandoned = out.new_temp_folder(run.exports)
    (abandoned / "half.onnx").write_bytes(b"half")
    out.remove_folder(abandoned)
    assert not abandoned.exists() and (run.exports / "new.onnx").is_file()
