/* The binary chunk message: a fixed 52-byte big-endian header, then the payload.
 * Every length is checked against the bytes actually present; nothing is cast
 * onto the buffer, so it works unaligned and on any host byte order. */
#include <string.h>

#include "bytes.h"
#include "flt/chunk.h"

static const uint8_t chunk_magic[4] = {'F', 'L', 'T', 'C'};

/* Offsets in the header. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_FLAGS = 5,
	OFF_RESERVED = 6,
	OFF_ARTIFACT = 8,
	OFF_INDEX = 40,
	OFF_COUNT = 44,
	OFF_LEN = 48,
};

flt_err flt_chunk_decode(const uint8_t *buf, size_t len, size_t max_payload, struct flt_chunk *out)
{
	if (!buf || !out)
		return FLT_EINVAL;
	if (max_payload == 0 || max_payload > FLT_CHUNK_MAX_PAYLOAD)
		max_payload = FLT_CHUNK_MAX_PAYLOAD;
	if (len < FLT_CHUNK_HEADER_LEN ||
	    memcmp(buf + OFF_MAGIC, chunk_magic, sizeof chunk_magic) != 0)
		return FLT_EPARSE;
	if (buf[OFF_VERSION] != FLT_CHUNK_VERSION)
		return FLT_EUNSUPPORTED;
	if (buf[OFF_FLAGS] != 0 || get_be16(buf + OFF_RESERVED) != 0)
		return FLT_EPARSE;
	uint32_t index = get_be32(buf + OFF_INDEX);
	uint32_t count = get_be32(buf + OFF_COUNT);
	uint32_t plen = get_be32(buf + OFF_LEN);
	if (count == 0 || index >= count || plen == 0)
		return FLT_EPARSE;
	if (plen > max_payload)
		return FLT_ELIMIT;
	if ((size_t)plen != len - FLT_CHUNK_HEADER_LEN)
		return FLT_EPARSE;
	memcpy(out->artifact_sha256, buf + OFF_ARTIFACT, FLT_SHA256_LEN);
	out->index = index;
	out->count = count;
	out->len = plen;
	out->data = buf + FLT_CHUNK_HEADER_LEN;
	return FLT_OK;
}

flt_err flt_chunk_encode_header(const struct flt_chunk *c, uint8_t out[FLT_CHUNK_HEADER_LEN])
{
	if (!c || !out || c->count == 0 || c->index >= c->count || c->len == 0 ||
	    c->len > FLT_CHUNK_MAX_PAYLOAD)
		return FLT_EINVAL;
	memcpy(out + OFF_MAGIC, chunk_magic, sizeof chunk_magic);
	out[OFF_VERSION] = FLT_CHUNK_VERSION;
	out[OFF_FLAGS] = 0;
	put_be16(out + OFF_RESERVED, 0);
	memcpy(out + OFF_ARTIFACT, c->artifact_sha256, FLT_SHA256_LEN);
	put_be32(out + OFF_INDEX, c->index);
	put_be32(out + OFF_COUNT, c->count);
	put_be32(out + OFF_LEN, c->len);
	return FLT_OK;
}

flt_err flt_chunk_encode(const struct flt_chunk *c, uint8_t *buf, size_t cap, size_t *outlen)
{
	if (!c || !buf || !outlen || !c->data)
		return FLT_EINVAL;
	uint8_t hdr[FLT_CHUNK_HEADER_LEN];
	flt_err e = flt_chunk_encode_header(c, hdr);
	if (e != FLT_OK)
		return e;
	if (cap < FLT_CHUNK_HEADER_LEN || cap - FLT_CHUNK_HEADER_LEN < c->len)
		return FLT_ELIMIT;
	memcpy(buf, hdr, sizeof hdr);
	memcpy(buf + FLT_CHUNK_HEADER_LEN, c->data, c->len);
	*outlen = FLT_CHUNK_HEADER_LEN + (size_t)c->len;
	return FLT_OK;
}
