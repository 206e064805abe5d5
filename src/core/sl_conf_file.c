/*
 * sl_conf_file.c: the configuration tokenizer, the block parser, directive dispatch and the
 * "include" directive.
 *
 * Syntax, line numbers and error wording follow nginx 1.22 exactly: people and tools grep for
 * the messages.  A file is read whole into memory (the text doubles as the -T dump), but the
 * tokenizer still rejects what nginx's 4096-byte read buffer rejects (see SL_CONF_BUFFER), so
 * a config nginx refuses is refused here too, with the same message.
 */
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "sl_cycle.h"
#include "sl_pool.h"

/*
 * nginx reads a config through a buffer of this size, and a token must fit in it: counting
 * from its first byte (after the opening quote), or from the last byte read between tokens,
 * nginx cannot read byte number SL_CONF_BUFFER.  We have the whole file, but keep the limit
 * so both servers accept the same files.
 */
#define SL_CONF_BUFFER 4096

/* Blocks plus includes open at once.  nginx has no limit and recurses until the stack or the
 * descriptors run out; real configs nest a handful deep. */
#define SL_CONF_MAX_DEPTH 100

/* A message is cut at this many bytes before " in FILE:LINE" is added, as in nginx, so a long
 * quoted value never pushes the location out of the log line. */
#define SL_MAX_CONF_ERRSTR 1024

/* read_token() internal: the byte was consumed, read the next one. */
#define TOKEN_MORE 16

typedef enum { PARSE_FILE, PARSE_BLOCK, PARSE_PARAM } parse_type_t;

/* The tokenizer's state between two bytes (nginx's flags, with its names where it helps). */
typedef struct {
    sl_conf_t *cf;
    /** where the current token started, for the SL_CONF_BUFFER limit and its message */
    u_char *start;
    sl_uint_t start_line;
    /** between tokens */
    unsigned last_space : 1;
    /** right after a closing quote: only a space, ";", "{" or ")" may follow */
    unsigned need_space : 1;
    unsigned comment : 1;
    /** the previous byte was a backslash: this one is taken as is */
    unsigned escaped : 1;
    /** the previous byte was "$": a "{" here starts "${name}", not a block */
    unsigned variable : 1;
    unsigned s_quoted : 1;
    unsigned d_quoted : 1;
} token_state_t;

static sl_command_t conf_commands[] = {
    { sl_string("include"), SL_ANY_CONF | SL_CONF_TAKE1, sl_conf_include, 0, 0, NULL },
    sl_null_command,
};

sl_module_t sl_conf_module = {
    "conf", 0, 0, SL_CONF_MODULE, NULL, conf_commands, NULL, NULL, NULL,
};

/* Argument counts allowed by each TAKEn bit, indexed by the number of arguments. */
static const sl_uint_t argument_number[SL_CONF_MAX_ARGS] = {
    SL_CONF_NOARGS, SL_CONF_TAKE1, SL_CONF_TAKE2, SL_CONF_TAKE3,
    SL_CONF_TAKE4,  SL_CONF_TAKE5, SL_CONF_TAKE6, SL_CONF_TAKE7,
};

void sl_conf_log_error(sl_uint_t level, sl_conf_t *cf, sl_err_t err, const char *fmt, ...)
{
    u_char msg[SL_MAX_CONF_ERRSTR + 1];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf((char *) msg, sizeof(msg), fmt, ap);
    va_end(ap);

    size_t len = n < 0 ? 0 : sl_min((size_t) n, sizeof(msg) - 1);
    /* The errno text belongs to the message, before the location. */
    if (err) {
        len = (size_t) (sl_log_errno(msg + len, msg + sizeof(msg), err) - msg);
    }
    if (cf->conf_file == NULL) {
        sl_log_error(level, cf->log, 0, "%.*s", (int) len, msg);
    } else if (cf->conf_file->file.fd == -1) {
        sl_log_error(level, cf->log, 0, "%.*s in command line", (int) len, msg);
    } else {
        sl_log_error(level, cf->log, 0, "%.*s in %s:%lu", (int) len, msg,
                     (const char *) cf->conf_file->file.name.data,
                     (unsigned long) cf->conf_file->line);
    }
}

