-- Experiment runs and their metrics.

-- name: run_get
SELECT id, version_id FROM runs WHERE experiment_id = ?1 AND run_id = ?2;

-- name: run_insert
INSERT INTO runs (experiment_id, run_id, version_id, created_ms) VALUES (?1, ?2, ?3, ?4);

-- name: run_set_version
UPDATE runs SET version_id = ?2 WHERE id = ?1;

-- name: run_metric_insert
INSERT INTO run_metrics (run_pk, key, value, logged_ms) VALUES (?1, ?2, ?3, ?4);

-- name: run_best
-- The run in experiment ?1 whose latest value of metric ?2 is best (?3 = 1 max,
-- 0 min) among runs that name a live, unarchived model version (archive hides a
-- version from new rollouts, and a promotion exists to roll out); ties go to the
-- earlier run.
SELECT r.id, r.run_id, r.version_id, lm.value FROM runs r
JOIN model_versions v ON v.id = r.version_id AND v.deleted_ms IS NULL AND v.archived = 0
JOIN (SELECT run_pk, value FROM run_metrics rm1 WHERE key = ?2 AND id =
        (SELECT id FROM run_metrics rm2 WHERE rm2.run_pk = rm1.run_pk AND rm2.key = ?2
         ORDER BY logged_ms DESC, id DESC LIMIT 1)) lm ON lm.run_pk = r.id
WHERE r.experiment_id = ?1
ORDER BY CASE WHEN ?3 THEN -lm.value ELSE lm.value END, r.id
LIMIT 1;

-- name: run_for_version
SELECT id FROM runs WHERE experiment_id = ?1 AND version_id = ?2 ORDER BY id LIMIT 1;

-- name: run_metrics_copy
INSERT INTO metrics (version_id, key, value, logged_ms)
SELECT ?1, key, value, logged_ms FROM run_metrics WHERE run_pk = ?2;

-- name: lineage_copy
INSERT OR IGNORE INTO lineage (version_id, key, value)
SELECT ?1, key, value FROM lineage WHERE version_id = ?2;
