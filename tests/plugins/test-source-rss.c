/* SPDX-License-Identifier: MIT */
/*
 * test-source-rss.c - the RSS/Atom source: options, feed names and requests; posts field by
 * field from real feeds (YouTube, Reddit Atom and RSS, RDF, FeedBurner, Latin-2) and from
 * documents written here in the formats Mastodon and Google Alerts serve; charsets (BOM, HTTP,
 * declaration, undeclared Latin-1 and KOI8-R); the date parser; hostile documents (entity
 * bombs, external entities, depth, NULs); the cursor and max_age; error answers (parse_error:
 * gone, login, not found, refused); and the whole feedparser
 * conformance corpus (tests/fixtures/rss/feedparser/), where every document must parse or be
 * rejected with one error line, and every mechanically checkable expectation its header
 * comment states about entries must hold, or be listed below with the reason it differs.
 * See tests/fixtures/rss/PROVENANCE.md for the fixtures.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "earshot-plugin.h"
#include "mock-host.h"
#include "normalize.h"
#include "source-rss/rss-internal.h"
#include "source-test.h"

#define USEC(s) ((int64_t)(s) * 1000000)

typedef SourceTest T;

/* Parse body as feed 0's response, with optional header lines (NULL-terminated). */
static int parse_full(T *t, const char *cursor, const char *const *headers, const char *body,
                      size_t len) {
        struct earshot_response resp = mock_response(200, body, len);
        if (headers)
                resp.headers = headers;
        resp.url = P->source->feed(t->state, 0);
        return parse_response_as(t, 0, cursor, NULL, &resp);
}

static int parse_xml(T *t, const char *body) {
        return parse_full(t, NULL, NULL, body, strlen(body));
}

static int parse_xml_fixture(T *t, const char *name, const char *const *headers) {
        size_t len;
        char *body = mock_read_fixture(name, &len);
        int r = parse_full(t, NULL, headers, body, len);
        free(body);
        return r;
}

static void assert_str(const char *got, const char *want) {
        if (!want) {
                if (got)
                        fail_msg("expected NULL, got \"%s\"", got);
                return;
        }
        if (!got)
                fail_msg("expected \"%s\", got NULL", want);
        if (strcmp(got, want) != 0)
                fail_msg("expected \"%s\"\n          got \"%s\"", want, got);
}

static void assert_prefix(const char *got, const char *want) {
        if (!got || strncmp(got, want, strlen(want)) != 0)
                fail_msg("expected a text starting \"%s\"\n          got \"%.200s\"", want,
                         got ? got : "(null)");
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                        .tm_min = mi, .tm_sec = s};
        return USEC(timegm(&tm));
}

/* ---- options, feeds, requests ------------------------------------------------------------ */

static void test_descriptor(void **state) {
        expect_source_descriptor("rss");

        static const struct {
                const char *name;
                uint32_t type;
                const char *def;
        } want[] = {
                {"urls", EARSHOT_OPT_STRLIST, NULL},  {"network", EARSHOT_OPT_STRING, "rss"},
                {"max_items", EARSHOT_OPT_INT, "200"}, {"include_title", EARSHOT_OPT_BOOL, "true"},
                {"language", EARSHOT_OPT_STRING, NULL}, {"max_age", EARSHOT_OPT_DURATION, "14d"},
        };
        size_t n = 0;
        for (const struct earshot_option *o = P->options; o->name; o++, n++) {
                assert_true(n < 6);
                assert_string_equal(o->name, want[n].name);
                assert_int_equal(o->type, want[n].type);
                assert_str(o->def, want[n].def);
                assert_non_null(o->description);
                assert_true(strlen(o->description) > 10);
                assert_false(o->flags & EARSHOT_OPT_SECRET);
                assert_int_equal(!!(o->flags & EARSHOT_OPT_REQUIRED), n == 0);
        }
        assert_int_equal(n, 6);
}

static void test_feeds(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=HTTPS://Example.COM/Feed.xml?Q=1",
                              "urls=https://example.com/Feed.xml?Q=1",
                              "urls=https://www.youtube.com/feeds/videos.xml?channel_id=UCBcRF18a7Qf58cCRy5xuWwQ",
                              "urls=http://127.0.0.1:8080", "urls=http://[::1]:8080/x.rss",
                              "urls=https://example.com?feed=rss2"));
        /* scheme and host lower-cased, the rest as written; duplicates dropped */
        assert_string_equal(P->source->feed(t->state, 0), "https://example.com/Feed.xml?Q=1");
        assert_string_equal(P->source->feed(t->state, 1),
                            "https://www.youtube.com/feeds/videos.xml?channel_id=UCBcRF18a7Qf58cCRy5xuWwQ");
        assert_string_equal(P->source->feed(t->state, 2), "http://127.0.0.1:8080/");
        assert_string_equal(P->source->feed(t->state, 3), "http://[::1]:8080/x.rss");
        assert_string_equal(P->source->feed(t->state, 4), "https://example.com/?feed=rss2");
        assert_null(P->source->feed(t->state, 5));
        assert_null(P->source->feed(t->state, UINT32_MAX));
}

