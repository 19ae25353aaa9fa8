#!/usr/bin/env python3
"""Adds operations of Cloudflare's OpenAPI schema to the vendored subset.

Usage:

    python3 extract_openapi_subset.py FULL_SCHEMA SUBSET --revision COMMIT [--check]

FULL_SCHEMA is an ``openapi.json`` of cloudflare/api-schemas at commit COMMIT; SUBSET is
``cloudflare-openapi-subset.json``, rewritten in place (``--check`` only tells whether it would
change, and exits 1 if so). Standard library only.

What it does, in order:

1. The operations in ``OPERATIONS`` are removed from the subset, and so is every component that
   the remaining operations no longer reach (security schemes stay). What is left is the base:
   the hand-picked operations of the original subset and what they reference.
2. Each operation in ``OPERATIONS`` is copied from the full schema, with the parameters of its
   path item, together with every component it references, transitively (schemas, responses,
   request bodies, parameters, examples: whatever ``#/components/...`` a ``$ref`` names).
3. The list of added operations and COMMIT are recorded in ``info.x-added-operations``.

Re-running with the same inputs gives the same file; re-running with a newer schema replaces the
added operations and drops the components only they used.

Components whose name the base already has:

- The base's version is kept when the full schema's is identical, deeply: the same JSON, and
  every component it references identical too (checked recursively; a reference cycle counts
  as identical).
- Otherwise the full schema's version is added as ``NAME_<first 8 characters of COMMIT>`` and the
  ``$ref``s of the added operations and of the components added with them are rewritten to it.
  The base operations keep the version they were vetted against, so both the old and the new
  operations stay valid against the revision they came from. (In the 2024-08-06 run no added
  component clashed with the base: D1's and Queues' components carry their own prefixes.)

Only operations are added: an operation that the full schema lacks is an error, so the list says
what this revision covers.
"""

import argparse
import copy
import json
import sys

# (method, path) of each added operation: the D1 and Queues routes the emulator serves that this
# revision of the schema has. Not in the 2024-08-06 revision (so not here): R2 bucket CORS,
# lifecycle and managed domain, Queues PATCH, messages, metrics and purge, a script's
# queue-consumers, and the Analytics Engine SQL API. `PUT …/workers/scripts/{script_name}/schedules`
# was in the base subset already.
OPERATIONS = [
    ("get", "/accounts/{account_id}/d1/database"),
    ("post", "/accounts/{account_id}/d1/database"),
    ("get", "/accounts/{account_id}/d1/database/{database_id}"),
    ("delete", "/accounts/{account_id}/d1/database/{database_id}"),
    ("post", "/accounts/{account_id}/d1/database/{database_id}/query"),
    ("post", "/accounts/{account_id}/d1/database/{database_id}/raw"),
    ("post", "/accounts/{account_id}/d1/database/{database_id}/export"),
    ("post", "/accounts/{account_id}/d1/database/{database_id}/import"),
    ("get", "/accounts/{account_id}/queues"),
    ("post", "/accounts/{account_id}/queues"),
    ("get", "/accounts/{account_id}/queues/{queue_id}"),
    ("put", "/accounts/{account_id}/queues/{queue_id}"),
    ("delete", "/accounts/{account_id}/queues/{queue_id}"),
    ("get", "/accounts/{account_id}/queues/{queue_id}/consumers"),
    ("post", "/accounts/{account_id}/queues/{queue_id}/consumers"),
    ("put", "/accounts/{account_id}/queues/{queue_id}/consumers/{consumer_id}"),
    ("delete", "/accounts/{account_id}/queues/{queue_id}/consumers/{consumer_id}"),
]

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PREFIX = "#/components/"


def refs_in(node):
    """Every ``$ref`` string inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def split_ref(ref):
    """``#/components/schemas/x`` -> ``("schemas", "x")``."""
    if not ref.startswith(PREFIX):
        sys.exit(f"unsupported $ref {ref!r}: only #/components/... is handled")
    kind, _, name = ref[len(PREFIX) :].partition("/")
    if not name or "/" in name:
        sys.exit(f"unsupported $ref {ref!r}: expected #/components/<kind>/<name>")
    return kind, name


def component(doc, ref):
    kind, name = split_ref(ref)
    try:
        return doc["components"][kind][name]
    except KeyError:
        sys.exit(f"dangling $ref {ref!r}")


def has_component(doc, ref):
    kind, name = split_ref(ref)
    return name in doc.get("components", {}).get(kind, {})


def rewrite(node, renames):
    """A copy of ``node`` with each ``$ref`` in ``renames`` replaced by its new target."""
    if isinstance(node, dict):
        return {
            k: (renames.get(v, v) if k == "$ref" and isinstance(v, str) else rewrite(v, renames))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rewrite(v, renames) for v in node]
    return node


def reachable(doc, roots):
    """The component refs reachable from ``roots`` (JSON values) in ``doc``."""
    seen, todo = set(), [r for root in roots for r in refs_in(root)]
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        todo.extend(refs_in(component(doc, ref)))
    return seen


