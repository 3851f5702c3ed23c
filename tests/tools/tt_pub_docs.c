/* tt_pub: the documents (key lists, release envelopes, desired states) and
 * the chunk server and event recorder of the test publisher. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/desired.h"
#include "flt/dsse.h"
#include "flt/golden.h"
#include "flt/keylist.h"
#include "flt/manifest.h"
#include "flt/msg.h"
#include "flt/runtime.h"
#include "tt_proc.h"
#include "tt_pub_int.h"

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

struct tt_art *ttp_art(struct tt_pub *p, const char *sha_hex)
{
	for (size_t i = 0; i < p->narts; i++)
		if (!strcmp(p->arts[i].sha, sha_hex))
			return &p->arts[i];
	return NULL;
}

struct tt_art *ttp_add_art(struct tt_pub *p, const uint8_t *data, size_t len, uint32_t chunk_size,
                           const uint8_t *sha_override)
{
	uint8_t sha[32];
	char hex[65];
	if (sha_override)
		memcpy(sha, sha_override, 32);
	else if (flt_sha256(data, len, sha))
		return NULL;
	if (flt_hex_encode(sha, 32, hex, sizeof(hex)))
		return NULL;
	pthread_mutex_lock(&p->mu);
	struct tt_art *a = ttp_art(p, hex);
	if (!a && p->narts < TT_MAX_ARTS) {
		a = &p->arts[p->narts++];
		memset(a, 0, sizeof(*a));
		memcpy(a->sha, hex, sizeof(hex));
		memcpy(a->shab, sha, 32);
		a->data = malloc(len);
		if (a->data)
			memcpy(a->data, data, len);
		a->len = len;
		a->chunk_size = chunk_size;
		a->count = (uint32_t)flt_manifest_chunk_count(len, chunk_size);
		a->corrupt = -1;
	}
	pthread_mutex_unlock(&p->mu);
	return a;
}

int tt_pub_write_roots(struct tt_pub *p, const char *path)
{
	char *pem = NULL;
	size_t len = 0;
	if (flt_key_export_public_pem(p->root, &pem, &len))
		return -1;
	int rc = tt_write_file(path, pem, len);
	flt_free(pem);
	return rc;
}

char *tt_pub_keylist(struct tt_pub *p, const char *device, const struct tt_keylist_opts *o)
{
	flt_keylist *kl = NULL;
	char *text = NULL, *ret = NULL;
	size_t len = 0;
	int64_t now = now_s();
	if (flt_keylist_new(&kl))
		return NULL;
	kl->serial = o->serial ? o->serial : 1;
	kl->issued_at = now - 60;
	kl->expires_at = now + 86400;
	kl->threshold[FLT_ROLE_RELEASE] = o->release_threshold ? o->release_threshold : 1;
	if (flt_keylist_add_key(kl, p->director, 1u << FLT_ROLE_DIRECTOR, now + 86400))
		goto out;
	if (o->revoke_release) {
		if (flt_keylist_revoke(kl, flt_key_id(p->release)))
			goto out;
	} else if (flt_keylist_add_key(kl, p->release, 1u << FLT_ROLE_RELEASE, now + 86400)) {
		goto out;
	}
	if (o->release_threshold > 1 &&
	    flt_keylist_add_key(kl, p->release2, 1u << FLT_ROLE_RELEASE, now + 86400))
		goto out;
	const flt_key *roots[1] = {p->root};
	if (flt_keylist_sign(kl, roots, 1, NULL, &text, &len))
		goto out;
	if (device) {
		char topic[256];
		snprintf(topic, sizeof(topic), "flotilla/v1/dev/%s/down/keys", device);
		pthread_mutex_lock(&p->mu);
		ttp_retain(p, topic, text, len);
		pthread_mutex_unlock(&p->mu);
	}
	ret = strdup(text);
out:
	flt_free(text);
	flt_keylist_free(kl);
	return ret;
}

static int read_blob(const char *dir, const char *file, uint8_t **out, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	*out = (uint8_t *)tt_read_file(path, len);
	return *out ? 0 : -1;
}

/* One golden case from an ONNX test-data dir; nudges the expected output when asked. */
static int make_golden(const char *dir, bool off, uint8_t **out, size_t *len)
{
	uint8_t *in = NULL, *want = NULL, *nudged = NULL;
	size_t in_len = 0, want_len = 0;
	int rc = -1;
	if (read_blob(dir, "input_0.pb", &in, &in_len) ||
	    read_blob(dir, "output_0.pb", &want, &want_len))
		goto out;
	if (off) {
		struct flt_rt_tensor t;
		char *name = NULL;
		char err[128];
		if (flt_rt_tensor_decode(want, want_len, &t, &name, err, sizeof(err)))
			goto out;
		if (t.dtype == FLT_RT_FLOAT) {
			float f;
			memcpy(&f, t.data, 4);
			f += 10.0f;
			memcpy(t.data, &f, 4);
		} else {
			((uint8_t *)t.data)[0] ^= 0x5a;
		}
		size_t nlen = 0;
		flt_err e = flt_rt_tensor_encode(name ? name : "", &t, &nudged, &nlen);
		flt_rt_tensor_release(&t);
		flt_free(name);
		if (e)
			goto out;
		free(want);
		want = malloc(nlen);
		memcpy(want, nudged, nlen);
		want_len = nlen;
	}
	struct flt_golden_blob bi = {in, in_len}, bo = {want, want_len};
	struct flt_golden_case c = {&bi, 1, &bo, 1};
	struct flt_golden g = {1e-4, 1e-5, &c, 1};
	rc = flt_golden_encode(&g, out, len) ? -1 : 0;
out:
	free(in);
	free(want);
	flt_free(nudged);
	return rc;
}

