-- Schema 9: 0006 redefined blob_refs and dropped the chunk indexes that signed release
-- envelopes name (0005 had them): gc then failed on the foreign key and backups
-- lost those rows. Every blob reference is listed again.
DROP VIEW blob_refs;
CREATE VIEW blob_refs AS
  SELECT blob_sha256 AS sha256 FROM model_versions WHERE blob_sha256 IS NOT NULL
  UNION ALL
  SELECT golden_sha256 FROM model_versions WHERE golden_sha256 IS NOT NULL
  UNION ALL
  SELECT index_sha256 FROM release_envelopes
  UNION ALL
  SELECT blob_sha256 FROM firmware_releases
  UNION ALL
  SELECT blob_sha256 FROM agent_releases;
