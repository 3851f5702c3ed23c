/* Serving: model slots with refcounted versions (hot swap), the worker pool
 * and the poll()-driven I/O thread of the local inference socket. One I/O
 * thread owns every connection; workers only see complete frames. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FLT_LOG_MODULE "serving"
#include "flt/alloc.h"
#include "flt/log.h"
#include "flt/serving.h"
#include "flt/sockframe.h"

#define MAX_WORKERS 256
#define DRAIN_NS    2000000000ull

struct version {
	char name[FLT_IDENT_MAX + 1];
	uint64_t version;
	struct flt_rt_model *model;
	char *path;    /* owned: to reload it if a budgeted swap fails */
	uint64_t mem;  /* estimated bytes held */
	unsigned refs; /* requests running on it; under s->mu */
	int retired;   /* no longer active: freed when refs reaches 0 */
	uint32_t latency_ms_max;
	uint64_t activated_ns;
	pthread_mutex_t st_mu;
	struct flt_serving_stats st;
	struct flt_usage_hist hist;
	struct flt_usage_hist wait_hist; /* swap waits, of requests that waited */
	struct version *next;            /* s->versions: every loaded version */
};

struct slot {
	char name[FLT_IDENT_MAX + 1];
	struct version *active; /* NULL while a budgeted swap runs */
	int swapping;
	struct slot *next;
};

enum conn_state { C_READ, C_QUEUED, C_WRITE };

struct conn {
	int fd;
	enum conn_state state;
	uint8_t hdr[FLT_FRAME_HEADER];
	size_t hdr_got;
	uint64_t started_ns; /* first byte of the frame being read */
	uint8_t *frame;      /* header + body once the header is valid */
	size_t frame_len, got;
	uint8_t *out; /* response frame */
	size_t out_len, out_off;
	int close_after; /* the stream cannot be trusted after this reply */
	int dead;        /* peer gone while a worker held it */
	struct conn *qnext;
};

struct flt_serving {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	int wake[2];
	uint32_t max_frame;
	uint64_t read_timeout_ns;
	struct flt_usage *usage;
	flt_serving_fault_fn fault;
	void *fault_arg;
	unsigned run_conc;
	unsigned max_batch;
	uint64_t budget;

	/* models */
	pthread_mutex_t mu;
	pthread_cond_t swap_cv;  /* a swap finished */
	pthread_cond_t drain_cv; /* a version's refs reached 0 */
	struct slot *slots;
	struct version *versions;
	uint64_t loaded_mem;
	unsigned swap_wait_ms;
	pthread_mutex_t act_mu; /* one activation at a time */
	int stopping;

	/* work queue */
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct conn *qhead, *qtail;
	unsigned qlen, queue_max;
	unsigned nworkers, target_workers;
	int workers_stop;
	pthread_t workers[MAX_WORKERS];
	struct worker_arg {
		struct flt_serving *s;
		unsigned idx;
	} wargs[MAX_WORKERS];
	struct conn *done; /* replies ready, for the I/O thread */

