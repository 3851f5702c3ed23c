/* Integration tests of the fleet's broker security against a real Mosquitto
 * running the configuration `flotilla broker-config` writes, with
 * certificates from the fleet CA: topic isolation between devices, client id
 * bound to the certificate, revocation (ACL on SIGHUP, CRL on restart),
 * foreign CAs and plain TCP refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>
#include <sqlite3.h>

#include "flt/alloc.h"
#include "flt/controller.h"
#include "flt/crypto.h"
#include "flt/dsse.h"
#include "flt/keystore.h"
#include "flt/mqtt.h"
#include "flt/pki.h"
#include "flt/protocol.h"
#include "flt/registry.h"
#include "tt_mosq.h"
#include "tt_proc.h"

#define WAIT_MS 30000 /* generous: the shared machine is often loaded */
#define ROOT    "flotilla/v1"

static char *g_data;      /* controller data dir */
static char g_broker[64]; /* broker folder, directly under /tmp so mosquitto can enter it */
static struct flt_registry *g_reg;

static unsigned g_plain_port;    /* nonzero: broker-config adds the loopback listener */
static unsigned g_loopback_port; /* the last one added */

static int write_conf(void *arg, uint16_t port, char *conf, size_t cap)
{
	(void)arg;
	struct flt_broker_opts o = {.out_dir = g_broker, .port = port, .plain_port = g_plain_port};
	if (flt_broker_config_write(g_data, g_reg, &o, (int64_t)time(NULL)) != FLT_OK)
		return -1;
	snprintf(conf, cap, "%s/mosquitto.conf", g_broker);
	return 0;
}

static void provision(const char *id)
{
	char out[512];
	snprintf(out, sizeof out, "%s/bundle-%s", g_data, id);
	struct flt_provision_opts o = {.device_id = id, .out_dir = out};
	assert_int_equal(flt_pki_provision(g_data, g_reg, &o, (int64_t)time(NULL), NULL), FLT_OK);
}

static int setup(void **state)
{
	(void)state;
	flt_keystore *ks = NULL;
	g_data = tt_tempdir("sec");
	snprintf(g_broker, sizeof g_broker, "/tmp/flt-broker-XXXXXX");
	if (!g_data || !mkdtemp(g_broker))
		return -1;
	int64_t now = (int64_t)time(NULL);
	if (flt_registry_open(g_data, 1, &g_reg) != FLT_OK ||
	    flt_keystore_init(g_data, g_reg, now, 86400, &ks) != FLT_OK ||
	    flt_pki_ca_init(g_data, g_reg, now) != FLT_OK)
		return -1;
	flt_keystore_free(ks);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	flt_registry_close(g_reg);
	if (!getenv("TT_KEEP_TMP")) {
		tt_rm_rf(g_broker);
		tt_rm_rf(g_data);
	}
	free(g_data);
	return 0;
}

/* ---- a recording client ------------------------------------------------------- */

#define MAX_MSGS 64

struct rec {
	const char *name;
	int connected, failed, lost, subfail, pubs;
	flt_err pub_err, fail_err;
	int nmsgs;
	char topics[MAX_MSGS][128];
	char payloads[MAX_MSGS][1024];
};

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	struct rec *r = arg;
	(void)c;
	switch (ev->type) {
	case FLT_MQTT_EV_CONNECTED: r->connected++; break;
	case FLT_MQTT_EV_CONNECT_FAILED:
		r->failed++;
		r->fail_err = ev->err;
		break;
	case FLT_MQTT_EV_DISCONNECTED: r->lost++; break;
	case FLT_MQTT_EV_SUBSCRIBE_FAILED: r->subfail++; break;
	case FLT_MQTT_EV_PUBLISHED:
		r->pubs++;
		r->pub_err = ev->err;
		break;
	case FLT_MQTT_EV_MESSAGE:
		if (r->nmsgs < MAX_MSGS) {
			snprintf(r->topics[r->nmsgs], 128, "%s", ev->topic);
			snprintf(r->payloads[r->nmsgs], 1024, "%.*s", (int)ev->len,
			         (const char *)ev->payload);
			r->nmsgs++;
		}
		break;
	default: break;
	}
}

struct peer {
	struct flt_mqtt *c;
	struct rec r;
};

static struct peer *peers[8];
static size_t npeers;

