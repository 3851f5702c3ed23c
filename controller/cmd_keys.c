/* `flotilla keys <subcommand>`: the one table of key subcommands (init, list,
 * rotate, revoke) and the subcommands themselves. `keys init` also creates
 * the fleet CA. Private keys never reach stdout, stderr or the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cmds.h"
#include "flt/audit.h"
#include "flt/keystore.h"
#include "flt/pki.h"

struct sub {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct sub subs[] = {
    {"init", "create the root, release and director keys and the first key list", cmd_keys_init},
    {"list", "key ids, roles and expiry", cmd_keys_list},
    {"rotate", "a new release or director key in a new root-signed list", cmd_keys_rotate},
    {"revoke", "revoke a key id in a new root-signed list", cmd_keys_revoke},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: flotilla keys <subcommand> [options]\n\nsubcommands:\n");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
	fprintf(f, "\n'flotilla keys <subcommand> --help' for its options.\n");
}

int cmd_keys(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "flotilla keys: unknown subcommand '%s'; see 'flotilla keys --help'\n",
	        argv[1]);
	return CLI_USAGE;
}

static void audit_keys(struct cli *c, const char *action, const char *target, flt_err e)
{
	/* A lost audit row is logged by flt_audit_record; the operation stands. */
	if (c->reg && flt_audit_record(c->reg, NULL, action, target ? target : "-",
	                               e ? "failed" : "ok", e ? flt_strerror(e) : "") != FLT_OK)
		return;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "%lld", (long long)t);
}

static cJSON *key_row(const char *keyid, const char *roles, int64_t expires_at)
{
	char when[32];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "keyid", keyid);
	cJSON_AddStringToObject(o, "roles", roles);
	if (expires_at > 0) {
		fmt_time(expires_at, when, sizeof(when));
		cJSON_AddStringToObject(o, "expires", when);
	} else {
		cJSON_AddStringToObject(o, "expires", "-");
	}
	return o;
}

/* Rows of every key: root (not in the list; devices hold it from provisioning)
 * then the list's keys and revoked ids. */
static cJSON *describe(const flt_keystore *ks)
{
	const flt_keylist *kl = flt_keystore_keylist(ks);
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return NULL;
	cJSON_AddItemToArray(
	    arr, key_row(flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_ROOT)), "root", 0));
	for (size_t i = 0; kl && i < kl->nkeys; i++) {
		char roles[64] = "";
		for (int r = 0; r < FLT_ROLE_COUNT_; r++)
			if (kl->keys[i].roles & (1u << r)) {
				size_t n = strlen(roles);
				snprintf(roles + n, sizeof(roles) - n, "%s%s", n ? "," : "",
				         flt_role_name((enum flt_role)r));
			}
		cJSON_AddItemToArray(arr,
		                     key_row(kl->keys[i].keyid, roles, kl->keys[i].expires_at));
	}
	for (size_t i = 0; kl && i < kl->nrevoked; i++)
		cJSON_AddItemToArray(arr, key_row(kl->revoked[i], "revoked", 0));
	return arr;
}

static const struct cli_opt init_opts[] = {
    {"validity", 0, 1, "DAYS", "validity of the keys and the key list (default 365)"},
    {"root-out", 0, 1, "DIR", "write the root key to DIR (offline media) instead of keys/"},
    {0},
};
static const struct cli_spec init_spec = {
    "keys init",
    "[--validity DAYS] [--root-out DIR]",
    "Creates the root, release and director keys (0600 files under <data-dir>/keys/), the "
    "first root-signed key list, the fleet CA, the controller's client certificate and an "
    "empty CRL. Refuses to overwrite existing keys.",
    init_opts,
    0,
    0,
};

