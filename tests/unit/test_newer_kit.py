"""Kits told apart (issue 75, item 5): a results tarball or a corpus manifest a newer kit wrote is refused by each
reader of this kit, first and saying so (`made by ensemble-kit X, newer than this kit Y: upgrade the lead`), never in
this kit's words for what it does not know (2.1.0 told a lead given a 2.2.0 tarball its rows were `scored by a kit
before 2.0 ... wrong vmaf`). The newer kit is this one with its version raised in the writer (the tarball's
manifest), or the version field of a manifest edited; each reader: `verify`, `merge` (a tarball, a corpus file: a
run directory stands for its shard), `corpus info`; `run --corpus`'s in tests/real/test_bad_input.py (after its
prereqs step)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import kit.bundle.tarball
from kit import __version__
from kit.cli.main import cli
from kit.infra.rules import KIT_VERSION
from kit.infra.versions import NewerKit, newer_than_this, refuse_newer, release
from tests.kitfiles import results_tarball, shard_table, write_shard

# a lead record of each test's own (tests/conftest.py own_lead): its unsigned tarballs of boxa and boxb are
# refused, rightly, wherever another test made those box ids known by a key in the session's shared cache
pytestmark = pytest.mark.usefixtures("own_lead")

MAJOR, MINOR, _ = release(__version__) or (0, 0, 0)
NEWER = f"{MAJOR}.{MINOR + 1}.0"  # the next minor release, whatever this kit's version is when the test runs
SAID = f"made by ensemble-kit {NEWER}, newer than this kit {__version__}: upgrade the lead"


def refused(res: Result) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in res.output, res.stderr
    assert SAID in errors[0], errors[0]
    assert "before 2.0" not in res.stderr and "wrong vmaf" not in res.stderr
    assert f"hint: install ensemble-kit {NEWER} or later" in res.stderr, res.stderr
    return errors[0]


@pytest.fixture()
def newer_tarball(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results tarball whose manifest names the newer kit (written by this kit's bundle code as that kit)."""
    monkeypatch.setattr(kit.bundle.tarball, "__version__", NEWER)
    return results_tarball(tmp_path / "results-boxa-20261122T000000Z.tar.gz")


def newer_corpus(folder: Path) -> Path:
    """A corpus file beside a shard manifest that names the newer kit (and a schema this kit knows)."""
    corpus = write_shard(folder / "shard.parquet", shard_table(box="boxn"))
    (folder / "shard.manifest.json").write_text(json.dumps({"kind": "shard", "file": "shard.parquet",
                                                            "box_id": "boxn", "kit_version": NEWER}))
    return corpus


def test_verify_says_a_tarball_of_a_newer_kit_is_one(newer_tarball: Path) -> None:
    error = refused(CliRunner().invoke(cli, ["verify", str(newer_tarball)]))
    assert str(newer_tarball) in error


def test_merge_says_a_tarball_of_a_newer_kit_is_one(newer_tarball: Path, tmp_path: Path) -> None:
    older = results_tarball(tmp_path / "older" / "results-boxb-20261122T000000Z.tar.gz", box="boxb")
    refused(CliRunner().invoke(cli, ["merge", str(older), str(newer_tarball), "-o", str(tmp_path / "m.parquet")]))
    assert not (tmp_path / "m.parquet").exists()


def test_merge_and_corpus_info_say_a_corpus_of_a_newer_kit_is_one(tmp_path: Path) -> None:
    corpus = newer_corpus(tmp_path / "shard")
    error = refused(CliRunner().invoke(cli, ["merge", str(corpus), "-o", str(tmp_path / "m.parquet")]))
    assert "shard.manifest.json" in error
    refused(CliRunner().invoke(cli, ["corpus", "info", str(corpus)]))


def test_a_newer_merged_manifest_is_said_too(tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "merged.parquet", shard_table(box="boxn"))
    (tmp_path / "merged.manifest.json").write_text(json.dumps({"kind": "merged", "kit_version": NEWER,
                                                               "schema_version": 99}))
    refused(CliRunner().invoke(cli, ["merge", str(corpus), "-o", str(tmp_path / "m.parquet")]))


def test_this_kit_s_own_and_older_versions_read_and_the_rule_compares_releases() -> None:
    for version in (__version__, "2.0.0", "1.0.5", "0.1.0", "", "not a version", None, 5):
        refuse_newer("x", {"kit_version": version})
    assert newer_than_this("2.10.0", "2.9.1") and not newer_than_this("2.9.1", "2.10.0")
    assert newer_than_this("3.0", "2.99.99") and not newer_than_this("2.2.0rc1", "2.2.0")
    assert release("2.3.0\n[04 verdict] PROMOTE") is None  # a version and a line after it: no version (issue 98)


# What a kit writes (kit.__version__, as Python's packaging spells a release), each newer than this one or not; the
# first two of the issue (98, item 9): a release far past this one is a later kit's, said so, not refused as none
LATER = (f"{MAJOR + 1}.0.0", "10000000.0.0", f"{MAJOR}.{MINOR + 1}", f"{MAJOR}.{MINOR + 1}.0rc1",
         f"{MAJOR}.{MINOR + 1}.0.dev3", f"{MAJOR}.{MINOR + 1}.0.post1", f"{MAJOR}.{MINOR + 1}.0+lab.2",
         "999999999999999999.0.0")
