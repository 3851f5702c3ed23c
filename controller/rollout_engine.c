/* The rollout engine inside `flotilla serve`: folds what devices report into
 * per-device rollout states, enforces deadlines and the failure limit, starts
 * the canary and then each wave by writing device_desired rows (serve signs
 * and publishes them), and on a halt puts back what devices ran before,
 * re-signing the older artifact as a new version for devices that had
 * committed the bad one. Every step is one registry transaction, so a killed
 * serve resumes where it was. docs/rollouts.md describes the states. */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "rollout"
#include "flt/alloc.h"
#include "flt/log.h"
#include "flt/msg.h"
#include "flt/reason.h"
#include "rollout.h"

struct ro {
	int64_t id;
	char kind[16], name[FLT_IDENT_MAX + 1], action[16], state[16];
	int64_t version_id, version, cur_wave, n_waves, deadline_s, probation_s, max_failures;
	double max_error_rate;
	int64_t max_crashes;
};

struct rdev {
	char id[FLT_IDENT_MAX + 1];
	int64_t wave;
	char state[24];
	char reason[256];
	char depid[FLT_IDENT_MAX + 1];
	bool started;
	int64_t deadline_ms;
	bool online;
	char *state_json;
	bool has_prev;
	int64_t prev_vid, prev_prob;
	char prev_dep[FLT_IDENT_MAX + 1];
};

static const char *const final_states[] = {"committed", "failed",     "rolled_back",
                                           "skipped",   "superseded", "cancelled"};

bool rollout_state_final(const char *state)
{
	for (size_t i = 0; i < sizeof(final_states) / sizeof(final_states[0]); i++)
		if (!strcmp(state, final_states[i]))
			return true;
	return false;
}

void rollout_db_idle(struct flt_registry *r)
{
	/* A stepped but unreset statement keeps its read snapshot open: other
	 * processes' writes stay invisible and BEGIN IMMEDIATE fails with
	 * SQLITE_BUSY_SNAPSHOT. Reset every cached statement between passes. */
	for (size_t i = 0; i < REG_Q_COUNT_; i++)
		if (r->stmts[i])
			sqlite3_reset(r->stmts[i]);
}

static void text_col(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	snprintf(buf, cap, "%s", t ? t : "");
}

static void free_devs(struct rdev *d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		flt_free(d[i].state_json);
	flt_free(d);
}

static flt_err load_devs(struct flt_registry *r, int64_t rid, struct rdev **out, size_t *nout)
{
	sqlite3_stmt *st = NULL;
	struct rdev *d = NULL;
	size_t n = 0, cap = 0;
	int row = 0;
	flt_err e;
	if ((e = reg_stmt(r, REG_Q_RO_DEVICES, &st)) || (e = reg_bind(r, st, "i", rid)))
		return e;
	while (!(e = reg_step(r, st, &row)) && row) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct rdev *nd = flt_realloc(d, nc * sizeof(*d));
			if (!nd) {
				e = FLT_ENOMEM;
				break;
			}
			d = nd;
			cap = nc;
		}
		struct rdev *x = &d[n++];
		memset(x, 0, sizeof(*x));
		text_col(st, 0, x->id, sizeof(x->id));
		x->wave = sqlite3_column_int64(st, 1);
		text_col(st, 2, x->state, sizeof(x->state));
		text_col(st, 3, x->reason, sizeof(x->reason));
		text_col(st, 4, x->depid, sizeof(x->depid));
		x->started = sqlite3_column_type(st, 5) != SQLITE_NULL;
		x->deadline_ms = sqlite3_column_int64(st, 6);
		x->online = sqlite3_column_int64(st, 7) != 0;
		const char *sj = (const char *)sqlite3_column_text(st, 8);
		if (sj && !(x->state_json = flt_strdup(sj))) {
			e = FLT_ENOMEM;
			break;
		}
		x->has_prev = sqlite3_column_type(st, 9) != SQLITE_NULL;
		x->prev_vid = sqlite3_column_int64(st, 9);
		text_col(st, 10, x->prev_dep, sizeof(x->prev_dep));
		x->prev_prob = sqlite3_column_int64(st, 11);
	}
	if (e) {
		free_devs(d, n);
		return e;
	}
	*out = d;
	*nout = n;
	return FLT_OK;
}

