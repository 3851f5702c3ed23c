/* The fleet's X.509 identity: the fleet CA, certificates for the broker, the
 * controller and each device (ECDSA P-256, issued with mbedTLS), the fleet
 * CRL, the files under <data-dir>/keys/ that hold them, provisioning bundles,
 * revocation and the generated Mosquitto configuration. docs/security.md has
 * the why. Private keys are never logged. */
#ifndef FLT_PKI_H
#define FLT_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

struct flt_registry;

/* ---- pure certificate and CRL writing (pki_cert.c, pki_crl.c) --------------- */

#define FLT_PKI_SERIAL_LEN 16 /* random, first bit clear so the INTEGER is positive */
#define FLT_PKI_SERIAL_HEX (2 * FLT_PKI_SERIAL_LEN)
#define FLT_PKI_MAX_NAMES  16

enum flt_cert_kind {
	FLT_CERT_CA = 0, /* self-signed; basicConstraints CA, keyCertSign + cRLSign */
	FLT_CERT_SERVER, /* the broker: SAN dNSName/iPAddress, serverAuth */
	FLT_CERT_CLIENT, /* controller and devices: clientAuth */
};

struct flt_cert_spec {
	enum flt_cert_kind kind;
	const char *cn;           /* subject CN (and the MQTT identity for clients) */
	const char *const *names; /* SAN entries (server): IPv4/IPv6 text or DNS names */
	size_t nnames;            /* <= FLT_PKI_MAX_NAMES */
	int64_t not_before;       /* Unix seconds */
	int64_t not_after;        /* Unix seconds, > not_before */
	uint8_t serial[FLT_PKI_SERIAL_LEN];
};

/* A new P-256 private key as SEC1 PEM. *pem owned (flt_free; wipe before
 * freeing), NUL-terminated. FLT_ENOMEM, FLT_EIO (entropy), FLT_EINTERNAL. */
FLT_WUR flt_err flt_pki_key_new(char **pem, size_t *len);

/* A fresh random positive serial. FLT_EIO. */
FLT_WUR flt_err flt_pki_serial_new(uint8_t serial[FLT_PKI_SERIAL_LEN]);

/* Issues a certificate for subject_key_pem (private or public PEM) signed by
 * issuer_key_pem; issuer_cert_pem names the issuer (NULL: self-signed, the
 * subject is the issuer, for FLT_CERT_CA). The CN must be 1..64 bytes of
 * [A-Za-z0-9._ -]. *pem owned (flt_free), NUL-terminated. FLT_EINVAL (bad
 * spec), FLT_EPARSE (a key or certificate does not parse), FLT_ENOMEM,
 * FLT_EINTERNAL. */
FLT_WUR flt_err flt_pki_cert_issue(const char *issuer_key_pem, const char *issuer_cert_pem,
                                   const char *subject_key_pem, const struct flt_cert_spec *spec,
                                   char **pem, size_t *len);

struct flt_cert_info {
	char cn[65];
	char serial_hex[FLT_PKI_SERIAL_HEX + 3]; /* lowercase hex of the serial's bytes */
	int64_t not_before, not_after;
	bool is_ca;
};

/* Reads the first certificate of a PEM (or DER) buffer. FLT_EPARSE, FLT_EINVAL. */
FLT_WUR flt_err flt_pki_cert_info(const uint8_t *buf, size_t len, struct flt_cert_info *out);

struct flt_crl_entry {
	uint8_t serial[FLT_PKI_SERIAL_LEN];
	int64_t revoked_at; /* Unix seconds */
};

/* A v2 X.509 CRL issued by the CA (its key and certificate, PEM), signed with
 * ECDSA/SHA-256, with a cRLNumber extension; PEM "X509 CRL". mbedTLS 2.28 has
 * no CRL writer, so it is built with its ASN.1 writer. next_update must be
 * after this_update (years past 2049 are written as GeneralizedTime).
 * *pem owned (flt_free). FLT_EINVAL, FLT_EPARSE, FLT_ELIMIT (more than 100000
 * entries), FLT_ENOMEM, FLT_EINTERNAL. */
FLT_WUR flt_err flt_pki_crl_build(const char *ca_key_pem, const char *ca_cert_pem,
                                  uint64_t crl_number, int64_t this_update, int64_t next_update,
                                  const struct flt_crl_entry *entries, size_t n, char **pem,
                                  size_t *len);

/* ---- the fleet CA in <data-dir>/keys/ (pki_store.c) ---------------------------- */

#define FLT_PKI_CA_KEY      "ca.key" /* 0600 */
#define FLT_PKI_CA_CERT     "ca.pem"
#define FLT_PKI_CRL         "crl.pem"
#define FLT_PKI_CTRL_KEY    "controller.key" /* 0600: serve's MQTT client key */
#define FLT_PKI_CTRL_CERT   "controller.pem"
#define FLT_PKI_BROKER_KEY  "broker.key" /* 0600 */
#define FLT_PKI_BROKER_CERT "broker.pem"

