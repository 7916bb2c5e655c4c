"""`merge -o` never writes over what the user gave it (issue 24 B): an -o that is an input (same path, another
spelling, a hard link), the corpus of an input run directory, or the shard a run's tarball packs is refused,
and so is an -o whose name does not end in .parquet. Nothing is written; the inputs keep their bytes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kit.cli.main import cli
from kit.errors import InputError
from kit.infra.files import sha256_file
from kit.infra.tree import Tree
from kit.rundir import RunDir
from kit.steps import get_step
from kit.steps.base import Plan
from kit.steps.runner import write_status
from tests.conftest import run_kit
from tests.kitfiles import results_tarball, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")


def merge(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["merge", *map(str, args)])


def refused(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit), res.output
    (error,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert all(n in error for n in needles), error
    assert "hint: " in res.stderr and "nothing was written" in error
    return error


def finished_run(root: Path) -> RunDir:
    """A run directory whose corpus step completed: its shard and the step's record of it."""
    run = RunDir(root)
    write_shard(run.shard)
    with Tree.open(root) as tree:
        write_status(tree, get_step("corpus"), run, Plan({}, {}), [run.shard], 0, "2026-01-01T00:00:00Z", 1.0, {})
    return run


def test_a_results_tarball_given_as_its_own_output_is_kept(tmp_path: Path) -> None:
    tarball = results_tarball(tmp_path / "R.tar.gz")
    before = sha256_file(tarball)
    res = run_kit("merge", tarball, "-o", tarball, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"error: -o {tarball}: a merged corpus is a parquet file, and its name must end in .parquet" in res.stderr
    assert sha256_file(tarball) == before and sorted(p.name for p in tmp_path.iterdir()) == ["R.tar.gz",
                                                                                             "R.tar.gz.parts"]


@pytest.mark.parametrize("name", ["merged.tar.gz", "merged", "merged.parquet.bak", ".parquet"])
def test_an_output_not_named_parquet_is_refused(tmp_path: Path, name: str) -> None:
    shard = write_shard(tmp_path / "a.parquet")
    refused(merge(shard, "-o", tmp_path / name), "must end in .parquet")
    assert not (tmp_path / name).exists()


def test_an_input_as_the_output_by_path_spelling_or_hard_link_is_kept(tmp_path: Path) -> None:
    shard = write_shard(tmp_path / "data" / "a.parquet")
    other = write_shard(tmp_path / "b.parquet")
    before = sha256_file(shard)
    (tmp_path / "linked").symlink_to(tmp_path / "data")
    os.link(shard, tmp_path / "hard.parquet")
    refused(merge(other, shard, "-o", shard), f"-o {shard} is the input {shard};")
    refused(merge(other, shard, "-o", tmp_path / "data" / ".." / "data" / "a.parquet"), f"is the input {shard}")
    refused(merge(other, shard, "-o", tmp_path / "linked" / "a.parquet"), f"is the input {shard}",
            "the same file under another name")
    refused(merge(other, shard, "-o", tmp_path / "hard.parquet"), f"is the input {shard}", "hard link")
    assert sha256_file(shard) == before and os.stat(shard).st_nlink == 2
    assert not (tmp_path / "data" / "a.manifest.json").exists()


def test_a_run_directory_or_its_tarball_cannot_be_merged_over_the_runs_shard(tmp_path: Path) -> None:
    run = finished_run(tmp_path / "run")
    tarball = results_tarball(run.step("bundle") / "results-boxa-20261122T000000Z.tar.gz", shard=run.shard)
    before = sha256_file(run.shard)
    refused(merge(run.root, "-o", run.shard), f"is the corpus of the input {run.root}")
    refused(merge(tarball, "-o", run.shard), f"is the shard of the run {run.root}, which the input {tarball} packs")
    assert sha256_file(run.shard) == before and not run.shard_manifest.exists()


def test_a_new_output_beside_the_inputs_is_merged(tmp_path: Path) -> None:
    """The refusals are about -o landing on an input, not about -o's folder: merging beside them works."""
    run = finished_run(tmp_path / "run")
    res = merge(run.root, "-o", run.step("corpus") / "merged.parquet")
    assert res.exit_code == 0, res.output
    assert (run.step("corpus") / "merged.parquet").is_file()


@pytest.mark.parametrize("command", ["merge", "export"])
def test_a_file_the_command_did_not_write_is_never_replaced(tmp_path: Path, command: str) -> None:
    """An -o that exists is replaced only when the file beside it (the merge's manifest, the export's record) names
    its sha256: the command's own earlier output is renewed, anything else (the user's file, or one of ours whose
    bytes changed since) is kept, exit 2, nothing written beside it."""
    shard = write_shard(tmp_path / "a.parquet")
    suffix, beside = (".parquet", ".manifest.json") if command == "merge" else (".jsonl", ".export.json")

    def write(out: Path) -> Result:
        how = ["merge"] if command == "merge" else ["corpus", "export", "--format", "vmaftune"]
        return CliRunner().invoke(cli, [*how, str(shard), "-o", str(out)])

    theirs = tmp_path / f"theirs{suffix}"
    theirs.write_bytes(b"a file of the user's own")
    refused(write(theirs), f"-o {theirs} exists and is no earlier {command}'s output")
    assert theirs.read_bytes() == b"a file of the user's own"
    assert not theirs.with_name("theirs" + beside).exists()

    ours = tmp_path / f"ours{suffix}"
    assert write(ours).exit_code == 0 and write(ours).exit_code == 0  # its own output, written again
    edited = ours.read_bytes() + b" "
    ours.write_bytes(edited)  # changed since: no longer what its record names
    refused(write(ours), "does not name its sha256")
    assert ours.read_bytes() == edited


def test_a_corpus_changed_after_its_merge_is_refused_naming_the_manifest(tmp_path: Path) -> None:
    """Issue 40, nothing trusted by its shape: the union's corpus is what its merge recorded, or it is refused."""
    from kit.steps.s03_loso import check_described

    out = tmp_path / "union.parquet"
    res = CliRunner().invoke(cli, ["merge", str(write_shard(tmp_path / "a.parquet")), "-o", str(out)])
    assert res.exit_code == 0, res.output
    check_described(out)  # as merged
    os.utime(out, None)
    with open(out, "ab") as fh:
        fh.write(b"\0")  # a byte more: still read by some readers, not the corpus the merge made
    with pytest.raises(InputError) as err:
        check_described(out)
    assert err.value.message.startswith(f"--corpus {out} has sha256 ") and "union.manifest.json (merged" in \
        err.value.message and "changed after it was made" in err.value.message
    (tmp_path / "union.manifest.json").unlink()
    check_described(out)  # no manifest: a corpus of the user's own, theirs to vouch for


def test_a_file_put_at_the_output_while_the_merge_runs_is_kept(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """-o is checked again just before the renames: a file of the user's put there after the first check (the merge
    reads and writes for minutes on a union) is kept, exit 2, and the merge's temporaries are gone."""
    import kit.corpus.commit as commit

    shard, out = write_shard(tmp_path / "a.parquet"), tmp_path / "merged.parquet"
    real = commit.write_corpus

    def and_meanwhile(table: object, fh: object) -> None:
        real(table, fh)  # type: ignore[arg-type]
        out.write_bytes(b"the user's own, put here meanwhile")

    monkeypatch.setattr(commit, "write_corpus", and_meanwhile)
    refused(merge(shard, "-o", out), f"-o {out} exists and is no earlier merge's output")
    assert out.read_bytes() == b"the user's own, put here meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "merged.parquet"]


def write_out(command: str, shard: Path, out: Path) -> Result:
    how = ["merge"] if command == "merge" else ["corpus", "export", "--format", "vmaftune"]
    return CliRunner().invoke(cli, [*how, str(shard), "-o", str(out)])


@pytest.mark.parametrize("command", ["merge", "export"])
def test_a_file_beside_a_new_output_is_never_replaced(tmp_path: Path, command: str) -> None:
    """Issue 52, item 4: the manifest (merge) or record (export) beside -o is written only over the command's own
    earlier one of the -o there: a file of the user's at `<stem>.manifest.json` / `<stem>.export.json` with no -o,
    and the command's own record whose -o was moved away, are kept, exit 2, naming the file."""
    shard = write_shard(tmp_path / "a.parquet")
    suffix, beside = (".parquet", ".manifest.json") if command == "merge" else (".jsonl", ".export.json")
    mine = tmp_path / f"new{beside}"
    mine.write_text('{"notes": "the user\'s own"}')
    error = refused(write_out(command, shard, tmp_path / f"new{suffix}"),
                    f"{mine} beside -o {tmp_path / f'new{suffix}'} is no earlier {command}'s")
    assert "the user's own" in mine.read_text() and not (tmp_path / f"new{suffix}").exists(), error

    assert write_out(command, shard, tmp_path / f"ours{suffix}").exit_code == 0
    (tmp_path / f"ours{suffix}").unlink()  # the record stays, describing a file no longer there
    record = (tmp_path / f"ours{beside}").read_bytes()
    refused(write_out(command, shard, tmp_path / f"ours{suffix}"), "it names a file at -o, and there is none")
    assert (tmp_path / f"ours{beside}").read_bytes() == record and not (tmp_path / f"ours{suffix}").exists()


@pytest.mark.parametrize("command", ["merge", "export"])
def test_a_stale_merge_journal_lets_nothing_be_replaced(tmp_path: Path, command: str) -> None:
    """Issue 52, item 4: a merge journal beside -o (a copy, a left-over, a planted one) no longer waives the rule:
    the user's own -o is kept, by merge (the journal is not a killed merge's own) and by export alike."""
    from kit.corpus.commit import Commit, commit_journal

    shard = write_shard(tmp_path / "a.parquet")
    out = tmp_path / ("theirs.parquet" if command == "merge" else "theirs.jsonl")
    out.write_bytes(b"the user's own")
    commit_journal(out).write_text(json.dumps(Commit(999_999_999, "f" * 64, [[".tmp-x", out.name]]).to_json()))
    refused(write_out(command, shard, out),
            "is no earlier merge's commit journal" if command == "merge" else "exists and is no earlier export's")
    assert out.read_bytes() == b"the user's own" and commit_journal(out).exists()


def test_another_commands_record_or_the_users_lock_file_is_not_the_merges(tmp_path: Path) -> None:
    """Issue 52, item 4: the file beside -o must be this command's (its kind): a shard with the corpus step's
    manifest naming its sha256 is no merge's output; a lock file of the user's at `.<name>.merge-lock` is kept."""
    from kit.corpus.commit import merge_lock

    shard = write_shard(tmp_path / "a.parquet")
    other = write_shard(tmp_path / "shard.parquet")
    (tmp_path / "shard.manifest.json").write_text(json.dumps({"kind": "shard", "file": "shard.parquet",
                                                              "sha256": sha256_file(other)}))
    refused(merge(shard, "-o", other), "shard.manifest.json beside it is no merge's manifest (kind 'shard')")
    out = tmp_path / "new.parquet"
    merge_lock(out).write_text("my notes, in a file that happens to have this name")
    refused(merge(shard, "-o", out), f"{merge_lock(out)} beside -o {out} is no earlier merge's lock file")
    assert merge_lock(out).read_text().startswith("my notes") and not out.exists()
    merge_lock(out).write_text("pid 1 on elsewhere since 2026-01-01T00:00:00Z")  # a killed merge's: no obstacle
    assert merge(shard, "-o", out).exit_code == 0 and not merge_lock(out).exists()
