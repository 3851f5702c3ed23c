/* SHA-256 throughput of the hash the agent uses for chunks and whole files
 * (mbedTLS), beside `openssl speed sha256` measured in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "benchlib.h"

/* Runs `openssl speed` on 16 KiB blocks and returns MB/s, or -1. */
static double openssl_mbs(int seconds)
{
	char cmd[128], line[512];
	double best = -1;
	snprintf(cmd, sizeof(cmd), "openssl speed -seconds %d -bytes 16384 sha256 2>/dev/null",
	         seconds);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		/* "sha256   123456.78k" : thousands of bytes per second */
		if (strncmp(line, "sha256", 6) == 0) {
			char *k = strrchr(line, ' ');
			if (k) {
				double v = strtod(k + 1, NULL);
				if (v > 0)
					best = v * 1000.0 / 1e6;
			}
		}
	}
	pclose(p);
	return best;
}

int main(void)
{
	size_t len = 16384;
	int seconds = bench_full() ? 3 : 1;
	unsigned char *buf = malloc(len), out[32];
	if (!buf)
		return 1;
	memset(buf, 0xa5, len);

	mbedtls_sha256_context ctx;
	mbedtls_sha256_init(&ctx);
	double t0 = bench_now(), t;
	size_t total = 0;
	(void)mbedtls_sha256_starts_ret(&ctx, 0);
	do {
		for (int i = 0; i < 64; i++) {
			(void)mbedtls_sha256_update_ret(&ctx, buf, len);
			total += len;
		}
		t = bench_now();
	} while (t - t0 < seconds);
	(void)mbedtls_sha256_finish_ret(&ctx, out);
	mbedtls_sha256_free(&ctx);
	free(buf);

	double mbs = (double)total / (t - t0) / 1e6;
	double peer = openssl_mbs(seconds);
	struct bench_fig f = {
	    .figure = "sha256 throughput (mbedTLS, 16 KiB updates)",
	    .value = mbs,
	    .unit = "MB/s",
	    .peer = peer > 0 ? "openssl speed sha256 (16 KiB)" : NULL,
	    .peer_value = peer,
	    .target_of = peer > 0 ? "ratio" : NULL,
	    .target_op = ">=",
	    .target_value = 0.25,
	    .notes = "agent hashes every chunk and the whole file with this; OpenSSL uses "
	             "SHA-NI/asm where present",
	};
	return bench_emit("sha256", &f) == 0 ? 0 : 1;
}
