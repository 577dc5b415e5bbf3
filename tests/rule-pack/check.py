#!/usr/bin/env python3
"""Structure check of stoat's own rule pack (rules/) and its tests (tests/rule-pack/).

Why: the engine's own test runs every rule over its match.jsonl / nomatch.jsonl; that test is
only as good as the data. This checker keeps the data honest without the engine: every rule
has a test folder and every folder a rule, ids are unique UUIDv4, the required keys are there,
tags are well formed, only standard modifiers are used, regular expressions stay inside the
flavour the Sigma specification allows, and every JSON line parses into the event shape.

With --eval it also runs a small reference matcher (plain Python, written for this pack, not
the engine) over the folders and reports rules whose match.jsonl does not match or whose
nomatch.jsonl does; the engine's test is the one that counts, this is a second opinion.

Usage: python3 tests/rule-pack/check.py [--eval] [--root DIR]
Exit status 0 when everything holds, 1 otherwise. Stdlib + PyYAML.
"""

import argparse
import base64
import ipaddress
import json
import os
import re
import sys
import uuid

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.stderr.write("check.py needs PyYAML (apt-get install python3-yaml)\n")
    sys.exit(2)

class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (YAML forbids them, PyYAML keeps the last)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if isinstance(key, bool):  # off/on/yes/no: YAML 1.1 booleans to PyYAML (and pySigma)
            raise yaml.constructor.ConstructorError(None, None, "key %r reads as a boolean in YAML 1.1: rename it"
                                                    % (k.value,), k.start_mark)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), k.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

REQUIRED = ["title", "id", "status", "description", "references", "author", "date", "tags",
            "logsource", "detection", "falsepositives", "level"]
REQUIRED_CORR = ["title", "id", "status", "description", "references", "author", "date",
                 "tags", "correlation", "falsepositives", "level"]
STATUSES = {"experimental", "test"}
LEVELS = {"informational", "low", "medium", "high", "critical"}
TACTICS = {"reconnaissance", "resource-development", "initial-access", "execution",
           "persistence", "privilege-escalation", "defense-evasion", "stealth",
           "credential-access", "discovery", "lateral-movement", "collection",
           "command-and-control", "exfiltration", "impact"}
TAG_RE = re.compile(r"^attack\.(t[0-9]{4}(\.[0-9]{3})?|[gs][0-9]{4}|[a-z-]+)$")
MODIFIERS = {"contains", "startswith", "endswith", "all", "windash", "re", "i", "m", "s",
             "cidr", "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide",
             "exists", "cased", "neq", "lt", "lte", "gt", "gte", "expand", "fieldref"}
# Regex metacharacters allowed by the Sigma modifiers appendix, escapes of them, and the
# shorthand classes every regex flavour a backend targets knows (SigmaHQ's rules use them).
RE_ESCAPABLE = set(".*+?()[]{}|^$\\/-dDsSwWbBtnr")
PACK_START = "2026-11-26"  # the pack's first rules

# logsource -> predicate over (System, flat fields); None for a logsource this reference
# does not route (the engine's mapping knows more: those rules are counted as not evaluated)
def _route(ls):
    product, cat, svc = ls.get("product"), ls.get("category"), ls.get("service")
    if product == "linux":
        if cat == "stdio_socket":  # stoat's sensor only
            return lambda s, f: s.get("Channel") == "stoat-sensor" and s.get("EventID") == 1002
        eids = {"process_creation": 1, "network_connection": 3, "file_event": 11,
                "process_termination": 5}
        linux = ("Linux-Sysmon/Operational", "stoat-sensor")
        if cat is None and svc is None:  # the product alone: every Linux event
            return lambda s, f: s.get("Channel") in linux
        eid = eids.get(cat)
        if eid is None:
            return None
        return lambda s, f: s.get("Channel") in linux and s.get("EventID") == eid
    if product == "windows":
        if cat == "ps_script":
            return lambda s, f: s.get("Channel") == "Microsoft-Windows-PowerShell/Operational" and s.get("EventID") == 4104
        if svc == "security":
            return lambda s, f: s.get("Channel") == "Security"
        eids = {"process_creation": 1, "network_connection": 3, "file_event": 11,
                "dns_query": 22, "process_termination": 5}
        eid = eids.get(cat)
        if eid is None:
            return None
        sysmon = lambda s, f: s.get("Channel") == "Microsoft-Windows-Sysmon/Operational" and s.get("EventID") == eid
        if cat == "process_creation":  # Security 4688 read as process_creation (see flatten)
            return lambda s, f: sysmon(s, f) or (s.get("Channel") == "Security" and s.get("EventID") == 4688)
        return sysmon
    return None


