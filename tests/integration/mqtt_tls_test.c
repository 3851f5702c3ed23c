/* Integration tests of the MQTT adapter over TLS against a real Mosquitto with
 * client certificates (made here with the openssl CLI): a good handshake, and
 * handshake refusals reported as FLT_EAUTH with OpenSSL's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "flt/mqtt.h"
#include "tt_mosq.h"
#include "tt_proc.h"

#define WAIT_MS 15000

static char *g_dir;

static void openssl(const char *const args[])
{
	const char *argv[24] = {"/usr/bin/openssl"};
	int n = 1;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	struct tt_proc *p = NULL;
	int st = -1;
	assert_int_equal(tt_proc_spawn("/usr/bin/openssl", argv, NULL, g_dir, &p), 0);
	assert_int_equal(tt_proc_wait(p, 60000, &st), 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *err = tt_read_file(tt_proc_stderr_path(p), NULL);
		fail_msg("openssl %s failed: %s", args[0], err ? err : "");
	}
	tt_proc_free(p);
}

/* Makes NAME.key / NAME.pem signed by CA (self-signed when ca is NULL). */
static void make_cert(const char *name, const char *cn, const char *ca, bool server)
{
	char key[512], pem[512], csr[512], subj[128], cakey[512], capem[512], ext[512];
	snprintf(key, sizeof key, "%s/%s.key", g_dir, name);
	snprintf(pem, sizeof pem, "%s/%s.pem", g_dir, name);
	snprintf(csr, sizeof csr, "%s/%s.csr", g_dir, name);
	snprintf(subj, sizeof subj, "/CN=%s", cn);
	if (!ca) {
		const char *a[] = {"req",    "-x509",    "-newkey",
		                   "ec",     "-pkeyopt", "ec_paramgen_curve:prime256v1",
		                   "-nodes", "-keyout",  key,
		                   "-out",   pem,        "-days",
		                   "2",      "-subj",    subj,
		                   NULL};
		openssl(a);
		return;
	}
	snprintf(cakey, sizeof cakey, "%s/%s.key", g_dir, ca);
	snprintf(capem, sizeof capem, "%s/%s.pem", g_dir, ca);
	snprintf(ext, sizeof ext, "%s/%s.ext", g_dir, name);
	const char *e = server ? "subjectAltName=IP:127.0.0.1\n" : "extendedKeyUsage=clientAuth\n";
	assert_int_equal(tt_write_file(ext, e, strlen(e)), 0);
	const char *a[] = {"req",    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
	                   "-nodes", "-keyout", key,  "-out",     csr,
	                   "-subj",  subj,      NULL};
	openssl(a);
	const char *b[] = {
	    "x509", "-req", "-in",   csr, "-CA",      capem, "-CAkey", cakey, "-CAcreateserial",
	    "-out", pem,    "-days", "2", "-extfile", ext,   NULL};
	openssl(b);
}

static int setup(void **state)
{
	(void)state;
	g_dir = tt_tempdir("tls");
	if (!g_dir)
		return -1;
	make_cert("ca", "flotilla-test-ca", NULL, false);
	make_cert("other-ca", "someone-else", NULL, false);
	make_cert("broker", "127.0.0.1", "ca", true);
	make_cert("dev1", "dev1", "ca", false);
	make_cert("rogue", "dev1", "other-ca", false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(g_dir);
	return 0;
}

static struct tt_mosq *tls_broker(void)
{
	struct tt_mosq_opts mo;
	struct tt_mosq *m = NULL;
	char ca[512], cert[512], key[512];
	snprintf(ca, sizeof ca, "%s/ca.pem", g_dir);
	snprintf(cert, sizeof cert, "%s/broker.pem", g_dir);
	snprintf(key, sizeof key, "%s/broker.key", g_dir);
	tt_mosq_opts_init(&mo);
	mo.cafile = ca;
	mo.certfile = cert;
	mo.keyfile = key;
	mo.require_certificate = true;
	mo.use_identity_as_username = true;
	assert_int_equal(tt_mosq_start(&mo, &m), 0);
	assert_true(strncmp(tt_mosq_uri(m), "ssl://", 6) == 0);
	return m;
}

struct rec {
	int connected, failed, msgs, pubs;
	flt_err fail_err, pub_err;
	char detail[512];
	char payload[64];
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
		snprintf(r->detail, sizeof r->detail, "%s", ev->detail ? ev->detail : "");
		break;
	case FLT_MQTT_EV_MESSAGE:
		r->msgs++;
		snprintf(r->payload, sizeof r->payload, "%.*s", (int)ev->len,
		         (const char *)ev->payload);
		break;
	case FLT_MQTT_EV_PUBLISHED:
		r->pubs++;
		r->pub_err = ev->err;
		break;
	default: break;
	}
}

