"""The kit's messages a results tarball may hold (issue 96): each a Template, its words fixed and each `{slot}` a value
of a kind of kit.bundle.values, grouped by the field or file that holds it. A sentence the kit writes into a sent
record (the verdict's, LOSO's, a model card's), a line of a step log's sent twin and a left-out clip's reason are
checked against these; one no template matches is withheld at the box. To add a message, add its Template here, in
the section of the field that holds it (kit.bundle.catalogue names each field's kind).

The templates follow the words their modules write (an f-string there, a Template here): a change of those words is
a change here too, which the suite's runs check (tests/pipeline/test_sent_catalogue.py fails on a withheld text).
"""

from __future__ import annotations

import builtins

from kit import errors
from kit.bundle.cards import FEATURES_NOTE
from kit.bundle.cards import RECIPE_WORDS as CARD_RECIPES
from kit.bundle.profile_words import FEED_LOGGED, UNSEEN_BLIND
from kit.bundle.values import (
    A_BOX,
    BOX_NAMED,
    CLIP,
    CLIP_STEM,
    COMMAND,
    COUNT,
    DEMUXER,
    DEVICE,
    ENCODER,
    FAILURE,
    IDENTIFIER,
    JOB_SLUG,
    KIT_VERSION,
    NOTHING,
    NUMBER,
    PATH,
    PERCENT,
    PIX_FMT,
    SETTING_KEY,
    SETTING_VALUE,
    SIZE,
    SOURCE,
    STEP,
    TEACHER,
    VERSION,
    VIDEO_CODEC,
)
from kit.bundle.values import FFMPEG_ENCODER as FFMPEG_ENCODER_K
from kit.bundle.values import PATH as PATH_K
from kit.corpus.children import AGAIN, CAPPED_HINT
from kit.corpus.jobs import REDO_WHY
from kit.infra import typed
from kit.infra.kinds import Either, Exact, Joined, Kind, Match, Template
from kit.infra.variables import FFMPEG as FFMPEG_VAR
from kit.infra.variables import TIMEOUT_S, TRAIN_KERNELS, TRAIN_THREADS
from kit.media.ffmpeg import CAPPED_FIX, CAPPED_SAID, STALL_SAID, STOPPED_SAID
from kit.media.libvmaf import EXTRA_FEATURES, EXTRA_SAID, FEATURES
from kit.media.looks import LOOK_DOING, NOT_KEPT
from kit.model.conformal import FORMULA, METHOD, UNIT
from kit.model.contract import CQ_NORM_NOTE, SCALE_INPUT_NOTE
from kit.model.metrics import CORRELATION_RULE
from kit.model.pooling import POOL_WORDS
from kit.platforms.encoders import SPECS
from kit.verdict.consumer import CODEC_BLIND, NO_CEILING, NO_POOL
from kit.verdict.consumer import HOW as CONSUMER_HOW
from kit.verdict.decide import SEEDS_ALIKE, TAUTOLOGY
from kit.verdict.document import NOTHING_TO_SEND, SEND_BACK
from kit.verdict.exported import RECIPE as EXPORTED_RECIPE
from kit.verdict.intervals import SIDECAR_CALIBRATES, UNBOUNDED_WHY
from kit.verdict.kinds import DEFINITIONS, FIGURE_KINDS
from kit.verdict.pooling import HOW as POOLING_HOW
from kit.verdict.sampling import PLACED_WORDS as SAMPLING_PLACED


def said(name: str, *texts: str | Kind, **slots: Kind) -> Kind:
    """A kind of sentence, `name`: each of `texts` a Template named by its own words (what `verify --show-sent` prints
    of a text it admits), its slots from `slots` by the marks it holds, or a kind."""
    import re

    def marks(text: str) -> set[str]:
        return set(re.findall(r"\{(\w+)\}", text.replace("{{", "").replace("}}", "")))

    kinds = [t if isinstance(t, Kind) else Template(t, t, **{k: slots[k] for k in marks(t)}) for t in texts]
    return kinds[0] if len(kinds) == 1 else Either(name, *kinds)


def opt(name: str, *texts: str | Kind, **slots: Kind) -> Kind:
    """`said`, or nothing at all (an optional part of a sentence)."""
    return Either(name, NOTHING, said(name, *texts, **slots))


N = NUMBER
PCT = PERCENT
ENCODE = Template("an encode", "{src} {enc} cq {cq}{at}", src=SOURCE, enc=ENCODER, cq=COUNT,
                  at=Either("its rung", NOTHING, Template("at a size", " at {size}", size=SIZE)))
SOURCES = Joined("sources", SOURCE, " + ")
LEVEL = Template("a level", "{n}%", n=N)
LEVELS = Joined("levels", LEVEL)
CRF_BAND = Match("a CRF band", r"\d{1,3}-\d{1,3}|below \d{1,3}|above \d{1,3}")
RUNG = Match("a rung", r"native|\d\.\d{2}x|\d{1,5}p")
GROUP_LABEL = Either("a group of the consumer's tallies", Exact("all", ["all"]),
                     Template("a CRF band", "CRF {band}", band=CRF_BAND),
                     Template("an encoder", "encoder {e}", e=ENCODER),
                     Template("a rung", "rung {r}", r=RUNG), Template("a content", "content {s}", s=SOURCES))

# ------------------------------------------------------------------------------------------------ LOSO and the folds
FOLD_WHY = said("why LOSO's folds are what they are",
                "--folds loso: one fold per content group, {g} content group(s) of {s} source(s)",
                "--folds auto: {g} content group(s) of {s} source(s), at most {m}, so one fold per content group",
                "--folds auto: {g} content group(s) of {s} source(s), more than {m}, so {k} folds of whole groups, "
                "balanced by rows",
                "--folds {k}: {g} content group(s) of {s} source(s), no more than {k}, so one fold per content group",
                "--folds {k}: {g} content group(s) of {s} source(s), dealt into {k} folds of whole groups, balanced by "
                "rows", g=COUNT, s=COUNT, m=COUNT, k=COUNT)
FOLDS_ASKED = Match("--folds", r"loso|auto|\d{1,6}")
WORST_FRAME = said("a worst frame", "{src} frame {f} ({enc} cq {cq})", "{src} frame {f}", src=SOURCE, f=COUNT,
                   enc=ENCODER, cq=COUNT)
TEACHER_FN_REASON = said("why the teacher's function was not reproduced",
                         "{t} is no libvmaf SVR model the kit can evaluate", "the corpus holds no row to check it on",
                         t=TEACHER)
OWN_FEATURES = Joined("the teacher's own features", Exact("a feature", [*FEATURES, *EXTRA_FEATURES]))
NUMBERS = Joined("numbers", N, ", ")
# what the student keeps of its teacher's function (kit.model.results.Correction.label)
CORRECTION = said(
    "what LOSO kept of the correction",
    "the student is the teacher's function: no spread or correction kept more held-out encodes within {t} than its "
    "{w} of {n}{real}{folds}",
    "the teacher's function with {kept}: {ws} of {n} held-out encodes within {t} (the function: {w}){real}{folds}",
    t=N, w=COUNT, n=COUNT, ws=COUNT,
    kept=said("what the student keeps", "its clip at a spread x {f}", "{s} x its correction",
              "its clip at a spread x {f} and {s} x its correction", f=N, s=N),
    real=opt("the public encodes", "; on the kit's {re} public encodes of {rc} clips, each held out, {rs} (the "
             "function: {rt})", re=COUNT, rc=COUNT, rs=COUNT, rt=COUNT),
    folds=opt("each fold's student", "; the held-out figures and gates judge each fold's student at its own factors "
              "({sp}corrections {cs}): {fs} of {fn} within, not the export",
              sp=opt("the folds' spreads", "spreads {ks}; ", ks=NUMBERS), cs=NUMBERS, fs=COUNT, fn=COUNT))
BASELINE_INPUTS = said("a baseline's inputs", "six z-scored features", "ten z-scored features",
                       "six z-scored features + codec block (same as the ensemble)",
                       "ten z-scored features + codec block (same as the ensemble)",
                       "the six raw features, as libvmaf computes its score from them",
                       Template("n features", "{n} z-scored features", n=COUNT))
BASELINE_RECIPE = said("a baseline's recipe", "the ensemble's (Adam, MSE on vmaf, same epochs and batches)")

# ------------------------------------------------------------------------------------------------------ the verdict
FIGURE_KIND = Exact("a kind of figure", [*DEFINITIONS, *FIGURE_KINDS.values()])
KEEP = Either("what to do with the tarball", Exact("send it back", [SEND_BACK]), Exact("nothing to send",
                                                                                      NOTHING_TO_SEND.values()))
KEEP_CAPITAL = Exact("what to do, said first", [t[0].upper() + t[1:] for t in (SEND_BACK, *NOTHING_TO_SEND.values())])
SETTING = Match("a flag and its threshold", r"--[a-z-]{2,40} "
                                            r"(?:(?:mean|harmonic_mean|p1|min):)?[-+]?\d{1,12}(?:\.\d{1,12})?(?:e[-+]?\d{1,3})?")
MORE = opt("how many more fail", Template("more", " ({n} more {what}(s) too)", n=COUNT,
                                          what=Exact("what", ["source", "clip", "content group", "group"])))
SHORTFALL = Template(
    "the input's shortfall", "the input falls short on {k} of {n} encodes (the ceiling misses them, so no gate counts "
    "them against the student): {said}{more}{beaten}", k=COUNT, n=COUNT,
    said=Joined("contents", Template("a content's shortfall", "content {s} {a} of {b}", s=SOURCES, a=COUNT, b=COUNT),
                ", "),
    more=opt("more", " and {m} more", m=COUNT),
    beaten=opt("the student's", "; the student lands within on {x} of them", x=COUNT))
POOL_WORDS_K = Exact("a pooling's words", POOL_WORDS.values())
CLIP_ERROR_STATEMENT = Template("a clip error gate's statement",
                                "the {pool}-pooled prediction of held-out clip {clip} is {e} VMAF points from its "
                                "teacher's (per clip, frames pooled)", pool=POOL_WORDS_K, clip=ENCODE, e=N)
