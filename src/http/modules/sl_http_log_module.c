/*
 * sl_http_log_module.c: the access log.
 *
 *     log_format NAME [escape=default|json|none] STRING ...;
 *     access_log PATH [FORMAT [buffer=SIZE] [gzip[=LEVEL]] [flush=TIME] [if=CONDITION]] | off;
 *
 * A PATH with variables names a file per line: it is opened (appending, created 0644)
 * for each line and closed after it, when the request's root directory exists, as nginx;
 * with open_log_file_cache (sl_http_log_file_cache.c) the descriptors stay open.
 * A format is compiled into ops (literal text or a variable index).  In the log phase each
 * access_log of the request's location measures its line, renders it into one piece of
 * memory and writes it with one write(): into the file's buffer when the file has one
 * (flushed when full, on the flush timer and at exit), else straight to the file.  Lines
 * match nginx 1.22 byte for byte: an absent variable prints "-" (nothing with
 * escape=json/none), and values are escaped as nginx escapes them.  With gzip, what a
 * buffer holds is written as one gzip member at each flush (a line too long for the buffer
 * as a member of its own), so the file reads with zcat.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sl_file.h"
#include "sl_http_gzip.h"
#include "sl_http_log_file_cache.h"
#include "sl_http_variables.h"
#include "sl_event.h"
#include "sl_pool.h"

enum { ESCAPE_DEFAULT = 0, ESCAPE_JSON, ESCAPE_NONE };

typedef struct {
    /** literal text; NULL data for a variable */
    sl_str_t text;
    sl_uint_t index;
} log_op_t;

typedef struct {
    sl_str_t name;
    sl_uint_t escape;
    /** log_op_t */
    sl_array_t ops;
} log_fmt_t;

/* The buffer of one file, shared by every access_log writing to it so lines stay in order.
 * Each worker fills its own copy (the memory is the configuration's). */
typedef struct {
    sl_open_file_t *file;
    u_char *start;
    u_char *pos;
    u_char *end;
    /** flush= in ms, 0 for none */
    sl_msec_t flush;
    /** gzip= compression level, 0 for none */
    int gzip;
    sl_event_t event;
    time_t error_log_time;
} log_buf_t;

typedef struct {
    /** the file, or NULL when its name has variables (path) */
    sl_open_file_t *file;
    /** a name with variables, made absolute from the prefix: opened for each line */
    sl_http_complex_value_t *path;
    log_fmt_t *format;
    /** if=: no line when it evaluates to "" or "0" */
    sl_http_complex_value_t *filter;
    time_t error_log_time;
    time_t disk_full_time;
} log_t;

typedef struct {
    /** log_fmt_t; "combined" first */
    sl_array_t formats;
    /** log_buf_t * */
    sl_array_t buffers;
    /** every open_log_file_cache, closed at exit */
    sl_http_log_file_cache_t *caches;
} log_main_conf_t;

typedef struct {
    /** log_t; NULL when no access_log is set at this level */
    sl_array_t *logs;
    /** open_log_file_cache: NULL for off, SL_CONF_UNSET_PTR until merged */
    sl_http_log_file_cache_t *cache;
    unsigned off : 1;
} log_loc_conf_t;

static sl_int_t log_preconfiguration(sl_conf_t *cf);
static sl_int_t log_postconfiguration(sl_conf_t *cf);
static void *create_main_conf(sl_conf_t *cf);
static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static char *set_log_format(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static char *set_access_log(sl_conf_t *cf, sl_command_t *cmd, void *conf);
static void log_exit_process(sl_cycle_t *cycle);
static void flush_file(sl_open_file_t *file, sl_log_t *log);
static char *set_open_log_file_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf);

#define LOG_CONTEXTS                                                                               \
    (SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_HTTP_LIF_CONF | SL_HTTP_LMT_CONF)

