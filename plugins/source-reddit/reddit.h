/* SPDX-License-Identifier: MIT */
/*
 * reddit.h - the pure helpers of the Reddit source that its unit test reaches directly: the
 * reader of Reddit's Atom listings (reddit-atom.c), used when the source runs without OAuth.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "earshot-plugin.h"

/* One <entry> of a Reddit Atom listing; every string malloc()ed, NULL when absent. */
typedef struct AtomEntry {
        char *id;        /* <id>: a fullname, "t3_abc" or "t1_def" */
        char *author;    /* <author><name> without "/u/" */
        char *link;      /* <link href>, an http(s) URL */
        char *title;     /* <title>, as plain text */
        char *text;      /* the post's own text from <content>, as plain text ("" when none) */
        int64_t created; /* <published> (else <updated>), µs since the epoch; 0 when unknown */
        int64_t edited;  /* <updated> when later than <published>; 0 otherwise */
} AtomEntry;

/* At most this many entries are read from one document. */
#define ATOM_ENTRIES_MAX 500

/*
 * Parse an Atom document as Reddit serves its .rss listings into *ret (n entries, document
 * order, newest first). Content of type "html" (escaped) or "xhtml" (inline) is reduced to the
 * post's own text: the Markdown block between Reddit's <!-- SC_OFF --> and <!-- SC_ON -->
 * markers, else everything before the "submitted by" footer, converted with the host's
 * html_to_text. Returns 0, -EBADMSG with the reason in *ret_why when the body is not an Atom
 * feed, or -ENOMEM. Free with atom_entries_free().
 */
int reddit_atom_parse(const struct earshot_host *h, const char *body, size_t len, AtomEntry **ret,
                      size_t *ret_n, const char **ret_why);

void atom_entries_free(AtomEntry *e, size_t n);
