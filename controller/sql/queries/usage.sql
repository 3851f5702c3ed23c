-- model usage / targets / export: where versions run and how healthy they are.

-- name: usage_versions
SELECT v.id, v.version FROM model_versions v JOIN models m ON m.id = v.model_id
 WHERE m.name = ?1 AND (?2 IS NULL OR v.version = ?2) AND v.deleted_ms IS NULL
 ORDER BY v.version;

-- name: usage_devices
SELECT device_id, state, since_ms, deployment_id FROM deployments
 WHERE version_id = ?1 AND until_ms IS NULL ORDER BY device_id;

-- name: usage_history
SELECT device_id, state, since_ms, until_ms, deployment_id FROM deployments
 WHERE version_id = ?1 ORDER BY since_ms, id;

-- name: usage_health
SELECT coalesce(sum(r), 0), coalesce(sum(e), 0), coalesce(sum(c), 0), coalesce(sum(w50), 0),
       coalesce(sum(w95), 0), coalesce(sum(w99), 0), count(DISTINCT dev)
  FROM (SELECT device_id AS dev, requests AS r, errors AS e, crashes AS c,
               p50_us * requests AS w50, p95_us * requests AS w95, p99_us * requests AS w99
          FROM telemetry_model WHERE name = ?1 AND version = ?2 AND time_s >= ?3
        UNION ALL
        SELECT device_id, requests, errors, crashes, p50_wsum, p95_wsum, p99_wsum
          FROM telemetry_rollup WHERE name = ?1 AND version = ?2 AND hour_s >= ?3);

-- name: targets_devices
SELECT id, state_json FROM devices WHERE state_json IS NOT NULL ORDER BY id;

-- name: targets_groups
SELECT g.name, gm.device_id FROM device_groups g JOIN group_members gm ON gm.group_id = g.id
 ORDER BY g.name, gm.device_id;

-- name: fetch_export
SELECT v.blob_sha256, e.index_sha256, v.golden_sha256
  FROM release_envelopes e JOIN model_versions v ON v.id = e.version_id WHERE e.id = ?1;
