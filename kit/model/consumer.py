"""vmaf-tune's side of the proxy as data (lusoris/vmaf's vmaftune/fast.py); light (no numpy): the gate reads it."""

from __future__ import annotations

from kit.model.contract import CODEC_VOCAB

# vmaf-tune's ENCODER_VOCAB v2, in its order (kit.bundle.vmaftune.VOCAB_V2 is the export's: a test checks they agree)
VMAFTUNE_VOCAB: tuple[str, ...] = ("libx264", "libx265", "libsvtav1", "libaom-av1", "libvpx-vp9", "libvvenc",
                                   "h264_nvenc", "hevc_nvenc", "av1_nvenc", "h264_qsv", "hevc_qsv", "av1_qsv")
# the encoders vmaf-tune can ask the kit's models about: a slot in both vocabularies
QUERIED_ENCODERS: tuple[str, ...] = tuple(e for e in VMAFTUNE_VOCAB if e in CODEC_VOCAB)
TOLERANCE = 1.5  # vmaf-tune's DEFAULT_PROXY_TOLERANCE (fast.py): proxy and verify encode this close, or fall back
CRF_RANGE = (10, 51)  # vmaf-tune's DEFAULT_CRF_LO, DEFAULT_CRF_HI: the range its crf_norm is taken over
CRF_BANDS = ((10, 20), (21, 35), (36, 51))  # vmaf-tune's CRF range in three: high, middle and low quality


def crf_band(crf: int) -> str:
    """The CRF band of vmaf-tune's range an encode falls in: `10-20`, `21-35`, `36-51`; `below 10`, `above 51`."""
    for lo, hi in CRF_BANDS:
        if lo <= crf <= hi:
            return f"{lo}-{hi}"
    return f"below {CRF_BANDS[0][0]}" if crf < CRF_BANDS[0][0] else f"above {CRF_BANDS[-1][1]}"


def band_order(band: str) -> int:
    """Bands in CRF order (below 10, 10-20, ..., above 51)."""
    names = [f"below {CRF_BANDS[0][0]}", *(f"{lo}-{hi}" for lo, hi in CRF_BANDS), f"above {CRF_BANDS[-1][1]}"]
    return names.index(band) if band in names else len(names)
