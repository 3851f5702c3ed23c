/* The controller's signing keys under <data-dir>/keys/ (0700 directory, 0600
 * files): the root key, the release key, the director key, and the current
 * root-signed key list envelope. Keys are never printed or logged. `flotilla
 * keys` and `flotilla serve` use this; security work (CA, rotation,
 * revocation) extends it. Key list serials come from the registry's
 * `key_list_serial` counter, so they only grow, also across a restore. */
#ifndef FLT_KEYSTORE_H
#define FLT_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "flt/crypto.h"
#include "flt/error.h"
#include "flt/keylist.h"

struct flt_registry;

/* File names inside <data-dir>/keys/. */
#define FLT_KEYSTORE_DIR           "keys"
#define FLT_KEYSTORE_ROOT_FILE     "root.key"     /* SEC1 PEM, 0600 */
#define FLT_KEYSTORE_ROOT_PUB      "root.pub"     /* SubjectPublicKeyInfo PEM, for provisioning */
#define FLT_KEYSTORE_RELEASE_FILE  "release.key"  /* SEC1 PEM, 0600 */
#define FLT_KEYSTORE_DIRECTOR_FILE "director.key" /* SEC1 PEM, 0600 */
#define FLT_KEYSTORE_KEYLIST_FILE  "keylist.json" /* root-signed DSSE envelope text */

/* Default validity of keys and of a key list: one year. */
#define FLT_KEYSTORE_DEFAULT_VALIDITY_S (365 * 86400)

enum flt_keystore_slot {
	FLT_KEYSTORE_ROOT = 0,
	FLT_KEYSTORE_RELEASE,
	FLT_KEYSTORE_DIRECTOR,
	FLT_KEYSTORE_SLOTS_
};

typedef struct flt_keystore flt_keystore;

/* Creates <data_dir>/keys/ with a new root, release and director key and a
 * first key list (release key with role release, director key with role
 * director, both expiring now + validity_s, list likewise, thresholds 1),
 * signed by the root key, serial taken from the registry's counter.
 * FLT_ECONFLICT if keys already exist (nothing is overwritten), FLT_EINVAL
 * (validity_s <= 0), FLT_EIO, FLT_ENOMEM, registry errors. On success *out
 * (owned, flt_keystore_free) holds the loaded store. */
FLT_WUR flt_err flt_keystore_init(const char *data_dir, struct flt_registry *reg, int64_t now,
                                  int64_t validity_s, flt_keystore **out);

/* Loads the keys and the current key list of <data_dir>/keys/. The list is
 * verified against the root key. FLT_ENOTFOUND (no keys: run `keys init`),
 * FLT_EPARSE (a file does not parse), FLT_EVERIFY (list not signed by the
 * root key), FLT_EIO, FLT_ENOMEM. *out owned. */
FLT_WUR flt_err flt_keystore_load(const char *data_dir, flt_keystore **out);

/* Signs and stores a new key list: the keys of the current list (same roles,
 * key expiry extended to now + validity_s when sooner), the current revoked
 * ids, a new serial from the registry's counter, issued now, expiring now +
 * validity_s. Replaces the store's list. Errors as flt_keystore_init (no
 * FLT_ECONFLICT). `serve` calls it before the list expires. */
FLT_WUR flt_err flt_keystore_reissue_keylist(flt_keystore *ks, struct flt_registry *reg,
                                             int64_t now, int64_t validity_s);

/* Signs `kl` (its serial is overwritten with a new one from the registry's
 * counter; issued_at/expires_at as given in kl) with the root key, writes it
 * atomically and makes it the current list. kl stays owned by the caller.
 * FLT_EINVAL (kl breaks the key-list rules), errors as above. */
FLT_WUR flt_err flt_keystore_publish_keylist(flt_keystore *ks, struct flt_registry *reg,
                                             flt_keylist *kl);

/* A key (borrowed; private half present). NULL for a bad slot. */
const flt_key *flt_keystore_key(const flt_keystore *ks, enum flt_keystore_slot slot);

/* The current key list, decoded (borrowed) and as envelope JSON text
 * (borrowed, NUL-terminated; *len may be NULL). Both change after
 * reissue/publish: do not keep them across such a call. */
const flt_keylist *flt_keystore_keylist(const flt_keystore *ks);
const char *flt_keystore_keylist_json(const flt_keystore *ks, size_t *len);

/* "root", "release", "director". */
const char *flt_keystore_slot_name(enum flt_keystore_slot slot);

/* Takes the offline root key (SEC1/PKCS#8 PEM file at path) for signing a
 * new list. FLT_EVERIFY if it is not this store's root key, file errors. */
FLT_WUR flt_err flt_keystore_use_root(flt_keystore *ks, const char *path);

/* Writes the root private key to <dir>/root.key (0600, dir created 0700) and
 * removes it from <data-dir>/keys/ (root.pub stays): from then on loading
 * gives a public-only root and signing a new list needs use_root.
 * FLT_EINVAL (no private root), FLT_EIO. */
FLT_WUR flt_err flt_keystore_move_root(flt_keystore *ks, const char *dir);

/* Replaces the release or director key with `key` (ownership transferred on
 * success), writing its file atomically. Publish a list naming the new key
 * first, so a crash in between never leaves an unlisted signing key.
 * FLT_EINVAL (root slot, no private half), FLT_EIO. */
FLT_WUR flt_err flt_keystore_replace_key(flt_keystore *ks, enum flt_keystore_slot slot,
                                         flt_key *key);

/* Frees the store, wiping private keys; NULL is a no-op. */
void flt_keystore_free(flt_keystore *ks);

/* Next value of a registry counter (desired_state_serial, key_list_serial, ...)
 * in its own write transaction: value + 1. FLT_ENOTFOUND for an unknown
 * counter, FLT_EBUSY, FLT_EIO. Must not be called inside a transaction. */
FLT_WUR flt_err flt_registry_counter_next(struct flt_registry *reg, const char *name, int64_t *out);

#endif
