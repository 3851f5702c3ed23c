/* The controller's signing keys and the root-signed key list under
 * <data-dir>/keys/: creation (`keys init`), loading (serve, CLI) and re-issue
 * of the list with serials from the registry's counter. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/platform_util.h>

#define FLT_LOG_MODULE "keystore"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/dsse.h"
#include "flt/keystore.h"
#include "flt/log.h"
#include "flt/protocol.h"
#include "registry_db.h"

#define KS_PATH_MAX 4096
#define KS_FILE_MAX (64u * 1024u)

struct flt_keystore {
	char *dir; /* owned: <data_dir>/keys */
	flt_key *keys[FLT_KEYSTORE_SLOTS_];
	flt_keylist *kl; /* owned, decoded current list */
	char *kl_json;   /* owned envelope text */
	size_t kl_len;
};

static const char *const slot_files[FLT_KEYSTORE_SLOTS_] = {
    FLT_KEYSTORE_ROOT_FILE, FLT_KEYSTORE_RELEASE_FILE, FLT_KEYSTORE_DIRECTOR_FILE};

const char *flt_keystore_slot_name(enum flt_keystore_slot slot)
{
	static const char *const names[FLT_KEYSTORE_SLOTS_] = {"root", "release", "director"};
	return (unsigned)slot < FLT_KEYSTORE_SLOTS_ ? names[slot] : "?";
}

static flt_err path_in(const char *dir, const char *file, char *out)
{
	int n = snprintf(out, KS_PATH_MAX, "%s/%s", dir, file);
	return (n < 0 || n >= KS_PATH_MAX) ? FLT_EINVAL : FLT_OK;
}

void flt_keystore_free(flt_keystore *ks)
{
	if (!ks)
		return;
	for (int i = 0; i < FLT_KEYSTORE_SLOTS_; i++)
		flt_key_free(ks->keys[i]);
	flt_keylist_free(ks->kl);
	flt_free(ks->kl_json);
	flt_free(ks->dir);
	flt_free(ks);
}

static flt_err new_store(const char *data_dir, flt_keystore **out)
{
	char path[KS_PATH_MAX];
	if (!data_dir || path_in(data_dir, FLT_KEYSTORE_DIR, path))
		return FLT_EINVAL;
	flt_keystore *ks = flt_calloc(1, sizeof(*ks));
	if (!ks)
		return FLT_ENOMEM;
	ks->dir = flt_strdup(path);
	if (!ks->dir) {
		flt_free(ks);
		return FLT_ENOMEM;
	}
	*out = ks;
	return FLT_OK;
}

flt_err flt_registry_counter_next(struct flt_registry *reg, const char *name, int64_t *out)
{
	int64_t v = 0;
	flt_err e = reg_begin(reg);
	if (e)
		return e;
	if ((e = reg_exec(reg, REG_Q_COUNTER_NEXT, "t", name)) != FLT_OK)
		goto fail;
	if (sqlite3_changes(reg->db) == 0) {
		e = FLT_ENOTFOUND;
		goto fail;
	}
	if ((e = reg_query_int(reg, REG_Q_COUNTER_GET, &v, "t", name)) != FLT_OK)
		goto fail;
	if ((e = reg_commit(reg)) != FLT_OK)
		return e;
	*out = v;
	return FLT_OK;
fail:
	reg_rollback(reg);
	return e;
}

/* Decodes and checks an envelope against the root key. */
static flt_err decode_keylist(const flt_key *root, const char *json, size_t len, flt_keylist **out)
{
	flt_dsse *env = NULL;
	struct flt_trust_set ts = {.threshold = 1};
	flt_err e = flt_dsse_parse(json, len, FLT_KEYLIST_MAX_PAYLOAD, &env, NULL);
	if (e)
		goto out;
	if ((e = flt_trust_set_add(&ts, root)) != FLT_OK)
		goto out;
	if ((e = flt_dsse_verify(env, FLT_PAYLOAD_KEYLIST, &ts, NULL, NULL)) != FLT_OK)
		goto out;
	e = flt_keylist_decode(env->payload, env->payload_len, out, NULL);
out:
	flt_dsse_free(env);
	return e;
}

