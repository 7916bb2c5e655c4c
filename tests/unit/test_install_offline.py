"""A set-up that needs no network (issue 77): install.py checks the venv against the pins before it calls pip (a
rerun on an installed kit asks no index), reads every pin's marker as pip does, and installs from a wheels tarball's
folder alone (--no-index). The markers are checked against packaging's own evaluation on every platform of the
table; the rerun is run for real inside a network namespace of its own (CI); the whole offline set-up from a wheels
tarball is tests/real/test_offline_setup.py (a wide case)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

import install_steps
from tests import pace
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import pins

FILES = (install_steps.FROZEN, install_steps.TRAIN, install_steps.TORCH, install_steps.TEST)


def test_every_pin_s_marker_reads_as_packaging_evaluates_it_on_every_platform() -> None:
    """The class: every marker of every pin file, on every platform of the table and every Python it spans, read by
    install.py's own reader (no packaging there: it runs before anything is installed) as packaging reads it."""
    checked = 0
    for platform in pins.PLATFORMS:
        for python in pins.CHECKED_PYTHONS:
            env = platform.environment(python)
            for pin_file in pins.read_all():
                for pin in pin_file.pins:
                    if pin.requirement.marker is None:
                        continue
                    marker = str(pin.requirement.marker)
                    assert install_steps.marker_holds(marker, env) == Marker(marker).evaluate(dict(env)), \
                        (platform.key, python, pin.name)
                    checked += 1
    assert checked > 100


def test_a_marker_of_another_form_is_refused_not_guessed() -> None:
    env = install_steps.marker_environment()
    for marker in ('python_version >= "3.12"', '__import__("os")', 'sys_platform in "linux"', 'extra == "x"'):
        with pytest.raises(ValueError, match="cannot read"):
            install_steps.marker_holds(marker, env)


def test_a_file_s_pins_here_are_those_packaging_applies(tmp_path: Path) -> None:
    for platform in pins.PLATFORMS:
        env = platform.environment("3.12")
        for name in FILES:
            text = (ROOT / name).read_text()
            expected = {install_steps.dist_name(p.requirement.name): p.version
                        for p in pins.read(ROOT / name).pins if p.applies(env)}
            assert install_steps.pins_here(text, env) == expected, (platform.key, name)


def venv_holding(folder: Path, versions: dict[str, str]) -> Path:
    """A venv's layout with these distributions' dist-info folders (as pip names them): its Python's path."""
    python = install_steps.venv_python(folder)
    python.parent.mkdir(parents=True)
    python.write_text("")
    site = folder / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    for name, version in versions.items():
        (site / f"{name}-{version}.dist-info").mkdir()
    return python


def test_the_files_lacking_are_those_with_a_pin_missing_or_at_another_version(tmp_path: Path) -> None:
    env = pins.PLATFORMS[0].environment("3.12")  # Linux x86_64
    every = {install_steps.dist_name(p.requirement.name): p.version for name in FILES
             for p in pins.read(ROOT / name).pins if p.applies(env)}
    python = venv_holding(tmp_path / "all", every)
    have = install_steps.installed_versions(python)
    assert install_steps.lacking(FILES, have, env) == []
    for name in FILES:  # one pin of each file gone, then at another version: that file alone is lacking
        pin = next(p for p in pins.read(ROOT / name).pins if p.applies(env))
        key = install_steps.dist_name(pin.requirement.name)
        assert install_steps.lacking(FILES, {k: v for k, v in have.items() if k != key}, env) == [name]
        assert install_steps.lacking(FILES, {**have, key: "0.0.1"}, env) == [name]
    # a pin whose marker leaves it out here is not asked for: the Intel Mac's venv lacks torch and lacks nothing
    mac = pins.PLATFORMS[4].environment("3.12")
    assert pins.PLATFORMS[4].key == "macos-x86_64"
    on_mac = {install_steps.dist_name(p.requirement.name): p.version for name in FILES
              for p in pins.read(ROOT / name).pins if p.applies(mac)}
    assert "torch" not in on_mac and install_steps.lacking(FILES, on_mac, mac) == []


def test_the_kit_counts_as_installed_only_editable_from_its_own_folder(tmp_path: Path) -> None:
    python = venv_holding(tmp_path / "v", {"ensemble_kit": "2.2.0"})
    info = next((tmp_path / "v").rglob("ensemble_kit-2.2.0.dist-info"))
    assert not install_steps.kit_installed(python, ROOT)  # no direct_url.json: not an editable install of it
    (info / "direct_url.json").write_text(f'{{"url": "file://{tmp_path / "elsewhere"}", "dir_info": {{}}}}')
    assert not install_steps.kit_installed(python, ROOT)
    (info / "direct_url.json").write_text(f'{{"url": "file://{ROOT}", "dir_info": {{"editable": true}}}}')
    assert install_steps.kit_installed(python, ROOT)


def test_pip_reads_a_wheels_folder_alone_where_the_tarball_carries_one(tmp_path: Path) -> None:
    pip = ["/v/bin/python", "/tmp/x/pip"]
    offline = install_steps.pip_install(pip, install_steps.TORCH, wheels=tmp_path)
    assert offline[-2:] == ["-r", install_steps.TORCH] and "--require-hashes" in offline
    at = offline.index("--no-index")
    assert offline[at:at + 3] == ["--no-index", "--find-links", str(tmp_path)]
    assert "--no-index" not in install_steps.pip_install(pip, install_steps.TORCH)
    assert install_steps.wheels_folder(tmp_path) is None  # no folder
    (tmp_path / "wheels").mkdir()
    assert install_steps.wheels_folder(tmp_path) is None  # no wheel in it
    (tmp_path / "wheels" / "a-1.0-py3-none-any.whl").write_bytes(b"")
    assert install_steps.wheels_folder(tmp_path) == tmp_path / "wheels"


