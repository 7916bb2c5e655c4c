"""The default reference set: nine synthetic lavfi clips of varied spatial and temporal complexity, rendered once."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kit import KIT_ROOT
from kit.errors import ToolError
from kit.infra.files import sha256_bytes
from kit.infra.host import core_count
from kit.infra.interrupts import finished_batches
from kit.infra.proc import run_process, stop_all
from kit.infra.tree import LockBusy, Tree
from kit.media.argv import build_render_argv

DEMO_SET_ID = "demo-v4"
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 25, 3
RENDER_TIMEOUT_S = 120.0
RENDER_WAIT_S = 2 * RENDER_TIMEOUT_S  # another run's render of the same clip: it ends or times out before this


@dataclass(frozen=True)
class DemoClip:
    name: str
    lavfi: str
    character: str


_S = f"s={WIDTH}x{HEIGHT}:r={FPS}"  # every clip's size and rate

# every random source has its seed fixed: the same ffmpeg build renders the same bytes (src_sha256) on every box
DEMO_CLIPS: tuple[DemoClip, ...] = (
    DemoClip("testpattern", f"testsrc2={_S}", "graphics, moderate motion"),
    DemoClip("mandelbrot", f"mandelbrot={_S}", "fine detail, slow zoom"),
    DemoClip("life", f"life={_S}:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00:seed=4",
             "sparse high-contrast cells, fast change"),
    DemoClip("gradients", f"gradients={_S}:speed=0.03:n=5:seed=2:c0=0x1f77b4:c1=0xff7f0e:c2=0x2ca02c:"
                          "c3=0xd62728:c4=0x9467bd:x0=40:y0=30:x1=600:y1=330", "smooth gradients, slow motion"),
    DemoClip("perlin", f"perlin={_S}:octaves=8:persistence=0.8:tscale=15:xscale=0.5:yscale=0.5:"
                       "random_mode=seed:random_seed=11", "dense natural texture, fast drift"),
    DemoClip("deepzoom", f"mandelbrot={_S}:start_scale=0.5:end_scale=0.0005:maxiter=2000:inner=period",
             "fractal edge, fast zoom"),
    DemoClip("sierpinski", f"sierpinski={_S}:type=triangle:jump=1:seed=7", "fractal, jumping"),
    DemoClip("spectrum", f"colorspectrum={_S}:type=all,rotate=a=0.3*t:c=black:ow={WIDTH}:oh={HEIGHT}",
             "saturated colour, rotation"),
    DemoClip("noisybars", f"smptehdbars={_S},noise=alls=24:allf=t:all_seed=5", "static bars, temporal noise"),
)


def render(cache: Tree, clip: DemoClip, dest: Path, ffmpeg: str, width: int = WIDTH, height: int = HEIGHT,
           seconds: float = SECONDS, note: Callable[[str], None] | None = None) -> Path:
    """Render one clip to dest (y4m) under its lock unless it is there whole; `note` hears a wait for another run."""
    if clip_is_whole(cache, dest, width, height, seconds):
        return dest

    def waiting(holder: str) -> None:
        if note is not None:
            note(f"demo clip {clip.name}: another run of this kit ({holder}) is rendering it; waiting for it")

    try:
        with cache.lock(dest.with_name(f".{dest.name}.lock"), wait_s=RENDER_WAIT_S, tidy=True, on_wait=waiting):
            if clip_is_whole(cache, dest, width, height, seconds):  # rendered by the run we waited for
                return dest
            cache.remove_stale(dest.parent)  # a killed render's temporaries
            lavfi = clip.lavfi.replace(f"s={WIDTH}x{HEIGHT}", f"s={width}x{height}").replace(
                f"ow={WIDTH}:oh={HEIGHT}", f"ow={width}:oh={height}")
            with cache.atomic_path(dest) as tmp:
                res = run_process(build_render_argv(ffmpeg, lavfi, tmp, seconds=seconds), timeout_s=RENDER_TIMEOUT_S)
                if res.returncode != 0:
                    raise ToolError(f"rendering demo clip {clip.name} failed (exit {res.returncode})",
                                    hint="the ffmpeg in use lacks a lavfi source; pass another with --ffmpeg",
                                    stderr_tail=res.stderr_tail)
    except LockBusy as busy:
        raise ToolError(f"demo clip {clip.name}: another run ({busy.holder}) has been rendering it for over "
                        f"{RENDER_WAIT_S:.0f} s", hint="wait for that run, or stop it, then run again") from None
    return dest


def clip_is_whole(cache: Tree, path: Path, width: int = WIDTH, height: int = HEIGHT,
                  seconds: float = SECONDS) -> bool:
    """A rendered clip is checked, not trusted: the user's own file, its y4m header naming its size, holding exactly its
    frames (else it is rendered again). Another user's file there is refused (exit 2)."""
    try:
        if (fh := cache.open_checked(path)) is None:
            return False
        with fh:
            header = fh.readline(512)
            size = os.fstat(fh.fileno()).st_size
    except OSError:
        return False
    if not header.startswith(b"YUV4MPEG2 ") or f" W{width} H{height} ".encode() not in header:
        return False
    frame = len(b"FRAME\n") + width * height * 3 // 2  # rendered as yuv420p
    frames, rest = divmod(size - len(header), frame)
    return rest == 0 and math.floor(seconds * FPS) <= frames <= math.ceil(seconds * FPS) and frames > 0


