/*
 * sl_http_output.h: the output filter chains.  A response header goes through the header
 * filters (the last one, HTTP/1's, writes the status line and header lines); body chains go
 * through the body filters (HTTP/1's chunked encoding, then the write filter that sends, honouring
 * send_timeout, limit_rate and postpone_output).  Modules insert themselves at the top of
 * either chain in their postconfiguration, as nginx's filters do.
 */
#ifndef SL_HTTP_OUTPUT_H
#define SL_HTTP_OUTPUT_H

#include "sl_http_request.h"

typedef sl_int_t (*sl_http_output_header_filter_pt)(sl_http_request_t *r);
typedef sl_int_t (*sl_http_output_body_filter_pt)(sl_http_request_t *r, sl_chain_t *in);

extern sl_http_output_header_filter_pt sl_http_top_header_filter;
extern sl_http_output_body_filter_pt sl_http_top_body_filter;

/* The core's filter: it sends (installed first, so it runs last). */
sl_int_t sl_http_write_filter(sl_http_request_t *r, sl_chain_t *in);

/* Sets up the chains' bottoms: the write filter for bodies, nothing yet for headers (the
 * protocol's framing module, src/http/v1, comes next); called from the core module's
 * postconfiguration. */
void sl_http_output_init(void);

/* Adds "Name: value" to the response headers, the value copied to the pool.  NULL on
 * exhaustion. */
sl_table_elt_t *sl_http_add_response_header(sl_http_request_t *r, const char *name,
                                            const u_char *value, size_t len);
/* Replaces the response's Location (an earlier one, e.g. from "return 302" before an
 * error_page, is deleted): r->headers_out.location, or NULL on exhaustion. */
sl_table_elt_t *sl_http_set_location(sl_http_request_t *r, const u_char *value, size_t len);
/* Sends the end of the body (an empty last buffer). */
sl_int_t sl_http_send_last(sl_http_request_t *r);

/* Sets the response's type (no charset parameter in it). */
void sl_http_set_content_type(sl_http_request_t *r, const sl_str_t *type);
/* Sets the type an upstream sent, its charset parameter (quotes dropped) set apart in
 * headers_out.charset, as nginx: the type filters match is what precedes it. */
void sl_http_set_content_type_with_charset(sl_http_request_t *r, const sl_str_t *value);

/* Removes the Content-Length the response had (a filter changes the body). */
void sl_http_clear_content_length(sl_http_request_t *r);
void sl_http_clear_last_modified(sl_http_request_t *r);
void sl_http_clear_accept_ranges(sl_http_request_t *r);
void sl_http_clear_etag(sl_http_request_t *r);
/* A filter changed the body: a strong ETag "x" becomes W/"x" (the response is still a weak
 * match for it), a malformed one goes, a weak one stays. */
void sl_http_weak_etag(sl_http_request_t *r);

#endif /* SL_HTTP_OUTPUT_H */
