-- flotilla serve: release envelopes, devices, desired state, stream ingest.

-- name: rel_version_get
SELECT m.name, v.version, v.format, coalesce(v.ir_version, 0), v.blob_sha256, v.size,
       coalesce(v.peak_memory_bytes, 0), v.golden_sha256, coalesce(v.golden_rtol, 0),
       coalesce(v.golden_atol, 0), (SELECT b.size FROM blobs b WHERE b.sha256 = v.golden_sha256),
       (SELECT p.version FROM parents pa JOIN model_versions p ON p.id = pa.parent_id
         WHERE pa.child_id = v.id AND pa.relation = 'rollback-of'),
       v.signature_json
  FROM model_versions v JOIN models m ON m.id = v.model_id
 WHERE v.id = ?1 AND v.deleted_ms IS NULL AND v.blob_sha256 IS NOT NULL;

-- name: rel_version_opsets
SELECT domain, version FROM version_opsets WHERE version_id = ?1 ORDER BY domain;

-- name: rel_version_ops
SELECT domain, op_type FROM version_ops WHERE version_id = ?1 ORDER BY domain, op_type;

-- name: rel_envelope_stale_all
UPDATE release_envelopes SET stale = 1 WHERE stale = 0;

-- name: rel_envelope_insert
INSERT INTO release_envelopes (version_id, chunk_size, index_sha256, envelope, issued_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: rel_envelope_best
SELECT id, chunk_size, envelope FROM release_envelopes
 WHERE version_id = ?1 AND stale = 0 AND expires_at > ?2 AND chunk_size <= ?3
 ORDER BY chunk_size DESC, id DESC LIMIT 1;

-- name: rel_envelope_stale
UPDATE release_envelopes SET stale = 1 WHERE id = ?1;

-- name: dev_upsert_seen
INSERT INTO devices (id, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2)
ON CONFLICT (id) DO UPDATE SET last_seen_ms = max(last_seen_ms, ?2);

-- name: dev_set_state
UPDATE devices SET state_json = ?2, state_ms = ?3, arch = ?4, board = ?5, ram_bytes = ?6,
       max_packet_size = ?7, agent_version = ?8 WHERE id = ?1;

-- name: dev_set_status
UPDATE devices SET online = ?2, status_ms = ?3 WHERE id = ?1;

-- name: dev_all_for_publish
SELECT id, desired_serial, desired_hash, desired_envelope, keys_serial, max_packet_size, state_json
  FROM devices ORDER BY id;

-- name: dev_set_desired
UPDATE devices SET desired_serial = ?2, desired_hash = ?3, desired_envelope = ?4 WHERE id = ?1;

-- name: dev_set_keys_serial
UPDATE devices SET keys_serial = ?2 WHERE id = ?1;

-- name: dep_open_for_name
SELECT d.id, d.version_id, v.version, d.state FROM deployments d
  JOIN model_versions v ON v.id = d.version_id JOIN models m ON m.id = v.model_id
 WHERE d.device_id = ?1 AND m.name = ?2 AND d.until_ms IS NULL;

-- name: dep_open_all
SELECT d.id, m.name FROM deployments d
  JOIN model_versions v ON v.id = d.version_id JOIN models m ON m.id = v.model_id
 WHERE d.device_id = ?1 AND d.until_ms IS NULL;

-- name: dep_close
UPDATE deployments SET until_ms = ?2 WHERE id = ?1;

-- name: dep_set_state
UPDATE deployments SET state = ?2, deployment_id = coalesce(?3, deployment_id) WHERE id = ?1;

-- name: dep_insert
INSERT INTO deployments (device_id, version_id, state, since_ms, deployment_id)
VALUES (?1, ?2, ?3, ?4, ?5);

-- name: version_by_name
SELECT v.id FROM model_versions v JOIN models m ON m.id = v.model_id
 WHERE m.name = ?1 AND v.version = ?2;

-- name: desired_for_device
SELECT dd.kind, dd.name, dd.version_id, dd.deployment_id, dd.probation_s, dd.max_error_rate,
       dd.max_crashes, dd.skip_reason
  FROM device_desired dd WHERE dd.device_id = ?1 ORDER BY dd.kind, dd.name;

-- name: desired_skip
UPDATE device_desired SET skip_reason = ?4 WHERE device_id = ?1 AND kind = ?2 AND name = ?3
   AND skip_reason IS NOT ?4;

-- name: desired_min_packet
SELECT min(d.max_packet_size) FROM device_desired dd JOIN devices d ON d.id = dd.device_id
 WHERE dd.version_id = ?1 AND d.max_packet_size IS NOT NULL AND d.max_packet_size >= ?2;

-- name: fetch_artifact
SELECT e.id, e.chunk_size, v.blob_sha256, e.index_sha256, v.golden_sha256
  FROM device_desired dd JOIN release_envelopes e ON e.version_id = dd.version_id
  JOIN model_versions v ON v.id = dd.version_id
 WHERE dd.device_id = ?1 AND e.stale = 0
   AND (v.blob_sha256 = ?2 OR e.index_sha256 = ?2 OR v.golden_sha256 = ?2)
 ORDER BY e.id DESC LIMIT 1;

-- name: head_get
SELECT epoch, high_seq, dropped FROM stream_heads WHERE device_id = ?1 AND stream = ?2;

-- name: head_put
INSERT INTO stream_heads (device_id, stream, epoch, high_seq, dropped) VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (device_id, stream) DO UPDATE SET epoch = ?3, high_seq = ?4, dropped = ?5;

-- name: event_insert
INSERT OR IGNORE INTO device_events (device_id, epoch, seq, time_s, kind, name, version,
       deployment_id, step, reason, message, received_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12);

-- name: tm_model_insert
INSERT OR IGNORE INTO telemetry_model (device_id, epoch, seq, time_s, interval_s, name, version,
       requests, errors, crashes, p50_us, p95_us, p99_us, bytes_in, bytes_out)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15);

-- name: tm_health_insert
INSERT OR IGNORE INTO telemetry_health (device_id, epoch, seq, time_s, cpu_pct, rss_bytes,
       mem_avail_bytes, disk_free_bytes, temp_c)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9);

-- name: retention_rollup
INSERT INTO telemetry_rollup (device_id, name, version, hour_s, requests, errors, crashes,
       p50_wsum, p95_wsum, p99_wsum)
SELECT device_id, name, version, (time_s / 3600) * 3600, sum(requests), sum(errors), sum(crashes),
       sum(p50_us * requests), sum(p95_us * requests), sum(p99_us * requests)
  FROM telemetry_model WHERE time_s < ?1 GROUP BY 1, 2, 3, 4
ON CONFLICT (device_id, name, version, hour_s) DO UPDATE SET
  requests = requests + excluded.requests, errors = errors + excluded.errors,
  crashes = crashes + excluded.crashes, p50_wsum = p50_wsum + excluded.p50_wsum,
  p95_wsum = p95_wsum + excluded.p95_wsum, p99_wsum = p99_wsum + excluded.p99_wsum;

-- name: retention_model_delete
DELETE FROM telemetry_model WHERE time_s < ?1;

-- name: retention_health_delete
DELETE FROM telemetry_health WHERE time_s < ?1;

-- name: retention_events_delete
DELETE FROM device_events WHERE time_s < ?1;

-- name: data_version
PRAGMA data_version;
