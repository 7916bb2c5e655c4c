"""`--encode-depth`: which bit depth each reference is encoded at, refused before any encode when an encoder cannot keep
it (a 10-bit probe that passed in step 01)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.media.pixfmt import DEPTH_SOURCE, encode_bits
from kit.media.refs import Clip
from kit.platforms.encoders import HwArgs
from kit.platforms.probe import ProbeResult


@dataclass(frozen=True)
class DepthPlan:
    setting: str
    bits: dict[str, int]  # src_sha256 -> 8 | 10
    hw_10bit: dict[str, HwArgs]

    def bits_of(self, clip: Clip) -> int:
        return self.bits.get(clip.sha256, 8)


def check_prereqs_depth(was: str, setting: str, prereqs_dir: str, prereqs_again: Callable[..., str],
                        encoders: Sequence[str]) -> None:
    """Step 01 must have probed for the same --encode-depth (`was`)."""
    if was != setting:
        again = prereqs_again("--encoders", ",".join(encoders), "--encode-depth", setting)
        raise InputError(f"{prereqs_dir} was run for --encode-depth {was}, not {setting}",
                         hint=f"rerun it for this depth: {again} (a plain `run`, without --from/--only, reruns it "
                              "by itself)")


def plan_depths(clips: Sequence[Clip], encoders: Sequence[str], setting: str,
                probes: dict[str, ProbeResult]) -> DepthPlan:
    """Each clip's encode depth; an encoder that cannot keep a deeper reference at 10 bit is refused (exit 2)."""
    bits = {c.sha256: encode_bits(c.pix_fmt, setting) for c in clips}
    deep = sorted((c for c in clips if bits[c.sha256] > 8), key=lambda c: c.src)
    if setting != DEPTH_SOURCE or not deep:
        return DepthPlan(setting, bits, {})
    cannot = [(e, probes[e].reason if e in probes else "not probed for 10 bit in step 01") for e in encoders
              if e not in probes or not probes[e].available]
    if cannot:
        name, reason = cannot[0]
        able = [e for e in encoders if e in probes and probes[e].available]
        more = f" ({len(cannot) - 1} more encoder(s) cannot either)" if len(cannot) > 1 else ""
        formats = ", ".join(sorted({c.pix_fmt for c in deep}))
        keep = (f"pass --encoders {','.join(able)} (those keep 10 bit here)" if able else
                f"pass encoders that keep 10 bit, e.g. --encoders libx265 (`{kit_command('detect')}` shows what "
                "works here)")
        raise InputError(f"--encode-depth source: encoder {name} cannot encode 10-bit here: {reason}{more}; "
                         f"{len(deep)} reference(s) are deeper than 8 bit ({formats}, e.g. {deep[0].src})",
                         hint=f"{keep}, or use --encode-depth 8bit to encode every reference at 8 bit")
    return DepthPlan(setting, bits, {e: probes[e].hw for e in encoders})