EARLIER = ("0.1.0", "1.0.5", "2.0", "2.3.0rc1", __version__)
# what no kit writes: a version with anything before or after it (issue 98, item 11: the pattern was anchored at its
# start alone), digits of another script (full-width, Arabic-Indic, superscript: `\\d` takes each), a number past 18
# digits or with a leading zero, white space, a sign, a version's text cut or doubled
NONE_WRITES = ("2.4.1 PWNED", "2.4.1/../../x", "2.4.1\n", " 2.4.1", "2.4.1\t", "\uff12.\uff14.\uff11",
               "\u0662.\u0664.\u0661", "2.\u00b9.0", "02.4.1", "2.04.1", "1" * 19 + ".0.0", "+2.4.1", "-2.4.1",
               "2", "2.", "2.4.", "2.4.1.", "2..4", "2.4.1.5", "2.4.1rc", "2.4.1-rc1", "2.4.1 rc1", "2.4.1+",
               "2.4.1+UPPER", "2.4.1\x00", "\u200b2.4.1", "2.4.1\u202e")


@pytest.mark.parametrize("version", LATER)
def test_a_version_a_later_kit_could_write_is_said_as_newer(version: str) -> None:
    """`10000000.0.0` was refused as no version (six digits at most were read): a later kit's file is said as one."""
    theirs = release(version)
    assert theirs is not None and newer_than_this(version)
    with pytest.raises(NewerKit) as raised:
        refuse_newer("f.json", {"kit_version": version})
    assert raised.value.message == f"f.json: made by ensemble-kit {'.'.join(map(str, theirs))}, newer than this " \
                                   f"kit {__version__}: upgrade the lead"
    assert KIT_VERSION.problem(version) is None


@pytest.mark.parametrize("version", EARLIER)
def test_a_version_this_kit_or_an_earlier_one_wrote_is_read(version: str) -> None:
    assert release(version) is not None and not newer_than_this(version) and KIT_VERSION.problem(version) is None
    refuse_newer("f.json", {"kit_version": version})


@pytest.mark.parametrize("version", NONE_WRITES)
def test_a_version_no_kit_writes_is_none_whatever_it_starts_with(version: str) -> None:
    """A version is whole or none: no text after it (`2.4.1 PWNED`, `2.4.1/../../x` were taken as 2.4.1), no digits of
    another script (full-width `２.４.１`), nothing a kit's packaging never writes. Such a file is not called newer (its
    reader refuses it naming the field: the tests below)."""
    assert release(version) is None and not newer_than_this(version)
    assert KIT_VERSION.problem(version) == "is not a version of ensemble-kit, written as 2.3.0"
    refuse_newer("f.json", {"kit_version": version})


# each refused by its readers naming the field: the (91) and those the pattern anchored at its start took (98)
UNREADABLE = ("v2.4.0", "", "latest", "2.x", "2.4.1 PWNED", "2.4.1/../../x", "\uff12.\uff14.\uff11",
              "9.0.0\nforged line", "10000000000000000000.0.0")


@pytest.mark.parametrize("version", UNREADABLE)
def test_a_version_no_kit_writes_is_refused_naming_it_by_verify_and_merge(version: str, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A `kit_version` of `v2.4.0` or `""` in a tarball's manifest passed `verify` and `merge` (issue 91, item 6):
    now each refuses it, naming the file and the version as it reads."""
    monkeypatch.setattr(kit.bundle.tarball, "__version__", version)
    tarball = results_tarball(tmp_path / "results-boxa-20261122T000000Z.tar.gz")
    said = f"kit_version: {json.dumps(version)} is not a version of ensemble-kit, written as 2.3.0"
    res = CliRunner().invoke(cli, ["verify", str(tarball)])
    assert res.exit_code == 2 and said in res.stderr and "manifest.json" in res.stderr, res.stderr
    res = CliRunner().invoke(cli, ["merge", str(tarball), "-o", str(tmp_path / "m.parquet")])
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
    assert res.exit_code == 2 and len(errors) == 1 and said in errors[0], res.stderr
    assert not (tmp_path / "m.parquet").exists()


@pytest.mark.parametrize("version", UNREADABLE)
def test_a_corpus_manifest_of_a_version_no_kit_writes_is_refused_naming_it(version: str, tmp_path: Path) -> None:
    corpus = write_shard(tmp_path / "shard.parquet", shard_table(box="boxv"))
    (tmp_path / "shard.manifest.json").write_text(json.dumps({"kind": "shard", "file": "shard.parquet",
                                                              "box_id": "boxv", "kit_version": version}))
    for args in (["merge", str(corpus), "-o", str(tmp_path / "m.parquet")], ["corpus", "info", str(corpus)]):
        res = CliRunner().invoke(cli, args)
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error: ")]
        assert res.exit_code == 2 and len(errors) == 1, res.stderr
        assert "shard.manifest.json" in errors[0] and f"kit_version: {json.dumps(version)} is not a " in errors[0]
    refuse_newer("x", {"kit_version": version})  # not a newer kit's: said as what it is, by the reader
