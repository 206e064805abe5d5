/*
 * test_conf.c: the configuration language: tokens, quotes and escapes, comments, blocks,
 * dispatch and its errors, include (relative, glob, nested), -g, the -T dump, the typed
 * setters and nested contexts merged as nginx merges them.
 *
 * Every expected error line was checked against nginx 1.22 (/usr/sbin/nginx -t).  The cycle
 * is built by hand with test modules; the log goes to a file the tests read back, where
 * "@" in an expected line stands for the temp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/stat.h>

#include "sl_core.h"
#include "sl_conf.h"
#include "sl_cycle.h"
#include "sl_log.h"
#include "sl_pool.h"

/* ---- test modules ---- */

#define TEST_MODULE 0x54534554 /* "TEST" */
/* two context bits of a higher layer's (the http layer's server and location) */
#define TEST_OUTER_CONF 0x08000000
#define TEST_INNER_CONF 0x10000000

/* The main-context module: one directive per setter type. */
typedef struct {
    sl_int_t flag;
    sl_int_t shared;
    sl_str_t str;
    sl_array_t *strs;
    sl_array_t *kvs;
    sl_int_t num;
    sl_int_t bounded;
    sl_int_t atleast;
    size_t size;
    off_t off;
    sl_msec_t msec;
    time_t sec;
    sl_bufs_t bufs;
    sl_uint_t enm;
    sl_uint_t mask;
    sl_int_t posted;
} main_conf_t;

/* A nested context as http's: an array of confs indexed by ctx_index. */
typedef struct {
    void **conf;
} test_ctx_t;

typedef struct {
    void *(*create_conf)(sl_conf_t *cf);
    char *(*merge_conf)(sl_conf_t *cf, void *parent, void *child);
} test_module_ctx_t;

/* The nested module's conf: inherited by inner blocks through the merge macros. */
typedef struct {
    sl_str_t name;
    sl_int_t flag;
    sl_int_t shared;
    sl_int_t num;
    sl_msec_t msec;
    time_t sec;
    size_t size;
    off_t off;
    sl_str_t str;
    sl_bufs_t bufs;
    sl_uint_t mask;
    sl_uint_t enm;
    sl_array_t *list;
    sl_int_t only_inner;
    /** test_ctx_t * of the inner blocks directly inside */
    sl_array_t *children;
} loc_conf_t;

typedef struct {
    sl_int_t num;
} aux_conf_t;

/* What the recording setter and the block handler saw. */
#define MAX_RECORDED 64
static struct {
    sl_uint_t n;
    sl_str_t args[MAX_RECORDED];
    sl_uint_t line;
    sl_uint_t calls;
} rec;

static sl_conf_num_bounds_t bounds_1_10 = { sl_conf_check_num_bounds, 1, 10 };
static sl_conf_num_bounds_t bounds_5_up = { sl_conf_check_num_bounds, 5, -1 };

static sl_conf_enum_t colors[] = {
    { sl_string("red"), 1 },
    { sl_string("green"), 2 },
    { sl_null_string, 0 },
};

static sl_conf_bitmask_t perms[] = {
    { sl_string("read"), 0x1 },
    { sl_string("write"), 0x2 },
    { sl_string("exec"), 0x4 },
    { sl_null_string, 0 },
};

static char *posted_handler(sl_conf_t *cf, void *post, void *data)
{
    (void) cf;
    (void) post;
    return *(sl_int_t *) data == 0 ? "refuses off" : SL_CONF_OK;
}

static sl_conf_post_t posted_post = { posted_handler };

static char *record_args(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t *value = cf->args->elts;

    (void) cmd;
    (void) conf;
    rec.n = sl_min(cf->args->nelts, (sl_uint_t) MAX_RECORDED);
    for (sl_uint_t i = 0; i < rec.n; i++) {
        rec.args[i] = value[i];
    }
    rec.line = cf->conf_file->line;
    rec.calls++;
    return SL_CONF_OK;
}

static char *set_fail(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    (void) cf;
    (void) cmd;
    (void) conf;
    return "has a custom reason";
}

static char *set_error(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    (void) cmd;
    (void) conf;
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "own message");
    return SL_CONF_ERROR;
}

#define MAIN (SL_MAIN_CONF | SL_DIRECT_CONF)
#define M(field) offsetof(main_conf_t, field)

static sl_command_t core_commands[] = {
    { sl_string("t_flag"), MAIN | SL_CONF_FLAG, sl_conf_set_flag_slot, 0, M(flag), NULL },
    { sl_string("shared"), MAIN | SL_CONF_FLAG, sl_conf_set_flag_slot, 0, M(shared), NULL },
    { sl_string("t_str"), MAIN | SL_CONF_TAKE1, sl_conf_set_str_slot, 0, M(str), NULL },
    { sl_string("t_strs"), MAIN | SL_CONF_TAKE1, sl_conf_set_str_array_slot, 0, M(strs), NULL },
    { sl_string("t_kv"), MAIN | SL_CONF_TAKE2, sl_conf_set_keyval_slot, 0, M(kvs), NULL },
    { sl_string("t_num"), MAIN | SL_CONF_TAKE1, sl_conf_set_num_slot, 0, M(num), NULL },
    { sl_string("t_bounded"), MAIN | SL_CONF_TAKE1, sl_conf_set_num_slot, 0, M(bounded),
      &bounds_1_10 },
    { sl_string("t_atleast"), MAIN | SL_CONF_TAKE1, sl_conf_set_num_slot, 0, M(atleast),
      &bounds_5_up },
    { sl_string("t_size"), MAIN | SL_CONF_TAKE1, sl_conf_set_size_slot, 0, M(size), NULL },
    { sl_string("t_off"), MAIN | SL_CONF_TAKE1, sl_conf_set_off_slot, 0, M(off), NULL },
    { sl_string("t_msec"), MAIN | SL_CONF_TAKE1, sl_conf_set_msec_slot, 0, M(msec), NULL },
    { sl_string("t_sec"), MAIN | SL_CONF_TAKE1, sl_conf_set_sec_slot, 0, M(sec), NULL },
    { sl_string("t_bufs"), MAIN | SL_CONF_TAKE2, sl_conf_set_bufs_slot, 0, M(bufs), NULL },
    { sl_string("t_enum"), MAIN | SL_CONF_TAKE1, sl_conf_set_enum_slot, 0, M(enm), colors },
    { sl_string("t_mask"), MAIN | SL_CONF_1MORE, sl_conf_set_bitmask_slot, 0, M(mask), perms },
    { sl_string("t_posted"), MAIN | SL_CONF_FLAG, sl_conf_set_flag_slot, 0, M(posted),
      &posted_post },
    { sl_string("t_args"), MAIN | SL_CONF_ANY, record_args, 0, 0, NULL },
    { sl_string("t_noargs"), MAIN | SL_CONF_NOARGS, record_args, 0, 0, NULL },
    { sl_string("t_take13"), MAIN | SL_CONF_TAKE13, record_args, 0, 0, NULL },
    { sl_string("t_1more"), MAIN | SL_CONF_1MORE, record_args, 0, 0, NULL },
    { sl_string("t_2more"), MAIN | SL_CONF_2MORE, record_args, 0, 0, NULL },
    { sl_string("t_take7"), MAIN | SL_CONF_TAKE7, record_args, 0, 0, NULL },
    { sl_string("t_fail"), MAIN | SL_CONF_NOARGS, set_fail, 0, 0, NULL },
    { sl_string("t_error"), MAIN | SL_CONF_NOARGS, set_error, 0, 0, NULL },
    sl_null_command,
};

static void *core_create_conf(sl_cycle_t *cycle)
{
    main_conf_t *c = sl_pcalloc(cycle->pool, sizeof(main_conf_t));

    if (c == NULL) {
        return NULL;
    }
    c->flag = c->shared = c->num = c->bounded = c->atleast = c->posted = SL_CONF_UNSET;
    c->strs = c->kvs = SL_CONF_UNSET_PTR;
    c->size = SL_CONF_UNSET_SIZE;
    c->off = SL_CONF_UNSET;
    c->msec = SL_CONF_UNSET_MSEC;
    c->sec = SL_CONF_UNSET;
    c->enm = SL_CONF_UNSET_UINT;
    return c;
}

