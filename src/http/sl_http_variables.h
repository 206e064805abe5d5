/*
 * sl_http_variables.h: variables ($host, $uri, $http_NAME, ...) and complex values
 * ("https://$host$request_uri") compiled once at configuration time.
 *
 * A directive that takes variables compiles its argument into an sl_http_complex_value_t;
 * every variable it names gets an index, resolved to its getter when the http block ends
 * ("unknown \"x\" variable" otherwise).  A request evaluates a variable through its index:
 * the value is cached in r->variables unless the variable is not cacheable.
 */
#ifndef SL_HTTP_VARIABLES_H
#define SL_HTTP_VARIABLES_H

#include "sl_http_request.h"

typedef struct sl_http_variable_s sl_http_variable_t;

/* Fills v (data in r->pool or pointing into request memory) and returns SL_OK; sets
 * v->not_found for an absent value (it then evaluates as empty); SL_ERROR on failure. */
typedef sl_int_t (*sl_http_get_variable_pt)(sl_http_request_t *r, sl_http_variable_value_t *v,
                                            uintptr_t data);
typedef void (*sl_http_set_variable_pt)(sl_http_request_t *r, sl_http_variable_value_t *v,
                                        uintptr_t data);

#define SL_HTTP_VAR_CHANGEABLE 1
#define SL_HTTP_VAR_NOCACHEABLE 2
#define SL_HTTP_VAR_INDEXED 4
#define SL_HTTP_VAR_NOHASH 8
#define SL_HTTP_VAR_WEAK 16
#define SL_HTTP_VAR_PREFIX 32

struct sl_http_variable_s {
    sl_str_t name;
    sl_http_set_variable_pt set_handler;
    sl_http_get_variable_pt get_handler;
    uintptr_t data;
    sl_uint_t flags;
    sl_uint_t index;
};

#define sl_http_null_variable                                                                      \
    {                                                                                              \
        sl_null_string, NULL, NULL, 0, 0, 0                                                        \
    }

/* Registers the built-in variables (the http block's preconfiguration).  SL_OK/SL_ERROR. */
sl_int_t sl_http_variables_add_core_vars(sl_conf_t *cf);
/* Resolves every indexed name to a variable (after parsing).  SL_OK, or SL_ERROR after
 * logging "unknown \"name\" variable". */
sl_int_t sl_http_variables_init_vars(sl_conf_t *cf);

/* Declares a variable a module provides (e.g. $upstream_addr, or "set $x").  NULL on error
 * (logged: "the duplicate \"name\" variable"). */
sl_http_variable_t *sl_http_add_variable(sl_conf_t *cf, sl_str_t *name, sl_uint_t flags);
/* The index of a variable name used by a directive.  SL_ERROR on exhaustion. */
sl_int_t sl_http_get_variable_index(sl_conf_t *cf, sl_str_t *name);

/* The value of an indexed variable for r (cached), or NULL on error. */
sl_http_variable_value_t *sl_http_get_indexed_variable(sl_http_request_t *r, sl_uint_t index);
/* The same, re-evaluated if the variable is not cacheable. */
sl_http_variable_value_t *sl_http_get_flushed_variable(sl_http_request_t *r, sl_uint_t index);
/* Looks a variable up by name at run time (for map/SSI-like uses); key is
 * sl_hash_key_lc(name).  A name nobody declared evaluates as not found. */
sl_http_variable_value_t *sl_http_get_variable(sl_http_request_t *r, sl_str_t *name, sl_uint_t key);

/* The value of the header NAME (as $http_name spells it: '_' for '-', any case) in a list
 * of sl_table_elt_t; v->not_found when absent.  SL_OK or SL_ERROR. */
sl_int_t sl_http_variable_header(sl_http_request_t *r, sl_http_variable_value_t *v,
                                 sl_list_t *headers, const u_char *name, size_t len);

/* Decodes standard base64 (up to the first "=") into dst, which has room for len * 3 / 4
 * bytes: the decoded length, or SL_ERROR on a byte outside the alphabet or a dangling
 * sextet.  ($remote_user, auth_basic, {SSHA} salts.) */
ssize_t sl_http_decode_base64(u_char *dst, const u_char *src, size_t len);

/* Complex values: literal text with $var, ${var}, $1..$9 inside. */
typedef struct sl_http_script_part_s sl_http_script_part_t;

