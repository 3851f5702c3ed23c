/* Install time of a 1 MiB and a 10 MiB model over loopback: a real Mosquitto,
 * tests/tools' publisher as the controller, and an agent in this process;
 * plus verification's share of it (envelope and key checks, every chunk's
 * hash, the whole-file hash, redone here on the same bytes). Hashing MB/s
 * beside `openssl speed sha256` is bench_sha256's figure. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"
#include "flt/agentd.h"
#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/crypto.h"
#include "flt/dsse.h"
#include "flt/keylist.h"
#include "flt/log.h"
#include "flt/manifest.h"
#include "tt_mosq.h"
#include "tt_proc.h"
#include "tt_pub.h"

/* ---- a valid ONNX model of about N bytes: Y = X + W with W a float initializer ---- */

struct pb {
	uint8_t *b;
	size_t n, cap;
};

static void pb_byte(struct pb *p, uint8_t v)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 256;
		p->b = realloc(p->b, p->cap);
	}
	p->b[p->n++] = v;
}

static void pb_varint(struct pb *p, uint64_t v)
{
	while (v >= 0x80) {
		pb_byte(p, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	pb_byte(p, (uint8_t)v);
}

static void pb_bytes(struct pb *p, unsigned field, const void *d, size_t n)
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, n);
	for (size_t i = 0; i < n; i++)
		pb_byte(p, ((const uint8_t *)d)[i]);
}

