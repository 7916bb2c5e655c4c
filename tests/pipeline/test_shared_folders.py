"""A project folder shared on purpose (issue 40, security): real UNIX users, made by the test, in a setgid group
folder with `umask 002`. Another member of the group can neither change what the kit wrote nor slip it a folder
or a file of her own; the lead, outside the group, can still read and verify the results tarball.

Needs root (to create users and give files away); skipped with the reason otherwise. The interpreter must be
reachable by the test users: a folder on its path that only root may traverse is opened for traversal (o+x) for
the test's duration and closed again."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.rundir import RunDir
from tests import pace
from tests.conftest import ROOT
from tests.kitfiles import shard_table, write_shard

pytestmark = pytest.mark.slow  # real users, a few real runs

GROUP, ALICE, MALLORY, LEAD = "kitproj", "kitalice", "kitmallory", "kitlead"
# the corpus is made here with scores that are not the teacher's function of its features: the frames recipe trains
# on them (the teacher recipe would refuse them, tests/unit/test_distil.py)
RUN = ["--box-id", "alice", "--epochs", "2", "--batch-size", "64", "--seeds", "0,1", "--min-mean-plcc", "-1",
       "--max-plcc-spread", "2", "--min-seed-plcc", "-1", "--max-abs-bias", "off", "--recipe", "frames"]


@dataclass
class Project:
    base: Path  # 0755, root's: what every user may traverse
    shared: Path  # 2775 root:kitproj, the project folder
    corpus: Path  # a corpus every user may read

    def as_user(self, user: str, *argv: str | Path, umask: int = 0o002) -> subprocess.CompletedProcess[str]:
        """`argv` run as `user` (runuser), with its own home and cache, under `umask`."""
        home = self.base / f"home-{user}"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(ROOT),
               "KIT_CACHE_DIR": str(home / "cache"), "LANG": "C.UTF-8"}
        return pace.run(["runuser", "-u", user, "--", *map(str, argv)], env=env, cwd=self.base,
                        capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.umask(umask))

    def kit(self, user: str, *args: str | Path, umask: int = 0o002) -> subprocess.CompletedProcess[str]:
        return self.as_user(user, sys.executable, "-m", "kit", *args, umask=umask)


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def _remove_users() -> None:
    for user in (ALICE, MALLORY, LEAD):
        subprocess.run(["userdel", user], capture_output=True)
    subprocess.run(["groupdel", GROUP], capture_output=True)


def _traversable(path: Path) -> list[tuple[Path, int]]:
    """Give others the right to traverse each folder above `path` that lacks it; the modes to put back."""
    changed = []
    for folder in [*reversed(path.parents)]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
            changed.append((folder, stat.S_IMODE(mode)))
    return changed


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    if os.geteuid() != 0:
        pytest.skip("creating UNIX users needs root")
    if not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("useradd and runuser are needed to run the kit as other users")
    _remove_users()
    _run("groupadd", GROUP)
    for user, group in ((ALICE, GROUP), (MALLORY, GROUP), (LEAD, "")):
        _run("useradd", "-M", *(["-N", "-g", group] if group else ["-U"]), "-s", "/bin/sh", user)
    changed = [c for p in {Path(os.path.realpath(sys.executable)), ROOT, Path(sys.prefix), Path(sys.base_prefix)}
               for c in _traversable(p)]
    base = Path(tempfile.mkdtemp(prefix="kit-shared-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        for user in (ALICE, MALLORY, LEAD):
            (base / f"home-{user}").mkdir(mode=0o700)
            shutil.chown(base / f"home-{user}", user)
        shared = base / "proj"
        shared.mkdir()
        shutil.chown(shared, "root", GROUP)
        os.chmod(shared, 0o2775)
        corpus = write_shard(base / "inputs" / "corpus.parquet", shard_table(n_src=5, rows_per_src=40))
        os.chmod(base / "inputs", 0o755)
        yield Project(base, shared, corpus)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for folder, mode in changed:
            os.chmod(folder, mode)
        _remove_users()


def _writable_by_others(root: Path) -> list[str]:
    return [f"{p.relative_to(root)} {stat.filemode(p.lstat().st_mode)}" for p in [root, *root.rglob("*")]
            if not p.is_symlink() and p.lstat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)]


MALLORY_TRIES = """
import os, sys
from pathlib import Path
members = sorted(Path(sys.argv[1]).glob("*/*.npy"))
results = []
for attempt, act in (("overwrite", lambda: open(members[0], "r+b").write(b"forged")),
                     ("add", lambda: open(members[0].parent / "planted.npy", "wb").write(b"x")),
                     ("rename", lambda: os.rename(members[0], members[0].with_suffix(".old"))),
                     ("record", lambda: open(members[0].with_suffix(".json"), "w").write("{}"))):
    try:
        act()
        results.append(attempt + ": done")
    except PermissionError:
        results.append(attempt + ": refused")
