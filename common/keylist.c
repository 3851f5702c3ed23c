/* Key lists: building and signing (controller), and the device's acceptance
 * check (root signatures, root threshold, expiry, serial) plus the questions
 * asked of an accepted list: is this key trusted for this role now, and which
 * keys verify an envelope of a role. */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "keylist"
#include "flt/alloc.h"
#include "flt/keylist.h"
#include "flt/log.h"
#include "flt/protocol.h"

/* object > keys array > key object > roles array */
#define KEYLIST_DEPTH 4
/* Base64 of a P-256 SPKI DER (91 bytes) is 124 characters; room for other encodings. */
#define PUBKEY_B64_MAX 256

static const char *const role_names[FLT_ROLE_COUNT_] = {
    [FLT_ROLE_RELEASE] = "release",
    [FLT_ROLE_DIRECTOR] = "director",
};

#define ROLES_ALL ((1u << FLT_ROLE_COUNT_) - 1)

const char *flt_role_name(enum flt_role r)
{
	return (unsigned)r < FLT_ROLE_COUNT_ ? role_names[r] : "?";
}

bool flt_role_from_name(const char *s, enum flt_role *out)
{
	if (!s)
		return false;
	for (unsigned i = 0; i < FLT_ROLE_COUNT_; i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum flt_role)i;
			return true;
		}
	}
	return false;
}

void flt_keylist_free(flt_keylist *kl)
{
	if (!kl)
		return;
	for (size_t i = 0; i < kl->nkeys; i++)
		flt_key_free(kl->keys[i].key);
	flt_free(kl->revoked);
	flt_free(kl);
}

flt_err flt_keylist_new(flt_keylist **out)
{
	if (!out)
		return FLT_EINVAL;
	flt_keylist *kl = flt_calloc(1, sizeof *kl);
	if (!kl)
		return FLT_ENOMEM;
	kl->root_threshold = 1;
	for (unsigned r = 0; r < FLT_ROLE_COUNT_; r++)
		kl->threshold[r] = 1;
	*out = kl;
	return FLT_OK;
}

static const struct flt_keylist_key *find_key(const flt_keylist *kl, const char *keyid)
{
	for (size_t i = 0; i < kl->nkeys; i++)
		if (strcmp(kl->keys[i].keyid, keyid) == 0)
			return &kl->keys[i];
	return NULL;
}

static bool is_revoked(const flt_keylist *kl, const char *keyid)
{
	for (size_t i = 0; i < kl->nrevoked; i++)
		if (strcmp(kl->revoked[i], keyid) == 0)
			return true;
	return false;
}

flt_err flt_keylist_add_key(flt_keylist *kl, const flt_key *key, unsigned roles, int64_t expires_at)
{
	if (!kl || !key || roles == 0 || (roles & ~ROLES_ALL))
		return FLT_EINVAL;
	if (find_key(kl, flt_key_id(key)))
		return FLT_ECONFLICT;
	if (kl->nkeys >= FLT_KEYLIST_MAX_KEYS)
		return FLT_ELIMIT;
	struct flt_keylist_key *k = &kl->keys[kl->nkeys];
	flt_err e = flt_key_public_copy(key, &k->key);
	if (e != FLT_OK)
		return e;
	memcpy(k->keyid, flt_key_id(key), FLT_KEYID_LEN + 1);
	k->roles = roles;
	k->expires_at = expires_at;
	kl->nkeys++;
	return FLT_OK;
}

/* Appends without the duplicate check the decoder does separately. */
static flt_err push_revoked(flt_keylist *kl, const char *keyid)
{
	if (kl->nrevoked >= FLT_KEYLIST_MAX_REVOKED)
		return FLT_ELIMIT;
	void *n = flt_reallocarray(kl->revoked, kl->nrevoked + 1, sizeof *kl->revoked);
	if (!n)
		return FLT_ENOMEM;
	kl->revoked = n;
	memcpy(kl->revoked[kl->nrevoked], keyid, FLT_KEYID_LEN + 1);
	kl->nrevoked++;
	return FLT_OK;
}

