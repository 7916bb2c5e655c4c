"""The set-up itself, which install.py runs once it has checked the Python (install.py is written for any Python
to read; this file needs 3.11). Its steps: the venv in .venv, the pinned packages, each checked against its sha256,
then the kit itself.

    python3 install.py           # the README's set-up; then .venv/bin/python kit/run_full_pipeline.py
    python3 install.py --test    # also the tests' tools (the README's test command, .ci/run)

The same command on every platform of docs/collaborator.md's table (on Windows `py install.py`). It makes the venv
with this Python (3.11 to 3.13, the table's), then installs into it with pip, in hash-checking mode
(--require-hashes: a file whose sha256 is not the pin's is refused, whatever the index serves) and without
dependency resolution (--no-deps: the files pin every package; tools/platforms.py checks that for each platform):

1. requirements-frozen.txt (and requirements-test.txt with --test), and beside it (a pip of its own)
   requirements-train.txt: where torch, onnx and onnxruntime have no wheels, its markers leave them out (an Intel
   Mac) or pip finds none (Apple silicon before macOS 14), and the set-up goes on without them: the kit makes and
   sends its corpus alone.
2. Beside them, requirements-torch.txt: torch's CPU build from PyTorch's index (Linux only, by its marker).
   Where that index cannot be reached, this step says so and the set-up goes on without torch: the box
   contributes its corpus, and the same command, run again where the index can be reached, adds the training.
3. The kit itself, editable, with --no-deps and --no-build-isolation (built by the pinned setuptools): a path
   has no hash, and everything it needs is already there.

The pip that installs is the one bundled with this Python (ensurepip's wheel, unpacked into a scratch folder: the
venv is made without pip, which saves installing and compiling pip's thousand files first);
requirements-frozen.txt puts a pinned pip in the venv for later use. Where this Python bundles none, the venv is
made with pip and its pip installs. The three installs run at once (their packages are disjoint and none resolves
anything): on two cores the downloads and unpacking overlap. Step 3 starts when requirements-frozen.txt is in.

pip's own settings (pip.conf, PIP_INDEX_URL, a proxy, PIP_FIND_LINKS) apply as usual. pip compiles nothing
(--no-compile): a package's module is compiled when first imported, so the set-up does not compile what the kit never
uses. The kit's own modules, and the few packages every command starts with, are compiled at the end of the set-up
(and of a rerun, where only those changed since are): a command on a shared install its users cannot write, or with
PYTHONDONTWRITEBYTECODE set, reads them rather than compiling them each time (`compile_kit`).

A rerun installs only what is missing, and asks no index for what is there: each file's pins that apply to this box
(their markers, evaluated here: `marker_holds`) are checked against the versions the venv holds (its dist-info
folders) before pip is called, so a rerun on an installed kit ends in seconds, network or not.

With no network: a kit tarball made by `make_tarball.py --wheels` carries the wheels of every pin for its platform in
`wheels/`; where that folder is, every pip install reads it alone (--no-index --find-links wheels), the hashes still
checked. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import errno
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import IO

from install_python import python_refusal, span, supported

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
FROZEN = "requirements-frozen.txt"
TRAIN = "requirements-train.txt"
TEST = "requirements-test.txt"
TORCH = "requirements-torch.txt"
# what pip says when no file of a pin matched (its index could not be reached, or it has no wheel for this box);
# with a constraint on the name in pip's settings, pip 24 says the second instead
NO_WHEEL = ("No matching distribution found for ", "ResolutionImpossible")
TRAINING = ("torch", "onnx", "onnxruntime")
WHEELS = ROOT / "wheels"  # a wheels tarball's (make_tarball.py --wheels): every pin's file for its platform


def started(argv: list[str], cwd: Path | None = None, stdout: IO[str] | None = None,
            stderr: int | None = None) -> subprocess.Popen[str]:
    """A child in a process group of its own (Ctrl-C reaches install.py alone, which stops it), with Ctrl-C held while
    it is made: one raised inside Popen would leave the child running unseen, holding the terminal's output open."""
    hold = getattr(signal, "pthread_sigmask", None)  # POSIX
    before = hold(signal.SIG_BLOCK, {signal.SIGINT}) if hold is not None else None
    try:
        child = subprocess.Popen(argv, cwd=cwd, stdout=stdout, stderr=stderr, text=True, process_group=0)
    except BaseException:
        if hold is not None:
            hold(signal.SIG_SETMASK, before)
        raise
    try:
        if hold is not None:
            hold(signal.SIG_SETMASK, before)  # a Ctrl-C held meanwhile is raised here
    except BaseException:
        stopped(child)
        raise
    return child