def _flat_time(ev):
    """The flat shape's time as the Event/System one spells it (None when it has none)."""
    t = ev.get("UtcTime")
    if isinstance(t, str) and len(t) >= 19:
        return t[:10] + "T" + t[11:] + "Z"
    return None


def flatten(ev):
    if "Event" not in ev:  # the flat shape (stoat's sensor, Winlogbeat-like): fields on top
        s = {"Channel": ev.get("Channel"), "Computer": ev.get("Computer"),
             "TimeCreated": {"#attributes": {"SystemTime": _flat_time(ev)}}}
        try:
            s["EventID"] = int(ev.get("EventID"))
        except (TypeError, ValueError):
            s["EventID"] = None
        f = dict(ev)
        f["EventID"] = s["EventID"]
        return s, f
    e = ev.get("Event", {})
    s = e.get("System", {})
    f = {"EventID": s.get("EventID"), "Channel": s.get("Channel"),
         "Computer": s.get("Computer"),
         "Provider_Name": (s.get("Provider") or {}).get("#attributes", {}).get("Name")}
    for k, v in (e.get("EventData") or {}).items():
        f[k] = v
    for blk in (e.get("UserData") or {}).values():
        if isinstance(blk, dict):
            f.update(blk)
    if s.get("Channel") == "Security" and s.get("EventID") == 4688:
        # the process_creation names of a 4688 (the engine's mapping has the whole list)
        for rule_name, field in (("Image", "NewProcessName"), ("ParentImage", "ParentProcessName")):
            if field in f and rule_name not in f:
                f[rule_name] = f[field]
    return s, f


# ---------- reference matcher -------------------------------------------------------------

DASHES = "-/\u2013\u2014\u2015"


def _wild_to_re(value, windash=False):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        if windash and c in DASHES:
            out.append("[" + re.escape(DASHES) + "]")
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _b64offsets(v):
    b = v.encode()
    res = []
    for i in range(3):
        enc = base64.b64encode(b" " * i + b).decode()
        cut = [None, 3, 2][(len(b) + i) % 3]
        res.append(enc[[0, 2, 3][i]:(-cut if cut else None)])
    return res


