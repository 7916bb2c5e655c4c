"""Which kit wrote a file another kit reads. Every results tarball's manifest and every corpus manifest names the
kit that wrote it (`kit_version`); a reader older than that writer refuses the file saying so, before it reads
anything else of it: a newer kit's file may hold what this kit has no word for (a schema, a column, a rule), and a
refusal in this kit's words for what it does not know (`scored by a kit before 2.0`) sends people the wrong way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kit import __version__
from kit.errors import InputError

# A version as a kit writes it (kit.__version__, as Python's packaging spells a release: PEP 440's normal form), whole
# or none: its release numbers in ASCII digits 0-9, none with a leading zero, at most 18 each (the kit's one rule for a
# whole number from outside: kit.infra.numbers), then at most a pre-release, post-release, development or local suffix,
# which is not compared. Nothing before it and nothing after: `2.4.1 PWNED`, `2.4.1/../../x`, `v2.4.0`, `２.４.１` are
# none, while `10000000.0.0` is a kit's, a later one's.
_NUMBER = r"(0|[1-9][0-9]{0,17})"
_RELEASE = re.compile(rf"{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?(?:(?:a|b|rc)[0-9]{{1,18}})?(?:\.post[0-9]{{1,18}})?"
                      r"(?:\.dev[0-9]{1,18})?(?:\+[a-z0-9]+(?:\.[a-z0-9]+)*)?", re.ASCII)


def release(version: object) -> tuple[int, int, int] | None:
    """A kit version's release numbers (`2.3.0` -> (2, 3, 0), `2.3` -> (2, 3, 0), `2.5.0rc1` -> (2, 5, 0)); None for
    anything that is not one whole (a version with text before or after it, digits of another script)."""
    found = _RELEASE.fullmatch(version) if isinstance(version, str) else None
    return (int(found[1]), int(found[2]), int(found[3] or 0)) if found else None


def newer_than_this(version: object, this: str = __version__) -> bool:
    """Whether `version` names a release after this kit's (one it cannot read names none)."""
    theirs, ours = release(version), release(this)
    return theirs is not None and ours is not None and theirs > ours


class NewerKit(InputError):
    """A file a newer kit wrote, given to this one."""

    def __init__(self, what: str, version: str) -> None:
        super().__init__(f"{what}: made by ensemble-kit {version}, newer than this kit {__version__}: upgrade the "
                         "lead",
                         hint=f"install ensemble-kit {version} or later here (its CHANGELOG says whether a lead must "
                              "upgrade before taking its boxes' tarballs), then run the same command again")
        self.version = version


def refuse_newer(what: str, document: object) -> None:
    """NewerKit (exit 2) when `document` (a manifest's JSON, as read) names a kit newer than this one; `what` names
    the file. Anything else of the document is left to its reader."""
    version = document.get("kit_version") if isinstance(document, Mapping) else None
    if (theirs := release(version)) is not None and newer_than_this(version):
        raise NewerKit(what, ".".join(map(str, theirs)))  # its numbers alone: the text is the sender's
