/* Generic strictness checks for the JSON codecs in common/, shared by the
 * codec unit tests: every node mutated to a wrong type, invalid UTF-8 in every
 * string, duplicated and unknown keys in every object, wrong version,
 * deep nesting, oversize input, truncation at every byte, and round trips.
 * Set FLT_WRITE_SEEDS=DIR to also write the valid sample as a fuzz seed. */
#ifndef FLT_TEST_CODEC_CHECK_H
#define FLT_TEST_CODEC_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/json.h"

typedef flt_err (*cc_decode_fn)(const char *buf, size_t len, void **out, struct flt_json_err *err);
typedef flt_err (*cc_encode_fn)(const void *msg, char **out, size_t *len);
typedef void (*cc_free_fn)(void *msg);

struct cc_codec {
	const char *name; /* fuzz corpus name */
	cc_decode_fn decode;
	cc_encode_fn encode;
	cc_free_fn free;
	size_t max_bytes;
	const char *skip_key; /* subtree not checked by this codec (e.g. "envelope"), or NULL */
};

static inline flt_err cc_decode_text(const struct cc_codec *c, const char *text, size_t len,
                                     struct flt_json_err *e)
{
	void *m = NULL;
	flt_err rc;

	/* garbage first, so a failure that does not fill the error shows */
	memset(e, 'x', sizeof(*e));
	rc = c->decode(text, len, &m, e);
	if (rc == FLT_OK) {
		assert_non_null(m);
	} else {
		assert_null(m);
		assert_non_null(memchr(e->msg, '\0', sizeof(e->msg)));
		assert_true(strlen(e->msg) > 0);
		assert_true((unsigned)e->reason < FLT_REASON_COUNT_ &&
		            e->reason != FLT_REASON_NONE);
	}
	c->free(m);
	return rc;
}

static inline flt_err cc_decode_tree(const struct cc_codec *c, const cJSON *root,
                                     struct flt_json_err *e)
{
	char *p = cJSON_PrintUnformatted(root);
	flt_err rc;

	assert_non_null(p);
	rc = cc_decode_text(c, p, strlen(p), e);
	cJSON_free(p);
	return rc;
}

static inline void cc_write_seed(const struct cc_codec *c, const char *tag, const char *buf,
                                 size_t len)
{
	const char *dir = getenv("FLT_WRITE_SEEDS");
	char path[1024];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s/%s", dir, c->name, tag);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(buf, 1, len, f);
	fclose(f);
}

/* Round trip: encode(sample) decodes, and re-encodes to the same bytes. */
static inline void cc_round_trip(const struct cc_codec *c, const void *sample, const char *tag)
{
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	void *m = NULL;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};

	assert_int_equal(c->encode(sample, &a, &alen), FLT_OK);
	if (c->decode(a, alen, &m, &e) != FLT_OK)
		fail_msg("%s: own encoding refused: %s\n%s", c->name, e.msg, a);
	assert_int_equal(c->encode(m, &b, &blen), FLT_OK);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	cc_write_seed(c, tag, a, alen);
	c->free(m);
	flt_free(a);
	flt_free(b);
}