RANGE_STATEMENT = Template("the range gate's statement",
                           "source {src}: {p} of its held-out predictions lie outside [0, 100]", src=SOURCE, p=PCT)
HOLDOUT_STATEMENT = Template("a holdout gate's statement",
                             "held-out {kind} {g}: PLCC {p}, RMSE {r} on {n} frames it never saw",
                             kind=Exact("a holdout", ["encoder", "box", "rung"]),
                             g=Either("a group", ENCODER, A_BOX, Match("a rung", r"native|\d\.\d{2}x")),
                             p=N, r=N, n=COUNT)
UNBOUNDED_REASON = Template("why an interval is unbounded",
                            "{n} content group(s) cannot bound a {l} interval: the threshold is the ceil((n+1) x {x}) "
                            "= "
                            "{k}-th smallest of {n2} scores; it needs at least {m} groups", n=COUNT, l=LEVEL, x=N,
                            k=COUNT, n2=COUNT, m=COUNT)
COVERAGE_STATEMENT = said("the coverage gate's statement",
                          "held-out coverage at {l} nominal is {p}",
                          "the {l} interval is unbounded: {why}; there is no coverage to state",
                          "the {l} interval is unbounded once a row's own group is left out of its calibration: "
                          "{why}; there is no coverage to state", l=LEVEL, p=PCT, why=UNBOUNDED_REASON)
POOL_WORDS_SHARE = said("what a share gate counts",
                        "the student within {t} VMAF on the held-out encodes, as vmaf-tune samples them (no ceiling: "
                        "every one)",
                        "the student within {t} VMAF on the held-out encodes, each whole encode: no window placed (no "
                        "ceiling: every one)",
                        "the student within {t} VMAF on the held-out encodes the input can carry (the ceiling within, "
                        "as vmaf-tune samples them)",
                        "the student within {t} VMAF on the held-out encodes the input can carry (the ceiling within, "
                        "each whole encode: no window placed)", t=N)
POOLED = said("a share of a pool", "{p} of {n}", "none of 0", p=PCT, n=COUNT)
NAMED_GROUP = said("a group and its figure", "{g} {pooled}",
                   "{g} {p} under (the student {w} of {n}, the ceiling {c} of {n2})", g=GROUP_LABEL, pooled=POOLED,
                   p=PCT, w=COUNT, n=COUNT, c=COUNT, n2=COUNT)
NAMED_GROUPS = Template("groups and their figures", "{groups}{more}", groups=Joined("groups", NAMED_GROUP),
                        more=opt("more", " and {n} more", n=COUNT))
EMPTY_POOL = Template("a content group with an empty pool",
                      "{g}: the ceiling lands within on none of its {n} encodes, so no share is judged there (the "
                      "student {w} of {n2})", g=GROUP_LABEL, n=COUNT, w=COUNT, n2=COUNT)
EMPTY_POOLS = opt("the content groups with an empty pool", "; {pools}{more}", pools=Joined("pools", EMPTY_POOL, "; "),
                  more=opt("more", " and {n} more such", n=COUNT))
NOT_COUNTED = said(
    "the held-out encodes not counted",
    "{n} held-out encodes not counted: {why}", n=COUNT,
    why=Joined("why", said("a why", "{k} of {encs}, which vmaf-tune has no slot for (it cannot ask about them)",
                           "{k} at a CRF outside {lo}-{hi}, which vmaf-tune does not query",
                           "{k} of {encs} whose fold trained on no other content's rows of that encoder", k=COUNT,
                           encs=Joined("encoders", ENCODER), lo=COUNT, hi=COUNT), "; "))
NO_ENCODE_WHY = NOT_COUNTED
CONSUMER_STATEMENT = said(
    "a consumer gate's statement",
    "{tol}: {named}{whole}{empty}", "every content group, {tol}: lowest {g} {pooled}{empty}",
    "{tol}: all {pooled}{lowest}{empty}",
    tol=POOL_WORDS_SHARE, named=NAMED_GROUPS, whole=opt("all", " (all {pooled})", pooled=POOLED), empty=EMPTY_POOLS,
    g=GROUP_LABEL, pooled=POOLED, lowest=opt("lowest", "; lowest {g} {pooled}", g=GROUP_LABEL, pooled=POOLED))
CEILING_HEAD = said("what the ceiling gap gate compares",
                    "each content group's share of all its held-out encodes within {t} VMAF (as vmaf-tune samples "
                    "them), against the ceiling's",
                    "each content group's share of all its held-out encodes within {t} VMAF (each whole encode), "
                    "against the ceiling's", t=N)
CEILING_STATEMENT = said(
    "the ceiling gap gate's statement",
    "off: no content group is held to its ceiling", "{head}: {named}",
    "{head}: the student at or above the ceiling on every content group", "{head}: largest {named}",
    head=CEILING_HEAD, named=NAMED_GROUPS)
# which student a consumer gate judges, where a fold keeps other factors than the export (kit.verdict.decide.whose)
WHOSE = Template("the students judged", "judging each fold's student at its own factors ({sp}corrections {cs}), not "
                 "the export", sp=opt("the folds' spreads", "spreads {ks}; ", ks=NUMBERS), cs=NUMBERS)
LIMIT_STATEMENT = Either("a gate's statement", COVERAGE_STATEMENT, RANGE_STATEMENT, HOLDOUT_STATEMENT,
                         CLIP_ERROR_STATEMENT, CONSUMER_STATEMENT, CEILING_STATEMENT,
                         Template("a consumer gate's, of the folds' students", "{whose}: {st}", whose=WHOSE,
                                  st=Either("a consumer gate's statement", CONSUMER_STATEMENT, CEILING_STATEMENT)))
# why a gate's figures judge nothing at all (kit.verdict.decide: its passes null)
UNJUDGED_WHY = Exact("why figures judge nothing", (TAUTOLOGY, SEEDS_ALIKE))
NOT_JUDGED = said(
    "why a gate judged nothing", UNJUDGED_WHY, "no held-out source in the breakdown",
    "the folds table has no {c} column (an older kit's)", "no held-out source",
    "no held-out {kind}: no row of any {kind2} was predicted",
    "no held-out encode vmaf-tune can query ({why})",
    "the ceiling lands within {t} on none of the {n} held-out encodes{empty}",
    "no ceiling: {why2}",
    c=Exact("a column", ["bias", "rmse"]), kind=Exact("a holdout", ["encoder", "box", "rung"]),
    kind2=Exact("a holdout", ["encoder", "box", "rung"]), why=Either("why", Exact("none", ["none held out"]),
                                                                     NO_ENCODE_WHY),
    t=N, n=COUNT, empty=EMPTY_POOLS, why2=Either("no ceiling", Exact("words", [NO_CEILING,
                                                                               "the teacher gives no ceiling here"])))
LIMIT_STATEMENT_OR_NOT = Either("a gate row's statement", LIMIT_STATEMENT,
                                Template("not judged", "not judged: {why}", why=NOT_JUDGED))
EVIDENCE_STATEMENT = said("the evidence gate's statement",
                          "{n} content groups (no floor: --min-content-groups off)",
                          "{n} content groups, at least the {m} PROMOTE needs",
                          "{n} content groups; PROMOTE needs at least {m} (--min-content-groups)",
                          "{n} content group; PROMOTE needs at least {m} (--min-content-groups)", n=COUNT, m=COUNT)
LIFT_STATEMENT = said(
    "the lift's statement",
    "The ensemble is worse than a ridge regression, which predicts every held-out frame exactly ({e} vs {r}, each a "
    "mean over content groups).",
    "The ensemble and a ridge regression could not be compared on RMSE ({e} vs {r}, each a mean over content groups).",
    "The ensemble is worse than a ridge regression: its RMSE is {x}x the ridge's ({e} vs {r}, each a mean over "
    "content groups).",
    "The ensemble adds little over a ridge regression: its RMSE is {x}x the ridge's ({e} vs {r}, each a mean over "
    "content groups).",
    "The ensemble cuts RMSE to {x}x a ridge regression's ({e} vs {r}, each a mean over content groups) and changes "
    "PLCC by {d}.", e=N, r=N, x=N, d=N)
CHALLENGER_STATEMENT = said(
    "the challenger's statement",
    "The challenger beats the incumbent by {m} PLCC, more than the seed spread {s}.",
    "The challenger does not beat the incumbent by more than the seed spread ({m} PLCC vs spread {s}).", m=N, s=N)
PER_SOURCE_SAID = said("a per-source gate's figure", "is off by {v} VMAF points on average (either way)",
                       "has RMSE {v}", v=N)
GATE_REASON = said(
    "a failing gate, as the recommendation says it",
    "{st}, beyond {set}{more}", "source {src} {fig}, beyond {set}{more}", "{st}: below {set}",
    "held-out {groups} below {set} ({st})", "{st}, below {set}", "{st} ({set})",
    st=LIMIT_STATEMENT_OR_NOT, set=SETTING, more=MORE, src=SOURCE, fig=PER_SOURCE_SAID,
    groups=Joined("held-out groups", Either("a group", ENCODER, A_BOX, RUNG)))
LIFT_REASON = said(
    "why the lift gate failed",
    "the ensemble is worse than the ridge baseline trained beside it: the ridge baseline predicts every held-out frame "
    "exactly and the ensemble does not",
    "the ensemble's RMSE could not be compared with the ridge baseline's (--min-rmse-lift {t})",
    "the ensemble is worse than the ridge baseline trained beside it: ensemble RMSE is {x}x the ridge baseline's (mean "
    "over content groups), above --min-rmse-lift {t}",
    "ensemble RMSE is {x}x the ridge baseline's (mean over content groups), above --min-rmse-lift {t}", t=N, x=N)