static sl_core_module_t core_ctx = { sl_string("test_core"), core_create_conf, NULL };

static sl_module_t test_core_module = {
    "test_core", 0, 0, SL_CORE_MODULE, &core_ctx, core_commands, NULL, NULL, NULL,
};

/* ---- the nested contexts: outer { inner NAME { inner NAME { ... } } } ---- */

static sl_module_t test_loc_module;
static sl_module_t test_aux_module;
static sl_module_t *test_modules[6];

static test_ctx_t *create_ctx(sl_conf_t *cf)
{
    test_ctx_t *ctx = sl_pcalloc(cf->pool, sizeof(test_ctx_t));
    sl_cycle_t *cycle = cf->cycle;

    if (ctx == NULL || (ctx->conf = sl_pcalloc(cf->pool, 8 * sizeof(void *))) == NULL) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];
        test_module_ctx_t *mc = m->ctx;

        if (m->type == TEST_MODULE) {
            ctx->conf[m->ctx_index] = mc->create_conf(cf);
            if (ctx->conf[m->ctx_index] == NULL) {
                return NULL;
            }
        }
    }
    return ctx;
}

/* nginx merges top-down once the whole block is read, so grandchildren see merged parents. */
static char *merge_tree(sl_conf_t *cf, test_ctx_t *parent)
{
    loc_conf_t *pl = parent->conf[test_loc_module.ctx_index];
    test_ctx_t **kids = pl->children ? pl->children->elts : NULL;

    for (sl_uint_t k = 0; kids && k < pl->children->nelts; k++) {
        for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
            sl_module_t *m = cf->cycle->modules[i];
            test_module_ctx_t *mc = m->ctx;

            if (m->type == TEST_MODULE
                && mc->merge_conf(cf, parent->conf[m->ctx_index], kids[k]->conf[m->ctx_index])
                       != SL_CONF_OK) {
                return SL_CONF_ERROR;
            }
        }
        if (merge_tree(cf, kids[k]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

static char *parse_in(sl_conf_t *cf, test_ctx_t *ctx, sl_uint_t module_type, sl_uint_t cmd_type)
{
    sl_conf_t saved = *cf;

    cf->ctx = ctx;
    cf->module_type = module_type;
    cf->cmd_type = cmd_type;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    return rv;
}

static char *outer_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    test_ctx_t **slot = conf;

    (void) cmd;
    if (*slot) {
        return "is duplicate";
    }
    *slot = create_ctx(cf);
    if (*slot == NULL) {
        return SL_CONF_ERROR;
    }
    char *rv = parse_in(cf, *slot, TEST_MODULE, TEST_OUTER_CONF);
    return rv != SL_CONF_OK ? rv : merge_tree(cf, *slot);
}

static char *inner_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    loc_conf_t *parent = conf;
    test_ctx_t *ctx = create_ctx(cf);

    (void) cmd;
    if (ctx == NULL) {
        return SL_CONF_ERROR;
    }
    loc_conf_t *child = ctx->conf[test_loc_module.ctx_index];
    child->name = ((sl_str_t *) cf->args->elts)[1];
    if (parent->children == NULL) {
        parent->children = sl_array_create(cf->pool, 4, sizeof(test_ctx_t *));
    }
    test_ctx_t **slot = parent->children ? sl_array_push(parent->children) : NULL;
    if (slot == NULL) {
        return SL_CONF_ERROR;
    }
    *slot = ctx;
    return parse_in(cf, ctx, TEST_MODULE, TEST_INNER_CONF);
}

/* "types {}"-like: every line goes to the handler. */
static char *types_handler(sl_conf_t *cf, sl_command_t *dummy, void *conf)
{
    sl_str_t *value = cf->args->elts;

    (void) dummy;
    (void) conf;
    if (sl_str_eq_cstr(&value[0], "bad")) {
        return "bad type line";
    }
    return record_args(cf, NULL, NULL);
}

static char *types_block(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_conf_t saved = *cf;

    (void) cmd;
    (void) conf;
    cf->handler = types_handler;
    cf->handler_conf = NULL;
    char *rv = sl_conf_parse(cf, NULL);
    *cf = saved;
    return rv;
}

static sl_command_t outer_commands[] = {
    { sl_string("outer"), SL_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS, outer_block, 0, 0, NULL },
    { sl_string("types"), SL_MAIN_CONF | SL_CONF_BLOCK | SL_CONF_NOARGS, types_block, 0, 0, NULL },
    sl_null_command,
};

static sl_core_module_t outer_ctx = { sl_string("test_outer"), NULL, NULL };

static sl_module_t test_outer_module = {
    "test_outer", 0, 0, SL_CORE_MODULE, &outer_ctx, outer_commands, NULL, NULL, NULL,
};

static void *loc_create_conf(sl_conf_t *cf)
{
    loc_conf_t *c = sl_pcalloc(cf->pool, sizeof(loc_conf_t));

    if (c == NULL) {
        return NULL;
    }
    c->flag = c->shared = c->num = c->only_inner = SL_CONF_UNSET;
    c->msec = SL_CONF_UNSET_MSEC;
    c->sec = SL_CONF_UNSET;
    c->size = SL_CONF_UNSET_SIZE;
    c->off = SL_CONF_UNSET;
    c->enm = SL_CONF_UNSET_UINT;
    c->list = SL_CONF_UNSET_PTR;
    return c;
}

static char *loc_merge_conf(sl_conf_t *cf, void *parent, void *child)
{
    loc_conf_t *prev = parent;
    loc_conf_t *conf = child;

    (void) cf;
    sl_conf_merge_value(conf->flag, prev->flag, 0);
    sl_conf_merge_value(conf->shared, prev->shared, 1);
    sl_conf_merge_value(conf->num, prev->num, 7);
    sl_conf_merge_msec_value(conf->msec, prev->msec, 60000);
    sl_conf_merge_sec_value(conf->sec, prev->sec, 30);
    sl_conf_merge_size_value(conf->size, prev->size, 4096);
    sl_conf_merge_off_value(conf->off, prev->off, 1048576);
    sl_conf_merge_str_value(conf->str, prev->str, "dflt");
    sl_conf_merge_bufs_value(conf->bufs, prev->bufs, 8, 4096);
    sl_conf_merge_bitmask_value(conf->mask, prev->mask, 0x2);
    sl_conf_merge_uint_value(conf->enm, prev->enm, 2);
    sl_conf_merge_ptr_value(conf->list, prev->list, NULL);
    return SL_CONF_OK;
}

#define LOC (TEST_OUTER_CONF | TEST_INNER_CONF)
#define L(field) offsetof(loc_conf_t, field)
#define CTX offsetof(test_ctx_t, conf)

static sl_command_t loc_commands[] = {
    { sl_string("inner"), LOC | SL_CONF_BLOCK | SL_CONF_TAKE1, inner_block, CTX, 0, NULL },
    { sl_string("v_flag"), LOC | SL_CONF_FLAG, sl_conf_set_flag_slot, CTX, L(flag), NULL },
    { sl_string("shared"), LOC | SL_CONF_FLAG, sl_conf_set_flag_slot, CTX, L(shared), NULL },
    { sl_string("v_num"), LOC | SL_CONF_TAKE1, sl_conf_set_num_slot, CTX, L(num), NULL },
    { sl_string("v_msec"), LOC | SL_CONF_TAKE1, sl_conf_set_msec_slot, CTX, L(msec), NULL },
    { sl_string("v_sec"), LOC | SL_CONF_TAKE1, sl_conf_set_sec_slot, CTX, L(sec), NULL },
    { sl_string("v_size"), LOC | SL_CONF_TAKE1, sl_conf_set_size_slot, CTX, L(size), NULL },
    { sl_string("v_off"), LOC | SL_CONF_TAKE1, sl_conf_set_off_slot, CTX, L(off), NULL },
    { sl_string("v_str"), LOC | SL_CONF_TAKE1, sl_conf_set_str_slot, CTX, L(str), NULL },
    { sl_string("v_bufs"), LOC | SL_CONF_TAKE2, sl_conf_set_bufs_slot, CTX, L(bufs), NULL },
    { sl_string("v_mask"), LOC | SL_CONF_1MORE, sl_conf_set_bitmask_slot, CTX, L(mask), perms },
    { sl_string("v_enum"), LOC | SL_CONF_TAKE1, sl_conf_set_enum_slot, CTX, L(enm), colors },
    { sl_string("v_list"), LOC | SL_CONF_TAKE1, sl_conf_set_str_array_slot, CTX, L(list), NULL },
    { sl_string("only_inner"), TEST_INNER_CONF | SL_CONF_FLAG, sl_conf_set_flag_slot, CTX,
      L(only_inner), NULL },
    sl_null_command,
};

static test_module_ctx_t loc_ctx = { loc_create_conf, loc_merge_conf };

static sl_module_t test_loc_module = {
    "test_loc", 0, 0, TEST_MODULE, &loc_ctx, loc_commands, NULL, NULL, NULL,
};

/* A second module of the same type, so ctx_index 1 is exercised. */
static void *aux_create_conf(sl_conf_t *cf)
{
    aux_conf_t *c = sl_pcalloc(cf->pool, sizeof(aux_conf_t));

    if (c) {
        c->num = SL_CONF_UNSET;
    }
    return c;
}

static char *aux_merge_conf(sl_conf_t *cf, void *parent, void *child)
{
    (void) cf;
    sl_conf_merge_value(((aux_conf_t *) child)->num, ((aux_conf_t *) parent)->num, 3);
    return SL_CONF_OK;
}

static sl_command_t aux_commands[] = {
    { sl_string("aux_num"), LOC | SL_CONF_TAKE1, sl_conf_set_num_slot, CTX,
      offsetof(aux_conf_t, num), &bounds_1_10 },
    sl_null_command,
};

static test_module_ctx_t aux_ctx = { aux_create_conf, aux_merge_conf };

static sl_module_t test_aux_module = {
    "test_aux", 0, 0, TEST_MODULE, &aux_ctx, aux_commands, NULL, NULL, NULL,
};

/* ---- fixture: a temp dir, a log file, a hand-built cycle ---- */

static char tmpdir[256];
static int log_fd = -1;
static sl_open_file_t log_file;
static sl_log_t test_log;
static sl_cycle_t *cycle;
static sl_conf_t cf;

static int group_setup(void **state)
{
    char path[512];

    (void) state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl_test_conf.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/error.log", tmpdir);
    log_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_TRUNC, 0644);
    log_file.fd = log_fd;
    log_file.name.data = (u_char *) "error.log";
    log_file.name.len = 9;
    test_log.file = &log_file;
    test_log.log_level = SL_LOG_WARN;
    sl_use_stderr = 0;
    return log_fd == -1 ? -1 : 0;
}

