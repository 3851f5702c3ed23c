/* Private: the registry subcommands' run functions. Each takes argv with
 * argv[0] = its own word and returns a process exit code. */
#ifndef CMDS_H
#define CMDS_H

int cmd_model(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_firmware(int argc, char **argv);
int cmd_agent_release(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_device(int argc, char **argv);
int cmd_group(int argc, char **argv);
int cmd_model_usage(int argc, char **argv);
int cmd_model_targets(int argc, char **argv);
int cmd_model_export(int argc, char **argv);
int cmd_keys_init(int argc, char **argv);
int cmd_keys_list(int argc, char **argv);
int cmd_keys_rotate(int argc, char **argv);
int cmd_keys_revoke(int argc, char **argv);
int cmd_device_provision(int argc, char **argv);
int cmd_device_revoke(int argc, char **argv);
int cmd_broker_config(int argc, char **argv);
int cmd_audit(int argc, char **argv);

int cmd_model_register(int argc, char **argv);
int cmd_model_list(int argc, char **argv);
int cmd_model_show(int argc, char **argv);
int cmd_model_lineage(int argc, char **argv);
int cmd_model_diff(int argc, char **argv);
int cmd_model_metrics(int argc, char **argv);
int cmd_model_metric(int argc, char **argv);
int cmd_model_tag(int argc, char **argv);
int cmd_model_alias(int argc, char **argv);
int cmd_model_archive(int argc, char **argv);
int cmd_model_delete(int argc, char **argv);
int cmd_model_gc(int argc, char **argv);
int cmd_model_promote(int argc, char **argv);
int cmd_model_update(int argc, char **argv);
int cmd_rollout(int argc, char **argv);

/* Creates a rollout from the options of `rollout create` in c (target,
 * canary, wave, probation, deadline, max-failures, supersede) and prints it;
 * v NULL for a removal. Returns the exit code. (cmd_rollout.c) */
struct cli;
struct reg_version;
int rollout_cli_create(struct cli *c, const char *action, const char *name,
                       const struct reg_version *v);

/* The options rollout_cli_create reads, for every command that starts one. */
#define ROLLOUT_CREATE_OPTS                                                                        \
	{"target", 0, 1, "T", "group:G, tag:k=v, device:ID[,ID...] or all"},                       \
	    {"canary", 0, 1, "N|P%", "devices in the first wave (default 1)"},                     \
	    {"wave", 0, 1, "N|P%", "devices per later wave (default: all the rest)"},              \
	    {"probation", 0, 1, "S", "probation each device runs before committing (300)"},        \
	    {"deadline", 0, 1, "S",                                                                \
	     "a device not committed this long after its wave started "                            \
	     "counts as failed (3600)"},                                                           \
	    {"max-failures", 0, 1, "N|P%", "failures tolerated; one more halts (0)"},              \
	{                                                                                          \
		"supersede", 0, 0, NULL, "take devices over from another active rollout"           \
	}

#endif
