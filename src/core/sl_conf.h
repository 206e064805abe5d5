/*
 * sl_conf.h: nginx's configuration language.
 *
 * Modules are data: each declares a table of directives (name, contexts, arity, setter,
 * offset into its conf struct) and create/merge functions per context.  The parser tokenizes
 * the file, finds each directive in the tables, checks context and arity, and calls the
 * setter with the conf struct of the current context.  Every error names FILE:LINE the way
 * nginx does and stops the load.
 */
#ifndef SL_CONF_H
#define SL_CONF_H

#include "sl_core.h"
#include "sl_array.h"
#include "sl_buf.h"
#include "sl_log.h"
#include "sl_str.h"

/* Arity. */
#define SL_CONF_NOARGS 0x00000001
#define SL_CONF_TAKE1 0x00000002
#define SL_CONF_TAKE2 0x00000004
#define SL_CONF_TAKE3 0x00000008
#define SL_CONF_TAKE4 0x00000010
#define SL_CONF_TAKE5 0x00000020
#define SL_CONF_TAKE6 0x00000040
#define SL_CONF_TAKE7 0x00000080
#define SL_CONF_MAX_ARGS 8

#define SL_CONF_TAKE12 (SL_CONF_TAKE1 | SL_CONF_TAKE2)
#define SL_CONF_TAKE13 (SL_CONF_TAKE1 | SL_CONF_TAKE3)
#define SL_CONF_TAKE23 (SL_CONF_TAKE2 | SL_CONF_TAKE3)
#define SL_CONF_TAKE123 (SL_CONF_TAKE1 | SL_CONF_TAKE2 | SL_CONF_TAKE3)
#define SL_CONF_TAKE1234 (SL_CONF_TAKE1 | SL_CONF_TAKE2 | SL_CONF_TAKE3 | SL_CONF_TAKE4)

#define SL_CONF_ARGS_NUMBER 0x000000ff
#define SL_CONF_BLOCK 0x00000100
#define SL_CONF_FLAG 0x00000200
#define SL_CONF_ANY 0x00000400
#define SL_CONF_1MORE 0x00000800
#define SL_CONF_2MORE 0x00001000

/* The module's conf struct is the pointer in conf_ctx itself (main-context core modules). */
#define SL_DIRECT_CONF 0x00010000

/* Contexts: one bit each.  The core's two are here; a higher layer defines its own in the
 * bits SL_ANY_CONF covers (the http layer's in sl_http.h). */
#define SL_MAIN_CONF 0x01000000
#define SL_EVENT_CONF 0x02000000
#define SL_ANY_CONF 0xff800000

#define SL_CONF_UNSET -1
#define SL_CONF_UNSET_UINT ((sl_uint_t) -1)
#define SL_CONF_UNSET_PTR ((void *) -1)
#define SL_CONF_UNSET_SIZE ((size_t) -1)
#define SL_CONF_UNSET_MSEC ((sl_msec_t) -1)

/* Setter results: NULL is success, SL_CONF_ERROR means "already logged", any other string
 * is logged as "\"NAME\" directive STRING in FILE:LINE". */
#define SL_CONF_OK NULL
#define SL_CONF_ERROR ((char *) -1)

/* Tokenizer results. */
#define SL_CONF_BLOCK_START 1
#define SL_CONF_BLOCK_DONE 2
#define SL_CONF_FILE_DONE 3

/* Module types. */
#define SL_CORE_MODULE 0x45524f43
#define SL_CONF_MODULE 0x464e4f43
#define SL_EVENT_MODULE 0x544e5645
#define SL_HTTP_MODULE 0x50545448

typedef char *(*sl_conf_set_pt)(sl_conf_t *cf, sl_command_t *cmd, void *conf);

struct sl_command_s {
    sl_str_t name;
    sl_uint_t type;
    sl_conf_set_pt set;
    /** offset of the conf array in the context struct (main_conf, srv_conf, loc_conf) */
    sl_uint_t conf;
    /** offset of the field in the module's conf struct */
    sl_uint_t offset;
    /** setter-specific data: bounds, enum table, post handler */
    void *post;
};

#define sl_null_command                                                                            \
    {                                                                                              \
        sl_null_string, 0, NULL, 0, 0, NULL                                                        \
    }

struct sl_module_s {
    const char *name;
    /** index in the cycle's module list and in conf_ctx for core modules */
    sl_uint_t index;
    /** index among modules of the same type (into main_conf/srv_conf/loc_conf arrays) */
    sl_uint_t ctx_index;
    sl_uint_t type;
    void *ctx;
    sl_command_t *commands;
    /** after the config is loaded, before workers start */
    sl_int_t (*init_module)(sl_cycle_t *cycle);
    /** in each process that serves requests */
    sl_int_t (*init_process)(sl_cycle_t *cycle);
    void (*exit_process)(sl_cycle_t *cycle);
};

