/* One version's full description as JSON: the answer to "what is it, what
 * does it need to run, how has it done, what made it". */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "show_version.h"

void show_add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[40];
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(ms % 1000));
	cJSON_AddStringToObject(o, key, buf);
}

void show_add_text(cJSON *o, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

static void add_int_or_null(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, (double)sqlite3_column_int64(st, col));
}

static flt_err add_list(struct flt_registry *r, cJSON *doc, enum reg_q q, int64_t vid,
                        const char *key)
{
	sqlite3_stmt *st;
	int row;
	flt_err e = reg_stmt(r, q, &st);
	if (!e)
		e = reg_bind(r, st, "i", vid);
	if (e)
		return e;
	cJSON *arr = cJSON_AddArrayToObject(doc, key);
	if (!arr)
		return FLT_ENOMEM;
	while (!(e = reg_step(r, st, &row)) && row) {
		switch (q) {
		case REG_Q_VERSION_OPSETS: {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			const char *d = (const char *)sqlite3_column_text(st, 0);
			cJSON_AddStringToObject(o, "domain", d && d[0] ? d : "ai.onnx");
			cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 1));
			break;
		}
		case REG_Q_VERSION_OPS: {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			const char *d = (const char *)sqlite3_column_text(st, 0);
			cJSON_AddStringToObject(o, "domain", d && d[0] ? d : "ai.onnx");
			cJSON_AddStringToObject(o, "op_type",
			                        (const char *)sqlite3_column_text(st, 1));
			cJSON_AddNumberToObject(o, "count", (double)sqlite3_column_int64(st, 2));
			cJSON_AddBoolToObject(o, "supported", sqlite3_column_int(st, 3));
			break;
		}
		case REG_Q_VERSION_ALIASES:
			cJSON_AddItemToArray(
			    arr, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
			break;
		case REG_Q_VERSION_LINEAGE: {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddItemToArray(arr, o);
			cJSON_AddStringToObject(o, "key", (const char *)sqlite3_column_text(st, 0));
			cJSON_AddStringToObject(o, "value",
			                        (const char *)sqlite3_column_text(st, 1));
			break;
		}
		default: break;
		}
	}
	sqlite3_reset(st);
	return e;
}

static flt_err add_map(struct flt_registry *r, cJSON *doc, enum reg_q q, int64_t vid,
                       const char *key)
{
	sqlite3_stmt *st;
	int row;
	flt_err e = reg_stmt(r, q, &st);
	if (!e)
		e = reg_bind(r, st, "i", vid);
	if (e)
		return e;
	cJSON *obj = cJSON_AddObjectToObject(doc, key);
	if (!obj)
		return FLT_ENOMEM;
	while (!(e = reg_step(r, st, &row)) && row) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		if (q == REG_Q_VERSION_TAGS)
			cJSON_AddStringToObject(obj, k, (const char *)sqlite3_column_text(st, 1));
		else
			cJSON_AddNumberToObject(obj, k, sqlite3_column_double(st, 1));
	}
	sqlite3_reset(st);
	return e;
}

