/* bench/bare.c — the bench's calibration: a bare libcurl multi loop, nothing else.
 *
 *   bench-bare URL RATE SECONDS
 *
 * Starts RATE GET requests a second on fresh connections (as vigie does: FORBID_REUSE), for
 * SECONDS, with curl_multi_poll() and no event library, no recording, no scheduling beyond a
 * fixed pace; then prints one line of figures:
 *
 *   done N ok N cpu_s X cpu_per_1k X user_s X sys_s X total_mean_ms X total_max_ms X rss_kib N
 *
 * The targets were set against such a loop measured "on this machine" (0.07 CPU-s per
 * 1,000); the machine under a bench run is not always that one, nor as fast: bench/run runs this
 * first, pinned like vigie, against the same farm, and prints vigie's figures as ratios to it. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static size_t sink(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    const char *url;
    double rate, secs, t0, next, sum = 0, max = 0;
    long started = 0, done = 0, ok = 0;
    struct rusage ru;
    CURLM *m;

    if (argc != 4 || (rate = atof(argv[2])) <= 0 || (secs = atof(argv[3])) <= 0) {
        fprintf(stderr, "usage: bench-bare URL RATE SECONDS\n");
        return 2;
    }
    url = argv[1];
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(m = curl_multi_init())) {
        fprintf(stderr, "bench-bare: cannot initialise libcurl\n");
        return 1;
    }
    t0 = next = now_s();
    for (;;) {
        double t = now_s();
        long timeout_ms;
        int running, queued;
        CURLMsg *msg;

        if (t >= t0 + secs && done == started)
            break;
        for (; next <= t && next < t0 + secs; next += 1.0 / rate) {
            CURL *e = curl_easy_init();

            if (!e)
                break;
            curl_easy_setopt(e, CURLOPT_URL, url);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
            curl_multi_add_handle(m, e);
            started++;
        }
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &queued))) {
            double total = 0;
            long status = 0;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_TOTAL_TIME, &total);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            ok += msg->data.result == CURLE_OK && status == 200;
            sum += total;
            if (total > max)
                max = total;
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            done++;
        }
        /* wake for the next start (rounded up: never early) or for curl's own timeout */
        timeout_ms = next < t0 + secs ? (long)((next - now_s()) * 1000 + 0.999) : 100;
        if (timeout_ms < 0)
            timeout_ms = 0;
        {
            long ct = -1;

            curl_multi_timeout(m, &ct);
            if (ct >= 0 && ct < timeout_ms)
                timeout_ms = ct;
        }
        curl_multi_poll(m, NULL, 0, (int)timeout_ms, NULL);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("done %ld ok %ld cpu_s %.3f cpu_per_1k %.4f user_s %.3f sys_s %.3f total_mean_ms %.3f "
           "total_max_ms %.3f rss_kib %ld\n",
           done, ok, tv_s(ru.ru_utime) + tv_s(ru.ru_stime),
           done ? (tv_s(ru.ru_utime) + tv_s(ru.ru_stime)) / (double)done * 1000 : 0,
           tv_s(ru.ru_utime), tv_s(ru.ru_stime), done ? sum / (double)done * 1000 : 0, max * 1000,
           ru.ru_maxrss);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return ok == done && done > 0 ? 0 : 1;
}
