"""The kinds of RMSE and PLCC the kit prints, defined once: every figure says which it is (docs/figures.md)."""

from __future__ import annotations

GROUPS = "mean over content groups"
POOLED = "pooled over frames"
SOURCE = "per source"
CLIP = "per clip"
POOLED_CLIP = "per clip, frames pooled"
CONSUMER = "per encode, as vmaf-tune predicts it"

DEFINITIONS = {
    GROUPS: "each held-out content group's frames pooled (its sources together), the figure computed on them per "
            "seed, then averaged over the groups (one vote per content) and over the seeds",
    POOLED: "every held-out frame of the set at once, each predicted by the ensemble (the mean over seeds of the "
            "members that did not train on its content)",
    SOURCE: "one reference clip's held-out frames, the figure per seed, then the mean over seeds",
    CLIP: "one encode (a source at one encoder, cq and rung) predicted from the mean of its frames' features, against "
          "its mean teacher score (the ensemble's mean over seeds)",
    POOLED_CLIP: "one encode's held-out frames, each predicted by the ensemble and clipped to [0, 100], pooled by one "
                 "statistic (mean, harmonic mean, 1st percentile or min), against its teacher scores pooled the same "
                 "way; the error taken over the clips",
    CONSUMER: "one encode (a source at one encoder, cq and rung) predicted as vmaf-tune's fast path predicts it: the "
              "exported graph fed mean features and vmaf-tune's crf_norm, each member clipped to [0, 100], the mean "
              "over seeds; its miss |predicted - the whole encode's teacher mean|; the gates' figures from the "
              "features of its window as vmaf-tune samples it (its first --consumer-window s), over the encodes the "
              "ceiling lands within the tolerance on, the per-encode diagnosis from the whole encode's; the share "
              "within the consumer's tolerance, the median and largest miss taken over the encodes",
}

# which of the verdict's blocks holds which kind (the verdict's `figure_kinds`)
FIGURE_KINDS = {
    "gate": GROUPS, "per_seed": GROUPS, "overall.mean_over_seeds": GROUPS, "baselines": GROUPS, "incumbent": GROUPS,
    "lift": GROUPS, "lift_gate": GROUPS, "overall.pooled_ensemble": POOLED, "breakdown": POOLED,
    "holdout": POOLED, "intervals.levels": POOLED, "intervals.exported": POOLED, "per_fold": SOURCE,
    "worst_folds": SOURCE, "bias_gate": SOURCE, "fold_rmse_gate": SOURCE, "range_gate": SOURCE,
    "intervals.clip_use": CLIP, "clip_pooling": POOLED_CLIP, "clip_error_gates": POOLED_CLIP, "consumer": CONSUMER,
    "consumer_gates": CONSUMER,
}
