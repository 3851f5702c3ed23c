-- Schema 3: a registry-wide floor for the first version of a new model name.
-- Restore raises it with the other counters, so a name first registered on
-- the live registry after a backup cannot restart at version 1 after restore.
INSERT INTO counters (name, value) VALUES ('model_version_floor', 1);
