"""The corpus's column names and versions that need no table library: what a plan fingerprints (a job's rows'
version, the features it stores) without loading pyarrow, so `status`, which plans every step, stays light.
kit.corpus.schema builds the parquet schema from them."""

from __future__ import annotations

# the libvmaf features a corpus row stores (schema 1 and 2): the corpus's own contract. A feature libvmaf
# measures but no schema names is not stored; storing one is a new schema version with its PLAUSIBLE range
CORPUS_FEATURES: tuple[str, ...] = ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2")
# schema 4: VMAF v1's four features (with v1's options), measured only when asked for (--inputs canonical6+v1);
# null on every other row
EXTRA_FEATURES: tuple[str, ...] = ("cambi", "speed_chroma_uv", "adm3", "motion3")
# what one job makes: a row per scored frame, of one clip (kit.corpus.schema.JOB_SCHEMA)
JOB_ROWS_VERSION = 4  # a job's ledger names it: 3 added the rung, teacher_sha256 and the extra features (schema 3
# changed the corpus, not a job's rows); 4: rows paired frame by frame at the clip's own rate (3's rows of a master
# below 25 fps scored through the shared decode were paired with the wrong reference frames: redone)
