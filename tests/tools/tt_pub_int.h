/* Private to tt_pub*.c: the publisher's state. Split in two files because
 * flt/mqtt.h and flt/msg.h cannot be included together. */
#ifndef TT_PUB_INT_H
#define TT_PUB_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/crypto.h"
#include "tt_pub.h"

struct flt_mqtt;

#define TT_MAX_ARTS 128
#define TT_MAX_RET  64

struct tt_art {
	char sha[65];
	uint8_t shab[32];
	uint8_t *data;
	size_t len;
	uint32_t chunk_size, count;
	uint64_t sent;
	long corrupt; /* chunk index to corrupt in transit, -1 none */
};

struct tt_out {
	struct tt_out *next;
	char topic[256];
	uint8_t *data;
	size_t len;
	bool retained;
};

struct tt_ev {
	char device[65], name[65], step[32], reason[48];
	uint64_t epoch, seq;
};

struct tt_retained {
	char topic[256];
	uint8_t *data;
	size_t len;
};

struct tt_pub {
	pthread_mutex_t mu;
	pthread_t th;
	volatile int stop;
	bool connected;
	struct flt_mqtt *c;
	flt_key *root, *director, *release, *release2, *stray;
	struct tt_art arts[TT_MAX_ARTS];
	size_t narts;
	struct tt_out *out_head, *out_tail;
	struct tt_ev *evs;
	size_t nev, cap;
	struct tt_retained ret[TT_MAX_RET];
	size_t nret;
	bool dup, use_art;
	long limit;
	struct tt_retained states[TT_MAX_RET];
	size_t nstates;
};

/* With p->mu held. */
void ttp_enqueue(struct tt_pub *p, const char *topic, const void *data, size_t len, bool retained);
void ttp_on_fetch(struct tt_pub *p, const char *device, const uint8_t *buf, size_t len);
void ttp_on_events(struct tt_pub *p, const char *device, const uint8_t *buf, size_t len);
/* Remembers a retained publication to repeat after reconnects, and enqueues it. */
void ttp_retain(struct tt_pub *p, const char *topic, const void *data, size_t len);
struct tt_art *ttp_art(struct tt_pub *p, const char *sha_hex);
/* Registers a copy of an artifact; the entry or NULL. */
struct tt_art *ttp_add_art(struct tt_pub *p, const uint8_t *data, size_t len, uint32_t chunk_size,
                           const uint8_t *sha_override);

#endif
