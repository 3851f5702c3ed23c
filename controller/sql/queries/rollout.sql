-- Rollouts: creation (targets, conflicts), the engine in serve, and status.

-- name: ro_target_all
SELECT id, state_json FROM devices ORDER BY id;

-- name: ro_target_group
SELECT d.id, d.state_json FROM devices d JOIN group_members gm ON gm.device_id = d.id
  JOIN device_groups g ON g.id = gm.group_id WHERE g.name = ?1 ORDER BY d.id;

-- name: ro_target_tag
SELECT d.id, d.state_json FROM devices d JOIN device_tags t ON t.device_id = d.id
 WHERE t.key = ?1 AND t.value = ?2 ORDER BY d.id;

-- name: ro_target_device
SELECT id, state_json FROM devices WHERE id = ?1;

-- name: ro_target_running
-- Devices whose desired state or open deployment names the model.
SELECT d.id, d.state_json FROM devices d
 WHERE EXISTS (SELECT 1 FROM device_desired dd WHERE dd.device_id = d.id AND dd.kind = 'model' AND dd.name = ?1)
    OR EXISTS (SELECT 1 FROM deployments dep JOIN model_versions v ON v.id = dep.version_id
                JOIN models m ON m.id = v.model_id
               WHERE dep.device_id = d.id AND dep.until_ms IS NULL AND m.name = ?1)
 ORDER BY d.id;

-- name: ro_active_for_device
-- The active rollout (running or paused) covering (kind, name, device), if any.
SELECT r.id FROM rollouts r JOIN rollout_devices rd ON rd.rollout_id = r.id
 WHERE r.kind = ?1 AND r.name = ?2 AND rd.device_id = ?3 AND r.state IN ('running', 'paused')
   AND rd.state NOT IN ('skipped', 'superseded') LIMIT 1;

-- name: ro_supersede_device
UPDATE rollout_devices SET state = 'superseded', reason = 'SUPERSEDED: by rollout ' || ?3,
       finished_ms = ?4
 WHERE rollout_id = ?1 AND device_id = ?2;

-- name: ro_insert
INSERT INTO rollouts (kind, name, action, version_id, ref, target, canary, wave_size, n_waves,
       probation_s, deadline_s, max_failures, update_request_id, created_ms, updated_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14);

-- name: ro_device_insert
INSERT INTO rollout_devices (rollout_id, device_id, wave, state, reason) VALUES (?1, ?2, ?3, ?4, ?5);

-- name: ro_active
SELECT id, kind, name, action, version_id, state, current_wave, n_waves, deadline_s,
       probation_s, max_failures, max_error_rate, max_crashes
  FROM rollouts WHERE state = 'running' ORDER BY id;

-- name: ro_get
SELECT id, kind, name, action, version_id, ref, target, state, reason, canary, wave_size, n_waves,
       current_wave, probation_s, deadline_s, max_failures, created_ms, updated_ms,
       rollback_version_id
  FROM rollouts WHERE id = ?1;

-- name: ro_list
SELECT r.id, r.kind, r.name, r.action, r.ref, r.target, r.state, r.current_wave, r.n_waves,
       (SELECT count(*) FROM rollout_devices rd WHERE rd.rollout_id = r.id AND rd.state = 'committed'),
       (SELECT count(*) FROM rollout_devices rd WHERE rd.rollout_id = r.id AND rd.state IN ('failed', 'rolled_back')),
       (SELECT count(*) FROM rollout_devices rd WHERE rd.rollout_id = r.id AND rd.state <> 'skipped'),
       r.reason, r.created_ms
  FROM rollouts r ORDER BY r.id;

-- name: ro_latest
SELECT max(id) FROM rollouts;

-- name: ro_set_state
UPDATE rollouts SET state = ?2, reason = ?3, updated_ms = ?4 WHERE id = ?1;

-- name: ro_set_wave
UPDATE rollouts SET current_wave = ?2, updated_ms = ?3 WHERE id = ?1;

-- name: ro_set_rollback
UPDATE rollouts SET rollback_version_id = ?2 WHERE id = ?1;

