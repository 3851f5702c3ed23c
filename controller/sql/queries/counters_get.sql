-- Reading one counter (keystore, serve).

-- name: counter_get
SELECT value FROM counters WHERE name = ?1;
