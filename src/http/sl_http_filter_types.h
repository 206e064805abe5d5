/*
 * sl_http_filter_types.h: the MIME type lists of filter directives (charset_types,
 * gzip_types, sub_filter_types, ssi_types, ...), as nginx's types slot.
 *
 * The directive may be repeated (the lists add up); "*" matches every response, even one
 * without a type.  Otherwise a response matches when its type (without a charset
 * parameter: content_type_len, as nginx), compared case-insensitively, is listed.
 */
#ifndef SL_HTTP_FILTER_TYPES_H
#define SL_HTTP_FILTER_TYPES_H

#include "sl_http.h"

typedef struct {
    /** sl_str_t, lowercased; empty when only "*" was given */
    sl_array_t types;
    unsigned any : 1;
} sl_http_filter_types_t;

/* Setter for a field of type sl_http_filter_types_t * (SL_CONF_UNSET_PTR when not set); with
 * sl_http_filter_types_html as the command's post, text/html is always in the list, as in
 * nginx's gzip_types, charset_types, ssi_types, sub_filter_types and addition_types. */
extern const char sl_http_filter_types_html[];
char *sl_http_filter_types_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/* Inherits prev, or builds the list from defaults (NULL-terminated) when neither level set
 * one.  SL_CONF_OK or SL_CONF_ERROR. */
char *sl_http_filter_types_merge(sl_conf_t *cf, sl_http_filter_types_t **conf,
                                 sl_http_filter_types_t **prev, const char *const *defaults);

/* Whether the response's Content-Type is in the list (never when it has no type). */
int sl_http_filter_types_test(sl_http_request_t *r, const sl_http_filter_types_t *types);

#endif
