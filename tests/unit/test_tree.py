"""One owner per folder (kit.infra.tree): a Tree holds its root by descriptor and reaches every folder below it a
step at a time without following a link, so no write follows a link planted, or raced in, anywhere below its root;
what it makes has no write bit for others whatever the umask; what it finds made by someone else, or writable by
others, is refused, naming whose it is."""

from __future__ import annotations

import ast
import os
import re
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.bundle.tarball import write_results_tarball
from kit.errors import InputError
from kit.infra import treefs
from kit.infra.tree import LockBusy, Rules, Tree, Untrusted
from tests.conftest import ROOT


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture()
def out(root: Path) -> Iterator[Tree]:
    with Tree.open(root, label="the out-dir") as opened:
        yield opened


@pytest.fixture()
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_text("precious\n")
    return path


def assert_untouched(victim: Path) -> None:
    assert victim.read_text() == "precious\n"


def test_a_link_where_a_file_is_written_is_refused_and_its_target_kept(out: Tree, victim: Path) -> None:
    target = out.root / "run.json"
    target.symlink_to(victim)
    for write in (lambda: out.write_json(target, {"a": 1}), lambda: out.write_text(target, "x"),
                  lambda: out.new_temp(target)):
        with pytest.raises(InputError, match=r"run\.json is a symbolic link to .*victim, where the kit writes a "
                                             r"regular file"):
            write()
    with pytest.raises(InputError), out.atomic_path(target) as tmp:
        tmp.write_text("never")
    assert_untouched(victim)
    assert target.is_symlink() and not [p for p in out.root.iterdir() if p.name.startswith(".tmp-")]


def test_logs_and_locks_refuse_links_pipes_folders_and_hard_links(out: Tree, victim: Path) -> None:
    link, fifo, folder, hard = (out.root / n for n in ("link.log", "fifo.log", "dir.log", "hard.log"))
    link.symlink_to(victim)
    os.mkfifo(fifo)  # opening it for writing would block for ever without a reader: it must be refused at once
    folder.mkdir()
    os.link(victim, hard)
    for path, what in ((link, "a symbolic link"), (fifo, "a named pipe"), (folder, "a folder"),
                       (hard, "has 2 names")):
        with pytest.raises(InputError, match=what):
            out.open_append(path)
        with pytest.raises(InputError, match=what), out.lock(path):
            pass
    assert_untouched(victim)
    with out.open_append(out.root / "new.log") as fh:
        fh.write("made")
    assert (out.root / "new.log").read_text() == "made"


def test_a_link_planted_before_the_rename_is_refused(out: Tree, victim: Path) -> None:
    target = out.root / "loso_seed0.json"
    tmp, fh = out.new_temp(target)
    fh.write(b"new")
    out.seal(fh)
    target.symlink_to(victim)  # after the temporary was made, before it is renamed into place
    with pytest.raises(InputError, match="symbolic link"):
        out.replace(tmp, target)
    assert_untouched(victim)


def test_a_folder_swapped_for_a_link_after_it_was_opened_is_refused_at_the_next_write(out: Tree,
                                                                                      tmp_path: Path) -> None:
    """Issue 40: a link raced in at any instant. Every write reaches its folder from the root a step at a time, never
    following a link: the link now at the folder's name is refused, and nothing lands in what it points to. (Until
    2.0 the Tree held every folder it opened and kept writing into the moved one; issue 55 dropped that promise.)"""
    step = out.make_folder(out.root / "03_loso")
    out.write_text(step / "a.json", "{}")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    step.rename(tmp_path / "moved")
    step.symlink_to(elsewhere)
    with pytest.raises(InputError, match=r"03_loso is a symbolic link to .*elsewhere, where the kit writes a folder"):
        out.write_text(step / "b.json", "{}")
    assert list(elsewhere.iterdir()) == [] and [p.name for p in (tmp_path / "moved").iterdir()] == ["a.json"]
    with Tree.open(out.root) as again, pytest.raises(InputError, match=r"03_loso is a symbolic link to .*elsewhere"):
        again.write_text(step / "c.json", "{}")


