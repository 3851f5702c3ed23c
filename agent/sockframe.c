/* Frame codec of the local inference socket: strict, bounded decoding from
 * memory and exact-size encoding. Pure and libc-only (libflotilla builds it
 * in); every read is checked against the remaining bytes of the frame. */
#include <string.h>

#include "flt/sockframe.h"

struct rd {
	const uint8_t *base; /* frame start: alignment is measured from here */
	size_t pos, len;
	const char *why;
};

static int rd_need(struct rd *r, size_t n, const char *why)
{
	if (r->len - r->pos < n) {
		if (!r->why)
			r->why = why;
		return -1;
	}
	return 0;
}

static uint64_t ld_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static int rd_u(struct rd *r, unsigned n, uint64_t *v, const char *why)
{
	if (rd_need(r, n, why))
		return -1;
	*v = ld_le(r->base + r->pos, n);
	r->pos += n;
	return 0;
}

static void st_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

const char *flt_frame_status_name(uint32_t status)
{
	static const char *const names[] = {"ok",        "bad_request", "not_found",
	                                    "bad_input", "busy",        "runtime",
	                                    "too_large", "internal",    "shutdown"};
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}

size_t flt_frame_dtype_size(int32_t dtype)
{
	switch (dtype) {
	case 2:
	case 3:
	case 9: return 1; /* uint8, int8, bool */
	case 4:
	case 5:
	case 10:
	case 16: return 2; /* uint16, int16, float16, bfloat16 */
	case 1:
	case 6:
	case 12: return 4; /* float, int32, uint32 */
	case 7:
	case 11:
	case 13: return 8; /* int64, double, uint64 */
	default: return 0;
	}
}

flt_err flt_frame_header_decode(const void *buf, uint32_t max_frame, struct flt_frame_header *h)
{
	const uint8_t *p = buf;
	if (ld_le(p, 4) != FLT_FRAME_MAGIC)
		return FLT_EPARSE;
	if (p[4] != FLT_FRAME_VERSION)
		return FLT_EUNSUPPORTED;
	if ((p[5] != FLT_FRAME_REQUEST && p[5] != FLT_FRAME_RESPONSE) || p[6] || p[7])
		return FLT_EPARSE;
	uint32_t body = (uint32_t)ld_le(p + 12, 4);
	if (max_frame < FLT_FRAME_HEADER || body > max_frame - FLT_FRAME_HEADER)
		return FLT_ELIMIT;
	h->type = p[5];
	h->request_id = (uint32_t)ld_le(p + 8, 4);
	h->body_len = body;
	return FLT_OK;
}

/* product(dims) * esize without overflow; 0 on success. */
static int tensor_bytes(int32_t dtype, uint32_t rank, const int64_t *dims, uint64_t *out)
{
	uint64_t n = flt_frame_dtype_size(dtype);
	if (!n || rank > FLT_FRAME_MAX_RANK)
		return -1;
	for (uint32_t i = 0; i < rank; i++) {
		if (dims[i] < 0)
			return -1;
		uint64_t d = (uint64_t)dims[i];
		if (d && n > UINT64_MAX / d)
			return -1;
		n *= d;
	}
	*out = n;
	return 0;
}

static size_t pad_to(size_t off)
{
	return (FLT_FRAME_ALIGN - off % FLT_FRAME_ALIGN) % FLT_FRAME_ALIGN;
}

static int rd_tensor(struct rd *r, struct flt_frame_tensor *t)
{
	uint64_t v, size;
	if (rd_u(r, 2, &v, "truncated tensor name length"))
		return -1;
	if (v == 0 || v > FLT_FRAME_TNAME_MAX) {
		r->why = "tensor name empty or too long";
		return -1;
	}
	if (rd_need(r, (size_t)v, "truncated tensor name"))
		return -1;
	t->name = (const char *)r->base + r->pos;
	t->name_len = (size_t)v;
	if (memchr(t->name, 0, t->name_len)) {
		r->why = "NUL in tensor name";
		return -1;
	}
	r->pos += (size_t)v;
	if (rd_u(r, 4, &v, "truncated dtype"))
		return -1;
	t->dtype = (int32_t)(uint32_t)v;
	if (rd_u(r, 4, &v, "truncated rank"))
		return -1;
	if (v > FLT_FRAME_MAX_RANK) {
		r->why = "rank over 8";
		return -1;
	}
	t->rank = (uint32_t)v;
	for (uint32_t i = 0; i < t->rank; i++) {
		if (rd_u(r, 8, &v, "truncated dims"))
			return -1;
		t->dims[i] = (int64_t)v;
	}
	for (uint32_t i = t->rank; i < FLT_FRAME_MAX_RANK; i++)
		t->dims[i] = 0;
	if (tensor_bytes(t->dtype, t->rank, t->dims, &size)) {
		r->why = "unknown dtype, negative dimension or size overflow";
		return -1;
	}
	if (rd_u(r, 8, &v, "truncated data length"))
		return -1;
	if (v != size) {
		r->why = "data length is not product(dims) * element size";
		return -1;
	}
	size_t pad = pad_to(r->pos);
	if (rd_need(r, pad, "truncated padding"))
		return -1;
	for (size_t i = 0; i < pad; i++)
		if (r->base[r->pos + i]) {
			r->why = "non-zero padding";
			return -1;
		}
	r->pos += pad;
	if (v > r->len - r->pos) {
		r->why = "tensor data runs past the frame";
		return -1;
	}
	t->data = r->base + r->pos;
	t->size = (size_t)v;
	r->pos += (size_t)v;
	return 0;
}

