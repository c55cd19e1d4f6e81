#!/usr/bin/env python3
"""source_charsets: RSS feeds in the wrong (or no) charset alert with the right UTF-8 text.

One earshotd, one rss source with five feeds on one loopback server, each a small review
feed with one complaint item (its text written below in UTF-8, then encoded for the wire):

  koi8r        KOI8-R bytes, no charset anywhere (Content-Type application/rss+xml, an XML
               declaration without encoding): the plugin's Cyrillic heuristic must find
               KOI8-R ("ACME верните деньги ...")
  cp1251       windows-1251, declared only in the XML declaration (Content-Type text/xml
               without charset)
  latin1-lie   ISO-8859-1 bytes served as "text/xml; charset=utf-8" (and an XML declaration
               that says utf-8 too): the lie must be caught ("acme refund, très déçu ...")
  utf16le      UTF-16LE with a byte order mark, Content-Type application/xml (no charset),
               encoding="UTF-16" in the declaration
  utf16be      UTF-16BE with a byte order mark, served as "application/rss+xml;
               charset=UTF-16"

rss-charset.c promises all five (BOM first, then the HTTP charset unless the bytes prove it
wrong, then the declaration, then the KOI8-R / Windows-1251 / Windows-1252 heuristic), so
each must alert exactly once, with post.text at the webhook (and alerts.text in the store)
equal to the item's text as written: no mojibake, no U+FFFD.  Feeds the plugin cannot read
at all would have to be reported at warning level instead; none of these five is such a feed.
The charset the plugin chose (its debug line "N bytes read as ...") is noted in the case log.
"""

import re
import time

import api_mocks as M
import harness as H

RU = "ACME верните деньги! Заказ не пришёл, ужасный сервис ({mk})"
FR = "acme refund, très déçu : la commande n'est jamais arrivée ({mk})"
MIXED = "ACME верните деньги — très déçu, ужасный сервис ({mk})"


def rss(title, item_title, text, link, lang, decl, pub):
    return (f"{decl}\n"
            f'<rss version="2.0"><channel><title>{title}</title><link>{link}</link>'
            f"<description>{title}</description><language>{lang}</language>"
            f"<item><title>{item_title}</title><link>{link}r/1</link>"
            f'<guid isPermaLink="true">{link}r/1</guid><pubDate>{M.rfc822(pub)}</pubDate>'
            f"<description>{text}</description></item></channel></rss>\n")


