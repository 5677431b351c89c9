/* container_of: the struct that embeds `member` at `ptr` (libuv callbacks hand back the handle,
 * the owner is recovered from it). ARRAY_SIZE: the number of elements of an array (not a
 * pointer). */
#ifndef VIGIE_CONTAINER_H
#define VIGIE_CONTAINER_H

#include <stddef.h>

/* clang-format off */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* clang-format on */

#endif
