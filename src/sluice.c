/*
 * sluice.c: main().  nginx's command line and start-up order: -e takes effect before the
 * config is read; listening sockets are bound before the pid file is written; once the
 * config is loaded the error log also becomes fd 2.
 */
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <signal.h>
#include <stdio.h>

#include "sl_core.h"
#include "sl_conn.h"
#include "sl_cycle.h"
#include "sl_listening.h"
#include "sl_master_cycle.h"
#include "sl_log.h"
#include "sl_pool.h"
#include "sl_process.h"
#include "sl_process_cycle.h"
#include "sl_proctitle.h"
#include "sl_time.h"

#define SL_DEFAULT_CONF_PATH "conf/sluice.conf"
#define SL_DEFAULT_ERROR_LOG_PATH "logs/error.log"

/*
 * nginx 1.22's optional HTTP modules (auto/options), in configure's order, with the sluice
 * module that implements each (NULL: none yet) and whether configure builds it by default.
 * -V derives its arguments from what sl_modules holds, the way nginx's configure line
 * reads: "--with-X_module" for a module built that is off by default, "--without-X_module"
 * for one missing that is on by default.  nginx's test suite decides from this line which
 * files run, so it must say exactly what is built.
 */
typedef struct {
    const char *configure;
    const char *module;
    unsigned by_default : 1;
} optional_module_t;

// clang-format off
static const optional_module_t optional_modules[] = {
    { "http_ssl", "http_ssl", 0 },
    { "http_v2", NULL, 0 },
    { "http_realip", "http_realip", 0 },
    { "http_addition", "http_addition", 0 },
    { "http_xslt", NULL, 0 },
    { "http_image_filter", NULL, 0 },
    { "http_geoip", NULL, 0 },
    { "http_sub", "http_sub", 0 },
    { "http_dav", NULL, 0 },
    { "http_flv", NULL, 0 },
    { "http_mp4", NULL, 0 },
    { "http_gunzip", NULL, 0 },
    { "http_gzip_static", "http_gzip_static", 0 },
    { "http_auth_request", "http_auth_request", 0 },
    { "http_random_index", "http_random_index", 0 },
    { "http_secure_link", "http_secure_link", 0 },
    { "http_degradation", NULL, 0 },
    { "http_slice", "http_slice_filter", 0 },
    { "http_stub_status", "http_stub_status", 0 },

    { "http_charset", "http_charset_filter", 1 },
    { "http_gzip", "http_gzip", 1 },
    { "http_ssi", "http_ssi", 1 },
    { "http_userid", "http_userid_filter", 1 },
    { "http_access", "http_access", 1 },
    { "http_auth_basic", "http_auth_basic", 1 },
    { "http_mirror", "http_mirror", 1 },
    { "http_autoindex", NULL, 1 },
    { "http_geo", "http_geo", 1 },
    { "http_map", "http_map", 1 },
    { "http_split_clients", "http_split_clients", 1 },
    { "http_referer", "http_referer", 1 },
    { "http_rewrite", "http_rewrite", 1 },
    { "http_proxy", "http_proxy", 1 },
    /* never drop these four without the modules: nginx's test suite then writes their
     * temp-path directives into every configuration */
    { "http_fastcgi", NULL, 1 },
    { "http_uwsgi", NULL, 1 },
    { "http_scgi", NULL, 1 },
    { "http_grpc", NULL, 1 },
    { "http_memcached", NULL, 1 },
    { "http_limit_conn", "http_limit_conn", 1 },
    { "http_limit_req", "http_limit_req", 1 },
    { "http_empty_gif", "http_empty_gif", 1 },
    { "http_browser", NULL, 1 },
    /* sluice's upstream module holds the balancers, keepalive and zone */
    { "http_upstream_hash", "http_upstream", 1 },
    { "http_upstream_ip_hash", "http_upstream", 1 },
    { "http_upstream_least_conn", "http_upstream", 1 },
    { "http_upstream_random", "http_upstream", 1 },
    { "http_upstream_keepalive", "http_upstream", 1 },
    { "http_upstream_zone", "http_upstream", 1 },
};
// clang-format on