class Pred:
    def __init__(self, field, mods, values):
        self.field, self.mods = field, mods
        self.all = "all" in mods
        self.values = values if isinstance(values, list) else [values]
        self.tests = [self._compile(v) for v in self.values]

    def _compile(self, v):
        m = self.mods
        if "exists" in m:
            return ("exists", bool(v))
        if "fieldref" in m:
            return ("ref", str(v))
        if v is None:
            return ("null", None)
        if "cidr" in m:
            return ("cidr", ipaddress.ip_network(str(v), strict=False))
        if any(x in m for x in ("lt", "lte", "gt", "gte")):
            return ("num", (m, float(v)))
        if "re" in m:
            flags = 0
            if "i" in m: flags |= re.I
            if "m" in m: flags |= re.M
            if "s" in m: flags |= re.S
            return ("re", re.compile(str(v), flags))
        v = str(v) if not isinstance(v, bool) else ("true" if v else "false")
        variants = [v]
        if "base64offset" in m:
            variants = _b64offsets(v)
        elif "base64" in m:
            variants = [base64.b64encode(v.encode()).decode()]
        pats = []
        for var in variants:
            p = _wild_to_re(var, "windash" in m)
            if "contains" in m or "base64offset" in m:
                p = ".*" + p + ".*"
            elif "startswith" in m:
                p = p + ".*"
            elif "endswith" in m:
                p = ".*" + p
            pats.append(p)
        flags = re.S | (0 if "cased" in m else re.I)
        return ("str", re.compile("^(?:" + "|".join(pats) + ")$", flags))

    def _one(self, t, present, val, f):
        kind, x = t
        if kind == "exists":
            return present == x
        if kind == "ref":  # equal to the named field's value, ignoring case
            r = present and val is not None and x in f and str(val).lower() == str(f[x]).lower()
            return (not r) if "neq" in self.mods else r
        if kind == "null":
            return (not present) or val in ("", None)
        if not present or val is None:
            return False
        if isinstance(val, bool):
            sval = "true" if val else "false"
        else:
            sval = str(val)
        if kind == "cidr":
            try:
                return ipaddress.ip_address(sval) in x
            except ValueError:
                return False
        if kind == "num":
            ops, n = x
            try:
                fv = float(sval)
            except ValueError:
                return False
            return ((("lt" in ops) and fv < n) or (("lte" in ops) and fv <= n) or
                    (("gt" in ops) and fv > n) or (("gte" in ops) and fv >= n))
        if kind == "re":
            return x.search(sval) is not None
        r = x.match(sval) is not None
        return (not r) if "neq" in self.mods else r

    def eval(self, f):
        present = self.field in f
        val = f.get(self.field)
        res = [self._one(t, present, val, f) for t in self.tests]
        return all(res) if self.all else any(res)


class Keywords:
    def __init__(self, values):
        self.pats = [re.compile("^.*" + _wild_to_re(str(v)) + ".*$", re.I | re.S) for v in values]

    def eval(self, f):
        vals = [str(v) for v in f.values() if v is not None]
        return any(p.match(v) for p in self.pats for v in vals)


def _compile_ident(body):
    if isinstance(body, dict):
        preds = []
        for k, v in body.items():
            parts = k.split("|")
            preds.append(Pred(parts[0], parts[1:], v))
        return ("and", preds)
    if isinstance(body, list) and body and all(isinstance(x, dict) for x in body):
        return ("or", [_compile_ident(x) for x in body])
    return ("kw", Keywords(body if isinstance(body, list) else [body]))


def _eval_ident(c, f):
    kind, x = c
    if kind == "and":
        return all(p.eval(f) for p in x)
    if kind == "or":
        return any(_eval_ident(y, f) for y in x)
    return x.eval(f)


TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_*]+)")


def _parse_cond(text, idents):
    toks = TOKEN.findall(text)
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take():
        t = peek()
        pos[0] += 1
        return t

    def names(pat):
        if pat == "them":
            return [n for n in idents if not n.startswith("_")]
        rx = re.compile("^" + pat.replace("*", ".*") + "$")
        return [n for n in idents if rx.match(n)]

    def atom():
        t = take()
        if t == "(":
            e = expr()
            if take() != ")":
                raise ValueError("missing )")
            return e
        if t == "not":
            a = atom()
            return lambda f: not a(f)
        if t in ("1", "all") and peek() == "of":
            take()
            ns = names(take())
            if not ns:
                raise ValueError("'of' pattern matches nothing")
            if t == "1":
                return lambda f: any(_eval_ident(idents[n], f) for n in ns)
            return lambda f: all(_eval_ident(idents[n], f) for n in ns)
        if t not in idents:
            raise ValueError("unknown identifier %r" % t)
        return lambda f, c=idents[t]: _eval_ident(c, f)

    def conj():
        a = atom()
        while peek() == "and":
            take()
            b = atom()
            a = (lambda x, y: lambda f: x(f) and y(f))(a, b)
        return a

    def expr():
        a = conj()
        while peek() == "or":
            take()
            b = conj()
            a = (lambda x, y: lambda f: x(f) or y(f))(a, b)
        return a

    e = expr()
    if peek() is not None:
        raise ValueError("trailing tokens in condition: %r" % toks[pos[0]:])
    return e