print(len(members), *results, sep="\\n")
"""


def test_a_group_member_cannot_change_the_members_and_a_forged_one_is_refused(project: Project) -> None:
    """Issue 40: under umask 002 another member of the group rewrote the LOSO members between the training task and
    the gather, and the gather printed PROMOTE. The kit's files are no longer hers to write; one given to her
    anyway (root's chown) is refused by the gather, naming her."""
    out = project.shared / "union"
    task = project.kit(ALICE, "step", "loso", "--train-task", "1/1", "--corpus", project.corpus, "--out-dir", out,
                       *RUN)
    assert task.returncode == 0, task.stdout + task.stderr
    assert _writable_by_others(out) == []  # umask 002, yet nothing the kit made is group-writable
    members = RunDir(out).members
    tries = project.as_user(MALLORY, sys.executable, "-c", MALLORY_TRIES, members)
    assert tries.returncode == 0, tries.stderr
    count, *results = tries.stdout.split("\n")[:5]
    assert int(count) > 0 and results == ["overwrite: refused", "add: refused", "rename: refused",
                                          "record: refused"], tries.stdout
    (member,) = sorted(members.glob("*/*.npy"))[:1]
    forged = member.with_name("forged")
    forged.write_bytes(member.read_bytes())  # as root, for mallory: what the file modes no longer let her do
    shutil.chown(forged, MALLORY, GROUP)
    forged.replace(member)
    gather = project.kit(ALICE, "run", "--train-tasks", "1", "--corpus", project.corpus, "--out-dir", out, *RUN)
    assert gather.returncode == 2, gather.stdout + gather.stderr
    error = next(line for line in gather.stderr.splitlines() if line.startswith("error: "))
    assert str(member) in error and f"belongs to user {MALLORY}" in error, error
    assert not RunDir(out).verdict_file("PROMOTE").exists() and not RunDir(out).verdict_file("HOLD").exists()


def test_a_folder_another_member_made_or_left_group_writable_is_refused_naming_her(project: Project) -> None:
    """A step folder pre-created 0777 by another member was used silently, and her own members folder with it."""
    out = project.shared / "run2"
    made = project.as_user(ALICE, "mkdir", out)  # by hand, under umask 002: 2775, alice's
    assert made.returncode == 0, made.stderr
    planted = project.as_user(MALLORY, "mkdir", "-m", "0777", out / "03_loso", umask=0o000)
    assert planted.returncode == 0, planted.stderr  # the setgid group folder lets any member in
    refused = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, *RUN)
    assert refused.returncode == 2 and f"error: {out} can be written by group {GROUP}" in refused.stderr, \
        refused.stderr
    assert "--group-shared" in refused.stderr
    shared = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, "--group-shared", *RUN)
    assert shared.returncode == 2 and "without the sticky bit" in shared.stderr, shared.stderr
    assert project.as_user(ALICE, "chmod", "+t", out).returncode == 0
    for mode in ("0777", "1777"):  # sticky or not, hers: below the root a folder must be yours in every mode
        assert project.as_user(MALLORY, "chmod", mode, out / "03_loso").returncode == 0
        theirs = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, "--group-shared", *RUN)
        assert theirs.returncode == 2, theirs.stdout + theirs.stderr
        assert f"error: {out / '03_loso'} belongs to user {MALLORY}, not to you ({ALICE})" in theirs.stderr, \
            theirs.stderr
        assert "ask its owner" in theirs.stderr and "chmod" not in theirs.stderr.split("hint:")[1].split("\n")[0]


