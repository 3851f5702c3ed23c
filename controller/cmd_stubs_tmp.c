#include "cmds.h"
#include <stdio.h>
#define STUB(f) int f(int argc, char **argv) { (void)argc; fprintf(stderr, "%s: todo\n", argv[0]); return 1; }
STUB(cmd_run) STUB(cmd_backup) STUB(cmd_restore) STUB(cmd_model_lineage) STUB(cmd_model_diff) STUB(cmd_model_metrics)
STUB(cmd_model_metric) STUB(cmd_model_tag) STUB(cmd_model_alias) STUB(cmd_model_archive) STUB(cmd_model_delete)
STUB(cmd_model_gc) STUB(cmd_model_promote) STUB(cmd_model_update)
