-- Firmware and agent releases as serve signs them (serve_ota.c).

-- name: ota_firmware_get
-- ?1 name, ?2 version
SELECT label, compatible, blob_sha256, size FROM firmware_releases WHERE name = ?1 AND version = ?2;

-- name: ota_agent_get
-- ?1 arch, ?2 version
SELECT name, blob_sha256, size FROM agent_releases WHERE arch = ?1 AND version = ?2;
