/* Test helper: a stand-in for `flotilla serve` built on common/ only, so agent
 * tests need no controller. It makes test root/director/release keys, signs
 * key lists, release envelopes (manifest + chunk index) and desired states,
 * publishes them retained (again after every reconnect), answers up/fetch by
 * publishing chunks, and records the events agents send (acking them on
 * down/ack). One background thread owns its MQTT client; every function here
 * may be called from the test thread. */
#ifndef TT_PUB_H
#define TT_PUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tt_pub;

/* Connects to URI and starts the thread; waits (10 s) for the connection. 0 or -1. */
int tt_pub_new(const char *uri, struct tt_pub **out);
void tt_pub_free(struct tt_pub *p);

/* Writes the root public key(s) as PEM to PATH (the agent's trust.root_keys). */
int tt_pub_write_roots(struct tt_pub *p, const char *path);

struct tt_keylist_opts {
	uint64_t serial;
	unsigned release_threshold; /* 0 = 1; 2 adds a second release key */
	bool revoke_release;        /* the release key is revoked (and not listed) */
};
/* Signed key list JSON (malloc'd), and publishes it retained for DEVICE when DEVICE is non-NULL. */
char *tt_pub_keylist(struct tt_pub *p, const char *device, const struct tt_keylist_opts *o);

enum tt_signer { TT_SIGN_RELEASE = 0, TT_SIGN_UNTRUSTED, TT_SIGN_BAD_SIG, TT_SIGN_DIRECTOR };

struct tt_release {
	const char *name;
	uint64_t version;
	const char *model_path; /* ONNX file */
	const char *golden_dir; /* input_0.pb/output_0.pb, or NULL */
	uint32_t chunk_size;    /* 0: 4096 */
	int64_t expires_in;     /* seconds from now; 0: 1 day; negative: already expired */
	enum tt_signer signer;
	uint64_t opset_override;    /* nonzero: default-domain opset claimed */
	const char *extra_operator; /* an operator added to the manifest's list */
	bool file_hash_lie;   /* serve other bytes whose chunks match the index, not the manifest's
	                         hash */
	bool golden_off;      /* expected outputs nudged beyond tolerance */
	const uint8_t *bytes; /* instead of model_path: the artifact itself (generic tests) */
	size_t nbytes;
	char *golden_sha_out; /* optional, 65 bytes: the golden bundle's hash */
	int kind;             /* enum flt_kind; 0: model. agent/firmware need bytes */
	const char *board;    /* firmware: the one compatible board (NULL: any) */
	uint64_t min_agent_version;
};
/* Builds the artifact, its chunk index and golden bundle (registered for
 * serving) and returns the signed release envelope JSON (malloc'd), or NULL.
 * *sha_hex (65 bytes, optional) gets the artifact hash. */
char *tt_pub_release(struct tt_pub *p, const struct tt_release *r, char *sha_hex);

struct tt_entry {
	const char *name;
	const char *deployment_id;
	const char *envelope;
	uint64_t probation_s;
	uint64_t max_crashes;
};
/* Signs (director key; TT_SIGN_UNTRUSTED: a stray key) and publishes retained on
 * dev/TOPIC_DEVICE/down/desired a desired state naming NAMED_DEVICE. 0 or -1. */
int tt_pub_desired(struct tt_pub *p, const char *topic_device, const char *named_device,
                   uint64_t serial, const struct tt_entry *e, size_t n, enum tt_signer signer);
/* As tt_pub_desired with entry I of kind KINDS[I] (enum flt_kind). */
int tt_pub_desired_kinds(struct tt_pub *p, const char *topic_device, const char *named_device,
                         uint64_t serial, const struct tt_entry *e, const int *kinds, size_t n,
                         enum tt_signer signer);

/* Chunk serving behaviour. */
void tt_pub_corrupt_chunk(struct tt_pub *p, const char *sha_hex,
                          uint32_t index);               /* flip a byte of it in transit */
void tt_pub_duplicate_chunks(struct tt_pub *p, bool on); /* every chunk twice */
void tt_pub_use_art_topic(struct tt_pub *p, bool on);    /* answer on art/<sha>/chunk */
void tt_pub_serve_limit(struct tt_pub *p,
                        long n); /* stop answering after n more chunks; -1: no limit */

/* Writes the registered artifact SHA_HEX to PATH. 0 or -1. */
int tt_pub_export(struct tt_pub *p, const char *sha_hex, const char *path);

/* Chunks of the artifact SHA_HEX answered so far (all devices). */
uint64_t tt_pub_chunks_sent(struct tt_pub *p, const char *sha_hex);
/* Chunk count of a registered artifact (0 if unknown). */
uint32_t tt_pub_chunk_count(struct tt_pub *p, const char *sha_hex);

/* Distinct events received from DEVICE about NAME (NULL: any) at STEP (a step
 * name such as "committed", NULL: any) with REASON (NULL: any). */
size_t tt_pub_events(struct tt_pub *p, const char *device, const char *name, const char *step,
                     const char *reason);
/* Waits until at least N such events arrived. */
bool tt_pub_wait_events(struct tt_pub *p, const char *device, const char *name, const char *step,
                        const char *reason, size_t n, int timeout_ms);
/* The latest retained up/state payload of DEVICE (malloc'd copy) or NULL. */
char *tt_pub_state(struct tt_pub *p, const char *device);
/* Dumps received events to stderr (debugging failed tests). */
void tt_pub_dump_events(struct tt_pub *p);

#endif