	/* I/O thread */
	pthread_t io;
	atomic_int io_stop;
	atomic_uint max_conns;
	struct conn **conns;
	size_t nconns, cap_conns;
	uint64_t accept_pause_until; /* out of descriptors: stop polling the listener until then */
	uint64_t accept_warned_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void copy_err(char *err, size_t errlen, const char *msg)
{
	if (errlen)
		snprintf(err, errlen, "%s", msg);
}

/* ---- versions and slots -------------------------------------------------- */

static void version_free(struct flt_serving *s, struct version *v)
{
	if (!v)
		return;
	flt_rt_model_free(v->model);
	flt_free(v->path);
	pthread_mutex_destroy(&v->st_mu);
	flt_free(v);
	(void)s;
}

/* Under s->mu: unlinks V from the version list if nothing runs on it any more. */
static int version_unlink_if_idle(struct flt_serving *s, struct version *v)
{
	if (!v->retired || v->refs)
		return 0;
	for (struct version **pp = &s->versions; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	s->loaded_mem -= v->mem;
	pthread_cond_broadcast(&s->drain_cv);
	return 1;
}

static struct slot *slot_find(struct flt_serving *s, const char *name)
{
	for (struct slot *sl = s->slots; sl; sl = sl->next)
		if (!strcmp(sl->name, name))
			return sl;
	return NULL;
}

/* Takes a reference on the version of NAME that should answer. */
static enum flt_frame_status acquire(struct flt_serving *s, const char *name, uint64_t want,
                                     struct version **out, uint64_t *waited_ns, char *msg,
                                     size_t msglen)
{
	enum flt_frame_status st = FLT_FRAME_OK;
	uint64_t t0 = 0;
	pthread_mutex_lock(&s->mu);
	struct slot *sl = slot_find(s, name);
	if (sl && sl->swapping) {
		t0 = now_ns();
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		uint64_t ns = (uint64_t)dl.tv_nsec + (uint64_t)s->swap_wait_ms * 1000000ull;
		dl.tv_sec += (time_t)(ns / 1000000000ull);
		dl.tv_nsec = (long)(ns % 1000000000ull);
		while ((sl = slot_find(s, name)) && sl->swapping && !s->stopping)
			if (pthread_cond_timedwait(&s->swap_cv, &s->mu, &dl) == ETIMEDOUT)
				break;
		*waited_ns = now_ns() - t0 + 1; /* +1: a wait is never 0 */
		if (sl && sl->swapping) {
			snprintf(msg, msglen, "model '%s' is being swapped; retry", name);
			st = FLT_FRAME_BUSY;
			goto out;
		}
	}
	if (!sl || !sl->active) {
		snprintf(msg, msglen, "no model named '%s' is active", name);
		st = FLT_FRAME_NOT_FOUND;
		goto out;
	}
	if (want && sl->active->version != want) {
		snprintf(msg, msglen, "model '%s' version %llu is not active (active: %llu)", name,
		         (unsigned long long)want, (unsigned long long)sl->active->version);
		st = FLT_FRAME_NOT_FOUND;
		goto out;
	}
	sl->active->refs++;
	*out = sl->active;
out:
	pthread_mutex_unlock(&s->mu);
	return st;
}

static void release(struct flt_serving *s, struct version *v)
{
	pthread_mutex_lock(&s->mu);
	v->refs--;
	int gone = version_unlink_if_idle(s, v);
	pthread_mutex_unlock(&s->mu);
	if (gone)
		version_free(s, v);
}

static enum flt_usage_outcome outcome_of(enum flt_frame_status st)
{
	switch (st) {
	case FLT_FRAME_OK: return FLT_USAGE_OK;
	case FLT_FRAME_BAD_INPUT: return FLT_USAGE_BAD_INPUT;
	case FLT_FRAME_BUSY: return FLT_USAGE_BUSY;
	case FLT_FRAME_RUNTIME: return FLT_USAGE_RUNTIME;
	default: return FLT_USAGE_INTERNAL;
	}
}

static void account(struct flt_serving *s, struct version *v, enum flt_frame_status status,
                    uint64_t lat_ns, uint64_t waited_ns, uint64_t in, uint64_t out)
{
	enum flt_usage_outcome o = outcome_of(status);
	pthread_mutex_lock(&v->st_mu);
	v->st.requests++;
	if (o == FLT_USAGE_OK) {
		v->st.ok++;
		flt_usage_hist_add(&v->hist, lat_ns);
		if (v->latency_ms_max && lat_ns > (uint64_t)v->latency_ms_max * 1000000ull)
			v->st.over_latency++;
	} else {
		v->st.errors[o]++;
	}
	if (waited_ns) {
		v->st.swap_waits++;
		if (waited_ns > v->st.swap_wait_max_ns)
			v->st.swap_wait_max_ns = waited_ns;
		flt_usage_hist_add(&v->wait_hist, waited_ns);
	}
	pthread_mutex_unlock(&v->st_mu);
	if (s->usage &&
	    flt_usage_record(s->usage, v->name, v->version, o, lat_ns, in, out) == FLT_EINVAL)
		flt_log_warn("usage record refused for %s:%llu", v->name,
		             (unsigned long long)v->version);
}

/* Runs V on inputs given by name (any order); outputs allocated by the run. */
static enum flt_frame_status run_model(struct flt_serving *s, struct version *v,
                                       const struct flt_rt_tensor *in_by_graph, size_t n_in,
                                       struct flt_rt_tensor *outs, size_t n_out, char *msg,
                                       size_t msglen)
{
	if (s->fault && s->fault(s->fault_arg, v->name, v->version)) {
		snprintf(msg, msglen, "model '%s' failed to run (injected fault)", v->name);
		return FLT_FRAME_RUNTIME;
	}
	char err[256] = "";
	flt_err e = flt_rt_run(v->model, in_by_graph, n_in, outs, n_out, err, sizeof(err));
	if (!e)
		return FLT_FRAME_OK;
	snprintf(msg, msglen, "%s", err[0] ? err : flt_strerror(e));
	return e == FLT_EINVAL   ? FLT_FRAME_BAD_INPUT
	       : e == FLT_ENOMEM ? FLT_FRAME_INTERNAL
	                         : FLT_FRAME_RUNTIME;
}

/* ---- request handling (workers) ----------------------------------------- */

static uint32_t frame_id(const uint8_t *f)
{
	return (uint32_t)f[8] | (uint32_t)f[9] << 8 | (uint32_t)f[10] << 16 | (uint32_t)f[11] << 24;
}

static uint8_t *encode_error(uint32_t id, enum flt_frame_status st, uint64_t version,
                             const char *msg, size_t *len)
{
	struct flt_frame_response r;
	memset(&r, 0, sizeof(r));
	r.status = st;
	r.version = version;
	r.message = msg;
	r.message_len = strnlen(msg, FLT_FRAME_MSG_MAX);
	size_t n = flt_frame_response_size(&r);
	uint8_t *b = n ? flt_malloc(n) : NULL;
	if (b && flt_frame_encode_response(id, &r, b, n, len)) {
		flt_free(b);
		b = NULL;
	}
	return b;
}

static int name_is(const struct flt_frame_tensor *t, const char *name)
{
	return t->name_len == strlen(name) && !memcmp(t->name, name, t->name_len);
}

/* Index of the request tensor called NAME; req->n_tensors if none. */
static size_t find_input(const struct flt_rt_model *m, const struct flt_frame_request *req,
                         const char *name)
{
	(void)m;
	size_t k = 0;
	while (k < req->n_tensors && !name_is(&req->tensors[k], name))
		k++;
	return k;
}

/* Index of the graph input T is named after; the input count if none. */
static size_t find_graph_input(const struct flt_rt_model *m, const struct flt_frame_tensor *t)
{
	size_t ni = flt_rt_model_n_inputs(m), i = 0;
	while (i < ni && !name_is(t, flt_rt_model_input(m, i)->name))
		i++;
	return i;
}

/* Produces c->out from c->frame. On allocation failure c->out stays NULL
 * and the connection is closed. */
static void handle(struct flt_serving *s, struct conn *c)
{
	struct flt_frame_request req;
	struct flt_frame_header h;
	struct flt_rt_tensor in[FLT_FRAME_MAX_TENSORS], outs[FLT_FRAME_MAX_TENSORS];
	struct version *v = NULL;
	char msg[512] = "", name[FLT_IDENT_MAX + 1];
	const char *why = NULL;
	enum flt_frame_status st = FLT_FRAME_OK;
	uint64_t waited = 0, t0 = 0, lat = 0;
	size_t n_out = 0, len = 0;
	uint32_t id = 0;
	memset(outs, 0, sizeof(outs));

	if (c->frame_len >= FLT_FRAME_HEADER)
		id = frame_id(c->frame);
	if (flt_frame_decode_request(c->frame, c->frame_len, s->max_frame, &h, &req, &why)) {
		snprintf(msg, sizeof(msg), "bad request: %s", why);
		st = FLT_FRAME_BAD_REQUEST;
		goto reply;
	}
	memcpy(name, req.model, req.model_len);
	name[req.model_len] = 0;
	if (!flt_ident_valid(name)) {
		snprintf(msg, sizeof(msg),
		         "bad request: model name must match [a-z0-9][a-z0-9._-]{0,63}");
		st = FLT_FRAME_BAD_REQUEST;
		goto reply;
	}
	t0 = now_ns();
	st = acquire(s, name, req.version, &v, &waited, msg, sizeof(msg));
	if (st)
		goto reply;
	size_t ni = flt_rt_model_n_inputs(v->model);
	n_out = flt_rt_model_n_outputs(v->model);
	if (req.n_tensors != ni || n_out > FLT_FRAME_MAX_TENSORS) {
		snprintf(msg, sizeof(msg), "model '%s' takes %zu inputs, %zu given", name, ni,
		         req.n_tensors);
		st = FLT_FRAME_BAD_INPUT;
		n_out = 0;
		goto reply;
	}
	for (size_t i = 0; i < ni && !st; i++) {
		const struct flt_rt_value_info *vi = flt_rt_model_input(v->model, i);
		size_t k = find_input(v->model, &req, vi->name);
		/* a tensor named after no input at all stands in graph order */
		if (k == ni && find_graph_input(v->model, &req.tensors[i]) == ni)
			k = i;
		if (k == ni) {
			snprintf(msg, sizeof(msg), "input '%s' missing", vi->name);
			st = FLT_FRAME_BAD_INPUT;
			break;
		}
		const struct flt_frame_tensor *t = &req.tensors[k];
		if (vi->dtype && t->dtype != vi->dtype) {
			snprintf(msg, sizeof(msg), "input '%s' must be %s, got %s", vi->name,
			         flt_rt_dtype_name(vi->dtype), flt_rt_dtype_name(t->dtype));
			st = FLT_FRAME_BAD_INPUT;
			break;
		}
		memset(&in[i], 0, sizeof(in[i]));
		in[i].dtype = t->dtype;
		in[i].rank = (int32_t)t->rank;
		memcpy(in[i].dims, t->dims, sizeof(in[i].dims));
		in[i].data = (void *)(uintptr_t)t->data; /* the runtime only reads inputs */
		in[i].size = t->size;
	}
	if (!st)
		st = run_model(s, v, in, ni, outs, n_out, msg, sizeof(msg));
	lat = now_ns() - t0;
	if (st)
		n_out = 0;
reply:;
	struct flt_frame_response r;
	memset(&r, 0, sizeof(r));
	r.status = st;
	r.version = v ? v->version : 0;
	if (st == FLT_FRAME_OK) {
		r.n_tensors = n_out;
		for (size_t i = 0; i < n_out; i++) {
			const char *on = flt_rt_model_output(v->model, i)->name;
			r.tensors[i].name = on;
			r.tensors[i].name_len = strlen(on);
			r.tensors[i].dtype = outs[i].dtype;
			r.tensors[i].rank = (uint32_t)outs[i].rank;
			memcpy(r.tensors[i].dims, outs[i].dims, sizeof(outs[i].dims));
			r.tensors[i].data = outs[i].data;
			r.tensors[i].size = outs[i].size;
		}
	} else {
		r.message = msg;
		r.message_len = strnlen(msg, FLT_FRAME_MSG_MAX);
	}
	size_t n = flt_frame_response_size(&r);
	if (st == FLT_FRAME_OK && (!n || n > s->max_frame)) {
		st = n ? FLT_FRAME_TOO_LARGE : FLT_FRAME_INTERNAL;
		if (n)
			snprintf(msg, sizeof(msg), "response over the %u-byte frame limit",
			         (unsigned)s->max_frame);
		else
			snprintf(msg, sizeof(msg), "the model's outputs cannot be encoded");
		flt_free(c->out);
		c->out = encode_error(id, st, r.version, msg, &len);
	} else {
		c->out = n ? flt_malloc(n) : NULL;
		if (c->out && flt_frame_encode_response(id, &r, c->out, n, &len)) {
			flt_free(c->out);
			c->out = NULL;
		}
	}
	c->out_len = len;
	c->out_off = 0;
	if (v) {
		account(s, v, st, lat, waited, c->frame_len, len);
		release(s, v);
	}
	for (size_t i = 0; i < FLT_FRAME_MAX_TENSORS; i++)
		flt_free(outs[i].data);
	flt_free(c->frame);
	c->frame = NULL;
	c->frame_len = c->got = 0;
}

static void wake_io(struct flt_serving *s)
{
	char b = 1;
	ssize_t w = write(s->wake[1], &b, 1);
	(void)w; /* a full pipe already means "wake up" */
}

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct flt_serving *s = wa->s;
	unsigned idx = wa->idx;
	for (;;) {
		pthread_mutex_lock(&s->qmu);
		while (!s->qhead && !s->workers_stop && idx < s->target_workers)
			pthread_cond_wait(&s->qcv, &s->qmu);
		/* on stop, workers finish the queue first, so no frame is dropped */
		if (idx >= s->target_workers || !s->qhead) {
			pthread_mutex_unlock(&s->qmu);
			return NULL;
		}
		struct conn *c = s->qhead;
		s->qhead = c->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		s->qlen--;
		pthread_mutex_unlock(&s->qmu);

		handle(s, c);

		pthread_mutex_lock(&s->qmu);
		c->qnext = s->done;
		s->done = c;
		pthread_mutex_unlock(&s->qmu);
		wake_io(s);
	}
}

/* ---- I/O thread ---------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	flt_free(c->frame);
	flt_free(c->out);
	flt_free(c);
}

/* Queues a reply written by the I/O thread itself (busy, too large, bad header). */
static void reply_now(struct conn *c, enum flt_frame_status st, uint32_t id, const char *msg,
                      int close_after)
{
	size_t len = 0;
	flt_free(c->frame);
	c->frame = NULL;
	c->frame_len = c->got = 0;
	flt_free(c->out);
	c->out = encode_error(id, st, 0, msg, &len);
	c->out_len = len;
	c->out_off = 0;
	c->close_after = close_after;
	c->state = C_WRITE;
}

static void frame_complete(struct flt_serving *s, struct conn *c)
{
	pthread_mutex_lock(&s->qmu);
	if (s->qlen >= s->queue_max || s->workers_stop) {
		int stopping = s->workers_stop;
		pthread_mutex_unlock(&s->qmu);
		reply_now(c, stopping ? FLT_FRAME_SHUTDOWN : FLT_FRAME_BUSY, frame_id(c->frame),
		          stopping ? "the agent is stopping" : "busy: request queue full; retry",
		          0);
		return;
	}
	c->state = C_QUEUED;
	c->qnext = NULL;
	if (s->qtail)
		s->qtail->qnext = c;
	else
		s->qhead = c;
	s->qtail = c;
	s->qlen++;
	pthread_cond_signal(&s->qcv);
	pthread_mutex_unlock(&s->qmu);
}

/* Reads what is available; returns -1 when the connection must close now. */
static int conn_read(struct flt_serving *s, struct conn *c)
{
	for (int rounds = 0; rounds < 16 && c->state == C_READ; rounds++) {
		ssize_t r;
		if (!c->frame) {
			r = recv(c->fd, c->hdr + c->hdr_got, FLT_FRAME_HEADER - c->hdr_got, 0);
			if (r == 0)
				return -1;
			if (r < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
				           ? 0
				           : -1;
			if (!c->hdr_got)
				c->started_ns = now_ns();
			c->hdr_got += (size_t)r;
			if (c->hdr_got < FLT_FRAME_HEADER)
				continue;
			struct flt_frame_header h;
			flt_err e = flt_frame_header_decode(c->hdr, s->max_frame, &h);
			if (e) {
				/* the stream is out of step: answer once, then close */
				reply_now(c,
				          e == FLT_ELIMIT ? FLT_FRAME_TOO_LARGE
				                          : FLT_FRAME_BAD_REQUEST,
				          0,
				          e == FLT_ELIMIT         ? "frame over the size limit"
				          : e == FLT_EUNSUPPORTED ? "unsupported protocol version"
				                                  : "bad frame header",
				          1);
				return 0;
			}
			c->frame_len = (size_t)FLT_FRAME_HEADER + h.body_len;
			c->frame = flt_malloc(c->frame_len);
			if (!c->frame) {
				reply_now(c, FLT_FRAME_INTERNAL, h.request_id, "out of memory", 1);
				return 0;
			}
			memcpy(c->frame, c->hdr, FLT_FRAME_HEADER);
			c->got = FLT_FRAME_HEADER;
			c->hdr_got = 0;
		}
		if (c->got < c->frame_len) {
			r = recv(c->fd, c->frame + c->got, c->frame_len - c->got, 0);
			if (r == 0)
				return -1;
			if (r < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
				           ? 0
				           : -1;
			c->got += (size_t)r;
		}
		if (c->got == c->frame_len)
			frame_complete(s, c);
	}
	return 0;
}

static int conn_write(struct conn *c)
{
	if (!c->out)
		return -1;
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)w;
	}
	flt_free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->close_after)
		return -1;
	c->state = C_READ;
	return 0;
}