def test_folders_below_the_root_are_never_links_but_the_users_own_links_above_it_are_followed(
        tmp_path: Path, victim: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)  # the user's own choice: --out-dir alias/out
    root = tmp_path / "alias" / "out"
    with Tree.open(root) as out:
        out.make_folder(root / "03_loso" / "logs")
        assert (real / "out" / "03_loso" / "logs").is_dir()
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (root / "04_verdict").symlink_to(elsewhere)
        for write in (lambda: out.make_folder(root / "04_verdict" / "logs"),
                      lambda: out.write_json(root / "04_verdict" / "x", 1),
                      lambda: out.check_planted(root / "04_verdict")):
            with pytest.raises(InputError, match=r"04_verdict is a symbolic link to .*elsewhere, where the kit writes "
                                                 r"a folder"):
                write()
        assert list(elsewhere.iterdir()) == []


def test_scratch_folders_are_private_and_a_link_in_their_place_is_refused(out: Tree, tmp_path: Path) -> None:
    work = out.fresh_folder(out.root / "02_corpus" / "work" / "job1")
    (work / "enc.mp4").write_bytes(b"old")
    work = out.fresh_folder(work)  # an earlier one is emptied
    assert list(work.iterdir()) == [] and stat.S_IMODE(work.stat().st_mode) & 0o077 == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("k")
    (out.root / "02_corpus" / "work" / "job2").symlink_to(elsewhere)
    with pytest.raises(InputError, match="job2 is a symbolic link"):
        out.fresh_folder(out.root / "02_corpus" / "work" / "job2")
    assert (elsewhere / "keep").read_text() == "k"