HOLD_REASON = Either(
    "a reason to hold", EVIDENCE_STATEMENT, GATE_REASON, LIFT_REASON,
    Template("a challenger's", "{s}", s=Match("a challenger's words", r"The challenger does not beat the incumbent by "
                                                                      r"more than the seed spread \([-+]?\d+\.\d+ PLCC "
                                                                      r"vs spread \d+\.\d+\)")),
    said("the missing sources", "{k} of {n} source(s) have no held-out results (a fold failed): {srcs}{more}",
         k=COUNT, n=COUNT, srcs=Joined("sources", SOURCE), more=opt("more", " and {m} more", m=COUNT)),
    said("a PLCC gate", "mean PLCC {p} (mean over content groups) is below {t}", "seed spread {p} exceeds {t}",
         "seeds [{seeds}] are below {t}", p=N, t=N, seeds=Joined("seeds", COUNT)),
    said("a constant teacher", "the teacher scores every frame of every source the same ({v}): no correlation can be "
         "measured", v=N))
SUSPECT = Template("a suspect teacher",
                   "{src} {enc} at its own size: mean teacher {b} at cq {bc}{worst}: {why}",
                   src=SOURCE, enc=ENCODER, b=N, bc=COUNT,
                   worst=opt("its worst", " (best) to {w} at cq {wc} (worst) of cq {cqs}", w=N, wc=COUNT,
                             cqs=Joined("settings", COUNT, ",")),
                   why=Joined("why", said("a why", "under {f} at its best setting",
                                          "falls {d}, under {m}: flat", f=N, d=N, m=N), " and "))
SUSPECTS = Template("the suspect teachers",
                    "suspect teacher on {n} source(s): {s}{more} (teacher_suspects in the verdict file; a warning, not "
                    "a gate)", n=COUNT, s=Joined("suspects", SUSPECT, "; "),
                    more=opt("more", "; and {m} more", m=COUNT))
WITH_SUSPECTS = opt("the suspects after the recommendation",
                    " WARNING: {s}; check these sources' teacher scores (docs/verdict.md, \"Plausibility of the "
                    "teacher\") before trusting the figures.", s=SUSPECTS)
NAMED_SHORTFALL = opt("the shortfall", " As vmaf-tune samples, {s}.", s=SHORTFALL)
RECOMMENDATION = said(
    "the recommendation",
    "PROMOTE: export the per-seed ONNX models; {keep}.{short}{sus}",
    "PROMOTE: export the per-seed ONNX models and send the results tarball back.{short}{sus}",
    "HOLD: {reasons}. {then}; do not ship these models.{short}{sus}",
    keep=Exact("nothing to send", NOTHING_TO_SEND.values()), short=NAMED_SHORTFALL, sus=WITH_SUSPECTS,
    reasons=Joined("reasons", HOLD_REASON, "; "), then=KEEP_CAPITAL)
PLCC_MEASURES = said("what PLCC measures",
                     "PLCC, SROCC and KROCC measure per-frame agreement with the {t} teacher on sources held out of "
                     "training (leave-one-source-out), not agreement with human opinion scores; no logistic mapping "
                     "is applied before PLCC.", t=Either("teachers", TEACHER, Template("mixed", "mixed: {ts}",
                                                                                        ts=Joined("ts", TEACHER))))
WORST_REASON = Joined("what makes a source worst", said("a criterion", "PLCC {v}", "RMSE {v}", "bias {v}", v=N))
COVERAGE_REASON = said("why a group has no coverage",
                       "unbounded at {levels} for rows of this group (too few content groups: the verdict's "
                       "intervals.levels say why): no coverage or width there", levels=LEVELS)
LEVEL_REASON = said("why a level has no coverage",
                    "{why}: no coverage or width is given",
                    "{p} of the held-out rows have no finite {l} interval once their own content group is left out of "
                    "the calibration (a spread of zero): no coverage or width is given",
                    "bounded with all {n} content groups, but not once a row's own group is left out of its "
                    "calibration: {why}; its coverage on content it was not calibrated on cannot be measured, so no "
                    "coverage or width is given", why=UNBOUNDED_REASON, n=COUNT, p=PCT, l=LEVEL)
Q_REASON = said("why the intervals are absolute",
                "one seed: no ensemble spread to scale by, so the intervals are absolute (q_abs, VMAF points)",
                "on {k} of the {n} held-out rows the members agree exactly and the teacher differs from them (a "
                "student that is its teacher's function has no spread): no spread to scale by, so the intervals are "
                "absolute (q_abs, VMAF points)", UNBOUNDED_REASON, k=COUNT, n=COUNT)
COVERAGE_WARNING = said("a coverage far below nominal",
                        "held-out coverage at 95 % nominal is {p}, more than {s} below: the intervals are too narrow "
                        "for new sources", p=PCT, s=PCT)
CLIP_USE_NOTE = said(
    "what the intervals say per clip",
    "{n} encodes held out (a source at one encoder, cq and rung), each predicted from the mean of its frames' "
    "features: RMSE {r} against the encode's mean teacher score; the frame-level {l} interval is unbounded for some "
    "of them (too few content groups to calibrate without their own), so it is not measured per clip{at}",
    "{n} encodes held out (a source at one encoder, cq and rung), each predicted from the mean of its frames' "
    "features: RMSE {r} against the encode's mean teacher score; {p} inside the frame-level {l} interval, so the "
    "intervals hold for per-clip use",
    "{n} encodes held out (a source at one encoder, cq and rung), each predicted from the mean of its frames' "
    "features: RMSE {r} against the encode's mean teacher score; {p} inside the frame-level {l} interval, so the "
    "intervals do not hold for per-clip use: use the calibration sidecar's clip residuals",
    n=COUNT, r=N, l=LEVEL, p=PCT, at=opt("measured levels", "; at {m} of clips are inside",
                                         m=Joined("measured", Template("a level's share", "{k}% {p}", k=N, p=PCT))))
EXPORTED_REASON = said(
    "why no interval is exported",
    "{why}{fallback}", why=said("the first part",
                                "one seed: the members have no spread, so upstream's recipe mu +- q sigma has no "
                                "interval to give; the verdict's absolute intervals (q_abs, VMAF points) are not "
                                "exported",
                                "the members agree exactly on held-out rows the teacher scores apart "
                                "(intervals.q_reason), so upstream's recipe mu +- q sigma has no multiplier to give; "
                                "the verdict's absolute intervals (q_abs, VMAF points) are not exported",
                                UNBOUNDED_REASON),
    fallback=opt("the fallback", ". The members' spread alone is no interval: upstream's Gaussian fallback mu +- {z} "
                                 "sigma covers {p} of the held-out rows at a nominal {l}, so it is not exported either",
                 z=N, p=PCT, l=LEVEL))
_HELD = Either("a held-out group", ENCODER, A_BOX, RUNG)
_HOLDOUT = Exact("a holdout", ("encoder", "box", "rung"))
_SHOWN_GROUPS = Template("held-out groups", "{gs}{more}", gs=Joined("groups", _HELD, ", "),
                         more=opt("more", " and {n} more", n=COUNT))
HOLDOUT_SCHEME = said(
    "how a holdout's folds were cut",
    "every {kind} ({shown}) left out in turn, crossed with {label} over contents: a row is predicted by members that "
    "saw neither its {kind2} nor its content{left}", kind=_HOLDOUT, kind2=_HOLDOUT, shown=_SHOWN_GROUPS,
    label=Either("a fold scheme", Exact("LOSO", ("LOSO",)), Template("k folds", "grouped {k}-fold", k=COUNT)),
    left=opt("rows left out", "; {a} of {b} rows left out ({counts}): in their fold no row of another {kind3} is "
             "left to train on", a=COUNT, b=COUNT, kind3=_HOLDOUT,
             counts=Joined("counts", Template("a count", "{n} of {v}", n=COUNT, v=_HELD), ", ")))
HOLDOUT_LEFT_OUT = Template(
    "what a holdout left out", "{left} of {n} rows were left out of this validation: a held-out {kind}'s rows in a "
    "fold where no row of another {kind2} is left to train on (of {counts})", left=COUNT, n=COUNT, kind=_HOLDOUT,
    kind2=_HOLDOUT, counts=Joined("counts", Template("a count", "{v} {n}", v=_HELD, n=COUNT), ", "))
CONSUMER_WORDS = Either("a consumer's words", Exact("the consumer's how", [CONSUMER_HOW]),
                        Exact("codec blind", [CODEC_BLIND]), Exact("no pool", [NO_POOL]))
JUDGED_HOW = said(
    "which prediction the consumer gates judge",
    "each whole encode's mean features: no window could be placed (the corpus gives no frame rate), so vmaf-tune's "
    "sampling is not measured and the gates judge the whole encode",
    "as vmaf-tune samples a clip (its first {w} s against the whole clip): no clip here is longer than {w2} s, so each "
    "encode is its own window and is judged whole",
    "as vmaf-tune samples a clip: each encode predicted from the mean features of its first {w} s (the frames cut "
    "from the whole encode) against the whole encode's teacher score, what vmaf-tune's verify encode measures; {k} of "
    "the {n} encodes are of clips longer than {w2} s (a shorter clip is its own window)", w=N, w2=N, k=COUNT, n=COUNT)
JUDGED_POOL = said("the consumer's pool",
                   "the encodes the ceiling (the teacher's own function of the same mean features) lands within {t} "
                   "on, as vmaf-tune samples them: the encodes the input can carry; the others are the input's "
                   "shortfall, counted against the student by no gate", NO_POOL, t=N)
UNTRAINED_WHY = said("why a slot is untrained",
                     "no slot in the kit's models (their codec vocabulary): vmaf-tune's rows of it run with an empty "
                     "one-hot",
                     "no row of the training corpus: vmaf-tune's one-hot sets a slot the models never learnt, so its "
                     "predictions there are extrapolation")
TRAINS_IT = Template("what would train a slot", "--encoders {encs}{where}", encs=Joined("encoders", ENCODER, ","),
                     where=opt("a box", " on a box with {host} {engine}",
                               host=Exact("a host", sorted({s.traits.host for s in SPECS.values()})),
                               engine=Exact("an engine", ["NVENC", "Quick Sync", "VA-API", "VideoToolbox", "AMF"])))
