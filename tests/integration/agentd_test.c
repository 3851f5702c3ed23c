/* Integration tests of flotilla-agent's daemon and install pipeline against a
 * real Mosquitto on loopback, with tests/tools/tt_pub standing in for the
 * controller: installs (two agents in one process), redelivery, one test per
 * refusal reason, crash and power-cut recovery at named failpoints (real agent
 * processes), a broker killed mid-transfer, and an agent started offline. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "flt/agentd.h"
#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/pki.h"
#include "tt_mosq.h"
#include "tt_proc.h"
#include "tt_pub.h"

#define WAIT_MS   30000
#define MODEL_V1  TT_SRC_DIR "/examples/models/digits/v1.onnx"
#define MODEL_V2  TT_SRC_DIR "/examples/models/digits/v2.onnx"
#define GOLDEN_V1 TT_SRC_DIR "/examples/models/digits/golden-v1"
#define GOLDEN_V2 TT_SRC_DIR "/examples/models/digits/golden"

struct env {
	struct tt_mosq *mosq;
	struct tt_pub *pub;
	char *dir;
	char roots[512];
};

static void env_up(struct env *e, bool persistence)
{
	struct tt_mosq_opts o;
	memset(e, 0, sizeof(*e));
	tt_mosq_opts_init(&o);
	o.persistence = persistence;
	assert_int_equal(tt_mosq_start(&o, &e->mosq), 0);
	assert_int_equal(tt_pub_new(tt_mosq_uri(e->mosq), &e->pub), 0);
	e->dir = tt_tempdir("agentd");
	assert_non_null(e->dir);
	snprintf(e->roots, sizeof(e->roots), "%s/roots.pem", e->dir);
	assert_int_equal(tt_pub_write_roots(e->pub, e->roots), 0);
}

static void env_down(struct env *e)
{
	tt_pub_free(e->pub);
	tt_mosq_free(e->mosq);
	free(e->dir);
}

static void conf_for(struct env *e, const char *device, const char *extra,
                     struct flt_agentd_conf *c)
{
	char s[10][700];
	const char *sets[11];
	size_t n = 0;
	snprintf(s[0], sizeof(s[0]), "device.id=%s", device);
	snprintf(s[1], sizeof(s[1]), "mqtt.broker=%s", tt_mosq_uri(e->mosq));
	snprintf(s[2], sizeof(s[2]), "storage.data_dir=%s/%s", e->dir, device);
	snprintf(s[3], sizeof(s[3]), "trust.root_keys=%s", e->roots);
	snprintf(s[4], sizeof(s[4]), "storage.disk_reserve=0");
	snprintf(s[5], sizeof(s[5]), "mqtt.backoff_min_ms=50");
	snprintf(s[6], sizeof(s[6]), "mqtt.backoff_max_ms=300");
	snprintf(s[7], sizeof(s[7]), "install.refetch_ms=400");
	snprintf(s[8], sizeof(s[8]), "serving.socket=%s/%s.sock", e->dir, device);
	/* the publisher's entries ask for no probation: commit at once */
	snprintf(s[9], sizeof(s[9]), "probation.default=0");
	for (int i = 0; i < 10; i++)
		sets[n++] = s[i];
	if (extra)
		sets[n++] = extra;
	char err[256] = "";
	flt_err rc = flt_agentd_conf_load(NULL, sets, n, c, err, sizeof(err));
	if (rc)
		fprintf(stderr, "conf: %s\n", err);
	assert_int_equal(rc, FLT_OK);
}

/* ---- in-process agents, each on its own thread ---- */

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

static void agent_up(struct env *e, const char *device, const char *extra, struct agent_thr *t)
{
	struct flt_agentd_conf c;
	conf_for(e, device, extra, &c);
	memset(t, 0, sizeof(*t));
	assert_int_equal(flt_agentd_new(&c, &t->a), FLT_OK);
	flt_agentd_conf_free(&c);
	assert_int_equal(flt_agentd_start(t->a), FLT_OK);
	assert_int_equal(pthread_create(&t->th, NULL, agent_main, t), 0);
}

static void agent_down(struct agent_thr *t)
{
	t->stop = 1;
	pthread_join(t->th, NULL);
}

static void agent_free(struct agent_thr *t)
{
	flt_agentd_free(t->a);
	t->a = NULL;
}

/* ---- agent processes ---- */

static struct tt_proc *agent_spawn(struct env *e, const char *device, const char *failpoints)
{
	char conf[1024], body[2048], fpenv[512];
	snprintf(conf, sizeof(conf), "%s/%s.conf", e->dir, device);
	int n = snprintf(
	    body, sizeof(body),
	    "[device]\nid = %s\n[mqtt]\nbroker = %s\nbackoff_min_ms = 50\nbackoff_max_ms = 300\n"
	    "[storage]\ndata_dir = %s/%s\ndisk_reserve = 0\n[trust]\nroot_keys = %s\n"
	    "[install]\nrefetch_ms = 400\n[serving]\nsocket = %s/%s.sock\n[log]\nlevel = info\n"
	    "[probation]\ndefault = 0\n",
	    device, tt_mosq_uri(e->mosq), e->dir, device, e->roots, e->dir, device);
	assert_int_equal(tt_write_file(conf, body, (size_t)n), 0);
	const char *argv[] = {TT_AGENT, "run", "-c", conf, NULL};
	const char *envv[] = {NULL, NULL};
	if (failpoints) {
		snprintf(fpenv, sizeof(fpenv), "FLT_FAILPOINTS=%s", failpoints);
		envv[0] = fpenv;
	}
	struct tt_proc *p = NULL;
	assert_int_equal(tt_proc_spawn(TT_AGENT, argv, envv, NULL, &p), 0);
	return p;
}