flt_err flt_keylist_revoke(flt_keylist *kl, const char *keyid)
{
	if (!kl || !flt_is_sha256_hex(keyid))
		return FLT_EINVAL;
	if (is_revoked(kl, keyid))
		return FLT_OK;
	return push_revoked(kl, keyid);
}

static bool threshold_ok(unsigned t)
{
	return t >= 1 && t <= FLT_DSSE_MAX_SIGS;
}

/* ---- encode ----------------------------------------------------------------------------- */

static flt_err encode_key(cJSON *arr, const struct flt_keylist_key *k)
{
	cJSON *o = NULL, *roles;
	uint8_t *der = NULL;
	char *b64 = NULL;
	size_t derlen = 0, b64len = 0;
	flt_err e;

	if ((e = flt_key_export_public_der(k->key, &der, &derlen)) != FLT_OK)
		goto out;
	if ((e = flt_base64_encode(der, derlen, &b64, &b64len)) != FLT_OK)
		goto out;
	e = FLT_ENOMEM;
	if (!(o = cJSON_CreateObject()))
		goto out;
	cJSON_AddItemToArray(arr, o);
	if (flt_json_add_str(o, "keyid", k->keyid) != FLT_OK ||
	    flt_json_add_str(o, "public_key", b64) != FLT_OK)
		goto out;
	if (!(roles = cJSON_AddArrayToObject(o, "roles")))
		goto out;
	for (unsigned r = 0; r < FLT_ROLE_COUNT_; r++) {
		if (!(k->roles & (1u << r)))
			continue;
		cJSON *s = cJSON_CreateString(role_names[r]);
		if (!s)
			goto out;
		cJSON_AddItemToArray(roles, s);
	}
	e = flt_json_add_int(o, "expires_at", k->expires_at);
out:
	flt_free(der);
	flt_free(b64);
	return e;
}

flt_err flt_keylist_encode(const flt_keylist *kl, char **out, size_t *len)
{
	cJSON *root = NULL, *th, *keys, *rev;
	flt_err e = FLT_EINVAL;

	if (!kl || !out || !len || kl->serial == 0 || kl->expires_at <= kl->issued_at ||
	    !threshold_ok(kl->root_threshold))
		goto out;
	for (unsigned r = 0; r < FLT_ROLE_COUNT_; r++)
		if (!threshold_ok(kl->threshold[r]))
			goto out;
	e = FLT_ENOMEM;
	if (!(root = cJSON_CreateObject()))
		goto out;
	if ((e = flt_json_add_uint(root, "v", FLT_KEYLIST_VERSION)) != FLT_OK ||
	    (e = flt_json_add_uint(root, "serial", kl->serial)) != FLT_OK ||
	    (e = flt_json_add_int(root, "issued_at", kl->issued_at)) != FLT_OK ||
	    (e = flt_json_add_int(root, "expires_at", kl->expires_at)) != FLT_OK)
		goto out;
	e = FLT_ENOMEM;
	if (!(th = cJSON_AddObjectToObject(root, "thresholds")))
		goto out;
	if ((e = flt_json_add_uint(th, "root", kl->root_threshold)) != FLT_OK)
		goto out;
	for (unsigned r = 0; r < FLT_ROLE_COUNT_; r++)
		if ((e = flt_json_add_uint(th, role_names[r], kl->threshold[r])) != FLT_OK)
			goto out;
	e = FLT_ENOMEM;
	if (!(keys = cJSON_AddArrayToObject(root, "keys")))
		goto out;
	for (size_t i = 0; i < kl->nkeys; i++)
		if ((e = encode_key(keys, &kl->keys[i])) != FLT_OK)
			goto out;
	e = FLT_ENOMEM;
	if (!(rev = cJSON_AddArrayToObject(root, "revoked")))
		goto out;
	for (size_t i = 0; i < kl->nrevoked; i++) {
		cJSON *s = cJSON_CreateString(kl->revoked[i]);
		if (!s)
			goto out;
		cJSON_AddItemToArray(rev, s);
	}
	e = flt_json_print(root, out, len);
	if (e == FLT_OK && *len > FLT_KEYLIST_MAX_PAYLOAD) {
		flt_free(*out);
		*out = NULL;
		e = FLT_ELIMIT;
	}
out:
	cJSON_Delete(root);
	return e;
}

