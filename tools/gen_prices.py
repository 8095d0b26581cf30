#!/usr/bin/env python3
"""Converts the @pydantic/genai-prices database into spanvault's price file.

Usage:
  tools/gen_prices.py SOURCE [-o cost/builtin_prices.json]

SOURCE is the plain JSON array of providers (e.g. genai-prices-0.1.8.json),
an npm tarball from `npm pack @pydantic/genai-prices` (.tgz), or an unpacked
package directory. In the latter two, the first *.json file holding the
provider array is used, else the array literal embedded in a *.js file.

Decimal prices are copied as their source text (never through a float), so
the C++ loader sees exactly what the source says. Python 3 stdlib only.

Mapping (see cost/README.md for the target schema):
  provider ids    -> OpenTelemetry gen_ai.provider.name where one exists
  input_mtok ...  -> prices.input/output/cache_read/cache_write/reasoning
  requests_kcount -> prices.per_request (USD per 1,000 requests)
  {base, tiers}   -> whole-request tiers ("above_input_tokens")
  start_date      -> versions[].valid_from
  time_of_date    -> windows[] (UTC [start, end))
Models priced only in other units (audio hours, pages, ...) are skipped and
counted; models with an empty price object are free and kept at zero.
"""

import argparse
import decimal
import io
import json
import os
import re
import sys
import tarfile

PROVIDER_IDS = {
    "aws": "aws.bedrock",
    "azure": "azure.ai.openai",
    "google": "gcp.vertex_ai",
    "x-ai": "x_ai",
    "mistral": "mistral_ai",
}

PRICE_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "output_reasoning_mtok": "reasoning",
    "requests_kcount": "per_request",
}
TOKEN_KEYS = {"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok"}


def load_source(path):
    if os.path.isdir(path):
        blobs = []
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                if f.endswith((".json", ".js", ".mjs", ".cjs")):
                    with open(os.path.join(root, f), "rb") as fh:
                        blobs.append((f, fh.read().decode("utf-8", "replace")))
        return find_providers(blobs, path)
    if path.endswith((".tgz", ".tar.gz")):
        blobs = []
        with tarfile.open(path) as tar:
            for m in sorted(tar.getmembers(), key=lambda m: m.name):
                if m.isfile() and m.name.endswith((".json", ".js", ".mjs", ".cjs")):
                    blobs.append((m.name, tar.extractfile(m).read().decode("utf-8", "replace")))
        return find_providers(blobs, path)
    with open(path, encoding="utf-8") as fh:
        return parse(fh.read())


def parse(text):
    return json.loads(text, parse_float=decimal.Decimal)


def is_providers(v):
    return isinstance(v, list) and v and all(isinstance(p, dict) and "models" in p and "id" in p for p in v)


def find_providers(blobs, where):
    for name, text in blobs:
        if name.endswith(".json"):
            try:
                v = parse(text)
            except ValueError:
                continue
            if is_providers(v):
                return v
    # The npm package bundles the data as a JavaScript literal in dist/*.js:
    # `const E = [{ id: "anthropic", ... required: !0 }]`.
    for name, text in blobs:
        if name.endswith(".json"):
            continue
        for m in re.finditer(r'\[\s*\{\s*"?id"?\s*:\s*"', text):
            try:
                v, _ = JsLiteral(text, m.start()).value()
            except ValueError:
                continue
            if is_providers(v):
                return v
    sys.exit(f"gen_prices: no provider array found in {where}")


class JsLiteral:
    """Reads a JSON-like JavaScript literal: unquoted keys, trailing commas,
    !0/!1, void 0. Numbers keep their exact text (as Decimal)."""

    NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
    IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

    def __init__(self, text, pos):
        self.t, self.i = text, pos

    def ws(self):
        while self.i < len(self.t) and self.t[self.i] in " \t\r\n":
            self.i += 1

    def value(self):
        self.ws()
        c = self.t[self.i]
        if c == "[":
            self.i += 1
            out = []
            while True:
                self.ws()
                if self.t[self.i] == "]":
                    self.i += 1
                    return out, self.i
                out.append(self.value()[0])
                self.ws()
                if self.t[self.i] == ",":
                    self.i += 1
        if c == "{":
            self.i += 1
            out = {}
            while True:
                self.ws()
                if self.t[self.i] == "}":
                    self.i += 1
                    return out, self.i
                if self.t[self.i] in "\"'":
                    key = self.string()
                else:
                    m = self.IDENT.match(self.t, self.i)
                    if not m:
                        raise ValueError(f"bad key at {self.i}")
                    key, self.i = m.group(0), m.end()
                self.ws()
                if self.t[self.i] != ":":
                    raise ValueError(f"expected : at {self.i}")
                self.i += 1
                out[key] = self.value()[0]
                self.ws()
                if self.t[self.i] == ",":
                    self.i += 1
        if c in "\"'`":
            return self.string(), self.i
        for word, val in (("!0", True), ("!1", False), ("true", True), ("false", False), ("null", None),
                          ("void 0", None)):
            if self.t.startswith(word, self.i):
                self.i += len(word)
                return val, self.i
        m = self.NUMBER.match(self.t, self.i)
        if m:
            self.i = m.end()
            txt = m.group(0)
            return (int(txt) if re.fullmatch(r"-?\d+", txt) else decimal.Decimal(txt)), self.i
        raise ValueError(f"unexpected {c!r} at {self.i}")

    def string(self):
        q = self.t[self.i]
        j = self.i + 1
        while self.t[j] != q:
            j += 2 if self.t[j] == "\\" else 1
        raw = self.t[self.i + 1:j]
        self.i = j + 1
        if q == "'":
            raw = raw.replace("\\'", "'").replace('"', '\\"')
        elif q == "`":
            if "${" in raw:
                raise ValueError(f"template interpolation at {j}")
            raw = (raw.replace("\\`", "`").replace('"', '\\"').replace("\n", "\\n")
                   .replace("\r", "\\r").replace("\t", "\\t"))
        return json.loads('"' + raw + '"')


