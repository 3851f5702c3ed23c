/* The resume map: one bit per chunk of an artifact, saved by the agent so a
 * download restarted after a crash or power cut fetches only what is missing.
 * The file carries the artifact hash and a trailing SHA-256 so a torn write or
 * a map left over from another artifact is never mistaken for progress. */
#include <string.h>

#include "bytes.h"
#include "flt/alloc.h"
#include "flt/chunk.h"

static const uint8_t map_magic[4] = {'F', 'L', 'T', 'R'};

enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_RESERVED = 5, /* 3 bytes, zero */
	OFF_ARTIFACT = 8,
	OFF_COUNT = 40,
	OFF_BITS = 44,
};

struct flt_resume_map {
	uint8_t artifact[FLT_SHA256_LEN];
	uint32_t count, present;
	uint8_t *bits; /* (count + 7) / 8 bytes, bit i is bits[i / 8] & (1 << (i % 8)) */
};

static size_t bits_len(uint32_t count)
{
	return ((size_t)count + 7) / 8;
}

flt_err flt_resume_map_new(const uint8_t artifact_sha256[FLT_SHA256_LEN], uint32_t count,
                           flt_resume_map **out)
{
	if (!artifact_sha256 || !out || count == 0 || count > FLT_CHUNK_MAX_COUNT)
		return FLT_EINVAL;
	flt_resume_map *m = flt_calloc(1, sizeof *m);
	if (!m)
		return FLT_ENOMEM;
	m->bits = flt_calloc(bits_len(count), 1);
	if (!m->bits) {
		flt_free(m);
		return FLT_ENOMEM;
	}
	memcpy(m->artifact, artifact_sha256, FLT_SHA256_LEN);
	m->count = count;
	*out = m;
	return FLT_OK;
}

void flt_resume_map_free(flt_resume_map *m)
{
	if (!m)
		return;
	flt_free(m->bits);
	flt_free(m);
}

bool flt_resume_map_test(const flt_resume_map *m, uint32_t i)
{
	return m && i < m->count && (m->bits[i / 8] >> (i % 8)) & 1u;
}

flt_err flt_resume_map_set(flt_resume_map *m, uint32_t i)
{
	if (!m || i >= m->count)
		return FLT_EINVAL;
	if (!flt_resume_map_test(m, i)) {
		m->bits[i / 8] |= (uint8_t)(1u << (i % 8));
		m->present++;
	}
	return FLT_OK;
}

flt_err flt_resume_map_clear(flt_resume_map *m, uint32_t i)
{
	if (!m || i >= m->count)
		return FLT_EINVAL;
	if (flt_resume_map_test(m, i)) {
		m->bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
		m->present--;
	}
	return FLT_OK;
}

uint32_t flt_resume_map_count(const flt_resume_map *m)
{
	return m->count;
}

uint32_t flt_resume_map_present(const flt_resume_map *m)
{
	return m->present;
}

bool flt_resume_map_complete(const flt_resume_map *m)
{
	return m->present == m->count;
}

bool flt_resume_map_next_missing(const flt_resume_map *m, uint32_t from, uint32_t *i)
{
	if (!m || !i)
		return false;
	uint32_t k = from;
	while (k < m->count) {
		/* Skip whole bytes of present chunks: large artifacts are mostly full. */
		if (k % 8 == 0 && m->bits[k / 8] == 0xff) {
			k += 8;
			continue;
		}
		if (!flt_resume_map_test(m, k)) {
			*i = k;
			return true;
		}
		k++;
	}
	return false;
}

bool flt_resume_map_first_missing(const flt_resume_map *m, uint32_t *i)
{
	return flt_resume_map_next_missing(m, 0, i);
}

flt_err flt_resume_map_serialize(const flt_resume_map *m, uint8_t **out, size_t *outlen)
{
	if (!m || !out || !outlen)
		return FLT_EINVAL;
	size_t nb = bits_len(m->count);
	size_t len = OFF_BITS + nb + FLT_SHA256_LEN;
	uint8_t *buf = flt_calloc(1, len);
	if (!buf)
		return FLT_ENOMEM;
	memcpy(buf + OFF_MAGIC, map_magic, sizeof map_magic);
	buf[OFF_VERSION] = FLT_RESUME_MAP_VERSION;
	memcpy(buf + OFF_ARTIFACT, m->artifact, FLT_SHA256_LEN);
	put_be32(buf + OFF_COUNT, m->count);
	memcpy(buf + OFF_BITS, m->bits, nb);
	flt_err e = flt_sha256(buf, OFF_BITS + nb, buf + OFF_BITS + nb);
	if (e != FLT_OK) {
		flt_free(buf);
		return e;
	}
	*out = buf;
	*outlen = len;
	return FLT_OK;
}

flt_err flt_resume_map_load(const uint8_t *buf, size_t len,
                            const uint8_t artifact_sha256[FLT_SHA256_LEN], uint32_t count,
                            flt_resume_map **out)
{
	uint8_t digest[FLT_SHA256_LEN];
	flt_resume_map *m = NULL;
	flt_err e;

	if (!buf || !artifact_sha256 || !out)
		return FLT_EINVAL;
	if (len < OFF_BITS + FLT_SHA256_LEN ||
	    memcmp(buf + OFF_MAGIC, map_magic, sizeof map_magic) != 0)
		return FLT_EPARSE;
	uint32_t n = get_be32(buf + OFF_COUNT);
	if (n == 0 || n > FLT_CHUNK_MAX_COUNT)
		return FLT_EPARSE;
	size_t nb = bits_len(n);
	if (len != OFF_BITS + nb + FLT_SHA256_LEN)
		return FLT_EPARSE;
	/* The checksum covers the version too, so check it first: a torn file
	 * must read as torn, not as "unsupported". */
	e = flt_sha256(buf, OFF_BITS + nb, digest);
	if (e != FLT_OK)
		return e;
	if (memcmp(digest, buf + OFF_BITS + nb, FLT_SHA256_LEN) != 0)
		return FLT_EPARSE;
	if (buf[OFF_VERSION] != FLT_RESUME_MAP_VERSION)
		return FLT_EUNSUPPORTED;
	if (buf[OFF_RESERVED] || buf[OFF_RESERVED + 1] || buf[OFF_RESERVED + 2])
		return FLT_EPARSE;
	if (n % 8 != 0 && (buf[OFF_BITS + nb - 1] >> (n % 8)) != 0)
		return FLT_EPARSE;
	if (n != count || memcmp(buf + OFF_ARTIFACT, artifact_sha256, FLT_SHA256_LEN) != 0)
		return FLT_ECONFLICT;

	e = flt_resume_map_new(artifact_sha256, n, &m);
	if (e != FLT_OK)
		return e;
	memcpy(m->bits, buf + OFF_BITS, nb);
	for (size_t k = 0; k < nb; k++)
		m->present += (uint32_t)__builtin_popcount(m->bits[k]);
	*out = m;
	return FLT_OK;
}