// clang-format off
static sl_command_t log_commands[] = {
    { sl_string("log_format"), SL_HTTP_MAIN_CONF | SL_CONF_2MORE, set_log_format,
      SL_HTTP_MAIN_CONF_OFFSET, 0, NULL },
    { sl_string("access_log"), LOG_CONTEXTS | SL_CONF_1MORE, set_access_log,
      SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { sl_string("open_log_file_cache"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1234,
      set_open_log_file_cache, SL_HTTP_LOC_CONF_OFFSET, 0, NULL },
    sl_null_command,
};
// clang-format on

static sl_http_module_t log_module_ctx = {
    log_preconfiguration, log_postconfiguration, create_main_conf, NULL, NULL, NULL,
    create_loc_conf,      merge_loc_conf,
};

sl_module_t sl_http_log_module = {
    "http_log", 0, 0, SL_HTTP_MODULE, &log_module_ctx, log_commands, NULL, NULL, log_exit_process,
};

static const sl_str_t combined_name = sl_string("combined");
static sl_str_t combined_format =
    sl_string("$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
              "\"$http_referer\" \"$http_user_agent\"");
static const sl_str_t default_path = sl_string("logs/access.log");

/* After exit_process has flushed the buffers, lines of requests closed later go straight
 * to their files. */
static int unbuffered;

/* ---- formats ---- */

static sl_int_t push_op(log_fmt_t *fmt, const u_char *text, size_t len, sl_uint_t index)
{
    log_op_t *op = sl_array_push(&fmt->ops);

    if (op == NULL) {
        return SL_ERROR;
    }
    op->text.data = (u_char *) text;
    op->text.len = len;
    op->index = index;
    return SL_OK;
}

/* "$name" or "${name}" at s[*i] == '$'; appends its op.  Errors worded as nginx's. */
static sl_int_t compile_variable(sl_conf_t *cf, log_fmt_t *fmt, const sl_str_t *arg, size_t *i)
{
    const u_char *s = arg->data, *dollar = s + *i;
    size_t p = *i + 1, len = arg->len;
    sl_str_t name;

    if (sl_http_script_var_name(cf, arg, &p, &name) != SL_OK) {
        return SL_ERROR;
    }
    if (name.len == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                          (int) (s + len - dollar), (const char *) dollar);
        return SL_ERROR;
    }
    sl_int_t index = sl_http_get_variable_index(cf, &name);
    if (index == SL_ERROR || push_op(fmt, NULL, 0, (sl_uint_t) index) != SL_OK) {
        return SL_ERROR;
    }
    *i = p;
    return SL_OK;
}

/* Compiles one string of a format (the strings of a log_format are concatenated). */
static sl_int_t compile_string(sl_conf_t *cf, log_fmt_t *fmt, const sl_str_t *src)
{
    sl_str_t arg = { src->len, sl_pstrdup(cf->pool, src) };
    size_t i = 0;

    if (arg.data == NULL) {
        return SL_ERROR;
    }
    while (i < arg.len) {
        if (arg.data[i] == '$') {
            if (compile_variable(cf, fmt, &arg, &i) != SL_OK) {
                return SL_ERROR;
            }
            continue;
        }
        size_t start = i;
        while (i < arg.len && arg.data[i] != '$') {
            i++;
        }
        if (push_op(fmt, arg.data + start, i - start, 0) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static log_fmt_t *find_format(log_main_conf_t *lmcf, const sl_str_t *name)
{
    log_fmt_t *fmt = lmcf->formats.elts;

    for (sl_uint_t i = 0; i < lmcf->formats.nelts; i++) {
        if (sl_str_eq(&fmt[i].name, name)) {
            return &fmt[i];
        }
    }
    return NULL;
}

static log_fmt_t *add_format(sl_conf_t *cf, log_main_conf_t *lmcf, const sl_str_t *name)
{
    log_fmt_t *fmt = sl_array_push(&lmcf->formats);

    if (fmt == NULL) {
        return NULL;
    }
    memset(fmt, 0, sizeof(*fmt));
    fmt->name = *name;
    fmt->name.data = sl_pstrdup(cf->pool, name);
    if (fmt->name.data == NULL
        || sl_array_init(&fmt->ops, cf->pool, 8, sizeof(log_op_t)) != SL_OK) {
        return NULL;
    }
    return fmt;
}

/* escape=default|json|none as the first string; 1 when value is such a parameter. */
static sl_int_t parse_escape(sl_conf_t *cf, const sl_str_t *value, log_fmt_t *fmt)
{
    static const char prefix[] = "escape=";
    size_t plen = sizeof(prefix) - 1;

    if (value->len < plen || memcmp(value->data, prefix, plen) != 0) {
        return 0;
    }
    sl_str_t mode = { value->len - plen, value->data + plen };
    if (sl_str_eq_cstr(&mode, "default")) {
        fmt->escape = ESCAPE_DEFAULT;
    } else if (sl_str_eq_cstr(&mode, "json")) {
        fmt->escape = ESCAPE_JSON;
    } else if (sl_str_eq_cstr(&mode, "none")) {
        fmt->escape = ESCAPE_NONE;
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown log format escaping \"%.*s\"",
                          SL_STR_ARG(mode));
        return SL_ERROR;
    }
    return 1;
}

static char *set_log_format(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    log_main_conf_t *lmcf = conf;
    sl_str_t *value = cf->args->elts;

    if (find_format(lmcf, &value[1])) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "duplicate \"log_format\" name \"%.*s\"",
                          SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    log_fmt_t *fmt = add_format(cf, lmcf, &value[1]);
    if (fmt == NULL) {
        return SL_CONF_ERROR;
    }
    sl_int_t rc = parse_escape(cf, &value[2], fmt);
    if (rc == SL_ERROR) {
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 2 + (sl_uint_t) rc; i < cf->args->nelts; i++) {
        if (compile_string(cf, fmt, &value[i]) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

/* ---- access_log ---- */

/* The file's buffer, created on first use; one size and flush per file, as nginx. */
static char *file_buffer(sl_conf_t *cf, const sl_str_t *path, sl_open_file_t *file, size_t size,
                         sl_msec_t flush, int gzip)
{
    log_main_conf_t *lmcf = sl_http_conf_get_module_main_conf(cf, sl_http_log_module);
    log_buf_t **bufs = lmcf->buffers.elts;

    for (sl_uint_t i = 0; i < lmcf->buffers.nelts; i++) {
        if (bufs[i]->file != file) {
            continue;
        }
        if ((size_t) (bufs[i]->end - bufs[i]->start) != size || bufs[i]->flush != flush
            || bufs[i]->gzip != gzip) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "access_log \"%.*s\" already defined with conflicting parameters",
                              SL_STR_ARG(*path));
            return SL_CONF_ERROR;
        }
        return SL_CONF_OK;
    }
    log_buf_t *b = sl_pcalloc(cf->pool, sizeof(log_buf_t));
    log_buf_t **slot = sl_array_push(&lmcf->buffers);
    if (b == NULL || slot == NULL || (b->start = sl_pnalloc(cf->pool, size)) == NULL) {
        return SL_CONF_ERROR;
    }
    b->file = file;
    b->pos = b->start;
    b->end = b->start + size;
    b->flush = flush;
    b->gzip = gzip;
    file->flush = flush_file;
    file->data = b;
    *slot = b;
    return SL_CONF_OK;
}

static char *set_filter(sl_conf_t *cf, log_t *log, sl_str_t *cond)
{
    sl_http_compile_complex_value_t ccv;

    log->filter = sl_palloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (log->filter == NULL) {
        return SL_CONF_ERROR;
    }
    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = cond;
    ccv.complex_value = log->filter;
    return sl_http_compile_complex_value(&ccv) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* gzip or gzip=LEVEL (1 to 9); 1 when value is that parameter. */
static int parse_gzip(sl_conf_t *cf, const sl_str_t *value, int *gzip, char **rv)
{
    sl_str_t v;

    *rv = SL_CONF_OK;
    if (sl_str_eq_cstr(value, "gzip")) {
        *gzip = 1;
        return 1;
    }
    if (!sl_str_skip_prefix(value, "gzip=", &v)) {
        return 0;
    }
    sl_int_t level = sl_atoi(v.data, v.len);
    if (level < 1 || level > 9) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid compression level \"%.*s\"", SL_STR_ARG(v));
        *rv = SL_CONF_ERROR;
    }
    *gzip = (int) level;
    return 1;
}

/* buffer=, gzip[=], flush=, if= from the fourth argument on; gzip alone means a 64k
 * buffer, as nginx. */
static char *parse_params(sl_conf_t *cf, log_t *log, size_t *size, sl_msec_t *flush, int *gzip)
{
    char *rv;

    sl_str_t *value = cf->args->elts, v;

    for (sl_uint_t i = 3; i < cf->args->nelts; i++) {
        if (sl_str_skip_prefix(&value[i], "buffer=", &v)) {
            ssize_t n = sl_parse_size(&v);
            if (n == SL_ERROR || n == 0) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid buffer size \"%.*s\"",
                                  SL_STR_ARG(v));
                return SL_CONF_ERROR;
            }
            *size = (size_t) n;
        } else if (sl_str_skip_prefix(&value[i], "flush=", &v)) {
            sl_int_t ms = sl_parse_time(&v, 0);
            if (ms == SL_ERROR || ms == 0) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid flush time \"%.*s\"",
                                  SL_STR_ARG(v));
                return SL_CONF_ERROR;
            }
            *flush = (sl_msec_t) ms;
        } else if (parse_gzip(cf, &value[i], gzip, &rv)) {
            if (rv != SL_CONF_OK) {
                return rv;
            }
            *size = *size ? *size : 64 * 1024;
        } else if (sl_str_skip_prefix(&value[i], "if=", &v)) {
            if (set_filter(cf, log, &v) != SL_CONF_OK) {
                return SL_CONF_ERROR;
            }
        } else {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[i]));
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

