/* The inference socket under abuse: garbage, a 4 GiB length prefix, half a
 * frame then close, wrong model / dtype / shape / size, a full queue, and 500
 * connections at once. Each gets an error reply or a closed connection, the
 * server keeps answering good requests afterwards, and (under ASan) nothing
 * leaks. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "flotilla.h"
#include "flt/serving.h"
#include "flt/sockframe.h"
#include "serving_util.h"

static struct su_env env;

static int raw_connect(void)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, env.sock, strlen(env.sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads one response frame; returns its status, or -1 if the connection
 * closed first. *closed_after tells whether EOF follows right away. */
static int read_reply(int fd, uint64_t *version, int *closed_after)
{
	uint8_t hdr[FLT_FRAME_HEADER];
	size_t got = 0;
	while (got < sizeof(hdr)) {
		ssize_t r = recv(fd, hdr + got, sizeof(hdr) - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	struct flt_frame_header h;
	assert_int_equal(flt_frame_header_decode(hdr, 1u << 24, &h), FLT_OK);
	uint8_t *f = malloc(FLT_FRAME_HEADER + h.body_len);
	assert_non_null(f);
	memcpy(f, hdr, sizeof(hdr));
	got = 0;
	while (got < h.body_len) {
		ssize_t r = recv(fd, f + FLT_FRAME_HEADER + got, h.body_len - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
	static struct flt_frame_response resp;
	const char *why = NULL;
	assert_int_equal(
	    flt_frame_decode_response(f, FLT_FRAME_HEADER + h.body_len, 1u << 24, &h, &resp, &why),
	    FLT_OK);
	int st = (int)resp.status;
	if (version)
		*version = resp.version;
	free(f);
	if (closed_after) {
		char b;
		*closed_after =
		    recv(fd, &b, 1, 0) <= 0; /* EOF, or a reset when bytes were left unread */
	}
	return st;
}

static uint8_t *good_request(const char *model, int32_t dtype, int64_t d0, size_t *len)
{
	static struct flt_frame_request q;
	memset(&q, 0, sizeof(q));
	q.model = model;
	q.model_len = strlen(model);
	q.n_tensors = 1;
	q.tensors[0].name = "image";
	q.tensors[0].name_len = 5;
	q.tensors[0].dtype = dtype;
	q.tensors[0].rank = 4;
	q.tensors[0].dims[0] = d0;
	q.tensors[0].dims[1] = 1;
	q.tensors[0].dims[2] = 8;
	q.tensors[0].dims[3] = 8;
	size_t n = (size_t)d0 * 64 * flt_frame_dtype_size(dtype);
	static uint8_t zeros[64 * 8 * 4];
	q.tensors[0].data = dtype == FLT_RT_FLOAT && d0 == 1 ? env.input.data : zeros;
	q.tensors[0].size = n;
	size_t cap = flt_frame_request_size(&q);
	assert_true(cap > 0);
	uint8_t *b = malloc(cap);
	assert_int_equal(flt_frame_encode_request(7, &q, b, cap, len), FLT_OK);
	return b;
}

/* One good request on a fresh connection must succeed: the server lives. */
static void assert_serving(void)
{
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	int fd = raw_connect();
	uint64_t v = 0;
	send_all(fd, b, len);
	assert_int_equal(read_reply(fd, &v, NULL), FLT_FRAME_OK);
	assert_int_equal(v, 1);
	close(fd);
	free(b);
}

static struct flt_serving *start(unsigned workers, unsigned queue_max, unsigned max_conns,
                                 flt_serving_fault_fn fault, void *arg)
{
	struct flt_serving *s = NULL;
	char err[256];
	struct flt_serving_opts o = {.socket_path = env.sock,
	                             .workers = workers,
	                             .queue_max = queue_max,
	                             .max_conns = max_conns,
	                             .max_frame = 1u << 20,
	                             .fault = fault,
	                             .fault_arg = arg};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 0, err, sizeof(err)), FLT_OK);
	return s;
}

static int setup(void **state)
{
	(void)state;
	su_raise_nofile();
	return su_setup(&env);
}

static int teardown(void **state)
{
	(void)state;
	su_teardown(&env);
	return 0;
}

static void test_garbage(void **state)
{
	(void)state;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving *s = start(2, 16, 0, NULL, NULL);
	char junk[64];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 37 + 11);
	int fd = raw_connect(), closed = 0;
	send_all(fd, junk, sizeof(junk));
	assert_int_equal(read_reply(fd, NULL, &closed), FLT_FRAME_BAD_REQUEST);
	assert_true(closed);
	close(fd);
	assert_serving();
	flt_serving_destroy(s);
}

static void test_huge_length_prefix(void **state)
{
	(void)state;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving *s = start(2, 16, 0, NULL, NULL);
	uint8_t h[FLT_FRAME_HEADER] = {
	    'F',  'L',  'T',  'I', FLT_FRAME_VERSION, FLT_FRAME_REQUEST, 0, 0, 1, 0, 0, 0,
	    0xff, 0xff, 0xff, 0xff};
	int fd = raw_connect(), closed = 0;
	send_all(fd, h, sizeof(h));
	assert_int_equal(read_reply(fd, NULL, &closed), FLT_FRAME_TOO_LARGE);
	assert_true(closed);
	close(fd);
	/* other protocol version: refused the same way */
	h[4] = 9;
	h[12] = 4, h[13] = h[14] = h[15] = 0;
	fd = raw_connect();
	send_all(fd, h, sizeof(h));
	assert_int_equal(read_reply(fd, NULL, &closed), FLT_FRAME_BAD_REQUEST);
	assert_true(closed);
	close(fd);
	assert_serving();
	flt_serving_destroy(s);
}

static void test_half_frame_then_close(void **state)
{
	(void)state;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving *s = start(2, 16, 0, NULL, NULL);
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	for (size_t cut = 1; cut < len; cut += len / 7 + 1) {
		int fd = raw_connect();
		send_all(fd, b, cut);
		close(fd);
	}
	/* a client that sends a whole request and vanishes before the reply */
	for (int i = 0; i < 20; i++) {
		int fd = raw_connect();
		send_all(fd, b, len);
		close(fd);
	}
	free(b);
	assert_serving();
	flt_serving_destroy(s);
}

static void test_stalled_half_frame(void **state)
{
	(void)state;
	struct flt_serving *s = NULL;
	char err[256], b1;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving_opts o = {.socket_path = env.sock, .workers = 1, .read_timeout_ms = 100};
	assert_int_equal(flt_serving_create(&o, &s), FLT_OK);
	assert_int_equal(flt_serving_activate(s, "digits", 1, env.v1, 0, err, sizeof(err)), FLT_OK);
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	int idle = raw_connect(), stalled = raw_connect();
	send_all(stalled, b, len / 2);
	/* the stalled one is closed by the server (EOF within the 10 s receive timeout) */
	assert_int_equal(recv(stalled, &b1, 1, 0), 0);
	/* the idle one (no frame begun) is kept and still served */
	send_all(idle, b, len);
	assert_int_equal(read_reply(idle, NULL, NULL), FLT_FRAME_OK);
	close(idle);
	close(stalled);
	free(b);
	flt_serving_destroy(s);
}

static void test_bad_requests_get_replies(void **state)
{
	(void)state;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving *s = start(2, 16, 0, NULL, NULL);
	struct {
		const char *model;
		int32_t dtype;
		int64_t d0;
		int want;
	} cases[] = {
	    {"nosuch", FLT_RT_FLOAT, 1, FLT_FRAME_NOT_FOUND},
	    {"digits", FLT_RT_INT64, 1, FLT_FRAME_BAD_INPUT}, /* wrong dtype */
	    {"digits", FLT_RT_FLOAT, 2,
	     FLT_FRAME_BAD_INPUT}, /* batch 2: wrong shape for this plan */
	    {"Bad/Name", FLT_RT_FLOAT, 1, FLT_FRAME_BAD_REQUEST},
	};
	int fd = raw_connect();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		uint8_t *b = good_request(cases[i].model, cases[i].dtype, cases[i].d0, &len);
		send_all(fd, b, len);
		free(b);
		assert_int_equal(read_reply(fd, NULL, NULL), cases[i].want);
	}
	/* wrong size: data length not product(dims) * 4; framing stays intact */
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	b[FLT_FRAME_HEADER + 1 + 6 + 8 + 4 + 2 + 5 + 4 + 4 + 32] ^= 1; /* data length field */
	send_all(fd, b, len);
	assert_int_equal(read_reply(fd, NULL, NULL), FLT_FRAME_BAD_REQUEST);
	/* and the same connection still serves */
	free(b);
	b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	send_all(fd, b, len);
	assert_int_equal(read_reply(fd, NULL, NULL), FLT_FRAME_OK);
	free(b);
	close(fd);
	/* the version asked for must be the active one */
	flotilla_client *c = NULL;
	struct flotilla_result *r = NULL;
	struct flotilla_tensor in = {.name = "image",
	                             .dtype = FLOTILLA_FLOAT,
	                             .rank = 4,
	                             .dims = {1, 1, 8, 8},
	                             .data = env.input.data,
	                             .size = env.input.size};
	assert_int_equal(flotilla_connect(env.sock, 5000, &c), FLOTILLA_OK);
	assert_int_equal(flotilla_infer(c, "digits", 9, &in, 1, &r), FLOTILLA_NOT_FOUND);
	assert_non_null(strstr(flotilla_last_error(c), "version 9"));
	assert_int_equal(flotilla_infer(c, "digits", 1, &in, 1, &r), FLOTILLA_OK);
	assert_int_equal(r->version, 1);
	assert_string_equal(r->outputs[0].name, "logits");
	assert_int_equal(su_which(&env, r->outputs[0].data, r->outputs[0].size), 0);
	flotilla_result_free(r);
	flotilla_close(c);
	flt_serving_destroy(s);
}

