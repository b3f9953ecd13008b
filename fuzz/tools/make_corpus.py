#!/usr/bin/env python3
"""Regenerates the committed seed corpora fuzz/corpus/<target>/ from the project's own fixtures:
tests/testdata (golden requests, responses, streams, errors), the request bodies the integration tests
send (tests/integration/*.mjs, via extract_mjs_bodies.mjs), config/*.yaml and the YAML / JSON literals of
the unit tests. Each seed carries the control bytes its target expects (fuzz/README.md). Files are named
by content hash, so rerunning is idempotent. Usage: fuzz/tools/make_corpus.py [repo-root]
"""
import glob
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import yaml

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../.."))
TD = os.path.join(ROOT, "tests/testdata")
OUT = os.path.join(ROOT, "fuzz/corpus")
MAX_SEED = 16 * 1024  # keep seeds small: libFuzzer mutates small inputs faster
PROVIDERS = ["openai", "azure", "anthropic", "bedrock", "gemini", "mock"]

corpora = {}


def add(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    corpora.setdefault(target, {})[hashlib.sha1(data).hexdigest()[:16]] = data


def read(p):
    with open(p, "rb") as f:
        return f.read()


def load_json(p):
    with open(p, encoding="utf-8") as f:
        return json.loads(f.read())


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def cpp_raw_strings(path):
    return re.findall(r'R"\((.*?)\)"', open(path, encoding="utf-8").read(), re.S)


# ---- JSON documents from the fixtures ----
client_requests, anthropic_requests, openai_bodies, upstream_bodies = [], [], [], {p: [] for p in PROVIDERS}
for p in glob.glob(f"{TD}/*/requests/*.json"):
    c = load_json(p)
    if "request" in c:
        client_requests.append(c["request"])
for p in glob.glob(f"{TD}/*/streams/*.expect.json") + glob.glob(f"{TD}/*/responses/*.json"):
    c = load_json(p)
    if isinstance(c, dict) and "request" in c:
        client_requests.append(c["request"])
for p in glob.glob(f"{TD}/anthropic/ingress/requests/*.json"):
    c = load_json(p)
    anthropic_requests.append(c.get("anthropic", c.get("request")))
for p in glob.glob(f"{TD}/anthropic/ingress/responses/*.json"):
    c = load_json(p)
    openai_bodies.append(c.get("openai"))
for prov in ["azure", "anthropic", "bedrock"]:
    for p in glob.glob(f"{TD}/{prov}/responses/*.json"):
        c = load_json(p)
        up = c["upstream"]
        upstream_bodies[prov].append(up if isinstance(up, str) else compact(up))
upstream_bodies["openai"] = upstream_bodies["azure"] + [compact(b) for b in openai_bodies if b is not None]
upstream_bodies["gemini"] = upstream_bodies["openai"]
upstream_bodies["mock"] = upstream_bodies["openai"]
openai_bodies += [json.loads(b) for b in upstream_bodies["azure"] if b.startswith("{")]

mjs = subprocess.run(["node", os.path.join(ROOT, "fuzz/tools/extract_mjs_bodies.mjs"), os.path.join(ROOT, "tests/integration")],
                     capture_output=True, text=True, check=True).stdout.splitlines()
mjs_bodies = [json.loads(line) for line in mjs if line.strip()]

json_literals = []
for f in ["tests/core/json_scan_test.cpp", "tests/core/request_test.cpp", "tests/providers/anthropic_ingress_test.cpp"]:
    for s in cpp_raw_strings(os.path.join(ROOT, f)):
        json_literals.append(s)

# request_parse: client bodies for all three endpoints.
for r in client_requests + mjs_bodies:
    if isinstance(r, dict) and "model" in r:
        add("request_parse", compact(r))
for s in json_literals:
    if '"model"' in s:
        add("request_parse", s)
add("request_parse", '{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}}]}],"switchyard":{"router":"auto","threshold":0.5},"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":5,"response_format":{"type":"json_object"},"temperature":1}')
add("request_parse", '{"model":"m","prompt":["a","b"],"input":[1,2,3]}')
add("request_parse", '{"mod\\u0065l":"m","input":"x","prompt":"y"}')

# json_scan: [control byte] + any JSON-ish document.
docs = [compact(r) for r in client_requests + mjs_bodies + openai_bodies if r is not None]
docs += [b for bs in upstream_bodies.values() for b in bs] + json_literals
docs += ['[1,-0.5e+10,true,false,null,"\\ud83d\\ude00",{"a":{}}]', '"\\u00e9\\n\\"\\\\"', "123", "-1.25E-3", "{}", " { } ",
         '{"a":1,"b":[{"c":"d"}],"model":"x","switchyard":{}}']
for i, d in enumerate(docs):
    add("json_scan", bytes([(i * 37 + 0x80 * (i % 2)) & 0xFF]) + d.encode())

# Anthropic ingress.
for r in anthropic_requests + mjs_bodies:
    if isinstance(r, dict) and "model" in r:
        add("anthropic_ingress_request", compact(r))
add("anthropic_ingress_request", '{"model":"c","max_tokens":10,"system":[{"type":"text","text":"s"}],"stream":true,"metadata":{"user_id":"u"},"tools":[{"name":"t","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"t"},"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]},{"role":"assistant","content":[{"type":"tool_use","id":"i","name":"t","input":{"a":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"i","content":[{"type":"text","text":"r"}]}]}]}')
# Escaped-key smuggling: a key spelled with \u escapes is the same key once decoded, so beside its plain
# spelling it is a repeated key (to be refused), and alone it must act as the plain key. Each shape with
# the escaped duplicate after and before the plain one: model, messages (carrying a card number a rule or
# detector looks for), the switchyard extension (also alone), and a message's content (nested).
CARD = "my card is 4111 1111 1111 1111"


def smuggling_seeds(head):
    """head: the members before "messages", starting with "model":"m"."""
    other = head.replace('"model":"m"', "").strip(",")
    msgs = '"messages":[{"role":"user","content":"hi"}]'
    card = '"mess\\u0061ges":[{"role":"user","content":"' + CARD + '"}]'
    sw, sw_esc = '"switchyard":{"router":"cheap"}', '"switchy\\u0061rd":{"router":"premium"}'

    def obj(*members):
        return "{" + ",".join(m for m in members if m) + "}"

    return [obj('"model":"m"', '"mod\\u0065l":"x"', other, msgs), obj('"mod\\u0065l":"x"', '"model":"m"', other, msgs),
            obj(head, msgs, card), obj(head, card, msgs),
            obj(head, msgs, sw_esc), obj(head, sw, msgs, sw_esc), obj(head, sw_esc, msgs, sw),
            obj(head, '"messages":[{"role":"user","content":"hi","c\\u006fntent":"' + CARD + '"}]'),
            obj(head, '"messages":[{"role":"user","c\\u006fntent":"' + CARD + '","content":"hi"}]')]


for seed in smuggling_seeds('"model":"m"'):
    add("request_parse", seed)
for seed in smuggling_seeds('"model":"m","max_tokens":16'):
    add("anthropic_ingress_request", seed)
# Anthropic content blocks: a duplicate "text" in a block.
add("anthropic_ingress_request", '{"model":"m","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","text":"hi","t\\u0065xt":"' + CARD + '"}]}]}')
add("anthropic_ingress_request", '{"model":"m","max_tokens":16,"messages":[{"role":"user","content":[{"type":"text","t\\u0065xt":"' + CARD + '","text":"hi"}]}]}')

for i, b in enumerate(openai_bodies):
    if b is not None:
        add("anthropic_ingress_response", bytes([i]) + compact(b).encode())
add("anthropic_ingress_response", b"\x08" + b'{"error":{"message":"slow down","type":"rate_limit_error"}}')

openai_sse = [read(p) for p in glob.glob(f"{TD}/*/streams/*.sse") if "/anthropic/streams/" not in p]
all_sse = [read(p) for p in glob.glob(f"{TD}/**/*.sse", recursive=True)]
for i, s in enumerate(openai_sse):
    add("anthropic_ingress_stream", bytes([0]) + s)
    add("anthropic_ingress_stream", bytes([(i * 29 + 1) & 0xFF or 1]) + s)
for i, s in enumerate(all_sse):
    add("sse_parser", bytes([(i * 13 + 1) & 0xFF or 1]) + s)
add("sse_parser", b"\x03: comment\r\nevent: e\rdata: a\r\ndata:b\n\ndata\nid: 1\nretry: 5\n\n")


# ---- Bedrock event streams ----
def es_encode(headers, payload):
    h = b""
    for k, v in headers.items():
        kb, vb = k.encode(), v.encode()
        h += bytes([len(kb)]) + kb + b"\x07" + struct.pack(">H", len(vb)) + vb
    total = 12 + len(h) + len(payload) + 4
    prelude = struct.pack(">II", total, len(h))
    msg = prelude + struct.pack(">I", zlib.crc32(prelude)) + h + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


bedrock_streams = []
for p in sorted(glob.glob(f"{TD}/bedrock/streams/*.events.json")):
    out = b""
    for m in load_json(p):
        pl = m["payload"]
        out += es_encode(m["headers"], (pl if isinstance(pl, str) else compact(pl)).encode())
    bedrock_streams.append(out)
for i, s in enumerate(bedrock_streams):
    add("event_stream", bytes([1, (i * 7 + 1) & 0xFF]) + s)
    add("event_stream", bytes([0, 0]) + s)
# A frame with every header type (bool, byte, short, int, long, bytes, timestamp, uuid).
hdrs = b"\x01a\x00" + b"\x01b\x01" + b"\x01c\x02x" + b"\x01d\x03xx" + b"\x01e\x04xxxx" + b"\x01f\x05" + b"x" * 8 + \
       b"\x01g\x06\x00\x02xy" + b"\x01h\x08" + b"x" * 8 + b"\x01i\x09" + b"x" * 16 + b"\x01j\x07\x00\x01z"
total = 12 + len(hdrs) + 2 + 4
pre = struct.pack(">II", total, len(hdrs))
frame = pre + struct.pack(">I", zlib.crc32(pre)) + hdrs + b"{}"
add("event_stream", bytes([1, 3]) + frame + struct.pack(">I", zlib.crc32(frame)))

# ---- Provider formats ----
for prov in PROVIDERS:
    for i, b in enumerate(upstream_bodies[prov]):
        add(f"{prov}_response", bytes([i % 4]) + b.encode())
    if prov == "bedrock":
        streams = bedrock_streams
        for i, s in enumerate(streams):
            add(f"{prov}_stream", bytes([0x80 | (1 + i % 3), (i * 11 + 1) & 0xFF]) + s)
            add(f"{prov}_stream", bytes([2, 0]) + s)
    else:
        src = "openai" if prov in ("openai", "mock") else prov
        files = glob.glob(f"{TD}/{src}/streams/*.sse")
        if prov == "openai" or prov == "mock":
            files = glob.glob(f"{TD}/azure/streams/*.sse") + glob.glob(f"{TD}/gemini/streams/*.sse") + \
                    glob.glob(f"{TD}/anthropic/ingress/streams/*.sse")
        for i, p in enumerate(sorted(files)):
            add(f"{prov}_stream", bytes([1 + i % 2, (i * 11 + 1) & 0xFF]) + read(p))
            add(f"{prov}_stream", bytes([2, 0]) + read(p))
    err_files = [f"{TD}/{prov}/errors.json"] if os.path.exists(f"{TD}/{prov}/errors.json") else []
    if prov in ("mock",):
        err_files = [f"{TD}/openai/errors.json"]
    if prov in ("openai", "mock", "gemini"):
        err_files += [f"{TD}/{q}/errors.json" for q in ("azure", "anthropic", "bedrock", "gemini", "openai")]
    for ef in sorted(set(err_files)):
        for e in load_json(ef):
            body = e["body"] if isinstance(e["body"], str) else compact(e["body"])
            head = "".join(f"{k}: {v}\n" for k, v in e.get("headers", {}).items())
            add(f"{prov}_classify", f"{e['status']}\n{head}\n{body}")

# ---- Config and rules ----
yaml_texts = [read(p).decode() for p in sorted(glob.glob(os.path.join(ROOT, "config/*.yaml")))]
yaml_texts += [s for s in cpp_raw_strings(os.path.join(ROOT, "tests/config/config_test.cpp"))]
yaml_texts += ["providers: [{name: mock, type: mock}]\nmodels: [{name: small, provider: mock}, {name: large, provider: mock}]\n"]
for y in yaml_texts:
    add("config_load", y)
add("config_load", "a: &x [1, 2]\nb: *x\nproviders: [{name: p, type: openai, base_url: 'http://h:1/v1', api_key: '${K:-d}'}]\nmodels: [{name: m, provider: p}]\n")

rule_yamls = [s for s in cpp_raw_strings(os.path.join(ROOT, "tests/pipeline/rule_stage_test.cpp")) if "rules:" in s]
for y in yaml_texts:
    try:
        doc = yaml.safe_load(y)
    except yaml.YAMLError:
        continue
    for r in (doc or {}).get("routers", []) if isinstance(doc, dict) else []:
        for st in r.get("stages", []):
            if st.get("type") == "rule":
                rule_yamls.append(yaml.safe_dump(st, sort_keys=False))
prompts = [("key AKIAABCDEFGHIJKLMNOP here", "", "vip"), ("card 4111-1111-1111-1111 please", "be brief", "free"),
           ("this is Urgent! " + "word " * 30, "You are terse.", ""), ("ghp_" + "a" * 36, "", "trial")]
for i, y in enumerate(rule_yamls):
    for j, (u, s, h) in enumerate(prompts):
        if (i + j) % 2 == 0:
            add("rule_stage", "\0".join([y, u, s, h]))

# ---- write ----
for target, seeds in corpora.items():
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
total = sum(len(v) for s in corpora.values() for v in s.values())
print(f"make_corpus: {sum(len(s) for s in corpora.values())} seeds in {len(corpora)} corpora, {total} bytes")
for t in sorted(corpora):
    print(f"  {t}: {len(corpora[t])}")