TRAINS_SLOTS = Joined("which --encoders would train the slots",
                    said("a kind of slot", "{e} (--encoders {all} trains them)",
                         "{e} (add them to --encoders on a box with their hardware)",
                         "{e} (no slot in the kit's models: no --encoders trains them)",
                         e=Joined("encoders", ENCODER), all=Joined("encoders", ENCODER, ",")), "; ")
NO_CEILING_WHY = said("why there is no ceiling", NO_CEILING,
                      "{t} reads features of its own ({f}) that vmaf-tune does not feed, so no function of the six it "
                      "feeds is this teacher: the ceiling is absent, not computed on another input",
                      "{t}'s function was not reproduced from the stored features ({why})", t=TEACHER, f=OWN_FEATURES,
                      why=TEACHER_FN_REASON)
CONTENT_WARNING = Template(
    "a content whose window is not its clip",
    "{names}: its first {w} s lie {g} VMAF from the whole clip at {enc} CRF {cq} ({k} of its {n} held-out encodes "
    "beyond {t}): vmaf-tune's fast path judges it by a window that is not the clip, and its verify encode flags the "
    "pick there", names=SOURCES, w=N, g=N, enc=ENCODER, cq=COUNT, k=COUNT, n=COUNT, t=N)
FIGURES = (METHOD, FORMULA, UNIT, EXPORTED_RECIPE, SIDECAR_CALIBRATES, UNBOUNDED_WHY, POOLING_HOW)
INTERVAL_WORDS = Exact("the intervals' words", FIGURES)

# ------------------------------------------------------------------------------------------------- a step log's lines
LOG_STEP = said("a step starts or ends", "step {s} done in {t} s", "step {s} starts: {why}", s=STEP, t=N,
                why=Match("a rerun's reason", r"(?!)"))


PLATFORM = Template("a platform", "{s}-{m}", s=Exact("a system", ("linux", "darwin", "windows", "other")),
                    m=Exact("a machine", ("x86_64", "arm64", "other")))
JOB_ID = Template("a job", "{src}-{sha}__{enc}__cq{cq}{at}", src=JOB_SLUG,
                  sha=Match("a digest", r"[0-9a-f]{10}"),
                  enc=ENCODER, cq=Match("a quality step", r"\d{3}"),
                  at=Either("its rung", NOTHING, Template("a rung", "__{size}", size=SIZE)))
MODEL_NAME = Match("a model's name", r"fr_regressor_v2(?:_[a-z0-9_]{1,40})?(?:_seed\d{1,6})?")
MODEL_FILE = Match("a model's file", r"fr_regressor_v2(?:_[a-z0-9_]{1,40})?(?:_seed\d{1,6})?(?:_calibration)?"
                                     r"\.(?:onnx|json)")
MIXED_TEACHERS = Template("mixed teachers", "mixed: {ts}", ts=Joined("teachers", TEACHER))
FIGURE_KEY = Either("a block of the verdict", IDENTIFIER,
                    Template("a block of one", "{a}.{b}", a=IDENTIFIER, b=IDENTIFIER))
GATE_WORST = Either("what a gate names worst", Exact("pooled", ["pooled"]), GROUP_LABEL, ENCODE, SOURCE, ENCODER,
                    A_BOX, RUNG, Exact("none", ["no held-out clip"]))

BATCH = Either("a dimension", Exact("batch", ("batch",)), NUMBER)
SIGSTORE_FILE = Match("a sigstore bundle's name", r"fr_regressor_v2[a-z0-9_]{0,60}\.onnx\.sigstore(?:\.json)?")

# ------------------------------------------------------------------------------------------------ prereqs.json (sent)
TEST_ENCODE = Match("a test encode's size and frames", r"\d{1,5}x\d{1,5}")
PROBE_REASON = said(
    "a test encode's result",
    "{size} test encode decoded back, {n} frames exact",
    "{size} {pf} test encode decoded back as {pf2}, {n} frames exact",
    "the test encode decodes to {k} frames, not {n}",
    "the {pf} test encode decodes as {pf2}, not {pf3}: the encoder does not keep 10 bit",
    "test encode: {end}", "decoding the test encode back: {end}", "ffmpeg exit {code}",
    "test encode failed: {fail}",
    "{enc} has no 10-bit encode", "Intel Quick Sync encodes H.264 in 8 bit only", "VA-API encodes H.264 in 8 bit only",
    "VideoToolbox encodes H.264 in 8 bit only", "AMF encodes H.264 in 8 bit only",
    "this ffmpeg's {enc} takes no 10-bit input (it lists {pfs}; {pf} is not among them)",
    size=TEST_ENCODE, n=COUNT, k=Match("a count", r"-?\d{1,9}"), pf=PIX_FMT,
    pf2=PIX_FMT, pf3=PIX_FMT,
    end=Template("how a child ended", "{p} {f}", p=Exact("a program", ("ffmpeg",)), f=FAILURE),
    code=Match("an exit code", r"-?\d{1,10}"), fail=FAILURE, enc=ENCODER,
    pfs=Joined("pixel formats", PIX_FMT, " "))
PROBE_FIX = Either("a test encode's fix", NOTHING, Exact("a fix", (
    "no usable NVIDIA driver (libcuda) here: NVENC needs an NVIDIA GPU with its driver loaded",
    "this GPU has no NVENC engine (data-centre GPUs such as A100/H100 lack it): use the CPU encoders",
    "the NVIDIA driver is older than this ffmpeg's NVENC API: update the driver",
    "all NVENC sessions are busy (consumer GPUs cap concurrent encodes): retry when other encodes finish",
    "the VA-API driver cannot open the render node: install intel-media-va-driver (iHD), export LIBVA_DRIVER_NAME=iHD, "
    "and check you are in the render/video group (in a container: --device /dev/dri)",
    "the VA-API driver cannot open the render node: install Mesa's VA-API driver (mesa-va-drivers, radeonsi), export "
    "LIBVA_DRIVER_NAME=radeonsi, and check you are in the render/video group (in a container: --device /dev/dri)",
    "no oneVPL runtime for this GPU: install libvpl2/libmfx-gen1 and intel-media-va-driver (iHD)",
    "no AMD AMF runtime here: AMF needs an AMD GPU with AMD's driver (on Windows, Adrenalin installs amfrt64.dll); on "
    "Linux an AMD GPU encodes through VA-API (--encoders h264_vaapi,hevc_vaapi)",
    "run this encoder on a Mac", "run this encoder on a box with an NVIDIA GPU",
    "no Intel/AMD GPU is visible: install its driver (in a container pass --device /dev/dri)",
    "VideoToolbox constant quality (-q:v) needs Apple silicon; this Mac cannot run it at a fixed quality",
    "no hardware VideoToolbox encoder here (a virtual machine?)")),
    Template("a fix naming the kit", "use an ffmpeg that has it: --ffmpeg PATH or `{kit} binaries stage`",
             kit=Either("the kit", Exact("the kit's command", ("ensemble-kit", ".venv/bin/ensemble-kit",
                                                                 "python -m kit")), PATH)))
PROBE_TESTED = said(
    "why an encoder was test-encoded now",
    "a new test encode was asked for (--refresh)",
    "the probe cache holds no result for this ffmpeg build and host (a first run here, or a new ffmpeg build, driver, "
    "GPU or render node)", "the probe cache was damaged (the step log names it): it is rebuilt",
    "its cached result was a failure that may pass another time (tested again)",
    "the cache holds its test encode at cq {cqs}, not at cq {cq}: the first value of this run's --cqs for it, which "
    "its "
    "test encode is made at",
    "the cache holds another test encode of it (its flags or device differ from this kit's)",
    "never tested with this ffmpeg build on this host", cqs=Joined("cq values", COUNT), cq=COUNT)
HW_FILTER = Either("a hardware upload filter", NOTHING, Template("an upload", "format={pf},hwupload{extra}",
                                                                 pf=Exact("a format", ("nv12", "p010le")),
                                                                 extra=opt("extra frames", "=extra_hw_frames={n}",
                                                                           n=COUNT)))
FAMILY_LABEL = said("a family's label", "CPU", "Intel (Linux)", "AMD (Windows)", "NVIDIA ({s})", "macOS ({m})",
                    s=Exact("a system", ("Linux", "Windows")), m=Exact("a machine", ("x86_64", "arm64", "other")))

# a driver's version as typed (kit.infra.typed.numbers_or_version), or `?` where the system gave none
DRIVER_VERSION = Either("a driver's version", VERSION, Match("a driver's numbers", typed.NUMBERS_PATTERN),
                        Exact("none given", ("?",)))
FAMILY_EVIDENCE = said(
    "what nominated a family (its typed forms)", DEVICE,
    "nvidia-smi: {gpus}", "{node} ({vendor} {driver}, VA driver {va})", "{gpu} (driver {v}); {runtime}",
    gpus=said("the GPUs, typed", "{count}{gpu} (driver {v})", "first NVENC-capable of {gs} (driver {v})",
              count=opt("a count", "{n}x ", n=COUNT), gpu=DEVICE, gs=Joined("GPUs", DEVICE, ", "),
              v=DRIVER_VERSION),
    node=Match("a render node", r"/dev/dri/renderD\d{1,4}"),
    vendor=Either("a vendor", Exact("a vendor", ("Intel", "AMD", "NVIDIA", "unknown vendor")),
                  Match("a PCI vendor", r"0x[0-9a-f]{4}")),
    driver=Match("a kernel driver", r"i915|xe|amdgpu|radeon|nvidia|nouveau|virtio_gpu|other|driver \?"),
    va=Either("a VA driver", VERSION, Exact("default", ("default",)),
              Match("LIBVA_DRIVER_NAME", r"LIBVA_DRIVER_NAME=(?:iHD|i965|radeonsi|r600|nouveau|nvidia|vdpau|d3d12|"
                                         r"virtio_gpu|other)")),
    gpu=DEVICE, v=DRIVER_VERSION,
    runtime=Either("the AMF runtime", Exact("none", ("no AMF runtime (amfrt64.dll) found",)),
                   Template("its place", "AMF runtime {p}", p=PATH)))