/* Polls every peer until *counter reaches want. */
static void pump_until(int *counter, int want)
{
	int64_t dl = tt_now_ms() + WAIT_MS;
	while (*counter < want) {
		if (tt_now_ms() > dl)
			fail_msg("timed out (have %d, want %d)", *counter, want);
		for (size_t i = 0; i < npeers; i++)
			assert_int_equal(flt_mqtt_poll(peers[i]->c, 5, on_event, &peers[i]->r),
			                 FLT_OK);
	}
}

/* A client with `cert` (a bundle id or "controller") claiming client id `cid`. */
static struct peer *client(struct tt_mosq *m, const char *cert, const char *cid, const char *uri)
{
	struct flt_mqtt_opts o;
	struct peer *p = calloc(1, sizeof *p);
	static char paths[8][3][512];
	assert_non_null(p);
	assert_true(npeers < 8);
	char *ca = paths[npeers][0], *crt = paths[npeers][1], *key = paths[npeers][2];
	if (!strcmp(cert, "controller")) {
		snprintf(ca, 512, "%s/keys/ca.pem", g_data);
		snprintf(crt, 512, "%s/keys/controller.pem", g_data);
		snprintf(key, 512, "%s/keys/controller.key", g_data);
	} else {
		snprintf(ca, 512, "%s/bundle-%s/ca.pem", g_data, cert);
		snprintf(crt, 512, "%s/bundle-%s/device.pem", g_data, cert);
		snprintf(key, 512, "%s/bundle-%s/device.key", g_data, cert);
	}
	flt_mqtt_opts_init(&o);
	o.uri = uri ? uri : tt_mosq_uri(m);
	o.client_id = cid;
	o.tls.ca_file = ca;
	o.tls.cert_file = crt;
	o.tls.key_file = key;
	o.backoff_min_ms = 20;
	o.backoff_max_ms = 200;
	o.connect_timeout_s = 5;
	o.clean_start = true;
	assert_int_equal(flt_mqtt_new(&o, &p->c), FLT_OK);
	p->r.name = cid;
	peers[npeers++] = p;
	return p;
}

static void connect_peer(struct peer *p)
{
	assert_int_equal(flt_mqtt_connect(p->c), FLT_OK);
	pump_until(&p->r.connected, 1);
}

static void publish(struct peer *p, const char *topic, const char *payload)
{
	int before = p->r.pubs;
	assert_int_equal(flt_mqtt_publish(p->c, topic, payload, strlen(payload), 1, false,
	                                  FLT_MQTT_PURPOSE_OTHER, NULL),
	                 FLT_OK);
	pump_until(&p->r.pubs, before + 1);
}

static int find(const struct rec *r, const char *topic, const char *payload)
{
	for (int i = 0; i < r->nmsgs; i++)
		if ((!topic || !strcmp(r->topics[i], topic)) &&
		    (!payload || !strcmp(r->payloads[i], payload)))
			return i;
	return -1;
}

static void wait_for(struct rec *r, const char *topic, const char *payload)
{
	int64_t dl = tt_now_ms() + WAIT_MS;
	while (find(r, topic, payload) < 0) {
		if (tt_now_ms() > dl)
			fail_msg("%s never got %s on %s", r->name, payload, topic);
		for (size_t i = 0; i < npeers; i++)
			assert_int_equal(flt_mqtt_poll(peers[i]->c, 5, on_event, &peers[i]->r),
			                 FLT_OK);
	}
}

static void free_peers(void)
{
	for (size_t i = 0; i < npeers; i++) {
		flt_mqtt_free(peers[i]->c);
		free(peers[i]);
	}
	npeers = 0;
}

static bool log_has_reload(void *arg)
{
	return tt_file_contains(tt_mosq_log(arg), "Reloading config");
}

