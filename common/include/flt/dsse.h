/* DSSE envelopes: {payloadType, payload: base64(bytes), signatures: [{keyid, sig}]}
 * with sig = base64(DER ECDSA P-256/SHA-256 over the DSSE pre-authentication
 * encoding) and keyid = hex SHA-256 of the signer's SubjectPublicKeyInfo DER.
 * Build, strict parse, serialise, and verify a threshold of distinct trusted keys. */
#ifndef FLT_DSSE_H
#define FLT_DSSE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "flt/crypto.h"
#include "flt/error.h"
#include "flt/json.h"
#include "flt/reason.h"

/* Most signatures an envelope may carry; more is refused at parse. */
#define FLT_DSSE_MAX_SIGS 16
/* Longest payloadType (printable ASCII, no spaces). */
#define FLT_DSSE_MAX_TYPE_LEN 128
/* Default and hard upper bound of the decoded payload size. */
#define FLT_DSSE_MAX_PAYLOAD (8u * 1024u * 1024u)
/* Most keys in one trust set. */
#define FLT_TRUST_MAX_KEYS 32

struct flt_dsse_sig {
	char keyid[FLT_KEYID_LEN + 1]; /* 64 lowercase hex */
	uint8_t sig[FLT_ECDSA_SIG_MAX];
	size_t sig_len;
};

typedef struct flt_dsse {
	char *payload_type; /* owned, NUL-terminated */
	uint8_t *payload;   /* owned; untrusted until flt_dsse_verify says FLT_OK */
	size_t payload_len;
	size_t nsigs;
	struct flt_dsse_sig sigs[FLT_DSSE_MAX_SIGS];
} flt_dsse;

/* The keys whose signatures count for one purpose, already filtered for role,
 * revocation and expiry (flt_keylist_trust_set builds one from a key list;
 * root keys come from provisioning). Keys are borrowed and must outlive every
 * verification that uses the set. */
struct flt_trust_set {
	unsigned threshold; /* distinct keys needed, >= 1 */
	size_t nkeys;
	const flt_key *keys[FLT_TRUST_MAX_KEYS];
};

/* Appends key (borrowed) to ts. FLT_ELIMIT when ts holds FLT_TRUST_MAX_KEYS,
 * FLT_EINVAL for NULL. A key already in ts is not added again (FLT_OK). */
FLT_WUR flt_err flt_trust_set_add(struct flt_trust_set *ts, const flt_key *key);

/* DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body)
 * SP body, lengths in ASCII decimal. *out owned (flt_free). FLT_EINVAL, FLT_ENOMEM. */
FLT_WUR flt_err flt_dsse_pae(const char *payload_type, const uint8_t *payload, size_t len,
                             uint8_t **out, size_t *outlen);
/* SHA-256 of the PAE, computed without building it. */
FLT_WUR flt_err flt_dsse_pae_hash(const char *payload_type, const uint8_t *payload, size_t len,
                                  uint8_t out[FLT_SHA256_LEN]);

/* Builds an envelope over a copy of `payload`, signed by each of keys[0..nkeys)
 * (0 keys gives an unsigned envelope to add signatures to). payload_type must
 * be 1..FLT_DSSE_MAX_TYPE_LEN printable ASCII characters, payload 1..
 * FLT_DSSE_MAX_PAYLOAD bytes. rng borrowed (NULL: a one-off DRBG). FLT_EINVAL
 * (bad type, size, key without private half, more than FLT_DSSE_MAX_SIGS keys),
 * FLT_ENOMEM, FLT_EIO. *out owned (flt_dsse_free). */
FLT_WUR flt_err flt_dsse_sign(const char *payload_type, const uint8_t *payload, size_t len,
                              const flt_key *const *keys, size_t nkeys, flt_rng *rng,
                              flt_dsse **out);

/* Appends a signature by key. FLT_ELIMIT when the envelope already has
 * FLT_DSSE_MAX_SIGS, FLT_EINVAL if the key cannot sign. */
FLT_WUR flt_err flt_dsse_add_signature(flt_dsse *env, const flt_key *key, flt_rng *rng);

/* Compact JSON text {"payloadType","payload","signatures":[{"keyid","sig"}]}.
 * *out owned (flt_free), NUL-terminated, *len without the NUL. FLT_ENOMEM. */
FLT_WUR flt_err flt_dsse_serialize(const flt_dsse *env, char **out, size_t *len);

/* The same as a cJSON tree, to embed in a larger document. *out owned (cJSON_Delete). */
FLT_WUR flt_err flt_dsse_to_json(const flt_dsse *env, cJSON **out);

/* Strict parse of exactly `len` bytes of JSON text: an object with exactly the
 * keys payloadType, payload and signatures; payloadType printable ASCII;
 * payload strict base64 of 1..max_payload bytes (max_payload 0 or above
 * FLT_DSSE_MAX_PAYLOAD means FLT_DSSE_MAX_PAYLOAD); 1..FLT_DSSE_MAX_SIGS
 * signatures, each exactly {keyid: 64 lowercase hex, sig: strict base64 of
 * 8..72 bytes}. FLT_EPARSE (with err naming the field; err may be NULL),
 * FLT_ELIMIT (sizes, counts, depth), FLT_ENOMEM, FLT_EINVAL for NULL.
 * Nothing is verified: *out (owned) holds untrusted bytes. */
FLT_WUR flt_err flt_dsse_parse(const char *json, size_t len, size_t max_payload, flt_dsse **out,
                               struct flt_json_err *err);

/* The same from an already parsed (and duplicate-checked) JSON object, e.g.
 * one embedded in a larger document. */
FLT_WUR flt_err flt_dsse_from_json(const cJSON *obj, size_t max_payload, flt_dsse **out,
                                   struct flt_json_err *err);

/* Verifies env: its payloadType must equal `payload_type` exactly, and at least
 * ts->threshold DISTINCT keys of ts must each have a signature that names their
 * keyid and verifies over the PAE. A key signing twice counts once; signatures
 * by keys outside ts are ignored; a bad signature by a key of ts simply does
 * not count. FLT_OK when the threshold is met; FLT_EVERIFY otherwise, with
 * *reason (may be NULL; set only on FLT_EVERIFY) WRONG_PAYLOAD_TYPE,
 * BAD_SIGNATURE (a trusted key's signature did not verify), THRESHOLD_UNMET
 * (some valid, too few) or UNTRUSTED_KEY (no signature by a key of ts);
 * FLT_EINVAL for a threshold of 0, more than FLT_TRUST_MAX_KEYS keys or NULL
 * arguments. *nvalid (may be NULL) gets the count of distinct valid trusted keys. */
FLT_WUR flt_err flt_dsse_verify(const flt_dsse *env, const char *payload_type,
                                const struct flt_trust_set *ts, unsigned *nvalid,
                                enum flt_reason *reason);

void flt_dsse_free(flt_dsse *env);

#endif
