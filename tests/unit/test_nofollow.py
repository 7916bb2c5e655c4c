"""No write follows a link planted in a kit tree: the primitives, each against links, pipes, folders, hard links
and a link planted between the check and the open."""

from __future__ import annotations

import ast
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from kit.bundle.tarball import write_results_tarball
from kit.errors import InputError
from kit.infra import nofollow
from kit.infra.files import atomic_path, fresh_folder, new_temp, replace, write_json, write_text
from kit.infra.nofollow import check_tree, make_folder, open_in_place, open_regular, own_tree
from tests.conftest import ROOT


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    root.mkdir()
    own_tree(root)
    return root


@pytest.fixture()
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_text("precious\n")
    return path


def assert_untouched(victim: Path) -> None:
    assert victim.read_text() == "precious\n"


def test_a_link_where_a_file_is_written_is_refused_and_its_target_kept(tree: Path, victim: Path) -> None:
    target = tree / "run.json"
    target.symlink_to(victim)
    for write in (lambda: write_json(target, {"a": 1}), lambda: write_text(target, "x"), lambda: new_temp(target)):
        with pytest.raises(InputError, match=r"run\.json is a symbolic link to .*victim, where the kit writes a "
                                             r"regular file"):
            write()
    with pytest.raises(InputError), atomic_path(target) as tmp:
        tmp.write_text("never")
    assert_untouched(victim)
    assert target.is_symlink() and not [p for p in tree.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("mode", ["a", "r+"])
def test_files_opened_in_place_refuse_links_pipes_folders_and_hard_links(tree: Path, victim: Path, mode: str) -> None:
    link, fifo, folder, hard = tree / "link.log", tree / "fifo.log", tree / "dir.log", tree / "hard.log"
    link.symlink_to(victim)
    os.mkfifo(fifo)  # opening it for writing would block for ever without a reader: it must be refused at once
    folder.mkdir()
    os.link(victim, hard)
    for path, what in ((link, "a symbolic link"), (fifo, "a named pipe"), (folder, "a folder"),
                       (hard, "a file with 2 names")):
        with pytest.raises(InputError, match=what):
            open_in_place(path, mode, encoding="utf-8")
    assert_untouched(victim)
    with open_in_place(tree / "new.log", mode, encoding="utf-8") as fh:
        fh.write("made")
    assert (tree / "new.log").read_text() == "made"


def test_a_link_planted_between_the_check_and_the_open_is_refused(tree: Path, victim: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree / ".lock"
    real_check = nofollow.check_target

    def check_then_plant(p: Path) -> None:
        real_check(p)
        p.symlink_to(victim)  # the neighbour's move, in the window between the check and the open

    monkeypatch.setattr(nofollow, "check_target", check_then_plant)
    with pytest.raises(InputError, match="symbolic link"):
        open_in_place(path, "r+", encoding="utf-8")
    assert_untouched(victim)


def test_a_link_planted_before_the_rename_is_refused(tree: Path, victim: Path) -> None:
    target = tree / "loso_seed0.json"
    tmp = new_temp(target)
    tmp.write_text("new")
    target.symlink_to(victim)  # after the temporary was made, before it is renamed into place
    with pytest.raises(InputError, match="symbolic link"):
        replace(tmp, target)
    assert_untouched(victim)


def test_folders_below_a_kit_tree_are_never_links_but_the_users_own_links_above_it_are_followed(
        tmp_path: Path, victim: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)  # the user's own choice: --out-dir alias/out
    root = tmp_path / "alias" / "out"
    own_tree(root)
    make_folder(root / "03_loso" / "logs")
    assert (real / "out" / "03_loso" / "logs").is_dir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "04_verdict").symlink_to(elsewhere)
    for write in (lambda: make_folder(root / "04_verdict" / "logs"), lambda: write_json(root / "04_verdict" / "x", 1),
                  lambda: check_tree(root / "04_verdict")):
        with pytest.raises(InputError, match=r"04_verdict is a symbolic link to .*elsewhere, where the kit writes "
                                             r"a folder"):
            write()
    assert list(elsewhere.iterdir()) == []


def test_outside_any_kit_tree_only_the_file_itself_is_checked(tmp_path: Path, victim: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    write_json(tmp_path / "alias" / "merged.manifest.json", {})  # merge -o in a folder reached through a link
    assert (real / "merged.manifest.json").is_file()
    (real / "merged.parquet").symlink_to(victim)
    with pytest.raises(InputError, match=r"merged\.parquet is a symbolic link"):
        write_text(tmp_path / "alias" / "merged.parquet", "x")
    assert_untouched(victim)


def test_scratch_folders_are_private_and_a_link_in_their_place_is_refused(tree: Path, tmp_path: Path) -> None:
    work = fresh_folder(tree / "02_corpus" / "work" / "job1")
    (work / "enc.mp4").write_bytes(b"old")
    work = fresh_folder(work)  # an earlier one is emptied
    assert list(work.iterdir()) == [] and stat.S_IMODE(work.stat().st_mode) & 0o077 == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("k")
    (tree / "02_corpus" / "work" / "job2").symlink_to(elsewhere)
    with pytest.raises(InputError, match="job2 is a symbolic link"):
        fresh_folder(tree / "02_corpus" / "work" / "job2")
    assert (elsewhere / "keep").read_text() == "k"


def test_a_tree_check_names_the_first_planted_entry(tree: Path, victim: Path) -> None:
    make_folder(tree / "02_corpus" / "jobs")
    (tree / "02_corpus" / "jobs" / "a.parquet").write_bytes(b"x")
    check_tree(tree / "02_corpus")
    (tree / "02_corpus" / "latest.tar.gz").symlink_to(victim)  # the user's own link, named as the kit never names
    check_tree(tree / "02_corpus")
    os.mkfifo(tree / "02_corpus" / "jobs" / "b.json")
    with pytest.raises(InputError, match=r"jobs/b\.json is a named pipe"):
        check_tree(tree / "02_corpus")


def test_the_results_tarball_never_ships_what_a_planted_link_points_to(tree: Path, victim: Path) -> None:
    (tree / "HOLD.json").symlink_to(victim)
    (tree / "fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(tree / "fifo")
    ok = tree / "ok.json"
    ok.write_text("{}")
    for planted in ("HOLD.json", "fifo"):
        with pytest.raises(InputError, match=planted):
            write_results_tarball(tree / "r.tar.gz", "r", {"a": ok, "b": tree / planted}, {})
        assert not (tree / "r.tar.gz").exists()
    done: list[bool] = []
    reader = threading.Thread(target=lambda: done.append(bool(open_regular(ok).read())))
    reader.start()
    reader.join(5)
    assert done == [True]


# every write the kit makes goes through the primitives: a new bare write would bypass them unnoticed. A
# library that writes (pyarrow, pandas, tarfile) gets the file object of files.open_temp, never a path
WRITERS = {"kit/infra/files.py", "kit/infra/nofollow.py"}
PRIVATE = {"kit/infra/archive.py": "extracts into a private temporary folder (mkdtemp, mode 0700)",
           "kit/cli/guard.py": "points stdout at os.devnull when the reader went away"}


def _bare_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        if name == "open" and not owner and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and set(str(node.args[1].value)) & set("wax+"):
            found.append(f"open(..., {node.args[1].value!r}) line {node.lineno}")
        elif name in ("write_table", "to_parquet", "ParquetWriter"):
            # a library writing is handed files.open_temp's file object (named fh), or is the writer made on one
            if owner != "writer" and not any(isinstance(a, ast.Name) and a.id == "fh"
                                             for a in [*node.args, *(k.value for k in node.keywords)]):
                found.append(f"{ast.unparse(func)}() line {node.lineno}")
        elif name in ("mkdir", "makedirs", "rename", "symlink", "link", "copyfile", "copy", "copy2", "move", "chmod") \
                or (owner == "os" and name in ("replace", "open")) \
                or (name == "open" and owner == "tarfile" and not any(k.arg == "fileobj" for k in node.keywords)):
            found.append(f"{owner + '.' if owner else ''}{name}() line {node.lineno}")
        elif name in ("write_text", "write_bytes") and isinstance(func, ast.Attribute):  # not files.write_text
            found.append(f"{ast.unparse(func.value)}.{name}() line {node.lineno}")
    return found


def test_every_write_in_the_kit_goes_through_the_no_follow_primitives() -> None:
    offenders = {}
    for path in sorted((ROOT / "kit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in WRITERS or rel in PRIVATE:
            continue
        allowed = {"shutil.copyfile() line"} if rel == "kit/platforms/binaries.py" else set()  # into atomic_path's tmp
        if bad := [w for w in _bare_writes(path) if not any(w.startswith(a) for a in allowed)]:
            offenders[rel] = bad
    assert offenders == {}, "write through kit.infra.files / kit.infra.nofollow instead: " + repr(offenders)


def test_the_write_scan_finds_a_bare_write(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nopen(p, 'a')\nPath(p).mkdir()\nos.replace(a, b)\nlog.write_text('x')\n"
                      "tmp.write_bytes(b'')\nopen(p, 'rb')\npq.write_table(t, tmp)\np.chmod(0o755)\n"
                      "tarfile.open(tmp, 'w:gz')\ntarfile.open(fileobj=fh, mode='w:gz')\n")
    assert [w.split("(")[0] for w in _bare_writes(sample)] == ["open", "mkdir", "os.replace", "log.write_text",
                                                              "tmp.write_bytes", "pq.write_table", "p.chmod",
                                                              "tarfile.open"]


def test_every_descriptor_is_opened_binary(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows opens a descriptor in text mode (CRLF, a stop at 0x1A) unless O_BINARY is given: every open of
    the primitives passes it. Here O_BINARY is 0, so a stand-in bit is planted and looked for."""
    from kit.infra import files

    bit, seen, real_open = 1 << 29, [], os.open

    def recording_open(path: object, flags: int, *args: object, **kw: object) -> int:
        caller = sys._getframe(1).f_code.co_filename
        if not caller.endswith("tempfile.py"):  # mkstemp passes the real O_BINARY itself, where there is one
            seen.append((f"{path} from {caller}", bool(flags & bit)))
        return real_open(path, flags & ~bit, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(nofollow, "O_BINARY", bit)
    monkeypatch.setattr(files, "O_BINARY", bit)
    monkeypatch.setattr(os, "open", recording_open)
    write_json(tree / "a.json", {"x": 1})
    with open_in_place(tree / "a.log", "a", encoding="utf-8"):
        pass
    with open_regular(tree / "a.json"):
        pass
    with nofollow.open_for_reading(tree / "a.json"):
        pass
    assert seen and all(binary for _, binary in seen), seen