static int rd_tensors(struct rd *r, size_t *n, struct flt_frame_tensor *ts)
{
	uint64_t v;
	if (rd_u(r, 4, &v, "truncated tensor count"))
		return -1;
	if (v > FLT_FRAME_MAX_TENSORS) {
		r->why = "more than 64 tensors";
		return -1;
	}
	for (size_t i = 0; i < (size_t)v; i++)
		if (rd_tensor(r, &ts[i]))
			return -1;
	*n = (size_t)v;
	return 0;
}

static flt_err start(struct rd *r, const void *frame, size_t len, uint32_t max_frame,
                     struct flt_frame_header *h, uint8_t type)
{
	memset(r, 0, sizeof(*r));
	r->base = frame;
	r->len = len;
	if (len < FLT_FRAME_HEADER) {
		r->why = "shorter than a header";
		return FLT_EPARSE;
	}
	flt_err e = flt_frame_header_decode(frame, max_frame, h);
	if (e) {
		r->why = e == FLT_ELIMIT         ? "frame over the size limit"
		         : e == FLT_EUNSUPPORTED ? "unsupported protocol version"
		                                 : "bad header";
		return e;
	}
	if (h->type != type) {
		r->why = "wrong frame type";
		return FLT_EINVAL;
	}
	if ((uint64_t)len != (uint64_t)FLT_FRAME_HEADER + h->body_len) {
		r->why = "frame length does not match the header";
		return FLT_EPARSE;
	}
	r->pos = FLT_FRAME_HEADER;
	return FLT_OK;
}

flt_err flt_frame_decode_request(const void *frame, size_t len, uint32_t max_frame,
                                 struct flt_frame_header *h, struct flt_frame_request *out,
                                 const char **why)
{
	struct rd r;
	struct flt_frame_header hh;
	struct flt_frame_request q;
	uint64_t v;
	flt_err e = start(&r, frame, len, max_frame, &hh, FLT_FRAME_REQUEST);
	if (e)
		goto out;
	e = FLT_EPARSE;
	if (rd_u(&r, 1, &v, "truncated model name length"))
		goto out;
	if (v == 0 || v > FLT_FRAME_NAME_MAX) {
		r.why = "model name empty or too long";
		goto out;
	}
	if (rd_need(&r, (size_t)v, "truncated model name"))
		goto out;
	q.model = (const char *)r.base + r.pos;
	q.model_len = (size_t)v;
	r.pos += (size_t)v;
	if (rd_u(&r, 8, &q.version, "truncated version"))
		goto out;
	if (rd_tensors(&r, &q.n_tensors, q.tensors))
		goto out;
	if (r.pos != r.len) {
		r.why = "trailing bytes after the last tensor";
		goto out;
	}
	*h = hh;
	memcpy(out, &q, sizeof(q));
	e = FLT_OK;
out:
	if (e && why)
		*why = r.why ? r.why : "malformed";
	return e;
}

flt_err flt_frame_decode_response(const void *frame, size_t len, uint32_t max_frame,
                                  struct flt_frame_header *h, struct flt_frame_response *out,
                                  const char **why)
{
	struct rd r;
	struct flt_frame_header hh;
	struct flt_frame_response q;
	uint64_t v;
	flt_err e = start(&r, frame, len, max_frame, &hh, FLT_FRAME_RESPONSE);
	if (e)
		goto out;
	e = FLT_EPARSE;
	if (rd_u(&r, 4, &v, "truncated status"))
		goto out;
	q.status = (uint32_t)v;
	if (rd_u(&r, 8, &q.version, "truncated version"))
		goto out;
	if (rd_tensors(&r, &q.n_tensors, q.tensors))
		goto out;
	if (q.status != FLT_FRAME_OK && q.n_tensors) {
		r.why = "tensors in an error response";
		goto out;
	}
	if (rd_u(&r, 2, &v, "truncated message length"))
		goto out;
	if (v > FLT_FRAME_MSG_MAX) {
		r.why = "message too long";
		goto out;
	}
	if (rd_need(&r, (size_t)v, "truncated message"))
		goto out;
	q.message = (const char *)r.base + r.pos;
	q.message_len = (size_t)v;
	r.pos += (size_t)v;
	if (r.pos != r.len) {
		r.why = "trailing bytes after the message";
		goto out;
	}
	*h = hh;
	memcpy(out, &q, sizeof(q));
	e = FLT_OK;
out:
	if (e && why)
		*why = r.why ? r.why : "malformed";
	return e;
}

/* ---- encoding ------------------------------------------------------------ */