/* A path with variables: made absolute from the prefix first (as nginx), then compiled. */
static char *set_path(sl_conf_t *cf, log_t *log, const sl_str_t *path)
{
    sl_http_compile_complex_value_t ccv;
    sl_str_t full = *path;

    log->path = sl_palloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (log->path == NULL || sl_conf_full_name(cf->cycle, &full, 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    memset(&ccv, 0, sizeof(ccv));
    ccv.cf = cf;
    ccv.value = &full;
    ccv.complex_value = log->path;
    return sl_http_compile_complex_value(&ccv) == SL_OK ? SL_CONF_OK : SL_CONF_ERROR;
}

/* What access_log PATH cannot be here yet: syslog. */
static char *check_path(sl_conf_t *cf, const sl_str_t *path)
{
    sl_str_t rest;

    if (sl_str_skip_prefix(path, "syslog:", &rest)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "syslog logging is not supported yet");
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

static char *set_access_log(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    log_loc_conf_t *llcf = conf;
    log_main_conf_t *lmcf = sl_http_conf_get_module_main_conf(cf, sl_http_log_module);
    sl_str_t *value = cf->args->elts;

    if (sl_str_eq_cstr(&value[1], "off")) {
        llcf->off = 1;
        if (cf->args->nelts == 2) {
            return SL_CONF_OK;
        }
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(value[2]));
        return SL_CONF_ERROR;
    }
    if (check_path(cf, &value[1]) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    if (llcf->logs == NULL && !(llcf->logs = sl_array_create(cf->pool, 2, sizeof(log_t)))) {
        return SL_CONF_ERROR;
    }
    log_t *log = sl_array_push(llcf->logs);
    if (log == NULL) {
        return SL_CONF_ERROR;
    }
    memset(log, 0, sizeof(*log));
    int script = sl_http_script_variables_count(&value[1]) != 0;
    if (script) {
        if (set_path(cf, log, &value[1]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    } else if ((log->file = sl_conf_open_file(cf->cycle, &value[1])) == NULL) {
        return SL_CONF_ERROR;
    }
    const sl_str_t *name = cf->args->nelts >= 3 ? &value[2] : &combined_name;
    log->format = find_format(lmcf, name);
    if (log->format == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown log format \"%.*s\"", SL_STR_ARG(*name));
        return SL_CONF_ERROR;
    }
    size_t size = 0;
    sl_msec_t flush = 0;
    int gzip = 0;
    if (parse_params(cf, log, &size, &flush, &gzip) != SL_CONF_OK) {
        return SL_CONF_ERROR;
    }
    if (flush && size == 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "no buffer is defined for access_log \"%.*s\"",
                          SL_STR_ARG(value[1]));
        return SL_CONF_ERROR;
    }
    if (size && script) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "buffered logs cannot have variables in name");
        return SL_CONF_ERROR;
    }
    return size ? file_buffer(cf, &value[1], log->file, size, flush, gzip) : SL_CONF_OK;
}

/* ---- configuration ---- */

static char *set_open_log_file_cache(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    log_loc_conf_t *llcf = conf;

    if (llcf->cache != SL_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    log_main_conf_t *lmcf = sl_http_conf_get_module_main_conf(cf, sl_http_log_module);
    return sl_http_log_file_cache_conf(cf, &llcf->cache, &lmcf->caches);
}

static void *create_main_conf(sl_conf_t *cf)
{
    log_main_conf_t *lmcf = sl_pcalloc(cf->pool, sizeof(log_main_conf_t));

    if (lmcf == NULL || sl_array_init(&lmcf->formats, cf->pool, 4, sizeof(log_fmt_t)) != SL_OK
        || sl_array_init(&lmcf->buffers, cf->pool, 2, sizeof(log_buf_t *)) != SL_OK) {
        return NULL;
    }
    return lmcf;
}

/* "combined" exists before the config is read, so "log_format combined" is a duplicate. */
static sl_int_t log_preconfiguration(sl_conf_t *cf)
{
    log_main_conf_t *lmcf = sl_http_conf_get_module_main_conf(cf, sl_http_log_module);
    log_fmt_t *fmt = add_format(cf, lmcf, &combined_name);

    return fmt ? compile_string(cf, fmt, &combined_format) : SL_ERROR;
}

static void *create_loc_conf(sl_conf_t *cf)
{
    log_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(log_loc_conf_t));

    if (conf) {
        conf->cache = SL_CONF_UNSET_PTR;
    }
    return conf;
}

/* Inherit the parent's logs unless this level has its own (or "off"); the first level with
 * neither (a server{} of an http{} without access_log) gets logs/access.log combined. */
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    log_loc_conf_t *prev = parent, *conf = child;

    sl_conf_merge_ptr_value(conf->cache, prev->cache, NULL);
    if (conf->logs || conf->off) {
        return SL_CONF_OK;
    }
    conf->logs = prev->logs;
    conf->off = prev->off;
    if (conf->logs || conf->off) {
        return SL_CONF_OK;
    }
    log_main_conf_t *lmcf = sl_http_conf_get_module_main_conf(cf, sl_http_log_module);
    conf->logs = sl_array_create(cf->pool, 1, sizeof(log_t));
    log_t *log = conf->logs ? sl_array_push(conf->logs) : NULL;
    if (log == NULL) {
        return SL_CONF_ERROR;
    }
    memset(log, 0, sizeof(*log));
    log->file = sl_conf_open_file(cf->cycle, &default_path);
    log->format = find_format(lmcf, &combined_name);
    return log->file ? SL_CONF_OK : SL_CONF_ERROR;
}

