/*
 * sl_http_special_response.h: responses sluice makes itself: nginx's built-in pages for
 * errors and redirects, and error_page.
 */
#ifndef SL_HTTP_SPECIAL_RESPONSE_H
#define SL_HTTP_SPECIAL_RESPONSE_H

#include "sl_http_request.h"

/* Answers r with status: through error_page when one matches, else the built-in page.
 * Returns what sl_http_finalize_request() should be called with next. */
sl_int_t sl_http_special_response_handler(sl_http_request_t *r, sl_int_t status);

/* The status line for a code ("404 Not Found"), or an empty string for unknown codes. */
const sl_str_t *sl_http_status_line(sl_uint_t status);

#endif /* SL_HTTP_SPECIAL_RESPONSE_H */
