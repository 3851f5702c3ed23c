/* The key list: a root-signed DSSE envelope (payloadType FLT_PAYLOAD_KEYLIST)
 * naming the release and director keys, their roles and expiry, a signature
 * threshold per role, revoked keyids and a serial that only grows. Devices hold
 * the root public keys from provisioning; everything else is trusted through
 * this list. Payload format: docs/protocol.md, "Key list". */
#ifndef FLT_KEYLIST_H
#define FLT_KEYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/crypto.h"
#include "flt/dsse.h"
#include "flt/error.h"
#include "flt/json.h"
#include "flt/reason.h"

enum flt_role {
	FLT_ROLE_RELEASE = 0, /* signs release envelopes (manifests) */
	FLT_ROLE_DIRECTOR,    /* signs desired state */
	FLT_ROLE_COUNT_
};

#define FLT_KEYLIST_VERSION     1
#define FLT_KEYLIST_MAX_KEYS    FLT_TRUST_MAX_KEYS
#define FLT_KEYLIST_MAX_REVOKED 256
/* Largest key-list payload (decoded JSON bytes). */
#define FLT_KEYLIST_MAX_PAYLOAD (64u * 1024u)

/* "release" / "director"; "?" for out-of-range values. */
const char *flt_role_name(enum flt_role r);
/* Exact lowercase name to role; false (and *out untouched) if unknown. */
bool flt_role_from_name(const char *s, enum flt_role *out);

struct flt_keylist_key {
	char keyid[FLT_KEYID_LEN + 1];
	flt_key *key;       /* owned; public half only */
	unsigned roles;     /* bit (1u << enum flt_role) per role */
	int64_t expires_at; /* Unix seconds; the key is not trusted at or after it */
};

typedef struct flt_keylist {
	uint64_t serial;         /* >= 1, grows with every list */
	int64_t issued_at;       /* Unix seconds */
	int64_t expires_at;      /* Unix seconds; the whole list is void at or after it */
	unsigned root_threshold; /* root signatures this list demands, 1..FLT_DSSE_MAX_SIGS */
	unsigned threshold[FLT_ROLE_COUNT_]; /* per role, 1..FLT_DSSE_MAX_SIGS */
	size_t nkeys;
	struct flt_keylist_key keys[FLT_KEYLIST_MAX_KEYS];
	size_t nrevoked;
	char (*revoked)[FLT_KEYID_LEN + 1]; /* owned, nrevoked entries */
	/* SHA-256 of the payload bytes this list was decoded from (zero for a list
	 * being built): identifies the exact document for idempotent re-delivery. */
	uint8_t payload_sha256[FLT_SHA256_LEN];
} flt_keylist;

/* What the device persists about the last list it accepted. */
struct flt_keylist_state {
	bool valid; /* false before the first list */
	uint64_t serial;
	uint8_t payload_sha256[FLT_SHA256_LEN];
};

/* ---- building (controller, test tools) ---------------------------------------------- */

/* An empty list: no keys, thresholds 1, serial/times 0 to be filled by the
 * caller. FLT_ENOMEM. *out owned (flt_keylist_free). */
FLT_WUR flt_err flt_keylist_new(flt_keylist **out);

/* Adds the public half of key with the given role bits and expiry. FLT_EINVAL
 * (no roles, unknown role bits), FLT_ECONFLICT (keyid already listed),
 * FLT_ELIMIT (list full), FLT_ENOMEM. */
FLT_WUR flt_err flt_keylist_add_key(flt_keylist *kl, const flt_key *key, unsigned roles,
                                    int64_t expires_at);

/* Adds a revoked keyid (64 lowercase hex). FLT_EINVAL, FLT_ELIMIT, FLT_ENOMEM.
 * Revoking an already revoked keyid is a no-op. */
FLT_WUR flt_err flt_keylist_revoke(flt_keylist *kl, const char *keyid);

/* The payload JSON (compact). FLT_EINVAL if the list breaks the rules the
 * decoder enforces (serial 0, expires_at <= issued_at, thresholds out of
 * range), FLT_ENOMEM. *out owned (flt_free), NUL-terminated. */
FLT_WUR flt_err flt_keylist_encode(const flt_keylist *kl, char **out, size_t *len);

/* The payload signed by every root key given, as DSSE envelope JSON text.
 * rng borrowed (NULL: one-off). Errors of flt_keylist_encode and flt_dsse_sign. */
