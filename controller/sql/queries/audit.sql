-- The audit log: who did what on the controller, and devices' security refusals.

-- name: audit_insert
INSERT INTO audit_log (time_ms, actor, action, target, outcome, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: audit_list
SELECT time_ms, actor, action, target, outcome, detail FROM audit_log
WHERE time_ms >= ?1 ORDER BY time_ms DESC, id DESC LIMIT ?2;

-- name: audit_device_security
-- Refusals agents report as events (serve stores them in device_events).
SELECT time_s * 1000, device_id, 'device.refused', kind || ':' || name || ':' || version,
       reason, message
FROM device_events
WHERE step = 'failed' AND time_s * 1000 >= ?1
  AND reason IN ('WRONG_PAYLOAD_TYPE', 'BAD_SIGNATURE', 'UNTRUSTED_KEY', 'THRESHOLD_UNMET',
                 'KEY_REVOKED', 'WRONG_ROLE', 'EXPIRED', 'CLOCK_UNSYNCED', 'OLD_SERIAL',
                 'WRONG_DEVICE', 'VERSION_LOWER', 'CHUNK_INDEX_MISMATCH',
                 'CHUNK_HASH_MISMATCH', 'FILE_HASH_MISMATCH')
ORDER BY time_s DESC LIMIT ?2;
