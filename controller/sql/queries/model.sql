-- Models and versions: registration, resolution, listing and showing.

-- name: model_get_id
SELECT id FROM models WHERE name = ?1;

-- name: model_insert
INSERT INTO models (name, next_version, created_ms)
VALUES (?1, coalesce((SELECT value FROM counters WHERE name = 'model_version_floor'), 1), ?2);

-- name: model_next_version
SELECT next_version FROM models WHERE id = ?1;

-- name: model_bump_version
UPDATE models SET next_version = ?2 + 1 WHERE id = ?1 AND next_version = ?2;

-- name: version_insert
INSERT INTO model_versions (model_id, version, format, framework, blob_sha256, size,
  ir_version, producer, param_count, param_bytes, peak_memory_bytes, runnable,
  not_runnable_reason, signature_json, created_ms, golden_sha256, golden_rtol, golden_atol,
  golden_count, source_run_pk)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20);

-- name: version_copy
INSERT INTO model_versions (model_id, version, format, framework, blob_sha256, size,
  ir_version, producer, param_count, param_bytes, peak_memory_bytes, runnable,
  not_runnable_reason, signature_json, created_ms, golden_sha256, golden_rtol, golden_atol,
  golden_count, source_run_pk)
SELECT ?1, ?2, format, framework, blob_sha256, size, ir_version, producer, param_count,
  param_bytes, peak_memory_bytes, runnable, not_runnable_reason, signature_json, ?3,
  golden_sha256, golden_rtol, golden_atol, golden_count, ?4
FROM model_versions WHERE id = ?5;

-- name: opsets_copy
INSERT INTO version_opsets (version_id, domain, version)
SELECT ?1, domain, version FROM version_opsets WHERE version_id = ?2;

-- name: ops_copy
INSERT INTO version_ops (version_id, domain, op_type, count, supported)
SELECT ?1, domain, op_type, count, supported FROM version_ops WHERE version_id = ?2;

-- name: opset_insert
INSERT INTO version_opsets (version_id, domain, version) VALUES (?1, ?2, ?3);

-- name: op_insert
INSERT INTO version_ops (version_id, domain, op_type, count, supported) VALUES (?1, ?2, ?3, ?4, ?5);

-- name: tag_set
INSERT INTO version_tags (version_id, key, value) VALUES (?1, ?2, ?3)
ON CONFLICT (version_id, key) DO UPDATE SET value = excluded.value;

-- name: tag_rm
DELETE FROM version_tags WHERE version_id = ?1 AND key = ?2;

-- name: metric_insert
INSERT INTO metrics (version_id, key, value, logged_ms) VALUES (?1, ?2, ?3, ?4);

-- name: lineage_insert
INSERT OR IGNORE INTO lineage (version_id, key, value) VALUES (?1, ?2, ?3);

-- name: parent_insert
INSERT OR IGNORE INTO parents (child_id, parent_id, relation) VALUES (?1, ?2, ?3);

-- name: alias_set
INSERT INTO aliases (model_id, alias, version_id, set_ms) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (model_id, alias) DO UPDATE SET version_id = excluded.version_id, set_ms = excluded.set_ms;

-- name: alias_rm
DELETE FROM aliases WHERE model_id = ?1 AND alias = ?2;

-- name: resolve_latest
SELECT v.id, v.version, m.id FROM model_versions v JOIN models m ON m.id = v.model_id
WHERE m.name = ?1 AND v.archived = 0 AND v.deleted_ms IS NULL
ORDER BY v.version DESC LIMIT 1;

-- name: resolve_version
SELECT v.id, v.version, m.id FROM model_versions v JOIN models m ON m.id = v.model_id
WHERE m.name = ?1 AND v.version = ?2 AND v.deleted_ms IS NULL;

-- name: resolve_alias
SELECT v.id, v.version, m.id FROM aliases a
JOIN models m ON m.id = a.model_id
JOIN model_versions v ON v.id = a.version_id
WHERE m.name = ?1 AND a.alias = ?2 AND v.deleted_ms IS NULL;

-- name: version_list
-- ?1 name glob or NULL, ?2 JSON array of "k=v" tags every row must carry or NULL,
-- ?3 1 to include archived versions, ?4 row limit (-1 for none).
SELECT m.name, v.version, v.format, v.framework, v.size, v.runnable, v.archived, v.created_ms,
  (SELECT group_concat(t.key || '=' || t.value, ',') FROM
     (SELECT key, value FROM version_tags WHERE version_id = v.id ORDER BY key) t),
  (SELECT group_concat(a.alias, ',') FROM
     (SELECT alias FROM aliases WHERE version_id = v.id ORDER BY alias) a),
  v.blob_sha256
