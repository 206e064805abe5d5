/*
 * libFuzzer target: the Accept-Encoding reading of gzip (sl_http_gzip_accept_encoding).
 *
 * The value lives in an allocation of exactly its size, so a read past its end is an ASan
 * report.  Two properties of nginx's reading are checked, a difference abort()s:
 *   - case does not matter: the token, "q" and everything else compare the same upper-cased;
 *   - a leading ", " changes nothing: it only puts a separator before what started the value.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sl_http_gzip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int accepts(const uint8_t *data, size_t size, const char *prefix, int upper)
{
    size_t plen = strlen(prefix);
    u_char *copy = malloc(plen + size + 1);

    if (copy == NULL) {
        abort();
    }
    memcpy(copy, prefix, plen);
    for (size_t i = 0; i < size; i++) {
        copy[plen + i] = upper ? (u_char) toupper(data[i]) : data[i];
    }
    int rc = sl_http_gzip_accept_encoding(copy, plen + size);
    free(copy);
    if (rc != 0 && rc != 1) {
        abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int plain = accepts(data, size, "", 0);

    if (accepts(data, size, "", 1) != plain || accepts(data, size, ", ", 0) != plain) {
        abort();
    }
    return 0;
}