class Rule:
    def __init__(self, doc):
        self.doc = doc
        self.route = _route(doc["logsource"])
        det = dict(doc["detection"])
        cond = det.pop("condition")
        det.pop("timeframe", None)
        idents = {k: _compile_ident(v) for k, v in det.items()}
        conds = cond if isinstance(cond, list) else [cond]
        self.conds = [_parse_cond(c, idents) for c in conds]

    def match(self, ev):
        s, f = flatten(ev)
        if self.route is None or not self.route(s, f):
            return False
        return any(c(f) for c in self.conds)


def eval_correlation(corr, docs_by_ref, events):
    """Tiny reference for event_count / value_count / temporal (ordered or not) over a list of events."""
    rules = [docs_by_ref[r] for r in corr["rules"]]
    hits = []
    for ev in events:
        s, f = flatten(ev)
        for i, r in enumerate(rules):
            if r.match(ev):
                ts = s["TimeCreated"]["#attributes"]["SystemTime"]
                hits.append((ts, i, f))
    groups = {}
    for ts, i, f in hits:
        key = tuple(str(f.get(g)) for g in corr.get("group-by", []))
        groups.setdefault(key, []).append((ts, i, f))
    span = corr["timespan"]
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[span[-1]]
    secs = int(span[:-1]) * unit
    from datetime import datetime

    def t(x):
        return datetime.strptime(x[:19], "%Y-%m-%dT%H:%M:%S").timestamp()

    cond = corr.get("condition", {})
    for key, lst in groups.items():
        lst.sort(key=lambda x: x[0])
        for a in range(len(lst)):
            window = [x for x in lst[a:] if t(x[0]) - t(lst[a][0]) <= secs]
            typ = corr["type"]
            if typ == "event_count":
                n = len(window)
            elif typ == "value_count":
                n = len({str(x[2].get(cond["field"])) for x in window})
            elif typ == "temporal_ordered":
                # the rules in their order within the window: the longest run of them
                # found as a subsequence, from the first rule on
                n = 0
                for x in window:
                    if n < len(rules) and x[1] == n:
                        n += 1
                if "gte" not in cond:
                    cond = {"gte": len(rules)}
            else:
                n = len({x[1] for x in window})
                if "gte" not in cond:
                    cond = {"gte": len(rules)}
            ok = all({"gte": n >= v, "gt": n > v, "lte": n <= v, "lt": n < v,
                      "eq": n == v}.get(op, True) for op, v in cond.items() if op != "field")
            if ok:
                return True
    return False


# ---------- structure checks --------------------------------------------------------------

def lint_detection(det, errs, where):
    if "condition" not in det:
        errs.append("%s: detection has no condition" % where)
    for name, body in det.items():
        if name in ("condition", "timeframe"):
            continue
        maps = body if isinstance(body, list) else [body]
        for m in maps:
            if not isinstance(m, dict):
                continue
            for key, val in m.items():
                parts = key.split("|")
                for mod in parts[1:]:
                    if mod not in MODIFIERS:
                        errs.append("%s: %s: unknown modifier %r" % (where, name, mod))
                if "all" in parts[1:] and not (isinstance(val, list) and len(val) > 1):
                    errs.append("%s: %s: |all needs a list of two or more" % (where, name))
                if "re" in parts[1:]:
                    for v in (val if isinstance(val, list) else [val]):
                        s = str(v)
                        for i, ch in enumerate(s):
                            if ch == "\\" and (i + 1 >= len(s) or s[i + 1] not in RE_ESCAPABLE):
                                if i > 0 and s[i - 1] == "\\":
                                    continue
                                errs.append("%s: %s: regex escape outside the Sigma flavour in %r" % (where, name, s))
                                break
                        if "(?" in s:
                            errs.append("%s: %s: regex group syntax outside the Sigma flavour in %r" % (where, name, s))
                        try:
                            re.compile(s)
                        except re.error as e:
                            errs.append("%s: %s: bad regex %r: %s" % (where, name, s, e))