typedef struct {
    sl_str_t name;
    void *(*create_conf)(sl_cycle_t *cycle);
    char *(*init_conf)(sl_cycle_t *cycle, void *conf);
} sl_core_module_t;

typedef struct {
    /** fd -1 while parsing the -g parameter ("in command line") */
    sl_file_t file;
    /** the whole text; pos is the tokenizer's cursor */
    sl_buf_t *buffer;
    /** the file's whole text, kept for -T (NULL when an earlier include already dumped it) */
    sl_buf_t *dump;
    sl_uint_t line;
    /** blocks and includes open around the cursor, bounded so bad input cannot exhaust the
     * stack */
    sl_uint_t depth;
} sl_conf_file_t;

/* A file's text for "sluice -T". */
typedef struct {
    sl_str_t name;
    sl_str_t text;
} sl_conf_dump_t;

/* A block handler that takes every line itself ("types", "map"). */
typedef char *(*sl_conf_handler_pt)(sl_conf_t *cf, sl_command_t *dummy, void *conf);

struct sl_conf_s {
    /** the directive being handled */
    char *name;
    /** the directive and its arguments, sl_str_t each, NUL-terminated */
    sl_array_t *args;

    sl_cycle_t *cycle;
    sl_pool_t *pool;
    sl_pool_t *temp_pool;
    sl_conf_file_t *conf_file;
    sl_log_t *log;

    void *ctx;
    sl_uint_t module_type;
    sl_uint_t cmd_type;

    sl_conf_handler_pt handler;
    void *handler_conf;
};

typedef char *(*sl_conf_post_handler_pt)(sl_conf_t *cf, void *data, void *conf);

typedef struct {
    sl_conf_post_handler_pt post_handler;
} sl_conf_post_t;

/* For sl_conf_set_num_slot and friends: value must be within [low, high]. */
typedef struct {
    sl_conf_post_handler_pt post_handler;
    sl_int_t low;
    sl_int_t high;
} sl_conf_num_bounds_t;

typedef struct {
    sl_str_t name;
    sl_uint_t value;
} sl_conf_enum_t;

/* An element of the arrays sl_conf_set_keyval_slot fills ("name value" pairs). */
typedef struct {
    sl_str_t key;
    sl_str_t value;
} sl_keyval_t;

typedef struct {
    sl_str_t name;
    sl_uint_t mask;
} sl_conf_bitmask_t;

/*
 * Parses a file (filename set), the rest of the current block (filename NULL and a
 * conf_file open) or the -g parameter string (filename NULL, no conf_file).
 * Returns SL_CONF_OK or SL_CONF_ERROR (already logged with FILE:LINE).
 */
char *sl_conf_parse(sl_conf_t *cf, sl_str_t *filename);
/* Parses cycle->conf_param (-g) in main context. */
char *sl_conf_param(sl_conf_t *cf);