sl_int_t sl_conf_full_name(sl_cycle_t *cycle, sl_str_t *name, int conf_prefix)
{
    const sl_str_t *prefix = conf_prefix ? &cycle->conf_prefix : &cycle->prefix;
    size_t plen = (name->len && name->data[0] == '/') ? 0 : prefix->len;
    /* nginx's prefixes end with "/"; add it if a caller's does not, rather than glue names. */
    size_t slash = (plen && prefix->data[plen - 1] != '/') ? 1 : 0;

    /* Copied even when already absolute: callers rely on the NUL. */
    u_char *p = sl_pnalloc(cycle->pool, plen + slash + name->len + 1);
    if (p == NULL) {
        return SL_ERROR;
    }
    if (plen) {
        memcpy(p, prefix->data, plen);
    }
    if (slash) {
        p[plen] = '/';
    }
    if (name->len) {
        memcpy(p + plen + slash, name->data, name->len);
    }
    p[plen + slash + name->len] = '\0';
    name->data = p;
    name->len += plen + slash;
    return SL_OK;
}

/* ---- tokenizer ---- */

static int is_space(u_char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int parsing_param(const sl_conf_t *cf)
{
    return cf->conf_file->file.fd == -1;
}

/* Copies [start, end) into the pool as the next argument, resolving backslash escapes as
 * nginx does: \" \' \\ lose the backslash, \t \r \n become the control byte, any other
 * backslash stays. */
static sl_int_t push_word(sl_conf_t *cf, const u_char *start, const u_char *end)
{
    sl_str_t *word = sl_array_push(cf->args);
    if (word == NULL) {
        return SL_ERROR;
    }
    u_char *dst = sl_pnalloc(cf->pool, (size_t) (end - start) + 1);
    if (dst == NULL) {
        return SL_ERROR;
    }
    word->data = dst;
    for (const u_char *src = start; src < end; src++) {
        u_char next = src + 1 < end ? src[1] : '\0';

        if (*src == '\\' && (next == '"' || next == '\'' || next == '\\')) {
            *dst++ = *++src;
        } else if (*src == '\\' && (next == 't' || next == 'r' || next == 'n')) {
            *dst++ = next == 't' ? '\t' : (next == 'r' ? '\r' : '\n');
            src++;
        } else {
            *dst++ = *src;
        }
    }
    *dst = '\0';
    word->len = (size_t) (dst - word->data);
    return SL_OK;
}

/* A byte that is not a space while between tokens: punctuation, a comment, or a token's
 * first byte. */
static sl_int_t between_tokens(token_state_t *t, u_char ch)
{
    sl_uint_t nargs = t->cf->args->nelts;

    switch (ch) {
    case ';':
    case '{':
        if (nargs == 0) {
            sl_conf_log_error(SL_LOG_EMERG, t->cf, 0, "unexpected \"%c\"", ch);
            return SL_ERROR;
        }
        return ch == '{' ? SL_CONF_BLOCK_START : SL_OK;
    case '}':
        if (nargs != 0) {
            sl_conf_log_error(SL_LOG_EMERG, t->cf, 0, "unexpected \"}\"");
            return SL_ERROR;
        }
        return SL_CONF_BLOCK_DONE;
    case '#':
        t->comment = 1;
        return TOKEN_MORE;
    case '\\':
        t->escaped = 1;
        break;
    case '"':
        t->start++;
        t->d_quoted = 1;
        break;
    case '\'':
        t->start++;
        t->s_quoted = 1;
        break;
    case '$':
        t->variable = 1;
        break;
    default:
        break;
    }
    t->last_space = 0;
    return TOKEN_MORE;
}

/* A byte inside a token: does it end the token (and perhaps the directive)? */
static sl_int_t in_token(token_state_t *t, u_char ch)
{
    sl_buf_t *b = t->cf->conf_file->buffer;
    int found = 0;

    if (ch == '{' && t->variable) {
        return TOKEN_MORE;
    }
    t->variable = 0;
    if (ch == '\\' || ch == '$') {
        t->escaped = ch == '\\';
        t->variable = ch == '$';
        return TOKEN_MORE;
    }
    if (t->d_quoted || t->s_quoted) {
        if (ch == (t->d_quoted ? '"' : '\'')) {
            t->d_quoted = t->s_quoted = 0;
            t->need_space = 1;
            found = 1;
        }
    } else if (is_space(ch) || ch == ';' || ch == '{') {
        t->last_space = 1;
        found = 1;
    }
    if (!found) {
        return TOKEN_MORE;
    }
    if (push_word(t->cf, t->start, b->pos - 1) != SL_OK) {
        return SL_ERROR;
    }
    if (ch == ';') {
        return SL_OK;
    }
    return ch == '{' ? SL_CONF_BLOCK_START : TOKEN_MORE;
}

/* One byte of input; TOKEN_MORE until a directive, a block start or a block end is read. */
static sl_int_t next_byte(token_state_t *t, u_char ch)
{
    sl_conf_file_t *file = t->cf->conf_file;

    if (ch == '\n') {
        file->line++;
        t->comment = 0;
    }
    if (t->comment) {
        return TOKEN_MORE;
    }
    if (t->escaped) {
        t->escaped = 0;
        return TOKEN_MORE;
    }
    if (t->need_space) {
        if (ch == ';') {
            return SL_OK;
        }
        if (ch == '{') {
            return SL_CONF_BLOCK_START;
        }
        if (!is_space(ch) && ch != ')') {
            sl_conf_log_error(SL_LOG_EMERG, t->cf, 0, "unexpected \"%c\"", ch);
            return SL_ERROR;
        }
        t->need_space = 0;
        t->last_space = 1;
        /* ")" after a quoted word starts a word of its own: if ($a = "b") */
        if (ch != ')') {
            return TOKEN_MORE;
        }
    }
    if (!t->last_space) {
        return in_token(t, ch);
    }
    t->start = file->buffer->pos - 1;
    t->start_line = file->line;
    return is_space(ch) ? TOKEN_MORE : between_tokens(t, ch);
}

static sl_int_t at_end_of_input(token_state_t *t)
{
    if (t->cf->args->nelts == 0 && t->last_space) {
        return SL_CONF_FILE_DONE;
    }
    if (parsing_param(t->cf)) {
        sl_conf_log_error(SL_LOG_EMERG, t->cf, 0, "unexpected end of parameter, expecting \";\"");
    } else {
        sl_conf_log_error(SL_LOG_EMERG, t->cf, 0,
                          "unexpected end of file, expecting \";\" or \"}\"");
    }
    return SL_ERROR;
}

static sl_int_t too_long(token_state_t *t)
{
    t->cf->conf_file->line = t->start_line;
    if (t->d_quoted || t->s_quoted) {
        sl_conf_log_error(SL_LOG_EMERG, t->cf, 0,
                          "too long parameter, probably missing terminating \"%c\" character",
                          t->d_quoted ? '"' : '\'');
    } else {
        sl_conf_log_error(SL_LOG_EMERG, t->cf, 0, "too long parameter \"%.*s...\" started", 10,
                          (const char *) t->start);
    }
    return SL_ERROR;
}

/*
 * Reads one directive into cf->args.  Returns SL_OK (ended by ";"), SL_CONF_BLOCK_START
 * (ended by "{"), SL_CONF_BLOCK_DONE ("}"), SL_CONF_FILE_DONE or SL_ERROR (logged).
 */
static sl_int_t read_token(sl_conf_t *cf)
{
    sl_buf_t *b = cf->conf_file->buffer;
    token_state_t t;

    memset(&t, 0, sizeof(t));
    t.cf = cf;
    t.last_space = 1;
    t.start = b->pos;
    t.start_line = cf->conf_file->line;
    cf->args->nelts = 0;

    for (;;) {
        if (b->pos >= b->last) {
            return at_end_of_input(&t);
        }
        if (!parsing_param(cf) && b->pos - t.start >= SL_CONF_BUFFER) {
            return too_long(&t);
        }
        sl_int_t rc = next_byte(&t, *b->pos++);
        if (rc != TOKEN_MORE) {
            return rc;
        }
    }
}

/* ---- dispatch ---- */

static int arity_ok(const sl_command_t *cmd, sl_uint_t nelts)
{
    if (cmd->type & SL_CONF_ANY) {
        return 1;
    }
    if (cmd->type & SL_CONF_FLAG) {
        return nelts == 2;
    }
    if (cmd->type & SL_CONF_1MORE) {
        return nelts >= 2;
    }
    if (cmd->type & SL_CONF_2MORE) {
        return nelts >= 3;
    }
    return nelts <= SL_CONF_MAX_ARGS && (cmd->type & argument_number[nelts - 1]);
}

/* The conf struct the setter works on, found as nginx finds it. */
static void *command_conf(sl_conf_t *cf, const sl_module_t *m, const sl_command_t *cmd)
{
    if (cf->ctx == NULL) {
        return NULL;
    }
    if (cmd->type & SL_DIRECT_CONF) {
        return ((void **) cf->ctx)[m->index];
    }
    if (cmd->type & SL_MAIN_CONF) {
        return &((void **) cf->ctx)[m->index];
    }
    void **confp = *(void **) ((char *) cf->ctx + cmd->conf);
    return confp ? confp[m->ctx_index] : NULL;
}

/* The directive's name matched and it is allowed here: check its form, then run it. */
static sl_int_t run_command(sl_conf_t *cf, sl_module_t *m, sl_command_t *cmd, sl_int_t last)
{
    const char *name = (const char *) ((sl_str_t *) cf->args->elts)[0].data;

    if (!(cmd->type & SL_CONF_BLOCK) && last != SL_OK) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "directive \"%s\" is not terminated by \";\"", name);
        return SL_ERROR;
    }
    if ((cmd->type & SL_CONF_BLOCK) && last != SL_CONF_BLOCK_START) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "directive \"%s\" has no opening \"{\"", name);
        return SL_ERROR;
    }
    if (!arity_ok(cmd, cf->args->nelts)) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid number of arguments in \"%s\" directive",
                          name);
        return SL_ERROR;
    }
    cf->name = (char *) name;
    char *rv = cmd->set(cf, cmd, command_conf(cf, m, cmd));
    if (rv == SL_CONF_OK) {
        return SL_OK;
    }
    if (rv != SL_CONF_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%s\" directive %s", name, rv);
    }
    return SL_ERROR;
}

