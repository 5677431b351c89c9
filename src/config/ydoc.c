/* ydoc — a YAML node tree with positions, built from libyaml's event stream.
 *
 * The file is read whole (it is small: YDOC_MAX_BYTES at most) and fed to the parser as a string,
 * which lets a reader error's byte offset be turned back into a line and a column. Containers
 * being filled sit on a fixed stack of YDOC_MAX_DEPTH entries; every node is attached to its parent
 * as soon as it is created, so freeing the root frees everything at any point of a failed parse. */
#include "config/ydoc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/container.h"

struct ydoc_node {
    enum ydoc_kind kind;
    unsigned line;
    unsigned col;
    const char *file; /* the owning document's path */
    char *value;      /* scalar: NUL-terminated copy */
    size_t len;
    bool plain;
    struct ydoc_node **kids; /* sequence: items; mapping: key, value, key, value, ... */
    size_t nkids;
    size_t cap;
};

struct ydoc {
    char *path;
    struct ydoc_node *root;
};

/* The state of one load. */
struct ybuild {
    struct ydoc *doc;
    struct diag *d;
    const char *buf; /* the file's bytes, for reader error positions */
    size_t size;
    struct ydoc_node *stack[YDOC_MAX_DEPTH];
    unsigned depth;
    unsigned ndocs;
};

static void node_free(struct ydoc_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

void ydoc_free(struct ydoc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc->path);
    free(doc);
}