static flt_err load_ro(struct flt_registry *r, int64_t id, struct ro *ro)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	flt_err e;
	memset(ro, 0, sizeof(*ro));
	if ((e = reg_stmt(r, REG_Q_RO_GET, &st)) || (e = reg_bind(r, st, "i", id)) ||
	    (e = reg_step(r, st, &row)))
		return e;
	if (!row)
		return FLT_ENOTFOUND;
	ro->id = id;
	text_col(st, 1, ro->kind, sizeof(ro->kind));
	text_col(st, 2, ro->name, sizeof(ro->name));
	text_col(st, 3, ro->action, sizeof(ro->action));
	ro->version_id = sqlite3_column_int64(st, 4);
	text_col(st, 7, ro->state, sizeof(ro->state));
	ro->n_waves = sqlite3_column_int64(st, 11);
	ro->cur_wave = sqlite3_column_int64(st, 12);
	ro->probation_s = sqlite3_column_int64(st, 13);
	ro->deadline_s = sqlite3_column_int64(st, 14);
	ro->max_failures = sqlite3_column_int64(st, 15);
	ro->max_error_rate = 0.05;
	ro->max_crashes = 3;
	if (ro->version_id) {
		if ((e = reg_stmt(r, REG_Q_RO_VERSION_INFO, &st)) ||
		    (e = reg_bind(r, st, "i", ro->version_id)) || (e = reg_step(r, st, &row)))
			return e;
		if (row)
			ro->version = sqlite3_column_int64(st, 1);
	}
	return FLT_OK;
}

/* A fresh deployment id, inside the caller's transaction. */
static flt_err new_depid(struct flt_registry *r, int64_t rid, char *buf, size_t cap)
{
	int64_t n = 0;
	flt_err e = reg_exec(r, REG_Q_COUNTER_NEXT, "t", "deployment_serial");
	if (!e)
		e = reg_query_int(r, REG_Q_COUNTER_GET, &n, "t", "deployment_serial");
	if (!e)
		snprintf(buf, cap, "r%lld-d%lld", (long long)rid, (long long)n);
	return e;
}

static flt_err start_wave(struct flt_registry *r, const struct ro *ro, struct rdev *d, size_t n,
                          int64_t wave, int64_t now)
{
	flt_err e = FLT_OK;
	for (size_t i = 0; !e && i < n; i++) {
		sqlite3_stmt *st = NULL;
		int row = 0;
		struct rdev *x = &d[i];
		if (x->wave != wave || rollout_state_final(x->state))
			continue;
		int64_t pv = 0, pp = 0;
		char pd[FLT_IDENT_MAX + 1] = "";
		bool hp = false;
		if ((e = reg_stmt(r, REG_Q_RO_DESIRED_GET, &st)) ||
		    (e = reg_bind(r, st, "ttt", x->id, ro->kind, ro->name)) ||
		    (e = reg_step(r, st, &row)))
			break;
		if (row) {
			hp = true;
			pv = sqlite3_column_int64(st, 0);
			text_col(st, 1, pd, sizeof(pd));
			pp = sqlite3_column_int64(st, 2);
		}
		if ((e = new_depid(r, ro->id, x->depid, sizeof(x->depid))))
			break;
		if (!strcmp(ro->action, "install"))
			e = reg_exec(r, REG_Q_RO_DESIRED_SET, "tttitidiii", x->id, ro->kind,
			             ro->name, ro->version_id, x->depid, ro->probation_s,
			             ro->max_error_rate, ro->max_crashes, ro->id, now);
		else
			e = reg_exec(r, REG_Q_RO_DESIRED_RM, "ttt", x->id, ro->kind, ro->name);
		if (!e)
			e = reg_exec(r, REG_Q_RO_DEVICE_START, "ittITIii", ro->id, x->id, x->depid,
			             hp ? &pv : NULL, hp ? pd : NULL, hp ? &pp : NULL, now,
			             now + ro->deadline_s * 1000);
		x->started = true;
		x->deadline_ms = now + ro->deadline_s * 1000;
		snprintf(x->state, sizeof(x->state), "pending");
	}
	if (!e)
		flt_log_info("rollout %lld: wave %lld started", (long long)ro->id, (long long)wave);
	return e;
}

