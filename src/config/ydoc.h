/* ydoc — one YAML file loaded into a read-only node tree that remembers where every node was.
 *
 * Built from libyaml's event API. Only what a configuration needs is accepted: one document, UTF-8,
 * at most YDOC_MAX_DEPTH levels of nesting, no anchors or aliases, at most YDOC_MAX_BYTES bytes.
 * Tags are ignored. Every node, its strings and its file name are owned by the struct ydoc and
 * live until ydoc_free. Lines and columns are 1-based. */
#ifndef VIGIE_YDOC_H
#define VIGIE_YDOC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"

#define YDOC_MAX_BYTES (4u << 20)
#define YDOC_MAX_DEPTH 32

struct ydoc;
struct ydoc_node;

enum ydoc_kind { YDOC_SCALAR, YDOC_SEQUENCE, YDOC_MAPPING };

/* Reads and parses `path`. On success returns 0 and a document the caller owns (ydoc_free). On
 * failure appends one error to `d` (cannot open, too large, empty, invalid UTF-8, syntax error with
 * libyaml's position, too deep, alias, several documents) and returns a negative errno with
 * *out = NULL. */
int ydoc_load(const char *path, struct ydoc **out, struct diag *d);

void ydoc_free(struct ydoc *doc);

/* The root node (never NULL for a loaded document) and the file name as given to ydoc_load. */
const struct ydoc_node *ydoc_root(const struct ydoc *doc);
const char *ydoc_path(const struct ydoc *doc);

enum ydoc_kind ydoc_kind(const struct ydoc_node *n);

/* "a scalar", "a sequence", "a mapping", or "an empty value" for a null scalar: for messages such
 * as "expected a mapping, found a sequence". */
const char *ydoc_describe(const struct ydoc_node *n);

/* Where the node starts, and the file it came from (the document's path). */
const char *ydoc_file(const struct ydoc_node *n);
unsigned ydoc_line(const struct ydoc_node *n);
unsigned ydoc_col(const struct ydoc_node *n);

/* A scalar's value, NUL-terminated, with its length in *len when len is not NULL (the value may
 * hold a NUL byte written as "\0" in a double-quoted scalar: compare *len with strlen). NULL for a
 * sequence or a mapping. */
const char *ydoc_scalar(const struct ydoc_node *n, size_t *len);

/* True for a plain (unquoted, non-block) scalar. */
bool ydoc_is_plain(const struct ydoc_node *n);

/* True for a YAML null: an empty plain scalar, "~", "null", "Null" or "NULL". */
bool ydoc_is_null(const struct ydoc_node *n);

/* Items of a sequence, pairs of a mapping (in file order); 0 for a scalar. */
size_t ydoc_count(const struct ydoc_node *n);

/* The i-th item of a sequence; the i-th key and value of a mapping. NULL when out of range or of
 * the wrong kind. */
const struct ydoc_node *ydoc_item(const struct ydoc_node *n, size_t i);
const struct ydoc_node *ydoc_key(const struct ydoc_node *n, size_t i);
const struct ydoc_node *ydoc_value(const struct ydoc_node *n, size_t i);

/* The value of the first pair of mapping `n` whose key is the scalar `key`, or NULL. */
const struct ydoc_node *ydoc_get(const struct ydoc_node *n, const char *key);

#endif
