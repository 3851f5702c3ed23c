/* DSSE envelopes: PAE, signing, strict parsing through flt/json.h, and the
 * threshold check over distinct trusted keys. The payload is handed out only
 * as bytes; callers decode it after flt_dsse_verify succeeds. */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "dsse"
#include "flt/alloc.h"
#include "flt/dsse.h"
#include "flt/log.h"

/* Envelope nesting: object > signatures array > signature object. */
#define DSSE_DEPTH 3
/* JSON text beyond the base64 payload: keys, quotes, signatures. */
#define DSSE_JSON_OVERHEAD (256 + FLT_DSSE_MAX_SIGS * 256)

static bool type_ok(const char *t)
{
	size_t n = t ? strnlen(t, FLT_DSSE_MAX_TYPE_LEN + 1) : 0;
	if (n == 0 || n > FLT_DSSE_MAX_TYPE_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f)
			return false;
	return true;
}

/* "DSSEv1 <len(type)> <type> <len(body)> " — everything of the PAE before the body. */
static flt_err pae_prefix(const char *type, size_t len, char *buf, size_t cap, size_t *n)
{
	int r = snprintf(buf, cap, "DSSEv1 %zu %s %zu ", strlen(type), type, len);
	if (r < 0 || (size_t)r >= cap)
		return FLT_EINVAL;
	*n = (size_t)r;
	return FLT_OK;
}

#define PAE_PREFIX_CAP (FLT_DSSE_MAX_TYPE_LEN + 64)

flt_err flt_dsse_pae(const char *payload_type, const uint8_t *payload, size_t len, uint8_t **out,
                     size_t *outlen)
{
	char pre[PAE_PREFIX_CAP];
	size_t n = 0;
	if (!type_ok(payload_type) || (!payload && len) || !out || !outlen)
		return FLT_EINVAL;
	flt_err e = pae_prefix(payload_type, len, pre, sizeof pre, &n);
	if (e != FLT_OK)
		return e;
	if (len > SIZE_MAX - n)
		return FLT_ELIMIT;
	uint8_t *buf = flt_malloc(n + len);
	if (!buf)
		return FLT_ENOMEM;
	memcpy(buf, pre, n);
	if (len)
		memcpy(buf + n, payload, len);
	*out = buf;
	*outlen = n + len;
	return FLT_OK;
}

flt_err flt_dsse_pae_hash(const char *payload_type, const uint8_t *payload, size_t len,
                          uint8_t out[FLT_SHA256_LEN])
{
	char pre[PAE_PREFIX_CAP];
	size_t n = 0;
	if (!type_ok(payload_type) || (!payload && len) || !out)
		return FLT_EINVAL;
	flt_err e = pae_prefix(payload_type, len, pre, sizeof pre, &n);
	if (e != FLT_OK)
		return e;
	flt_sha256_ctx c;
	flt_sha256_init(&c);
	flt_sha256_update(&c, pre, n);
	flt_sha256_update(&c, payload, len);
	return flt_sha256_final(&c, out);
}

flt_err flt_trust_set_add(struct flt_trust_set *ts, const flt_key *key)
{
	if (!ts || !key || ts->nkeys > FLT_TRUST_MAX_KEYS)
		return FLT_EINVAL;
	for (size_t i = 0; i < ts->nkeys; i++)
		if (strcmp(flt_key_id(ts->keys[i]), flt_key_id(key)) == 0)
			return FLT_OK;
	if (ts->nkeys == FLT_TRUST_MAX_KEYS)
		return FLT_ELIMIT;
	ts->keys[ts->nkeys++] = key;
	return FLT_OK;
}

void flt_dsse_free(flt_dsse *env)
{
	if (!env)
		return;
	flt_free(env->payload_type);
	flt_free(env->payload);
	flt_free(env);
}

flt_err flt_dsse_add_signature(flt_dsse *env, const flt_key *key, flt_rng *rng)
{
	uint8_t h[FLT_SHA256_LEN];
	if (!env || !key || !flt_key_has_private(key))
		return FLT_EINVAL;
	if (env->nsigs >= FLT_DSSE_MAX_SIGS)
		return FLT_ELIMIT;
	struct flt_dsse_sig *s = &env->sigs[env->nsigs];
	flt_err e = flt_dsse_pae_hash(env->payload_type, env->payload, env->payload_len, h);
	if (e == FLT_OK)
		e = flt_key_sign_hash(key, rng, h, s->sig, &s->sig_len);
	if (e != FLT_OK)
		return e;
	memcpy(s->keyid, flt_key_id(key), FLT_KEYID_LEN + 1);
	env->nsigs++;
	return FLT_OK;
}