static void conn_drop(struct flt_serving *s, size_t i)
{
	conn_free(s->conns[i]);
	s->conns[i] = s->conns[--s->nconns];
}

static void accept_some(struct flt_serving *s)
{
	for (int k = 0; k < 64; k++) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0) {
			/* the pending connection stays readable: without a pause, poll would spin
			 */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				uint64_t t = now_ns();
				if (!s->accept_warned_ns ||
				    t - s->accept_warned_ns > 10000000000ull) {
					/* one line per 10 s, not one per pause */
					flt_log_warn("accept: %s; pausing new connections briefly",
					             strerror(errno));
					s->accept_warned_ns = t;
				}
				s->accept_pause_until = t + 100000000ull;
			}
			return;
		}
		if (s->nconns >= atomic_load(&s->max_conns)) {
			close(fd); /* over the bound: the client sees a closed connection */
			continue;
		}
		if (s->nconns == s->cap_conns) {
			size_t nc = s->cap_conns ? s->cap_conns * 2 : 64;
			struct conn **p = flt_reallocarray(s->conns, nc, sizeof(*p));
			if (!p) {
				close(fd);
				return;
			}
			s->conns = p;
			s->cap_conns = nc;
		}
		struct conn *c = flt_calloc(1, sizeof(*c));
		int fl = fcntl(fd, F_GETFL);
		/* not inherited by anything the daemon runs */
		if (!c || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			flt_free(c);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = C_READ;
		s->conns[s->nconns++] = c;
	}
}

