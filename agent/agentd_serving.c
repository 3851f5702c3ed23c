/* The daemon's link to serving (flt/serving.h): the local inference socket is
 * created when serving.socket is set; activation goes through it, and the
 * probation verdict comes from its per-version statistics. Without a socket
 * the built-in seam (install_activate.c) only keeps the model loaded. */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "agent.serving"
#include "agentd_int.h"
#include "flt/log.h"
#include "flt/serving.h"
#include "flt/usage.h"

static flt_err srv_activate(void *ctx, const char *name, uint64_t version, const char *path)
{
	struct flt_agentd *a = ctx;
	char err[200] = "";
	uint32_t lat = 0;
	for (size_t i = 0; i < a->n_models; i++)
		if (!strcmp(a->models[i].name, name))
			lat = a->models[i].latency_ms_max;
	flt_err e = flt_serving_activate(a->srv, name, version, path, lat, err, sizeof(err));
	if (e)
		flt_log_err("%s v%llu: activation failed: %s", name, (unsigned long long)version,
		            err);
	return e;
}

static void srv_remove(void *ctx, const char *name)
{
	struct flt_agentd *a = ctx;
	flt_err e = flt_serving_remove(a->srv, name);
	if (e && e != FLT_ENOTFOUND)
		flt_log_warn("%s: removal from serving failed: %s", name, flt_strerror(e));
}

flt_err agentd_serving_start(struct flt_agentd *a)
{
	if (!a->conf.socket_path || !a->conf.socket_path[0] || !strcmp(a->conf.socket_path, "none"))
		return FLT_OK;
	flt_err e = flt_usage_new(4 * AGENTD_MAX_MODELS, &a->usage);
	if (e)
		return e;
	struct flt_serving_opts o;
	memset(&o, 0, sizeof(o));
	o.socket_path = a->conf.socket_path;
	o.socket_group = a->conf.socket_group;
	o.workers = (unsigned)a->conf.srv_workers;
	o.queue_max = (unsigned)a->conf.srv_queue_max;
	o.max_conns = (unsigned)a->conf.srv_max_conns;
	o.swap_wait_ms = (unsigned)a->conf.srv_swap_wait_ms;
	o.read_timeout_ms = (unsigned)a->conf.srv_read_timeout_ms;
	o.max_batch = (unsigned)a->conf.srv_max_batch;
	o.memory_budget = a->conf.srv_memory_budget;
	o.usage = a->usage;
	if ((e = flt_serving_create(&o, &a->srv))) {
		flt_log_err("cannot serve on %s: %s", a->conf.socket_path, flt_strerror(e));
		return e;
	}
	a->serving.activate = srv_activate;
	a->serving.remove = srv_remove;
	a->serving.ctx = a;
	return FLT_OK;
}

void agentd_serving_reload(struct flt_agentd *a, const struct flt_agentd_conf *c)
{
	if (a->srv) {
		flt_err e = flt_serving_reconfigure(
		    a->srv, (unsigned)c->srv_workers, (unsigned)c->srv_queue_max,
		    (unsigned)c->srv_max_conns, (unsigned)c->srv_swap_wait_ms);
		if (e) {
			flt_log_err("SIGHUP: serving settings not applied: %s", flt_strerror(e));
			return;
		}
	}
	a->conf.srv_workers = c->srv_workers;
	a->conf.srv_queue_max = c->srv_queue_max;
	a->conf.srv_max_conns = c->srv_max_conns;
	a->conf.srv_swap_wait_ms = c->srv_swap_wait_ms;
	if (c->srv_read_timeout_ms != a->conf.srv_read_timeout_ms ||
	    c->srv_max_batch != a->conf.srv_max_batch ||
	    c->srv_memory_budget != a->conf.srv_memory_budget)
		flt_log_warn("SIGHUP: serving.read_timeout_ms, max_batch and memory_budget apply "
		             "after a restart");
}

void agentd_serving_stop(struct flt_agentd *a)
{
	flt_serving_destroy(a->srv);
	a->srv = NULL;
	flt_usage_free(a->usage);
	a->usage = NULL;
}

int agentd_probation_verdict(struct flt_agentd *a, const struct agentd_model *m, int64_t elapsed_s,
                             enum flt_reason *reason)
{
	*reason = FLT_REASON_NONE;
	struct flt_probation_limits lim = {
	    .probation_s = (double)m->prob.probation_s,
	    .max_error_rate = m->prob.max_error_rate,
	    .max_crashes = (unsigned)m->prob.max_crashes,
	    .latency_ms_max = m->latency_ms_max,
	};
	struct flt_serving_stats st;
	memset(&st, 0, sizeof(st));
	if (a->srv && flt_serving_stats(a->srv, m->name, m->version, &st))
		memset(&st, 0, sizeof(st));
	enum flt_probation_verdict v =
	    flt_probation_evaluate(&lim, &st, (unsigned)m->crashes, (double)elapsed_s, reason);
	return v == FLT_PROBATION_FAIL ? -1 : v == FLT_PROBATION_PASS ? 1 : 0;
}
