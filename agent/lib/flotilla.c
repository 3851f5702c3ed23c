/* libflotilla: connects to the agent's inference socket, encodes requests,
 * waits for the reply within a deadline, decodes it with the same codec the
 * agent uses. libc only, so it allocates with malloc (not flt_malloc). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "flotilla.h"
#include "flt/sockframe.h"

/* The client refuses replies above this rather than allocate whatever a
 * length prefix says. */
#define MAX_REPLY (256u << 20)

struct flotilla_client {
	int fd;
	int timeout_ms;
	uint32_t next_id;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char err[512];
};

static int fail(flotilla_client *c, int st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(flotilla_client *c, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return st;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop(flotilla_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int do_connect(flotilla_client *c, int64_t deadline)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(c, FLOTILLA_EIO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* a Unix socket's backlog full gives EAGAIN: wait for room until the deadline */
		int en = errno;
		while (en == EAGAIN && now_ms() < deadline) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
			en = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
		}
		if (en && en != EISCONN) {
			close(fd);
			return fail(c, en == EAGAIN ? FLOTILLA_ETIMEOUT : FLOTILLA_EIO,
			            "cannot connect to the agent at %s: %s (is flotilla-agent "
			            "running, and are you in its socket group?)",
			            c->path, strerror(en));
		}
	}
	c->fd = fd;
	return FLOTILLA_OK;
}

int flotilla_connect(const char *socket_path, int timeout_ms, flotilla_client **out)
{
	if (!out)
		return FLOTILLA_EINVAL;
	if (!socket_path)
		socket_path = FLOTILLA_DEFAULT_SOCKET;
	if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return FLOTILLA_EINVAL;
	flotilla_client *c = calloc(1, sizeof(*c));
	if (!c)
		return FLOTILLA_ENOMEM;
	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->next_id = 1;
	memcpy(c->path, socket_path, strlen(socket_path) + 1);
	int st = do_connect(c, now_ms() + c->timeout_ms);
	if (st) {
		free(c);
		return st;
	}
	*out = c;
	return FLOTILLA_OK;
}

void flotilla_set_timeout(flotilla_client *c, int timeout_ms)
{
	if (c)
		c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
}

const char *flotilla_last_error(const flotilla_client *c)
{
	return c ? c->err : "no client";
}

const char *flotilla_strstatus(int status)
{
	switch (status) {
	case FLOTILLA_EINVAL: return "invalid argument";
	case FLOTILLA_EIO: return "connection failed";
	case FLOTILLA_ETIMEOUT: return "timeout";
	case FLOTILLA_ENOMEM: return "out of memory";
	case FLOTILLA_EPROTO: return "protocol error";
	default: return status >= 0 ? flt_frame_status_name((uint32_t)status) : "unknown";
	}
}

/* Waits for EVENTS on the socket until DEADLINE; 0 ready, else a status. */
static int wait_fd(flotilla_client *c, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return fail(c, FLOTILLA_ETIMEOUT, "no reply from the agent within %d ms",
			            c->timeout_ms);
		struct pollfd p = {.fd = c->fd, .events = events};
		int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return fail(c, FLOTILLA_EIO, "poll: %s", strerror(errno));
	}
}

static int send_all(flotilla_client *c, const uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return fail(c, FLOTILLA_EIO, "sending to the agent: %s",
				            strerror(errno));
			int st = wait_fd(c, POLLOUT, deadline);
			if (st)
				return st;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return FLOTILLA_OK;
}

static int recv_all(flotilla_client *c, uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r == 0)
			return fail(c, FLOTILLA_EIO, "the agent closed the connection");
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return fail(c, FLOTILLA_EIO, "reading from the agent: %s",
				            strerror(errno));
			int st = wait_fd(c, POLLIN, deadline);
			if (st)
				return st;
			continue;
		}
		p += r;
		n -= (size_t)r;
	}
	return FLOTILLA_OK;
}

/* Builds the caller's result from a decoded response; FRAME moves into it. */
static int make_result(flotilla_client *c, const struct flt_frame_response *r, uint8_t *frame,
                       struct flotilla_result **out)
{
	size_t names = 0;
	for (size_t i = 0; i < r->n_tensors; i++)
		names += r->tensors[i].name_len + 1;
	size_t head =
	    sizeof(struct flotilla_result) + r->n_tensors * sizeof(struct flotilla_tensor);
	/* one block: result, tensor array, names; the frame is kept for the data */
	uint8_t *blk = malloc(head + names + sizeof(uint8_t *));
	if (!blk)
		return fail(c, FLOTILLA_ENOMEM, "out of memory for the reply");
	struct flotilla_result *res = (struct flotilla_result *)(void *)blk;
	res->version = r->version;
	res->n_outputs = r->n_tensors;
	res->outputs = (struct flotilla_tensor *)(void *)(blk + sizeof(*res));
	char *np = (char *)blk + head;
	for (size_t i = 0; i < r->n_tensors; i++) {
		const struct flt_frame_tensor *t = &r->tensors[i];
		struct flotilla_tensor *o = &res->outputs[i];
		memset(o, 0, sizeof(*o));
		memcpy(np, t->name, t->name_len);
		np[t->name_len] = 0;
		o->name = np;
		np += t->name_len + 1;
		o->dtype = t->dtype;
		o->rank = (int32_t)t->rank;
		memcpy(o->dims, t->dims, sizeof(o->dims));
		o->data = t->data;
		o->size = t->size;
	}
	memcpy(np, &frame, sizeof(frame));
	*out = res;
	return FLOTILLA_OK;
}

