/*
 * sl_proxy_rewrite.c: proxy_redirect, proxy_cookie_domain, proxy_cookie_path and
 * proxy_cookie_flags: their directives, inheritance, and the rewriting of the upstream's
 * Location, Refresh and Set-Cookie headers, with nginx 1.22's matching rules (observed
 * side by side): a redirect or a cookie path is replaced when the value starts with the
 * string (case-sensitive), a cookie domain when it equals it (any case, a leading dot
 * kept); a regex rewrites the whole value.  A Set-Cookie that a rule touched is written
 * back normalized ("; " between its attributes, spaces trimmed), any other left as it came.
 */
#include "sl_proxy_rewrite.h"
#include "sl_http_variables.h"
#include "sl_pool.h"

/* One proxy_redirect, proxy_cookie_domain or proxy_cookie_path pair. */
typedef struct {
    /** the string (may hold variables); NULL for a regex */
    sl_http_complex_value_t *pattern;
    sl_http_regex_t *regex;
    sl_http_complex_value_t replacement;
} rule_t;

/* One proxy_cookie_flags entry: a cookie name (or regex) and its flags; the name and the
 * flags may hold variables, evaluated per response. */
typedef struct {
    sl_http_complex_value_t name;
    sl_http_regex_t *regex;
    sl_http_complex_value_t *flags;
    sl_uint_t nflags;
} cookie_flags_t;

typedef enum { MATCH_PREFIX, MATCH_DOMAIN } match_e;

void sl_proxy_rewrite_init(sl_proxy_rewrite_conf_t *rc)
{
    rc->redirects = SL_CONF_UNSET_PTR;
    rc->cookie_domains = SL_CONF_UNSET_PTR;
    rc->cookie_paths = SL_CONF_UNSET_PTR;
    rc->cookie_flags = SL_CONF_UNSET_PTR;
}

void sl_proxy_rewrite_pass(sl_proxy_rewrite_conf_t *rc, const sl_str_t *url, int has_uri, int vars,
                           const sl_str_t *location)
{
    rc->pass_set = 1;
    rc->pass_vars = vars ? 1 : 0;
    rc->pass_has_uri = has_uri ? 1 : 0;
    rc->pass_url = *url;
    rc->location = *location;
}

static int eq_case(const sl_str_t *a, const char *s)
{
    size_t n = strlen(s);

    return a->len == n && sl_strncasecmp(a->data, (const u_char *) s, n) == 0;
}

static int is_regex(const sl_str_t *s)
{
    return s->len > 0 && s->data[0] == '~';
}

/* "~re" or "~*re" (with star; caseless), or "~re" matched in any case (cookie names, as
 * nginx), into *out.  SL_OK or SL_ERROR (logged). */
static sl_int_t compile_regex(sl_conf_t *cf, const sl_str_t *text, int star, sl_http_regex_t **out)
{
    sl_regex_compile_t rc;

    memset(&rc, 0, sizeof(rc));
    rc.pattern.data = text->data + 1;
    rc.pattern.len = text->len - 1;
    rc.caseless = !star;
    if (star && rc.pattern.len && rc.pattern.data[0] == '*') {
        rc.pattern.data++;
        rc.pattern.len--;
        rc.caseless = 1;
    }
    return sl_http_regex_compile(cf, &rc, out);
}

/* The leading dot of a cookie domain string, if any, dropped. */
static sl_str_t without_dot(const sl_str_t *s)
{
    sl_str_t t = *s;

    if (t.len && t.data[0] == '.') {
        t.data++;
        t.len--;
    }
    return t;
}

/*
 * Compiles a pair.  A cookie domain string loses its leading dot, and so does its
 * replacement (the value's own dot is kept when it matches); a cookie domain regex is
 * matched in any case ("~" only), against the whole value, dot included, and its
 * replacement is taken as written (nginx 1.22, observed side by side).
 */