static int module_built(const char *name)
{
    if (name == NULL) {
        return 0;
    }
    for (sl_module_t **m = sl_modules; *m; m++) {
        if (strcmp((*m)->name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

typedef struct {
    sl_cycle_args_t cycle;
    const char *signal;
    unsigned show_help : 1;
    unsigned show_version : 1;
    unsigned show_configure : 1;
    unsigned quiet : 1;
} options_t;

static void print_version(int configure)
{
    fprintf(stderr, "nginx version: nginx/%s (sluice/%s)\n", SL_NGINX_VERSION, SLUICE_VERSION);
    if (!configure) {
        return;
    }
    fprintf(stderr, "built by %s\n", SL_COMPILER);
    /* nginx's lines: tools (and nginx's test suite) read the TLS library and SNI from them */
    const char *running = OpenSSL_version(OPENSSL_VERSION);
    if (strcmp(running, OPENSSL_VERSION_TEXT) != 0) {
        fprintf(stderr, "built with %s (running with %s)\n", OPENSSL_VERSION_TEXT, running);
    } else {
        fprintf(stderr, "built with %s\n", OPENSSL_VERSION_TEXT);
    }
    fprintf(stderr, "TLS SNI support enabled\n");
    fprintf(stderr, "configure arguments: --prefix=%s", SL_PREFIX);
    for (size_t i = 0; i < sl_nelems(optional_modules); i++) {
        const optional_module_t *om = &optional_modules[i];
        int built = module_built(om->module);
        if (built != om->by_default) {
            fprintf(stderr, " --with%s-%s_module", built ? "" : "out", om->configure);
        }
    }
    fprintf(stderr, "\n");
}

static void print_help(void)
{
    fprintf(stderr,
            "Usage: sluice [-?hvVtTq] [-s signal] [-p prefix]\n"
            "              [-e filename] [-c filename] [-g directives]\n"
            "\n"
            "Options:\n"
            "  -?,-h         : this help\n"
            "  -v            : show version and exit\n"
            "  -V            : show version and configure options then exit\n"
            "  -t            : test configuration and exit\n"
            "  -T            : test configuration, dump it and exit\n"
            "  -q            : suppress non-error messages during configuration testing\n"
            "  -s signal     : send signal to a master process: stop, quit, reopen, reload\n"
            "  -p prefix     : set prefix path (default: %s)\n"
            "  -e filename   : set error log file (default: %s)\n"
            "  -c filename   : set configuration file (default: %s)\n"
            "  -g directives : set global directives out of configuration file\n\n",
            SL_PREFIX, SL_DEFAULT_ERROR_LOG_PATH, SL_DEFAULT_CONF_PATH);
}

static void set_cstr(sl_str_t *s, const char *v)
{
    s->data = (u_char *) v;
    s->len = strlen(v);
}

/* The value of a flag: the rest of this argument ("-cfile") or the next one ("-c file"). */
static const char *option_value(char **argv, int *i, const char *p, const char *flag)
{
    if (p[1]) {
        return p + 1;
    }
    if (argv[*i + 1]) {
        return argv[++*i];
    }
    sl_log_stderr(0, "option \"-%s\" requires %s", flag,
                  flag[0] == 's'   ? "signal name"
                  : flag[0] == 'g' ? "parameter"
                                   : "file name");
    return NULL;
}

static int parse_value_flag(options_t *o, char **argv, int *i, const char *p)
{
    char flag[2] = { *p, '\0' };
    const char *v = option_value(argv, i, p, flag);

    if (v == NULL) {
        return 0;
    }
    switch (*p) {
    case 'p':
        set_cstr(&o->cycle.prefix, v);
        break;
    case 'c':
        set_cstr(&o->cycle.conf_file, v);
        break;
    case 'e':
        set_cstr(&o->cycle.error_log, v);
        break;
    case 'g':
        set_cstr(&o->cycle.conf_param, v);
        break;
    case 's':
        if (sl_signal_by_name(v) == 0) {
            sl_log_stderr(0, "invalid option: \"-s %s\"", v);
            return 0;
        }
        o->signal = v;
        break;
    }
    return 1;
}

static int parse_flag(options_t *o, char **argv, int *i, const char *p)
{
    for (; *p; p++) {
        switch (*p) {
        case '?':
        case 'h':
            o->show_version = 1;
            o->show_help = 1;
            break;
        case 'v':
            o->show_version = 1;
            break;
        case 'V':
            o->show_version = 1;
            o->show_configure = 1;
            break;
        case 't':
            o->cycle.test_config = 1;
            break;
        case 'T':
            o->cycle.test_config = 1;
            o->cycle.dump_config = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'p':
        case 'c':
        case 'e':
        case 'g':
        case 's':
            return parse_value_flag(o, argv, i, p);
        default:
            sl_log_stderr(0, "invalid option: \"%c\"", *p);
            return 0;
        }
    }
    return 1;
}

static int parse_options(options_t *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *p = argv[i];

        if (*p++ != '-') {
            sl_log_stderr(0, "invalid option: \"%s\"", argv[i]);
            return 0;
        }
        if (!parse_flag(o, argv, &i, p)) {
            return 0;
        }
    }
    return 1;
}

/* "rel" made absolute against dir (which ends with '/'); NUL-terminated pool memory. */
static int absolute_path(sl_pool_t *pool, const sl_str_t *dir, sl_str_t *path)
{
    if (path->len && path->data[0] == '/') {
        return 1;
    }
    u_char *p = sl_pnalloc(pool, dir->len + path->len + 1);
    if (p == NULL) {
        return 0;
    }
    memcpy(p, dir->data, dir->len);
    memcpy(p + dir->len, path->data, path->len);
    p[dir->len + path->len] = '\0';
    path->data = p;
    path->len += dir->len;
    return 1;
}

/* Defaults for what the command line left out; paths relative to the prefix. */
static int resolve_paths(sl_pool_t *pool, sl_cycle_args_t *a)
{
    if (a->prefix.len == 0) {
        set_cstr(&a->prefix, SL_PREFIX);
    }
    if (a->prefix.data[a->prefix.len - 1] != '/') {
        u_char *p = sl_pnalloc(pool, a->prefix.len + 2);
        if (p == NULL) {
            return 0;
        }
        memcpy(p, a->prefix.data, a->prefix.len);
        p[a->prefix.len++] = '/';
        p[a->prefix.len] = '\0';
        a->prefix.data = p;
    }
    if (a->conf_file.len == 0) {
        set_cstr(&a->conf_file, SL_DEFAULT_CONF_PATH);
    }
    if (a->error_log.len == 0) {
        set_cstr(&a->error_log, SL_DEFAULT_ERROR_LOG_PATH);
    }
    if (!absolute_path(pool, &a->prefix, &a->conf_file)) {
        return 0;
    }
    if (!sl_str_eq_cstr(&a->error_log, "stderr")
        && !absolute_path(pool, &a->prefix, &a->error_log)) {
        return 0;
    }
    return 1;
}

static sl_core_conf_t *core_conf(sl_cycle_t *cycle)
{
    return (sl_core_conf_t *) sl_get_conf(cycle->conf_ctx, sl_core_module);
}

static int send_signal(sl_cycle_t *cycle, const char *name)
{
    pid_t pid = sl_read_pidfile(&core_conf(cycle)->pid, cycle->log);

    if (pid == SL_ERROR) {
        return 1;
    }
    if (kill(pid, sl_signal_by_name(name)) == -1) {
        sl_log_error(SL_LOG_ALERT, cycle->log, errno, "kill(%d, %d) failed", (int) pid,
                     sl_signal_by_name(name));
        return 1;
    }
    return 0;
}

static void dump_config(sl_cycle_t *cycle)
{
    sl_conf_dump_t *d = cycle->config_dump.elts;

    for (sl_uint_t i = 0; i < cycle->config_dump.nelts; i++) {
        printf("# configuration file " SL_STR_FMT ":\n", SL_STR_ARG(d[i].name));
        fwrite(d[i].text.data, 1, d[i].text.len, stdout);
        if (d[i].text.len && d[i].text.data[d[i].text.len - 1] != '\n') {
            putchar('\n');
        }
        putchar('\n');
    }
    fflush(stdout);
}

static int test_config_result(sl_cycle_t *cycle, const options_t *o)
{
    const char *file = (const char *) o->cycle.conf_file.data;

    if (cycle == NULL) {
        sl_log_stderr(0, "configuration file %s test failed", file);
        return 1;
    }
    if (!o->quiet) {
        sl_log_stderr(0, "the configuration file %s syntax is ok", file);
        sl_log_stderr(0, "configuration file %s test is successful", file);
    }
    if (o->cycle.dump_config) {
        dump_config(cycle);
    }
    return 0;
}

/* Error logs open, the new log in use, sockets bound (or inherited from the binary this one
 * replaces), detached, pid written. */
static int start_serving(sl_cycle_t *cycle, sl_log_t *startup_log)
{
    sl_core_conf_t *ccf = core_conf(cycle);

    if (sl_cycle_open_files(cycle) != SL_OK) {
        return 0;
    }
    sl_log_use_file(startup_log, cycle->new_log.file);
    startup_log->log_level = cycle->new_log.log_level;
    cycle->log = &cycle->new_log;
    if (ccf->master
        && sl_clone_reuseport_listening(cycle, (sl_uint_t) ccf->worker_processes) != SL_OK) {
        return 0;
    }
    /* a new binary started by USR2 stays attached to the master that started it */
    int inherited = sl_inherit_listening(cycle);
    if (sl_open_listening_sockets(cycle) != SL_OK) {
        return 0;
    }
    if (ccf->daemon && !inherited && sl_daemon(cycle->log) != SL_OK) {
        return 0;
    }
    if (sl_create_pidfile(&ccf->pid, cycle->log) != SL_OK) {
        return 0;
    }
    sl_log_error(SL_LOG_NOTICE, cycle->log, 0, "sluice/%s (nginx/%s compatible)", SLUICE_VERSION,
                 SL_NGINX_VERSION);
    sl_log_redirect_stderr(cycle->log);
    sl_use_stderr = 0;
    return 1;
}

static int run(sl_cycle_t *cycle, sl_log_t *startup_log, char **argv)
{
    if (!start_serving(cycle, startup_log)) {
        sl_close_listening_sockets(cycle, 1);
        return 1;
    }
    if (core_conf(cycle)->master) {
        sl_process = SL_PROCESS_MASTER;
        return sl_master_process_cycle(cycle, argv);
    }
    int status = sl_single_process_cycle(cycle);
    sl_delete_pidfile(cycle);
    return status;
}

int main(int argc, char **argv)
{
    options_t o;
    sl_log_t *log = sl_log_init();

    memset(&o, 0, sizeof(o));
    sl_time_update();
    /* argv's memory becomes the process title: from here on its copy is used */
    char **args = sl_init_setproctitle(argv);
    if (args) {
        argv = args;
    }
    if (!parse_options(&o, argc, argv)) {
        return 1;
    }
    if (o.show_version) {
        print_version(o.show_configure);
        if (o.show_help) {
            print_help();
        }
        return 0;
    }
    sl_pool_t *pool = sl_pool_create(4096, log);
    if (pool == NULL || !resolve_paths(pool, &o.cycle)) {
        return 1;
    }
    if (!o.cycle.test_config || !sl_str_eq_cstr(&o.cycle.error_log, "stderr")) {
        sl_log_open_default(log, (const char *) o.cycle.error_log.data);
    }
    if (o.cycle.test_config || o.signal) {
        log->log_level = SL_LOG_WARN;
    }
    sl_cycle_t *cycle = sl_cycle_init(&o.cycle, log);
    /* as nginx, -t creates the paths too: it is how an operator learns one cannot be made */
    if (cycle && !o.signal && sl_cycle_create_paths(cycle) != SL_OK) {
        sl_cycle_destroy(cycle);
        cycle = NULL;
    }
    int status;
    if (o.cycle.test_config) {
        status = test_config_result(cycle, &o);
    } else if (cycle == NULL) {
        status = 1;
    } else if (o.signal) {
        status = send_signal(cycle, o.signal);
    } else {
        sl_cycle = cycle;
        status = run(cycle, log, argv);
        /* a reload in the master may have replaced it */
        cycle = (sl_cycle_t *) sl_cycle;
    }
    if (cycle) {
        sl_cycle_destroy(cycle);
    }
    sl_pool_destroy(pool);
    return status;
}