/* What the device's report says about its part in this rollout. */
static void observe(const struct ro *ro, const struct rdev *x, char *state, size_t scap,
                    char *reason, size_t rcap)
{
	struct flt_state *st = NULL;
	const struct flt_state_release *rel = NULL;
	reason[0] = '\0';
	snprintf(state, scap, "%s", x->online ? "pending" : "offline");
	if (!x->state_json ||
	    flt_state_parse(x->state_json, strlen(x->state_json), &st, NULL) != FLT_OK)
		return;
	for (size_t i = 0; i < st->n_releases; i++)
		if (st->releases[i].kind == FLT_KIND_MODEL &&
		    !strcmp(st->releases[i].name, ro->name))
			rel = &st->releases[i];
	if (!strcmp(ro->action, "remove")) {
		if (!rel || rel->active == 0)
			snprintf(state, scap, "committed");
	} else if (rel && rel->has_deployment && !strcmp(rel->deployment_id, x->depid)) {
		snprintf(state, scap, "%s", flt_step_name(rel->step));
		if (rel->step == FLT_STEP_FAILED || rel->step == FLT_STEP_ROLLED_BACK)
			snprintf(reason, rcap, "%s", flt_reason_name(rel->reason));
	} else if (rel && ro->version && rel->active == (uint64_t)ro->version &&
	           rel->committed == (uint64_t)ro->version) {
		snprintf(state, scap, "committed");
	}
	flt_state_free(st);
}

/* One running rollout, in one transaction. *halt set when it must halt. */
static flt_err step_rollout(struct flt_registry *r, int64_t rid, int64_t now, bool *changed,
                            char *halt, size_t hcap)
{
	struct ro ro;
	struct rdev *d = NULL;
	size_t n = 0;
	flt_err e;
	halt[0] = '\0';
	rollout_db_idle(r);
	if ((e = reg_begin(r)) != FLT_OK)
		return e;
	if ((e = load_ro(r, rid, &ro)) || strcmp(ro.state, "running"))
		goto out;
	if ((e = load_devs(r, rid, &d, &n)))
		goto out;
	if (ro.cur_wave < 0) {
		if ((e = start_wave(r, &ro, d, n, 0, now)) ||
		    (e = reg_exec(r, REG_Q_RO_SET_WAVE, "iii", rid, (int64_t)0, now)))
			goto out;
		ro.cur_wave = 0;
		*changed = true;
	}
	int64_t failures = 0;
	bool wave_done = true;
	for (size_t i = 0; i < n; i++) {
		struct rdev *x = &d[i];
		if (x->started && !rollout_state_final(x->state)) {
			char state[24], reason[256];
			observe(&ro, x, state, sizeof(state), reason, sizeof(reason));
			if (!rollout_state_final(state) && now > x->deadline_ms) {
				snprintf(state, sizeof(state), "failed");
				snprintf(reason, sizeof(reason),
				         "TIMEOUT: not committed within %llds of its wave's start",
				         (long long)ro.deadline_s);
			}
			if (strcmp(state, x->state) || strcmp(reason, x->reason)) {
				bool fin = rollout_state_final(state);
				if ((e = reg_exec(r, REG_Q_RO_DEVICE_SET, "ittTI", rid, x->id,
				                  state, reason[0] ? reason : NULL,
				                  fin ? &now : NULL)))
					goto out;
				if (fin)
					flt_log_info("rollout %lld: device %s %s%s%s",
					             (long long)rid, x->id, state,
					             reason[0] ? ": " : "", reason);
				snprintf(x->state, sizeof(x->state), "%s", state);
				snprintf(x->reason, sizeof(x->reason), "%s", reason);
			}
		}
		if (!strcmp(x->state, "failed") || !strcmp(x->state, "rolled_back"))
			failures++;
		if (x->wave == ro.cur_wave && !rollout_state_final(x->state))
			wave_done = false;
	}
	if (failures > ro.max_failures) {
		snprintf(halt, hcap,
		         "FAILURE_LIMIT: %lld device(s) failed, more than the %lld allowed",
		         (long long)failures, (long long)ro.max_failures);
	} else if (wave_done) {
		if (ro.cur_wave + 1 < ro.n_waves) {
			if ((e = start_wave(r, &ro, d, n, ro.cur_wave + 1, now)) ||
			    (e = reg_exec(r, REG_Q_RO_SET_WAVE, "iii", rid, ro.cur_wave + 1, now)))
				goto out;
		} else {
			if ((e = reg_exec(r, REG_Q_RO_SET_STATE, "itTi", rid, "completed", NULL,
			                  now)))
				goto out;
			flt_log_info("rollout %lld completed", (long long)rid);
		}
		*changed = true;
	}
	e = reg_commit(r);
	free_devs(d, n);
	return e;
out:
	reg_rollback(r);
	free_devs(d, n);
	return e;
}

