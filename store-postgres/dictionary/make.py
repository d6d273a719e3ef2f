#!/usr/bin/env python3
"""Makes the preset dictionary the PostgreSQL store deflates records with, one
per format of `packed`: `records-2.txt` (format 2) as it stands; it made
`records-1.txt` (format 1) the same way from the example sites of 30 Nov 2026
(saas, coaching and the invented sites the five operators replaced). A
dictionary is frozen once made: records packed with it can only be read with
the same bytes. A better one is a new file and a new format byte (FORMAT below
and `pack.rs`), read beside the old ones; this refuses to overwrite one.

What records have in common: the field names in the order the store writes
them, the actions, sources, languages and signals, and the category and service
ids of the example sites (`examples/sites/*.toml`), which name the services our
first operators use. Hash values are random and are left out. Deflate finds a
match more cheaply the nearer it is to the end, so the skeleton comes last.
"""
import glob
import json
import os
import tomllib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))


def choices(config, allow):
    cats = {c["id"]: allow or c["id"] == "necessary" for c in config.get("categories", [])}
    cats.setdefault("necessary", True)
    services = {s["id"]: allow or s.get("category") == "necessary" for s in config.get("services", [])}
    return {"categories": dict(sorted(cats.items())), "services": dict(sorted(services.items()))}


def record(site, action, source, language, config, allow, page):
    # serde_json's order: the struct's, as `ConsentRecord` declares it.
    return (
        '{"format":1,"site":"%s","seq":' % site
        + '1,"consent_id":"","received_at":"2026-01-01T00:00:00.000Z","action":"%s","source":"%s",' % (action, source)
        + '"config_version":"","choices":'
        + json.dumps(choices(config, allow), separators=(",", ":"))
        + ',"language":"%s","signals":{"gpc":false,"dnt":false},"personal_hash":"",' % language
        + '"personal":{"salt":"","page":"%s","ip_hash":"","ua_hash":""},"prev_hash":"","record_hash":""}' % page
    )


parts = []
for path in sorted(glob.glob(os.path.join(root, "examples", "sites", "*.toml"))):
    with open(path, "rb") as f:
        config = tomllib.load(f)
    site = os.path.splitext(os.path.basename(path))[0]
    parts.append(record(site, "custom", "banner", "en", config, False, "/"))
    parts.append(record(site, "accept_all", "banner", "de", config, True, "/"))
parts.append(record("", "withdraw", "operator", "de", {}, False, "/"))
parts.append(record("", "reject_all", "backend", "de", {}, False, "/"))
parts.append('"purposes":{"newsletter":"granted"},"subject_hash":"","signals":{"gpc":true,"dnt":true}')
parts.append(record("", "reject_all", "banner", "de", {}, False, "/"))
text = "".join(parts)
FORMAT = 2
out = os.path.join(here, f"records-{FORMAT}.txt")
if os.path.exists(out):
    raise SystemExit(f"{out} exists and is frozen: a new dictionary is a new file and format")
assert len(text) <= 32768, len(text)
with open(out, "w") as f:
    f.write(text)
print(len(text), "bytes")
