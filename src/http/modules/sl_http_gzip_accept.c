/*
 * sl_http_gzip_accept.c: does an Accept-Encoding header value accept gzip?  nginx's reading,
 * kept exactly (the same header must get the same answer behind either server), including
 * where it is looser or stricter than RFC 9110 §12.5.3: only the first "gzip" token counts,
 * "x-gzip" and "*" do not, and a weight has at most three decimals.
 */
#include "sl_http_gzip.h"

/* Finds the first "gzip" (any case) that starts the value or follows ',' or ' '. */
static const u_char *find_gzip_token(const u_char *p, const u_char *last)
{
    for (const u_char *start = p; last - p >= 4; p++) {
        if ((p[0] | 0x20) == 'g' && (p[1] | 0x20) == 'z' && (p[2] | 0x20) == 'i'
            && (p[3] | 0x20) == 'p' && (p == start || p[-1] == ',' || p[-1] == ' ')) {
            return p + 4;
        }
    }
    return NULL;
}

/*
 * The weight after "q=": "0" or "1", optionally followed by '.' and digits, ended by the end
 * of the value, ',' or ' '.  Returns it in an odd unit (the integer part times 100 plus the sum
 * of the decimals: only "is it 0" and "is it above 1" matter), or 0 for a malformed weight.
 */
static unsigned weight(const u_char *p, const u_char *last)
{
    if (*p != '0' && *p != '1') {
        return 0;
    }
    unsigned q = (unsigned) (*p++ - '0') * 100, digits = 0;
    if (p == last || *p == ',' || *p == ' ') {
        return q;
    }
    if (*p++ != '.') {
        return 0;
    }
    for (; p < last && *p != ',' && *p != ' '; p++) {
        if (*p < '0' || *p > '9') {
            return 0;
        }
        q += (unsigned) (*p - '0');
        digits++;
    }
    return q > 100 || digits > 3 ? 0 : q;
}

/* After "gzip;": spaces, then "q=" and a weight; a parameter other than q refuses. */
static int parameters(const u_char *p, const u_char *last)
{
    while (p < last && *p == ' ') {
        p++;
    }
    if (p == last) {
        return 1;
    }
    if ((*p | 0x20) != 'q') {
        return 0;
    }
    p++;
    /* '=' and at least one byte of weight */
    if (last - p < 2 || *p != '=') {
        return 0;
    }
    return weight(p + 1, last) != 0;
}

int sl_http_gzip_accept_encoding(const u_char *value, size_t len)
{
    const u_char *last = value + len;
    const u_char *p = find_gzip_token(value, last);

    if (p == NULL) {
        return 0;
    }
    for (; p < last; p++) {
        if (*p == ',') {
            return 1;
        }
        if (*p == ';') {
            return parameters(p + 1, last);
        }
        if (*p != ' ') {
            return 0;
        }
    }
    return 1;
}