def check_common(doc, path, errs, ids, required):
    for k in required:
        if k not in doc:
            errs.append("%s: missing %s" % (path, k))
    rid = str(doc.get("id", ""))
    try:
        u = uuid.UUID(rid)
        if u.version != 4 or str(u) != rid:
            errs.append("%s: id %s is not a lower-case UUIDv4" % (path, rid))
    except ValueError:
        errs.append("%s: id %r is not a UUID" % (path, rid))
    if rid in ids:
        errs.append("%s: duplicate id %s (also %s)" % (path, rid, ids[rid]))
    ids[rid] = path
    if doc.get("status") not in STATUSES:
        errs.append("%s: status must be experimental or test" % path)
    if doc.get("level") not in LEVELS:
        errs.append("%s: bad level %r" % (path, doc.get("level")))
    if doc.get("author") != "stoat project":
        errs.append("%s: author must be 'stoat project'" % path)
    for key in ("date", "modified"):
        if key not in doc and key == "modified":
            continue
        d = str(doc.get(key))
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) or d < PACK_START:
            errs.append("%s: %s must be YYYY-MM-DD, not before %s" % (path, key, PACK_START))
    if "modified" in doc and str(doc["modified"]) < str(doc.get("date")):
        errs.append("%s: modified before date" % path)
    refs = doc.get("references") or []
    if not refs or not all(isinstance(r, str) and r.startswith("https://") for r in refs):
        errs.append("%s: references must be a non-empty list of https URLs" % path)
    tags = doc.get("tags") or []
    if not any(t.startswith("attack.t") for t in tags) or not any(t[7:] in TACTICS for t in tags if t.startswith("attack.")):
        errs.append("%s: tags need an ATT&CK tactic and technique" % path)
    for t in tags:
        if not TAG_RE.match(t) or (t.startswith("attack.") and not re.match(r"^attack\.(t|g|s)[0-9]", t) and t[7:] not in TACTICS):
            errs.append("%s: malformed tag %r" % (path, t))
    fps = doc.get("falsepositives")
    if not fps or not isinstance(fps, list):
        errs.append("%s: falsepositives must be a non-empty list" % path)
    if len(str(doc.get("title", ""))) > 256:
        errs.append("%s: title too long" % path)


