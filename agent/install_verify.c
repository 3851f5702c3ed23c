/* Pipeline step 1, before a byte is fetched: the key list (root-signed),
 * the desired state (director-signed, this device, serial only grows) and
 * each release envelope (release-signed) with its admission checks. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FLT_LOG_MODULE "agent.verify"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/config.h"
#include "flt/dsse.h"
#include "flt/log.h"
#include "flt/sys.h"

/* Highest IR version the runtime plans (agent/runtime/onnx.h ONNX_IR_MAX). */
#define AGENTD_IR_MAX 8

flt_err verify_keylist(struct flt_agentd *a, const char *json, size_t len, bool persist)
{
	struct flt_json_err jerr = {0};
	flt_keylist *kl = NULL;
	bool redelivery = false;
	flt_err e = flt_keylist_accept(json, len, &a->root_set, &a->kl_state, agentd_now(), &kl,
	                               &redelivery, &jerr);
	if (e) {
		flt_log_warn("key list refused: %s (%s)", flt_reason_name(jerr.reason), jerr.msg);
		a->last_error = jerr.reason;
		snprintf(a->last_error_msg, sizeof(a->last_error_msg), "key list: %s", jerr.msg);
		return e;
	}
	if (redelivery && a->kl) {
		flt_keylist_free(kl);
		return FLT_OK;
	}
	if (persist) {
		char path[AGENTD_PATH];
		if (store_path(a, path, sizeof(path), "keys.json"))
			e = FLT_EINVAL;
		else
			e = flt_file_write_atomic(path, json, len, 0600, "agent.keys");
		if (e) {
			flt_keylist_free(kl);
			return e;
		}
	}
	flt_keylist_free(a->kl);
	a->kl = kl;
	flt_keylist_state_of(kl, &a->kl_state);
	flt_log_info("key list serial %llu accepted", (unsigned long long)kl->serial);
	return persist ? store_save(a, "agent.state") : FLT_OK;
}

flt_err verify_desired(struct flt_agentd *a, const char *json, size_t len, struct flt_desired **out,
                       enum flt_reason *reason, char *msg, size_t msglen)
{
	struct flt_json_err jerr = {0};
	flt_dsse *env = NULL;
	struct flt_desired *d = NULL;
	flt_err e = flt_dsse_parse(json, len, FLT_MAX_DESIRED_BYTES, &env, &jerr);
	if (e) {
		*reason = jerr.reason ? jerr.reason : FLT_REASON_MALFORMED;
		snprintf(msg, msglen, "desired state envelope: %s", jerr.msg);
		goto out;
	}
	if (!a->kl) {
		*reason = FLT_REASON_UNTRUSTED_KEY;
		snprintf(msg, msglen, "no key list yet");
		e = FLT_EVERIFY;
		goto out;
	}
	if ((e = flt_keylist_verify_envelope(a->kl, env, FLT_PAYLOAD_DESIRED, FLT_ROLE_DIRECTOR,
	                                     agentd_now(), reason))) {
		snprintf(msg, msglen, "desired state signature: %s", flt_reason_name(*reason));
		goto out;
	}
	if ((e = flt_desired_parse((const char *)env->payload, env->payload_len, &d, &jerr))) {
		*reason = jerr.reason ? jerr.reason : FLT_REASON_MALFORMED;
		snprintf(msg, msglen, "desired state: %s", jerr.msg);
		goto out;
	}
	if (strcmp(d->device_id, a->conf.device_id)) {
		*reason = FLT_REASON_WRONG_DEVICE;
		snprintf(msg, msglen, "desired state for device '%s'", d->device_id);
		e = FLT_EVERIFY;
		goto out;
	}
	uint8_t sha[FLT_SHA256_LEN];
	if ((e = flt_sha256(env->payload, env->payload_len, sha)))
		goto out;
	if (d->serial == a->desired_serial && flt_ct_equal(sha, a->desired_sha, sizeof(sha)) &&
	    a->desired) {
		/* retained re-delivery: nothing to do */
		*reason = FLT_REASON_NONE;
		e = FLT_ECONFLICT;
		goto out;
	}
	if (d->serial <= a->desired_serial &&
	    !(d->serial == a->desired_serial && flt_ct_equal(sha, a->desired_sha, sizeof(sha)))) {
		*reason = FLT_REASON_OLD_SERIAL;
		snprintf(msg, msglen, "desired state serial %llu not above %llu",
		         (unsigned long long)d->serial, (unsigned long long)a->desired_serial);
		e = FLT_EVERIFY;
		goto out;
	}
	memcpy(a->desired_sha, sha, sizeof(sha));
	a->desired_serial = d->serial;
	*out = d;
	d = NULL;
out:
	flt_desired_free(d);
	flt_dsse_free(env);
	return e;
}

