/*
 * sl_http_ssi_parse.c: the SSI command parser (see sl_http_ssi.h).  One state per
 * position in "<!--# command key="value" ... -->", one byte at a time, so a command may
 * be cut anywhere by buffer edges.
 */
#include "sl_http_ssi.h"

enum {
    ST_TEXT = 0,
    /* "<!--#" partly matched (ps->matched bytes) */
    ST_OPEN,
    ST_PRECOMMAND,
    ST_COMMAND,
    ST_PREPARAM,
    ST_KEY,
    ST_PREEQUAL,
    ST_PREVALUE,
    ST_VALUE,
    ST_VALUE_ESCAPE,
    ST_POSTVALUE,
    ST_CLOSE1,
    ST_CLOSE2,
    /* after an error: up to "-->" */
    ST_SKIP,
};

static const u_char open_seq[] = "<!--#";

#define IS_SPACE(ch) ((ch) == ' ' || (ch) == '\t' || (ch) == '\r' || (ch) == '\n')

sl_int_t sl_http_ssi_parser_init(sl_http_ssi_parser_t *ps, sl_pool_t *pool, size_t value_len)
{
    memset(ps, 0, sizeof(*ps));
    ps->pool = pool;
    ps->value_len = value_len;
    ps->value_data = sl_pnalloc(pool, value_len ? value_len : 1);
    return ps->value_data ? SL_OK : SL_ERROR;
}

static sl_int_t fail(sl_http_ssi_parser_t *ps, const char *why)
{
    ps->error = why;
    ps->state = ST_SKIP;
    ps->matched = 0;
    return SL_ERROR;
}

static sl_int_t store_param(sl_http_ssi_parser_t *ps)
{
    if (ps->nparams == SL_HTTP_SSI_MAX_PARAMS) {
        return fail(ps, "too many SSI command parameters");
    }
    sl_http_ssi_param_t *p = &ps->params[ps->nparams];
    p->key.data = sl_pnalloc(ps->pool, ps->key_n + 1);
    p->value.data = sl_pnalloc(ps->pool, ps->value_n + 1);
    if (p->key.data == NULL || p->value.data == NULL) {
        return fail(ps, "out of memory");
    }
    memcpy(p->key.data, ps->key_data, ps->key_n);
    p->key.len = ps->key_n;
    memcpy(p->value.data, ps->value_data, ps->value_n);
    p->value.len = ps->value_n;
    p->value.data[p->value.len] = '\0';
    ps->nparams++;
    return SL_AGAIN;
}

static sl_int_t append_value(sl_http_ssi_parser_t *ps, u_char ch)
{
    if (ps->value_n == ps->value_len) {
        return fail(ps, "too long parameter value");
    }
    ps->value_data[ps->value_n++] = ch;
    return SL_AGAIN;
}

