-- Schema 1: models, versions, their analysis, tags, aliases, metrics, lineage
-- and the content-addressed blobs their bytes live in.
CREATE TABLE models (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  next_version INTEGER NOT NULL DEFAULT 1,   -- only grows; raised on restore
  created_ms   INTEGER NOT NULL
);

CREATE TABLE blobs (
  sha256     TEXT PRIMARY KEY,               -- lowercase hex; file blobs/sha256/<aa>/<hex>
  size       INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);

CREATE TABLE model_versions (
  id                  INTEGER PRIMARY KEY,
  model_id            INTEGER NOT NULL REFERENCES models(id),
  version             INTEGER NOT NULL,
  format              TEXT NOT NULL,           -- onnx | generic
  framework           TEXT NOT NULL,           -- onnx, tflite, pytorch, ...
  blob_sha256         TEXT REFERENCES blobs(sha256),   -- NULL once deleted
  size                INTEGER NOT NULL,
  ir_version          INTEGER,
  producer            TEXT,
  param_count         INTEGER,
  param_bytes         INTEGER,
  peak_memory_bytes   INTEGER,                 -- NULL when unknown
  runnable            INTEGER NOT NULL DEFAULT 0,
  not_runnable_reason TEXT,
  signature_json      TEXT,                    -- {"inputs":[...],"outputs":[...]}
  archived            INTEGER NOT NULL DEFAULT 0,
  created_ms          INTEGER NOT NULL,
  deleted_ms          INTEGER,                 -- tombstone: lineage and history stay answerable
  UNIQUE (model_id, version)
);

CREATE TABLE version_opsets (
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  domain     TEXT NOT NULL,
  version    INTEGER NOT NULL,
  PRIMARY KEY (version_id, domain)
);

CREATE TABLE version_ops (
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  domain     TEXT NOT NULL,
  op_type    TEXT NOT NULL,
  count      INTEGER NOT NULL,
  supported  INTEGER NOT NULL,
  PRIMARY KEY (version_id, domain, op_type)
);

CREATE TABLE version_tags (
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  PRIMARY KEY (version_id, key)
);
CREATE INDEX version_tags_kv ON version_tags (key, value);

CREATE TABLE aliases (
  model_id   INTEGER NOT NULL REFERENCES models(id),
  alias      TEXT NOT NULL,
  version_id INTEGER NOT NULL REFERENCES model_versions(id),
  set_ms     INTEGER NOT NULL,
  PRIMARY KEY (model_id, alias)
);

CREATE TABLE metrics (
  id         INTEGER PRIMARY KEY,
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value      REAL NOT NULL,
  logged_ms  INTEGER NOT NULL
);
CREATE INDEX metrics_version_key ON metrics (version_id, key, logged_ms);

CREATE TABLE lineage (
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,                  -- code, data, compute, ...
  value      TEXT NOT NULL,
  PRIMARY KEY (version_id, key, value)
);

CREATE TABLE parents (
  child_id  INTEGER NOT NULL REFERENCES model_versions(id),
  parent_id INTEGER NOT NULL REFERENCES model_versions(id),
  relation  TEXT NOT NULL DEFAULT 'parent',  -- parent | promoted-from | rollback-of
  PRIMARY KEY (child_id, parent_id, relation)
);
CREATE INDEX parents_parent ON parents (parent_id);