/* ---- writing ---- */

static int needs_default_escape(u_char ch)
{
    return ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f;
}

/* The bytes escaping adds to one byte: "\xHH" for default; "\n" or "\u00HH" for json. */
// clang-format off
static const u_char default_extra[256] = {
    [0x00 ... 0x1f] = 3, ['"'] = 3, ['\\'] = 3, [0x7f ... 0xff] = 3,
};
static const u_char json_extra[256] = {
    [0x00 ... 0x07] = 5, ['\b'] = 1, ['\t'] = 1, ['\n'] = 1, [0x0b] = 5, ['\f'] = 1, ['\r'] = 1,
    [0x0e ... 0x1f] = 5, ['"'] = 1, ['\\'] = 1,
};
// clang-format on

/* Bytes a value takes once escaped.  Most values need no escaping: one table load and add
 * per byte finds that out, and the value is then copied whole. */
static size_t escaped_len(sl_uint_t escape, const u_char *p, size_t len)
{
    const u_char *extra = escape == ESCAPE_DEFAULT ? default_extra : json_extra;
    size_t n = len;

    if (escape == ESCAPE_NONE) {
        return len;
    }
    for (size_t i = 0; i < len; i++) {
        n += extra[p[i]];
    }
    return n;
}

static u_char *copy_json(u_char *dst, const u_char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        u_char ch = src[i];
        const char *short_form = ch == '"'    ? "\\\""
                                 : ch == '\\' ? "\\\\"
                                 : ch == '\n' ? "\\n"
                                 : ch == '\r' ? "\\r"
                                 : ch == '\t' ? "\\t"
                                 : ch == '\b' ? "\\b"
                                 : ch == '\f' ? "\\f"
                                              : NULL;
        if (short_form) {
            *dst++ = (u_char) short_form[0];
            *dst++ = (u_char) short_form[1];
        } else if (ch < 0x20) {
            memcpy(dst, "\\u00", 4);
            dst[4] = (u_char) hex[ch >> 4];
            dst[5] = (u_char) hex[ch & 0xf];
            dst += 6;
        } else {
            *dst++ = ch;
        }
    }
    return dst;
}

