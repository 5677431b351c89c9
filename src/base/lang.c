/* lang — the page languages. See lang.h. */
#include "base/lang.h"

#include <errno.h>
#include <string.h>

const char *const lang_names[LANG__COUNT + 1] = {"fr", "en", NULL};

int lang_parse(const char *s, enum lang *out)
{
    for (int i = 0; s && i < LANG__COUNT; i++) {
        if (strcmp(s, lang_names[i]) == 0) {
            *out = (enum lang)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *lang_name(enum lang l)
{
    return (unsigned)l < LANG__COUNT ? lang_names[l] : lang_names[LANG_FR];
}
