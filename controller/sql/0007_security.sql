-- Schema 7: the fleet's certificates (issued by the fleet CA; revoked ones
-- make the CRL), revoked devices (serve ignores them and clears their
-- retained topics), settings of the security tooling, and the audit log.
CREATE TABLE certificates (
  serial     TEXT PRIMARY KEY,             -- lowercase hex of the X.509 serial
  identity   TEXT NOT NULL,                -- subject CN: device id, controller, broker
  kind       TEXT NOT NULL,                -- ca | controller | broker | device
  not_before INTEGER NOT NULL,             -- Unix seconds
  not_after  INTEGER NOT NULL,
  issued_ms  INTEGER NOT NULL,
  revoked_ms INTEGER                       -- NULL while valid
);
CREATE INDEX certificates_identity ON certificates (identity, kind);

-- A revoked device stays revoked: its id is never provisioned again.
CREATE TABLE revoked_devices (
  device_id  TEXT PRIMARY KEY,
  revoked_ms INTEGER NOT NULL
);

CREATE TABLE pki_settings (
  key   TEXT PRIMARY KEY,                  -- broker_dir, ...
  value TEXT NOT NULL
);

-- Who did what on the controller, with outcome. Append-only.
CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  actor   TEXT NOT NULL,                   -- OS user (SUDO_USER first) or a device id
  action  TEXT NOT NULL,                   -- model.register, keys.rotate, device.revoke, ...
  target  TEXT NOT NULL,
  outcome TEXT NOT NULL,                   -- ok | failed | refused ...
  detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_time ON audit_log (time_ms);

INSERT INTO counters (name, value) VALUES ('crl_number', 0);
