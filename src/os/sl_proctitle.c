/*
 * sl_proctitle.c: the process title over argv's and environ's memory.
 */
#include <stdio.h>

#include "sl_proctitle.h"

extern char **environ;

static char *title_start;
static char *title_end;
static char *cmdline;
/* the copies live as long as the process: held here, not only by their users */
static char **saved_args;
static char *args_strings;
static char *env_strings;

/* The end of the run of strings that starts at argv[0]: each ends where the next begins. */
static char *strings_end(char **argv, char **env)
{
    char *end = argv[0] + strlen(argv[0]) + 1;

    for (int i = 1; argv[i]; i++) {
        if (argv[i] == end) {
            end = argv[i] + strlen(argv[i]) + 1;
        }
    }
    for (int i = 0; env && env[i]; i++) {
        if (env[i] == end) {
            end = env[i] + strlen(env[i]) + 1;
        }
    }
    return end;
}

/*
 * A heap copy of a NULL-terminated array of strings: the pointers in one block, the strings
 * in another, kept in *strings.  The block keeps every string reachable even after
 * unsetenv() drops one from the array (the listening sockets' variables are).
 */
static char **copy_strings(char **v, char **strings)
{
    size_t n = 0, len = 0;

    while (v[n]) {
        len += strlen(v[n++]) + 1;
    }
    char **copy = malloc((n + 1) * sizeof(char *));
    char *p = malloc(len ? len : 1);
    if (copy == NULL || p == NULL) {
        free(copy);
        free(p);
        return NULL;
    }
    *strings = p;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        copy[i] = memcpy(p, v[i], l);
        p += l;
    }
    copy[n] = NULL;
    return copy;
}

/* "a b c": the arguments joined, for the master's title. */
static char *join(char **argv)
{
    size_t len = 1;

    for (int i = 0; argv[i]; i++) {
        len += strlen(argv[i]) + 1;
    }
    char *s = malloc(len), *p = s;
    if (s == NULL) {
        return NULL;
    }
    for (int i = 0; argv[i]; i++) {
        p += sprintf(p, "%s%s", i ? " " : "", argv[i]);
    }
    *p = '\0';
    return s;
}

char **sl_init_setproctitle(char **argv)
{
    char **args = saved_args = copy_strings(argv, &args_strings);
    char **env = environ ? copy_strings(environ, &env_strings) : NULL;

    cmdline = args ? join(args) : NULL;
    if (args == NULL || (environ && env == NULL) || cmdline == NULL) {
        return NULL;
    }
    title_start = argv[0];
    title_end = strings_end(argv, environ);
    /* the originals' memory is the title's now: nothing may point into it */
    if (env) {
        environ = env;
    }
    return args;
}

const char *sl_proctitle_cmdline(void)
{
    return cmdline ? cmdline : "";
}

void sl_setproctitle(const char *title)
{
    if (title_start == NULL) {
        return;
    }
    size_t room = (size_t) (title_end - title_start);
    int n = snprintf(title_start, room, "sluice: %s", title);
    size_t used = n < 0 ? 0 : sl_min((size_t) n + 1, room);

    memset(title_start + used, 0, room - used);
}