flt_err flt_keylist_sign(const flt_keylist *kl, const flt_key *const *roots, size_t nroots,
                         flt_rng *rng, char **out, size_t *len)
{
	char *payload = NULL;
	size_t plen = 0;
	flt_dsse *env = NULL;
	flt_err e = FLT_EINVAL;

	if (!roots || nroots == 0)
		goto out;
	if ((e = flt_keylist_encode(kl, &payload, &plen)) != FLT_OK)
		goto out;
	if ((e = flt_dsse_sign(FLT_PAYLOAD_KEYLIST, (const uint8_t *)payload, plen, roots, nroots,
	                       rng, &env)) != FLT_OK)
		goto out;
	e = flt_dsse_serialize(env, out, len);
out:
	flt_free(payload);
	flt_dsse_free(env);
	return e;
}

/* ---- decode ----------------------------------------------------------------------------- */

static const char *const top_keys[] = {"v",          "serial", "issued_at", "expires_at",
                                       "thresholds", "keys",   "revoked",   NULL};
static const char *const key_keys[] = {"keyid", "public_key", "roles", "expires_at", NULL};

static flt_err get_threshold(const cJSON *th, const char *name, unsigned *out,
                             struct flt_json_err *err)
{
	uint64_t v = 0;
	flt_err e = flt_json_get_uint(th, name, FLT_DSSE_MAX_SIGS, &v, err);
	if (e != FLT_OK)
		return e;
	if (v == 0) {
		flt_json_errf(err, "threshold '%s' is 0", name);
		return FLT_EPARSE;
	}
	*out = (unsigned)v;
	return FLT_OK;
}

static flt_err decode_key(const cJSON *o, struct flt_keylist_key *k, struct flt_json_err *err)
{
	const char *pub = NULL;
	const cJSON *roles = NULL, *r;
	size_t nroles = 0;
	uint8_t *der = NULL;
	size_t derlen = 0;
	flt_err e;

	if (!cJSON_IsObject(o)) {
		flt_json_errf(err, "not an object");
		return FLT_EPARSE;
	}
	if ((e = flt_json_check_keys(o, key_keys, err)) != FLT_OK)
		return e;
	if ((e = flt_json_get_sha256(o, "keyid", k->keyid, err)) != FLT_OK)
		return e;
	if ((e = flt_json_get_str(o, "public_key", PUBKEY_B64_MAX, &pub, err)) != FLT_OK)
		return e;
	if ((e = flt_json_get_int(o, "expires_at", &k->expires_at, err)) != FLT_OK)
		return e;
	if ((e = flt_json_get_arr(o, "roles", FLT_ROLE_COUNT_, &roles, &nroles, err)) != FLT_OK)
		return e;
	if (nroles == 0) {
		flt_json_errf(err, "roles is empty");
		return FLT_EPARSE;
	}
	k->roles = 0;
	cJSON_ArrayForEach(r, roles)
	{
		const char *name = NULL;
		enum flt_role role;
		if ((e = flt_json_str(r, "roles[]", 16, &name, err)) != FLT_OK)
			return e;
		if (!flt_role_from_name(name, &role)) {
			flt_json_errf(err, "unknown role");
			return FLT_EPARSE;
		}
		if (k->roles & (1u << role)) {
			flt_json_errf(err, "role '%s' repeated", role_names[role]);
			return FLT_EPARSE;
		}
		k->roles |= 1u << role;
	}
	e = flt_base64_decode(pub, strlen(pub), PUBKEY_B64_MAX, &der, &derlen);
	if (e == FLT_OK)
		e = flt_key_import_public(der, derlen, &k->key);
	flt_free(der);
	if (e != FLT_OK) {
		flt_json_errf(err, "public_key is not base64 of a P-256 SubjectPublicKeyInfo");
		return e == FLT_ENOMEM ? e : FLT_EPARSE;
	}
	if (strcmp(flt_key_id(k->key), k->keyid) != 0) {
		flt_json_errf(err, "keyid is not the SHA-256 of public_key");
		return FLT_EPARSE;
	}
	return FLT_OK;
}

