-- The blob table mirrors the files under blobs/sha256; blob_refs (a view) says
-- what keeps each alive.

-- name: blob_insert
INSERT OR IGNORE INTO blobs (sha256, size, created_ms) VALUES (?1, ?2, ?3);

-- name: blob_known
SELECT 1 FROM blobs WHERE sha256 = ?1;

-- name: blob_referenced
SELECT 1 FROM blob_refs WHERE sha256 = ?1 LIMIT 1;

-- name: blob_delete
DELETE FROM blobs WHERE sha256 = ?1;

-- name: blob_unreferenced
SELECT sha256 FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM blob_refs);

-- name: blob_all
SELECT sha256, size FROM blobs ORDER BY sha256;
