-- Schema 2: experiments, the fleet-facing tables the registry must already
-- respect (deployments block delete; update requests feed the rollout engine),
-- counters that devices require to grow, golden vectors, and blob references.
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  experiment_id TEXT NOT NULL,
  run_id        TEXT NOT NULL,
  version_id    INTEGER REFERENCES model_versions(id),
  created_ms    INTEGER NOT NULL,
  UNIQUE (experiment_id, run_id)
);

CREATE TABLE run_metrics (
  id        INTEGER PRIMARY KEY,
  run_pk    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key       TEXT NOT NULL,
  value     REAL NOT NULL,
  logged_ms INTEGER NOT NULL
);
CREATE INDEX run_metrics_run_key ON run_metrics (run_pk, key, logged_ms);

ALTER TABLE model_versions ADD COLUMN source_run_pk INTEGER REFERENCES runs(id);
ALTER TABLE model_versions ADD COLUMN golden_sha256 TEXT REFERENCES blobs(sha256);
ALTER TABLE model_versions ADD COLUMN golden_rtol REAL;
ALTER TABLE model_versions ADD COLUMN golden_atol REAL;
ALTER TABLE model_versions ADD COLUMN golden_count INTEGER;

-- Where each version runs. `serve` owns the rows; an open row (until_ms NULL)
-- means the device runs that version now, which blocks `model delete`.
CREATE TABLE deployments (
  id         INTEGER PRIMARY KEY,
  device_id  TEXT NOT NULL,
  version_id INTEGER NOT NULL REFERENCES model_versions(id),
  state      TEXT NOT NULL,
  since_ms   INTEGER NOT NULL,
  until_ms   INTEGER
);
CREATE INDEX deployments_version_open ON deployments (version_id, until_ms);
CREATE INDEX deployments_device ON deployments (device_id, since_ms);

-- `model update -n NAME:latest --all`: requests the rollout engine executes.
CREATE TABLE update_requests (
  id           INTEGER PRIMARY KEY,
  model_id     INTEGER NOT NULL REFERENCES models(id),
  version_id   INTEGER NOT NULL REFERENCES model_versions(id),
  target       TEXT NOT NULL,              -- 'all'
  state        TEXT NOT NULL DEFAULT 'pending',
  requested_ms INTEGER NOT NULL
);

-- Numbers devices require to grow (desired_state_serial, key_list_serial, ...).
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('desired_state_serial', 0), ('key_list_serial', 0);

-- Every reference that keeps a blob alive; later migrations that add blob
-- columns (firmware, agent releases) recreate this view.
CREATE VIEW blob_refs AS
  SELECT blob_sha256 AS sha256 FROM model_versions WHERE blob_sha256 IS NOT NULL
  UNION ALL
  SELECT golden_sha256 FROM model_versions WHERE golden_sha256 IS NOT NULL;

CREATE INDEX model_versions_blob ON model_versions (blob_sha256);
CREATE INDEX model_versions_golden ON model_versions (golden_sha256);
