/* result — what one check of one probe measured, and its verdict. A value type. */
#ifndef VIGIE_RESULT_H
#define VIGIE_RESULT_H

#include <stdint.h>
#include <time.h>

/* The error class of a check. A probe's outcome is not an error of vigie. */
enum outcome {
    OUTCOME_OK,
    OUTCOME_DNS,           /* name could not be resolved */
    OUTCOME_CONNECT,       /* TCP connection refused/unreachable */
    OUTCOME_TLS,           /* handshake or certificate verification failed */
    OUTCOME_TIMEOUT,       /* the total or connect timeout fired */
    OUTCOME_HTTP_STATUS,   /* status not in the expected set */
    OUTCOME_CONTENT,       /* body substring or regex not found */
    OUTCOME_TOO_LARGE,     /* body larger than the cap */
    OUTCOME_REDIRECT_LOOP, /* more redirects than allowed */
    OUTCOME_PROTOCOL,      /* invalid HTTP, connection closed early, forbidden redirect scheme */
    OUTCOME_INTERNAL,      /* vigie could not run the check (out of memory, ...) */
    OUTCOME__COUNT
};

const char *outcome_str(enum outcome o);

/* ok: answered as expected, in time. degraded: answered as expected but slow (total ≥ the slow
 * threshold) or with a certificate expiring within the configured days. down: anything else. */
enum verdict { VERDICT_OK, VERDICT_DEGRADED, VERDICT_DOWN };

const char *verdict_str(enum verdict v);

struct result;

/* Sets *res to a failure of vigie itself (outcome internal, verdict down, phases not reached)
 * with a printf-style reason. */
void result_internal(struct result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define RESULT_MSG_MAX 256
#define RESULT_URL_MAX 512

struct result {
    /* Phase end times from the start of the transfer, microseconds; -1 when not reached. These
     * are libcurl's CURLINFO_*_TIME_T, cumulated over redirects. */
    int64_t dns_us;     /* name resolved */
    int64_t connect_us; /* TCP connected */
    int64_t tls_us;     /* TLS handshake done (appconnect); -1 for plain http */
    int64_t pretransfer_us;
    int64_t ttfb_us;     /* first byte received */
    int64_t total_us;    /* transfer done */
    int64_t redirect_us; /* time spent in redirects before the final request */
    int64_t response_us; /* ttfb - pretransfer: the server's think time (summed over redirect
                          * hops, like every libcurl phase time) */
    long status;         /* last HTTP status, 0 if none */
    int64_t bytes;       /* body bytes received (all of them, even past the cap) */
    long redirects;
    int http_version;    /* of the last response, as negotiated (ALPN): 10, 11, 20, 30; 0 none */
    int64_t cert_expiry; /* UNIX time the leaf certificate expires, 0 unknown */
    int cert_days;       /* whole days left before cert_expiry, meaningful if cert_expiry */
    int aborted;         /* vigie stopped the check (shutdown): not a measurement */
    int slow;            /* total_us >= slow threshold */
    int cert_expiring;   /* fewer days left than tls.min_days */
    enum outcome outcome;
    enum verdict verdict;
    char url[RESULT_URL_MAX]; /* effective URL, credentials removed */
    char msg[RESULT_MSG_MAX]; /* why, for a reader: curl's message or the failed expectation */
};

#endif
