-- Serial-like counters devices require to grow, raised on restore.

-- name: counters_all
SELECT name, value FROM counters ORDER BY name;

-- name: counter_raise
UPDATE counters SET value = max(value + 1, ?2) WHERE name = ?1;

-- name: models_raise_versions
UPDATE models SET next_version = max(next_version, ?1);

-- name: models_next_versions
SELECT name, next_version FROM models ORDER BY name;

-- name: backup_drop_unreferenced
DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM blob_refs);

-- name: backup_blob_count
SELECT count(*) FROM blobs;

-- name: version_total
SELECT count(*) FROM model_versions WHERE deleted_ms IS NULL;

-- name: restore_quick_check
SELECT count(*) = 1 AND max(quick_check) = 'ok' FROM pragma_quick_check;
