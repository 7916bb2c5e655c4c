"""How a child the kit ran ended when it did not succeed: one kind of a fixed list, with its typed slots (an exit
code, a signal's number, seconds, the cap's variable), never the child's words (issue 96). The box's own log keeps
what the child said; a file the lead is sent holds only the kind and its slots (kit.bundle.catalogue checks each).

A kind is a member of `Kind`: its words with `{slot}` marks, each slot one of SLOTS. To add one, add a member here
(its words, read by the lead, and its slots); the catalogue reads the list from this module, so the verifier and the
box agree on it at once. Who classifies a child's end: kit.infra.proc (an exit code, a signal, a limit reached,
pipes held), kit.media.ffmpeg (what ffmpeg said of its input or of the box: a decoder error, a full disk, memory),
kit.corpus.children and kit.media.looks (a folder gone, no frames, a child stopped from outside).
"""

from __future__ import annotations

import enum
import re
import signal
from dataclasses import dataclass

from kit.infra.kinds import MARK

# the slots a kind's words may hold, each with what a value is (the text the lead is sent, matched whole)
SLOTS: dict[str, str] = {
    "code": r"-?\d{1,10}",  # an exit code (a negative one on Windows' unsigned codes read signed)
    "signal": r"\d{1,3}",  # a signal's number
    "name": r"SIG[A-Z0-9]{2,8}",  # its name, where the system gives one (Python's signal.Signals)
    "seconds": r"\d{1,9}",  # whole seconds of the child's own time
    "cap": r"KIT_[A-Z0-9_]{1,40}",  # the variable of a cap (KIT_TIMEOUT_S)
}


class Kind(enum.Enum):
    """How a child ended, in the words the lead reads. The value is unique, so it names the kind in a file."""

    EXIT = "exit code {code}"  # it exited with a code of its own (its input, its options, a bug)
    CRASHED = "killed by signal {signal} ({name})"  # a signal of its own (SIGSEGV, SIGABRT): the program's fault
    KILLED_OUTSIDE = "killed from outside by signal {signal} ({name})"  # a kill, the OOM killer, a closing terminal
    STOPPED_OUTSIDE = "stopped by a signal from outside"  # held in state T (SIGSTOP) while the kit ran, then ended
    NO_FRAMES_FOR = "no frames for {seconds} s"  # no progress for that long of its own time: ended at its stall
    TIMED_OUT = "timed out after {seconds} s"  # past its own limit, in its own time
    CAPPED = "timed out by a cap ({cap}, {seconds} s)"  # past the user's cap on every command
    DECODER_ERROR = "decoder error"  # its input's stream could not be decoded
    NO_FRAMES = "no frames"  # it ended with no frame read or written
    OUT_OF_MEMORY = "out of memory"
    OUT_OF_FILES = "out of open files"
    DISK_FULL = "disk full"
    OVER_QUOTA = "over the disk's quota"
    FILE_SIZE_LIMIT = "killed at the file size limit (SIGXFSZ)"
    FOLDER_GONE = "its folder gone"  # its work folder or the out-dir removed or moved while it ran
    NOT_WRITTEN = "its output not written"  # it ended without writing what it was asked to
    OUTPUT_WRONG = "its output wrong"  # what it wrote is not what was asked (cut short, other frames)
    CANNOT_START = "could not start"  # the program is missing or not executable
    PIPES_HELD = "its output held open after it exited"  # a wrapper's own child kept the pipes

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(MARK.findall(self.value))


@dataclass(frozen=True)
class Ended:
    """A child's end: its kind and the values of its slots (each an int or a name), as the lead is sent it."""

    kind: Kind
    code: int | None = None
    signal: int | None = None
    seconds: int | None = None
    cap: str | None = None

    @property
    def name(self) -> str:
        """The signal's name (SIGKILL), or "" for a number the system names none."""
        if self.signal is None:
            return ""
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return ""

    def said(self) -> str:
        """The kind's words with its slots filled in: `killed by signal 11 (SIGSEGV)`; a signal without a name loses
        its brackets (`killed by signal 77`)."""
        values = {"code": self.code, "signal": self.signal, "name": self.name, "seconds": self.seconds,
                  "cap": self.cap}
        missing = [s for s in self.kind.slots if values[s] is None]
        if missing:
            raise ValueError(f"{self.kind.name} needs {', '.join(missing)}")
        words = self.kind.value.replace(" ({name})", "") if "name" in self.kind.slots and not self.name \
            else self.kind.value
        return MARK.sub(lambda m: str(values[m.group(1)]), words)

    def __str__(self) -> str:
        return self.said()


def pattern() -> str:
    """A regular expression that matches exactly the words of every kind, each slot by SLOTS: what the lead checks a
    failure's words against (kit.bundle.catalogue)."""
    alternatives = []
    for kind in Kind:
        text = re.escape(kind.value)
        if "name" in kind.slots:  # the name and its brackets may be absent (a signal the system names none)
            text = text.replace(re.escape(" ({name})"), r"(?: \({name}\))?")
        alternatives.append(re.sub(r"\\?\{(\w+)\\?\}", lambda m: f"(?:{SLOTS[m.group(1)]})", text))
    return "(?:" + "|".join(alternatives) + ")"


# a clip left out for the box's or the moment's cause, by which (kit.corpus.failures.FIXES says each, with its fix):
# a child's end of these kinds, or its input changed while it was read or run
MOMENTS = ("memory", "files", "killed", "stopped", "stall", "changed")
MOMENT_OF: dict[Kind, str] = {Kind.OUT_OF_MEMORY: "memory", Kind.OUT_OF_FILES: "files", Kind.KILLED_OUTSIDE: "killed",
                              Kind.STOPPED_OUTSIDE: "stopped", Kind.NO_FRAMES_FOR: "stall", Kind.TIMED_OUT: "stall"}


def moment_of_end(end: Ended | None) -> str | None:
    """The moment (MOMENTS) a child's end is, typed; None for an end of the clip's own or none."""
    return MOMENT_OF.get(end.kind) if end is not None else None


# the signals sent from outside a child (a kill, Ctrl-C, a closing terminal, the OOM killer), never its own crash
OUTSIDE_SIGNALS = frozenset({1, 2, 3, 9, 13, 15})


def of_signal(signum: int, outside: bool) -> Ended:
    """A child killed by signal `signum`: from outside (a kill, the OOM killer, a closing terminal) or its own."""
    return Ended(Kind.KILLED_OUTSIDE if outside else Kind.CRASHED, signal=signum)


def of_exit(code: int) -> Ended:
    return Ended(Kind.EXIT, code=code)