static u_char *copy_escaped(sl_uint_t escape, u_char *dst, const u_char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";

    if (escape == ESCAPE_JSON) {
        return copy_json(dst, src, len);
    }
    for (size_t i = 0; i < len; i++) {
        u_char ch = src[i];

        if (escape == ESCAPE_DEFAULT && needs_default_escape(ch)) {
            *dst++ = '\\';
            *dst++ = 'x';
            *dst++ = (u_char) hex[ch >> 4];
            *dst++ = (u_char) hex[ch & 0xf];
        } else {
            *dst++ = ch;
        }
    }
    return dst;
}

/* The line's length, newline included.  Values that are not cacheable are computed here,
 * once: rendering then reads the same cached values.  Bit i of *plain (i < 64) is set when
 * the value of op i needs no escaping. */
static size_t line_length(sl_http_request_t *r, const log_fmt_t *fmt, uint64_t *plain)
{
    const log_op_t *op = fmt->ops.elts;
    size_t len = 1;

    *plain = 0;
    for (sl_uint_t i = 0; i < fmt->ops.nelts; i++) {
        if (op[i].text.data) {
            len += op[i].text.len;
            continue;
        }
        sl_http_variable_value_t *vv = sl_http_get_flushed_variable(r, op[i].index);
        if (vv == NULL || vv->not_found) {
            len += fmt->escape == ESCAPE_DEFAULT;
            continue;
        }
        size_t n = escaped_len(fmt->escape, vv->data, vv->len);
        if (n == vv->len && i < 64) {
            *plain |= (uint64_t) 1 << i;
        }
        len += n;
    }
    return len;
}

