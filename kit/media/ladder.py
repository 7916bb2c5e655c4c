"""The resolution ladder (`--scales`): the rungs a corpus encodes each clip at (downscaled, scored upscaled back
against the full-size reference, as VMAF's training set was made: Netflix/vmaf#526), and their scalers. Pure."""

from __future__ import annotations

import re

NATIVE = "native"
# swscale's named scalers (ffmpeg's `scale=...:flags=NAME`), the ones that make a picture fit to watch
SCALERS: tuple[str, ...] = ("lanczos", "bicubic", "bilinear", "spline", "area", "gauss", "sinc", "neighbor")
DOWN_DEFAULT, UP_DEFAULT = "lanczos", "bicubic"
NO_SCALER = ""  # a native row's scalers: it was neither downscaled nor upscaled
MIN_HEIGHT = 32  # below this a rung is no picture anyone watches (and libvmaf's pyramid runs out of scales)
_HEIGHT = re.compile(r"[0-9]{1,5}")
_FRACTION = re.compile(r"0?\.[0-9]{1,4}")


def parse_rung(text: str) -> str:
    """A rung written canonically: `native`, `540` (lines, 32..8640), `0.5` (a fraction in (0, 1)); or ValueError."""
    value = text.strip().lower()
    if value == NATIVE:
        return NATIVE
    if _HEIGHT.fullmatch(value):
        lines = int(value)
        if not MIN_HEIGHT <= lines <= 8640:
            raise ValueError(f"{value} lines is outside {MIN_HEIGHT}..8640")
        return str(lines)
    if _FRACTION.fullmatch(value):
        share = float(value)
        if not 0 < share < 1:
            raise ValueError(f"{value} is not a fraction between 0 and 1")
        return f"{share:g}"
    raise ValueError(f"{text!r} is neither native, a height in lines (540) nor a fraction of the height (0.5)")


def rung_size(rung: str, width: int, height: int) -> tuple[int, int]:
    """The encode's (width, height), even and of the clip's aspect ratio, at a rung (as parse_rung writes it)."""
    if rung == NATIVE:
        return width, height
    target = int(rung) if _HEIGHT.fullmatch(rung) else height * float(rung)
    h = max(2, round(target / 2) * 2)
    w = max(2, round(width * h / height / 2) * 2)
    return w, h


def clip_rungs(rungs: tuple[str, ...], width: int, height: int) -> list[tuple[str, int, int]]:
    """(rung, width, height) to encode at, by falling height: none upscaled or under MIN_HEIGHT, a size's first rung."""
    out: dict[tuple[int, int], str] = {}
    for text in rungs:
        rung = parse_rung(text)
        w, h = rung_size(rung, width, height)
        if rung == NATIVE or MIN_HEIGHT <= h < height:
            out.setdefault((w, h), rung)
    return [(text, w, h) for (w, h), text in sorted(out.items(), key=lambda item: -item[0][1])]


def scaled(enc_width: int, enc_height: int, width: int, height: int) -> bool:
    """Whether an encode of this size was made from a scaled copy (a size of 0 is "not recorded": native)."""
    return enc_height > 0 and (enc_width, enc_height) != (width, height)


def rung_label(enc_height: int, height: int) -> str:
    """A row's rung as the breakdown groups them: `native`, or the share of the source's height (`0.50x`)."""
    if enc_height <= 0 or height <= 0 or enc_height == height:
        return NATIVE
    return f"{enc_height / height:.2f}x"