flt_err flt_keystore_publish_keylist(flt_keystore *ks, struct flt_registry *reg, flt_keylist *kl)
{
	char path[KS_PATH_MAX];
	char *json = NULL;
	size_t len = 0;
	int64_t serial = 0;
	flt_keylist *dec = NULL;
	const flt_key *roots[1] = {ks ? ks->keys[FLT_KEYSTORE_ROOT] : NULL};
	flt_err e;
	if (!ks || !reg || !kl || !roots[0])
		return FLT_EINVAL;
	if ((e = flt_registry_counter_next(reg, "key_list_serial", &serial)) != FLT_OK)
		return e;
	kl->serial = (uint64_t)serial;
	if ((e = flt_keylist_sign(kl, roots, 1, NULL, &json, &len)) != FLT_OK)
		goto out;
	if ((e = decode_keylist(roots[0], json, len, &dec)) != FLT_OK)
		goto out;
	if ((e = path_in(ks->dir, FLT_KEYSTORE_KEYLIST_FILE, path)) != FLT_OK)
		goto out;
	if ((e = flt_file_write_atomic(path, json, len, 0600, NULL)) != FLT_OK)
		goto out;
	flt_keylist_free(ks->kl);
	flt_free(ks->kl_json);
	ks->kl = dec;
	ks->kl_json = json;
	ks->kl_len = len;
	dec = NULL;
	json = NULL;
	flt_log_info("key list serial %lld issued", (long long)serial);
out:
	flt_keylist_free(dec);
	flt_free(json);
	return e;
}

static flt_err write_private(const char *dir, const char *file, const flt_key *key)
{
	char path[KS_PATH_MAX];
	char *pem = NULL;
	size_t len = 0;
	flt_err e = path_in(dir, file, path);
	if (e)
		return e;
	if ((e = flt_key_export_private_pem(key, &pem, &len)) != FLT_OK)
		return e;
	e = flt_file_write_atomic(path, pem, len, 0600, NULL);
	mbedtls_platform_zeroize(pem, len);
	flt_free(pem);
	return e;
}

flt_err flt_keystore_init(const char *data_dir, struct flt_registry *reg, int64_t now,
                          int64_t validity_s, flt_keystore **out)
{
	char path[KS_PATH_MAX];
	flt_keystore *ks = NULL;
	flt_keylist *kl = NULL;
	flt_rng *rng = NULL;
	char *pub = NULL;
	size_t publen = 0;
	struct stat st;
	flt_err e;
	if (!reg || !out || validity_s <= 0)
		return FLT_EINVAL;
	if ((e = new_store(data_dir, &ks)) != FLT_OK)
		return e;
	if ((e = path_in(ks->dir, FLT_KEYSTORE_ROOT_FILE, path)) != FLT_OK)
		goto out;
	if (stat(path, &st) == 0) {
		e = FLT_ECONFLICT;
		goto out;
	}
	if ((e = flt_file_mkdirs(ks->dir, 0700, NULL)) != FLT_OK)
		goto out;
	if (chmod(ks->dir, 0700) != 0) {
		flt_log_err("chmod %s: %s", ks->dir, strerror(errno));
		e = FLT_EIO;
		goto out;
	}
	if ((e = flt_rng_new("flotilla-keys", &rng)) != FLT_OK)
		goto out;
	for (int i = 0; i < FLT_KEYSTORE_SLOTS_; i++)
		if ((e = flt_key_generate(rng, &ks->keys[i])) != FLT_OK)
			goto out;
	/* Role keys first, root last: a crash in between leaves no root file,
	 * so `keys init` can simply be run again. */
	for (int i = FLT_KEYSTORE_SLOTS_ - 1; i >= 0; i--)
		if ((e = write_private(ks->dir, slot_files[i], ks->keys[i])) != FLT_OK)
			goto out;
	if ((e = flt_key_export_public_pem(ks->keys[FLT_KEYSTORE_ROOT], &pub, &publen)) != FLT_OK)
		goto out;
	if ((e = path_in(ks->dir, FLT_KEYSTORE_ROOT_PUB, path)) != FLT_OK)
		goto out;
	if ((e = flt_file_write_atomic(path, pub, publen, 0644, NULL)) != FLT_OK)
		goto out;
	if ((e = flt_keylist_new(&kl)) != FLT_OK)
		goto out;
	kl->issued_at = now;
	kl->expires_at = now + validity_s;
	if ((e = flt_keylist_add_key(kl, ks->keys[FLT_KEYSTORE_RELEASE], 1u << FLT_ROLE_RELEASE,
	                             now + validity_s)) != FLT_OK)
		goto out;
	if ((e = flt_keylist_add_key(kl, ks->keys[FLT_KEYSTORE_DIRECTOR], 1u << FLT_ROLE_DIRECTOR,
	                             now + validity_s)) != FLT_OK)
		goto out;
	if ((e = flt_keystore_publish_keylist(ks, reg, kl)) != FLT_OK)
		goto out;
	*out = ks;
	ks = NULL;
out:
	if (e && e != FLT_ECONFLICT)
		flt_log_err("keys init in %s failed: %s", data_dir, flt_strerror(e));
	flt_free(pub);
	flt_keylist_free(kl);
	flt_rng_free(rng);
	flt_keystore_free(ks);
	return e;
}

