/* Artifacts travel as chunks: the binary chunk message (dev/<id>/down/chunk/…,
 * art/<sha256>/…), the chunk index (every chunk's SHA-256, checked against the
 * hash the signed manifest carries) and the resume map the agent persists to
 * fetch only what is missing. All integers are big-endian; formats are in
 * docs/protocol.md ("Chunks and chunk index", "Resume map"). Pure: bytes in, structs out. */
#ifndef FLT_CHUNK_H
#define FLT_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/crypto.h"
#include "flt/error.h"
#include "flt/protocol.h"

#define FLT_CHUNK_VERSION    1
#define FLT_CHUNK_HEADER_LEN 52
/* Upper bound on one chunk's payload whatever the caller configures. */
#define FLT_CHUNK_MAX_PAYLOAD (16u * 1024u * 1024u)
/* Upper bound on the number of chunks of one artifact; callers pass lower limits. */
#define FLT_CHUNK_MAX_COUNT FLT_MAX_CHUNKS

/* ---- chunk message --------------------------------------------------------------- */

struct flt_chunk {
	uint8_t artifact_sha256[FLT_SHA256_LEN];
	uint32_t index;      /* 0-based, < count */
	uint32_t count;      /* chunks in the artifact, >= 1 */
	uint32_t len;        /* payload bytes, >= 1 */
	const uint8_t *data; /* borrowed: points into the decoded buffer */
};

/* Decodes a chunk message of exactly `len` bytes. Refuses (FLT_EPARSE) a short
 * buffer, wrong magic, nonzero flags or reserved bytes, count 0, index >= count,
 * an empty payload, and a payload length that differs from what follows the
 * header; FLT_EUNSUPPORTED for another protocol version; FLT_ELIMIT when the
 * payload exceeds max_payload (0 means FLT_CHUNK_MAX_PAYLOAD). On success *out
 * is set and out->data points into buf. */
FLT_WUR flt_err flt_chunk_decode(const uint8_t *buf, size_t len, size_t max_payload,
                                 struct flt_chunk *out);

/* Writes the 52-byte header for c (c->data unused). FLT_EINVAL if c breaks
 * the rules flt_chunk_decode enforces. */
FLT_WUR flt_err flt_chunk_encode_header(const struct flt_chunk *c,
                                        uint8_t out[FLT_CHUNK_HEADER_LEN]);

/* Writes header and payload into buf (capacity cap); *outlen gets
 * FLT_CHUNK_HEADER_LEN + c->len. FLT_EINVAL as above, FLT_ELIMIT if cap is too small. */
FLT_WUR flt_err flt_chunk_encode(const struct flt_chunk *c, uint8_t *buf, size_t cap,
                                 size_t *outlen);

/* ---- chunk index ------------------------------------------------------------------ */

#define FLT_CHUNK_INDEX_VERSION    1
#define FLT_CHUNK_INDEX_HEADER_LEN 56

typedef struct flt_chunk_index {
	uint8_t artifact_sha256[FLT_SHA256_LEN];
	uint64_t artifact_size;            /* >= 1 */
	uint32_t chunk_size;               /* >= 1; every chunk but the last has this size */
	uint32_t count;                    /* == ceil(artifact_size / chunk_size) */
	uint8_t (*hashes)[FLT_SHA256_LEN]; /* owned, count entries */
} flt_chunk_index;

/* What the verified manifest says about the artifact; the index must agree. */
struct flt_chunk_index_expect {
	const uint8_t *index_sha256;    /* required: hash of the index bytes */
	const uint8_t *artifact_sha256; /* required */
	uint64_t artifact_size;
	uint32_t chunk_size;
	uint32_t max_count; /* 0 means FLT_CHUNK_MAX_COUNT */
};

/* Decodes a chunk index of exactly `len` bytes. The SHA-256 of the bytes is
 * checked against exp->index_sha256 before anything is parsed (FLT_EVERIFY).
 * Then FLT_EPARSE for wrong magic, nonzero flags/reserved, zero size or chunk
 * size, a count inconsistent with size and chunk size, or a length other than
 * header + 32 * count; FLT_EUNSUPPORTED for another version; FLT_ELIMIT for
 * count > max_count; FLT_EVERIFY when artifact hash, size or chunk size differ
 * from exp; FLT_EINVAL for NULL arguments; FLT_ENOMEM. *out owned
 * (flt_chunk_index_free). */
FLT_WUR flt_err flt_chunk_index_decode(const uint8_t *buf, size_t len,
                                       const struct flt_chunk_index_expect *exp,
                                       flt_chunk_index **out);

/* Expected payload length of chunk i (chunk_size, or the remainder for the
 * last one); 0 if i >= count. */
uint32_t flt_chunk_index_chunk_len(const flt_chunk_index *idx, uint32_t i);

