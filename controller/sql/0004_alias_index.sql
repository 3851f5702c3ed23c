-- Schema 4: aliases are read per version (model list, show), not only per model.
CREATE INDEX aliases_version ON aliases (version_id);
