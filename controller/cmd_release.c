/* `flotilla firmware register|list` and `flotilla agent-release register|list`:
 * whole firmware images and agent binaries stored in the blob store like model
 * versions, recorded in one write transaction; `serve` signs them as release
 * envelopes of kind firmware / agent when a rollout asks for them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob_store.h"
#include "cli_args.h"
#include "cmds.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/manifest.h"
#include "flt/protocol.h"
#include "show_version.h"

#define IMAGE_MAX_BYTES                                                                            \
	((uint64_t)SIZE_MAX > (16ULL << 30) ? (size_t)(16ULL << 30) : (size_t)(SIZE_MAX / 2))

static const char *const arches[] = {"aarch64", "armhf", "x86_64"};

static int arch_valid(const char *a)
{
	for (size_t i = 0; a && i < sizeof(arches) / sizeof(arches[0]); i++)
		if (!strcmp(a, arches[i]))
			return 1;
	return 0;
}

/* Reads FILE and stores it as a blob; *created tells whether this call wrote it. */
static int load_and_store(struct cli *c, const char *file, uint8_t **buf, size_t *len,
                          char hex[BLOB_HEX_LEN + 1], int *created)
{
	flt_err e = flt_file_read_all(file, IMAGE_MAX_BYTES, buf, len, "registry.release");
	if (e)
		return cli_fail(c, FLT_EINVAL,
		                "cannot read '%s': %s; check the path and permissions", file,
		                e == FLT_EINVAL ? "not a regular file" : flt_strerror(e));
	if (*len == 0)
		return cli_fail(c, FLT_EINVAL, "'%s' is empty; nothing registered", file);
	int rc = cli_registry(c, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if ((e = blob_put(c->reg->blob_root, *buf, *len, hex, created)) != FLT_OK)
		return cli_fail(c, e, "cannot store '%s' in '%s': %s", file, c->reg->blob_root,
		                flt_strerror(e));
	return CLI_CONTINUE;
}

static void discard(struct flt_registry *r, const char *hex)
{
	if (reg_begin(r) != FLT_OK)
		return;
	if (blob_drop_if_unreferenced(r, hex, NULL) != FLT_OK || reg_commit(r) != FLT_OK)
		reg_rollback(r);
}

/* ---- firmware ----------------------------------------------------------------- */

static const struct cli_opt fw_reg_opts[] = {
    {"name", 'n', 1, "NAME", "image name: [a-z0-9][a-z0-9._-]{0,63}"},
    {"file", 'f', 1, "IMAGE", "the whole firmware image (what the slot backend writes)"},
    {"compatible", 0, 1, "BOARD", "the board this image is for (devices report theirs)"},
    {"label", 0, 1, "L", "free text shown in listings (at most 128 bytes)"},
    {0},
};

static const struct cli_spec fw_reg_spec = {
    "firmware register",
    "-n NAME -f IMAGE --compatible BOARD [--label L]",
    "Registers a firmware image as the next version of NAME. Devices accept it only when "
    "BOARD matches their own.",
    fw_reg_opts,
    0,
    0,
};

static flt_err fw_record(struct flt_registry *r, const char *name, const char *label,
                         const char *board, const char *hex, const uint8_t *buf, size_t len,
                         int64_t *version)
{
	int64_t v = 0;
	flt_err e = reg_begin(r);
	if (e)
		return e;
	if ((e = reg_query_int(r, REG_Q_FIRMWARE_NEXT_VERSION, &v, "t", name)) != FLT_OK ||
	    (e = blob_pin(r, hex, buf, len)) != FLT_OK ||
	    (e = reg_exec(r, REG_Q_FIRMWARE_INSERT, "titttii", name, v, label, board, hex,
	                  (int64_t)len, reg_now_ms())) != FLT_OK)
		goto fail;
	if ((e = reg_commit(r)) != FLT_OK)
		return e;
	*version = v;
	return FLT_OK;
fail:
	reg_rollback(r);
	return e;
}

static int cmd_firmware_register(int argc, char **argv)
{
	struct cli c;
	uint8_t *buf = NULL;
	size_t len = 0;
	char hex[BLOB_HEX_LEN + 1];
	int created = 0, rc;
	if ((rc = cli_start(&c, &fw_reg_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *name = cli_get(&c, "name"), *file = cli_get(&c, "file"),
	           *board = cli_get(&c, "compatible"), *label = cli_get(&c, "label");
	if (!name || !file || !board) {
		rc = cli_usage(&c, "-n NAME, -f IMAGE and --compatible BOARD are required");
		goto out;
	}
	if (!flt_registry_name_valid(name) || !flt_registry_name_valid(board)) {
		rc = cli_fail(&c, FLT_EINVAL,
		              "'%s' is not a valid %s; use [a-z0-9][a-z0-9._-]{0,63}, not . or ..",
		              flt_registry_name_valid(name) ? board : name,
		              flt_registry_name_valid(name) ? "board" : "image name");
		goto out;
	}
	if (label && strlen(label) > FLT_MAX_LABEL) {
		rc = cli_fail(&c, FLT_EINVAL, "--label is longer than %d bytes", FLT_MAX_LABEL);
		goto out;
	}
	if ((rc = load_and_store(&c, file, &buf, &len, hex, &created)) != CLI_CONTINUE)
		goto out;
	int64_t version = 0;
	flt_err e = fw_record(c.reg, name, label ? label : "", board, hex, buf, len, &version);
	if (e) {
		if (created)
			discard(c.reg, hex);
		rc = cli_fail(&c, e, "cannot record '%s': %s; nothing registered", name,
		              flt_strerror(e));
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		char ref[96];
		snprintf(ref, sizeof(ref), "%s:%lld", name, (long long)version);
		cJSON_AddStringToObject(doc, "ref", ref);
		cJSON_AddStringToObject(doc, "kind", "firmware");
		cJSON_AddStringToObject(doc, "name", name);
		cJSON_AddNumberToObject(doc, "version", (double)version);
		cJSON_AddStringToObject(doc, "compatible", board);
		cJSON_AddStringToObject(doc, "label", label ? label : "");
		cJSON_AddStringToObject(doc, "sha256", hex);
		cJSON_AddNumberToObject(doc, "size", (double)len);
		cJSON_AddBoolToObject(doc, "deduplicated", !created);
	}
	rc = cli_emit(&c, doc);
out:
	flt_free(buf);
	return cli_end(&c, rc);
}

static const struct cli_opt fw_list_opts[] = {
    {"name", 0, 1, "GLOB", "only images whose name matches GLOB"},
    {0},
};

static const struct cli_spec fw_list_spec = {
    "firmware list", "[--name GLOB]", "Lists registered firmware images.", fw_list_opts, 0, 0,
};

static int cmd_firmware_list(int argc, char **argv)
{
	struct cli c;
	int rc;
	cJSON *doc = NULL;
	if ((rc = cli_start(&c, &fw_list_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		goto out;
	sqlite3_stmt *st;
	flt_err e = reg_stmt(c.reg, REG_Q_FIRMWARE_LIST, &st);
	if (!e)
		e = reg_bind(c.reg, st, "T", cli_get(&c, "name"));
	doc = cJSON_CreateArray();
	int row = 0;
	while (!e && doc && !(e = reg_step(c.reg, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToArray(doc, o);
		char ref[96];
		snprintf(ref, sizeof(ref), "%s:%lld", (const char *)sqlite3_column_text(st, 0),
		         (long long)sqlite3_column_int64(st, 1));
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 1));
		cJSON_AddStringToObject(o, "label", (const char *)sqlite3_column_text(st, 2));
		cJSON_AddStringToObject(o, "compatible", (const char *)sqlite3_column_text(st, 3));
		cJSON_AddStringToObject(o, "sha256", (const char *)sqlite3_column_text(st, 4));
		cJSON_AddNumberToObject(o, "size", (double)sqlite3_column_int64(st, 5));
		show_add_time(o, "created", sqlite3_column_int64(st, 6));
	}
	sqlite3_reset(st);
	if (e) {
		rc = cli_fail(&c, e, "cannot list firmware: %s", flt_strerror(e));
		goto out;
	}
	rc = cli_emit(&c, doc);
	doc = NULL;
out:
	cJSON_Delete(doc);
	return cli_end(&c, rc);
}

/* ---- agent releases ----------------------------------------------------------- */

static const struct cli_opt ag_reg_opts[] = {
    {"file", 'f', 1, "BINARY", "the flotilla-agent binary built for ARCH"},
    {"arch", 0, 1, "ARCH", "aarch64, armhf or x86_64"},
    {"version", 0, 1, "N", "the agent's integer version (what it reports in up/state)"},
    {0},
};

static const struct cli_spec ag_reg_spec = {
    "agent-release register",
    "-f BINARY --arch aarch64|armhf|x86_64 --version N",
    "Registers an agent binary as release flotilla-agent-ARCH version N (N must be higher "
    "than every registered version for ARCH).",
    ag_reg_opts,
    0,
    0,
};

static int cmd_agent_release_register(int argc, char **argv)
{
	struct cli c;
	uint8_t *buf = NULL;
	size_t len = 0;
	char hex[BLOB_HEX_LEN + 1], name[64];
	int created = 0, rc;
	int64_t have = 0;
	if ((rc = cli_start(&c, &ag_reg_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	const char *file = cli_get(&c, "file"), *arch = cli_get(&c, "arch"),
	           *vs = cli_get(&c, "version");
	if (!file || !arch || !vs) {
		rc = cli_usage(&c, "-f BINARY, --arch ARCH and --version N are required");
		goto out;
	}
	if (!arch_valid(arch)) {
		rc = cli_fail(&c, FLT_EINVAL, "--arch '%s' is not aarch64, armhf or x86_64", arch);
		goto out;
	}
	char *end;
	long long v = strtoll(vs, &end, 10);
	if (!*vs || *end || v < 1 || v > (1LL << 53) - 1) {
		rc = cli_fail(&c, FLT_EINVAL, "--version takes an integer from 1 to 2^53-1");
		goto out;
	}
	snprintf(name, sizeof(name), "%s%s", FLT_AGENT_RELEASE_PREFIX, arch);
	if ((rc = load_and_store(&c, file, &buf, &len, hex, &created)) != CLI_CONTINUE)
		goto out;
	flt_err e = reg_begin(c.reg);
	if (!e && !(e = reg_query_int(c.reg, REG_Q_AGENT_RELEASE_MAX_VERSION, &have, "t", name)) &&
	    have >= v)
		e = FLT_ECONFLICT;
	if (!e)
		e = blob_pin(c.reg, hex, buf, len);
	if (!e)
		e = reg_exec(c.reg, REG_Q_AGENT_RELEASE_INSERT, "ttitii", name, arch, (int64_t)v,
		             hex, (int64_t)len, reg_now_ms());
	if (!e)
		e = reg_commit(c.reg);
	else
		reg_rollback(c.reg);
	if (e) {
		if (created)
			discard(c.reg, hex);
		if (e == FLT_ECONFLICT)
			rc = cli_fail(&c, e,
			              "%s already has version %lld; agent versions only grow, "
			              "register a higher --version",
			              name, (long long)have);
		else
			rc = cli_fail(&c, e, "cannot record %s %lld: %s; nothing registered", name,
			              v, flt_strerror(e));
		goto out;
	}
	cJSON *doc = cJSON_CreateObject();
	if (doc) {
		char ref[96];
		snprintf(ref, sizeof(ref), "%s:%lld", name, v);
		cJSON_AddStringToObject(doc, "ref", ref);
		cJSON_AddStringToObject(doc, "kind", "agent");
		cJSON_AddStringToObject(doc, "name", name);
		cJSON_AddStringToObject(doc, "arch", arch);
		cJSON_AddNumberToObject(doc, "version", (double)v);
		cJSON_AddStringToObject(doc, "sha256", hex);
		cJSON_AddNumberToObject(doc, "size", (double)len);
	}
	rc = cli_emit(&c, doc);
out:
	flt_free(buf);
	return cli_end(&c, rc);
}

static const struct cli_opt ag_list_opts[] = {
    {"arch", 0, 1, "ARCH", "only releases for ARCH"},
    {0},
};

static const struct cli_spec ag_list_spec = {
    "agent-release list", "[--arch ARCH]", "Lists registered agent releases.", ag_list_opts, 0, 0,
};

static int cmd_agent_release_list(int argc, char **argv)
{
	struct cli c;
	int rc;
	cJSON *doc = NULL;
	if ((rc = cli_start(&c, &ag_list_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		goto out;
	sqlite3_stmt *st;
	flt_err e = reg_stmt(c.reg, REG_Q_AGENT_RELEASE_LIST, &st);
	if (!e)
		e = reg_bind(c.reg, st, "T", cli_get(&c, "arch"));
	doc = cJSON_CreateArray();
	int row = 0;
	while (!e && doc && !(e = reg_step(c.reg, st, &row)) && row) {
		cJSON *o = cJSON_CreateObject();
		if (!o)
			break;
		cJSON_AddItemToArray(doc, o);
		char ref[96];
		snprintf(ref, sizeof(ref), "%s:%lld", (const char *)sqlite3_column_text(st, 0),
		         (long long)sqlite3_column_int64(st, 2));
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 0));
		cJSON_AddStringToObject(o, "arch", (const char *)sqlite3_column_text(st, 1));
		cJSON_AddNumberToObject(o, "version", (double)sqlite3_column_int64(st, 2));
		cJSON_AddStringToObject(o, "sha256", (const char *)sqlite3_column_text(st, 3));
		cJSON_AddNumberToObject(o, "size", (double)sqlite3_column_int64(st, 4));
		show_add_time(o, "created", sqlite3_column_int64(st, 5));
	}
	sqlite3_reset(st);
	if (e) {
		rc = cli_fail(&c, e, "cannot list agent releases: %s", flt_strerror(e));
		goto out;
	}
	rc = cli_emit(&c, doc);
	doc = NULL;
out:
	cJSON_Delete(doc);
	return cli_end(&c, rc);
}

/* ---- dispatch ------------------------------------------------------------------- */

struct sub {
	const char *name;
	int (*run)(int argc, char **argv);
};

static int dispatch(const char *group, const struct sub *subs, size_t n, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f,
		        "usage: flotilla %s register|list [options]\n"
		        "'flotilla %s <subcommand> --help' for its options.\n",
		        group, group);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "flotilla %s: unknown subcommand '%s'; see 'flotilla %s --help'\n", group,
	        argv[1], group);
	return CLI_USAGE;
}

int cmd_firmware(int argc, char **argv)
{
	static const struct sub subs[] = {{"register", cmd_firmware_register},
	                                  {"list", cmd_firmware_list}};
	return dispatch("firmware", subs, 2, argc, argv);
}

int cmd_agent_release(int argc, char **argv)
{
	static const struct sub subs[] = {{"register", cmd_agent_release_register},
	                                  {"list", cmd_agent_release_list}};
	return dispatch("agent-release", subs, 2, argc, argv);
}