/* Renders the line (measured by line_length) at p; returns its end. */
static u_char *render_line(sl_http_request_t *r, const log_fmt_t *fmt, uint64_t plain, u_char *p)
{
    const log_op_t *op = fmt->ops.elts;

    for (sl_uint_t i = 0; i < fmt->ops.nelts; i++) {
        if (op[i].text.data) {
            memcpy(p, op[i].text.data, op[i].text.len);
            p += op[i].text.len;
            continue;
        }
        sl_http_variable_value_t *vv = sl_http_get_indexed_variable(r, op[i].index);
        if (vv == NULL || vv->not_found) {
            if (fmt->escape == ESCAPE_DEFAULT) {
                *p++ = '-';
            }
        } else if (i < 64 && (plain & ((uint64_t) 1 << i))) {
            /* an empty value may have no data pointer at all */
            p = vv->len ? mempcpy(p, vv->data, vv->len) : p;
        } else {
            p = copy_escaped(fmt->escape, p, vv->data, vv->len);
        }
    }
    *p++ = '\n';
    return p;
}

/* One write(); failures are logged at most once a minute per log, as nginx. */
static void write_out(sl_open_file_t *file, const u_char *data, size_t len, sl_log_t *log,
                      time_t *error_time, time_t *disk_full_time)
{
    time_t now = sl_cached_time_sec;
    ssize_t n = write(file->fd, data, len);

    if (n == (ssize_t) len) {
        return;
    }
    sl_err_t err = n == -1 ? errno : 0;
    if (err == ENOSPC && disk_full_time) {
        *disk_full_time = now;
    }
    if (now - *error_time <= 59) {
        return;
    }
    *error_time = now;
    if (n == -1) {
        sl_log_error(SL_LOG_ALERT, log, err, "write() to \"%s\" failed",
                     (const char *) file->name.data);
    } else {
        sl_log_error(SL_LOG_ALERT, log, 0, "write() to \"%s\" was incomplete: %zd of %zu",
                     (const char *) file->name.data, n, len);
    }
}