flt_err flt_dsse_sign(const char *payload_type, const uint8_t *payload, size_t len,
                      const flt_key *const *keys, size_t nkeys, flt_rng *rng, flt_dsse **out)
{
	flt_dsse *env = NULL;
	flt_rng *own = NULL;
	flt_err e = FLT_EINVAL;

	if (!type_ok(payload_type) || !payload || len == 0 || len > FLT_DSSE_MAX_PAYLOAD || !out ||
	    nkeys > FLT_DSSE_MAX_SIGS || (nkeys && !keys))
		goto out;
	env = flt_calloc(1, sizeof *env);
	if (!env || !(env->payload_type = flt_strdup(payload_type)) ||
	    !(env->payload = flt_memdup(payload, len))) {
		e = FLT_ENOMEM;
		goto out;
	}
	env->payload_len = len;
	/* One DRBG for all signatures instead of seeding one per key. */
	if (!rng && nkeys) {
		e = flt_rng_new("flotilla-dsse", &own);
		if (e != FLT_OK)
			goto out;
		rng = own;
	}
	for (size_t i = 0; i < nkeys; i++) {
		e = flt_dsse_add_signature(env, keys[i], rng);
		if (e != FLT_OK)
			goto out;
	}
	*out = env;
	env = NULL;
	e = FLT_OK;
out:
	flt_dsse_free(env);
	flt_rng_free(own);
	return e;
}

flt_err flt_dsse_to_json(const flt_dsse *env, cJSON **out)
{
	cJSON *root = NULL, *sigs, *s;
	char *b64 = NULL;
	size_t n;
	flt_err e = FLT_EINVAL;

	if (!env || !out)
		goto out;
	e = FLT_ENOMEM;
	if (!(root = cJSON_CreateObject()) ||
	    flt_json_add_str(root, "payloadType", env->payload_type) != FLT_OK)
		goto out;
	if ((e = flt_base64_encode(env->payload, env->payload_len, &b64, &n)) != FLT_OK)
		goto out;
	e = FLT_ENOMEM;
	if (flt_json_add_str(root, "payload", b64) != FLT_OK)
		goto out;
	if (!(sigs = cJSON_AddArrayToObject(root, "signatures")))
		goto out;
	for (size_t i = 0; i < env->nsigs; i++) {
		flt_free(b64);
		b64 = NULL;
		if ((e = flt_base64_encode(env->sigs[i].sig, env->sigs[i].sig_len, &b64, &n)) !=
		    FLT_OK)
			goto out;
		e = FLT_ENOMEM;
		if (!(s = cJSON_CreateObject()))
			goto out;
		cJSON_AddItemToArray(sigs, s);
		if (flt_json_add_str(s, "keyid", env->sigs[i].keyid) != FLT_OK ||
		    flt_json_add_str(s, "sig", b64) != FLT_OK)
			goto out;
	}
	*out = root;
	root = NULL;
	e = FLT_OK;
out:
	cJSON_Delete(root);
	flt_free(b64);
	return e;
}

flt_err flt_dsse_serialize(const flt_dsse *env, char **out, size_t *len)
{
	cJSON *root = NULL;
	flt_err e = flt_dsse_to_json(env, &root);
	if (e == FLT_OK)
		e = flt_json_print(root, out, len);
	cJSON_Delete(root);
	return e;
}

static size_t clamp_payload(size_t max_payload)
{
	return max_payload == 0 || max_payload > FLT_DSSE_MAX_PAYLOAD ? FLT_DSSE_MAX_PAYLOAD
	                                                              : max_payload;
}

static const char *const env_keys[] = {"payloadType", "payload", "signatures", NULL};
static const char *const sig_keys[] = {"keyid", "sig", NULL};

static flt_err parse_sig(const cJSON *item, struct flt_dsse_sig *out, struct flt_json_err *err)
{
	const char *keyid = NULL, *sig = NULL;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	flt_err e;

	if (!cJSON_IsObject(item)) {
		flt_json_errf(err, "not an object");
		return FLT_EPARSE;
	}
	if ((e = flt_json_check_keys(item, sig_keys, err)) != FLT_OK)
		return e;
	if ((e = flt_json_get_str(item, "keyid", FLT_KEYID_LEN, &keyid, err)) != FLT_OK)
		return e;
	if (!flt_is_sha256_hex(keyid)) {
		flt_json_errf(err, "keyid is not 64 lowercase hex characters");
		return FLT_EPARSE;
	}
	/* base64 of 72 bytes is 96 characters. */
	if ((e = flt_json_get_str(item, "sig", 96, &sig, err)) != FLT_OK)
		return e;
	e = flt_base64_decode(sig, strlen(sig), FLT_ECDSA_SIG_MAX, &raw, &rawlen);
	if (e == FLT_OK && rawlen < FLT_ECDSA_SIG_MIN)
		e = FLT_EPARSE;
	if (e != FLT_OK) {
		flt_json_errf(err, "sig is not base64 of a DER ECDSA signature");
		flt_free(raw);
		return e == FLT_ENOMEM ? e : FLT_EPARSE;
	}
	memcpy(out->keyid, keyid, FLT_KEYID_LEN + 1);
	memcpy(out->sig, raw, rawlen);
	out->sig_len = rawlen;
	flt_free(raw);
	return FLT_OK;
}

flt_err flt_dsse_from_json(const cJSON *obj, size_t max_payload, flt_dsse **out,
                           struct flt_json_err *err)
{
	const char *type = NULL, *payload = NULL;
	const cJSON *sigs = NULL, *item;
	size_t nsigs = 0, i = 0;
	flt_dsse *env = NULL;
	flt_err e = FLT_EINVAL;