NVIDIA_SMI = Exact("what nvidia-smi said, typed (none, ok, or failed: its words stay on the box)", ("", "ok", "failed"))

# --------------------------------------------------------------------------------------------------- the shard manifest
SCORING_NOTE = said(
    "how a clip was scored", NOTHING,
    "scored in its own {s}, the {e} encode converted to it, on purpose: a plain `ffmpeg -i ENCODE -i REF -lavfi "
    "libvmaf` scores in {e2} (docs/design/pixel-formats.md measures the difference)",
    "converted to {s} to be scored, as ffmpeg converts it by itself for libvmaf (docs/design/pixel-formats.md)",
    s=PIX_FMT, e=PIX_FMT,
    e2=PIX_FMT)
ORACLE_FAILURE = said(
    "what the independent check found wrong", NOTHING,
    "frame {f} scores {a} in the corpus but {b} scored on its own (libvmaf on the same encode and the clip decoded "
    "from its file): they differ by {d}, over {t}", f=COUNT, a=NUMBER, b=NUMBER, d=NUMBER, t=NUMBER)
LOW_BITRATE = Template(
    "a heavily compressed reference",
    "{path}: its own bitrate is {k} kb/s ({bpp} bits per pixel, under {lim}): a heavily compressed reference, whose "
    "own artefacts the encodes are scored against; use a higher-quality master of it if there is one",
    path=PATH, k=NUMBER, bpp=NUMBER, lim=NUMBER)
SHARD_WARNING = said("a shard's warning", LOW_BITRATE)
# what joined two sources (kit.corpus.contents: a signature's ruling, kit.media.identity's words, or the user's word)
SOURCE_LABEL = Template("a source, its digest and box", "{src} ({sha}{box})", src=SOURCE,
                        sha=Match("8 digits of a sha256", r"[0-9a-f]{8}"),
                        box=opt("its box", " on {b}", b=BOX_NAMED))
_LENGTHS = opt("their lengths", ", {a} vs {b} frames", a=COUNT, b=COUNT)
_SHIFT = opt("an offset", ", {n}-frame offset", n=COUNT)
LIKENESS = said(
    "how alike two clips' pictures are", "frame-identical ({n} frames)",
    "flat pictures (a title card, a colour field: {p} or more of each on one level): thumbnail distance {d} cannot "
    "tell them apart{lengths}",
    "near-duplicate: thumbnail distance {d} (match <= {m}){shift}{lengths}",
    "alike: thumbnail distance {d} (match <= {m}, different > {x}){shift}{lengths}",
    "different: thumbnail distance {d} (> {x})", n=COUNT, p=PCT, d=N, m=N, x=N, lengths=_LENGTHS, shift=_SHIFT)
_BARS = said("the bars a signature was taken inside", "{s} compared inside its {kind} bars ({sides})", s=SOURCE,
             kind=Exact("bars", ("letterbox", "pillarbox", "letterbox and pillarbox")),
             sides=Joined("sides", Template("a side", "{p} {side}", p=PCT,
                                            side=Exact("a side", ("top", "bottom", "left", "right"))), ", "))
LIKENESS_DETAIL = Template("what the signature found", "{like}{bars}", like=LIKENESS,
                           bars=Either("bars", NOTHING, Template("; bars", "; {b}", b=_BARS),
                                       Template("; bars twice", "; {b}; {b2}", b=_BARS, b2=_BARS)))
_SELECTORS = Joined("sources as a --content-groups file names them", SOURCE, ", ")
_PAIR = Template("two sources, as a --content-groups file holds them", '{{"{w}": [["{a}", "{b}"]]}}',
                 w=Exact("a word", ("different", "same")), a=SOURCE, b=SOURCE)
CONTENT_RULING = said(
    "why sources are one content", "{a} ~ {b}: {detail}; if they are different contents: {pair}",
    "{sels}: one content by --content-groups", a=SOURCE_LABEL, b=SOURCE_LABEL, detail=LIKENESS_DETAIL, pair=_PAIR,
    sels=_SELECTORS)
_RULING_PAIR = Template("two sources, as a --content-groups file holds them", '{{"{w}": [["{a}", "{b}"]]}}',
                        w=Exact("a word", ("different", "same")), a=SOURCE, b=SOURCE)
# what the corpus step says of the clips' names and contents (kit.media.discovery.Renamed, kit.corpus.contents)
CONTENT_SAID = said(
    "what the corpus step says of its sources",
    "{n} clips give the source name {q} (a file's name without its tokens of size, rate and depth): each is named by "
    "its file instead, {renamed}",
    "{a} holds the same pictures as {b} (frame-identical): encoded and scored once, as {clip}",
    "{sels} are held out together as one content, as --content-groups says",
    "{s1} and {s2} are held out together as one content ({detail}); if they are different contents, pass "
    "--content-groups FILE with FILE holding {pair}",
    "{s1} and {s2} are undecided ({detail}): kept as two contents; if they are one content, pass --content-groups "
    "FILE with FILE holding {pair}",
    n=COUNT, q=Template("a quoted name", "'{s}'", s=Either("a name", SOURCE, CLIP_STEM)),
    renamed=Joined("clips and their names", Template("a clip named", "{p} as '{s}'", p=PATH_K, s=SOURCE), ", "),
    a=PATH_K, b=PATH_K, clip=CLIP, sels=_SELECTORS, s1=SOURCE, s2=SOURCE, detail=LIKENESS_DETAIL, pair=_RULING_PAIR)
CONTENT_OVERRIDE = said("a --content-groups line applied", "same content: {sels} (--content-groups, sha256 {h})",
                        "different contents: {sels} (--content-groups, sha256 {h})", sels=_SELECTORS,
                        h=Match("12 digits of a sha256", r"[0-9a-f]{12}"))

# ------------------------------------------------------------------------------------------------ the models' cards

RECIPE_WORDS = Exact("a recipe in words", CARD_RECIPES.values())
CARD_NOTE = Exact("a model card's note", (
    FEATURES_NOTE, CQ_NORM_NOTE, SCALE_INPUT_NOTE, "one-hot encoder, then cq normalised within the encoder family",
    "the raw regression output (DESIGN: Linear(64->1), no clamp): it can fall outside the teacher's [0, 100]; clip it "
    "where a vmaf-range score is needed (exports/vmaftune/ does)",
    "held-out LOSO encodes (03_loso/encodes.parquet), each whole encode's mean features; ceiling_share: the teacher's "
    "own function on the same mean features (the teacher of the mean, not a bound: models may beat it); as_sampled: "
    "what the consumer gates count",
    "the mean of the ensemble's members (ensemble.json), +/- conformal_q_residual x their std (ddof=1)",
    f"inside the graph ({FEED_LOGGED}, then each member's own z-scoring); feature_mean/feature_std are the identity, "
    "so scaling again changes nothing: feed the raw features",
    "ignored: the models have no preset input (one preset per encoder in training)",
    "clipped to the teacher's [0, 100] inside the graph, since vmaf-tune reads it as a VMAF score; the kit's native "
    "model (exports/) keeps the raw value. out_of_range_share: the share of this seed's held-out LOSO predictions the "
    "clip changes",
    "conformal_q_residual: the ensemble's mean prediction of one frame (calibrated on frames of held-out sources; "
    "whether it holds per clip is the verdict's intervals.clip_use); the calibration sidecar: a clip predicted from "
    "its mean features. A single member's output is neither"))
VERIFIER_NOTE = Template("what vmaf-tune verifies with",
                         "vmaf-tune's fast path verifies with vmaf_v0.6.1 whatever the height (fast.py's "
                         "fast_recommend; `vmaf-tune fast --vmaf-model` defaults to it), not with this teacher, {t}: "
                         "its "
                         "1.5-point check compares a proxy of this teacher with another model's score", t=TEACHER)
ENSEMBLE_RULE = said("the ensemble's interval rule",
                     "mean of the members +/- {q} x their std (ddof=1): conformal, {l} nominal",
                     "no interval: not calibrated ({why}); the members' std alone is no interval, so no multiplier is "
                     "given (gaussian_z null)", q=NUMBER, l=LEVEL, why=EXPORTED_REASON)
GATE_MEASURES = Template("what the gate measures", "leave-one-source-out agreement with the {t} teacher",
                         t=Either("teachers", TEACHER, MIXED_TEACHERS))
LAYOUT_COLUMN = Either("a column of vmaf-tune's layout", Exact("a feature", FEATURES),
                       Template("a one-hot slot", "onehot:{e}", e=ENCODER),
                       Exact("a column", ("preset_norm (ignored)", "crf_norm")))
CRF_NORM = Template("how the CRF is normalised", "(crf - {lo}) / ({hi} - {lo2})", lo=COUNT, hi=COUNT, lo2=COUNT)
UNSEEN = Exact("an encoder the models never saw", (
    "no slot in the kit's models: its rows run with an empty encoder one-hot", UNSEEN_BLIND,
    "no row of the training corpus: predictions for it are extrapolation"))
CRF_COVERAGE_NOTE = Template("a CRF coverage's note", "CRF {bands}: no row of the training corpus; predictions there "
                             "are extrapolation in the crf input", bands=Joined("bands", CRF_BAND, " and "))
CHOSEN_MEMBER = Template("why a member was chosen",
                         "seed {s} has the highest LOSO mean PLCC of the gated seeds ({p}, RMSE {r}): of the members "
                         "it "
                         "generalised best to held-out sources", s=COUNT, p=NUMBER, r=NUMBER)
