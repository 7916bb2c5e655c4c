"""Earlier outputs are moved aside, never deleted (issue 24 B): Tree.move_into and the bundle's set_aside, on real
files and folders; only what the kit can prove it wrote is moved (issue 52, item 3: kit.bundle.aside)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.bundle.aside import record, set_aside
from kit.errors import InputError
from kit.infra.tree import Tree
from kit.rundir import RunDir


@pytest.fixture()
def out(tmp_path: Path) -> Iterator[Tree]:
    with Tree.open(tmp_path / "out") as opened:
        yield opened


@pytest.fixture()
def run(out: Tree) -> RunDir:
    return RunDir(out.root)


def recorded(out: Tree, run: RunDir, *paths: Path) -> None:
    """The files (every file below a folder) in the bundle's ledger, as the bundle that wrote them records them."""
    files = [f for p in paths for f in ([q for q, _ in out.walk_files(p)] if p.is_dir() else [p])]
    record(out, run, {f: out.sha256(f) for f in files})


def test_earlier_exports_and_tarballs_move_into_the_dated_folder(run: RunDir, out: Tree) -> None:
    (run.exports / "vmaftune").mkdir(parents=True)
    (run.exports / "ensemble.json").write_text("{}")
    (run.exports / "vmaftune" / "m.onnx").write_bytes(b"model")
    tarballs = [run.tarball(run.results_stem("box", t)) for t in ("20260101T000000Z", "20260102T000000Z")]
    for t in tarballs:
        t.write_bytes(t.name.encode())
    recorded(out, run, run.exports, *tarballs)
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
        out.move_into(staged, run.exports.parent, run.exports.name)
    for t in (old, new):
        t.write_bytes(t.name.encode())
    recorded(out, run, run.exports, old)
    aside = run.set_aside("20260102T000000Z")
    assert set_aside(out, run, aside, keep=new) == [aside / "exports", aside / old.name]
    out.move_into(staged, run.exports.parent, run.exports.name)
    assert (run.exports / "new.onnx").read_bytes() == b"new" and not staged.exists()
    assert (aside / "exports" / "old.onnx").read_bytes() == b"old" and run.tarballs(out) == [new]
    abandoned = out.new_temp_folder(run.exports)
    (abandoned / "half.onnx").write_bytes(b"half")
    out.remove_folder(abandoned)
    assert not abandoned.exists() and (run.exports / "new.onnx").is_file()


NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@needs_root
def test_a_tarball_a_group_member_dropped_is_refused_never_moved_as_an_earlier_bundles(run: RunDir, out: Tree) -> None:
    """Under --group-shared the group may add files to 05_bundle/: a member's tarball was moved into previous/<utc>
    by the next bundle and called "of an earlier bundle"."""
    mine = run.tarball(run.results_stem("box", "20260101T000000Z"))
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"mine")
    recorded(out, run, mine)
    dropped = run.tarball(run.results_stem("mallory", "20260102T000000Z"))
    dropped.write_bytes(b"forged")
    os.chown(dropped, NOBODY, NOBODY)
    with pytest.raises(InputError) as err:
        set_aside(out, run, run.set_aside("20260103T000000Z"))
    assert err.value.message.startswith(f"{dropped} (user nobody's, -rw-r--r--) is named in no record of the kit's: "
                                        "the bundle moves aside only the tarballs and exports it wrote")
    assert "move it out of" in err.value.hint
    assert mine.read_bytes() == b"mine" and dropped.read_bytes() == b"forged" and not run.previous.exists()


def test_a_file_slipped_into_exports_or_a_recorded_name_with_other_bytes_is_refused(run: RunDir, out: Tree) -> None:
    (run.exports).mkdir(parents=True)
    (run.exports / "ensemble.json").write_text("{}")
    recorded(out, run, run.exports)
    (run.exports / "extra.onnx").write_bytes(b"slipped in")
    with pytest.raises(InputError, match=r"exports/extra\.onnx \(user .*\) is named in no record of the kit's"):
        set_aside(out, run, run.set_aside("20260103T000000Z"))
    (run.exports / "extra.onnx").unlink()
    (run.exports / "ensemble.json").write_text('{"edited": 1}')
    with pytest.raises(InputError, match=r"ensemble\.json \(.*\) differs from the file the kit recorded under its"):
        set_aside(out, run, run.set_aside("20260103T000000Z"))
    assert (run.exports / "ensemble.json").is_file() and not run.previous.exists()


def test_what_the_bundle_before_recorded_in_its_status_json_is_the_kits(run: RunDir, out: Tree) -> None:
    """An out-dir bundled by a kit without the ledger: the runner removes the step's status.json before the bundle
    runs, so the plan hands its outputs to the run, which adds them to the ledger."""
    from kit.bundle.aside import adopt_recorded

    old = run.tarball(run.results_stem("box", "20260101T000000Z"))
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    adopt_recorded(out, run, {run.rel(old): out.sha256(old), run.rel(run.report): "0" * 64, "run.json": "1" * 64})
    aside = run.set_aside("20260102T000000Z")
    assert set_aside(out, run, aside) == [aside / old.name]


@needs_root
def test_a_ledger_of_another_users_vouches_for_nothing(run: RunDir, out: Tree) -> None:
    old = run.tarball(run.results_stem("box", "20260101T000000Z"))
    old.parent.mkdir(parents=True)
    old.write_bytes(b"old")
    recorded(out, run, old)
    os.chown(run.bundle_ledger, NOBODY, NOBODY)
    with pytest.raises(InputError, match=r"ledger\.json belongs to user nobody"):
        set_aside(out, run, run.set_aside("20260102T000000Z"))


def test_the_tarball_is_recorded_before_it_is_put_in_place(run: RunDir, out: Tree) -> None:
    """A bundle killed right after the rename leaves its tarball recorded: the ledger is written first."""
    from kit.bundle.tarball import write_results_tarball

    (run.root / "run.json").write_text("{}")
    dest = run.tarball(run.results_stem("box", "20260101T000000Z"))
    seen: list[tuple[str, bool]] = []
    write_results_tarball(out, dest, dest.name.removesuffix(".tar.gz"), {"run.json": run.root / "run.json"},
                          {"box_id": "box"}, before_place=lambda digest: seen.append((digest, dest.exists())))
    assert seen == [(out.sha256(dest), False)]