	if (!obj || !out)
		goto out;
	max_payload = clamp_payload(max_payload);
	if (!cJSON_IsObject(obj)) {
		flt_json_errf(err, "envelope is not an object");
		e = FLT_EPARSE;
		goto out;
	}
	if ((e = flt_json_check_keys(obj, env_keys, err)) != FLT_OK)
		goto out;
	if ((e = flt_json_get_str(obj, "payloadType", FLT_DSSE_MAX_TYPE_LEN, &type, err)) != FLT_OK)
		goto out;
	if (!type_ok(type)) {
		flt_json_errf(err, "payloadType is not printable ASCII");
		e = FLT_EPARSE;
		goto out;
	}
	/* Bound the text before decoding so the check costs nothing on junk. */
	if ((e = flt_json_get_str(obj, "payload", (max_payload + 2) / 3 * 4, &payload, err)) !=
	    FLT_OK)
		goto out;
	if ((e = flt_json_get_arr(obj, "signatures", FLT_DSSE_MAX_SIGS, &sigs, &nsigs, err)) !=
	    FLT_OK)
		goto out;
	if (nsigs == 0) {
		flt_json_errf(err, "signatures is empty");
		e = FLT_EPARSE;
		goto out;
	}
	env = flt_calloc(1, sizeof *env);
	if (!env || !(env->payload_type = flt_strdup(type))) {
		e = FLT_ENOMEM;
		goto out;
	}
	e = flt_base64_decode(payload, strlen(payload), max_payload, &env->payload,
	                      &env->payload_len);
	if (e == FLT_OK && env->payload_len == 0)
		e = FLT_EPARSE;
	if (e == FLT_ELIMIT) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "payload larger than %zu bytes",
		              max_payload);
		goto out;
	}
	if (e != FLT_OK) {
		flt_json_errf(err, "payload is not strict base64 of 1..%zu bytes", max_payload);
		goto out;
	}
	cJSON_ArrayForEach(item, sigs)
	{
		if ((e = parse_sig(item, &env->sigs[i], err)) != FLT_OK) {
			char where[32];
			snprintf(where, sizeof where, "signatures[%zu]", i);
			flt_json_err_prefix(err, where);
			goto out;
		}
		i++;
	}
	env->nsigs = i;
	*out = env;
	env = NULL;
	e = FLT_OK;
out:
	flt_dsse_free(env);
	return e;
}

flt_err flt_dsse_parse(const char *json, size_t len, size_t max_payload, flt_dsse **out,
                       struct flt_json_err *err)
{
	cJSON *root = NULL;
	if (!json || !out)
		return FLT_EINVAL;
	max_payload = clamp_payload(max_payload);
	size_t max_bytes = (max_payload + 2) / 3 * 4 + DSSE_JSON_OVERHEAD;
	flt_err e = flt_json_parse_object(json, len, max_bytes, DSSE_DEPTH, &root, err);
	if (e == FLT_OK)
		e = flt_dsse_from_json(root, max_payload, out, err);
	cJSON_Delete(root);
	return e;
}

flt_err flt_dsse_verify(const flt_dsse *env, const char *payload_type,
                        const struct flt_trust_set *ts, unsigned *nvalid, enum flt_reason *reason)
{
	uint8_t h[FLT_SHA256_LEN];
	unsigned valid = 0;
	bool named = false, bad = false;
	flt_err e;

	if (!env || !payload_type || !ts || ts->threshold == 0 || ts->nkeys > FLT_TRUST_MAX_KEYS)
		return FLT_EINVAL;
	if (strcmp(env->payload_type, payload_type) != 0) {
		if (reason)
			*reason = FLT_REASON_WRONG_PAYLOAD_TYPE;
		return FLT_EVERIFY;
	}
	e = flt_dsse_pae_hash(env->payload_type, env->payload, env->payload_len, h);
	if (e != FLT_OK)
		return e == FLT_EINVAL ? FLT_EVERIFY : e;
	for (size_t k = 0; k < ts->nkeys; k++) {
		const flt_key *key = ts->keys[k];
		if (!key)
			return FLT_EINVAL;
		const char *id = flt_key_id(key);
		/* The same key listed twice in the set still counts once. */
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(flt_key_id(ts->keys[j]), id) == 0;
		if (dup)
			continue;
		for (size_t s = 0; s < env->nsigs; s++) {
			if (strcmp(env->sigs[s].keyid, id) != 0)
				continue;
			named = true;
			if (flt_key_verify_hash(key, h, env->sigs[s].sig, env->sigs[s].sig_len) ==
			    FLT_OK) {
				valid++;
				break;
			}
			bad = true;
		}
	}
	if (nvalid)
		*nvalid = valid;
	if (valid >= ts->threshold)
		return FLT_OK;
	flt_log_dbg("%u of %u trusted signatures for %s", valid, ts->threshold, payload_type);
	if (reason)
		*reason = bad ? FLT_REASON_BAD_SIGNATURE
		              : (named ? FLT_REASON_THRESHOLD_UNMET : FLT_REASON_UNTRUSTED_KEY);
	return FLT_EVERIFY;
}
