/* container_of: the struct that embeds `member` at `ptr` (libuv callbacks hand back the handle,
 * the owner is recovered from it). */
#ifndef VIGIE_CONTAINER_H
#define VIGIE_CONTAINER_H

#include <stddef.h>

/* clang-format off */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* clang-format on */

#endif