static inline void cc_mutate_walk(const struct cc_codec *c, cJSON *root, cJSON *node, int *count)
{
	struct flt_json_err e = {.reason = FLT_REASON_NONE};

	for (cJSON *it = node->child; it; it = it->next) {
		if (c->skip_key && it->string && strcmp(it->string, c->skip_key) == 0)
			continue;
		/* 1. wrong type: swap this node's value for one no field accepts here */
		cJSON saved = *it;
		cJSON *kids = it->child;
		it->child = NULL;
		if (cJSON_IsString(it)) {
			it->type = cJSON_True;
		} else if (cJSON_IsNumber(it) || cJSON_IsRaw(it)) {
			it->type = cJSON_True;
		} else if (cJSON_IsBool(it)) {
			it->type = cJSON_String;
			it->valuestring = (char *)"x";
		} else if (cJSON_IsObject(it)) {
			it->type = cJSON_Array;
		} else if (cJSON_IsArray(it)) {
			it->type = cJSON_Object;
		}
		if (cc_decode_tree(c, root, &e) == FLT_OK)
			fail_msg("%s: accepted a wrong type at '%s'", c->name,
			         it->string ? it->string : "[item]");
		*it = saved;
		it->child = kids;
		(*count)++;

		/* 2. invalid UTF-8 in strings */
		if (cJSON_IsString(it)) {
			char *old = it->valuestring;
			it->valuestring = (char *)"a\xff";
			if (cc_decode_tree(c, root, &e) == FLT_OK)
				fail_msg("%s: accepted invalid UTF-8 at '%s'", c->name,
				         it->string ? it->string : "[item]");
			it->valuestring = (char *)"\xc0\xaf";
			assert_int_not_equal(cc_decode_tree(c, root, &e), FLT_OK);
			it->valuestring = old;
		}
		/* 3. numbers: 2^53 and fractions */
		if (cJSON_IsNumber(it) || cJSON_IsRaw(it)) {
			int oldtype = it->type;
			double oldd = it->valuedouble;
			char *oldraw = it->valuestring;
			it->type = cJSON_Raw;
			it->valuestring = (char *)"9007199254740992";
			if (cc_decode_tree(c, root, &e) == FLT_OK)
				fail_msg("%s: accepted 2^53 at '%s'", c->name,
				         it->string ? it->string : "[item]");
			it->valuestring = (char *)"1e400";
			assert_int_not_equal(cc_decode_tree(c, root, &e), FLT_OK);
			it->type = oldtype;
			it->valuedouble = oldd;
			it->valuestring = oldraw;
		}
		if (cJSON_IsObject(it) || cJSON_IsArray(it))
			cc_mutate_walk(c, root, it, count);
	}

	if (cJSON_IsObject(node) && node->child) {
		/* 4. a duplicated key */
		cJSON *dup = cJSON_Duplicate(node->child, 1);
		assert_non_null(dup);
		cJSON_AddItemToObject(node, node->child->string, dup);
		assert_int_not_equal(cc_decode_tree(c, root, &e), FLT_OK);
		assert_non_null(strstr(e.msg, "duplicate"));
		cJSON_Delete(cJSON_DetachItemViaPointer(node, dup));
		/* 5. an unknown key */
		cJSON_AddNumberToObject(node, "zz_unknown", 1);
		assert_int_not_equal(cc_decode_tree(c, root, &e), FLT_OK);
		if (!strstr(e.msg, "unknown key 'zz_unknown'"))
			fail_msg("%s: unknown key not named: %s", c->name, e.msg);
		cJSON_DeleteItemFromObjectCaseSensitive(node, "zz_unknown");
	}
}

/* Runs every strictness check on the encoding of `sample`. `required` is a
 * NULL-terminated list of top-level keys whose removal must be refused. */