/* Adds a tensor's encoded size at offset *off; -1 if it cannot be encoded. */
static int size_tensor(const struct flt_frame_tensor *t, uint64_t *off)
{
	uint64_t bytes;
	if (!t->name_len || t->name_len > FLT_FRAME_TNAME_MAX ||
	    tensor_bytes(t->dtype, t->rank, t->dims, &bytes) || bytes != t->size ||
	    bytes > UINT32_MAX)
		return -1;
	*off += 2 + t->name_len + 4 + 4 + 8ull * t->rank + 8;
	*off += pad_to((size_t)(*off % FLT_FRAME_ALIGN));
	*off += bytes;
	return *off > UINT32_MAX ? -1 : 0;
}

static size_t finish_size(uint64_t off)
{
	return off > UINT32_MAX || off > SIZE_MAX ? 0 : (size_t)off;
}

size_t flt_frame_request_size(const struct flt_frame_request *r)
{
	if (!r->model_len || r->model_len > FLT_FRAME_NAME_MAX ||
	    r->n_tensors > FLT_FRAME_MAX_TENSORS)
		return 0;
	uint64_t off = FLT_FRAME_HEADER + 1 + r->model_len + 8 + 4;
	for (size_t i = 0; i < r->n_tensors; i++)
		if (size_tensor(&r->tensors[i], &off))
			return 0;
	return finish_size(off);
}

size_t flt_frame_response_size(const struct flt_frame_response *r)
{
	if (r->n_tensors > FLT_FRAME_MAX_TENSORS || r->message_len > FLT_FRAME_MSG_MAX ||
	    (r->status != FLT_FRAME_OK && r->n_tensors))
		return 0;
	uint64_t off = FLT_FRAME_HEADER + 4 + 8 + 4;
	for (size_t i = 0; i < r->n_tensors; i++)
		if (size_tensor(&r->tensors[i], &off))
			return 0;
	off += 2 + r->message_len;
	return finish_size(off);
}

static void put_header(uint8_t *p, uint8_t type, uint32_t id, size_t total)
{
	st_le(p, FLT_FRAME_MAGIC, 4);
	p[4] = FLT_FRAME_VERSION;
	p[5] = type;
	p[6] = p[7] = 0;
	st_le(p + 8, id, 4);
	st_le(p + 12, (uint32_t)(total - FLT_FRAME_HEADER), 4);
}

static size_t put_tensors(uint8_t *p, size_t off, size_t n, const struct flt_frame_tensor *ts)
{
	st_le(p + off, n, 4);
	off += 4;
	for (size_t i = 0; i < n; i++) {
		const struct flt_frame_tensor *t = &ts[i];
		st_le(p + off, t->name_len, 2);
		memcpy(p + off + 2, t->name, t->name_len);
		off += 2 + t->name_len;
		st_le(p + off, (uint32_t)t->dtype, 4);
		st_le(p + off + 4, t->rank, 4);
		off += 8;
		for (uint32_t d = 0; d < t->rank; d++, off += 8)
			st_le(p + off, (uint64_t)t->dims[d], 8);
		st_le(p + off, t->size, 8);
		off += 8;
		size_t pad = pad_to(off);
		memset(p + off, 0, pad);
		off += pad;
		if (t->size)
			memcpy(p + off, t->data, t->size);
		off += t->size;
	}
	return off;
}

flt_err flt_frame_encode_request(uint32_t request_id, const struct flt_frame_request *r, void *buf,
                                 size_t cap, size_t *len)
{
	size_t n = flt_frame_request_size(r);
	if (!n)
		return FLT_EINVAL;
	if (cap < n)
		return FLT_ELIMIT;
	uint8_t *p = buf;
	put_header(p, FLT_FRAME_REQUEST, request_id, n);
	size_t off = FLT_FRAME_HEADER;
	p[off++] = (uint8_t)r->model_len;
	memcpy(p + off, r->model, r->model_len);
	off += r->model_len;
	st_le(p + off, r->version, 8);
	off = put_tensors(p, off + 8, r->n_tensors, r->tensors);
	*len = off;
	return off == n ? FLT_OK : FLT_EINTERNAL;
}

flt_err flt_frame_encode_response(uint32_t request_id, const struct flt_frame_response *r,
                                  void *buf, size_t cap, size_t *len)
{
	size_t n = flt_frame_response_size(r);
	if (!n)
		return FLT_EINVAL;
	if (cap < n)
		return FLT_ELIMIT;
	uint8_t *p = buf;
	put_header(p, FLT_FRAME_RESPONSE, request_id, n);
	size_t off = FLT_FRAME_HEADER;
	st_le(p + off, r->status, 4);
	st_le(p + off + 4, r->version, 8);
	off = put_tensors(p, off + 12, r->n_tensors, r->tensors);
	st_le(p + off, r->message_len, 2);
	if (r->message_len)
		memcpy(p + off + 2, r->message, r->message_len);
	off += 2 + r->message_len;
	*len = off;
	return off == n ? FLT_OK : FLT_EINTERNAL;
}