/* The "include" directive: a file or a glob, relative to the config's directory. */
char *sl_conf_include(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/* Makes name absolute: relative to the config prefix (conf_prefix) or the prefix. */
sl_int_t sl_conf_full_name(sl_cycle_t *cycle, sl_str_t *name, int conf_prefix);

/* Logs "MESSAGE (errno: text) in FILE:LINE", "... in command line" while parsing -g, or the
 * message alone when no file is open (the main file failing to open). */
void sl_conf_log_error(sl_uint_t level, sl_conf_t *cf, sl_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Typed setters: cmd->offset names the field in the conf struct, whose type and "unset" value
 * are, per setter:
 *   flag      sl_int_t    SL_CONF_UNSET          "on" / "off", any case
 *   str       sl_str_t    data NULL
 *   str_array sl_array_t* SL_CONF_UNSET_PTR/NULL appends each value (no duplicate check)
 *   keyval    sl_array_t* SL_CONF_UNSET_PTR/NULL appends sl_keyval_t (no duplicate check)
 *   num       sl_int_t    SL_CONF_UNSET          "invalid number" on a bad value
 *   size      size_t      SL_CONF_UNSET_SIZE     k, m
 *   off       off_t       SL_CONF_UNSET          k, m, g
 *   msec      sl_msec_t   SL_CONF_UNSET_MSEC     "1h 30m", "500ms"; bare number = seconds
 *   sec       time_t      SL_CONF_UNSET          as msec, in seconds, no "ms"
 *   bufs      sl_bufs_t   num 0                  "8 4k", neither may be 0
 *   enum      sl_uint_t   SL_CONF_UNSET_UINT     cmd->post is an sl_conf_enum_t table
 *   bitmask   sl_uint_t   0                      cmd->post is an sl_conf_bitmask_t table;
 *                                                values OR together (no duplicate check)
 * The single-value setters report "is duplicate" when the field is already set; all but bufs,
 * enum and bitmask call cmd->post's post_handler (sl_conf_post_t first member) with the field.
 * Tables end with an entry whose name is empty.
 */
char *sl_conf_set_flag_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_str_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_str_array_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_keyval_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_num_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_size_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_off_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_msec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_sec_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_bufs_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_enum_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);
char *sl_conf_set_bitmask_slot(sl_conf_t *cf, sl_command_t *cmd, void *conf);

/* A post handler for num slots: checks sl_conf_num_bounds_t. */
char *sl_conf_check_num_bounds(sl_conf_t *cf, void *post, void *data);

/* Initialise and merge helpers for create/merge functions. */
#define sl_conf_init_value(conf, default)                                                          \
    if (conf == SL_CONF_UNSET) {                                                                   \
        conf = default;                                                                            \
    }
#define sl_conf_init_ptr_value(conf, default)                                                      \
    if (conf == SL_CONF_UNSET_PTR) {                                                               \
        conf = default;                                                                            \
    }
#define sl_conf_init_uint_value(conf, default)                                                     \
    if (conf == SL_CONF_UNSET_UINT) {                                                              \
        conf = default;                                                                            \
    }
#define sl_conf_init_size_value(conf, default)                                                     \
    if (conf == SL_CONF_UNSET_SIZE) {                                                              \
        conf = default;                                                                            \
    }
#define sl_conf_init_msec_value(conf, default)                                                     \
    if (conf == SL_CONF_UNSET_MSEC) {                                                              \
        conf = default;                                                                            \
    }

#define sl_conf_merge_value(conf, prev, default)                                                   \
    if (conf == SL_CONF_UNSET) {                                                                   \
        conf = (prev == SL_CONF_UNSET) ? default : prev;                                           \
    }
#define sl_conf_merge_ptr_value(conf, prev, default)                                               \
    if (conf == SL_CONF_UNSET_PTR) {                                                               \
        conf = (prev == SL_CONF_UNSET_PTR) ? default : prev;                                       \
    }
#define sl_conf_merge_uint_value(conf, prev, default)                                              \
    if (conf == SL_CONF_UNSET_UINT) {                                                              \
        conf = (prev == SL_CONF_UNSET_UINT) ? default : prev;                                      \
    }
#define sl_conf_merge_msec_value(conf, prev, default)                                              \
    if (conf == SL_CONF_UNSET_MSEC) {                                                              \
        conf = (prev == SL_CONF_UNSET_MSEC) ? default : prev;                                      \
    }
#define sl_conf_merge_sec_value(conf, prev, default)                                               \
    if (conf == SL_CONF_UNSET) {                                                                   \
        conf = (prev == SL_CONF_UNSET) ? default : prev;                                           \
    }
#define sl_conf_merge_size_value(conf, prev, default)                                              \
    if (conf == SL_CONF_UNSET_SIZE) {                                                              \
        conf = (prev == SL_CONF_UNSET_SIZE) ? default : prev;                                      \
    }
#define sl_conf_merge_off_value(conf, prev, default)                                               \
    if (conf == SL_CONF_UNSET) {                                                                   \
        conf = (prev == SL_CONF_UNSET) ? default : prev;                                           \
    }
#define sl_conf_merge_str_value(conf, prev, default)                                               \
    if (conf.data == NULL) {                                                                       \
        if (prev.data) {                                                                           \
            conf.len = prev.len;                                                                   \
            conf.data = prev.data;                                                                 \
        } else {                                                                                   \
            conf.len = sizeof(default) - 1;                                                        \
            conf.data = (u_char *) default;                                                        \
        }                                                                                          \
    }
#define sl_conf_merge_bufs_value(conf, prev, default_num, default_size)                            \
    if (conf.num == 0) {                                                                           \
        if (prev.num) {                                                                            \
            conf.num = prev.num;                                                                   \
            conf.size = prev.size;                                                                 \
        } else {                                                                                   \
            conf.num = default_num;                                                                \
            conf.size = default_size;                                                              \
        }                                                                                          \
    }
#define sl_conf_merge_bitmask_value(conf, prev, default)                                           \
    if (conf == 0) {                                                                               \
        conf = (prev == 0) ? default : prev;                                                       \
    }

/* The conf struct of a core module in a cycle. */
#define sl_get_conf(conf_ctx, module) (conf_ctx)[(module).index]

#endif /* SL_CONF_H */