static inline void cc_strict(const struct cc_codec *c, const void *sample,
                             const char *const *required)
{
	char *text = NULL;
	size_t len = 0;
	cJSON *root;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	int count = 0;

	assert_int_equal(c->encode(sample, &text, &len), FLT_OK);
	assert_int_equal(cc_decode_text(c, text, len, &e), FLT_OK);

	/* truncation at every byte */
	for (size_t i = 0; i < len; i++)
		if (cc_decode_text(c, text, i, &e) == FLT_OK)
			fail_msg("%s: accepted a truncation at %zu", c->name, i);
	/* oversize: the same text padded with spaces past the limit */
	{
		char *big = flt_malloc(c->max_bytes + 1);
		assert_non_null(big);
		memset(big, ' ', c->max_bytes + 1);
		memcpy(big, text, len);
		assert_int_equal(cc_decode_text(c, big, c->max_bytes + 1, &e), FLT_ELIMIT);
		assert_int_equal(e.reason, FLT_REASON_TOO_LARGE);
		flt_free(big);
	}

	assert_int_equal(flt_json_parse(text, len, len, 0, &root, NULL), FLT_OK);
	/* unknown protocol version */
	cJSON_ReplaceItemInObjectCaseSensitive(root, "v", cJSON_CreateNumber(2));
	assert_int_equal(cc_decode_tree(c, root, &e), FLT_EUNSUPPORTED);
	assert_int_equal(e.reason, FLT_REASON_UNSUPPORTED_PROTOCOL);
	cJSON_ReplaceItemInObjectCaseSensitive(root, "v", cJSON_CreateNumber(1));
	assert_int_equal(cc_decode_tree(c, root, &e), FLT_OK);
	/* deep nesting under an otherwise unknown key: refused for depth first */
	{
		cJSON *deep = cJSON_CreateArray(), *cur = deep;
		for (int i = 0; i < 20; i++) {
			cJSON *n = cJSON_CreateArray();
			cJSON_AddItemToArray(cur, n);
			cur = n;
		}
		cJSON_AddItemToObject(root, "deep", deep);
		assert_int_equal(cc_decode_tree(c, root, &e), FLT_ELIMIT);
		assert_non_null(strstr(e.msg, "nesting"));
		cJSON_DeleteItemFromObjectCaseSensitive(root, "deep");
	}
	/* missing required keys */
	for (const char *const *k = required; *k; k++) {
		cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(root, *k);
		if (!it)
			fail_msg("%s: sample lacks required key %s", c->name, *k);
		if (cc_decode_tree(c, root, &e) == FLT_OK)
			fail_msg("%s: accepted a message without '%s'", c->name, *k);
		cJSON_AddItemToObject(root, *k, it);
	}
	assert_int_equal(cc_decode_tree(c, root, &e), FLT_OK);
	cc_mutate_walk(c, root, root, &count);
	assert_true(count >= 2);
	/* the walk restores every mutation */
	assert_int_equal(cc_decode_tree(c, root, &e), FLT_OK);
	cJSON_Delete(root);
	flt_free(text);
}

/* Allocation-failure torture (curl style): routes cJSON through flt_malloc
 * (in this test binary only), then makes the Nth allocation fail for every N
 * until a decode and an encode succeed. Each failure must be clean: an error,
 * no output, no leak (the ASan build checks leaks). */
static void *cc_hook_malloc(size_t n)
{
	return flt_malloc(n);
}

static inline void cc_torture(const struct cc_codec *c, const void *sample)
{
	cJSON_Hooks hooks = {cc_hook_malloc, flt_free};
	char *text = NULL;
	size_t len = 0;
	bool dec_ok = false, enc_ok = false;

	assert_int_equal(c->encode(sample, &text, &len), FLT_OK);
	cJSON_InitHooks(&hooks);
	for (long n = 0; n < 100000 && !(dec_ok && enc_ok); n++) {
		void *m = NULL;
		char *out = NULL;
		size_t olen = 0;
		flt_err rc;

		if (!dec_ok) {
			flt_alloc_fail_after(n);
			rc = c->decode(text, len, &m, NULL);
			flt_alloc_fail_reset();
			if (rc == FLT_OK) {
				dec_ok = true;
				c->free(m);
			} else {
				/* cJSON reports a failed allocation as a parse failure */
				if (rc != FLT_ENOMEM && rc != FLT_EPARSE)
					fail_msg(
					    "%s: decode with allocation %ld failing returned %d",
					    c->name, n, rc);
				assert_null(m);
			}
		}
		if (!enc_ok) {
			flt_alloc_fail_after(n);
			rc = c->encode(sample, &out, &olen);
			flt_alloc_fail_reset();
			if (rc == FLT_OK) {
				enc_ok = true;
				assert_int_equal(olen, len);
				assert_memory_equal(out, text, len);
				flt_free(out);
			} else if (rc != FLT_ENOMEM && rc != FLT_EINVAL) {
				/* EINVAL: the desired-state encoder re-parses each
				 * envelope, and cJSON reports its failed allocation as
				 * invalid text */
				fail_msg("%s: encode with allocation %ld failing returned %d",
				         c->name, n, rc);
			}
		}
	}
	cJSON_InitHooks(NULL);
	assert_true(dec_ok && enc_ok);
	flt_free(text);
}

#endif