/* Finds the directive in every module's table and runs it. */
static sl_int_t dispatch(sl_conf_t *cf, sl_int_t last)
{
    sl_str_t *name = cf->args->elts;
    int found = 0;

    for (sl_uint_t i = 0; i < cf->cycle->modules_n; i++) {
        sl_module_t *m = cf->cycle->modules[i];

        for (sl_command_t *cmd = m->commands; cmd && cmd->name.len; cmd++) {
            if (!sl_str_eq(name, &cmd->name)) {
                continue;
            }
            found = 1;
            /* Same name in another context's module ("listen" in http and stream) or not
             * allowed in this block: keep looking, another table may take it. */
            if ((m->type != SL_CONF_MODULE && m->type != cf->module_type)
                || !(cmd->type & cf->cmd_type)) {
                continue;
            }
            return run_command(cf, m, cmd, last);
        }
    }
    if (found) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "\"%s\" directive is not allowed here",
                          (const char *) name->data);
    } else {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unknown directive \"%s\"",
                          (const char *) name->data);
    }
    return SL_ERROR;
}

/* Inside "types {}"-like blocks every line goes to the block's own handler. */
static sl_int_t call_handler(sl_conf_t *cf, sl_int_t last)
{
    if (last == SL_CONF_BLOCK_START) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unexpected \"{\"");
        return SL_ERROR;
    }
    char *rv = cf->handler(cf, NULL, cf->handler_conf);
    if (rv == SL_CONF_OK) {
        return SL_OK;
    }
    if (rv != SL_CONF_ERROR) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "%s", rv);
    }
    return SL_ERROR;
}