static int group_teardown(void **state)
{
    char cmd[512];

    (void) state;
    close(log_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static sl_str_t dup_str(const char *s)
{
    sl_str_t in = { strlen(s), (u_char *) s };
    sl_str_t out = { in.len, sl_pstrdup(cycle->pool, &in) };
    return out;
}

static sl_str_t path_of(const char *rel)
{
    char buf[1024];

    snprintf(buf, sizeof(buf), "%s/%s", tmpdir, rel);
    return dup_str(buf);
}

static void count_modules(void)
{
    sl_uint_t per_type[2] = { 0, 0 };

    for (sl_uint_t i = 0; i < cycle->modules_n; i++) {
        sl_module_t *m = cycle->modules[i];

        m->index = i;
        m->ctx_index = per_type[m->type == TEST_MODULE]++;
    }
}

static int setup(void **state)
{
    (void) state;
    sl_pool_t *pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    cycle = sl_pcalloc(pool, sizeof(sl_cycle_t));
    cycle->pool = pool;
    cycle->log = &test_log;
    test_modules[0] = &sl_conf_module;
    test_modules[1] = &test_core_module;
    test_modules[2] = &test_outer_module;
    test_modules[3] = &test_loc_module;
    test_modules[4] = &test_aux_module;
    test_modules[5] = NULL;
    cycle->modules = test_modules;
    cycle->modules_n = 5;
    count_modules();
    cycle->conf_ctx = sl_pcalloc(pool, cycle->modules_n * sizeof(void *));
    cycle->conf_ctx[test_core_module.index] = core_create_conf(cycle);
    sl_array_init(&cycle->config_dump, pool, 2, sizeof(sl_conf_dump_t));
    cycle->prefix = path_of("");
    cycle->conf_prefix = cycle->prefix;

    memset(&cf, 0, sizeof(cf));
    cf.args = sl_array_create(pool, 10, sizeof(sl_str_t));
    cf.temp_pool = sl_pool_create(SL_POOL_DEFAULT_SIZE, &test_log);
    cf.ctx = cycle->conf_ctx;
    cf.cycle = cycle;
    cf.pool = pool;
    cf.log = &test_log;
    cf.module_type = SL_CORE_MODULE;
    cf.cmd_type = SL_MAIN_CONF;
    memset(&rec, 0, sizeof(rec));
    return ftruncate(log_fd, 0);
}

static int teardown(void **state)
{
    (void) state;
    sl_pool_destroy(cf.temp_pool);
    sl_pool_destroy(cycle->pool);
    return 0;
}

static void write_file_n(const char *rel, const char *text, size_t len)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void write_file(const char *rel, const char *text)
{
    write_file_n(rel, text, strlen(text));
}

static void make_dir(const char *rel)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    mkdir(path, 0755);
}

/* Parses -g (when set) and then the file, as the cycle does. */
static char *parse_file_rel(const char *rel)
{
    sl_str_t name = path_of(rel);

    if (sl_conf_param(&cf) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    return sl_conf_parse(&cf, &name);
}

static char *parse_text(const char *text)
{
    write_file("main.conf", text);
    return parse_file_rel("main.conf");
}

static char *parse_text_n(const char *text, size_t len)
{
    write_file_n("main.conf", text, len);
    return parse_file_rel("main.conf");
}

/* The log as "[level] message\n" lines: time and pid stripped, "@" for the temp dir. */
static const char *log_lines(void)
{
    static char out[65536];
    char raw[65536];
    ssize_t n = pread(log_fd, raw, sizeof(raw) - 1, 0);
    size_t o = 0;

    raw[n < 0 ? 0 : n] = '\0';
    for (char *line = raw, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        char *level = strchr(line, '[');
        char *msg = level ? strstr(level, ": ") : NULL;
        char *close = level ? strchr(level, ']') : NULL;
        if (msg == NULL || close == NULL) {
            continue;
        }
        o += snprintf(out + o, sizeof(out) - o, "%.*s ", (int) (close - level + 1), level);
        for (char *p = msg + 2; *p && o < sizeof(out) - 2; p++) {
            size_t dl = strlen(tmpdir);
            if (strncmp(p, tmpdir, dl) == 0) {
                out[o++] = '@';
                p += dl - 1;
            } else {
                out[o++] = *p;
            }
        }
        out[o++] = '\n';
        out[o] = '\0';
    }
    out[o] = '\0';
    return out;
}

#define assert_log(expected) assert_string_equal(log_lines(), expected)

/* An error parse: returns SL_CONF_ERROR and logs exactly one line. */
#define assert_parse_error(text, expected)                                                         \
    do {                                                                                           \
        assert_ptr_equal(parse_text(text), SL_CONF_ERROR);                                         \
        assert_log(expected);                                                                      \
    } while (0)

static main_conf_t *main_conf(void)
{
    return (main_conf_t *) cycle->conf_ctx[test_core_module.index];
}

static void assert_arg(sl_uint_t i, const char *expected)
{
    assert_true(i < rec.n);
    assert_int_equal(rec.args[i].len, strlen(expected));
    assert_memory_equal(rec.args[i].data, expected, rec.args[i].len);
    /* Every argument is NUL-terminated pool memory. */
    assert_int_equal(rec.args[i].data[rec.args[i].len], '\0');
}

/* ---- tokens ---- */

static void test_words_and_lines(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("# comment ; {\n"
                                "t_args  a\tb\r\n"
                                "\n"
                                "  c ;\n"),
                     SL_CONF_OK);
    assert_int_equal(rec.n, 4);
    assert_arg(0, "t_args");
    assert_arg(1, "a");
    assert_arg(2, "b");
    assert_arg(3, "c");
    /* A directive's line is the line of its terminating ";". */
    assert_int_equal(rec.line, 4);
    assert_log("");
}

static void test_quotes_and_escapes(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_args \"a b\" 'c d' e\\ f \"a\\\"b\" 'a\\'b' \"\\\\\" "
                                "\"\\t\\r\\n\" \"\\q\" x\\\\y \"\" '';"),
                     SL_CONF_OK);
    assert_int_equal(rec.n, 12);
    assert_arg(1, "a b");
    assert_arg(2, "c d");
    /* Only \" \' \\ \t \r \n are escapes; any other backslash stays (as nginx). */
    assert_arg(3, "e\\ f");
    assert_arg(4, "a\"b");
    assert_arg(5, "a'b");
    assert_arg(6, "\\");
    assert_arg(7, "\t\r\n");
    assert_arg(8, "\\q");
    assert_arg(9, "x\\y");
    assert_arg(10, "");
    assert_arg(11, "");
}