def test(case):
    hook = H.WebhookReceiver(case.server("hook"), "/hook")
    srv = case.server("feeds")
    pub = time.time() - 120
    feeds = {
        "koi8r": dict(text=RU.format(mk="mk-koi8r"), codec="koi8-r",
                      ctype="application/rss+xml", decl='<?xml version="1.0"?>',
                      title="Отзывы покупателей", item="Жалоба на заказ", lang="ru"),
        "cp1251": dict(text=RU.format(mk="mk-cp1251"), codec="cp1251", ctype="text/xml",
                       decl='<?xml version="1.0" encoding="windows-1251"?>',
                       title="Отзывы о магазине", item="Плохой сервис", lang="ru"),
        "latin1-lie": dict(text=FR.format(mk="mk-latin1-lie"), codec="latin-1",
                           ctype="text/xml; charset=utf-8",
                           decl='<?xml version="1.0" encoding="utf-8"?>',
                           title="Avis clients", item="Très déçu", lang="fr"),
        "utf16le": dict(text=MIXED.format(mk="mk-utf16le"), codec="utf-16-le", bom=b"\xff\xfe",
                        ctype="application/xml", decl='<?xml version="1.0" encoding="UTF-16"?>',
                        title="Отзывы / avis", item="Жалоба — plainte", lang="ru"),
        "utf16be": dict(text=MIXED.format(mk="mk-utf16be"), codec="utf-16-be", bom=b"\xfe\xff",
                        ctype="application/rss+xml; charset=UTF-16",
                        decl='<?xml version="1.0" encoding="UTF-16"?>',
                        title="Отзывы / avis", item="Жалоба — plainte", lang="ru"),
    }
    urls = {}
    for name, f in feeds.items():
        doc = rss(f["title"], f["item"], f["text"], f"https://reviews.example/{name}/",
                  f["lang"], f["decl"], pub)
        body = f.get("bom", b"") + doc.encode(f["codec"])
        if f["codec"] in ("koi8-r", "cp1251", "latin-1"):
            # the point of these feeds: bytes that are not UTF-8
            H.check(not _is_utf8(body), f"test bug: the {name} body is valid UTF-8")
        path = f"/{name}.xml"
        srv.route(path, lambda entry, b=body, ct=f["ctype"]:
                  H.Response(200, b, {"Content-Type": ct}, content_type=None))
        urls[name] = srv.url + path

    cfg = H.make_config(
        sources=[{"name": "reviews", "type": "rss", "interval": "1s",
                  "urls": list(urls.values())}],
        notifiers=[H.webhook_notifier("hook", hook.url)],
        rules=(H.REFUND_RULE, H.RU_RULE))
    d = case.daemon(cfg)
    d.start()

    def alive():
        H.check(d.alive(), f"earshotd exited with status {d.proc.returncode}")

    def text_of(x):
        return ((x["json"] or {}).get("post") or {}).get("text") or ""

    def by_feed(check_alive=True):
        if check_alive:
            alive()
        out = {}
        for x in hook.all():
            m = re.search(r"\(mk-([\w-]+)\)", text_of(x))
            out.setdefault(m.group(1) if m else None, []).append(x)
        return out

    try:
        H.wait_until(lambda: set(feeds) <= set(by_feed()), 15, "an alert from every feed")
    except AssertionError:
        pass   # reported per feed below
    # two more polls of every feed: nothing alerts twice
    mark = srv.mark()
    H.wait_until(lambda: alive() or all(len(srv.log(f"/{n}.xml", mark)) >= 2 for n in feeds),
                 15, "two more polls of every feed")
    alive()
    d.stop()

    log = d.all_logs()
    got = by_feed(check_alive=False)
    rows = d.alerts()
    for name, f in feeds.items():
        label = re.findall(r"%s: \d+ bytes read as (.*)$" % re.escape(urls[name]), log, re.M)
        case.note(f"{name}: the plugin read it as {label[-1] if label else '?'}")
        xs = got.get(name, [])
        if not xs:
            warned = [ln for ln in log.splitlines()
                      if urls[name] in ln and H.is_problem_line(ln)]
            case.expect(False, f"{name}: no alert for the complaint"
                               + (f"; logged: {warned[0][:200]}" if warned else
                                  " and no warning either (the post was lost silently, or its "
                                  "text was decoded so wrongly that no rule matched)"))
            continue
        case.expect(len(xs) == 1, f"{name}: {len(xs)} webhook deliveries, want 1")
        text = text_of(xs[0]).strip()
        case.note(f"{name}: post.text {text!r}")
        case.expect("\ufffd" not in text, f"{name}: U+FFFD in post.text {text!r}")
        case.expect(text == f["text"], f"{name}: post.text {text!r}, want {f['text']!r}")
        r = [r for r in rows if f"(mk-{name})" in (r.get("text") or "")]
        case.expect(len(r) == 1 and (r[0]["text"] or "").strip() == f["text"],
                    f"{name}: alerts table: {[x.get('text') for x in r]}, want one row with "
                    f"{f['text']!r}")
    stray = got.get(None, [])
    case.expect(not stray, f"{len(stray)} deliveries whose text has no feed marker, e.g. "
                           f"{[text_of(x) for x in stray][:2]} (mojibake?)")
    errors = [ln for ln in log.splitlines() if H.log_level_of(ln) in ("err", "crit", "alert",
                                                                      "emerg")]
    case.expect(not errors, f"error lines in the daemon log: {errors[:3]}")


def _is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


if __name__ == "__main__":
    H.main("source_charsets", test)