def load_jsonl(path, errs):
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    ev = json.loads(line)
                except ValueError as e:
                    errs.append("%s:%d: bad JSON: %s" % (path, n, e))
                    continue
                if not isinstance(ev, dict):
                    errs.append("%s:%d: not a JSON object" % (path, n))
                    continue
                sysd = ev.get("Event", {}).get("System") if "Event" in ev else flatten(ev)[0]
                if not isinstance(sysd, dict) or sysd.get("EventID") is None or not sysd.get("Channel"):
                    errs.append("%s:%d: neither Event/System nor flat with Channel and EventID" % (path, n))
                    continue
                try:
                    if not sysd["TimeCreated"]["#attributes"]["SystemTime"]:
                        raise KeyError
                except (KeyError, TypeError):
                    errs.append("%s:%d: no time (TimeCreated SystemTime, or UtcTime when flat)" % (path, n))
                out.append(ev)
    except OSError as e:
        errs.append("%s: %s" % (path, e))
    if not out:
        errs.append("%s: no events" % path)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    ap.add_argument("--eval", action="store_true", help="also run the reference matcher")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    rules_dir = os.path.join(a.root, "rules")
    tests_dir = os.path.join(a.root, "tests", "rule-pack")
    errs, ids, stems, docs, refs = [], {}, {}, {}, {}
    for dp, _, fns in os.walk(rules_dir):
        for fn in sorted(fns):
            if not fn.endswith(".yml"):
                continue
            p = os.path.join(dp, fn)
            rel = os.path.relpath(p, a.root)
            stem = fn[:-4]
            if stem in stems:
                errs.append("%s: stem also used by %s" % (rel, stems[stem]))
            stems[stem] = rel
            try:
                with open(p, encoding="utf-8") as fh:
                    doc = yaml.load(fh, Loader=_UniqueKeyLoader)
            except yaml.YAMLError as e:
                errs.append("%s: YAML: %s" % (rel, e))
                continue
            if not isinstance(doc, dict):
                errs.append("%s: not a mapping" % rel)
                continue
            parts = os.path.relpath(p, rules_dir).split(os.sep)
            if len(parts) != 3 or parts[0] not in ("windows", "linux"):
                errs.append("%s: must be rules/<windows|linux>/<category>/<stem>.yml" % rel)
            if "correlation" in doc:
                check_common(doc, rel, errs, ids, REQUIRED_CORR)
            else:
                check_common(doc, rel, errs, ids, REQUIRED)
                ls = doc.get("logsource", {})
                if ls.get("product") != parts[0]:
                    errs.append("%s: logsource.product %r does not fit folder" % (rel, ls.get("product")))
                lint_detection(doc.get("detection", {}), errs, rel)
                try:
                    r = Rule(doc)
                    refs[str(doc.get("id"))] = r
                    if doc.get("name"):
                        refs[doc["name"]] = r
                except Exception as e:  # noqa: BLE001 - report and go on
                    errs.append("%s: cannot compile: %s" % (rel, e))
            docs[stem] = doc
    tstems = {d for d in os.listdir(tests_dir) if os.path.isdir(os.path.join(tests_dir, d))} if os.path.isdir(tests_dir) else set()
    for s in sorted(set(stems) - tstems):
        errs.append("%s: no test folder tests/rule-pack/%s/" % (stems[s], s))
    for s in sorted(tstems - set(stems)):
        errs.append("tests/rule-pack/%s/: no rule with that stem" % s)
    failed_eval = unrouted = 0
    for s in sorted(set(stems) & tstems):
        m = load_jsonl(os.path.join(tests_dir, s, "match.jsonl"), errs)
        n = load_jsonl(os.path.join(tests_dir, s, "nomatch.jsonl"), errs)
        if not a.eval or s not in docs:
            continue
        doc = docs[s]
        if "correlation" in doc:
            c = doc["correlation"]
            missing = [r for r in c.get("rules", []) if r not in refs]
            if missing:
                errs.append("%s: correlation refers to unknown rules %s" % (stems[s], missing))
                continue
            if any(refs[r].route is None for r in c.get("rules", [])):
                unrouted += 1
                continue
            if not eval_correlation(c, refs, m):
                errs.append("%s: [eval] correlation does not fire on match.jsonl" % stems[s])
                failed_eval += 1
            if eval_correlation(c, refs, n):
                errs.append("%s: [eval] correlation fires on nomatch.jsonl" % stems[s])
                failed_eval += 1
            continue
        r = refs.get(str(doc.get("id")))
        if r is None:
            continue
        if r.route is None:
            unrouted += 1
            if a.v:
                print("%s: not evaluated (logsource %r)" % (stems[s], doc.get("logsource")))
            continue
        for i, ev in enumerate(m, 1):
            if not r.match(ev):
                errs.append("%s: [eval] match.jsonl line %d does not match" % (stems[s], i))
                failed_eval += 1
        for i, ev in enumerate(n, 1):
            if r.match(ev):
                errs.append("%s: [eval] nomatch.jsonl line %d matches" % (stems[s], i))
                failed_eval += 1
    for e in errs:
        print(e)
    print("%d rules, %d test folders, %d problems%s" % (
        len(stems), len(tstems), len(errs),
        (", %d eval failures, %d rules not evaluated (logsource not routed here)" % (failed_eval, unrouted))
        if a.eval else ""))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