def stopped(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.wait()


def finished(argv: list[str], cwd: Path | None = None) -> int:
    """A child's exit code; Ctrl-C while it runs stops it, then goes on up."""
    child = started(argv, cwd)
    try:
        return child.wait()
    except BaseException:
        stopped(child)
        raise


class SetupError(Exception):
    """A refusal: its message is one line; the hint says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def check_python(version: tuple[int, int]) -> None:
    """install.py's check (install_python.python_refusal), as a SetupError: set_up repeats it for a caller of
    main()."""
    if (refused := python_refusal(version)) is not None:
        raise SetupError(*refused)


def venv_python(venv: Path = VENV) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def half_made(venv: Path, why: str) -> SetupError:
    """A venv the set-up cannot tell was made whole (a set-up stopped while making it, a disk that filled up)."""
    return SetupError(f"{venv} is a half-made venv: its pyvenv.cfg {why}, so the set-up cannot tell which Python "
                      "made it", f"remove or move the {venv.name} folder (rm -rf {venv}), then run install.py again")


def venv_version(venv: Path) -> tuple[int, int]:
    """The Python version a venv was made with, as its pyvenv.cfg says (`version = 3.12.1`); a SetupError naming the
    venv when the file is missing, unreadable, not UTF-8, or says no version of the form 3.12 (half_made)."""
    try:
        lines = (venv / "pyvenv.cfg").read_bytes().decode("utf-8").splitlines()
    except FileNotFoundError:
        raise half_made(venv, "is missing") from None
    except OSError as exc:
        raise half_made(venv, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError as exc:
        raise half_made(venv, f"is not UTF-8 text (byte {exc.start})") from None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            major, _, minor = value.strip().partition(".")
            if not (major.isdigit() and minor.split(".")[0].isdigit()):
                raise half_made(venv, f"says version {value.strip()[:40]!r}, not a Python version such as 3.12")
            return int(major), int(minor.split(".")[0])
    raise half_made(venv, "is empty" if not "".join(lines).strip() else "names no version")


def bundled_pip() -> Path | None:
    """The pip wheel bundled with this Python (ensurepip's, or where Debian keeps it), which runs unpacked."""
    try:
        import ensurepip
    except ImportError:
        return None
    name = f"pip-{ensurepip.version()}-py3-none-any.whl"  # this Python's own: another pip may not know it
    folders = (Path(ensurepip.__file__).parent / "_bundled", Path("/usr/share/python-wheels"))
    found = [folder / name for folder in folders if (folder / name).is_file()]
    return found[0] if found else None


def make_venv(venv: Path = VENV, without_pip: bool = False) -> None:
    """Make the venv with this Python, or keep the one there when a supported Python made it."""
    if venv_python(venv).exists():
        made = venv_version(venv)
        if not supported(made):
            raise SetupError(f"{venv} was made with Python {made[0]}.{made[1]}; the pinned packages are for "
                             f"Python {span()}", f"remove it (rm -rf {venv.name}) and run install.py again")
        print(f"set-up: keeping {venv} (made with Python {made[0]}.{made[1]})", flush=True)
        return
    print(f"set-up: making {venv} with Python {sys.version.split()[0]} ({sys.executable})", flush=True)
    try:
        code = finished([sys.executable, "-m", "venv", *(["--without-pip"] if without_pip else []), str(venv)])
    except BaseException:  # Ctrl-C: venv is stopped (finished); what it began is removed, so a rerun starts anew
        shutil.rmtree(venv, ignore_errors=True)
        raise
    if code != 0 or not venv_python(venv).exists():
        raise SetupError(f"python -m venv could not make {venv} (exit {code})",
                         f"on Debian or Ubuntu install python{sys.version_info[0]}.{sys.version_info[1]}-venv "
                         f"(apt install python{sys.version_info[0]}.{sys.version_info[1]}-venv), remove "
                         f"{venv.name} and run install.py again")


def check_writable(folder: Path) -> None:
    """The set-up writes in the kit's folder (the venv, the editable install's build files): a folder it cannot write
    is refused before anything runs, naming the cause (a read-only file system, no permission), which venv's and
    pip's own failures would bury in their output."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".install-check-")
    except OSError as exc:
        cause = {errno.EROFS: "it is on a read-only file system", errno.EACCES: "you may not write in it",
                 errno.EPERM: "you may not write in it"}.get(exc.errno or 0, "it cannot be written")
        raise SetupError(f"install.py cannot write in {folder}: {exc.strerror or type(exc).__name__} (the set-up "
                         f"makes {VENV.name} and the kit's build files there)",
                         f"{cause}: copy the kit to a folder you can write and run install.py there (cp -r {ROOT} "
                         "~/ensemble-kit && python3 ~/ensemble-kit/install.py), or make this one writable") from None
    os.close(fd)
    os.unlink(name)


def unpacked(wheel: Path, work: Path) -> Path:
    """The bundled pip, unpacked into `work`: run from its wheel, pip would compile every module it imports each
    time it starts (nothing can be cached in a zip); unpacked, the first run's bytecode serves the others."""
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(work)
    return work / "pip"


def pip(python: Path, unpacked_pip: Path | None) -> list[str]:
    """pip run by the venv's Python: the bundled one, unpacked, or the venv's own."""
    return [str(python), str(unpacked_pip)] if unpacked_pip is not None else [str(python), "-m", "pip"]


def pip_install(pip_argv: list[str], *requirement_files: str, wheels: Path | None = None) -> list[str]:
    """The hash-checked install of pinned requirement files: only the listed files' wheels, nothing resolved; from
    the folder `wheels` alone where given (no index asked: the files' own index options are ignored)."""
    files = [arg for name in requirement_files for arg in ("-r", name)]
    offline = ["--no-index", "--find-links", str(wheels)] if wheels is not None else []
    return [*pip_argv, "install", "--require-hashes", "--no-deps", "--only-binary=:all:", "--no-compile",
            "--disable-pip-version-check", *offline, *files]


def wheels_folder(root: Path = ROOT) -> Path | None:
    """The wheels a tarball made by `make_tarball.py --wheels` carries, None for a kit without them."""
    folder = root / WHEELS.name
    return folder if folder.is_dir() and any(folder.glob("*.whl")) else None


# the marker variables the pins' markers use, as pip sees them on this box (PEP 508)
def marker_environment() -> dict[str, str]:
    return {"sys_platform": sys.platform, "platform_machine": platform.machine(), "os_name": os.name,
            "platform_system": platform.system(), "platform_python_implementation": platform.python_implementation(),
            "python_version": ".".join(platform.python_version_tuple()[:2]), "implementation_name":
            sys.implementation.name}


def marker_holds(marker: str, env: dict[str, str]) -> bool:
    """Whether a pin's marker (`sys_platform == "linux" and (platform_machine == "x86_64" or ...)`) holds in `env`:
    the comparisons the pins' markers make (== and != of a variable and a string, joined by and, or and brackets),
    read as an expression tree, never run; another form is a ValueError (a pin file this set-up cannot read)."""
    def holds(node: ast.expr) -> bool:
        if isinstance(node, ast.BoolOp):
            values = [holds(v) for v in node.values]
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq | ast.NotEq) \
                and isinstance(node.left, ast.Name) and node.left.id in env \
                and isinstance(node.comparators[0], ast.Constant) and isinstance(node.comparators[0].value, str):
            return (env[node.left.id] == node.comparators[0].value) == isinstance(node.ops[0], ast.Eq)
        raise ValueError(f"a marker this set-up cannot read: {marker!r}")
    return holds(ast.parse(marker.strip(), mode="eval").body)


def pins_here(text: str, env: dict[str, str]) -> dict[str, str]:
    """A requirement file's pins that apply to this box: their names (normalised as a dist-info folder spells them)
    and versions."""
    pins = {}
    for line in text.replace("\\\n", " ").splitlines():
        body = line.split("--hash", 1)[0].strip()
        if not body or body.startswith(("#", "-")):
            continue
        spec, _, marker = body.partition(";")
        name, _, version = spec.strip().partition("==")
        if not marker.strip() or marker_holds(marker, env):
            pins[dist_name(name)] = version.strip()
    return pins


def dist_name(name: str) -> str:
    """A distribution's name as its dist-info folder spells it (`typing_extensions`, `jinja2`)."""
    return "_".join(part for part in name.replace("-", "_").replace(".", "_").lower().split("_"))


def installed_versions(python: Path) -> dict[str, str]:
    """The venv's distributions and their versions, from its dist-info folders' names (`numpy-2.4.6.dist-info`)."""
    if not venv_python(python.parent.parent).exists():
        return {}
    found = {}
    for path in site_packages(python).glob("*.dist-info"):
        name, _, version = path.name[:-len(".dist-info")].partition("-")
        found[dist_name(name)] = version
    return found


def lacking(names: tuple[str, ...], have: dict[str, str], env: dict[str, str], root: Path = ROOT) -> list[str]:
    """The requirement files among `names` whose pins for this box the venv does not all hold at their versions (a
    file that is not there among them: pip says so, as it did before this check)."""
    return [name for name in names if not (root / name).is_file() or any(
        have.get(pin) != version for pin, version in pins_here((root / name).read_text(encoding="utf-8"), env).items())]


def kit_installed(python: Path, root: Path = ROOT) -> bool:
    """Whether the venv holds this kit, editable from `root` (its direct_url.json names the folder)."""
    for path in (site_packages(python).glob("ensemble_kit-*.dist-info") if venv_python(
            python.parent.parent).exists() else ()):
        with contextlib.suppress(OSError, ValueError):
            url = json.loads((path / "direct_url.json").read_text(encoding="utf-8")).get("url", "")
            if (folder := url_folder(url)) is not None and folder.resolve() == root.resolve():
                return True
    return False


def url_folder(url: str) -> Path | None:
    """The folder a `file:` URL of pip's direct_url.json names (percent-encoded as pip writes it: `a%20b` is the
    folder `a b`); None for any other URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(urllib.request.url2pathname(parts.path))


def kit_install(pip_argv: list[str]) -> list[str]:
    """The kit itself, editable: no hash for a folder, so nothing else may come with it."""
    return [*pip_argv, "install", "--no-deps", "--no-build-isolation", "--no-compile", "--disable-pip-version-check",
            "--quiet", "-e", "."]


# the packages a kit command imports before it does anything (the command line's: click; the kit's cache's place:
# platformdirs; a run's display: rich), compiled with the kit's own modules (tests/unit/test_install_offline.py)
STARTUP_PACKAGES = ("click", "platformdirs", "rich")


def compile_kit(python: Path, root: Path = ROOT) -> bool:
    """The kit's own modules and STARTUP_PACKAGES byte-compiled for the venv's Python where they are not yet
    (compileall passes by a module whose .pyc is current: a rerun costs a look at each; one process, no pool to
    start). Without them each command compiles the modules it starts with (a `status`: the kit's 103, click's and
    platformdirs' 19; 0.25 s of CPU) whenever it cannot keep what it compiled: PYTHONDONTWRITEBYTECODE set, or a
    shared install its users cannot write. Only a saving: where Python cannot compile them (a folder it may not
    write, a file it refuses), the set-up says so and goes on; False then."""
    site = site_packages(python)
    folders = [root / "kit", *(site / name for name in STARTUP_PACKAGES if (site / name).is_dir())]
    print("set-up: compiling the kit's modules and those every command starts with", flush=True)
    code = finished([str(python), "-m", "compileall", "-q", *map(str, folders)], cwd=root)
    if code != 0:
        print(f"set-up: warning: Python could not compile all of {', '.join(map(str, folders))} (exit {code}; its "
              "message is above): each command compiles what it imports, about 0.25 s more CPU a `status`",
              flush=True)
    return code == 0


def run(argv: list[str], what: str) -> None:
    print(f"set-up: {what}", flush=True)
    code = finished(argv, cwd=ROOT)
    if code != 0:
        raise SetupError(f"pip could not install {what} (exit {code}; its message is above)",
                         "check the network or the index pip uses (pip.conf, PIP_INDEX_URL), then run install.py "
                         "again: what is installed is kept")


class Beside:
    """A pip install beside the one shown: its own process, its output kept in a file and shown when it ends."""

    def __init__(self, pip_argv: list[str], files: tuple[str, ...], what: str, wheels: Path | None = None) -> None:
        self.what = what
        self.said = tempfile.TemporaryFile("w+", errors="replace")  # noqa: SIM115 (read and closed in wait())
        self.proc = started(pip_install(pip_argv, *files, wheels=wheels), cwd=ROOT, stdout=self.said,
                            stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def wait(self) -> tuple[int, str]:
        code = self.proc.wait()
        with self.said:
            self.said.seek(0)
            said = self.said.read()
        print(f"set-up: {self.what}, installed beside them:\n{said}", end="", flush=True)
        return code, said


def installed(code: int, said: str, what: str) -> bool:
    """A training step's end: True when pip installed it (or had nothing to install here); False when pip found no
    file for one of its pins (torch's index out of reach, or no wheel for this platform: the box makes its corpus);
    any other failure (a file refused) is an error."""
    if code == 0:
        return True
    if any(words in said for words in NO_WHEEL):
        return False
    raise SetupError(f"pip could not install {what} (exit {code}; its message is above)",
                     "check the network or the index pip uses, then run install.py again: what is installed is kept")


def site_packages(python: Path) -> Path:
    venv = python.parent.parent
    if os.name == "nt":
        return venv / "Lib" / "site-packages"
    (found,) = (venv / "lib").glob("python3.*/site-packages")
    return found


def missing_training(python: Path) -> list[str]:
    """The training packages the venv lacks, from its installed distributions."""
    names = {path.name.split("-")[0].lower() for path in site_packages(python).glob("*.dist-info")}
    return [name for name in TRAINING if name not in names]


def closing_line(missing: list[str], why: str) -> str:
    """The set-up's last line: what the box can do, and why not the training where the venv lacks it (`why`: a
    step's that found no file; "" where pip's markers left the training set out: no wheels here)."""
    if not missing:
        return "set-up: done; this box makes its corpus, trains and exports"
    return (f"set-up: done, corpus only: {', '.join(missing)} not installed: {why or WHY[TRAIN]}. The kit makes and "
            "sends this box's corpus; training happens at the lead")


WHY = {TRAIN: "there are no wheels of them for this platform (docs/collaborator.md#platforms)",
       TORCH: "pip found no file of torch's CPU build (PyTorch's index did not answer, or a pip setting leaves it "
              "out: pip's message is above); run install.py again where it can be fetched to train here"}


def set_up(test: bool, work: Path) -> tuple[Path, str]:
    """Steps 1 to 3 (`work`: a scratch folder), each only where the venv lacks a pin of it; the venv's Python, and
    why the training is missing ("" if it is not: the closing line says what the venv holds)."""
    check_python(sys.version_info[:2])
    if test and not (ROOT / TEST).is_file():
        raise SetupError(f"{TEST} is not in {ROOT}: the tests and their tools come with a clone of the repository, "
                         "not with the kit tarball", "run install.py without --test here, or clone the repository")
    for folder in (ROOT, *([VENV] if VENV.is_dir() else [])):
        check_writable(folder)
    wheel = bundled_pip()
    make_venv(without_pip=wheel is not None)
    python = venv_python()
    first = (FROZEN, *((TEST,) if test else ()))
    to_do = lacking((*first, TRAIN, TORCH), installed_versions(python), marker_environment())
    kit = kit_installed(python)
    if not to_do and kit:
        compile_kit(python)
        print("set-up: every pinned package is installed at its version, and the kit; nothing to do", flush=True)
        return python, ""
    wheels = wheels_folder()
    if wheels is not None:
        print(f"set-up: installing from {wheels} alone (no index asked)", flush=True)
    pip_argv = pip(python, unpacked(wheel, work) if wheel is not None else None)
    beside = {name: Beside(pip_argv, (name,), what, wheels) for name, what in (
        (TRAIN, f"the training's packages ({TRAIN})"), (TORCH, f"torch's CPU build ({TORCH})")) if name in to_do}
    try:
        if first := tuple(name for name in first if name in to_do):
            run(pip_install(pip_argv, *first, wheels=wheels), f"the pinned packages ({', '.join(first)}, "
                                                               "hash-checked)")
        if not kit or first:
            run(kit_install(pip_argv), "the kit (editable, no dependencies)")
        compile_kit(python)
        missing = [name for name, step in beside.items() if not installed(*step.wait(), step.what)]
    except BaseException:
        for step in beside.values():
            step.stop()
        raise
    return python, WHY[missing[0]] if missing else ""


def rerun_command(test: bool) -> str:
    """The set-up's command as it was started (the Python and the install.py typed, e.g. `python3 install.py
    --test`), to run it again."""
    typed = getattr(sys, "orig_argv", [])
    python = typed[0] if typed else sys.executable
    script = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "install.py" else str(ROOT / "install.py")
    return shlex.join([python, script, *(["--test"] if test else [])])


EXIT_INTERRUPTED = 130  # as the kit's own commands (128 + SIGINT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", action="store_true", help="also the tests' tools (requirements-test.txt)")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="install-") as work:
            python, why = set_up(args.test, Path(work))
        print(closing_line(missing_training(python), why), flush=True)
    except SetupError as err:
        print(f"error: {err}\nhint: {err.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: pip and venv, in process groups of their own, were stopped by set_up
        print(f"\nset-up: interrupted; what is installed is kept. To finish it, run: {rerun_command(args.test)}",
              file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
