/* Rollout engine against a real registry file: devices' reports are written
 * into the registry as serve's ingest would, and rollout_tick runs with a
 * controlled clock. Canary then waves, compatibility skips, failure halts at
 * the canary, deadlines, rollback as a new version, offline devices,
 * conflicts and --supersede, removal, and model update requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/msg.h"
#include "registry_db.h"
#include "rollout.h"

static struct flt_registry *R;
static char dir[64];
static int64_t v1, v2, v3;
static int64_t NOW = 1000000;

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char *err = NULL;
	int rc = sqlite3_exec(R->db, buf, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", buf, err ? err : "?");
}

static int64_t qint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int64_t qint(const char *fmt, ...)
{
	char buf[4096];
	sqlite3_stmt *st = NULL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(R->db, buf, -1, &st, NULL), SQLITE_OK);
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

static char *qtext(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *qtext(const char *fmt, ...)
{
	static char out[512];
	char buf[4096];
	sqlite3_stmt *st = NULL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(sqlite3_prepare_v2(R->db, buf, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return out;
}

/* What a device reports: online or not, supports Conv or not, and for model
 * "m": active/committed versions and its latest deployment's step. */
static void report(const char *dev, bool online, bool conv, uint64_t active, uint64_t committed,
                   const char *depid, enum flt_step step, enum flt_reason reason)
{
	struct flt_state s;
	struct flt_op_support ops[2];
	struct flt_state_release rel;
	char *text = NULL;
	size_t len = 0;
	memset(&s, 0, sizeof(s));
	memset(ops, 0, sizeof(ops));
	memset(&rel, 0, sizeof(rel));
	snprintf(s.device_id, sizeof(s.device_id), "%s", dev);
	s.time = 1700000000;
	snprintf(s.arch, sizeof(s.arch), "x86_64");
	snprintf(s.board, sizeof(s.board), "pc");
	s.ram_bytes = 1 << 30;
	s.disk_free_bytes = 1 << 30;
	s.max_packet_size = 1 << 20;
	s.agent_version = 1;
	snprintf(s.runtime_version, sizeof(s.runtime_version), "1");
	s.clock_synced = true;
	snprintf(ops[0].op_type, sizeof(ops[0].op_type), "Relu");
	ops[0].since = 1;
	snprintf(ops[1].op_type, sizeof(ops[1].op_type), "Conv");
	ops[1].since = 1;
	s.operators = ops;
	s.n_operators = conv ? 2 : 1;
	if (active || depid) {
		rel.kind = FLT_KIND_MODEL;
		snprintf(rel.name, sizeof(rel.name), "m");
		if (active) {
			rel.installed[0] = active;
			rel.n_installed = 1;
		}
		rel.active = active;
		rel.committed = committed;
		if (depid) {
			rel.has_deployment = true;
			snprintf(rel.deployment_id, sizeof(rel.deployment_id), "%s", depid);
			rel.deployment_version = active ? active : 1;
			rel.step = step;
			rel.reason = reason;
		}
		s.releases = &rel;
		s.n_releases = 1;
	}
	assert_int_equal(flt_state_encode(&s, &text, &len), FLT_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(
	    sqlite3_prepare_v2(R->db,
	                       "INSERT INTO devices (id, first_seen_ms, last_seen_ms, "
	                       "online, state_json) VALUES (?1, 1, 1, ?2, ?3) ON "
	                       "CONFLICT (id) DO UPDATE SET online = ?2, state_json = ?3",
	                       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, dev, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, online);
	sqlite3_bind_text(st, 3, text, (int)len, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	flt_free(text);
}

static const char *depid_of(const char *dev)
{
	return qtext(
	    "SELECT deployment_id FROM device_desired WHERE device_id = '%s' AND name = 'm'", dev);
}

static int64_t desired_version(const char *dev)
{
	return qint("SELECT v.version FROM device_desired dd JOIN model_versions v ON v.id = "
	            "dd.version_id WHERE dd.device_id = '%s' AND dd.name = 'm'",
	            dev);
}

static const char *dev_state(int64_t rid, const char *dev)
{
	return qtext(
	    "SELECT state FROM rollout_devices WHERE rollout_id = %lld AND device_id = '%s'",
	    (long long)rid, dev);
}

static const char *ro_state(int64_t rid)
{
	return qtext("SELECT state FROM rollouts WHERE id = %lld", (long long)rid);
}

static void tick(void)
{
	bool changed = false;
	assert_int_equal(rollout_tick(R, NOW, &changed), FLT_OK);
}

/* Reports the device's current deployment as committed at version ver. */
static void commit_dev(const char *dev, uint64_t ver)
{
	char d[80];
	snprintf(d, sizeof(d), "%s", depid_of(dev));
	report(dev, true, true, ver, ver, d, FLT_STEP_COMMITTED, FLT_REASON_NONE);
}

static int64_t create(const char *target, const char *canary, const char *wave, const char *maxf,
                      int64_t deadline, bool supersede, flt_err want)
{
	struct rollout_params p;
	char why[512];
	int64_t id = 0;
	memset(&p, 0, sizeof(p));
	p.kind = "model";
	p.action = "install";
	p.name = "m";
	p.version_id = v2;
	p.ref = "m:2";
	p.target = target;
	p.canary = canary;
	p.wave = wave;
	p.max_failures = maxf;
	p.deadline_s = deadline;
	p.supersede = supersede;
	flt_err e = rollout_create(R, &p, NOW, &id, why, sizeof(why));
	if (e != want)
		fail_msg("rollout_create: %s (%s)", flt_strerror(e), why);
	return id;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/flt-rollout-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(flt_registry_open(dir, 1, &R), FLT_OK);
	sql("INSERT INTO blobs VALUES ('%064d', 10, 1)", 0);
	sql("INSERT INTO models (id, name, next_version, created_ms) VALUES (1, 'm', 4, 1)");
	for (int v = 1; v <= 3; v++) {
		sql("INSERT INTO model_versions (model_id, version, format, framework, "
		    "blob_sha256, "
		    "size, ir_version, runnable, created_ms) VALUES (1, %d, 'onnx', 'onnx', "
		    "'%064d', "
		    "10, 8, 1, 1)",
		    v, 0);
	}
	v1 = qint("SELECT id FROM model_versions WHERE version = 1");
	v2 = qint("SELECT id FROM model_versions WHERE version = 2");
	v3 = qint("SELECT id FROM model_versions WHERE version = 3");
	for (int64_t v = v1; v <= v3; v++) {
		sql("INSERT INTO version_opsets VALUES (%lld, '', 13)", (long long)v);
		sql("INSERT INTO version_ops VALUES (%lld, '', 'Relu', 1, 1)", (long long)v);
	}
	/* v2 needs Conv, which device "old" lacks. */
	sql("INSERT INTO version_ops VALUES (%lld, '', 'Conv', 1, 1)", (long long)v2);
	/* Every device runs v1, committed, from a hand-set desired row. */
	const char *devs[] = {"a1", "a2", "a3", "a4", "old"};
	for (size_t i = 0; i < 5; i++) {
		report(devs[i], true, strcmp(devs[i], "old") != 0, 1, 1, "manual-1",
		       FLT_STEP_COMMITTED, FLT_REASON_NONE);
		sql("INSERT INTO device_desired (device_id, name, version_id, deployment_id, "
		    "updated_ms) VALUES ('%s', 'm', %lld, 'manual-1', 1)",
		    devs[i], (long long)v1);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	flt_registry_close(R);
	R = NULL;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return -1;
	return 0;
}

static void canary_then_waves(void **state)
{
	(void)state;
	int64_t id = create("all", "1", "2", NULL, 600, false, FLT_OK);
	/* Incompatible: skipped with the reason, never sent. */
	assert_string_equal(dev_state(id, "old"), "skipped");
	assert_non_null(strstr(qtext("SELECT reason FROM rollout_devices WHERE device_id = 'old'"),
	                       "OPERATOR_UNSUPPORTED"));
	tick();
	assert_int_equal(desired_version("a1"), 2); /* canary */
	assert_int_equal(desired_version("a2"), 1);
	assert_int_equal(desired_version("a4"), 1);
	tick(); /* nothing reported: nothing else starts */
	assert_int_equal(desired_version("a2"), 1);
	char d[80];
	snprintf(d, sizeof(d), "%s", depid_of("a1"));
	report("a1", true, true, 2, 1, d, FLT_STEP_PROBATION, FLT_REASON_NONE);
	tick();
	assert_string_equal(dev_state(id, "a1"), "probation");
	assert_int_equal(desired_version("a2"), 1);
	commit_dev("a1", 2);
	tick();
	assert_string_equal(dev_state(id, "a1"), "committed");
	assert_int_equal(desired_version("a2"), 2);
	assert_int_equal(desired_version("a3"), 2);
	assert_int_equal(desired_version("a4"), 1);
	char d2[80];
	snprintf(d2, sizeof(d2), "%s", depid_of("a2"));
	assert_string_not_equal(d2, depid_of("a3")); /* one deployment id each */
	commit_dev("a2", 2);
	commit_dev("a3", 2);
	tick();
	assert_int_equal(desired_version("a4"), 2);
	commit_dev("a4", 2);
	tick();
	assert_string_equal(ro_state(id), "completed");
	assert_int_equal(desired_version("old"), 1);
}

static void golden_failure_halts_at_canary(void **state)
{
	(void)state;
	int64_t id = create("all", "1", NULL, NULL, 600, false, FLT_OK);
	tick();
	char d[80];
	snprintf(d, sizeof(d), "%s", depid_of("a1"));
	report("a1", true, true, 1, 1, d, FLT_STEP_FAILED, FLT_REASON_GOLDEN_MISMATCH);
	tick();
	assert_string_equal(ro_state(id), "halted");
	assert_string_equal(dev_state(id, "a1"), "failed");
	assert_string_equal(qtext("SELECT reason FROM rollout_devices WHERE device_id = 'a1'"),
	                    "GOLDEN_MISMATCH");
	/* The canary gets exactly its previous entry back; nobody else changed. */
	assert_int_equal(desired_version("a1"), 1);
	assert_string_equal(depid_of("a1"), "manual-1");
	for (const char *const *x = (const char *const[]){"a2", "a3", "a4", "old", NULL}; *x; x++) {
		assert_int_equal(desired_version(*x), 1);
		assert_string_equal(depid_of(*x), "manual-1");
	}
	assert_string_equal(dev_state(id, "a2"), "cancelled");
	tick(); /* a halted rollout stays halted */
	assert_string_equal(ro_state(id), "halted");
	assert_int_equal(desired_version("a2"), 1);
}

static void deadline_trips_threshold(void **state)
{
	(void)state;
	int64_t id = create("device:a1,a2", "2", NULL, "1", 5, false, FLT_OK);
	tick();
	assert_int_equal(desired_version("a1"), 2);
	assert_int_equal(desired_version("a2"), 2);
	commit_dev("a1", 2);
	NOW += 4000;
	tick();
	assert_string_equal(dev_state(id, "a2"), "pending");
	NOW += 2000; /* past the 5 s deadline: one failure, allowed */
	tick();
	assert_string_equal(dev_state(id, "a2"), "failed");
	assert_non_null(
	    strstr(qtext("SELECT reason FROM rollout_devices WHERE device_id = 'a2'"), "TIMEOUT"));
	assert_string_equal(ro_state(id), "completed");
	/* Again with no failure allowed: halts. */
	int64_t id2 = create("device:a3", "1", NULL, "0", 5, false, FLT_OK);
	tick();
	NOW += 6000;
	tick();
	assert_string_equal(ro_state(id2), "halted");
	assert_int_equal(desired_version("a3"), 1);
}

static void probation_rollback_is_failure_and_halt_rolls_back(void **state)
{
	(void)state;
	int64_t id = create("all", "2", NULL, "0", 600, false, FLT_OK);
	tick();
	commit_dev("a1", 2);
	char d[80];
	snprintf(d, sizeof(d), "%s", depid_of("a2"));
	report("a2", true, true, 2, 1, d, FLT_STEP_PROBATION, FLT_REASON_NONE);
	tick();
	assert_string_equal(ro_state(id), "running");
	report("a2", true, true, 1, 1, d, FLT_STEP_ROLLED_BACK, FLT_REASON_ERROR_RATE);
	tick();
	assert_string_equal(ro_state(id), "halted");
	/* a1 had committed v2: it is moved to a new, higher version with v1's
	 * bytes, lineage rollback-of m:1, so its anti-rollback holds. */
	int64_t rb = desired_version("a1");
	assert_int_equal(rb, 4);
	int64_t rbid = qint("SELECT id FROM model_versions WHERE version = 4");
	assert_int_equal(qint("SELECT parent_id FROM parents WHERE child_id = %lld AND relation = "
	                      "'rollback-of'",
	                      (long long)rbid),
	                 v1);
	assert_string_equal(qtext("SELECT value FROM lineage WHERE version_id = %lld AND key = "
	                          "'rollback-of'",
	                          (long long)rbid),
	                    "m:1");
	assert_string_equal(
	    qtext("SELECT blob_sha256 FROM model_versions WHERE id = %lld", (long long)rbid),
	    qtext("SELECT blob_sha256 FROM model_versions WHERE id = %lld", (long long)v1));
	assert_int_equal(
	    qint("SELECT count(*) FROM version_ops WHERE version_id = %lld", (long long)rbid), 1);
	assert_string_equal(dev_state(id, "a1"), "rolled_back");
	assert_string_equal(dev_state(id, "a2"), "rolled_back");
	assert_int_equal(desired_version("a2"), 1);
	assert_int_equal(qint("SELECT next_version FROM models WHERE id = 1"), 5);
}

static void offline_device(void **state)
{
	(void)state;
	report("a1", false, true, 1, 1, "manual-1", FLT_STEP_COMMITTED, FLT_REASON_NONE);
	int64_t id = create("device:a1", "1", NULL, NULL, 600, false, FLT_OK);
	tick();
	assert_string_equal(dev_state(id, "a1"), "offline");
	assert_string_equal(ro_state(id), "running");
	commit_dev("a1", 2); /* back online, installs */
	tick();
	assert_string_equal(dev_state(id, "a1"), "committed");
	assert_string_equal(ro_state(id), "completed");

	/* Offline when its rollout halts: its desired state goes back, so it
	 * never sees the halted version when it returns. */
	report("a3", false, true, 1, 1, "manual-1", FLT_STEP_COMMITTED, FLT_REASON_NONE);
	int64_t id2 = create("device:a2,a3", "2", NULL, "0", 600, false, FLT_OK);
	tick();
	assert_int_equal(desired_version("a3"), 2);
	char d[80];
	snprintf(d, sizeof(d), "%s", depid_of("a2"));
	report("a2", true, true, 1, 1, d, FLT_STEP_FAILED, FLT_REASON_LOAD_FAILED);
	tick();
	assert_string_equal(ro_state(id2), "halted");
	assert_int_equal(desired_version("a3"), 1);
	assert_string_equal(depid_of("a3"), "manual-1");
}

static void conflict_and_supersede(void **state)
{
	(void)state;
	int64_t id = create("device:a1,a2", "1", NULL, NULL, 600, false, FLT_OK);
	create("device:a2", "1", NULL, NULL, 600, false, FLT_ECONFLICT);
	assert_int_equal(qint("SELECT count(*) FROM rollouts"), 1);
	int64_t id2 = create("device:a2,a3", "2", NULL, NULL, 600, true, FLT_OK);
	assert_string_equal(dev_state(id, "a2"), "superseded");
	assert_string_equal(dev_state(id, "a1"), "pending");
	tick();
	assert_int_equal(desired_version("a1"), 2);
	assert_int_equal(desired_version("a2"), 2);
	assert_non_null(strstr(depid_of("a2"), "r2-"));
	commit_dev("a1", 2);
	commit_dev("a2", 2);
	commit_dev("a3", 2);
	tick();
	tick();
	assert_string_equal(ro_state(id), "completed");
	assert_string_equal(ro_state(id2), "completed");
}

static void remove_everywhere(void **state)
{
	(void)state;
	struct rollout_params p;
	char why[256];
	int64_t id = 0;
	memset(&p, 0, sizeof(p));
	p.kind = "model";
	p.action = "remove";
	p.name = "m";
	p.ref = "m";
	p.target = "all";
	p.canary = "1";
	assert_int_equal(rollout_create(R, &p, NOW, &id, why, sizeof(why)), FLT_OK);
	tick();
	assert_int_equal(qint("SELECT count(*) FROM device_desired WHERE device_id = 'a1'"), 0);
	assert_int_equal(qint("SELECT count(*) FROM device_desired"), 4);
	report("a1", true, true, 0, 0, NULL, FLT_STEP_COMMITTED, FLT_REASON_NONE);
	tick();
	assert_int_equal(qint("SELECT count(*) FROM device_desired"), 0);
	const char *devs[] = {"a2", "a3", "a4", "old"};
	for (size_t i = 0; i < 4; i++)
		report(devs[i], true, true, 0, 0, NULL, FLT_STEP_COMMITTED, FLT_REASON_NONE);
	tick();
	assert_string_equal(ro_state(id), "completed");
}

static void pause_abort(void **state)
{
	(void)state;
	int64_t id = create("all", "1", NULL, NULL, 600, false, FLT_OK);
	sql("UPDATE rollouts SET state = 'paused' WHERE id = %lld", (long long)id);
	tick();
	assert_int_equal(desired_version("a1"), 1); /* paused: nothing starts */
	sql("UPDATE rollouts SET state = 'running' WHERE id = %lld", (long long)id);
	tick();
	assert_int_equal(desired_version("a1"), 2);
	assert_int_equal(rollout_stop(R, id, "aborted", "ABORTED: test", false, NOW), FLT_OK);
	assert_string_equal(ro_state(id), "aborted");
	assert_int_equal(desired_version("a1"), 1);
	assert_int_equal(rollout_stop(R, id, "aborted", "again", false, NOW), FLT_EINVAL);
}

static void update_request_runs(void **state)
{
	(void)state;
	sql("INSERT INTO update_requests (model_id, version_id, target, requested_ms) VALUES (1, "
	    "%lld, 'all', 1)",
	    (long long)v2);
	tick();
	assert_string_equal(qtext("SELECT state FROM update_requests"), "started");
	int64_t id = qint("SELECT id FROM rollouts WHERE update_request_id = 1");
	assert_true(id > 0);
	assert_string_equal(dev_state(id, "old"), "skipped");
	tick();
	assert_int_equal(desired_version("a1"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(canary_then_waves, setup, teardown),
	    cmocka_unit_test_setup_teardown(golden_failure_halts_at_canary, setup, teardown),
	    cmocka_unit_test_setup_teardown(deadline_trips_threshold, setup, teardown),
	    cmocka_unit_test_setup_teardown(probation_rollback_is_failure_and_halt_rolls_back,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(offline_device, setup, teardown),
	    cmocka_unit_test_setup_teardown(conflict_and_supersede, setup, teardown),
	    cmocka_unit_test_setup_teardown(remove_everywhere, setup, teardown),
	    cmocka_unit_test_setup_teardown(pause_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(update_request_runs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