static void keys_for(struct env *e, const char *device)
{
	struct tt_keylist_opts ko = {.serial = 1};
	free(tt_pub_keylist(e->pub, device, &ko));
}

static char *release(struct env *e, const char *name, uint64_t v, char *sha)
{
	struct tt_release r = {.name = name,
	                       .version = v,
	                       .model_path = v == 1 ? MODEL_V1 : MODEL_V2,
	                       .golden_dir = v == 1 ? GOLDEN_V1 : GOLDEN_V2,
	                       .chunk_size = 1024};
	char *env = tt_pub_release(e->pub, &r, sha);
	assert_non_null(env);
	return env;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- tests ---- */

/* Two agents in one process install side by side models; up/state reports them. */
static void test_install_two_agents(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	struct agent_thr a1, a2;
	keys_for(&e, "dev-a");
	keys_for(&e, "dev-b");
	char *v1 = release(&e, "digits", 1, NULL);
	char *v2 = release(&e, "classifier", 2, NULL);
	struct tt_entry ents[2] = {{"digits", "r1", v1, 0, 0}, {"classifier", "r2", v2, 0, 0}};
	assert_int_equal(tt_pub_desired(e.pub, "dev-a", "dev-a", 1, ents, 2, TT_SIGN_DIRECTOR), 0);
	assert_int_equal(tt_pub_desired(e.pub, "dev-b", "dev-b", 1, ents, 1, TT_SIGN_DIRECTOR), 0);
	agent_up(&e, "dev-a", NULL, &a1);
	agent_up(&e, "dev-b", NULL, &a2);
	assert_true(tt_pub_wait_events(e.pub, "dev-a", "digits", "committed", NULL, 1, WAIT_MS));
	assert_true(
	    tt_pub_wait_events(e.pub, "dev-a", "classifier", "committed", NULL, 1, WAIT_MS));
	assert_true(tt_pub_wait_events(e.pub, "dev-b", "digits", "committed", NULL, 1, WAIT_MS));
	/* classifier removed from dev-a's desired state: unloaded and deleted */
	assert_int_equal(tt_pub_desired(e.pub, "dev-a", "dev-a", 2, ents, 1, TT_SIGN_DIRECTOR), 0);
	char path[1024];
	snprintf(path, sizeof(path), "%s/dev-a/models/classifier", e.dir);
	for (int i = 0; i < 3000 && file_exists(path); i++)
		usleep(10000); /* polling a condition with a deadline */
	assert_false(file_exists(path));
	agent_down(&a1);
	agent_down(&a2);
	struct flt_agentd_model_info mi;
	assert_int_equal(flt_agentd_model(a1.a, "digits", &mi), FLT_OK);
	assert_int_equal(mi.committed, 1);
	assert_int_equal(mi.active, 1);
	assert_int_equal(flt_agentd_model(a1.a, "classifier", &mi), FLT_ENOTFOUND);
	assert_int_equal(flt_agentd_model(a2.a, "digits", &mi), FLT_OK);
	assert_int_equal(mi.committed, 1);
	snprintf(path, sizeof(path), "%s/dev-a/models/digits/1/model.onnx", e.dir);
	assert_true(file_exists(path));
	char *st = tt_pub_state(e.pub, "dev-a");
	assert_non_null(st);
	assert_non_null(strstr(st, "\"name\":\"digits\""));
	free(st);
	agent_free(&a1);
	agent_free(&a2);
	free(v1);
	free(v2);
	env_down(&e);
}

/* The same desired state and every chunk delivered twice: one install, one event per step. */
static void test_redelivery(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	struct agent_thr a;
	keys_for(&e, "dev-r");
	tt_pub_duplicate_chunks(e.pub, true);
	char sha[65];
	char *v2 = release(&e, "digits", 2, sha);
	struct tt_entry ent = {"digits", "r1", v2, 0, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-r", "dev-r", 1, &ent, 1, TT_SIGN_DIRECTOR), 0);
	agent_up(&e, "dev-r", NULL, &a);
	assert_true(tt_pub_wait_events(e.pub, "dev-r", "digits", "committed", NULL, 1, WAIT_MS));
	/* force a reconnect: the retained desired state arrives again */
	assert_int_equal(tt_mosq_kill(e.mosq), 0);
	assert_int_equal(tt_mosq_restart(e.mosq), 0);
	char sha1[65];
	char *v1 = release(&e, "other", 1, sha1);
	struct tt_entry ents[2] = {{"digits", "r1", v2, 0, 0}, {"other", "r2", v1, 0, 0}};
	assert_int_equal(tt_pub_desired(e.pub, "dev-r", "dev-r", 2, ents, 2, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(e.pub, "dev-r", "other", "committed", NULL, 1, WAIT_MS));
	assert_int_equal(tt_pub_events(e.pub, "dev-r", "digits", "committed", NULL), 1);
	assert_int_equal(tt_pub_events(e.pub, "dev-r", "digits", "verifying", NULL), 1);
	assert_int_equal(tt_pub_events(e.pub, "dev-r", "digits", "failed", NULL), 0);
	agent_down(&a);
	struct flt_agentd_counters c;
	flt_agentd_counters(a.a, &c);
	assert_int_equal(c.committed, 2);
	/* each chunk written once although delivered twice */
	assert_int_equal(c.chunks_written,
	                 tt_pub_chunk_count(e.pub, sha) + tt_pub_chunk_count(e.pub, sha1));
	agent_free(&a);
	free(v1);
	free(v2);
	env_down(&e);
}

struct refusal_ctx {
	struct env e;
	struct agent_thr a;
	uint64_t serial;
	int n;
};

/* Publishes a desired state with one entry NAME -> ENVELOPE and waits for its
 * failed event with REASON (the entry name carries a counter so every case
 * is a new deployment). */
static void expect_refusal(struct refusal_ctx *r, const char *envelope, const char *name,
                           const char *reason)
{
	size_t committed = tt_pub_events(r->e.pub, "dev-x", name, "committed", NULL);
	size_t probation = tt_pub_events(r->e.pub, "dev-x", name, "probation", NULL);
	char dep[32];
	snprintf(dep, sizeof(dep), "d%d", ++r->n);
	struct tt_entry ent = {name, dep, envelope, 0, 0};
	assert_int_equal(
	    tt_pub_desired(r->e.pub, "dev-x", "dev-x", ++r->serial, &ent, 1, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(r->e.pub, "dev-x", name, "failed", reason, 1, WAIT_MS));
	assert_int_equal(tt_pub_events(r->e.pub, "dev-x", name, "committed", NULL), committed);
	assert_int_equal(tt_pub_events(r->e.pub, "dev-x", name, "probation", NULL), probation);
}

static char *bad_release(struct refusal_ctx *r, const char *name, uint64_t v,
                         struct tt_release *tmpl, char *sha)
{
	tmpl->name = name;
	tmpl->version = v;
	tmpl->model_path = v == 1 ? MODEL_V1 : MODEL_V2;
	tmpl->golden_dir = v == 1 ? GOLDEN_V1 : GOLDEN_V2;
	tmpl->chunk_size = 1024;
	char *env = tt_pub_release(r->e.pub, tmpl, sha);
	assert_non_null(env);
	return env;
}

/* One refusal per reason code; nothing refused is ever activated. */
static void test_refusals(void **state)
{
	(void)state;
	struct refusal_ctx r;
	memset(&r, 0, sizeof(r));
	env_up(&r.e, false);
	keys_for(&r.e, "dev-x");
	agent_up(&r.e, "dev-x", "install.stall_timeout=20s", &r.a);
	char *env;
	struct tt_release t;

	memset(&t, 0, sizeof(t));
	t.signer = TT_SIGN_BAD_SIG;
	env = bad_release(&r, "m-badsig", 1, &t, NULL);
	expect_refusal(&r, env, "m-badsig", "BAD_SIGNATURE");
	free(env);

	memset(&t, 0, sizeof(t));
	t.signer = TT_SIGN_UNTRUSTED;
	env = bad_release(&r, "m-untrusted", 1, &t, NULL);
	expect_refusal(&r, env, "m-untrusted", "UNTRUSTED_KEY");
	free(env);

	memset(&t, 0, sizeof(t));
	t.expires_in = -60;
	env = bad_release(&r, "m-expired", 1, &t, NULL);
	expect_refusal(&r, env, "m-expired", "EXPIRED");
	free(env);

	memset(&t, 0, sizeof(t));
	t.extra_operator = "NoSuchOperator";
	env = bad_release(&r, "m-op", 1, &t, NULL);
	expect_refusal(&r, env, "m-op", "OPERATOR_UNSUPPORTED");
	free(env);

	memset(&t, 0, sizeof(t));
	t.opset_override = 99;
	env = bad_release(&r, "m-opset", 1, &t, NULL);
	expect_refusal(&r, env, "m-opset", "OPSET_UNSUPPORTED");
	free(env);

	char sha[65];
	memset(&t, 0, sizeof(t));
	env = bad_release(&r, "m-chunk", 2, &t, sha);
	tt_pub_corrupt_chunk(r.e.pub, sha, 7);
	expect_refusal(&r, env, "m-chunk", "CHUNK_HASH_MISMATCH");
	tt_pub_corrupt_chunk(r.e.pub, sha, UINT32_MAX);
	free(env);

	memset(&t, 0, sizeof(t));
	t.file_hash_lie = true;
	t.chunk_size = 1000;
	env = bad_release(&r, "m-filehash", 1, &t, NULL);
	expect_refusal(&r, env, "m-filehash", "FILE_HASH_MISMATCH");
	free(env);

	memset(&t, 0, sizeof(t));
	t.golden_off = true;
	env = bad_release(&r, "m-golden", 1, &t, NULL);
	expect_refusal(&r, env, "m-golden", "GOLDEN_MISMATCH");
	free(env);

	/* lower version: v2 committed, then v1 asked for */
	memset(&t, 0, sizeof(t));
	env = bad_release(&r, "m-lower", 2, &t, NULL);
	struct tt_entry ent = {"m-lower", "lw1", env, 0, 0};
	assert_int_equal(
	    tt_pub_desired(r.e.pub, "dev-x", "dev-x", ++r.serial, &ent, 1, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(r.e.pub, "dev-x", "m-lower", "committed", NULL, 1, WAIT_MS));
	free(env);
	memset(&t, 0, sizeof(t));
	env = bad_release(&r, "m-lower", 1, &t, NULL);
	expect_refusal(&r, env, "m-lower", "VERSION_LOWER");
	free(env);

	/* key list: release key revoked, then a threshold of two release keys */
	struct tt_keylist_opts ko = {.serial = 2, .revoke_release = true};
	free(tt_pub_keylist(r.e.pub, "dev-x", &ko));
	memset(&t, 0, sizeof(t));
	env = bad_release(&r, "m-revoked", 1, &t, NULL);
	expect_refusal(&r, env, "m-revoked", "KEY_REVOKED");
	free(env);
	ko = (struct tt_keylist_opts){.serial = 3, .release_threshold = 2};
	free(tt_pub_keylist(r.e.pub, "dev-x", &ko));
	memset(&t, 0, sizeof(t));
	env = bad_release(&r, "m-threshold", 1, &t, NULL);
	expect_refusal(&r, env, "m-threshold", "THRESHOLD_UNMET");
	free(env);

	/* desired states: for another device, then an old serial */
	assert_int_equal(
	    tt_pub_desired(r.e.pub, "dev-x", "dev-y", ++r.serial, NULL, 0, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(r.e.pub, "dev-x", "desired-state", "failed", "WRONG_DEVICE",
	                               1, WAIT_MS));
	assert_int_equal(tt_pub_desired(r.e.pub, "dev-x", "dev-x", 1, NULL, 0, TT_SIGN_DIRECTOR),
	                 0);
	assert_true(tt_pub_wait_events(r.e.pub, "dev-x", "desired-state", "failed", "OLD_SERIAL", 1,
	                               WAIT_MS));
	assert_int_equal(
	    tt_pub_desired(r.e.pub, "dev-x", "dev-x", ++r.serial, NULL, 0, TT_SIGN_UNTRUSTED), 0);
	assert_true(tt_pub_wait_events(r.e.pub, "dev-x", "desired-state", "failed", "UNTRUSTED_KEY",
	                               1, WAIT_MS));

	assert_int_equal(tt_pub_events(r.e.pub, "dev-x", "m-lower", "committed", NULL), 1);
	agent_down(&r.a);
	agent_free(&r.a);
	env_down(&r.e);
}

/* Too big for the disk: a reserve larger than any free space. */
static void test_refusal_disk(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	struct agent_thr a;
	keys_for(&e, "dev-d");
	agent_up(&e, "dev-d", "storage.disk_reserve=1000000T", &a);
	char *env = release(&e, "digits", 1, NULL);
	struct tt_entry ent = {"digits", "r1", env, 0, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-d", "dev-d", 1, &ent, 1, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(e.pub, "dev-d", "digits", "failed", "INSUFFICIENT_DISK", 1,
	                               WAIT_MS));
	agent_down(&a);
	agent_free(&a);
	free(env);
	env_down(&e);
}

/* ---- crash and power-cut recovery (agent processes) ---- */

struct crash_case {
	const char *failpoints;
	bool mid_download; /* some chunks are fetched again after the restart, never all */
};

static bool proc_gone(void *arg)
{
	return !tt_proc_running(arg);
}

static void run_crash_case(const struct crash_case *cc, int idx)
{
	struct env e;
	env_up(&e, false);
	char device[32], sha[65];
	snprintf(device, sizeof(device), "dev-c%d", idx);
	keys_for(&e, device);
	char *env = release(&e, "digits", 2, sha);
	/* a short probation so commit is a step of its own after the switch */
	struct tt_entry ent = {"digits", "r1", env, 1, 5};
	assert_int_equal(tt_pub_desired(e.pub, device, device, 1, &ent, 1, TT_SIGN_DIRECTOR), 0);
	struct tt_proc *p = agent_spawn(&e, device, cc->failpoints);
	assert_true(tt_wait_until(proc_gone, p, WAIT_MS));
	int status = 0;
	assert_int_equal(tt_proc_wait(p, 5000, &status), 0);
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
		fprintf(stderr, "case %s: agent did not die at the failpoint (status %d)\n",
		        cc->failpoints, status);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	tt_proc_free(p);
	uint64_t before = tt_pub_chunks_sent(e.pub, sha);
	uint32_t count = tt_pub_chunk_count(e.pub, sha);
	assert_int_equal(tt_pub_events(e.pub, device, "digits", "committed", NULL), 0);

	p = agent_spawn(&e, device, NULL);
	assert_true(tt_pub_wait_events(e.pub, device, "digits", "committed", NULL, 1, WAIT_MS));
	uint64_t after = tt_pub_chunks_sent(e.pub, sha) - before;
	if (cc->mid_download) {
		assert_true(after > 0);
		assert_true(after < count);
	} else {
		assert_int_equal(after, 0);
	}
	assert_int_equal(tt_pub_events(e.pub, device, "digits", "failed", NULL), 0);
	assert_int_equal(tt_pub_events(e.pub, device, "digits", "rolled_back", NULL), 0);
	assert_int_equal(tt_proc_kill(p, SIGTERM), 0);
	assert_int_equal(tt_proc_wait(p, 10000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(tt_file_contains(tt_proc_stderr_path(p), "Sanitizer"));
	tt_proc_free(p);

	/* the committed model is on disk, whole, where the state file says */
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/models/digits/2/model.onnx", e.dir, device);
	size_t len = 0;
	char *data = tt_read_file(path, &len);
	assert_non_null(data);
	char got[65];
	assert_int_equal(flt_sha256_hex(data, len, got), FLT_OK);
	assert_string_equal(got, sha);
	free(data);
	snprintf(path, sizeof(path), "%s/%s/state.json", e.dir, device);
	assert_true(tt_file_contains(path, "\"committed\":2"));
	free(env);
	env_down(&e);
}

static const struct crash_case crash_cases[] = {
    {"install.chunk.write=crash@20", true},     {"install.chunk.write=powercut@30", true},
    {"install.resume.rename=powercut@2", true}, {"install.hash.open=crash", false},
    {"install.hash=powercut@1", false},         {"install.stage=crash", false},
    {"install.switch.rename=crash", false},     {"install.switch.dirsync=powercut", false},
    {"install.switched=crash", false},          {"install.commit.rename=crash", false},
    {"install.commit.dirsync=powercut", false},
};

static void test_crash_recovery(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(crash_cases) / sizeof(crash_cases[0]); i++) {
		fprintf(stderr, "crash case %s\n", crash_cases[i].failpoints);
		run_crash_case(&crash_cases[i], (int)i);
	}
}

/* The broker dies mid-transfer and comes back; the download resumes. */
static void test_broker_killed_mid_transfer(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	struct agent_thr a;
	char sha[65];
	keys_for(&e, "dev-k");
	char *env = release(&e, "digits", 2, sha);
	tt_pub_serve_limit(e.pub, 20);
	struct tt_entry ent = {"digits", "r1", env, 0, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-k", "dev-k", 1, &ent, 1, TT_SIGN_DIRECTOR), 0);
	agent_up(&e, "dev-k", "install.stall_timeout=60s", &a);
	for (int i = 0; i < 3000 && tt_pub_chunks_sent(e.pub, sha) < 10; i++)
		usleep(10000);
	assert_true(tt_pub_chunks_sent(e.pub, sha) >= 10);
	assert_int_equal(tt_mosq_kill(e.mosq), 0);
	tt_pub_serve_limit(e.pub, -1);
	assert_int_equal(tt_mosq_restart(e.mosq), 0);
	assert_true(tt_pub_wait_events(e.pub, "dev-k", "digits", "committed", NULL, 1, WAIT_MS));
	agent_down(&a);
	struct flt_agentd_model_info mi;
	assert_int_equal(flt_agentd_model(a.a, "digits", &mi), FLT_OK);
	assert_int_equal(mi.committed, 2);
	agent_free(&a);
	free(env);
	env_down(&e);
}

/* The agent starts while the broker is down and catches up once it is back. */
static void test_agent_starts_offline(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, true);
	keys_for(&e, "dev-o");
	char *env = release(&e, "digits", 1, NULL);
	struct tt_entry ent = {"digits", "r1", env, 0, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-o", "dev-o", 1, &ent, 1, TT_SIGN_DIRECTOR), 0);
	assert_int_equal(tt_mosq_stop(e.mosq), 0);
	struct tt_proc *p = agent_spawn(&e, "dev-o", NULL);
	assert_true(tt_proc_wait_output(p, "agent running", WAIT_MS));
	assert_int_equal(tt_mosq_restart(e.mosq), 0);
	assert_true(tt_pub_wait_events(e.pub, "dev-o", "digits", "committed", NULL, 1, WAIT_MS));
	/* a restart with nothing new to do installs nothing again */
	assert_int_equal(tt_proc_kill(p, SIGTERM), 0);
	int status = 0;
	assert_int_equal(tt_proc_wait(p, 10000, &status), 0);
	tt_proc_free(p);
	p = agent_spawn(&e, "dev-o", NULL);
	assert_true(tt_proc_wait_output(p, "agent running", WAIT_MS));
	char *v2 = release(&e, "digits", 2, NULL);
	ent.envelope = v2;
	ent.deployment_id = "r2";
	assert_int_equal(tt_pub_desired(e.pub, "dev-o", "dev-o", 2, &ent, 1, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(e.pub, "dev-o", "digits", "committed", NULL, 2, WAIT_MS));
	assert_int_equal(tt_pub_events(e.pub, "dev-o", "digits", "verifying", NULL), 2);
	tt_proc_free(p);
	free(v2);
	free(env);
	env_down(&e);
}

/* A crash during probation counts against max_crashes: the version rolls back
 * to the committed one, is marked bad for its deployment and retried only
 * under a new deployment_id. */
static void test_probation_crash_rollback(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	keys_for(&e, "dev-p");
	char *v1 = release(&e, "digits", 1, NULL);
	struct tt_entry ent = {"digits", "r1", v1, 0, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-p", "dev-p", 1, &ent, 1, TT_SIGN_DIRECTOR), 0);
	struct tt_proc *p = agent_spawn(&e, "dev-p", "install.switched=crash@2");
	assert_true(tt_pub_wait_events(e.pub, "dev-p", "digits", "committed", NULL, 1, WAIT_MS));
	char *v2 = release(&e, "digits", 2, NULL);
	struct tt_entry ent2 = {"digits", "r2", v2, 600, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-p", "dev-p", 2, &ent2, 1, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_wait_until(proc_gone, p, WAIT_MS));
	tt_proc_free(p);
	p = agent_spawn(&e, "dev-p", NULL);
	assert_true(
	    tt_pub_wait_events(e.pub, "dev-p", "digits", "rolled_back", "CRASHES", 1, WAIT_MS));
	/* the same version under the same deployment, re-signed: refused as
	 * marked bad. Signing is deterministic (RFC 6979) and manifest times
	 * have 1 s resolution, so a re-sign within the same second would give
	 * the very same envelope, which the agent rightly treats as the
	 * deployment it already finished (silence). A different expiry makes the
	 * re-signed envelope differ whatever the timing. */
	struct tt_release r2b = {.name = "digits",
	                         .version = 2,
	                         .model_path = MODEL_V2,
	                         .golden_dir = GOLDEN_V2,
	                         .chunk_size = 1024,
	                         .expires_in = 2 * 86400};
	char *v2b = tt_pub_release(e.pub, &r2b, NULL);
	assert_non_null(v2b);
	assert_string_not_equal(v2b, v2);
	ent2.envelope = v2b;
	assert_int_equal(tt_pub_desired(e.pub, "dev-p", "dev-p", 3, &ent2, 1, TT_SIGN_DIRECTOR), 0);
	if (!tt_pub_wait_events(e.pub, "dev-p", "digits", "failed", "MARKED_BAD", 1, WAIT_MS)) {
		char *log = tt_read_file(tt_proc_stderr_path(p), NULL);
		fprintf(stderr, "agent log:\n%s\n", log ? log : "(none)");
		free(log);
		fail();
	}
	/* a new deployment may retry it */
	struct tt_entry ent3 = {"digits", "r3", v2b, 0, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-p", "dev-p", 4, &ent3, 1, TT_SIGN_DIRECTOR), 0);
	assert_true(tt_pub_wait_events(e.pub, "dev-p", "digits", "committed", NULL, 2, WAIT_MS));
	assert_int_equal(tt_pub_events(e.pub, "dev-p", "digits", "rolled_back", NULL), 1);
	int status = 0;
	assert_int_equal(tt_proc_kill(p, SIGTERM), 0);
	assert_int_equal(tt_proc_wait(p, 10000, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(tt_file_contains(tt_proc_stderr_path(p), "Sanitizer"));
	tt_proc_free(p);
	char path[1024];
	snprintf(path, sizeof(path), "%s/dev-p/state.json", e.dir);
	assert_true(tt_file_contains(path, "\"committed\":2"));
	assert_true(tt_file_contains(path, "\"previous\":1"));
	free(v1);
	free(v2);
	free(v2b);
	env_down(&e);
}

/* probation.default stands in for an entry's probation_s of 0, and
 * probation.max bounds what an entry asks for. */
static void test_probation_conf_bounds(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	struct agent_thr a1, a2;
	keys_for(&e, "dev-pd");
	keys_for(&e, "dev-pm");
	char *v1 = release(&e, "digits", 1, NULL);
	struct tt_entry none = {"digits", "r1", v1, 0, 0};
	struct tt_entry longp = {"digits", "r1", v1, 3600, 0};
	assert_int_equal(tt_pub_desired(e.pub, "dev-pd", "dev-pd", 1, &none, 1, TT_SIGN_DIRECTOR),
	                 0);
	assert_int_equal(tt_pub_desired(e.pub, "dev-pm", "dev-pm", 1, &longp, 1, TT_SIGN_DIRECTOR),
	                 0);
	agent_up(&e, "dev-pd", "probation.default=1h", &a1);
	agent_up(&e, "dev-pm", "probation.max=1s", &a2);
	/* bounded to 1 s: commits although the entry asked for an hour */
	assert_true(tt_pub_wait_events(e.pub, "dev-pm", "digits", "committed", NULL, 1, WAIT_MS));
	/* no probation in the entry: the default hour applies, so no commit */
	assert_true(tt_pub_wait_events(e.pub, "dev-pd", "digits", "probation", NULL, 1, WAIT_MS));
	agent_down(&a1);
	agent_down(&a2);
	assert_int_equal(tt_pub_events(e.pub, "dev-pd", "digits", "committed", NULL), 0);
	struct flt_agentd_model_info mi;
	assert_int_equal(flt_agentd_model(a1.a, "digits", &mi), FLT_OK);
	assert_int_equal(mi.active, 1);
	assert_int_equal(mi.committed, 0);
	agent_free(&a1);
	agent_free(&a2);
	free(v1);
	env_down(&e);
}

/* A queue file that is not a database is moved aside; the agent starts on a
 * fresh queue and reports the loss as a QUEUE_RESET event. */
static void test_queue_reset_reported(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	char path[1024];
	snprintf(path, sizeof(path), "%s/dev-qr", e.dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/dev-qr/queue.db", e.dir);
	static const char junk[] =
	    "this is not an SQLite database, just junk bytes that fill a page";
	assert_int_equal(tt_write_file(path, junk, sizeof(junk)), 0);
	struct agent_thr a;
	agent_up(&e, "dev-qr", NULL, &a);
	assert_true(tt_pub_wait_events(e.pub, "dev-qr", "telemetry-queue", "failed", "QUEUE_RESET",
	                               1, WAIT_MS));
	agent_down(&a);
	struct flt_agentd_counters c;
	flt_agentd_counters(a.a, &c);
	assert_int_equal(c.events, 1);
	agent_free(&a);
	env_down(&e);
}

static void write_pem(const char *dir, const char *name, const char *pem)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(tt_write_file(path, pem, strlen(pem)), 0);
}

static void set_str(char **field, const char *dir, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s%s%s", dir, name ? "/" : "", name ? name : "");
	flt_free(*field);
	*field = flt_strdup(path);
	assert_non_null(*field);
}

/* A TLS handshake that fails while the clock is before the certificate's
 * validity (a board without RTC in 1970) is reported as CLOCK_UNSYNCED, in
 * the persisted last error and as one event however many retries fail. */
static void test_clock_unsynced_reported(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	int64_t later = (int64_t)time(NULL) + 365 * 86400;
	char *key = NULL, *ca = NULL, *cert = NULL;
	size_t len = 0;
	assert_int_equal(flt_pki_key_new(&key, &len), FLT_OK);
	struct flt_cert_spec cs = {
	    .kind = FLT_CERT_CA, .cn = "clock-ca", .not_before = later, .not_after = later + 86400};
	assert_int_equal(flt_pki_serial_new(cs.serial), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(key, NULL, key, &cs, &ca, &len), FLT_OK);
	struct flt_cert_spec ds = {.kind = FLT_CERT_CLIENT,
	                           .cn = "dev-clk",
	                           .not_before = later,
	                           .not_after = later + 86400};
	assert_int_equal(flt_pki_serial_new(ds.serial), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(key, ca, key, &ds, &cert, &len), FLT_OK);
	write_pem(e.dir, "clk-ca.pem", ca);
	write_pem(e.dir, "clk-dev.pem", cert);
	write_pem(e.dir, "clk-dev.key", key);
	/* a TLS broker whose certificate, valid now, chains to another CA: the
	 * handshake fails on the device (FLT_EAUTH) */
	int64_t now = (int64_t)time(NULL);
	char *bca = NULL, *bcert = NULL;
	struct flt_cert_spec bs = {.kind = FLT_CERT_CA,
	                           .cn = "broker-ca",
	                           .not_before = now - 3600,
	                           .not_after = now + 86400};
	assert_int_equal(flt_pki_serial_new(bs.serial), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(key, NULL, key, &bs, &bca, &len), FLT_OK);
	static const char *const names[] = {"127.0.0.1"};
	struct flt_cert_spec ss = {.kind = FLT_CERT_SERVER,
	                           .cn = "broker",
	                           .names = names,
	                           .nnames = 1,
	                           .not_before = now - 3600,
	                           .not_after = now + 86400};
	assert_int_equal(flt_pki_serial_new(ss.serial), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(key, bca, key, &ss, &bcert, &len), FLT_OK);
	write_pem(e.dir, "broker-ca.pem", bca);
	write_pem(e.dir, "broker.pem", bcert);
	char bcaf[1024], bcf[1024], bkf[1024];
	snprintf(bcaf, sizeof(bcaf), "%s/broker-ca.pem", e.dir);
	snprintf(bcf, sizeof(bcf), "%s/broker.pem", e.dir);
	snprintf(bkf, sizeof(bkf), "%s/clk-dev.key", e.dir);
	struct tt_mosq_opts mo;
	tt_mosq_opts_init(&mo);
	mo.cafile = bcaf;
	mo.certfile = bcf;
	mo.keyfile = bkf;
	struct tt_mosq *tls = NULL;
	assert_int_equal(tt_mosq_start(&mo, &tls), 0);
	char extra[128];
	snprintf(extra, sizeof(extra), "mqtt.broker=%s", tt_mosq_uri(tls));
	struct flt_agentd_conf c;
	conf_for(&e, "dev-clk", extra, &c);
	set_str(&c.ca_file, e.dir, "clk-ca.pem");
	set_str(&c.cert_file, e.dir, "clk-dev.pem");
	set_str(&c.key_file, e.dir, "clk-dev.key");
	struct flt_agentd *a = NULL;
	assert_int_equal(flt_agentd_new(&c, &a), FLT_OK);
	assert_int_equal(flt_agentd_start(a), FLT_OK);
	struct flt_agentd_counters k;
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 1500 && k.connect_failures < 3; i++) {
		assert_int_equal(flt_agentd_step(a, 20), FLT_OK);
		flt_agentd_counters(a, &k);
	}
	assert_true(k.connect_failures >= 3);
	assert_int_equal(k.connects, 0);
	assert_int_equal(k.events, 1); /* once for the cause, not per attempt */
	char *json = NULL;
	assert_int_equal(flt_agentd_status_json(&c, &json), FLT_OK);
	assert_non_null(strstr(json, "CLOCK_UNSYNCED"));
	flt_free(json);
	flt_agentd_free(a);
	flt_agentd_conf_free(&c);
	flt_free(key);
	flt_free(ca);
	flt_free(cert);
	flt_free(bca);
	flt_free(bcert);
	tt_mosq_free(tls);
	env_down(&e);
}

struct run_thr {
	struct flt_agentd *a;
	const char *conf;
	volatile sig_atomic_t stop, hup;
	pthread_t th;
};

static void *run_main(void *arg)
{
	struct run_thr *t = arg;
	if (flt_agentd_run(t->a, &t->stop, &t->hup, t->conf) != FLT_OK)
		fprintf(stderr, "flt_agentd_run failed\n");
	return NULL;
}

static int unix_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* true when the agent closed FD within 200 ms */
static bool closed_by_agent(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;
	return poll(&p, 1, 200) > 0 && recv(fd, &b, 1, 0) == 0;
}

static void write_serving_conf(struct env *e, const char *path, const char *sock,
                               const char *serving)
{
	char body[2048];
	int n = snprintf(
	    body, sizeof(body),
	    "[device]\nid = dev-hup\n[mqtt]\nbroker = %s\n[storage]\ndata_dir = %s/dev-hup\n"
	    "disk_reserve = 0\n[trust]\nroot_keys = %s\n[serving]\nsocket = %s\n%s[log]\nlevel = "
	    "info\n",
	    tt_mosq_uri(e->mosq), e->dir, e->roots, sock, serving);
	assert_int_equal(tt_write_file(path, body, (size_t)n), 0);
}

/* SIGHUP applies the serving limits live: after serving.max_conns drops to 1,
 * a connection beyond the first is closed at once. */
static void test_sighup_serving(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	char conf[1024], sock[1024];
	snprintf(conf, sizeof(conf), "%s/hup.conf", e.dir);
	snprintf(sock, sizeof(sock), "%s/hup.sock", e.dir);
	write_serving_conf(&e, conf, sock, "workers = 2\nmax_conns = 16\n");
	struct flt_agentd_conf c;
	char err[256] = "";
	assert_int_equal(flt_agentd_conf_load(conf, NULL, 0, &c, err, sizeof(err)), FLT_OK);
	assert_int_equal(c.srv_max_conns, 16);
	struct run_thr t;
	memset(&t, 0, sizeof(t));
	t.conf = conf;
	assert_int_equal(flt_agentd_new(&c, &t.a), FLT_OK);
	flt_agentd_conf_free(&c);
	assert_int_equal(flt_agentd_start(t.a), FLT_OK);
	assert_int_equal(pthread_create(&t.th, NULL, run_main, &t), 0);
	int c1 = unix_connect(sock), c2 = unix_connect(sock);
	assert_true(c1 >= 0 && c2 >= 0);
	assert_false(closed_by_agent(c2));
	/* an invalid file is refused and changes nothing */
	write_serving_conf(&e, conf, sock, "workers = 0\n");
	t.hup = 1;
	bool closed = false;
	for (int i = 0; i < 10 && !closed; i++) {
		int c3 = unix_connect(sock);
		assert_true(c3 >= 0);
		closed = closed_by_agent(c3);
		close(c3);
	}
	assert_false(closed);
	write_serving_conf(&e, conf, sock, "workers = 3\nmax_conns = 1\n");
	t.hup = 1;
	for (int i = 0; i < 100 && !closed; i++) {
		int c3 = unix_connect(sock);
		assert_true(c3 >= 0);
		closed = closed_by_agent(c3);
		close(c3);
	}
	assert_true(closed);
	close(c1);
	close(c2);
	t.stop = 1;
	pthread_join(t.th, NULL);
	flt_agentd_free(t.a);
	env_down(&e);
}

static int run_cli(struct env *e, const char *const argv[], char *errbuf, size_t errcap)
{
	struct tt_proc *p = NULL;
	int status = 0;
	assert_int_equal(tt_proc_spawn(TT_AGENT, argv, NULL, NULL, &p), 0);
	assert_int_equal(tt_proc_wait(p, WAIT_MS, &status), 0);
	(void)e;
	if (errbuf) {
		char *err = tt_read_file(tt_proc_stderr_path(p), NULL);
		char *out = tt_read_file(tt_proc_stdout_path(p), NULL);
		snprintf(errbuf, errcap, "%s%s", out ? out : "", err ? err : "");
		free(err);
		free(out);
	}
	tt_proc_free(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* flotilla-agent install (offline) and status: the same checks from files. */
static void test_offline_install_cli(void **state)
{
	(void)state;
	struct env e;
	env_up(&e, false);
	char conf[700], keys[700], envp[700], golden[700], out[8192], gsha[65];
	snprintf(conf, sizeof(conf), "%s/off.conf", e.dir);
	char body[2048];
	int n = snprintf(body, sizeof(body),
	                 "[device]\nid = dev-off\n[mqtt]\nbroker = "
	                 "tcp://127.0.0.1:1\n[storage]\ndata_dir = %s/off\n"
	                 "disk_reserve = 0\n[trust]\nroot_keys = %s\n[serving]\nsocket = "
	                 "none\n[log]\nlevel = warn\n",
	                 e.dir, e.roots);
	assert_int_equal(tt_write_file(conf, body, (size_t)n), 0);
	struct tt_keylist_opts ko = {.serial = 1};
	char *kl = tt_pub_keylist(e.pub, NULL, &ko);
	snprintf(keys, sizeof(keys), "%s/keys.json", e.dir);
	assert_int_equal(tt_write_file(keys, kl, strlen(kl)), 0);
	struct tt_release r = {.name = "digits",
	                       .version = 2,
	                       .model_path = MODEL_V2,
	                       .golden_dir = GOLDEN_V2,
	                       .golden_sha_out = gsha};
	char *env = tt_pub_release(e.pub, &r, NULL);
	assert_non_null(env);
	snprintf(envp, sizeof(envp), "%s/release.json", e.dir);
	snprintf(golden, sizeof(golden), "%s/golden.bin", e.dir);
	assert_int_equal(tt_write_file(envp, env, strlen(env)), 0);
	assert_int_equal(tt_pub_export(e.pub, gsha, golden), 0);

	/* golden vectors missing: a usage-level refusal */
	const char *noarg[] = {TT_AGENT, "install", "-c", conf, envp,
	                       MODEL_V2, "--keys",  keys, NULL};
	assert_int_equal(run_cli(&e, noarg, out, sizeof(out)), 5);
	const char *ok[] = {TT_AGENT,   "install", "-c",     conf, envp, MODEL_V2,
	                    "--golden", golden,    "--keys", keys, NULL};
	assert_int_equal(run_cli(&e, ok, out, sizeof(out)), 0);
	const char *st[] = {TT_AGENT, "status", "-c", conf, "-o", "json", NULL};
	assert_int_equal(run_cli(&e, st, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"committed\":2"));
	assert_null(strstr(out, "envelope"));
	/* the wrong artifact for the envelope */
	assert_int_equal(run_cli(&e,
	                         (const char *[]){TT_AGENT, "install", "-c", conf, envp, MODEL_V1,
	                                          "--golden", golden, NULL},
	                         out, sizeof(out)),
	                 6);
	assert_non_null(strstr(out, "FILE_HASH_MISMATCH"));
	/* a lower version than the committed one */
	char gsha1[65];
	struct tt_release r1 = {.name = "digits",
	                        .version = 1,
	                        .model_path = MODEL_V1,
	                        .golden_dir = GOLDEN_V1,
	                        .golden_sha_out = gsha1};
	char *env1 = tt_pub_release(e.pub, &r1, NULL);
	assert_int_equal(tt_write_file(envp, env1, strlen(env1)), 0);
	assert_int_equal(tt_pub_export(e.pub, gsha1, golden), 0);
	assert_int_equal(run_cli(&e,
	                         (const char *[]){TT_AGENT, "install", "-c", conf, envp, MODEL_V1,
	                                          "--golden", golden, NULL},
	                         out, sizeof(out)),
	                 6);
	assert_non_null(strstr(out, "VERSION_LOWER"));
	/* an unknown config key is an error naming it */
	n = snprintf(body, sizeof(body), "[device]\nid = dev-off\nbogus = 1\n");
	assert_int_equal(tt_write_file(conf, body, (size_t)n), 0);
	assert_int_equal(run_cli(&e, st, out, sizeof(out)), 5);
	assert_non_null(strstr(out, "bogus"));
	free(kl);
	free(env);
	free(env1);
	env_down(&e);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_install_two_agents),
	    cmocka_unit_test(test_redelivery),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_refusal_disk),
	    cmocka_unit_test(test_broker_killed_mid_transfer),
	    cmocka_unit_test(test_agent_starts_offline),
	    cmocka_unit_test(test_offline_install_cli),
	    cmocka_unit_test(test_probation_crash_rollback),
	    cmocka_unit_test(test_crash_recovery),
	    cmocka_unit_test(test_probation_conf_bounds),
	    cmocka_unit_test(test_queue_reset_reported),
	    cmocka_unit_test(test_clock_unsynced_reported),
	    cmocka_unit_test(test_sighup_serving),
	};
	if (getenv("AGENTD_TEST_FILTER"))
		cmocka_set_test_filter(getenv("AGENTD_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
