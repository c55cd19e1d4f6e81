/* SPDX-License-Identifier: MIT */
/*
 * match.c - every term compiled into one automaton over words (see match.h).
 *
 * Guarantees: matcher_scan() reads the text once, folding and splitting it as it goes, and its
 * words are exactly the words of text_fold() followed by the splitting rules below (same bytes,
 * same '#'/'@' flags). Work per word is bounded by the matcher alone (a hash probe or two, a walk
 * of the prefix trie, one step per live phrase state), never by how much text came before, so a
 * scan is linear in the text; there are no regular expressions and no backtracking. A warm Scan
 * allocates nothing unless a text is longer or has more words, hits or a longer word than any
 * before. Every
 * size is checked, every allocation failure comes back as -ENOMEM. A Matcher is immutable once
 * built and may be shared between threads; the Unicode tables below are built once per process
 * (pthread_once) into static storage and are read-only afterwards.
 *
 * Word boundaries, applied identically to texts and terms (on folded code points):
 *   - letters (L*), marks (M*), numbers (N*) and connector punctuation (Pc, '_') make words;
 *   - other symbols (So, e.g. emoji), emoji code points not yet assigned in utf8proc's tables,
 *     and Han ideographs and Hiragana are words of one code point each: "so angry😡😡" has the
 *     words "so" "angry" "😡" "😡", and a CJK term, written without spaces like the text, matches
 *     as a phrase of its characters. Marks right after such a word are skipped, so a keycap or
 *     enclosing mark neither becomes a word nor glues onto the next one;
 *   - everything else separates, including skin-tone modifiers (Sk) and U+FFFD, which stands for
 *     bytes that were never text (invalid UTF-8, NUL). ZWJ and variation selectors never get
 *     here: folding strips default-ignorable code points.
 * Scripts written without spaces other than Chinese and Japanese (Thai, Lao, Khmer, Burmese) have
 * no word boundaries without a dictionary: there a term matches only a whole run of letters.
 *
 * Folding as we go. NFKC is not a per-character map: a starter composes with the marks after
 * it (e + U+0301 = é) and ignorables vanish from between them. But the text can be cut, without
 * changing the result, before any code point whose folding is non-empty and starts with a
 * starter that is never the second half of a canonical composition: nothing before the cut
 * can compose across it. Such "boundary" code points are marked in a table computed once from
 * utf8proc; ASCII is always one. Each boundary code point followed by another boundary is
 * folded by table (ASCII: a 256-byte table; the BMP: a precomputed folding; plane 1, emoji
 * included, folds to itself where it is a boundary, and a table gives its class), and only a
 * boundary code point followed by non-boundary ones (marks, ignorables, Hangul jamo, ...) is
 * folded together with them by utf8proc (text_fold_utf32(), the same options as text_fold()).
 * The scan loop works on runs: ASCII letters, digits and '_' eight bytes at a time (classified,
 * lower-cased and measured in a 64-bit register), two-byte letters (Latin-1, Greek, Cyrillic)
 * through a table of their foldings, ASCII separators eight at a time; the last character of a
 * run stays out of it when the character after the run is no boundary (e + U+0301), and goes to
 * utf8proc with it. Only the current word is written out, into a small buffer. In front of that
 * loop, a fast path (scan_fast()) takes the words most posts are made of, 16 bytes at a time, on
 * a copy of the text padded with zeros: ASCII word characters classified and lower-cased with
 * SSE2 (eight-byte SWAR where SSE2 is missing), Cyrillic U+0400..U+045F folded two bytes a lane,
 * other two-byte letters by table, and the separator run after a word read off the same window.
 * It hands anything else (a code point of three or more bytes, a mark, a separator before one)
 * back to the general loop, whole words at a time, and spans to it entirely; a property test
 * checks the two give the same words and hits.
 *
 * The automaton. Every distinct term word gets one symbol per space it is used in, where the
 * space says whether the word must be a hashtag, a mention or either, and whether it is compared
 * accent-stripped. Exact words are keyed in one open-addressing dictionary by their folded bytes
 * alone; an entry says in which spaces its word is used and numbers those symbols consecutively,
 * so one probe gives a text word all its exact symbols (any, its own '#'/'@' space, and the
 * stripped spaces too when stripping leaves the word as it is). Only a word that accent stripping
 * changes, in a matcher with TERM_IGNORE_ACCENTS terms, is probed a second time, stripped. A
 * blocked Bloom filter in front (two bits in one 64-bit word per key, eight bits per key) answers
 * most probes, since most text words are no term word, with one load. Prefix words live in a
 * double-array byte trie keyed the same way (a load and a compare per byte), behind filters of
 * the first 4, 8 and 12 bytes of every prefix word that keep most words from walking it at all.
 * A short ASCII word is folded, hashed and checked against both filters in a register, and one
 * that passes neither is only counted. A second Bloom filter, beside the first, holds only the
 * words that start a term: while no phrase is live (nearly always), a word outside it can do
 * nothing, however often it appears inside phrases ("of", "is", "на"), and the scan reads only
 * that one. A word that passes a filter is looked up without asking the filter again.
 * Terms are paths in a trie over symbols; a scan keeps the
 * set of live trie nodes (those whose path matches the last words) and advances every one of
 * them by every symbol of the next word, through a hash of (node, symbol) -> child, and steps out
 * of the root through a flat array per symbol. A node is reached only from its parent by its own
 * symbol, so the set never holds duplicates and is never larger than the trie; nodes without
 * children are not kept, and a word without symbols empties the set. Trie nodes list the ids of
 * the terms they end, sorted. TERM_INSIDE_HASHTAGS terms are also compiled, words joined, into a
 * byte Aho-Corasick automaton (sparse goto with a dense root, failure and output links) that runs
 * over hashtag words only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util/cleanup.h"
#include "match.h"
#include "normalize.h"

#define NONE UINT32_MAX

#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)
#define _always_inline_ inline __attribute__((always_inline))

/* ---------------------------------------------------------------------------------------------
 * Code point classes and the Unicode tables
 */

typedef enum CodePointClass {
        CP_SEPARATOR,
        CP_WORD, /* part of a run */
        CP_MARK, /* part of a run, unless it follows a single */
        CP_SINGLE,
} CodePointClass;

static bool is_ideograph(int32_t cp) {
        return (cp >= 0x3040 && cp <= 0x309F) || /* Hiragana */
               (cp >= 0x3400 && cp <= 0x4DBF) || /* CJK Extension A */
               (cp >= 0x4E00 && cp <= 0x9FFF) || /* CJK Unified Ideographs */
               (cp >= 0xF900 && cp <= 0xFAFF) || /* CJK Compatibility Ideographs */
               (cp >= 0x20000 && cp <= 0x3FFFF); /* planes 2 and 3 */
}

static CodePointClass classify(int32_t cp) {
        switch (utf8proc_category(cp)) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
                return is_ideograph(cp) ? CP_SINGLE : CP_WORD;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
        case UTF8PROC_CATEGORY_PC:
                return CP_WORD;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
                return CP_MARK;
        case UTF8PROC_CATEGORY_SO:
                return cp == 0xFFFD ? CP_SEPARATOR : CP_SINGLE;
        case UTF8PROC_CATEGORY_CN:
                /* Emoji newer than utf8proc's tables live in these blocks. */
                return cp >= 0x1F000 && cp <= 0x1FFFD ? CP_SINGLE : CP_SEPARATOR;
        default:
                return CP_SEPARATOR;
        }
}