/* Reads directives until the end of what is being parsed: the file, the block or -g. */
static char *parse_directives(sl_conf_t *cf, parse_type_t type)
{
    for (;;) {
        sl_int_t rc = read_token(cf);

        if (rc == SL_ERROR) {
            return SL_CONF_ERROR;
        }
        if (rc == SL_CONF_BLOCK_DONE) {
            if (type != PARSE_BLOCK) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unexpected \"}\"");
                return SL_CONF_ERROR;
            }
            return SL_CONF_OK;
        }
        if (rc == SL_CONF_FILE_DONE) {
            if (type == PARSE_BLOCK) {
                sl_conf_log_error(SL_LOG_EMERG, cf, 0, "unexpected end of file, expecting \"}\"");
                return SL_CONF_ERROR;
            }
            return SL_CONF_OK;
        }
        if (rc == SL_CONF_BLOCK_START && type == PARSE_PARAM) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "block directives are not supported in -g option");
            return SL_CONF_ERROR;
        }
        rc = cf->handler ? call_handler(cf, rc) : dispatch(cf, rc);
        if (rc != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
}

static int too_deep(sl_conf_t *cf, sl_uint_t depth)
{
    if (depth <= SL_CONF_MAX_DEPTH) {
        return 0;
    }
    sl_conf_log_error(SL_LOG_EMERG, cf, 0, "too deep nesting of blocks and includes (over %d)",
                      SL_CONF_MAX_DEPTH);
    return 1;
}

