/* SPDX-License-Identifier: MIT */
/*
 * bench-match.c - how fast, how big and how quick to compile the keyword matcher (match.h) is on
 * a realistic feed, next to ripgrep and GNU grep doing a similar job over the same posts.
 *
 * The program generates a deterministic corpus (seeded PRNG: the same --seed and --posts give
 * the same bytes on every machine): one post per line, about 150 bytes on average with a tail to
 * 500, ~60% English and ~40% Russian with Sentence case and some ALL CAPS, brand names,
 * #hashtags (also CamelCase), @mentions, URLs, emoji with skin tones, numbers, and a few percent
 * of complaints. It then builds term sets of the requested sizes (real complaint vocabulary
 * first, then plausible pseudo-words in both scripts up to the size) and, for each set, forks a
 * child that compiles the set and scans every post on one thread, folding as it goes, exactly as
 * earshotd does. The child starts from a small parent (the corpus lives on disk, not in memory),
 * so its peak RSS is what the matcher, its scratch space and the program need, without the
 * corpus. The time spent in read() is measured and taken out of the scan time.
 *
 * The tools get the corpus and the terms already casefolded with text_fold(), so they do less
 * work than earshot: `rg -j1 -F -w -c -f TERMS` and `grep -F -w -c -f TERMS`, both in the
 * C.UTF-8 locale, timed on the wall clock around posix_spawn() and waitpid(), CPU time from
 * wait4(). "Faster than" is judged on CPU time, which a busy machine does not inflate.
 * -F -w cannot express prefixes (refund* is given to them as refund), phrases across
 * punctuation, hashtag-only or inside-hashtag terms, nor ignore accents, so their counts differ
 * somewhat by design.
 *
 * This is a benchmark, not a test: it prints figures and is not run by meson test. It dies with
 * a message on allocation failure; there is nothing to recover.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

#include "util/cleanup.h"
#include "match.h"
#include "normalize.h"

extern char **environ;

#define POST_MAX 500
#define READ_CHUNK (1u << 20) /* counted in the peak RSS */
#define NAME_SPACE 40000u /* pseudo-names the corpus draws from; term sets take the first ones */

static uint64_t arg_posts = 1000000;
static uint64_t arg_seed = 20240601;
static size_t *arg_sets = NULL;
static size_t arg_n_sets = 0;
static const char *arg_keep = NULL;
static bool arg_tools = true;
static unsigned arg_tool_timeout = 600;
static unsigned arg_runs = 1;

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 */

