/*
 * fakedns — an LD_PRELOAD shim for the fault suites: name resolution that fails, or never
 * answers, without a network.
 *
 * The tests run where there may be no network and no resolver at all, and whatever one there is
 * must not decide the outcome. The fault suite therefore starts `vigie run` with this library in
 * LD_PRELOAD; it replaces getaddrinfo(3) (libcurl's threaded resolver calls it on a thread of its
 * own) for three names under the reserved .test domain (RFC 2606) and passes every other name to
 * the C library:
 *
 *   nxdomain.vigie.test   fails at once with EAI_NONAME (the name does not exist)
 *   blackhole.vigie.test  never answers: the calling thread sleeps (up to FAKEDNS_HANG_S seconds,
 *                         then EAI_AGAIN, so nothing waits on it forever)
 *   loopback.vigie.test   resolves to 127.0.0.1 (a control: it proves the shim is loaded)
 *
 * Built as $(BUILD)/tests/fakedns.so by `make faults`; not linked into the runner.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define FAKEDNS_HANG_S 120

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
    gai_fn real = NULL;

    /* ISO C has no cast from an object pointer to a function pointer; POSIX guarantees the
     * representation. */
    if (sym)
        memcpy(&real, &sym, sizeof(real));

    if (node && strcasecmp(node, "nxdomain.vigie.test") == 0)
        return EAI_NONAME;
    if (node && strcasecmp(node, "blackhole.vigie.test") == 0) {
        struct timespec left = {FAKEDNS_HANG_S, 0};

        while (nanosleep(&left, &left) != 0)
            ;
        return EAI_AGAIN;
    }
    if (node && strcasecmp(node, "loopback.vigie.test") == 0)
        node = "127.0.0.1";
    if (!real)
        return EAI_SYSTEM;
    return real(node, service, hints, res);
}
