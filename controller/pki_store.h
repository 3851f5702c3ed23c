/* Private: what the pki_store.c and broker_config.c files share: key-folder
 * files, issuing with the fleet CA, the current CRL, the broker folder. */
#ifndef PKI_STORE_H
#define PKI_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flt/error.h"
#include "flt/pki.h"

struct flt_registry;

/* <data_dir>/keys/<file>. */
FLT_WUR flt_err pki_path(const char *data_dir, const char *file, char *out, size_t cap);
/* Reads <data_dir>/keys/<file> as a NUL-terminated string (owned). */
FLT_WUR flt_err pki_read(const char *data_dir, const char *file, char **out);
/* Wipes and frees a string holding key material; NULL is a no-op. */
void pki_wipe_free(char *s);
/* A new key and certificate signed by the fleet CA (spec's serial is
 * generated), recorded in the registry as `kind`. Both outputs owned. */
FLT_WUR flt_err pki_issue_with_ca(const char *data_dir, struct flt_registry *reg,
                                  const struct flt_cert_spec *spec, const char *kind,
                                  char **key_out, char **cert_out);
/* A CRL of every revoked certificate in the registry, with the next CRL number. */
FLT_WUR flt_err pki_crl_current(const char *data_dir, struct flt_registry *reg, int64_t now,
                                char **pem);
FLT_WUR flt_err pki_table_exists(struct flt_registry *reg, const char *table, bool *out);
/* The broker folder recorded by broker-config; FLT_ENOTFOUND when none. */
FLT_WUR flt_err pki_broker_dir(struct flt_registry *reg, char *out, size_t cap);
/* Writes a file into the broker folder, readable by the mosquitto user when
 * running as root (group mosquitto, `mode`), else owner-only or `mode`. */
FLT_WUR flt_err broker_write_file(const char *dir, const char *name, const char *data, mode_t mode);

#endif
