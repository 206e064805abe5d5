/*
 * sl_core_worker.c: the main-context directives that shape worker processes: user,
 * worker_priority, worker_cpu_affinity.  The master applies them to each worker it forks.
 */
#include <grp.h>
#include <pwd.h>

#include "sl_core_worker.h"
#include "sl_pool.h"

#define SL_DEFAULT_USER "nobody"
#define SL_DEFAULT_GROUP "nogroup"

char *sl__set_worker_priority(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t *ccf = conf;
    sl_str_t *value = cf->args->elts;
    sl_str_t n = value[1];
    int minus = 0;

    if (ccf->priority != SL_CONF_UNSET) {
        return "is duplicate";
    }
    if (n.len && (n.data[0] == '-' || n.data[0] == '+')) {
        minus = n.data[0] == '-';
        n.data++;
        n.len--;
    }
    sl_int_t v = sl_atoi(n.data, n.len);
    if (v == SL_ERROR) {
        return "invalid number";
    }
    ccf->priority = minus ? -v : v;
    return SL_CONF_OK;
}

/* "0101": the rightmost digit is CPU 0, as in nginx's masks. */
static char *parse_cpu_mask(sl_conf_t *cf, const sl_str_t *mask, cpu_set_t *set)
{
    CPU_ZERO(set);
    if (mask->len > CPU_SETSIZE) {
        sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                          "\"worker_cpu_affinity\" supports up to %d CPUs only", CPU_SETSIZE);
        return SL_CONF_ERROR;
    }
    for (size_t i = 0; i < mask->len; i++) {
        u_char ch = mask->data[mask->len - 1 - i];

        if (ch == '1') {
            CPU_SET(i, set);
        } else if (ch != '0') {
            sl_conf_log_error(SL_LOG_EMERG, cf, 0,
                              "invalid character \"%c\" in \"worker_cpu_affinity\"", ch);
            return SL_CONF_ERROR;
        }
    }
    return SL_CONF_OK;
}

char *sl__set_cpu_affinity(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t *ccf = conf;
    sl_str_t *value = cf->args->elts;
    sl_uint_t first = 1;

    if (ccf->cpu_affinity_n || ccf->cpu_affinity_auto) {
        return "is duplicate";
    }
    if (sl_str_eq_cstr(&value[1], "auto")) {
        if (cf->args->nelts > 3) {
            return "has too many arguments";
        }
        ccf->cpu_affinity_auto = 1;
        first = 2;
    }
    sl_uint_t n = cf->args->nelts - first;
    if (n == 0) {
        return SL_CONF_OK;
    }
    ccf->cpu_affinity = sl_pcalloc(cf->pool, n * sizeof(cpu_set_t));
    if (ccf->cpu_affinity == NULL) {
        return SL_CONF_ERROR;
    }
    for (sl_uint_t i = 0; i < n; i++) {
        if (parse_cpu_mask(cf, &value[first + i], &ccf->cpu_affinity[i]) != SL_CONF_OK) {
            return SL_CONF_ERROR;
        }
    }
    ccf->cpu_affinity_n = n;
    return SL_CONF_OK;
}

static char *lookup_user(sl_conf_t *cf, sl_core_conf_t *ccf, const char *user, const char *group)
{
    struct passwd *pw;
    struct group *gr;

    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "getpwnam(\"%s\") failed", user);
        return SL_CONF_ERROR;
    }
    errno = 0;
    gr = getgrnam(group);
    if (gr == NULL) {
        sl_conf_log_error(SL_LOG_EMERG, cf, errno, "getgrnam(\"%s\") failed", group);
        return SL_CONF_ERROR;
    }
    ccf->username = user;
    ccf->user = pw->pw_uid;
    ccf->group = gr->gr_gid;
    return SL_CONF_OK;
}

/* user NAME [GROUP]: the group defaults to the user's name, as nginx does. */
char *sl__set_user(sl_conf_t *cf, sl_command_t *cmd, void *conf)
{
    sl_core_conf_t *ccf = conf;
    sl_str_t *value = cf->args->elts;

    if (ccf->user != (uid_t) SL_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    if (geteuid() != 0) {
        sl_conf_log_error(SL_LOG_WARN, cf, 0,
                          "the \"user\" directive makes sense only if the master process runs "
                          "with super-user privileges, ignored");
        return SL_CONF_OK;
    }
    const char *group = (const char *) value[cf->args->nelts == 2 ? 1 : 2].data;
    return lookup_user(cf, ccf, (const char *) value[1].data, group);
}

/* Root without a "user" directive: workers run as nobody, as nginx's default build. */
sl_int_t sl__init_user(sl_cycle_t *cycle, sl_core_conf_t *ccf)
{
    if (ccf->user != (uid_t) SL_CONF_UNSET_UINT || geteuid() != 0) {
        return SL_OK;
    }
    struct passwd *pw = getpwnam(SL_DEFAULT_USER);
    struct group *gr = getgrnam(SL_DEFAULT_GROUP);

    if (pw == NULL || gr == NULL) {
        sl_log_error(SL_LOG_EMERG, cycle->log, errno, "%s(\"%s\") failed",
                     pw == NULL ? "getpwnam" : "getgrnam",
                     pw == NULL ? SL_DEFAULT_USER : SL_DEFAULT_GROUP);
        return SL_ERROR;
    }
    ccf->username = SL_DEFAULT_USER;
    ccf->user = pw->pw_uid;
    ccf->group = gr->gr_gid;
    return SL_OK;
}

/* auto: worker n gets the n-th allowed CPU (wrapping), within the mask if one is given. */
static const cpu_set_t *auto_affinity(sl_core_conf_t *ccf, sl_uint_t n, cpu_set_t *out)
{
    cpu_set_t allowed;

    if (ccf->cpu_affinity_n) {
        allowed = ccf->cpu_affinity[0];
    } else if (sched_getaffinity(0, sizeof(allowed), &allowed) == -1) {
        return NULL;
    }
    int count = CPU_COUNT(&allowed);
    if (count == 0) {
        return NULL;
    }
    sl_uint_t want = n % (sl_uint_t) count;
    CPU_ZERO(out);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &allowed) && want-- == 0) {
            CPU_SET(cpu, out);
            return out;
        }
    }
    return NULL;
}

const cpu_set_t *sl_core_cpu_affinity(sl_core_conf_t *ccf, sl_uint_t n)
{
    static cpu_set_t set;

    if (ccf->cpu_affinity_auto) {
        return auto_affinity(ccf, n, &set);
    }
    if (ccf->cpu_affinity_n == 0) {
        return NULL;
    }
    return &ccf->cpu_affinity[n < ccf->cpu_affinity_n ? n : ccf->cpu_affinity_n - 1];
}
