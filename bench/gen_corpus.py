#!/usr/bin/env python3
"""Writes a large JSON-lines event corpus for `make bench`.

Events are replayed from templates with varied hosts, times, record numbers,
process ids, users and file names, so no two lines are the same:
  - benign templates: stoat's own day of administration noise
    (tests/scenario/benign), plus the SigmaHQ regression events with their
    tell-tale values swapped for ordinary ones;
  - attack templates: the SigmaHQ regression events as they are (from
    ../shared/data when present) and the demo intrusion.
--attack-share sets the fraction of attack events (default 0.02: real logs are
mostly benign; --attack-share 1 gives the worst case, every event an attack).

usage: gen_corpus.py OUT.jsonl SIZE_MB [--attack-share F] [--seed N]
"""
import argparse
import copy
import glob
import gzip
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "sigma", "regression_data")

BENIGN_IMAGES = [
    r"C:\Windows\System32\svchost.exe", r"C:\Windows\explorer.exe", r"C:\Windows\System32\RuntimeBroker.exe",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe", r"C:\Windows\System32\conhost.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", r"C:\Windows\System32\SearchIndexer.exe",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe", r"C:\Windows\System32\taskhostw.exe",
]
BENIGN_CMDS = [
    '"{img}" -k netsvcs -p -s Schedule', '"{img}" --type=renderer --lang=en-US --field-trial-handle={n}',
    '"{img}" /n "C:\\Users\\{user}\\Documents\\report-{n}.docx"', "{img} -Embedding",
    '"{img}" --single-argument https://intranet.corp.example/page{n}', "{img} /c echo build {n}",
]
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "m.okafor", "svc_backup"]


def load_events(path):
    """JSON lines or concatenated pretty-printed objects."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    dec = json.JSONDecoder()
    i, n, out = 0, len(text), []
    while i < n:
        while i < n and text[i] in " \t\r\n,[]":
            i += 1
        if i >= n:
            break
        try:
            obj, i = dec.raw_decode(text, i)
        except ValueError:
            break
        if isinstance(obj, dict):
            out.append(obj)
    return out


def benignify(ev, rnd):
    ev = copy.deepcopy(ev)
    data = ev.get("Event", {}).get("EventData")
    if not isinstance(data, dict):
        return ev
    n = rnd.randint(1, 999999)
    img = rnd.choice(BENIGN_IMAGES)
    user = rnd.choice(USERS)
    for k in list(data):
        if k in ("Image", "ParentImage", "SourceImage", "TargetImage"):
            data[k] = rnd.choice(BENIGN_IMAGES)
        elif k in ("CommandLine", "ParentCommandLine"):
            data[k] = rnd.choice(BENIGN_CMDS).format(img=img, n=n, user=user)
        elif k in ("TargetFilename", "ImageLoaded"):
            data[k] = "C:\\Users\\%s\\AppData\\Local\\Temp\\tmp%d.tmp" % (user, n)
        elif k == "TargetObject":
            data[k] = "HKU\\S-1-5-21-1004\\Software\\Microsoft\\Office\\16.0\\Common\\Recent\\Item%d" % n
        elif k == "Details":
            data[k] = "DWORD (0x%08x)" % n
        elif k == "ScriptBlockText":
            data[k] = "Get-ChildItem -Path C:\\Users\\%s\\Documents -Filter *.docx | Select-Object -First %d" % (user, n)
        elif k in ("OriginalFileName", "Description", "Product", "Company"):
            data[k] = img.split("\\")[-1]
        elif k == "QueryName":
            data[k] = "host%d.corp.chipfab.example" % (n % 5000)
        elif k == "DestinationIp":
            data[k] = "10.%d.%d.%d" % (n % 200, n % 250, n % 254 + 1)
        elif k == "PipeName":
            data[k] = "\\mojo.%d.%d" % (n, n * 7 % 100000)
        elif k == "Hashes":
            data[k] = "SHA256=%064X" % rnd.getrandbits(256)
    return ev


def vary(ev, rnd, seq, t0):
    """Host, time, record number, process ids: the parts every log varies."""
    system = ev.get("Event", {}).get("System")
    host = "ws%04d.corp.chipfab.example" % rnd.randint(1, 2000)
    ts = t0 + seq * 0.004
    stamp = "%s.%06dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)), int((ts % 1) * 1e6))
    if isinstance(system, dict):
        system["Computer"] = host
        system["EventRecordID"] = seq
        tc = system.get("TimeCreated")
        if isinstance(tc, dict) and isinstance(tc.get("#attributes"), dict):
            tc["#attributes"]["SystemTime"] = stamp
    data = ev.get("Event", {}).get("EventData")
    if isinstance(data, dict):
        for k in ("ProcessId", "ParentProcessId"):
            if k in data:
                data[k] = rnd.randint(100, 65000)
        if "UtcTime" in data:
            data["UtcTime"] = stamp.replace("T", " ")[:23]
        if "User" in data and isinstance(data["User"], str) and "\\" in data["User"]:
            data["User"] = "CORP\\" + rnd.choice(USERS)
    if "Computer" in ev:
        ev["Computer"] = host
    return ev


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("size_mb", type=int)
    ap.add_argument("--attack-share", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)

    attack, benign = [], []
    for f in sorted(glob.glob(os.path.join(SHARED, "**", "*.json"), recursive=True)):
        evs = load_events(f)
        attack += evs
        benign += [benignify(e, rnd) for e in evs]
    # the scenario logs are stored gzip-compressed
    for f in sorted(glob.glob(os.path.join(ROOT, "tests", "scenario", "benign", "*.jsonl*"))):
        benign += load_events(f)
    if not attack:
        attack = [e for f in sorted(glob.glob(os.path.join(ROOT, "demo", "*.jsonl*")))
                  for e in load_events(f)]
    if not benign:
        sys.exit("gen_corpus: no templates found")
    target = a.size_mb * 1000 * 1000
    written, seq = 0, 0
    t0 = 1795000000.0
    with open(a.out, "w", encoding="utf-8") as out:
        while written < target:
            pool = attack if rnd.random() < a.attack_share else benign
            ev = vary(copy.deepcopy(rnd.choice(pool)), rnd, seq, t0)
            line = json.dumps(ev, separators=(",", ":"), ensure_ascii=False)
            out.write(line + "\n")
            written += len(line.encode("utf-8")) + 1
            seq += 1
    print("%s: %d events, %.1f MB, attack share %.3f" % (a.out, seq, written / 1e6, a.attack_share))


if __name__ == "__main__":
    main()
