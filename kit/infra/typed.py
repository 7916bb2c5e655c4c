"""The typed forms of what the system says of the box where the lead needs the fact, not the words (issue 96): a device
by a family of a known list and its model number (`AMD Ryzen 7950`, `NVIDIA GeForce RTX 4090`; `other` for a name of no
family listed) and a digest of its whole name (two devices stay two), a version by its numbers (at most three) and a
digest of its whole text (`9.0.2+1f0e3d2c4b5a`), a system by its name and release numbers. A file the lead is sent holds
these forms, never the system's text (a CPU's name in a virtual machine, a kernel's release, a custom ffmpeg's build
string may be anything); the box's own logs keep the text. Each form's pattern is what the lead checks it against
(kit.bundle.catalogue).
"""

from __future__ import annotations

import hashlib
import re

OTHER = "other"

# the families of the CPUs and GPUs a box names, longest first where one begins another (a model number follows)
DEVICE_FAMILIES: tuple[str, ...] = (
    "AMD Ryzen Threadripper PRO", "AMD Ryzen Threadripper", "AMD Ryzen AI", "AMD Ryzen", "AMD EPYC", "AMD Athlon",
    "AMD Opteron", "AMD Radeon Pro", "AMD Radeon RX", "AMD Radeon", "AMD Instinct", "AMD FirePro",
    "Intel Xeon", "Intel Core Ultra", "Intel Core", "Intel Pentium", "Intel Celeron", "Intel Atom", "Intel Arc Pro",
    "Intel Arc", "Intel Iris Xe", "Intel Iris", "Intel UHD Graphics", "Intel HD Graphics",
    "Intel Data Center GPU Flex", "Intel Data Center GPU Max",
    "NVIDIA GeForce RTX", "NVIDIA GeForce GTX", "NVIDIA GeForce", "NVIDIA RTX PRO", "NVIDIA RTX", "NVIDIA Quadro RTX",
    "NVIDIA Quadro", "NVIDIA Tesla", "NVIDIA TITAN", "NVIDIA A", "NVIDIA H", "NVIDIA L", "NVIDIA B", "NVIDIA T",
    "Apple M1 Ultra", "Apple M1 Max", "Apple M1 Pro", "Apple M1", "Apple M2 Ultra", "Apple M2 Max", "Apple M2 Pro",
    "Apple M2", "Apple M3 Ultra", "Apple M3 Max", "Apple M3 Pro", "Apple M3", "Apple M4 Max", "Apple M4 Pro",
    "Apple M4", "Apple M5", "Ampere Altra Max", "Ampere Altra", "AmpereOne", "AWS Graviton", "Qualcomm Snapdragon",
    "Cortex", "Neoverse", "Virtual CPU",
)
# the words of a name that say nothing of its family (trade marks, a speed, a core count)
_NOISE = re.compile(r"\((?:R|TM|tm|r)\)|\b(?:CPU|Processor|Graphics Processor|with Radeon Graphics|"
                    r"\d+-Core|@\s*[\d.]+\s*[GM]Hz|Corporation|Inc\.?)\b", re.IGNORECASE)
_MODEL = re.compile(r"\d{1,6}")  # a model number: the longest run of digits after the family (7950 of `9 7950X`)
DIGEST_DIGITS = 12
_DIGEST = rf"\+[0-9a-f]{{{DIGEST_DIGITS}}}"  # `+` and DIGEST_DIGITS hex digits of the sha256 of the whole text given
DEVICE_PATTERN = "(?:(?:" + "|".join(re.escape(f) for f in sorted(DEVICE_FAMILIES, key=len, reverse=True)) + \
    rf")(?: \d{{1,6}})?|other){_DIGEST}"

# a version: its numbers (at most three), then the digest of the whole text as given
VERSION_PATTERN = rf"\d{{1,9}}(?:\.\d{{1,9}}){{0,2}}{_DIGEST}"
_NUMBERS = re.compile(r"\d+(?:\.\d+){0,2}")  # at most three: never the four of an IPv4 address


def device(name: str) -> str:
    """A CPU's or GPU's name as the system gives it, typed: its family and model number, or `other`, then the digest
    of the whole name (`AMD Ryzen 9 7950X` and `AMD Ryzen 9 7950X3D` stay two devices: a corpus row's key holds it);
    a typed name as it is, and "" (not recorded) too."""
    if not name or re.fullmatch(DEVICE_PATTERN, name):
        return name
    plain = " ".join(_NOISE.sub(" ", name).split())
    for family in sorted(DEVICE_FAMILIES, key=len, reverse=True):
        if plain.lower().startswith(family.lower()) and (len(plain) == len(family) or not plain[len(family)].isalpha()):
            model = max(_MODEL.findall(plain[len(family):]), key=len, default="")
            return f"{family} {int(model)}+{digest(name)}" if model else f"{family}+{digest(name)}"
    return f"{OTHER}+{digest(name)}"


def digest(text: str) -> str:
    """DIGEST_DIGITS hex digits of the sha256 of `text` (UTF-8): the same text, the same digest."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:DIGEST_DIGITS]


def version(text: str) -> str:
    """A version as a program gives it (`n9.0.2-17-g2a571b6068-20260930`, `3.11.7`, `2.13.0+cpu`), typed: its first
    numbers and the digest of the whole text (`9.0.2+…`); `0+…` where it holds no number; "" for "" (not recorded)."""
    if not text or re.fullmatch(VERSION_PATTERN, text):  # "" (not recorded), or typed already
        return text
    found = _NUMBERS.search(text)
    numbers = ".".join(str(int(n)) for n in found.group(0).split(".")) if found else "0"
    return f"{numbers}+{digest(text)}"


SYSTEMS = ("Linux", "macOS", "Darwin", "Windows", "FreeBSD", "OpenBSD", "NetBSD", "SunOS", "AIX")
SYSTEM_PATTERN = "(?:" + "|".join(SYSTEMS) + r"|other)(?: \d{1,9}(?:\.\d{1,9}){0,3})?"


def system(text: str) -> str:
    """`platform.platform()`'s text (`Linux-6.18.44-fc-v657-x86_64-with-glibc2.36`), typed: the system's name of a
    known list and its release's numbers (`Linux 6.18.44`), `other` for another."""
    name = next((s for s in SYSTEMS if text.lower().startswith(s.lower())), OTHER)
    found = _NUMBERS.search(text[len(name):]) if name != OTHER else None
    return f"{name} {found.group(0)}" if found else name


BUILD_ID_PATTERN = r"[0-9a-f]{7,12}|v?\d{1,4}(?:\.\d{1,4}){1,2}"


def build_id(text: str) -> str:
    """A library's version as it gives it (libvmaf's: a commit `86da14d`, or `3.0.0`) where it has that form, else
    typed as `version`."""
    return text if re.fullmatch(BUILD_ID_PATTERN, text) else version(text)


NUMBERS_PATTERN = r"\d{1,9}(?:\.\d{1,9}){0,2}"


def numbers_or_version(text: str) -> str:
    """A version that is its numbers alone (a driver's `550.54.14`) as it is, any other typed as `version`."""
    return text if re.fullmatch(NUMBERS_PATTERN, text) else version(text)