static void test_quoted_newlines_and_specials(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_args \"a\nb;{}#\n\" 'x;y' a#b a}b \"x\")y;\n"), SL_CONF_OK);
    assert_int_equal(rec.n, 7);
    assert_arg(1, "a\nb;{}#\n");
    assert_arg(2, "x;y");
    assert_arg(3, "a#b");
    assert_arg(4, "a}b");
    assert_arg(5, "x");
    /* ")" right after a quoted word starts a word: if ($a = "b") */
    assert_arg(6, ")y");
    assert_int_equal(rec.line, 3);
}

static void test_variables(void **state)
{
    (void) state;
    /* "{" right after "$" is part of ${name}, not a block. */
    assert_ptr_equal(parse_text("t_args ${a} x${b}y $c \"${d}\" ${{e}};"), SL_CONF_OK);
    assert_int_equal(rec.n, 6);
    assert_arg(1, "${a}");
    assert_arg(2, "x${b}y");
    assert_arg(3, "$c");
    assert_arg(4, "${d}");
    assert_arg(5, "${{e}}");
}

static void test_variable_then_brace_is_block(void **state)
{
    (void) state;
    assert_parse_error(
        "t_args $x{ }",
        "[emerg] directive \"t_args\" is not terminated by \";\" in @/main.conf:1\n");
}

static void test_comments(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("#only\nt_args a # b ; c\n d; # tail"), SL_CONF_OK);
    assert_int_equal(rec.n, 3);
    assert_arg(1, "a");
    assert_arg(2, "d");
    assert_int_equal(rec.line, 3);
}

static void test_empty_and_blank_files(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text(""), SL_CONF_OK);
    assert_ptr_equal(parse_text("\n\n  \t\r\n# nothing"), SL_CONF_OK);
    assert_int_equal(rec.calls, 0);
    assert_log("");
}

static void test_nul_byte_does_not_crash(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text_n("t_args a\0b;", 11), SL_CONF_OK);
    assert_int_equal(rec.args[1].len, 3);
}

/* ---- syntax errors, wording as nginx 1.22 ---- */

static void test_unexpected_chars(void **state)
{
    (void) state;
    assert_parse_error("t_flag on;\n}\n", "[emerg] unexpected \"}\" in @/main.conf:2\n");
}

static void test_unexpected_brace_after_args(void **state)
{
    (void) state;
    assert_parse_error("t_args a\n b }", "[emerg] unexpected \"}\" in @/main.conf:2\n");
}

static void test_unexpected_open_brace(void **state)
{
    (void) state;
    assert_parse_error("\n{", "[emerg] unexpected \"{\" in @/main.conf:2\n");
}

static void test_unexpected_semicolon(void **state)
{
    (void) state;
    assert_parse_error("t_flag on;;", "[emerg] unexpected \";\" in @/main.conf:1\n");
}

