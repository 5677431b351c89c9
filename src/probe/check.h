/* check — one HTTP check of one probe: builds the request from the probe, submits it to httpc,
 * and judges the answer against the probe's expectations (status set, body substring and regex,
 * certificate days, slow threshold) into a struct result with its outcome and verdict. */
#ifndef VIGIE_CHECK_H
#define VIGIE_CHECK_H

#include "config/config.h"
#include "net/httpc.h"
#include "net/result.h"

/* Called once per check on the loop thread; `res` is valid during the call only. */
typedef void (*check_done_cb)(void *arg, const struct probe *p, const struct result *res);

/* Starts a check of `p` now. `p` and `cfg` must outlive the check. Returns 0 or a negative errno
 * (callback not called). */
int check_start(struct httpc *h, const struct config *cfg, const struct probe *p, check_done_cb cb,
                void *arg);

/* Applies the probe's expectations to a transport result (exported for tests): sets outcome,
 * verdict, slow, cert_expiring, msg. `now` is the wall-clock time used for certificate days. */
void check_judge(const struct probe *p, struct result *res, const char *body, size_t len,
                 int64_t now);

#endif