/* A fault hook that holds the one worker until released. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int entered, open;
};

static flt_err gate_hook(void *arg, const char *name, uint64_t version)
{
	struct gate *g = arg;
	(void)name, (void)version;
	pthread_mutex_lock(&g->mu);
	g->entered++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return FLT_OK;
}

static void test_queue_full_is_busy(void **state)
{
	(void)state;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct gate g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	struct flt_serving *s = start(1, 1, 0, gate_hook, &g);
	g.open = 0;
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	int a = raw_connect(), fb = raw_connect(), fc = raw_connect();
	send_all(a, b, len);
	pthread_mutex_lock(&g.mu);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	/* the worker holds the first; one of these is queued, the other refused */
	send_all(fb, b, len);
	send_all(fc, b, len);
	struct pollfd p[2] = {{.fd = fb, .events = POLLIN}, {.fd = fc, .events = POLLIN}};
	assert_int_equal(poll(p, 2, 10000), 1);
	int busy_fd = p[0].revents ? fb : fc, queued_fd = p[0].revents ? fc : fb;
	assert_int_equal(read_reply(busy_fd, NULL, NULL), FLT_FRAME_BUSY);
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	assert_int_equal(read_reply(a, NULL, NULL), FLT_FRAME_OK);
	assert_int_equal(read_reply(queued_fd, NULL, NULL), FLT_FRAME_OK);
	struct flt_serving_stats st;
	assert_int_equal(flt_serving_stats(s, "digits", 1, &st), FLT_OK);
	assert_int_equal(st.ok, 2);
	close(a), close(fb), close(fc);
	free(b);
	flt_serving_destroy(s);
}