static void test_unexpected_after_quote(void **state)
{
    (void) state;
    assert_parse_error("t_args \"a\"b;", "[emerg] unexpected \"b\" in @/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("t_args 'a'#;", "[emerg] unexpected \"#\" in @/main.conf:1\n");
}

static void test_eof_expecting_semicolon(void **state)
{
    (void) state;
    assert_parse_error("t_flag on\n\n",
                       "[emerg] unexpected end of file, expecting \";\" or \"}\" in "
                       "@/main.conf:3\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    /* An unterminated quote runs to the end of the file. */
    assert_parse_error("t_args \"abc\n",
                       "[emerg] unexpected end of file, expecting \";\" or \"}\" in "
                       "@/main.conf:2\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("t_args a\\", "[emerg] unexpected end of file, expecting \";\" or \"}\" in "
                                     "@/main.conf:1\n");
}

static void test_eof_expecting_brace(void **state)
{
    (void) state;
    assert_parse_error("outer {\n v_flag on;\n\n",
                       "[emerg] unexpected end of file, expecting \"}\" in @/main.conf:4\n");
}

/* nginx reads through a 4096-byte buffer; a parameter that cannot fit is refused. */
static void test_too_long_parameter(void **state)
{
    char text[8192];

    (void) state;
    snprintf(text, sizeof(text), "\nt_args \"%4094d\";", 7);
    assert_ptr_equal(parse_text(text), SL_CONF_OK);
    assert_int_equal(rec.args[1].len, 4094);

    snprintf(text, sizeof(text), "\nt_args \"%4096d\n\";", 7);
    assert_parse_error(text, "[emerg] too long parameter, probably missing terminating \"\"\" "
                             "character in @/main.conf:2\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    snprintf(text, sizeof(text), "t_args\n '%4096d';", 7);
    assert_parse_error(text, "[emerg] too long parameter, probably missing terminating \"'\" "
                             "character in @/main.conf:2\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    /* The closing quote fits but the ";" after it does not: nginx names the word. */
    memset(text, 'a', sizeof(text));
    memcpy(text, "t_args \"", 8);
    memcpy(text + 8 + 4095, "\";", 3);
    assert_parse_error(text, "[emerg] too long parameter \"aaaaaaaaaa...\" started in "
                             "@/main.conf:1\n");
}

static void test_too_long_word_and_comment(void **state)
{
    char text[8192];

    (void) state;
    memset(text, 'b', sizeof(text));
    memcpy(text, "t_args ", 7);
    memcpy(text + 7 + 4095, ";", 2);
    assert_ptr_equal(parse_text(text), SL_CONF_OK);
    assert_int_equal(rec.args[1].len, 4095);
    text[7 + 4095] = 'b';
    memcpy(text + 7 + 4096, ";", 2);
    assert_parse_error(text, "[emerg] too long parameter \"bbbbbbbbbb...\" started in "
                             "@/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    /* Long runs of spaces or of short comment lines are fine; a 4096-byte comment is not. */
    memset(text, ' ', sizeof(text));
    memcpy(text + 6000, "t_flag on;", 11);
    assert_ptr_equal(parse_text(text), SL_CONF_OK);
    memset(text, 'c', sizeof(text));
    memcpy(text, "\n#", 2);
    memcpy(text + 5000, "\nt_flag on;", 12);
    assert_parse_error(text, "[emerg] too long parameter \"#ccccccccc...\" started in "
                             "@/main.conf:2\n");
}

/* ---- dispatch ---- */

static void test_unknown_directive(void **state)
{
    (void) state;
    assert_parse_error("t_flag on;\n\nfoo bar;\n", "[emerg] unknown directive \"foo\" in "
                                                   "@/main.conf:3\n");
}

static void test_not_allowed_here(void **state)
{
    (void) state;
    /* Known, but its module is not of this context's type. */
    assert_parse_error("v_flag on;", "[emerg] \"v_flag\" directive is not allowed here in "
                                     "@/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("outer {\n t_flag on;\n}", "[emerg] \"t_flag\" directive is not allowed "
                                                  "here in @/main.conf:2\n");
}

static void test_not_allowed_in_this_block(void **state)
{
    (void) state;
    /* Right module type, wrong context bit. */
    assert_parse_error("outer {\n only_inner on;\n}",
                       "[emerg] \"only_inner\" directive is not allowed here in @/main.conf:2\n");
}

static void test_arity(void **state)
{
    static const struct {
        const char *text;
        int ok;
    } cases[] = {
        { "t_noargs;", 1 },
        { "t_noargs a;", 0 },
        { "t_take13 a;", 1 },
        { "t_take13 a b;", 0 },
        { "t_take13 a b c;", 1 },
        { "t_take13;", 0 },
        { "t_take13 a b c d e f g h i;", 0 },
        { "t_1more;", 0 },
        { "t_1more a b c d e f g h i j;", 1 },
        { "t_2more a;", 0 },
        { "t_2more a b;", 1 },
        { "t_take7 1 2 3 4 5 6 7;", 1 },
        { "t_take7 1 2 3 4 5 6 7 8;", 0 },
        { "t_args;", 1 },
        { "t_flag;", 0 },
        { "t_flag on off;", 0 },
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        char expected[256];
        const char *name = cases[i].text;
        int len = (int) strcspn(name, " ;");

        assert_int_equal(ftruncate(log_fd, 0), 0);
        snprintf(expected, sizeof(expected),
                 "[emerg] invalid number of arguments in \"%.*s\" directive in @/main.conf:1\n",
                 len, name);
        char *rv = parse_text(cases[i].text);
        assert_ptr_equal(rv, cases[i].ok ? SL_CONF_OK : SL_CONF_ERROR);
        assert_string_equal(log_lines(), cases[i].ok ? "" : expected);
    }
}

static void test_terminators(void **state)
{
    (void) state;
    assert_parse_error("t_flag on {\n}", "[emerg] directive \"t_flag\" is not terminated by "
                                         "\";\" in @/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("outer\n;", "[emerg] directive \"outer\" has no opening \"{\" in "
                                   "@/main.conf:2\n");
}

static void test_setter_messages(void **state)
{
    (void) state;
    assert_parse_error("t_fail;", "[emerg] \"t_fail\" directive has a custom reason in "
                                  "@/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    /* SL_CONF_ERROR means the setter logged already: nothing more. */
    assert_parse_error("t_error;", "[emerg] own message in @/main.conf:1\n");
}

static void test_same_name_in_two_modules(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("shared on;\nouter { shared off; }\n"), SL_CONF_OK);
    assert_int_equal(main_conf()->shared, 1);
    test_ctx_t *octx = (test_ctx_t *) cycle->conf_ctx[test_outer_module.index];
    assert_int_equal(((loc_conf_t *) octx->conf[test_loc_module.ctx_index])->shared, 0);
}

static void test_handler_block(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("types {\n text/html html htm;\n image/png png;\n}\n"
                                "t_flag on;\n"),
                     SL_CONF_OK);
    assert_int_equal(rec.calls, 2);
    assert_int_equal(rec.n, 2);
    assert_arg(0, "image/png");
    assert_int_equal(main_conf()->flag, 1);

    assert_parse_error("types {\n a b;\n bad x;\n}", "[emerg] bad type line in @/main.conf:3\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("types {\n a b {\n}\n}", "[emerg] unexpected \"{\" in @/main.conf:2\n");
}

static void test_deep_nesting_is_refused(void **state)
{
    static char text[16384];
    size_t o = 0;

    (void) state;
    o += snprintf(text + o, sizeof(text) - o, "outer {\n");
    for (int i = 0; i < 150; i++) {
        o += snprintf(text + o, sizeof(text) - o, "inner i%d {\n", i);
    }
    assert_ptr_equal(parse_text(text), SL_CONF_ERROR);
    assert_log("[emerg] too deep nesting of blocks and includes (over 100) in @/main.conf:101\n");
}

/* ---- nested contexts and merging ---- */

static loc_conf_t *child_of(loc_conf_t *parent, sl_uint_t i)
{
    test_ctx_t **kids = parent->children->elts;

    assert_true(i < parent->children->nelts);
    return kids[i]->conf[test_loc_module.ctx_index];
}

static aux_conf_t *aux_child_of(loc_conf_t *parent, sl_uint_t i)
{
    test_ctx_t **kids = parent->children->elts;

    return kids[i]->conf[test_aux_module.ctx_index];
}

static void test_merge_inherits(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("outer {\n"
                                "  v_flag on; v_num 42; v_msec 5s; v_str outer; v_list x;\n"
                                "  v_bufs 4 8k; v_mask read; aux_num 9;\n"
                                "  inner a {\n"
                                "    v_num 1; v_size 1k; v_enum red; v_mask exec write;\n"
                                "    inner a1 { v_msec 10ms; aux_num 2; }\n"
                                "  }\n"
                                "  inner b { v_flag off; v_off 2g; v_sec 1m; v_bufs 2 1m; }\n"
                                "}\n"),
                     SL_CONF_OK);
    test_ctx_t *octx = (test_ctx_t *) cycle->conf_ctx[test_outer_module.index];
    loc_conf_t *outer = octx->conf[test_loc_module.ctx_index];
    loc_conf_t *a = child_of(outer, 0), *a1 = child_of(a, 0), *b = child_of(outer, 1);

    assert_string_equal((char *) a->name.data, "a");
    /* inner a: own values kept, the rest from outer, then defaults. */
    assert_int_equal(a->num, 1);
    assert_int_equal(a->flag, 1);
    assert_int_equal(a->msec, 5000);
    assert_int_equal(a->size, 1024);
    assert_int_equal(a->off, 1048576);
    assert_int_equal(a->sec, 30);
    assert_string_equal((char *) a->str.data, "outer");
    assert_int_equal(a->bufs.num, 4);
    assert_int_equal(a->bufs.size, 8192);
    assert_int_equal(a->mask, 0x6);
    assert_int_equal(a->enm, 1);
    assert_non_null(a->list);
    assert_ptr_equal(a->list, outer->list);
    assert_int_equal(aux_child_of(outer, 0)->num, 9);
    /* a1 inherits from the merged a, which inherited from outer. */
    assert_int_equal(a1->num, 1);
    assert_int_equal(a1->flag, 1);
    assert_int_equal(a1->msec, 10);
    assert_int_equal(a1->size, 1024);
    assert_string_equal((char *) a1->str.data, "outer");
    assert_int_equal(a1->mask, 0x6);
    assert_int_equal(aux_child_of(a, 0)->num, 2);
    /* b: off overrides on; unset everywhere gives the default. */
    assert_int_equal(b->flag, 0);
    assert_int_equal(b->num, 42);
    assert_int_equal(b->off, 2LL * 1024 * 1024 * 1024);
    assert_int_equal(b->sec, 60);
    assert_int_equal(b->size, 4096);
    assert_int_equal(b->bufs.num, 2);
    assert_int_equal(b->bufs.size, 1048576);
    assert_int_equal(b->mask, 0x1);
    assert_int_equal(b->enm, 2);
    /* The outer conf itself stays as written (merging fills children only). */
    assert_int_equal(outer->size, SL_CONF_UNSET_SIZE);
}

static void test_merge_all_defaults(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("outer { inner x { } }"), SL_CONF_OK);
    test_ctx_t *octx = (test_ctx_t *) cycle->conf_ctx[test_outer_module.index];
    loc_conf_t *x = child_of(octx->conf[test_loc_module.ctx_index], 0);

    assert_int_equal(x->flag, 0);
    assert_int_equal(x->shared, 1);
    assert_int_equal(x->num, 7);
    assert_int_equal(x->msec, 60000);
    assert_int_equal(x->sec, 30);
    assert_int_equal(x->size, 4096);
    assert_int_equal(x->off, 1048576);
    assert_string_equal((char *) x->str.data, "dflt");
    assert_int_equal(x->bufs.num, 8);
    assert_int_equal(x->bufs.size, 4096);
    assert_int_equal(x->mask, 0x2);
    assert_int_equal(x->enm, 2);
    assert_null(x->list);
}

static void test_block_errors_inside(void **state)
{
    (void) state;
    assert_parse_error("outer {\n inner a {\n  aux_num 11;\n }\n}",
                       "[emerg] value must be between 1 and 10 in @/main.conf:3\n");
    teardown(NULL);
    setup(NULL);
    assert_parse_error("outer {\n}\nouter {\n}", "[emerg] \"outer\" directive is duplicate in "
                                                 "@/main.conf:3\n");
}

/* ---- setters ---- */

static void test_flag(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_flag ON;"), SL_CONF_OK);
    assert_int_equal(main_conf()->flag, 1);
    assert_parse_error("t_flag on;", "[emerg] \"t_flag\" directive is duplicate in "
                                     "@/main.conf:1\n");
}

static void test_flag_invalid(void **state)
{
    (void) state;
    assert_parse_error("t_flag yes;", "[emerg] invalid value \"yes\" in \"t_flag\" directive, "
                                      "it must be \"on\" or \"off\" in @/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("shared o;", "[emerg] invalid value \"o\" in \"shared\" directive, "
                                    "it must be \"on\" or \"off\" in @/main.conf:1\n");
}

static void test_flag_off_and_post(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_flag Off; t_posted on;"), SL_CONF_OK);
    assert_int_equal(main_conf()->flag, 0);
    assert_int_equal(main_conf()->posted, 1);
    main_conf()->posted = SL_CONF_UNSET;
    assert_parse_error("t_posted off;", "[emerg] \"t_posted\" directive refuses off in "
                                        "@/main.conf:1\n");
}

static void test_str_and_arrays(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_str \"hello world\";\n"
                                "t_strs a; t_strs b; t_strs a;\n"
                                "t_kv k1 v1; t_kv k2 \"v 2\";\n"),
                     SL_CONF_OK);
    main_conf_t *mc = main_conf();
    assert_string_equal((char *) mc->str.data, "hello world");
    assert_int_equal(mc->strs->nelts, 3);
    assert_string_equal((char *) ((sl_str_t *) mc->strs->elts)[2].data, "a");
    assert_int_equal(mc->kvs->nelts, 2);
    sl_keyval_t *kv = mc->kvs->elts;
    assert_string_equal((char *) kv[1].key.data, "k2");
    assert_string_equal((char *) kv[1].value.data, "v 2");
    assert_parse_error("t_str x;", "[emerg] \"t_str\" directive is duplicate in "
                                   "@/main.conf:1\n");
}