static void collect_done(struct flt_serving *s)
{
	pthread_mutex_lock(&s->qmu);
	struct conn *d = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->qmu);
	while (d) {
		struct conn *next = d->qnext;
		d->qnext = NULL;
		d->state = C_WRITE;
		if (d->dead || !d->out)
			d->close_after = 1, d->dead = 1;
		d = next;
	}
}

static unsigned busy_count(struct flt_serving *s)
{
	unsigned n = 0;
	for (size_t i = 0; i < s->nconns; i++)
		n += s->conns[i]->state != C_READ || s->conns[i]->frame != NULL;
	return n;
}

static void *io_main(void *arg)
{
	struct flt_serving *s = arg;
	struct pollfd *pfd = NULL;
	size_t pcap = 0;
	uint64_t drain_deadline = 0;
	for (;;) {
		int stop = atomic_load(&s->io_stop);
		if (stop && !drain_deadline) {
			drain_deadline = now_ns() + DRAIN_NS;
			if (s->lfd >= 0) {
				close(s->lfd);
				s->lfd = -1;
			}
		}
		if (stop) /* idle connections and half-read frames go; replies still leave */
			for (size_t i = s->nconns; i-- > 0;)
				if (s->conns[i]->state == C_READ)
					conn_drop(s, i);
		if (stop && (!busy_count(s) || now_ns() > drain_deadline))
			break;
		/* frames begun but not finished in time: the client is stalled or hostile */
		int timeout = stop ? 50 : 1000;
		uint64_t t = now_ns();
		for (size_t i = s->nconns; i-- > 0;) {
			struct conn *c = s->conns[i];
			if (c->state != C_READ || (!c->hdr_got && !c->frame))
				continue;
			if (t - c->started_ns >= s->read_timeout_ns) {
				conn_drop(s, i);
				continue;
			}
			uint64_t left_ms = (s->read_timeout_ns - (t - c->started_ns)) / 1000000 + 1;
			if (left_ms < (uint64_t)timeout)
				timeout = (int)left_ms;
		}
		if (pcap < s->nconns + 2) {
			size_t nc = s->nconns + 66;
			struct pollfd *p = flt_reallocarray(pfd, nc, sizeof(*p));
			if (p) {
				pfd = p;
				pcap = nc;
			}
		}
		if (!pfd)
			break;
		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		int listening =
		    s->lfd >= 0 && s->nconns + 2 <= pcap && now_ns() >= s->accept_pause_until;
		if (s->lfd >= 0 && !listening && timeout > 100)
			timeout = 100;
		if (listening)
			pfd[n++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		size_t base = n, nc = s->nconns < pcap - n ? s->nconns : pcap - n;
		for (size_t i = 0; i < nc; i++) {
			struct conn *c = s->conns[i];
			short ev = c->state == C_READ ? POLLIN : c->state == C_WRITE ? POLLOUT : 0;
			/* a vanished client held by a worker would report POLLHUP forever */
			pfd[n++] = (struct pollfd){.fd = c->dead ? -1 : c->fd, .events = ev};
		}
		int r = poll(pfd, n, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			char buf[256];
			while (read(s->wake[0], buf, sizeof(buf)) > 0)
				;
		}
		collect_done(s);
		/* walk backwards: conn_drop moves the last connection into slot i */
		for (size_t i = nc; i-- > 0;) {
			struct conn *c = s->conns[i];
			short re = pfd[base + i].revents;
			int close_now = 0;
			if (c->state == C_QUEUED) {
				if (re & (POLLHUP | POLLERR))
					c->dead = 1; /* freed when the worker gives it back */
				continue;
			}
			if (c->state == C_WRITE && c->dead) {
				close_now = 1;
			} else if (c->state == C_WRITE && (re & (POLLOUT | POLLERR | POLLHUP))) {
				close_now = conn_write(c) < 0;
			} else if (c->state == C_READ && (re & (POLLIN | POLLERR | POLLHUP))) {
				close_now = conn_read(s, c) < 0;
				if (!close_now && c->state == C_WRITE)
					close_now = conn_write(c) < 0;
			}
			if (close_now)
				conn_drop(s, i);
		}
		/* replies collected after poll: try writing at once rather than next round */
		for (size_t i = s->nconns; i-- > 0;) {
			struct conn *c = s->conns[i];
			if (c->state == C_WRITE && !c->dead && c->out_off == 0 && c->out &&
			    conn_write(c) < 0)
				conn_drop(s, i);
			else if (c->state == C_WRITE && c->dead)
				conn_drop(s, i);
		}
		if (listening && (pfd[1].revents & POLLIN))
			accept_some(s);
	}
	flt_free(pfd);
	return NULL;
}

/* ---- socket -------------------------------------------------------------- */

static flt_err open_socket(struct flt_serving *s, const struct flt_serving_opts *o)
{
	flt_err e = FLT_EIO;
	struct sockaddr_un sa;
	struct stat st;
	gid_t gid = (gid_t)-1;
	if (o->socket_group && o->socket_group[0]) {
		struct group gr, *res = NULL;
		char buf[4096];
		if (getgrnam_r(o->socket_group, &gr, buf, sizeof(buf), &res) || !res) {
			flt_log_err(
			    "socket group '%s' does not exist; create it or change socket_group",
			    o->socket_group);
			return FLT_ENOTFOUND;
		}
		gid = res->gr_gid;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(o->socket_path) >= sizeof(sa.sun_path)) {
		flt_log_err("socket path too long (%zu bytes max): %s", sizeof(sa.sun_path) - 1,
		            o->socket_path);
		return FLT_EINVAL;
	}
	memcpy(sa.sun_path, o->socket_path, strlen(o->socket_path) + 1);
	if (lstat(o->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			flt_log_err("%s exists and is not a socket; refusing to replace it",
			            o->socket_path);
			return FLT_EINVAL;
		}
		unlink(o->socket_path);
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0) {
		flt_log_err("socket: %s", strerror(errno));
		return FLT_EIO;
	}
	if (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		flt_log_err("bind %s: %s", o->socket_path, strerror(errno));
		goto out;
	}
	memcpy(s->path, sa.sun_path, sizeof(s->path));
	if (chmod(o->socket_path, o->socket_mode ? o->socket_mode : 0660) < 0 ||
	    (gid != (gid_t)-1 && chown(o->socket_path, (uid_t)-1, gid) < 0)) {
		flt_log_err("chmod/chown %s: %s", o->socket_path, strerror(errno));
		goto out;
	}
	if (listen(s->lfd, 512) < 0) {
		flt_log_err("listen %s: %s", o->socket_path, strerror(errno));
		goto out;
	}
	e = FLT_OK;
out:
	return e;
}

/* ---- lifecycle ----------------------------------------------------------- */

static flt_err start_workers(struct flt_serving *s, unsigned n)
{
	pthread_mutex_lock(&s->qmu);
	s->target_workers = n;
	pthread_mutex_unlock(&s->qmu);
	while (s->nworkers < n) {
		unsigned i = s->nworkers;
		s->wargs[i].s = s;
		s->wargs[i].idx = i;
		if (pthread_create(&s->workers[i], NULL, worker_main, &s->wargs[i])) {
			pthread_mutex_lock(&s->qmu);
			s->target_workers = s->nworkers;
			pthread_mutex_unlock(&s->qmu);
			flt_log_err("cannot start worker %u", i);
			return FLT_EIO;
		}
		s->nworkers++;
	}
	return FLT_OK;
}

static void stop_workers(struct flt_serving *s, unsigned keep)
{
	pthread_mutex_lock(&s->qmu);
	s->target_workers = keep;
	pthread_cond_broadcast(&s->qcv);
	pthread_mutex_unlock(&s->qmu);
	while (s->nworkers > keep)
		pthread_join(s->workers[--s->nworkers], NULL);
}

flt_err flt_serving_create(const struct flt_serving_opts *o, struct flt_serving **out)
{
	flt_err e = FLT_EINVAL;
	struct flt_serving *s = NULL;
	int io_started = 0;
	if (!o || !o->socket_path || !out || o->workers > MAX_WORKERS ||
	    (o->max_frame && o->max_frame < 64))
		return FLT_EINVAL;
	s = flt_calloc(1, sizeof(*s));
	if (!s)
		return FLT_ENOMEM;
	s->lfd = s->wake[0] = s->wake[1] = -1;
	s->max_frame = o->max_frame ? o->max_frame : 16u << 20;
	s->usage = o->usage;
	s->fault = o->fault;
	s->fault_arg = o->fault_arg;
	s->budget = o->memory_budget;
	s->swap_wait_ms = o->swap_wait_ms ? o->swap_wait_ms : 2000;
	s->read_timeout_ns =
	    (uint64_t)(o->read_timeout_ms ? o->read_timeout_ms : 30000) * 1000000ull;
	s->queue_max = o->queue_max ? o->queue_max : 64;
	atomic_init(&s->max_conns, o->max_conns ? o->max_conns : 1024);
	atomic_init(&s->io_stop, 0);
	unsigned nw = o->workers ? o->workers : 2;
	s->run_conc = o->run_concurrency ? o->run_concurrency : nw;
	s->max_batch = o->max_batch ? o->max_batch : 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->act_mu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->qcv, NULL);
	pthread_cond_init(&s->drain_cv, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_cond_init(&s->swap_cv, &ca); /* CLOCK_REALTIME deadlines */
		pthread_condattr_destroy(&ca);
	}
	if (pipe(s->wake) < 0 || fcntl(s->wake[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(s->wake[1], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(s->wake[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(s->wake[1], F_SETFD, FD_CLOEXEC) < 0) {
		e = FLT_EIO;
		goto out;
	}
	if ((e = open_socket(s, o)))
		goto out;
	if ((e = start_workers(s, nw)))
		goto out;
	if (pthread_create(&s->io, NULL, io_main, s)) {
		e = FLT_EIO;
		goto out;
	}
	io_started = 1;
	flt_log_info("serving on %s with %u workers, queue %u", s->path, nw, s->queue_max);
	*out = s;
	e = FLT_OK;
out:
	if (e && !io_started) {
		stop_workers(s, 0);
		if (s->lfd >= 0)
			close(s->lfd);
		if (s->path[0])
			unlink(s->path);
		if (s->wake[0] >= 0)
			close(s->wake[0]);
		if (s->wake[1] >= 0)
			close(s->wake[1]);
		pthread_mutex_destroy(&s->mu);
		pthread_mutex_destroy(&s->act_mu);
		pthread_mutex_destroy(&s->qmu);
		pthread_cond_destroy(&s->qcv);
		pthread_cond_destroy(&s->drain_cv);
		pthread_cond_destroy(&s->swap_cv);
		flt_free(s);
	}
	return e;
}

void flt_serving_destroy(struct flt_serving *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->swap_cv);
	pthread_mutex_unlock(&s->mu);
	atomic_store(&s->io_stop, 1);
	wake_io(s);
	pthread_join(s->io, NULL);
	pthread_mutex_lock(&s->qmu);
	s->workers_stop = 1;
	pthread_cond_broadcast(&s->qcv);
	pthread_mutex_unlock(&s->qmu);
	while (s->nworkers) /* they finish whatever is still queued first */
		pthread_join(s->workers[--s->nworkers], NULL);
	collect_done(s);
	for (size_t i = s->nconns; i-- > 0;)
		conn_drop(s, i);
	flt_free(s->conns);
	if (s->lfd >= 0)
		close(s->lfd);
	unlink(s->path);
	close(s->wake[0]);
	close(s->wake[1]);
	while (s->slots) {
		struct slot *sl = s->slots;
		s->slots = sl->next;
		flt_free(sl);
	}
	while (s->versions) {
		struct version *v = s->versions;
		s->versions = v->next;
		version_free(s, v);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->act_mu);
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->qcv);
	pthread_cond_destroy(&s->drain_cv);
	pthread_cond_destroy(&s->swap_cv);
	flt_free(s);
}

flt_err flt_serving_reconfigure(struct flt_serving *s, unsigned workers, unsigned queue_max,
                                unsigned max_conns, unsigned swap_wait_ms)
{
	if (!s || workers > MAX_WORKERS)
		return FLT_EINVAL;
	pthread_mutex_lock(&s->act_mu); /* serialises with activations and other reconfigures */
	pthread_mutex_lock(&s->qmu);
	if (queue_max)
		s->queue_max = queue_max;
	pthread_mutex_unlock(&s->qmu);
	if (max_conns)
		atomic_store(&s->max_conns, max_conns);
	if (swap_wait_ms) {
		pthread_mutex_lock(&s->mu);
		s->swap_wait_ms = swap_wait_ms;
		pthread_mutex_unlock(&s->mu);
	}
	flt_err e = FLT_OK;
	if (workers && workers < s->nworkers)
		stop_workers(s, workers);
	else if (workers > s->nworkers)
		e = start_workers(s, workers);
	pthread_mutex_unlock(&s->act_mu);
	return e;
}

/* ---- activation ---------------------------------------------------------- */

/* One run on zero inputs so the first real request does not pay for first
 * touches of weights and arenas. Dynamic models are not warmed. */
static flt_err warm(struct flt_rt_model *m, char *err, size_t errlen)
{
	size_t ni = flt_rt_model_n_inputs(m), no = flt_rt_model_n_outputs(m);
	struct flt_rt_tensor in[FLT_FRAME_MAX_TENSORS], outs[FLT_FRAME_MAX_TENSORS];
	flt_err e = FLT_OK;
	if (flt_rt_model_is_dynamic(m) || ni > FLT_FRAME_MAX_TENSORS || no > FLT_FRAME_MAX_TENSORS)
		return FLT_OK;
	memset(in, 0, sizeof(in));
	memset(outs, 0, sizeof(outs));
	for (size_t i = 0; i < ni; i++) {
		const struct flt_rt_value_info *vi = flt_rt_model_input(m, i);
		uint64_t n = flt_rt_dtype_size(vi->dtype);
		if (!n || vi->rank < 0)
			goto out;
		in[i].dtype = vi->dtype;
		in[i].rank = vi->rank;
		for (int32_t d = 0; d < vi->rank; d++) {
			if (vi->dims[d] < 0 ||
			    (vi->dims[d] && n > (64u << 20) / (uint64_t)vi->dims[d]))
				goto out;
			in[i].dims[d] = vi->dims[d];
			n *= (uint64_t)vi->dims[d];
		}
		in[i].size = (size_t)n;
		in[i].data = flt_calloc(1, n ? (size_t)n : 1);
		if (!in[i].data) {
			e = FLT_ENOMEM;
			goto out;
		}
	}
	e = flt_rt_run(m, in, ni, outs, no, err, errlen);
out:
	for (size_t i = 0; i < FLT_FRAME_MAX_TENSORS; i++) {
		flt_free(in[i].data);
		flt_free(outs[i].data);
	}
	return e;
}

static flt_err load_version(struct flt_serving *s, const char *name, uint64_t version,
                            const char *path, uint32_t latency_ms_max, struct version **out,
                            char *err, size_t errlen)
{
	struct version *v = flt_calloc(1, sizeof(*v));
	struct stat st;
	flt_err e = FLT_ENOMEM;
	if (!v)
		return FLT_ENOMEM;
	pthread_mutex_init(&v->st_mu, NULL);
	memcpy(v->name, name, strlen(name) + 1);
	v->version = version;
	v->latency_ms_max = latency_ms_max;
	if (!(v->path = flt_strdup(path)))
		goto out;
	struct flt_rt_opts ro = {.max_batch = s->max_batch, .max_concurrency = s->run_conc};
	e = flt_rt_model_load_file(path, &ro, &v->model, err, errlen);
	if (e == FLT_EINCOMPAT && ro.max_batch > 1) {
		ro.max_batch = 1; /* no batch dimension: batch 1 only */
		e = flt_rt_model_load_file(path, &ro, &v->model, err, errlen);
	}
	if (e)
		goto out;
	if ((e = warm(v->model, err, errlen)))
		goto out;
	v->mem = (uint64_t)flt_rt_model_arena_bytes(v->model) * s->run_conc;
	if (stat(path, &st) == 0)
		v->mem += (uint64_t)st.st_size;
	*out = v;
	e = FLT_OK;
out:
	if (e)
		version_free(s, v);
	return e;
}

/* Under s->mu: makes V the active version of SL; returns the version retired
 * if nothing runs on it any more (the caller frees it outside the lock). */
static struct version *publish(struct flt_serving *s, struct slot *sl, struct version *v)
{
	struct version *old = sl->active;
	v->activated_ns = now_ns();
	v->next = s->versions;
	s->versions = v;
	s->loaded_mem += v->mem;
	sl->active = v;
	sl->swapping = 0;
	pthread_cond_broadcast(&s->swap_cv);
	if (old) {
		old->retired = 1;
		if (version_unlink_if_idle(s, old))
			return old;
	}
	return NULL;
}

/* What a version will hold once loaded (file + run arenas, as load_version
 * counts it), from the runtime's analysis of the mapped file; without a
 * usable analysis, twice the file size. */
static uint64_t estimate_mem(struct flt_serving *s, const char *path)
{
	struct stat st;
	struct flt_rt_analysis *a = NULL;
	uint64_t est = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size <= SIZE_MAX) {
		est = 2 * (uint64_t)st.st_size;
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			if (flt_rt_analyze(m, (size_t)st.st_size, &a) == FLT_OK &&
			    a->peak_memory_bytes >= 0)
				est = (uint64_t)st.st_size +
				      (uint64_t)a->peak_memory_bytes * s->run_conc;
			flt_rt_analysis_free(a);
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
	return est;
}

flt_err flt_serving_activate(struct flt_serving *s, const char *name, uint64_t version,
                             const char *model_path, uint32_t latency_ms_max, char *err,
                             size_t errlen)
{
	struct version *v = NULL, *gone = NULL;
	struct slot *sl;
	flt_err e;
	char oldpath[4096] = "";
	uint64_t oldver = 0;
	uint32_t oldlat = 0;
	if (errlen)
		err[0] = 0;
	if (!s || !flt_ident_valid(name) || !model_path) {
		copy_err(err, errlen, "model name must match [a-z0-9][a-z0-9._-]{0,63}");
		return FLT_EINVAL;
	}
	pthread_mutex_lock(&s->act_mu);
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		e = FLT_EBUSY;
		goto out;
	}
	sl = slot_find(s, name);
	if (!sl) {
		sl = flt_calloc(1, sizeof(*sl));
		if (!sl) {
			pthread_mutex_unlock(&s->mu);
			e = FLT_ENOMEM;
			goto out;
		}
		memcpy(sl->name, name, strlen(name) + 1);
		sl->next = s->slots;
		s->slots = sl;
	}
	uint64_t est = s->budget && sl->active ? estimate_mem(s, model_path) : 0;
	int budgeted = s->budget && sl->active && s->loaded_mem + est > s->budget;
	if (budgeted) {
		flt_log_info(
		    "%s: old and new do not fit the memory budget together: draining the old one",
		    name);
		/* Both do not fit: drain and unload the old one first; requests wait. */
		struct version *old = sl->active;
		snprintf(oldpath, sizeof(oldpath), "%s", old->path);
		oldver = old->version;
		oldlat = old->latency_ms_max;
		sl->swapping = 1;
		sl->active = NULL;
		old->retired = 1;
		if (version_unlink_if_idle(s, old)) {
			pthread_mutex_unlock(&s->mu);
			version_free(s, old);
			pthread_mutex_lock(&s->mu);
		} else {
			while (!s->stopping) {
				int found = 0;
				for (struct version *x = s->versions; x; x = x->next)
					found |= x == old;
				if (!found)
					break;
				pthread_cond_wait(&s->drain_cv, &s->mu);
			}
		}
	}
	pthread_mutex_unlock(&s->mu);

	e = load_version(s, name, version, model_path, latency_ms_max, &v, err, errlen);
	if (!e && s->budget && v->mem > s->budget) {
		snprintf(err, errlen, "model needs ~%llu bytes, over the memory budget of %llu",
		         (unsigned long long)v->mem, (unsigned long long)s->budget);
		version_free(s, v);
		v = NULL;
		e = FLT_ELIMIT;
	}
	if (e && budgeted) {
		/* put the previous version back so the model keeps serving */
		char e2[256];
		if (load_version(s, name, oldver, oldpath, oldlat, &v, e2, sizeof(e2))) {
			flt_log_err("%s: could not reload version %llu after a failed swap: %s",
			            name, (unsigned long long)oldver, e2);
			v = NULL;
		}
	}
	pthread_mutex_lock(&s->mu);
	if (v)
		gone = publish(s, sl, v);
	else if (sl->swapping) {
		sl->swapping = 0;
		pthread_cond_broadcast(&s->swap_cv);
	}
	pthread_mutex_unlock(&s->mu);
	version_free(s, gone);
	if (!e)
		flt_log_info("%s: version %llu active", name, (unsigned long long)version);
out:
	pthread_mutex_unlock(&s->act_mu);
	return e;
}

flt_err flt_serving_remove(struct flt_serving *s, const char *name)
{
	struct version *gone = NULL;
	if (!s || !flt_ident_valid(name))
		return FLT_EINVAL;
	pthread_mutex_lock(&s->act_mu);
	pthread_mutex_lock(&s->mu);
	struct slot **pp = &s->slots;
	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	struct slot *sl = *pp;
	if (sl) {
		*pp = sl->next;
		if (sl->active) {
			sl->active->retired = 1;
			if (version_unlink_if_idle(s, sl->active))
				gone = sl->active;
		}
	}
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_unlock(&s->act_mu);
	version_free(s, gone);
	flt_free(sl);
	return sl ? FLT_OK : FLT_ENOTFOUND;
}

flt_err flt_serving_active(struct flt_serving *s, const char *name, uint64_t *version)
{
	flt_err e = FLT_ENOTFOUND;
	if (!s || !flt_ident_valid(name) || !version)
		return FLT_EINVAL;
	pthread_mutex_lock(&s->mu);
	struct slot *sl = slot_find(s, name);
	if (sl && sl->active) {
		*version = sl->active->version;
		e = FLT_OK;
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

flt_err flt_serving_stats(struct flt_serving *s, const char *name, uint64_t version,
                          struct flt_serving_stats *out)
{
	flt_err e = FLT_ENOTFOUND;
	if (!s || !flt_ident_valid(name) || !out)
		return FLT_EINVAL;
	pthread_mutex_lock(&s->mu);
	for (struct version *v = s->versions; v; v = v->next) {
		if (strcmp(v->name, name) || v->version != version)
			continue;
		pthread_mutex_lock(&v->st_mu);
		*out = v->st;
		out->latency_ms_max = v->latency_ms_max;
		out->p50_ns = flt_usage_hist_percentile(&v->hist, 50);
		out->p99_ns = flt_usage_hist_percentile(&v->hist, 99);
		out->swap_wait_p99_ns = flt_usage_hist_percentile(&v->wait_hist, 99);
		pthread_mutex_unlock(&v->st_mu);
		out->active_s = (double)(now_ns() - v->activated_ns) / 1e9;
		out->memory_bytes = v->mem;
		e = FLT_OK;
		break;
	}
	pthread_mutex_unlock(&s->mu);
	return e;
}

flt_err flt_serving_infer(struct flt_serving *s, const char *name, uint64_t version,
                          const struct flt_rt_tensor *inputs, size_t n_inputs,
                          struct flt_rt_tensor *outputs, size_t n_outputs, uint64_t *answered,
                          char *err, size_t errlen)
{
	struct version *v = NULL;
	uint64_t waited = 0, t0;
	char msg[256] = "";
	if (!s || !flt_ident_valid(name))
		return FLT_EINVAL;
	t0 = now_ns();
	enum flt_frame_status st = acquire(s, name, version, &v, &waited, msg, sizeof(msg));
	if (st) {
		copy_err(err, errlen, msg);
		return st == FLT_FRAME_BUSY ? FLT_EBUSY : FLT_ENOTFOUND;
	}
	st = run_model(s, v, inputs, n_inputs, outputs, n_outputs, msg, sizeof(msg));
	uint64_t bin = 0, bout = 0;
	for (size_t i = 0; i < n_inputs; i++)
		bin += inputs[i].size;
	for (size_t i = 0; st == FLT_FRAME_OK && i < n_outputs; i++)
		bout += outputs[i].size;
	account(s, v, st, now_ns() - t0, waited, bin, bout);
	uint64_t ver = v->version;
	release(s, v);
	if (st) {
		copy_err(err, errlen, msg);
		return st == FLT_FRAME_BAD_INPUT  ? FLT_EINVAL
		       : st == FLT_FRAME_INTERNAL ? FLT_ENOMEM
		                                  : FLT_EINTERNAL;
	}
	if (answered)
		*answered = ver;
	return FLT_OK;
}
