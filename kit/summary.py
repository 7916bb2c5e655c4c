"""The closing summary: verdict, figures, worst folds, where the tarball is,
and the closing events of a run (`error`, `run_finished`)."""

from __future__ import annotations

import errno
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kit.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, KitError
from kit.events import Event, RunError, RunFinished
from kit.fsio import read_json


def _verdict(out_dir: Path) -> dict[str, object] | None:
    for name in ("PROMOTE", "HOLD"):
        path = out_dir / "04_verdict" / f"{name}.json"
        if path.is_file():
            return dict(read_json(path))
    return None


def latest_tarball(out_dir: Path) -> Path | None:
    found = sorted((out_dir / "05_bundle").glob("results-*.tar.gz"))
    return found[-1] if found else None


def mib(path: Path) -> str:
    size = path.stat().st_size if path.is_file() else 0
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 1024:.0f} KiB"


def _num(v: object, fmt: str = ".4f") -> str:
    return format(v, fmt) if isinstance(v, int | float) else "n/a"


def gate_rows(verdict: dict[str, object]) -> list[tuple[str, str]]:
    gate = verdict["gate"]
    assert isinstance(gate, dict)
    ok = {True: "pass", False: "FAIL"}
    per_seed = gate.get("per_seed_plccs") or {}
    seeds = ", ".join(f"seed {k} {_num(v)}" for k, v in per_seed.items()) if isinstance(per_seed, dict) else ""
    return [
        ("mean LOSO PLCC", f"{_num(gate['mean_plcc'])}  (gate >= {gate['mean_plcc_threshold']}, "
                           f"{ok[bool(gate.get('mean_plcc_pass'))]})"),
        ("seed spread", f"{_num(gate['plcc_spread'])}  (gate <= {gate['plcc_spread_max']}, "
                        f"{ok[bool(gate.get('plcc_spread_pass'))]})"),
        ("per seed", seeds + f"  (each >= {gate.get('per_seed_min')}, {ok[bool(gate.get('per_seed_pass'))]})"),
    ]


def baseline_rows(verdict: dict[str, object]) -> list[tuple[str, str]]:
    """Every baseline the verdict carries (ridge, and any other on the same folds), the lift, the incumbent."""
    rows = []
    baselines = verdict.get("baselines")
    for name, b in (baselines.items() if isinstance(baselines, dict) else []):
        if isinstance(b, dict) and "mean_plcc" in b:
            figures = f"PLCC {_num(b.get('mean_plcc'))}, RMSE {_num(b.get('mean_rmse'), '.2f')}"
            rows.append((f"{name} baseline", figures))
    lift = verdict.get("lift")
    if isinstance(lift, dict) and lift.get("statement"):
        rows.append(("what the ensemble adds", str(lift["statement"])))
    incumbent = verdict.get("incumbent")
    if isinstance(incumbent, dict) and "mean_plcc" in incumbent:
        rows.append(("incumbent", f"PLCC {_num(incumbent.get('mean_plcc'))}, "
                                  f"RMSE {_num(incumbent.get('mean_rmse'), '.2f')}"))
    challenger = verdict.get("challenger_gate")
    if isinstance(challenger, dict) and challenger.get("enabled") and challenger.get("statement"):
        rows.append(("champion/challenger", str(challenger["statement"])))
    return rows


def corpus_row(verdict: dict[str, object]) -> tuple[str, str]:
    corpus = verdict["corpus"]
    assert isinstance(corpus, dict)
    demo = "  (DEMO corpus)" if corpus.get("demo_corpus") else ""
    path = Path(str(corpus.get("path", "")))
    size = f", {mib(path)} on disk" if path.is_file() else ""
    return ("corpus", f"{corpus['rows']} frames, {corpus['n_sources']} sources, "
                      f"encoders {', '.join(map(str, corpus['encoders']))}, "
                      f"boxes {', '.join(map(str, corpus.get('boxes') or []))}{size}{demo}")


def summary_rows(out_dir: Path, verdict: dict[str, object]) -> list[tuple[str, str]]:
    worst = ", ".join(f"{w['src']} {_num(w.get('plcc'), '.3f')}"
                      for w in verdict.get("worst_folds", []))  # type: ignore[union-attr]
    rows = [("verdict", str(verdict["verdict"])), *gate_rows(verdict), ("worst folds (PLCC)", worst),
            *baseline_rows(verdict), corpus_row(verdict)]
    report = out_dir / "05_bundle" / "report.html"
    if report.is_file():
        rows.append(("report", f"{report}  (open it in a browser; it works offline)"))
    tarball = latest_tarball(out_dir)
    rows.append(("results tarball", f"{tarball}  ({mib(tarball)})" if tarball else "(bundle step not run yet)"))
    if tarball:
        rows.append(("send back", f"{tarball.name} to the lead, as it is; they check it with: "
                                  f"ensemble-kit verify {tarball.name}"))
    return rows


def print_summary(out_dir: Path, console: Console) -> None:
    verdict = _verdict(out_dir)
    if verdict is None:
        return
    table = Table(title="ensemble-kit summary", show_header=False, title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")  # long paths fold; an ellipsis would break copy and paste
    style = {"PROMOTE": "bold green", "HOLD": "bold yellow"}.get(str(verdict["verdict"]))
    for label, text in summary_rows(out_dir, verdict):
        table.add_row(label, text, style=style if label == "verdict" else None)
    console.print(table)


# -- the closing events ---------------------------------------------------------------------------
def failure_exit_code(exc: BaseException) -> int | None:
    """The exit code `guarded` gives this exception; None when no event can be written (a broken pipe)."""
    if isinstance(exc, KitError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError) or not isinstance(exc, Exception):
        return None
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def failure_events(exc: BaseException, retry: str, seconds: float) -> list[Event]:
    """`error` (not for an interrupt) and `run_finished` for a run that raised."""
    code = failure_exit_code(exc)
    if code is None:
        return []
    events: list[Event] = []
    if isinstance(exc, KitError):
        events.append(RunError(exc.message, exc.hint, code, retry))
    elif code == EXIT_BAD_INPUT:
        events.append(RunError(f"disk full: {exc}", "free some space and rerun", code, retry))
    elif code == EXIT_INTERNAL:
        events.append(RunError(f"internal error: {type(exc).__name__}: {exc}", "a bug in the kit; see the step log",
                               code, retry))
    return [*events, RunFinished(code, round(seconds, 3))]


def finished_event(out_dir: Path, exit_code: int, seconds: float, with_results: bool) -> RunFinished:
    """The last event; with_results when the run reached the verdict or bundle step (else the files may be old)."""
    if not with_results:
        return RunFinished(exit_code, round(seconds, 3))
    verdict = _verdict(out_dir)
    tarball = latest_tarball(out_dir)
    report = out_dir / "05_bundle" / "report.html"
    return RunFinished(exit_code, round(seconds, 3), str(verdict["verdict"]) if verdict else None,
                       str(tarball) if tarball else None, str(report) if report.is_file() else None)
