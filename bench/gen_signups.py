#!/usr/bin/env python3
"""Generate N reproducible synthetic signup records as JSON lines (about 400 bytes each).

    bench/gen_signups.py N SEED > signups.jsonl

The same N and SEED always give the same bytes (random.Random with an integer seed is stable across
Python 3 versions). Used by scripts/bench; the shape matches examples/signups/signups.jsonl:

- id: integer (absent in ~8% of records); email: ASCII address (absent in ~6%); about 0.5% of the
  records have neither and are skipped by the reference rule
- first_name / last_name: mixed ASCII and non-ASCII text (é, ü, ø, 日本語)
- plan, created_at (epoch seconds), tags (list of 1..3 strings, absent in ~25%), company {name, size, domain}
- deleted: true in ~5% of records (the rule sends "Account Deleted" for those)
- ip: IPv4 (documentation ranges) and IPv6 in ~15%
- explicit nulls (phone, referrer, sometimes company.domain) and floats (score: 0.73)

Every record is valid for the reference rule: no record fails validation, so a mapping run over this
data should exit 0 with only skips.
"""
import json
import random
import sys

FIRST = [("Zoë", "zoe"), ("Jürgen", "juergen"), ("Émile", "emile"), ("太郎", "taro"),
         ("Ana", "ana"), ("José", "jose"), ("Björn", "bjorn"), ("Chloé", "chloe"),
         ("Søren", "soren"), ("花子", "hanako"), ("Mia", "mia"), ("Liam", "liam"),
         ("Noah", "noah"), ("Ingrid", "ingrid"), ("François", "francois"), ("Łukasz", "lukasz")]
LAST = [("Müller", "mueller"), ("Lefèvre", "lefevre"), ("山田", "yamada"), ("García", "garcia"),
        ("Nguyễn", "nguyen"), ("Smith", "smith"), ("Dvořák", "dvorak"), ("O'Brien", "obrien"),
        ("Jensen", "jensen"), ("佐藤", "sato"), ("Kowalski", "kowalski"), ("Brown", "brown")]
PLANS = ["free", "starter", "pro", "business", "enterprise"]
TAGS = ["newsletter", "beta", "webinar", "ebook", "partner", "churn-risk", "vip", "trial"]
COMPANIES = [("Acme GmbH", "acme.example"), ("Globex Corporation", "globex.example"),
             ("Initech", "initech.example"), ("Umbrella Ltd", "umbrella.example"),
             ("Société Générale de Tests", "sgt.example"), ("株式会社テスト", "test-kk.example"),
             ("Hooli", "hooli.example"), ("Vandelay Industries", "vandelay.example")]
MAIL_DOMAINS = ["example.com", "example.org", "mail.example.net"]
SOURCES = [("google", "cpc"), ("newsletter", "email"), ("twitter", "social"), ("direct", "none")]
CAMPAIGNS = ["spring-sale", "black-friday", "launch-2024", "webinar-q3", "retargeting"]
PAGES = ["/pricing", "/signup", "/blog/how-to-onboard", "/features/automation", "/"]
LOCALES = ["en-US", "de-DE", "fr-FR", "ja-JP", "es-ES", "pl-PL"]


def record(rng, i):
    first, first_ascii = rng.choice(FIRST)
    last, last_ascii = rng.choice(LAST)
    company, company_domain = rng.choice(COMPANIES)
    r = {}
    if rng.random() >= 0.08:
        r["id"] = 100000 + i * 7 + rng.randrange(7)
    if rng.random() >= 0.06:
        domain = company_domain if rng.random() < 0.4 else rng.choice(MAIL_DOMAINS)
        r["email"] = f"{first_ascii}.{last_ascii}{i}@{domain}"
    r["first_name"] = first
    r["last_name"] = last
    r["plan"] = rng.choice(PLANS)
    r["created_at"] = 1577836800 + rng.randrange(157_680_000)   # 2020-01-01 .. 2024-12-30
    tags = rng.sample(TAGS, rng.randrange(4))
    if tags:                                   # no "tags" key rather than an empty list
        r["tags"] = tags
    r["company"] = {"name": company, "size": rng.choice([1, 5, 12, 50, 240, 1200, 15000]),
                    "domain": company_domain if rng.random() < 0.9 else None}
    r["deleted"] = rng.random() < 0.05
    if rng.random() < 0.15:
        r["ip"] = "2001:db8:%x:%x::%x" % (rng.randrange(65536), rng.randrange(65536),
                                          rng.randrange(1, 65536))
    else:
        r["ip"] = "%d.%d.%d.%d" % (rng.choice([192, 198, 203]), rng.choice([0, 51, 18]),
                                   rng.choice([2, 100, 113]), rng.randrange(1, 255))
    r["score"] = round(rng.random(), 2)
    r["locale"] = rng.choice(LOCALES)
    r["phone"] = None
    r["referrer"] = None if rng.random() < 0.5 else "https://www.example.com/ref/%d" % rng.randrange(1000)
    source, medium = rng.choice(SOURCES)
    r["utm"] = {"source": source, "medium": medium, "campaign": rng.choice(CAMPAIGNS)}
    r["signup_page"] = rng.choice(PAGES)
    return r


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_signups.py N SEED")
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    out = sys.stdout
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    buf = []
    for i in range(n):
        buf.append(dumps(record(rng, i)))
        if len(buf) == 10000:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()
