/*
 * sl_http_auth_basic.h: the password hashes of htpasswd files, as nginx 1.22 reads them.
 */
#ifndef SL_HTTP_AUTH_BASIC_H
#define SL_HTTP_AUTH_BASIC_H

#include "sl_core.h"
#include "sl_log.h"
#include "sl_pool.h"

/*
 * The hash of the password key in the format of salt (the password field of an htpasswd
 * line), into *encrypted (NUL-terminated, pool memory); the caller compares it with salt.
 * Formats: "{PLAIN}text", "{SHA}base64(SHA-1)", "{SSHA}base64(SHA-1(key salt) salt)",
 * "$apr1$salt$..." (Apache's MD5), and anything else through crypt(3) ("$1$", "$5$", "$6$",
 * "$2y$", DES), whose failure answers a string that matches nothing.  SL_OK, or SL_ERROR
 * (no memory, or a digest failure, logged).
 */
sl_int_t sl_http_auth_basic_crypt(sl_pool_t *pool, sl_log_t *log, const u_char *key,
                                  const u_char *salt, u_char **encrypted);

#endif /* SL_HTTP_AUTH_BASIC_H */
