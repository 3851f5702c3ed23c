/* serve_ota_sign: firmware and agent releases registered with the CLI become
 * release envelopes signed by the release key, whose manifests carry the
 * kind, the compatible board or the arch, the artifact hash and a chunk index
 * pinned in the blob store; an unknown release is not found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/controller.h"
#include "flt/crypto.h"
#include "flt/dsse.h"
#include "flt/firmware.h"
#include "flt/keylist.h"
#include "flt/keystore.h"
#include "flt/manifest.h"
#include "flt/registry.h"
#include "blob_store.h"
#include "serve_ota.h"

#include "sys_testutil.h"

struct fx {
	char dir[256], data[300], img[300];
	uint8_t bytes[5000];
};

static int setup(void **state)
{
	static struct fx f;
	if (tu_mkdtemp(f.dir, sizeof(f.dir), "sota") != 0)
		return -1;
	snprintf(f.data, sizeof(f.data), "%s/data", f.dir);
	snprintf(f.img, sizeof(f.img), "%s/image.bin", f.dir);
	for (size_t i = 0; i < sizeof(f.bytes); i++)
		f.bytes[i] = (uint8_t)(i * 11u + 1u);
	if (tu_write(f.img, f.bytes, sizeof(f.bytes)) != 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->dir);
	return 0;
}

static int run(int argc, const char **argv)
{
	return flt_controller_cli(argc, (char **)argv);
}

/* Verifies ENV against the keystore's list and returns its manifest. */
static struct flt_manifest *open_env(const flt_keystore *ks, const char *env)
{
	flt_dsse *d = NULL;
	struct flt_manifest *m = NULL;
	enum flt_reason why = FLT_REASON_NONE;
	assert_int_equal(flt_dsse_parse(env, strlen(env), FLT_MAX_MANIFEST_BYTES, &d, NULL),
	                 FLT_OK);
	assert_int_equal(flt_keylist_verify_envelope(flt_keystore_keylist(ks), d,
	                                             FLT_PAYLOAD_RELEASE, FLT_ROLE_RELEASE,
	                                             (int64_t)time(NULL), &why),
	                 FLT_OK);
	assert_int_equal(flt_manifest_parse((const char *)d->payload, d->payload_len, &m, NULL),
	                 FLT_OK);
	flt_dsse_free(d);
	return m;
}

static void check_artifact(struct fx *f, struct flt_registry *r, const struct flt_manifest *m)
{
	uint8_t sha[FLT_SHA256_LEN];
	char hex[65], path[4096];
	assert_int_equal(flt_sha256(f->bytes, sizeof(f->bytes), sha), FLT_OK);
	assert_int_equal(flt_hex_encode(sha, sizeof(sha), hex, sizeof(hex)), FLT_OK);
	assert_string_equal(m->artifact_sha256, hex);
	assert_int_equal(m->artifact_size, sizeof(f->bytes));
	assert_int_equal(m->chunk_size, 1000);
	assert_int_equal(m->chunk_count, 5);
	/* the chunk index is in the blob store, for the chunk server */
	assert_int_equal(blob_path(r->blob_root, m->chunk_index_sha256, path, sizeof(path)),
	                 FLT_OK);
	char idx[4096];
	assert_int_equal(tu_read(path, idx, sizeof(idx)), (long)m->chunk_index_size);
}

static void test_firmware_and_agent_signed(void **state)
{
	struct fx *f = *state;
	const char *keys[] = {"flotilla", "keys", "init", "--data-dir", f->data};
	assert_int_equal(run(5, keys), 0);
	const char *fw[] = {"flotilla",   "firmware", "register", "--data-dir",   f->data, "-n",
	                    "rpi4-image", "-f",       f->img,     "--compatible", "rpi4"};
	assert_int_equal(run(11, fw), 0);
	const char *ag[] = {"flotilla", "agent-release", "register", "--data-dir", f->data, "-f",
	                    f->img,     "--arch",        "armhf",    "--version",  "7"};
	assert_int_equal(run(11, ag), 0);

	struct flt_registry *r = NULL;
	flt_keystore *ks = NULL;
	char *env = NULL;
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(flt_registry_open(f->data, 0, &r), FLT_OK);
	assert_int_equal(flt_keystore_load(f->data, &ks), FLT_OK);

	assert_int_equal(
	    serve_ota_sign(r, ks, FLT_KIND_FIRMWARE, "rpi4-image", 1, 1000, now, 3600, &env),
	    FLT_OK);
	struct flt_manifest *m = open_env(ks, env);
	assert_int_equal(m->kind, FLT_KIND_FIRMWARE);
	assert_string_equal(m->name, "rpi4-image");
	assert_int_equal(m->version, 1);
	assert_int_equal(m->n_boards, 1);
	assert_string_equal(m->boards[0], "rpi4");
	assert_int_equal(m->expires_at, now + 3600);
	check_artifact(f, r, m);
	enum flt_reason why = FLT_REASON_NONE;
	char msg[200];
	assert_int_equal(flt_fw_admit(m, "rpi4", "armhf", 1, 0, &why, msg, sizeof(msg)), FLT_OK);
	assert_int_not_equal(flt_fw_admit(m, "imx8", "armhf", 1, 0, &why, msg, sizeof(msg)),
	                     FLT_OK);
	assert_int_equal(why, FLT_REASON_INCOMPATIBLE_BOARD);
	flt_manifest_free(m);
	flt_free(env);
	env = NULL;

	assert_int_equal(serve_ota_sign(r, ks, FLT_KIND_AGENT, "armhf", 7, 1000, now, 3600, &env),
	                 FLT_OK);
	m = open_env(ks, env);
	assert_int_equal(m->kind, FLT_KIND_AGENT);
	assert_string_equal(m->name, "flotilla-agent-armhf");
	assert_int_equal(m->version, 7);
	check_artifact(f, r, m);
	assert_int_not_equal(flt_fw_admit(m, "rpi4", "aarch64", 1, 0, &why, msg, sizeof(msg)),
	                     FLT_OK);
	assert_int_equal(why, FLT_REASON_WRONG_ARCH);
	flt_manifest_free(m);
	flt_free(env);
	env = NULL;

	assert_int_equal(
	    serve_ota_sign(r, ks, FLT_KIND_FIRMWARE, "rpi4-image", 2, 1000, now, 3600, &env),
	    FLT_ENOTFOUND);
	assert_int_equal(serve_ota_sign(r, ks, FLT_KIND_AGENT, "aarch64", 7, 1000, now, 3600, &env),
	                 FLT_ENOTFOUND);
	assert_int_equal(serve_ota_sign(r, ks, FLT_KIND_MODEL, "x", 1, 1000, now, 3600, &env),
	                 FLT_EINVAL);
	assert_null(env);
	flt_keystore_free(ks);
	flt_registry_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_firmware_and_agent_signed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
