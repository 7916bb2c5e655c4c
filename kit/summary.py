"""The closing summary: verdict, figures, worst folds, where the tarball is."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

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


def print_summary(out_dir: Path, console: Console) -> None:
    verdict = _verdict(out_dir)
    if verdict is None:
        return
    gate, corpus = verdict["gate"], verdict["corpus"]
    assert isinstance(gate, dict) and isinstance(corpus, dict)
    table = Table(title="ensemble-kit summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("verdict", str(verdict["verdict"]))
    table.add_row("mean LOSO PLCC", f"{gate['mean_plcc']:.4f}  (gate >= {gate['mean_plcc_threshold']})"
                  if gate["mean_plcc"] is not None else "n/a")
    table.add_row("seed spread", f"{gate['plcc_spread']:.4f}  (gate <= {gate['plcc_spread_max']})"
                  if gate["plcc_spread"] is not None else "n/a")
    worst = ", ".join(f"{w['src']} {w['plcc']:.3f}" if w.get("plcc") is not None else f"{w['src']} n/a"
                      for w in verdict.get("worst_folds", []))  # type: ignore[union-attr]
    table.add_row("worst folds (PLCC)", worst)
    lift = verdict.get("lift")
    if isinstance(lift, dict):
        ridge = f"PLCC {lift['ridge_mean_plcc']:.4f}, RMSE {lift['ridge_mean_rmse']:.2f}" \
            if lift.get("ridge_mean_rmse") is not None else "n/a"
        table.add_row("ridge baseline", ridge)
        table.add_row("what the ensemble adds", str(lift.get("statement", "")))
    demo = "  (DEMO corpus)" if corpus.get("demo_corpus") else ""
    table.add_row("corpus", f"{corpus['rows']} frames, {corpus['n_sources']} sources, "
                            f"encoders {', '.join(map(str, corpus['encoders']))}{demo}")
    tarball = latest_tarball(out_dir)
    table.add_row("results tarball", str(tarball) if tarball else "(bundle step not run yet)")
    if tarball:
        table.add_row("send back", f"{tarball.name} (check it with: ensemble-kit verify {tarball})")
    console.print(table)