int cmd_keys_init(int argc, char **argv)
{
	struct cli c;
	flt_keystore *ks = NULL;
	int rc;
	long days = 365;
	if ((rc = cli_start(&c, &init_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *v = cli_get(&c, "validity");
	if (v) {
		char *end = NULL;
		days = strtol(v, &end, 10);
		if (!end || *end || days < 1 || days > 3650)
			return cli_end(&c,
			               cli_usage(&c, "--validity takes 1..3650 days, not '%s'", v));
	}
	if ((rc = cli_registry(&c, 1)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e =
	    flt_keystore_init(c.data_dir, c.reg, (int64_t)time(NULL), (int64_t)days * 86400, &ks);
	if (e == FLT_ECONFLICT) {
		/* Keys made before the fleet CA existed: add the CA, touch nothing else. */
		flt_err ce = flt_pki_ca_init(c.data_dir, c.reg, (int64_t)time(NULL));
		if (ce == FLT_OK) {
			audit_keys(&c, "keys.init", "ca", FLT_OK);
			fprintf(stderr, "flotilla keys init: keys existed; created the fleet CA\n");
			return cli_end(&c, CLI_OK);
		}
	}
	if (e == FLT_ECONFLICT)
		return cli_end(&c,
		               cli_fail(&c, e,
		                        "keys already exist in %s/keys; nothing changed (rotate "
		                        "them instead)",
		                        c.data_dir));
	if (e)
		return cli_end(&c, cli_fail(&c, e, "cannot create keys in %s/keys: %s", c.data_dir,
		                            flt_strerror(e)));
	int64_t now = (int64_t)time(NULL);
	e = flt_pki_ca_init(c.data_dir, c.reg, now);
	if (e && e != FLT_ECONFLICT) {
		flt_keystore_free(ks);
		audit_keys(&c, "keys.init", "ca", e);
		return cli_end(&c, cli_fail(&c, e, "cannot create the fleet CA in %s/keys: %s",
		                            c.data_dir, flt_strerror(e)));
	}
	const char *root_out = cli_get(&c, "root-out");
	if (root_out && (e = flt_keystore_move_root(ks, root_out)) != FLT_OK) {
		flt_keystore_free(ks);
		audit_keys(&c, "keys.init", "root-out", e);
		return cli_end(&c, cli_fail(&c, e,
		                            "cannot move the root key to %s: %s; it is still in "
		                            "%s/keys/root.key",
		                            root_out, flt_strerror(e), c.data_dir));
	}
	audit_keys(&c, "keys.init", flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_ROOT)), FLT_OK);
	cJSON *doc = describe(ks);
	flt_keystore_free(ks);
	return cli_end(&c, cli_emit(&c, doc));
}

static const struct cli_opt list_opts[] = {{0}};
static const struct cli_spec list_spec = {
    "keys list", "", "Shows key ids, roles and expiry (never key material).", list_opts, 0, 0,
};

int cmd_keys_list(int argc, char **argv)
{
	struct cli c;
	flt_keystore *ks = NULL;
	int rc;
	if ((rc = cli_start(&c, &list_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = flt_keystore_load(c.data_dir, &ks);
	if (e == FLT_ENOTFOUND)
		return cli_end(&c, cli_fail(&c, e, "no keys in %s/keys; run 'flotilla keys init'",
		                            c.data_dir));
	if (e)
		return cli_end(&c, cli_fail(&c, e, "cannot load keys from %s/keys: %s", c.data_dir,
		                            flt_strerror(e)));
	cJSON *doc = describe(ks);
	flt_keystore_free(ks);
	return cli_end(&c, cli_emit(&c, doc));
}

/* ---- rotate and revoke --------------------------------------------------------- */

/* Loads the store for a ceremony: with the root kept offline, --root-key
 * names its file. */
static int load_for_signing(struct cli *c, flt_keystore **ks)
{
	flt_err e = flt_keystore_load(c->data_dir, ks);
	if (e == FLT_ENOTFOUND)
		return cli_fail(c, e, "no keys in %s/keys; run 'flotilla keys init'", c->data_dir);
	if (e)
		return cli_fail(c, e, "cannot load keys from %s/keys: %s", c->data_dir,
		                flt_strerror(e));
	const char *rk = cli_get(c, "root-key");
	if (rk) {
		if ((e = flt_keystore_use_root(*ks, rk)) != FLT_OK)
			return cli_fail(c, e, "cannot use the root key in %s: %s", rk,
			                e == FLT_EVERIFY ? "it is not this fleet's root key"
			                                 : flt_strerror(e));
	} else if (!flt_key_has_private(flt_keystore_key(*ks, FLT_KEYSTORE_ROOT))) {
		return cli_fail(c, FLT_EINVAL,
		                "the root key is offline; mount it and pass --root-key FILE");
	}
	return CLI_CONTINUE;
}

/* A copy of the current list without `skip` (may be NULL), issued now. */
static flt_err copy_list(const flt_keylist *cur, const char *skip, int64_t now, int64_t validity,
                         flt_keylist **out)
{
	flt_keylist *kl = NULL;
	flt_err e = flt_keylist_new(&kl);
	if (e)
		return e;
	kl->issued_at = now;
	kl->expires_at = now + validity;
	kl->root_threshold = cur->root_threshold;
	memcpy(kl->threshold, cur->threshold, sizeof(kl->threshold));
	for (size_t i = 0; i < cur->nkeys && !e; i++)
		if (!skip || strcmp(cur->keys[i].keyid, skip) != 0)
			e = flt_keylist_add_key(kl, cur->keys[i].key, cur->keys[i].roles,
			                        cur->keys[i].expires_at);
	for (size_t i = 0; i < cur->nrevoked && !e; i++)
		e = flt_keylist_revoke(kl, cur->revoked[i]);
	if (e) {
		flt_keylist_free(kl);
		return e;
	}
	*out = kl;
	return FLT_OK;
}

/* Publishes kl, then installs `fresh` (may be NULL) as the slot's key. */
static flt_err publish_and_install(struct cli *c, flt_keystore *ks, flt_keylist *kl,
                                   enum flt_keystore_slot slot, flt_key **fresh)
{
	flt_err e = flt_keystore_publish_keylist(ks, c->reg, kl);
	if (e || !*fresh)
		return e;
	if ((e = flt_keystore_replace_key(ks, slot, *fresh)) == FLT_OK)
		*fresh = NULL;
	return e;
}

static const struct cli_opt rotate_opts[] = {
    {"role", 0, 1, "ROLE", "release or director"},
    {"drop-old", 0, 0, NULL,
     "remove the old key from the list now (default: it stays trusted "
     "until it expires)"},
    {"root-key", 0, 1, "FILE", "the offline root key (after keys init --root-out)"},
    {"validity", 0, 1, "DAYS", "validity of the new key and the list (default 365)"},
    {0},
};
static const struct cli_spec rotate_spec = {
    "keys rotate",
    "--role release|director [--drop-old] [--root-key FILE]",
    "Creates a new key for ROLE and a new root-signed key list naming it (higher serial); serve "
    "signs with the new key and publishes the list to every device.",
    rotate_opts,
    0,
    0,
};

int cmd_keys_rotate(int argc, char **argv)
{
	struct cli c;
	flt_keystore *ks = NULL;
	flt_keylist *kl = NULL;
	flt_key *fresh = NULL;
	enum flt_role role;
	long days = 365;
	int rc;
	if ((rc = cli_start(&c, &rotate_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *r = cli_get(&c, "role");
	if (!r || !flt_role_from_name(r, &role))
		return cli_end(&c, cli_usage(&c, "--role release|director is required"));
	const char *v = cli_get(&c, "validity");
	if (v) {
		char *end = NULL;
		days = strtol(v, &end, 10);
		if (!end || *end || days < 1 || days > 3650)
			return cli_end(&c,
			               cli_usage(&c, "--validity takes 1..3650 days, not '%s'", v));
	}
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = load_for_signing(&c, &ks)) != CLI_CONTINUE)
		goto done;
	enum flt_keystore_slot slot =
	    role == FLT_ROLE_RELEASE ? FLT_KEYSTORE_RELEASE : FLT_KEYSTORE_DIRECTOR;
	int64_t now = (int64_t)time(NULL);
	const char *old = flt_key_id(flt_keystore_key(ks, slot));
	char oldid[FLT_KEYID_LEN + 1];
	snprintf(oldid, sizeof(oldid), "%s", old);
	flt_err e = flt_key_generate(NULL, &fresh);
	if (!e)
		e = copy_list(flt_keystore_keylist(ks), cli_flag(&c, "drop-old") ? oldid : NULL,
		              now, (int64_t)days * 86400, &kl);
	if (!e)
		e = flt_keylist_add_key(kl, fresh, 1u << role, now + (int64_t)days * 86400);
	char newid[FLT_KEYID_LEN + 1];
	snprintf(newid, sizeof(newid), "%s", fresh ? flt_key_id(fresh) : "-");
	if (!e)
		e = publish_and_install(&c, ks, kl, slot, &fresh);
	audit_keys(&c, "keys.rotate", newid, e);
	if (e) {
		rc = cli_fail(&c, e, "rotating the %s key failed: %s", r, flt_strerror(e));
		goto done;
	}
	rc = cli_emit(&c, describe(ks));
done:
	flt_key_free(fresh);
	flt_keylist_free(kl);
	flt_keystore_free(ks);
	return cli_end(&c, rc);
}

static const struct cli_opt revoke_opts[] = {
    {"root-key", 0, 1, "FILE", "the offline root key (after keys init --root-out)"},
    {0},
};
static const struct cli_spec revoke_spec = {
    "keys revoke",
    "KEYID [--root-key FILE]",
    "Revokes a release or director key: a new root-signed list without it and naming it "
    "revoked; if it was the key in use, a new one replaces it. Devices refuse what it signed.",
    revoke_opts,
    1,
    1,
};

int cmd_keys_revoke(int argc, char **argv)
{
	struct cli c;
	flt_keystore *ks = NULL;
	flt_keylist *kl = NULL;
	flt_key *fresh = NULL;
	int rc;
	if ((rc = cli_start(&c, &revoke_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *keyid = c.pos[0];
	if (!flt_is_sha256_hex(keyid))
		return cli_end(&c,
		               cli_fail(&c, FLT_EINVAL,
		                        "'%s' is not a key id (64 lowercase hex; see 'keys list')",
		                        keyid));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = load_for_signing(&c, &ks)) != CLI_CONTINUE)
		goto done;
	const flt_keylist *cur = flt_keystore_keylist(ks);
	if (!strcmp(keyid, flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_ROOT)))) {
		rc = cli_fail(
		    &c, FLT_EINVAL,
		    "the root key cannot revoke itself; re-provision devices with a new root");
		goto done;
	}
	size_t at = cur->nkeys;
	for (size_t i = 0; i < cur->nkeys; i++)
		if (!strcmp(cur->keys[i].keyid, keyid))
			at = i;
	if (at == cur->nkeys) {
		rc = cli_fail(&c, FLT_ENOTFOUND,
		              "key %s is not in the current list; see 'keys list'", keyid);
		goto done;
	}
	unsigned roles = cur->keys[at].roles;
	int64_t now = (int64_t)time(NULL);
	int64_t validity =
	    cur->expires_at > now ? cur->expires_at - now : FLT_KEYSTORE_DEFAULT_VALIDITY_S;
	if (validity < 86400)
		validity = FLT_KEYSTORE_DEFAULT_VALIDITY_S;
	enum flt_keystore_slot slot = FLT_KEYSTORE_SLOTS_;
	if (!strcmp(keyid, flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_RELEASE))))
		slot = FLT_KEYSTORE_RELEASE;
	else if (!strcmp(keyid, flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_DIRECTOR))))
		slot = FLT_KEYSTORE_DIRECTOR;
	flt_err e = copy_list(cur, keyid, now, validity, &kl);
	if (!e)
		e = flt_keylist_revoke(kl, keyid);
	if (!e && slot != FLT_KEYSTORE_SLOTS_) {
		/* The key in use goes: a replacement with its roles, so serve can sign. */
		if (!(e = flt_key_generate(NULL, &fresh)))
			e = flt_keylist_add_key(kl, fresh, roles, now + validity);
	}
	if (!e)
		e = publish_and_install(&c, ks, kl, slot, &fresh);
	audit_keys(&c, "keys.revoke", keyid, e);
	if (e) {
		rc = cli_fail(&c, e, "revoking %s failed: %s", keyid, flt_strerror(e));
		goto done;
	}
	rc = cli_emit(&c, describe(ks));
done:
	flt_key_free(fresh);
	flt_keylist_free(kl);
	flt_keystore_free(ks);
	return cli_end(&c, rc);
}