static void test_500_connections(void **state)
{
	(void)state;
	enum { N = 500 };
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving *s = start(2, 64, 0, NULL, NULL);
	static int fds[N];
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	for (int i = 0; i < N; i++)
		fds[i] = raw_connect();
	for (int i = 0; i < N; i++)
		send_all(fds[i], b, len);
	int ok = 0, busy = 0;
	for (int i = 0; i < N; i++) {
		int st = read_reply(fds[i], NULL, NULL);
		assert_true(st == FLT_FRAME_OK || st == FLT_FRAME_BUSY);
		ok += st == FLT_FRAME_OK;
		busy += st == FLT_FRAME_BUSY;
	}
	print_message("500 connections: %d ok, %d busy\n", ok, busy);
	assert_true(ok >= 64);
	/* half of them vanish without a word, the rest close politely */
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(b);
	assert_serving();
	flt_serving_destroy(s);
}

static void test_connection_bound(void **state)
{
	(void)state;
	if (su_emulated())
		skip(); /* serving threads are unreliable under qemu-user */
	struct flt_serving *s = start(2, 16, 4, NULL, NULL);
	int fds[8];
	size_t len;
	uint8_t *b = good_request("digits", FLT_RT_FLOAT, 1, &len);
	for (int i = 0; i < 8; i++)
		fds[i] = raw_connect();
	int ok = 0, closed = 0;
	for (int i = 0; i < 8; i++) {
		send(fds[i], b, len, MSG_NOSIGNAL);
		int st = read_reply(fds[i], NULL, NULL);
		ok += st == FLT_FRAME_OK;
		closed += st == -1;
	}
	assert_int_equal(ok, 4);
	assert_int_equal(closed, 4);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	free(b);
	flt_serving_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_huge_length_prefix),
	    cmocka_unit_test(test_half_frame_then_close),
	    cmocka_unit_test(test_stalled_half_frame),
	    cmocka_unit_test(test_bad_requests_get_replies),
	    cmocka_unit_test(test_queue_full_is_busy),
	    cmocka_unit_test(test_500_connections),
	    cmocka_unit_test(test_connection_bound),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