static int fill_runtime(struct flt_manifest *m, const uint8_t *model, size_t len,
                        const struct tt_release *r)
{
	struct flt_rt_analysis *an = NULL;
	if (flt_rt_analyze(model, len, &an))
		return -1;
	int rc = -1;
	m->has_runtime = true;
	snprintf(m->format, sizeof(m->format), "onnx");
	m->ir_version = (uint64_t)an->ir_version;
	m->opsets = flt_calloc(an->n_opsets + 1, sizeof(*m->opsets));
	m->operators = flt_calloc(an->n_ops + 1, sizeof(*m->operators));
	m->inputs = flt_calloc(an->n_inputs + 1, sizeof(*m->inputs));
	m->outputs = flt_calloc(an->n_outputs + 1, sizeof(*m->outputs));
	if (!m->opsets || !m->operators || !m->inputs || !m->outputs)
		goto out;
	for (size_t i = 0; i < an->n_opsets; i++) {
		snprintf(m->opsets[i].domain, sizeof(m->opsets[i].domain), "%s",
		         an->opsets[i].domain);
		m->opsets[i].version = (uint64_t)an->opsets[i].version;
		if (r->opset_override && !an->opsets[i].domain[0])
			m->opsets[i].version = r->opset_override;
	}
	m->n_opsets = an->n_opsets;
	for (size_t i = 0; i < an->n_ops; i++) {
		snprintf(m->operators[i].domain, sizeof(m->operators[i].domain), "%s",
		         an->ops[i].domain);
		snprintf(m->operators[i].op_type, sizeof(m->operators[i].op_type), "%s",
		         an->ops[i].op_type);
	}
	m->n_operators = an->n_ops;
	if (r->extra_operator) {
		snprintf(m->operators[m->n_operators].op_type, sizeof(m->operators[0].op_type),
		         "%s", r->extra_operator);
		m->n_operators++;
	}
	for (size_t i = 0; i < an->n_inputs; i++) {
		snprintf(m->inputs[i].name, sizeof(m->inputs[i].name), "%s", an->inputs[i].name);
		m->inputs[i].dtype = (uint32_t)an->inputs[i].dtype;
		m->inputs[i].rank = -1;
	}
	m->n_inputs = an->n_inputs;
	for (size_t i = 0; i < an->n_outputs; i++) {
		snprintf(m->outputs[i].name, sizeof(m->outputs[i].name), "%s", an->outputs[i].name);
		m->outputs[i].dtype = (uint32_t)an->outputs[i].dtype;
		m->outputs[i].rank = -1;
	}
	m->n_outputs = an->n_outputs;
	m->peak_memory = an->peak_memory_bytes > 0 ? (uint64_t)an->peak_memory_bytes : 0;
	rc = 0;
out:
	flt_rt_analysis_free(an);
	return rc;
}