flt_err flt_keystore_load(const char *data_dir, flt_keystore **out)
{
	char path[KS_PATH_MAX];
	flt_keystore *ks = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_err e;
	if (!out)
		return FLT_EINVAL;
	if ((e = new_store(data_dir, &ks)) != FLT_OK)
		return e;
	for (int i = 0; i < FLT_KEYSTORE_SLOTS_; i++) {
		bool pub_only = false;
		if ((e = path_in(ks->dir, slot_files[i], path)) != FLT_OK)
			goto out;
		e = flt_file_read_all(path, KS_FILE_MAX, &buf, &len, NULL);
		if (e == FLT_ENOTFOUND && i == FLT_KEYSTORE_ROOT) {
			/* The root key is kept offline (keys init --root-out): only its
			 * public half is here, enough to verify the current list. */
			if ((e = path_in(ks->dir, FLT_KEYSTORE_ROOT_PUB, path)) != FLT_OK)
				goto out;
			e = flt_file_read_all(path, KS_FILE_MAX, &buf, &len, NULL);
			if (e == FLT_OK)
				pub_only = true;
			else if (e == FLT_ENOTFOUND) {
				path_in(ks->dir, slot_files[i], path);
				e = FLT_ENOTFOUND;
			}
		}
		if (e)
			goto out;
		e = pub_only ? flt_key_import_public(buf, len, &ks->keys[i])
		             : flt_key_import_private(buf, len, &ks->keys[i]);
		mbedtls_platform_zeroize(buf, len);
		flt_free(buf);
		buf = NULL;
		if (e)
			goto out;
	}
	if ((e = path_in(ks->dir, FLT_KEYSTORE_KEYLIST_FILE, path)) != FLT_OK)
		goto out;
	if ((e = flt_file_read_all(path, KS_FILE_MAX, &buf, &len, NULL)) != FLT_OK)
		goto out;
	if ((e = decode_keylist(ks->keys[FLT_KEYSTORE_ROOT], (const char *)buf, len, &ks->kl)) !=
	    FLT_OK)
		goto out;
	ks->kl_json = (char *)buf;
	ks->kl_len = len;
	buf = NULL;
	*out = ks;
	ks = NULL;
out:
	flt_free(buf);
	flt_keystore_free(ks);
	return e;
}