static sl_log_t *cycle_log(void)
{
    return sl_cycle ? sl_cycle->log : NULL;
}

/* data as one gzip member, compressed in a pool of its own (not a request's: a flush may
 * come from the timer or at exit). */
static void write_gzip(log_buf_t *b, const u_char *data, size_t len, sl_log_t *log,
                       time_t *error_time, time_t *disk_full_time)
{
    sl_pool_t *pool = sl_pool_create(4096, log);
    sl_str_t out;

    if (pool == NULL) {
        return;
    }
    if (sl_http_gzip_member(pool, b->gzip, data, len, &out, log) == SL_OK) {
        write_out(b->file, out.data, out.len, log, error_time, disk_full_time);
    }
    sl_pool_destroy(pool);
}

static void flush_buffer(log_buf_t *b)
{
    if (b->event.timer_set) {
        sl_del_timer(&b->event);
    }
    if (b->pos > b->start && b->gzip) {
        write_gzip(b, b->start, (size_t) (b->pos - b->start), cycle_log(), &b->error_log_time,
                   NULL);
    } else if (b->pos > b->start) {
        write_out(b->file, b->start, (size_t) (b->pos - b->start), cycle_log(), &b->error_log_time,
                  NULL);
    }
    b->pos = b->start;
}

static void on_flush_timer(sl_event_t *ev)
{
    flush_buffer(ev->data);
}

static void flush_file(sl_open_file_t *file, sl_log_t *log)
{
    flush_buffer(file->data);
}

static log_buf_t *buffer_of(sl_http_request_t *r, sl_open_file_t *file)
{
    log_main_conf_t *lmcf = sl_http_get_module_main_conf(r, sl_http_log_module);
    log_buf_t **bufs = lmcf->buffers.elts;

    for (sl_uint_t i = 0; i < lmcf->buffers.nelts && !unbuffered; i++) {
        if (bufs[i]->file == file) {
            return bufs[i];
        }
    }
    return NULL;
}

/* Appends a line to the buffer when it fits (after flushing what is there if need be).
 * 0 when the line is larger than the whole buffer: the caller writes it directly. */
static int buffer_line(sl_http_request_t *r, log_buf_t *b, const log_fmt_t *fmt, size_t len,
                       uint64_t plain)
{
    if (len > (size_t) (b->end - b->pos)) {
        flush_buffer(b);
    }
    if (len > (size_t) (b->end - b->pos)) {
        return 0;
    }
    b->pos = render_line(r, fmt, plain, b->pos);
    if (b->flush && !b->event.timer_set) {
        b->event.data = b;
        b->event.handler = on_flush_timer;
        b->event.log = cycle_log();
        b->event.cancelable = 1;
        sl_add_timer(&b->event, b->flush);
    }
    return 1;
}

/* Whether the request's root directory exists: a log named by variables is written only
 * then (nginx's guard against creating files under a root that is not there). */
static int root_exists(sl_http_request_t *r)
{
    sl_str_t path;
    size_t root;
    struct stat st;

    if (sl_http_map_uri_to_path(r, &path, &root, 0) != SL_OK) {
        return 0;
    }
    path.data[root] = '\0';
    if (stat((char *) path.data, &st) == -1 || !S_ISDIR(st.st_mode)) {
        sl_log_error(SL_LOG_ERR, r->connection->log, errno, "testing \"%s\" existence failed",
                     path.data);
        return 0;
    }
    return 1;
}