static void pb_str(struct pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void pb_uint(struct pb *p, unsigned field, uint64_t v)
{
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

static void pb_msg(struct pb *p, unsigned field, struct pb *m)
{
	pb_bytes(p, field, m->b, m->n);
	free(m->b);
	memset(m, 0, sizeof(*m));
}

static void value_info(struct pb *g, unsigned field, const char *name, uint64_t k)
{
	struct pb vi = {0}, type = {0}, tt = {0}, shape = {0}, d1 = {0}, d2 = {0};
	pb_uint(&d1, 1, 1);
	pb_uint(&d2, 1, k);
	pb_msg(&shape, 1, &d1);
	pb_msg(&shape, 1, &d2);
	pb_uint(&tt, 1, 1);
	pb_msg(&tt, 2, &shape);
	pb_msg(&type, 1, &tt);
	pb_str(&vi, 1, name);
	pb_msg(&vi, 2, &type);
	pb_msg(g, field, &vi);
}

static uint8_t *make_model(size_t bytes, size_t *len)
{
	uint64_t k = bytes / 4;
	float *w = calloc(k, sizeof(float));
	for (uint64_t i = 0; i < k; i++)
		w[i] = (float)(i % 97) * 0.01f;
	struct pb model = {0}, graph = {0}, node = {0}, init = {0}, opset = {0};
	pb_str(&node, 1, "X");
	pb_str(&node, 1, "W");
	pb_str(&node, 2, "Y");
	pb_str(&node, 4, "Add");
	pb_msg(&graph, 1, &node);
	pb_str(&graph, 2, "g");
	pb_uint(&init, 1, 1);
	pb_uint(&init, 1, k);
	pb_uint(&init, 2, 1);
	pb_str(&init, 8, "W");
	pb_bytes(&init, 9, w, k * 4);
	pb_msg(&graph, 5, &init);
	value_info(&graph, 11, "X", k);
	value_info(&graph, 12, "Y", k);
	pb_uint(&model, 1, 7);
	pb_str(&opset, 1, "");
	pb_uint(&opset, 2, 13);
	pb_msg(&model, 8, &opset);
	pb_msg(&model, 7, &graph);
	free(w);
	*len = model.n;
	return model.b;
}

/* ---- the agent on a thread ---- */

struct agent_thr {
	struct flt_agentd *a;
	pthread_t th;
	volatile int stop;
};

static void *agent_main(void *arg)
{
	struct agent_thr *t = arg;
	while (!t->stop)
		if (flt_agentd_step(t->a, 20) != FLT_OK)
			break;
	return NULL;
}

/* Time of the checks the agent makes on one release, redone here. */
static double verify_cost(const char *keys, const char *envelope, const uint8_t *art, size_t len,
                          uint32_t cs, struct tt_pub *pub, const char *roots_path)
{
	(void)pub;
	size_t pem_len = 0;
	char *pem = tt_read_file(roots_path, &pem_len);
	flt_key *root = NULL;
	if (!pem || flt_key_import_public((const uint8_t *)pem, pem_len, &root))
		return -1;
	free(pem);
	struct flt_trust_set ts = {.threshold = 1};
	flt_keylist *kl = NULL;
	flt_dsse *env = NULL;
	struct flt_manifest *m = NULL;
	uint8_t *idx = NULL, ih[32], sha[32];
	size_t idx_len = 0;
	enum flt_reason r;
	/* the index is the controller's work: built outside the timing */
	if (flt_chunk_index_build(art, len, cs, &idx, &idx_len, ih))
		return -1;
	double t0 = bench_now();
	if (flt_trust_set_add(&ts, root) ||
	    flt_keylist_accept(keys, strlen(keys), &ts, NULL, (int64_t)time(NULL), &kl, NULL,
	                       NULL) ||
	    flt_dsse_parse(envelope, strlen(envelope), 0, &env, NULL) ||
	    flt_keylist_verify_envelope(kl, env, "application/vnd.flotilla.release+json",
	                                FLT_ROLE_RELEASE, (int64_t)time(NULL), &r) ||
	    flt_manifest_parse((const char *)env->payload, env->payload_len, &m, NULL))
		return -1;
	double t1 = bench_now();
	/* the agent checks every chunk on arrival, then the whole file */
	for (size_t off = 0; off < len; off += cs) {
		size_t n = len - off < cs ? len - off : cs;
		if (flt_sha256(art + off, n, sha))
			return -1;
	}
	if (flt_sha256(art, len, sha))
		return -1;
	double t2 = bench_now();
	(void)t1;
	flt_free(idx);
	flt_manifest_free(m);
	flt_dsse_free(env);
	flt_keylist_free(kl);
	flt_key_free(root);
	return t2 - t0;
}

struct state_wait {
	struct tt_pub *pub;
	const char *dev;
};

static bool has_state(void *arg)
{
	struct state_wait *w = arg;
	char *st = tt_pub_state(w->pub, w->dev);
	free(st);
	return st != NULL;
}

static int run_size(const char *label, size_t bytes, int idx)
{
	struct tt_mosq_opts mo;
	struct tt_mosq *mosq = NULL;
	struct tt_pub *pub = NULL;
	struct agent_thr t = {0};
	char *dir = tt_tempdir("bench-install"), roots[512], dev[32], s[6][700], err[256];
	int rc = -1;
	size_t len = 0;
	uint8_t *model = make_model(bytes, &len);
	tt_mosq_opts_init(&mo);
	if (!dir || tt_mosq_start(&mo, &mosq) || tt_pub_new(tt_mosq_uri(mosq), &pub))
		goto out;
	snprintf(roots, sizeof(roots), "%s/roots.pem", dir);
	snprintf(dev, sizeof(dev), "bench-%d", idx);
	if (tt_pub_write_roots(pub, roots))
		goto out;
	struct tt_keylist_opts ko = {.serial = 1};
	char *keys = tt_pub_keylist(pub, dev, &ko);
	uint32_t cs = 64 * 1024;
	struct tt_release r = {.name = "bench", .version = 1, .bytes = NULL, .chunk_size = cs};
	/* tt_pub_release analyses model_path files: write the model beside the roots */
	char mpath[600];
	snprintf(mpath, sizeof(mpath), "%s/model.onnx", dir);
	if (tt_write_file(mpath, model, len))
		goto out;
	r.model_path = mpath;
	char *env = tt_pub_release(pub, &r, NULL);
	if (!keys || !env)
		goto out;
	snprintf(s[0], sizeof(s[0]), "device.id=%s", dev);
	snprintf(s[1], sizeof(s[1]), "mqtt.broker=%s", tt_mosq_uri(mosq));
	snprintf(s[2], sizeof(s[2]), "storage.data_dir=%s/data", dir);
	snprintf(s[3], sizeof(s[3]), "trust.root_keys=%s", roots);
	snprintf(s[4], sizeof(s[4]), "serving.socket=%s/agent.sock", dir);
	snprintf(s[5], sizeof(s[5]), "storage.disk_reserve=0");
	/* the entry asks for no probation: commit right after the switch */
	const char *sets[8] = {s[0],
	                       s[1],
	                       s[2],
	                       s[3],
	                       s[4],
	                       s[5],
	                       "install.chunks_in_flight=32",
	                       "probation.default=0"};
	struct flt_agentd_conf c;
	if (flt_agentd_conf_load(NULL, sets, 8, &c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	flt_err e = flt_agentd_new(&c, &t.a);
	flt_agentd_conf_free(&c);
	if (e || flt_agentd_start(t.a) || pthread_create(&t.th, NULL, agent_main, &t))
		goto out;
	/* connected (its up/state arrived) before the clock starts */
	struct state_wait sw = {pub, dev};
	if (!tt_wait_until(has_state, &sw, 20000))
		goto out;
	struct tt_entry ent = {"bench", "b1", env, 0, 0};
	double t0 = bench_now();
	if (tt_pub_desired(pub, dev, dev, 1, &ent, 1, TT_SIGN_DIRECTOR))
		goto out;
	if (!tt_pub_wait_events(pub, dev, "bench", "committed", NULL, 1, 60000))
		goto out;
	double secs = bench_now() - t0;
	t.stop = 1;
	pthread_join(t.th, NULL);
	double vcost = verify_cost(keys, env, model, len, cs, pub, roots);
	char fig[96], notes[160];
	snprintf(fig, sizeof(fig), "install time, %s model over loopback MQTT", label);
	snprintf(
	    notes, sizeof(notes),
	    "%zu bytes in %u-byte chunks, 32 in flight: desired state published -> committed event",
	    len, cs);
	struct bench_fig f = {fig, secs * 1000.0, "ms", NULL, 0, NULL, NULL, 0, notes};
	bench_emit("bench_install", &f);
	snprintf(fig, sizeof(fig), "verification share of install time, %s model", label);
	struct bench_fig g = {
	    fig,
	    vcost / secs * 100.0,
	    "%",
	    NULL,
	    0,
	    "value",
	    "<=",
	    10.0,
	    "signatures, key list, manifest, chunk index, every chunk hash, whole-file hash"};
	bench_emit("bench_install", &g);
	free(keys);
	free(env);
	rc = 0;
out:
	if (t.a && !t.stop) {
		t.stop = 1;
		pthread_join(t.th, NULL);
	}
	flt_agentd_free(t.a);
	tt_pub_free(pub);
	tt_mosq_free(mosq);
	free(model);
	free(dir);
	return rc;
}

int main(void)
{
	flt_log_set_level(FLT_LOG_WARN);
	int rc = run_size("1 MiB", 1024 * 1024, 1);
	rc |= run_size("10 MiB", 10 * 1024 * 1024, 2);
	return rc ? 1 : 0;
}
