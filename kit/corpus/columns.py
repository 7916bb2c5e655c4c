"""The corpus's column names and versions that need no table library: what a plan fingerprints (a job's rows'
version, the features it stores) without loading pyarrow, so `status`, which plans every step, stays light.
kit.corpus.schema builds the parquet schema from them."""

from __future__ import annotations

from kit.media import libvmaf

# the features a corpus row stores are kit.media.libvmaf.TABLE's, in its order: a row added there is a new schema
CORPUS_FEATURES = libvmaf.FEATURES  # the canonical six: every row holds them
EXTRA_FEATURES = libvmaf.EXTRA_FEATURES  # measured only when an input set needs them; null on every other row
TEACHER_FEATURES = libvmaf.TEACHER_FEATURES  # the teacher's own six, where it has them (NEG); null on every other row
# of a job's rows (kit.corpus.schema.JOB_SCHEMA), which its ledger names; a job of version 4 written before the
# teacher's own six (corpus schema 6) reads with them null (kit.corpus.jobs.read_job_rows)
JOB_ROWS_VERSION = 4