_printf_(1, 2) static _Noreturn void die(const char *fmt, ...) {
        va_list ap;

        fputs("bench-match: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(EXIT_FAILURE);
}

static void *xrealloc(void *p, size_t n) {
        p = realloc(p, n);
        if (!p)
                die("out of memory");
        return p;
}

static char *xstrdup(const char *s) {
        char *d = strdup(s);

        if (!d)
                die("out of memory");
        return d;
}

static double clock_s(clockid_t clock) {
        struct timespec ts;

        (void)clock_gettime(clock, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void) {
        return clock_s(CLOCK_MONOTONIC);
}

/* A growable byte string, always NUL-terminated once anything was added. */
typedef struct Buf {
        char *data; /* owned */
        size_t len, cap;
} Buf;

static void buf_reserve(Buf *b, size_t n) {
        if (b->len + n + 1 <= b->cap)
                return;
        b->cap = (b->len + n + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
}

static void buf_add(Buf *b, const char *s, size_t n) {
        buf_reserve(b, n);
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
}

static void buf_adds(Buf *b, const char *s) {
        buf_add(b, s, strlen(s));
}

_printf_(2, 3) static void buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

static void buf_clear(Buf *b) {
        b->len = 0;
        if (b->data)
                b->data[0] = 0;
}

static void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf){};
}

/* ---------------------------------------------------------------------------------------------
 * PRNG: xoshiro256** seeded through splitmix64 (Blackman & Vigna), so the corpus is the same on
 * every machine and libc.
 */

typedef struct Rng {
        uint64_t s[4];
} Rng;

static uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));

        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static void rng_init(Rng *r, uint64_t seed) {
        for (size_t i = 0; i < 4; i++)
                r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(Rng *r) {
        uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

/* Uniform in [0, n) (Lemire's multiply-shift; the bias is far below what matters here). */
static uint32_t rng_below(Rng *r, uint32_t n) {
        return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_unit(Rng *r) {
        return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static bool rng_chance(Rng *r, double p) {
        return rng_unit(r) < p;
}

static double rng_normal(Rng *r) {
        double u = rng_unit(r), v = rng_unit(r);

        return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

/* Index in [0, n) skewed towards the front, as word frequencies are. */
static size_t rng_skewed(Rng *r, size_t n) {
        double u = rng_unit(r);

        return (size_t)((double)n * u * u);
}

#define PICK(r, array) ((array)[rng_below((r), ELEMENTSOF(array))])

/* ---------------------------------------------------------------------------------------------
 * Vocabulary
 */
/* Word lists read better filled than in columns. */
/* clang-format off */

static const char *const words_en[] = {
        "the", "a", "to", "and", "of", "in", "is", "it", "for", "on", "my", "you", "this",
        "that", "with", "just", "so", "was", "have", "but", "be", "at", "not", "are", "we",
        "all", "get", "got", "like", "one", "out", "up", "today", "new", "time", "day", "now",
        "what", "love", "good", "really", "know", "can", "people", "from", "about", "when",
        "more", "great", "go", "no", "if", "your", "how", "will", "they", "me", "been",
        "going", "see", "back", "think", "still", "only", "year", "first", "some", "want",
        "make", "even", "because", "who", "much", "best", "would", "right", "there", "after",
        "last", "work", "here", "why", "well", "also", "never", "thank", "thanks", "tonight",
        "weekend", "morning", "coffee", "friends", "family", "home", "game", "music", "video",
        "photo", "news", "city", "week", "night", "happy", "life", "world", "house", "school",
        "team", "show", "movie", "book", "food", "dinner", "lunch", "pizza", "weather", "rain",
        "sun", "summer", "winter", "beautiful", "amazing", "awesome", "funny", "crazy", "tired",
        "excited", "waiting", "watching", "reading", "playing", "working", "looking", "trying",
        "finally", "again", "always", "everyone", "someone", "something", "nothing",
        "everything", "place", "store", "order", "phone", "app", "update", "account",
        "package", "delivery", "price", "sale", "deal", "free", "online", "website", "email",
        "ticket", "flight", "hotel", "train", "bus", "car", "road", "traffic", "office",
        "meeting", "project", "idea", "question", "answer", "problem", "help", "call", "wait",
        "minutes", "hours", "days", "ago", "tomorrow", "yesterday", "soon", "late", "early",
        "fast", "slow", "big", "small", "old", "young", "nice", "cool", "hot", "cold", "sure",
        "maybe", "probably", "actually", "literally", "seriously", "honestly", "lol", "omg",
        "btw", "gonna", "wanna", "can't", "don't", "I'm", "it's", "that's", "didn't", "won't",
        "I've", "you're", "I", "I", "I",
};

static const char *const words_ru[] = {
        "и", "в", "не", "на", "я", "что", "с", "это", "а", "как", "все", "но", "так", "у",
        "по", "же", "вот", "да", "ты", "мы", "он", "она", "они", "уже", "ещё", "еще", "очень",
        "сегодня", "завтра", "вчера", "сейчас", "когда", "тоже", "только", "можно", "нужно",
        "надо", "просто", "был", "была", "было", "будет", "есть", "нет", "хорошо", "спасибо",
        "друзья", "друг", "день", "ночь", "утро", "вечер", "неделя", "год", "время", "жизнь",
        "работа", "работе", "дом", "дома", "город", "погода", "снег", "дождь", "солнце", "кофе",
        "чай", "обед", "ужин", "магазин", "заказ", "заказал", "доставка", "приложение",
        "телефон", "аккаунт", "карта", "карту", "оплата", "деньги", "цена", "скидка", "новый",
        "новая", "новые", "хороший", "отличный", "красивый", "большой", "маленький",
        "интересно", "смешно", "грустно", "весело", "устал", "люблю", "хочу", "могу", "знаю",
        "думаю", "смотрю", "читаю", "жду", "пишу", "иду", "еду", "сделал", "купил",
        "посмотрел", "нашёл", "получил", "вопрос", "ответ", "проблема", "помощь",
        "пожалуйста", "кстати", "наконец", "опять", "снова", "всегда", "никогда", "почему",
        "где", "кто", "зачем", "сколько", "минут", "часов", "дней", "назад", "потом", "скоро",
        "поздно", "рано", "быстро", "медленно", "фильм", "книга", "музыка", "игра", "видео",
        "фото", "новости", "школа", "семья", "мама", "папа", "кот", "собака", "лето", "зима",
        "весна", "осень", "праздник", "выходные", "понедельник", "пятница", "офис", "встреча",
        "проект", "идея", "поезд", "самолёт", "билет", "отель", "машина", "пробка", "метро",
};

static const char *const complaints_en[] = {
        "refund", "want a refund", "where is my refund", "refunds", "refunded", "money back",
        "I want my money back", "scam", "total scam", "scammed", "scammers", "fraud", "broken",
        "not working", "doesn't work", "still not working", "worst customer service",
        "customer service", "customer support", "never again", "charged twice",
        "cancel my subscription", "cancelled", "rip-off", "ripoff", "terrible", "awful",
        "useless", "disappointed", "outage", "app keeps crashing", "crashed again",
        "unacceptable", "no response", "still waiting", "overcharged", "hacked", "data breach",
        "account locked", "nightmare", "horrible", "delayed", "lost my package", "fix this",
        "angry", "garbage", "wrong order", "misleading", "false advertising", "waste of money",
        "shame", "won't load", "hidden fees", "never buying", "spam", "call center", "downtime",
        "can't log in", "cancel subscription", "ridiculous", "pathetic", "on hold",
        "complaining", "complaint filed",
};

static const char *const complaints_ru[] = {
        "верните деньги", "не работает", "опять не работает", "обман", "мошенники", "развод",
        "возврат денег", "возврата", "ужасный сервис", "ужасно", "поддержка молчит",
        "списали деньги", "жалоба", "кошмар", "отвратительно", "всё сломалось",
        "все сломалось", "приложение вылетает", "вылетает", "больше никогда", "обманули",
        "мошенничество", "хамство", "претензия", "не отвечают", "глючит", "деньги не вернули",
        "заблокировали", "задержка", "служба поддержки", "бесит", "заказ не пришел", "позор",
        "недовольна", "недоволен", "пустая трата", "ужас", "спасибо за ничего", "спам",
        "колл-центр", "не могу войти", "отменить подписку", "терпение лопнуло", "ждем ответа",
        "на линии",
};

static const char *const brand_tokens[] = {
        "Acme", "Acme", "Acme", "ACME", "acme", "@acme", "@AcmeHelp", "@acme_support", "#acme",
        "#AcmeFail", "#FixAcmeNow", "#BoycottAcme", "acme.com", "Acme's", "Акме", "Акме",
        "Zentro", "@zentro", "#ZentroDown", "Globex", "Initech",
};

static const char *const hashtags[] = {
        "#MondayMood", "#tech", "#travel", "#foodie", "#NowPlaying", "#погода", "#москва",
        "#работа", "#TBT", "#love", "#photography", "#news", "#football", "#кино", "#music",
        "#WorkFromHome", "#2024", "#выходные", "#coffee", "#мошенники", "#техподдержка",
};

static const char *const emoji[] = {
        "😀", "😂", "😂", "🤣", "😍", "😊", "😭", "😅", "🙈", "🔥", "🎉", "❤️", "💯", "✨",
        "😡", "🤬", "😤", "💸", "🙄", "😴", "🥳", "🍕", "☕", "🇷🇺", "🤦‍♀️", "👀", "🤔",
};

/* People emoji that take a Fitzpatrick modifier (U+1F3FB..U+1F3FF). */
static const char *const emoji_toned[] = {
        "👍", "🙏", "👎", "👏", "🤦", "🤷", "✌", "💪", "👌",
};

static const char *const skin_tones[] = {
        "\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF",
};

static const char *const angry_emoji[] = { "😡", "🤬", "😤", "👎", "💩", "🤡", "😠" };

static const char *const name_suffixes_en[] = {
        "app", "support", "store", "bank", "delivery", "customer service", "help desk", "login",
};

static const char *const name_suffixes_ru[] = {
        "поддержка", "банк", "доставка", "магазин", "приложение", "служба доставки",
        "личный кабинет",
};

/*
 * Real terms, as a brand team would write them, in the order term sets take them: the first 100
 * are a mixture (brands, complaint words in both languages, phrases, prefixes, hashtags,
 * mentions, emoji); bigger sets add the rest and then pseudo-words.
 */
static const char *const real_terms[] = {
        "acme", "refund*", "\"money back\"", "верните деньги", "scam*", "#acmefail", "@acmehelp",
        "😡", "не работает", "обман", "zentro", "broken", "\"not working\"", "мошенники", "fraud",
        "\"customer service\"", "акме", "terrible", "возврат*", "useless", "🤬", "\"never again\"",
        "жалоба", "Globex", "\"charged twice\"", "кошмар", "awful", "outage", "списали деньги",
        "#FixAcmeNow", "@acme", "worst", "развод", "cancel*", "\"rip-off\"", "отвратительно",
        "disappointed", "\"doesn't work\"", "ужасн*", "👎", "unacceptable", "поддержка молчит",
        "#zentrodown", "crash*", "мошенн*", "\"where is my refund\"", "acme.com", "💩", "ripoff",
        "обманули", "всё сломалось", "\"app keeps crashing\"", "@acme_support", "lawsuit",
        "вылетает", "\"worst service\"", "unsubscribe", "хамство", "#boycottacme",
        "\"still waiting\"", "претензия", "\"no response\"", "overcharged", "не отвечают", "🤡",
        "hacked", "глючит", "\"data breach\"", "#мошенники", "complain*", "scammers",
        "деньги не вернули", "nightmare", "\"account locked\"", "заблокировали", "horrible",
        "больше никогда", "delayed", "задержка", "\"lost my package\"", "\"customer support\"",
        "служба поддержки", "#acme", "\"fix this\"", "angry", "бесит", "garbage",
        "заказ не пришел", "\"wrong order\"", "позор", "Initech", "misleading",
        "\"false advertising\"", "недовольн*", "@zentro", "\"waste of money\"", "пустая трата",
        "shame", "\"won't load\"", "ужас", "\"hidden fees\"", "спасибо за ничего", "😤", "refunds",
        "\"never buying\"", "spam", "спам", "\"call center\"", "колл-центр", "downtime",
        "не могу войти", "\"can't log in\"", "\"cancel subscription\"", "отменить подписку",
        "терпение лопнуло", "ridiculous", "pathetic", "ждем ответа", "\"on hold\"", "на линии",
};

/* clang-format on */

/* Real terms written with flags, as a config would set them for these. */
static const struct {
        const char *term;
        unsigned flags;
} real_term_flags[] = {
        {"acme", TERM_INSIDE_HASHTAGS},
        {"zentro", TERM_INSIDE_HASHTAGS},
        {"всё сломалось", TERM_IGNORE_ACCENTS},
};

static unsigned real_term_flags_of(const char *term) {
        for (size_t i = 0; i < ELEMENTSOF(real_term_flags); i++)
                if (streq(real_term_flags[i].term, term))
                        return real_term_flags[i].flags;
        return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Pseudo-words: plausible names in Latin or Cyrillic letters (Zorvex, Бравонин), a pure
 * function of (seed, index) so the corpus and the term sets agree on them.
 */

static const char *const syl_onset_lat[] = {
        "b", "br", "c", "ch", "d",  "dr", "f",  "g", "gr", "k",  "kl", "l",  "m",  "n",
        "p", "pr", "r", "s",  "st", "t",  "tr", "v", "z",  "zh", "sh", "qu", "fl", "pl",
};
static const char *const syl_vowel_lat[] = {"a", "e", "i", "o", "u", "ou", "ia", "ea", "y"};
static const char *const syl_coda_lat[] = {"", "", "", "n", "r", "s", "x", "l", "m", "nt", "k"};
static const char *const syl_onset_cyr[] = {
        "б", "в", "г", "д", "ж", "з",  "к",  "л",  "м",  "н",  "п",  "р",  "с",
        "т", "ф", "х", "ч", "ш", "бр", "гр", "кр", "пр", "ст", "тр", "зв", "сл",
};
static const char *const syl_vowel_cyr[] = {"а", "е", "и", "о", "у", "ы", "я", "ю"};
static const char *const syl_coda_cyr[] = {"", "", "", "н", "р", "с", "к", "в", "л", "м", "ш"};

static bool pseudo_is_cyrillic(uint64_t seed, size_t i) {
        uint64_t x = seed ^ ((uint64_t)i * UINT64_C(0xD1B54A32D192ED03));

        return splitmix64(&x) % 5 >= 3;
}

/* Appends pseudo-word i (lower case) to b. */
static void pseudo_word(Buf *b, uint64_t seed, size_t i) {
        bool cyr = pseudo_is_cyrillic(seed, i);
        Rng r;
        unsigned n;

        rng_init(&r, seed * UINT64_C(0x100000001B3) + i + 1);
        n = 2 + rng_below(&r, 3);
        for (unsigned k = 0; k < n; k++) {
                if (cyr) {
                        buf_adds(b, PICK(&r, syl_onset_cyr));
                        buf_adds(b, PICK(&r, syl_vowel_cyr));
                        if (k + 1 == n || rng_chance(&r, 0.3))
                                buf_adds(b, PICK(&r, syl_coda_cyr));
                } else {
                        buf_adds(b, PICK(&r, syl_onset_lat));
                        buf_adds(b, PICK(&r, syl_vowel_lat));
                        if (k + 1 == n || rng_chance(&r, 0.3))
                                buf_adds(b, PICK(&r, syl_coda_lat));
                }
        }
}

/* ---------------------------------------------------------------------------------------------
 * Case
 */

typedef enum Case {
        CASE_AS_IS,
        CASE_TITLE,
        CASE_UPPER,
} Case;

/* Appends s to b, with its first code point (CASE_TITLE) or all of them (CASE_UPPER) upper. */
static void buf_add_cased(Buf *b, const char *s, Case c) {
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
        size_t n = strlen(s);
        bool first = true;

        if (c == CASE_AS_IS) {
                buf_add(b, s, n);
                return;
        }
        while (n > 0) {
                utf8proc_int32_t cp;
                utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
                utf8proc_uint8_t out[4];

                if (k <= 0)
                        die("bad UTF-8 in vocabulary: %s", s);
                if (c == CASE_UPPER || first)
                        cp = utf8proc_toupper(cp);
                first = false;
                buf_add(b, (const char *)out, (size_t)utf8proc_encode_char(cp, out));
                p += k;
                n -= (size_t)k;
        }
}

/* ---------------------------------------------------------------------------------------------
 * Posts
 */

typedef struct Gen {
        Rng rng;
        uint64_t seed;
        Buf post;
        Buf tmp;
        bool caps;           /* this sentence in ALL CAPS */
        bool sentence_start; /* next word gets a capital */
        /* statistics */
        uint64_t n_ru, n_complaints, n_brand;
} Gen;

static void gen_space(Gen *g) {
        if (g->post.len > 0 && g->post.data[g->post.len - 1] != ' ')
                buf_add(&g->post, " ", 1);
}

/* A word or phrase of running text: takes sentence case and ALL CAPS. */
static void gen_word(Gen *g, const char *w) {
        gen_space(g);
        buf_add_cased(&g->post, w,
                      g->caps             ? CASE_UPPER
                      : g->sentence_start ? CASE_TITLE
                                          : CASE_AS_IS);
        g->sentence_start = false;
}

/* A token that keeps its own spelling: hashtag, mention, URL, emoji. */
static void gen_token(Gen *g, const char *t) {
        gen_space(g);
        buf_adds(&g->post, t);
        g->sentence_start = false;
}

static void gen_punct(Gen *g, const char *p) {
        buf_adds(&g->post, p);
}

static void gen_number(Gen *g) {
        Buf *t = &g->tmp;

        buf_clear(t);
        switch (rng_below(&g->rng, 8)) {
        case 0:
                buf_printf(t, "$%u.%02u", 1 + rng_below(&g->rng, 300), rng_below(&g->rng, 100));
                break;
        case 1:
                buf_printf(t, "%u%%", 5 + 5 * rng_below(&g->rng, 19));
                break;
        case 2:
                buf_printf(t, "%u:%02u", rng_below(&g->rng, 24), rng_below(&g->rng, 60));
                break;
        case 3:
                buf_printf(t, "%u", 2015 + rng_below(&g->rng, 11));
                break;
        case 4:
                buf_adds(t, "24/7");
                break;
        case 5:
                buf_printf(t, "%u₽", 100 * (1 + rng_below(&g->rng, 90)));
                break;
        default:
                buf_printf(t, "%u", 1 + rng_below(&g->rng, 60));
        }
        gen_token(g, t->data);
}

static void gen_emoji(Gen *g, bool angry) {
        Buf *t = &g->tmp;

        buf_clear(t);
        if (angry)
                buf_adds(t, PICK(&g->rng, angry_emoji));
        else if (rng_chance(&g->rng, 0.3)) {
                buf_adds(t, PICK(&g->rng, emoji_toned));
                if (rng_chance(&g->rng, 0.6))
                        buf_adds(t, PICK(&g->rng, skin_tones));
        } else
                buf_adds(t, PICK(&g->rng, emoji));
        /* Emoji come in runs, often glued to the word before them. */
        if (rng_chance(&g->rng, 0.4) || g->post.len == 0)
                gen_space(g);
        buf_adds(&g->post, t->data);
        if (rng_chance(&g->rng, 0.3))
                buf_adds(&g->post, t->data);
}

static void gen_base62(Gen *g, Buf *t, unsigned n) {
        static const char alphabet[] =
                "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

        for (unsigned i = 0; i < n; i++)
                buf_add(t, &alphabet[rng_below(&g->rng, 62)], 1);
}

static void gen_url(Gen *g, bool brand) {
        Buf *t = &g->tmp;

        buf_clear(t);
        if (brand) {
                if (rng_chance(&g->rng, 0.5))
                        buf_printf(t, "https://acme.com/help?id=%u", rng_below(&g->rng, 100000));
                else
                        buf_printf(t, "https://shop.acme.com/orders/%u",
                                   10000 + rng_below(&g->rng, 90000));
        } else
                switch (rng_below(&g->rng, 4)) {
                case 0:
                        buf_adds(t, "https://t.co/");
                        gen_base62(g, t, 10);
                        break;
                case 1:
                        buf_adds(t, "https://www.youtube.com/watch?v=");
                        gen_base62(g, t, 11);
                        break;
                case 2:
                        buf_printf(t, "https://example.org/news/%u/%02u/",
                                   2015 + rng_below(&g->rng, 10), 1 + rng_below(&g->rng, 12));
                        buf_adds(t, PICK(&g->rng, words_en));
                        buf_adds(t, "-");
                        buf_adds(t, PICK(&g->rng, words_en));
                        break;
                default:
                        buf_adds(t, "https://vk.com/id");
                        buf_printf(t, "%u", rng_below(&g->rng, 1000000));
                }
        gen_token(g, t->data);
}

/* A pseudo-name as it shows in a post: Name, #Name or @name, sometimes with "support" after it. */
static void gen_name(Gen *g) {
        Buf *t = &g->tmp;
        size_t i = rng_below(&g->rng, NAME_SPACE);
        uint32_t form = rng_below(&g->rng, 100);

        buf_clear(t);
        if (form < 15) {
                buf_adds(t, "#");
                pseudo_word(t, g->seed, i);
                gen_token(g, t->data);
        } else if (form < 30) {
                buf_adds(t, "@");
                pseudo_word(t, g->seed, i);
                gen_token(g, t->data);
        } else {
                Buf name = {};

                pseudo_word(&name, g->seed, i);
                buf_add_cased(t, name.data, CASE_TITLE);
                buf_done(&name);
                g->sentence_start = false;
                gen_space(g);
                buf_add_cased(&g->post, t->data, g->caps ? CASE_UPPER : CASE_AS_IS);
                if (rng_chance(&g->rng, 0.3))
                        gen_word(g, pseudo_is_cyrillic(g->seed, i)
                                            ? PICK(&g->rng, name_suffixes_ru)
                                            : PICK(&g->rng, name_suffixes_en));
        }
}

static void gen_camel_hashtag(Gen *g, bool ru) {
        Buf *t = &g->tmp;
        unsigned n = 2 + rng_below(&g->rng, 2);

        buf_clear(t);
        buf_adds(t, "#");
        for (unsigned k = 0; k < n; k++)
                buf_add_cased(t,
                              ru ? words_ru[rng_skewed(&g->rng, ELEMENTSOF(words_ru))]
                                 : words_en[rng_skewed(&g->rng, ELEMENTSOF(words_en))],
                              CASE_TITLE);
        /* "#Don'tStop" is not a hashtag anyone writes */
        for (char *p = t->data; *p; p++)
                if (*p == '\'')
                        *p = 'x';
        gen_token(g, t->data);
}

static void gen_special(Gen *g, bool ru, bool complaint) {
        if (complaint) {
                bool other = rng_chance(&g->rng, 0.1);

                gen_word(g, (ru != other) ? PICK(&g->rng, complaints_ru)
                                          : PICK(&g->rng, complaints_en));
        } else {
                const char *b = PICK(&g->rng, brand_tokens);

                if (b[0] == '#' || b[0] == '@')
                        gen_token(g, b);
                else
                        gen_word(g, b);
        }
}

/* A sentence of 3 to 14 words, cut short once the post reaches target bytes. */
static void gen_sentence(Gen *g, bool ru, bool caps, double target, bool *complaint_pending,
                         bool *brand_pending) {
        unsigned n = 3 + rng_below(&g->rng, 12);
        unsigned special_at = rng_below(&g->rng, n + 1);

        g->caps = caps;
        g->sentence_start = true;
        for (unsigned k = 0; k <= n; k++) {
                if (k == special_at) {
                        if (*complaint_pending) {
                                gen_special(g, ru, true);
                                *complaint_pending = false;
                        }
                        if (*brand_pending) {
                                gen_special(g, ru, false);
                                *brand_pending = false;
                        }
                }
                if (k == n)
                        break;
                if ((double)g->post.len >= target && !*complaint_pending && !*brand_pending)
                        break;
                if ((double)g->post.len >= target)
                        special_at = k + 1;
                if (rng_chance(&g->rng, 0.04))
                        gen_number(g);
                else if (rng_chance(&g->rng, 0.006))
                        gen_name(g);
                else if (rng_chance(&g->rng, 0.04))
                        gen_word(g, ru ? PICK(&g->rng, words_en) : PICK(&g->rng, words_ru));
                else
                        gen_word(g, ru ? words_ru[rng_skewed(&g->rng, ELEMENTSOF(words_ru))]
                                       : words_en[rng_skewed(&g->rng, ELEMENTSOF(words_en))]);
                if (k + 1 < n && rng_chance(&g->rng, 0.07))
                        gen_punct(g, rng_chance(&g->rng, 0.85) ? "," : " -");
        }
        /* A sentence cut short may end in a comma or dash; drop it. */
        if (g->post.len > 0 && g->post.data[g->post.len - 1] == ',')
                g->post.data[--g->post.len] = 0;
        else if (g->post.len > 1 && g->post.data[g->post.len - 1] == '-' &&
                 g->post.data[g->post.len - 2] == ' ') {
                g->post.len -= 2;
                g->post.data[g->post.len] = 0;
        }
        switch (rng_below(&g->rng, 12)) {
        case 0 ... 5:
                gen_punct(g, ".");
                break;
        case 6 ... 7:
                gen_punct(g, "!");
                break;
        case 8:
                gen_punct(g, "?");
                break;
        case 9:
                gen_punct(g, "...");
                break;
        case 10:
                gen_punct(g, caps ? "!!!" : "!!");
                break;
        default:
                break; /* no full stop, as people write */
        }
        g->caps = false;
}

/* Generates one post into g->post: valid UTF-8, no line breaks, at most POST_MAX bytes. */
static void gen_post(Gen *g) {
        Rng *r = &g->rng;
        /* Log-normal length: median ~130, mean ~150 bytes with extras, 1% above ~470. */
        double target = exp(4.75 + 0.6 * rng_normal(r));
        bool ru = rng_chance(r, 0.4);
        bool complaint_post = rng_chance(r, 0.035);
        bool brand_post = complaint_post ? rng_chance(r, 0.7) : rng_chance(r, 0.06);
        bool caps_post = rng_chance(r, complaint_post ? 0.25 : 0.03);
        bool complaint = complaint_post, brand = brand_post; /* still to be written */

        if (target < 12)
                target = 12;
        if (target > 470)
                target = 470;
        g->n_ru += ru;
        g->n_complaints += complaint_post;
        g->n_brand += brand_post;

        buf_clear(&g->post);
        if (rng_chance(r, 0.12)) {
                Buf *t = &g->tmp;

                buf_clear(t);
                buf_adds(t, "@");
                if (rng_chance(r, 0.5))
                        buf_adds(t, PICK(r, words_en));
                else
                        pseudo_word(t, g->seed, rng_below(r, NAME_SPACE));
                if (rng_chance(r, 0.5))
                        buf_printf(t, "%u", rng_below(r, 1000));
                for (char *p = t->data; *p; p++)
                        if (*p == '\'')
                                *p = '_';
                gen_token(g, t->data);
        }
        while ((double)g->post.len < target) {
                gen_sentence(g, ru, caps_post || rng_chance(r, 0.02), target, &complaint, &brand);
                if (complaint_post && rng_chance(r, 0.5) && (double)g->post.len < target)
                        gen_emoji(g, true);
        }
        if (rng_chance(r, 0.18)) {
                unsigned n = 1 + rng_below(r, 3);

                for (unsigned k = 0; k < n; k++)
                        if (rng_chance(r, 0.35))
                                gen_camel_hashtag(g, ru);
                        else
                                gen_token(g, PICK(r, hashtags));
        }
        if (rng_chance(r, 0.10))
                gen_url(g, brand_post && rng_chance(r, 0.5));
        if (rng_chance(r, 0.25))
                gen_emoji(g, false);

        /* Cut an overlong post at the last space before the limit, as a client would. */
        if (g->post.len > POST_MAX) {
                size_t cut = POST_MAX;

                while (cut > 0 && g->post.data[cut] != ' ')
                        cut--;
                g->post.len = cut;
                g->post.data[cut] = 0;
        }
}

/* Writes n posts to path; returns the number of bytes written. */
static uint64_t corpus_write(const char *path, uint64_t n, uint64_t seed, Gen *stats) {
        _cleanup_fclose_ FILE *f = NULL;
        Gen g = {.seed = seed};
        uint64_t bytes = 0;

        f = fopen(path, "we");
        if (!f)
                die("cannot create %s: %m", path);
        rng_init(&g.rng, seed);
        for (uint64_t i = 0; i < n; i++) {
                gen_post(&g);
                buf_add(&g.post, "\n", 1);
                if (fwrite(g.post.data, 1, g.post.len, f) != g.post.len)
                        die("cannot write %s: %m", path);
                bytes += g.post.len;
        }
        if (fflush(f) != 0)
                die("cannot write %s: %m", path);
        buf_done(&g.post);
        buf_done(&g.tmp);
        *stats = g;
        return bytes;
}

/* The folded copy of the corpus for the tools, line by line through text_fold(). */
static void corpus_fold(const char *from, const char *to) {
        _cleanup_fclose_ FILE *in = NULL, *out = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        in = fopen(from, "re");
        if (!in)
                die("cannot open %s: %m", from);
        out = fopen(to, "we");
        if (!out)
                die("cannot create %s: %m", to);
        while ((n = getline(&line, &cap, in)) > 0) {
                _cleanup_free_ char *folded = NULL;
                int r;

                if (line[n - 1] == '\n')
                        n--;
                r = text_fold(line, (size_t)n, &folded);
                if (r < 0)
                        die("text_fold: %s", strerror(-r));
                fputs(folded, out);
                fputc('\n', out);
        }
        if (fflush(out) != 0)
                die("cannot write %s: %m", to);
}

/* ---------------------------------------------------------------------------------------------
 * Term sets
 */

typedef enum TermKind {
        KIND_WORD,
        KIND_PHRASE,
        KIND_PREFIX,
        KIND_TAG, /* #hashtag or @mention */
        KIND_EMOJI,
        _KIND_MAX,
} TermKind;

typedef struct TermSpec {
        char *source; /* owned; as written in config */
        unsigned flags;
} TermSpec;

typedef struct TermSet {
        TermSpec *terms; /* owned */
        size_t n;
} TermSet;

static TermKind term_kind(const char *s) {
        utf8proc_int32_t cp;

        if (strchr(s, '*'))
                return KIND_PREFIX;
        if (s[0] == '#' || s[0] == '@')
                return KIND_TAG;
        if (utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &cp) > 0 &&
            utf8proc_category(cp) == UTF8PROC_CATEGORY_SO)
                return KIND_EMOJI;
        if (strchr(s, ' '))
                return KIND_PHRASE;
        return KIND_WORD;
}

/* A string set with open addressing, to keep term sets free of duplicates. */
typedef struct StrSet {
        char **slots; /* borrowed strings */
        size_t n, cap;
} StrSet;

static uint64_t hash_str(const char *s) {
        uint64_t h = UINT64_C(0xCBF29CE484222325);

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001B3);
        return h;
}

static bool strset_add(StrSet *set, char *s);

static void strset_grow(StrSet *set) {
        StrSet bigger = {.cap = set->cap ? set->cap * 2 : 1024};

        bigger.slots = calloc(bigger.cap, sizeof(char *));
        if (!bigger.slots)
                die("out of memory");
        for (size_t i = 0; i < set->cap; i++)
                if (set->slots[i])
                        (void)strset_add(&bigger, set->slots[i]);
        free(set->slots);
        *set = bigger;
}

/* Adds s unless an equal string is there; returns whether it was added. */
static bool strset_add(StrSet *set, char *s) {
        size_t i;

        if ((set->n + 1) * 2 > set->cap)
                strset_grow(set);
        for (i = hash_str(s) & (set->cap - 1); set->slots[i]; i = (i + 1) & (set->cap - 1))
                if (streq(set->slots[i], s))
                        return false;
        set->slots[i] = s;
        set->n++;
        return true;
}

static void termset_push(TermSet *ts, StrSet *seen, const char *source, unsigned flags) {
        char *s = xstrdup(source);

        if (!strset_add(seen, s)) {
                free(s);
                return;
        }
        ts->terms = xrealloc(ts->terms, (ts->n + 1) * sizeof(TermSpec));
        ts->terms[ts->n++] = (TermSpec){.source = s, .flags = flags};
}

/*
 * The first n terms: real ones, then pseudo-words rendered as words (62%), prefixes (10%),
 * two- and three-word phrases (20%), hashtags (4%) and mentions (4%).
 */
static void termset_generate(size_t n, uint64_t seed, TermSet *ret) {
        TermSet ts = {};
        StrSet seen = {};
        Buf t = {}, name = {};

        for (size_t i = 0; i < ELEMENTSOF(real_terms) && ts.n < n; i++)
                termset_push(&ts, &seen, real_terms[i], real_term_flags_of(real_terms[i]));

        for (size_t i = 0; ts.n < n; i++) {
                uint64_t x = seed + i * UINT64_C(0x2545F4914F6CDD1D);
                uint64_t h = splitmix64(&x);
                bool cyr = pseudo_is_cyrillic(seed, i);
                unsigned form = h % 100;

                if (i >= 4 * (n + NAME_SPACE))
                        die("cannot find %zu distinct terms", n);
                buf_clear(&name);
                pseudo_word(&name, seed, i);
                buf_clear(&t);
                if (form < 62)
                        buf_adds(&t, name.data);
                else if (form < 72) {
                        /* keep all but the last two code points: zorvex -> zorv* */
                        size_t len = name.len, cut = 0, cps = 0;

                        for (size_t k = 0; k < len; k++)
                                cps += ((unsigned char)name.data[k] & 0xC0) != 0x80;
                        for (size_t seen_cps = 0; cut < len; cut++) {
                                if (((unsigned char)name.data[cut] & 0xC0) != 0x80) {
                                        if (seen_cps == (cps > 6 ? cps - 2 : 4))
                                                break;
                                        seen_cps++;
                                }
                        }
                        buf_add(&t, name.data, cut);
                        buf_adds(&t, "*");
                } else if (form < 92) {
                        const char *suffix =
                                cyr ? name_suffixes_ru[(h >> 8) % ELEMENTSOF(name_suffixes_ru)]
                                    : name_suffixes_en[(h >> 8) % ELEMENTSOF(name_suffixes_en)];

                        buf_printf(&t, "\"%s %s\"", name.data, suffix);
                } else if (form < 96)
                        buf_printf(&t, "#%s", name.data);
                else
                        buf_printf(&t, "@%s", name.data);
                termset_push(&ts, &seen, t.data, 0);
        }

        free(seen.slots);
        buf_done(&t);
        buf_done(&name);
        *ret = ts;
}

static void termset_done(TermSet *ts) {
        for (size_t i = 0; i < ts->n; i++)
                free(ts->terms[i].source);
        free(ts->terms);
        *ts = (TermSet){};
}

/* Writes the terms as written in config, one a line. */
static void termset_write(const TermSet *ts, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        if (!f)
                die("cannot create %s: %m", path);
        for (size_t i = 0; i < ts->n; i++) {
                fputs(ts->terms[i].source, f);
                if (ts->terms[i].flags & TERM_INSIDE_HASHTAGS)
                        fputs("\t# inside-hashtags", f);
                if (ts->terms[i].flags & TERM_IGNORE_ACCENTS)
                        fputs("\t# ignore-accents", f);
                fputc('\n', f);
        }
        if (fflush(f) != 0)
                die("cannot write %s: %m", path);
}

/*
 * Writes the terms for -F -w: without the quotes around a phrase, without '*', casefolded with
 * text_fold() like the corpus. -F -w cannot say "prefix", "hashtag inside" or "any accents".
 */
static void termset_write_folded(const TermSet *ts, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");
        StrSet seen = {};

        if (!f)
                die("cannot create %s: %m", path);
        for (size_t i = 0; i < ts->n; i++) {
                _cleanup_free_ char *plain = NULL;
                char *folded = NULL;
                size_t n = 0;
                int r;

                plain = xstrdup(ts->terms[i].source);
                for (const char *p = ts->terms[i].source; *p; p++)
                        if (*p != '*' && *p != '"')
                                plain[n++] = *p;
                plain[n] = 0;
                r = text_fold(plain, n, &folded);
                if (r < 0)
                        die("text_fold: %s", strerror(-r));
                /* An empty pattern would match every line. */
                if (isempty(folded) || !strset_add(&seen, folded)) {
                        free(folded);
                        continue;
                }
                fputs(folded, f);
                fputc('\n', f);
        }
        for (size_t i = 0; i < seen.cap; i++)
                free(seen.slots[i]);
        free(seen.slots);
        if (fflush(f) != 0)
                die("cannot write %s: %m", path);
}

/* ---------------------------------------------------------------------------------------------
 * earshot: one forked child per term set
 */

typedef struct SetResult {
        int error; /* 0 or negative errno */
        char message[160];
        size_t n_terms;        /* distinct terms in the matcher */
        double init_ms;        /* first use of the matcher in the process: one term, one scan */
        double parse_ms;       /* term_new() of every term */
        double add_ms;         /* matcher_builder_add() of every term */
        double build_ms;       /* matcher_build() */
        size_t matcher_bytes;  /* matcher_memory() */
        double scan_s;         /* matcher_scan() of every post, read() time taken out; best run */
        double scan_worst_s;   /* the same, worst run */
        double cpu_s;          /* CPU time of the best run, read() included */
        double read_s;         /* read() of the corpus file */
        uint64_t posts, bytes; /* scanned */
        uint64_t matched;      /* posts with at least one hit */
        uint64_t hits;         /* all hits */
        uint64_t words;        /* all words */
        long rss_start_kib;    /* VmRSS when the child started */
        long maxrss_kib;       /* from wait4(), filled in by the parent */
} SetResult;

static long vm_rss_kib(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        long kib = -1;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        return kib;
}

_printf_(3, 4) static int set_fail(SetResult *res, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(res->message, sizeof(res->message), fmt, ap);
        va_end(ap);
        res->error = r < 0 ? r : -EIO;
        return res->error;
}

static int earshot_scan_file(const Matcher *m, const char *corpus, SetResult *res) {
        _cleanup_(scan_freep) Scan *scan = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -1;
        size_t have = 0;
        double t0, cpu0, t_read = 0;
        int r;

        r = scan_new(false, &scan);
        if (r < 0)
                return set_fail(res, r, "scan_new: %s", strerror(-r));
        buf = malloc(READ_CHUNK);
        if (!buf)
                return set_fail(res, -ENOMEM, "out of memory");
        fd = open(corpus, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return set_fail(res, -errno, "cannot open %s: %m", corpus);
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

        cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        t0 = now_s();
        for (;;) {
                double tr = now_s();
                ssize_t n = read(fd, buf + have, READ_CHUNK - have);
                size_t start = 0;
                char *nl;

                t_read += now_s() - tr;
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return set_fail(res, -errno, "cannot read %s: %m", corpus);
                }
                have += (size_t)n;
                if (n == 0 && have > 0 && buf[have - 1] != '\n')
                        buf[have++] = '\n'; /* the chunk always has room for this */
                while ((nl = memchr(buf + start, '\n', have - start))) {
                        size_t len = (size_t)(nl - (buf + start));

                        r = matcher_scan(m, buf + start, len, scan);
                        if (r < 0)
                                return set_fail(res, r, "matcher_scan: %s", strerror(-r));
                        res->posts++;
                        res->bytes += len + 1;
                        res->words += scan_n_words(scan);
                        res->hits += scan_n_hits(scan);
                        res->matched += scan_n_hits(scan) > 0;
                        start = nl - buf + 1;
                }
                if (n == 0)
                        break;
                if (start == 0 && have == READ_CHUNK)
                        return set_fail(res, -E2BIG, "a line longer than %u bytes", READ_CHUNK);
                memmove(buf, buf + start, have - start);
                have -= start;
        }
        res->read_s = t_read;
        res->scan_s = now_s() - t0 - t_read;
        res->cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
        return 0;
}

typedef struct TermArray {
        Term **terms; /* owned, each owned */
        size_t n;
} TermArray;

static void term_array_done(TermArray *a) {
        for (size_t i = 0; i < a->n; i++)
                term_free(a->terms[i]);
        free(a->terms);
        *a = (TermArray){};
}

/*
 * A process pays once for whatever the matcher sets up on first use (Unicode tables, say); a
 * daemon does so at start, not at each reload. Pay it here, timed apart, so that compile_ms is
 * what a reload costs.
 */
static int earshot_warm_up(SetResult *res) {
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        _cleanup_(matcher_freep) Matcher *m = NULL;
        _cleanup_(scan_freep) Scan *scan = NULL;
        _cleanup_(term_freep) Term *t = NULL;
        static const char text[] =
                "Warm-up: ÉCOLE, Straße, ВЕРНИТЕ деньги 👍🏽 #Acme";
        const char *error = NULL;
        double t0 = now_s();
        uint32_t id;
        int r;

        r = term_new("warm-up", 0, &t, &error);
        if (r < 0)
                return set_fail(res, r, "term_new: %s", strna(error));
        r = matcher_builder_new(&b);
        if (r < 0)
                return set_fail(res, r, "matcher_builder_new: %s", strerror(-r));
        r = matcher_builder_add(b, t, &id);
        if (r < 0)
                return set_fail(res, r, "matcher_builder_add: %s", strerror(-r));
        r = matcher_build(b, &m);
        if (r < 0)
                return set_fail(res, r, "matcher_build: %s", strerror(-r));
        r = scan_new(false, &scan);
        if (r < 0)
                return set_fail(res, r, "scan_new: %s", strerror(-r));
        r = matcher_scan(m, text, strlen(text), scan);
        if (r < 0)
                return set_fail(res, r, "matcher_scan: %s", strerror(-r));
        res->init_ms = (now_s() - t0) * 1e3;
        return 0;
}

/* Compiles the set into *ret, timing each step into res. */
static int earshot_compile(const TermSet *ts, SetResult *res, Matcher **ret) {
        _cleanup_(matcher_builder_freep) MatcherBuilder *b = NULL;
        _cleanup_(term_array_done) TermArray terms = {};
        _cleanup_(matcher_freep) Matcher *m = NULL;
        double t0, t1, t2, t3;
        int r;

        terms.terms = calloc(ts->n, sizeof(Term *));
        if (!terms.terms)
                return set_fail(res, -ENOMEM, "out of memory");

        r = matcher_builder_new(&b);
        if (r < 0)
                return set_fail(res, r, "matcher_builder_new: %s", strerror(-r));

        t0 = now_s();
        for (size_t i = 0; i < ts->n; i++) {
                const char *error = NULL;

                r = term_new(ts->terms[i].source, ts->terms[i].flags, &terms.terms[i], &error);
                if (r < 0)
                        return set_fail(res, r, "term '%s': %s", ts->terms[i].source, strna(error));
                terms.n++;
        }
        t1 = now_s();
        for (size_t i = 0; i < ts->n; i++) {
                uint32_t id;

                r = matcher_builder_add(b, terms.terms[i], &id);
                if (r < 0)
                        return set_fail(res, r, "matcher_builder_add: %s", strerror(-r));
        }
        t2 = now_s();
        r = matcher_build(b, &m);
        if (r < 0)
                return set_fail(res, r, "matcher_build: %s", strerror(-r));
        t3 = now_s();

        res->parse_ms = (t1 - t0) * 1e3;
        res->add_ms = (t2 - t1) * 1e3;
        res->build_ms = (t3 - t2) * 1e3;
        res->n_terms = matcher_n_terms(m);
        res->matcher_bytes = matcher_memory(m);
        /* The builder and the terms are not needed to scan; the daemon drops them as well. */
        *ret = TAKE_PTR(m);
        return 0;
}

/* Compiles and scans arg_runs times; keeps the best compile and the best and worst scan. */
static int earshot_run(const TermSet *ts, const char *corpus, SetResult *res) {
        _cleanup_(matcher_freep) Matcher *m = NULL;
        int r;

        res->rss_start_kib = vm_rss_kib();
        r = earshot_warm_up(res);
        if (r < 0)
                return r;

        for (unsigned run = 0; run < arg_runs; run++) {
                SetResult c = {};

                m = matcher_free(m);
                r = earshot_compile(ts, &c, &m);
                if (r < 0) {
                        *res = c;
                        return r;
                }
                if (run == 0 || c.parse_ms + c.add_ms + c.build_ms <
                                        res->parse_ms + res->add_ms + res->build_ms) {
                        res->parse_ms = c.parse_ms;
                        res->add_ms = c.add_ms;
                        res->build_ms = c.build_ms;
                }
                res->n_terms = c.n_terms;
                res->matcher_bytes = c.matcher_bytes;
        }

        for (unsigned run = 0; run < arg_runs; run++) {
                SetResult sc = {};

                r = earshot_scan_file(m, corpus, &sc);
                if (r < 0) {
                        memcpy(res->message, sc.message, sizeof(res->message));
                        return res->error = r;
                }
                if (run == 0 || sc.scan_s < res->scan_s) {
                        res->scan_s = sc.scan_s;
                        res->cpu_s = sc.cpu_s;
                        res->read_s = sc.read_s;
                }
                if (run == 0 || sc.scan_s > res->scan_worst_s)
                        res->scan_worst_s = sc.scan_s;
                if (run == 0) {
                        res->posts = sc.posts;
                        res->bytes = sc.bytes;
                        res->matched = sc.matched;
                        res->hits = sc.hits;
                        res->words = sc.words;
                } else if (sc.matched != res->matched || sc.hits != res->hits)
                        return set_fail(res, -EIO, "run %u found %" PRIu64 " hits, run 1 %" PRIu64,
                                        run + 1, sc.hits, res->hits);
        }
        return 0;
}

/* Runs earshot_run() in a child, so every set starts from the same small process. */
static void earshot_fork(const TermSet *ts, const char *corpus, SetResult *ret) {
        SetResult res = {};
        struct rusage ru = {};
        int pipefd[2], status;
        size_t got = 0;
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                die("pipe: %m");
        pid = fork();
        if (pid < 0)
                die("fork: %m");
        if (pid == 0) {
                close(pipefd[0]);
                (void)earshot_run(ts, corpus, &res);
                if (write(pipefd[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
                        _exit(EXIT_FAILURE);
                _exit(EXIT_SUCCESS);
        }
        close(pipefd[1]);
        while (got < sizeof(res)) {
                ssize_t n = read(pipefd[0], (char *)&res + got, sizeof(res) - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        close(pipefd[0]);
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR)
                        die("wait4: %m");
        if (got < sizeof(res)) {
                res = (SetResult){};
                if (WIFSIGNALED(status))
                        (void)set_fail(&res, -EIO, "child killed by signal %d (%s)",
                                       WTERMSIG(status), strsignal(WTERMSIG(status)));
                else
                        (void)set_fail(&res, -EIO, "child exited with status %d",
                                       WEXITSTATUS(status));
        }
        res.maxrss_kib = ru.ru_maxrss;
        *ret = res;
}

/* ---------------------------------------------------------------------------------------------
 * The tools
 */

typedef struct ToolResult {
        bool installed;
        bool ok;
        double wall_s;  /* best run */
        double worst_s; /* worst run */
        double cpu_s;   /* user + system time of the best run */
        uint64_t count;
        char message[160];
} ToolResult;

static char *find_in_path(const char *name) {
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = xstrdup(isempty(path) ? "/usr/bin:/bin" : path);
        char *saveptr = NULL;

        for (char *dir = strtok_r(copy, ":", &saveptr); dir; dir = strtok_r(NULL, ":", &saveptr)) {
                Buf p = {};

                buf_printf(&p, "%s/%s", dir, name);
                if (access(p.data, X_OK) == 0)
                        return p.data;
                buf_done(&p);
        }
        return NULL;
}

static int pidfd_open_(pid_t pid) {
#ifdef SYS_pidfd_open
        return (int)syscall(SYS_pidfd_open, pid, 0);
#else
        errno = ENOSYS;
        return -1;
#endif
}

/* Runs argv with stdout to out_path, stderr to err_path; waits at most arg_tool_timeout. */
static void tool_run(char *const argv[], const char *out_path, const char *err_path,
                     ToolResult *res) {
        _cleanup_free_ char *exe = find_in_path(argv[0]);
        posix_spawn_file_actions_t fa;
        struct rusage ru = {};
        double t0;
        int status = 0, r, pidfd;
        pid_t pid;

        *res = (ToolResult){};
        if (!exe)
                return;
        res->installed = true;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        fflush(stdout);
        fflush(stderr);
        t0 = now_s();
        r = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0) {
                snprintf(res->message, sizeof(res->message), "cannot start %s: %s", exe,
                         strerror(r));
                return;
        }

        pidfd = pidfd_open_(pid);
        if (pidfd >= 0) {
                struct pollfd p = {.fd = pidfd, .events = POLLIN};

                do
                        r = poll(&p, 1, (int)arg_tool_timeout * 1000);
                while (r < 0 && errno == EINTR);
                close(pidfd);
                if (r == 0) {
                        /* Only the child we started, by its pid. */
                        (void)kill(pid, SIGKILL);
                        snprintf(res->message, sizeof(res->message), "timeout after %us",
                                 arg_tool_timeout);
                }
        }
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR)
                        die("wait4: %m");
        res->wall_s = now_s() - t0;
        res->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
        if (res->message[0])
                return;

        /* -c: exit 0 with a count, or exit 1 with "0" (grep) or nothing (rg) when none match. */
        if (WIFEXITED(status) && WEXITSTATUS(status) <= 1) {
                _cleanup_fclose_ FILE *f = fopen(out_path, "re");
                unsigned long long count = 0;

                if (f && fscanf(f, "%llu", &count) != 1)
                        count = 0;
                res->count = count;
                res->ok = true;
        } else {
                _cleanup_fclose_ FILE *f = fopen(err_path, "re");
                char line[128] = "";

                if (f && fgets(line, sizeof(line), f))
                        line[strcspn(line, "\n")] = 0;
                snprintf(res->message, sizeof(res->message), "%s failed (%s %d): %s", argv[0],
                         WIFEXITED(status) ? "exit" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), line);
        }
}

/* Runs the tool arg_runs times; keeps the best wall time, and the worst. */
static void tool_best(char *const argv[], const char *out_path, const char *err_path,
                      ToolResult *ret) {
        ToolResult best = {};

        for (unsigned run = 0; run < arg_runs; run++) {
                ToolResult t;

                tool_run(argv, out_path, err_path, &t);
                if (!t.installed || !t.ok) {
                        *ret = t;
                        return;
                }
                if (run == 0 || t.wall_s < best.wall_s) {
                        double worst = run == 0 ? t.wall_s : best.worst_s;

                        best = t;
                        best.worst_s = worst;
                }
                if (t.wall_s > best.worst_s)
                        best.worst_s = t.wall_s;
        }
        *ret = best;
}

/* ---------------------------------------------------------------------------------------------
 * Reporting
 */

static void print_machine(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
        char line[256], model[128] = "unknown";
        struct utsname u = {};
        time_t t = time(NULL);
        char date[64];

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "model name : %127[^\n]", model) == 1)
                        break;
        (void)uname(&u);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
        printf("# date     %s\n", date);
        printf("# machine  %s, %ld online CPUs, %s %s\n", model, sysconf(_SC_NPROCESSORS_ONLN),
               u.sysname, u.release);
}

static void print_load(const char *when) {
        _cleanup_fclose_ FILE *f = fopen("/proc/loadavg", "re");
        double l1 = 0, l5 = 0, l15 = 0;

        if (f && fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
                printf("# load     %s: %.2f %.2f %.2f (1, 5, 15 min)\n", when, l1, l5, l15);
}

static void print_composition(const TermSet *ts) {
        size_t k[_KIND_MAX] = {};

        for (size_t i = 0; i < ts->n; i++)
                k[term_kind(ts->terms[i].source)]++;
        printf("#   %6zu terms: %zu words, %zu phrases (%.0f%%), %zu prefixes (%.0f%%), "
               "%zu hashtags/mentions, %zu emoji\n",
               ts->n, k[KIND_WORD], k[KIND_PHRASE], 100.0 * k[KIND_PHRASE] / ts->n, k[KIND_PREFIX],
               100.0 * k[KIND_PREFIX] / ts->n, k[KIND_TAG], k[KIND_EMOJI]);
}

static void print_header(void) {
        printf("\n%6s %11s %12s %13s %10s %7s %9s | %7s %13s %9s | %7s %13s %9s\n", "terms",
               "compile_ms", "matcher_MiB", "peak_RSS_MiB", "posts/s", "MB/s", "matched", "rg_s",
               "rg_posts/s", "rg_count", "grep_s", "grep_posts/s", "grep_count");
}

static void print_tool(const ToolResult *t, uint64_t posts, int w_s, int w_rate, int w_count) {
        if (!arg_tools)
                printf(" | %*s %*s %*s", w_s, "-", w_rate, "skipped", w_count, "-");
        else if (!t->installed)
                printf(" | %*s %*s %*s", w_s, "-", w_rate, "not installed", w_count, "-");
        else if (!t->ok)
                printf(" | %*s %*s %*s", w_s, "-", w_rate, "failed", w_count, "-");
        else
                printf(" | %*.2f %*.0f %*" PRIu64, w_s, t->wall_s, w_rate,
                       (double)posts / t->wall_s, w_count, t->count);
}

static void print_row(size_t n, const SetResult *e, const ToolResult *rg, const ToolResult *grep,
                      uint64_t posts) {
        if (e->error < 0)
                printf("%6zu %11s %12s %13s %10s %7s %9s", n, "error", "-", "-", "-", "-", "-");
        else
                printf("%6zu %11.2f %12.2f %13.1f %10.0f %7.1f %9" PRIu64, n,
                       e->parse_ms + e->add_ms + e->build_ms, (double)e->matcher_bytes / (1 << 20),
                       (double)e->maxrss_kib / 1024, (double)e->posts / e->scan_s,
                       (double)e->bytes / 1e6 / e->scan_s, e->matched);
        print_tool(rg, posts, 7, 13, 9);
        print_tool(grep, posts, 7, 13, 9);
        printf("\n");
        fflush(stdout);
}

static void print_details(const size_t *sets, const SetResult *res, const ToolResult *rg,
                          const ToolResult *grep, size_t n) {
        printf("\n# earshot details (best of %u run%s):\n", arg_runs, arg_runs == 1 ? "" : "s");
        printf("#%6s %9s %8s %9s %8s %9s %10s %10s %10s %7s\n", "terms", "distinct", "init_ms",
               "parse_ms", "add_ms", "build_ms", "words/post", "hits/post", "start_RSS", "read_s");
        for (size_t i = 0; i < n; i++) {
                const SetResult *e = &res[i];

                if (e->error < 0) {
                        printf("#%6zu error: %s\n", sets[i], e->message);
                        continue;
                }
                printf("#%6zu %9zu %8.2f %9.2f %8.2f %9.2f %10.1f %10.3f %9.1fM %7.2f\n", sets[i],
                       e->n_terms, e->init_ms, e->parse_ms, e->add_ms, e->build_ms,
                       (double)e->words / e->posts, (double)e->hits / e->posts,
                       (double)e->rss_start_kib / 1024, e->read_s);
        }

        /* On a busy machine wall time includes waiting for a core; CPU time does not. */
        printf("\n# spread and CPU time (posts/s: best..worst wall-clock run; cpu: posts per CPU "
               "second of the best run, reading included):\n");
        printf("#%6s %21s %10s | %21s %10s | %21s %10s\n", "terms", "earshot posts/s", "cpu",
               "rg posts/s", "cpu", "grep posts/s", "cpu");
        for (size_t i = 0; i < n; i++) {
                const SetResult *e = &res[i];
                const ToolResult *tools[] = {&rg[i], &grep[i]};

                printf("#%6zu", sets[i]);
                if (e->error < 0)
                        printf(" %21s %10s", "error", "-");
                else
                        printf(" %10.0f..%-9.0f %10.0f", (double)e->posts / e->scan_s,
                               (double)e->posts / e->scan_worst_s, (double)e->posts / e->cpu_s);
                for (size_t k = 0; k < ELEMENTSOF(tools); k++) {
                        const ToolResult *t = tools[k];

                        if (!t->ok)
                                printf(" | %21s %10s", "-", "-");
                        else
                                printf(" | %10.0f..%-9.0f %10.0f", (double)e->posts / t->wall_s,
                                       (double)e->posts / t->worst_s, (double)e->posts / t->cpu_s);
                }
                printf("\n");
        }
}

static const char *pass(bool ok) {
        return ok ? "PASS" : "MISS";
}

static void print_targets(size_t n, const SetResult *e, const ToolResult *rg,
                          const ToolResult *grep) {
        double rate = (double)e->posts / e->scan_s;
        double compile_ms = e->parse_ms + e->add_ms + e->build_ms;
        double rss = (double)e->maxrss_kib / 1024, mib = (double)e->matcher_bytes / (1 << 20);

        printf("\n# targets at %zu terms, one core, normalization included:\n", n);
        printf("#   >= 1,000,000 posts/s          %s  %.0f posts/s (best wall-clock run)\n",
               pass(rate >= 1e6), rate);
        /*
         * Judged on CPU time, which waiting for a busy core does not inflate; both include
         * reading the file.
         */
        if (rg->ok)
                printf("#   faster than rg -j1            %s  %.2fx rg's posts/s per CPU second "
                       "(wall clock: %.2fx)\n",
                       pass(e->cpu_s < rg->cpu_s), rg->cpu_s / e->cpu_s, rg->wall_s / e->scan_s);
        else
                printf("#   faster than rg -j1            n/a  (%s)\n", !arg_tools ? "--no-tools"
                                                                        : rg->installed
                                                                                ? rg->message
                                                                                : "not installed");
        if (grep->ok)
                printf("#   faster than grep              %s  %.2fx grep's posts/s per CPU second "
                       "(wall clock: %.2fx)\n",
                       pass(e->cpu_s < grep->cpu_s), grep->cpu_s / e->cpu_s,
                       grep->wall_s / e->scan_s);
        else
                printf("#   faster than grep              n/a  (%s)\n", !arg_tools ? "--no-tools"
                                                                        : grep->installed
                                                                                ? grep->message
                                                                                : "not installed");
        printf("#   compile < 100 ms              %s  %.2f ms (term_new %.2f + add %.2f + build "
               "%.2f)\n",
               pass(compile_ms < 100), compile_ms, e->parse_ms, e->add_ms, e->build_ms);
        printf("#   memory < 64 MiB               %s  peak RSS %.1f MiB (matcher_memory %.2f "
               "MiB)\n",
               pass(rss < 64 && mib < 64), rss, mib);
}

/* ---------------------------------------------------------------------------------------------
 * main
 */

static void help(void) {
        printf("%s [OPTIONS]\n\n"
               "Benchmark the keyword matcher on a generated corpus, next to rg and grep.\n\n"
               "  -h --help            show this help\n"
               "     --posts N         posts in the corpus (default 1000000)\n"
               "     --sets A,B,...    term set sizes (default 100,1000,10000)\n"
               "     --seed N          corpus and term seed (default 20240601)\n"
               "     --keep DIR        write corpus and term files to DIR and keep them\n"
               "     --no-tools        do not run rg and grep\n"
               "     --runs N          scan (and run the tools) N times, keep the best (default "
               "1)\n"
               "     --tool-timeout S  kill a tool after S seconds (default 600)\n",
               program_invocation_short_name);
}

static uint64_t parse_u64(const char *s, const char *what) {
        char *end = NULL;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || !end || end == s || *end || s[0] == '-')
                die("invalid %s: %s", what, s);
        return v;
}

static void parse_sets(const char *s) {
        _cleanup_free_ char *copy = xstrdup(s);
        char *saveptr = NULL;

        arg_n_sets = 0;
        for (char *p = strtok_r(copy, ",", &saveptr); p; p = strtok_r(NULL, ",", &saveptr)) {
                uint64_t n = parse_u64(p, "set size");

                if (n == 0 || n > 1000000)
                        die("set size must be 1..1000000: %s", p);
                arg_sets = xrealloc(arg_sets, (arg_n_sets + 1) * sizeof(size_t));
                arg_sets[arg_n_sets++] = (size_t)n;
        }
        if (arg_n_sets == 0)
                die("--sets needs at least one size");
}

static void parse_argv(int argc, char *argv[]) {
        enum {
                ARG_POSTS = 0x100,
                ARG_SETS,
                ARG_SEED,
                ARG_KEEP,
                ARG_NO_TOOLS,
                ARG_TOOL_TIMEOUT,
                ARG_RUNS,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"posts", required_argument, NULL, ARG_POSTS},
                {"sets", required_argument, NULL, ARG_SETS},
                {"seed", required_argument, NULL, ARG_SEED},
                {"keep", required_argument, NULL, ARG_KEEP},
                {"no-tools", no_argument, NULL, ARG_NO_TOOLS},
                {"tool-timeout", required_argument, NULL, ARG_TOOL_TIMEOUT},
                {"runs", required_argument, NULL, ARG_RUNS},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                case ARG_POSTS:
                        arg_posts = parse_u64(optarg, "post count");
                        if (arg_posts == 0)
                                die("--posts must be at least 1");
                        break;
                case ARG_SETS:
                        parse_sets(optarg);
                        break;
                case ARG_SEED:
                        arg_seed = parse_u64(optarg, "seed");
                        break;
                case ARG_KEEP:
                        arg_keep = optarg;
                        break;
                case ARG_NO_TOOLS:
                        arg_tools = false;
                        break;
                case ARG_RUNS:
                        arg_runs = (unsigned)parse_u64(optarg, "run count");
                        if (arg_runs == 0 || arg_runs > 100)
                                die("--runs must be 1..100");
                        break;
                case ARG_TOOL_TIMEOUT:
                        arg_tool_timeout = (unsigned)parse_u64(optarg, "timeout");
                        if (arg_tool_timeout == 0 || arg_tool_timeout > 86400)
                                die("--tool-timeout must be 1..86400 seconds");
                        break;
                default:
                        exit(EXIT_FAILURE);
                }
        if (optind < argc)
                die("unexpected argument: %s", argv[optind]);
        if (!arg_sets)
                parse_sets("100,1000,10000");
}

/* Files in the work directory, removed at exit unless --keep. */
static char *work_dir = NULL;
static Buf work_files = {}; /* NUL-separated paths */

static char *work_path(const char *name) {
        Buf p = {};

        buf_printf(&p, "%s/%s", work_dir, name);
        buf_add(&work_files, p.data, p.len + 1);
        return p.data;
}

static void work_cleanup(void) {
        if (!work_dir || arg_keep)
                return;
        for (size_t i = 0; i < work_files.len; i += strlen(work_files.data + i) + 1)
                (void)unlink(work_files.data + i);
        (void)rmdir(work_dir);
}

/*
 * Ctrl-C in the middle of a run should not leave 300 MB in /tmp. unlink() and rmdir() are
 * async-signal-safe, and the list of files only grows between the long steps. A forked child
 * leaves the files to the parent, which gets the signal too.
 */
static pid_t main_pid = 0;

static void work_cleanup_signal(int sig) {
        if (getpid() == main_pid)
                work_cleanup();
        signal(sig, SIG_DFL);
        raise(sig);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *corpus = NULL, *folded = NULL, *tool_out = NULL, *tool_err = NULL;
        _cleanup_free_ SetResult *results = NULL;
        _cleanup_free_ ToolResult *rg_results = NULL, *grep_results = NULL;
        SetResult target_res = {};
        ToolResult target_rg = {}, target_grep = {};
        size_t target_n = 0;
        uint64_t bytes;
        Gen stats;
        double t0;

        parse_argv(argc, argv);

        /* The tools read UTF-8 whatever the caller's locale is, so \w knows Cyrillic. */
        if (setenv("LC_ALL", "C.UTF-8", 1) < 0)
                die("setenv: %m");

        if (arg_keep) {
                if (mkdir(arg_keep, 0755) < 0 && errno != EEXIST)
                        die("cannot create %s: %m", arg_keep);
                work_dir = xstrdup(arg_keep);
        } else {
                const char *tmp = getenv("TMPDIR");
                Buf p = {};

                buf_printf(&p, "%s/earshot-bench.XXXXXX", isempty(tmp) ? "/tmp" : tmp);
                if (!mkdtemp(p.data))
                        die("mkdtemp %s: %m", p.data);
                work_dir = p.data;
        }
        if (atexit(work_cleanup) != 0)
                die("atexit failed");
        main_pid = getpid();
        (void)signal(SIGINT, work_cleanup_signal);
        (void)signal(SIGTERM, work_cleanup_signal);
        (void)signal(SIGHUP, work_cleanup_signal);

        print_machine();
        print_load("start");

        corpus = work_path("corpus.txt");
        fprintf(stderr, "bench-match: generating %" PRIu64 " posts...\n", arg_posts);
        t0 = now_s();
        bytes = corpus_write(corpus, arg_posts, arg_seed, &stats);
        printf("# corpus   %" PRIu64 " posts, %.1f MB, mean %.0f bytes/post, seed %" PRIu64
               ", %.0f%% Russian, %.1f%% complaints, %.1f%% brand mentions (generated in %.1fs)\n",
               arg_posts, bytes / 1e6, (double)bytes / arg_posts - 1, arg_seed,
               100.0 * stats.n_ru / arg_posts, 100.0 * stats.n_complaints / arg_posts,
               100.0 * stats.n_brand / arg_posts, now_s() - t0);

        if (arg_tools) {
                folded = work_path("corpus.folded.txt");
                tool_out = work_path("tool.out");
                tool_err = work_path("tool.err");
                fprintf(stderr, "bench-match: folding the corpus for rg and grep...\n");
                t0 = now_s();
                corpus_fold(corpus, folded);
                printf("# folded   text_fold() line by line for the tools: %.2fs, %.0f MB/s\n",
                       now_s() - t0, bytes / 1e6 / (now_s() - t0));
        }
        printf("# files    %s%s\n", work_dir, arg_keep ? " (kept)" : " (removed at exit)");

        printf("# term sets:\n");
        for (size_t s = 0; s < arg_n_sets; s++) {
                TermSet ts = {};

                termset_generate(arg_sets[s], arg_seed, &ts);
                print_composition(&ts);
                termset_done(&ts);
        }

        results = calloc(arg_n_sets, sizeof(SetResult));
        rg_results = calloc(arg_n_sets, sizeof(ToolResult));
        grep_results = calloc(arg_n_sets, sizeof(ToolResult));
        if (!results || !rg_results || !grep_results)
                die("out of memory");
        print_header();
        for (size_t s = 0; s < arg_n_sets; s++) {
                size_t n = arg_sets[s];
                _cleanup_free_ char *terms_path = NULL, *folded_terms_path = NULL;
                ToolResult rg = {}, grep = {};
                SetResult e = {};
                TermSet ts = {};
                Buf name = {};

                termset_generate(n, arg_seed, &ts);
                buf_printf(&name, "terms-%zu.txt", n);
                terms_path = work_path(name.data);
                termset_write(&ts, terms_path);
                buf_clear(&name);

                fprintf(stderr, "bench-match: %zu terms: earshot...\n", n);
                earshot_fork(&ts, corpus, &e);

                if (arg_tools) {
                        buf_printf(&name, "terms-%zu.folded.txt", n);
                        folded_terms_path = work_path(name.data);
                        termset_write_folded(&ts, folded_terms_path);

                        fprintf(stderr, "bench-match: %zu terms: rg...\n", n);
                        tool_best((char *[]){(char *)"rg", (char *)"--no-config", (char *)"-j1",
                                             (char *)"-F", (char *)"-w", (char *)"-c", (char *)"-f",
                                             folded_terms_path, folded, NULL},
                                  tool_out, tool_err, &rg);
                        fprintf(stderr, "bench-match: %zu terms: grep...\n", n);
                        tool_best((char *[]){(char *)"grep", (char *)"-F", (char *)"-w",
                                             (char *)"-c", (char *)"-f", folded_terms_path, folded,
                                             NULL},
                                  tool_out, tool_err, &grep);
                }
                buf_done(&name);
                termset_done(&ts);

                results[s] = e;
                rg_results[s] = rg;
                grep_results[s] = grep;
                print_row(n, &e, &rg, &grep, arg_posts);
                if (e.error < 0)
                        printf("#   earshot failed: %s\n", e.message);
                else if (e.posts != arg_posts)
                        printf("#   earshot scanned %" PRIu64 " posts, expected %" PRIu64 "\n",
                               e.posts, arg_posts);
                else if (e.n_terms != n)
                        printf("#   the matcher holds %zu distinct terms, not %zu\n", e.n_terms, n);
                if (arg_tools) {
                        if (rg.installed && !rg.ok)
                                printf("#   rg: %s\n", rg.message);
                        if (grep.installed && !grep.ok)
                                printf("#   grep: %s\n", grep.message);
                }
                if (n == 10000) {
                        target_n = n;
                        target_res = e;
                        target_rg = rg;
                        target_grep = grep;
                }
        }

        print_details(arg_sets, results, rg_results, grep_results, arg_n_sets);
        printf("\n# columns: compile_ms = term_new + matcher_builder_add of every term + "
               "matcher_build; matcher_MiB = matcher_memory();\n"
               "#   peak_RSS_MiB = ru_maxrss of the forked child that compiles and scans (no "
               "corpus in memory); posts/s and MB/s (10^6 bytes\n"
               "#   of original text, newlines included) over the whole corpus on one thread, "
               "folding included, read() time taken out;\n"
               "#   matched = posts with at least one hit. rg_s, grep_s = wall time of "
               "`rg -j1 -F -w -c -f TERMS` and `grep -F -w -c -f TERMS`\n"
               "#   on the pre-folded corpus (LC_ALL=C.UTF-8); *_count = lines they matched. "
               "-F -w cannot express prefixes (refund* is given\n"
               "#   as refund), hashtag-only or inside-hashtag terms, ignore-accents, nor "
               "phrases across punctuation: the tools do a slightly different job.\n");
        if (target_n > 0 && target_res.error == 0)
                print_targets(target_n, &target_res, &target_rg, &target_grep);
        else if (target_n == 0)
                printf("\n# targets apply to the 10000-term set, which was not run\n");
        print_load("end");
        return target_res.error < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
