/* http — the value types of an HTTP request that both the configuration and the transport name:
 * which IP family, which HTTP version, a request header. Kept below config so that httpc, which
 * runs requests, never includes the configuration that describes probes. */
#ifndef VIGIE_HTTP_H
#define VIGIE_HTTP_H

enum ip_version { IPV_ANY, IPV_4, IPV_6 };

enum http_version { HTTPV_AUTO, HTTPV_1_1, HTTPV_2 };

struct header {
    char *name;
    char *value;
};

#endif