static char *parse_block(sl_conf_t *cf)
{
    sl_conf_file_t *file = cf->conf_file;

    if (too_deep(cf, file->depth + 1)) {
        return SL_CONF_ERROR;
    }
    file->depth++;
    char *rv = parse_directives(cf, PARSE_BLOCK);
    file->depth--;
    return rv;
}

/* ---- files ---- */

/* The -T dump entry for a file, or NULL when an earlier include already dumped it. */
static sl_conf_dump_t *dump_slot(sl_cycle_t *cycle, const sl_str_t *name)
{
    sl_conf_dump_t *dumps = cycle->config_dump.elts;

    if (dumps == NULL) {
        return NULL;
    }
    for (sl_uint_t i = 0; i < cycle->config_dump.nelts; i++) {
        if (sl_str_eq(&dumps[i].name, name)) {
            return NULL;
        }
    }
    sl_conf_dump_t *d = sl_array_push(&cycle->config_dump);
    if (d != NULL) {
        d->name = *name;
        d->text.len = 0;
        d->text.data = NULL;
    }
    return d;
}

/* Reads exactly size bytes (the size fstat() gave, as nginx trusts it too). */
static sl_int_t read_all(sl_conf_t *cf, sl_conf_file_t *file, u_char *p, size_t size)
{
    size_t got = 0;

    while (got < size) {
        ssize_t n = pread(file->file.fd, p + got, size - got, (off_t) got);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            sl_log_error(SL_LOG_CRIT, cf->log, errno, "pread() \"%s\" failed",
                         (const char *) file->file.name.data);
            return SL_ERROR;
        }
        if (n == 0) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "pread() returned only %zu bytes instead of %zu",
                              got, size);
            return SL_ERROR;
        }
        got += (size_t) n;
    }
    return SL_OK;
}

/* Loads the open file into file->buffer, in cycle memory when it is kept for -T. */
static sl_int_t load_file(sl_conf_t *cf, sl_conf_file_t *file, sl_buf_t *buf)
{
    struct stat st;

    if (fstat(file->file.fd, &st) == -1) {
        sl_log_error(SL_LOG_EMERG, cf->log, errno, "fstat() \"%s\" failed",
                     (const char *) file->file.name.data);
        return SL_ERROR;
    }
    if (st.st_size < 0 || (uint64_t) st.st_size >= SIZE_MAX / 2) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "too large file");
        return SL_ERROR;
    }
    size_t size = (size_t) st.st_size;
    sl_conf_dump_t *dump = dump_slot(cf->cycle, &file->file.name);
    sl_pool_t *pool = dump || cf->temp_pool == NULL ? cf->cycle->pool : cf->temp_pool;
    u_char *p = sl_pnalloc(pool, size + 1);
    if (p == NULL || read_all(cf, file, p, size) != SL_OK) {
        return SL_ERROR;
    }
    p[size] = '\0';
    memset(buf, 0, sizeof(*buf));
    buf->start = buf->pos = p;
    buf->last = buf->end = p + size;
    buf->temporary = 1;
    file->buffer = buf;
    if (dump) {
        dump->text.data = p;
        dump->text.len = size;
        file->dump = buf;
    }
    return SL_OK;
}

