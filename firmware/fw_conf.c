/* firmware.conf: the slot backend and boot-confirmation settings as one
 * validated struct (flt/conf.h), and the boot report file the agent reads. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "flt/atomicfile.h"
#include "flt/conf.h"
#include "flt/firmware.h"

static const char *const backend_names[] = {"dir", "uboot", "command", NULL};

#define S(k, f, d, h)                                                                              \
	{                                                                                          \
		k, FLT_CONF_STRING, offsetof(struct flt_fw_conf, f), d, 0, 0, NULL, 0, h           \
	}
static const struct flt_conf_opt opts[] = {
    {"state_dir", FLT_CONF_PATH, offsetof(struct flt_fw_conf, state_dir),
     "/var/lib/flotilla/firmware", 0, 0, NULL, 0, "firmware update state"},
    {"tries", FLT_CONF_INT, offsetof(struct flt_fw_conf, tries), "3", 1, 20, NULL, 0,
     "boot attempts a new slot gets before the bootloader falls back"},
    S("reboot_cmd", reboot_cmd, "systemctl reboot", "how to reboot into the new slot"),
    S("broker_check", broker_check, NULL, "command: exit 0 when the broker is reachable"),
    S("self_test", self_test, NULL, "command: exit 0 when a self-test inference passes"),
    {"slot.backend", FLT_CONF_ENUM, offsetof(struct flt_fw_conf, backend), "dir", 0, 0,
     backend_names, 0, "slot backend: dir, uboot or command"},
    S("slot.dir", dir, "/var/lib/flotilla/slots", "dir backend: root of slot-a/, slot-b/"),
    S("slot.fw_printenv", fw_printenv, "fw_printenv", "uboot backend: fw_printenv command"),
    S("slot.fw_setenv", fw_setenv, "fw_setenv", "uboot backend: fw_setenv command"),
    S("slot.device_a", device_a, NULL, "uboot backend: block device of slot A"),
    S("slot.device_b", device_b, NULL, "uboot backend: block device of slot B"),
    S("slot.booted_file", booted_file, "/proc/cmdline",
      "uboot backend: where flotilla.slot=A|B (or rauc.slot=) is read"),
    S("slot.install_cmd", install_cmd, NULL, "command backend: installer (rauc install)"),
    S("slot.booted_cmd", booted_cmd, NULL, "command backend: prints the booted slot A|B"),
    S("slot.mark_good_cmd", mark_good_cmd, NULL, "command backend: marks a slot good"),
    S("slot.mark_bad_cmd", mark_bad_cmd, NULL, "command backend: marks a slot bad"),
    S("slot.staging", staging, "/var/lib/flotilla/firmware/staged.img",
      "command backend: where the image is staged for the installer"),
};
#undef S

static const struct flt_conf_schema schema = {opts, sizeof(opts) / sizeof(opts[0]),
                                              sizeof(struct flt_fw_conf)};

flt_err flt_fw_conf_load(const char *path, const char *const *sets, size_t nsets,
                         struct flt_fw_conf *conf, char *err, size_t errlen)
{
	return flt_conf_load(&schema, conf, path, sets, nsets, err, errlen);
}

void flt_fw_conf_free(struct flt_fw_conf *conf)
{
	flt_conf_free(&schema, conf);
}

void flt_fw_conf_to_cfg(const struct flt_fw_conf *c, struct flt_fw_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = c->state_dir;
	cfg->tries = (int)c->tries;
	cfg->reboot_cmd = c->reboot_cmd && *c->reboot_cmd ? c->reboot_cmd : NULL;
	cfg->slot.backend = backend_names[c->backend];
	cfg->slot.dir = c->dir;
	cfg->slot.fw_printenv = c->fw_printenv;
	cfg->slot.fw_setenv = c->fw_setenv;
	cfg->slot.uboot_dev_a = c->device_a;
	cfg->slot.uboot_dev_b = c->device_b;
	cfg->slot.booted_file = c->booted_file;
	cfg->slot.install_cmd = c->install_cmd;
	cfg->slot.booted_cmd = c->booted_cmd;
	cfg->slot.mark_good_cmd = c->mark_good_cmd;
	cfg->slot.mark_bad_cmd = c->mark_bad_cmd;
	cfg->slot.staging = c->staging;
}

const char *flt_fw_outcome_name(enum flt_fw_outcome o)
{
	static const char *const names[] = {"nothing", "confirmed", "confirm_failed", "rolled_back",
	                                    "reboot_pending"};
	return (unsigned)o < sizeof(names) / sizeof(names[0]) ? names[o] : "?";
}

flt_err flt_fw_write_report(const char *state_dir, const struct flt_fw_report *rep)
{
	char path[FLT_SLOT_PATH_MAX + 32], buf[512];
	int n = snprintf(path, sizeof(path), "%s/boot-report", state_dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return FLT_EINVAL;
	/* deployment_id is checked to be [A-Za-z0-9._-] when stored: no escaping needed. */
	n = snprintf(
	    buf, sizeof(buf),
	    "{\"outcome\":\"%s\",\"name\":\"%s\",\"version\":%llu,\"deployment_id\":\"%s\","
	    "\"reason\":\"%s\",\"slot\":\"%c\"}\n",
	    flt_fw_outcome_name(rep->outcome), rep->name, (unsigned long long)rep->version,
	    rep->deployment_id, flt_reason_name(rep->reason), flt_slot_letter(rep->slot));
	if (n < 0 || (size_t)n >= sizeof(buf))
		return FLT_EINTERNAL;
	return flt_file_write_atomic(path, buf, (size_t)n, 0644, "fw.report");
}