/* CA and controller certificate validity (10 years); device default 2 years. */
#define FLT_PKI_CA_VALIDITY_S     (10LL * 365 * 86400)
#define FLT_PKI_DEVICE_VALIDITY_S (2LL * 365 * 86400)
/* The empty CRL written by init and every later CRL: next update far off, so
 * the broker never refuses everyone because a CRL went stale. */
#define FLT_PKI_CRL_NEXT_UPDATE 253402300799LL /* 9999-12-31T23:59:59Z */

/* Creates the fleet CA (ca.key, ca.pem), the controller's client certificate
 * (CN FLT_CONTROLLER_IDENTITY) and an empty CRL in <data_dir>/keys/ (which
 * must exist), recording the certificates in the registry. FLT_ECONFLICT if a
 * CA exists already (nothing is changed), FLT_EIO, FLT_ENOMEM, registry errors. */
FLT_WUR flt_err flt_pki_ca_init(const char *data_dir, struct flt_registry *reg, int64_t now);

struct flt_provision_opts {
	const char *device_id;  /* flt_ident_device_valid */
	const char *out_dir;    /* created if missing */
	const char *group;      /* may be NULL */
	const char *broker_uri; /* agent.conf mqtt.broker; NULL: ssl://localhost:8883 */
	const char *conf_dir;   /* where the bundle is installed, for agent.conf paths;
	                         * NULL: /etc/flotilla */
	bool renew;             /* a new key and certificate for a provisioned device */
	int64_t validity_s;     /* 0: FLT_PKI_DEVICE_VALIDITY_S */
};

/* Writes a device bundle into out_dir: device.key (0600), device.pem (CN =
 * device id, signed by the fleet CA), ca.pem, root-keys.pem (the root public
 * key) and agent.conf pointing at them (paths under /etc/flotilla), and
 * records the certificate. FLT_EINVAL (bad id), FLT_ECONFLICT (already
 * provisioned and not renew; or revoked), FLT_ENOTFOUND (no CA: run keys
 * init; renew of an unknown device), FLT_EIO, registry errors. *serial_hex
 * (may be NULL; 33 bytes) gets the new certificate's serial. */
FLT_WUR flt_err flt_pki_provision(const char *data_dir, struct flt_registry *reg,
                                  const struct flt_provision_opts *o, int64_t now,
                                  char *serial_hex);

/* Revokes every certificate of device_id: the registry marks them and the
 * device (table revoked_devices, which serve honours), keys/crl.pem is
 * rebuilt, and when a broker folder was generated its crl.pem and acl are
 * rewritten (a deny-all block for the device). *ncerts (may be NULL) gets how
 * many certificates were newly revoked. FLT_ENOTFOUND (never provisioned),
 * FLT_EINVAL, FLT_EIO, registry errors. Revoking twice is FLT_OK with 0. */
FLT_WUR flt_err flt_pki_revoke_device(const char *data_dir, struct flt_registry *reg,
                                      const char *device_id, int64_t now, size_t *ncerts);

/* True (FLT_OK, *out) when device_id was revoked. */
FLT_WUR flt_err flt_pki_device_revoked(struct flt_registry *reg, const char *device_id, bool *out);

struct flt_broker_opts {
	const char *out_dir;      /* created if missing (0750) */
	unsigned port;            /* TLS listener, default 8883 */
	unsigned plain_port;      /* 0: none; else a plain listener on 127.0.0.1 only */
	const char *bind;         /* TLS listener address; NULL: all */
	const char *const *names; /* extra SAN names for the broker certificate */
	size_t nnames;
};

/* Writes mosquitto.conf, ca.pem, crl.pem, acl (and acl-loopback with a plain
 * port), broker.key/broker.pem (a new broker certificate, SAN 127.0.0.1, ::1,
 * localhost and names) into out_dir and remembers out_dir in the registry so
 * revocation can rewrite acl and crl.pem there. Run as root, the folder and
 * files are group-owned by the `mosquitto` group and group-readable (0750/
 * 0640): Mosquitto 2 drops root for its own user before reading them.
 * FLT_ENOTFOUND (no CA), FLT_EINVAL, FLT_EIO. */
FLT_WUR flt_err flt_broker_config_write(const char *data_dir, struct flt_registry *reg,
                                        const struct flt_broker_opts *o, int64_t now);

/* The ACL text: the design's pattern rules for every identity (%u is the
 * certificate CN), the controller's rights, and a deny-all block per revoked
 * device. *out owned (flt_free). */
FLT_WUR flt_err flt_broker_acl_text(struct flt_registry *reg, char **out, size_t *len);

#endif