static char *sign_text(struct tt_pub *p, const char *type, const char *payload, size_t len,
                       enum tt_signer s)
{
	flt_dsse *env = NULL;
	char *text = NULL, *ret = NULL;
	size_t tl = 0;
	const flt_key *k = s == TT_SIGN_UNTRUSTED  ? p->stray
	                   : s == TT_SIGN_DIRECTOR ? p->director
	                                           : p->release;
	if (!strcmp(type, FLT_PAYLOAD_DESIRED) && s != TT_SIGN_UNTRUSTED)
		k = p->director;
	const flt_key *keys[1] = {k};
	if (flt_dsse_sign(type, (const uint8_t *)payload, len, keys, 1, NULL, &env))
		return NULL;
	if (s == TT_SIGN_BAD_SIG)
		env->sigs[0].sig[env->sigs[0].sig_len / 2] ^= 0x01;
	if (!flt_dsse_serialize(env, &text, &tl))
		ret = strdup(text);
	flt_free(text);
	flt_dsse_free(env);
	return ret;
}

char *tt_pub_release(struct tt_pub *p, const struct tt_release *r, char *sha_hex)
{
	uint8_t *model = NULL, *index = NULL, *golden = NULL, *served = NULL;
	size_t model_len = 0, index_len = 0, golden_len = 0;
	uint8_t index_sha[32], art_sha[32], golden_sha[32];
	char *payload = NULL, *ret = NULL;
	size_t plen = 0;
	uint32_t cs = r->chunk_size ? r->chunk_size : 4096;
	struct flt_manifest *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (r->bytes) {
		model = malloc(r->nbytes);
		memcpy(model, r->bytes, r->nbytes);
		model_len = r->nbytes;
	} else if (!(model = (uint8_t *)tt_read_file(r->model_path, &model_len))) {
		goto out;
	}
	if (!r->bytes && fill_runtime(m, model, model_len, r))
		goto out;
	if (r->file_hash_lie) {
		/* a fresh artifact (one byte longer), never registered before */
		uint8_t *grown = realloc(model, model_len + 1);
		if (!grown)
			goto out;
		model = grown;
		model[model_len++] = 0x5a;
	}
	if (flt_sha256(model, model_len, art_sha))
		goto out;
	if (r->file_hash_lie) {
		/* other bytes whose chunks match an index that claims the true hash */
		served = malloc(model_len);
		memcpy(served, model, model_len);
		served[model_len - 1] ^= 0x01;
		if (flt_chunk_index_build(served, model_len, cs, &index, &index_len, index_sha))
			goto out;
		memcpy(index + 24, art_sha, 32);
		if (flt_sha256(index, index_len, index_sha))
			goto out;
		if (!ttp_add_art(p, served, model_len, cs, art_sha))
			goto out;
	} else {
		if (flt_chunk_index_build(model, model_len, cs, &index, &index_len, index_sha))
			goto out;
		if (!ttp_add_art(p, model, model_len, cs, NULL))
			goto out;
	}
	if (!ttp_add_art(p, index, index_len, cs, NULL))
		goto out;
	m->kind = (enum flt_kind)r->kind;
	snprintf(m->name, sizeof(m->name), "%s", r->name);
	m->min_agent_version = r->min_agent_version;
	m->version = r->version;
	m->artifact_size = model_len;
	if (flt_hex_encode(art_sha, 32, m->artifact_sha256, 65) ||
	    flt_hex_encode(index_sha, 32, m->chunk_index_sha256, 65))
		goto out;
	m->chunk_size = cs;
	m->chunk_count = (uint32_t)flt_manifest_chunk_count(model_len, cs);
	m->chunk_index_size = index_len;
	snprintf(m->arch, sizeof(m->arch), "any");
	if (m->kind == FLT_KIND_AGENT)
		snprintf(m->arch, sizeof(m->arch), "%s",
		         r->name + strlen(FLT_AGENT_RELEASE_PREFIX));
	if (m->kind == FLT_KIND_FIRMWARE && r->board) {
		snprintf(m->boards[0], sizeof(m->boards[0]), "%s", r->board);
		m->n_boards = 1;
	}
	if (r->bytes && m->kind == FLT_KIND_MODEL) {
		m->has_runtime = true;
		snprintf(m->format, sizeof(m->format), "onnx");
	}
	if (r->golden_dir) {
		if (make_golden(r->golden_dir, r->golden_off, &golden, &golden_len) ||
		    flt_sha256(golden, golden_len, golden_sha) ||
		    !ttp_add_art(p, golden, golden_len, cs, NULL))
			goto out;
		m->has_golden = true;
		if (flt_hex_encode(golden_sha, 32, m->golden_sha256, 65))
			goto out;
		m->golden_size = golden_len;
		if (r->golden_sha_out)
			memcpy(r->golden_sha_out, m->golden_sha256, 65);
		m->golden_rtol = 1e-4;
		m->golden_atol = 1e-5;
	}
	int64_t now = now_s();
	m->issued_at = now - 3600;
	m->expires_at =
	    r->expires_in < 0 ? now + r->expires_in : now + (r->expires_in ? r->expires_in : 86400);
	if (m->expires_at <= m->issued_at)
		m->issued_at = m->expires_at - 10;
	struct flt_json_err jerr = {0};
	if (flt_manifest_validate(m, &jerr)) {
		fprintf(stderr, "tt_pub: manifest invalid: %s\n", jerr.msg);
		goto out;
	}
	if (flt_manifest_encode(m, &payload, &plen))
		goto out;
	ret = sign_text(p, FLT_PAYLOAD_RELEASE, payload, plen, r->signer);
	if (sha_hex)
		memcpy(sha_hex, m->artifact_sha256, 65);
out:
	flt_manifest_free(m);
	free(model);
	free(served);
	flt_free(index);
	flt_free(golden);
	flt_free(payload);
	return ret;
}

