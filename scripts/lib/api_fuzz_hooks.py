"""Schemathesis hooks of scripts/api-fuzz: what the API's rules say that OpenAPI cannot.

The OpenAPI document describes every request exactly where JSON Schema can (types, patterns,
ranges, enums, closed objects), so schema-violating requests must be refused. A few rules
depend on two values at once or on what the server holds, and a schema cannot state them:

- analytics: `from` is at most `to`, and the range is at most the retention (90 days) long;
- rules: a list named in a condition or side effect must exist (and, for `in`, be of the
  field's type), a `matches` pattern must compile, `between` takes [low, high] with low <= high;
- list entries: what `add` may hold depends on the type of the list addressed;
- webhooks: a URL must be one the server may deliver to (the document says so in words), and
  a `ruleId` filter must name a rule of the key's own workspace and environment;
- event listings: a `cursor` must be a `nextCursor` that the same listing answered (cursors
  are signed and bound to their listing, so no generated one is valid);
- an `Idempotency-Key` names one request: the same key with another request is refused;
- identify's `tag` is at most 16 KiB and nested at most 8 deep.

For requests generated as valid ("positive"), these hooks bend the generated values into that
space, as a client that follows the documentation would; requests generated as invalid are left
alone. Webhook URLs always point at localhost, which the server refuses to deliver to (SSRF
guard), so the run never sends traffic off this machine.
"""

import datetime
import hashlib
import json
import os
import re
import uuid

import schemathesis

# Created by scripts/api-fuzz before the run, one per list type.
FIXTURE_LISTS = {"visitor": "fuzz_visitors", "ip": "fuzz_ips", "email": "fuzz_emails"}
LIST_FIELDS = {"visitorId": "visitor", "ip.address": "ip", "event.linkedId": "email"}
# List ids created during the run, with their type (learnt from the answers).
LIST_TYPES = {}
# The rule scripts/api-fuzz creates before the run, for webhook filters to name. Rules created
# during the run may be deleted by a later step, this one never is.
FIXTURE_RULE = os.environ.get("API_FUZZ_RULE_ID")
# The latest `nextCursor` each event listing answered, by listing path.
CURSORS = {}

MAX_DEPTH = 8
MAX_LEAVES = 100
MAX_RANGE = datetime.timedelta(days=30)
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _positive(case):
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode.is_positive


def _digest(value):
    return hashlib.sha256(repr(value).encode("utf-8", "surrogatepass")).digest()


def _parse_time(text):
    if not isinstance(text, str):
        return None
    try:
        t = datetime.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T"))
    except ValueError:
        return None
    if t.tzinfo is None:
        return None
    return t


def _fix_range(query):
    if "from" not in query or "to" not in query:
        return
    start, end = _parse_time(query.get("from")), _parse_time(query.get("to"))
    if start is None or end is None:
        # Valid RFC 3339 that Python's datetime cannot hold (year 0000, a leap second).
        start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        end = start + datetime.timedelta(days=1)
    if start > end:
        start, end = end, start
    if end - start > MAX_RANGE:
        end = start + MAX_RANGE
    query["from"], query["to"] = start.isoformat(), end.isoformat()


class _Tree:
    """Walks a condition tree, bending each leaf into what the server accepts."""

    def __init__(self):
        self.leaves = 0

    def group(self, node, depth):
        if not isinstance(node, dict):
            return
        rules = node.get("rules")
        if not isinstance(rules, list):
            return
        kept = []
        for child in rules:
            if self.leaves >= MAX_LEAVES:
                break
            if isinstance(child, dict) and "rules" in child:
                if depth >= MAX_DEPTH:
                    continue
                self.group(child, depth + 1)
            else:
                self.leaf(child)
                self.leaves += 1
            kept.append(child)
        if not kept:
            kept = [{"field": "visitorFound", "operator": "exists"}]
            self.leaves += 1
        node["rules"] = kept

    def leaf(self, node):
        if not isinstance(node, dict):
            return
        op, value = node.get("operator"), node.get("value")
        if op in ("in", "not_in") and isinstance(value, str):
            node["value"] = FIXTURE_LISTS[LIST_FIELDS.get(node.get("field"), "visitor")]
        elif op == "matches" and isinstance(value, str):
            node["value"] = re.sub(r"[^A-Za-z0-9]", "", value)
        elif op == "between" and isinstance(value, list) and len(value) == 2:
            node["value"] = sorted(value)


