"""Which encoders a run uses: the asked-for ones, all proven by a test encode, or with `--encoders auto` every
detected family's defaults that pass, plus libx264."""

from __future__ import annotations

from dataclasses import dataclass

from kit.errors import PrereqError
from kit.infra.invocation import kit_command
from kit.infra.variables import FFMPEG
from kit.media.ffmpeg import FFmpegInfo
from kit.platforms.detect import CPU_DEFAULTS, HostFamily, auto_candidates, detect_families, resolve_auto
from kit.platforms.encoders import AUTO
from kit.platforms.grids import CqGrid, outside_range
from kit.platforms.probe import OWN_FIX, Prober, ProbeResult
from kit.platforms.signals import HostSignals, gather_signals


@dataclass(frozen=True)
class Survey:
    """This box as detection sees it: the chain `detect` and step 01 both start from."""

    info: FFmpegInfo
    signals: HostSignals
    families: tuple[HostFamily, ...]


def survey_host(info: FFmpegInfo) -> Survey:
    signals = gather_signals(info)
    return Survey(info, signals, detect_families(signals))


def refuse(failed: ProbeResult, others: int, working: tuple[str, ...] = ()) -> PrereqError:
    """Why an encoder the run needs failed, and a way forward: never "drop" libx264 or one a retry may clear."""
    more = f" ({others} more requested encoder(s) failed too)" if others else ""
    if failed.transient:  # a cap or a stop from outside has its own fix (its hint): a busier box is not the cause
        way = "this can pass on a retry (nothing was cached)" + (
            "" if failed.end in OWN_FIX else
            ": rerun when the box is less busy")
    elif failed.name in CPU_DEFAULTS:
        way = (f"{failed.name} is the baseline every run uses (--encoders auto included): use an ffmpeg whose "
               f"{failed.name} works (--ffmpeg PATH, or `{kit_command('binaries', 'stage')}`)")
    else:
        works = f"of those asked for, {', '.join(working)} work here; " if working else ""
        way = (f"drop {failed.name} from --encoders ({works}`{kit_command('detect')}` shows every encoder that "
               "works here)")
    hint = "; ".join(h for h in (failed.hint, way, failed.cached_note) if h)
    return PrereqError(f"encoder {failed.name} does not work on this box: {failed.reason}{more}", hint=hint)


def in_grid_range(names: tuple[str, ...], grid: CqGrid) -> tuple[tuple[str, ...], list[list[str]]]:
    """Auto candidates whose quality range holds their whole grid; a skip row for each other one."""
    bad = {name: out for name in names if (out := outside_range(name, grid)) is not None}
    rows = [[name, "skip", f"--cqs value {cq} is outside its range {lo}..{hi}"] for name, (cq, lo, hi) in bad.items()]
    return tuple(n for n in names if n not in bad), rows


def resolve_encoders(requested: tuple[str, ...], grid: CqGrid, families: tuple[HostFamily, ...],
                     prober: Prober) -> tuple[tuple[str, ...], list[ProbeResult], list[list[str]]]:
    """(encoders the corpus uses, every probe result, skip rows). Asked-for encoders must all work."""
    if requested != (AUTO,):
        results = [prober.probe(n) for n in requested]
        failed = [r for r in results if not r.available]
        if failed:
            raise refuse(failed[0], len(failed) - 1, tuple(r.name for r in results if r.available))
        return requested, results, []
    candidates, skipped = in_grid_range(auto_candidates(families), grid)
    results = [prober.probe(n) for n in candidates]
    x264 = next((r for r in results if r.name == "libx264"), None)
    if x264 is not None and not x264.available:
        raise refuse(x264, 0)
    return resolve_auto(families, {r.name: r.available for r in results}), results, skipped


def opt_ins(families: tuple[HostFamily, ...], grid: CqGrid, detected: Prober) -> tuple[list[str], list[str]]:
    """(the opt-in encoders whose test encode by `detect` passed, those not tested yet), read from its cache."""
    names, _ = in_grid_range(tuple(dict.fromkeys(n for f in families for n in f.opt_in)), grid)
    found = {name: detected.recorded(name) for name in names}
    return ([n for n, r in found.items() if r is not None and r.available],
            [n for n, r in found.items() if r is None])


def detect_command(names: list[str], ffmpeg: FFmpegInfo) -> str:
    """The command that test-encodes `names` with the run's ffmpeg (named when the run's was given)."""
    given = ("--ffmpeg", ffmpeg.path) if ffmpeg.source in ("--ffmpeg", FFMPEG.name) else ()
    return kit_command("detect", "--encoders", ",".join(names), *given)
