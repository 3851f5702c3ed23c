/* Unit tests for the fleet CA store and the key ceremony, run through the
 * controller's command line in-process: keys init makes a CA and CRL,
 * provisioning refuses duplicates and the reserved identity, revocation puts
 * the serial in the CRL and a deny block in the ACL, the audit log records it
 * all; keys rotate/revoke give lists a device accepts in order, after which a
 * release signed by the revoked key is refused and one by the new key
 * accepted, and a replayed older list is refused. The root can live offline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/x509_crl.h>
#include <sqlite3.h>

#include "flt/agentd.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/audit.h"
#include "flt/controller.h"
#include "flt/dsse.h"
#include "flt/keylist.h"
#include "flt/keystore.h"
#include "flt/pki.h"
#include "flt/protocol.h"
#include "flt/registry.h"
#include "sys_testutil.h"

static char g_dir[256];

/* Runs `flotilla ARGS... --data-dir g_dir -o json` in-process, stdout to /dev/null. */
static int cli(const char *a0, ...)
{
	char *argv[32] = {"flotilla"};
	int n = 1;
	va_list ap;
	va_start(ap, a0);
	for (const char *s = a0; s && n < 28; s = va_arg(ap, const char *))
		argv[n++] = (char *)s;
	va_end(ap);
	argv[n++] = "--data-dir";
	argv[n++] = g_dir;
	argv[n++] = "-o";
	argv[n++] = "json";
	argv[n] = NULL;
	fflush(stdout);
	int saved = dup(1);
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	dup2(fileno(devnull), 1);
	int rc = flt_controller_cli(n, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(devnull);
	return rc;
}

static char *slurp(const char *rel, size_t *len)
{
	char path[512];
	uint8_t *buf = NULL;
	size_t l = 0;
	snprintf(path, sizeof path, "%s/%s", g_dir, rel);
	assert_int_equal(flt_file_read_all(path, 1 << 20, &buf, &l, NULL), FLT_OK);
	if (len)
		*len = l;
	return (char *)buf;
}

static void test_ca_provision_revoke_audit(void **state)
{
	(void)state;
	char out[512], serial[FLT_PKI_SERIAL_HEX + 3];
	struct stat st;
	assert_int_equal(tu_mkdtemp(g_dir, sizeof g_dir, "pkistore"), 0);
	assert_int_equal(cli("keys", "init", NULL), 0);
	assert_int_equal(cli("keys", "init", NULL), 4); /* never overwrites */
	static const char *const files[] = {"keys/ca.key", "keys/controller.key"};
	for (int i = 0; i < 2; i++) {
		snprintf(out, sizeof out, "%s/%s", g_dir, files[i]);
		assert_int_equal(stat(out, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	size_t len;
	char *ctl = slurp("keys/controller.pem", &len);
	struct flt_cert_info ci;
	assert_int_equal(flt_pki_cert_info((uint8_t *)ctl, len, &ci), FLT_OK);
	assert_string_equal(ci.cn, "flotilla-controller");
	flt_free(ctl);

	{
		/* A data dir that cannot be created is a failure (1) that says so, not
		 * "not found" (3) or a conflict (4). */
		char bad[512];
		snprintf(bad, sizeof bad, "%s/keys/ca.key/sub", g_dir);
		char *av[] = {"flotilla", "keys", "init", "--data-dir", bad, NULL};
		assert_int_equal(flt_controller_cli(5, av), 1);
		snprintf(bad, sizeof bad, "%s/keys/ca.key", g_dir);
		assert_int_equal(flt_controller_cli(5, av), 1);
	}
	snprintf(out, sizeof out, "%s/bundle", g_dir);
	assert_int_equal(cli("device", "provision", "dev-1", "--out", out, "--group", "lab", NULL),
	                 0);
	assert_int_equal(cli("device", "provision", "dev-1", "--out", out, NULL), 4);
	{
		/* --out naming a file is invalid input (5), not "already provisioned" (4),
		 * and leaves no device behind. */
		char file[512];
		int64_t n = -1;
		snprintf(file, sizeof file, "%s/bundle/agent.conf", g_dir);
		assert_int_equal(cli("device", "provision", "dev-f", "--out", file, NULL), 5);
		assert_int_equal(cli("device", "provision", "dev-f", "--out", file, NULL), 5);
		assert_int_equal(cli("broker-config", "--out", file, NULL), 5);
		char dbp[512];
		sqlite3 *db = NULL;
		sqlite3_stmt *q = NULL;
		snprintf(dbp, sizeof dbp, "%s/registry.db", g_dir);
		assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
		assert_int_equal(
		    sqlite3_prepare_v2(db, "SELECT count(*) FROM devices WHERE id = 'dev-f'", -1,
		                       &q, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		n = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		sqlite3_close(db);
		assert_int_equal(n, 0);
	}
	{
		/* Registered: the device row and its group membership. */
		char dbp[512];
		sqlite3 *db = NULL;
		sqlite3_stmt *q = NULL;
		snprintf(dbp, sizeof dbp, "%s/registry.db", g_dir);
		assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
		assert_int_equal(
		    sqlite3_prepare_v2(db,
		                       "SELECT count(*) FROM devices d JOIN group_members m"
		                       " ON m.device_id = d.id JOIN device_groups g"
		                       " ON g.id = m.group_id"
		                       " WHERE d.id = 'dev-1' AND g.name = 'lab'",
		                       -1, &q, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(q, 0), 1);
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
	assert_int_equal(cli("device", "provision", "flotilla-controller", "--out", out, NULL), 5);
	assert_int_equal(cli("device", "provision", "../x", "--out", out, NULL), 5);
	assert_int_equal(cli("device", "provision", "dev-2", "--renew", "--out", out, NULL), 3);
	assert_int_equal(cli("device", "provision", "dev-1", "--renew", "--out", out, NULL), 0);
	char *dev = slurp("bundle/device.pem", &len);
	assert_int_equal(flt_pki_cert_info((uint8_t *)dev, len, &ci), FLT_OK);
	assert_string_equal(ci.cn, "dev-1");
	snprintf(serial, sizeof serial, "%s", ci.serial_hex);
	flt_free(dev);
	char *conf = slurp("bundle/agent.conf", NULL);
	assert_non_null(strstr(conf, "id = dev-1\n"));
	assert_non_null(strstr(conf, "key_file = /etc/flotilla/device.key\n"));
	flt_free(conf);
	/* The agent's own loader takes the bundle's agent.conf as it is. */
	struct flt_agentd_conf ac;
	char cerr[256] = "";
	snprintf(out, sizeof out, "%s/bundle/agent.conf", g_dir);
	assert_int_equal(flt_agentd_conf_load(out, NULL, 0, &ac, cerr, sizeof cerr), FLT_OK);
	assert_string_equal(ac.device_id, "dev-1");
	assert_string_equal(ac.broker, "ssl://localhost:8883");
	assert_string_equal(ac.key_file, "/etc/flotilla/device.key");
	assert_string_equal(ac.cert_file, "/etc/flotilla/device.pem");
	assert_string_equal(ac.ca_file, "/etc/flotilla/ca.pem");
	assert_string_equal(ac.root_keys, "/etc/flotilla/root-keys.pem");
	flt_agentd_conf_free(&ac);
	snprintf(out, sizeof out, "%s/bundle/device.key", g_dir);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	snprintf(out, sizeof out, "%s/broker", g_dir);
	assert_int_equal(cli("broker-config", "--out", out, "--port", "18883",
	                     "--plain-loopback-port", "18884", "--name", "mqtt.example", NULL),
	                 0);
	char *mc = slurp("broker/mosquitto.conf", NULL);
	assert_non_null(strstr(mc, "require_certificate true\n"));
	assert_non_null(strstr(mc, "use_identity_as_username true\n"));
	assert_non_null(strstr(mc, "use_username_as_clientid true\n"));
	assert_non_null(strstr(mc, "listener 18884 127.0.0.1\n"));
	flt_free(mc);

	/* Revocation: both of dev-1's certificates go into the CRL, the ACL gets
	 * the deny block, re-provisioning the id is refused, twice is harmless. */
	assert_int_equal(cli("device", "revoke", "dev-1", NULL), 0);
	assert_int_equal(cli("device", "revoke", "dev-1", NULL), 0);
	assert_int_equal(cli("device", "revoke", "nobody", NULL), 3);
	snprintf(out, sizeof out, "%s/bundle2", g_dir);
	assert_int_equal(cli("device", "provision", "dev-1", "--renew", "--out", out, NULL), 4);
	char *crl = slurp("broker/crl.pem", &len);
	mbedtls_x509_crl x;
	mbedtls_x509_crl_init(&x);
	assert_int_equal(mbedtls_x509_crl_parse(&x, (const unsigned char *)crl, len + 1), 0);
	int found = 0, entries = 0;
	for (const mbedtls_x509_crl_entry *e = &x.entry; e && e->serial.len; e = e->next) {
		char hex[FLT_PKI_SERIAL_HEX + 1];
		entries++;
		if (e->serial.len == FLT_PKI_SERIAL_LEN &&
		    flt_hex_encode(e->serial.p, e->serial.len, hex, sizeof hex) == FLT_OK &&
		    !strcmp(hex, serial))
			found = 1;
	}
	assert_int_equal(entries, 2);
	assert_true(found);
	mbedtls_x509_crl_free(&x);
	flt_free(crl);
	char *acl = slurp("broker/acl", NULL);
	assert_non_null(strstr(acl, "user dev-1\ntopic deny #\n"));
	assert_non_null(strstr(acl, "pattern write flotilla/v1/dev/%u/up/#\n"));
	flt_free(acl);

	struct flt_registry *reg = NULL;
	bool revoked = false;
	assert_int_equal(flt_registry_open(g_dir, 0, &reg), FLT_OK);
	assert_int_equal(flt_pki_device_revoked(reg, "dev-1", &revoked), FLT_OK);
	assert_true(revoked);
	assert_int_equal(flt_audit_record(reg, "alice", "model.promote", "m:2", "ok", NULL),
	                 FLT_OK);
	flt_registry_close(reg);

	/* A device's refusal, as serve stores it, shows as a security event;
	 * an ordinary step does not. */
	char dbp[512];
	sqlite3 *db = NULL;
	snprintf(dbp, sizeof dbp, "%s/registry.db", g_dir);
	assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "INSERT INTO device_events (device_id, epoch, seq, time_s, kind, name, version,"
	         " deployment_id, step, reason, message, received_ms) VALUES"
	         " ('dev-9', 1, 1, %lld, 'model', 'digits', 3, 'd1', 'failed', 'KEY_REVOKED',"
	         " 'signed by a revoked key', 0),"
	         " ('dev-9', 1, 2, %lld, 'model', 'digits', 4, 'd2', 'committed', 'NONE', '', 0)",
	         (long long)time(NULL), (long long)time(NULL));
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	/* The audit log, newest first, has every operation with its outcome. */
	char path[512];
	snprintf(path, sizeof path, "%s/audit.json", g_dir);
	fflush(stdout);
	int saved = dup(1);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	dup2(fileno(f), 1);
	char *argv[] = {"flotilla", "audit", "list", "--data-dir", g_dir, "-o", "json", NULL};
	int rc = flt_controller_cli(7, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(f);
	assert_int_equal(rc, 0);
	char *log = slurp("audit.json", NULL);
	assert_non_null(strstr(log, "\"action\":\"keys.init\""));
	assert_non_null(strstr(log, "\"action\":\"device.provision\",\"target\":\"dev-1\","
	                            "\"outcome\":\"ok\""));
	assert_non_null(strstr(log, "\"action\":\"device.provision\",\"target\":\"dev-1\","
	                            "\"outcome\":\"refused\""));
	assert_non_null(strstr(log, "\"action\":\"device.revoke\",\"target\":\"dev-1\""));
	assert_non_null(strstr(log, "\"action\":\"broker.config\""));
	assert_non_null(strstr(log, "\"actor\":\"alice\",\"action\":\"model.promote\""));
	assert_non_null(strstr(log, "\"actor\":\"dev-9\",\"action\":\"device.refused\","
	                            "\"target\":\"model:digits:3\",\"outcome\":\"KEY_REVOKED\""));
	assert_null(strstr(log, "digits:4"));
	flt_free(log);
	tu_rmtree(g_dir);
}

/* The device side of the ceremony, with the common/ acceptance code. */
struct device {
	flt_key *root;
	struct flt_trust_set roots;
	struct flt_keylist_state st;
	flt_keylist *kl;
};

static flt_err device_take(struct device *d, struct flt_json_err *err)
{
	size_t len;
	char *json = slurp("keys/keylist.json", &len);
	flt_keylist *kl = NULL;
	flt_err e =
	    flt_keylist_accept(json, len, &d->roots, &d->st, (int64_t)time(NULL), &kl, NULL, err);
	flt_free(json);
	if (e == FLT_OK) {
		flt_keylist_free(d->kl);
		d->kl = kl;
		flt_keylist_state_of(kl, &d->st);
	}
	return e;
}

static flt_dsse *release_signed_by(const flt_key *k)
{
	static const uint8_t payload[] = "{\"v\":1}";
	const flt_key *keys[1] = {k};
	flt_dsse *env = NULL;
	assert_int_equal(
	    flt_dsse_sign(FLT_PAYLOAD_RELEASE, payload, sizeof payload - 1, keys, 1, NULL, &env),
	    FLT_OK);
	return env;
}

static void test_rotate_revoke_offline_root(void **state)
{
	(void)state;
	char rootdir[512], rootkey[600];
	struct device d = {.roots = {.threshold = 1}};
	enum flt_reason why;
	assert_int_equal(tu_mkdtemp(g_dir, sizeof g_dir, "ceremony"), 0);
	snprintf(rootdir, sizeof rootdir, "%s/offline", g_dir);
	snprintf(rootkey, sizeof rootkey, "%s/root.key", rootdir);
	assert_int_equal(cli("keys", "init", "--root-out", rootdir, NULL), 0);
	struct stat st;
	char inkeys[512];
	snprintf(inkeys, sizeof inkeys, "%s/keys/root.key", g_dir);
	assert_int_equal(stat(inkeys, &st), -1);
	assert_int_equal(stat(rootkey, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cli("keys", "list", NULL), 0); /* works with the public root only */

	size_t len;
	char *pub = slurp("keys/root.pub", &len);
	assert_int_equal(flt_key_import_public((uint8_t *)pub, len, &d.root), FLT_OK);
	flt_free(pub);
	assert_int_equal(flt_trust_set_add(&d.roots, d.root), FLT_OK);
	assert_int_equal(device_take(&d, NULL), FLT_OK);
	uint64_t serial1 = d.st.serial;
	char *list1 = slurp("keys/keylist.json", NULL);

	flt_keystore *ks = NULL;
	assert_int_equal(flt_keystore_load(g_dir, &ks), FLT_OK);
	flt_key *old = NULL;
	assert_int_equal(flt_key_public_copy(flt_keystore_key(ks, FLT_KEYSTORE_RELEASE), &old),
	                 FLT_OK);
	flt_dsse *old_env = NULL;
	{
		/* Sign with the private old key while we have it. */
		old_env = release_signed_by(flt_keystore_key(ks, FLT_KEYSTORE_RELEASE));
	}
	flt_keystore_free(ks);
	char oldid[FLT_KEYID_LEN + 1];
	snprintf(oldid, sizeof oldid, "%s", flt_key_id(old));
	assert_int_equal(flt_keylist_verify_envelope(d.kl, old_env, FLT_PAYLOAD_RELEASE,
	                                             FLT_ROLE_RELEASE, (int64_t)time(NULL), &why),
	                 FLT_OK);

	/* Without the offline root nothing can be signed. */
	assert_int_equal(cli("keys", "rotate", "--role", "release", NULL), 5);
	assert_int_equal(cli("keys", "rotate", "--role", "release", "--root-key", rootkey, NULL),
	                 0);
	assert_int_equal(device_take(&d, NULL), FLT_OK);
	assert_true(d.st.serial > serial1);
	/* Rotation keeps the old key trusted until it expires. */
	assert_int_equal(flt_keylist_verify_envelope(d.kl, old_env, FLT_PAYLOAD_RELEASE,
	                                             FLT_ROLE_RELEASE, (int64_t)time(NULL), &why),
	                 FLT_OK);

	assert_int_equal(cli("keys", "revoke", oldid, "--root-key", rootkey, NULL), 0);
	assert_int_equal(cli("keys", "revoke", "zz", "--root-key", rootkey, NULL), 5);
	assert_int_equal(device_take(&d, NULL), FLT_OK);
	assert_int_equal(flt_keylist_verify_envelope(d.kl, old_env, FLT_PAYLOAD_RELEASE,
	                                             FLT_ROLE_RELEASE, (int64_t)time(NULL), &why),
	                 FLT_EVERIFY);
	assert_int_equal(why, FLT_REASON_KEY_REVOKED);
	assert_int_equal(flt_keystore_load(g_dir, &ks), FLT_OK);
	const flt_key *cur = flt_keystore_key(ks, FLT_KEYSTORE_RELEASE);
	assert_string_not_equal(flt_key_id(cur), oldid);
	flt_dsse *new_env = release_signed_by(cur);
	assert_int_equal(flt_keylist_verify_envelope(d.kl, new_env, FLT_PAYLOAD_RELEASE,
	                                             FLT_ROLE_RELEASE, (int64_t)time(NULL), &why),
	                 FLT_OK);
	flt_keystore_free(ks);

	/* The first list replayed to the device is refused. */
	struct flt_json_err err;
	flt_keylist *replayed = NULL;
	assert_int_equal(flt_keylist_accept(list1, strlen(list1), &d.roots, &d.st,
	                                    (int64_t)time(NULL), &replayed, NULL, &err),
	                 FLT_ECONFLICT);
	assert_int_equal(err.reason, FLT_REASON_OLD_SERIAL);

	flt_dsse_free(old_env);
	flt_dsse_free(new_env);
	flt_free(list1);
	flt_key_free(old);
	flt_key_free(d.root);
	flt_keylist_free(d.kl);
	tu_rmtree(g_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ca_provision_revoke_audit),
	    cmocka_unit_test(test_rotate_revoke_offline_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