static void test_num(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_num 0012; t_bounded 10; t_atleast 5;"), SL_CONF_OK);
    assert_int_equal(main_conf()->num, 12);
    assert_int_equal(main_conf()->bounded, 10);
    assert_int_equal(main_conf()->atleast, 5);
}

static void test_num_invalid(void **state)
{
    static const char *bad[] = { "abc", "-1", "", "1k", "99999999999999999999", "+1", " 1" };
    char text[128];

    (void) state;
    for (size_t i = 0; i < sl_nelems(bad); i++) {
        main_conf()->num = SL_CONF_UNSET;
        assert_int_equal(ftruncate(log_fd, 0), 0);
        snprintf(text, sizeof(text), "t_num \"%s\";", bad[i]);
        assert_parse_error(text, "[emerg] \"t_num\" directive invalid number in @/main.conf:1\n");
    }
}

static void test_num_bounds(void **state)
{
    (void) state;
    assert_parse_error("t_bounded 0;", "[emerg] value must be between 1 and 10 in "
                                       "@/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("t_atleast 4;", "[emerg] value must be equal to or greater than 5 in "
                                       "@/main.conf:1\n");
}

static void test_sizes(void **state)
{
    static const struct {
        const char *text;
        ssize_t size;
        off_t off;
    } cases[] = {
        { "0", 0, 0 },
        { "10", 10, 10 },
        { "8k", 8192, 8192 },
        { "8K", 8192, 8192 },
        { "1m", 1048576, 1048576 },
        { "2M", 2097152, 2097152 },
        { "1g", SL_ERROR, 1073741824 },
        { "3G", SL_ERROR, 3221225472LL },
        { "k", SL_ERROR, SL_ERROR },
        { "", SL_ERROR, SL_ERROR },
        { "-1", SL_ERROR, SL_ERROR },
        { "1.5k", SL_ERROR, SL_ERROR },
        { "1kb", SL_ERROR, SL_ERROR },
        { "1 k", SL_ERROR, SL_ERROR },
        { "9223372036854775807", INT64_MAX, INT64_MAX },
        { "9223372036854775808", SL_ERROR, SL_ERROR },
        { "9007199254740992k", SL_ERROR, SL_ERROR },
        { "9007199254740991k", 9007199254740991LL * 1024, 9007199254740991LL * 1024 },
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        sl_str_t s = { strlen(cases[i].text), (u_char *) cases[i].text };

        assert_int_equal(sl_parse_size(&s), cases[i].size);
        assert_int_equal(sl_parse_offset(&s), cases[i].off);
    }
}

static void test_size_setters(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_size 16k; t_off 5g; t_bufs 8 4k;"), SL_CONF_OK);
    assert_int_equal(main_conf()->size, 16384);
    assert_int_equal(main_conf()->off, 5LL << 30);
    assert_int_equal(main_conf()->bufs.num, 8);
    assert_int_equal(main_conf()->bufs.size, 4096);
    assert_parse_error("t_bufs 1 1;", "[emerg] \"t_bufs\" directive is duplicate in "
                                      "@/main.conf:1\n");
}

static void test_size_setters_invalid(void **state)
{
    static const char *bad[] = {
        "t_size 1g;",  "t_size x;",    "t_off 1t;",    "t_bufs 0 4k;",
        "t_bufs 8 0;", "t_bufs x 4k;", "t_bufs 8 1g;",
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(bad); i++) {
        char expected[128];
        int len = (int) strcspn(bad[i], " ");

        teardown(NULL);
        setup(NULL);
        snprintf(expected, sizeof(expected),
                 "[emerg] \"%.*s\" directive invalid value in @/main.conf:1\n", len, bad[i]);
        assert_parse_error(bad[i], expected);
    }
}

static void test_times(void **state)
{
    /* Each accepted or refused exactly as nginx 1.22 does (checked with timer_resolution and
     * a seconds directive). */
    static const struct {
        const char *text;
        sl_int_t msec;
        sl_int_t sec;
    } cases[] = {
        { "0", 0, 0 },
        { "90", 90000, 90 },
        { "500ms", 500, SL_ERROR },
        { "1s500ms", 1500, SL_ERROR },
        { "1h 30m", 5400000, 5400 },
        { "1h30m", 5400000, 5400 },
        { "1m30s", 90000, 90 },
        { "1d", 86400000, 86400 },
        { "2w", 1209600000, 1209600 },
        { "1M", SL_ERROR, 2592000 },
        { "1y", SL_ERROR, 31536000 },
        { "1y 1M 1w 1d 1h 1m 1s", SL_ERROR, 31536000 + 2592000 + 604800 + 86400 + 3661 },
        { "1h 1h", SL_ERROR, SL_ERROR },
        { "1m 1h", SL_ERROR, SL_ERROR },
        { "30s 1m", SL_ERROR, SL_ERROR },
        { "1ms 1s", SL_ERROR, SL_ERROR },
        { "", SL_ERROR, SL_ERROR },
        { "s", SL_ERROR, SL_ERROR },
        { "ms", SL_ERROR, SL_ERROR },
        { "5x", SL_ERROR, SL_ERROR },
        { "-5", SL_ERROR, SL_ERROR },
        { "1.5s", SL_ERROR, SL_ERROR },
        /* nginx's quirks: a space after digits closes them as seconds; trailing digits are
         * seconds whatever came before; a unit may follow no digits. */
        { " 5", 5000, 5 },
        { "5 ", 5000, 5 },
        { "5 3", 8000, 8 },
        { "5 3 1", SL_ERROR, SL_ERROR },
        { "1s 5", 6000, 6 },
        { "1m 30", 90000, 90 },
        { "1h m", 3600000, 3600 },
        { "2147483647ms", 2147483647, SL_ERROR },
        { "9223372036854775808", SL_ERROR, SL_ERROR },
        { "99999999999999999999d", SL_ERROR, SL_ERROR },
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        sl_str_t s = { strlen(cases[i].text), (u_char *) cases[i].text };

        if (sl_parse_time(&s, 0) != cases[i].msec || sl_parse_time(&s, 1) != cases[i].sec) {
            fail_msg("\"%s\": msec %ld (want %ld), sec %ld (want %ld)", cases[i].text,
                     (long) sl_parse_time(&s, 0), (long) cases[i].msec, (long) sl_parse_time(&s, 1),
                     (long) cases[i].sec);
        }
    }
}

