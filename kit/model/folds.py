"""How a corpus is cut for validation: one fold per content group (LOSO), or grouped K-fold balanced by rows. A content
group never sits on both sides of a fold, and the folds depend on neither the row order nor its merge.

A fold scheme reads the rows' `content` column (kit.corpus.contents), never a fingerprint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas loads where a corpus is read: the corpus step's forecast chooses a scheme without it
    import pandas as pd

from kit.errors import InputError
from kit.infra.invocation import kit_command
from kit.model.recipe import AUTO, AUTO_K, LOSO, LOSO_MAX_GROUPS, MIN_SOURCES, FoldsAsked, check_frames_per_source
from kit.model.results import FoldScheme

CONTENT = "content"  # the corpus column naming a source's content group (absent: each source is its own)


def choose_scheme(folds: FoldsAsked, groups: int, sources: int) -> FoldScheme:
    """--folds applied to a corpus of `groups` content groups (`sources` sources)."""
    asked = str(folds)  # as the reports say it
    of = f"{groups} content group(s) of {sources} source(s)"
    if asked == LOSO:
        k, why = groups, f"--folds loso: one fold per content group, {of}"
    elif asked == AUTO and groups <= LOSO_MAX_GROUPS:
        k, why = groups, f"--folds auto: {of}, at most {LOSO_MAX_GROUPS}, so one fold per content group"
    elif asked == AUTO:
        k, why = AUTO_K, (f"--folds auto: {of}, more than {LOSO_MAX_GROUPS}, so {AUTO_K} folds of whole groups, "
                          "balanced by rows")
    else:
        k = int(folds)
        why = (f"--folds {k}: {of}, no more than {k}, so one fold per content group" if k >= groups
               else f"--folds {k}: {of}, dealt into {k} folds of whole groups, balanced by rows")
    return FoldScheme(LOSO, groups, groups, sources, asked, why) if k >= groups \
        else FoldScheme("kfold", k, groups, sources, asked, why)


@dataclass(frozen=True)
class Source:
    """One source of a fold: its name, content hash, content group and rows (sorted global indices)."""

    src: str
    src_sha256: str
    rows: np.ndarray
    content: str = ""  # its content group (the sources of one group are held out together)


@dataclass(frozen=True)
class Fold:
    """What one fold holds out: whole content groups, their sources ordered by (name, hash)."""

    index: int
    sources: tuple[Source, ...]
    rows: np.ndarray  # every held-out row, sorted

    def groups(self) -> list[tuple[str, tuple[Source, ...]]]:
        """The content groups this fold holds out, each with its sources, in the order of their first source."""
        by_group: dict[str, list[Source]] = {}
        for source in self.sources:
            by_group.setdefault(source.content or source.src_sha256, []).append(source)
        return [(g, tuple(members)) for g, members in by_group.items()]


def refuse_few_groups(members: dict[str, list[str]], names: dict[str, str], grouped: bool) -> None:
    """Refuse fewer than MIN_SOURCES content groups, naming the sources held as one content and how to part them."""
    what = "content group(s)" if grouped else "source(s)"
    hint = "add reference clips (--ref-dir) or train on a merged corpus (--corpus)"
    if not (together := [[names[s] for s in ss] for ss in members.values() if len(ss) > 1]):
        raise InputError(f"the corpus has {len(members)} distinct {what}; LOSO needs at least {MIN_SOURCES}", hint=hint)
    apart = json.dumps({"different": together})
    raise InputError(f"the corpus has {len(members)} distinct {what} in {len(names)} sources; LOSO needs at least "
                     f"{MIN_SOURCES}; held out as one content: {'; '.join(', '.join(t) for t in together)}",
                     hint=f"if they are different contents, regroup the corpus: "
                          f"{kit_command('merge', 'CORPUS', '--content-groups', 'FILE', '-o', 'regrouped.parquet')} "
                          f"with FILE holding {apart}; else {hint}")


def cut_folds(df: pd.DataFrame, asked: FoldsAsked = LOSO) -> tuple[list[Fold], FoldScheme]:
    """The folds `asked` gives this corpus and its scheme; refuses too few content groups or too short a source."""
    by_source = df.groupby("src_sha256", sort=False)
    rows, names = by_source.indices, by_source["src"].first()
    group = df[CONTENT] if CONTENT in df.columns else df["src_sha256"]  # each row's content group
    sources = {s: Source(str(names[s]), s, np.sort(rows[s]), str(group.iloc[np.min(rows[s])])) for s in rows}
    order = sorted(sources, key=lambda s: (sources[s].src, s))
    members: dict[str, list[str]] = {}
    for s in order:  # a group's sources in (name, hash) order; groups in their first source's
        members.setdefault(sources[s].content, []).append(s)
    if len(members) < MIN_SOURCES:
        refuse_few_groups(members, {s: sources[s].src for s in sources}, CONTENT in df.columns)
    frames = by_source["frame_index"].nunique()
    check_frames_per_source({f"source {sources[s].src!r} ({s[:12]})": int(frames[s]) for s in order}, " in the corpus",
                            hint=f"drop that source's rows ({kit_command('merge')} from shards without it), "
                                 "or re-make them from a longer cut of the clip")
    scheme = choose_scheme(asked, len(members), len(sources))
    dealt = ([[g] for g in members] if scheme.scheme == LOSO
             else deal(members, {g: sum(len(sources[s].rows) for s in ss) for g, ss in members.items()}, scheme.folds))
    folds = []
    for i, groups in enumerate(dealt):
        held = sorted((s for g in groups for s in members[g]), key=lambda s: (sources[s].src, s))
        fold_rows = [sources[s].rows for s in held]
        folds.append(Fold(i, tuple(sources[s] for s in held),
                          fold_rows[0] if len(fold_rows) == 1 else np.sort(np.concatenate(fold_rows))))
    return folds, scheme


def deal(groups: dict[str, list[str]], rows: dict[str, int], k: int) -> list[list[str]]:
    """Groups into k folds balanced by rows: by (rows desc, id), each to the lightest fold (ties: lowest index)."""
    folds: list[list[str]] = [[] for _ in range(k)]
    load = [0] * k
    for g in sorted(groups, key=lambda g: (-rows[g], g)):
        i = min(range(k), key=lambda f: (load[f], f))
        folds[i].append(g)
        load[i] += rows[g]
    return [f for f in folds if f]
