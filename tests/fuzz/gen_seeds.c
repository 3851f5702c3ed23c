/* Writes the seed corpora of the crypto/chunk fuzz targets with the real
 * encoders. Not part of the build; run by hand after a format change:
 *   cc -std=c11 -D_DEFAULT_SOURCE -Icommon/include -Ibuild/native/gen tests/fuzz/gen_seeds.c \
 *      build/native/common/libflt_common.a -lmbedtls -lmbedx509 -lmbedcrypto -lcjson -lm \
 *      -o /tmp/gen_seeds && /tmp/gen_seeds tests/fuzz/corpus
 * Signatures are randomised, so rerunning changes the envelope seeds' bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/dsse.h"
#include "flt/keylist.h"
#include "flt/protocol.h"
#include "fuzz_keys.h"

static const char *root_dir;

static void put(const char *target, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s/%s", root_dir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(1);
	}
}

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if ((x) != FLT_OK) {                                                               \
			fprintf(stderr, "failed: %s\n", #x);                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds CORPUS_DIR\n");
		return 2;
	}
	root_dir = argv[1];
	flt_key *root = fuzz_key(fuzz_root_pem), *rel = fuzz_key(fuzz_release_pem);
	char *text = NULL;
	size_t len = 0;
	flt_dsse *env = NULL;

	/* envelope */
	const char *manifest = "{\"v\":1,\"kind\":\"model\",\"name\":\"digits\",\"version\":3}";
	const flt_key *one[] = {root}, *two[] = {root, rel};
	CHECK(flt_dsse_sign(FLT_PAYLOAD_RELEASE, (const uint8_t *)manifest, strlen(manifest), one,
	                    1, NULL, &env));
	CHECK(flt_dsse_serialize(env, &text, &len));
	put("envelope", "release-1sig.json", text, len);
	flt_free(text);
	flt_dsse_free(env);
	CHECK(flt_dsse_sign(FLT_PAYLOAD_DESIRED, (const uint8_t *)"{}", 2, two, 2, NULL, &env));
	CHECK(flt_dsse_serialize(env, &text, &len));
	put("envelope", "desired-2sig.json", text, len);
	flt_free(text);
	flt_dsse_free(env);

	/* keylist: the payload alone and the signed envelope */
	flt_keylist *kl = NULL;
	CHECK(flt_keylist_new(&kl));
	kl->serial = 3;
	kl->issued_at = 1690000000;
	kl->expires_at = 1900000000;
	CHECK(flt_keylist_add_key(kl, rel, 1u << FLT_ROLE_RELEASE | 1u << FLT_ROLE_DIRECTOR,
	                          1900000000));
	CHECK(flt_keylist_revoke(
	    kl, "00000000000000000000000000000000000000000000000000000000000000ff"));
	CHECK(flt_keylist_encode(kl, &text, &len));
	put("keylist", "payload.json", text, len);
	flt_free(text);
	CHECK(flt_keylist_sign(kl, one, 1, NULL, &text, &len));
	put("keylist", "envelope.json", text, len);
	flt_free(text);
	flt_keylist_free(kl);

	/* chunk */
	uint8_t art[1000], buf[FLT_CHUNK_HEADER_LEN + 300];
	for (size_t i = 0; i < sizeof art; i++)
		art[i] = (uint8_t)(i * 31 + 7);
	struct flt_chunk c = {.index = 2, .count = 4, .len = 16, .data = art};
	CHECK(flt_sha256(art, sizeof art, c.artifact_sha256));
	CHECK(flt_chunk_encode(&c, buf, sizeof buf, &len));
	put("chunk", "chunk-16.bin", buf, len);
	c.index = 0;
	c.count = 1;
	c.len = 1;
	CHECK(flt_chunk_encode(&c, buf, sizeof buf, &len));
	put("chunk", "chunk-1.bin", buf, len);

	/* chunk index */
	uint8_t *idx = NULL, sha[32];
	CHECK(flt_chunk_index_build(art, sizeof art, 300, &idx, &len, sha));
	put("chunk_index", "index-4x300.bin", idx, len);
	flt_free(idx);
	CHECK(flt_chunk_index_build(art, 64, 64, &idx, &len, sha));
	put("chunk_index", "index-1x64.bin", idx, len);
	flt_free(idx);

	/* resume map */
	flt_resume_map *m = NULL;
	CHECK(flt_resume_map_new(c.artifact_sha256, 21, &m));
	CHECK(flt_resume_map_set(m, 0));
	CHECK(flt_resume_map_set(m, 9));
	CHECK(flt_resume_map_set(m, 20));
	CHECK(flt_resume_map_serialize(m, &idx, &len));
	put("resume_map", "map-21.bin", idx, len);
	flt_free(idx);
	flt_resume_map_free(m);

	flt_key_free(root);
	flt_key_free(rel);
	return 0;
}