static struct tt_mosq *start_broker(void)
{
	struct tt_mosq_opts mo;
	struct tt_mosq *m = NULL;
	tt_mosq_opts_init(&mo);
	mo.write_conf = write_conf;
	mo.conf_tls = true;
	assert_int_equal(tt_mosq_start(&mo, &m), 0);
	return m;
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_isolation_and_client_id(void **state)
{
	(void)state;
	provision("iso-a");
	provision("iso-b");
	struct tt_mosq *m = start_broker();
	struct peer *ctl = client(m, "controller", "flotilla-controller", NULL);
	assert_int_equal(flt_mqtt_subscribe(ctl->c, ROOT "/dev/+/up/#", 1), FLT_OK);
	assert_int_equal(flt_mqtt_subscribe(ctl->c, ROOT "/dev/+/down/#", 1), FLT_OK);
	connect_peer(ctl);
	struct peer *b = client(m, "iso-b", "iso-b", NULL);
	assert_int_equal(flt_mqtt_subscribe(b->c, ROOT "/dev/iso-b/down/#", 1), FLT_OK);
	connect_peer(b);

	/* A claims B's client id: the broker replaces it with A's identity, so B
	 * stays connected and A reaches only A's topics. */
	struct peer *a = client(m, "iso-a", "iso-b", NULL);
	assert_int_equal(flt_mqtt_subscribe(a->c, ROOT "/dev/iso-a/down/#", 1), FLT_OK);
	assert_int_equal(flt_mqtt_subscribe(a->c, ROOT "/dev/iso-b/down/#", 1), FLT_OK);
	assert_int_equal(flt_mqtt_connect(a->c), FLT_OK);
	pump_until(&a->r.connected, 1);
	assert_true(tt_file_contains(tt_mosq_log(m), "as iso-a (p5"));

	/* The controller writes B's down/ first, then A's: A gets its own and,
	 * in order, never B's. */
	publish(ctl, ROOT "/dev/iso-b/down/desired", "for-b");
	publish(ctl, ROOT "/dev/iso-a/down/desired", "for-a");
	wait_for(&a->r, ROOT "/dev/iso-a/down/desired", "for-a");
	wait_for(&b->r, ROOT "/dev/iso-b/down/desired", "for-b");
	assert_int_equal(find(&a->r, ROOT "/dev/iso-b/down/desired", NULL), -1);

	/* A publishes under B's up/ and under a down/ (its own and B's): all
	 * dropped. Then under its own up/: that arrives, after nothing of the rest. */
	publish(a, ROOT "/dev/iso-b/up/state", "forged-b");
	publish(a, ROOT "/dev/iso-a/down/desired", "forged-down-a");
	publish(a, ROOT "/dev/iso-b/down/desired", "forged-down-b");
	publish(a, ROOT "/dev/iso-a/up/state", "a-ok");
	wait_for(&ctl->r, ROOT "/dev/iso-a/up/state", "a-ok");
	assert_int_equal(find(&ctl->r, NULL, "forged-b"), -1);
	assert_int_equal(find(&ctl->r, NULL, "forged-down-a"), -1);
	assert_int_equal(find(&ctl->r, NULL, "forged-down-b"), -1);
	assert_int_equal(find(&b->r, NULL, "forged-down-b"), -1);

	/* B was never disconnected and still works. */
	publish(b, ROOT "/dev/iso-b/up/state", "b-ok");
	wait_for(&ctl->r, ROOT "/dev/iso-b/up/state", "b-ok");
	assert_int_equal(b->r.lost, 0);
	assert_int_equal(b->r.connected, 1);
	assert_false(tt_file_contains(tt_mosq_log(m), "Client iso-b already connected"));

	free_peers();
	tt_mosq_free(m);
}

static void test_revoke(void **state)
{
	(void)state;
	provision("rev-a");
	provision("rev-b");
	struct tt_mosq *m = start_broker();
	struct peer *ctl = client(m, "controller", "flotilla-controller", NULL);
	assert_int_equal(flt_mqtt_subscribe(ctl->c, ROOT "/dev/+/up/#", 1), FLT_OK);
	connect_peer(ctl);
	struct peer *a = client(m, "rev-a", "rev-a", NULL);
	connect_peer(a);
	struct peer *b = client(m, "rev-b", "rev-b", NULL);
	connect_peer(b);
	publish(a, ROOT "/dev/rev-a/up/state", "a-before");
	wait_for(&ctl->r, ROOT "/dev/rev-a/up/state", "a-before");

	size_t n = 0;
	assert_int_equal(flt_pki_revoke_device(g_data, g_reg, "rev-a", (int64_t)time(NULL), &n),
	                 FLT_OK);
	assert_int_equal(n, 1);
	char acl[600];
	snprintf(acl, sizeof acl, "%s/acl", g_broker);
	assert_true(tt_file_contains(acl, "user rev-a\ntopic deny #"));
	assert_int_equal(tt_mosq_reload(m), 0);
	assert_true(tt_wait_until(log_has_reload, m, WAIT_MS));

	/* A's publish (acknowledged or dropped with its connection) never
	 * reaches the controller; B's, sent after it, does. */
	int before = a->r.pubs;
	if (flt_mqtt_publish(a->c, ROOT "/dev/rev-a/up/state", "a-after", 7, 1, false,
	                     FLT_MQTT_PURPOSE_OTHER, NULL) == FLT_OK)
		pump_until(&a->r.pubs, before + 1);
	publish(b, ROOT "/dev/rev-b/up/state", "b-after");
	wait_for(&ctl->r, ROOT "/dev/rev-b/up/state", "b-after");
	assert_int_equal(find(&ctl->r, NULL, "a-after"), -1);

	/* After a restart the broker reads the new CRL: A's reconnect is refused
	 * (more than once), B's is not. */
	assert_int_equal(tt_mosq_stop(m), 0);
	assert_int_equal(tt_mosq_restart(m), 0);
	int b_conn = b->r.connected, a_fail = a->r.failed;
	pump_until(&b->r.connected, b_conn + 1);
	pump_until(&a->r.failed, a_fail + 2);
	int a_conn = a->r.connected;
	publish(b, ROOT "/dev/rev-b/up/state", "b-restarted");
	wait_for(&ctl->r, ROOT "/dev/rev-b/up/state", "b-restarted");
	assert_int_equal(a->r.connected, a_conn);
	assert_true(tt_file_contains(tt_mosq_log(m), "certificate revoked") ||
	            tt_file_contains(tt_mosq_log(m), "certificate verify failed"));

	free_peers();
	tt_mosq_free(m);
}

static void test_foreign_ca_and_plain_tcp(void **state)
{
	(void)state;
	provision("plain-a");
	struct tt_mosq *m = start_broker();

	/* A certificate for a fleet id, from a CA the broker does not know. */
	char *cakey = NULL, *cacert = NULL, *key = NULL, *cert = NULL;
	size_t len;
	int64_t now = (int64_t)time(NULL);
	struct flt_cert_spec ca = {.kind = FLT_CERT_CA,
	                           .cn = "rogue CA",
	                           .not_before = now - 60,
	                           .not_after = now + 86400};
	struct flt_cert_spec dev = {.kind = FLT_CERT_CLIENT,
	                            .cn = "plain-a",
	                            .not_before = now - 60,
	                            .not_after = now + 86400};
	assert_int_equal(flt_pki_serial_new(ca.serial), FLT_OK);
	assert_int_equal(flt_pki_serial_new(dev.serial), FLT_OK);
	assert_int_equal(flt_pki_key_new(&cakey, &len), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(cakey, NULL, cakey, &ca, &cacert, &len), FLT_OK);
	assert_int_equal(flt_pki_key_new(&key, &len), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(cakey, cacert, key, &dev, &cert, &len), FLT_OK);
	char dir[512], path[600];
	snprintf(dir, sizeof dir, "%s/bundle-rogue", g_data);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/device.pem", dir);
	assert_int_equal(tt_write_file(path, cert, strlen(cert)), 0);
	snprintf(path, sizeof path, "%s/device.key", dir);
	assert_int_equal(tt_write_file(path, key, strlen(key)), 0);
	/* It trusts the real fleet CA for the broker, so only the broker's check can fail. */
	char src[512];
	snprintf(src, sizeof src, "%s/keys/ca.pem", g_data);
	char *fleetca = tt_read_file(src, &len);
	assert_non_null(fleetca);
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	assert_int_equal(tt_write_file(path, fleetca, len), 0);
	free(fleetca);

	struct peer *good = client(m, "plain-a", "plain-a", NULL);
	struct peer *rogue = client(m, "rogue", "plain-a", NULL);
	char uri[64];
	snprintf(uri, sizeof uri, "tcp://127.0.0.1:%u", tt_mosq_port(m));
	struct peer *plain = client(m, "plain-a", "plain-a", uri);
	assert_int_equal(flt_mqtt_connect(rogue->c), FLT_OK);
	assert_int_equal(flt_mqtt_connect(plain->c), FLT_OK);
	pump_until(&rogue->r.failed, 2);
	pump_until(&plain->r.failed, 2);
	/* The real certificate connects over the same listener meanwhile. */
	connect_peer(good);
	assert_int_equal(rogue->r.connected, 0);
	assert_int_equal(plain->r.connected, 0);
	assert_true(tt_file_contains(tt_mosq_log(m), "certificate verify failed") ||
	            tt_file_contains(tt_mosq_log(m), "unknown ca"));

	flt_free(cakey);
	flt_free(cacert);
	flt_free(key);
	flt_free(cert);
	free_peers();
	tt_mosq_free(m);
}

/* ---- serve and a real agent over the generated configuration ---------------------- */

struct dev_row {
	const char *id;
	int64_t online, keys_serial;
};

static unsigned free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof a;
	unsigned port = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static bool device_row(void *arg)
{
	struct dev_row *d = arg;
	char path[512];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	bool ok = false;
	snprintf(path, sizeof path, "%s/registry.db", g_data);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT online, keys_serial FROM devices WHERE id = ?1", -1, &st,
	                       NULL) == SQLITE_OK &&
	    sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		d->online = sqlite3_column_int64(st, 0);
		d->keys_serial = sqlite3_column_int64(st, 1);
		ok = d->online == 1 && d->keys_serial > 0;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* `flotilla audit list` shows the device's refusal (from device_events). */
static bool audit_shows_refusal(void *arg)
{
	(void)arg;
	char cmd[1024], buf[8192];
	snprintf(cmd, sizeof cmd, "%s audit list --data-dir %s -o json", TT_FLOTILLA, g_data);
	FILE *f = popen(cmd, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	pclose(f);
	return strstr(buf, "device.refused") && strstr(buf, "e2e-1") &&
	       strstr(buf, "UNTRUSTED_KEY");
}

static void test_serve_and_agent_over_fleet_tls(void **state)
{
	(void)state;
	g_plain_port = free_port();
	assert_true(g_plain_port != 0);
	struct tt_mosq *m = start_broker();
	g_loopback_port = g_plain_port;
	g_plain_port = 0;
	char bundle[512], conf[600], sconf[600], body[4096];
	snprintf(bundle, sizeof bundle, "%s/bundle-e2e-1", g_data);
	struct flt_provision_opts po = {.device_id = "e2e-1",
	                                .out_dir = bundle,
	                                .broker_uri = tt_mosq_uri(m),
	                                .conf_dir = bundle};
	assert_int_equal(flt_pki_provision(g_data, g_reg, &po, (int64_t)time(NULL), NULL), FLT_OK);

	/* The bundle's agent.conf as provisioned, plus where this test keeps state. */
	size_t len;
	snprintf(conf, sizeof conf, "%s/agent.conf", bundle);
	char *ac = tt_read_file(conf, &len);
	assert_non_null(ac);
	int n = snprintf(body, sizeof body,
	                 "%s\n[storage]\ndata_dir = %s/state\ndisk_reserve = 0\n"
	                 "[serving]\nsocket = %s/agent.sock\n[log]\nlevel = info\n",
	                 ac, bundle, bundle);
	free(ac);
	snprintf(conf, sizeof conf, "%s/agent-test.conf", bundle);
	assert_int_equal(tt_write_file(conf, body, (size_t)n), 0);

	snprintf(sconf, sizeof sconf, "%s/serve.conf", g_data);
	n = snprintf(body, sizeof body,
	             "[mqtt]\nbroker = %s\nca_file = %s/keys/ca.pem\n"
	             "cert_file = %s/keys/controller.pem\nkey_file = %s/keys/controller.key\n",
	             tt_mosq_uri(m), g_data, g_data, g_data);
	assert_int_equal(tt_write_file(sconf, body, (size_t)n), 0);

	struct tt_proc *serve = NULL, *agent = NULL;
	const char *sargv[] = {TT_FLOTILLA, "serve", "--data-dir", g_data, "-c", sconf, NULL};
	assert_int_equal(tt_proc_spawn(TT_FLOTILLA, sargv, NULL, NULL, &serve), 0);
	const char *aargv[] = {TT_AGENT, "run", "-c", conf, NULL};
	assert_int_equal(tt_proc_spawn(TT_AGENT, aargv, NULL, NULL, &agent), 0);

	/* The agent connects with its fleet certificate, serve with the
	 * controller's; serve records it online and publishes it the key list. */
	struct dev_row d = {.id = "e2e-1"};
	if (!tt_wait_until(device_row, &d, 30000)) {
		char *sl = tt_read_file(tt_proc_stderr_path(serve), NULL);
		char *al = tt_read_file(tt_proc_stderr_path(agent), NULL);
		fprintf(stderr, "serve:\n%s\nagent:\n%s\n", sl ? sl : "", al ? al : "");
		free(sl);
		free(al);
		fail_msg("device never online with a key list (online %lld, keys %lld)",
		         (long long)d.online, (long long)d.keys_serial);
	}
	assert_true(tt_file_contains(tt_mosq_log(m), "as e2e-1 (p5"));
	assert_true(tt_file_contains(tt_mosq_log(m), "as flotilla-controller (p5"));
	assert_true(tt_proc_running(serve));
	assert_true(tt_proc_running(agent));

	/* A desired state signed by a key the device does not trust, published
	 * on the loopback listener (controller rights): the agent refuses it,
	 * reports the refusal, serve stores it and `audit list` shows it. */
	flt_key *rogue = NULL;
	flt_dsse *env = NULL;
	char *json = NULL;
	static const uint8_t payload[] = "{\"v\":1}";
	assert_int_equal(flt_key_generate(NULL, &rogue), FLT_OK);
	const flt_key *signers[1] = {rogue};
	assert_int_equal(
	    flt_dsse_sign(FLT_PAYLOAD_DESIRED, payload, sizeof payload - 1, signers, 1, NULL, &env),
	    FLT_OK);
	assert_int_equal(flt_dsse_serialize(env, &json, &len), FLT_OK);
	char plain[64];
	struct peer *lo = NULL;
	{
		struct flt_mqtt_opts o;
		lo = calloc(1, sizeof *lo);
		assert_non_null(lo);
		flt_mqtt_opts_init(&o);
		snprintf(plain, sizeof plain, "tcp://127.0.0.1:%u", g_loopback_port);
		o.uri = plain;
		o.client_id = "forger";
		o.backoff_min_ms = 20;
		o.backoff_max_ms = 200;
		assert_int_equal(flt_mqtt_new(&o, &lo->c), FLT_OK);
		assert_int_equal(flt_mqtt_subscribe(lo->c, ROOT "/dev/e2e-1/up/#", 1), FLT_OK);
		lo->r.name = "loopback";
		peers[npeers++] = lo;
	}
	connect_peer(lo);
	int before = lo->r.pubs;
	assert_int_equal(flt_mqtt_publish(lo->c, ROOT "/dev/e2e-1/down/desired", json, len, 1, true,
	                                  FLT_MQTT_PURPOSE_STATE, NULL),
	                 FLT_OK);
	pump_until(&lo->r.pubs, before + 1);
	assert_int_equal(lo->r.pub_err, FLT_OK);
	/* The agent reports the refusal as an event. */
	int64_t dl = tt_now_ms() + 30000;
	for (;;) {
		bool seen = false;
		for (int i = 0; i < lo->r.nmsgs; i++)
			if (!strcmp(lo->r.topics[i], ROOT "/dev/e2e-1/up/events") &&
			    strstr(lo->r.payloads[i], "desired-state"))
				seen = true;
		if (seen)
			break;
		if (tt_now_ms() > dl)
			fail_msg("no refusal event from the agent");
		for (size_t i = 0; i < npeers; i++)
			assert_int_equal(flt_mqtt_poll(peers[i]->c, 5, on_event, &peers[i]->r),
			                 FLT_OK);
	}
	char *al = tt_read_file(tt_proc_stderr_path(agent), NULL);
	assert_non_null(al);
	assert_non_null(strstr(al, "desired state refused: UNTRUSTED_KEY"));
	free(al);
	/* serve stores it, and it shows as a security event in the registry. */
	if (!tt_wait_until(audit_shows_refusal, NULL, 30000)) {
		char *sl = tt_read_file(tt_proc_stderr_path(serve), NULL);
		fprintf(stderr, "serve:\n%s\n", sl ? sl : "");
		free(sl);
		fail_msg("the refusal never reached the registry's audit list");
	}
	free(json);
	flt_dsse_free(env);
	flt_key_free(rogue);
	free_peers();

	tt_proc_kill(agent, SIGTERM);
	tt_proc_kill(serve, SIGTERM);
	assert_int_equal(tt_proc_wait(agent, 10000, NULL), 0);
	assert_int_equal(tt_proc_wait(serve, 10000, NULL), 0);
	tt_proc_free(agent);
	tt_proc_free(serve);
	tt_mosq_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_isolation_and_client_id),
	    cmocka_unit_test(test_revoke),
	    cmocka_unit_test(test_foreign_ca_and_plain_tcp),
	    cmocka_unit_test(test_serve_and_agent_over_fleet_tls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
