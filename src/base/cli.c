/* cli — one getopt_long loop for every command. See cli.h. */
#include "base/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void cli_init(struct cli *c, const char *who, int argc, char **argv, const char *shortopts,
              const struct option *longopts)
{
    c->argc = argc;
    c->argv = argv;
    c->who = who;
    c->longopts = longopts;
    snprintf(c->optstring, sizeof(c->optstring), ":%s", shortopts);
    optind = 0; /* glibc: start again from argv[1], state included */
    opterr = 0; /* the messages are ours */
}

int cli_next(struct cli *c)
{
    int li = -1, o = getopt_long(c->argc, c->argv, c->optstring, c->longopts, &li);
    /* After a long option getopt has moved past it; a short one is named by optopt (it may sit
     * in a group, "-vx", that getopt has not left yet). */
    const char *arg = optind > 0 && optind <= c->argc ? c->argv[optind - 1] : "";
    char opt[3] = {'-', (char)optopt, '\0'};
    bool is_long = strncmp(arg, "--", 2) == 0 || !optopt;

    if (o == '?')
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", c->who, is_long ? arg : opt);
    else if (o == ':')
        fprintf(stderr, "%s: %.*s needs a value\n", c->who, is_long ? (int)strcspn(arg, "=") : 2,
                is_long ? arg : opt);
    if (li >= 0)
        snprintf(c->name, sizeof(c->name), "--%s", c->longopts[li].name);
    else
        snprintf(c->name, sizeof(c->name), "-%c", o > 0 && o < 256 ? o : '?');
    return o == ':' ? '?' : o;
}
