-- A registry written by schema 1 (controller/sql/0001_init.sql), dumped with
-- sqlite3 .dump; blob bytes are schema1-blob.bin. The migration test loads it.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_version (
  version    INTEGER PRIMARY KEY,
  applied_ms INTEGER NOT NULL
);
INSERT INTO schema_version VALUES(1,1764720000000);
CREATE TABLE models (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  next_version INTEGER NOT NULL DEFAULT 1,   -- only grows; raised on restore
  created_ms   INTEGER NOT NULL
);
INSERT INTO models VALUES(1,'legacy',3,1764720000000);
CREATE TABLE blobs (
  sha256     TEXT PRIMARY KEY,               -- lowercase hex; file blobs/sha256/<aa>/<hex>
  size       INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);
INSERT INTO blobs VALUES('ccb42ef354bae279fe7752ddfb983de86251fdb117863f26c997c3443cef3b34',23,1764720000000);
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
INSERT INTO model_versions VALUES(1,1,1,'generic','tflite','ccb42ef354bae279fe7752ddfb983de86251fdb117863f26c997c3443cef3b34',23,NULL,NULL,NULL,NULL,NULL,0,'generic format: not runnable by the built-in runtime',NULL,0,1764720000000,NULL);
INSERT INTO model_versions VALUES(2,1,2,'generic','tflite','ccb42ef354bae279fe7752ddfb983de86251fdb117863f26c997c3443cef3b34',23,NULL,NULL,NULL,NULL,NULL,0,'generic format: not runnable by the built-in runtime',NULL,0,1764720001000,NULL);
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
INSERT INTO version_tags VALUES(2,'stage','prod');
CREATE TABLE aliases (
  model_id   INTEGER NOT NULL REFERENCES models(id),
  alias      TEXT NOT NULL,
  version_id INTEGER NOT NULL REFERENCES model_versions(id),
  set_ms     INTEGER NOT NULL,
  PRIMARY KEY (model_id, alias)
);
INSERT INTO aliases VALUES(1,'stable',1,1764720002000);
CREATE TABLE metrics (
  id         INTEGER PRIMARY KEY,
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,
  value      REAL NOT NULL,
  logged_ms  INTEGER NOT NULL
);
INSERT INTO metrics VALUES(1,1,'acc',0.81000000000000005329,1764720000000);
INSERT INTO metrics VALUES(2,2,'acc',0.86999999999999999555,1764720001000);
CREATE TABLE lineage (
  version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
  key        TEXT NOT NULL,                  -- code, data, compute, ...
  value      TEXT NOT NULL,
  PRIMARY KEY (version_id, key, value)
);
INSERT INTO lineage VALUES(2,'code','git:0123abc');
CREATE TABLE parents (
  child_id  INTEGER NOT NULL REFERENCES model_versions(id),
  parent_id INTEGER NOT NULL REFERENCES model_versions(id),
  relation  TEXT NOT NULL DEFAULT 'parent',  -- parent | promoted-from | rollback-of
  PRIMARY KEY (child_id, parent_id, relation)
);
INSERT INTO parents VALUES(2,1,'parent');
CREATE INDEX version_tags_kv ON version_tags (key, value);
CREATE INDEX metrics_version_key ON metrics (version_id, key, logged_ms);
CREATE INDEX parents_parent ON parents (parent_id);
COMMIT;