static void test_create_rejects(void **state) {
        T *t = *state;

        expect_rejected(t, SETTINGS("network=rss"), "urls: at least one feed URL");
        expect_rejected(t, SETTINGS("urls=ftp://example.com/feed"),
                        "'ftp://example.com/feed' is not an http:// or https:// URL");
        expect_rejected(t, SETTINGS("urls=https://user:pw@example.com/feed"), "credentials");
        expect_rejected(t, SETTINGS("urls=https://example.com/feed#top"), "fragment");
        expect_rejected(t, SETTINGS("urls=https://example.com/a feed"), "blanks");
        expect_rejected(t, SETTINGS("urls=https:///feed"), "has no host");
        expect_rejected(t, SETTINGS("urls=https://exämple.com/"), "punycode");
        expect_rejected(t, SETTINGS("urls=https://example.com/", "network=You Tube"),
                        "network: 'You Tube' may only have");
        expect_rejected(t, SETTINGS("urls=https://example.com/",
                                    "network=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                        "longer than 32");
        expect_rejected(t, SETTINGS("urls=https://example.com/", "language=en us"),
                        "language: 'en us' is not a language tag");
        expect_rejected(t, SETTINGS("urls=https://example.com/", "max_items=0"),
                        "max_items: 0 is not in 1..2000");
        expect_rejected(t, SETTINGS("urls=https://example.com/", "max_items=2001"),
                        "max_items: 2001 is not in 1..2000");
}

static void test_request(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://example.com/a.rss", "urls=http://127.0.0.1:1/b"));
        for (uint32_t i = 0; i < 2; i++) {
                mock_request_done(&t->req);
                mock_request_init(&t->req);
                /* the cursor never changes the request: feeds have no "since" */
                assert_int_equal(P->source->build_request(t->state, i, i ? "2026-01-01T00:00:00Z"
                                                                       : NULL,
                                                          NULL, &t->req),
                                 0);
                assert_string_equal(t->req.method, "GET");
                assert_string_equal(t->req.url, i ? "http://127.0.0.1:1/b"
                                                  : "https://example.com/a.rss");
                const char *accept = mock_request_header(&t->req, "Accept");
                assert_non_null(accept);
                assert_non_null(strstr(accept, "application/atom+xml"));
                assert_non_null(strstr(accept, "application/rss+xml"));
                assert_null(t->req.body);
        }
        assert_int_equal(P->source->build_request(t->state, 2, NULL, NULL, &t->req), -EINVAL);
}

/* ---- real feeds --------------------------------------------------------------------------- */

static void assert_post_basics(const struct earshot_post *p, const char *network) {
        assert_string_equal(p->network, network);
        assert_int_equal(p->author_followers, -1);
        assert_int_equal(p->reposts, -1);
        assert_int_equal(p->rating, 0);
}

static void test_youtube(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://www.youtube.com/feeds/videos.xml?channel_id="
                              "UCBcRF18a7Qf58cCRy5xuWwQ",
                              "network=youtube", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/rss-parser/atom-customfields.atom", NULL), 0);
        assert_int_equal(t->sink.n_posts, 15);

        const struct earshot_post *p = find_post(t, "yt:video:lR-w1h5ONOY");
        assert_post_basics(p, "youtube");
        assert_str(p->url, "https://www.youtube.com/watch?v=lR-w1h5ONOY");
        assert_str(p->title, "Buy Now, Bitches*");
        assert_str(p->author_handle, "L2inc");
        assert_str(p->author_name, "L2inc");
        assert_null(p->lang);
        assert_int_equal(p->created_usec, utc(2017, 9, 14, 18, 3, 34));
        assert_int_equal(p->edited_usec, utc(2017, 9, 16, 12, 36, 59));
        assert_int_equal(p->likes, 1788);
        assert_int_equal(p->replies, -1);
        assert_null(p->reply_to);
        /* media:description is plain text: entities decoded, lines kept, nothing stripped */
        assert_prefix(p->text, "Scott's Book \"The Four\" http://amzn.to/2x4ScEM\n*We screwed up "
                               "the calculation");
        assert_non_null(strstr(p->text, "“Square Shares Climb After Better-Than-Expected Results,”"));
        /* the cursor is the newest publication date */
        assert_int_equal(t->sink.n_cursor, 1);
        assert_string_equal(t->sink.cursor, "2017-09-14T18:03:34.000Z");
        /* oldest first */
        for (size_t i = 1; i < t->sink.n_posts; i++)
                assert_true(t->sink.posts[i - 1].created_usec <= t->sink.posts[i].created_usec);
}

static void test_reddit_atom(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://www.reddit.com/.rss", "network=reddit", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/reddit/reddit-home.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 24);

        /* Reddit's ids are "t3_..." fullnames: unique within this feed only */
        const struct earshot_post *p = find_post(t, "https://www.reddit.com/.rss#t3_42tizy");
        assert_post_basics(p, "reddit");
        assert_str(p->url, "https://www.reddit.com/r/funny/comments/42tizy/"
                           "how_the_british_as_seen_by_americans_and_europeans/");
        assert_str(p->title, "How the British as seen by Americans and Europeans");
        assert_str(p->author_handle, "AngryRedditorsBelow");
        assert_str(p->author_name, "/u/AngryRedditorsBelow");
        assert_int_equal(p->created_usec, utc(2016, 1, 26, 20, 31, 34));
        assert_int_equal(p->edited_usec, 0);
        /* type="xhtml" content with &#32; entities and a table around it */
        assert_str(p->text, "submitted by /u/AngryRedditorsBelow to /r/funny\n[link] [1143 comments]");
        assert_null(p->lang);
        assert_int_equal(p->likes, -1);
}

static void test_reddit_rss(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://www.reddit.com/.rss", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/reddit/reddit.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 24);
        const char *id = "https://www.reddit.com/r/funny/comments/3skxqc/"
                         "the_water_is_too_deep_so_he_improvises/";
        const struct earshot_post *p = find_post(t, id);
        assert_post_basics(p, "rss");
        assert_str(p->url, id);
        assert_str(p->title, "The water is too deep, so he improvises");
        assert_int_equal(p->created_usec, utc(2015, 11, 12, 21, 16, 39));
        /* entity-escaped HTML with &#34; quotes: tags gone, text kept */
        assert_str(p->text, "submitted by cakebeerandmorebeer to funny\n[link] [275 comments]");
        assert_null(p->author_handle);

        /* the variant with raw XHTML elements and HTML escaped twice inside <description> */
        assert_int_equal(parse_xml_fixture(t, "rss/reddit/reddit-atom.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 24);
        p = find_post(t, "https://www.reddit.com/r/Jokes/comments/42aj2i/"
                         "what_do_you_call_5_black_people_having_sex/");
        assert_prefix(p->text, "A threesome\nsubmitted by");
        assert_null(strchr(p->text, '<'));
        assert_null(strstr(p->text, "&lt;"));
}

static void test_rdf(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=http://science.sciencemag.org/rss/twis.xml", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/rss-parser/rss-1.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 69);
        const char *id = "http://science.sciencemag.org/cgi/content/short/356/6343/1134-a?rss=1";
        const struct earshot_post *p = find_post(t, id);
        assert_str(p->url, id);
        assert_str(p->title, "Food for fungi");
        assert_str(p->author_name, "Hines, P. J.");
        assert_str(p->author_handle, "Hines, P. J.");
        assert_int_equal(p->created_usec, utc(2017, 6, 15, 17, 29, 47));
        assert_string_equal(p->text, ""); /* <description><![CDATA[]]></description> */
}

static void test_feedburner(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=http://feeds.feedburner.com/blogspot/lQlzL", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/rss-parser/feedburner.atom", NULL), 0);
        assert_int_equal(t->sink.n_posts, 25);
        const struct earshot_post *p =
                find_post(t, "tag:blogger.com,1999:blog-7815614485808579332.post-8394866751819460570");
        /* feedburner:origLink beats the feedproxy redirect */
        assert_str(p->url, "http://googleadsdeveloper.blogspot.com/2016/06/"
                           "adwords-and-dfp-java-client-library.html");
        assert_str(p->title, "AdWords and DFP Java client library will soon require Java 7+");
        /* noreply@blogger.com is nobody's handle */
        assert_str(p->author_handle, "Google Ads Developer Advisor");
        assert_str(p->author_name, "Google Ads Developer Advisor");
        assert_int_equal(p->created_usec, utc(2016, 6, 3, 14, 38, 0));
        assert_int_equal(p->edited_usec, utc(2016, 6, 3, 14, 38, 22) + 568000);
        assert_prefix(p->text, "After November 2016, all releases of the Google Ads API Java "
                               "Client Library will only be compatible with Java 7 (1.7) and "
                               "higher.\n");
        assert_null(strchr(p->text, '<'));
}

static void test_latin2_and_small_feeds(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=http://www.example.pl/rss", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/rss-parser/latin2.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_str(p->id, "http://www.example.pl/news/1");
        assert_str(p->title, "ZAŻÓŁĆ GĘSLĄ JAŹŃ");
        assert_str(p->text, "Szedł sasza suchą szosą");
        assert_str(p->author_name, "Adam Gżegżółka");
        assert_str(p->lang, "pl");
        assert_int_equal(p->created_usec, utc(2019, 10, 18, 15, 27, 37));

        /* itunes:author holding an address is a handle, not a name */
        create_ok(t, SETTINGS("urls=https://www.narro.co/feed", "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/rss-parser/narro.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_str(t->sink.posts[0].author_handle, "foobar@gmail.com");
        assert_null(t->sink.posts[0].author_name);
        assert_str(t->sink.posts[0].lang, "en");

        /* not a feed at all: one error naming the feed */
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_xml_fixture(t, "rss/rss-parser/unrecognized.rss", NULL), -EBADMSG);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 1);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "https://www.narro.co/feed: not an RSS, RDF or Atom "
                                              "feed (root element <head>)"),
                         1);
        assert_int_equal(t->sink.n_posts, 0);
}

/* ---- formats written here from their documented shape ------------------------------------ */

static void test_mastodon_tag(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://mastodon.example/tags/acme.rss", "network=mastodon",
                              "max_age=0"));
        assert_int_equal(parse_xml_fixture(t, "rss/written/mastodon-tag.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 3);

        const struct earshot_post *p = find_post(t, "https://mastodon.example/@alice/114950000000000003");
        assert_post_basics(p, "mastodon");
        assert_str(p->url, "https://mastodon.example/@alice/114950000000000003");
        assert_str(p->author_handle, "alice@mastodon.example");
        assert_null(p->author_name); /* tag feeds carry no names */
        assert_null(p->title);
        assert_str(p->text, "Three weeks and my #acme order still hasn't arrived. Support doesn't "
                            "answer.");
        assert_int_equal(p->created_usec, utc(2026, 8, 1, 13, 55, 55));

        /* a remote account: the handle is on its own server */
        p = find_post(t, "https://social.example.org/@bob/114949999999999999");
        assert_str(p->author_handle, "bob@social.example.org");
        assert_str(p->text, "@acme thanks, the replacement works & arrived early!");

        /* no text but an image description: the description is the text */
        p = find_post(t, "https://mastodon.example/@carol/114949000000000000");
        assert_str(p->text, "Screenshot: Acme app says \"error 500\"");
        assert_str(t->sink.cursor, "2026-08-01T13:55:55.000Z");
}

static void test_mastodon_account(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://mastodon.example/@alice.rss", "network=mastodon"));
        assert_int_equal(parse_xml_fixture(t, "rss/written/mastodon-account.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 2);
        const struct earshot_post *p = &t->sink.posts[0]; /* the older one */
        assert_str(p->id, "https://mastodon.example/@alice/114940000000000000");
        assert_str(p->author_handle, "alice@mastodon.example");
        /* the account's own feed is titled with its display name */
        assert_str(p->author_name, "Alice Example 🌻");
        assert_str(p->text, "Ordered from Acme today.\nFingers crossed.");
        assert_int_equal(p->created_usec, utc(2026, 7, 30, 9, 15, 0));
        assert_str(t->sink.posts[1].author_name, "Alice Example 🌻");
}

static void test_google_alerts(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://www.google.com/alerts/feeds/06807031914929345698/"
                              "10604166159629661594",
                              "network=web"));
        assert_int_equal(parse_xml_fixture(t, "rss/written/google-alerts.atom", NULL), 0);
        assert_int_equal(t->sink.n_posts, 2);
        const struct earshot_post *p =
                find_post(t, "tag:google.com,2013:googlealerts/feed:10234981237489123001");
        assert_post_basics(p, "web");
        /* the google.com/url redirect is unwrapped and decoded */
        assert_str(p->url, "https://news.example.com/2026/08/acme-refunds?ref=alerts");
        assert_str(p->title, "Acme refund delays anger customers");
        assert_str(p->text, "Customers of Acme say refunds take weeks · \"Nobody answers\" ...");
        /* <author><name></name></author>: nobody */
        assert_null(p->author_handle);
        assert_null(p->author_name);
        assert_int_equal(p->created_usec, utc(2026, 8, 1, 12, 47, 41));
        assert_int_equal(p->edited_usec, 0);
        p = find_post(t, "tag:google.com,2013:googlealerts/feed:10234981237489123002");
        assert_str(p->url, "https://blog.example.net/switched");
}

/* ---- charsets ------------------------------------------------------------------------------ */

static void test_charsets_undeclared(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=http://forum.example.ru/rss", "max_age=0"));
        /* KOI8-R and Windows-1251 without any declaration: same text either way */
        const char *files[] = {"rss/written/koi8r-undeclared.rss",
                               "rss/written/cp1251-undeclared.rss"};
        for (size_t i = 0; i < 2; i++) {
                mock_host_clear_logs(&t->mh);
                assert_int_equal(parse_xml_fixture(t, files[i], NULL), 0);
                assert_int_equal(t->sink.n_posts, 1);
                const struct earshot_post *p = &t->sink.posts[0];
                assert_str(p->title, "Не работает доставка");
                assert_str(p->text, "Заказ не пришёл уже три недели, поддержка не отвечает. "
                                    "Верните деньги!");
                assert_int_equal(p->created_usec, utc(2026, 8, 1, 7, 0, 0));
                assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_DEBUG,
                                                      i ? "WINDOWS-1251 (guessed)"
                                                        : "KOI8-R (guessed)"),
                                 1);
        }

        /* Latin-1 (Windows-1252) without a declaration, like uolNoticias.rss */
        assert_int_equal(parse_xml_fixture(t, "rss/written/latin1-undeclared.rss", NULL), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_str(p->title, "Reclamação: entrega atrasada");
        assert_str(p->text, "O pedido não chegou e ninguém responde. Péssimo atendimento – "
                            "“nunca mais”.");
        /* "Sáb, 01 Ago 2026" is Portuguese: unknown, so 0 and the core says "now" */
        assert_int_equal(p->created_usec, 0);
        assert_null(t->sink.cursor);
}

static void test_charsets_declared(void **state) {
        T *t = *state;
        static const char *const koi8_http[] = {"Content-Type: text/xml; charset=\"KOI8-R\"", NULL};
        static const char *const utf8_http[] = {"Content-Type: application/rss+xml;charset=utf-8",
                                                NULL};

        create_ok(t, SETTINGS("urls=https://example.de/feed", "max_age=0"));

        /* UTF-16LE with a byte order mark (and a declaration saying utf-16) */
        assert_int_equal(parse_xml_fixture(t, "rss/written/utf16le-bom.atom", NULL), 0);
        assert_int_equal(t->sink.n_posts, 1);
        const struct earshot_post *p = &t->sink.posts[0];
        assert_str(p->id, "urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6");
        assert_str(p->title, "Überweisung fehlgeschlagen");
        assert_str(p->text, "Die Zahlung an Acme ist zweimal abgebucht worden. 😡");
        assert_str(p->lang, "de"); /* xml:lang on <feed> */
        assert_int_equal(p->created_usec, utc(2026, 8, 1, 8, 0, 0));

        /* the HTTP charset beats the XML declaration */
        char *body = NULL;
        size_t len;
        char *ru = mock_read_fixture("rss/written/koi8r-undeclared.rss", &len);
        assert_true(asprintf(&body, "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n%s", ru) >= 0);
        assert_int_equal(parse_full(t, NULL, koi8_http, body, strlen(body)), 0);
        assert_str(t->sink.posts[0].title, "Не работает доставка");
        free(body);
        free(ru);

        /* declared ISO-8859-1 but valid UTF-8: UTF-8 */
        const char *lie = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss><channel><item>"
                          "<guid>https://example.de/1</guid><title>Grüße aus Köln</title>"
                          "</item></channel></rss>";
        assert_int_equal(parse_xml(t, lie), 0);
        assert_str(t->sink.posts[0].title, "Grüße aus Köln");

        /* declared UTF-8, mostly UTF-8, with one stray Latin-1 byte */
        const char *stray = "<rss><channel><item><guid>https://example.de/2</guid>"
                            "<title>Grüße \xe9t\xc3\xa9</title></item></channel></rss>";
        assert_int_equal(parse_full(t, NULL, utf8_http, stray, strlen(stray)), 0);
        assert_str(t->sink.posts[0].title, "Grüße été");

        /* a charset iconv does not know is ignored */
        static const char *const bogus[] = {"Content-Type: text/xml; charset=x-no-such-thing",
                                            NULL};
        assert_int_equal(parse_full(t, NULL, bogus, lie, strlen(lie)), 0);
        assert_str(t->sink.posts[0].title, "Grüße aus Köln");
}

/* Each line "bytes|content-type|expected UTF-8" through rss_body_to_utf8(). */
static void test_charset_unit(void **state) {
        static const struct {
                const char *in;
                size_t len;
                const char *ctype, *out, *label;
        } cases[] = {
                {"abc", 3, NULL, "abc", "UTF-8"},
                {"\xef\xbb\xbf<a/>", 7, "text/xml; charset=iso-8859-1", "<a/>", "UTF-8 (byte order mark)"},
                {"\xfe\xff\0<\0a\0/\0>", 10, NULL, "<a/>", "UTF-16BE (byte order mark)"},
                {"<\0a\0/\0>\0", 8, NULL, "<a/>", "UTF-16LE (byte pattern)"},
                {"\0\0\0<\0\0\0a", 8, NULL, "<a", "UTF-32BE (byte pattern)"},
                {"caf\xe9", 4, "text/plain; charset='ISO-8859-1'", "café", "WINDOWS-1252 (HTTP charset)"},
                {"\x93q\x94", 3, "text/xml;charset = windows-1252", "“q”", "WINDOWS-1252 (HTTP charset)"},
                {"<?xml version='1.0' encoding='koi8-r'?>\xf0", 40, NULL,
                 "<?xml version='1.0' encoding='koi8-r'?>П", "KOI8-R (XML declaration)"},
                {"<?xml version=\"1.0\" encoding=\"utf-16\"?>x", 40, NULL,
                 "<?xml version=\"1.0\" encoding=\"utf-16\"?>x", "UTF-8"},
                /* charset:x is not a parameter; text/xml without one is not us-ascii here */
                {"caf\xc3\xa9", 5, "text/xml; charset:iso-8859-1", "café", "UTF-8"},
                /* NUL and other controls XML forbids become blanks, U+FFFE U+FFFD */
                {"a\0b\x01" "c\xef\xbf\xbe", 8, NULL, "a b c\xef\xbf\xbd", "UTF-8"},
                /* GB2312 is read as GB18030 */
                {"\xc4\xe3\xba\xc3", 4, "text/html; charset=gb2312", "你好", "GB18030 (HTTP charset)"},
                /* an unknown charset: as if undeclared */
                {"caf\xe9", 4, "text/xml; charset=klingon", "café", "WINDOWS-1252 (guessed)"},
                /* an HTTP charset of UTF-16 for a body that is plainly ASCII markup */
                {"<rss/>", 6, "application/rss+xml; charset=utf-16", "<rss/>", "UTF-8"},
                {"<\0r\0", 4, "application/rss+xml; charset=utf-16", "<r", "UTF-16LE (HTTP"},
                /* truncated UTF-16 */
                {"\xff\xfe<\0a", 5, NULL, "<\xef\xbf\xbd", "UTF-16LE (byte order mark)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *out = NULL, label[96];
                size_t len;
                assert_int_equal(rss_body_to_utf8(cases[i].in, cases[i].len, cases[i].ctype, &out,
                                                  &len, label, sizeof(label)),
                                 0);
                if (strcmp(out, cases[i].out) != 0 || strlen(out) != len)
                        fail_msg("case %zu: got \"%s\" (%zu), want \"%s\"", i, out, len,
                                 cases[i].out);
                if (!strstr(label, cases[i].label))
                        fail_msg("case %zu: label \"%s\", want \"%s\"", i, label, cases[i].label);
                free(out);
        }

        char buf[48];
        assert_true(rss_content_type_charset("text/xml; charset=\"UTF-8\"", buf, sizeof(buf)));
        assert_string_equal(buf, "UTF-8");
        assert_true(rss_content_type_charset("a/b;q=1; CHARSET = 'koi8-r' ;x=y", buf, sizeof(buf)));
        assert_string_equal(buf, "koi8-r");
        assert_false(rss_content_type_charset("text/xml", buf, sizeof(buf)));
        assert_false(rss_content_type_charset("text/xml; charset=", buf, sizeof(buf)));
        assert_false(rss_content_type_charset("text/xml; charset=a;b", buf, 1));
        assert_false(rss_content_type_charset("text/xml; charset=\"x y\"", buf, sizeof(buf)));
}

/* ---- dates --------------------------------------------------------------------------------- */

static void test_dates(void **state) {
        static const struct {
                const char *in;
                int y, mo, d, h, mi, s;
                int64_t frac; /* µs */
        } good[] = {
                /* RFC 822 / 1123 / 2822 */
                {"Thu, 01 Jan 2004 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 +0000", 2004, 1, 1, 19, 48, 21, 0},
                {"Sat, 01 Aug 2026 13:55:55 +0200", 2026, 8, 1, 11, 55, 55, 0},
                {"Sat, 01 Aug 2026 13:55:55 -0430", 2026, 8, 1, 18, 25, 55, 0},
                {"Thu, 1 Jan 2004 19:48 EST", 2004, 1, 2, 0, 48, 0, 0},
                {"01 Jan 2004 19:48:21 PDT", 2004, 1, 2, 2, 48, 21, 0},
                {"Thursday, 01 January 2004 19:48:21 UT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu,01 Jan 2004 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu 01 Jan 2004 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 04 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 99 19:48:21 GMT", 1999, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 104 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004", 2004, 1, 1, 0, 0, 0, 0},
                {"Thu, 01 Jan 2004 9:48:21 GMT", 2004, 1, 1, 9, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 +00:00", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 +01", 2004, 1, 1, 18, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 GMT+2", 2004, 1, 1, 17, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 -0000 (UTC)", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 Z", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 A", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 CEST", 2004, 1, 1, 17, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21 XYZ", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 07:48:21 PM GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 12:10:00 AM", 2004, 1, 1, 0, 10, 0, 0},
                {"Thu, 01-Jan-2004 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thursday, 01-Jan-04 19:48:21 GMT", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu Jan  1 19:48:21 2004", 2004, 1, 1, 19, 48, 21, 0},
                {"Jan 1, 2004 19:48:21", 2004, 1, 1, 19, 48, 21, 0},
                {"Sept 30 2004", 2004, 9, 30, 0, 0, 0, 0},
                {"  Thu, 01 Jan 2004 19:48:21 GMT\n", 2004, 1, 1, 19, 48, 21, 0},
                {"Thu, 01 Jan 2004 19:48:21.5 GMT", 2004, 1, 1, 19, 48, 21, 500000},
                {"Mon, 29 Feb 2016 00:00:00 GMT", 2016, 2, 29, 0, 0, 0, 0},
                {"Fri, 18 Oct 2019 17:27:37 \xe2\x88\x92" "0200", 2019, 10, 18, 19, 27, 37, 0},
                /* RFC 3339 / W3C-DTF / ISO 8601 */
                {"2003-12-31T10:14:55Z", 2003, 12, 31, 10, 14, 55, 0},
                {"2003-12-31T10:14:55-08:00", 2003, 12, 31, 18, 14, 55, 0},
                {"2003-12-31T10:14:55.123456789+01:00", 2003, 12, 31, 9, 14, 55, 123456},
                {"2016-06-03T07:38:22.568-07:00", 2016, 6, 3, 14, 38, 22, 568000},
                {"2003-12-31T10:14Z", 2003, 12, 31, 10, 14, 0, 0},
                {"2003-12-31T10:14:55", 2003, 12, 31, 10, 14, 55, 0},
                {"2003-12-31 10:14:55", 2003, 12, 31, 10, 14, 55, 0},
                {"2003-12-31 10:14:55 +0100", 2003, 12, 31, 9, 14, 55, 0},
                {"2003-12-31T10:14:55+0100", 2003, 12, 31, 9, 14, 55, 0},
                {"2003-12-31T10:14:55+01", 2003, 12, 31, 9, 14, 55, 0},
                {"2003-12-31T10:14:55 UTC", 2003, 12, 31, 10, 14, 55, 0},
                {"2003-12-31t10:14:55z", 2003, 12, 31, 10, 14, 55, 0},
                {"2003-12-31", 2003, 12, 31, 0, 0, 0, 0},
                {"2003-12", 2003, 12, 1, 0, 0, 0, 0},
                {"2003", 2003, 1, 1, 0, 0, 0, 0},
                {"2004-1-5", 2004, 1, 5, 0, 0, 0, 0},
                {"2004/01/05 08:30", 2004, 1, 5, 8, 30, 0, 0},
                {"20031231T101455Z", 2003, 12, 31, 10, 14, 55, 0},
                {"20031231T1014Z", 2003, 12, 31, 10, 14, 0, 0},
                {"20031231", 2003, 12, 31, 0, 0, 0, 0},
                {"2003-12-31T24:00:00Z", 2004, 1, 1, 0, 0, 0, 0},
                {"2016-12-31T23:59:60Z", 2016, 12, 31, 23, 59, 59, 999999},
                {"1970-01-01T00:00:01Z", 1970, 1, 1, 0, 0, 1, 0},
                {"9999-12-31T23:59:59Z", 9999, 12, 31, 23, 59, 59, 0},
        };
        static const char *const bad[] = {
                "", "   ", "now", "yesterday", "01/02/2004", "Thu, 32 Jan 2004 19:48:21 GMT",
                "Thu, 31 Apr 2004", "Thu, 29 Feb 2015", "2003-13-01", "2003-12-31T25:00:00Z",
                "2003-12-31T10:60:00Z", "2003-12-31T10:14:55+25:00", "2003-12-31T10:14:55 garbage",
                "Thu, 01 Jan 2004 19:48:21 GMT GMT", "Thu, 01 Foo 2004", "Thu 01 2004",
                "Sáb, 01 Ago 2026 10:00:00 -0300", "1969-12-31T23:59:59Z", "10000-01-01",
                "Thu, 01 Jan 2004 19:48:21 GMT and then some more words here",
                "2003-12-31T10:14:55.Z", "Jan Feb 2004", "Thu, 01 Jan 2004 13:00 PM",
                "Thu, 01 Jan 2004 19:48:21 (unterminated",
                "1 2 3 4", "2003-335", "12:00 12:00 Jan 1 2004",
                /* longer than any date (128 bytes) */
                ("Thu, 01 Jan 2004 19:48:21 GMT                                               "
                 "                                                                            "),
        };
        int64_t t;

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                int r = rss_parse_date(good[i].in, &t);
                if (r != 0)
                        fail_msg("\"%s\": %d", good[i].in, r);
                int64_t want = utc(good[i].y, good[i].mo, good[i].d, good[i].h, good[i].mi,
                                   good[i].s) +
                               good[i].frac;
                if (t != want)
                        fail_msg("\"%s\": got %lld, want %lld", good[i].in, (long long)t,
                                 (long long)want);
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (rss_parse_date(bad[i], &t) != -EINVAL)
                        fail_msg("\"%s\" was taken for a date (%lld)", bad[i], (long long)t);
        assert_int_equal(rss_parse_date(NULL, &t), -EINVAL);
}

/* ---- text helpers ------------------------------------------------------------------------- */

static void test_text_helpers(void **state) {
        static const struct {
                const char *in, *out;
        } fixes[] = {
                {"plain ascii", "plain ascii"},
                {"caf\xc3\x83\xc2\xa9", "café"},                       /* "cafÃ©" */
                {"don\xc3\xa2\xe2\x82\xac\xe2\x84\xa2t", "don’t"},      /* "donâ€™t" */
                {"\xc3\xa2\xc2\x80\xc2\xa6", "…"},                     /* Latin-1 reading */
                {"don\xc2\x92t", "don’t"},                             /* C1 as Windows-1252 */
                {"x\xc2\x81y", "x\xef\xbf\xbdy"},                      /* undefined there */
                {"a\r\nb\rc\x01" "d\x7f", "a\nb\nc d "},
                {"S\xc3\x83O Paulo", "SÃO Paulo"},                    /* Ã + ASCII stays */
                {"\xc3\x83", "Ã"},
                {"Привет", "Привет"},
                {"\xe2\x82\xac 5", "€ 5"},
        };
        for (size_t i = 0; i < sizeof(fixes) / sizeof(fixes[0]); i++) {
                char *o = rss_text_fix(fixes[i].in);
                assert_non_null(o);
                if (strcmp(o, fixes[i].out) != 0)
                        fail_msg("fix \"%s\": got \"%s\", want \"%s\"", fixes[i].in, o,
                                 fixes[i].out);
                free(o);
        }

        char *c = rss_text_collapse("  a \t b\n\n\n  c  \r\n");
        assert_string_equal(c, "a b\nc");
        free(c);

        size_t n;
        char *b = rss_base64_decode("PHA+SGlz dG9yeQ==\n", &n);
        assert_string_equal(b, "<p>History");
        assert_int_equal(n, 10);
        free(b);
        b = rss_base64_decode("!!!", &n);
        assert_string_equal(b, "");
        free(b);

        assert_true(rss_has_scheme("https://x"));
        assert_true(rss_has_scheme("tag:google.com,2013:x"));
        assert_true(rss_has_scheme("yt:video:lR-w1h5ONOY"));
        assert_true(rss_has_scheme("urn:uuid:1"));
        assert_false(rss_has_scheme("t3_42tizy"));
        assert_false(rss_has_scheme("/relative/link"));
        assert_false(rss_has_scheme("C:\\x"));
        assert_false(rss_has_scheme("1234:5"));
        assert_false(rss_has_scheme("tag:"));

        assert_true(rss_is_http_url("HTTP://example.com"));
        assert_false(rss_is_http_url("https://"));
        assert_false(rss_is_http_url("https:///x"));
        assert_false(rss_is_http_url("javascript:alert(1)"));
        assert_false(rss_is_http_url("http://a b"));

        char *u = rss_unwrap_google_redirect("https://www.google.com/url?rct=j&sa=t&url="
                                             "https://x.example/a%3Fb%3D1%26c&ct=ga");
        assert_string_equal(u, "https://x.example/a?b=1&c");
        free(u);
        u = rss_unwrap_google_redirect("https://www.google.de/url?q=http://y.example/");
        assert_string_equal(u, "http://y.example/");
        free(u);
        assert_null(rss_unwrap_google_redirect("https://www.google.com/url?url=javascript:x"));
        assert_null(rss_unwrap_google_redirect("https://www.google.com/search?url=http://z/"));
        assert_null(rss_unwrap_google_redirect("https://evil.example/url?url=http://z/"));
        assert_null(rss_unwrap_google_redirect("https://www.google.com/url?url=http://z/%00x"));

        assert_true(rss_fnv1a(RSS_FNV_INIT, "a", 1) != rss_fnv1a(RSS_FNV_INIT, "b", 1));
        assert_true(rss_fnv1a(RSS_FNV_INIT, "", 0) == RSS_FNV_INIT);
}

/* ---- identity, text choice, options --------------------------------------------------------- */

static void test_ids(void **state) {
        T *t = *state;
        const char *doc =
                "<rss version=\"2.0\"><channel><link>https://shop.example/</link>"
                /* 1: not a permalink: unique within the feed */
                "<item><guid isPermaLink=\"false\">1234</guid><link>/p/1</link></item>"
                /* 2: a relative permalink: resolved */
                "<item><guid>/p/2</guid><title>two</title></item>"
                /* 3: no guid: the link */
                "<item><link>https://shop.example/p/3</link></item>"
                /* 4, 5: nothing but a title and a date: a hash of both */
                "<item><title>four</title><pubDate>Sat, 01 Aug 2026 10:00:00 GMT</pubDate></item>"
                "<item><title>five</title><pubDate>Sat, 01 Aug 2026 10:00:00 GMT</pubDate></item>"
                /* 6: a javascript: link is no link */
                "<item><guid isPermaLink=\"false\">six</guid>"
                "<link>javascript:alert(1)</link></item>"
                /* 7: an absolute non-http id */
                "<item><guid>urn:isbn:0451450523</guid></item>"
                "</channel></rss>";

        create_ok(t, SETTINGS("urls=https://shop.example/feed/", "max_age=0"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 7);
        const struct earshot_post *p = find_post(t, "https://shop.example/feed/#1234");
        assert_str(p->url, "https://shop.example/p/1");
        p = find_post(t, "https://shop.example/p/2");
        assert_str(p->url, "https://shop.example/p/2");
        p = find_post(t, "https://shop.example/p/3");
        assert_str(p->url, "https://shop.example/p/3");
        p = find_post(t, "https://shop.example/feed/#six");
        assert_null(p->url);
        find_post(t, "urn:isbn:0451450523");

        /* the hashed ids: "FEED#sha:" + 16 hex digits, stable, different per title */
        const char *h4 = t->sink.posts[2].id, *h5 = t->sink.posts[1].id;
        assert_true(strncmp(h4, "https://shop.example/feed/#sha:", 31) == 0);
        assert_int_equal(strlen(h4), 31 + 16);
        assert_string_not_equal(h4, h5);
        char *keep4 = strdup(h4), *keep5 = strdup(h5);
        assert_int_equal(parse_xml(t, doc), 0);
        assert_string_equal(t->sink.posts[2].id, keep4);
        assert_string_equal(t->sink.posts[1].id, keep5);
        free(keep4);
        free(keep5);

        /* an id too long to be one is hashed instead */
        char *big = malloc(5000), *body = NULL;
        memset(big, 'x', 4999);
        big[4999] = 0;
        assert_true(asprintf(&body, "<rss><channel><item><guid>%s</guid><title>t</title></item>"
                                    "</channel></rss>",
                             big) >= 0);
        assert_int_equal(parse_xml(t, body), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_true(strncmp(t->sink.posts[0].id, "https://shop.example/feed/#sha:", 31) == 0);
        free(big);
        free(body);
}

static void test_text_choice(void **state) {
        T *t = *state;
        const char *doc =
                "<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" "
                "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
                "xmlns:thr=\"http://purl.org/syndication/thread/1.0\" "
                "xmlns:slash=\"http://purl.org/rss/1.0/modules/slash/\">"
                "<channel><language>en-GB</language>"
                "<item><guid>https://b.example/1</guid>"
                "<title>AT&amp;T &lt;b&gt;outage&lt;/b&gt; &amp; you</title>"
                "<description>short &amp;hellip;</description>"
                "<content:encoded><![CDATA[<p>Full <b>text</b> &hellip; with <script>alert(1)"
                "</script>no script</p><p>second</p>]]></content:encoded>"
                "<dc:creator>Jane Doe</dc:creator>"
                "<slash:comments>17</slash:comments>"
                "<thr:in-reply-to ref=\"https://b.example/0\"/>"
                "<dc:date>2026-07-31T23:00:00-01:00</dc:date>"
                "</item>"
                /* an undeclared HTML entity and a bare '&' in plain XML text */
                "<item><guid>https://b.example/2</guid><title>Caf&eacute; & bar &unknown;</title>"
                "<description></description><dc:language>fr</dc:language></item>"
                "</channel></rss>";

        create_ok(t, SETTINGS("urls=https://b.example/feed", "max_age=0"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 2);
        const struct earshot_post *p = find_post(t, "https://b.example/1");
        assert_str(p->title, "AT&T outage & you");
        assert_str(p->text, "Full text … with no script\nsecond");
        assert_str(p->author_name, "Jane Doe");
        assert_str(p->author_handle, "Jane Doe");
        assert_str(p->lang, "en-GB");
        assert_int_equal(p->replies, 17);
        assert_str(p->reply_to, "https://b.example/0");
        assert_int_equal(p->created_usec, utc(2026, 8, 1, 0, 0, 0));
        assert_str(t->sink.cursor, "2026-08-01T00:00:00.000Z");

        p = find_post(t, "https://b.example/2");
        assert_str(p->title, "Café & bar &unknown;");
        assert_string_equal(p->text, "");
        assert_str(p->lang, "fr");

        /* include_title=false, language= */
        create_ok(t, SETTINGS("urls=https://b.example/feed", "max_age=0", "include_title=false",
                              "language=pt-BR"));
        assert_int_equal(parse_xml(t, doc), 0);
        p = find_post(t, "https://b.example/1");
        assert_null(p->title);
        assert_str(p->lang, "pt-BR");
        assert_str(find_post(t, "https://b.example/2")->lang, "pt-BR");

        /* HTTP Content-Language when the feed says nothing */
        static const char *const cl[] = {"Content-Language: nl, en", NULL};
        create_ok(t, SETTINGS("urls=https://b.example/feed", "max_age=0"));
        const char *nolang = "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>tag:x,1:1</id>"
                             "<content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">"
                             "<p>één</p><p>twee</p></div></content></entry></feed>";
        assert_int_equal(parse_full(t, NULL, cl, nolang, strlen(nolang)), 0);
        assert_str(t->sink.posts[0].lang, "nl");
        assert_str(t->sink.posts[0].text, "één\ntwee");
}

static void test_atom_details(void **state) {
        T *t = *state;
        const char *doc =
                "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\" "
                "xml:base=\"https://a.example/blog/\">"
                "<author><name>Feed Author</name><email>feed@a.example</email></author>"
                "<entry><id>tag:a.example,2026:1</id><title type=\"text\">1 &lt; 2</title>"
                "<link rel=\"edit\" href=\"/edit/1\"/><link rel=\"alternate\" type=\"text/html\" "
                "href=\"posts/1\"/><link href=\"ignored\"/>"
                "<summary type=\"html\">&lt;p&gt;sum&lt;/p&gt;</summary>"
                "<content src=\"https://a.example/1.txt\"/>"
                "<published>2026-07-01T00:00:00Z</published><updated>2026-07-02T00:00:00Z</updated>"
                "</entry>"
                "<entry xml:base=\"/other/\" xml:lang=\"de\"><id>tag:a.example,2026:2</id>"
                "<link href=\"two\"/>"
                "<author><name>Ann</name><email>ann@a.example</email></author>"
                "<source><author><name>Src</name></author></source>"
                "<content type=\"text\">  a   &lt;b&gt;  \n\n\n z </content>"
                "<updated>2026-07-03T00:00:00Z</updated></entry>"
                "<entry><id>tag:a.example,2026:3</id><source><author><name>Src</name></author>"
                "</source><title type=\"html\">&lt;em&gt;x&lt;/em&gt;</title></entry>"
                "</feed>";

        create_ok(t, SETTINGS("urls=https://a.example/feed.atom", "max_age=0"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 3);
        const struct earshot_post *p = find_post(t, "tag:a.example,2026:1");
        assert_str(p->title, "1 < 2");
        assert_str(p->url, "https://a.example/blog/posts/1");
        assert_str(p->text, "sum"); /* out-of-line content: the summary */
        assert_str(p->author_name, "Feed Author");
        assert_str(p->author_handle, "feed@a.example");
        assert_str(p->lang, "en");
        assert_int_equal(p->created_usec, utc(2026, 7, 1, 0, 0, 0));
        assert_int_equal(p->edited_usec, utc(2026, 7, 2, 0, 0, 0));

        p = find_post(t, "tag:a.example,2026:2");
        assert_str(p->url, "https://a.example/other/two");
        assert_str(p->text, "a <b>\nz");
        assert_str(p->author_name, "Ann");
        assert_str(p->author_handle, "ann@a.example");
        assert_str(p->lang, "de");
        assert_int_equal(p->created_usec, utc(2026, 7, 3, 0, 0, 0));
        assert_int_equal(p->edited_usec, 0);

        p = find_post(t, "tag:a.example,2026:3");
        assert_str(p->title, "x");
        assert_str(p->author_name, "Src");
        assert_null(p->url);
}

static void test_cursor_and_max_age(void **state) {
        T *t = *state;
        const char *doc =
                "<rss><channel>"
                "<item><guid>https://c.example/new</guid><pubDate>Fri, 31 Jul 2026 14:00:00 GMT"
                "</pubDate></item>"
                "<item><guid>https://c.example/old</guid><pubDate>Wed, 01 Jul 2026 14:00:00 GMT"
                "</pubDate></item>"
                "<item><guid>https://c.example/undated</guid></item>"
                "</channel></rss>";

        /* mock "now" is 2026-08-01T14:00:00Z; the default max_age is 14 days */
        create_ok(t, SETTINGS("urls=https://c.example/feed"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 2);
        find_post(t, "https://c.example/new");
        find_post(t, "https://c.example/undated");
        assert_string_equal(t->sink.cursor, "2026-07-31T14:00:00.000Z");

        /* the cursor only moves forward */
        assert_int_equal(parse_full(t, "2026-07-31T15:00:00Z", NULL, doc, strlen(doc)), 0);
        assert_int_equal(t->sink.n_cursor, 0);
        assert_int_equal(parse_full(t, "2026-07-30T15:00:00Z", NULL, doc, strlen(doc)), 0);
        assert_string_equal(t->sink.cursor, "2026-07-31T14:00:00.000Z");
        /* one the plugin did not write is replaced */
        assert_int_equal(parse_full(t, "junk", NULL, doc, strlen(doc)), 0);
        assert_string_equal(t->sink.cursor, "2026-07-31T14:00:00.000Z");

        create_ok(t, SETTINGS("urls=https://c.example/feed", "max_age=60d"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 3);
        create_ok(t, SETTINGS("urls=https://c.example/feed", "max_age=1h"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 1);
        find_post(t, "https://c.example/undated");
}

static void test_max_items(void **state) {
        T *t = *state;
        size_t cap = 3000 * 80 + 100, len = 0;
        char *doc = malloc(cap);

        assert_non_null(doc);
        len += (size_t)snprintf(doc + len, cap - len, "<rss><channel>");
        for (int i = 0; i < 3000; i++)
                len += (size_t)snprintf(doc + len, cap - len,
                                        "<item><guid>https://m.example/%d</guid></item>", i);
        len += (size_t)snprintf(doc + len, cap - len, "</channel></rss>");

        create_ok(t, SETTINGS("urls=https://m.example/feed", "max_items=100"));
        mock_host_clear_logs(&t->mh);
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 100);
        /* the first 100 in document order, emitted last to first */
        assert_string_equal(t->sink.posts[0].id, "https://m.example/99");
        assert_string_equal(t->sink.posts[99].id, "https://m.example/0");
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_INFO,
                                              "the feed has 3000 items, taking the first 100"),
                         1);

        create_ok(t, SETTINGS("urls=https://m.example/feed", "max_items=2000"));
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_posts, 2000);
        free(doc);

        /* 3 MB: HTML entities and bare '&' are repaired all the way to the end */
        cap = 3400000;
        len = 0;
        doc = malloc(cap);
        assert_non_null(doc);
        char filler[1501];
        memset(filler, 'x', 1500);
        filler[1500] = 0;
        len += (size_t)snprintf(doc + len, cap - len, "<rss><channel>");
        for (int i = 0; i < 2000; i++)
                len += (size_t)snprintf(doc + len, cap - len,
                                        "<item><guid>https://m.example/%d</guid><title>Caf&eacute; "
                                        "& co %d</title><description>%s</description></item>",
                                        i, i, filler);
        len += (size_t)snprintf(doc + len, cap - len, "</channel></rss>");
        assert_true(len > 3000000);
        assert_int_equal(parse_full(t, NULL, NULL, doc, len), 0);
        assert_int_equal(t->sink.n_posts, 2000);
        assert_str(t->sink.posts[0].title, "Café & co 1999");
        assert_int_equal(strlen(t->sink.posts[0].text), 1500);
        free(doc);
}

static void test_gap_and_pause(void **state) {
        T *t = *state;
        const char *doc =
                "<rss><channel><ttl>90</ttl>"
                "<item><guid>https://g.example/2</guid><pubDate>Sat, 01 Aug 2026 13:00:00 GMT"
                "</pubDate></item>"
                "<item><guid>https://g.example/1</guid><pubDate>Sat, 01 Aug 2026 12:00:00 GMT"
                "</pubDate></item>"
                "</channel></rss>";

        create_ok(t, SETTINGS("urls=https://g.example/feed"));
        /* first poll: nothing to compare with; <ttl>90</ttl> asks for 90 minutes, 1 h given */
        assert_int_equal(parse_xml(t, doc), 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(t->sink.backoff_usec, USEC(3600));

        /* the last poll's newest is older than everything here: a gap up to the oldest item */
        assert_int_equal(parse_full(t, "2026-08-01T11:00:00.000Z", NULL, doc, strlen(doc)), 0);
        assert_int_equal(t->sink.n_gaps, 1);
        assert_int_equal(t->sink.gap_from_usec, utc(2026, 8, 1, 11, 0, 0));
        assert_int_equal(t->sink.gap_to_usec, utc(2026, 8, 1, 12, 0, 0));
        assert_non_null(strstr(t->sink.gap_reason, "newer than the last poll's newest"));

        /* the window still holds what the last poll saw: no gap */
        assert_int_equal(parse_full(t, "2026-08-01T12:00:00.000Z", NULL, doc, strlen(doc)), 0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(parse_full(t, "2026-08-01T13:00:00.000Z", NULL, doc, strlen(doc)), 0);
        assert_int_equal(t->sink.n_gaps, 0);

        /* an undated item could be anything: no gap claimed */
        const char *undated = "<rss><channel><item><guid>https://g.example/3</guid></item>"
                              "<item><guid>https://g.example/2</guid><pubDate>Sat, 01 Aug 2026 "
                              "13:00:00 GMT</pubDate></item></channel></rss>";
        assert_int_equal(parse_full(t, "2026-08-01T11:00:00.000Z", NULL, undated,
                                    strlen(undated)),
                         0);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(t->sink.backoff_usec, 0);

        /* RSS 1.0 syndication: 48 times a day is every 30 minutes */
        const char *sy = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" "
                         "xmlns=\"http://purl.org/rss/1.0/\" "
                         "xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\">"
                         "<channel><sy:updatePeriod>daily</sy:updatePeriod>"
                         "<sy:updateFrequency>48</sy:updateFrequency></channel>"
                         "<item rdf:about=\"https://g.example/r\"><title>r</title></item>"
                         "</rdf:RDF>";
        assert_int_equal(parse_xml(t, sy), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_str(t->sink.posts[0].id, "https://g.example/r");
        assert_str(t->sink.posts[0].url, "https://g.example/r");
        assert_int_equal(t->sink.backoff_usec, USEC(1800));

        /* a host from before set_backoff and report_gap: neither is called */
        t->mh.host.size = (uint32_t)offsetof(struct earshot_host, set_backoff);
        assert_int_equal(parse_full(t, "2026-08-01T11:00:00.000Z", NULL, doc, strlen(doc)), 0);
        assert_int_equal(t->sink.n_posts, 2);
        assert_int_equal(t->sink.n_gaps, 0);
        assert_int_equal(t->sink.backoff_usec, 0);
}

/* ---- hostile and broken documents -------------------------------------------------------- */

static void expect_bad(T *t, const char *body, size_t len, const char *in_log) {
        mock_host_clear_logs(&t->mh);
        int r = parse_full(t, NULL, NULL, body, len);
        if (r != -EBADMSG)
                fail_msg("expected -EBADMSG for \"%.40s\", got %d", body, r);
        assert_int_equal(t->sink.n_posts, 0);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, ""), 1);
        if (mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, in_log) != 1)
                fail_msg("no error line with \"%s\"", in_log);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "https://x.example/feed"), 1);
}

static void test_not_feeds(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://x.example/feed"));
        expect_bad(t, "", 0, "empty response");
        expect_bad(t, " \r\n\t ", 5, "empty response");
        expect_bad(t, "{\"items\": []}", 13, "response is not XML");
        expect_bad(t, "plain text", 10, "response is not XML");
        expect_bad(t, "\0\0\0\0", 4, "response is not XML");
        expect_bad(t, "<!-- only a comment -->", 23, "response is not XML");
        const char *html = "<!DOCTYPE html><html><head><title>Whoa there, pardner!</title></head>"
                           "<body><p>blocked</p></body></html>";
        expect_bad(t, html, strlen(html), "got an HTML page, not a feed");
        expect_bad(t, "<CHANNEL HREF=\"x\"/>", 19, "not an RSS, RDF or Atom feed (root element "
                                                    "<CHANNEL>)");
        expect_bad(t, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>", 41, "<svg>");
}

static void test_broken_but_readable(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://x.example/feed", "max_age=0"));
        /* cut off in the middle of the second item */
        const char *cut = "<rss><channel><item><guid>https://x.example/1</guid><title>one</title>"
                          "</item><item><guid>https://x.example/2</guid><title>tw";
        assert_int_equal(parse_xml(t, cut), 0);
        assert_true(t->sink.n_posts >= 1);
        find_post(t, "https://x.example/1");

        /* an RSS feed with a stray NUL byte and control characters */
        const char nul[] = "<rss><channel><item><guid>https://x.example/3</guid><title>a\0b\x02"
                           "c</title></item></channel></rss>";
        assert_int_equal(parse_full(t, NULL, NULL, nul, sizeof(nul) - 1), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_str(t->sink.posts[0].title, "a b c");

        /* namespace prefixes are irrelevant, URIs are what count */
        const char *prefixed = "<x:feed xmlns:x=\"http://www.w3.org/2005/Atom\"><x:entry>"
                               "<x:id>tag:p,1:1</x:id><x:title>t</x:title></x:entry>"
                               "<entry><id>tag:p,1:2</id></entry></x:feed>";
        assert_int_equal(parse_xml(t, prefixed), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_str(t->sink.posts[0].id, "tag:p,1:1");
        assert_str(t->sink.posts[0].title, "t");

        /* 2,000 nested elements inside a description, and 100,000 in a document */
        size_t n = 100000, cap = n * 8 + 400, len = 0;
        char *deep = malloc(cap);
        assert_non_null(deep);
        len += (size_t)snprintf(deep + len, cap - len,
                                "<rss><channel><item><guid>https://x.example/d</guid>"
                                "<description>");
        for (size_t i = 0; i < 2000; i++)
                len += (size_t)snprintf(deep + len, cap - len, "&lt;b&gt;");
        len += (size_t)snprintf(deep + len, cap - len, "deep</description></item>");
        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(deep + len, cap - len, "<a>");
        assert_int_equal(parse_full(t, NULL, NULL, deep, len), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_str(t->sink.posts[0].text, "deep");
        free(deep);
}

static void test_entities_bounded(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://x.example/feed", "max_age=0"));
        /* libxml2 stops a billion laughs itself; nothing is emitted, nothing explodes */
        create_ok(t, SETTINGS("urls=https://x.example/feed", "max_age=0", "max_items=1000"));
        assert_int_equal(parse_xml_fixture(t, "rss/written/billion-laughs.xml", NULL), 0);
        assert_true(t->sink.n_posts <= 2);
        for (size_t i = 0; i < t->sink.n_posts; i++)
                assert_true(strlen(t->sink.posts[i].text) < 2u << 20);

        /* external entities are never loaded: no /etc/passwd, no network */
        assert_int_equal(parse_xml_fixture(t, "rss/written/xxe.xml", NULL), 0);
        assert_int_equal(t->sink.n_posts, 1);
        assert_str(t->sink.posts[0].title, "beforeafter");
        assert_str(t->sink.posts[0].text, "xy");

        /* a declared entity is expanded, within the document's budget: 67 kB that would
         * expand to 25 MB */
        size_t cap = 100000, len = 0;
        char *doc = malloc(cap);
        assert_non_null(doc);
        len += (size_t)snprintf(doc + len, cap - len, "<!DOCTYPE rss [<!ENTITY big \"");
        for (int i = 0; i < 1000; i++)
                len += (size_t)snprintf(doc + len, cap - len, "abcdefghij");
        len += (size_t)snprintf(doc + len, cap - len,
                                "\"><!ENTITY acme \"Acme Corp\">]><rss><channel>"
                                "<item><guid>https://x.example/e</guid><title>&acme; &big;</title>"
                                "</item>");
        for (int i = 0; i < 500; i++)
                len += (size_t)snprintf(doc + len, cap - len,
                                        "<item><guid>https://x.example/%d</guid><title>&big;&big;"
                                        "</title><description>&big;&big;&big;</description></item>",
                                        i);
        len += (size_t)snprintf(doc + len, cap - len, "</channel></rss>");
        assert_int_equal(parse_full(t, NULL, NULL, doc, len), 0);
        assert_int_equal(t->sink.n_posts, 501);
        const struct earshot_post *p = find_post(t, "https://x.example/e");
        assert_prefix(p->title, "Acme Corp abcdefghij");
        assert_int_equal(strlen(p->title), 10 + 10000);
        size_t total = 0;
        for (size_t i = 0; i < t->sink.n_posts; i++)
                total += strlen(t->sink.posts[i].text) +
                         (t->sink.posts[i].title ? strlen(t->sink.posts[i].title) : 0);
        /* the 1 MiB expansion budget, not 25 MB */
        assert_true(total <= (1u << 20) + 501 * 64);
        assert_true(total >= (1u << 20) - 10000);
        free(doc);
}

/* ---- the feedparser corpus ------------------------------------------------------------------ */

/*
 * The expression language of feedparser's "Expect:" lines, as far as it speaks about entries
 * in a way a post can show: a conjunction ("and") of comparisons entries[N]<path> == <value>
 * (chains "a == b == value" too), where the value is a Python string, a 9-tuple of a struct
 * time or None. Conjuncts about the feed, bozo, encodings, headers or anything else are
 * skipped; a document with at least one checkable conjunct is "checkable".
 */

typedef struct Doc {
        char *rel;          /* "tests/wellformed/rss/item_guid.xml" */
        char *body;
        size_t len;
        char *expect;       /* the Expect: line, or NULL */
        char *headers[8];   /* "Header:" lines */
        size_t n_headers;
} Doc;

static void doc_done(Doc *d) {
        free(d->rel);
        free(d->body);
        free(d->expect);
        for (size_t i = 0; i < d->n_headers; i++)
                free(d->headers[i]);
}

/* Fields of the header comment: "Expect:" and "Header:" lines (ASCII-compatible files only). */
static void doc_read_comment(Doc *d) {
        const char *open = strstr(d->body, "<!--");
        const char *close = open ? strstr(open, "-->") : NULL;
        if (!open || !close)
                return;
        for (const char *line = open; line && line < close;) {
                const char *eol = memchr(line, '\n', (size_t)(close - line));
                size_t n = eol ? (size_t)(eol - line) : (size_t)(close - line);
                const char *v;
                if ((v = memmem(line, n, "Expect:", 7))) {
                        v += 7;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        d->expect = strndup(v, n - (size_t)(v - line));
                } else if ((v = memmem(line, n, "Header:", 7)) && d->n_headers < 7) {
                        v += 7;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        d->headers[d->n_headers++] = strndup(v, n - (size_t)(v - line));
                }
                line = eol ? eol + 1 : NULL;
        }
        if (d->expect) {
                size_t n = strlen(d->expect);
                while (n > 0 && (d->expect[n - 1] == '\r' || d->expect[n - 1] == ' '))
                        d->expect[--n] = 0;
        }
}

typedef struct Strv {
        char **v;
        size_t n;
} Strv;

static void strv_push(Strv *s, char *x) {
        s->v = realloc(s->v, (s->n + 1) * sizeof(char *));
        assert_non_null(s->v);
        s->v[s->n++] = x;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(const char *root, const char *rel, Strv *out) {
        char *path = NULL;
        assert_true(asprintf(&path, "%s/%s", root, rel) >= 0);
        DIR *dir = opendir(path);
        if (!dir)
                fail_msg("cannot open %s", path);
        struct dirent *de;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                char *sub = NULL;
                assert_true(asprintf(&sub, "%s/%s", rel, de->d_name) >= 0);
                char *full = NULL;
                assert_true(asprintf(&full, "%s/%s", root, sub) >= 0);
                DIR *probe = opendir(full);
                free(full);
                if (probe) {
                        closedir(probe);
                        walk_dir(root, sub, out);
                        free(sub);
                } else
                        strv_push(out, sub);
        }
        closedir(dir);
        free(path);
}

/* A Python string literal at *p (u'', '', ""), decoded into a malloc()ed UTF-8 string. */
static char *py_string(const char **p) {
        const char *s = *p;
        if (*s == 'u' || *s == 'b')
                s++;
        char q = *s;
        if (q != '\'' && q != '"')
                return NULL;
        s++;
        char *out = malloc(strlen(s) * 4 + 1), *o = out;
        assert_non_null(out);
        while (*s && *s != q) {
                if (*s != '\\') {
                        *o++ = *s++;
                        continue;
                }
                s++;
                unsigned cp = 0;
                int digits = 0;
                switch (*s) {
                case 'n': *o++ = '\n'; s++; continue;
                case 't': *o++ = '\t'; s++; continue;
                case 'r': *o++ = '\r'; s++; continue;
                case 'x': digits = 2; break;
                case 'u': digits = 4; break;
                case 'U': digits = 8; break;
                default: *o++ = *s++; continue;
                }
                s++;
                for (int k = 0; k < digits && *s; k++, s++)
                        cp = cp * 16 + (unsigned)(*s >= 'a' ? *s - 'a' + 10
                                                 : *s >= 'A' ? *s - 'A' + 10 : *s - '0');
                if (cp < 0x80)
                        *o++ = (char)cp;
                else if (cp < 0x800) {
                        *o++ = (char)(0xC0 | (cp >> 6));
                        *o++ = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                        *o++ = (char)(0xE0 | (cp >> 12));
                        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                        *o++ = (char)(0x80 | (cp & 0x3F));
                } else {
                        *o++ = (char)(0xF0 | (cp >> 18));
                        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                        *o++ = (char)(0x80 | (cp & 0x3F));
                }
        }
        *o = 0;
        if (*s != q) {
                free(out);
                return NULL;
        }
        *p = s + 1;
        return out;
}

/* What a path into entries[N] means for a post. */
enum {
        F_NONE,
        F_ID,
        F_LINK,
        F_TITLE,
        F_TEXT,
        F_AUTHOR,
        F_AUTHOR_NAME,
        F_AUTHOR_EMAIL,
        F_PUBLISHED,
        F_UPDATED,
};

static int field_of(const char *path) {
        static const struct {
                const char *path;
                int field;
        } map[] = {
                {"['id']", F_ID},
                {"['guid']", F_ID},
                {"['link']", F_LINK},
                {".link", F_LINK},
                {"['title']", F_TITLE},
                {"['title_detail']['value']", F_TITLE},
                {"['description']", F_TEXT},
                {"['summary']", F_TEXT},
                {"['summary_detail']['value']", F_TEXT},
                {"['content'][0]['value']", F_TEXT},
                {"['author']", F_AUTHOR},
                {"['author_detail']['name']", F_AUTHOR_NAME},
                {"['author_detail']['email']", F_AUTHOR_EMAIL},
                {"['published_parsed']", F_PUBLISHED},
                {"['updated_parsed']", F_UPDATED},
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
                if (strcmp(path, map[i].path) == 0)
                        return map[i].field;
        return F_NONE;
}

typedef struct Check {
        int entry, field;
        char *str;     /* expected string, or NULL */
        int tuple[6];  /* expected date, when field is a date */
        bool is_none;
} Check;

/* Read "entries[N]<path>" at *p; returns the field or F_NONE, and the entry number. */
static int read_lhs(const char **p, int *ret_entry) {
        const char *s = *p;
        if (strncmp(s, "entries[", 8) != 0)
                return F_NONE;
        s += 8;
        char *end;
        long n = strtol(s, &end, 10);
        if (end == s || *end != ']')
                return F_NONE;
        s = end + 1;
        const char *path = s;
        while (*s == '[' || *s == '.') {
                if (*s == '.') {
                        s++;
                        while ((*s >= 'a' && *s <= 'z') || *s == '_')
                                s++;
                        continue;
                }
                const char *close = strchr(s, ']');
                if (!close)
                        return F_NONE;
                s = close + 1;
        }
        char *pstr = strndup(path, (size_t)(s - path));
        int f = field_of(pstr);
        free(pstr);
        *ret_entry = (int)n;
        *p = s;
        return f;
}

/*
 * Parse one conjunct into checks (one per "entries[...] ==" in a chain). Returns the number of
 * checks added, 0 when the conjunct is not checkable.
 */
static size_t parse_conjunct(const char *c, Check *checks, size_t max) {
        Check pending[4];
        size_t n = 0;
        const char *p = c;

        while (*p == '(' || *p == ' ')
                p++;
        for (;;) {
                int entry, f = read_lhs(&p, &entry);
                if (f == F_NONE)
                        return 0;
                if (n == 4)
                        return 0;
                pending[n++] = (Check){.entry = entry, .field = f};
                while (*p == ' ')
                        p++;
                if (strncmp(p, "==", 2) != 0)
                        return 0;
                p += 2;
                while (*p == ' ')
                        p++;
                if (strncmp(p, "entries[", 8) != 0)
                        break;
        }
        Check v = {0};
        if (*p == '(') {
                int k = 0;
                p++;
                while (k < 9) {
                        char *end;
                        long x = strtol(p, &end, 10);
                        if (end == p)
                                return 0;
                        if (k < 6)
                                v.tuple[k] = (int)x;
                        k++;
                        p = end;
                        while (*p == ',' || *p == ' ')
                                p++;
                        if (*p == ')')
                                break;
                }
                if (k != 9)
                        return 0;
                p++;
        } else if (strncmp(p, "None", 4) == 0) {
                v.is_none = true;
                p += 4;
        } else {
                v.str = py_string(&p);
                if (!v.str)
                        return 0;
        }
        while (*p == ')' || *p == ' ')
                p++;
        if (*p) {
                free(v.str);
                return 0;
        }
        size_t added = 0;
        for (size_t i = 0; i < n && added < max; i++) {
                bool date = pending[i].field == F_PUBLISHED || pending[i].field == F_UPDATED;
                if (date != (v.str == NULL && !v.is_none) || v.is_none)
                        continue;
                checks[added] = pending[i];
                memcpy(checks[added].tuple, v.tuple, sizeof(v.tuple));
                checks[added].str = v.str ? strdup(v.str) : NULL;
                added++;
        }
        free(v.str);
        return added;
}

/* Split an Expect line at top-level " and " (outside quotes and parentheses). */
static size_t parse_expect(const char *expect, Check *checks, size_t max) {
        size_t n = 0, depth = 0;
        char quote = 0;
        const char *start = expect;

        for (const char *p = expect;; p++) {
                if (quote) {
                        if (*p == '\\' && p[1])
                                p++;
                        else if (*p == quote)
                                quote = 0;
                        else if (!*p)
                                break;
                        continue;
                }
                if (*p == '\'' || *p == '"') {
                        quote = *p;
                        continue;
                }
                if (*p == '(')
                        depth++;
                else if (*p == ')' && depth > 0)
                        depth--;
                if (!*p || (depth == 0 && strncmp(p, " and ", 5) == 0)) {
                        char *c = strndup(start, (size_t)(p - start));
                        /* a bare "or" anywhere makes the conjunct uncheckable */
                        if (!strstr(c, " or ") && !strstr(c, "not "))
                                n += parse_conjunct(c, checks + n, max - n);
                        free(c);
                        if (!*p)
                                break;
                        start = p + 5;
                        p += 4;
                }
        }
        return n;
}

static char *collapse(const char *s) {
        char *c = rss_text_collapse(s);
        assert_non_null(c);
        return c;
}

/* Our plain text equals feedparser's value, as written or as the text of its HTML. */
static bool text_matches(const char *got, const char *want) {
        char *g = collapse(got ? got : "");
        char *w1 = collapse(want);
        char *h = html_to_text(want, strlen(want));
        assert_non_null(h);
        char *hf = rss_text_fix(h);
        assert_non_null(hf);
        char *w2 = collapse(hf);
        bool ok = strcmp(g, w1) == 0 || strcmp(g, w2) == 0;
        free(g);
        free(w1);
        free(h);
        free(hf);
        free(w2);
        return ok;
}

static bool date_matches(int64_t usec, const int *tuple) {
        if (usec <= 0)
                return false;
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;
        gmtime_r(&t, &tm);
        return tm.tm_year + 1900 == tuple[0] && tm.tm_mon + 1 == tuple[1] &&
               tm.tm_mday == tuple[2] && tm.tm_hour == tuple[3] && tm.tm_min == tuple[4] &&
               tm.tm_sec == tuple[5];
}

static bool check_one(const T *t, const char *feed, const Check *c, char *why, size_t wl) {
        size_t n = t->sink.n_posts;
        if (c->entry < 0 || (size_t)c->entry >= n) {
                snprintf(why, wl, "entry %d missing (%zu posts)", c->entry, n);
                return false;
        }
        /* posts come oldest first, that is in reverse document order */
        const struct earshot_post *p = &t->sink.posts[n - 1 - (size_t)c->entry];
        const char *got = NULL;
        bool ok = false;

        switch (c->field) {
        case F_ID: {
                size_t fl = strlen(feed);
                got = p->id;
                ok = strcmp(p->id, c->str) == 0 ||
                     (strncmp(p->id, feed, fl) == 0 && p->id[fl] == '#' &&
                      strcmp(p->id + fl + 1, c->str) == 0);
                break;
        }
        case F_LINK:
                got = p->url;
                ok = p->url ? strcmp(p->url, c->str) == 0 : !*c->str;
                break;
        case F_TITLE:
                got = p->title;
                ok = text_matches(p->title, c->str);
                break;
        case F_TEXT:
                got = p->text;
                ok = text_matches(p->text, c->str);
                break;
        case F_AUTHOR: {
                char *both = NULL;
                got = p->author_name;
                if (p->author_name && p->author_handle)
                        assert_true(asprintf(&both, "%s (%s)", p->author_name,
                                             p->author_handle) >= 0);
                ok = (p->author_name && strcmp(p->author_name, c->str) == 0) ||
                     (both && strcmp(both, c->str) == 0) ||
                     (!p->author_name && p->author_handle &&
                      strcmp(p->author_handle, c->str) == 0);
                free(both);
                break;
        }
        case F_AUTHOR_NAME:
                got = p->author_name;
                ok = got && strcmp(got, c->str) == 0;
                break;
        case F_AUTHOR_EMAIL:
                got = p->author_handle;
                ok = got && strcmp(got, c->str) == 0;
                break;
        case F_PUBLISHED:
                ok = date_matches(p->created_usec, c->tuple);
                break;
        case F_UPDATED:
                ok = date_matches(p->edited_usec ? p->edited_usec : p->created_usec, c->tuple);
                break;
        }
        if (!ok)
                snprintf(why, wl, "field %d: got \"%.200s\"", c->field, got ? got : "(null)");
        return ok;
}

/*
 * Documents whose checkable expectation this plugin does not meet on purpose, with the reason.
 * The corpus test fails when one of these starts to pass (the entry is stale) or when any other
 * document fails.
 */
static const struct {
        const char *path, *reason;
} corpus_known[] = {
        /* one text per post: feedparser keeps <description> and <summary> apart */
        {"tests/wellformed/rss/item_description_and_summary.xml",
         "a post has one text; <description> wins over an RSS <summary>"},
        {"tests/wellformed/rss/item_summary_and_description.xml",
         "a post has one text; <description> wins over an RSS <summary>"},
        /* Channel Definition Format is not RSS */
        {"tests/wellformed/cdf/item_href_map_link.xml",
         "CDF (Microsoft's 1997 <CHANNEL>) is rejected as not a feed"},
        /* what the core's html_to_text() makes of markup */
        {"tests/wellformed/sanitize/item_content_encoded_script_nested_cdata.xml",
         "html_to_text() reads \"<![CDATA[\" inside HTML as markup, not text"},
        {"tests/wellformed/sanitize/item_fullitem_frame.xml",
         "html_to_text() ends the line at a <frameset>"},
        {"tests/wellformed/sanitize/item_xhtml_body_frame.xml",
         "html_to_text() ends the line at a <frameset>"},
        {NULL, NULL},
};

static bool corpus_is_known(const char *rel) {
        for (size_t i = 0; corpus_known[i].path; i++)
                if (strcmp(corpus_known[i].path, rel) == 0)
                        return true;
        return false;
}

static void test_feedparser_corpus(void **state) {
        T *t = *state;
        const char *dir = getenv("EARSHOT_TEST_FIXTURES");
        char *root = NULL;
        Strv files = {0};
        size_t n_docs = 0, n_rejected = 0, n_posts = 0, n_checkable = 0, n_pass = 0,
               n_known = 0, n_unexpected = 0, n_stale = 0;
        bool verbose = getenv("RSS_CORPUS_VERBOSE") != NULL;

        if (!dir || !*dir)
                dir = FIXTURES_DIR;
        assert_true(asprintf(&root, "%s/rss", dir) >= 0);
        walk_dir(root, ".", &files);
        qsort(files.v, files.n, sizeof(char *), cmp_str);

        for (size_t i = 0; i < files.n; i++) {
                Doc d = {.rel = files.v[i]};
                char *name = NULL, *url = NULL, *ctype = NULL;
                const char *headers[10] = {0};
                size_t nh = 0;

                if (strcmp(d.rel + strlen(d.rel) - 3, ".md") == 0 ||
                    strcmp(d.rel + strlen(d.rel) - 8, ".headers") == 0) {
                        free(d.rel);
                        continue;
                }
                assert_true(asprintf(&name, "rss/%s", d.rel + 2) >= 0);
                d.body = mock_read_fixture(name, &d.len);
                free(name);
                doc_read_comment(&d);
                n_docs++;

                /* feedparser's test server serves its corpus at this address */
                bool feedparser = strncmp(d.rel, "./feedparser/", 13) == 0;
                if (feedparser)
                        assert_true(asprintf(&url, "urls=http://127.0.0.1:8097/%s", d.rel + 13) >= 0);
                else
                        assert_true(asprintf(&url, "urls=https://example.org/%s", d.rel + 2) >= 0);
                create_ok(t, SETTINGS(url, "max_age=0"));
                for (size_t k = 0; k < d.n_headers && nh < 8; k++)
                        headers[nh++] = d.headers[k];
                headers[nh] = NULL;

                mock_host_clear_logs(&t->mh);
                int r = parse_full(t, NULL, headers, d.body, d.len);
                size_t errors = mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR, "");
                if (r == -EBADMSG) {
                        n_rejected++;
                        if (errors != 1)
                                fail_msg("%s: rejected with %zu error lines", d.rel, errors);
                        if (verbose)
                                print_message("# rejected %s: %s\n", d.rel,
                                              t->mh.n_logs ? t->mh.logs[t->mh.n_logs - 1].message
                                                           : "");
                } else if (r != 0)
                        fail_msg("%s: parse returned %d", d.rel, r);
                else if (errors != 0)
                        fail_msg("%s: parsed, but logged %zu errors", d.rel, errors);
                n_posts += t->sink.n_posts;
                if (getenv("RSS_CORPUS_COUNTS"))
                        print_message("# count %s %zu\n", d.rel, t->sink.n_posts);
                if (getenv("RSS_CORPUS_DUMP") && strstr(d.rel, getenv("RSS_CORPUS_DUMP")))
                        for (size_t k = 0; k < t->sink.n_posts; k++) {
                                const struct earshot_post *q = &t->sink.posts[k];
                                print_message("# %s [%zu] id=%s url=%s title=%s handle=%s "
                                              "name=%s lang=%s created=%lld edited=%lld "
                                              "text=%.300s\n",
                                              d.rel, k, q->id, q->url, q->title,
                                              q->author_handle, q->author_name, q->lang,
                                              (long long)q->created_usec,
                                              (long long)q->edited_usec, q->text);
                        }

                Check checks[16];
                size_t nc = feedparser && d.expect ? parse_expect(d.expect, checks, 16) : 0;
                if (nc > 0) {
                        bool pass = r == 0;
                        char why[512] = "rejected";
                        for (size_t k = 0; k < nc && pass; k++)
                                pass = check_one(t, P->source->feed(t->state, 0), &checks[k], why,
                                                 sizeof(why));
                        n_checkable++;
                        bool known = corpus_is_known(d.rel + 13);
                        if (pass && !known)
                                n_pass++;
                        else if (pass && known) {
                                n_stale++;
                                print_message("# stale known failure (passes now): %s\n", d.rel);
                        } else if (known)
                                n_known++;
                        else {
                                n_unexpected++;
                                print_message("# FAIL %s\n#   expect: %s\n#   %s\n", d.rel,
                                              d.expect, why);
                        }
                }
                for (size_t k = 0; k < nc; k++)
                        free(checks[k].str);
                free(url);
                free(ctype);
                doc_done(&d);
        }
        free(files.v);
        free(root);
        print_message("# feedparser corpus: %zu documents, %zu rejected, %zu posts; %zu with "
                      "checkable entry expectations: %zu pass, %zu known differences, %zu "
                      "unexpected failures, %zu stale\n",
                      n_docs, n_rejected, n_posts, n_checkable, n_pass, n_known, n_unexpected,
                      n_stale);
        assert_int_equal(n_unexpected, 0);
        assert_int_equal(n_stale, 0);
}

/* parse_error(): statuses a person has to act on, and a site that refuses automated readers. */
static void test_parse_error(void **state) {
        T *t = *state;

        create_ok(t, SETTINGS("urls=https://x.example/feed"));
        mock_host_clear_logs(&t->mh);
        expect_failure(t, 0, NULL, NULL, 410, "<html>Gone</html>", EARSHOT_BLOCKED,
                       "the feed is gone (HTTP 410): remove it from `urls`");
        expect_failure(t, 0, "2026-07-31T12:00:00Z", NULL, 401, "", EARSHOT_BLOCKED,
                       "the feed needs a login (HTTP 401), which this source cannot send: use a "
                       "public feed URL in `urls`");
        expect_failure(t, 0, NULL, NULL, 404, "<html>Not Found</html>", EARSHOT_BLOCKED,
                       "no feed at this address (HTTP 404): check the URL in `urls`");
        expect_failure(t, 0, NULL, NULL, 403,
                       "<!DOCTYPE html><html><head><title>Whoa there, pardner!</title></head>"
                       "</html>",
                       EARSHOT_RETRY, "the site refuses automated readers (HTTP 403");
        expect_generic(t, 0, NULL, NULL, 429, "");
        expect_generic(t, 0, NULL, NULL, 500, "");
        expect_generic(t, 0, NULL, NULL, 503, "<html>down</html>");
        expect_generic(t, 0, NULL, NULL, 400, "");
        assert_int_equal(mock_host_count_logs(&t->mh, -1, ""), 0);
        assert_int_equal(P->source->parse_error(t->state, 1, NULL, NULL,
                                                &(struct earshot_response){.size = 1}, &t->sink),
                         -EINVAL);

        /* a host from before set_error: a log line naming the feed, and RETRY */
        t->mh.host.size = offsetof(struct earshot_host, set_error);
        assert_int_equal(error_response(t, NULL, NULL, 410, ""), EARSHOT_RETRY);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_ERR,
                                              "https://x.example/feed: the feed is gone"),
                         1);
        assert_int_equal(error_response(t, NULL, NULL, 403, ""), EARSHOT_RETRY);
        assert_int_equal(mock_host_count_logs(&t->mh, EARSHOT_LOG_WARNING, "refuses automated"), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_descriptor, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_request, setup, teardown),
                cmocka_unit_test_setup_teardown(test_youtube, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reddit_atom, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reddit_rss, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rdf, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feedburner, setup, teardown),
                cmocka_unit_test_setup_teardown(test_latin2_and_small_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mastodon_tag, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mastodon_account, setup, teardown),
                cmocka_unit_test_setup_teardown(test_google_alerts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charsets_undeclared, setup, teardown),
                cmocka_unit_test_setup_teardown(test_charsets_declared, setup, teardown),
                cmocka_unit_test(test_charset_unit),
                cmocka_unit_test(test_dates),
                cmocka_unit_test(test_text_helpers),
                cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
                cmocka_unit_test_setup_teardown(test_text_choice, setup, teardown),
                cmocka_unit_test_setup_teardown(test_atom_details, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cursor_and_max_age, setup, teardown),
                cmocka_unit_test_setup_teardown(test_max_items, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gap_and_pause, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_feeds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parse_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken_but_readable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_entities_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_feedparser_corpus, setup, teardown),
        };
        return cmocka_run_group_tests_name("source-rss", tests, NULL, NULL);
}