def test_a_removal_walks_by_descriptors_and_never_enters_a_link(out: Tree, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep").write_text("k")
    members = out.make_folder(out.root / "03_loso" / "members" / "abc")
    (members / "m.npy").write_bytes(b"x")
    (members / "planted").symlink_to(elsewhere)
    out.remove_folder(out.root / "03_loso" / "members")
    assert not (out.root / "03_loso" / "members").exists() and (elsewhere / "keep").read_text() == "k"


def test_a_tree_check_names_the_first_planted_entry(out: Tree, victim: Path) -> None:
    jobs = out.make_folder(out.root / "02_corpus" / "jobs")
    (jobs / "a.parquet").write_bytes(b"x")
    out.check_planted(out.root / "02_corpus")
    (out.root / "02_corpus" / "latest.tar.gz").symlink_to(victim)  # the user's own link, named as the kit never does
    out.check_planted(out.root / "02_corpus")
    os.mkfifo(jobs / "b.json")
    with pytest.raises(InputError, match=r"jobs/b\.json is a named pipe"):
        out.check_planted(out.root / "02_corpus")


def test_the_results_tarball_never_ships_what_a_planted_link_points_to(out: Tree, victim: Path) -> None:
    (out.root / "HOLD.json").symlink_to(victim)
    os.mkfifo(out.root / "fifo")
    ok = out.root / "ok.json"
    ok.write_text("{}")
    for planted in ("HOLD.json", "fifo"):
        with pytest.raises(InputError, match=planted):
            write_results_tarball(out, out.root / "r.tar.gz", "r", {"a": ok, "b": out.root / planted}, {})
        assert not (out.root / "r.tar.gz").exists()
    done: list[bool] = []
    reader = threading.Thread(target=lambda: done.append(bool(out.read_bytes(ok))))
    reader.start()
    reader.join(5)
    assert done == [True]


def test_what_the_kit_makes_has_no_write_bit_for_others_whatever_the_umask(tmp_path: Path) -> None:
    """Issue 40: under `umask 002` in a setgid project folder, every file the kit wrote was group-writable, and
    another member of the group rewrote the LOSO members. Folders 0755 and files 0644, whatever the umask; with
    --group-shared, folders 3775 (setgid, sticky) and files still 0644."""
    old = os.umask(0o002)
    try:
        with Tree.open(tmp_path / "out") as out:
            out.write_json(out.root / "03_loso" / "members" / "f" / "m.json", {})
            with out.atomic_path(out.root / "03_loso" / "x.y4m") as tmp:
                tmp.write_bytes(b"made by a child")
        with Tree.open(tmp_path / "shared", Rules(group_shared=True)) as shared:
            shared.write_json(shared.root / "03_loso" / "m.json", {})
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert modes == {"out": 0o755, "out/03_loso": 0o755, "out/03_loso/members": 0o755, "out/03_loso/members/f": 0o755,
                     "out/03_loso/members/f/m.json": 0o644, "out/03_loso/x.y4m": 0o644,
                     "shared": 0o3775, "shared/03_loso": 0o3775, "shared/03_loso/m.json": 0o644}


def test_a_folder_others_can_write_or_another_user_owns_is_refused_naming_whose(tmp_path: Path) -> None:
    """A step folder pre-created 0777 by another member of the group was used silently; now refused (exit 2),
    naming it and who can write it, unless --group-shared, where a folder others can write must be sticky."""
    (tmp_path / "out" / "03_loso").mkdir(parents=True)
    os.chmod(tmp_path / "out", 0o755)
    os.chmod(tmp_path / "out" / "03_loso", 0o777)
    with Tree.open(tmp_path / "out") as out, pytest.raises(InputError) as err:
        out.write_json(out.root / "03_loso" / "x.json", {})
    assert err.value.message.startswith(f"{tmp_path / 'out' / '03_loso'} can be written by group ")
    assert "everyone (drwxrwxrwx)" in err.value.message and "--group-shared" in err.value.hint
    shared = Rules(group_shared=True)
    with Tree.open(tmp_path / "out", shared) as out, pytest.raises(InputError, match="without the sticky bit"):
        out.write_json(out.root / "03_loso" / "x.json", {})
    os.chmod(tmp_path / "out" / "03_loso", 0o1777)
    with Tree.open(tmp_path / "out", shared) as out:
        out.write_json(out.root / "03_loso" / "x.json", {})
    os.chmod(tmp_path / "out", 0o775)
    with pytest.raises(InputError, match=r"out can be written by group .* \(drwxrwxr-x\)"):
        Tree.open(tmp_path / "out")
    if os.geteuid() != 0:
        return  # giving a folder to another user needs root: the real users' test covers it (tests/pipeline)
    os.chmod(tmp_path / "out", 0o755)
    os.chown(tmp_path / "out" / "03_loso", 4242, 4242)
    os.chmod(tmp_path / "out" / "03_loso", 0o755)
    with Tree.open(tmp_path / "out") as out, pytest.raises(InputError, match="belongs to user uid 4242, not to you"):
        out.write_json(out.root / "03_loso" / "y.json", {})


def test_a_file_of_another_user_or_writable_by_others_is_not_trusted(out: Tree) -> None:
    path = out.root / "status.json"
    out.write_json(path, {"a": 1})
    assert out.read_json(path) == {"a": 1}
    os.chmod(path, 0o664)
    with pytest.raises(Untrusted, match=r"can be written by group .* \(-rw-rw-r--\)"):
        out.read_json(path)
    assert out.read_json_object(path) == (None, "writable by others (not trusted)")  # ours: rebuilt, not used
    assert out.sha256(path)  # a hash is its own check: it does not need the file to be trusted
    if os.geteuid() == 0:
        os.chmod(path, 0o644)
        os.chown(path, 4242, 4242)
        with pytest.raises(Untrusted, match="belongs to user uid 4242"):
            out.read_json_object(path)  # another user's: refused, never rebuilt over


def test_the_lock_refuses_a_second_holder_and_lets_training_tasks_share_it(out: Tree) -> None:
    lock = out.root / ".lock"
    with out.lock(lock):
        assert out.lock_holder(lock) is not None and out.lock_holder(lock).startswith(f"pid {os.getpid()} on ")
        with Tree.open(out.root) as other, pytest.raises(LockBusy) as busy, other.lock(lock):
            pass
        assert busy.value.holder.startswith(f"pid {os.getpid()} on ")
    with out.lock(lock, shared=True), Tree.open(out.root) as other:
        with other.lock(lock, shared=True):
            pass
        with pytest.raises(LockBusy), other.lock(lock):
            pass


def test_a_write_into_a_deleted_out_dir_fails_and_never_makes_it_again(out: Tree, tmp_path: Path) -> None:
    """An `rm -rf OUT` while a command writes: the next write fails (exit 2), naming the folder that went, and
    nothing makes OUT again. (Until 2.0 the Tree told a deleted out-dir from a moved one, and a subfolder emptied by
    the out-dir's deletion from the out-dir; issue 55 dropped that promise.)"""
    import shutil

    out.write_json(out.root / "02_corpus" / "a.json", {})
    out.root.rename(tmp_path / "gone")
    shutil.rmtree(tmp_path / "gone")
    for write in (lambda: out.write_json(out.root / "b.json", {}), lambda: out.make_folder(out.root / "03_loso"),
                  lambda: out.open_append(out.root / "x.log")):
        with pytest.raises(InputError, match=f"^{re.escape(str(out.root))} \\(out-dir\\) was removed while the "
                                             "kit ran$") as removed:
            write()
        assert removed.value.retry_helps  # the same command makes it again
    assert not out.root.exists()


# every write the kit makes goes through the Tree: a new bare write would bypass it unnoticed. A library that
# writes (pyarrow, pandas, tarfile) gets the Tree's file object (named fh, or out), never a path
WRITERS = {"kit/infra/tree.py", "kit/infra/treefs.py"}
PRIVATE = {"kit/infra/archive.py": "extracts into a private temporary folder (mkdtemp, mode 0700)",
           "kit/cli/guard.py": "points stdout at os.devnull when the reader went away"}


def _reads(call: ast.Call) -> bool:
    """An os.open whose flags name O_RDONLY and nothing that writes or creates: a read, not a write."""
    names = {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(call.args[1])
             if isinstance(n, (ast.Attribute, ast.Name))} if len(call.args) > 1 else set()
    return "O_RDONLY" in names and not names & {"O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"}


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
        elif name in ("write_table", "to_parquet", "ParquetWriter", "table_writer", "write_whole", "write_frame"):
            if owner != "writer" and not any(isinstance(a, ast.Name) and a.id in ("fh", "out", "sink")
                                             for a in [*node.args, *(k.value for k in node.keywords)]):
                found.append(f"{ast.unparse(func)}() line {node.lineno}")
        elif name in ("mkdir", "makedirs", "rename", "symlink", "link", "copyfile", "copy", "copy2", "move", "chmod") \
                or (owner == "os" and name == "replace") or (owner == "os" and name == "open" and not _reads(node)) \
                or (name == "open" and owner == "tarfile" and not any(k.arg == "fileobj" for k in node.keywords)):
            found.append(f"{owner + '.' if owner else ''}{name}() line {node.lineno}")
        elif name in ("write_text", "write_bytes") and isinstance(func, ast.Attribute) \
                and not (isinstance(func.value, ast.Name) and func.value.id in ("tree", "ctx", "cache")) \
                and not ast.unparse(func.value).endswith(("tree", ".tree")):
            found.append(f"{ast.unparse(func.value)}.{name}() line {node.lineno}")
    return found


def test_every_write_in_the_kit_goes_through_a_tree() -> None:
    offenders = {}
    for path in sorted((ROOT / "kit").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in WRITERS or rel in PRIVATE:
            continue
        if bad := _bare_writes(path):
            offenders[rel] = bad
    assert offenders == {}, "write through a kit.infra.tree.Tree instead: " + repr(offenders)


def test_the_write_scan_finds_a_bare_write(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nopen(p, 'a')\nPath(p).mkdir()\nos.replace(a, b)\nlog.write_text('x')\n"
                      "os.open(p, os.O_RDONLY | O_NONBLOCK)\nos.open(p, os.O_RDONLY | os.O_CREAT)\n"
                      "tmp.write_bytes(b'')\nopen(p, 'rb')\npq.write_table(t, tmp)\np.chmod(0o755)\n"
                      "tarfile.open(tmp, 'w:gz')\ntarfile.open(fileobj=fh, mode='w:gz')\ntree.write_text(p, 'x')\n")
    assert [w.split("(")[0] for w in _bare_writes(sample)] == ["open", "mkdir", "os.replace", "log.write_text",
                                                              "os.open", "tmp.write_bytes", "pq.write_table", "p.chmod",
                                                              "tarfile.open"]


# the files a command keeps open while it runs (a Tree's open_append), each a log read while the command still runs
# (`status` reads done.txt; a user follows the step's log) or after it is killed: each write is flushed as it is made
KEPT_OPEN = {("kit/steps/runner.py", "StepLog"): "_write", ("kit/corpus/progress.py", "DoneList"): "add"}


def kept_open(path: Path) -> set[str]:
    """The classes of `path` that keep a Tree's open_append beyond the statement that opens it (not a `with`)."""
    tree = ast.parse(path.read_text(), str(path))
    in_with = {id(item.context_expr) for node in ast.walk(tree) if isinstance(node, ast.With | ast.AsyncWith)
               for item in node.items}

    def opens(node: ast.AST) -> set[int]:
        return {id(n) for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr == "open_append" and id(n) not in in_with}

    classes = {cls.name: opens(cls) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)}
    outside = opens(tree) - set().union(*classes.values())
    return {name for name, found in classes.items() if found} | ({"<module>"} if outside else set())


def test_every_file_a_command_keeps_open_flushes_each_write() -> None:
    kept = {(path.relative_to(ROOT).as_posix(), name) for path in sorted((ROOT / "kit").rglob("*.py"))
            if path.name != "tree.py" for name in kept_open(path)}
    assert kept == set(KEPT_OPEN), "a file kept open across a command is a log read while it runs: flush each write"
    for (rel, name), method in KEPT_OPEN.items():
        cls = next(n for n in ast.walk(ast.parse((ROOT / rel).read_text())) if isinstance(n, ast.ClassDef)
                   and n.name == name)
        writes = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == method)
        calls = [n.func.attr for n in ast.walk(writes) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        assert "write" in calls and "flush" in calls, f"{rel}: {name}.{method} writes without a flush"


def test_the_kept_open_scan_finds_a_log_kept_without_a_with(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("class Log:\n    def __init__(self, tree, p):\n        self.fh = tree.open_append(p)\n"
                      "def ok(tree, p):\n    with tree.open_append(p) as fh:\n        fh.write('x')\n")
    assert kept_open(sample) == {"Log"}


def test_every_descriptor_is_opened_binary(out: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows opens a descriptor in text mode (CRLF, a stop at 0x1A) unless O_BINARY is given: every open of
    a file passes it. Here O_BINARY is 0, so a stand-in bit is planted and looked for."""
    bit, seen, real_open = 1 << 29, [], os.open

    def recording_open(path: object, flags: int, *args: object, **kw: object) -> int:
        if not flags & os.O_DIRECTORY:  # folders are opened as folders
            seen.append((f"{path} from {sys._getframe(1).f_code.co_name}", bool(flags & bit)))
        return real_open(path, flags & ~bit, *args, **kw)  # type: ignore[arg-type]

    for name in ("NEW", "READ", "WRITE", "APPEND", "LOCK"):
        monkeypatch.setattr(treefs, name, getattr(treefs, name) | bit)
    monkeypatch.setattr(os, "open", recording_open)
    out.write_json(out.root / "a.json", {"x": 1})
    with out.open_append(out.root / "a.log"):
        pass
    with out.open_read(out.root / "a.json"):
        pass
    with out.lock(out.root / ".lock"):
        pass
    assert seen and all(binary for _, binary in seen), seen


def test_the_cache_removes_the_temporaries_of_dead_writers_when_it_opens(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 40: a killed write of sha256.json (or a killed demo render) left its temporary in the cache for ever;
    the out-dir's were removed. Now opening the cache removes a dead writer's of this host, and keeps a live one's."""
    import subprocess

    from kit.infra.files import host_tag
    from kit.infra.host import cache_tree

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    cache = tmp_path / "cache"
    (cache / "demo-v4").mkdir(parents=True)
    killed = [cache / f".tmp-sha256.json.{dead.stdout.strip()}.{host_tag()}.abcd1234",
              cache / "demo-v4" / f".tmp-life.y4m.{dead.stdout.strip()}.{host_tag()}.abcd1234"]
    live = cache / f".tmp-sha256.json.{os.getppid()}.{host_tag()}.abcd1234"
    for path in (*killed, live):
        path.write_bytes(b"half")
    monkeypatch.setenv("KIT_CACHE_DIR", str(cache))
    cache_tree()
    assert not any(p.exists() for p in killed) and live.exists()


def test_a_path_s_steps_below_the_root_are_pathlib_s_for_every_root_and_path_shape(tmp_path: Path) -> None:
    """Tree.parts, asked twice for each file a command opens, reads the steps from the normalised text on POSIX
    (pathlib's relative_to cost `status` a fifth of reading a job's ledger). The class, generated: every root shape
    (`/`, POSIX's `//` root, trailing slashes, `..`, relative, a real folder) against 30,000 paths of every shape
    (`.`, `..`, empty steps, `//`, spaces, characters outside ASCII, paths not below the root): the same steps as
    pathlib gives, or the same refusal (ValueError)."""
    import random

    def by_pathlib(root: Path, path: Path | str) -> tuple[str, ...] | str:
        try:
            return Path(os.path.abspath(path)).relative_to(Path(os.path.abspath(root))).parts
        except ValueError:
            return "not below"

    def by_tree(tree: Tree, path: Path | str) -> tuple[str, ...] | str:
        try:
            return tree.parts(path)  # type: ignore[arg-type]
        except ValueError:
            return "not below"

    rng = random.Random(75)
    steps = ["a", "b", "..", ".", "", "x y", "é", "a.b", "//", "c", "///", str(tmp_path).lstrip("/")]
    checked = 0
    for root in ("/", "//", "///", "/tmp", "/tmp/", "/tmp/x/..", "relative/dir", ".", "//tmp", str(tmp_path)):
        tree = Tree(Path(root), Rules(), None)
        for _ in range(3000):
            chosen = [rng.choice(steps) for _ in range(rng.randint(0, 5))]
            base = rng.choice([root, "/", "//", "/tmp", ".", "relative", root + "/"])
            path = Path(base, *filter(None, chosen)) if rng.random() < 0.5 else base + "/" + "/".join(chosen)
            assert by_tree(tree, path) == by_pathlib(Path(root), path), (root, path)
            checked += 1
    assert checked == 30000


@pytest.mark.skipif(os.sep != "/", reason="needs POSIX paths (os.sep '/'), whose text the fast path reads")
def test_a_path_s_steps_are_read_from_its_text_on_posix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path itself: an ordinary path below the root is answered without pathlib's relative_to (made to
    fail here); a path under POSIX's `//` root, asked of the root `/`, still goes to pathlib."""
    from pathlib import PurePath

    tree = Tree(tmp_path, Rules(), None)

    def refused(self: PurePath, *other: object) -> PurePath:
        raise AssertionError("relative_to asked")

    below, root, other = tmp_path / "02_corpus" / "jobs" / "a.json", Tree(Path("/"), Rules(), None), Path("//a")
    with monkeypatch.context() as patched:  # undone before pytest itself reports
        patched.setattr(PurePath, "relative_to", refused)
        steps, none = tree.parts(below), tree.parts(tmp_path)
        try:
            root.parts(other)
            asked = False
        except AssertionError:
            asked = True
    assert steps == ("02_corpus", "jobs", "a.json") and none == () and asked