flt_err flt_keylist_decode(const uint8_t *payload, size_t len, flt_keylist **out,
                           struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *th = NULL, *keys = NULL, *rev = NULL, *item;
	size_t nkeys = 0, nrev = 0;
	flt_keylist *kl = NULL;
	uint64_t serial = 0;
	flt_err e = FLT_EINVAL;

	if (!payload || !out)
		goto out;
	e = flt_json_parse_object((const char *)payload, len, FLT_KEYLIST_MAX_PAYLOAD,
	                          KEYLIST_DEPTH, &root, err);
	if (e != FLT_OK)
		goto out;
	if ((e = flt_json_check_version(root, FLT_KEYLIST_VERSION, err)) != FLT_OK)
		goto out;
	if ((e = flt_json_check_keys(root, top_keys, err)) != FLT_OK)
		goto out;
	if ((e = flt_keylist_new(&kl)) != FLT_OK)
		goto out;
	if ((e = flt_json_get_uint(root, "serial", FLT_JSON_MAX_SAFE_INT, &serial, err)) != FLT_OK)
		goto out;
	kl->serial = serial;
	if ((e = flt_json_get_int(root, "issued_at", &kl->issued_at, err)) != FLT_OK ||
	    (e = flt_json_get_int(root, "expires_at", &kl->expires_at, err)) != FLT_OK)
		goto out;
	e = FLT_EPARSE;
	if (kl->serial == 0) {
		flt_json_errf(err, "serial is 0");
		goto out;
	}
	if (kl->expires_at <= kl->issued_at) {
		flt_json_errf(err, "expires_at is not after issued_at");
		goto out;
	}
	if ((e = flt_json_get_obj(root, "thresholds", &th, err)) != FLT_OK)
		goto out;
	{
		static const char *const th_keys[] = {"root", "release", "director", NULL};
		_Static_assert(FLT_ROLE_COUNT_ == 2, "thresholds keys follow the roles");
		if ((e = flt_json_check_keys(th, th_keys, err)) != FLT_OK)
			goto out;
	}
	if ((e = get_threshold(th, "root", &kl->root_threshold, err)) != FLT_OK)
		goto out;
	for (unsigned r = 0; r < FLT_ROLE_COUNT_; r++)
		if ((e = get_threshold(th, role_names[r], &kl->threshold[r], err)) != FLT_OK)
			goto out;

	if ((e = flt_json_get_arr(root, "keys", FLT_KEYLIST_MAX_KEYS, &keys, &nkeys, err)) !=
	    FLT_OK)
		goto out;
	cJSON_ArrayForEach(item, keys)
	{
		struct flt_keylist_key *k = &kl->keys[kl->nkeys];
		e = decode_key(item, k, err);
		if (e == FLT_OK && find_key(kl, k->keyid)) {
			flt_json_errf(err, "keyid listed twice");
			e = FLT_EPARSE;
		}
		if (e != FLT_OK) {
			char where[24];
			flt_key_free(k->key);
			k->key = NULL;
			snprintf(where, sizeof where, "keys[%zu]", kl->nkeys);
			flt_json_err_prefix(err, where);
			goto out;
		}
		kl->nkeys++;
	}

	if ((e = flt_json_get_arr(root, "revoked", FLT_KEYLIST_MAX_REVOKED, &rev, &nrev, err)) !=
	    FLT_OK)
		goto out;
	cJSON_ArrayForEach(item, rev)
	{
		const char *id = NULL;
		if ((e = flt_json_str(item, "revoked[]", FLT_KEYID_LEN, &id, err)) != FLT_OK)
			goto out;
		e = FLT_EPARSE;
		if (!flt_is_sha256_hex(id)) {
			flt_json_errf(err, "revoked entry is not 64 lowercase hex characters");
			goto out;
		}
		if (is_revoked(kl, id)) {
			flt_json_errf(err, "revoked keyid listed twice");
			goto out;
		}
		if ((e = push_revoked(kl, id)) != FLT_OK)
			goto out;
	}
	if ((e = flt_sha256(payload, len, kl->payload_sha256)) != FLT_OK)
		goto out;
	*out = kl;
	kl = NULL;
	e = FLT_OK;
out:
	cJSON_Delete(root);
	flt_keylist_free(kl);
	return e;
}