# a registry row's notes (kit.bundle.vmaftune.write_profile); one cut at MAX_NOTES matches none, and is withheld
REGISTRY_NOTES = Template(
    "a registry row's notes",
    "ensemble-kit {v} {verdict}: seed {s}, LOSO mean PLCC {p} over {n} sources, corpus sha256 {h}; teacher "
    "{t}{told}; layout vmaftune-v2-20{slots}{none}", v=Match("a kit version", r"\d{1,6}\.\d{1,6}(?:\.\d{1,6})?"),
    verdict=Exact("a verdict", ("PROMOTE", "HOLD")), s=COUNT, p=NUMBER, n=COUNT, h=Match("a digest", r"[0-9a-f]{16}"),
    t=Either("a teacher", TEACHER, Template("a model file", "{t} (model file, sha256 {h})", t=TEACHER,
                                                 h=Match("a digest", r"[0-9a-f]{12}"))),
    told=opt("what vmaf-tune verifies with", " ({note})", note=VERIFIER_NOTE),
    slots=opt("untrained slots", "; one-hot slots never trained (extrapolated): {e}",
              e=Joined("encoders", ENCODER, ",")),
    none=opt("no slots", "; no slot in the models: {e}", e=Joined("encoders", ENCODER, ",")))
COMBINE = Exact("how an ensemble's members are combined", (
    "mean of the members' vmaf outputs; their std (ddof=1) is the uncertainty",
    "mean of the members' outputs; their sample standard deviation (ddof=1) is the uncertainty"))
CALIBRATION_UNIT = Exact("a calibration's unit", (
    "VMAF points, per encode (a source at one encoder, cq and rung, predicted from its mean features)",))
CALIBRATION_NOTE = said(
    "a calibration's note",
    "UNBOUNDED: with n={n} content groups the {l} interval needs the {k}-th smallest residual and there are only {n2}: "
    "no finite interval is guaranteed to cover a new source at this level, so the sidecar holds no residual "
    "(upstream's loader would otherwise silently use the largest; with none it gives no interval and warns that the "
    "calibration is empty). Add content groups (at least {m} for this level) or use a lower level (--interval-level).",
    "one absolute residual per content group (its largest held-out per-encode miss); the {l} interval is prediction "
    "+/- the {k}-th smallest of {n}, so it covers every clip of a new source with probability at least {l2}; "
    "upstream's loader interpolates up to {u}, a little wider. It calibrates the mean of {model}'s members, not one "
    "member alone", n=COUNT, n2=COUNT, l=LEVEL, l2=LEVEL, k=COUNT, m=COUNT, u=NUMBER, model=MODEL_NAME)
CALIBRATION_REASON = said("why a calibration holds no residual",
                          "{why}; no residual is given, so no interval is read from this file", why=UNBOUNDED_REASON)
UNBOUNDED_ROWS = Template("why rows have no interval", "{levels}: {why}", levels=Joined("levels", NUMBER, ","),
                          why=Exact("why", (UNBOUNDED_WHY,)))

# ------------------------------------------------------------------------------------- the consumer as it samples
SAMPLING_WORDS = said("a sampling in words", "the {where} {w} s", "{n} windows of {r} s spread over the clip",
                      where=Exact("where", ("first", "centre")), w=NUMBER, n=COUNT, r=NUMBER)
SAMPLING_BASE = Template("what the samplings are compared on",
                         "on {n} encodes of clips longer than the window, each window encoded on its own, within {t}",
                         n=COUNT, t=NUMBER)
BEST_SAMPLING = said(
    "the best sampling",
    "none named: no window was encoded on its own (--consumer-samplings cut, or a --corpus run: the boxes' corpus "
    "steps encode them, and a merge keeps the corpus alone), and frames cut from the whole encode flatter short "
    "windows, whose own first frame a consumer's encode starts from",
    "vmaf-tune's own, {today}, serves as well as any sampling measured{tied} ({base})",
    "{best} serves better than vmaf-tune's own ({today}): {d} points of share ({base}; {cost})",
    today=SAMPLING_WORDS, best=SAMPLING_WORDS, tied=opt("tied", " (tied with {others})",
                                                        others=Joined("samplings", SAMPLING_WORDS)),
    base=SAMPLING_BASE, d=NUMBER, cost=Template("a trial's cost", "{e} encode(s) of {f} frames a trial", e=NUMBER,
                                                f=NUMBER))
SAMPLING_HOW = Template(
    "how the window is taken",
    "vmaf-tune's window as its code takes it today: the first {w} s of each held-out encode (the frames whose own "
    "timestamps lie before {w2} s, those `-t {w3}` keeps, whatever the header's rate; a clip no longer than that is "
    "its own window), their mean canonical-6 fed to the exported graph as the consumer figures feed the whole "
    "encode's, against the whole encode's teacher score (what vmaf-tune's verify encode measures). The frames are the "
    "whole encode's; vmaf-tune encodes the chunk on its own (its own first frame and rate control){measured}; the "
    "samplings compared on {on}", w=NUMBER, w2=NUMBER, w3=NUMBER,
    measured=said("what cutting leaves out",
                  ": not measured on this corpus (no window encoded on its own: see --consumer-samplings)",
                  ", which moved the prediction by {a} VMAF on average and {b} at most on this corpus "
                  "(samplings.parquet, the first window cut against encoded)", a=NUMBER, b=NUMBER),
    on=Exact("what they are compared on", (
        "no encode longer than the window",
        "every counted encode, the frames cut from the whole encodes (a clip no longer than the window is every "
        "sampling's)", "the encodes with every sampling both ways")))
NOT_MEASURED = Exact("why the samplings are not measured", (
    "no window placed: the corpus gives no frame rate (a JSONL or hand-made corpus) or vmaf-tune is not fed (another "
    "input set), so vmaf-tune's sampling is not measured",))
PLACED = Template("how the windows were placed", SAMPLING_PLACED, k=COUNT, n=COUNT, w=NUMBER)

# ---------------------------------------------------------------------------------------- a clip left out, and why

SIGNAL = Match("a signal's name", r"SIG[A-Z0-9]{2,8}|signal \d{1,3}")
# how a child ended, in the kit's words (kit.media.ffmpeg.how_it_ended, how_it_stopped): a kind of kit.infra.ended
HOW = said(
    "how a child ended", "crashed ({sig})", "failed (exit {code})", "failed (exit {code}) {short}",
    "was killed ({sig}) from outside the kit (a kill, or the system out of memory)",
    "was stopped ({sig}) from outside the kit (a kill, or a closing terminal)",
    "gave no frames for {n} s", "timed out after {n} s",
    "was stopped by a signal from outside for {n} s, its limit, while the kit ran,",
    f"ran past {TIMEOUT_S.name} ({{n}} s), which caps every command,", FAILURE,
    sig=SIGNAL, code=Match("an exit code", r"-?\d{1,10}"), n=NUMBER,
    short=Exact("what the box ran short of", ("on a full disk", "over the disk's quota", "with the box out of memory",
                                              "with the box out of open files")))
PROGRAM = Exact("a program", ("ffmpeg", "libvmaf", "ffprobe"))
JOB_DOING = Exact("what a child was doing", ("encoding", "scoring", "decoding", "in the independent check of",
                                             "decoding and encoding"))
JOB_WORDS = Template("a job", "{clip}{what} at {enc} cq {cq}{rung}", clip=CLIP,
                     what=opt("a sample's", "'s windows on their own (the consumer's samplings)"),
                     enc=ENCODER, cq=COUNT, rung=opt("a rung", " at {size}", size=SIZE))
LEFT = said("what is left out", "; its rows are left out",
            "; its rows are left out of this run, and the next run tries them again")
STALL_WORDS = Exact("whose a stop is", (STALL_SAID, CAPPED_SAID, STOPPED_SAID))
JOB_FAILED = said(
    "a job's child that failed",
    "{p} {how} {doing} {job}{left}", "{p} {how} {doing} {job}: {stall}{left}",
    "{p} wrote a log the kit cannot read {doing} {job}{left}",
    "{p} wrote a log that holds {k} frames {doing} {job}, the clip holds {n}{left}",
    p=PROGRAM, how=HOW, doing=JOB_DOING, job=JOB_WORDS, stall=STALL_WORDS, left=LEFT, k=COUNT, n=COUNT)
LOOK = Exact("a look", LOOK_DOING.values())
LOOK_WHY = said(
    "a look's limit", NOTHING, ", its limit ({n} frames' worth of its budget)", ", its limit (the time it may take)",
    ", its limit ({rule})", n=COUNT, rule=Template(
        "a look's rule", "{n} plain decodes of its {k} frames of {size} at {r} Mpx/s, the slowest the kit allows, "
        "and {s} s", n=NUMBER, k=Match("a count", r"\d{1,3}(?:,\d{3})*"), size=SIZE, r=NUMBER, s=COUNT))
LOOK_FAILED = said(
    "a look that failed",
    "ffmpeg {how} {doing}", "ffmpeg {how} opening it", "ffmpeg failed (exit {code}) on a full disk {doing}",
    "ffmpeg {how} {doing}{why}; {stall}; {kept}", "ffmpeg {how} opening it{why}; {stall}; {kept}",
    how=HOW, doing=LOOK, code=Match("an exit code", r"-?\d{1,10}"), why=LOOK_WHY, stall=STALL_WORDS,
    kept=Exact("not kept", (NOT_KEPT,)))