def provider_id(pid):
    return PROVIDER_IDS.get(pid, pid)


def convert_price_set(src):
    """genai-prices price dict -> (prices, tiers) in spanvault form."""
    flat = {}
    tiered = {}
    for key, value in src.items():
        if key not in PRICE_KEYS:
            continue
        out = PRICE_KEYS[key]
        if isinstance(value, dict):
            flat[out] = value["base"]
            tiered[out] = sorted(((t["start"], t["price"]) for t in value["tiers"]), key=lambda t: t[0])
        else:
            flat[out] = value
    prices = dict(flat)
    if tiered:
        starts = sorted({s for ts in tiered.values() for s, _ in ts})
        tiers = []
        for s in starts:
            tier = {"above_input_tokens": s}
            for key, base in flat.items():
                price = base
                for start, p in tiered.get(key, []):
                    if start <= s:
                        price = p
                tier[key] = price
            tiers.append(tier)
        prices["tiers"] = tiers
    return prices


def has_token_price(src):
    return not src or any(k in TOKEN_KEYS for k in src)


def convert_model(pid, model):
    entries = model["prices"]
    if isinstance(entries, dict):
        entries = [{"prices": entries}]
    if not any(has_token_price(e["prices"]) for e in entries):
        return None
    out = {"provider": pid, "id": model["id"], "match": model["match"]}
    versions, windows, base = [], [], None
    for e in entries:
        c = e.get("constraint")
        if c is None:
            if base is not None or versions or windows:
                raise ValueError(f"{pid}/{model['id']}: unconstrained price after others")
            base = convert_price_set(e["prices"])
        elif c["type"] == "start_date":
            if windows:
                raise ValueError(f"{pid}/{model['id']}: start_date after time_of_date")
            versions.append({"valid_from": c["start_date"], "prices": convert_price_set(e["prices"])})
        elif c["type"] == "time_of_date":
            windows.append({"start": c["start_time"].rstrip("Z"), "end": c["end_time"].rstrip("Z"),
                            "prices": convert_price_set(e["prices"])})
        else:
            raise ValueError(f"{pid}/{model['id']}: unknown constraint {c['type']}")
    if base is None:
        raise ValueError(f"{pid}/{model['id']}: no base price")
    out["prices"] = base
    if versions:
        out["versions"] = versions
    if windows:
        out["windows"] = windows
    return out


def dump(v):
    """Compact JSON; decimals written as their exact positional text."""
    if isinstance(v, decimal.Decimal):
        s = format(v, "f")
        return s
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(dump(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump(x) for k, x in v.items()) + "}"
    raise TypeError(type(v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source")
    ap.add_argument("-o", "--output", default="cost/builtin_prices.json")
    ap.add_argument("--label", default=None, help="source label written into the file")
    args = ap.parse_args()

    providers = load_source(args.source)
    out_providers, out_models, skipped = [], [], []
    for p in providers:
        pid = provider_id(p["id"])
        entry = {"id": pid}
        if p.get("model_match"):
            entry["model_match"] = p["model_match"]
        if p.get("provider_match"):
            entry["provider_match"] = p["provider_match"]
        if p.get("fallback_model_providers"):
            entry["fallback"] = [provider_id(f) for f in p["fallback_model_providers"]]
        out_providers.append(entry)
        for m in p["models"]:
            conv = convert_model(pid, m)
            if conv is None:
                skipped.append(f"{pid}/{m['id']}")
            else:
                out_models.append(conv)

    label = args.label or os.path.basename(args.source)
    buf = io.StringIO()
    buf.write('{"source":' + json.dumps(label) + ',\n"providers":[\n')
    buf.write(",\n".join(dump(p) for p in out_providers))
    buf.write('\n],\n"models":[\n')
    buf.write(",\n".join(dump(m) for m in out_models))
    buf.write("\n]}\n")
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
    print(f"gen_prices: {len(out_providers)} providers, {len(out_models)} models written to {args.output}; "
          f"{len(skipped)} skipped (not priced per token): {', '.join(skipped)}", file=sys.stderr)


if __name__ == "__main__":
    main()
