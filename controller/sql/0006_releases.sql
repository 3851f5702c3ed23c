-- Schema 6: firmware images and agent binaries, stored like model versions (the
-- bytes in the blob store) and signed by `serve` as release envelopes of kind
-- firmware / agent when a rollout first needs them.
CREATE TABLE firmware_releases (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,                 -- identifier, e.g. rpi4-image
  version     INTEGER NOT NULL,              -- grows per name
  label       TEXT NOT NULL DEFAULT '',
  compatible  TEXT NOT NULL,                 -- board identifier the image is for
  blob_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  size        INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  UNIQUE (name, version)
);

CREATE TABLE agent_releases (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,                 -- flotilla-agent-<arch>
  arch        TEXT NOT NULL,                 -- aarch64 | armhf | x86_64
  version     INTEGER NOT NULL,              -- the agent's own integer version; grows per arch
  blob_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
  size        INTEGER NOT NULL,
  created_ms  INTEGER NOT NULL,
  UNIQUE (name, version)
);

DROP VIEW blob_refs;
CREATE VIEW blob_refs AS
  SELECT blob_sha256 AS sha256 FROM model_versions WHERE blob_sha256 IS NOT NULL
  UNION ALL
  SELECT golden_sha256 FROM model_versions WHERE golden_sha256 IS NOT NULL
  UNION ALL
  SELECT blob_sha256 FROM firmware_releases
  UNION ALL
  SELECT blob_sha256 FROM agent_releases;
CREATE INDEX firmware_releases_blob ON firmware_releases (blob_sha256);
CREATE INDEX agent_releases_blob ON agent_releases (blob_sha256);
