#!/usr/bin/python3
"""tests/check_metrics.py — reads one /metrics scrape (a file, or stdin) with
the Prometheus client's own text-format parser and prints what it understood,
one JSON object a line, so that a test checks the numbers a scraper sees
rather than the ones it meant to write:

    {"family": NAME, "type": TYPE, "help": TEXT}
    {"family": NAME, "name": SAMPLE, "labels": {...}, "value": NUMBER}

The parser is lax (a line it does not expect becomes an untyped family of its
own), so the script also fails, exit 1 with the reason on stderr, on what the
parser lets through but a scraper would misread: a sample outside a declared
family, a family without help, a series given twice.

Needs python3-prometheus-client (deploy/deps.sh): run it with /usr/bin/python3,
which sees Debian's packages.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(why):
    print("check_metrics: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) > 2:
        fail("usage: check_metrics.py [SCRAPE-FILE]")
    if len(sys.argv) == 2:
        with open(sys.argv[1], encoding="utf-8") as f:
            text = f.read()
    else:
        text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:      # the parser raises ValueError, IndexError, ...
        fail("cannot parse: %s: %s" % (type(e).__name__, e))
    if not families:
        fail("no metric families")
    seen = set()
    for family in families:
        if family.type not in ("counter", "gauge", "histogram"):
            fail("%s: type %s (a sample without its # TYPE line?)" % (family.name, family.type))
        if not family.documentation:
            fail("%s: no help text" % family.name)
        print(json.dumps({"family": family.name, "type": family.type, "help": family.documentation},
                         ensure_ascii=False))
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                fail("%s%s: given twice" % (s.name, s.labels))
            seen.add(key)
            value = s.value
            if math.isinf(value) or math.isnan(value):
                fail("%s%s: value %s" % (s.name, s.labels, value))
            print(json.dumps({"family": family.name, "name": s.name, "labels": s.labels, "value": value},
                             ensure_ascii=False))


main()
