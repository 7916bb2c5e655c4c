"""The rules of RunSettings' own fields that know the layers below (a ladder's rungs, the encoders, the teacher, a
frame rate, a shard): each a Check's test (kit.infra.rules.Check), which says why a value breaks it as a phrase read
after the value; and the ladder against the clips, which the corpus step asks once it knows them. Their fields, with
these rules, are in kit.steps.settings; the flags' parsers in kit.steps.parsers; the rules that know nothing of video
(a range, a list, a text's rule: text_check) in kit.infra.rules."""

from __future__ import annotations

from pathlib import Path

from kit.corpus.split import MAX_SHARDS, ShardSpec
from kit.errors import InputError
from kit.media.decode import MAX_FPS, parse_fps
from kit.media.ladder import MIN_HEIGHT, NATIVE, clip_rungs, parse_rung, rung_size
from kit.media.libvmaf import BUILTIN_TEACHERS, MODEL_SEPARATOR
from kit.media.refs import MAX_DIMENSION
from kit.platforms.encoders import parse_encoder_list
from kit.steps.parsers import HOLDOUTS


def scales_problem(rungs: object) -> str | None:
    """--scales's rule: at least one rung, each once, each giving the tallest reference MIN_HEIGHT lines or more."""
    if not isinstance(rungs, tuple) or not rungs:
        return "is empty"
    canonical = []
    for rung in rungs:
        try:
            canonical.append(parse_rung(rung))
        except ValueError as exc:
            return f"holds {rung!r}: {exc}"
        if canonical[-1] != NATIVE and rung_size(canonical[-1], MAX_DIMENSION, MAX_DIMENSION)[1] < MIN_HEIGHT:
            return (f"holds {rung}, which gives no picture: {rung} of the tallest reference the kit reads "
                    f"({MAX_DIMENSION} lines) is below {MIN_HEIGHT} lines")
    return "repeats a rung" if len(set(canonical)) != len(canonical) else None


def check_ladder(rungs: tuple[str, ...], sizes: list[tuple[int, int]]) -> None:
    """--scales against the clips: a rung too small for every clip, or a ladder giving no clip an encode, is refused."""
    if not sizes:
        return
    tallest = max(h for _, h in sizes)
    hint = f"give rungs of at least {MIN_HEIGHT} lines for some clip and below its height, or native " \
           f"(e.g. --scales native,0.5)"
    for rung in rungs:
        if rung != NATIVE and all(rung_size(rung, w, h)[1] < MIN_HEIGHT for w, h in sizes):
            raise InputError(f"--scales {rung} gives no clip a picture of {MIN_HEIGHT} lines or more (the tallest "
                             f"clip, {tallest} lines, would be encoded at {rung_size(rung, tallest, tallest)[1]})",
                             hint=hint)
    if not any(clip_rungs(rungs, w, h) for w, h in sizes):
        raise InputError(f"--scales {','.join(rungs)} gives no clip an encode: each rung is at or above the height "
                         f"of every clip (the tallest is {tallest} lines), and the kit never upscales a reference",
                         hint=hint)


def encoders_problem(names: object) -> str | None:
    """--encoders's rule: auto, or names the kit knows, each once (kit.platforms.encoders.parse_encoder_list)."""
    if not isinstance(names, tuple) or not all(isinstance(n, str) and n.strip() == n and n for n in names):
        return "is not a list of encoder names"
    try:
        parsed = parse_encoder_list(",".join(names))
    except InputError as exc:
        return f"is refused: {exc.message}"
    return "repeats an encoder" if len(set(parsed)) != len(parsed) else None


def teacher_problem(text: object) -> str | None:
    """--teacher's rule: a built-in model's name, or a model file's absolute path (the file is checked where read)."""
    if text in BUILTIN_TEACHERS or (isinstance(text, str) and Path(text).is_absolute() and MODEL_SEPARATOR not in text):
        return None
    return f"is neither one of {', '.join(BUILTIN_TEACHERS)} nor a model file's absolute path"


def fps_problem(text: object) -> str | None:
    """--fps's rule: a rate kit.media.decode.parse_fps reads."""
    try:
        return None if isinstance(text, str) and parse_fps(text) else "is not a frame rate"
    except ValueError:
        return f"is not a frame rate above 0 and at most {MAX_FPS}"


def holdout_problem(kinds: object) -> str | None:
    if not isinstance(kinds, tuple) or (bad := next((k for k in kinds if k not in HOLDOUTS), None)) is not None:
        return f"holds {bad!r}, which is neither encoder, box nor rung" if isinstance(kinds, tuple) else \
            "is not a list of encoder, box, rung"
    return "repeats a kind" if len(set(kinds)) != len(kinds) else None


def shard_problem(shard: object) -> str | None:
    ok = isinstance(shard, ShardSpec) and 1 <= shard.k <= shard.n <= MAX_SHARDS
    return None if ok else f"is not K/N with 1 <= K <= N <= {MAX_SHARDS}"