/* A new version of the model with the bytes of prev_vid, lineage rollback-of. */
static flt_err make_rollback(struct flt_registry *r, int64_t prev_vid, int64_t now,
                             int64_t *new_vid, char *text, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	int64_t model_id, version, next = 0;
	char name[FLT_IDENT_MAX + 1], parent[FLT_IDENT_MAX + 32];
	flt_err e;
	if ((e = reg_stmt(r, REG_Q_RO_VERSION_INFO, &st)) || (e = reg_bind(r, st, "i", prev_vid)) ||
	    (e = reg_step(r, st, &row)))
		return e;
	if (!row)
		return FLT_ENOTFOUND;
	model_id = sqlite3_column_int64(st, 0);
	version = sqlite3_column_int64(st, 1);
	text_col(st, 2, name, sizeof(name));
	if ((e = reg_query_int(r, REG_Q_MODEL_NEXT_VERSION, &next, "i", model_id)) ||
	    (e = reg_exec(r, REG_Q_MODEL_BUMP_VERSION, "ii", model_id, next)) ||
	    (e = reg_exec(r, REG_Q_RO_ROLLBACK_COPY, "iii", prev_vid, next, now)))
		return e;
	int64_t vid = sqlite3_last_insert_rowid(r->db);
	snprintf(parent, sizeof(parent), "%s:%lld", name, (long long)version);
	if ((e = reg_exec(r, REG_Q_RO_ROLLBACK_OPSETS, "ii", prev_vid, vid)) ||
	    (e = reg_exec(r, REG_Q_RO_ROLLBACK_OPS, "ii", prev_vid, vid)) ||
	    (e = reg_exec(r, REG_Q_RO_ROLLBACK_PARENT, "ii", prev_vid, vid)) ||
	    (e = reg_exec(r, REG_Q_RO_ROLLBACK_LINEAGE, "itt", vid, "rollback-of", parent)))
		return e;
	snprintf(text, cap, "%s:%lld (rollback-of %s)", name, (long long)next, parent);
	flt_log_info("rollback: %s re-issued as %s:%lld", parent, name, (long long)next);
	*new_vid = vid;
	return FLT_OK;
}

