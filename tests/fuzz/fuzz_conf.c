/*
 * libFuzzer target: the configuration parser (tokenizer, blocks, includes, every setter of
 * the main and events contexts).  The http module is left out: its "listen" resolves host
 * names, which would make the fuzzer wait on DNS.
 */
#include <stdio.h>

#include "sl_core.h"
#include "sl_cycle.h"
#include "sl_event_module.h"
#include "sl_log.h"

static sl_module_t *modules[] = {
    &sl_core_module,   &sl_errlog_module,     &sl_conf_module,
    &sl_events_module, &sl_event_core_module, NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[] = "/tmp/sluice-fuzz-XXXXXX";
    static sl_log_t *log;
    char path[sizeof(dir) + 32];

    if (log == NULL) {
        log = sl_log_init();
        sl_use_stderr = 0;
        log->log_level = 0;
        if (mkdtemp(dir) == NULL) {
            abort();
        }
    }
    snprintf(path, sizeof(path), "%s/sluice.conf", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        abort();
    }
    fwrite(data, 1, size, f);
    fclose(f);

    sl_cycle_args_t args;
    memset(&args, 0, sizeof(args));
    args.prefix.data = (u_char *) dir;
    args.prefix.len = strlen(dir);
    args.conf_file.data = (u_char *) path;
    args.conf_file.len = strlen(path);
    args.error_log.data = (u_char *) "stderr";
    args.error_log.len = 6;
    args.test_config = 1;
    args.modules = modules;
    sl_cycle_t *cycle = sl_cycle_init(&args, log);
    if (cycle) {
        sl_cycle_destroy(cycle);
    }
    return 0;
}