static bool is_mark_category(int32_t cp) {
        utf8proc_category_t c = utf8proc_category(cp);

        return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

/*
 * Per BMP code point, one word:
 *   BMP_BOUNDARY  the text may be cut right before it (see the top of this file)
 *   BMP_SAME      it folds to itself
 *   BMP_SLOW      its folding is too long for the pool: ask utf8proc
 *   class         the class of its folding, when that is a single code point (BMP_ONE)
 *   offset, len   its folding in bmp_pool, when not BMP_SAME
 */
enum {
        BMP_BOUNDARY = 1u << 31,
        BMP_SAME = 1u << 30,
        BMP_SLOW = 1u << 29,
        BMP_ONE = 1u << 28,
        BMP_CLASS_SHIFT = 26, /* 2 bits */
        BMP_LEN_SHIFT = 20,   /* 6 bits */
        BMP_OFFSET_MASK = (1u << 20) - 1,
};

#define BMP_POOL_SIZE (1u << 17)

static uint32_t bmp_info[0x10000];
static char bmp_pool[BMP_POOL_SIZE];
/* Code points that are not first in some canonical decomposition: possible second halves. */
static uint8_t composes_back[0x110000 / 8];
/* Accent stripping of U+0080..U+07FF: 0 = unchanged, 1 = dropped (a mark), else the base. */
static int32_t strip2[0x800];
/*
 * Per two-byte code point (U+0080..U+07FF), what the scanner needs to fold it without utf8proc
 * when a boundary follows:
 *   TWO_BOUNDARY   the text may be cut before it
 *   TWO_WORD       a boundary whose folding, bytes[0..len), continues or starts a word: a
 *                  letter first, then letters or marks
 *   TWO_SEPARATOR  a boundary whose folding is only separators, none of them '#' or '@'
 *   TWO_STRIP      some code point of that folding changes under accent stripping
 */
enum {
        TWO_BOUNDARY = 1u << 0,
        TWO_WORD = 1u << 1,
        TWO_SEPARATOR = 1u << 2,
        TWO_STRIP = 1u << 3,
};

typedef struct TwoByte {
        char bytes[6]; /* first: the scanner copies all 8 bytes and keeps len */
        uint8_t len;
        uint8_t flags;
} TwoByte;

static TwoByte two_byte[0x800];
/*
 * Per code point of plane 1 (U+10000..U+1FFFF: emoji, historic scripts), what cp_is_boundary()
 * and classify() say of it, computed once from utf8proc: SMP_BOUNDARY, and the class above it.
 */
enum {
        SMP_BOUNDARY = 1u << 0,
        SMP_CLASS_SHIFT = 1, /* 2 bits */
        SMP_STRIP = 1u << 3, /* accent stripping (strip_cp()) changes it */
};
static uint8_t smp_info[0x10000];
/*
 * Whether U+0400..U+045F (Russian, Ukrainian, Belarusian, Serbian, ...) fold as cyrillic_fold()
 * assumes: letters that fold by adding 0x50 (U+0400..U+040F), 0x20 (U+0410..U+042F) or nothing,
 * and only U+0450..U+045F change under accent stripping. Checked against utf8proc once.
 */
static bool cyrillic_simple;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static bool is_composes_back(int32_t cp) {
        return composes_back[cp >> 3] & (1u << (cp & 7));
}

static size_t utf8_encode(int32_t cp, char *out) {
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xC0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xE0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/* Same folding map as normalize.c applies before decomposing. */
static int32_t fold_custom_cp(int32_t cp) {
        if (cp == 0x2122 || cp == 0x2120)
                return ' ';
        if (cp == 0x0130)
                return 'i';
        return cp;
}

/*
 * Whether the text may be cut before cp: its full decomposition under the folding options
 * starts with a starter that never composes with what precedes it, and is not empty.
 */
static bool compute_boundary(int32_t cp) {
        utf8proc_int32_t d[32];
        utf8proc_ssize_t n;

        if (cp >= 0x1100 && cp <= 0x11FF) /* Hangul jamo compose algorithmically */
                return false;
        if (cp >= 0xA960 && cp <= 0xA97F)
                return false;
        if (cp >= 0xD7B0 && cp <= 0xD7FF)
                return false;
        n = utf8proc_decompose_char(fold_custom_cp(cp), d, 32,
                                    UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD |
                                            UTF8PROC_IGNORE,
                                    NULL);
        if (n <= 0 || n > 32)
                return false;
        if (d[0] >= 0x1100 && d[0] <= 0x11FF)
                return false;
        return utf8proc_get_property(d[0])->combining_class == 0 && !is_mark_category(d[0]) &&
               !is_composes_back(d[0]);
}

/*
 * The canonical decomposition of cp without its nonspacing and enclosing marks: returns how many
 * code points are left, and *ret_base the last of them. й keeps its breve: in Russian it is a
 * letter of its own, not an accented и.
 */
static int strip_decompose(int32_t cp, int32_t *ret_base) {
        utf8proc_int32_t d[16];
        utf8proc_ssize_t n;
        int bases = 0;

        *ret_base = cp;
        if (cp == 0x0439 || cp == 0x0419 || (cp >= 0xAC00 && cp <= 0xD7A3))
                return 1; /* й, Й; Hangul syllables carry no accents */
        n = utf8proc_decompose_char(cp, d, 16, UTF8PROC_DECOMPOSE, NULL);
        if (n <= 0 || n > 16)
                return 1;
        for (utf8proc_ssize_t i = 0; i < n; i++) {
                utf8proc_category_t c = utf8proc_category(d[i]);

                if (c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME)
                        continue;
                *ret_base = d[i];
                bases++;
        }
        if (bases > 1)
                *ret_base = cp; /* more than a letter and its accents: leave it alone */
        return bases;
}

static inline size_t decode(const uint8_t *s, size_t n, int32_t *ret_cp);

/* Whether accent stripping (strip_cp() below) changes cp. */
static bool strip_changes(int32_t cp) {
        int32_t base;

        if (cp < 0x80)
                return false;
        if (cp < 0x800)
                return strip2[cp] != 0;
        return strip_decompose(cp, &base) != 1 || base != cp;
}

static void two_byte_init(int32_t cp) {
        TwoByte *tb = &two_byte[cp];
        uint32_t info = bmp_info[cp];
        char self[4];
        const char *p;
        size_t len;
        bool word = true, separator = true;

        if (!(info & BMP_BOUNDARY))
                return;
        tb->flags = TWO_BOUNDARY;
        if (info & BMP_SLOW)
                return;
        if (info & BMP_SAME) {
                len = utf8_encode(cp, self);
                p = self;
        } else {
                p = bmp_pool + (info & BMP_OFFSET_MASK);
                len = (info >> BMP_LEN_SHIFT) & 63;
        }
        for (size_t i = 0; i < len;) {
                bool first = i == 0;
                int32_t f;
                CodePointClass c;

                i += decode((const uint8_t *)p + i, len - i, &f);
                c = classify(f);
                /* a mark after the first letter joins the word like a letter */
                word = word && (c == CP_WORD || (c == CP_MARK && !first));
                separator = separator && c == CP_SEPARATOR && f != '#' && f != '@';
                if (strip_changes(f))
                        tb->flags |= TWO_STRIP;
        }
        if (word && len <= sizeof(tb->bytes)) {
                tb->flags |= TWO_WORD;
                tb->len = (uint8_t)len;
                memcpy(tb->bytes, p, len);
        } else if (separator)
                tb->flags |= TWO_SEPARATOR;
}

/* Whether the text may be cut before cp >= 0x10000, from utf8proc. */
static bool smp_compute_boundary(int32_t cp) {
        const utf8proc_property_t *p = utf8proc_get_property(cp);

        /* Beyond the BMP: only code points that fold to themselves and never combine. */
        return p->decomp_seqindex == UINT16_MAX && p->casefold_seqindex == UINT16_MAX &&
               p->combining_class == 0 && !p->ignorable && !is_mark_category(cp) &&
               !is_composes_back(cp);
}

static void tables_init(void) {
        size_t pool = 0;

        /* Every code point that is not first in a canonical decomposition may compose back. */
        for (int32_t cp = 0; cp < 0x110000; cp++) {
                const utf8proc_property_t *p = utf8proc_get_property(cp);
                utf8proc_int32_t d[32];
                utf8proc_ssize_t n;

                if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0)
                        continue;
                n = utf8proc_decompose_char(cp, d, 32, UTF8PROC_DECOMPOSE, NULL);
                for (utf8proc_ssize_t i = 1; i < n && i < 32; i++)
                        composes_back[d[i] >> 3] |= (uint8_t)(1u << (d[i] & 7));
        }

        for (int32_t cp = 0x10000; cp < 0x20000; cp++)
                smp_info[cp - 0x10000] = (uint8_t)((smp_compute_boundary(cp) ? SMP_BOUNDARY : 0) |
                                                   (unsigned)classify(cp) << SMP_CLASS_SHIFT |
                                                   (strip_changes(cp) ? SMP_STRIP : 0));

        for (int32_t cp = 0; cp < 0x10000; cp++) {
                char in[4];
                int32_t out[32];
                char bytes[64];
                size_t in_len, len = 0;
                ssize_t n;
                uint32_t info = 0;

                if (cp >= 0xD800 && cp <= 0xDFFF)
                        continue; /* never decoded: invalid UTF-8 */
                if (compute_boundary(cp))
                        info |= BMP_BOUNDARY;

                in_len = utf8_encode(cp, in);
                n = text_fold_utf32(in, in_len, out, ELEMENTSOF(out));
                if (n < 0 || n > (ssize_t)ELEMENTSOF(out)) {
                        bmp_info[cp] = info | BMP_SLOW;
                        continue;
                }
                for (ssize_t i = 0; i < n; i++)
                        len += utf8_encode(out[i], bytes + len);
                if (n == 1 && out[0] == cp)
                        info |= BMP_SAME | BMP_ONE | (uint32_t)classify(cp) << BMP_CLASS_SHIFT;
                else if (len >= 64 || pool + len > BMP_POOL_SIZE)
                        info |= BMP_SLOW;
                else {
                        if (n == 1)
                                info |= BMP_ONE | (uint32_t)classify(out[0]) << BMP_CLASS_SHIFT;
                        memcpy(bmp_pool + pool, bytes, len);
                        info |= (uint32_t)pool | (uint32_t)len << BMP_LEN_SHIFT;
                        pool += len;
                }
                bmp_info[cp] = info;
        }

        for (int32_t cp = 0x80; cp < 0x800; cp++) {
                int32_t base = 0;
                int n_bases = strip_decompose(cp, &base);

                if (n_bases == 0)
                        strip2[cp] = 1;
                else if (n_bases == 1 && base != cp)
                        strip2[cp] = base;
        }

        for (int32_t cp = 0x80; cp < 0x800; cp++)
                two_byte_init(cp);

        cyrillic_simple = true;
        for (int32_t cp = 0x400; cp < 0x460; cp++) {
                const TwoByte *tb = &two_byte[cp];
                int32_t f = cp < 0x410 ? cp + 0x50 : cp < 0x430 ? cp + 0x20 : cp;
                char want[4];

                if (!(tb->flags & TWO_WORD) || tb->len != 2 || utf8_encode(f, want) != 2 ||
                    memcmp(tb->bytes, want, 2) != 0 || ((tb->flags & TWO_STRIP) && f < 0x450))
                        cyrillic_simple = false;
        }
}

/* Whether the text may be cut before cp (any code point, or 0xFFFD for garbage). */
static inline bool cp_is_boundary(int32_t cp) {
        if (cp < 0x10000)
                return bmp_info[cp] & BMP_BOUNDARY;
        if (cp < 0x20000)
                return smp_info[cp - 0x10000] & SMP_BOUNDARY;
        return smp_compute_boundary(cp);
}

/* Whether accent stripping may change cp (false: it surely does not), by table in plane 1. */
static inline bool cp_may_strip(int32_t cp) {
        if (cp < 0x80)
                return false;
        if (cp >= 0x10000 && cp < 0x20000)
                return smp_info[cp - 0x10000] & SMP_STRIP;
        return true;
}

/* classify(cp) for any code point, by table in plane 1. */
static inline CodePointClass classify_fast(int32_t cp) {
        if (cp >= 0x10000 && cp < 0x20000)
                return (CodePointClass)((smp_info[cp - 0x10000] >> SMP_CLASS_SHIFT) & 3);
        return classify(cp);
}

/*
 * Decodes the code point at s[0..n), n >= 1: invalid sequences and NUL read as U+FFFD, over the
 * length of their maximal subpart, exactly as utf8_sanitize() replaces them.
 */
static inline size_t decode(const uint8_t *s, size_t n, int32_t *ret_cp) {
        uint8_t c = s[0];
        int r;

        if (c < 0x80) {
                *ret_cp = c == 0 ? 0xFFFD : c;
                return 1;
        }
        if (c >= 0xC2 && c <= 0xDF && n >= 2 && (s[1] & 0xC0) == 0x80) {
                *ret_cp = (int32_t)(c & 0x1F) << 6 | (s[1] & 0x3F);
                return 2;
        }
        if (c >= 0xE0 && c <= 0xEF && n >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
                /* well-formed unless overlong or a surrogate: utf8_sequence() decides those */
                int32_t cp = (int32_t)(c & 0x0F) << 12 | (int32_t)(s[1] & 0x3F) << 6 |
                             (s[2] & 0x3F);

                if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
                        *ret_cp = cp;
                        return 3;
                }
        } else if (c >= 0xF0 && c <= 0xF4 && n >= 4 && (s[1] & 0xC0) == 0x80 &&
                   (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80) {
                /* well-formed unless overlong or beyond U+10FFFF */
                int32_t cp = (int32_t)(c & 0x07) << 18 | (int32_t)(s[1] & 0x3F) << 12 |
                             (int32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);

                if (cp >= 0x10000 && cp <= 0x10FFFF) {
                        *ret_cp = cp;
                        return 4;
                }
        }
        r = utf8_sequence(s, n);
        if (r < 0) {
                *ret_cp = 0xFFFD;
                return (size_t)-r;
        }
        if (r == 3)
                *ret_cp = (int32_t)(c & 0x0F) << 12 | (int32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        else
                *ret_cp = (int32_t)(c & 0x07) << 18 | (int32_t)(s[1] & 0x3F) << 12 |
                          (int32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
        return (size_t)r;
}

/* ASCII word characters folded (lower case), 0 for everything else. */
static const uint8_t ascii_fold[256] = {
        ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
        ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
        ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g',
        ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n',
        ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u',
        ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
        ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g',
        ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',
        ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u',
        ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z', ['_'] = '_',
};

static inline uint64_t load64(const uint8_t *p) {
        uint64_t v;

        memcpy(&v, p, sizeof(v));
        return v;
}

static inline void store64(char *p, uint64_t v) {
        memcpy(p, &v, sizeof(v));
}

static inline uint64_t load32(const uint8_t *p) {
        uint32_t v;

        memcpy(&v, p, sizeof(v));
        return v;
}

/*
 * ASCII eight bytes at a time (SWAR): masks with 0x80 in the bytes that are ASCII word characters,
 * and the bytes folded. Adding a constant below 0x80 to a byte below 0x80 never carries into the
 * next byte, so each byte's top bit answers a comparison.
 */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t swar_in_range(uint64_t x, uint8_t lo, uint8_t hi) {
        return (x + (0x80 - lo) * ONES) & ~(x + (0x80 - hi - 1) * ONES);
}

static inline uint64_t swar_word(uint64_t v) {
        uint64_t x = v & ~HIGHS;
        uint64_t letter = swar_in_range(x | 0x20 * ONES, 'a', 'z');
        uint64_t digit = swar_in_range(x, '0', '9');
        uint64_t underscore = ~((x ^ '_' * ONES) + 0x7F * ONES);

        return (letter | digit | underscore) & ~v & HIGHS;
}

static inline uint64_t swar_fold(uint64_t v) {
        uint64_t upper = swar_in_range(v & ~HIGHS, 'A', 'Z') & ~v & HIGHS;

        return v | upper >> 2;
}

/* How many bytes, in memory order, come before the first one marked in m (m != 0). */
static inline size_t swar_leading(uint64_t m) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return (size_t)__builtin_clzll(m) >> 3;
#else
        return (size_t)__builtin_ctzll(m) >> 3;
#endif
}

/* ---------------------------------------------------------------------------------------------
 * Accent stripping: NFD, marks (Mn, Me) dropped, й kept. Spacing marks (Mc) are vowel signs of
 * Indic scripts, not accents, and stay.
 */

/* Appends the stripped form of cp to out[*len..], at most 4 bytes. */
static void strip_cp(int32_t cp, char *out, size_t *len) {
        int32_t base;

        if (cp < 0x80) {
                out[(*len)++] = (char)cp;
                return;
        }
        if (cp < 0x800) {
                int32_t s = strip2[cp];

                if (s != 1)
                        *len += utf8_encode(s ? s : cp, out + *len);
                return;
        }
        if (strip_decompose(cp, &base) > 0)
                *len += utf8_encode(base, out + *len);
}

/* Writes the stripped form of the valid UTF-8 word w[0..n) to out, which holds 4 * n + 4. */
static size_t strip_accents(const char *w, size_t n, char *out) {
        size_t len = 0;

        for (size_t i = 0; i < n;) {
                int32_t cp;

                i += decode((const uint8_t *)w + i, n - i, &cp);
                strip_cp(cp, out, &len);
        }
        return len;
}

/* ---------------------------------------------------------------------------------------------
 * Small helpers: sizes, growth, hashing
 */

static int grow(void **p, size_t *allocated, size_t need, size_t size) {
        size_t n;
        void *q;

        if (need <= *allocated)
                return 0;
        n = *allocated ? *allocated : 16;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -ENOMEM;
                n *= 2;
        }
        if (n > SIZE_MAX / size)
                return -ENOMEM;
        q = realloc(*p, n * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = n;
        return 0;
}

#define GROW(p, allocated, need) grow((void **)&(p), &(allocated), (need), sizeof(*(p)))

static inline uint64_t mix64(uint64_t h) {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDull;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53ull;
        h ^= h >> 33;
        return h;
}

static inline uint64_t hash_word(const char *s, size_t n, unsigned space) {
        const uint8_t *p = (const uint8_t *)s;
        uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1) ^ space;

        while (n >= 8) {
                uint64_t v;

                memcpy(&v, p, 8);
                h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
                h ^= h >> 31;
                p += 8;
                n -= 8;
        }
        if (n > 0) {
                uint64_t v = 0;

                for (size_t i = 0; i < n; i++)
                        v |= (uint64_t)p[i] << (8 * i);
                h = (h ^ v) * 0x94D049BB133111EBull;
        }
        return mix64(h);
}

/* Masks that keep the first k (0..8) bytes of an 8-byte value, in memory order. */
static const uint64_t keep_mask[9] = {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        0, 0xFF00000000000000ull, 0xFFFF000000000000ull, 0xFFFFFF0000000000ull,
        0xFFFFFFFF00000000ull, 0xFFFFFFFFFF000000ull, 0xFFFFFFFFFFFF0000ull,
        0xFFFFFFFFFFFFFF00ull, ~0ull,
#else
        0, 0xFFull, 0xFFFFull, 0xFFFFFFull, 0xFFFFFFFFull, 0xFFFFFFFFFFull, 0xFFFFFFFFFFFFull,
        0xFFFFFFFFFFFFFFull, ~0ull,
#endif
};

/* v with only its first k (0..8) bytes, in memory order, kept. */
static inline uint64_t swar_keep(uint64_t v, size_t k) {
        return v & keep_mask[k];
}

#define HASH_K 0x9FB21C651E98DF25ull

/*
 * The word hash's mixing: a full 64 x 64 -> 128-bit multiply of h ^ v by u ^ HASH_K, folded (the
 * high half depends on every bit of both). One instruction on 64-bit machines.
 */
static inline uint64_t hash_mum(uint64_t h, uint64_t v, uint64_t u) {
#ifdef __SIZEOF_INT128__
        unsigned __int128 p = (unsigned __int128)(h ^ v) * (u ^ HASH_K);

        return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
        h = (h ^ v) * 0x94D049BB133111EBull ^ u;
        h ^= h >> 32;
        h *= 0xBF58476D1CE4E5B9ull;
        return h ^ h >> 29;
#endif
}

/* One step of the word hash: 8 more bytes. */
static inline uint64_t hash_step(uint64_t h, uint64_t v) {
        return hash_mum(h, v, 0);
}

#define HASH_SEED 0x9E3779B97F4A7C15ull

/*
 * The dictionary's hash of a word: 8 bytes at a time up to the last 1..16, which are taken in one
 * step, zero-padded (so that most words cost no loop, nor a branch that depends on their length).
 * It reads up to 15 bytes past the end of the word (every buffer it hashes has HASH_PADDING), and
 * a word of up to 8 bytes is hash_step(HASH_SEED ^ n, its zero-padded bytes), so that the scanner
 * can hash a short ASCII word straight from a register.
 */
static inline uint64_t hash_bytes(const char *s, size_t n) {
        const uint8_t *p = (const uint8_t *)s;
        uint64_t h = HASH_SEED ^ n;

        for (; n > 16; p += 8, n -= 8)
                h = hash_step(h, load64(p));
        return hash_mum(h, swar_keep(load64(p), n < 8 ? n : 8),
                        swar_keep(load64(p + 8), n > 8 ? n - 8 : 0));
}

#define HASH_PADDING 16

/* Whether a[0..n) equals b[0..n), both padded as for hash_bytes(): 8 bytes at a time, no call. */
static inline bool bytes_equal(const char *a, const char *b, size_t n) {
        const uint8_t *p = (const uint8_t *)a, *q = (const uint8_t *)b;

        for (; n > 8; p += 8, q += 8, n -= 8)
                if (load64(p) != load64(q))
                        return false;
        return swar_keep(load64(p) ^ load64(q), n) == 0;
}

/*
 * Spaces of the word dictionary and the prefix trie: which text words may match a term word.
 * Kind: 0 any word, 1 hashtag words only, 2 mention words only; plus 4 when compared
 * accent-stripped.
 */
enum {
        KIND_ANY = 0,
        KIND_HASHTAG = 1,
        KIND_MENTION = 2,
        SPACE_STRIPPED = 4,
        N_SPACES = 8,
};

/* A map from uint64_t keys to uint32_t values, open addressing; key UINT64_MAX is "empty". */
typedef struct U64Map {
        uint64_t *keys;  /* owned */
        uint32_t *values; /* owned */
        size_t mask, n;
} U64Map;

static void u64map_done(U64Map *m) {
        free(m->keys);
        free(m->values);
        *m = (U64Map){};
}

static int u64map_resize(U64Map *m, size_t size) {
        U64Map new = { .mask = size - 1, .n = m->n };

        if (size > SIZE_MAX / sizeof(uint64_t))
                return -ENOMEM;
        new.keys = malloc(size * sizeof(uint64_t));
        new.values = malloc(size * sizeof(uint32_t));
        if (!new.keys || !new.values) {
                u64map_done(&new);
                return -ENOMEM;
        }
        memset(new.keys, 0xFF, size * sizeof(uint64_t));
        for (size_t i = 0; m->keys && i <= m->mask; i++) {
                size_t j;

                if (m->keys[i] == UINT64_MAX)
                        continue;
                for (j = mix64(m->keys[i]) & new.mask; new.keys[j] != UINT64_MAX;
                     j = (j + 1) & new.mask)
                        ;
                new.keys[j] = m->keys[i];
                new.values[j] = m->values[i];
        }
        u64map_done(m);
        *m = new;
        return 0;
}

static inline uint32_t u64map_get(const U64Map *m, uint64_t key) {
        if (!m->keys)
                return NONE;
        for (size_t j = mix64(key) & m->mask;; j = (j + 1) & m->mask) {
                if (m->keys[j] == key)
                        return m->values[j];
                if (m->keys[j] == UINT64_MAX)
                        return NONE;
        }
}

static int u64map_put(U64Map *m, uint64_t key, uint32_t value) {
        size_t j;
        int r;

        if (!m->keys || (m->n + 1) * 2 > m->mask + 1) {
                if (m->keys && m->mask + 1 > SIZE_MAX / 2)
                        return -ENOMEM;
                r = u64map_resize(m, m->keys ? (m->mask + 1) * 2 : 64);
                if (r < 0)
                        return r;
        }
        for (j = mix64(key) & m->mask; m->keys[j] != UINT64_MAX && m->keys[j] != key;
             j = (j + 1) & m->mask)
                ;
        if (m->keys[j] == UINT64_MAX)
                m->n++;
        m->keys[j] = key;
        m->values[j] = value;
        return 0;
}

static size_t u64map_memory(const U64Map *m) {
        return m->keys ? (m->mask + 1) * (sizeof(uint64_t) + sizeof(uint32_t)) : 0;
}

/* ---------------------------------------------------------------------------------------------
 * Terms
 */

typedef struct TermWord {
        uint32_t offset, length; /* in Term::words_folded (NUL-terminated there) */
        uint32_t moffset, mlength; /* matching form in Term::words_match */
        uint8_t kind;            /* KIND_* */
        bool prefix;
} TermWord;

struct Term {
        char *source;        /* owned, as written */
        char *words_folded;  /* owned: each folded word, NUL-terminated, one after another */
        char *words_match;   /* owned: the same, accent-stripped with TERM_IGNORE_ACCENTS */
        size_t match_size;
        TermWord *words;     /* owned */
        size_t n_words;
        char *key;           /* owned */
        unsigned flags;
        size_t min_word_length;
};

typedef struct FoldedWord {
        size_t offset, length;
        unsigned kind;
        bool prefix;
} FoldedWord;

/* The reference splitter, used for terms: folded (valid UTF-8) text -> words. */
static int split_folded(const char *s, size_t len, FoldedWord **ret, size_t *ret_n) {
        _cleanup_free_ FoldedWord *w = NULL;
        size_t n = 0, allocated = 0, start = 0;
        enum { OUTSIDE, IN_RUN, AFTER_SINGLE } state = OUTSIDE;
        int r;

        for (size_t i = 0; i <= len;) {
                int32_t cp = -1;
                size_t cn = 1;
                CodePointClass c = CP_SEPARATOR;
                bool push = false, single = false;

                if (i < len) {
                        cn = decode((const uint8_t *)s + i, len - i, &cp);
                        c = classify(cp);
                }
                if (c == CP_MARK) {
                        if (state == AFTER_SINGLE) {
                                i += cn;
                                continue;
                        }
                        c = CP_WORD;
                }
                if (c == CP_WORD) {
                        if (state != IN_RUN) {
                                start = i;
                                state = IN_RUN;
                        }
                } else {
                        push = state == IN_RUN;
                        single = c == CP_SINGLE;
                        state = single ? AFTER_SINGLE : OUTSIDE;
                }
                for (int k = 0; k < 2; k++) {
                        size_t b, e;

                        if (k == 0 && push) {
                                b = start;
                                e = i;
                        } else if (k == 1 && single) {
                                b = i;
                                e = i + cn;
                        } else
                                continue;
                        r = GROW(w, allocated, n + 1);
                        if (r < 0)
                                return r;
                        w[n++] = (FoldedWord){
                                .offset = b,
                                .length = e - b,
                                .kind = b > 0 && s[b - 1] == '#'   ? KIND_HASHTAG
                                        : b > 0 && s[b - 1] == '@' ? KIND_MENTION
                                                                   : KIND_ANY,
                        };
                }
                if (i == len)
                        break;
                i += cn;
        }
        *ret = TAKE_PTR(w);
        *ret_n = n;
        return 0;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int term_fail(const char *message, const char **ret_error) {
        if (ret_error)
                *ret_error = message;
        return -EINVAL;
}

static size_t utf8_count(const char *s, size_t n) {
        size_t c = 0;

        for (size_t i = 0; i < n; i++)
                c += ((uint8_t)s[i] & 0xC0) != 0x80;
        return c;
}

int term_new(const char *term, unsigned flags, Term **ret, const char **ret_error) {
        _cleanup_(term_freep) Term *t = NULL;
        _cleanup_free_ char *folded = NULL;
        _cleanup_free_ FoldedWord *w = NULL;
        const char *b, *e;
        size_t folded_len, n = 0, folded_size = 0, match_size = 0, key_size = 0, k = 0, mk = 0;
        int r;

        if (!term)
                return term_fail("empty term", ret_error);
        (void)pthread_once(&tables_once, tables_init);

        /* Trim, and drop one pair of double quotes around the whole term: "money back". */
        b = term;
        e = term + strlen(term);
        while (b < e && is_blank(*b))
                b++;
        while (e > b && is_blank(e[-1]))
                e--;
        if (e - b >= 2 && b[0] == '"' && e[-1] == '"') {
                b++;
                e--;
                while (b < e && is_blank(*b))
                        b++;
                while (e > b && is_blank(e[-1]))
                        e--;
        }
        if (b == e)
                return term_fail("empty term", ret_error);

        r = text_fold(b, e - b, &folded);
        if (r < 0)
                return r;
        folded_len = strlen(folded);
        r = split_folded(folded, folded_len, &w, &n);
        if (r < 0)
                return r;

        /* Every '*' must directly follow a word and end it. */
        for (size_t i = 0, j = 0; i < folded_len; i++) {
                if (folded[i] != '*')
                        continue;
                while (j < n && w[j].offset + w[j].length < i)
                        j++;
                if (j >= n || w[j].offset + w[j].length != i || w[j].prefix)
                        return term_fail("'*' must directly follow a word, as in refund*",
                                         ret_error);
                if (j + 1 < n && w[j + 1].offset == i + 1)
                        return term_fail("'*' must end a word, as in refund*", ret_error);
                w[j].prefix = true;
        }
        if (n == 0)
                return term_fail("a term may not be only punctuation", ret_error);
        if (n > UINT32_MAX / 2 || folded_len > UINT32_MAX / 8)
                return term_fail("term too long", ret_error);

        t = calloc(1, sizeof(Term));
        if (!t)
                return -ENOMEM;
        t->flags = flags & (TERM_IGNORE_ACCENTS | TERM_INSIDE_HASHTAGS);
        t->source = strdup(term);
        t->words = calloc(n, sizeof(TermWord));
        folded_size = folded_len + n;
        match_size = (flags & TERM_IGNORE_ACCENTS) ? 4 * folded_len + 4 + n : folded_size;
        t->words_folded = malloc(folded_size);
        t->words_match = malloc(match_size);
        if (!t->source || !t->words || !t->words_folded || !t->words_match)
                return -ENOMEM;
        t->n_words = n;
        t->min_word_length = SIZE_MAX;

        for (size_t i = 0; i < n; i++) {
                TermWord *tw = &t->words[i];
                size_t ml;

                tw->offset = (uint32_t)k;
                tw->length = (uint32_t)w[i].length;
                tw->kind = (uint8_t)w[i].kind;
                tw->prefix = w[i].prefix;
                memcpy(t->words_folded + k, folded + w[i].offset, w[i].length);
                t->words_folded[k + w[i].length] = 0;
                k += w[i].length + 1;

                if (flags & TERM_IGNORE_ACCENTS)
                        ml = strip_accents(folded + w[i].offset, w[i].length, t->words_match + mk);
                else {
                        ml = w[i].length;
                        memcpy(t->words_match + mk, folded + w[i].offset, ml);
                }
                t->words_match[mk + ml] = 0;
                tw->moffset = (uint32_t)mk;
                tw->mlength = (uint32_t)ml;
                mk += ml + 1;
                key_size += ml + 3;

                if (utf8_count(folded + w[i].offset, w[i].length) < t->min_word_length)
                        t->min_word_length = utf8_count(folded + w[i].offset, w[i].length);
        }
        t->match_size = mk;

        /* The key: words in matching form, '#'/'@' and '*' kept, joined by one blank. */
        t->key = malloc(key_size + 1);
        if (!t->key)
                return -ENOMEM;
        k = 0;
        for (size_t i = 0; i < n; i++) {
                const TermWord *tw = &t->words[i];

                if (i > 0)
                        t->key[k++] = ' ';
                if (tw->kind == KIND_HASHTAG)
                        t->key[k++] = '#';
                else if (tw->kind == KIND_MENTION)
                        t->key[k++] = '@';
                memcpy(t->key + k, t->words_match + tw->moffset, tw->mlength);
                k += tw->mlength;
                if (tw->prefix)
                        t->key[k++] = '*';
        }
        t->key[k] = 0;

        *ret = TAKE_PTR(t);
        return 0;
}

Term *term_free(Term *t) {
        if (!t)
                return NULL;
        free(t->source);
        free(t->words_folded);
        free(t->words_match);
        free(t->words);
        free(t->key);
        free(t);
        return NULL;
}

const char *term_source(const Term *t) {
        return t ? t->source : NULL;
}

unsigned term_flags(const Term *t) {
        return t ? t->flags : 0;
}

size_t term_n_words(const Term *t) {
        return t ? t->n_words : 0;
}

size_t term_min_word_length(const Term *t) {
        return t ? t->min_word_length : 0;
}

const char *term_word(const Term *t, size_t i) {
        if (!t || i >= t->n_words)
                return NULL;
        return t->words_folded + t->words[i].offset;
}

const char *term_key(const Term *t) {
        return t ? t->key : NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The builder: unique terms, in id order
 */

typedef struct BuilderTerm {
        char *key;        /* owned */
        char *words;      /* owned: copy of Term::words_match */
        TermWord *tw;     /* owned: copy of Term::words */
        size_t n_words;
        unsigned flags;
} BuilderTerm;

struct MatcherBuilder {
        BuilderTerm *terms; /* owned */
        size_t n_terms, allocated;
        U64Map index;       /* hash(key, flags) -> first id with that hash */
        uint32_t *next;     /* owned: next id with the same hash, or NONE */
        size_t next_allocated;
};

int matcher_builder_new(MatcherBuilder **ret) {
        MatcherBuilder *b = calloc(1, sizeof(MatcherBuilder));

        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

MatcherBuilder *matcher_builder_free(MatcherBuilder *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n_terms; i++) {
                free(b->terms[i].key);
                free(b->terms[i].words);
                free(b->terms[i].tw);
        }
        free(b->terms);
        free(b->next);
        u64map_done(&b->index);
        free(b);
        return NULL;
}

int matcher_builder_add(MatcherBuilder *b, const Term *t, uint32_t *ret_id) {
        uint64_t h;
        uint32_t id;
        BuilderTerm *bt;
        int r;

        if (!b || !t)
                return -EINVAL;
        h = hash_word(t->key, strlen(t->key), t->flags) >> 1; /* never UINT64_MAX */
        for (id = u64map_get(&b->index, h); id != NONE; id = b->next[id])
                if (b->terms[id].flags == t->flags && streq(b->terms[id].key, t->key)) {
                        if (ret_id)
                                *ret_id = id;
                        return 0;
                }
        if (b->n_terms >= UINT32_MAX / 4)
                return -ENOMEM;

        r = GROW(b->terms, b->allocated, b->n_terms + 1);
        if (r < 0)
                return r;
        r = GROW(b->next, b->next_allocated, b->n_terms + 1);
        if (r < 0)
                return r;

        id = (uint32_t)b->n_terms;
        bt = &b->terms[id];
        *bt = (BuilderTerm){ .n_words = t->n_words, .flags = t->flags };
        bt->key = strdup(t->key);
        bt->words = malloc(t->match_size);
        bt->tw = malloc(t->n_words * sizeof(TermWord));
        if (!bt->key || !bt->words || !bt->tw) {
                free(bt->key);
                free(bt->words);
                free(bt->tw);
                return -ENOMEM;
        }
        memcpy(bt->words, t->words_match, t->match_size);
        memcpy(bt->tw, t->words, t->n_words * sizeof(TermWord));

        b->next[id] = u64map_get(&b->index, h);
        r = u64map_put(&b->index, h, id);
        if (r < 0) {
                free(bt->key);
                free(bt->words);
                free(bt->tw);
                return r;
        }
        b->n_terms++;
        if (ret_id)
                *ret_id = id;
        return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The compiled matcher
 */

/*
 * An exact term word: its folded bytes and the spaces it is a term word in, with one symbol per
 * such space. The symbols of an entry are consecutive, in the order of the space bits, so a text
 * word finds all of its exact symbols with one probe.
 */
typedef struct DictEntry {
        uint32_t offset, length; /* the bytes, in Matcher::pool */
        uint32_t first_symbol;
        uint32_t spaces;         /* bit s: a term word in space s */
} DictEntry;

/* The index over the entries: open addressing, linear probing, at most half full. */
typedef struct DictSlot {
        uint32_t tag;   /* the high half of the word's hash */
        uint32_t entry; /* in Matcher::entries, or NONE: empty */
} DictSlot;

/*
 * A cell of the prefix trie in double-array form: the child of cell c by byte b is cell
 * d = c->base + b if cells[d].check == c. spaces: in which spaces the bytes on the cell's path are
 * a prefix word; symbol: the first of their symbols (numbered as for DictEntry).
 */
#define PREFIX_FILTER_BITS (1u << 15) /* filter_test() takes 15 bits of the hash */

/* The bit of a prefix filter for a key hash x. */
static inline bool filter_test(const uint64_t *f, uint64_t x) {
        return (f[x >> 55] >> (x >> 49 & 63)) & 1;
}

static inline void filter_set(uint64_t *f, uint64_t x) {
        f[x >> 55] |= 1ull << (x >> 49 & 63);
}

/* The key hash of the first k < 4 bytes of w, and of the next 4 bytes after x. */
static inline uint64_t filter_short(const char *w, size_t k) {
        return swar_keep(load64((const uint8_t *)w), k) * 0x9E3779B97F4A7C15ull;
}

static inline uint64_t filter_next(uint64_t x, const char *w) {
        return (x ^ load32((const uint8_t *)w)) * 0x9E3779B97F4A7C15ull;
}

typedef struct PrefixCell {
        uint32_t base;
        uint32_t check;  /* the parent cell; NONE: free */
        uint32_t symbol;
        uint32_t spaces;
} PrefixCell;

typedef struct Node {
        uint32_t depth;       /* words on the path from the root */
        uint32_t out_offset;  /* term ids ending here: Matcher::out[out_offset..+n_out) */
        uint32_t n_out;
        uint32_t has_children;
} Node;

/* A byte trie in compressed form: node i's edges are [first[i], first[i + 1]), sorted. */
typedef struct ByteTrie {
        uint32_t n_nodes;
        uint32_t *first;  /* owned, n_nodes + 1 */
        uint8_t *bytes;   /* owned, one per edge */
        uint32_t *child;  /* owned, one per edge */
        uint32_t *value;  /* owned, per node: first prefix symbol / unused */
        uint32_t *fail;   /* owned, per node (Aho-Corasick only) */
        uint32_t *out_link; /* owned, per node: the next node on the failure chain with output */
        uint32_t *out_first; /* owned, n_nodes + 1: outputs in out[] */
        uint32_t *out;    /* owned: term id | ACCENT_BIT */
} ByteTrie;

#define ACCENT_BIT (1u << 31)

struct Matcher {
        size_t n_terms;
        uint8_t *term_flags; /* owned, per term id */

        DictSlot *slots;     /* owned */
        size_t slot_mask;
        DictEntry *entries;  /* owned */
        uint32_t n_entries;
        char *pool;          /* owned: key bytes */
        size_t pool_size;

        uint32_t n_symbols;
        uint32_t *symbol_root; /* owned: per symbol, its child of the root or NONE */

        Node *nodes;         /* owned; node 0 is the root */
        uint32_t n_nodes;
        uint32_t *out;       /* owned */
        U64Map trans;        /* (node << 32 | symbol) -> child, below the root */

        /*
         * Owned: two blocked Bloom filters of the entries' hashes, one after the other: [k] of
         * every entry, [bloom_starts + k] of the entries that may start a term (some symbol of
         * theirs leaves the root). With no partial phrase live, a word that starts none does
         * nothing, which the second one answers for most of them: "of", "is", "на" are in many
         * phrases but start few. Apart, not interleaved: while no phrase is live (nearly always)
         * the scan reads the second one only, half as many cache lines.
         */
        uint64_t *bloom;
        size_t bloom_mask, bloom_starts;

        /* Prefix words, keyed by their bytes alone, in a double-array trie; cell 0 is the root. */
        PrefixCell *prefix;  /* owned */
        size_t n_prefix_cells;
        /*
         * Before walking: a word shorter than every prefix word starts none. Otherwise each prefix
         * word is in one filter: of its first 12, 8 or 4 bytes (filters 3, 2, 1: the longest it
         * has), or, when shorter than 4, of its first prefix_min bytes (filter 0); a word whose
         * keys of those lengths all miss starts no prefix word. The empty prefix (a lone mark,
         * accent-stripped) is in every word.
         */
        size_t prefix_min;   /* SIZE_MAX: no prefix words */
        bool prefix_empty;
        bool prefix_short;   /* prefix_min < 4: filter 0 and the empty prefix are in use */
        uint64_t prefix_filter[4][PREFIX_FILTER_BITS / 64];

        ByteTrie inside;     /* Aho-Corasick over joined words of TERM_INSIDE_HASHTAGS terms */

        bool has_accents, has_inside;
        size_t memory;
        uint32_t inside_root[256]; /* the root's goto function, dense: its child or 0 */
};

static void byte_trie_done(ByteTrie *t) {
        free(t->first);
        free(t->bytes);
        free(t->child);
        free(t->value);
        free(t->fail);
        free(t->out_link);
        free(t->out_first);
        free(t->out);
        *t = (ByteTrie){};
}

Matcher *matcher_free(Matcher *m) {
        if (!m)
                return NULL;
        free(m->term_flags);
        free(m->slots);
        free(m->entries);
        free(m->pool);
        free(m->symbol_root);
        free(m->nodes);
        free(m->out);
        u64map_done(&m->trans);
        free(m->bloom);
        free(m->prefix);
        byte_trie_done(&m->inside);
        free(m);
        return NULL;
}

size_t matcher_n_terms(const Matcher *m) {
        return m ? m->n_terms : 0;
}

size_t matcher_memory(const Matcher *m) {
        return m ? m->memory : 0;
}

static void *alloc_array(Matcher *m, size_t n, size_t size) {
        void *p;

        if (n == 0)
                n = 1;
        if (n > SIZE_MAX / size)
                return NULL;
        p = calloc(n, size);
        if (p && m)
                m->memory += n * size;
        return p;
}

/* The filter word (of every entry; + bloom_starts: of the starting ones) and the bits of a hash. */
static inline size_t bloom_word(const Matcher *m, uint64_t h) {
        return (size_t)(h >> 32) & m->bloom_mask;
}

static inline uint64_t bloom_bits(uint64_t h) {
        return 1ull << ((h >> 50) & 63) | 1ull << ((h >> 56) & 63);
}

/* The first four bytes of an 8-byte word value, as load32() reads them. */
static inline uint32_t swar_first4(uint64_t f) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return (uint32_t)(f >> 32);
#else
        return (uint32_t)f;
#endif
}

/*
 * Whether a plain word of k < 8 bytes, held zero-padded in f, may be a term word or start a prefix
 * word: the same answers as the dictionary's filter and prefix_may_start() on its bytes.
 */
static inline bool short_word_may_match(const Matcher *m, uint64_t f, size_t k) {
        uint64_t h = hash_step(HASH_SEED ^ k, f), bits = bloom_bits(h);

        if ((m->bloom[bloom_word(m, h)] & bits) == bits)
                return true;
        if (k < m->prefix_min)
                return false;
        if (_unlikely_(m->prefix_short)) {
                if (m->prefix_empty ||
                    filter_test(m->prefix_filter[0],
                                swar_keep(f, m->prefix_min) * 0x9E3779B97F4A7C15ull))
                        return true;
                if (k < 4)
                        return false;
        }
        return filter_test(m->prefix_filter[1], swar_first4(f) * 0x9E3779B97F4A7C15ull);
}

/* Set bits of a space mask (8 bits), without a library call. */
static inline uint32_t popcount8(uint32_t x) {
        /* the counts of 0..15, four bits each */
        return (uint32_t)((0x4332322132212110ull >> 4 * (x & 15)) & 15) +
               (uint32_t)((0x4332322132212110ull >> 4 * (x >> 4 & 15)) & 15);
}

/* Whether w[0..n) may start with a prefix word (false: it surely does not). */
static inline bool prefix_may_start(const Matcher *m, const char *w, size_t n) {
        uint64_t x;

        if (n < m->prefix_min)
                return false;
        if (_unlikely_(m->prefix_short)) {
                if (m->prefix_empty ||
                    filter_test(m->prefix_filter[0], filter_short(w, m->prefix_min)))
                        return true;
                if (n < 4)
                        return false;
        }
        /* An empty filter answers no: no need to ask which are in use. */
        x = filter_next(0, w);
        if (filter_test(m->prefix_filter[1], x))
                return true;
        if (n < 8)
                return false;
        x = filter_next(x, w + 4);
        if (filter_test(m->prefix_filter[2], x))
                return true;
        return n >= 12 && filter_test(m->prefix_filter[3], filter_next(x, w + 8));
}

/*
 * prefix_may_start() for a word whose buffer has 4 readable bytes, without a branch on whether it
 * is shorter than every prefix word (about half the words are, in no order that the branch
 * predictor can guess): the first filter is asked in any case, and its answer counts only if not.
 */
static inline bool prefix_may_start_4(const Matcher *m, const char *w, size_t n) {
        uint64_t x;

        if (_unlikely_(m->prefix_short))
                return prefix_may_start(m, w, n);
        x = filter_next(0, w);
        if ((n >= m->prefix_min) & filter_test(m->prefix_filter[1], x))
                return true;
        if (n < 8)
                return false;
        x = filter_next(x, w + 4);
        if (filter_test(m->prefix_filter[2], x))
                return true;
        return n >= 12 && filter_test(m->prefix_filter[3], filter_next(x, w + 8));
}

/* The symbol of space in an entry or prefix node whose spaces include it. */
static inline uint32_t space_symbol(uint32_t first, uint32_t spaces, unsigned space) {
        return first + popcount8(spaces & ((1u << space) - 1));
}

/* The entry of w[0..n), whose hash_bytes() is h, or NULL, without asking the filter. */
static inline const DictEntry *dict_lookup(const Matcher *m, const char *w, size_t n, uint64_t h) {
        uint32_t tag = (uint32_t)(h >> 32);

        for (size_t j = h & m->slot_mask;; j = (j + 1) & m->slot_mask) {
                DictSlot slot = m->slots[j];
                const DictEntry *e;

                if (slot.entry == NONE)
                        return NULL;
                if (slot.tag != tag)
                        continue;
                e = &m->entries[slot.entry];
                if (e->length == n && bytes_equal(m->pool + e->offset, w, n))
                        return e;
        }
}

/* The entry of w[0..n), whose hash_bytes() is h, or NULL. */
static inline const DictEntry *dict_find(const Matcher *m, const char *w, size_t n, uint64_t h) {
        uint64_t bits = bloom_bits(h);

        /* Most words are no term word: one bit test, on a table small enough to stay cached. */
        if ((m->bloom[bloom_word(m, h)] & bits) != bits)
                return NULL;
        return dict_lookup(m, w, n, h);
}

/* Finds or adds the entry of w[0..n); the pool has room for every word. */
static DictEntry *dict_add(Matcher *m, const char *w, size_t n) {
        uint64_t h;
        uint32_t tag;
        size_t j;

        /* Hashed where it will stay: the pool has the padding hash_bytes() reads. */
        memcpy(m->pool + m->pool_size, w, n);
        h = hash_bytes(m->pool + m->pool_size, n);
        tag = (uint32_t)(h >> 32);

        for (j = h & m->slot_mask; m->slots[j].entry != NONE; j = (j + 1) & m->slot_mask) {
                DictEntry *e = &m->entries[m->slots[j].entry];

                if (m->slots[j].tag == tag && e->length == n &&
                    memcmp(m->pool + e->offset, w, n) == 0)
                        return e;
        }
        m->bloom[bloom_word(m, h)] |= bloom_bits(h);
        m->slots[j] = (DictSlot){ .tag = tag, .entry = m->n_entries };
        m->entries[m->n_entries] = (DictEntry){
                .offset = (uint32_t)m->pool_size,
                .length = (uint32_t)n,
        };
        m->pool_size += n;
        return &m->entries[m->n_entries++];
}

/* A byte trie under construction: edges in a map, (node << 8 | byte) -> child. */
typedef struct TrieBuild {
        U64Map edges;
        uint32_t n_nodes;
} TrieBuild;

static int trie_build_insert(TrieBuild *tb, uint32_t node, uint8_t byte, uint32_t *ret) {
        uint64_t key = (uint64_t)node << 8 | byte;
        uint32_t c = u64map_get(&tb->edges, key);
        int r;

        if (c == NONE) {
                if (tb->n_nodes == NONE - 1)
                        return -ENOMEM;
                c = tb->n_nodes++;
                r = u64map_put(&tb->edges, key, c);
                if (r < 0)
                        return r;
        }
        *ret = c;
        return 0;
}

typedef struct Edge {
        uint32_t parent, child;
        uint8_t byte;
} Edge;

static int edge_compare(const void *a, const void *b) {
        const Edge *x = a, *y = b;

        if (x->parent != y->parent)
                return x->parent < y->parent ? -1 : 1;
        return (int)x->byte - (int)y->byte;
}

/* Turns the edge map into the compressed form. */
static int trie_compress(Matcher *m, TrieBuild *tb, ByteTrie *t) {
        _cleanup_free_ Edge *edges = NULL;
        size_t n = 0;

        if (tb->edges.n > UINT32_MAX)
                return -ENOMEM;
        edges = malloc((tb->edges.n ? tb->edges.n : 1) * sizeof(Edge));
        t->n_nodes = tb->n_nodes;
        t->first = alloc_array(m, (size_t)tb->n_nodes + 1, sizeof(uint32_t));
        t->bytes = alloc_array(m, tb->edges.n, sizeof(uint8_t));
        t->child = alloc_array(m, tb->edges.n, sizeof(uint32_t));
        t->value = alloc_array(m, tb->n_nodes, sizeof(uint32_t));
        if (!edges || !t->first || !t->bytes || !t->child || !t->value)
                return -ENOMEM;
        for (size_t i = 0; tb->edges.keys && i <= tb->edges.mask; i++)
                if (tb->edges.keys[i] != UINT64_MAX)
                        edges[n++] = (Edge){ .parent = (uint32_t)(tb->edges.keys[i] >> 8),
                                             .byte = (uint8_t)tb->edges.keys[i],
                                             .child = tb->edges.values[i] };
        qsort(edges, n, sizeof(Edge), edge_compare);
        for (size_t i = 0, e = 0; i <= tb->n_nodes; i++) {
                t->first[i] = (uint32_t)e;
                while (e < n && edges[e].parent == i) {
                        t->bytes[e] = edges[e].byte;
                        t->child[e] = edges[e].child;
                        e++;
                }
        }
        for (uint32_t i = 0; i < tb->n_nodes; i++)
                t->value[i] = NONE;
        return 0;
}

static inline uint32_t trie_child(const ByteTrie *t, uint32_t node, uint8_t byte) {
        uint32_t lo = t->first[node], hi = t->first[node + 1];

        while (hi - lo > 8) {
                uint32_t mid = lo + (hi - lo) / 2;

                if (t->bytes[mid] < byte)
                        lo = mid + 1;
                else
                        hi = mid + 1; /* bytes[mid] may be the one */
        }
        for (; lo < hi; lo++)
                if (t->bytes[lo] == byte)
                        return t->child[lo];
                else if (t->bytes[lo] > byte)
                        break;
        return NONE;
}

typedef struct Pair {
        uint32_t node, term;
} Pair;

static int pair_compare(const void *a, const void *b) {
        const Pair *x = a, *y = b;

        if (x->node != y->node)
                return x->node < y->node ? -1 : 1;
        return x->term < y->term ? -1 : x->term > y->term;
}

static int build_inside(Matcher *m, const MatcherBuilder *b) {
        _cleanup_free_ Pair *pairs = NULL;
        _cleanup_free_ uint32_t *queue = NULL;
        TrieBuild tb = { .n_nodes = 1 };
        ByteTrie *t = &m->inside;
        size_t n_pairs = 0, pairs_allocated = 0;
        int r;

        for (size_t id = 0; id < b->n_terms; id++) {
                const BuilderTerm *bt = &b->terms[id];
                uint32_t node = 0;

                if (!(bt->flags & TERM_INSIDE_HASHTAGS))
                        continue;
                for (size_t i = 0; i < bt->n_words; i++)
                        for (size_t k = 0; k < bt->tw[i].mlength; k++) {
                                r = trie_build_insert(&tb, node,
                                                      (uint8_t)bt->words[bt->tw[i].moffset + k],
                                                      &node);
                                if (r < 0)
                                        goto finish;
                        }
                r = GROW(pairs, pairs_allocated, n_pairs + 1);
                if (r < 0)
                        goto finish;
                pairs[n_pairs++] = (Pair){
                        .node = node,
                        .term = (uint32_t)id |
                                (bt->flags & TERM_IGNORE_ACCENTS ? ACCENT_BIT : 0),
                };
        }

        r = trie_compress(m, &tb, t);
        if (r < 0)
                goto finish;
        t->fail = alloc_array(m, t->n_nodes, sizeof(uint32_t));
        t->out_link = alloc_array(m, t->n_nodes, sizeof(uint32_t));
        t->out_first = alloc_array(m, (size_t)t->n_nodes + 1, sizeof(uint32_t));
        t->out = alloc_array(m, n_pairs, sizeof(uint32_t));
        queue = malloc(t->n_nodes * sizeof(uint32_t));
        if (!t->fail || !t->out_link || !t->out_first || !t->out || !queue) {
                r = -ENOMEM;
                goto finish;
        }
        qsort(pairs, n_pairs, sizeof(Pair), pair_compare);
        for (size_t i = 0, p = 0; i <= t->n_nodes; i++) {
                t->out_first[i] = (uint32_t)p;
                while (p < n_pairs && pairs[p].node == i)
                        t->out[p] = pairs[p].term, p++;
        }

        for (unsigned c = 0; c < 256; c++) {
                uint32_t v = trie_child(t, 0, (uint8_t)c);

                m->inside_root[c] = v != NONE ? v : 0;
        }

        /* Breadth first: a node's failure link is its longest proper suffix in the trie. */
        size_t head = 0, tail = 0;
        t->fail[0] = 0;
        t->out_link[0] = NONE;
        queue[tail++] = 0;
        while (head < tail) {
                uint32_t u = queue[head++];

                for (uint32_t e = t->first[u]; e < t->first[u + 1]; e++) {
                        uint32_t v = t->child[e], f = t->fail[u], c = NONE;

                        if (u != 0)
                                for (;;) {
                                        c = trie_child(t, f, t->bytes[e]);
                                        if (c != NONE || f == 0)
                                                break;
                                        f = t->fail[f];
                                }
                        t->fail[v] = c != NONE ? c : 0;
                        f = t->fail[v];
                        t->out_link[v] = t->out_first[f] < t->out_first[f + 1] ? f
                                                                                : t->out_link[f];
                        queue[tail++] = v;
                }
        }
        r = 0;
finish:
        u64map_done(&tb.edges);
        return r;
}

/* The double array under construction; next[i] leads towards the first free cell from i on. */
typedef struct PrefixLayout {
        PrefixCell *cells;
        uint32_t *next;
        size_t allocated;
} PrefixLayout;

static int prefix_reserve(PrefixLayout *l, size_t need) {
        size_t old = l->allocated, n = old;
        int r;

        if (need <= old)
                return 0;
        r = GROW(l->cells, n, need);
        if (r < 0)
                return r;
        r = GROW(l->next, l->allocated, n);
        if (r < 0)
                return r;
        for (size_t i = old; i < l->allocated; i++) {
                l->cells[i] = (PrefixCell){ .check = NONE };
                l->next[i] = (uint32_t)i;
        }
        return 0;
}

/* The first free cell at or after i (union-find with path halving). */
static int prefix_free_from(PrefixLayout *l, size_t i, size_t *ret) {
        for (;;) {
                int r = prefix_reserve(l, i + 257);

                if (r < 0)
                        return r;
                if (l->next[i] == i)
                        break;
                l->next[i] = l->next[l->next[i]];
                i = l->next[i];
        }
        *ret = i;
        return 0;
}

/*
 * Lays the trie t out as a double array in m->prefix, breadth first, each node's children at the
 * first base where all of them fit; cell_of[] receives each trie node's cell.
 */
static int prefix_layout(Matcher *m, const ByteTrie *t, uint32_t *cell_of) {
        _cleanup_free_ uint32_t *queue = NULL;
        PrefixLayout l = {};
        size_t top = 1, head = 0, tail = 0;
        int r;

        queue = malloc(t->n_nodes * sizeof(uint32_t));
        if (!queue)
                return -ENOMEM;
        r = prefix_reserve(&l, 512);
        if (r < 0)
                goto fail;
        l.cells[0].check = NONE - 1; /* the root: in use, nobody's child */
        l.next[0] = 1;
        cell_of[0] = 0;
        queue[tail++] = 0;
        while (head < tail) {
                uint32_t u = queue[head++], cu = cell_of[u];
                uint32_t e0 = t->first[u], e1 = t->first[u + 1];
                size_t base = 0, pos;

                if (e0 == e1)
                        continue; /* a leaf: base 0 finds no cell whose parent it is */
                pos = t->bytes[e0] + 1u;

                /*
                 * The first child goes to a free cell, the others must fit around it; after a
                 * while, give up and go past every cell in use.
                 */
                for (size_t tries = 0;; tries++, pos++) {
                        bool fits = true;

                        if (tries == 1024 && pos < top + t->bytes[e0])
                                pos = top + t->bytes[e0];
                        r = prefix_free_from(&l, pos, &pos);
                        if (r < 0)
                                goto fail;
                        if (pos > UINT32_MAX - 512) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        base = pos - t->bytes[e0];
                        for (uint32_t e = e0 + 1; e < e1 && fits; e++)
                                fits = l.cells[base + t->bytes[e]].check == NONE;
                        if (fits)
                                break;
                }
                l.cells[cu].base = (uint32_t)base;
                for (uint32_t e = e0; e < e1; e++) {
                        size_t d = base + t->bytes[e];

                        l.cells[d].check = cu;
                        l.next[d] = (uint32_t)d + 1;
                        cell_of[t->child[e]] = (uint32_t)d;
                        queue[tail++] = t->child[e];
                        if (d + 1 > top)
                                top = d + 1;
                }
        }

        /* Room for base + 255 of every cell: bases are below top. */
        r = prefix_reserve(&l, top + 256);
        if (r < 0)
                goto fail;
        free(l.next);
        m->prefix = realloc(l.cells, (top + 256) * sizeof(PrefixCell)) ?: l.cells;
        m->n_prefix_cells = top + 256;
        m->memory += m->n_prefix_cells * sizeof(PrefixCell);
        return 0;
fail:
        free(l.cells);
        free(l.next);
        return r;
}

static unsigned term_word_space(const BuilderTerm *bt, const TermWord *tw) {
        return tw->kind | (bt->flags & TERM_IGNORE_ACCENTS ? SPACE_STRIPPED : 0);
}

int matcher_build(const MatcherBuilder *b, Matcher **ret) {
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_free_ Pair *pairs = NULL;
        _cleanup_free_ uint32_t *ref = NULL;   /* per term word: its entry or prefix node */
        _cleanup_free_ uint32_t *cell_of = NULL; /* per prefix trie node: its cell */
        ByteTrie pt = {};
        TrieBuild tb = { .n_nodes = 1 };
        size_t n_words = 0, pool_size = 0, n_pairs = 0, n_nodes_max;
        size_t n_slots = 16, k;
        uint32_t n_symbols = 0;
        int r;

        if (!b || !ret)
                return -EINVAL;
        (void)pthread_once(&tables_once, tables_init);

        m = calloc(1, sizeof(Matcher));
        if (!m)
                return -ENOMEM;
        m->memory = sizeof(Matcher);
        m->n_terms = b->n_terms;

        for (size_t id = 0; id < b->n_terms; id++) {
                n_words += b->terms[id].n_words;
                for (size_t i = 0; i < b->terms[id].n_words; i++)
                        pool_size += b->terms[id].tw[i].mlength;
        }
        if (n_words >= UINT32_MAX / 4 || pool_size >= UINT32_MAX / 4)
                return -ENOMEM;
        n_nodes_max = n_words + 1;
        while (n_slots < 2 * n_words + 2)
                n_slots *= 2;
        m->slot_mask = n_slots - 1;

        m->term_flags = alloc_array(m, b->n_terms, sizeof(uint8_t));
        m->pool = alloc_array(m, pool_size + HASH_PADDING, 1);
        m->entries = alloc_array(m, n_words, sizeof(DictEntry));
        m->slots = alloc_array(m, n_slots, sizeof(DictSlot));
        m->bloom_mask = n_slots / 16 - 1; /* 8 bits per word, a quarter of them set at most */
        m->bloom_starts = m->bloom_mask + 1;
        m->bloom = alloc_array(m, 2 * m->bloom_starts, sizeof(uint64_t));
        m->nodes = alloc_array(m, n_nodes_max, sizeof(Node));
        pairs = malloc((b->n_terms ? b->n_terms : 1) * sizeof(Pair));
        ref = malloc((n_words ? n_words : 1) * sizeof(uint32_t));
        if (!m->term_flags || !m->pool || !m->entries || !m->slots || !m->bloom || !m->nodes ||
            !pairs || !ref)
                return -ENOMEM;
        for (size_t j = 0; j < n_slots; j++)
                m->slots[j].entry = NONE;

        /* Every distinct word once, with the spaces it is used in. */
        k = 0;
        for (size_t id = 0; id < b->n_terms; id++) {
                const BuilderTerm *bt = &b->terms[id];

                m->term_flags[id] = (uint8_t)bt->flags;
                if (bt->flags & TERM_IGNORE_ACCENTS)
                        m->has_accents = true;
                if (bt->flags & TERM_INSIDE_HASHTAGS)
                        m->has_inside = true;

                for (size_t i = 0; i < bt->n_words; i++, k++) {
                        const TermWord *tw = &bt->tw[i];
                        const char *w = bt->words + tw->moffset;
                        unsigned space = term_word_space(bt, tw);

                        if (tw->prefix) {
                                uint32_t p = 0;

                                r = 0;
                                for (size_t q = 0; r >= 0 && q < tw->mlength; q++)
                                        r = trie_build_insert(&tb, p, (uint8_t)w[q], &p);
                                if (r < 0)
                                        goto finish;
                                ref[k] = p;
                        } else {
                                DictEntry *e = dict_add(m, w, tw->mlength);

                                e->spaces |= 1u << space;
                                ref[k] = (uint32_t)(e - m->entries);
                        }
                }
        }

        /* Symbols: consecutive per entry and per prefix node. */
        for (uint32_t i = 0; i < m->n_entries; i++) {
                m->entries[i].first_symbol = n_symbols;
                n_symbols += popcount8(m->entries[i].spaces);
        }
        r = trie_compress(NULL, &tb, &pt);
        if (r >= 0) {
                cell_of = malloc(pt.n_nodes * sizeof(uint32_t));
                r = cell_of ? prefix_layout(m, &pt, cell_of) : -ENOMEM;
        }
        byte_trie_done(&pt);
        if (r < 0)
                goto finish;
        k = 0;
        for (size_t id = 0; id < b->n_terms; id++) {
                const BuilderTerm *bt = &b->terms[id];

                for (size_t i = 0; i < bt->n_words; i++, k++)
                        if (bt->tw[i].prefix) {
                                ref[k] = cell_of[ref[k]];
                                m->prefix[ref[k]].spaces |=
                                        1u << term_word_space(bt, &bt->tw[i]);
                        }
        }
        m->prefix_min = SIZE_MAX;
        for (size_t id = 0; id < b->n_terms; id++)
                for (size_t i = 0; i < b->terms[id].n_words; i++)
                        if (b->terms[id].tw[i].prefix &&
                            b->terms[id].tw[i].mlength < m->prefix_min)
                                m->prefix_min = b->terms[id].tw[i].mlength;
        for (size_t id = 0; id < b->n_terms; id++)
                for (size_t i = 0; i < b->terms[id].n_words; i++) {
                        const TermWord *tw = &b->terms[id].tw[i];
                        const char *w = b->terms[id].words + tw->moffset;
                        unsigned f = 0;
                        uint64_t x = 0;

                        if (!tw->prefix)
                                continue;
                        if (tw->mlength == 0) {
                                m->prefix_empty = true;
                                continue;
                        }
                        if (tw->mlength < 4) {
                                char key[8] = {};

                                memcpy(key, w, tw->mlength);
                                x = filter_short(key, m->prefix_min);
                        } else
                                for (f = 1; f <= 3 && tw->mlength >= 4 * f; f++)
                                        x = filter_next(x, w + 4 * (f - 1));
                        f = f == 0 ? 0 : f - 1;
                        filter_set(m->prefix_filter[f], x);
                }
        m->prefix_short = m->prefix_min < 4;
        for (size_t c = 0; c < m->n_prefix_cells; c++)
                if (m->prefix[c].spaces != 0) {
                        m->prefix[c].symbol = n_symbols;
                        n_symbols += popcount8(m->prefix[c].spaces);
                }
        m->n_symbols = n_symbols;

        /* The phrase trie over symbols. */
        m->symbol_root = alloc_array(m, n_symbols, sizeof(uint32_t));
        if (!m->symbol_root) {
                r = -ENOMEM;
                goto finish;
        }
        for (uint32_t i = 0; i < n_symbols; i++)
                m->symbol_root[i] = NONE;
        m->nodes[0] = (Node){};
        m->n_nodes = 1;
        k = 0;
        for (size_t id = 0; id < b->n_terms; id++) {
                const BuilderTerm *bt = &b->terms[id];
                uint32_t node = 0;

                for (size_t i = 0; i < bt->n_words; i++, k++) {
                        const TermWord *tw = &bt->tw[i];
                        unsigned space = term_word_space(bt, tw);
                        uint32_t symbol, child;

                        if (tw->prefix)
                                symbol = space_symbol(m->prefix[ref[k]].symbol,
                                                      m->prefix[ref[k]].spaces, space);
                        else
                                symbol = space_symbol(m->entries[ref[k]].first_symbol,
                                                      m->entries[ref[k]].spaces, space);
                        if (node == 0)
                                child = m->symbol_root[symbol];
                        else
                                child = u64map_get(&m->trans, (uint64_t)node << 32 | symbol);
                        if (child == NONE) {
                                child = m->n_nodes++;
                                m->nodes[child] = (Node){ .depth = m->nodes[node].depth + 1 };
                                m->nodes[node].has_children = 1;
                                if (node == 0)
                                        m->symbol_root[symbol] = child;
                                else {
                                        r = u64map_put(&m->trans,
                                                       (uint64_t)node << 32 | symbol, child);
                                        if (r < 0)
                                                goto finish;
                                }
                        }
                        node = child;
                }
                pairs[n_pairs++] = (Pair){ .node = node, .term = (uint32_t)id };
        }

        /* The second filter: entries with a symbol that leaves the root. */
        for (uint32_t i = 0; i < m->n_entries; i++) {
                const DictEntry *e = &m->entries[i];
                uint32_t n = popcount8(e->spaces);

                for (uint32_t q = 0; q < n; q++)
                        if (m->symbol_root[e->first_symbol + q] != NONE) {
                                uint64_t h = hash_bytes(m->pool + e->offset, e->length);

                                m->bloom[m->bloom_starts + bloom_word(m, h)] |= bloom_bits(h);
                                break;
                        }
        }

        /* Outputs: per node, its term ids, sorted. */
        qsort(pairs, n_pairs, sizeof(Pair), pair_compare);
        m->out = alloc_array(m, n_pairs, sizeof(uint32_t));
        if (!m->out) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t p = 0; p < n_pairs; p++) {
                Node *nd = &m->nodes[pairs[p].node];

                if (nd->n_out == 0)
                        nd->out_offset = (uint32_t)p;
                nd->n_out++;
                m->out[p] = pairs[p].term;
        }

        if (m->has_inside) {
                r = build_inside(m, b);
                if (r < 0)
                        goto finish;
        }
        m->memory += u64map_memory(&m->trans);

        *ret = TAKE_PTR(m);
        r = 0;
finish:
        u64map_done(&tb.edges);
        return r;
}

/* ---------------------------------------------------------------------------------------------
 * Scanning
 */

typedef struct Span {
        size_t start, end;
} Span;

struct Scan {
        bool spans;
        Span *span;           /* owned, per word when spans */
        size_t span_allocated;

        char *word;           /* owned: bytes of the word being built */
        size_t word_allocated;
        char *stripped;       /* owned: its accent-stripped form */
        size_t stripped_allocated;
        uint8_t *text;        /* owned: a copy of the text with TEXT_PADDING zeros after it */
        size_t text_allocated;
        char *segment;        /* owned: a sanitized run for utf8proc */
        size_t segment_allocated;
        int32_t *folded;      /* owned: that run folded */
        size_t folded_allocated;

        uint32_t *live, *next_live; /* owned: live phrase trie nodes */
        size_t live_allocated, next_live_allocated, n_live;
        uint32_t *symbols;    /* owned: symbols of the current word */
        size_t symbols_allocated, n_symbols;

        uint64_t *inside_seen; /* owned, per term: scan << 32 | word + 1 of its last inside hit */
        size_t inside_seen_allocated;
        uint64_t generation;

        MatchHit *hits;       /* owned */
        size_t n_hits, hits_allocated;
        size_t n_words;
};

int scan_new(bool spans, Scan **ret) {
        Scan *s = calloc(1, sizeof(Scan));

        if (!s)
                return -ENOMEM;
        s->spans = spans;
        *ret = s;
        return 0;
}

Scan *scan_free(Scan *s) {
        if (!s)
                return NULL;
        free(s->span);
        free(s->word);
        free(s->stripped);
        free(s->text);
        free(s->segment);
        free(s->folded);
        free(s->live);
        free(s->next_live);
        free(s->symbols);
        free(s->inside_seen);
        free(s->hits);
        free(s);
        return NULL;
}

size_t scan_n_hits(const Scan *s) {
        return s ? s->n_hits : 0;
}

const MatchHit *scan_hits(const Scan *s) {
        return s ? s->hits : NULL;
}

size_t scan_n_words(const Scan *s) {
        return s ? s->n_words : 0;
}

void scan_word_span(const Scan *s, size_t i, size_t *ret_start, size_t *ret_end) {
        size_t a = 0, e = 0;

        if (s && s->spans && i < s->n_words) {
                a = s->span[i].start;
                e = s->span[i].end;
        }
        if (ret_start)
                *ret_start = a;
        if (ret_end)
                *ret_end = e;
}

/* The state of one scan: the word builder and the automaton. */
typedef struct Scanner {
        const Matcher *m;
        Scan *s;
        enum { OUTSIDE, IN_RUN, AFTER_SINGLE } state;
        unsigned prev_kind; /* KIND_HASHTAG/KIND_MENTION if the last code point was '#'/'@' */
        unsigned word_kind;
        size_t word_len;
        bool may_strip;     /* the word has a code point that accent stripping may change */
        size_t span_start, span_end;
} Scanner;

static inline int add_hit(Scanner *sc, uint32_t term, uint32_t first, uint32_t n) {
        Scan *s = sc->s;

        if (s->n_hits == s->hits_allocated) {
                int r = GROW(s->hits, s->hits_allocated, s->n_hits + 1);
                if (r < 0)
                        return r;
        }
        s->hits[s->n_hits++] = (MatchHit){ .term = term, .first_word = first, .n_words = n };
        return 0;
}

/* Whether (term, first) was already reported, for TERM_INSIDE_HASHTAGS terms. */
static bool hit_seen(const Scan *s, uint32_t term, uint32_t first) {
        for (size_t i = s->n_hits; i > 0; i--) {
                const MatchHit *h = &s->hits[i - 1];

                if ((uint64_t)h->first_word + h->n_words <= first)
                        break;
                if (h->term == term && h->first_word == first)
                        return true;
        }
        return false;
}

static _always_inline_ int arrive(Scanner *sc, uint32_t node, uint32_t word) {
        const Matcher *m = sc->m;
        const Node *nd = &m->nodes[node];
        Scan *s = sc->s;
        int r;

        for (uint32_t k = 0; k < nd->n_out; k++) {
                uint32_t term = m->out[nd->out_offset + k];
                uint32_t first = word + 1 - nd->depth;

                if ((m->term_flags[term] & TERM_INSIDE_HASHTAGS) &&
                    s->inside_seen[term] >> 32 == (s->generation & 0xFFFFFFFF) &&
                    (uint32_t)s->inside_seen[term] > first && hit_seen(s, term, first))
                        continue;
                r = add_hit(sc, term, first, nd->depth);
                if (r < 0)
                        return r;
                if (m->term_flags[term] & TERM_INSIDE_HASHTAGS)
                        s->inside_seen[term] = (s->generation & 0xFFFFFFFF) << 32 | (word + 1);
        }
        if (nd->has_children) {
                if (s->n_live >= s->next_live_allocated) {
                        r = GROW(s->next_live, s->next_live_allocated, s->n_live + 1);
                        if (r < 0)
                                return r;
                }
                s->next_live[s->n_live++] = node;
        }
        return 0;
}

/* Adds the symbols of first/spaces (an entry or prefix node) in the spaces of want. */
static inline int add_symbols(Scan *s, uint32_t first, uint32_t spaces, uint32_t want) {
        if (s->n_symbols + 8 > s->symbols_allocated) {
                int r = GROW(s->symbols, s->symbols_allocated, s->n_symbols + 8);
                if (r < 0)
                        return r;
        }
        /* The spaces in order, the symbol counting up with them (space_symbol() of each). */
        for (uint32_t symbol = first; spaces != 0; spaces &= spaces - 1, symbol++)
                if (want & spaces & -spaces)
                        s->symbols[s->n_symbols++] = symbol;
        return 0;
}

/* How word_symbols() asks the dictionary: filter first, probe at once, or not at all. */
typedef enum DictAsk {
        DICT_FILTER,
        DICT_PROBE,
        DICT_SKIP,
} DictAsk;

/*
 * The symbols of w[0..n) (valid UTF-8) in the spaces of want. n may be 0, and so may a term
 * word: a lone mark strips to nothing, and a prefix of nothing matches every word.
 */
static _always_inline_ int word_symbols(Scanner *sc, const char *w, size_t n, uint64_t h,
                                        uint32_t want, DictAsk ask) {
        const Matcher *m = sc->m;
        const PrefixCell *cells = m->prefix;
        const DictEntry *e;
        uint32_t c = 0;
        int r;

        e = ask == DICT_FILTER ? dict_find(m, w, n, h) :
            ask == DICT_PROBE  ? dict_lookup(m, w, n, h) : NULL;
        if (e && (e->spaces & want)) {
                r = add_symbols(sc->s, e->first_symbol, e->spaces, want);
                if (r < 0)
                        return r;
        }

        /* Every prefix word on the word's path through the prefix trie. */
        if (!prefix_may_start(m, w, n))
                return 0;
        if (_unlikely_(cells[0].spaces & want)) {
                r = add_symbols(sc->s, cells[0].symbol, cells[0].spaces, want);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                uint32_t d = cells[c].base + (uint8_t)w[i];

                if (cells[d].check != c)
                        break;
                c = d;
                if (cells[c].spaces & want) {
                        r = add_symbols(sc->s, cells[c].symbol, cells[c].spaces, want);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Runs the inside-hashtag automaton over w; accent: 0 plain patterns, 1 stripped, 2 both. */
static int run_inside(Scanner *sc, const char *w, size_t n, int accent, uint32_t word) {
        const ByteTrie *t = &sc->m->inside;
        Scan *s = sc->s;
        uint32_t state = 0;
        uint64_t stamp = (s->generation & 0xFFFFFFFF) << 32 | ((uint64_t)word + 1);
        int r;

        for (size_t i = 0; i < n; i++) {
                uint8_t b = (uint8_t)w[i];

                for (;;) {
                        uint32_t c;

                        if (state == 0) {
                                state = sc->m->inside_root[b];
                                break;
                        }
                        c = trie_child(t, state, b);
                        if (c != NONE) {
                                state = c;
                                break;
                        }
                        state = t->fail[state];
                }
                for (uint32_t o = state; o != NONE && o != 0; o = t->out_link[o])
                        for (uint32_t k = t->out_first[o]; k < t->out_first[o + 1]; k++) {
                                uint32_t term = t->out[k] & ~ACCENT_BIT;
                                bool stripped = t->out[k] & ACCENT_BIT;

                                if (accent != 2 && stripped != (accent == 1))
                                        continue;
                                if (s->inside_seen[term] == stamp && hit_seen(s, term, word))
                                        continue;
                                r = add_hit(sc, term, word, 1);
                                if (r < 0)
                                        return r;
                                s->inside_seen[term] = stamp;
                        }
        }
        return 0;
}

static int hit_compare(const void *a, const void *b) {
        const MatchHit *x = a, *y = b;

        if (x->term != y->term)
                return x->term < y->term ? -1 : 1;
        return x->first_word < y->first_word ? -1 : x->first_word > y->first_word;
}

/* Sorts the hits of one word by term id (and first word). */
static void sort_hits(MatchHit *hh, size_t k) {
        if (k > 16) {
                qsort(hh, k, sizeof(MatchHit), hit_compare);
                return;
        }
        for (size_t i = 1; i < k; i++)
                for (size_t j = i; j > 0 && hit_compare(&hh[j - 1], &hh[j]) > 0; j--) {
                        MatchHit x = hh[j];
                        hh[j] = hh[j - 1];
                        hh[j - 1] = x;
                }
}

/* Advances the automaton by the word's symbols: fresh starts from the root, then each live node. */
static _always_inline_ int advance(Scanner *sc, uint32_t word) {
        const Matcher *m = sc->m;
        Scan *s = sc->s;
        size_t n_live = s->n_live;
        uint32_t *swap;
        size_t swap_allocated;
        int r;

        if (s->n_symbols == 0 && n_live == 0)
                return 0;
        s->n_live = 0;
        for (size_t k = 0; k < s->n_symbols; k++) {
                uint32_t c = m->symbol_root[s->symbols[k]];

                if (c != NONE) {
                        r = arrive(sc, c, word);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < n_live; i++)
                for (size_t k = 0; k < s->n_symbols; k++) {
                        uint32_t c = u64map_get(&m->trans,
                                                (uint64_t)s->live[i] << 32 | s->symbols[k]);

                        if (c != NONE) {
                                r = arrive(sc, c, word);
                                if (r < 0)
                                        return r;
                        }
                }
        swap = s->live;
        swap_allocated = s->live_allocated;
        s->live = s->next_live;
        s->live_allocated = s->next_live_allocated;
        s->next_live = swap;
        s->next_live_allocated = swap_allocated;
        return 0;
}

/*
 * A word is complete: record it and advance the automaton. Its symbols are those of its bytes in
 * the plain spaces it may match (any, and its own '#'/'@' space) and those of its accent-stripped
 * bytes in the stripped ones; when stripping changes nothing, one lookup serves both. h is the
 * hash_bytes() of the word, when the caller has it (have_hash).
 */
static int end_word_hashed(Scanner *sc, uint64_t h, bool have_hash) {
        const Matcher *m = sc->m;
        Scan *s = sc->s;
        const char *w, *sw;
        size_t n = sc->word_len, sn = n, hits_before = s->n_hits;
        unsigned kind = sc->word_kind;
        uint32_t word, plain = 1u << KIND_ANY | 1u << kind;
        bool strip = false;
        int r;

        if (_unlikely_(n + HASH_PADDING > s->word_allocated)) {
                r = GROW(s->word, s->word_allocated, n + HASH_PADDING);
                if (r < 0)
                        return r;
        }
        w = sw = s->word;
        sc->state = OUTSIDE;
        if (_unlikely_(s->n_words >= UINT32_MAX - 1))
                return -ENOMEM; /* more words than a hit can count */
        word = (uint32_t)s->n_words++;
        if (s->spans) {
                r = GROW(s->span, s->span_allocated, s->n_words);
                if (r < 0)
                        return r;
                s->span[word] = (Span){ sc->span_start, sc->span_end };
        }

        if (m->has_accents && sc->may_strip) {
                if (n > SIZE_MAX / 4 - 1)
                        return -ENOMEM;
                r = GROW(s->stripped, s->stripped_allocated, 4 * n + 4 + HASH_PADDING);
                if (r < 0)
                        return r;
                sn = strip_accents(w, n, s->stripped);
                if (sn != n || memcmp(w, s->stripped, n) != 0) {
                        sw = s->stripped;
                        strip = true;
                }
        }

        /* The symbols of this word. */
        s->n_symbols = 0;
        if (!have_hash)
                h = hash_bytes(w, n);
        r = word_symbols(sc, w, n, h, strip ? plain : plain | plain << SPACE_STRIPPED, DICT_FILTER);
        if (r >= 0 && strip)
                r = word_symbols(sc, sw, sn, hash_bytes(sw, sn), plain << SPACE_STRIPPED,
                                 DICT_FILTER);
        if (r < 0)
                return r;

        r = advance(sc, word);
        if (r < 0)
                return r;

        if (m->has_inside && kind == KIND_HASHTAG) {
                if (!strip)
                        r = run_inside(sc, w, n, 2, word);
                else {
                        r = run_inside(sc, w, n, 0, word);
                        if (r >= 0)
                                r = run_inside(sc, sw, sn, 1, word);
                }
                if (r < 0)
                        return r;
        }

        /* This word's hits, by term id. */
        if (s->n_hits - hits_before > 1)
                sort_hits(s->hits + hits_before, s->n_hits - hits_before);
        return 0;
}

/*
 * end_word_hashed() for a word of the fast path (no spans, a word buffer with room for the hash's
 * padding, fewer words than a hit can count) that needs neither accent stripping nor the
 * inside-hashtag automaton: w[0..n) of kind, hashed to h; ask: what the dictionary is to be asked.
 */
static _always_inline_ int end_word_plain(Scanner *sc, const char *w, size_t n, uint64_t h,
                                          unsigned kind, DictAsk ask) {
        Scan *s = sc->s;
        size_t hits_before = s->n_hits;
        uint32_t word = (uint32_t)s->n_words++, plain = 1u << KIND_ANY | 1u << kind;
        int r;

        s->n_symbols = 0;
        r = word_symbols(sc, w, n, h, plain | plain << SPACE_STRIPPED, ask);
        if (r < 0)
                return r;
        r = advance(sc, word);
        if (r < 0)
                return r;
        if (_unlikely_(s->n_hits - hits_before > 1))
                sort_hits(s->hits + hits_before, s->n_hits - hits_before);
        return 0;
}

/*
 * A word of the fast path, t[start..end) folded to w[0..n) and hashed to h, with the TWO_STRIP
 * flag if it has a letter that accent stripping changes, that the filters did not turn away. Out
 * of line, to keep the fast path's loop small. in_filter: whether the dictionary's filter that the
 * fast path asked (of the starting words while no phrase is live) holds the word; if not, the
 * word has no symbol from the dictionary that can do anything.
 */
static __attribute__((noinline)) int end_word_fast_path(Scanner *sc, const char *w, size_t n,
                                                       uint64_t h, uint8_t flags, unsigned kind,
                                                       size_t start, size_t end, bool in_filter) {
        const Matcher *m = sc->m;

        if (!(m->has_accents && (flags & TWO_STRIP)) && !(m->has_inside && kind == KIND_HASHTAG))
                return end_word_plain(sc, w, n, h, kind, in_filter ? DICT_PROBE : DICT_SKIP);
        sc->word_len = n;
        sc->may_strip = flags & TWO_STRIP;
        sc->word_kind = kind;
        sc->span_start = start;
        sc->span_end = end;
        return end_word_hashed(sc, h, true);
}

static int end_word(Scanner *sc) {
        return end_word_hashed(sc, 0, false);
}

/*
 * end_word() for the common case, inline in the scan loop: a plain word that cannot be a term
 * word (the dictionary's filter says no, and no prefix word starts like it), with nothing else to
 * do, is only counted, and ends every partial phrase.
 */
static inline int end_word_fast(Scanner *sc) {
        const Matcher *m = sc->m;
        Scan *s = sc->s;
        const char *w = s->word;
        size_t n = sc->word_len;
        uint64_t h;

        if (s->spans || (m->has_accents && sc->may_strip) ||
            (m->has_inside && sc->word_kind == KIND_HASHTAG) || s->n_words >= UINT32_MAX - 1 ||
            n + HASH_PADDING > s->word_allocated)
                return end_word(sc);
        h = hash_bytes(w, n);
        if ((m->bloom[bloom_word(m, h)] & bloom_bits(h)) == bloom_bits(h) ||
            prefix_may_start(m, w, n))
                return end_word_hashed(sc, h, true);
        sc->state = OUTSIDE;
        s->n_words++;
        s->n_live = 0;
        return 0;
}

static inline int word_reserve(Scanner *sc, size_t more) {
        Scan *s = sc->s;

        if (_likely_(sc->word_len + more <= s->word_allocated))
                return 0;
        if (more > SIZE_MAX - sc->word_len)
                return -ENOMEM;
        return GROW(s->word, s->word_allocated, sc->word_len + more);
}

static inline void word_start(Scanner *sc, size_t span_start) {
        sc->state = IN_RUN;
        sc->word_len = 0;
        sc->may_strip = false;
        sc->word_kind = sc->prev_kind;
        sc->span_start = span_start;
}

/*
 * Feeds one folded code point (its UTF-8 bytes and class) through the splitting rules. span:
 * the input range it came from.
 */
static int feed(Scanner *sc, int32_t cp, const char *bytes, size_t len, CodePointClass c,
                size_t span_start, size_t span_end) {
        unsigned kind = cp == '#' ? KIND_HASHTAG : cp == '@' ? KIND_MENTION : KIND_ANY;
        int r;

        if (c == CP_MARK) {
                if (sc->state == AFTER_SINGLE) {
                        sc->prev_kind = KIND_ANY;
                        return 0;
                }
                c = CP_WORD;
        }
        if (c == CP_WORD) {
                if (sc->state != IN_RUN)
                        word_start(sc, span_start);
                r = word_reserve(sc, len);
                if (r < 0)
                        return r;
                memcpy(sc->s->word + sc->word_len, bytes, len);
                sc->word_len += len;
                if (cp >= 0x80)
                        sc->may_strip = true;
                sc->span_end = span_end;
        } else {
                if (sc->state == IN_RUN) {
                        r = end_word_fast(sc);
                        if (r < 0)
                                return r;
                }
                if (c == CP_SINGLE) {
                        word_start(sc, span_start);
                        r = word_reserve(sc, len);
                        if (r < 0)
                                return r;
                        memcpy(sc->s->word, bytes, len);
                        sc->word_len = len;
                        sc->may_strip = cp_may_strip(cp);
                        sc->span_end = span_end;
                        r = end_word_fast(sc);
                        if (r < 0)
                                return r;
                        sc->state = AFTER_SINGLE;
                } else
                        sc->state = OUTSIDE;
        }
        sc->prev_kind = kind;
        return 0;
}

/* Feeds valid folded UTF-8 bytes[0..len), code point by code point. */
static int feed_utf8(Scanner *sc, const char *bytes, size_t len, size_t span_start,
                     size_t span_end) {
        int r;

        for (size_t i = 0; i < len;) {
                int32_t cp;
                size_t n = decode((const uint8_t *)bytes + i, len - i, &cp);

                r = feed(sc, cp, bytes + i, n, classify_fast(cp), span_start, span_end);
                if (r < 0)
                        return r;
                i += n;
        }
        return 0;
}

/* Folds text[start..end), which begins at a boundary, in one go with utf8proc. */
static int feed_segment(Scanner *sc, const char *text, size_t start, size_t end) {
        Scan *s = sc->s;
        size_t n = 0;
        ssize_t k;
        int r;

        if (end - start > (SIZE_MAX - 16) / 3)
                return -ENOMEM;
        r = GROW(s->segment, s->segment_allocated, 3 * (end - start) + 16);
        if (r < 0)
                return r;
        for (size_t i = start; i < end;) {
                int q = utf8_sequence((const uint8_t *)text + i, end - i);

                if (q > 0) {
                        memcpy(s->segment + n, text + i, q);
                        n += q;
                        i += q;
                } else {
                        memcpy(s->segment + n, "\xEF\xBF\xBD", 3);
                        n += 3;
                        i += -q;
                }
        }
        for (;;) {
                k = text_fold_utf32(s->segment, n, s->folded, s->folded_allocated);
                if (k < 0)
                        return (int)k;
                if ((size_t)k <= s->folded_allocated)
                        break;
                r = GROW(s->folded, s->folded_allocated, (size_t)k);
                if (r < 0)
                        return r;
        }
        for (ssize_t i = 0; i < k; i++) {
                char b[4];
                size_t bl = utf8_encode(s->folded[i], b);

                r = feed(sc, s->folded[i], b, bl, classify_fast(s->folded[i]), start, end);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Folds a boundary code point cp = text[i..i+n) that is followed by a boundary. */
static inline int feed_boundary(Scanner *sc, const char *text, int32_t cp, size_t i, size_t n) {
        uint32_t info;

        if (cp >= 0x10000) {
                /* cp_is_boundary() said it folds to itself */
                return feed(sc, cp, text + i, n, classify_fast(cp), i, i + n);
        }
        info = bmp_info[cp];
        if (info & BMP_SAME)
                return feed(sc, cp, text + i, n,
                            (CodePointClass)((info >> BMP_CLASS_SHIFT) & 3), i, i + n);
        if (info & BMP_SLOW)
                return feed_segment(sc, text, i, i + n);
        const char *p = bmp_pool + (info & BMP_OFFSET_MASK);
        size_t len = (info >> BMP_LEN_SHIFT) & 63;
        if (info & BMP_ONE) {
                int32_t f;

                (void)decode((const uint8_t *)p, len, &f);
                return feed(sc, f, p, len, (CodePointClass)((info >> BMP_CLASS_SHIFT) & 3), i,
                            i + n);
        }
        return feed_utf8(sc, p, len, i, i + n);
}

/* Whether the text may be cut before t[j] (true at the end). */
static inline bool boundary_at(const uint8_t *t, size_t j, size_t len) {
        int32_t cp;

        if (j >= len || t[j] < 0x80)
                return true;
        if (t[j] >= 0xC2 && t[j] <= 0xDF && j + 1 < len && (t[j + 1] & 0xC0) == 0x80)
                return two_byte[(t[j] & 0x1F) << 6 | (t[j + 1] & 0x3F)].flags & TWO_BOUNDARY;
        (void)decode(t + j, len - j, &cp);
        return cp_is_boundary(cp);
}

/* ---------------------------------------------------------------------------------------------
 * The fast path: 16 bytes at a time
 */

/*
 * Every load of the fast path reads at most this far past its position; the text is copied with
 * as many zeros after it. A zero is a separator (NUL), so no run reaches past the end.
 */
#define TEXT_PADDING 32
#define WORD_SLACK 32 /* the word buffer always has this much room beyond the word */

/*
 * The run of ASCII word characters ('0'..'9', 'A'..'Z', 'a'..'z', '_') at p[0..16): its length k
 * (16: all of them), with the 16 bytes lower-cased stored to out (only the run's bytes mean
 * anything), and, in *ret_sep, the length of the run of ASCII separators (bytes below 0x80 that
 * are no word characters) that follows at p + k, or 0 if that one reaches the end of the window
 * (or k is 16): then nothing is known about it.
 */
#ifdef __SSE2__
static inline size_t ascii_runs(const uint8_t *p, char *out, size_t *ret_sep) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
        /* x in [lo, lo + n) iff x + (0x80 - lo), as a signed byte, is below -128 + n */
        __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(lower, _mm_set1_epi8((char)(0x80 - 'a'))),
                                        _mm_set1_epi8((char)(-128 + 26)));
        __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - '0'))),
                                       _mm_set1_epi8((char)(-128 + 10)));
        __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
        __m128i any = _mm_or_si128(_mm_or_si128(letter, digit), under);
        unsigned word = (unsigned)_mm_movemask_epi8(any);
        unsigned high = (unsigned)_mm_movemask_epi8(v);

        _mm_storeu_si128((__m128i *)out,
                         _mm_or_si128(v, _mm_and_si128(letter, _mm_set1_epi8(0x20))));
        size_t k = (size_t)__builtin_ctz(~word | 0x10000u);
        size_t sep = (size_t)__builtin_ctz(((word | high) | 0x10000u) >> k);

        *ret_sep = k + sep < 16 ? sep : 0;
        return k;
}
#else
static inline size_t ascii_runs(const uint8_t *p, char *out, size_t *ret_sep) {
        uint64_t v0 = load64(p), v1 = load64(p + 8);
        uint64_t w0 = swar_word(v0), w1 = swar_word(v1);

        store64(out, swar_fold(v0));
        store64(out + 8, swar_fold(v1));
        size_t k = w0 != HIGHS ? swar_leading(~w0 & HIGHS) :
                   w1 != HIGHS ? 8 + swar_leading(~w1 & HIGHS) : 16;
        size_t sep = 0;

        /* bytes k.. of the window that are separators: only the first run counts */
        while (k + sep < 16 && p[k + sep] < 0x80 && ascii_fold[p[k + sep]] == 0)
                sep++;
        *ret_sep = k + sep < 16 ? sep : 0;
        return k;
}
#endif

#ifdef __SSE2__
/*
 * The run of Cyrillic letters U+0400..U+045F at p[0..16) (bytes D0 80..BF, D1 80..9F): its length
 * in bytes, even, with the 16 bytes folded stored to out (U+0400..U+040F + 0x50, U+0410..U+042F
 * + 0x20; see cyrillic_simple), and *ret_strip set if one of them may change under accent
 * stripping (folded U+0450..U+045F: ё, ї, ў, ...). Each two bytes are one 16-bit lane, lead byte
 * low.
 */
static inline size_t cyrillic_run(const uint8_t *p, char *out, bool *ret_strip) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i lead = _mm_and_si128(v, _mm_set1_epi16(0xFF));
        __m128i cont = _mm_srli_epi16(v, 8);
        __m128i d0 = _mm_cmpeq_epi16(lead, _mm_set1_epi16(0xD0));
        __m128i d1 = _mm_cmpeq_epi16(lead, _mm_set1_epi16(0xD1));
        __m128i ge80 = _mm_cmpgt_epi16(cont, _mm_set1_epi16(0x7F));
        __m128i lt90 = _mm_cmplt_epi16(cont, _mm_set1_epi16(0x90));
        __m128i lta0 = _mm_cmplt_epi16(cont, _mm_set1_epi16(0xA0));
        __m128i ltb0 = _mm_cmplt_epi16(cont, _mm_set1_epi16(0xB0));
        __m128i ltc0 = _mm_cmplt_epi16(cont, _mm_set1_epi16(0xC0));
        __m128i ok = _mm_and_si128(ge80, _mm_or_si128(_mm_and_si128(d0, ltc0),
                                                      _mm_and_si128(d1, lta0)));
        __m128i r0 = _mm_and_si128(d0, lt90);                      /* U+0400..U+040F */
        __m128i r1 = _mm_andnot_si128(lt90, _mm_and_si128(d0, lta0)); /* U+0410..U+041F */
        __m128i r2 = _mm_andnot_si128(lta0, _mm_and_si128(d0, ltb0)); /* U+0420..U+042F */
        __m128i add = _mm_or_si128(_mm_and_si128(r0, _mm_set1_epi16(0x1001)),
                                   _mm_or_si128(_mm_and_si128(r1, _mm_set1_epi16(0x2000)),
                                                _mm_and_si128(r2, _mm_set1_epi16((short)0xE001))));
        __m128i f = _mm_add_epi16(v, add);
        /* folded D1 90..9F: U+0450..U+045F */
        __m128i strip = _mm_and_si128(
                _mm_cmpeq_epi16(_mm_and_si128(f, _mm_set1_epi16((short)0xF0FF)),
                                _mm_set1_epi16((short)0x90D1)),
                ok);
        unsigned okm = (unsigned)_mm_movemask_epi8(ok);
        size_t n = (size_t)__builtin_ctz(~okm | 0x10000u) & ~(size_t)1;

        _mm_storeu_si128((__m128i *)out, f);
        *ret_strip = ((unsigned)_mm_movemask_epi8(strip) & ((1u << n) - 1)) != 0;
        return n;
}
#endif

/* The two-byte letter at p, or NULL: p[0..2) is a code point U+0080..U+07FF folded by table. */
static inline const TwoByte *two_byte_letter(const uint8_t *p) {
        const TwoByte *q;

        if (p[0] < 0xC2 || p[0] > 0xDF || (p[1] & 0xC0) != 0x80)
                return NULL;
        q = &two_byte[(p[0] & 0x1F) << 6 | (p[1] & 0x3F)];
        return q->flags & TWO_WORD ? q : NULL;
}

/* The kind of a word right after the byte b. */
static inline unsigned byte_kind(uint8_t b) {
        return (unsigned)(b == '#') * KIND_HASHTAG + (unsigned)(b == '@') * KIND_MENTION;
}

/*
 * Scans the words that make up most posts, from t[*io_i] on: runs of ASCII word characters and
 * two-byte letters, between runs of ASCII separators. Every character of such a word is folded by
 * table and is followed by a boundary (the next is ASCII or a two-byte letter), so this gives the
 * same words as the general loop. It stops, leaving *io_i before what it does not handle, at
 * anything else: a separator run followed by another code point (which might compose with its
 * last separator), or a word that meets one (it is left whole to the general loop). A word that
 * may be a term word, or needs more than the filters, goes to end_word_fast_path(); the others
 * are only counted. t has TEXT_PADDING zeros after len. Only called with no spans, outside a word.
 */
static inline int scan_fast(Scanner *sc, const uint8_t *t, size_t len, size_t *io_i) {
        const Matcher *m = sc->m;
        Scan *s = sc->s;
        const size_t first = *io_i;
        size_t i = first, known_sep = 0, n_words = s->n_words;
        /* What sends a word that the filters turn away to end_word_fast_path() all the same. */
        const uint8_t strip_flag = m->has_accents ? TWO_STRIP : 0;
        const bool inside = m->has_inside;
        int r;

        /*
         * The scanner's state and word count are written back only on the way out (the count
         * also around end_word_fast_path()): past first, the state is OUTSIDE, and the kind of a
         * word is that of the byte before it (an ASCII separator, or the last word's own last
         * character).
         */
#define KIND_AT(j) ((j) == first ? sc->prev_kind : byte_kind(t[(j) - 1]))

        if (_unlikely_(s->word_allocated < 4 * WORD_SLACK)) {
                r = GROW(s->word, s->word_allocated, 4 * WORD_SLACK);
                if (r < 0)
                        return r;
        }
        while (i < len) {
                size_t start, o = 0, k, sep = known_sep;
                uint8_t flags = 0;
                char *w;
                uint64_t h, bits;
                bool in_filter;

                /*
                 * Separators, up to a word character of ours. The window that ended the last word
                 * usually saw where they end.
                 */
                known_sep = 0;
                if (sep == 0 && t[i] < 0x80) {
                        char scratch[16];

                        if (ascii_runs(t + i, scratch, &sep) == 0)
                                sep = sep == 0 ? 16 : sep;
                        else
                                sep = 0;
                }
                if (sep > 0) {
                        size_t j = i + sep;

                        if (sep == 16)
                                while (j < len && t[j] < 0x80 && ascii_fold[t[j]] == 0)
                                        j++;
                        if (j >= len) {
                                i = len;
                                break;
                        }
                        if (t[j] >= 0x80 && !two_byte_letter(t + j))
                                break;
                        i = j;
                }

                /* A word: ASCII runs and two-byte letters up to an ASCII separator. */
                start = i;
                w = s->word;
                for (;;) {
                        const TwoByte *q;

                        /* (The buffer has 4 * WORD_SLACK: no need to look before that.) */
                        if (_unlikely_(o >= 3 * WORD_SLACK) &&
                            o + WORD_SLACK > s->word_allocated) {
                                r = GROW(s->word, s->word_allocated, o + WORD_SLACK);
                                if (r < 0)
                                        return r;
                                w = s->word;
                        }
                        if (t[i] < 0x80) {
                                k = ascii_runs(t + i, w + o, &known_sep);
                                o += k;
                                i += k;
                                if (k == 16)
                                        continue;
                                if (t[i] < 0x80)
                                        break; /* an ASCII separator, or the end */
                                known_sep = 0;
                        }
#ifdef __SSE2__
                        if (cyrillic_simple) {
                                bool strip;

                                k = cyrillic_run(t + i, w + o, &strip);
                                if (k > 0) {
                                        o += k;
                                        i += k;
                                        flags |= strip ? TWO_STRIP : 0;
                                        continue;
                                }
                        }
#endif
                        q = two_byte_letter(t + i);
                        if (!q) {
                                /* Something else: the general loop takes the whole word. */
                                i = start;
                                goto out;
                        }
                        memcpy(w + o, q, sizeof(*q));
                        o += q->len;
                        flags |= q->flags;
                        i += 2;
                }
                if (_unlikely_(o == 0)) {
                        i = start;
                        break; /* not a word of ours (at the end, or only a separator) */
                }

                h = hash_bytes(w, o);
                /* With no phrase live, only a word that starts a term can do anything. */
                bits = bloom_bits(h);
                in_filter = (m->bloom[bloom_word(m, h) +
                                      (m->bloom_starts & ((size_t)(s->n_live != 0) - 1))] &
                             bits) == bits;
                if (_likely_(!in_filter) && !(flags & strip_flag) &&
                    !(inside && KIND_AT(start) == KIND_HASHTAG) && !prefix_may_start_4(m, w, o)) {
                        n_words++;
                        s->n_live = 0;
                } else {
                        s->n_words = n_words;
                        r = end_word_fast_path(sc, w, o, h, flags, KIND_AT(start), start, i,
                                               in_filter);
                        if (r < 0)
                                return r;
                        n_words = s->n_words;
                }
        }
out:
        s->n_words = n_words;
        if (i != first) {
                sc->state = OUTSIDE;
                sc->prev_kind = byte_kind(t[i - 1]);
        }
        *io_i = i;
        return 0;
#undef KIND_AT
}

int matcher_scan(const Matcher *m, const char *text, size_t len, Scan *s) {
        const uint8_t *t = (const uint8_t *)text;
        Scanner sc = { .m = m, .s = s };
        size_t i = 0;
        int r;

        if (!m || !s || (!text && len > 0))
                return -EINVAL;

        if (!s->spans) {
                /* The fast path reads up to TEXT_PADDING bytes ahead. */
                if (len > SIZE_MAX - TEXT_PADDING)
                        return -ENOMEM;
                r = GROW(s->text, s->text_allocated, len + TEXT_PADDING);
                if (r < 0)
                        return r;
                if (len > 0)
                        memcpy(s->text, text, len);
                memset(s->text + len, 0, TEXT_PADDING);
                t = s->text;
                text = (const char *)t;
        }

        s->n_hits = 0;
        s->n_words = 0;
        s->n_live = 0;
        s->generation++;
        if (m->has_inside && s->inside_seen_allocated < m->n_terms) {
                size_t old = s->inside_seen_allocated;

                r = GROW(s->inside_seen, s->inside_seen_allocated, m->n_terms);
                if (r < 0)
                        return r;
                memset(s->inside_seen + old, 0,
                       (s->inside_seen_allocated - old) * sizeof(uint64_t));
        }
        if ((s->generation & 0xFFFFFFFF) == 0) { /* wrapped: forget every stamp */
                if (s->inside_seen)
                        memset(s->inside_seen, 0, s->inside_seen_allocated * sizeof(uint64_t));
                s->generation++;
        }

        while (i < len) {
                uint8_t c;
                int32_t cp, next = 0xFFFD;
                size_t n, nn = 0;

                /* (A text has no more words than bytes: the fast path need not count them.) */
                if (!s->spans && sc.state != IN_RUN && len < UINT32_MAX - 1) {
                        r = scan_fast(&sc, t, len, &i);
                        if (r < 0)
                                return r;
                        if (i >= len)
                                break;
                }
                c = t[i];

                if (c < 0x80) {
                        if (ascii_fold[c] == 0)
                                goto separators;
                        if (sc.state != IN_RUN && i + 8 <= len && !s->spans &&
                            !(m->has_inside && sc.prev_kind == KIND_HASHTAG) &&
                            s->n_words < UINT32_MAX - 1) {
                                /*
                                 * A word of fewer than 8 ASCII bytes before an ASCII separator,
                                 * folded and hashed in a register: if it can be no term word, it
                                 * is only counted, and ends every partial phrase.
                                 */
                                uint64_t v = load64(t + i), m8 = swar_word(v);

                                if (m8 != HIGHS) {
                                        size_t k = swar_leading(~m8 & HIGHS);
                                        uint64_t f = swar_keep(swar_fold(v), k);

                                        if (t[i + k] < 0x80 && !short_word_may_match(m, f, k)) {
                                                s->n_words++;
                                                s->n_live = 0;
                                                sc.state = OUTSIDE;
                                                sc.prev_kind = KIND_ANY;
                                                i += k;
                                                continue;
                                        }
                                }
                        }
                        goto word;
                }
                if (c >= 0xC2 && c <= 0xDF && i + 1 < len && (t[i + 1] & 0xC0) == 0x80) {
                        const TwoByte *tb = &two_byte[(c & 0x1F) << 6 | (t[i + 1] & 0x3F)];

                        if (tb->flags & TWO_WORD)
                                goto word;
                        if ((tb->flags & TWO_SEPARATOR) && boundary_at(t, i + 2, len)) {
                                if (sc.state == IN_RUN) {
                                        r = end_word_fast(&sc);
                                        if (r < 0)
                                                return r;
                                }
                                sc.state = OUTSIDE;
                                sc.prev_kind = KIND_ANY;
                                i += 2;
                                continue;
                        }
                }
                goto general;

        word: {
                /*
                 * A run of word characters that fold by table: ASCII letters, digits and '_', and
                 * two-byte letters. Each is a boundary, and so is the next unless it is the
                 * character after the run: if that one is not, the last character of the run
                 * composes with it (e + U+0301) and goes to utf8proc with it.
                 */
                unsigned old_state = sc.state;
                size_t before, run = i;
                uint8_t flags = 0;

                if (sc.state != IN_RUN)
                        word_start(&sc, i);
                before = sc.word_len;
                for (;;) {
                        char *w, *o, *end;

                        r = word_reserve(&sc, 64);
                        if (r < 0)
                                return r;
                        w = s->word;
                        o = w + sc.word_len;
                        end = w + s->word_allocated - 8; /* room for one 8-byte store */
                        while (o < end && i < len) {
                                uint8_t b = t[i];

                                if (b < 0x80) {
                                        size_t k;

                                        if (_likely_(i + 8 <= len)) {
                                                uint64_t v = load64(t + i), m8 = swar_word(v);

                                                store64(o, swar_fold(v));
                                                k = m8 == HIGHS ? 8 : swar_leading(~m8 & HIGHS);
                                        } else
                                                for (k = 0; i + k < len &&
                                                            ascii_fold[t[i + k]] != 0;
                                                     k++)
                                                        o[k] = (char)ascii_fold[t[i + k]];
                                        if (k == 0)
                                                break;
                                        o += k;
                                        i += k;
                                        if (k < 8 && (i >= len || t[i] < 0x80))
                                                break; /* an ASCII separator (or the end) */
                                } else if (b >= 0xC2 && b <= 0xDF && i + 1 < len &&
                                           (t[i + 1] & 0xC0) == 0x80) {
                                        const TwoByte *q =
                                                &two_byte[(b & 0x1F) << 6 | (t[i + 1] & 0x3F)];

                                        if (!(q->flags & TWO_WORD))
                                                break;
                                        memcpy(o, q, sizeof(*q));
                                        o += q->len;
                                        flags |= q->flags;
                                        i += 2;
                                } else
                                        break;
                        }
                        sc.word_len = (size_t)(o - w);
                        if (o < end || i >= len)
                                break;
                }
                if (i < len && t[i] >= 0x80 && !boundary_at(t, i, len) && i > run) {
                        /* Take the last character back: ASCII, or two bytes. */
                        if (t[i - 1] < 0x80) {
                                i--;
                                sc.word_len--;
                        } else {
                                i -= 2;
                                sc.word_len -=
                                        two_byte[(t[i] & 0x1F) << 6 | (t[i + 1] & 0x3F)].len;
                        }
                }
                if (sc.word_len == before) {
                        /* Only a character that composes with what follows. */
                        sc.state = old_state;
                        goto general;
                }
                if (flags & TWO_STRIP)
                        sc.may_strip = true;
                sc.span_end = i;
                sc.prev_kind = KIND_ANY;
                continue;
        }

        separators: {
                /* A run of ASCII separators, NUL included; the same rule for the last one. */
                size_t start = i;
                bool more = true;

                if (i + 1 < len && ascii_fold[t[i + 1]] != 0) {
                        /* The common case: one, before an ASCII word character. */
                        i++;
                        more = false;
                } else if (_likely_(i + 8 <= len)) {
                        uint64_t v = load64(t + i), sep = ~swar_word(v) & ~v & HIGHS;

                        if (sep != HIGHS) {
                                i += swar_leading(~sep & HIGHS); /* t[start] is one: >= 1 */
                                more = false;
                        } else
                                i += 8;
                } else
                        i++;
                while (more && i < len && t[i] < 0x80 && ascii_fold[t[i]] == 0)
                        i++;
                if (i < len && t[i] >= 0x80 && !boundary_at(t, i, len))
                        i--;
                if (i == start)
                        goto general;
                if (sc.state == IN_RUN) {
                        r = end_word_fast(&sc);
                        if (r < 0)
                                return r;
                }
                sc.state = OUTSIDE;
                c = t[i - 1];
                sc.prev_kind = (unsigned)(c == '#') * KIND_HASHTAG +
                               (unsigned)(c == '@') * KIND_MENTION;
                continue;
        }

        general:
                /* The general case: a code point, folded by table if a boundary follows. */
                n = decode(t + i, len - i, &cp);
                if (i + n < len)
                        nn = decode(t + i + n, len - i - n, &next);
                if (cp_is_boundary(cp) && (i + n >= len || cp_is_boundary(next))) {
                        r = feed_boundary(&sc, text, cp, i, n);
                        if (r < 0)
                                return r;
                        i += n;
                        continue;
                }

                /* Else fold it with every following code point up to the next boundary. */
                size_t j = i + n;
                while (j < len) {
                        if (j > i + n)
                                nn = decode(t + j, len - j, &next);
                        if (cp_is_boundary(next))
                                break;
                        j += nn;
                }
                r = feed_segment(&sc, text, i, j);
                if (r < 0)
                        return r;
                i = j;
        }
        if (sc.state == IN_RUN) {
                r = end_word_fast(&sc);
                if (r < 0)
                        return r;
        }
        return 0;
}
