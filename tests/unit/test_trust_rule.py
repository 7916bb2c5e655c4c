"""One trust rule for every file that decides the verdict or names a program (issue 52, item 2): kit.infra.perms.
untrusted. Trusted only if owned by the user or root and writable by nobody else, and every folder from it up to the
filesystem root likewise, or sticky and the user's or root's (/tmp, a --group-shared out-dir's folders); a link on
the way is judged where it lies, and what it leads to likewise. Foreign owners are made with os.chown (the tests run
as root in CI); on another user's box those cases skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kit.infra.perms import Distrusted, require_trusted, untrusted

NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """A folder of the user's own, as a home is (pytest's tmp folders: the user's, 0700, below sticky /tmp)."""
    folder = tmp_path / "home"
    folder.mkdir(mode=0o755)
    return folder


def file_in(folder: Path, name: str = "model.json", mode: int = 0o644) -> Path:
    path = folder / name
    path.write_text("{}")
    path.chmod(mode)
    return path


def test_the_users_own_file_in_the_users_own_folders_is_trusted(home: Path) -> None:
    assert untrusted(file_in(home)) is None
    assert require_trusted(file_in(home, "x"), "--teacher") == home / "x"
    assert untrusted(home / "missing.json") is None  # the door says it is missing as it opens it


def test_a_file_others_can_write_is_refused_naming_its_owner_and_mode(home: Path) -> None:
    problem = untrusted(file_in(home, mode=0o664))
    assert problem is not None and problem.startswith("belongs to you (") and "can be written by group " in problem
    assert problem.endswith("(-rw-rw-r--)")


@needs_root
def test_a_file_of_another_user_is_refused_even_in_a_folder_only_its_owner_writes(home: Path) -> None:
    path = file_in(home)
    os.chown(path, NOBODY, NOBODY)
    assert untrusted(path) == "belongs to user nobody (-rw-r--r--), not to you (root)"


@needs_root
def test_a_folder_of_another_user_anywhere_above_is_refused(home: Path) -> None:
    """The old check looked at the file's own folder only, and only at its write bits: a --settings file in a 0755
    folder of another user's (or below one) was trusted, and the ffmpeg it named ran as the user."""
    (home / "theirs" / "deep").mkdir(parents=True)
    path = file_in(home / "theirs" / "deep", "run.json")
    os.chown(home / "theirs", NOBODY, NOBODY)
    assert untrusted(path) == (f"lies below {home / 'theirs'}, which belongs to user nobody (drwxr-xr-x), not to "
                               "you (root)")


def test_a_folder_others_can_write_passes_only_with_the_sticky_bit(home: Path) -> None:
    (home / "drop").mkdir()
    path = file_in(home / "drop")
    os.chmod(home / "drop", 0o777)
    problem = untrusted(path)
    assert problem is not None and problem.startswith(f"lies below {home / 'drop'}, which belongs to you (")
    assert problem.endswith(" and everyone without the sticky bit (drwxrwxrwx)")
    os.chmod(home / "drop", 0o1777)  # like /tmp: others may add names, not rename or remove the user's
    assert untrusted(path) is None
    os.chmod(home / "drop", 0o3775)  # a --group-shared out-dir's folder, the user's own
    assert untrusted(path) is None


@needs_root
def test_a_sticky_folder_of_another_user_is_refused(home: Path) -> None:
    """Its owner may rename or remove anything in it, sticky or not."""
    (home / "drop").mkdir()
    path = file_in(home / "drop")
    os.chown(home / "drop", NOBODY, NOBODY)
    os.chmod(home / "drop", 0o1777)
    problem = untrusted(path)
    assert problem == f"lies below {home / 'drop'}, which belongs to user nobody (drwxrwxrwt), not to you (root)"


@needs_root
def test_a_link_is_judged_where_it_lies_and_where_it_leads(home: Path) -> None:
    target = file_in(home)
    (home / "drop").mkdir(mode=0o755)
    os.chmod(home / "drop", 0o1777)
    link = home / "drop" / "model.json"
    link.symlink_to(target)
    assert untrusted(link) is None  # the user's link in a sticky folder, to the user's file
    os.lchown(link, NOBODY, NOBODY)  # in a sticky folder its owner may replace it
    assert untrusted(link) == (f"is reached through the symbolic link {link}, which belongs to user nobody "
                               "(lrwxrwxrwx), not to you (root)")
    (home / "open").mkdir()
    os.chmod(home / "open", 0o777)
    planted = file_in(home / "open", "m.json")
    (home / "mine.json").symlink_to(Path("open") / "m.json")  # a link of the user's, to a folder anyone can write
    problem = untrusted(home / "mine.json")
    assert problem is not None and problem.startswith(f"lies below {home / 'open'}, which ")
    assert untrusted(planted) == problem


def test_the_refusal_names_the_flag_the_file_its_owner_and_mode_and_what_to_do(home: Path) -> None:
    (home / "drop").mkdir()
    path = file_in(home / "drop")
    os.chmod(home / "drop", 0o777)
    with pytest.raises(Distrusted) as err:
        require_trusted(path, "--content-groups")
    assert err.value.message.startswith(f"--content-groups {path} lies below {home / 'drop'}, which belongs to ")
    assert err.value.message.endswith("(drwxrwxrwx): the kit uses it only when nobody but you or root can change it "
                                      "or a folder above it")
    assert f"chmod go-w {home / 'drop'}" in err.value.hint and "chmod +t" in err.value.hint
    assert "copy the file into a folder only you can write" in err.value.hint