/* The newest opset the runtime serves for DOMAIN: the highest `since` of its
 * operators (an op with until == 0 is current from since on). 0: none. */
static uint64_t runtime_max_opset(const char *domain)
{
	uint64_t best = 0;
	size_t n = flt_rt_op_count();
	for (size_t i = 0; i < n; i++) {
		struct flt_rt_op_info oi;
		flt_rt_op_get(i, &oi);
		if (strcmp(oi.domain, domain))
			continue;
		uint64_t top = oi.until > 0 ? (uint64_t)oi.until : (uint64_t)oi.since;
		if (top > best)
			best = top;
	}
	return best;
}

static bool runtime_has_op(const char *domain, const char *op, uint64_t opset)
{
	size_t n = flt_rt_op_count();
	for (size_t i = 0; i < n; i++) {
		struct flt_rt_op_info oi;
		flt_rt_op_get(i, &oi);
		if (strcmp(oi.domain, domain) || strcmp(oi.op_type, op))
			continue;
		if ((uint64_t)oi.since <= opset && (oi.until == 0 || opset <= (uint64_t)oi.until))
			return true;
		/* ops registered once at their introduction serve every later opset */
		if ((uint64_t)oi.since <= opset && oi.until == 0)
			return true;
	}
	return false;
}

static const char *our_arch(void)
{
	return FLT_ARCH;
}

#define REFUSE(r, ...)                                                                             \
	do {                                                                                       \
		*reason = (r);                                                                     \
		snprintf(msg, msglen, __VA_ARGS__);                                                \
		e = FLT_EVERIFY;                                                                   \
		goto out;                                                                          \
	} while (0)

