-- Firmware images and agent binaries (schema 5).

-- name: firmware_next_version
SELECT coalesce(max(version), 0) + 1 FROM firmware_releases WHERE name = ?1;

-- name: firmware_insert
INSERT INTO firmware_releases (name, version, label, compatible, blob_sha256, size, created_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);

-- name: firmware_list
-- ?1 name glob or NULL
SELECT name, version, label, compatible, blob_sha256, size, created_ms FROM firmware_releases
WHERE (?1 IS NULL OR name GLOB ?1) ORDER BY name, version;

-- name: agent_release_max_version
SELECT coalesce(max(version), 0) FROM agent_releases WHERE name = ?1;

-- name: agent_release_insert
INSERT INTO agent_releases (name, arch, version, blob_sha256, size, created_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: agent_release_list
-- ?1 arch or NULL
SELECT name, arch, version, blob_sha256, size, created_ms FROM agent_releases
WHERE (?1 IS NULL OR arch = ?1) ORDER BY arch, version;