OF_FILE = said(
    "what a clip's file is",
    "not a readable video", "not a video: ffmpeg cannot read it", "not a video: it has no video stream (only audio)",
    "not a video: it has no video stream ({holds})", "not a video: a picture ({ext})",
    "not a video: a picture (ffmpeg reads it as {reader})", "not a video: a document ({ext})",
    "empty file (0 bytes)", "no frames",
    "a distorted encode, not a reference (Netflix naming <name>_<quality>_<height>_<bitrate>.yuv, as in the "
    "dataset's dis/ folder)", "{b} bytes is not a whole number of {size} {pf} frames ({per} bytes each)",
    "cannot fingerprint its pictures", "cannot fingerprint its pictures (the decode printed no pixel hash)",
    "cannot fingerprint its pictures (the decode gave {k} frames' thumbnails, the clip holds {n})",
    "cannot fingerprint its pictures (ffmpeg {how})",
    "cannot fingerprint its pictures (more than {n} frames: too long to fingerprint)",
    "cannot fingerprint its pictures (the decode wrote {b} bytes of thumbnails, not whole frames (a decode cut "
    "short))",
    "its lossless copy holds {k} frames, the file decodes to {n}",
    "its lossless copy holds frames that do not decode, the file decodes to {n}",
    "the check of its lossless copy printed {k} pixel hashes, not one: ffmpeg's output is not what the kit reads",
    "its lossless copy's pictures differ from the file's (pixel format {pf}, which FFV1 does not keep as it is)",
    "truncated AVI: its chunks say it is {b} bytes long, the file holds {b2}",
    "a raw MPEG-4 video stream, not an MP4 file: it holds no timestamps and its frame rate would be a guess",
    "truncated transport stream: {b} bytes is not a whole number of {k}-byte packets (it ends {n} bytes into one)",
    "its colour tags (as ffmpeg prints them) are not ones the kit can give back to its lossless copy, so its "
    "encodes would not be those a plain encode of it makes",
    "size {size} is not a picture size (1..{n} each way)",
    "{size} is too small for libvmaf to score: its {side} under {n} pixels, where libvmaf's ADM feature runs out of "
    "pyramid levels and crashes (SIGSEGV) on the first job",
    "unsupported pixel format {pf}", "{size} has an odd {odd}; every encode is 4:2:0, which needs even sizes "
    "(encoders refuse it)", "not a y4m file (no YUV4MPEG2 header)", "malformed y4m header",
    "unsupported y4m colour space", "malformed y4m: frame {k} does not start with a FRAME line (at byte {b})",
    "truncated y4m (frame {k} has {b} of its {b2} bytes)", "cannot read its geometry",
    "cannot tell its geometry from the name", "cannot look at it", "cannot read it",
    "damaged container: the demuxer skipped data; only {k} frames decode, so every job would fail on frame counts",
    "its pictures change size mid-stream ({s1} to {s2}{turned}): ffmpeg would scale the later ones to the first size, "
    "so what would be scored is not the file's pictures",
    "an image sequence of {k} pictures, {first} to {last}, not a video file",
    "a video in a container the kit does not take by its extension ({ext}; ffmpeg reads it as {reader}, {codec})",
    "not a video: ffmpeg reads it as {reader}, holding {held}",
    "a raw {ext} video stream, which holds no timestamps (its frame rate would be a guess)",
    "a folder, which the kit does not look into (it reads the files directly in --ref-dir)",
    "a named pipe (FIFO), not a file the kit reads", "a socket, not a file the kit reads",
    "a character device, not a file the kit reads", "a block device, not a file the kit reads",
    "not a regular file, not a file the kit reads", "{what} now, not a clip file (it was replaced while the kit read "
    "the folder)",
    holds=Match("what a file holds", r"only audio|only subtitles|only data|audio and subtitles|nothing"),
    ext=Match("an extension", r"\.[A-Za-z0-9]{1,8}"), reader=DEMUXER, codec=VIDEO_CODEC,
    held=Exact("what a file holds", ("audio", "subtitles", "data", "audio and subtitles", "nothing")),
    b=COUNT, b2=COUNT, size=SIZE, pf=PIX_FMT, per=COUNT, k=COUNT, n=COUNT,
    side=Match("a side", r"width (?:and height )?(?:is|are)|height is"),
    odd=Exact("a side", ("width", "height", "width and height")),
    s1=SIZE, s2=SIZE,
    turned=opt("turned", ", as its decoder gives them before their display turn"),
    how=HOW, first=CLIP, last=CLIP,
    what=Match("an entry", r"a folder|a named pipe \(FIFO\)|a socket|a link to nothing"))
CHANGED = Template("a clip that changed",
                   "{clip} changed while the run was going ({why}): rows made from it would carry the sha256 of the "
                   "content hashed at the start, so the rows of job {job} were discarded",
                   clip=PATH_K, why=Match("why", r"(?:its size|its time|its size and time) changed|it is gone"),
                   job=JOB_ID)
SKIPPED_WHY = Either("why a clip was left out", JOB_FAILED, LOOK_FAILED, OF_FILE,
                     Template("an independent check", "the independent check refused its scores (job {job}): {f}; its "
                              "rows are left out", job=JOB_ID, f=ORACLE_FAILURE),
                     Template("a link", "a symbolic link to {p}, {what}", p=PATH_K,
                              what=Match("what it is", r"a folder|a named pipe \(FIFO\)|a socket|a character device|"
                                                       r"a block device|not a regular file|which does not exist|"
                                                       r"which leads back to itself \(a loop of links\)")))
SKIPPED_REASON = Either("why a clip was left out", Template("a clip and why", "{path}: {why}", path=PATH_K,
                                                            why=SKIPPED_WHY), CHANGED)
LEFT_OUT_WHY = SKIPPED_WHY
COMMAND_K = COMMAND  # a command the kit prints: ffmpeg's, its own, or its own running ffmpeg (`ensemble-kit ffmpeg …`)
SKIPPED_FIX = Either(
    "the fix of a clip left out", NOTHING, Exact("a fix", (
        "remove it from --ref-dir", AGAIN, CAPPED_HINT, "check the file plays, or remove it from --ref-dir",
        "check the clip plays, or remove it from --ref-dir", "not the file's fault: the same command again looks at it "
        "again", "the kit's ffmpeg crashes on this file: if the file plays elsewhere, use in its place a lossless copy "
        "of it made by that player; or remove it from --ref-dir",
        "none needed, the kit reads only videos (move it out of --ref-dir to drop this line)",
        "a reference clip is a video: remove this file from --ref-dir, or put the video it belongs with there instead",
        "a reference clip is a video: remove this picture from --ref-dir",
        "move the clips it holds into --ref-dir, or give it as --ref-dir",
        "mount or restore its target, or remove the link from --ref-dir",
        "point the link at the clip, or remove it from --ref-dir",
        "check the folder's permissions, or remove it from --ref-dir",
        "check the file's permissions, or remove it from --ref-dir",
        "the file was cut short; copy it again, or remove it from --ref-dir",
        "the file was cut short; copy it again or drop it from --ref-dir",
        "copy or re-export the clip again, or remove it from --ref-dir",
        "fix the geometry in the name or sidecar, or replace the truncated file",
        "fix the size in the file name, sidecar or y4m header", "re-export the clip as y4m from its source",
        "re-export the clip as y4m, or rename it to its real extension",
        "the header's size or colour space does not match the frames, or the file is damaged; re-export it with "
        "ffmpeg -f yuv4mpegpipe",
        "put the clip back, or remove the entry from --ref-dir",
        "point --ref-dir at the reference clips (the dataset's ref/ folder); the kit makes its own encodes",
        "cut it into one clip per size where the size changes (ffmpeg's showinfo filter prints each picture's size), "
        "or remove it from --ref-dir")),
    Template("a job that fails again", "the same job fails again (job {job}): its command and stderr are in the step "
             "log (02_corpus/logs/corpus.log); fix or replace the clip, or report it with that log", job=JOB_ID),
    Template("a fix with a command", "{words}{cmd}", cmd=COMMAND_K,
             words=Exact("a fix's words", (
                 "report this with the file's first lines of ffmpeg -i; meanwhile remove it from --ref-dir, or convert "
                 "it yourself to an .mkv the kit reads as it is: ",
                 "rerun; if it says so again, remove it from --ref-dir, or convert it yourself to an .mkv the kit "
                 "reads as it is: ",
                 "remove it from --ref-dir, or convert it yourself to an .mkv the kit reads as it is, in a pixel "
                 "format "
                 "FFV1 keeps (a palette's colours as RGB): ",
                 "remove it from --ref-dir, or convert it yourself to an .mkv the kit reads as it is, its tags kept: ",
                 "convert it losslessly with the kit's ffmpeg: ",
                 "convert it losslessly into an .mkv, which the kit reads in any pixel format ffmpeg decodes (FFV1 "
                 "keeps the pictures as they are), with the kit's ffmpeg: ",
                 "crop it to an even size with the kit's ffmpeg (cropping keeps the score honest; scaling would not): ",
                 "the same command again looks at it again; should it stall there again, ffmpeg's decoder is stuck on "
                 "the file: if the file plays, use in its place the lossless copy of what ffmpeg plays of it, made "
                 "with "
                 "the kit's ffmpeg: ",
                 f"{CAPPED_FIX}; or, if the file plays, use in its place the lossless copy of what ffmpeg plays of it, "
                 "made with the kit's ffmpeg: "))),
    Template("a fix at a true rate", "{words} (e.g. {eg}) in place of RATE: {cmd}", cmd=COMMAND_K, eg=Match(
        "rates", r"\d{1,6}(?: or \d{1,6}/\d{1,6})?"), words=Exact("a fix's words", (
            "make it a clip with the kit's ffmpeg at its true frame rate", "convert it losslessly with the kit's "
                                                                           "ffmpeg "
            "at its true frame rate", "remove it from --ref-dir, or convert it losslessly with the kit's ffmpeg at its "
            "true frame rate"))))

# ------------------------------------------------------------------------------------------------- a step log's lines
RERUN_REASON = said(
    "why a step runs", "not run yet in this out-dir", "started in this out-dir but did not complete (interrupted or "
    "failed)", "its fingerprint changed", "output {rel} is missing", "output {rel} was modified",
    "--force", "an upstream step ran", Joined("what changed", said(
        "a change", "setting {key}: {old} -> {new}", "input {i} changed", "format of step {s}: {a} -> {b}{by}",
        "format of {f}: {a} -> {b}{by}",
        "recorded by kit {v}, before fingerprints held format versions (a step so recorded reruns once)",
        i=Exact("a step's input", ("ffmpeg", "clips", "corpus", "incumbent", "samples", "frame_times", "verdict",
                                   "corpus_contents", "shard", "shard.manifest.json", "skipped.json", "baselines",
                                   *(f"loso_seed{n}" for n in range(64)))),
        key=Template("a setting", "{k}{sub}", k=SETTING_KEY, sub=opt("a key", ".{x}", x=Either(
            "a key", IDENTIFIER, ENCODER))), old=SETTING_VALUE, new=SETTING_VALUE, k=SETTING_KEY, s=STEP,
        f=Exact("a format", ("corpus job rows", "lossless copy", "score conversion")),
        a=Either("a format", COUNT, Exact("none", ("(none)",))), b=COUNT,
        by=opt("kits", " (kit {v1} -> {v2})", v1=KIT_VERSION, v2=KIT_VERSION), v=KIT_VERSION), "; "),
    "it left out {clips} for a cause a rerun can change (the box's or the moment's: a child that stalled or was "
    "killed from outside the kit, a work folder removed, the clip changed as it was read): those are tried again, "
    "the rest reused", clips=Joined("clips", CLIP, ", "),
    rel=Match("an output", r"0[1-5]_[a-z]{4,8}/[a-z0-9_./-]{1,80}"))