int tt_pub_desired(struct tt_pub *p, const char *topic_device, const char *named_device,
                   uint64_t serial, const struct tt_entry *e, size_t n, enum tt_signer signer)
{
	return tt_pub_desired_kinds(p, topic_device, named_device, serial, e, NULL, n, signer);
}

int tt_pub_desired_kinds(struct tt_pub *p, const char *topic_device, const char *named_device,
                         uint64_t serial, const struct tt_entry *e, const int *kinds, size_t n,
                         enum tt_signer signer)
{
	struct flt_desired d;
	struct flt_desired_entry ents[FLT_MAX_DESIRED_ENTRIES];
	char *text = NULL, *env = NULL;
	size_t len = 0;
	int rc = -1;
	memset(&d, 0, sizeof(d));
	memset(ents, 0, sizeof(ents));
	snprintf(d.device_id, sizeof(d.device_id), "%s", named_device);
	d.serial = serial;
	d.issued_at = now_s();
	for (size_t i = 0; i < n; i++) {
		ents[i].kind = kinds ? (enum flt_kind)kinds[i] : FLT_KIND_MODEL;
		snprintf(ents[i].name, sizeof(ents[i].name), "%s", e[i].name);
		snprintf(ents[i].deployment_id, sizeof(ents[i].deployment_id), "%s",
		         e[i].deployment_id);
		ents[i].envelope = (char *)e[i].envelope;
		ents[i].envelope_len = strlen(e[i].envelope);
		ents[i].probation.probation_s = e[i].probation_s;
		ents[i].probation.max_error_rate = 0.5;
		ents[i].probation.max_crashes = e[i].max_crashes;
	}
	d.entries = ents;
	d.n_entries = n;
	struct flt_json_err jerr = {0};
	if (flt_desired_validate(&d, &jerr)) {
		fprintf(stderr, "tt_pub: desired invalid: %s\n", jerr.msg);
		return -1;
	}
	if (flt_desired_encode(&d, &text, &len))
		return -1;
	env = sign_text(p, FLT_PAYLOAD_DESIRED, text, len, signer);
	if (env) {
		char topic[256];
		snprintf(topic, sizeof(topic), "flotilla/v1/dev/%s/down/desired", topic_device);
		pthread_mutex_lock(&p->mu);
		ttp_retain(p, topic, env, strlen(env));
		pthread_mutex_unlock(&p->mu);
		rc = 0;
	}
	free(env);
	flt_free(text);
	return rc;
}

