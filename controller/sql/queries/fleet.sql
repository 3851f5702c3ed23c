-- Devices and groups for the CLI (device list|show|tag|set-model, group ...).

-- name: device_list
SELECT d.id, d.online, d.last_seen_ms,
       (SELECT group_concat(g.name, ',') FROM group_members gm JOIN device_groups g ON g.id = gm.group_id
         WHERE gm.device_id = d.id),
       (SELECT group_concat(m.name || ':' || v.version || ' (' || dep.state || ')', ', ')
          FROM deployments dep JOIN model_versions v ON v.id = dep.version_id
          JOIN models m ON m.id = v.model_id
         WHERE dep.device_id = d.id AND dep.until_ms IS NULL),
       (SELECT count(*) FROM device_events e WHERE e.device_id = d.id
           AND e.step IN ('failed', 'rolled_back') AND e.time_s >= ?1),
       (SELECT sum(t.requests) FROM telemetry_model t WHERE t.device_id = d.id AND t.time_s >= ?1),
       (SELECT sum(t.errors) FROM telemetry_model t WHERE t.device_id = d.id AND t.time_s >= ?1),
       d.agent_version, d.arch
  FROM devices d ORDER BY d.id;

-- name: device_get
SELECT id, first_seen_ms, last_seen_ms, online, status_ms, state_json, state_ms, desired_serial
  FROM devices WHERE id = ?1;

-- name: device_tags
SELECT key, value FROM device_tags WHERE device_id = ?1 ORDER BY key;

-- name: device_groups_of
SELECT g.name FROM group_members gm JOIN device_groups g ON g.id = gm.group_id
 WHERE gm.device_id = ?1 ORDER BY g.name;

-- name: device_history
SELECT m.name, v.version, dep.state, dep.since_ms, dep.until_ms, dep.deployment_id
  FROM deployments dep JOIN model_versions v ON v.id = dep.version_id JOIN models m ON m.id = v.model_id
 WHERE dep.device_id = ?1 ORDER BY dep.since_ms DESC, dep.id DESC LIMIT 100;

-- name: device_recent_events
SELECT seq, time_s, kind, name, version, deployment_id, step, reason, message
  FROM device_events WHERE device_id = ?1 ORDER BY time_s DESC, seq DESC LIMIT ?2;

-- name: device_desired_rows
SELECT dd.kind, dd.name, m.name || ':' || v.version, dd.deployment_id, dd.skip_reason
  FROM device_desired dd JOIN model_versions v ON v.id = dd.version_id JOIN models m ON m.id = v.model_id
 WHERE dd.device_id = ?1 ORDER BY dd.kind, dd.name;

-- name: device_exists
SELECT 1 FROM devices WHERE id = ?1;

-- name: device_tag_set
INSERT INTO device_tags (device_id, key, value) VALUES (?1, ?2, ?3)
ON CONFLICT (device_id, key) DO UPDATE SET value = ?3;

-- name: device_tag_rm
DELETE FROM device_tags WHERE device_id = ?1 AND key = ?2;

-- name: device_desired_set
INSERT INTO device_desired (device_id, kind, name, version_id, deployment_id, probation_s,
       max_error_rate, max_crashes, updated_ms)
VALUES (?1, 'model', ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (device_id, kind, name) DO UPDATE SET version_id = ?3, deployment_id = ?4,
  probation_s = ?5, max_error_rate = ?6, max_crashes = ?7, updated_ms = ?8, rollout_id = NULL,
  skip_reason = NULL;

-- name: device_desired_rm
DELETE FROM device_desired WHERE device_id = ?1 AND kind = 'model' AND name = ?2;

-- name: group_create
INSERT INTO device_groups (name, created_ms) VALUES (?1, ?2);

-- name: group_id
SELECT id FROM device_groups WHERE name = ?1;

-- name: group_add
INSERT OR IGNORE INTO group_members (group_id, device_id) VALUES (?1, ?2);

-- name: group_rm
DELETE FROM group_members WHERE group_id = ?1 AND device_id = ?2;

-- name: group_list
SELECT g.name, count(gm.device_id), coalesce(group_concat(gm.device_id, ','), '')
  FROM device_groups g LEFT JOIN group_members gm ON gm.group_id = g.id
 GROUP BY g.id ORDER BY g.name;

-- name: group_members_of
SELECT device_id FROM group_members gm JOIN device_groups g ON g.id = gm.group_id
 WHERE g.name = ?1 ORDER BY device_id;
