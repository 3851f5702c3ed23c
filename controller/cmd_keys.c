/* `flotilla keys <subcommand>`: the one table of key subcommands (init, list;
 * the security work adds rotate and revoke here), and init/list themselves.
 * Private keys never reach stdout, stderr or the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_args.h"
#include "cmds.h"
#include "flt/keystore.h"

struct sub {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

static const struct sub subs[] = {
    {"init", "create the root, release and director keys and the first key list", cmd_keys_init},
    {"list", "key ids, roles and expiry", cmd_keys_list},
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
	cJSON_AddItemToArray(arr,
	                     key_row(flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_ROOT)), "root", 0));
	for (size_t i = 0; kl && i < kl->nkeys; i++) {
		char roles[64] = "";
		for (int r = 0; r < FLT_ROLE_COUNT_; r++)
			if (kl->keys[i].roles & (1u << r)) {
				size_t n = strlen(roles);
				snprintf(roles + n, sizeof(roles) - n, "%s%s", n ? "," : "",
				         flt_role_name((enum flt_role)r));
			}
		cJSON_AddItemToArray(arr, key_row(kl->keys[i].keyid, roles, kl->keys[i].expires_at));
	}
	for (size_t i = 0; kl && i < kl->nrevoked; i++)
		cJSON_AddItemToArray(arr, key_row(kl->revoked[i], "revoked", 0));
	return arr;
}

static const struct cli_opt init_opts[] = {
    {"validity", 0, 1, "DAYS", "validity of the keys and the key list (default 365)"},
    {0},
};
static const struct cli_spec init_spec = {
    "keys init",
    "[--validity DAYS]",
    "Creates the root, release and director keys (0600 files under <data-dir>/keys/) and the "
    "first root-signed key list. Refuses to overwrite existing keys.",
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
			return cli_end(&c, cli_usage(&c, "--validity takes 1..3650 days, not '%s'", v));
	}
	if ((rc = cli_registry(&c, 1)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	flt_err e = flt_keystore_init(c.data_dir, c.reg, (int64_t)time(NULL), (int64_t)days * 86400,
	                              &ks);
	if (e == FLT_ECONFLICT)
		return cli_end(&c, cli_fail(&c, e,
		                            "keys already exist in %s/keys; nothing changed (rotate "
		                            "them instead)",
		                            c.data_dir));
	if (e)
		return cli_end(&c, cli_fail(&c, e, "cannot create keys in %s/keys: %s", c.data_dir,
		                            flt_strerror(e)));
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