static void send_chunk(struct tt_pub *p, const char *device, struct tt_art *a, uint32_t i)
{
	uint32_t off = i * a->chunk_size;
	uint32_t n = (uint32_t)((a->len - off) < a->chunk_size ? a->len - off : a->chunk_size);
	size_t cap = FLT_CHUNK_HEADER_LEN + n, len = 0;
	uint8_t *buf = malloc(cap);
	struct flt_chunk c;
	memcpy(c.artifact_sha256, a->shab, 32);
	c.index = i;
	c.count = a->count;
	c.len = n;
	c.data = a->data + off;
	if (!buf || flt_chunk_encode(&c, buf, cap, &len)) {
		free(buf);
		return;
	}
	if (a->corrupt == (long)i)
		buf[len - 1] ^= 0x01;
	char topic[256];
	if (p->use_art)
		snprintf(topic, sizeof(topic), "flotilla/v1/art/%s/chunk", a->sha);
	else
		snprintf(topic, sizeof(topic), "flotilla/v1/dev/%s/down/chunk/%s", device, a->sha);
	ttp_enqueue(p, topic, buf, len, false);
	if (p->dup)
		ttp_enqueue(p, topic, buf, len, false);
	a->sent++;
	free(buf);
}

void ttp_on_fetch(struct tt_pub *p, const char *device, const uint8_t *buf, size_t len)
{
	struct flt_fetch f;
	if (flt_fetch_parse((const char *)buf, len, &f, NULL))
		return;
	struct tt_art *a = ttp_art(p, f.artifact);
	if (!a)
		return;
	for (size_t r = 0; r < f.n_ranges; r++)
		for (uint32_t i = f.ranges[r].first;
		     i < f.ranges[r].first + f.ranges[r].count && i < a->count; i++) {
			if (p->limit == 0)
				return;
			if (p->limit > 0)
				p->limit--;
			send_chunk(p, device, a, i);
		}
}

void ttp_on_events(struct tt_pub *p, const char *device, const uint8_t *buf, size_t len)
{
	struct flt_event_batch *b = NULL;
	if (flt_events_parse((const char *)buf, len, &b, NULL))
		return;
	for (size_t i = 0; i < b->n; i++) {
		bool seen = false;
		for (size_t k = 0; k < p->nev && !seen; k++)
			seen = !strcmp(p->evs[k].device, device) && p->evs[k].epoch == b->epoch &&
			       p->evs[k].seq == b->events[i].seq;
		if (seen)
			continue;
		if (p->nev == p->cap) {
			size_t nc = p->cap ? p->cap * 2 : 64;
			struct tt_ev *ne = realloc(p->evs, nc * sizeof(*ne));
			if (!ne)
				break;
			p->evs = ne;
			p->cap = nc;
		}
		struct tt_ev *ev = &p->evs[p->nev++];
		snprintf(ev->device, sizeof(ev->device), "%s", device);
		snprintf(ev->name, sizeof(ev->name), "%s", b->events[i].name);
		snprintf(ev->step, sizeof(ev->step), "%s", flt_step_name(b->events[i].step));
		snprintf(ev->reason, sizeof(ev->reason), "%s",
		         flt_reason_name(b->events[i].reason));
		ev->epoch = b->epoch;
		ev->seq = b->events[i].seq;
	}
	/* acknowledge everything up to the last sequence (the receiver's job in serve) */
	struct flt_ack ack = {.n = 1};
	ack.acks[0].stream = FLT_STREAM_EVENTS;
	ack.acks[0].epoch = b->epoch;
	ack.acks[0].seq = b->events[b->n - 1].seq;
	char *text = NULL;
	size_t tl = 0;
	if (!flt_ack_encode(&ack, &text, &tl)) {
		char topic[256];
		snprintf(topic, sizeof(topic), "flotilla/v1/dev/%s/down/ack", device);
		ttp_enqueue(p, topic, text, tl, true);
	}
	flt_free(text);
	flt_events_free(b);
}

