/* Rollout creation: the target resolved to devices, compatibility checked per
 * device before anything is sent, the one-active-rollout-per-(release,
 * device) rule, and the split into canary and waves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/msg.h"
#include "rollout.h"
#include "serve.h"

struct tdev {
	char id[FLT_IDENT_MAX + 1];
	char *state_json;
	char why[256]; /* non-empty: skipped */
};

/* "N" or "P%" of n. Percentages round up for sizes (at_least_one) and down
 * for failure limits. */
static flt_err parse_count(const char *s, size_t n, bool at_least_one, size_t *out)
{
	char *end = NULL;
	if (!s || !*s)
		return FLT_EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || s[0] == '-')
		return FLT_EINVAL;
	size_t r;
	if (*end == '%' && end[1] == '\0') {
		if (v > 100)
			return FLT_EINVAL;
		unsigned long long x = v * (unsigned long long)n;
		r = (size_t)(at_least_one ? (x + 99) / 100 : x / 100);
	} else if (*end == '\0') {
		if (v > (unsigned long long)1000000)
			return FLT_EINVAL;
		r = (size_t)v;
	} else {
		return FLT_EINVAL;
	}
	if (at_least_one && r == 0)
		r = 1;
	*out = r;
	return FLT_OK;
}

static flt_err add_rows(struct flt_registry *r, sqlite3_stmt *st, struct tdev **devs, size_t *n,
                        size_t *cap)
{
	int row = 0;
	flt_err e;
	while (!(e = reg_step(r, st, &row)) && row) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *sj = (const char *)sqlite3_column_text(st, 1);
		if (!id || !flt_ident_device_valid(id))
			continue;
		bool dup = false;
		for (size_t i = 0; i < *n; i++)
			if (!strcmp((*devs)[i].id, id))
				dup = true;
		if (dup)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 32;
			struct tdev *nd = flt_realloc(*devs, nc * sizeof(**devs));
			if (!nd)
				return FLT_ENOMEM;
			*devs = nd;
			*cap = nc;
		}
		struct tdev *d = &(*devs)[*n];
		memset(d, 0, sizeof(*d));
		snprintf(d->id, sizeof(d->id), "%s", id);
		if (sj && !(d->state_json = flt_strdup(sj)))
			return FLT_ENOMEM;
		(*n)++;
	}
	return e;
}

static flt_err resolve_target(struct flt_registry *r, const char *name, const char *target,
                              struct tdev **devs, size_t *n, char *why, size_t cap)
{
	sqlite3_stmt *st = NULL;
	size_t dcap = 0;
	flt_err e;
	if (!strcmp(target, "all") || !strcmp(target, "running")) {
		bool all = !strcmp(target, "all");
		if ((e = reg_stmt(r, all ? REG_Q_RO_TARGET_ALL : REG_Q_RO_TARGET_RUNNING, &st)) ||
		    (!all && (e = reg_bind(r, st, "t", name))))
			return e;
		return add_rows(r, st, devs, n, &dcap);
	}
	if (!strncmp(target, "group:", 6)) {
		int64_t gid = 0;
		e = reg_query_int(r, REG_Q_GROUP_ID, &gid, "t", target + 6);
		if (e == FLT_ENOTFOUND)
			snprintf(why, cap, "no group '%s'; see 'flotilla group list'", target + 6);
		if (e)
			return e;
		if ((e = reg_stmt(r, REG_Q_RO_TARGET_GROUP, &st)) ||
		    (e = reg_bind(r, st, "t", target + 6)))
			return e;
		return add_rows(r, st, devs, n, &dcap);
	}
	if (!strncmp(target, "tag:", 4)) {
		char k[65], v[1025];
		const char *eq = strchr(target + 4, '=');
		size_t kl = eq ? (size_t)(eq - (target + 4)) : 0;
		if (!eq || kl == 0 || kl >= sizeof(k) || strlen(eq + 1) >= sizeof(v)) {
			snprintf(why, cap, "bad target '%s'; use tag:KEY=VALUE", target);
			return FLT_EINVAL;
		}
		memcpy(k, target + 4, kl);
		k[kl] = '\0';
		snprintf(v, sizeof(v), "%s", eq + 1);
		if ((e = reg_stmt(r, REG_Q_RO_TARGET_TAG, &st)) ||
		    (e = reg_bind(r, st, "tt", k, v)))
			return e;
		return add_rows(r, st, devs, n, &dcap);
	}
	if (!strncmp(target, "device:", 7)) {
		const char *p = target + 7;
		while (*p) {
			char id[FLT_IDENT_MAX + 1];
			const char *comma = strchr(p, ',');
			size_t l = comma ? (size_t)(comma - p) : strlen(p);
			if (l == 0 || l > FLT_IDENT_MAX) {
				snprintf(why, cap, "bad device list in '%s'", target);
				return FLT_EINVAL;
			}
			memcpy(id, p, l);
			id[l] = '\0';
			if (!flt_ident_device_valid(id)) {
				snprintf(why, cap, "'%s' is not a valid device id", id);
				return FLT_EINVAL;
			}
			size_t before = *n;
			if ((e = reg_stmt(r, REG_Q_RO_TARGET_DEVICE, &st)) ||
			    (e = reg_bind(r, st, "t", id)) || (e = add_rows(r, st, devs, n, &dcap)))
				return e;
			if (*n == before) {
				snprintf(why, cap, "no device '%s'; see 'flotilla device list'",
				         id);
				return FLT_ENOTFOUND;
			}
			p += l;
			if (*p == ',')
				p++;
		}
		return FLT_OK;
	}
	snprintf(why, cap, "bad target '%s'; use group:G, tag:k=v, device:ID[,ID...] or all",
	         target);
	return FLT_EINVAL;
}

