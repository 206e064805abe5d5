/*
 * libFuzzer target: the PROXY protocol reader (sl_proxy_protocol_read) and the TLV lookup.
 *
 * The input lives in an allocation of exactly its size, so a read past its end is an ASan
 * report.  Properties checked (a difference abort()s):
 *   - a header's length is never more than what was given, nor beyond its bound;
 *   - a header read whole is read the same with more bytes after it;
 *   - what waits for more (SL_AGAIN) is never a header cut short at EOF.
 */
#include <stdlib.h>
#include <string.h>

#include "sl_pool.h"
#include "sl_proxy_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sl_log_t quiet = { .log_level = 0 };

static const char *tlv_names[] = { "alpn",   "authority", "unique_id",  "netns",
                                   "ssl",    "0x03",      "ssl_verify", "ssl_version",
                                   "ssl_cn", "ssl_0x25",  "x" };

static void lookup_tlvs(sl_pool_t *pool, const sl_proxy_protocol_t *pp)
{
    for (size_t i = 0; i < sizeof(tlv_names) / sizeof(tlv_names[0]); i++) {
        sl_str_t name = { strlen(tlv_names[i]), (u_char *) tlv_names[i] };
        sl_str_t value;
        sl_int_t rc = sl_proxy_protocol_tlv(pool, &quiet, pp, &name, &value);
        if (rc == SL_OK && value.len > 0 && value.data == NULL) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_pool_t *pool = sl_pool_create(4096, &quiet);
    u_char *copy = malloc(size ? size : 1);
    sl_proxy_protocol_t *pp;

    if (pool == NULL || copy == NULL) {
        abort();
    }
    memcpy(copy, data, size);
    ssize_t n = sl_proxy_protocol_read(pool, &quiet, copy, size, 0, &pp);
    if (n > 0) {
        if ((size_t) n > size || (size_t) n > SL_PROXY_PROTOCOL_MAX_HEADER) {
            abort();
        }
        if (pp) {
            lookup_tlvs(pool, pp);
        }
        sl_proxy_protocol_t *again;
        if (sl_proxy_protocol_read(pool, &quiet, copy, (size_t) n, 1, &again) != n) {
            abort();
        }
    } else if (n == SL_AGAIN) {
        if (sl_proxy_protocol_read(pool, &quiet, copy, size, 1, &pp) != SL_ERROR) {
            abort();
        }
    } else if (n != SL_ERROR) {
        abort();
    }
    free(copy);
    sl_pool_destroy(pool);
    return 0;
}