void tt_pub_corrupt_chunk(struct tt_pub *p, const char *sha_hex, uint32_t index)
{
	pthread_mutex_lock(&p->mu);
	struct tt_art *a = ttp_art(p, sha_hex);
	if (a)
		a->corrupt = (long)index;
	pthread_mutex_unlock(&p->mu);
}

void tt_pub_duplicate_chunks(struct tt_pub *p, bool on)
{
	pthread_mutex_lock(&p->mu);
	p->dup = on;
	pthread_mutex_unlock(&p->mu);
}

void tt_pub_use_art_topic(struct tt_pub *p, bool on)
{
	pthread_mutex_lock(&p->mu);
	p->use_art = on;
	pthread_mutex_unlock(&p->mu);
}

void tt_pub_serve_limit(struct tt_pub *p, long n)
{
	pthread_mutex_lock(&p->mu);
	p->limit = n;
	pthread_mutex_unlock(&p->mu);
}

uint64_t tt_pub_chunks_sent(struct tt_pub *p, const char *sha_hex)
{
	pthread_mutex_lock(&p->mu);
	struct tt_art *a = ttp_art(p, sha_hex);
	uint64_t n = a ? a->sent : 0;
	pthread_mutex_unlock(&p->mu);
	return n;
}

int tt_pub_export(struct tt_pub *p, const char *sha_hex, const char *path)
{
	int rc = -1;
	pthread_mutex_lock(&p->mu);
	struct tt_art *a = ttp_art(p, sha_hex);
	if (a)
		rc = tt_write_file(path, a->data, a->len);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

uint32_t tt_pub_chunk_count(struct tt_pub *p, const char *sha_hex)
{
	pthread_mutex_lock(&p->mu);
	struct tt_art *a = ttp_art(p, sha_hex);
	uint32_t n = a ? a->count : 0;
	pthread_mutex_unlock(&p->mu);
	return n;
}

size_t tt_pub_events(struct tt_pub *p, const char *device, const char *name, const char *step,
                     const char *reason)
{
	size_t n = 0;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nev; i++) {
		const struct tt_ev *e = &p->evs[i];
		if ((!device || !strcmp(e->device, device)) && (!name || !strcmp(e->name, name)) &&
		    (!step || !strcmp(e->step, step)) && (!reason || !strcmp(e->reason, reason)))
			n++;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

struct wait_ev {
	struct tt_pub *p;
	const char *device, *name, *step, *reason;
	size_t n;
};

static bool ev_cond(void *arg)
{
	struct wait_ev *w = arg;
	return tt_pub_events(w->p, w->device, w->name, w->step, w->reason) >= w->n;
}

bool tt_pub_wait_events(struct tt_pub *p, const char *device, const char *name, const char *step,
                        const char *reason, size_t n, int timeout_ms)
{
	struct wait_ev w = {p, device, name, step, reason, n};
	bool ok = tt_wait_until(ev_cond, &w, timeout_ms);
	if (!ok) {
		fprintf(stderr, "tt_pub: waited for %zu event(s) %s/%s/%s/%s\n", n,
		        device ? device : "*", name ? name : "*", step ? step : "*",
		        reason ? reason : "*");
		tt_pub_dump_events(p);
	}
	return ok;
}

char *tt_pub_state(struct tt_pub *p, const char *device)
{
	char *s = NULL;
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nstates; i++)
		if (!strcmp(p->states[i].topic, device) && p->states[i].data)
			s = strdup((const char *)p->states[i].data);
	pthread_mutex_unlock(&p->mu);
	return s;
}

void tt_pub_dump_events(struct tt_pub *p)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->nev; i++)
		fprintf(stderr, "  event %s %llu/%llu %s %s %s\n", p->evs[i].device,
		        (unsigned long long)p->evs[i].epoch, (unsigned long long)p->evs[i].seq,
		        p->evs[i].name, p->evs[i].step, p->evs[i].reason);
	pthread_mutex_unlock(&p->mu);
}