/* The states inside a command, after "<!--#".  SL_AGAIN to go on, SL_OK at its end. */
static sl_int_t command_byte(sl_http_ssi_parser_t *ps, u_char ch)
{
    switch (ps->state) {
    case ST_PRECOMMAND:
        if (IS_SPACE(ch)) {
            return SL_AGAIN;
        }
        ps->command.len = 0;
        ps->nparams = 0;
        ps->state = ST_COMMAND;
        /* fall through */
    case ST_COMMAND:
        if (IS_SPACE(ch)) {
            ps->state = ST_PREPARAM;
            return SL_AGAIN;
        }
        if (ch == '-') {
            ps->state = ST_CLOSE1;
            return SL_AGAIN;
        }
        if (ps->command.len == SL_HTTP_SSI_COMMAND_LEN) {
            return fail(ps, "the SSI command is too long");
        }
        ps->command_data[ps->command.len++] = ch;
        return SL_AGAIN;
    case ST_PREPARAM:
        if (IS_SPACE(ch)) {
            return SL_AGAIN;
        }
        if (ch == '-') {
            ps->state = ST_CLOSE1;
            return SL_AGAIN;
        }
        ps->key_n = 0;
        ps->state = ST_KEY;
        /* fall through */
    case ST_KEY:
        if (ch == '=') {
            ps->state = ST_PREVALUE;
            return SL_AGAIN;
        }
        if (IS_SPACE(ch)) {
            ps->state = ST_PREEQUAL;
            return SL_AGAIN;
        }
        if (ps->key_n == SL_HTTP_SSI_PARAM_LEN) {
            return fail(ps, "too long SSI command parameter");
        }
        ps->key_data[ps->key_n++] = ch;
        return SL_AGAIN;
    case ST_PREEQUAL:
        if (IS_SPACE(ch)) {
            return SL_AGAIN;
        }
        if (ch != '=') {
            return fail(ps, "unexpected symbol in SSI command");
        }
        ps->state = ST_PREVALUE;
        return SL_AGAIN;
    case ST_PREVALUE:
        if (IS_SPACE(ch)) {
            return SL_AGAIN;
        }
        if (ch != '"' && ch != '\'') {
            return fail(ps, "unexpected symbol before SSI parameter value");
        }
        ps->quote = ch;
        ps->value_n = 0;
        ps->state = ST_VALUE;
        return SL_AGAIN;
    case ST_VALUE:
        if (ch == '\\') {
            ps->state = ST_VALUE_ESCAPE;
            return SL_AGAIN;
        }
        if (ch == ps->quote) {
            ps->state = ST_POSTVALUE;
            return store_param(ps);
        }
        return append_value(ps, ch);
    case ST_VALUE_ESCAPE:
        ps->state = ST_VALUE;
        /* a backslash escapes the quote; before anything else it stays */
        if (ch != ps->quote && append_value(ps, '\\') != SL_AGAIN) {
            return SL_ERROR;
        }
        return append_value(ps, ch);
    case ST_POSTVALUE:
        if (IS_SPACE(ch)) {
            ps->state = ST_PREPARAM;
            return SL_AGAIN;
        }
        if (ch == '-') {
            ps->state = ST_CLOSE1;
            return SL_AGAIN;
        }
        return fail(ps, "unexpected symbol after SSI parameter value");
    case ST_CLOSE1:
        if (ch != '-') {
            return fail(ps, "unexpected \"-\" symbol in SSI command");
        }
        ps->state = ST_CLOSE2;
        return SL_AGAIN;
    default: /* ST_CLOSE2 */
        if (ch != '>') {
            return fail(ps, "unexpected \"-\" symbol in SSI command");
        }
        ps->state = ST_TEXT;
        ps->matched = 0;
        ps->command.data = ps->command_data;
        return SL_OK;
    }
}

/* Text and "<!--#": bytes that turn out not to open a command are copied. */
static void text_byte(sl_http_ssi_parser_t *ps, u_char ch, u_char **out, int copy)
{
    if (ps->state == ST_OPEN) {
        if (ch == open_seq[ps->matched]) {
            if (++ps->matched == sizeof(open_seq) - 1) {
                ps->state = ST_PRECOMMAND;
            }
            return;
        }
        if (copy) {
            *out = (u_char *) mempcpy(*out, open_seq, ps->matched);
        }
        ps->state = ST_TEXT;
        ps->matched = 0;
    }
    if (ch == '<') {
        ps->state = ST_OPEN;
        ps->matched = 1;
        return;
    }
    if (copy) {
        *(*out)++ = ch;
    }
}

/* After an error: everything up to and including the next "-->" is dropped. */
static void skip_byte(sl_http_ssi_parser_t *ps, u_char ch)
{
    if (ch == '-') {
        ps->matched = ps->matched < 2 ? ps->matched + 1 : 2;
        return;
    }
    if (ch == '>' && ps->matched == 2) {
        ps->state = ST_TEXT;
    }
    ps->matched = 0;
}

sl_int_t sl_http_ssi_parse(sl_http_ssi_parser_t *ps, u_char **pos, u_char *end, u_char **out,
                           int copy)
{
    u_char *p = *pos;

    while (p < end) {
        u_char ch = *p++;
        if (ps->state == ST_TEXT || ps->state == ST_OPEN) {
            text_byte(ps, ch, out, copy);
            continue;
        }
        if (ps->state == ST_SKIP) {
            skip_byte(ps, ch);
            continue;
        }
        sl_int_t rc = command_byte(ps, ch);
        if (rc != SL_AGAIN) {
            *pos = p;
            return rc;
        }
    }
    *pos = p;
    return SL_AGAIN;
}
