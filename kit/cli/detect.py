"""`ensemble-kit detect`: this box's encoder families, and a test encode of every candidate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kit.cli.guard import guard
from kit.infra.variables import FFMPEG
from kit.infra.visible import visible

COLUMNS = ("family", "encoder", "role", "available", "fps", "why")


def detect_report(info: Any, sig: Any, families: Any, results: Any) -> dict[str, object]:
    """The detect result as one JSON-able document (also what the table shows)."""
    from kit import __version__
    from kit.platforms.detect import resolve_auto, role
    from kit.platforms.encoders import get_spec

    rows = [{**r.to_json(), "family": get_spec(r.name).traits.host, "role": role(r.name, families),
             "failure": "" if r.available else r.failure} for r in results]
    return {
        "kit_version": __version__,
        "host": {k: v for k, v in sig.to_json().items() if k != "encoders"},  # the build's list is long
        "ffmpeg": {k: v for k, v in info.to_json().items() if k != "encoders"},
        "families": [f.to_json() for f in families],
        "auto_encoders": list(resolve_auto(families, {r.name: r.available for r in results})),
        "encoders": rows,
    }


def _signal_lines(report: dict[str, Any]) -> list[str]:
    host, ff = report["host"], report["ffmpeg"]
    gpus = ", ".join(f"{g['name']} (driver {g['driver']})" for g in host["gpus"])
    smi = gpus or {"": "not found", "ok": "no GPU"}.get(host["nvidia_smi"], host["nvidia_smi"])
    nodes = ", ".join(f"{n['path']} ({n['vendor'] or '?'} {n['driver'] or '?'}"
                      f"{', VA ' + n['va_driver'] if n['va_driver'] else ''})" for n in host["render_nodes"])
    return [
        f"host: {host['system']}-{host['machine']}, {host['cpu']}",
        f"ffmpeg: {ff['version']} from {ff['source']}: {ff['path']}",
        f"nvidia-smi: {smi}; render nodes: {nodes or 'none'}; "
        f"LIBVA_DRIVER_NAME: {host['libva_driver_name'] or 'unset'}; "
        f"ffmpeg built with hwaccels: {', '.join(host['hwaccels']) or '-'} (what this build supports, "
        "not hardware found here)",
        "families: " + "; ".join(f"{f['label']} [{f['evidence']}] defaults {', '.join(f['defaults'])}"
                                 for f in report["families"]),
    ]


def print_detect(report: dict[str, Any]) -> None:
    from kit.events import HINT_MARK

    click.echo("\n".join(_signal_lines(report)))
    cells = []
    for r in report["encoders"]:
        why = r["reason"] if r["available"] else r["failure"]
        why += (" (cached)" if r["cached"] else "") + (f"{HINT_MARK}{r['hint']}" if r["hint"] else "")
        cells.append([r["family"], r["name"], r["role"], "yes" if r["available"] else "no",
                      f"{r['fps']:.1f}" if r["fps"] else "-", why])
    if sys.stdout.isatty():
        from kit.events import split_hint
        from kit.report.terminal import KitConsole, check_table

        console = KitConsole(highlight=False, soft_wrap=True)
        console.print(check_table(cells, COLUMNS, ok_at=3))
        hints: dict[str, list[str]] = {}  # each hint once, with the encoders it is for
        for row in cells:
            if hint := split_hint(row[-1])[1]:
                hints.setdefault(hint, []).append(row[1])
        for hint, names in hints.items():  # whole on its line, under the table (a column folds what it holds)
            console.print(visible(f"hint for {', '.join(names)}: {hint}"), markup=False)
    else:
        widths = [max(len(c[i]) for c in [list(COLUMNS), *cells]) for i in range(len(COLUMNS) - 1)]
        for row in [list(COLUMNS), *cells]:
            click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[-1])
    click.echo(f"--encoders auto on this box: {', '.join(report['auto_encoders'])}")


@click.command("detect")
@click.option("--ffmpeg", envvar=FFMPEG.name,
              help="ffmpeg binary to probe (default: the one `run` picks: binaries/, then PATH, then imageio-ffmpeg).")
@click.option("--encoders", default="all", show_default=True,
              help="Encoders to probe: all the kit knows, auto (this box's candidates), or a comma-separated list.")
@click.option("--refresh", is_flag=True, help="Ignore cached probe results and encode again.")
@click.option("--json", "json_mode", is_flag=True, help="One JSON document on stdout instead of the table.")
@guard
def detect_cmd(ffmpeg: str | None, encoders: str, refresh: bool, json_mode: bool) -> None:
    """Detect this box's encoder families and test-encode every candidate.

    A family (NVIDIA via nvidia-smi, Intel via /dev/dri render nodes and the VA
    driver, macOS, CPU) only nominates encoders; an encoder is available only
    after a real test encode, decoded back and frame-counted. Results are cached
    per ffmpeg build and driver (--refresh encodes again).

    \b
    Examples:
      ensemble-kit detect
      ensemble-kit detect --json --refresh
      ensemble-kit detect --encoders h264_nvenc,libx264
    """
    import tempfile

    from kit.infra.tree import Tree
    from kit.media.ffmpeg import resolve_ffmpeg
    from kit.platforms.detect import auto_candidates
    from kit.platforms.encoders import AUTO, ENCODER_NAMES, parse_encoder_list
    from kit.platforms.probe import Prober
    from kit.platforms.resolve import survey_host

    survey = survey_host(resolve_ffmpeg(ffmpeg))
    names = ENCODER_NAMES if encoders == "all" else tuple(dict.fromkeys(parse_encoder_list(encoders)))
    names = auto_candidates(survey.families) if names == (AUTO,) else names
    with tempfile.TemporaryDirectory(prefix="kit-detect-") as tmp, Tree.open(Path(tmp), make=False) as tree:
        prober = Prober(survey.info, survey.signals, tree, Path(tmp), refresh=refresh)
        results = [prober.probe(n) for n in names]
    report = detect_report(survey.info, survey.signals, survey.families, results)
    if json_mode:
        click.echo(json.dumps(report, indent=2))
    else:
        print_detect(report)