/* Reads the whole file into a NUL-terminated buffer. Reports its own errors. */
static int read_file(const char *path, char **out, size_t *size, struct diag *d)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0, cap;
    int fd, err = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = -errno;
        diag_add(d, path, 0, 0, "cannot open: %s", strerror(errno));
        return err;
    }
    if (fstat(fd, &st) < 0) {
        err = -errno;
        diag_add(d, path, 0, 0, "cannot stat: %s", strerror(errno));
        goto out;
    }
    if (S_ISREG(st.st_mode) && st.st_size > (off_t)YDOC_MAX_BYTES) {
        diag_add(d, path, 0, 0, "file too large (%lld bytes, limit 4 MiB)", (long long)st.st_size);
        err = -EFBIG;
        goto out;
    }
    /* Sized to the file (a regular file that grows meanwhile, or a pipe, makes it grow), up to
     * one byte more than the limit, to notice a file that is too long. */
    cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 2 : 65536;
    buf = malloc(cap);
    if (!buf) {
        diag_add(d, path, 0, 0, "out of memory");
        err = -ENOMEM;
        goto out;
    }
    while (len <= YDOC_MAX_BYTES) {
        ssize_t r;

        if (len + 1 >= cap) {
            size_t ncap = cap * 2 > YDOC_MAX_BYTES + 2 ? YDOC_MAX_BYTES + 2 : cap * 2;
            char *nb = realloc(buf, ncap);

            if (!nb) {
                diag_add(d, path, 0, 0, "out of memory");
                err = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = -errno;
            diag_add(d, path, 0, 0, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > YDOC_MAX_BYTES) {
        diag_add(d, path, 0, 0, "file too large (more than 4 MiB)");
        err = -EFBIG;
        goto out;
    }
    buf[len] = '\0';
    *out = buf;
    *size = len;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return err;
}

static void build_error(struct ybuild *b, const yaml_mark_t *m, const char *msg)
{
    diag_add(b->d, b->doc->path, (unsigned)m->line + 1, (unsigned)m->column + 1, "%s", msg);
}

/* Turns the parser's error into one diag entry at the right position. */
static void parser_error(struct ybuild *b, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "unknown error";
    const char *file = b->doc->path;

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        diag_add(b->d, file, 0, 0, "out of memory");
        break;
    case YAML_READER_ERROR: {
        /* Reader errors carry a byte offset, not a mark: count lines and characters up to it. */
        size_t off = p->problem_offset < b->size ? p->problem_offset : b->size;
        unsigned line = 1, col = 1;

        for (size_t i = 0; i < off; i++) {
            unsigned char c = (unsigned char)b->buf[i];

            if (c == '\n') {
                line++;
                col = 1;
            } else if ((c & 0xC0) != 0x80) {
                col++;
            }
        }
        if (strstr(problem, "UTF-8") || strstr(problem, "Unicode")) {
            if (p->problem_value >= 0)
                diag_add(b->d, file, line, col, "invalid UTF-8: %s #x%02X", problem,
                         (unsigned)p->problem_value);
            else
                diag_add(b->d, file, line, col, "invalid UTF-8: %s", problem);
        } else if (p->problem_value >= 0) {
            diag_add(b->d, file, line, col, "invalid character: %s (#x%X)", problem,
                     (unsigned)p->problem_value);
        } else {
            diag_add(b->d, file, line, col, "invalid input: %s", problem);
        }
        break;
    }
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    default:
        if (p->context)
            diag_add(b->d, file, (unsigned)p->problem_mark.line + 1,
                     (unsigned)p->problem_mark.column + 1,
                     "syntax error: %s (%s at line %u, column %u)", problem, p->context,
                     (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
        else
            diag_add(b->d, file, (unsigned)p->problem_mark.line + 1,
                     (unsigned)p->problem_mark.column + 1, "syntax error: %s", problem);
        break;
    }
}

/* Creates a node at the event's start and attaches it to the open container (or makes it the
 * root). Returns NULL on allocation failure, reported. */
static struct ydoc_node *node_add(struct ybuild *b, enum ydoc_kind kind, const yaml_event_t *ev)
{
    struct ydoc_node *n = calloc(1, sizeof(*n));
    struct ydoc_node *parent;

    if (!n)
        goto nomem;
    n->kind = kind;
    n->line = (unsigned)ev->start_mark.line + 1;
    n->col = (unsigned)ev->start_mark.column + 1;
    n->file = b->doc->path;
    if (b->depth == 0) {
        b->doc->root = n;
        return n;
    }
    parent = b->stack[b->depth - 1];
    if (parent->nkids == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct ydoc_node **kids = realloc(parent->kids, cap * sizeof(*kids));

        if (!kids)
            goto nomem;
        parent->kids = kids;
        parent->cap = cap;
    }
    parent->kids[parent->nkids++] = n;
    return n;
nomem:
    free(n);
    diag_add(b->d, b->doc->path, 0, 0, "out of memory");
    return NULL;
}

static int on_scalar(struct ybuild *b, const yaml_event_t *ev)
{
    struct ydoc_node *n;

    n = node_add(b, YDOC_SCALAR, ev);
    if (!n)
        return -ENOMEM;
    n->len = ev->data.scalar.length;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    n->value = malloc(n->len + 1);
    if (!n->value) {
        diag_add(b->d, b->doc->path, 0, 0, "out of memory");
        return -ENOMEM;
    }
    memcpy(n->value, ev->data.scalar.value, n->len);
    n->value[n->len] = '\0';
    return 0;
}

static int on_start(struct ybuild *b, enum ydoc_kind kind, const yaml_event_t *ev)
{
    struct ydoc_node *n;

    if (b->depth == YDOC_MAX_DEPTH) {
        build_error(b, &ev->start_mark, "nesting deeper than 32 levels");
        return -EINVAL;
    }
    n = node_add(b, kind, ev);
    if (!n)
        return -ENOMEM;
    b->stack[b->depth++] = n;
    return 0;
}

/* Handles one event; returns 1 at the end of the stream, 0 to go on, or a negative errno. */
static int on_event(struct ybuild *b, const yaml_event_t *ev)
{
    const yaml_char_t *anchor = NULL;

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        break;
    default:
        break;
    }
    if (anchor || ev->type == YAML_ALIAS_EVENT) {
        build_error(b, &ev->start_mark, "anchors and aliases are not supported");
        return -EINVAL;
    }
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->ndocs++ > 0) {
            build_error(b, &ev->start_mark, "only one document per file");
            return -EINVAL;
        }
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, YDOC_SEQUENCE, ev);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, YDOC_MAPPING, ev);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return 0;
    case YAML_STREAM_END_EVENT:
        return 1;
    default:
        return 0;
    }
}