static char *parse_file(sl_conf_t *cf, const sl_str_t *filename)
{
    sl_conf_file_t *prev = cf->conf_file;
    sl_conf_file_t file;
    sl_buf_t buf;

    memset(&file, 0, sizeof(file));
    file.depth = prev ? prev->depth + 1 : 0;
    if (too_deep(cf, file.depth)) {
        return SL_CONF_ERROR;
    }
    /* Kept in the cycle: the -T dump and later messages name the file. */
    file.file.name.len = filename->len;
    file.file.name.data = sl_pstrdup(cf->cycle->pool, filename);
    if (file.file.name.data == NULL) {
        return SL_CONF_ERROR;
    }
    file.file.fd = open((const char *) file.file.name.data, O_RDONLY | O_CLOEXEC);
    if (file.file.fd == -1) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "open() \"%s\" failed",
                          (const char *) file.file.name.data);
        return SL_CONF_ERROR;
    }
    file.file.log = cf->log;
    file.line = 1;
    cf->conf_file = &file;

    char *rv = SL_CONF_ERROR;
    if (load_file(cf, &file, &buf) == SL_OK) {
        rv = parse_directives(cf, PARSE_FILE);
    }
    cf->conf_file = prev;
    if (close(file.file.fd) == -1) {
        sl_log_error(SL_LOG_ALERT, cf->log, errno, "close() %s failed",
                     (const char *) file.file.name.data);
        rv = SL_CONF_ERROR;
    }
    return rv;
}

char *sl_conf_parse(sl_conf_t *cf, sl_str_t *filename)
{
    if (filename) {
        return parse_file(cf, filename);
    }
    if (cf->conf_file == NULL) {
        return sl_conf_param(cf);
    }
    if (parsing_param(cf)) {
        return parse_directives(cf, PARSE_PARAM);
    }
    return parse_block(cf);
}

char *sl_conf_param(sl_conf_t *cf)
{
    sl_str_t *param = &cf->cycle->conf_param;
    sl_conf_file_t *prev = cf->conf_file;
    sl_conf_file_t file;
    sl_buf_t buf;

    if (param->len == 0) {
        return SL_CONF_OK;
    }
    memset(&buf, 0, sizeof(buf));
    buf.start = buf.pos = param->data;
    buf.last = buf.end = param->data + param->len;
    memset(&file, 0, sizeof(file));
    file.file.fd = -1;
    file.file.log = cf->log;
    file.buffer = &buf;
    cf->conf_file = &file;

    char *rv = sl_conf_parse(cf, NULL);

    cf->conf_file = prev;
    return rv;
}

/* "include" with a pattern: every match in glob(3)'s (sorted) order; no match is fine. */
static char *include_glob(sl_conf_t *cf, const sl_str_t *pattern)
{
    glob_t gl;
    char *rv = SL_CONF_OK;

    memset(&gl, 0, sizeof(gl));
    errno = 0;
    int rc = glob((const char *) pattern->data, 0, NULL, &gl);
    if (rc == GLOB_NOMATCH) {
        globfree(&gl);
        return SL_CONF_OK;
    }
    if (rc != 0) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "glob() \"%s\" failed",
                          (const char *) pattern->data);
        globfree(&gl);
        return SL_CONF_ERROR;
    }
    for (size_t i = 0; i < gl.gl_pathc && rv == SL_CONF_OK; i++) {
        sl_str_t name = { strlen(gl.gl_pathv[i]), (u_char *) gl.gl_pathv[i] };
        rv = sl_conf_parse(cf, &name);
    }
    globfree(&gl);
    return rv;
}

char *sl_conf_include(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_str_t file = ((sl_str_t *) cf->args->elts)[1];

    (void) cmd;
    (void) conf;
    if (sl_conf_full_name(cf->cycle, &file, 1) != SL_OK) {
        return SL_CONF_ERROR;
    }
    if (strpbrk((const char *) file.data, "*?[") == NULL) {
        return sl_conf_parse(cf, &file);
    }
    return include_glob(cf, &file);
}
