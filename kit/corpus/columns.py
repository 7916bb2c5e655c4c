"""The corpus's column names and versions that need no table library: what a plan fingerprints (a job's rows'
version, the features it stores) without loading pyarrow, so `status`, which plans every step, stays light.
kit.corpus.schema builds the parquet schema from them."""

from __future__ import annotations

from kit.media import libvmaf

# the features a corpus row stores are kit.media.libvmaf.TABLE's, in its order: a row added there is a new column
# here, so a new schema version (kit.corpus.manifests.SCHEMA_VERSION; tests/unit/test_model_contract.py pins each
# version's columns)
CORPUS_FEATURES = libvmaf.FEATURES  # the canonical six (schema 1 and 2): every row holds them
# schema 4: the opt-in ones (VMAF v1's four), measured only when an input set needs them (--inputs canonical6+v1);
# null on every other row
EXTRA_FEATURES = libvmaf.EXTRA_FEATURES
# what one job makes: a row per scored frame, of one clip (kit.corpus.schema.JOB_SCHEMA)
JOB_ROWS_VERSION = 4  # a job's ledger names it: 3 added the rung, teacher_sha256 and the extra features (schema 3
# changed the corpus, not a job's rows); 4: rows paired frame by frame at the clip's own rate (3's rows of a master
# below 25 fps scored through the shared decode were paired with the wrong reference frames: redone)
