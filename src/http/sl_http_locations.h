/*
 * sl_http_locations.h: location matching in nginx's order: an exact "=" match ends the
 * search; otherwise the longest prefix is remembered ("^~" stops there), its nested
 * locations are searched the same way, then regex locations in configuration order (the
 * first match wins, and its nested locations are searched); else the longest prefix.
 */
#ifndef SL_HTTP_LOCATIONS_H
#define SL_HTTP_LOCATIONS_H

#include "sl_http_request.h"

/* Splits each level's locations into exact, prefix, regex and named lists.  Called for
 * every server once parsing is done.  SL_OK or SL_ERROR (logged: duplicate location). */
sl_int_t sl_http_init_locations(sl_conf_t *cf, sl_http_core_loc_conf_t *clcf);

/* The 301 to "uri/" for a location that asked for it (auto_redirect). */
sl_int_t sl_http_auto_redirect(sl_http_request_t *r);

#endif /* SL_HTTP_LOCATIONS_H */
