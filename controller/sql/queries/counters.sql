-- Serial-like counters devices require to grow, raised on restore.

-- name: counters_all
SELECT name, value FROM counters ORDER BY name;

-- name: counters_raise
-- Every counter, whoever added it: above anything published after the backup.
UPDATE counters SET value = max(value + 1, ?1);

-- name: models_raise_versions
UPDATE models SET next_version = max(next_version, ?1);

-- name: restore_quick_check
SELECT count(*) = 1 AND max(quick_check) = 'ok' FROM pragma_quick_check;