def operation(doc, method, path):
    """The operation, with its path item's shared ``parameters`` folded into it."""
    item = doc["paths"].get(path, {})
    if method not in item:
        sys.exit(f"{method.upper()} {path} is not in the full schema")
    op = copy.deepcopy(item[method])
    shared = item.get("parameters")
    if shared:
        own = {(p.get("name"), p.get("in")) for p in op.get("parameters", [])}
        extra = [p for p in shared if (p.get("name"), p.get("in")) not in own]
        op["parameters"] = op.get("parameters", []) + copy.deepcopy(extra)
    return op


def strip_operations(subset, ops):
    """Removes ``ops`` and the components nothing else reaches; returns the base."""
    base = copy.deepcopy(subset)
    for method, path in ops:
        item = base["paths"].get(path)
        if item is not None:
            item.pop(method, None)
            if not any(m in item for m in METHODS):
                del base["paths"][path]
    keep = reachable(base, [base["paths"]])
    for kind, entries in base["components"].items():
        if kind == "securitySchemes":
            continue
        for name in list(entries):
            if f"{PREFIX}{kind}/{name}" not in keep:
                del entries[name]
    base["components"] = {k: v for k, v in base["components"].items() if v}
    return base


class Merge:
    """Decides, for each component the added operations need, the name it has in the subset."""

    def __init__(self, full, base, suffix):
        self.full, self.base, self.suffix = full, base, suffix
        self.names = {}  # full-schema ref -> ref in the subset
        self.clashes = []

    def same(self, ref, visiting):
        """Whether the full schema's ``ref`` is deeply identical to the base's."""
        if not has_component(self.base, ref):
            return False
        if component(self.full, ref) != component(self.base, ref):
            return False
        for inner in refs_in(component(self.full, ref)):
            if inner in visiting:
                continue
            if not self.same(inner, visiting | {ref}):
                return False
        return True

    def target(self, ref):
        if ref in self.names:
            return self.names[ref]
        if not has_component(self.base, ref) or self.same(ref, frozenset()):
            self.names[ref] = ref
        else:
            kind, name = split_ref(ref)
            renamed = f"{PREFIX}{kind}/{name}_{self.suffix}"
            self.names[ref] = renamed
            self.clashes.append((ref, renamed))
        return self.names[ref]

    def add(self, out, refs):
        """Copies the components behind ``refs`` (and theirs) into ``out`` under their names."""
        todo = list(refs)
        done = set()
        while todo:
            ref = todo.pop()
            if ref in done:
                continue
            done.add(ref)
            new = self.target(ref)
            body = component(self.full, ref)
            inner = list(refs_in(body))
            for r in inner:
                self.target(r)
            body = rewrite(body, self.names)
            kind, name = split_ref(new)
            existing = out["components"].setdefault(kind, {}).get(name)
            if existing is not None and existing != body:
                sys.exit(f"{new} is in the subset already with other content; cannot add it")
            out["components"][kind][name] = body
            todo.extend(inner)


def extract(full, subset, revision):
    base = strip_operations(subset, OPERATIONS)
    out = copy.deepcopy(base)
    merge = Merge(full, base, revision[:8])
    for method, path in OPERATIONS:
        op = operation(full, method, path)
        refs = list(refs_in(op))
        for r in refs:
            merge.target(r)
        merge.add(out, refs)
        out["paths"].setdefault(path, {})[method] = rewrite(op, merge.names)
    out["paths"] = dict(sorted(out["paths"].items()))
    out["info"]["x-added-operations"] = {
        "source": f"cloudflare/api-schemas openapi.json at commit {revision}",
        "script": "extract_openapi_subset.py",
        "operations": [f"{m.upper()} {p}" for m, p in OPERATIONS],
    }
    return out, merge.clashes


def serialize(doc):
    # The vendored file's layout: one-space indent, sorted keys, UTF-8, no final newline.
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("full", help="the full openapi.json")
    parser.add_argument("subset", help="cloudflare-openapi-subset.json (rewritten in place)")
    parser.add_argument("--revision", required=True, help="api-schemas commit of FULL")
    parser.add_argument("--check", action="store_true", help="only report whether it changes")
    args = parser.parse_args()

    with open(args.full, encoding="utf-8") as f:
        full = json.load(f)
    with open(args.subset, encoding="utf-8") as f:
        before = f.read()
    out, clashes = extract(full, json.loads(before), args.revision)
    for old, new in clashes:
        print(f"differs from the subset's: {old} added as {new}", file=sys.stderr)
    after = serialize(out)
    count = sum(1 for item in out["paths"].values() for m in item if m in METHODS)
    if args.check:
        print("unchanged" if after == before else "would change", f"({count} operations)")
        sys.exit(0 if after == before else 1)
    with open(args.subset, "w", encoding="utf-8") as f:
        f.write(after)
    print(f"{args.subset}: {count} operations, {len(OPERATIONS)} of them added")


if __name__ == "__main__":
    main()
