/*
 * sl_http_not_modified_filter.c: conditional requests on 200 responses, as nginx answers
 * them:
 *   If-Unmodified-Since earlier than Last-Modified (or unparsable, or no Last-Modified) -> 412
 *   If-Match without a strongly matching ETag ("*" matches anything)                     -> 412
 *   If-Modified-Since (per "if_modified_since") and If-None-Match (weak comparison), each
 *   present one satisfied                                                                -> 304
 * A 304 keeps Last-Modified and ETag and loses the body, its type and length.
 *
 * Also the HTTP date parser (RFC 1123, RFC 850 and asctime forms) the range filter uses for
 * If-Range.
 */
#include "sl_http_output.h"
#include "sl_pool.h"

#define IMS_OFF 0
#define IMS_EXACT 1
#define IMS_BEFORE 2

/* Seconds since the epoch of an HTTP date, or -1 if it is not one. */

typedef struct {
    sl_uint_t if_modified_since;
} not_modified_loc_conf_t;

static sl_conf_enum_t ims_values[] = {
    { sl_string("off"), IMS_OFF },
    { sl_string("exact"), IMS_EXACT },
    { sl_string("before"), IMS_BEFORE },
    { sl_null_string, 0 },
};

static void *create_loc_conf(sl_conf_t *cf);
static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child);
static sl_int_t postconfiguration(sl_conf_t *cf);

static sl_command_t not_modified_commands[] = {
    { sl_string("if_modified_since"),
      SL_HTTP_MAIN_CONF | SL_HTTP_SRV_CONF | SL_HTTP_LOC_CONF | SL_CONF_TAKE1,
      sl_conf_set_enum_slot, SL_HTTP_LOC_CONF_OFFSET,
      offsetof(not_modified_loc_conf_t, if_modified_since), ims_values },
    sl_null_command,
};

static sl_http_module_t not_modified_module_ctx = {
    NULL, postconfiguration, NULL, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
};

sl_module_t sl_http_not_modified_filter_module = {
    "http_not_modified_filter", 0,    0,    SL_HTTP_MODULE, &not_modified_module_ctx,
    not_modified_commands,      NULL, NULL, NULL,
};

static sl_http_output_header_filter_pt next_header_filter;

static void *create_loc_conf(sl_conf_t *cf)
{
    not_modified_loc_conf_t *conf = sl_pcalloc(cf->pool, sizeof(not_modified_loc_conf_t));

    if (conf) {
        conf->if_modified_since = SL_CONF_UNSET_UINT;
    }
    return conf;
}

static char *merge_loc_conf(sl_conf_t *cf, void *parent, void *child)
{
    not_modified_loc_conf_t *prev = parent;
    not_modified_loc_conf_t *conf = child;

    sl_conf_merge_uint_value(conf->if_modified_since, prev->if_modified_since, IMS_EXACT);
    return SL_CONF_OK;
}

/* --- HTTP dates ------------------------------------------------------------------------ */

static int two_digits(const u_char *p, const u_char *end, int *v)
{
    if (end - p < 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9') {
        return 0;
    }
    *v = (p[0] - '0') * 10 + p[1] - '0';
    return 1;
}

/* "Jan".."Dec", case-sensitive; 0-11 or -1. */
static int month_of(const u_char *p, const u_char *end)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

    if (end - p < 3) {
        return -1;
    }
    for (int m = 0; m < 12; m++) {
        if (memcmp(p, months + 3 * m, 3) == 0) {
            return m;
        }
    }
    return -1;
}

/* "hh:mm:ss"; advances *pp. */
static int clock_of(const u_char **pp, const u_char *end, int *h, int *mi, int *s)
{
    const u_char *p = *pp;

    if (!two_digits(p, end, h) || end - p < 8 || p[2] != ':' || !two_digits(p + 3, end, mi)
        || p[5] != ':' || !two_digits(p + 6, end, s)) {
        return 0;
    }
    *pp = p + 8;
    return 1;
}

/* Days from 1970-01-01 to y-m-d (m 1-12), proleptic Gregorian. */
static int64_t days_from_epoch(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static time_t make_time(int year, int month, int day, int h, int mi, int s)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    if (year < 1970 || h > 23 || mi > 59 || s > 59 || day < 1 || day > mdays[month]
        || (month == 1 && day == 29 && !leap)) {
        return -1;
    }
    return (time_t) (days_from_epoch(year, month + 1, day) * 86400 + h * 3600 + mi * 60 + s);
}

/* "DD Mon YYYY hh:mm:ss" or "DD-Mon-YY hh:mm:ss", after the weekday and comma. */
static time_t parse_rfc_date(const u_char *p, const u_char *end)
{
    int day, month, year, h, mi, s, hi, lo;

    if (!two_digits(p, end, &day) || end - p < 3 || (p[2] != ' ' && p[2] != '-')) {
        return -1;
    }
    int rfc850 = p[2] == '-';
    p += 3;
    month = month_of(p, end);
    if (month < 0 || end - p < 4 || p[3] != (rfc850 ? '-' : ' ')) {
        return -1;
    }
    p += 4;
    if (rfc850) {
        if (!two_digits(p, end, &year)) {
            return -1;
        }
        year += year < 70 ? 2000 : 1900;
        p += 2;
    } else {
        if (!two_digits(p, end, &hi) || !two_digits(p + 2, end, &lo)) {
            return -1;
        }
        year = hi * 100 + lo;
        p += 4;
    }
    if (p == end || *p++ != ' ' || !clock_of(&p, end, &h, &mi, &s)) {
        return -1;
    }
    return make_time(year, month, day, h, mi, s);
}