LOG_MESSAGE = said(
    "a message of a step log",
    "step {step} starts: {why}", "step {step} done in {t} s", "step {step} failed:", "step failed:",
    "task {k}/{n} done in {t} s",
    "{teacher} scored a {size} test pair (mean {m}){extra}",
    "--consumer-samplings encoded: {k} sample jobs encode the consumer's samplings on their own after the corpus jobs "
    "({n} done before): {g} G pixel-frames to do{share}, about {m} min of CPU; the verdict's consumer figures need "
    "none of them (--consumer-samplings cut, the default, cuts the samplings from the whole encodes)",
    "$ {cmd}", "  ended: {fail}", "  {p} gave no frames for {sec} s", "  {p} timed out after {sec} s",
    "  {p} was stopped by a signal from outside for {sec} s, its limit, while the kit ran",
    f"  {{p}} ran past {TIMEOUT_S.name} ({{sec}} s), which caps every command",
    "  {p} exited (code {code}) but a process it started kept its output open",
    "ffmpeg {path} (from {source}): {version}; libvmaf filter: {yn}; video encoders: {encs}",
    "host signals", "{enc}: test encode now: {tested}", "{enc} 10-bit: test encode now: {tested}",
    "{enc}: probe result from the cache {path} ({works}: {reason})",
    "{enc} 10-bit: probe result from the cache {path} ({works}: {reason})",
    "the probe cache {path} is {why2}: it is rebuilt",
    "skipped {path}: {skip}", "skipped {path}: {skip}; fix: {fix}", "{path}: {skip}", "warning: {low}",
    "the consumer's samplings: {k} frames of {n} encodes in {path}",
    "the teacher's function: {t2} reproduced from the six features on all {k} rows (largest difference {d} <= {x})",
    "the teacher's function: {t2} not reproduced: it differs from libvmaf's own score by {d} at {worst}",
    "redone: {job}: {redo}",
    "demo clip(s) {demos} in the cache are damaged (cut short?): rendered again", CONTENT_SAID,
    "{rows} duplicate row(s) dropped from {path} (same key and scores)",
    "moved aside, not deleted: {files} of an earlier bundle, now in {path} (none of it goes into the new tarball)",
    "training threads: {k} ({whose}), each running torch on {n} thread; inter-op {n2}; onnxruntime {n3} per session, "
    "no spin-wait; OMP_WAIT_POLICY={policy}; {kernels}",
    teacher=Either("a teacher", TEACHER, Template("a model file", "{t} (model file, sha256 {h})", t=TEACHER,
                                                   h=Match("12 digits of a sha256", r"[0-9a-f]{12}"))),
    size=SIZE, m=N, g=N, extra=opt("the opt-in features", ", with {x}", x=Exact("the opt-in features", (EXTRA_SAID,))),
    share=opt("the corpus jobs' share", " ({p} of the corpus jobs' {g2} G)", p=PCT, g2=N),
    step=STEP, whose=said("who chose the threads", f"set by {TRAIN_THREADS.name}",
                          "the kit's choice on {c} core(s): at most {m}, the models are small", c=COUNT, m=COUNT),
    n2=COUNT, n3=COUNT, policy=Exact("a policy", ("PASSIVE", "ACTIVE", "(unset)")),
    kernels=said("the training kernels",
                 f"training kernels: torch's private ops, self-checked (torch {{v}}; {TRAIN_KERNELS.name}=public: "
                 "autograd, same figures)", f"training kernels: torch's autograd ({TRAIN_KERNELS.name}=public)",
                 "training kernels: torch's autograd (the self-check failed)",
                 v=Match("torch's version", r"\d{1,4}(?:\.\d{1,4}){1,2}(?:\+(?:cpu|cu\d{2,4}|rocm[\d.]{1,8}))?")),
    why=RERUN_REASON, t=NUMBER, k=COUNT, n=COUNT, cmd=COMMAND_K, fail=FAILURE, p=PROGRAM, s=COUNT, sec=NUMBER,
    code=Match("an exit code", r"-?\d{1,10}"), path=PATH_K, source=Match("a source", r"imageio-ffmpeg|--ffmpeg|"
                                                                         f"{FFMPEG_VAR.name}|binaries/|PATH"),
    version=VERSION, yn=Exact("yes or no", ("yes", "no")),
    encs=Either("encoders", NOTHING, Joined("encoders", FFMPEG_ENCODER_K)),
    enc=ENCODER, tested=PROBE_TESTED, works=Exact("works", ("works", "fails")), reason=PROBE_REASON,
    why2=Match("what is wrong", r"damaged \([a-z ]{1,60}\)|unreadable \([a-z ]{1,60}\)|damaged"),
    skip=SKIPPED_WHY, fix=SKIPPED_FIX, low=LOW_BITRATE, t2=TEACHER, d=NUMBER, x=NUMBER, worst=WORST_FRAME,
    job=JOB_WORDS, redo=Exact("why a job is redone", REDO_WHY.values()), demos=Joined("demo clips", CLIP),
    rows=COUNT, files=Joined("files", Match("a file", r"exports|results-[A-Za-z0-9._-]{1,128}-\d{8}T\d{6}Z\.tar\.gz")))
EXCEPTION_TYPE = Exact("an exception's type", [
    *(name for name, cls in vars(builtins).items() if isinstance(cls, type) and issubclass(cls, BaseException)),
    *(f"kit.errors.{name}" for name, cls in vars(errors).items()
      if isinstance(cls, type) and issubclass(cls, BaseException) and cls.__module__ == "kit.errors")])
TRACEBACK_LINE = said("a line of a failure's traceback", "Traceback (most recent call last):", "  {frame}:{line}",
                      "{type}", NOTHING, "The above exception was the direct cause of the following exception:",
                      "During handling of the above exception, another exception occurred:",
                      frame=Match("a frame of the kit", r"\[kit\]/kit(?:/[a-z_0-9]{1,40}){1,3}\.py"), line=COUNT,
                      type=EXCEPTION_TYPE)
LOG_LINE = said("a line of a step log", "{t} {msg}", "    {tb}", t=Match("a time of day", r"\d\d:\d\d:\d\d"),
                msg=LOG_MESSAGE, tb=TRACEBACK_LINE)

# -------------------------------------------------------------------------------------------- not catalogued yet
NO_CORRELATION = Template("sources without a correlation", "{srcs}: {rule}", srcs=Joined("sources", SOURCE, ", "),
                          rule=Exact("the correlation's rule", (CORRELATION_RULE,)))
_ENCODERS_LISTED = Template("encoders", "{es}{more}", es=Joined("encoders", ENCODER, ", "),
                            more=opt("more", " and {n} more", n=COUNT))
_SOURCES_LISTED = Template("sources", "{ss}{more}", ss=Joined("sources", SOURCE, ", "),
                           more=opt("more", " and {n} more", n=COUNT))
CONFOUNDING = said(
    "what a grouping's figures also stand for", "box {b} ran only {es}: its figures are {es2}'s",
    "box {b} holds the only rows of {es}: its figures mix in {es2}'s",
    "encoder {e} ran only on box {b}: its figures are box {b2}'s too",
    "box {b} holds the only rows of all its {n} content group(s) ({ss}): its figures are also those contents'",
    "box {b} holds the only rows of {n} content group(s) ({ss}): its figures are also partly those contents'",
    b=BOX_NAMED, b2=BOX_NAMED, e=ENCODER, es=_ENCODERS_LISTED, es2=_ENCODERS_LISTED, n=COUNT, ss=_SOURCES_LISTED)
GROUP_NOTE = Joined("a group's notes", CONFOUNDING, "; ")
_INPUT_NAME = Either("an input, by the name the kit gave it", Match(
    "a results tarball", r"results-[A-Za-z0-9._-]{1,128}-\d{8}T\d{6}Z\.tar\.gz"), Match(
    "a shard", r"shard(?:-[A-Za-z0-9._-]{1,128})?\.parquet"))
MERGED_FROM = Template("a merged corpus's input", "{name} ({kind}{shard}; boxes {boxes}; {k} of {n} rows kept)",
                       name=_INPUT_NAME, kind=Exact("a kind of input", ("parquet", "tarball", "jsonl")),
                       shard=opt("a shard", ", shard {s}", s=Match("K/N", r"\d{1,6}/\d{1,6}")),
                       boxes=Joined("boxes", BOX_NAMED, ", "), k=COUNT, n=COUNT)
CORPUS_WARNING = SHARD_WARNING
_SPAN = Template("a span", "{lo}-{hi}", lo=N, hi=N)
TEACHER_RANGE_WARNING = Template(
    "a teacher's range warning", "{e}'s encodes scored {lo} to {hi} ({short}): its rows do not span the {span} the "
    "proxy is used over; give it a wider grid (--cqs {e2}:...)", e=ENCODER, e2=ENCODER, lo=N, hi=N, span=_SPAN,
    short=said("what a range lacks", "none below {a}", "none above {b}", "none below {a} and none above {b}", a=N,
               b=N))
# a clip the independent check refuted, as its `refused` names it (kit.corpus.summary.refused_line)
REFUSED_LINE = Template("a clip the check refuted", "{clip}{whose}: {why}", clip=CLIP, why=LEFT_OUT_WHY, whose=opt(
    "whose", " (box {b}{input})", b=BOX_NAMED, input=opt("its input", ", input {i}", i=_INPUT_NAME)))