def _fix_side_effects(effects):
    if not isinstance(effects, list):
        return
    names = list(FIXTURE_LISTS.values())
    for i, effect in enumerate(effects):
        if isinstance(effect, dict) and "list" in effect:
            effect["list"] = names[i % len(names)]


def _fix_rule_body(body):
    if not isinstance(body, dict):
        return
    _Tree().group(body.get("conditions"), 1)
    action = body.get("action")
    if isinstance(action, dict):
        _fix_side_effects(action.get("sideEffects"))
    _fix_side_effects(body.get("sideEffects"))


def _entry(kind, raw):
    d = _digest(raw)
    if kind == "visitor":
        return "pv_" + "".join(BASE62[b % 62] for b in d[:13])
    if kind == "ip":
        return "198.51.100.%d" % d[0]
    return "user%s@example.com" % d[:4].hex()


def _fix_entries(body, list_id):
    kind = LIST_TYPES.get(list_id)
    if kind is None or not isinstance(body, dict) or not isinstance(body.get("add"), list):
        return
    body["add"] = [_entry(kind, raw) for raw in body["add"]]


def _depth(value):
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _fix_tag(body):
    # At most 16 KiB, nested at most 8 deep (the document says so in words).
    tag = body.get("tag") if isinstance(body, dict) else None
    if isinstance(tag, dict):
        size = len(json.dumps(tag, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if _depth(tag) > 8 or size > 16 * 1024:
            body["tag"] = {}


def _fix_url(body):
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        body["url"] = "https://localhost/hooks/%s" % _digest(body["url"])[:4].hex()


def _fix_origins(body):
    if isinstance(body, dict) and isinstance(body.get("allowedOrigins"), list):
        body["allowedOrigins"] = [
            "https://shop-%s.example" % _digest(o)[:3].hex() for o in body["allowedOrigins"]
        ]


def _fix_filters(body):
    filters = body.get("filters") if isinstance(body, dict) else None
    if not isinstance(filters, dict) or "ruleId" not in filters:
        return
    ids = filters["ruleId"]
    if FIXTURE_RULE is None:
        del filters["ruleId"]
    elif isinstance(ids, list):
        filters["ruleId"] = [FIXTURE_RULE] * len(ids)
    else:
        filters["ruleId"] = FIXTURE_RULE


def _listing(case):
    """The event listing a case reads (with its visitor), or None."""
    path = case.operation.path
    if case.operation.method.lower() != "get":
        return None
    if path == "/v1/events":
        return path
    if path == "/v1/visitors/{visitorId}/events":
        return "/v1/visitors/%s/events" % (case.path_parameters or {}).get("visitorId")
    return None


def _fix_cursor(case):
    listing = _listing(case)
    if listing is None or not isinstance(case.query, dict) or "cursor" not in case.query:
        return
    known = CURSORS.get(listing)
    if known is None:
        del case.query["cursor"]
    else:
        case.query["cursor"] = known


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    path, method = case.operation.path, case.operation.method.lower()
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = "fuzz-" + uuid.uuid4().hex
    if path.startswith("/v1/analytics/") and isinstance(case.query, dict):
        _fix_range(case.query)
    elif path in ("/v1/rules", "/v1/rules/backtest", "/v1/rules/{ruleId}") and method != "get":
        _fix_rule_body(case.body)
    elif path == "/v1/lists/{listId}/entries":
        _fix_entries(case.body, (case.path_parameters or {}).get("listId"))
    elif path in ("/v1/webhooks", "/v1/webhooks/{id}") and method in ("post", "put", "patch"):
        _fix_url(case.body)
        _fix_filters(case.body)
    elif _listing(case) is not None:
        _fix_cursor(case)
    elif path == "/v1/identify" and method == "post":
        _fix_tag(case.body)
    elif path == "/v1/workspace" and method == "patch":
        _fix_origins(case.body)
    return case


@schemathesis.hook
def after_call(context, case, response):
    listing = _listing(case)
    creates_list = case.operation.path == "/v1/lists" and case.operation.method.lower() == "post"
    if response.status_code != 200 or not (creates_list or listing):
        return
    try:
        data = json.loads(response.content)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    if creates_list:
        LIST_TYPES[data.get("id")] = data.get("type")
    elif isinstance(data.get("nextCursor"), str):
        CURSORS[listing] = data["nextCursor"]