FLT_WUR flt_err flt_keylist_sign(const flt_keylist *kl, const flt_key *const *roots, size_t nroots,
                                 flt_rng *rng, char **out, size_t *len);

/* ---- accepting (device) ---------------------------------------------------------------- */

/* Decodes a key-list payload (the bytes inside a verified envelope). Strict:
 * exactly the documented keys, "v" == FLT_KEYLIST_VERSION, each keyid equal to
 * the hash of its public key, no duplicate keyid, known roles without
 * repeats, sizes and counts bounded. FLT_EPARSE, FLT_ELIMIT, FLT_EUNSUPPORTED
 * (version), FLT_ENOMEM; err (may be NULL) says which field and carries the
 * reason. Trusts nothing: use flt_keylist_accept for documents from the wire. */
FLT_WUR flt_err flt_keylist_decode(const uint8_t *payload, size_t len, flt_keylist **out,
                                   struct flt_json_err *err);

/* The whole acceptance check of a key-list envelope (JSON text) from the wire:
 *  1. strict envelope parse;
 *  2. payloadType FLT_PAYLOAD_KEYLIST and at least roots->threshold distinct
 *     root keys' valid signatures (roots: the provisioned root public keys);
 *  3. strict payload decode;
 *  4. at least the list's own root_threshold valid root signatures as well;
 *  5. not expired: now < expires_at;
 *  6. serial against `last` (may be NULL or !valid: anything goes): lower is
 *     refused; equal with the same payload hash is an idempotent re-delivery
 *     (FLT_OK with *redelivery true: keep the current list); equal with
 *     different bytes is refused.
 * FLT_OK: *out (owned) and *redelivery (may be NULL) are set. Otherwise
 * FLT_EPARSE / FLT_ELIMIT / FLT_EUNSUPPORTED (decode), FLT_EVERIFY (signatures,
 * threshold, expiry), FLT_ECONFLICT (serial), FLT_EINVAL, FLT_ENOMEM; err (may
 * be NULL) gets the reason (MALFORMED, TOO_LARGE, WRONG_PAYLOAD_TYPE,
 * BAD_SIGNATURE, UNTRUSTED_KEY, THRESHOLD_UNMET, EXPIRED, OLD_SERIAL) and a message. */
FLT_WUR flt_err flt_keylist_accept(const char *json, size_t len, const struct flt_trust_set *roots,
                                   const struct flt_keylist_state *last, int64_t now,
                                   flt_keylist **out, bool *redelivery, struct flt_json_err *err);

/* The state to persist after accepting kl. */
void flt_keylist_state_of(const flt_keylist *kl, struct flt_keylist_state *out);

/* Whether keyid may sign for role at time now: NONE if yes, else EXPIRED (the
 * list or the key has expired), KEY_REVOKED, UNTRUSTED_KEY (not listed) or
 * WRONG_ROLE. Revocation wins over a listing. */
enum flt_reason flt_keylist_key_status(const flt_keylist *kl, const char *keyid, enum flt_role role,
                                       int64_t now);

/* flt_keylist_key_status(...) == FLT_REASON_NONE. */
bool flt_keylist_is_trusted(const flt_keylist *kl, const char *keyid, enum flt_role role,
                            int64_t now);

/* The trust set for verifying an envelope of `role` at `now`: every trusted key
 * of that role (borrowed from kl: kl must outlive the set) and the role's
 * threshold. FLT_EINVAL for a bad role or NULL. A set with fewer keys than its
 * threshold is still returned; verification with it fails. */
FLT_WUR flt_err flt_keylist_trust_set(const flt_keylist *kl, enum flt_role role, int64_t now,
                                      struct flt_trust_set *out);

/* Verifies env (payloadType payload_type) against the keys of `role` at `now`.
 * FLT_OK or FLT_EVERIFY with *reason (may be NULL) naming the most useful
 * cause: WRONG_PAYLOAD_TYPE, BAD_SIGNATURE, EXPIRED (list or key), KEY_REVOKED,
 * WRONG_ROLE, THRESHOLD_UNMET or UNTRUSTED_KEY. FLT_EINVAL for NULL arguments. */
FLT_WUR flt_err flt_keylist_verify_envelope(const flt_keylist *kl, const flt_dsse *env,
                                            const char *payload_type, enum flt_role role,
                                            int64_t now, enum flt_reason *reason);

void flt_keylist_free(flt_keylist *kl);

#endif
