/* Unit tests for the controller keystore: keys init writes 0600 files and a
 * root-signed list a device would accept, refuses to overwrite, loads back,
 * and re-issued lists get higher serials from the registry counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "flt/keystore.h"
#include "flt/protocol.h"
#include "flt/registry.h"
#include "sys_testutil.h"

static void test_init_load_reissue(void **state)
{
	(void)state;
	char dir[256], path[512];
	struct flt_registry *reg = NULL;
	flt_keystore *ks = NULL, *ks2 = NULL, *ks3 = NULL;
	const int64_t now = 1764720000;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "ks"), 0);
	assert_int_equal(flt_registry_open(dir, 1, &reg), FLT_OK);
	assert_int_equal(flt_keystore_init(dir, reg, now, 86400, &ks), FLT_OK);

	static const char *const files[] = {FLT_KEYSTORE_ROOT_FILE, FLT_KEYSTORE_RELEASE_FILE,
	                                    FLT_KEYSTORE_DIRECTOR_FILE, FLT_KEYSTORE_KEYLIST_FILE};
	for (size_t i = 0; i < 4; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/keys/%s", dir, files[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}

	/* A device holding the root key accepts the list. */
	struct flt_trust_set roots = {.threshold = 1};
	flt_key *rootpub = NULL;
	assert_int_equal(flt_key_public_copy(flt_keystore_key(ks, FLT_KEYSTORE_ROOT), &rootpub),
	                 FLT_OK);
	assert_int_equal(flt_trust_set_add(&roots, rootpub), FLT_OK);
	size_t len = 0;
	const char *json = flt_keystore_keylist_json(ks, &len);
	flt_keylist *acc = NULL;
	assert_int_equal(flt_keylist_accept(json, len, &roots, NULL, now + 1, &acc, NULL, NULL),
	                 FLT_OK);
	assert_int_equal(acc->serial, 1);
	assert_true(flt_keylist_is_trusted(acc,
	                                   flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_RELEASE)),
	                                   FLT_ROLE_RELEASE, now + 1));
	assert_true(flt_keylist_is_trusted(acc,
	                                   flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_DIRECTOR)),
	                                   FLT_ROLE_DIRECTOR, now + 1));
	assert_false(flt_keylist_is_trusted(acc,
	                                    flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_DIRECTOR)),
	                                    FLT_ROLE_RELEASE, now + 1));
	flt_keylist_free(acc);

	assert_int_equal(flt_keystore_init(dir, reg, now, 86400, &ks2), FLT_ECONFLICT);
	assert_null(ks2);

	assert_int_equal(flt_keystore_load(dir, &ks2), FLT_OK);
	assert_string_equal(flt_key_id(flt_keystore_key(ks2, FLT_KEYSTORE_DIRECTOR)),
	                    flt_key_id(flt_keystore_key(ks, FLT_KEYSTORE_DIRECTOR)));
	assert_int_equal(flt_keystore_reissue_keylist(ks2, reg, now + 100, 86400), FLT_OK);
	assert_int_equal(flt_keystore_keylist(ks2)->serial, 2);
	assert_true(flt_keystore_keylist(ks2)->expires_at == now + 100 + 86400);

	/* The stored list is the new one. */
	assert_int_equal(flt_keystore_load(dir, &ks3), FLT_OK);
	assert_int_equal(flt_keystore_keylist(ks3)->serial, 2);

	flt_key_free(rootpub);
	flt_keystore_free(ks);
	flt_keystore_free(ks2);
	flt_keystore_free(ks3);
	flt_registry_close(reg);
	tu_rmtree(dir);
}

static void test_load_missing(void **state)
{
	(void)state;
	char dir[256];
	flt_keystore *ks = NULL;
	assert_int_equal(tu_mkdtemp(dir, sizeof(dir), "ks"), 0);
	assert_int_equal(flt_keystore_load(dir, &ks), FLT_ENOTFOUND);
	assert_null(ks);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_load_reissue),
	    cmocka_unit_test(test_load_missing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