/* Byte offset of chunk i in the artifact (i * chunk_size). */
uint64_t flt_chunk_index_chunk_offset(const flt_chunk_index *idx, uint32_t i);

/* Checks chunk i's bytes: FLT_OK when len equals flt_chunk_index_chunk_len and
 * the SHA-256 matches; FLT_EVERIFY for a wrong length or hash; FLT_EINVAL if i
 * is out of range or data is NULL. */
FLT_WUR flt_err flt_chunk_index_check(const flt_chunk_index *idx, uint32_t i, const uint8_t *data,
                                      size_t len);

void flt_chunk_index_free(flt_chunk_index *idx);

/* Builds a chunk index while the artifact streams through (any piece sizes).
 * The controller uses the same pass to learn the artifact's hash and size. */
typedef struct flt_chunk_index_builder flt_chunk_index_builder;

/* chunk_size >= 1; max_count 0 means FLT_CHUNK_MAX_COUNT. FLT_EINVAL, FLT_ENOMEM. */
FLT_WUR flt_err flt_chunk_index_builder_new(uint32_t chunk_size, uint32_t max_count,
                                            flt_chunk_index_builder **out);
/* FLT_ELIMIT once the artifact would need more than max_count chunks; the
 * builder is then unusable. FLT_ENOMEM. */
FLT_WUR flt_err flt_chunk_index_builder_update(flt_chunk_index_builder *b, const void *data,
                                               size_t len);
/* Finishes: *out (owned, flt_free) and *outlen get the encoded index;
 * index_sha256 and artifact_sha256 (each may be NULL) get the hashes the
 * manifest carries; *artifact_size (may be NULL) the total size. FLT_EINVAL for
 * an empty artifact or an earlier failure, FLT_ENOMEM. */
FLT_WUR flt_err flt_chunk_index_builder_finish(flt_chunk_index_builder *b, uint8_t **out,
                                               size_t *outlen, uint8_t index_sha256[FLT_SHA256_LEN],
                                               uint8_t artifact_sha256[FLT_SHA256_LEN],
                                               uint64_t *artifact_size);
void flt_chunk_index_builder_free(flt_chunk_index_builder *b);

/* One-shot: the builder over an artifact in memory. Errors as the builder. */
FLT_WUR flt_err flt_chunk_index_build(const uint8_t *artifact, size_t len, uint32_t chunk_size,
                                      uint8_t **out, size_t *outlen,
                                      uint8_t index_sha256[FLT_SHA256_LEN]);

/* ---- resume map ---------------------------------------------------------------------- */

#define FLT_RESUME_MAP_VERSION 1

/* Which chunks of one artifact are present and checked. */
typedef struct flt_resume_map flt_resume_map;

/* An empty map for `count` chunks (1..FLT_CHUNK_MAX_COUNT) of the artifact
 * with the given hash. FLT_EINVAL, FLT_ENOMEM. *out owned. */
FLT_WUR flt_err flt_resume_map_new(const uint8_t artifact_sha256[FLT_SHA256_LEN], uint32_t count,
                                   flt_resume_map **out);
void flt_resume_map_free(flt_resume_map *m);

/* Marks chunk i present / missing. FLT_EINVAL if i >= count. */
FLT_WUR flt_err flt_resume_map_set(flt_resume_map *m, uint32_t i);
FLT_WUR flt_err flt_resume_map_clear(flt_resume_map *m, uint32_t i);
/* False for i >= count. */
bool flt_resume_map_test(const flt_resume_map *m, uint32_t i);
uint32_t flt_resume_map_count(const flt_resume_map *m);   /* chunks in the artifact */
uint32_t flt_resume_map_present(const flt_resume_map *m); /* chunks marked present */
bool flt_resume_map_complete(const flt_resume_map *m);
/* The first missing chunk at or after `from` into *i; false when there is none. */
bool flt_resume_map_next_missing(const flt_resume_map *m, uint32_t from, uint32_t *i);
/* The first missing chunk; false when the map is complete. */
bool flt_resume_map_first_missing(const flt_resume_map *m, uint32_t *i);

/* Serialises with a header and a trailing SHA-256 so a torn or corrupted file
 * is detected on load. *out owned (flt_free). FLT_ENOMEM. */
FLT_WUR flt_err flt_resume_map_serialize(const flt_resume_map *m, uint8_t **out, size_t *outlen);

/* Reloads a serialised map of exactly `len` bytes. FLT_EPARSE when torn or
 * corrupt (length, checksum, magic, bits past count); FLT_EUNSUPPORTED for
 * another version; FLT_ECONFLICT when it belongs to another artifact or chunk
 * count than expected (the caller then starts afresh); FLT_ENOMEM. */
FLT_WUR flt_err flt_resume_map_load(const uint8_t *buf, size_t len,
                                    const uint8_t artifact_sha256[FLT_SHA256_LEN], uint32_t count,
                                    flt_resume_map **out);

#endif