static sl_int_t compile_rule(sl_conf_t *cf, rule_t *rule, sl_str_t *pattern, sl_str_t *repl,
                             int domain)
{
    memset(rule, 0, sizeof(*rule));
    if (is_regex(pattern)) {
        if (sl_http_compile_value(cf, repl, &rule->replacement) != SL_OK) {
            return SL_ERROR;
        }
        return compile_regex(cf, pattern, !domain, &rule->regex);
    }
    sl_str_t p = domain ? without_dot(pattern) : *pattern;
    sl_str_t rp = domain ? without_dot(repl) : *repl;
    if (sl_http_compile_value(cf, &rp, &rule->replacement) != SL_OK) {
        return SL_ERROR;
    }
    rule->pattern = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (rule->pattern == NULL) {
        return SL_ERROR;
    }
    return sl_http_compile_value(cf, &p, rule->pattern);
}

static rule_t *push_rule(sl_conf_t *cf, sl_array_t **a)
{
    if (*a == SL_CONF_UNSET_PTR) {
        *a = sl_array_create(cf->pool, 2, sizeof(rule_t));
        if (*a == NULL) {
            return NULL;
        }
    }
    return sl_array_push(*a);
}

/* "proxy_redirect default": the proxy_pass url (with "/" when it has no uri part) becomes
 * the location's name ("/"). */
static char *add_default(sl_conf_t *cf, sl_proxy_rewrite_conf_t *rc)
{
    if (rc->pass_vars) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"proxy_redirect default\" cannot be used with \"proxy_pass\" "
                          "directive with variables");
        return SL_CONF_ERROR;
    }
    if (!rc->pass_set) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"proxy_redirect default\" should be placed after the "
                          "\"proxy_pass\" directive");
        return SL_CONF_ERROR;
    }
    rule_t *rule = push_rule(cf, &rc->redirects);
    if (rule == NULL) {
        return SL_CONF_ERROR;
    }
    memset(rule, 0, sizeof(*rule));
    rule->pattern = sl_pcalloc(cf->pool, sizeof(sl_http_complex_value_t));
    if (rule->pattern == NULL) {
        return SL_CONF_ERROR;
    }
    sl_str_t url = rc->pass_url, name = rc->location;
    if (!rc->pass_has_uri) {
        url.data = sl_pnalloc(cf->pool, rc->pass_url.len + 1);
        if (url.data == NULL) {
            return SL_CONF_ERROR;
        }
        memcpy(url.data, rc->pass_url.data, rc->pass_url.len);
        url.data[url.len++] = '/';
        sl_str_set(&name, "/");
    }
    rule->pattern->value = url;
    rule->replacement.value = name;
    return SL_CONF_OK;
}