static void test_time_setters(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_msec \"1m 5s\"; t_sec 2h;"), SL_CONF_OK);
    assert_int_equal(main_conf()->msec, 65000);
    assert_int_equal(main_conf()->sec, 7200);
    assert_parse_error("t_sec 1s;", "[emerg] \"t_sec\" directive is duplicate in "
                                    "@/main.conf:1\n");
}

static void test_time_setters_invalid(void **state)
{
    (void) state;
    assert_parse_error("t_msec 1y;", "[emerg] \"t_msec\" directive invalid value in "
                                     "@/main.conf:1\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("t_sec 5ms;", "[emerg] \"t_sec\" directive invalid value in "
                                     "@/main.conf:1\n");
}

static void test_enum(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_enum GREEN;"), SL_CONF_OK);
    assert_int_equal(main_conf()->enm, 2);
    assert_parse_error("t_enum red;", "[emerg] \"t_enum\" directive is duplicate in "
                                      "@/main.conf:1\n");
    main_conf()->enm = SL_CONF_UNSET_UINT;
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("t_enum blue;", "[emerg] invalid value \"blue\" in @/main.conf:1\n");
}

static void test_bitmask(void **state)
{
    (void) state;
    /* No duplicate check on the directive; a repeated value only warns (as nginx). */
    assert_ptr_equal(parse_text("t_mask read Write;\nt_mask read exec;"), SL_CONF_OK);
    assert_int_equal(main_conf()->mask, 0x7);
    assert_log("[warn] duplicate value \"read\" in @/main.conf:2\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    main_conf()->mask = 0;
    assert_parse_error("t_mask read bogus;", "[emerg] invalid value \"bogus\" in "
                                             "@/main.conf:1\n");
}

/* ---- include ---- */

static void test_include_relative_and_nested(void **state)
{
    (void) state;
    make_dir("inc1");
    make_dir("inc1/sub");
    write_file("inc1/a.conf", "t_strs a;\ninclude inc1/sub/b.conf;\n");
    write_file("inc1/sub/b.conf", "t_strs b;\n");
    assert_ptr_equal(parse_text("t_strs main;\ninclude inc1/a.conf;\nt_strs end;\n"), SL_CONF_OK);
    sl_str_t *v = main_conf()->strs->elts;
    assert_int_equal(main_conf()->strs->nelts, 4);
    assert_string_equal((char *) v[1].data, "a");
    assert_string_equal((char *) v[2].data, "b");
    assert_string_equal((char *) v[3].data, "end");
    assert_log("");
}

static void test_include_glob(void **state)
{
    (void) state;
    make_dir("glob1");
    write_file("glob1/b.conf", "t_strs b;\n");
    write_file("glob1/a.conf", "t_strs a;\n");
    write_file("glob1/c.txt", "t_strs c;\n");
    assert_ptr_equal(parse_text("include glob1/*.conf;\ninclude nomatch/*.conf;\n"
                                "include glob1/[c]?txt;\n"),
                     SL_CONF_OK);
    sl_str_t *v = main_conf()->strs->elts;
    assert_int_equal(main_conf()->strs->nelts, 3);
    /* glob(3) sorts. */
    assert_string_equal((char *) v[0].data, "a");
    assert_string_equal((char *) v[1].data, "b");
    assert_string_equal((char *) v[2].data, "c");
}

static void test_include_absolute_and_in_block(void **state)
{
    char text[512];

    (void) state;
    make_dir("inc2");
    write_file("inc2/loc.conf", "v_num 5;\ninner z { v_flag on; }\n");
    snprintf(text, sizeof(text), "outer {\n include %s/inc2/loc.conf;\n}\n", tmpdir);
    assert_ptr_equal(parse_text(text), SL_CONF_OK);
    test_ctx_t *octx = (test_ctx_t *) cycle->conf_ctx[test_outer_module.index];
    loc_conf_t *outer = octx->conf[test_loc_module.ctx_index];
    assert_int_equal(outer->num, 5);
    assert_int_equal(child_of(outer, 0)->num, 5);
}

static void test_include_missing(void **state)
{
    (void) state;
    assert_parse_error("t_flag on;\ninclude nope.conf;\n",
                       "[emerg] open() \"@/nope.conf\" failed (2: No such file or directory) "
                       "in @/main.conf:2\n");
}

static void test_include_errors_name_the_included_file(void **state)
{
    (void) state;
    make_dir("inc3");
    write_file("inc3/bad.conf", "\n\nfoo;\n");
    write_file("inc3/open.conf", "outer {\n");
    write_file("inc3/close.conf", "v_num 1;\n}\n");
    assert_parse_error("include inc3/bad.conf;", "[emerg] unknown directive \"foo\" in "
                                                 "@/inc3/bad.conf:3\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("include inc3/open.conf;\n}\n",
                       "[emerg] unexpected end of file, expecting \"}\" in @/inc3/open.conf:2\n");
    teardown(NULL);
    setup(NULL);
    assert_parse_error("outer {\ninclude inc3/close.conf;\n}\n",
                       "[emerg] unexpected \"}\" in @/inc3/close.conf:2\n");
    assert_int_equal(ftruncate(log_fd, 0), 0);
    assert_parse_error("include a b;", "[emerg] invalid number of arguments in \"include\" "
                                       "directive in @/main.conf:1\n");
}

static void test_include_directory(void **state)
{
    (void) state;
    make_dir("inc4");
    assert_ptr_equal(parse_text("include inc4;"), SL_CONF_ERROR);
    assert_log("[crit] pread() \"@/inc4\" failed (21: Is a directory)\n");
}

static void test_include_self_is_refused(void **state)
{
    (void) state;
    assert_ptr_equal(parse_text("t_args x;\ninclude main.conf;\n"), SL_CONF_ERROR);
    assert_log("[emerg] too deep nesting of blocks and includes (over 100) in @/main.conf:2\n");
}

static void test_main_file_missing(void **state)
{
    (void) state;
    sl_str_t name = path_of("missing.conf");
    assert_ptr_equal(sl_conf_parse(&cf, &name), SL_CONF_ERROR);
    /* No file is being parsed yet: no location. */
    assert_log("[emerg] open() \"@/missing.conf\" failed (2: No such file or directory)\n");
}

/* ---- -g ---- */

static void test_param(void **state)
{
    (void) state;
    cycle->conf_param = dup_str("t_num 5; t_args \"a b\"  c;");
    assert_ptr_equal(parse_text("t_flag on;"), SL_CONF_OK);
    assert_int_equal(main_conf()->num, 5);
    assert_int_equal(main_conf()->flag, 1);
    assert_arg(1, "a b");
    assert_arg(2, "c");
    /* After -g the file's errors name the file again. */
    cycle->conf_param.len = 0;
    assert_parse_error("t_num 6;", "[emerg] \"t_num\" directive is duplicate in "
                                   "@/main.conf:1\n");
}

static void test_param_errors(void **state)
{
    static const struct {
        const char *param;
        const char *log;
    } cases[] = {
        { "t_flag off", "[emerg] unexpected end of parameter, expecting \";\" in command line\n" },
        { "t_args \"x", "[emerg] unexpected end of parameter, expecting \";\" in command line\n" },
        { "outer {}", "[emerg] block directives are not supported in -g option in command "
                      "line\n" },
        { "}", "[emerg] unexpected \"}\" in command line\n" },
        { ";", "[emerg] unexpected \";\" in command line\n" },
        { "foo;", "[emerg] unknown directive \"foo\" in command line\n" },
        { "t_flag x;", "[emerg] invalid value \"x\" in \"t_flag\" directive, it must be \"on\" "
                       "or \"off\" in command line\n" },
        { "include nope.conf;", "[emerg] open() \"@/nope.conf\" failed (2: No such file or "
                                "directory) in command line\n" },
    };

    (void) state;
    for (size_t i = 0; i < sl_nelems(cases); i++) {
        teardown(NULL);
        setup(NULL);
        cycle->conf_param = dup_str(cases[i].param);
        assert_ptr_equal(sl_conf_param(&cf), SL_CONF_ERROR);
        assert_null(cf.conf_file);
        assert_string_equal(log_lines(), cases[i].log);
    }
}