def damaged_demo_clips(cache: Tree, count: int | None = None, seconds: float = SECONDS) -> list[str]:
    """Names of demo clips present in the cache but not whole (the next render replaces them)."""
    folder = demo_folder(cache.root, seconds=seconds)
    return [c.name for c in DEMO_CLIPS[:count] if cache.entry(folder / f"{c.name}.y4m") is not None
            and not clip_is_whole(cache, folder / f"{c.name}.y4m", seconds=seconds)]


def demo_folder(cache_dir: Path, width: int = WIDTH, height: int = HEIGHT, seconds: float = SECONDS,
                kit_root: Path = KIT_ROOT) -> Path:
    """This copy of the kit's own demo folder in the cache (another copy's runs never wait for its renders)."""
    return cache_dir / f"{DEMO_SET_ID}-{width}x{height}-{seconds}s-kit{sha256_bytes(os.fsencode(kit_root))[:12]}"


def missing_demo_clips(cache: Tree, count: int | None = None, seconds: float = SECONDS) -> list[str]:
    """Names of the demo clips not rendered yet or damaged (ensure_demo_set would render them)."""
    folder = demo_folder(cache.root, seconds=seconds)
    return [c.name for c in DEMO_CLIPS[:count] if not clip_is_whole(cache, folder / f"{c.name}.y4m", seconds=seconds)]


def ensure_demo_set(cache: Tree, ffmpeg: str, count: int | None = None, width: int = WIDTH,
                    height: int = HEIGHT, seconds: float = SECONDS, note: Callable[[str], None] | None = None) -> Path:
    """Render the demo clips not whole yet into their folder, returned, a core each; a stop or failure stops all."""
    import concurrent.futures as cf  # to render: `status` only looks for the clips

    folder = demo_folder(cache.root, width, height, seconds)
    clips = DEMO_CLIPS[:count]
    with cf.ThreadPoolExecutor(max_workers=max(1, min(len(clips), core_count())), thread_name_prefix="demo") as pool:
        futures = [pool.submit(render, cache, clip, folder / f"{clip.name}.y4m", ffmpeg, width, height, seconds, note)
                   for clip in clips]
        try:
            for batch in finished_batches(futures):  # a stop signal is handled between two
                for i in batch:
                    futures[i].result()
        except BaseException:
            for future in futures:
                future.cancel()
            stop_all()
            raise
    return folder