flt_err verify_release(struct flt_agentd *a, const struct agentd_model *m, const char *envelope,
                       size_t len, const char *name, struct flt_manifest **out, uint64_t *version,
                       enum flt_reason *reason, char *msg, size_t msglen)
{
	struct flt_json_err jerr = {0};
	flt_dsse *env = NULL;
	struct flt_manifest *man = NULL;
	int64_t now = agentd_now();
	flt_err e = flt_dsse_parse(envelope, len, FLT_MAX_MANIFEST_BYTES, &env, &jerr);
	if (e)
		REFUSE(jerr.reason ? jerr.reason : FLT_REASON_MALFORMED, "release envelope: %s",
		       jerr.msg);
	if (!a->kl)
		REFUSE(FLT_REASON_UNTRUSTED_KEY, "no key list yet");
	if (flt_keylist_verify_envelope(a->kl, env, FLT_PAYLOAD_RELEASE, FLT_ROLE_RELEASE, now,
	                                reason)) {
		e = FLT_EVERIFY;
		snprintf(msg, msglen, "release envelope: %s", flt_reason_name(*reason));
		goto out;
	}
	if ((e = flt_manifest_parse((const char *)env->payload, env->payload_len, &man, &jerr)))
		REFUSE(jerr.reason ? jerr.reason : FLT_REASON_MALFORMED, "manifest: %s", jerr.msg);
	if (version)
		*version = man->version; /* signed: worth reporting even on a refusal */
	if (man->kind != FLT_KIND_MODEL || (name && strcmp(man->name, name)))
		REFUSE(FLT_REASON_MALFORMED, "manifest names %s '%s', the entry another release",
		       flt_kind_name(man->kind), man->name);
	if (now >= man->expires_at)
		REFUSE(FLT_REASON_EXPIRED, "release expired at %lld", (long long)man->expires_at);
	if (m && man->version < m->committed)
		REFUSE(FLT_REASON_VERSION_LOWER, "version %llu is below the committed %llu",
		       (unsigned long long)man->version, (unsigned long long)m->committed);
	if (man->min_agent_version > (uint64_t)FLT_AGENT_VERSION)
		REFUSE(FLT_REASON_AGENT_TOO_OLD, "needs agent version %llu",
		       (unsigned long long)man->min_agent_version);
	if (strcmp(man->arch, "any") && strcmp(man->arch, our_arch()))
		REFUSE(FLT_REASON_WRONG_ARCH, "built for %s", man->arch);
	if (!man->has_runtime || strcmp(man->format, "onnx"))
		REFUSE(FLT_REASON_MODEL_INCOMPATIBLE, "format '%s' is not one this runtime runs",
		       man->format);
	if (man->ir_version > AGENTD_IR_MAX)
		REFUSE(FLT_REASON_MODEL_INCOMPATIBLE, "IR version %llu above %d",
		       (unsigned long long)man->ir_version, AGENTD_IR_MAX);
	for (size_t i = 0; i < man->n_opsets; i++) {
		const char *dom = man->opsets[i].domain;
		if (!strcmp(dom, "ai.onnx"))
			dom = "";
		uint64_t top = runtime_max_opset(dom);
		if (man->opsets[i].version > top)
			REFUSE(FLT_REASON_OPSET_UNSUPPORTED,
			       "opset %s %llu above the runtime's %llu", dom[0] ? dom : "ai.onnx",
			       (unsigned long long)man->opsets[i].version, (unsigned long long)top);
	}
	for (size_t i = 0; i < man->n_operators; i++) {
		const char *dom = man->operators[i].domain;
		if (!strcmp(dom, "ai.onnx"))
			dom = "";
		uint64_t opset = 0;
		for (size_t j = 0; j < man->n_opsets; j++)
			if (!strcmp(man->opsets[j].domain, man->operators[i].domain))
				opset = man->opsets[j].version;
		if (!opset)
			opset = runtime_max_opset(dom);
		if (!runtime_has_op(dom, man->operators[i].op_type, opset))
			REFUSE(FLT_REASON_OPERATOR_UNSUPPORTED,
			       "operator %s%s%s (opset %llu) unsupported", dom, dom[0] ? "." : "",
			       man->operators[i].op_type, (unsigned long long)opset);
	}
	if (man->peak_memory) {
		long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
		if (pages > 0 && psz > 0 && man->peak_memory > (uint64_t)pages * (uint64_t)psz)
			REFUSE(FLT_REASON_INSUFFICIENT_MEMORY, "needs %llu bytes of memory",
			       (unsigned long long)man->peak_memory);
	}
	if (man->artifact_size > a->conf.max_artifact ||
	    (man->has_golden && man->golden_size > a->conf.max_artifact))
		REFUSE(FLT_REASON_TOO_LARGE, "artifact of %llu bytes above install.max_artifact",
		       (unsigned long long)man->artifact_size);
	uint64_t need =
	    man->artifact_size + man->chunk_index_size + (man->has_golden ? man->golden_size : 0);
	uint64_t free_b = 0;
	if (flt_sys_disk_free(a->conf.data_dir, &free_b))
		free_b = 0;
	if (need + a->conf.disk_reserve > free_b)
		REFUSE(FLT_REASON_INSUFFICIENT_DISK,
		       "needs %llu bytes, %llu free less a reserve of %llu",
		       (unsigned long long)need, (unsigned long long)free_b,
		       (unsigned long long)a->conf.disk_reserve);
	*out = man;
	man = NULL;
	e = FLT_OK;
out:
	flt_manifest_free(man);
	flt_dsse_free(env);
	return e;
}
