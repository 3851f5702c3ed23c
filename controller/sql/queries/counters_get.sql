-- One counter at a time (keystore, serve): the next value, then read it back.

-- name: counter_next
UPDATE counters SET value = value + 1 WHERE name = ?1;

-- name: counter_get
SELECT value FROM counters WHERE name = ?1;