static void pump_until(struct flt_mqtt *c, struct rec *r, int *counter, int want)
{
	int64_t dl = tt_now_ms() + WAIT_MS;
	while (*counter < want) {
		if (tt_now_ms() > dl)
			fail_msg("timed out (have %d, want %d)", *counter, want);
		assert_int_equal(flt_mqtt_poll(c, 20, on_event, r), FLT_OK);
	}
}

static struct flt_mqtt *tls_client(struct tt_mosq *m, const char *ca, const char *id)
{
	struct flt_mqtt_opts o;
	struct flt_mqtt *c = NULL;
	char cap[512], cert[512], key[512];
	snprintf(cap, sizeof cap, "%s/%s.pem", g_dir, ca);
	snprintf(cert, sizeof cert, "%s/%s.pem", g_dir, id);
	snprintf(key, sizeof key, "%s/%s.key", g_dir, id);
	flt_mqtt_opts_init(&o);
	o.uri = tt_mosq_uri(m);
	o.client_id = "dev1";
	o.tls.ca_file = cap;
	o.tls.cert_file = cert;
	o.tls.key_file = key;
	o.backoff_min_ms = 20;
	o.backoff_max_ms = 100;
	o.connect_timeout_s = 5;
	assert_int_equal(flt_mqtt_new(&o, &c), FLT_OK);
	return c;
}

static void test_tls_round_trip(void **state)
{
	(void)state;
	struct tt_mosq *m = tls_broker();
	struct rec r = {0};
	struct flt_mqtt *c = tls_client(m, "ca", "dev1");
	assert_int_equal(flt_mqtt_subscribe(c, "flotilla/v1/dev/dev1/down/#", 0), FLT_OK);
	assert_int_equal(flt_mqtt_connect(c), FLT_OK);
	pump_until(c, &r, &r.connected, 1);
	assert_int_equal(r.failed, 0);
	assert_int_equal(flt_mqtt_publish(c, "flotilla/v1/dev/dev1/down/desired", "tls", 3, 1, true,
	                                  FLT_MQTT_PURPOSE_STATE, NULL),
	                 FLT_OK);
	pump_until(c, &r, &r.msgs, 1);
	assert_string_equal(r.payload, "tls");
	char buf[64];
	flt_mqtt_tls_error(c, buf, sizeof buf);
	assert_string_equal(buf, "");
	flt_mqtt_free(c);
	tt_mosq_free(m);
}

static void test_untrusted_broker_is_eauth(void **state)
{
	(void)state;
	struct tt_mosq *m = tls_broker();
	struct rec r = {0};
	/* The client trusts another CA: its own check of the broker fails. */
	struct flt_mqtt *c = tls_client(m, "other-ca", "dev1");
	assert_int_equal(flt_mqtt_connect(c), FLT_OK);
	pump_until(c, &r, &r.failed, 1);
	assert_int_equal(r.connected, 0);
	assert_int_equal(r.fail_err, FLT_EAUTH);
	assert_true(strlen(r.detail) > 0);
	char buf[512];
	flt_mqtt_tls_error(c, buf, sizeof buf);
	assert_string_equal(buf, r.detail);
	print_message("untrusted broker: %s\n", r.detail);
	/* It keeps trying (the clock or the CA may be fixed later), still EAUTH. */
	pump_until(c, &r, &r.failed, 2);
	assert_int_equal(r.fail_err, FLT_EAUTH);
	flt_mqtt_free(c);
	tt_mosq_free(m);
}

static void test_untrusted_client_never_connects(void **state)
{
	(void)state;
	struct tt_mosq *m = tls_broker();
	struct rec r = {0};
	/* A certificate from another CA: the broker refuses it. OpenSSL hands Paho
	 * no error text for the peer's alert (and under TLS 1.3 the refusal comes
	 * after the client's handshake is done), so this side sees a dropped
	 * connection: FLT_ENOCONN, not FLT_EAUTH. */
	struct flt_mqtt *c = tls_client(m, "ca", "rogue");
	assert_int_equal(flt_mqtt_connect(c), FLT_OK);
	pump_until(c, &r, &r.failed, 2);
	assert_int_equal(r.connected, 0);
	assert_true(r.fail_err == FLT_ENOCONN || r.fail_err == FLT_EAUTH);
	assert_true(tt_file_contains(tt_mosq_log(m), "certificate verify failed") ||
	            tt_file_contains(tt_mosq_log(m), "unknown ca") ||
	            tt_file_contains(tt_mosq_log(m), "OpenSSL Error"));
	flt_mqtt_free(c);
	tt_mosq_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_round_trip),
	    cmocka_unit_test(test_untrusted_broker_is_eauth),
	    cmocka_unit_test(test_untrusted_client_never_connects),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