struct sl_http_complex_value_s {
    /** the text as written; the value itself when there are no variables */
    sl_str_t value;
    /** compiled parts, NULL when the value is a plain string */
    sl_http_script_part_t *parts;
    sl_uint_t nparts;
    /** the size a plain value stands for (sl_http_set_complex_value_size_slot) */
    size_t size;
};

typedef struct {
    sl_conf_t *cf;
    sl_str_t *value;
    sl_http_complex_value_t *complex_value;
    /** append a NUL to the result */
    unsigned zero : 1;
    /** a plain relative path is made absolute against the config prefix / the prefix */
    unsigned conf_prefix : 1;
    unsigned root_prefix : 1;
} sl_http_compile_complex_value_t;

/* Compiles ccv->value.  SL_OK, or SL_ERROR after logging (e.g. "invalid variable name"). */
sl_int_t sl_http_compile_complex_value(sl_http_compile_complex_value_t *ccv);
/* The common case of the above: value compiled into cv, no prefix or NUL options. */
sl_int_t sl_http_compile_value(sl_conf_t *cf, sl_str_t *value, sl_http_complex_value_t *cv);
/* Evaluates val for r into value (pool memory).  SL_OK or SL_ERROR. */
sl_int_t sl_http_complex_value(sl_http_request_t *r, sl_http_complex_value_t *val, sl_str_t *value);
/* A directive slot holding an sl_http_complex_value_t * (NULL when unset). */
char *sl_http_set_complex_value_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* The same for a size ("10k", or variables): a plain value must parse as a size ("invalid
 * value" otherwise) and is kept in cv->size. */
char *sl_http_set_complex_value_size_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
/* The size cv stands for in r: cv->size for a plain value, else the evaluated text parsed
 * as a size.  default_size when cv is NULL, or when the text is not a size (logged at
 * "error" as nginx: invalid size "..."). */
size_t sl_http_complex_value_size(sl_http_request_t *r, sl_http_complex_value_t *cv,
                                  size_t default_size);
/* Scans a variable name ("name" or "{name}") at src[*i], just after a '$': *name gets it
 * (possibly empty), *i moves past it.  SL_OK, or SL_ERROR after logging a missing "}". */
sl_int_t sl_http_script_var_name(sl_conf_t *cf, const sl_str_t *src, size_t *i, sl_str_t *name);
/* True when the text contains a variable reference ("$x", "${x}", "$1"). */
int sl_http_script_variables_count(const sl_str_t *value);

/* Regex captures: runs re on s and keeps the captures in r for $1..$9 and named
 * captures.  Returns > 0 on a match, 0 on no match (SL_DECLINED-like), SL_ERROR.
 * A bare sl_regex_t has no named-capture map: only $1..$9 are kept, and they are replaced
 * only when the match filled a capture group (nginx keeps the previous captures after a
 * regex without groups).  Prefer sl_http_regex_compile() + sl_http_regex_match(). */
sl_int_t sl_http_regex_exec(sl_http_request_t *r, sl_regex_t *re, const sl_str_t *s);

/* A named capture "(?<name>...)" and the variable $name it sets on a match. */
typedef struct {
    sl_uint_t capture;
    sl_uint_t index;
} sl_http_regex_variable_t;

/* A regex compiled for the http layer: its named captures are variables. */
struct sl_http_regex_s {
    sl_regex_t *regex;
    /** capture groups in the pattern */
    sl_uint_t ncaptures;
    sl_http_regex_variable_t *variables;
    sl_uint_t nvariables;
    /** the pattern, for error messages */
    sl_str_t name;
};

/*
 * Compiles rc->pattern (rc->caseless) in cf->pool and declares each named capture as a
 * changeable variable (not found until a match sets it).  SL_OK with *out set, or SL_ERROR
 * after logging (the pcre2 message, or "the duplicate \"host\" variable" for a name that a
 * built-in variable already has).
 */
sl_int_t sl_http_regex_compile(sl_conf_t *cf, sl_regex_compile_t *rc, sl_http_regex_t **out);
/* sl_http_regex_exec() for a compiled sl_http_regex_t: also sets its named variables. */
sl_int_t sl_http_regex_match(sl_http_request_t *r, sl_http_regex_t *re, const sl_str_t *s);

#endif /* SL_HTTP_VARIABLES_H */
