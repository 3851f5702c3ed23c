/* The security commands: `device provision`, `device revoke`,
 * `broker-config` and `audit list`. Each records what it did in the audit log.
 * Key material never reaches stdout, stderr or the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_args.h"
#include "cmds.h"
#include "flt/audit.h"
#include "flt/ident.h"
#include "flt/keystore.h"
#include "flt/pki.h"
#include "pki_store.h"
#include "registry_db.h"

static int parse_days(struct cli *c, const char *opt, long dflt, long max, long *out)
{
	const char *v = cli_get(c, opt);
	*out = dflt;
	if (!v)
		return CLI_CONTINUE;
	char *end = NULL;
	long d = strtol(v, &end, 10);
	if (!end || *end || d < 1 || d > max)
		return cli_usage(c, "--%s takes 1..%ld, not '%s'", opt, max, v);
	*out = d;
	return CLI_CONTINUE;
}

static void audit(struct cli *c, const char *action, const char *target, flt_err e,
                  const char *detail)
{
	const char *outcome = e == FLT_OK ? "ok"
	                      : (e == FLT_ECONFLICT || e == FLT_EINVAL || e == FLT_ENOTFOUND)
	                          ? "refused"
	                          : "failed";
	char d[512];
	snprintf(d, sizeof(d), "%s%s%s", detail ? detail : "", detail && e ? ": " : "",
	         e ? flt_strerror(e) : "");
	/* A lost audit row is logged by flt_audit_record; the operation stands. */
	if (c->reg && flt_audit_record(c->reg, NULL, action, target, outcome, d) != FLT_OK)
		return;
}

/* ---- device provision ---------------------------------------------------------- */

static const struct cli_opt prov_opts[] = {
    {"out", 0, 1, "DIR", "where to write the bundle (created; device.key is 0600)"},
    {"group", 0, 1, "G", "add the device to group G"},
    {"renew", 0, 0, NULL, "a new key and certificate for a provisioned device"},
    {"broker", 0, 1, "URI", "mqtt.broker in agent.conf (default ssl://localhost:8883)"},
    {"conf-dir", 0, 1, "DIR",
     "where the bundle is installed on the device (default /etc/flotilla)"},
    {"validity", 0, 1, "DAYS", "certificate validity (default 730)"},
    {0},
};
static const struct cli_spec prov_spec = {
    "device provision",
    "ID --out DIR [--group G] [--renew]",
    "Writes a device bundle: device key and certificate (CN = ID) signed by the fleet CA, the "
    "CA certificate, the root public keys and agent.conf; registers the device.",
    prov_opts,
    1,
    1,
};

/* An --out that names a file is caught here: the mkdir below would report it
 * as a conflict, which reads as "already provisioned". */
