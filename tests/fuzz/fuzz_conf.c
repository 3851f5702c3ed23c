/* libFuzzer target for the config parser from memory, over a schema with every
 * option type, followed by an override parsed from the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/conf.h"

struct fconf {
	char *s;
	char *p;
	int64_t i;
	bool b;
	int64_t d;
	uint64_t z;
	int e;
	char *req;
};

static const char *const choices[] = {"a", "bb", "ccc", NULL};

static const struct flt_conf_opt opts[] = {
    {"s", FLT_CONF_STRING, offsetof(struct fconf, s), "x", 0, 0, NULL, 0, "string"},
    {"sec.p", FLT_CONF_PATH, offsetof(struct fconf, p), "/tmp", 0, 0, NULL, 0, "path"},
    {"sec.i", FLT_CONF_INT, offsetof(struct fconf, i), "3", -5, 1000, NULL, 0, "int"},
    {"b", FLT_CONF_BOOL, offsetof(struct fconf, b), "on", 0, 0, NULL, 0, "bool"},
    {"t.d", FLT_CONF_DURATION, offsetof(struct fconf, d), "1h", 0, 0, NULL, 0, "duration"},
    {"t.z", FLT_CONF_SIZE, offsetof(struct fconf, z), "1K", 1, INT64_MAX, NULL, 0, "size"},
    {"e", FLT_CONF_ENUM, offsetof(struct fconf, e), "bb", 0, 0, choices, 0, "enum"},
    {"req", FLT_CONF_STRING, offsetof(struct fconf, req), NULL, 0, 0, NULL, FLT_CONF_REQUIRED,
     "required"},
};

static const struct flt_conf_schema schema = {opts, sizeof(opts) / sizeof(opts[0]),
                                              sizeof(struct fconf)};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fconf c;
	char err[256];

	if (flt_conf_init(&schema, &c, err, sizeof(err)) != FLT_OK)
		return 0;
	if (flt_conf_parse_buf(&schema, &c, (const char *)data, size, "fuzz", err, sizeof(err)) ==
	    FLT_OK)
		(void)!flt_conf_check(&schema, &c, err, sizeof(err));
	/* The first line as a command-line override. */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;
	char *kv = flt_strndup((const char *)data, n);
	if (kv) {
		(void)!flt_conf_set(&schema, &c, kv, err, sizeof(err));
		flt_free(kv);
	}
	flt_conf_free(&schema, &c);
	return 0;
}