/* asctime: "Mon DD hh:mm:ss YYYY" after the weekday, the day one or two digits. */
static time_t parse_asctime(const u_char *p, const u_char *end)
{
    int day, month, year, h, mi, s, hi, lo;

    month = month_of(p, end);
    if (month < 0 || end - p < 5 || p[3] != ' ') {
        return -1;
    }
    p += 4;
    if (*p == ' ') {
        p++;
    }
    if (p == end || *p < '0' || *p > '9') {
        return -1;
    }
    day = *p++ - '0';
    if (p < end && *p >= '0' && *p <= '9') {
        day = day * 10 + *p++ - '0';
    }
    if (p == end || *p++ != ' ' || !clock_of(&p, end, &h, &mi, &s) || p == end || *p++ != ' '
        || !two_digits(p, end, &hi) || !two_digits(p + 2, end, &lo)) {
        return -1;
    }
    year = hi * 100 + lo;
    return make_time(year, month, day, h, mi, s);
}

/*
 * The weekday is skipped up to the first ',' (RFC 1123 and RFC 850) or ' ' (asctime), then
 * spaces; whatever follows the time ("GMT") is not looked at, as nginx does.
 */
time_t sl_http_parse_time(const u_char *p, size_t len)
{
    const u_char *end = p + len;
    int asctime = 0;

    while (p < end && *p != ',' && *p != ' ') {
        p++;
    }
    if (p == end) {
        return -1;
    }
    asctime = *p == ' ';
    for (p++; p < end && *p == ' '; p++) {
    }
    return asctime ? parse_asctime(p, end) : parse_rfc_date(p, end);
}

/* --- the conditions ------------------------------------------------------------------------ */

/* If-Unmodified-Since holds: the resource is not newer than the date. */
static int unmodified_since(sl_http_request_t *r)
{
    sl_str_t *v = &r->headers_in.if_unmodified_since->value;

    if (r->headers_out.last_modified_time == -1) {
        return 0;
    }
    time_t t = sl_http_parse_time(v->data, v->len);
    return t != -1 && t >= r->headers_out.last_modified_time;
}

/* If-Modified-Since says the client's copy is stale (send the body). */
static int modified_since(sl_http_request_t *r)
{
    not_modified_loc_conf_t *conf =
        sl_http_get_module_loc_conf(r, sl_http_not_modified_filter_module);
    sl_str_t *v = &r->headers_in.if_modified_since->value;
    time_t lm = r->headers_out.last_modified_time;

    if (lm == -1 || conf->if_modified_since == IMS_OFF) {
        return 1;
    }
    time_t t = sl_http_parse_time(v->data, v->len);
    if (t == -1) {
        return 1;
    }
    if (t == lm) {
        return 0;
    }
    return conf->if_modified_since == IMS_EXACT || t < lm;
}

/*
 * The header's list of entity tags ("a", W/"b", ...) names the response's ETag.  weak: W/
 * prefixes are ignored on both sides (If-None-Match); else a weak tag never matches
 * (If-Match).  "*" matches anything, even without an ETag.
 */
static int etag_listed(sl_http_request_t *r, const sl_str_t *list, int weak)
{
    const u_char *p = list->data, *end = p + list->len;

    if (list->len == 1 && p[0] == '*') {
        return 1;
    }
    if (r->headers_out.etag == NULL) {
        return 0;
    }
    sl_str_t etag = r->headers_out.etag->value;
    if (etag.len > 2 && etag.data[0] == 'W' && etag.data[1] == '/') {
        if (!weak) {
            return 0;
        }
        etag.data += 2;
        etag.len -= 2;
    }
    while (p < end) {
        if (weak && end - p > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        if ((size_t) (end - p) < etag.len) {
            return 0;
        }
        if (memcmp(p, etag.data, etag.len) == 0) {
            const u_char *q = p + etag.len;
            while (q < end && (*q == ' ' || *q == '\t')) {
                q++;
            }
            if (q == end || *q == ',') {
                return 1;
            }
        }
        while (p < end && *p != ',') {
            p++;
        }
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
    }
    return 0;
}

/*
 * 412 is returned to the caller of sl_http_send_header(), which finalizes with it (the
 * built-in page or error_page); a 304 goes on down the chain as a header-only response.
 */
static sl_int_t not_modified_header_filter(sl_http_request_t *r)
{
    sl_http_headers_in_t *in = &r->headers_in;

    if (r->headers_out.status != SL_HTTP_OK || r != r->main || r->disable_not_modified) {
        return next_header_filter(r);
    }
    if (in->if_unmodified_since && !unmodified_since(r)) {
        return SL_HTTP_PRECONDITION_FAILED;
    }
    if (in->if_match && !etag_listed(r, &in->if_match->value, 0)) {
        return SL_HTTP_PRECONDITION_FAILED;
    }
    if (in->if_modified_since == NULL && in->if_none_match == NULL) {
        return next_header_filter(r);
    }
    if (in->if_modified_since && modified_since(r)) {
        return next_header_filter(r);
    }
    if (in->if_none_match && !etag_listed(r, &in->if_none_match->value, 1)) {
        return next_header_filter(r);
    }
    r->headers_out.status = SL_HTTP_NOT_MODIFIED;
    r->headers_out.status_line.len = 0;
    r->headers_out.content_type.len = 0;
    sl_http_clear_content_length(r);
    sl_http_clear_accept_ranges(r);
    if (r->headers_out.content_encoding) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }
    return next_header_filter(r);
}

static sl_int_t postconfiguration(sl_conf_t *cf)
{
    next_header_filter = sl_http_top_header_filter;
    sl_http_top_header_filter = not_modified_header_filter;
    return SL_OK;
}