def test_group_shared_a_run_reads_back_its_own_and_nothing_a_member_slips_in(project: Project) -> None:
    """--group-shared as a flag (not the variable): the run wrote everything, then its own summary refused the
    out-dir as group-writable (exit 2), and `status` of it too. A member's folder or file slipped into it is named."""
    out = project.shared / "run3"
    run = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, "--group-shared", *RUN)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert project.kit(ALICE, "status", out).returncode == 0
    assert project.kit(LEAD, "status", out).returncode == 0  # read as alice's, by anyone
    verdict = next(RunDir(out).step("verdict").glob("*.json"))
    other = verdict.with_name("PROMOTE.json" if verdict.name == "HOLD.json" else "HOLD.json")
    planted = project.as_user(MALLORY, "cp", verdict, other)  # the group may add files to a 3775 folder
    assert planted.returncode == 0, planted.stderr
    bundle = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, "--group-shared", "--only",
                         "bundle", "--force", *RUN)
    assert bundle.returncode == 2 and f"{other} (user {MALLORY}'s) is not yours" in bundle.stderr, bundle.stderr
    assert project.as_user(MALLORY, "rm", other).returncode == 0
    # a tarball she drops beside alice's is never moved aside as "of an earlier bundle" (issue 52): refused, named
    bundle_dir = RunDir(out).step("bundle")
    dropped = bundle_dir / "results-mallory-20260101T000000Z.tar.gz"
    assert project.as_user(MALLORY, "cp", next(bundle_dir.glob("results-alice-*.tar.gz")), dropped).returncode == 0
    refused = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, "--group-shared", "--only",
                          "bundle", "--force", *RUN)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"error: {dropped} (user {MALLORY}'s, " in refused.stderr, refused.stderr
    assert "is named in no record of the kit's" in refused.stderr and not RunDir(out).previous.exists()
    assert project.as_user(MALLORY, "rm", dropped).returncode == 0
    made = project.as_user(MALLORY, "mkdir", "-m", "1777", RunDir(out).step("bundle") / "previous", umask=0o000)
    assert made.returncode == 0, made.stderr  # where the bundle moves alice's earlier exports and tarballs
    moved = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, "--group-shared", "--only",
                        "bundle", "--force", *RUN)
    assert moved.returncode == 2, moved.stdout + moved.stderr
    assert f"{RunDir(out).step('bundle') / 'previous'} belongs to user {MALLORY}" in moved.stderr, moved.stderr


def test_a_union_swapped_in_a_group_folder_is_refused(project: Project) -> None:
    """In the setgid project folder (2775, not sticky) another member replaced alice's merged corpus and its
    manifest with a consistent pair of her own; alice's `run --corpus` trained on it without a word. The folder
    itself now fails the trust rule (any member may rename what is in it), so the corpus there is refused whoever
    made it (issue 52)."""
    union = project.shared / "union2.parquet"
    merged = project.kit(ALICE, "merge", project.corpus, "-o", union)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    mine = project.as_user(MALLORY, "sh", "-c", f"rm -f {union} {union.with_name('union2.manifest.json')}")
    assert mine.returncode == 0, mine.stderr
    hers = project.kit(MALLORY, "merge", project.corpus, "-o", union)
    assert hers.returncode == 0, hers.stdout + hers.stderr
    run = project.kit(ALICE, "run", "--corpus", union, "--out-dir", project.base / f"home-{ALICE}" / "u", *RUN)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"error: --corpus {union} lies below {project.shared}, which belongs to root and can be written by " \
           f"group {GROUP} without the sticky bit (drwxrwsr-x)" in run.stderr, run.stderr


def test_the_lead_outside_the_group_reads_and_verifies_what_a_collaborator_sends(project: Project) -> None:
    out = project.shared / "box"
    run = project.kit(ALICE, "run", "--corpus", project.corpus, "--out-dir", out, *RUN)
    assert run.returncode in (0, 1), run.stdout + run.stderr  # a verdict either way
    assert _writable_by_others(out) == []
    (tarball,) = RunDir(out).step("bundle").glob("results-*.tar.gz")
    assert stat.S_IMODE(tarball.stat().st_mode) == 0o644 and tarball.stat().st_uid == pwd.getpwnam(ALICE).pw_uid
    verified = project.kit(LEAD, "verify", tarball)  # every member read and checked against its sha256
    assert verified.returncode == 0 and "OK:" in verified.stdout, verified.stdout + verified.stderr
    report = project.as_user(LEAD, "cat", RunDir(out).report)
    assert report.returncode == 0 and "<html" in report.stdout.lower(), report.stderr


def test_the_lead_reads_a_collaborators_run_directory_on_shared_storage(project: Project, tiny_refs: Path) -> None:
    """`corpus info` and `merge` of alice's out-dir, by a lead outside her group, were refused: "belongs to user
    kitalice". Read, never written, the folder is checked as its owner's."""
    refs = project.base / "refs"
    shutil.copytree(tiny_refs, refs)
    for path in (refs, *refs.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    out = project.shared / "box2"
    for step in ("prereqs", "corpus"):
        made = project.kit(ALICE, "step", step, "--ref-dir", refs, "--encoders", "libx264", "--cqs", "37",
                           "--out-dir", out, "--box-id", "alice")
        assert made.returncode == 0, made.stdout + made.stderr
    info = project.kit(LEAD, "corpus", "info", out)
    assert info.returncode == 0 and "alice" in info.stdout, info.stdout + info.stderr
    merged = project.kit(LEAD, "merge", out, "-o", project.base / f"home-{LEAD}" / "u.parquet")
    assert merged.returncode == 0, merged.stdout + merged.stderr