-- name: ro_devices
SELECT rd.device_id, rd.wave, rd.state, rd.reason, rd.deployment_id, rd.started_ms,
       rd.deadline_ms, d.online, d.state_json, rd.prev_version_id, rd.prev_deployment_id,
       rd.prev_probation_s
  FROM rollout_devices rd LEFT JOIN devices d ON d.id = rd.device_id
 WHERE rd.rollout_id = ?1 ORDER BY rd.wave, rd.device_id;

-- name: ro_device_set
UPDATE rollout_devices SET state = ?3, reason = ?4, finished_ms = ?5
 WHERE rollout_id = ?1 AND device_id = ?2;

-- name: ro_device_start
UPDATE rollout_devices SET deployment_id = ?3, prev_version_id = ?4, prev_deployment_id = ?5,
       prev_probation_s = ?6, started_ms = ?7, deadline_ms = ?8, state = 'pending'
 WHERE rollout_id = ?1 AND device_id = ?2;

-- name: ro_desired_get
SELECT version_id, deployment_id, probation_s FROM device_desired
 WHERE device_id = ?1 AND kind = ?2 AND name = ?3;

-- name: ro_desired_set
INSERT INTO device_desired (device_id, kind, name, version_id, deployment_id, probation_s,
       max_error_rate, max_crashes, rollout_id, updated_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (device_id, kind, name) DO UPDATE SET version_id = ?4, deployment_id = ?5,
  probation_s = ?6, max_error_rate = ?7, max_crashes = ?8, rollout_id = ?9, updated_ms = ?10,
  skip_reason = NULL;

-- name: ro_desired_rm
DELETE FROM device_desired WHERE device_id = ?1 AND kind = ?2 AND name = ?3;

-- name: ro_version_info
SELECT v.model_id, v.version, m.name FROM model_versions v JOIN models m ON m.id = v.model_id
 WHERE v.id = ?1;

-- name: ro_rollback_copy
-- A new version ?2 of the same model with the bytes and analysis of version ?1.
INSERT INTO model_versions (model_id, version, format, framework, blob_sha256, size, ir_version,
       producer, param_count, param_bytes, peak_memory_bytes, runnable, not_runnable_reason,
       signature_json, created_ms, source_run_pk, golden_sha256, golden_rtol, golden_atol,
       golden_count)
SELECT model_id, ?2, format, framework, blob_sha256, size, ir_version, producer, param_count,
       param_bytes, peak_memory_bytes, runnable, not_runnable_reason, signature_json, ?3,
       source_run_pk, golden_sha256, golden_rtol, golden_atol, golden_count
  FROM model_versions WHERE id = ?1;

-- name: ro_rollback_opsets
INSERT INTO version_opsets (version_id, domain, version)
SELECT ?2, domain, version FROM version_opsets WHERE version_id = ?1;

-- name: ro_rollback_ops
INSERT INTO version_ops (version_id, domain, op_type, count, supported)
SELECT ?2, domain, op_type, count, supported FROM version_ops WHERE version_id = ?1;

-- name: ro_rollback_parent
INSERT INTO parents (child_id, parent_id, relation) VALUES (?2, ?1, 'rollback-of');

-- name: ro_rollback_lineage
INSERT INTO lineage (version_id, key, value) VALUES (?1, ?2, ?3);

-- name: ro_update_pending
SELECT u.id, m.name, u.version_id, m.name || ':' || v.version FROM update_requests u
  JOIN models m ON m.id = u.model_id JOIN model_versions v ON v.id = u.version_id
 WHERE u.state = 'pending' ORDER BY u.id;

-- name: ro_update_set
UPDATE update_requests SET state = ?2 WHERE id = ?1;

-- name: ro_shift_deadlines
UPDATE rollout_devices SET deadline_ms = deadline_ms + ?2
 WHERE rollout_id = ?1 AND started_ms IS NOT NULL AND finished_ms IS NULL;

-- name: ro_paused_since
SELECT updated_ms FROM rollouts WHERE id = ?1 AND state = 'paused';
