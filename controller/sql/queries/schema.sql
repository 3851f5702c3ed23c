-- Schema bookkeeping used by the migrator.

-- name: schema_version_create
CREATE TABLE IF NOT EXISTS schema_version (
  version    INTEGER PRIMARY KEY,
  applied_ms INTEGER NOT NULL
);

-- name: schema_version_get
SELECT max(version) FROM schema_version HAVING max(version) IS NOT NULL;

-- name: schema_version_set
INSERT INTO schema_version (version, applied_ms) VALUES (?1, ?2);