flt_err flt_keystore_reissue_keylist(flt_keystore *ks, struct flt_registry *reg, int64_t now,
                                     int64_t validity_s)
{
	flt_keylist *kl = NULL;
	flt_err e;
	if (!ks || !ks->kl || validity_s <= 0)
		return FLT_EINVAL;
	if ((e = flt_keylist_new(&kl)) != FLT_OK)
		return e;
	kl->issued_at = now;
	kl->expires_at = now + validity_s;
	kl->root_threshold = ks->kl->root_threshold;
	memcpy(kl->threshold, ks->kl->threshold, sizeof(kl->threshold));
	for (size_t i = 0; i < ks->kl->nkeys && !e; i++) {
		const struct flt_keylist_key *k = &ks->kl->keys[i];
		int64_t exp = k->expires_at < now + validity_s ? now + validity_s : k->expires_at;
		e = flt_keylist_add_key(kl, k->key, k->roles, exp);
	}
	for (size_t i = 0; i < ks->kl->nrevoked && !e; i++)
		e = flt_keylist_revoke(kl, ks->kl->revoked[i]);
	if (!e)
		e = flt_keystore_publish_keylist(ks, reg, kl);
	flt_keylist_free(kl);
	return e;
}

const flt_key *flt_keystore_key(const flt_keystore *ks, enum flt_keystore_slot slot)
{
	return (ks && (unsigned)slot < FLT_KEYSTORE_SLOTS_) ? ks->keys[slot] : NULL;
}

const flt_keylist *flt_keystore_keylist(const flt_keystore *ks)
{
	return ks ? ks->kl : NULL;
}

const char *flt_keystore_keylist_json(const flt_keystore *ks, size_t *len)
{
	if (!ks)
		return NULL;
	if (len)
		*len = ks->kl_len;
	return ks->kl_json;
}

flt_err flt_keystore_use_root(flt_keystore *ks, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_key *k = NULL;
	if (!ks || !path)
		return FLT_EINVAL;
	flt_err e = flt_file_read_all(path, KS_FILE_MAX, &buf, &len, NULL);
	if (e)
		return e;
	e = flt_key_import_private(buf, len, &k);
	mbedtls_platform_zeroize(buf, len);
	flt_free(buf);
	if (e)
		return e;
	if (strcmp(flt_key_id(k), flt_key_id(ks->keys[FLT_KEYSTORE_ROOT])) != 0) {
		flt_key_free(k);
		return FLT_EVERIFY;
	}
	flt_key_free(ks->keys[FLT_KEYSTORE_ROOT]);
	ks->keys[FLT_KEYSTORE_ROOT] = k;
	return FLT_OK;
}

flt_err flt_keystore_move_root(flt_keystore *ks, const char *dir)
{
	char src[KS_PATH_MAX];
	flt_err e;
	if (!ks || !dir || !flt_key_has_private(ks->keys[FLT_KEYSTORE_ROOT]))
		return FLT_EINVAL;
	if ((e = flt_file_mkdirs(dir, 0700, NULL)) != FLT_OK)
		return e;
	if ((e = write_private(dir, FLT_KEYSTORE_ROOT_FILE, ks->keys[FLT_KEYSTORE_ROOT])) != FLT_OK)
		return e;
	if ((e = path_in(ks->dir, FLT_KEYSTORE_ROOT_FILE, src)) != FLT_OK)
		return e;
	/* Only once the copy is durable does the data directory forget the key. */
	if (unlink(src) != 0) {
		flt_log_err("unlink %s: %s", src, strerror(errno));
		return FLT_EIO;
	}
	return FLT_OK;
}

flt_err flt_keystore_replace_key(flt_keystore *ks, enum flt_keystore_slot slot, flt_key *key)
{
	flt_err e;
	if (!ks || !key || slot == FLT_KEYSTORE_ROOT || (unsigned)slot >= FLT_KEYSTORE_SLOTS_ ||
	    !flt_key_has_private(key))
		return FLT_EINVAL;
	if ((e = write_private(ks->dir, slot_files[slot], key)) != FLT_OK)
		return e;
	flt_key_free(ks->keys[slot]);
	ks->keys[slot] = key;
	return FLT_OK;
}