flt_err rollout_stop(struct flt_registry *r, int64_t id, const char *state, const char *reason,
                     bool rollback_committed, int64_t now)
{
	struct ro ro;
	struct rdev *d = NULL;
	size_t n = 0;
	struct {
		int64_t prev, rb;
		char text[FLT_IDENT_MAX * 2 + 64];
	} rbs[16];
	size_t nrb = 0;
	int64_t first_rb = 0;
	flt_err e;
	rollout_db_idle(r);
	if ((e = reg_begin(r)) != FLT_OK)
		return e;
	if ((e = load_ro(r, id, &ro)))
		goto out;
	if (strcmp(ro.state, "running") && strcmp(ro.state, "paused")) {
		e = FLT_EINVAL;
		goto out;
	}
	if ((e = load_devs(r, id, &d, &n)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct rdev *x = &d[i];
		char why[512];
		if (!strcmp(x->state, "skipped") || !strcmp(x->state, "superseded"))
			continue;
		if (!x->started) {
			if (!rollout_state_final(x->state) &&
			    (e = reg_exec(r, REG_Q_RO_DEVICE_SET, "ittti", id, x->id, "cancelled",
			                  reason, now)))
				goto out;
			continue;
		}
		bool committed = !strcmp(x->state, "committed");
		if (committed && !rollback_committed)
			continue;
		if (committed && x->has_prev && !strcmp(ro.action, "install")) {
			size_t k = 0;
			while (k < nrb && rbs[k].prev != x->prev_vid)
				k++;
			if (k == nrb) {
				if (nrb == sizeof(rbs) / sizeof(rbs[0])) {
					e = FLT_ELIMIT;
					goto out;
				}
				rbs[k].prev = x->prev_vid;
				if ((e = make_rollback(r, x->prev_vid, now, &rbs[k].rb, rbs[k].text,
				                       sizeof(rbs[k].text))))
					goto out;
				if (!first_rb)
					first_rb = rbs[k].rb;
				nrb++;
			}
			char dep[FLT_IDENT_MAX + 1];
			if ((e = new_depid(r, id, dep, sizeof(dep))) ||
			    (e = reg_exec(r, REG_Q_RO_DESIRED_SET, "tttitidiii", x->id, ro.kind,
			                  ro.name, rbs[k].rb, dep, x->prev_prob, ro.max_error_rate,
			                  ro.max_crashes, id, now)))
				goto out;
			snprintf(why, sizeof(why), "HALTED: rolled back to %s", rbs[k].text);
		} else if (committed && x->has_prev) { /* a removal undone: reinstall */
			char dep[FLT_IDENT_MAX + 1];
			if ((e = new_depid(r, id, dep, sizeof(dep))) ||
			    (e = reg_exec(r, REG_Q_RO_DESIRED_SET, "tttitidiii", x->id, ro.kind,
			                  ro.name, x->prev_vid, dep, x->prev_prob,
			                  ro.max_error_rate, ro.max_crashes, id, now)))
				goto out;
			snprintf(why, sizeof(why), "HALTED: reinstated");
		} else if (x->has_prev) {
			/* Its previous entry exactly, deployment id included: the device
			 * still has that version committed and keeps it. */
			e = reg_exec(r, REG_Q_RO_DESIRED_SET, "tttitidiIi", x->id, ro.kind, ro.name,
			             x->prev_vid, x->prev_dep, x->prev_prob, ro.max_error_rate,
			             ro.max_crashes, NULL, now);
			snprintf(why, sizeof(why), "%s", reason);
		} else {
			e = reg_exec(r, REG_Q_RO_DESIRED_RM, "ttt", x->id, ro.kind, ro.name);
			snprintf(why, sizeof(why), "%s", reason);
		}
		if (e)
			goto out;
		if (committed)
			e = reg_exec(r, REG_Q_RO_DEVICE_SET, "ittti", id, x->id, "rolled_back", why,
			             now);
		else if (!rollout_state_final(x->state))
			e = reg_exec(r, REG_Q_RO_DEVICE_SET, "ittti", id, x->id, "cancelled", why,
			             now);
		if (e)
			goto out;
	}
	if (first_rb && (e = reg_exec(r, REG_Q_RO_SET_ROLLBACK, "ii", id, first_rb)))
		goto out;
	if ((e = reg_exec(r, REG_Q_RO_SET_STATE, "itTi", id, state, reason, now)))
		goto out;
	free_devs(d, n);
	flt_log_warn("rollout %lld %s: %s", (long long)id, state, reason);
	return reg_commit(r);
out:
	reg_rollback(r);
	free_devs(d, n);
	return e;
}

/* Pending `model update --all` requests become rollouts to every device that
 * has or is asked to run the model. */
static flt_err take_update_requests(struct flt_registry *r, int64_t now, bool *changed)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	struct req {
		int64_t id, vid;
		char name[FLT_IDENT_MAX + 1], ref[FLT_IDENT_MAX + 32];
	} q[8];
	size_t nq = 0;
	flt_err e;
	if ((e = reg_stmt(r, REG_Q_RO_UPDATE_PENDING, &st)))
		return e;
	while (nq < 8 && !(e = reg_step(r, st, &row)) && row) {
		q[nq].id = sqlite3_column_int64(st, 0);
		text_col(st, 1, q[nq].name, sizeof(q[nq].name));
		q[nq].vid = sqlite3_column_int64(st, 2);
		text_col(st, 3, q[nq].ref, sizeof(q[nq].ref));
		nq++;
	}
	sqlite3_reset(st);
	if (e)
		return e;
	for (size_t i = 0; i < nq; i++) {
		struct rollout_params p;
		char why[512];
		int64_t rid = 0;
		memset(&p, 0, sizeof(p));
		p.kind = "model";
		p.action = "install";
		p.name = q[i].name;
		p.version_id = q[i].vid;
		p.ref = q[i].ref;
		p.target = "running";
		p.supersede = true;
		p.update_request_id = q[i].id;
		e = rollout_create(r, &p, now, &rid, why, sizeof(why));
		const char *res = e == FLT_OK ? "started" : e == FLT_ENOTFOUND ? "done" : "failed";
		if (e)
			flt_log_warn("model update request %lld: %s", (long long)q[i].id, why);
		else
			*changed = true;
		if ((e = reg_exec(r, REG_Q_RO_UPDATE_SET, "it", q[i].id, res)))
			return e;
	}
	return FLT_OK;
}

flt_err rollout_tick(struct flt_registry *r, int64_t now, bool *changed)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	flt_err e;
	*changed = false;
	rollout_db_idle(r);
	if ((e = take_update_requests(r, now, changed)))
		return e;
	if ((e = reg_stmt(r, REG_Q_RO_ACTIVE, &st)))
		return e;
	while (!(e = reg_step(r, st, &row)) && row) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			int64_t *ni = flt_realloc(ids, nc * sizeof(*ids));
			if (!ni) {
				e = FLT_ENOMEM;
				break;
			}
			ids = ni;
			cap = nc;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	for (size_t i = 0; !e && i < n; i++) {
		char halt[256];
		e = step_rollout(r, ids[i], now, changed, halt, sizeof(halt));
		if (!e && halt[0]) {
			e = rollout_stop(r, ids[i], "halted", halt, true, now);
			*changed = true;
		}
	}
	flt_free(ids);
	rollout_db_idle(r);
	return e;
}