/* ---- accept ----------------------------------------------------------------------------- */

flt_err flt_keylist_accept(const char *json, size_t len, const struct flt_trust_set *roots,
                           const struct flt_keylist_state *last, int64_t now, flt_keylist **out,
                           bool *redelivery, struct flt_json_err *err)
{
	flt_dsse *env = NULL;
	flt_keylist *kl = NULL;
	enum flt_reason reason = FLT_REASON_NONE;
	unsigned nvalid = 0;
	flt_err e = FLT_EINVAL;

	if (!json || !roots || !out)
		goto out;
	if ((e = flt_dsse_parse(json, len, FLT_KEYLIST_MAX_PAYLOAD, &env, err)) != FLT_OK) {
		flt_json_err_prefix(err, "key list envelope");
		goto out;
	}
	e = flt_dsse_verify(env, FLT_PAYLOAD_KEYLIST, roots, &nvalid, &reason);
	if (e != FLT_OK) {
		if (e == FLT_EVERIFY)
			flt_json_fail(err, reason, "key list: %u of %u root signatures valid",
			              nvalid, roots->threshold);
		goto out;
	}
	if ((e = flt_keylist_decode(env->payload, env->payload_len, &kl, err)) != FLT_OK) {
		flt_json_err_prefix(err, "key list");
		goto out;
	}
	e = FLT_EVERIFY;
	if (nvalid < kl->root_threshold) {
		flt_json_fail(err, FLT_REASON_THRESHOLD_UNMET,
		              "key list demands %u root signatures, %u valid", kl->root_threshold,
		              nvalid);
		goto out;
	}
	if (now >= kl->expires_at) {
		flt_json_fail(err, FLT_REASON_EXPIRED, "key list serial %llu expired at %lld",
		              (unsigned long long)kl->serial, (long long)kl->expires_at);
		goto out;
	}
	bool same = false;
	if (last && last->valid) {
		e = FLT_ECONFLICT;
		if (kl->serial < last->serial) {
			flt_json_fail(
			    err, FLT_REASON_OLD_SERIAL, "key list serial %llu is lower than %llu",
			    (unsigned long long)kl->serial, (unsigned long long)last->serial);
			goto out;
		}
		if (kl->serial == last->serial) {
			if (memcmp(kl->payload_sha256, last->payload_sha256, FLT_SHA256_LEN) != 0) {
				flt_json_fail(err, FLT_REASON_OLD_SERIAL,
				              "key list serial %llu reused for a different list",
				              (unsigned long long)kl->serial);
				goto out;
			}
			same = true;
		}
	}
	if (redelivery)
		*redelivery = same;
	*out = kl;
	kl = NULL;
	e = FLT_OK;
out:
	flt_dsse_free(env);
	flt_keylist_free(kl);
	return e;
}

