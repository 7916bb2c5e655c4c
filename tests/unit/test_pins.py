"""The set-up's pins (issue 54): every pin exact and hashed, the platforms' markers as the table in
docs/collaborator.md says, install.py's refusals and commands. Without the network: tests/real/test_platforms.py
resolves the pins with pip (where the network is)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import install_python
import install_steps
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import pins
import platforms

TORCH_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
TRAINING = ("torch", "onnx", "onnxruntime")


def applying(env: dict[str, str], files: tuple[str, ...] = pins.FILES) -> list[tuple[str, pins.Pin]]:
    return [(f.path.name, pin) for f in pins.read_all() if f.path.name in files for pin in f.pins if pin.applies(env)]


def test_every_pin_is_exact_and_hashed_and_only_torch_s_file_names_an_index() -> None:
    for pin_file in pins.read_all():
        assert pin_file.pins, pin_file.path.name
        for pin in pin_file.pins:
            assert re.fullmatch(r"[0-9a-f]{64}", pin.hashes[0]) and len(set(pin.hashes)) == len(pin.hashes), pin.name
        # an index here would be asked for every package of the file
        assert pin_file.options == ([TORCH_INDEX] if pin_file.path.name == "requirements-torch.txt" else [])
        assert pins.read(pin_file.path).text() == pin_file.path.read_text()  # tools/pins.py writes them this way


def test_uv_s_lines_meet_the_files_pins_by_name_and_version(tmp_path: Path) -> None:
    """uv spells a name its own way (`jinja2` for `Jinja2`) and may write one name at two versions (imageio-ffmpeg's
    two pins, one per marker): each pin takes the hashes of its own version."""
    (tmp_path / "r.txt").write_text('Jinja2==3.1.6\nimageio-ffmpeg==0.8.1 ; sys_platform != "darwin"\n'
                                    'imageio-ffmpeg==0.7.0 ; sys_platform == "darwin"\n')
    keys = [pins.key(pin.requirement) for pin in pins.read(tmp_path / "r.txt").pins]
    assert keys[0] == pins.key(Requirement("jinja2==3.1.6")) and len(set(keys)) == 3
    argv = pins.uv_argv(tmp_path / "r.txt", "3.11")
    # nothing resolved, every marker kept, no setting of this box's
    assert {"--no-deps", "--universal", "--generate-hashes", "--no-config"} <= set(argv)
    assert argv[:3] == [str(pins.UV), "pip", "compile"] and pins.UV.parent == Path(sys.executable).parent


def test_read_refuses_a_pin_that_is_not_exact(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("numpy>=2\n")
    with pytest.raises(SystemExit, match="not pinned with =="):
        pins.read(tmp_path / "r.txt")


@pytest.mark.parametrize("platform", pins.PLATFORMS, ids=lambda p: p.key)
def test_each_platform_gets_each_package_once_and_torch_from_the_right_index(platform: pins.Platform) -> None:
    env = platform.environment("3.12")
    chosen = applying(env)
    names = [pin.name for _, pin in chosen]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    torch = [(name, pin.version) for name, pin in chosen if pin.name == "torch"]
    trains = any(pin.name == "onnxruntime" for _, pin in chosen)
    if not trains:
        assert torch == [] and not any(pin.name in TRAINING for _, pin in chosen)
    elif env["sys_platform"] == "linux":
        assert torch == [("requirements-torch.txt", "2.13.0+cpu")]  # the CPU build, not PyPI's CUDA one
    else:
        assert torch == [("requirements-train.txt", "2.13.0")]  # PyPI's: a CPU build already, no index of its own


def test_the_training_set_shares_one_marker_and_the_corpus_set_needs_none_of_it() -> None:
    (train,) = [f for f in pins.read_all() if f.path.name == "requirements-train.txt"]
    markers = {str(pin.requirement.marker) for pin in train.pins if pin.name != "torch"}
    assert len(markers) == 1
    for platform in pins.PLATFORMS:
        env = platform.environment("3.12")
        torch_here = [pin for _, pin in applying(env, pins.FILES[1:3]) if pin.name == "torch"]
        assert bool(torch_here) == any(pin.applies(env) for pin in train.pins if pin.name != "torch"), platform.key


def docs_rows() -> list[list[str]]:
    block = platforms.docs_table((ROOT / "docs" / "collaborator.md").read_text())
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in block.splitlines()[3:]
            if line.startswith("| ")]


def test_the_docs_table_trains_only_where_the_markers_take_the_training_set() -> None:
    """Without the network: the table names each platform once per claim, and claims the training only where the
    markers install torch, onnx and onnxruntime. tests/real/test_platforms.py (with the network) checks the whole
    table against pip's resolution (where the markers take them but no wheel exists, as before macOS 14, pip's
    resolution says corpus only) and the encoders."""
    rows = docs_rows()
    assert {row[0] for row in rows} == {platform.label for platform in pins.PLATFORMS}
    for platform in pins.PLATFORMS:
        for row in (row for row in rows if row[0] == platform.label):
            takes = {pin.name for _, pin in applying(platform.environment("3.12"))} >= set(TRAINING)
            assert row[2].startswith("corpus, training") <= takes, platform.key
            assert row[1] == "3.11–3.13"
    assert platforms.table({p.key: {"3.12": "corpus"} for p in pins.PLATFORMS}, {p.key: "x" for p in pins.PLATFORMS})


def test_install_py_refuses_a_python_outside_the_table_and_names_one_on_the_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for ok in ((3, 11), (3, 12), (3, 13)):
        install_steps.check_python(ok)
    (tmp_path / "python3.12").write_text("#!/bin/sh\n")
    (tmp_path / "python3.12").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(install_steps.SetupError) as err:
        install_steps.check_python((3, 10))
    assert "Python 3.10 runs install.py; the pinned packages are for Python 3.11 to 3.13" in str(err.value)
    assert err.value.hint == "run it with python3.12: python3.12 install.py"
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    with pytest.raises(install_steps.SetupError, match=r"Python 3\.14"):
        install_steps.check_python((3, 14))
    assert pins.CHECKED_PYTHONS == ("3.10", "3.11", "3.12", "3.13")  # the check covers the range and one below


def test_install_py_keeps_a_venv_of_a_supported_python_and_refuses_another(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    install_steps.venv_python(venv).parent.mkdir(parents=True)
    install_steps.venv_python(venv).write_text("")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.1\n")
    install_steps.make_venv(venv)  # kept as it is
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.10.12\n")
    with pytest.raises(install_steps.SetupError, match=r"made with Python 3\.10") as err:
        install_steps.make_venv(venv)
    assert err.value.hint == "remove it (rm -rf .venv) and run install.py again"


def test_install_py_installs_hash_checked_without_resolving_and_the_kit_without_dependencies() -> None:
    wheel = install_steps.bundled_pip()
    assert wheel is not None and wheel.name.startswith("pip-")  # this Python bundles one: the venv is made without
    pip = install_steps.pip(Path("/v/bin/python"), Path("/tmp/x/pip"))
    assert pip == ["/v/bin/python", "/tmp/x/pip"] and install_steps.pip(Path("/p"), None) == ["/p", "-m", "pip"]
    argv = install_steps.pip_install(pip, install_steps.FROZEN, install_steps.TEST)
    assert argv[:3] == [*pip, "install"]
    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(argv)
    assert argv[-4:] == ["-r", "requirements-frozen.txt", "-r", "requirements-test.txt"]
    kit = install_steps.kit_install(pip)
    assert {"--no-deps", "--no-build-isolation"} <= set(kit) and kit[-2:] == ["-e", "."]
    # every file install.py names is one tools/pins.py hashes, and the kit tarball ships the collaborator's
    import make_tarball
    assert {install_steps.FROZEN, install_steps.TRAIN, install_steps.TORCH, install_steps.TEST} <= set(pins.FILES)
    shipped = {"install.py", "install_python.py", "install_steps.py", install_steps.FROZEN, install_steps.TRAIN,
               install_steps.TORCH}
    assert shipped <= set(make_tarball.INCLUDE)


def test_no_file_for_a_training_pin_is_a_corpus_only_box_and_a_refused_file_an_error() -> None:
    ignored = "Ignoring torch: markers 'sys_platform == \"linux\"' don't match"
    assert install_steps.installed(0, ignored, "torch") is True
    unreachable = ("WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(…)'\n"
                   "ERROR: No matching distribution found for torch==2.13.0+cpu\n")
    assert install_steps.installed(1, unreachable, "torch") is False  # PyTorch's index out of reach
    old_mac = "ERROR: No matching distribution found for onnxruntime==1.31.1\n"  # macOS 13: no wheel
    assert install_steps.installed(1, old_mac, "the training's packages") is False
    constrained = ("ERROR: Cannot install torch==2.13.0+cpu because these package versions have conflicting "
                   "dependencies.\n…\nERROR: ResolutionImpossible: for help visit …\n")  # pip 24, a constraint set
    assert install_steps.installed(1, constrained, "torch") is False
    with pytest.raises(install_steps.SetupError, match="pip could not install torch"):
        install_steps.installed(1, "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n",
                                "torch")


def test_install_py_says_what_the_box_can_do() -> None:
    assert install_steps.closing_line([], "") == "set-up: done; this box makes its corpus, trains and exports"
    unreached = install_steps.closing_line(["torch"], install_steps.WHY[install_steps.TORCH])
    assert "corpus only: torch not installed: pip found no file of torch's CPU build" in unreached
    assert "run install.py again where it can be fetched" in unreached and "training happens at the lead" in unreached
    no_wheels = install_steps.closing_line(["torch", "onnx", "onnxruntime"], install_steps.WHY[install_steps.TRAIN])
    assert "no wheels of them for this platform (docs/collaborator.md#platforms)" in no_wheels
    # an Intel Mac: the markers left the training set out, pip installed nothing and said nothing went wrong
    assert install_steps.closing_line(["torch", "onnx", "onnxruntime"], "") == no_wheels


def test_every_refusal_of_install_py_is_on_the_troubleshooting_page() -> None:
    """install.py and install_steps.py are not the kit, whose hints a user reads where it refuses; the set-up's are
    said on the troubleshooting page too: each SetupError's longest fixed run of words is there, and the words of
    install.py's own (python_refusal: a SetupError of install_steps raises them too)."""
    page = re.sub(r"\s+", " ", (ROOT / "docs" / "reference" / "troubleshooting.md").read_text())
    runs = []
    for node in ast.walk(ast.parse((ROOT / "install_steps.py").read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "SetupError":
            text = node.args[0]
            if isinstance(text, ast.Starred):  # check_python's: python_refusal's words, below
                continue
            parts = [text.value] if isinstance(text, ast.Constant) else [
                v.value for v in getattr(text, "values", []) if isinstance(v, ast.Constant)]
            runs.append(max((re.sub(r"\s+", " ", p).strip() for p in parts), key=len))
    assert len(runs) == 7
    refused = install_python.python_refusal((3, 6))
    assert refused is not None
    runs.append(refused[0].replace("3.6", "X").partition(" (")[0])
    assert not [run for run in runs if run not in page]