int ydoc_load(const char *path, struct ydoc **out, struct diag *d)
{
    struct ybuild b;
    yaml_parser_t parser;
    bool parser_ok = false;
    char *buf = NULL;
    size_t size = 0;
    int err;

    *out = NULL;
    memset(&b, 0, sizeof(b));
    b.d = d;
    b.doc = calloc(1, sizeof(*b.doc));
    if (b.doc)
        b.doc->path = strdup(path);
    if (!b.doc || !b.doc->path) {
        diag_add(d, path, 0, 0, "out of memory");
        err = -ENOMEM;
        goto out;
    }
    err = read_file(path, &buf, &size, d);
    if (err < 0)
        goto out;
    if (size == 0) {
        diag_add(d, path, 0, 0, "empty file");
        err = -EINVAL;
        goto out;
    }
    b.buf = buf;
    b.size = size;
    if (!yaml_parser_initialize(&parser)) {
        diag_add(d, path, 0, 0, "out of memory");
        err = -ENOMEM;
        goto out;
    }
    parser_ok = true;
    /* Forcing UTF-8 makes a UTF-16 byte order mark an encoding error instead of a switch. */
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, size);
    for (;;) {
        yaml_event_t ev;

        if (!yaml_parser_parse(&parser, &ev)) {
            parser_error(&b, &parser);
            err = -EINVAL;
            goto out;
        }
        err = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (err < 0)
            goto out;
        if (err == 1)
            break;
    }
    err = 0;
    if (!b.doc->root) {
        diag_add(d, path, 0, 0, "empty file");
        err = -EINVAL;
        goto out;
    }
    *out = b.doc;
    b.doc = NULL;
out:
    if (parser_ok)
        yaml_parser_delete(&parser);
    free(buf);
    ydoc_free(b.doc);
    return err;
}

const struct ydoc_node *ydoc_root(const struct ydoc *doc)
{
    return doc->root;
}

const char *ydoc_path(const struct ydoc *doc)
{
    return doc->path;
}

enum ydoc_kind ydoc_kind(const struct ydoc_node *n)
{
    return n->kind;
}

const char *ydoc_describe(const struct ydoc_node *n)
{
    switch (n->kind) {
    case YDOC_SEQUENCE:
        return "a sequence";
    case YDOC_MAPPING:
        return "a mapping";
    case YDOC_SCALAR:
    default:
        return ydoc_is_null(n) ? "an empty value" : "a scalar";
    }
}

const char *ydoc_file(const struct ydoc_node *n)
{
    return n->file;
}

unsigned ydoc_line(const struct ydoc_node *n)
{
    return n->line;
}

unsigned ydoc_col(const struct ydoc_node *n)
{
    return n->col;
}

const char *ydoc_scalar(const struct ydoc_node *n, size_t *len)
{
    if (n->kind != YDOC_SCALAR)
        return NULL;
    if (len)
        *len = n->len;
    return n->value;
}

bool ydoc_is_plain(const struct ydoc_node *n)
{
    return n->kind == YDOC_SCALAR && n->plain;
}

bool ydoc_is_null(const struct ydoc_node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (!ydoc_is_plain(n))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(nulls); i++) {
        if (strcmp(n->value, nulls[i]) == 0)
            return true;
    }
    return false;
}

size_t ydoc_count(const struct ydoc_node *n)
{
    switch (n->kind) {
    case YDOC_SEQUENCE:
        return n->nkids;
    case YDOC_MAPPING:
        return n->nkids / 2;
    case YDOC_SCALAR:
    default:
        return 0;
    }
}

const struct ydoc_node *ydoc_item(const struct ydoc_node *n, size_t i)
{
    if (n->kind != YDOC_SEQUENCE || i >= n->nkids)
        return NULL;
    return n->kids[i];
}

const struct ydoc_node *ydoc_key(const struct ydoc_node *n, size_t i)
{
    if (n->kind != YDOC_MAPPING || i >= n->nkids / 2)
        return NULL;
    return n->kids[2 * i];
}

const struct ydoc_node *ydoc_value(const struct ydoc_node *n, size_t i)
{
    if (n->kind != YDOC_MAPPING || i >= n->nkids / 2)
        return NULL;
    return n->kids[2 * i + 1];
}

const struct ydoc_node *ydoc_get(const struct ydoc_node *n, const char *key)
{
    size_t klen = strlen(key);

    for (size_t i = 0; i < ydoc_count(n) && n->kind == YDOC_MAPPING; i++) {
        const struct ydoc_node *k = n->kids[2 * i];

        if (k->kind == YDOC_SCALAR && k->len == klen && memcmp(k->value, key, klen) == 0)
            return n->kids[2 * i + 1];
    }
    return NULL;
}