def no_network() -> list[str] | None:
    """`unshare -n` where this box lets the test make a network namespace of its own (root, or user namespaces)."""
    unshare = shutil.which("unshare")
    for argv in ([unshare, "-n"], [unshare, "-rn"]) if unshare else ():
        if subprocess.run([*argv, "true"], capture_output=True, check=False).returncode == 0:
            return argv
    return None


@pytest.mark.skipif(no_network() is None, reason="no network namespace can be made here (unshare -n)")
def test_install_py_again_on_the_installed_kit_ends_in_seconds_with_no_network() -> None:
    """This checkout's own set-up run again, with no network at all (a network namespace of its own, whose only
    interface is a loopback that is down): every pin is installed, so it calls no pip and ends in seconds. Before
    issue 77 it called pip for each file, which asked the indexes (161 s with a network; without one, pip's retries
    of torch's index, then `corpus only`)."""
    argv = [*no_network(), sys.executable, str(ROOT / "install.py"), "--test"]  # type: ignore[misc]
    with pace.ticking() as clock:  # the box's own time (tests/pace.py): pip's retries wait, they cost no CPU
        res = pace.run(argv, capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)
        took = clock.seconds()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "nothing to do" in res.stdout and "set-up: done; this box makes its corpus, trains and exports" in res.stdout
    assert took < 10, took


# run by the set-up's Python in a child: what a `status` and `--help` start with (the kit's steps' code included), and
# every module that Python compiled from its source rather than read from a current .pyc
STARTS_COMPILED = """
import importlib.machinery, json, sys
compiled = []
to_code = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return to_code(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
import kit.cli.main, kit.steps.status, kit.cli.status, rich.console
from kit.steps import STEPS
for step in STEPS:
    step.impl
print(json.dumps([compiled, sorted(m.__file__ for m in sys.modules.values() if getattr(m, "__file__", None))]))
"""


def test_the_set_up_leaves_nothing_a_command_starts_with_to_compile(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """install.py compiles the kit's modules and the packages every command starts with (install_steps.compile_kit),
    so that a command reads them even where it keeps nothing it compiles: PYTHONDONTWRITEBYTECODE set (as here), or
    a shared install its users cannot write, where each `status` compiled the kit's 103 modules and click's and
    platformdirs' 19 (0.25 s of CPU). A copy of the kit's folder, as a tarball unpacks it (no __pycache__): its start
    compiles the kit's modules; after compile_kit, nothing at all. The packages' half: every module of a package the
    start imports lies in a folder compile_kit compiles (their .pyc are there already here, so the list is checked
    against what is imported, not by what is compiled)."""
    import json
    import os

    shutil.copytree(ROOT / "kit", tmp_path / "kit", ignore=shutil.ignore_patterns("__pycache__"))
    python = install_steps.venv_python()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(tmp_path)}

    def start() -> tuple[list[str], list[str]]:
        res = pace.run([str(python), "-c", STARTS_COMPILED], capture_output=True, text=True, cwd=tmp_path,
                       env=env, check=False, timeout=120)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    compiled, files = start()
    ours = [f for f in files if f.startswith(str(tmp_path))]
    assert len(ours) > 90 and {*compiled} >= {f for f in ours if f.endswith(".py")}  # the copy's, not the checkout's
    assert install_steps.compile_kit(python, tmp_path)
    compiled, files = start()
    assert compiled == []
    asked: list[list[str]] = []
    monkeypatch.setattr(install_steps, "finished", lambda argv, cwd=None: asked.append(argv) or 0)
    assert install_steps.compile_kit(python, tmp_path)
    site = install_steps.site_packages(python)
    packages = {Path(f).relative_to(site).parts[0] for f in files if Path(f).is_relative_to(site)}
    hooks = {p for p in packages if p.startswith("__editable__") or p == "_distutils_hack"}  # .pth start-up hooks
    assert "click" in packages and packages - hooks <= {*install_steps.STARTUP_PACKAGES}
    assert {str(site / name) for name in install_steps.STARTUP_PACKAGES} <= {*asked[0]}
    assert str(tmp_path / "kit") in asked[0]


def test_a_kit_folder_whose_path_holds_a_space_counts_as_installed_by_pip_s_own_record(tmp_path: Path) -> None:
    """install.py run again in `a b/` reinstalled the kit every time: pip percent-encodes the folder in the
    direct_url.json it writes (`file:///…/a%20b/…`), which was compared as text. A real pip writes the record for a
    folder whose path holds a space, a percent sign and a non-ASCII letter; it is read as that folder."""
    folder = tmp_path / "a b" / "c%20d é"
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n'
                                           'build-backend = "setuptools.build_meta"\n'
                                           '[project]\nname = "ensemble-kit"\nversion = "0.0.0"\n'
                                           "[tool.setuptools]\npy-modules = []\n")
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-compile", "--disable-pip-version-check", "--no-index", "--target", str(target), str(folder)],
                   check=True, cwd=tmp_path)
    (written,) = target.glob("ensemble_kit-0.0.0.dist-info/direct_url.json")
    assert "%20" in written.read_text()  # pip's own spelling of the folder
    python = venv_holding(tmp_path / "venv", {})
    (site,) = (tmp_path / "venv").rglob("site-packages")
    shutil.copytree(written.parent, site / written.parent.name)
    assert install_steps.kit_installed(python, folder)
    assert not install_steps.kit_installed(python, folder.parent)
    assert install_steps.url_folder("https://example.org/a%20b") is None