/* A line for a log named by variables: the file of this request's name, opened for it. */
static void write_to_named(sl_http_request_t *r, log_t *log, const u_char *line, size_t len)
{
    sl_str_t name;

    if (!root_exists(r) || sl_http_complex_value(r, log->path, &name) != SL_OK) {
        return;
    }
    u_char *z = sl_pnalloc(r->pool, name.len + 1);
    if (z == NULL) {
        return;
    }
    memcpy(z, name.data, name.len);
    z[name.len] = '\0';
    log_loc_conf_t *llcf = sl_http_get_module_loc_conf(r, sl_http_log_module);
    sl_open_file_t file = { -1, { name.len, z }, NULL, NULL };
    int cached;
    file.fd = sl_http_log_file_cache_open(llcf->cache, z, name.len, &cached);
    if (file.fd == -1) {
        sl_log_error(SL_LOG_CRIT, r->connection->log, errno, "open() \"%s\" failed", z);
        return;
    }
    write_out(&file, line, len, r->connection->log, &log->error_log_time, &log->disk_full_time);
    if (!cached) {
        sl_close_file(file.fd);
    }
}

static sl_int_t write_log(sl_http_request_t *r, log_t *log)
{
    if (log->disk_full_time == sl_cached_time_sec) {
        return SL_OK;
    }
    if (log->path) {
        uint64_t plain;
        size_t len = line_length(r, log->format, &plain);
        u_char *line = sl_pnalloc(r->pool, len);
        if (line == NULL) {
            return SL_ERROR;
        }
        u_char *last = render_line(r, log->format, plain, line);
        write_to_named(r, log, line, (size_t) (last - line));
        return SL_OK;
    }
    uint64_t plain;
    size_t len = line_length(r, log->format, &plain);
    log_buf_t *b = buffer_of(r, log->file);
    if (b && buffer_line(r, b, log->format, len, plain)) {
        return SL_OK;
    }
    u_char *line = sl_pnalloc(r->pool, len);
    if (line == NULL) {
        return SL_ERROR;
    }
    u_char *last = render_line(r, log->format, plain, line);
    if (b && b->gzip) {
        write_gzip(b, line, (size_t) (last - line), r->connection->log, &log->error_log_time,
                   &log->disk_full_time);
        return SL_OK;
    }
    write_out(log->file, line, (size_t) (last - line), r->connection->log, &log->error_log_time,
              &log->disk_full_time);
    return SL_OK;
}

/* if=: skip the line when the condition is empty or "0". */
static int filter_passes(sl_http_request_t *r, sl_http_complex_value_t *filter)
{
    sl_str_t v;

    if (sl_http_complex_value(r, filter, &v) != SL_OK) {
        return 0;
    }
    return !(v.len == 0 || (v.len == 1 && v.data[0] == '0'));
}

static sl_int_t log_handler(sl_http_request_t *r)
{
    log_loc_conf_t *llcf = sl_http_get_module_loc_conf(r, sl_http_log_module);

    if (llcf->off || llcf->logs == NULL) {
        return SL_OK;
    }
    log_t *log = llcf->logs->elts;
    for (sl_uint_t i = 0; i < llcf->logs->nelts; i++) {
        if (log[i].filter && !filter_passes(r, log[i].filter)) {
            continue;
        }
        if (write_log(r, &log[i]) != SL_OK) {
            return SL_ERROR;
        }
    }
    return SL_OK;
}

static sl_int_t log_postconfiguration(sl_conf_t *cf)
{
    sl_http_core_main_conf_t *cmcf = sl_http_conf_get_module_main_conf(cf, sl_http_core_module);

    if (cmcf->phases[SL_HTTP_LOG_PHASE].elts == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "the log phase is not initialized");
        return SL_ERROR;
    }
    return sl_http_add_phase_handler(cf, SL_HTTP_LOG_PHASE, log_handler);
}

/* Lines still buffered go to their files before the process ends. */
static void log_exit_process(sl_cycle_t *cycle)
{
    sl_http_conf_ctx_t *ctx = sl_http_cycle_ctx(cycle);

    unbuffered = 1;
    if (ctx == NULL) {
        return;
    }
    log_main_conf_t *lmcf = ctx->main_conf[sl_http_log_module.ctx_index];
    sl_http_log_file_cache_close_all(lmcf->caches);
    log_buf_t **bufs = lmcf->buffers.elts;
    for (sl_uint_t i = 0; i < lmcf->buffers.nelts; i++) {
        flush_buffer(bufs[i]);
    }
}
