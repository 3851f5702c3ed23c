-- Schema 5: the fleet as `flotilla serve` sees it: devices (from up/state and
-- up/status), tags and groups, what each device should run (device_desired:
-- rows the rollout engine writes and serve reflects as signed desired state),
-- signed release envelopes, stream heads, events, telemetry and its roll-ups.
CREATE TABLE devices (
  id               TEXT PRIMARY KEY,
  first_seen_ms    INTEGER NOT NULL,
  last_seen_ms     INTEGER NOT NULL,
  online           INTEGER NOT NULL DEFAULT 0,
  status_ms        INTEGER,
  state_json       TEXT,                      -- last up/state as received (validated)
  state_ms         INTEGER,
  arch             TEXT,
  board            TEXT,
  ram_bytes        INTEGER,
  max_packet_size  INTEGER,
  agent_version    INTEGER,
  desired_serial   INTEGER NOT NULL DEFAULT 0, -- of the last published desired state
  desired_hash     TEXT,                       -- what it said (entries), to publish only changes
  desired_envelope TEXT,                       -- its exact bytes, re-published after a broker loss
  keys_serial      INTEGER NOT NULL DEFAULT 0  -- key list serial last published to it
);

CREATE TABLE device_tags (
  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  key       TEXT NOT NULL,
  value     TEXT NOT NULL,
  PRIMARY KEY (device_id, key)
);

CREATE TABLE device_groups (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_id  INTEGER NOT NULL REFERENCES device_groups(id) ON DELETE CASCADE,
  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, device_id)
);

-- What each device should run. The rollout engine (or `device set-model`)
-- writes rows; serve turns them into the device's signed desired state. A
-- row serve cannot honour gets skip_reason (a reason code and text) and is
-- left out of the desired state.
CREATE TABLE device_desired (
  device_id      TEXT NOT NULL,
  kind           TEXT NOT NULL DEFAULT 'model',   -- model | agent | firmware
  name           TEXT NOT NULL,
  version_id     INTEGER NOT NULL REFERENCES model_versions(id),
  deployment_id  TEXT NOT NULL,
  probation_s    INTEGER NOT NULL DEFAULT 300,
  max_error_rate REAL NOT NULL DEFAULT 0.05,
  max_crashes    INTEGER NOT NULL DEFAULT 3,
  rollout_id     INTEGER,                          -- NULL: set by hand
  updated_ms     INTEGER NOT NULL,
  skip_reason    TEXT,
  PRIMARY KEY (device_id, kind, name)
);
CREATE INDEX device_desired_version ON device_desired (version_id);

-- Signed release envelopes; one version may have several (chunk sizes, re-signs).
CREATE TABLE release_envelopes (
  id            INTEGER PRIMARY KEY,
  version_id    INTEGER NOT NULL REFERENCES model_versions(id),
  chunk_size    INTEGER NOT NULL,
  index_sha256  TEXT NOT NULL REFERENCES blobs(sha256),
  envelope      TEXT NOT NULL,
  issued_at     INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  stale         INTEGER NOT NULL DEFAULT 0      -- 1: never use again (e.g. chunks too big for the broker)
);
CREATE INDEX release_envelopes_version ON release_envelopes (version_id, expires_at);

-- Per (device, stream): current epoch, highest seq stored without gaps, dropped.
CREATE TABLE stream_heads (
  device_id TEXT NOT NULL,
  stream    TEXT NOT NULL,
  epoch     INTEGER NOT NULL,
  high_seq  INTEGER NOT NULL,
  dropped   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, stream)
);

CREATE TABLE device_events (
  device_id     TEXT NOT NULL,
  epoch         INTEGER NOT NULL,
  seq           INTEGER NOT NULL,
  time_s        INTEGER NOT NULL,
  kind          TEXT NOT NULL,
  name          TEXT NOT NULL,
  version       INTEGER NOT NULL,
  deployment_id TEXT,
  step          TEXT NOT NULL,
  reason        TEXT NOT NULL,
  message       TEXT NOT NULL,
  received_ms   INTEGER NOT NULL,
  PRIMARY KEY (device_id, epoch, seq)
) WITHOUT ROWID;
CREATE INDEX device_events_time ON device_events (device_id, time_s);

CREATE TABLE telemetry_model (
  device_id  TEXT NOT NULL,
  epoch      INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  time_s     INTEGER NOT NULL,
  interval_s INTEGER NOT NULL,
  name       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  requests   INTEGER NOT NULL,
  errors     INTEGER NOT NULL,
  crashes    INTEGER NOT NULL,
  p50_us     INTEGER NOT NULL,
  p95_us     INTEGER NOT NULL,
  p99_us     INTEGER NOT NULL,
  bytes_in   INTEGER NOT NULL,
  bytes_out  INTEGER NOT NULL,
  PRIMARY KEY (device_id, epoch, seq)
) WITHOUT ROWID;
CREATE INDEX telemetry_model_nv ON telemetry_model (name, version, time_s);

CREATE TABLE telemetry_health (
  device_id       TEXT NOT NULL,
  epoch           INTEGER NOT NULL,
  seq             INTEGER NOT NULL,
  time_s          INTEGER NOT NULL,
  cpu_pct         REAL NOT NULL,
  rss_bytes       INTEGER NOT NULL,
  mem_avail_bytes INTEGER NOT NULL,
  disk_free_bytes INTEGER NOT NULL,
  temp_c          REAL,
  PRIMARY KEY (device_id, epoch, seq)
) WITHOUT ROWID;
CREATE INDEX telemetry_health_time ON telemetry_health (device_id, time_s);

-- Telemetry older than the retention limit, summed per (device, name,
-- version, hour); latency kept as request-weighted sums of the percentiles.
CREATE TABLE telemetry_rollup (
  device_id TEXT NOT NULL,
  name      TEXT NOT NULL,
  version   INTEGER NOT NULL,
  hour_s    INTEGER NOT NULL,
  requests  INTEGER NOT NULL,
  errors    INTEGER NOT NULL,
  crashes   INTEGER NOT NULL,
  p50_wsum  REAL NOT NULL,
  p95_wsum  REAL NOT NULL,
  p99_wsum  REAL NOT NULL,
  PRIMARY KEY (device_id, name, version, hour_s)
) WITHOUT ROWID;
CREATE INDEX telemetry_rollup_nv ON telemetry_rollup (name, version, hour_s);

ALTER TABLE deployments ADD COLUMN deployment_id TEXT;

INSERT INTO counters (name, value) VALUES ('deployment_serial', 0);

DROP VIEW blob_refs;
CREATE VIEW blob_refs AS
  SELECT blob_sha256 AS sha256 FROM model_versions WHERE blob_sha256 IS NOT NULL
  UNION ALL
  SELECT golden_sha256 FROM model_versions WHERE golden_sha256 IS NOT NULL
  UNION ALL
  SELECT index_sha256 FROM release_envelopes;
