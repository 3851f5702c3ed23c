-- Schema 8: rollouts. One row per rollout (what, to whom, in which stages,
-- with which limits, where it stands) and one row per device it covers, so
-- `flotilla serve` resumes every rollout where it was after a restart.
CREATE TABLE rollouts (
  id            INTEGER PRIMARY KEY,
  kind          TEXT NOT NULL DEFAULT 'model',   -- model | firmware | agent
  name          TEXT NOT NULL,                   -- release name
  action        TEXT NOT NULL DEFAULT 'install', -- install | remove
  version_id    INTEGER,                         -- in the kind's table (model_versions, firmware_releases, agent_releases); NULL for remove
  ref           TEXT NOT NULL,                   -- as resolved at creation ("name:3")
  target        TEXT NOT NULL,                   -- as given (group:G, tag:k=v, device:..., all)
  state         TEXT NOT NULL DEFAULT 'running', -- running | paused | completed | halted | aborted
  reason        TEXT,                            -- why it halted or was aborted
  canary        INTEGER NOT NULL,                -- devices in wave 0
  wave_size     INTEGER NOT NULL,                -- devices per later wave
  n_waves       INTEGER NOT NULL,
  current_wave  INTEGER NOT NULL DEFAULT -1,     -- -1: nothing started yet
  probation_s   INTEGER NOT NULL,
  deadline_s    INTEGER NOT NULL,                -- per device, from the start of its wave
  max_failures  INTEGER NOT NULL,                -- failures allowed; one more halts
  max_error_rate REAL NOT NULL DEFAULT 0.05,
  max_crashes   INTEGER NOT NULL DEFAULT 3,
  rollback_version_id INTEGER REFERENCES model_versions(id), -- set when a halt re-signed an older version
  update_request_id INTEGER,                     -- the model update request it executes
  created_ms    INTEGER NOT NULL,
  updated_ms    INTEGER NOT NULL
);
CREATE INDEX rollouts_state ON rollouts (state);

-- Each device a rollout covers. state: pending, offline, skipped, the agent's
-- step names (verifying … committed, failed, rolled_back) and superseded.
-- prev_* is the device's desired row before the rollout touched it: what a
-- halt puts back.
CREATE TABLE rollout_devices (
  rollout_id     INTEGER NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
  device_id      TEXT NOT NULL,
  wave           INTEGER NOT NULL,               -- -1 for skipped
  state          TEXT NOT NULL DEFAULT 'pending',
  reason         TEXT,
  deployment_id  TEXT,
  prev_version_id INTEGER,
  prev_deployment_id TEXT,
  prev_probation_s INTEGER,
  started_ms     INTEGER,
  deadline_ms    INTEGER,
  finished_ms    INTEGER,
  PRIMARY KEY (rollout_id, device_id)
);
CREATE INDEX rollout_devices_device ON rollout_devices (device_id, state);