static int check_out_dir(struct cli *c, const char *out)
{
	struct stat st;
	if (stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
		return cli_fail(
		    c, FLT_EINVAL,
		    "--out '%s' exists and is not a directory; give a new or empty directory", out);
	return CLI_CONTINUE;
}

int cmd_device_provision(int argc, char **argv)
{
	struct cli c;
	int rc;
	long days;
	char serial[FLT_PKI_SERIAL_HEX + 1] = "";
	if ((rc = cli_start(&c, &prov_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *id = c.pos[0];
	const char *out = cli_get(&c, "out");
	if (!out)
		return cli_end(&c, cli_usage(&c, "--out DIR is required"));
	if ((rc = check_out_dir(&c, out)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (!flt_ident_device_valid(id))
		return cli_end(&c,
		               cli_fail(&c, FLT_EINVAL,
		                        "'%s' is not a device id: use [a-z0-9][a-z0-9._-]{0,63}, "
		                        "not '%s'",
		                        id, FLT_CONTROLLER_IDENTITY));
	const char *group = cli_get(&c, "group");
	if (group && !flt_ident_valid(group))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a group name", group));
	if ((rc = parse_days(&c, "validity", 730, 3650, &days)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	struct flt_provision_opts o = {.device_id = id,
	                               .out_dir = out,
	                               .group = group,
	                               .broker_uri = cli_get(&c, "broker"),
	                               .conf_dir = cli_get(&c, "conf-dir"),
	                               .renew = cli_flag(&c, "renew") != 0,
	                               .validity_s = (int64_t)days * 86400};
	flt_err e = flt_pki_provision(c.data_dir, c.reg, &o, (int64_t)time(NULL), serial);
	audit(&c, o.renew ? "device.renew" : "device.provision", id, e, serial[0] ? serial : NULL);
	switch (e) {
	case FLT_OK: break;
	case FLT_ENOTFOUND:
		return cli_end(&c,
		               cli_fail(&c, e,
		                        o.renew ? "device '%s' was never provisioned; drop --renew"
		                                : "no fleet CA or root key in %s/keys; run "
		                                  "'flotilla keys init'%s",
		                        o.renew ? id : c.data_dir, o.renew ? "" : ""));
	case FLT_ECONFLICT:
		return cli_end(&c,
		               cli_fail(&c, e,
		                        "device '%s' is already provisioned or was revoked; use "
		                        "--renew for a new certificate, or a new id after revoke",
		                        id));
	default:
		return cli_end(&c, cli_fail(&c, e, "cannot provision '%s' into %s: %s", id, out,
		                            flt_strerror(e)));
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "device", id);
		cJSON_AddStringToObject(doc, "serial", serial);
		cJSON_AddStringToObject(doc, "bundle", out);
		cJSON_AddStringToObject(doc, "group", group ? group : "");
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- device revoke ----------------------------------------------------------- */

static const struct cli_opt rev_opts[] = {{0}};
static const struct cli_spec rev_spec = {
    "device revoke",
    "ID",
    "Revokes the device's certificates: fleet CRL, a deny-all ACL block in the broker folder "
    "(reload with SIGHUP; the CRL takes effect when the broker restarts), and serve stops "
    "serving it and clears its retained topics.",
    rev_opts,
    1,
    1,
};

int cmd_device_revoke(int argc, char **argv)
{
	struct cli c;
	int rc;
	size_t n = 0;
	char bdir[4096];
	if ((rc = cli_start(&c, &rev_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *id = c.pos[0];
	if (!flt_ident_device_valid(id))
		return cli_end(&c, cli_fail(&c, FLT_EINVAL, "'%s' is not a device id", id));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = flt_pki_revoke_device(c.data_dir, c.reg, id, (int64_t)time(NULL), &n);
	audit(&c, "device.revoke", id, e, NULL);
	if (e == FLT_ENOTFOUND)
		return cli_end(&c, cli_fail(&c, e, "no certificate was issued to '%s'", id));
	if (e)
		return cli_end(&c, cli_fail(&c, e, "revoking '%s' failed: %s; run it again", id,
		                            flt_strerror(e)));
	bool have_broker = pki_broker_dir(c.reg, bdir, sizeof(bdir)) == FLT_OK;
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "device", id);
		cJSON_AddNumberToObject(doc, "certificates_revoked", (double)n);
		cJSON_AddStringToObject(doc, "broker_dir", have_broker ? bdir : "");
		cJSON_AddStringToObject(doc, "next",
		                        have_broker
		                            ? "send SIGHUP to mosquitto now (ACL); restart it "
		                              "for the CRL to refuse new connections"
		                            : "no broker folder: copy keys/crl.pem to the broker "
		                              "and restart it");
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- broker-config ----------------------------------------------------------- */

static const struct cli_opt bc_opts[] = {
    {"out", 0, 1, "DIR", "folder for mosquitto.conf and its files (created)"},
    {"port", 0, 1, "N", "TLS listener port (default 8883)"},
    {"plain-loopback-port", 0, 1, "N", "also a plain TCP listener on 127.0.0.1:N"},
    {"bind", 0, 1, "ADDR", "address of the TLS listener (default: all)"},
    {"name", 0, 1, "NAME", "extra DNS name or address in the broker certificate (repeatable)"},
    {0},
};
static const struct cli_spec bc_spec = {
    "broker-config",
    "--out DIR [--port N] [--plain-loopback-port N] [--name NAME]...",
    "Writes a Mosquitto 2 configuration: mutual-TLS listener with fleet certificates, identity "
    "and client id from the certificate, the fleet ACL and CRL, and a broker certificate.",
    bc_opts,
    0,
    0,
};

static int parse_port(struct cli *c, const char *opt, unsigned dflt, unsigned *out)
{
	const char *v = cli_get(c, opt);
	*out = dflt;
	if (!v)
		return CLI_CONTINUE;
	char *end = NULL;
	long p = strtol(v, &end, 10);
	if (!end || *end || p < 1 || p > 65535)
		return cli_usage(c, "--%s takes a port 1..65535, not '%s'", opt, v);
	*out = (unsigned)p;
	return CLI_CONTINUE;
}

int cmd_broker_config(int argc, char **argv)
{
	struct cli c;
	int rc;
	const char *names[FLT_PKI_MAX_NAMES];
	if ((rc = cli_start(&c, &bc_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	struct flt_broker_opts o = {
	    .out_dir = cli_get(&c, "out"), .bind = cli_get(&c, "bind"), .names = names};
	if (!o.out_dir)
		return cli_end(&c, cli_usage(&c, "--out DIR is required"));
	if ((rc = check_out_dir(&c, o.out_dir)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = parse_port(&c, "port", 8883, &o.port)) != CLI_CONTINUE ||
	    (rc = parse_port(&c, "plain-loopback-port", 0, &o.plain_port)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	int nn = cli_count(&c, "name");
	if (nn > FLT_PKI_MAX_NAMES - 3)
		return cli_end(&c, cli_usage(&c, "at most %d --name", FLT_PKI_MAX_NAMES - 3));
	for (int i = 0; i < nn; i++)
		names[i] = cli_nth(&c, "name", i);
	o.nnames = (size_t)nn;
	if (o.plain_port == o.port)
		return cli_end(&c, cli_usage(&c, "--plain-loopback-port must differ from --port"));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = flt_broker_config_write(c.data_dir, c.reg, &o, (int64_t)time(NULL));
	audit(&c, "broker.config", o.out_dir, e, NULL);
	if (e == FLT_ENOTFOUND)
		return cli_end(&c,
		               cli_fail(&c, e, "no fleet CA in %s/keys; run 'flotilla keys init'",
		                        c.data_dir));
	if (e)
		return cli_end(&c,
		               cli_fail(&c, e, "cannot write the broker configuration to %s: %s",
		                        o.out_dir, flt_strerror(e)));
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		char conf[4200];
		snprintf(conf, sizeof(conf), "%s/mosquitto.conf", o.out_dir);
		cJSON_AddStringToObject(doc, "config", conf);
		cJSON_AddNumberToObject(doc, "port", o.port);
		cJSON_AddNumberToObject(doc, "plain_loopback_port", o.plain_port);
		cJSON_AddStringToObject(doc, "run", "mosquitto -c <config>");
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- audit list ----------------------------------------------------------------- */

static const struct cli_opt audit_opts[] = {
    {"limit", 0, 1, "N", "newest N entries (default 100)"},
    {"since", 0, 1, "SECONDS", "only entries from the last SECONDS"},
    {0},
};
static const struct cli_spec audit_spec = {
    "audit list",
    "[--limit N] [--since SECONDS]",
    "Who did what on the controller, with time and outcome, and the security refusals devices "
    "reported.",
    audit_opts,
    0,
    0,
};

static void add_rows(struct flt_registry *reg, sqlite3_stmt *st, cJSON *arr, flt_err *err)
{
	int row = 0;
	flt_err e;
	while ((e = reg_step(reg, st, &row)) == FLT_OK && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		char when[32];
		time_t t = (time_t)(sqlite3_column_int64(st, 0) / 1000);
		struct tm tm;
		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
			snprintf(when, sizeof(when), "%lld", (long long)t);
		cJSON_AddStringToObject(o, "time", when);
		static const char *const keys[] = {"actor", "action", "target", "outcome",
		                                   "detail"};
		for (int i = 0; i < 5; i++) {
			const char *v = (const char *)sqlite3_column_text(st, i + 1);
			cJSON_AddStringToObject(o, keys[i], v ? v : "");
		}
		cJSON_AddItemToArray(arr, o);
	}
	sqlite3_reset(st);
	*err = e;
}

static int by_time_desc(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return -strcmp(cJSON_GetObjectItem(x, "time")->valuestring,
	               cJSON_GetObjectItem(y, "time")->valuestring);
}

static int audit_list(int argc, char **argv)
{
	struct cli c;
	int rc;
	long limit = 100, since = 0;
	sqlite3_stmt *st = NULL;
	bool have_events = false;
	if ((rc = cli_start(&c, &audit_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = parse_days(&c, "limit", 100, 1000000, &limit)) != CLI_CONTINUE ||
	    (rc = parse_days(&c, "since", 0, 60L * 365 * 86400, &since)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	int64_t from = since ? ((int64_t)time(NULL) - since) * 1000 : 0;
	cJSON *arr = cJSON_CreateArray();
	flt_err e = reg_stmt(c.reg, REG_Q_AUDIT_LIST, &st);
	if (!e)
		e = reg_bind(c.reg, st, "ii", from, (int64_t)limit);
	if (!e && arr)
		add_rows(c.reg, st, arr, &e);
	/* Device refusals live in serve's event table once serve stores events. */
	if (!e)
		e = pki_table_exists(c.reg, "device_events", &have_events);
	if (!e && have_events && arr) {
		if (!(e = reg_stmt(c.reg, REG_Q_AUDIT_DEVICE_SECURITY, &st)) &&
		    !(e = reg_bind(c.reg, st, "ii", from, (int64_t)limit)))
			add_rows(c.reg, st, arr, &e);
	}
	if (e) {
		cJSON_Delete(arr);
		return cli_end(&c,
		               cli_fail(&c, e, "cannot read the audit log: %s", flt_strerror(e)));
	}
	/* Newest first across both sources, at most `limit`. */
	int n = cJSON_GetArraySize(arr);
	cJSON **items = n ? calloc((size_t)n, sizeof(*items)) : NULL;
	cJSON *doc = cJSON_CreateArray();
	if (n && (!items || !doc)) {
		free(items);
		cJSON_Delete(arr);
		cJSON_Delete(doc);
		return cli_end(&c, cli_emit(&c, NULL));
	}
	for (int i = 0; i < n; i++)
		items[i] = cJSON_DetachItemFromArray(arr, 0);
	if (n)
		qsort(items, (size_t)n, sizeof(*items), by_time_desc);
	for (int i = 0; i < n; i++) {
		if (i < limit)
			cJSON_AddItemToArray(doc, items[i]);
		else
			cJSON_Delete(items[i]);
	}
	free(items);
	cJSON_Delete(arr);
	return cli_end(&c, cli_emit(&c, doc));
}

int cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return audit_list(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: flotilla audit list [--limit N] [--since SECONDS] [-o json]\n");
		return CLI_OK;
	}
	fprintf(stderr, "usage: flotilla audit list [--limit N] [--since SECONDS] [-o json]\n");
	return CLI_USAGE;
}