static void test_param_include_and_long(void **state)
{
    static char param[10000];

    (void) state;
    make_dir("inc5");
    write_file("inc5/x.conf", "t_num 77;\nfoo;\n");
    cycle->conf_param = dup_str("include inc5/x.conf;");
    assert_ptr_equal(sl_conf_param(&cf), SL_CONF_ERROR);
    assert_log("[emerg] unknown directive \"foo\" in @/inc5/x.conf:2\n");
    /* -g is not read through nginx's buffer: no length limit. */
    teardown(NULL);
    setup(NULL);
    memset(param, 'z', sizeof(param) - 1);
    memcpy(param, "t_args ", 7);
    param[sizeof(param) - 2] = ';';
    cycle->conf_param = dup_str(param);
    assert_ptr_equal(sl_conf_param(&cf), SL_CONF_OK);
    assert_int_equal(rec.args[1].len, sizeof(param) - 2 - 7);
}

/* ---- dump, full names ---- */

static void test_dump(void **state)
{
    const char *main_text = "include dump/a.conf;\ninclude dump/*.conf;\nt_flag on;\n";

    (void) state;
    make_dir("dump");
    write_file("dump/a.conf", "t_strs a;\n");
    write_file("dump/b.conf", "");
    assert_ptr_equal(parse_text(main_text), SL_CONF_OK);
    /* Each file once, in the order first read, with its whole text. */
    sl_conf_dump_t *d = cycle->config_dump.elts;
    assert_int_equal(cycle->config_dump.nelts, 3);
    sl_str_t main_name = path_of("main.conf"), a_name = path_of("dump/a.conf");
    assert_true(sl_str_eq(&d[0].name, &main_name));
    assert_int_equal(d[0].text.len, strlen(main_text));
    assert_memory_equal(d[0].text.data, main_text, d[0].text.len);
    assert_true(sl_str_eq(&d[1].name, &a_name));
    assert_memory_equal(d[1].text.data, "t_strs a;\n", 10);
    assert_int_equal(d[2].text.len, 0);
    assert_int_equal(main_conf()->strs->nelts, 2);
}

static void test_full_name(void **state)
{
    (void) state;
    sl_str_t n = dup_str("logs/error.log");
    cycle->prefix = dup_str("/usr/local/sluice/");
    cycle->conf_prefix = dup_str("/etc/sluice/");
    assert_int_equal(sl_conf_full_name(cycle, &n, 0), SL_OK);
    assert_string_equal((char *) n.data, "/usr/local/sluice/logs/error.log");
    assert_int_equal(n.len, strlen("/usr/local/sluice/logs/error.log"));

    n = dup_str("mime.types");
    assert_int_equal(sl_conf_full_name(cycle, &n, 1), SL_OK);
    assert_string_equal((char *) n.data, "/etc/sluice/mime.types");

    sl_str_t abs = { 8, (u_char *) "/a/b.logXXX" };
    assert_int_equal(sl_conf_full_name(cycle, &abs, 1), SL_OK);
    assert_int_equal(abs.len, 8);
    assert_string_equal((char *) abs.data, "/a/b.log");

    cycle->prefix = dup_str("/opt/x");
    n = dup_str("y");
    assert_int_equal(sl_conf_full_name(cycle, &n, 0), SL_OK);
    assert_string_equal((char *) n.data, "/opt/x/y");

    cycle->prefix.len = 0;
    n = dup_str("rel");
    assert_int_equal(sl_conf_full_name(cycle, &n, 0), SL_OK);
    assert_string_equal((char *) n.data, "rel");
}

/* As nginx, a long message is cut at 1024 bytes so the location still ends the line. */
static void test_long_message_keeps_location(void **state)
{
    static char text[3000];

    (void) state;
    memset(text, 'v', sizeof(text) - 1);
    memcpy(text, "t_flag ", 7);
    text[sizeof(text) - 2] = ';';
    assert_ptr_equal(parse_text(text), SL_CONF_ERROR);
    const char *log = log_lines();
    const char *tail = "vvv in @/main.conf:1\n";
    assert_int_equal(strlen(log), strlen("[emerg] ") + 1024 + strlen(" in @/main.conf:1\n"));
    assert_string_equal(log + strlen(log) - strlen(tail), tail);
}

static void test_log_error_without_file(void **state)
{
    (void) state;
    sl_conf_log_error(SL_LOG_EMERG, &cf, ENOENT, "thing %d", 7);
    assert_log("[emerg] thing 7 (2: No such file or directory)\n");
}

/* ---- robustness: random input must fail cleanly, never crash ---- */

static void test_random_input(void **state)
{
    static const char *pieces[] = {
        "t_args", "t_flag", "on",      "outer", "inner", "types",   "{",   "}",
        ";",      "\"",     "'",       "\\",    "$",     "${",      "#",   "\n",
        " ",      "x",      "include", "t_num", "1",     "(",       ")",   "v_num",
        "t_mask", "read",   "t_bufs",  "\t",    "\r\n",  "aux_num", "bad", "\\\"",
    };
    uint32_t seed = 12345;
    char text[512];

    (void) state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t o = 0;
        int n = 1 + (int) (seed % 40);

        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            const char *p = pieces[(seed >> 16) % sl_nelems(pieces)];
            o += snprintf(text + o, sizeof(text) - o, "%s", p);
        }
        teardown(NULL);
        setup(NULL);
        char *rv = parse_text_n(text, o);
        assert_true(rv == SL_CONF_OK || rv == SL_CONF_ERROR);
        assert_null(cf.conf_file);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_words_and_lines),
        T(test_quotes_and_escapes),
        T(test_quoted_newlines_and_specials),
        T(test_variables),
        T(test_variable_then_brace_is_block),
        T(test_comments),
        T(test_empty_and_blank_files),
        T(test_nul_byte_does_not_crash),
        T(test_unexpected_chars),
        T(test_unexpected_brace_after_args),
        T(test_unexpected_open_brace),
        T(test_unexpected_semicolon),
        T(test_unexpected_after_quote),
        T(test_eof_expecting_semicolon),
        T(test_eof_expecting_brace),
        T(test_too_long_parameter),
        T(test_too_long_word_and_comment),
        T(test_unknown_directive),
        T(test_not_allowed_here),
        T(test_not_allowed_in_this_block),
        T(test_arity),
        T(test_terminators),
        T(test_setter_messages),
        T(test_same_name_in_two_modules),
        T(test_handler_block),
        T(test_deep_nesting_is_refused),
        T(test_merge_inherits),
        T(test_merge_all_defaults),
        T(test_block_errors_inside),
        T(test_flag),
        T(test_flag_invalid),
        T(test_flag_off_and_post),
        T(test_str_and_arrays),
        T(test_num),
        T(test_num_invalid),
        T(test_num_bounds),
        T(test_sizes),
        T(test_size_setters),
        T(test_size_setters_invalid),
        T(test_times),
        T(test_time_setters),
        T(test_time_setters_invalid),
        T(test_enum),
        T(test_bitmask),
        T(test_include_relative_and_nested),
        T(test_include_glob),
        T(test_include_absolute_and_in_block),
        T(test_include_missing),
        T(test_include_errors_name_the_included_file),
        T(test_include_directory),
        T(test_include_self_is_refused),
        T(test_main_file_missing),
        T(test_param),
        T(test_param_errors),
        T(test_param_include_and_long),
        T(test_dump),
        T(test_full_name),
        T(test_long_message_keeps_location),
        T(test_log_error_without_file),
        T(test_random_input),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
