/* Test helper: a real Mosquitto broker on a free loopback port with a generated
 * config in a temp folder; start, wait until it accepts connections, stop
 * (SIGTERM then SIGKILL), kill -9, restart on the same port, reload (SIGHUP). */
#ifndef TT_MOSQ_H
#define TT_MOSQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tt_mosq_opts {
	bool persistence;         /* keep retained messages and sessions across restarts */
	uint32_t max_packet_size; /* 0: broker default (unlimited) */
	/* TLS listener when cafile, certfile and keyfile are all set; paths are
	 * copied into the broker's folder so the broker can read them. */
	const char *cafile;
	const char *certfile;
	const char *keyfile;
	const char *crlfile;
	bool require_certificate;
	bool use_identity_as_username;
	const char *acl_file;   /* copied too; `acl_file` in the config */
	const char *extra_conf; /* appended verbatim to the listener's config */
	const char *mosquitto;  /* binary; default /usr/sbin/mosquitto */
	/* A config written by the caller instead of the generated one (e.g. by
	 * `flotilla broker-config`): called with the chosen port, it writes the
	 * config and puts its path in conf (cap bytes); 0 on success. The options
	 * above are then ignored; conf_tls says whether the URI is ssl://. */
	int (*write_conf)(void *arg, uint16_t port, char *conf, size_t cap);
	void *write_conf_arg;
	bool conf_tls;
};

struct tt_mosq;

/* Defaults: no persistence, no packet limit, plain TCP. */
void tt_mosq_opts_init(struct tt_mosq_opts *o);

/* Starts a broker and waits (up to 10 s) until it accepts TCP connections.
 * Returns 0, or -1 with the broker's log on stderr. */
int tt_mosq_start(const struct tt_mosq_opts *o, struct tt_mosq **out);

/* "tcp://127.0.0.1:PORT" or "ssl://127.0.0.1:PORT"; borrowed. */
const char *tt_mosq_uri(const struct tt_mosq *m);
uint16_t tt_mosq_port(const struct tt_mosq *m);
/* The broker's folder (config, log, persistence); borrowed. */
const char *tt_mosq_dir(const struct tt_mosq *m);
/* Path of the broker's log (stderr). */
const char *tt_mosq_log(const struct tt_mosq *m);
bool tt_mosq_running(struct tt_mosq *m);

/* SIGTERM, then SIGKILL after 5 s. Returns 0 or -1. */
int tt_mosq_stop(struct tt_mosq *m);
/* SIGKILL now (no persistence save, sockets closed by the kernel). */
int tt_mosq_kill(struct tt_mosq *m);
/* Starts the stopped broker again on the same port and config; waits until ready. */
int tt_mosq_restart(struct tt_mosq *m);
/* The broker's process id (0 when not running), e.g. to SIGSTOP it. */
int tt_mosq_pid(struct tt_mosq *m);
/* SIGHUP: Mosquitto reloads its ACL and some settings. */
int tt_mosq_reload(struct tt_mosq *m);

/* Stops the broker, removes its folder (unless TT_KEEP_TMP is set). Accepts NULL. */
void tt_mosq_free(struct tt_mosq *m);

#endif