static flt_err add_parents(struct flt_registry *r, cJSON *doc, int64_t vid)
{
	sqlite3_stmt *st;
	int row;
	flt_err e = reg_stmt(r, REG_Q_LINEAGE_UP, &st);
	if (!e)
		e = reg_bind(r, st, "i", vid);
	if (e)
		return e;
	cJSON *arr = cJSON_AddArrayToObject(doc, "parents");
	while (!(e = reg_step(r, st, &row)) && row) {
		if (sqlite3_column_int64(st, 3) != 1)
			continue;
		cJSON *o = cJSON_CreateObject();
		char ref[96];
		cJSON_AddItemToArray(arr, o);
		flt_model_ref_format((const char *)sqlite3_column_text(st, 0),
		                     sqlite3_column_int64(st, 1), ref, sizeof(ref));
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddStringToObject(o, "relation", (const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_reset(st);
	return e;
}

flt_err show_version(struct flt_registry *r, const struct reg_version *v, cJSON **out)
{
	sqlite3_stmt *st;
	int row;
	cJSON *doc = cJSON_CreateObject(), *sig = NULL;
	flt_err e = FLT_ENOMEM;
	if (!doc)
		return FLT_ENOMEM;
	if ((e = reg_stmt(r, REG_Q_VERSION_SHOW, &st)) != FLT_OK ||
	    (e = reg_bind(r, st, "i", v->id)) != FLT_OK)
		goto out;
	if ((e = reg_step(r, st, &row)) != FLT_OK)
		goto out;
	if (!row) {
		e = FLT_ENOTFOUND;
		goto out;
	}
	cJSON_AddStringToObject(doc, "ref", v->ref);
	cJSON_AddStringToObject(doc, "name", (const char *)sqlite3_column_text(st, 0));
	cJSON_AddNumberToObject(doc, "version", (double)sqlite3_column_int64(st, 1));
	cJSON_AddStringToObject(doc, "format", (const char *)sqlite3_column_text(st, 2));
	cJSON_AddStringToObject(doc, "framework", (const char *)sqlite3_column_text(st, 3));
	show_add_text(doc, "sha256", (const char *)sqlite3_column_text(st, 4));
	cJSON_AddNumberToObject(doc, "size", (double)sqlite3_column_int64(st, 5));
	show_add_time(doc, "created", sqlite3_column_int64(st, 15));
	cJSON_AddBoolToObject(doc, "archived", sqlite3_column_int(st, 14));
	cJSON_AddBoolToObject(doc, "runnable", sqlite3_column_int(st, 11));
	show_add_text(doc, "not_runnable_reason", (const char *)sqlite3_column_text(st, 12));
	add_int_or_null(doc, "ir_version", st, 6);
	show_add_text(doc, "producer", (const char *)sqlite3_column_text(st, 7));
	add_int_or_null(doc, "param_count", st, 8);
	add_int_or_null(doc, "param_bytes", st, 9);
	add_int_or_null(doc, "peak_memory_bytes", st, 10);
	const char *sj = (const char *)sqlite3_column_text(st, 13);
	sig = sj ? cJSON_Parse(sj) : NULL;
	cJSON *ins = sig ? cJSON_DetachItemFromObjectCaseSensitive(sig, "inputs") : NULL;
	cJSON *outs = sig ? cJSON_DetachItemFromObjectCaseSensitive(sig, "outputs") : NULL;
	cJSON_AddItemToObject(doc, "inputs", ins ? ins : cJSON_CreateNull());
	cJSON_AddItemToObject(doc, "outputs", outs ? outs : cJSON_CreateNull());
	if (sqlite3_column_type(st, 16) != SQLITE_NULL) {
		cJSON *g = cJSON_AddObjectToObject(doc, "golden");
		cJSON_AddStringToObject(g, "sha256", (const char *)sqlite3_column_text(st, 16));
		cJSON_AddNumberToObject(g, "rtol", sqlite3_column_double(st, 17));
		cJSON_AddNumberToObject(g, "atol", sqlite3_column_double(st, 18));
		cJSON_AddNumberToObject(g, "vectors", (double)sqlite3_column_int64(st, 19));
	} else {
		cJSON_AddNullToObject(doc, "golden");
	}
	if (sqlite3_column_type(st, 20) != SQLITE_NULL) {
		cJSON *run = cJSON_AddObjectToObject(doc, "run");
		cJSON_AddStringToObject(run, "experiment_id",
		                        (const char *)sqlite3_column_text(st, 20));
		cJSON_AddStringToObject(run, "run_id", (const char *)sqlite3_column_text(st, 21));
	} else {
		cJSON_AddNullToObject(doc, "run");
	}
	sqlite3_reset(st);
	if ((e = add_list(r, doc, REG_Q_VERSION_OPSETS, v->id, "opsets")) != FLT_OK ||
	    (e = add_list(r, doc, REG_Q_VERSION_OPS, v->id, "operators")) != FLT_OK ||
	    (e = add_map(r, doc, REG_Q_VERSION_TAGS, v->id, "tags")) != FLT_OK ||
	    (e = add_list(r, doc, REG_Q_VERSION_ALIASES, v->id, "aliases")) != FLT_OK ||
	    (e = add_map(r, doc, REG_Q_VERSION_METRICS_LATEST, v->id, "metrics")) != FLT_OK ||
	    (e = add_list(r, doc, REG_Q_VERSION_LINEAGE, v->id, "lineage")) != FLT_OK ||
	    (e = add_parents(r, doc, v->id)) != FLT_OK)
		goto out;
	*out = doc;
	doc = NULL;
out:
	cJSON_Delete(sig);
	cJSON_Delete(doc);
	return e;
}