flt_err rollout_create(struct flt_registry *r, const struct rollout_params *p, int64_t now_ms,
                       int64_t *id, char *why, size_t cap)
{
	struct tdev *devs = NULL;
	size_t n = 0, eligible = 0, canary = 1, wave = 0, maxf = 0;
	bool in_tx = false;
	int64_t rid = 0;
	flt_err e;
	why[0] = '\0';
	rollout_db_idle(r);
	if ((e = reg_begin(r)) != FLT_OK) {
		snprintf(why, cap, "the registry stayed locked; retry");
		return e;
	}
	in_tx = true;
	if ((e = resolve_target(r, p->name, p->target, &devs, &n, why, cap)) != FLT_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct tdev *d = &devs[i];
		int64_t other = 0;
		if (!strcmp(p->action, "install")) {
			struct flt_state *st = NULL;
			if (d->state_json && flt_state_parse(d->state_json, strlen(d->state_json),
			                                     &st, NULL) != FLT_OK)
				st = NULL;
			bool ok =
			    serve_device_can_run(r, p->version_id, st, d->why, sizeof(d->why));
			flt_state_free(st);
			if (ok)
				d->why[0] = '\0';
		}
		if (d->why[0])
			continue;
		e = reg_query_int(r, REG_Q_RO_ACTIVE_FOR_DEVICE, &other, "ttt", p->kind, p->name,
		                  d->id);
		if (e == FLT_OK && !p->supersede) {
			snprintf(
			    why, cap,
			    "device %s is in active rollout %lld of %s; wait, abort it, or pass "
			    "--supersede",
			    d->id, (long long)other, p->name);
			e = FLT_ECONFLICT;
			goto out;
		}
		if (e && e != FLT_ENOTFOUND)
			goto out;
		e = FLT_OK;
		eligible++;
	}
	if (n == 0) {
		snprintf(why, cap, "target '%s' matches no device", p->target);
		e = FLT_ENOTFOUND;
		goto out;
	}
	if ((p->canary && parse_count(p->canary, eligible, true, &canary)) ||
	    (p->wave && parse_count(p->wave, eligible, true, &wave)) ||
	    (p->max_failures && parse_count(p->max_failures, eligible, false, &maxf))) {
		snprintf(why, cap, "--canary, --wave and --max-failures take N or P%% (0-100)");
		e = FLT_EINVAL;
		goto out;
	}
	if (canary > eligible)
		canary = eligible;
	if (!p->wave || wave == 0)
		wave = eligible > canary ? eligible - canary : 1;
	size_t n_waves = eligible == 0 ? 0 : 1 + (eligible - canary + wave - 1) / wave;
	int64_t prob = p->probation_s > 0 ? p->probation_s : 300;
	int64_t dl = p->deadline_s > 0 ? p->deadline_s : 3600;
	if ((e = reg_exec(r, REG_Q_RO_INSERT, "tttIttiiiiiiIi", p->kind, p->name, p->action,
	                  p->version_id ? &p->version_id : NULL, p->ref, p->target, (int64_t)canary,
	                  (int64_t)wave, (int64_t)n_waves, prob, dl, (int64_t)maxf,
	                  p->update_request_id ? &p->update_request_id : NULL, now_ms)) != FLT_OK)
		goto out;
	rid = sqlite3_last_insert_rowid(r->db);
	char ridtext[32];
	snprintf(ridtext, sizeof(ridtext), "%lld", (long long)rid);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct tdev *d = &devs[i];
		int64_t w = -1;
		if (!d->why[0]) {
			w = k < canary ? 0 : 1 + (int64_t)((k - canary) / wave);
			k++;
			int64_t other = 0;
			if (p->supersede &&
			    reg_query_int(r, REG_Q_RO_ACTIVE_FOR_DEVICE, &other, "ttt", p->kind,
			                  p->name, d->id) == FLT_OK &&
			    (e = reg_exec(r, REG_Q_RO_SUPERSEDE_DEVICE, "itti", other, d->id,
			                  ridtext, now_ms)) != FLT_OK)
				goto out;
		}
		if ((e = reg_exec(r, REG_Q_RO_DEVICE_INSERT, "itiTT", rid, d->id, w,
		                  d->why[0] ? "skipped" : "pending", d->why[0] ? d->why : NULL)) !=
		    FLT_OK)
			goto out;
	}
	if (eligible == 0 && (e = reg_exec(r, REG_Q_RO_SET_STATE, "itti", rid, "completed",
	                                   "every target device was skipped", now_ms)) != FLT_OK)
		goto out;
	if ((e = reg_commit(r)) != FLT_OK)
		goto out;
	in_tx = false;
	*id = rid;
out:
	if (in_tx)
		reg_rollback(r);
	for (size_t i = 0; i < n; i++)
		flt_free(devs[i].state_json);
	flt_free(devs);
	rollout_db_idle(r);
	if (e && !why[0])
		snprintf(why, cap, "%s", flt_strerror(e));
	return e;
}