int flotilla_infer(flotilla_client *c, const char *model, uint64_t version,
                   const struct flotilla_tensor *inputs, size_t n_inputs,
                   struct flotilla_result **out)
{
	struct flt_frame_request *q = NULL;
	struct flt_frame_response *resp = NULL;
	uint8_t *req = NULL, *frame = NULL, hdr[FLT_FRAME_HEADER];
	size_t len = 0;
	int st = FLOTILLA_EINVAL;
	if (!c || !out)
		return FLOTILLA_EINVAL;
	c->err[0] = 0;
	if (!model || !model[0] || strlen(model) > FLT_FRAME_NAME_MAX ||
	    n_inputs > FLOTILLA_MAX_TENSORS || (n_inputs && !inputs))
		return fail(c, FLOTILLA_EINVAL,
		            "bad arguments: model name 1..64 bytes, at most 64 inputs");
	int64_t deadline = now_ms() + c->timeout_ms;
	q = calloc(1, sizeof(*q));
	resp = malloc(sizeof(*resp));
	if (!q || !resp) {
		st = fail(c, FLOTILLA_ENOMEM, "out of memory");
		goto out;
	}
	q->model = model;
	q->model_len = strlen(model);
	q->version = version;
	q->n_tensors = n_inputs;
	for (size_t i = 0; i < n_inputs; i++) {
		const struct flotilla_tensor *t = &inputs[i];
		if (!t->name || t->rank < 0 || t->rank > FLOTILLA_MAX_RANK ||
		    (t->size && !t->data)) {
			st = fail(c, FLOTILLA_EINVAL,
			          "input %zu: name missing, rank out of 0..8 or no data", i);
			goto out;
		}
		q->tensors[i].name = t->name;
		q->tensors[i].name_len = strlen(t->name);
		q->tensors[i].dtype = t->dtype;
		q->tensors[i].rank = (uint32_t)t->rank;
		memcpy(q->tensors[i].dims, t->dims, sizeof(t->dims));
		q->tensors[i].data = t->data;
		q->tensors[i].size = t->size;
	}
	size_t n = flt_frame_request_size(q);
	if (!n) {
		st = fail(c, FLOTILLA_EINVAL,
		          "inputs cannot be encoded: unknown dtype, size not product(dims) * "
		          "element size, or over 4 GiB");
		goto out;
	}
	if (!(req = malloc(n))) {
		st = fail(c, FLOTILLA_ENOMEM, "out of memory for a %zu-byte request", n);
		goto out;
	}
	uint32_t id = c->next_id++;
	if (flt_frame_encode_request(id, q, req, n, &len)) {
		st = fail(c, FLOTILLA_EINVAL, "inputs cannot be encoded");
		goto out;
	}
	if (c->fd < 0 && (st = do_connect(c, deadline)))
		goto out;
	if ((st = send_all(c, req, len, deadline)) ||
	    (st = recv_all(c, hdr, sizeof(hdr), deadline)))
		goto broken;
	struct flt_frame_header h;
	if (flt_frame_header_decode(hdr, MAX_REPLY, &h) || h.type != FLT_FRAME_RESPONSE) {
		st = fail(c, FLOTILLA_EPROTO,
		          "the agent's reply has a bad header (or is over 256 MiB)");
		goto broken;
	}
	size_t flen = (size_t)FLT_FRAME_HEADER + h.body_len;
	if (!(frame = malloc(flen))) {
		st = fail(c, FLOTILLA_ENOMEM, "out of memory for a %zu-byte reply", flen);
		goto broken;
	}
	memcpy(frame, hdr, sizeof(hdr));
	if ((st = recv_all(c, frame + FLT_FRAME_HEADER, h.body_len, deadline)))
		goto broken;
	const char *why = "";
	if (flt_frame_decode_response(frame, flen, MAX_REPLY, &h, resp, &why) ||
	    h.request_id != id) {
		st = fail(c, FLOTILLA_EPROTO, "the agent's reply does not decode: %s",
		          h.request_id != id ? "wrong request id" : why);
		goto broken;
	}
	if (resp->status != FLT_FRAME_OK) {
		st = resp->status < FLT_FRAME_STATUS_COUNT_ ? (int)resp->status : FLOTILLA_EPROTO;
		fail(c, st, "%s: %.*s", flt_frame_status_name(resp->status), (int)resp->message_len,
		     resp->message);
		goto out;
	}
	if ((st = make_result(c, resp, frame, out)))
		goto out;
	frame = NULL;
	goto out;
broken:
	drop(c); /* the stream may be out of step: start afresh next call */
out:
	free(frame);
	free(req);
	free(q);
	free(resp);
	return st;
}

void flotilla_result_free(struct flotilla_result *r)
{
	if (!r)
		return;
	uint8_t *frame;
	const uint8_t *blk = (const uint8_t *)r;
	size_t head = sizeof(*r) + r->n_outputs * sizeof(struct flotilla_tensor);
	size_t names = 0;
	for (size_t i = 0; i < r->n_outputs; i++)
		names += strlen(r->outputs[i].name) + 1;
	memcpy(&frame, blk + head + names, sizeof(frame));
	free(frame);
	free(r);
}

void flotilla_close(flotilla_client *c)
{
	if (!c)
		return;
	drop(c);
	free(c);
}
