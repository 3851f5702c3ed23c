/* `flotilla model usage REF` (where each version runs, since when, in what
 * state, and its health over a window), `model targets REF` (which devices
 * and groups can run it and why the others cannot) and `model export REF
 * --out DIR` (signed envelope + artifact for `flotilla-agent install`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cmds.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/conf.h"
#include "flt/keystore.h"
#include "flt/msg.h"
#include "blob_store.h"
#include "serve.h"

static void add_time_ms(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	char buf[32];
	time_t t = (time_t)(sqlite3_column_int64(st, col) / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		cJSON_AddStringToObject(o, key, buf);
}

static const char *col_str(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : "";
}

/* ---- usage ------------------------------------------------------------------------- */

static const struct cli_opt usage_opts[] = {
    {"window", 'w', 1, "DURATION", "health window (default 24h; e.g. 1h, 7d)"},
    {"history", 0, 0, NULL, "also list every deployment of each version, from when to when"},
    {0},
};
static const struct cli_spec usage_spec = {
    "model usage",
    "REF [--window D] [--history]",
    "Every device running each version (REF NAME: all versions), since when, its state, and "
    "per-version health over the window.",
    usage_opts,
    1,
    1,
};

int cmd_model_usage(int argc, char **argv)
{
	struct cli c;
	struct flt_model_ref ref;
	int rc, row = 0;
	int64_t window = 86400;
	sqlite3_stmt *st = NULL;
	struct {
		int64_t id, version;
	} vs[512];
	size_t nv = 0;
	if ((rc = cli_start(&c, &usage_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if (cli_get(&c, "window") &&
	    (flt_conf_parse_duration(cli_get(&c, "window"), &window) != FLT_OK || window <= 0))
		return cli_end(&c, cli_usage(&c, "--window takes a duration such as 1h or 7d"));
	if (flt_model_ref_parse(c.pos[0], &ref) != FLT_OK)
		return cli_end(&c,
		               cli_fail(&c, FLT_EINVAL, "'%s' is not a model reference", c.pos[0]));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = reg_begin_read(c.reg);
	int64_t one_version = 0;
	if (!e && (ref.kind != FLT_REF_LATEST || ref.explicit_latest)) {
		struct reg_version v;
		if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE) {
			reg_rollback(c.reg);
			return cli_end(&c, rc);
		}
		one_version = v.version;
	}
	if (!e)
		e = reg_stmt(c.reg, REG_Q_USAGE_VERSIONS, &st);
	if (!e)
		e = reg_bind(c.reg, st, "tI", ref.name, one_version ? &one_version : NULL);
	while (!e && !(e = reg_step(c.reg, st, &row)) && row && nv < 512) {
		vs[nv].id = sqlite3_column_int64(st, 0);
		vs[nv].version = sqlite3_column_int64(st, 1);
		nv++;
	}
	if (!e && nv == 0) {
		reg_rollback(c.reg);
		return cli_end(&c, cli_fail(&c, FLT_ENOTFOUND,
		                            "no model '%s'; see 'flotilla model list'", ref.name));
	}
	cJSON *doc = cJSON_CreateArray();
	int64_t since = (int64_t)time(NULL) - window;
	for (size_t i = 0; !e && i < nv; i++) {
		cJSON *o = cJSON_CreateObject(), *devs = cJSON_CreateArray();
		char r[96];
		cJSON_AddItemToArray(doc, o);
		flt_model_ref_format(ref.name, vs[i].version, r, sizeof(r));
		cJSON_AddStringToObject(o, "version", r);
		if ((e = reg_stmt(c.reg, REG_Q_USAGE_DEVICES, &st)) != FLT_OK ||
		    (e = reg_bind(c.reg, st, "i", vs[i].id)) != FLT_OK)
			break;
		int ndev = 0;
		while (!(e = reg_step(c.reg, st, &row)) && row) {
			cJSON *d = cJSON_CreateObject();
			cJSON_AddItemToArray(devs, d);
			cJSON_AddStringToObject(d, "device", col_str(st, 0));
			cJSON_AddStringToObject(d, "state", col_str(st, 1));
			add_time_ms(d, "since", st, 2);
			cJSON_AddStringToObject(d, "deployment_id", col_str(st, 3));
			ndev++;
		}
		if (e)
			break;
		cJSON_AddNumberToObject(o, "devices", ndev);
		if ((e = reg_stmt(c.reg, REG_Q_USAGE_HEALTH, &st)) != FLT_OK ||
		    (e = reg_bind(c.reg, st, "tii", ref.name, vs[i].version, since)) != FLT_OK ||
		    (e = reg_step(c.reg, st, &row)) != FLT_OK)
			break;
		int64_t req = sqlite3_column_int64(st, 0), err = sqlite3_column_int64(st, 1);
		cJSON_AddNumberToObject(o, "requests", (double)req);
		cJSON_AddNumberToObject(o, "error_rate", req ? (double)err / (double)req : 0.0);
		cJSON_AddNumberToObject(o, "crashes", (double)sqlite3_column_int64(st, 2));
		/* Request-weighted means of the devices' interval percentiles: the
		 * histograms stay on the devices, so this approximates fleet percentiles. */
		cJSON_AddNumberToObject(o, "p50_us",
		                        req ? sqlite3_column_double(st, 3) / (double)req : 0);
		cJSON_AddNumberToObject(o, "p95_us",
		                        req ? sqlite3_column_double(st, 4) / (double)req : 0);
		cJSON_AddNumberToObject(o, "p99_us",
		                        req ? sqlite3_column_double(st, 5) / (double)req : 0);
		cJSON_AddNumberToObject(o, "reporting_devices",
		                        (double)sqlite3_column_int64(st, 6));
		cJSON_AddItemToObject(o, "running_on", devs);
		if (cli_flag(&c, "history")) {
			cJSON *h = cJSON_CreateArray();
			cJSON_AddItemToObject(o, "history", h);
			if ((e = reg_stmt(c.reg, REG_Q_USAGE_HISTORY, &st)) != FLT_OK ||
			    (e = reg_bind(c.reg, st, "i", vs[i].id)) != FLT_OK)
				break;
			while (!(e = reg_step(c.reg, st, &row)) && row) {
				cJSON *d = cJSON_CreateObject();
				cJSON_AddItemToArray(h, d);
				cJSON_AddStringToObject(d, "device", col_str(st, 0));
				cJSON_AddStringToObject(d, "state", col_str(st, 1));
				add_time_ms(d, "from", st, 2);
				add_time_ms(d, "until", st, 3);
				cJSON_AddStringToObject(d, "deployment_id", col_str(st, 4));
			}
		}
	}
	reg_rollback(c.reg);
	if (e) {
		cJSON_Delete(doc);
		return cli_end(&c, cli_fail(&c, e, "cannot read usage of '%s': %s", c.pos[0],
		                            flt_strerror(e)));
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- targets ------------------------------------------------------------------------ */

static const struct cli_opt no_opts[] = {{0}};
static const struct cli_spec targets_spec = {
    "model targets",
    "REF",
    "Devices and groups able to run a version (operators and opsets, memory, arch, disk from "
    "their reported capabilities), and why the others cannot.",
    no_opts,
    1,
    1,
};

int cmd_model_targets(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	int rc, row = 0;
	sqlite3_stmt *st = NULL;
	struct dev {
		char id[FLT_IDENT_MAX + 1];
		int ok;
	} *devs = NULL;
	size_t nd = 0, cap = 0;
	if ((rc = cli_start(&c, &targets_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	cJSON *doc = cJSON_CreateObject(), *dl = cJSON_CreateArray(), *gl = cJSON_CreateArray();
	cJSON_AddStringToObject(doc, "version", v.ref);
	cJSON_AddItemToObject(doc, "devices", dl);
	cJSON_AddItemToObject(doc, "groups", gl);
	/* Collect first: the compatibility check runs its own statements. */
	struct {
		char id[FLT_IDENT_MAX + 1];
		char *json;
	} *rows = NULL;
	size_t nr = 0, rcap = 0;
	flt_err e = reg_stmt(c.reg, REG_Q_TARGETS_DEVICES, &st);
	while (!e && !(e = reg_step(c.reg, st, &row)) && row) {
		if (nr == rcap) {
			rcap = rcap ? rcap * 2 : 64;
			void *nrw = flt_realloc(rows, rcap * sizeof(*rows));
			if (!nrw) {
				e = FLT_ENOMEM;
				break;
			}
			rows = nrw;
		}
		snprintf(rows[nr].id, sizeof(rows[nr].id), "%s", col_str(st, 0));
		rows[nr].json = flt_strdup(col_str(st, 1));
		nr++;
	}
	for (size_t i = 0; !e && i < nr; i++) {
		struct flt_state *s = NULL;
		char why[256] = "";
		int ok;
		if (!rows[i].json ||
		    flt_state_parse(rows[i].json, strlen(rows[i].json), &s, NULL)) {
			ok = 0;
			snprintf(why, sizeof(why), "MALFORMED: its reported state does not parse");
		} else {
			ok = serve_device_can_run(c.reg, v.id, s, why, sizeof(why));
		}
		flt_state_free(s);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(dl, o);
		cJSON_AddStringToObject(o, "device", rows[i].id);
		cJSON_AddStringToObject(o, "able", ok ? "yes" : "no");
		cJSON_AddStringToObject(o, "why_not", ok ? "" : why);
		if (nd == cap) {
			cap = cap ? cap * 2 : 64;
			void *nw = flt_realloc(devs, cap * sizeof(*devs));
			if (!nw) {
				e = FLT_ENOMEM;
				break;
			}
			devs = nw;
		}
		snprintf(devs[nd].id, sizeof(devs[nd].id), "%s", rows[i].id);
		devs[nd++].ok = ok;
	}
	for (size_t i = 0; i < nr; i++)
		flt_free(rows[i].json);
	flt_free(rows);
	if (!e)
		e = reg_stmt(c.reg, REG_Q_TARGETS_GROUPS, &st);
	cJSON *g = NULL;
	char cur[FLT_IDENT_MAX + 1] = "";
	int gable = 0, gtot = 0;
	while (!e && !(e = reg_step(c.reg, st, &row)) && row) {
		const char *gname = col_str(st, 0), *dev = col_str(st, 1);
		if (strcmp(gname, cur)) {
			if (g) {
				cJSON_AddNumberToObject(g, "able", gable);
				cJSON_AddNumberToObject(g, "members", gtot);
			}
			g = cJSON_CreateObject();
			cJSON_AddItemToArray(gl, g);
			cJSON_AddStringToObject(g, "group", gname);
			snprintf(cur, sizeof(cur), "%s", gname);
			gable = gtot = 0;
		}
		gtot++;
		for (size_t i = 0; i < nd; i++)
			if (!strcmp(devs[i].id, dev) && devs[i].ok)
				gable++;
	}
	if (g) {
		cJSON_AddNumberToObject(g, "able", gable);
		cJSON_AddNumberToObject(g, "members", gtot);
	}
	flt_free(devs);
	if (e) {
		cJSON_Delete(doc);
		return cli_end(&c, cli_fail(&c, e, "cannot check targets: %s", flt_strerror(e)));
	}
	if (!c.json) {
		/* The table printer shows arrays best: devices first, then groups. */
		cJSON *arr = cJSON_DetachItemFromObject(doc, "devices");
		cJSON *groups = cJSON_DetachItemFromObject(doc, "groups");
		cJSON_Delete(doc);
		cli_emit(&c, arr);
		if (cJSON_GetArraySize(groups) > 0) {
			printf("\n");
			return cli_end(&c, cli_emit(&c, groups));
		}
		cJSON_Delete(groups);
		return cli_end(&c, CLI_OK);
	}
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- export -------------------------------------------------------------------------- */

static const struct cli_opt export_opts[] = {
    {"out", 0, 1, "DIR", "directory to write (created)"},
    {"chunk-size", 0, 1, "BYTES", "chunk size of the envelope (default 256K)"},
    {0},
};
static const struct cli_spec export_spec = {
    "model export",
    "REF --out DIR [--chunk-size N]",
    "Writes a signed release envelope, the artifact, its chunk index, the golden bundle and the "
    "key list to DIR, for 'flotilla-agent install' on devices without a network.",
    export_opts,
    1,
    1,
};

static flt_err copy_blob(struct flt_registry *r, const char *hex, const char *dst)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_err e = blob_path(r->blob_root, hex, path, sizeof(path));
	if (!e)
		e = flt_file_read_all(path, (size_t)1 << 30, &buf, &len, NULL);
	if (!e)
		e = flt_file_write_atomic(dst, buf, len, 0644, NULL);
	flt_free(buf);
	return e;
}

int cmd_model_export(int argc, char **argv)
{
	struct cli c;
	struct reg_version v;
	flt_keystore *ks = NULL;
	char *env = NULL;
	int64_t env_id = 0;
	uint32_t chunk = 0;
	uint64_t want = 256 * 1024;
	char path[4096];
	int rc, row = 0;
	if ((rc = cli_start(&c, &export_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *out = cli_get(&c, "out");
	if (!out)
		return cli_end(&c, cli_usage(&c, "--out DIR is required"));
	if (cli_get(&c, "chunk-size") &&
	    (flt_conf_parse_size(cli_get(&c, "chunk-size"), &want) != FLT_OK || want < 1 ||
	     want > FLT_MANIFEST_MAX_CHUNK_SIZE))
		return cli_end(&c, cli_usage(&c, "--chunk-size takes 1..16M bytes"));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_resolve(&c, c.pos[0], &v)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = flt_keystore_load(c.data_dir, &ks);
	if (e) {
		rc = cli_fail(&c, e, "cannot load signing keys (%s); run 'flotilla keys init'",
		              flt_strerror(e));
		goto out;
	}
	int64_t now = (int64_t)time(NULL);
	e = release_find(c.reg, v.id, now, 86400, (uint32_t)want, &env_id, &chunk, &env);
	if (e == FLT_ENOTFOUND) {
		e = release_sign(c.reg, ks, v.id, (uint32_t)want, now, 30 * 86400, NULL);
		if (!e)
			e = release_find(c.reg, v.id, now, 86400, (uint32_t)want, &env_id, &chunk,
			                 &env);
	}
	if (e) {
		rc = cli_fail(&c, e, "cannot sign %s: %s", v.ref, flt_strerror(e));
		goto out;
	}
	if ((e = flt_file_mkdirs(out, 0755, NULL)) != FLT_OK) {
		rc = cli_fail(&c, e, "cannot create %s: %s", out, flt_strerror(e));
		goto out;
	}
	sqlite3_stmt *st = NULL;
	char art[65] = "", idx[65] = "", gold[65] = "";
	if ((e = reg_stmt(c.reg, REG_Q_FETCH_EXPORT, &st)) == FLT_OK &&
	    (e = reg_bind(c.reg, st, "i", env_id)) == FLT_OK &&
	    (e = reg_step(c.reg, st, &row)) == FLT_OK && row) {
		snprintf(art, sizeof(art), "%s", col_str(st, 0));
		snprintf(idx, sizeof(idx), "%s", col_str(st, 1));
		snprintf(gold, sizeof(gold), "%s", col_str(st, 2));
	}
	size_t klen = 0;
	const char *kl = flt_keystore_keylist_json(ks, &klen);
	snprintf(path, sizeof(path), "%s/envelope.json", out);
	if (!e)
		e = flt_file_write_atomic(path, env, strlen(env), 0644, NULL);
	snprintf(path, sizeof(path), "%s/artifact", out);
	if (!e)
		e = copy_blob(c.reg, art, path);
	snprintf(path, sizeof(path), "%s/chunk-index", out);
	if (!e)
		e = copy_blob(c.reg, idx, path);
	snprintf(path, sizeof(path), "%s/golden", out);
	if (!e && gold[0])
		e = copy_blob(c.reg, gold, path);
	snprintf(path, sizeof(path), "%s/keylist.json", out);
	if (!e)
		e = flt_file_write_atomic(path, kl, klen, 0644, NULL);
	if (e) {
		rc = cli_fail(&c, e, "cannot write the bundle to %s: %s", out, flt_strerror(e));
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		cJSON_AddStringToObject(doc, "ref", v.ref);
		cJSON_AddStringToObject(doc, "out", out);
		cJSON_AddStringToObject(doc, "envelope", "envelope.json");
		cJSON_AddStringToObject(doc, "artifact", "artifact");
		cJSON_AddStringToObject(doc, "golden", gold[0] ? "golden" : "");
		cJSON_AddStringToObject(doc, "keylist", "keylist.json");
		cJSON_AddNumberToObject(doc, "chunk_size", chunk);
	}
	rc = cli_emit(&c, doc);
out:
	flt_free(env);
	flt_keystore_free(ks);
	return cli_end(&c, rc);
}