void flt_keylist_state_of(const flt_keylist *kl, struct flt_keylist_state *out)
{
	out->valid = true;
	out->serial = kl->serial;
	memcpy(out->payload_sha256, kl->payload_sha256, FLT_SHA256_LEN);
}

/* ---- questions to an accepted list -------------------------------------------------- */

enum flt_reason flt_keylist_key_status(const flt_keylist *kl, const char *keyid, enum flt_role role,
                                       int64_t now)
{
	if (!kl || !keyid || (unsigned)role >= FLT_ROLE_COUNT_)
		return FLT_REASON_UNTRUSTED_KEY;
	if (now >= kl->expires_at)
		return FLT_REASON_EXPIRED;
	if (is_revoked(kl, keyid))
		return FLT_REASON_KEY_REVOKED;
	const struct flt_keylist_key *k = find_key(kl, keyid);
	if (!k)
		return FLT_REASON_UNTRUSTED_KEY;
	if (!(k->roles & (1u << role)))
		return FLT_REASON_WRONG_ROLE;
	if (now >= k->expires_at)
		return FLT_REASON_EXPIRED;
	return FLT_REASON_NONE;
}

bool flt_keylist_is_trusted(const flt_keylist *kl, const char *keyid, enum flt_role role,
                            int64_t now)
{
	return flt_keylist_key_status(kl, keyid, role, now) == FLT_REASON_NONE;
}

flt_err flt_keylist_trust_set(const flt_keylist *kl, enum flt_role role, int64_t now,
                              struct flt_trust_set *out)
{
	if (!kl || !out || (unsigned)role >= FLT_ROLE_COUNT_)
		return FLT_EINVAL;
	struct flt_trust_set ts = {.threshold = kl->threshold[role]};
	for (size_t i = 0; i < kl->nkeys && ts.nkeys < FLT_TRUST_MAX_KEYS; i++)
		if (flt_keylist_is_trusted(kl, kl->keys[i].keyid, role, now))
			ts.keys[ts.nkeys++] = kl->keys[i].key;
	*out = ts;
	return FLT_OK;
}

/* Ranks causes so the reported one says what an operator should fix. */
static int reason_rank(enum flt_reason r)
{
	switch (r) {
	case FLT_REASON_KEY_REVOKED: return 4;
	case FLT_REASON_EXPIRED: return 3;
	case FLT_REASON_WRONG_ROLE: return 2;
	case FLT_REASON_UNTRUSTED_KEY: return 1;
	default: return 0;
	}
}

flt_err flt_keylist_verify_envelope(const flt_keylist *kl, const flt_dsse *env,
                                    const char *payload_type, enum flt_role role, int64_t now,
                                    enum flt_reason *reason)
{
	struct flt_trust_set ts;
	enum flt_reason why = FLT_REASON_NONE;
	flt_err e;

	if (!kl || !env || !payload_type)
		return FLT_EINVAL;
	if ((e = flt_keylist_trust_set(kl, role, now, &ts)) != FLT_OK)
		return e;
	if (now >= kl->expires_at) {
		why = FLT_REASON_EXPIRED;
		e = FLT_EVERIFY;
		goto out;
	}
	e = flt_dsse_verify(env, payload_type, &ts, NULL, &why);
	if (e != FLT_EVERIFY || why == FLT_REASON_WRONG_PAYLOAD_TYPE ||
	    why == FLT_REASON_BAD_SIGNATURE)
		goto out;
	/* Too few trusted signatures: say why the other signers did not count. */
	enum flt_reason best = why;
	for (size_t s = 0; s < env->nsigs; s++) {
		enum flt_reason r = flt_keylist_key_status(kl, env->sigs[s].keyid, role, now);
		if (reason_rank(r) > reason_rank(best))
			best = r;
	}
	if (why != FLT_REASON_THRESHOLD_UNMET ||
	    reason_rank(best) > reason_rank(FLT_REASON_UNTRUSTED_KEY))
		why = best;
out:
	if (e == FLT_EVERIFY && reason)
		*reason = why;
	return e;
}
