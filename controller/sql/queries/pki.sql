-- Certificates issued by the fleet CA, revoked devices, security settings.

-- name: cert_insert
INSERT INTO certificates (serial, identity, kind, not_before, not_after, issued_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: cert_count_identity
SELECT count(*) FROM certificates WHERE identity = ?1 AND kind = ?2;

-- name: cert_count_kind
SELECT count(*) FROM certificates WHERE kind = ?1;

-- name: cert_revoke_identity
UPDATE certificates SET revoked_ms = ?2
WHERE identity = ?1 AND kind = 'device' AND revoked_ms IS NULL;

-- name: cert_revoked_all
SELECT serial, revoked_ms FROM certificates WHERE revoked_ms IS NOT NULL ORDER BY serial;

-- name: device_revoked_insert
INSERT OR IGNORE INTO revoked_devices (device_id, revoked_ms) VALUES (?1, ?2);

-- name: device_revoked_get
SELECT revoked_ms FROM revoked_devices WHERE device_id = ?1;

-- name: device_revoked_all
SELECT device_id FROM revoked_devices ORDER BY device_id;

-- name: pki_setting_set
INSERT INTO pki_settings (key, value) VALUES (?1, ?2)
ON CONFLICT (key) DO UPDATE SET value = excluded.value;

-- name: pki_setting_get
SELECT value FROM pki_settings WHERE key = ?1;

-- name: table_exists
SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1;

-- name: pki_device_insert
-- serve's devices table: a provisioned device is known before it first reports.
INSERT OR IGNORE INTO devices (id, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2);

-- name: pki_group_ensure
INSERT OR IGNORE INTO device_groups (name, created_ms) VALUES (?1, ?2);

-- name: pki_group_add
INSERT OR IGNORE INTO group_members (group_id, device_id)
SELECT id, ?2 FROM device_groups WHERE name = ?1;
