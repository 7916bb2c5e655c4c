"""The embedded default reference set: synthetic clips rendered by lavfi.

Nine sources of different spatial and temporal complexity, 640x360 at 25 fps,
3 s each, rendered once into the user cache. They let a newcomer see the whole
pipeline work on any box in minutes; every output that uses them says it is
the demo corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit.errors import ToolError
from kit.fsio import atomic_path
from kit.proc import run_process

DEMO_SET_ID = "demo-v1"
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 25, 3
RENDER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DemoClip:
    name: str
    lavfi: str
    character: str


def _s() -> str:
    return f"s={WIDTH}x{HEIGHT}:r={FPS}"


DEMO_CLIPS: tuple[DemoClip, ...] = (
    DemoClip("testpattern", f"testsrc2={_s()}", "graphics, moderate motion"),
    DemoClip("mandelbrot", f"mandelbrot={_s()}", "fine detail, slow zoom"),
    DemoClip("life", f"life={_s()}:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00",
             "sparse high-contrast cells, fast change"),
    DemoClip("gradients", f"gradients={_s()}:speed=0.03:n=5", "smooth gradients, slow motion"),
    DemoClip("perlin", f"perlin={_s()}:octaves=4:persistence=0.6:tscale=2:xscale=0.3:yscale=0.3",
             "natural texture, drifting"),
    DemoClip("zoneplate", f"zoneplate={_s()}:kt2=2:kx2=256:ky2=256", "high spatial frequency, fast"),
    DemoClip("sierpinski", f"sierpinski={_s()}", "fractal, panning"),
    DemoClip("cellauto", f"cellauto={_s()}:rule=110", "scrolling binary texture"),
    DemoClip("noisybars", f"smptehdbars={_s()},noise=alls=24:allf=t", "static bars, temporal noise"),
)


def render(clip: DemoClip, dest: Path, ffmpeg: str, width: int = WIDTH, height: int = HEIGHT,
           seconds: float = SECONDS) -> Path:
    """Render one clip to dest (y4m) atomically; skipped when it already exists."""
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    lavfi = clip.lavfi.replace(f"s={WIDTH}x{HEIGHT}", f"s={width}x{height}")
    with atomic_path(dest) as tmp:
        res = run_process([ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-y", "-f", "lavfi", "-i", lavfi,
                           "-t", str(seconds), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", tmp],
                          timeout_s=RENDER_TIMEOUT_S)
        if res.returncode != 0:
            raise ToolError(f"rendering demo clip {clip.name} failed (exit {res.returncode})",
                            hint="the ffmpeg in use lacks a lavfi source; pass another with --ffmpeg",
                            stderr_tail=res.stderr_tail)
    return dest


def ensure_demo_set(cache_dir: Path, ffmpeg: str, count: int | None = None, width: int = WIDTH,
                    height: int = HEIGHT, seconds: float = SECONDS) -> Path:
    """Render the demo clips into cache_dir/<set>/ and return that folder."""
    folder = cache_dir / f"{DEMO_SET_ID}-{width}x{height}-{seconds}s"
    for clip in DEMO_CLIPS[:count]:
        render(clip, folder / f"{clip.name}.y4m", ffmpeg, width, height, seconds)
    return folder