char *sl_proxy_set_redirect(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_proxy_rewrite_conf_t *rc = (sl_proxy_rewrite_conf_t *) ((char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    if (cf->args->nelts == 2 && sl_str_eq_cstr(&value[1], "off")) {
        if (rc->redirects != SL_CONF_UNSET_PTR) {
            return "is duplicate";
        }
        rc->redirects = NULL;
        return SL_CONF_OK;
    }
    if (rc->redirects == NULL) {
        return "is duplicate";
    }
    if (cf->args->nelts == 2) {
        if (!sl_str_eq_cstr(&value[1], "default")) {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              SL_STR_ARG(value[1]));
            return SL_CONF_ERROR;
        }
        return add_default(cf, rc);
    }
    rule_t *rule = push_rule(cf, &rc->redirects);
    if (rule == NULL || compile_rule(cf, rule, &value[1], &value[2], 0) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

/* proxy_cookie_domain and proxy_cookie_path: cmd->offset is the array's. */
/*
 * The part proxy_cookie_domain, _path and _flags share: "off" alone cancels the inherited
 * rules (and may not be mixed with rules at the same level).  Returns 1 when the
 * directive is dealt with (*rv is what the setter returns), 0 to go on with a rule.
 */
static int cookie_off(sl_conf_t *cf, sl_array_t **a, char **rv)
{
    sl_str_t *value = cf->args->elts;

    *rv = SL_CONF_OK;
    if (*a == NULL) {
        *rv = "is duplicate";
        return 1;
    }
    if (cf->args->nelts != 2) {
        return 0;
    }
    if (!sl_str_eq_cstr(&value[1], "off")) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"", SL_STR_ARG(value[1]));
        *rv = SL_CONF_ERROR;
        return 1;
    }
    if (*a != SL_CONF_UNSET_PTR) {
        *rv = "is duplicate";
        return 1;
    }
    *a = NULL;
    return 1;
}

char *sl_proxy_set_cookie_rewrite(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t **a = (sl_array_t **) ((char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;
    int domain = cmd->name.len == sizeof("proxy_cookie_domain") - 1
                 && memcmp(cmd->name.data, "proxy_cookie_domain", cmd->name.len) == 0;

    char *rv;
    if (cookie_off(cf, a, &rv)) {
        return rv;
    }
    rule_t *rule = push_rule(cf, a);
    if (rule == NULL || compile_rule(cf, rule, &value[1], &value[2], domain) != SL_OK) {
        return SL_CONF_ERROR;
    }
    return SL_CONF_OK;
}

char *sl_proxy_set_cookie_flags(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_array_t **a = (sl_array_t **) ((char *) conf + cmd->offset);
    sl_str_t *value = cf->args->elts;

    char *rv;
    if (cookie_off(cf, a, &rv)) {
        return rv;
    }
    if (*a == SL_CONF_UNSET_PTR
        && (*a = sl_array_create(cf->pool, 2, sizeof(cookie_flags_t))) == NULL) {
        return SL_CONF_ERROR;
    }
    cookie_flags_t *f = sl_array_push(*a);
    if (f == NULL) {
        return SL_CONF_ERROR;
    }
    memset(f, 0, sizeof(*f));
    /* only "~", caseless: a name starting "~*" is the regex "*..." as in nginx */
    if (is_regex(&value[1]) ? compile_regex(cf, &value[1], 0, &f->regex) != SL_OK
                            : sl_http_compile_value(cf, &value[1], &f->name) != SL_OK) {
        return SL_CONF_ERROR;
    }
    f->nflags = cf->args->nelts - 2;
    f->flags = sl_pcalloc(cf->pool, f->nflags * sizeof(sl_http_complex_value_t));
    if (f->flags == NULL) {
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 0; i < f->nflags; i++) {
        if (sl_http_compile_value(cf, &value[i + 2], &f->flags[i]) != SL_OK) {
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

char *sl_proxy_rewrite_merge(sl_conf_t *cf, sl_proxy_rewrite_conf_t *prev,
                             sl_proxy_rewrite_conf_t *conf)
{
    if (conf->redirects == SL_CONF_UNSET_PTR) {
        conf->redirects = prev->redirects;
    }
    if (conf->cookie_domains == SL_CONF_UNSET_PTR) {
        conf->cookie_domains = prev->cookie_domains;
    }
    if (conf->cookie_paths == SL_CONF_UNSET_PTR) {
        conf->cookie_paths = prev->cookie_paths;
    }
    if (conf->cookie_flags == SL_CONF_UNSET_PTR) {
        conf->cookie_flags = prev->cookie_flags;
    }
    /* no proxy_redirect anywhere above: a literal proxy_pass here means "default" */
    if (conf->redirects == SL_CONF_UNSET_PTR && conf->pass_set && !conf->pass_vars) {
        return add_default(cf, conf);
    }
    return SL_CONF_OK;
}

static int has_rules(const sl_array_t *a)
{
    return a != NULL && a != SL_CONF_UNSET_PTR && a->nelts > 0;
}

int sl_proxy_rewrite_active(const sl_proxy_rewrite_conf_t *rc)
{
    return has_rules(rc->redirects) || has_rules(rc->cookie_domains) || has_rules(rc->cookie_paths)
           || has_rules(rc->cookie_flags);
}

/* Whether the rule's string matches v: a prefix (case-sensitive), or the whole of a cookie
 * domain after its leading dot (any case).  v[*keep, *covered) is what the replacement
 * takes the place of. */
static int string_matches(match_e how, const sl_str_t *v, const sl_str_t *pat, size_t *keep,
                          size_t *covered)
{
    if (how == MATCH_DOMAIN) {
        sl_str_t d = without_dot(v);
        *keep = v->len - d.len;
        *covered = v->len;
        return sl_str_caseeq(&d, pat);
    }
    *keep = 0;
    *covered = pat->len;
    return pat->len <= v->len && memcmp(v->data, pat->data, pat->len) == 0;
}

/*
 * The first of rules that matches v gives *out: what the string left before it (a
 * domain's dot), its replacement, and what the string did not cover (nothing after a
 * regex).  SL_OK, SL_DECLINED when none matches, SL_ERROR.
 */
static sl_int_t apply_rules(sl_http_request_t *r, const sl_array_t *rules, match_e how,
                            const sl_str_t *v, sl_str_t *out)
{
    rule_t *rule = has_rules(rules) ? rules->elts : NULL;

    for (sl_uint_t i = 0; rule && i < rules->nelts; i++, rule++) {
        size_t keep = 0, covered = v->len;
        sl_str_t pat, rep;
        if (rule->regex) {
            sl_int_t rc = sl_http_regex_match(r, rule->regex, v);
            if (rc == SL_ERROR) {
                return SL_ERROR;
            }
            if (rc <= 0) {
                continue;
            }
        } else if (sl_http_complex_value(r, rule->pattern, &pat) != SL_OK) {
            return SL_ERROR;
        } else if (!string_matches(how, v, &pat, &keep, &covered)) {
            continue;
        }
        if (sl_http_complex_value(r, &rule->replacement, &rep) != SL_OK) {
            return SL_ERROR;
        }
        out->len = keep + rep.len + v->len - covered;
        out->data = sl_pnalloc(r->pool, out->len);
        if (out->data == NULL) {
            return SL_ERROR;
        }
        u_char *p = mempcpy(out->data, v->data, keep);
        p = mempcpy(p, rep.data, rep.len);
        memcpy(p, v->data + covered, v->len - covered);
        return SL_OK;
    }
    return SL_DECLINED;
}

/* Location (skip 0) or Refresh (the url after "url="): proxy_redirect from skip on. */
static sl_int_t rewrite_redirect(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc,
                                 sl_table_elt_t *h, size_t skip)
{
    sl_str_t rest = { h->value.len - skip, h->value.data + skip }, out;
    sl_int_t rv = apply_rules(r, rc->redirects, MATCH_PREFIX, &rest, &out);

    if (rv != SL_OK) {
        return rv;
    }
    u_char *p = sl_pnalloc(r->pool, skip + out.len);
    if (p == NULL) {
        return SL_ERROR;
    }
    memcpy(p, h->value.data, skip);
    memcpy(p + skip, out.data, out.len);
    h->value.data = p;
    h->value.len = skip + out.len;
    return SL_OK;
}

static sl_int_t rewrite_refresh(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc,
                                sl_table_elt_t *h)
{
    for (size_t i = 0; i + 4 <= h->value.len; i++) {
        if (sl_strncasecmp(h->value.data + i, (const u_char *) "url=", 4) == 0) {
            sl_int_t rv = rewrite_redirect(r, rc, h, i + 4);
            /* only a Location becomes the response's location */
            return rv == SL_OK ? SL_DECLINED : rv;
        }
    }
    return SL_DECLINED;
}

static sl_int_t rewrite_cookie(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc,
                               sl_table_elt_t *h);

static int name_is(const sl_table_elt_t *h, const char *name)
{
    size_t n = strlen(name);

    return h->key.len == n && sl_strncasecmp(h->key.data, (const u_char *) name, n) == 0;
}

sl_int_t sl_proxy_rewrite_header(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc,
                                 sl_table_elt_t *h)
{
    if (name_is(h, "set-cookie")) {
        return rewrite_cookie(r, rc, h);
    }
    if (!has_rules(rc->redirects)) {
        return SL_DECLINED;
    }
    if (name_is(h, "location")) {
        return rewrite_redirect(r, rc, h, 0);
    }
    if (name_is(h, "refresh")) {
        return rewrite_refresh(r, rc, h);
    }
    return SL_DECLINED;
}

/* Set-Cookie ---------------------------------------------------------------------------- */

/* One "name=value" (or bare "name") of a Set-Cookie, spaces around each part trimmed. */
typedef struct {
    sl_str_t name;
    sl_str_t value;
    unsigned has_value : 1;
    unsigned removed : 1;
} cookie_attr_t;

#define MAX_ATTRS 64

typedef struct {
    cookie_attr_t attr[MAX_ATTRS + 3];
    sl_uint_t n;
} cookie_t;

static sl_str_t trim(u_char *p, u_char *end)
{
    while (p < end && *p == ' ') {
        p++;
    }
    while (end > p && end[-1] == ' ') {
        end--;
    }
    return (sl_str_t){ (size_t) (end - p), p };
}

/* Splits v at ';'.  SL_OK, or SL_DECLINED when it is not a cookie nginx rewrites (no
 * "name=" first, or too many attributes). */
static sl_int_t parse_cookie(const sl_str_t *v, cookie_t *c)
{
    u_char *p = v->data, *end = v->data + v->len;

    c->n = 0;
    for (;;) {
        u_char *semi = memchr(p, ';', (size_t) (end - p));
        u_char *stop = semi ? semi : end;
        u_char *eq = memchr(p, '=', (size_t) (stop - p));
        if (c->n == MAX_ATTRS) {
            return SL_DECLINED;
        }
        cookie_attr_t *a = &c->attr[c->n++];
        memset(a, 0, sizeof(*a));
        a->name = trim(p, eq ? eq : stop);
        if (eq) {
            a->value = trim(eq + 1, stop);
            a->has_value = 1;
        }
        if (semi == NULL) {
            break;
        }
        p = semi + 1;
    }
    return c->n && c->attr[0].has_value && c->attr[0].name.len ? SL_OK : SL_DECLINED;
}

/* Every Domain and Path attribute through its rules.  SL_OK when one was rewritten,
 * SL_DECLINED, SL_ERROR. */
static sl_int_t rewrite_attrs(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc, cookie_t *c)
{
    sl_int_t changed = SL_DECLINED;

    for (sl_uint_t i = 1; i < c->n; i++) {
        cookie_attr_t *a = &c->attr[i];
        int domain = eq_case(&a->name, "domain");
        if (!a->has_value || (!domain && !eq_case(&a->name, "path"))) {
            continue;
        }
        sl_str_t out;
        sl_int_t rv = apply_rules(r, domain ? rc->cookie_domains : rc->cookie_paths,
                                  domain ? MATCH_DOMAIN : MATCH_PREFIX, &a->value, &out);
        if (rv == SL_ERROR) {
            return SL_ERROR;
        }
        if (rv == SL_OK) {
            a->value = out;
            changed = SL_OK;
        }
    }
    return changed;
}

/* What a proxy_cookie_flags entry asks: per flag 1 (set), -1 (remove), 0 (leave). */
typedef struct {
    int secure;
    int httponly;
    int samesite;
    const char *samesite_value;
} flags_t;

static void parse_flag(const sl_str_t *f, flags_t *fl)
{
    static const struct {
        const char *text;
        int which;
        int set;
        const char *value;
    } known[] = {
        { "secure", 0, 1, NULL },
        { "nosecure", 0, -1, NULL },
        { "httponly", 1, 1, NULL },
        { "nohttponly", 1, -1, NULL },
        { "samesite=strict", 2, 1, "Strict" },
        { "samesite=lax", 2, 1, "Lax" },
        { "samesite=none", 2, 1, "None" },
        { "nosamesite", 2, -1, NULL },
    };

    /* anything else (a variable that gave another word) is ignored, as nginx does */
    for (size_t i = 0; i < sl_nelems(known); i++) {
        if (eq_case(f, known[i].text)) {
            int *slot = known[i].which == 0   ? &fl->secure
                        : known[i].which == 1 ? &fl->httponly
                                              : &fl->samesite;
            *slot = known[i].set;
            if (known[i].value) {
                fl->samesite_value = known[i].value;
            }
            return;
        }
    }
}

/* The first entry whose name matches the cookie's: its flags in *fl.  SL_OK, SL_DECLINED
 * when none matches, SL_ERROR. */
static sl_int_t find_flags(sl_http_request_t *r, const sl_array_t *entries, const sl_str_t *name,
                           flags_t *fl)
{
    cookie_flags_t *f = has_rules(entries) ? entries->elts : NULL;

    memset(fl, 0, sizeof(*fl));
    for (sl_uint_t i = 0; f && i < entries->nelts; i++, f++) {
        sl_str_t want;
        sl_int_t rc = f->regex ? sl_http_regex_match(r, f->regex, name)
                      : sl_http_complex_value(r, &f->name, &want) != SL_OK
                          ? SL_ERROR
                          : sl_str_caseeq(&want, name);
        if (rc == SL_ERROR) {
            return SL_ERROR;
        }
        if (rc <= 0) {
            continue;
        }
        for (sl_uint_t k = 0; k < f->nflags; k++) {
            sl_str_t v;
            if (sl_http_complex_value(r, &f->flags[k], &v) != SL_OK) {
                return SL_ERROR;
            }
            parse_flag(&v, fl);
        }
        return SL_OK;
    }
    return SL_DECLINED;
}

/* Applies one flag to the attributes named name: removed, kept (a present "secure" stays
 * as written), replaced (SameSite gets the canonical spelling), or added at the end. */
static void apply_flag(cookie_t *c, const char *name, int set, const char *value)
{
    int found = 0;

    for (sl_uint_t i = 1; set && i < c->n; i++) {
        cookie_attr_t *a = &c->attr[i];
        if (a->removed || !eq_case(&a->name, name)) {
            continue;
        }
        found = 1;
        a->removed = set < 0;
        if (set > 0 && value) {
            sl_str_set(&a->name, "SameSite");
            a->value.data = (u_char *) value;
            a->value.len = strlen(value);
            a->has_value = 1;
        }
    }
    if (set > 0 && !found) {
        cookie_attr_t *a = &c->attr[c->n++];
        memset(a, 0, sizeof(*a));
        a->name.data = (u_char *) (value ? "SameSite" : name[0] == 's' ? "Secure" : "HttpOnly");
        a->name.len = strlen((const char *) a->name.data);
        if (value) {
            a->value.data = (u_char *) value;
            a->value.len = strlen(value);
            a->has_value = 1;
        }
    }
}

static void apply_flags(cookie_t *c, const flags_t *fl)
{
    apply_flag(c, "secure", fl->secure, NULL);
    apply_flag(c, "httponly", fl->httponly, NULL);
    apply_flag(c, "samesite", fl->samesite, fl->samesite > 0 ? fl->samesite_value : NULL);
}

/* The attributes written back: "name=value" or "name", "; " between them. */
static sl_int_t rebuild_cookie(sl_http_request_t *r, const cookie_t *c, sl_str_t *out)
{
    size_t len = 0;

    for (sl_uint_t i = 0; i < c->n; i++) {
        const cookie_attr_t *a = &c->attr[i];
        len += a->removed ? 0 : 2 + a->name.len + a->has_value + a->value.len;
    }
    u_char *p = sl_pnalloc(r->pool, len);
    if (p == NULL) {
        return SL_ERROR;
    }
    out->data = p;
    for (sl_uint_t i = 0; i < c->n; i++) {
        const cookie_attr_t *a = &c->attr[i];
        if (a->removed) {
            continue;
        }
        if (p != out->data) {
            *p++ = ';';
            *p++ = ' ';
        }
        p = mempcpy(p, a->name.data, a->name.len);
        if (a->has_value) {
            *p++ = '=';
            p = mempcpy(p, a->value.data, a->value.len);
        }
    }
    out->len = (size_t) (p - out->data);
    return SL_OK;
}

static sl_int_t rewrite_cookie(sl_http_request_t *r, sl_proxy_rewrite_conf_t *rc, sl_table_elt_t *h)
{
    cookie_t c;
    flags_t fl;

    if (parse_cookie(&h->value, &c) != SL_OK) {
        return SL_DECLINED;
    }
    sl_int_t attrs = rewrite_attrs(r, rc, &c);
    sl_int_t flags =
        attrs == SL_ERROR ? SL_ERROR : find_flags(r, rc->cookie_flags, &c.attr[0].name, &fl);
    if (flags == SL_ERROR) {
        return SL_ERROR;
    }
    if (attrs != SL_OK && flags != SL_OK) {
        return SL_DECLINED;
    }
    if (flags == SL_OK) {
        apply_flags(&c, &fl);
    }
    /* a Set-Cookie is never the response's location */
    return rebuild_cookie(r, &c, &h->value) == SL_OK ? SL_DECLINED : SL_ERROR;
}