FROM models m JOIN model_versions v ON v.model_id = m.id
WHERE (?1 IS NULL OR m.name GLOB ?1)
  AND v.deleted_ms IS NULL
  AND (?3 OR v.archived = 0)
  AND (?2 IS NULL OR (SELECT count(*) FROM version_tags t
                      WHERE t.version_id = v.id
                        AND t.key || '=' || t.value IN (SELECT value FROM json_each(?2)))
                     = json_array_length(?2))
ORDER BY m.name, v.version
LIMIT ?4;

-- name: version_show
SELECT m.name, v.version, v.format, v.framework, v.blob_sha256, v.size, v.ir_version, v.producer,
  v.param_count, v.param_bytes, v.peak_memory_bytes, v.runnable, v.not_runnable_reason,
  v.signature_json, v.archived, v.created_ms, v.golden_sha256, v.golden_rtol, v.golden_atol,
  v.golden_count, r.experiment_id, r.run_id
FROM model_versions v JOIN models m ON m.id = v.model_id
LEFT JOIN runs r ON r.id = v.source_run_pk
WHERE v.id = ?1;

-- name: version_opsets
SELECT domain, version FROM version_opsets WHERE version_id = ?1 ORDER BY domain;

-- name: version_ops
SELECT domain, op_type, count, supported FROM version_ops WHERE version_id = ?1
ORDER BY domain, op_type;

-- name: version_tags
SELECT key, value FROM version_tags WHERE version_id = ?1 ORDER BY key;

-- name: version_aliases
SELECT alias FROM aliases WHERE version_id = ?1 ORDER BY alias;

-- name: version_lineage
SELECT key, value FROM lineage WHERE version_id = ?1 ORDER BY key, value;

-- name: version_metrics_latest
SELECT key, value, logged_ms FROM metrics m1 WHERE version_id = ?1
  AND id = (SELECT id FROM metrics m2 WHERE m2.version_id = ?1 AND m2.key = m1.key
            ORDER BY logged_ms DESC, id DESC LIMIT 1)
ORDER BY key;

-- name: model_metric_history
SELECT v.version, mt.value, mt.logged_ms
FROM models m JOIN model_versions v ON v.model_id = m.id
JOIN metrics mt ON mt.version_id = v.id
WHERE m.name = ?1 AND mt.key = ?2 AND v.deleted_ms IS NULL
ORDER BY v.version, mt.logged_ms, mt.id;

-- name: lineage_up
-- Ancestors, nearest first: what made this version.
WITH RECURSIVE up(id, relation, depth, via) AS (
  SELECT parent_id, relation, 1, child_id FROM parents WHERE child_id = ?1
  UNION
  SELECT p.parent_id, p.relation, up.depth + 1, p.child_id FROM parents p JOIN up ON p.child_id = up.id
  WHERE up.depth < 64
)
SELECT m.name, v.version, up.relation, up.depth, v.deleted_ms IS NOT NULL,
  (SELECT m2.name || ':' || v2.version FROM model_versions v2 JOIN models m2 ON m2.id = v2.model_id
   WHERE v2.id = up.via)
FROM up JOIN model_versions v ON v.id = up.id JOIN models m ON m.id = v.model_id
ORDER BY up.depth, m.name, v.version;

-- name: lineage_down
-- Descendants, nearest first: what was made from this version.
WITH RECURSIVE down(id, relation, depth, via) AS (
  SELECT child_id, relation, 1, parent_id FROM parents WHERE parent_id = ?1
  UNION
  SELECT p.child_id, p.relation, down.depth + 1, p.parent_id FROM parents p JOIN down ON p.parent_id = down.id
  WHERE down.depth < 64
)
SELECT m.name, v.version, down.relation, down.depth, v.deleted_ms IS NOT NULL,
  (SELECT m2.name || ':' || v2.version FROM model_versions v2 JOIN models m2 ON m2.id = v2.model_id
   WHERE v2.id = down.via)
FROM down JOIN model_versions v ON v.id = down.id JOIN models m ON m.id = v.model_id
ORDER BY down.depth, m.name, v.version;

-- name: version_set_archived
UPDATE model_versions SET archived = ?2 WHERE id = ?1;

-- name: version_open_deployments
SELECT device_id FROM deployments WHERE version_id = ?1 AND until_ms IS NULL ORDER BY device_id;

-- name: version_tombstone
UPDATE model_versions SET deleted_ms = ?2, blob_sha256 = NULL, golden_sha256 = NULL WHERE id = ?1;

-- name: version_clear_tags
DELETE FROM version_tags WHERE version_id = ?1;

-- name: version_clear_metrics
DELETE FROM metrics WHERE version_id = ?1;

-- name: version_clear_aliases
DELETE FROM aliases WHERE version_id = ?1;

-- name: version_blobs
SELECT blob_sha256, golden_sha256 FROM model_versions WHERE id = ?1;

-- name: update_request_insert
INSERT INTO update_requests (model_id, version_id, target, state, requested_ms)
VALUES (?1, ?2, ?3, 'pending', ?4);
