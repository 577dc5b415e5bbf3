"""Event envelopes for stoat's test data (Python 3 stdlib only).

Why this file exists: the rule-pack tests and the demo scenario must carry events in the
exact JSON shape a Windows/Linux event log converter produces ({"Event":{"System":...,
"EventData":...}} with "#attributes"), and both must agree on that shape. Writers hand over
only the fields that matter (Image, CommandLine, ...); this module fills in the envelope and
the fields a real sensor would always write, in the order the sensor writes them.

Nothing here is random: every default derives from the arguments, so the same call gives the
same bytes.
"""

import hashlib
import json

SYSMON_WIN = ("Microsoft-Windows-Sysmon", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
              "Microsoft-Windows-Sysmon/Operational")
SYSMON_LNX = ("Linux-Sysmon", "{ff032593-a8d3-4f13-b0d6-01fc615a0f97}",
              "Linux-Sysmon/Operational")
SECURITY = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}",
            "Security")
EVENTLOG = ("Microsoft-Windows-Eventlog", "{FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148}", "Security")
POWERSHELL = ("Microsoft-Windows-PowerShell", "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}",
              "Microsoft-Windows-PowerShell/Operational")

# Sysmon event id -> (version, task) as the Sysmon manifest declares them.
SYSMON_META = {1: (5, 1), 3: (5, 3), 5: (3, 5), 11: (2, 11), 22: (5, 22)}

# Field order of each Sysmon event, as Sysmon writes it.
SYSMON_FIELDS = {
    1: ["RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "FileVersion",
        "Description", "Product", "Company", "OriginalFileName", "CommandLine",
        "CurrentDirectory", "User", "LogonGuid", "LogonId", "TerminalSessionId",
        "IntegrityLevel", "Hashes", "ParentProcessGuid", "ParentProcessId", "ParentImage",
        "ParentCommandLine", "ParentUser"],
    3: ["RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "User", "Protocol",
        "Initiated", "SourceIsIpv6", "SourceIp", "SourceHostname", "SourcePort",
        "SourcePortName", "DestinationIsIpv6", "DestinationIp", "DestinationHostname",
        "DestinationPort", "DestinationPortName"],
    5: ["RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "User"],
    11: ["RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "TargetFilename",
         "CreationUtcTime", "User"],
    22: ["RuleName", "UtcTime", "ProcessGuid", "ProcessId", "QueryName", "QueryStatus",
         "QueryResults", "Image", "User"],
}

# Security-Auditing event id -> (version, task, field order).
SECURITY_META = {
    4624: (2, 12544, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "TargetUserSid", "TargetUserName",
                      "TargetDomainName", "TargetLogonId", "LogonType", "LogonProcessName",
                      "AuthenticationPackageName", "WorkstationName", "LogonGuid",
                      "TransmittedServices", "LmPackageName", "KeyLength", "ProcessId",
                      "ProcessName", "IpAddress", "IpPort", "ImpersonationLevel",
                      "RestrictedAdminMode", "TargetOutboundUserName",
                      "TargetOutboundDomainName", "VirtualAccount", "TargetLinkedLogonId",
                      "ElevatedToken"]),
    4625: (0, 12544, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "TargetUserSid", "TargetUserName",
                      "TargetDomainName", "Status", "FailureReason", "SubStatus",
                      "LogonType", "LogonProcessName", "AuthenticationPackageName",
                      "WorkstationName", "TransmittedServices", "LmPackageName",
                      "KeyLength", "ProcessId", "ProcessName", "IpAddress", "IpPort"]),
    4634: (0, 12545, ["TargetUserSid", "TargetUserName", "TargetDomainName",
                      "TargetLogonId", "LogonType"]),
    4663: (1, 12800, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "ObjectServer", "ObjectType", "ObjectName",
                      "HandleId", "AccessList", "AccessMask", "ProcessId", "ProcessName",
                      "ResourceAttributes"]),
    4672: (0, 12548, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "PrivilegeList"]),
    4688: (2, 13312, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "NewProcessId", "NewProcessName",
                      "TokenElevationType", "ProcessId", "CommandLine", "TargetUserSid",
                      "TargetUserName", "TargetDomainName", "TargetLogonId",
                      "ParentProcessName", "MandatoryLabel"]),
    4698: (1, 12804, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "TaskName", "TaskContent", "ClientProcessStartKey",
                      "ClientProcessId", "ParentProcessId", "RpcCallClientLocality",
                      "FQDN"]),
    5140: (1, 12808, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "ObjectType", "IpAddress", "IpPort", "ShareName",
                      "ShareLocalPath", "AccessMask", "AccessList"]),
    5145: (0, 12811, ["SubjectUserSid", "SubjectUserName", "SubjectDomainName",
                      "SubjectLogonId", "ObjectType", "IpAddress", "IpPort", "ShareName",
                      "ShareLocalPath", "RelativeTargetName", "AccessMask", "AccessList",
                      "AccessReason"]),
}


def _hex(seed, n):
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def guid(seed, upper=True, braces=True):
    """A Sysmon-style GUID derived from seed."""
    h = _hex(seed, 32)
    g = "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32])
    g = g.upper() if upper else g.lower()
    return "{%s}" % g if braces else g


def utc_fields(ts):
    """ts is 'YYYY-MM-DDTHH:MM:SS.ffffff' (UTC). Returns (SystemTime, UtcTime)."""
    return ts + "Z", ts.replace("T", " ")[:23]


def _system(provider, eid, version, level, task, opcode, keywords, ts, rec, pid, tid,
            computer, userid):
    name, pguid, channel = provider
    system = {
        "Provider": {"#attributes": {"Name": name, "Guid": pguid}},
        "EventID": eid, "Version": version, "Level": level, "Task": task,
        "Opcode": opcode, "Keywords": keywords,
        "TimeCreated": {"#attributes": {"SystemTime": ts + "Z"}},
        "EventRecordID": rec,
        "Execution": {"#attributes": {"ProcessID": pid, "ThreadID": tid}},
        "Channel": channel, "Computer": computer,
    }
    if userid is not None:
        system["Security"] = {"#attributes": {"UserID": userid}}
    else:
        system["Security"] = None
    return system


def _ordered(fields, order):
    out = {}
    for k in order:
        if k in fields:
            out[k] = fields[k]
    for k, v in fields.items():
        if k not in out:
            out[k] = v
    return out


def sysmon(eid, fields, ts, rec, computer, linux=False, sensor_pid=None):
    """A Sysmon (Windows or Linux) event. fields: EventData without RuleName/UtcTime."""
    version, task = SYSMON_META[eid]
    _, utc = utc_fields(ts)
    data = {"RuleName": "-", "UtcTime": utc}
    data.update(fields)
    if linux:
        provider = SYSMON_LNX
        system = _system(provider, eid, version, 4, task, 0, "0x8000000000000000", ts, rec,
                         sensor_pid or 1187, sensor_pid or 1187, computer, "0")
    else:
        provider = SYSMON_WIN
        system = _system(provider, eid, version, 4, task, 0, "0x8000000000000000", ts, rec,
                         sensor_pid or 3544, 4272, computer, "S-1-5-18")
    return {"Event": {"System": system, "EventData": _ordered(data, SYSMON_FIELDS[eid])}}


def security(eid, fields, ts, rec, computer, failure=False):
    version, task, order = SECURITY_META[eid]
    kw = "0x8010000000000000" if failure else "0x8020000000000000"
    system = _system(SECURITY, eid, version, 0, task, 0, kw, ts, rec, 644, 700 + rec % 97,
                     computer, None)
    return {"Event": {"System": system, "EventData": _ordered(dict(fields), order)}}


def log_cleared(fields, ts, rec, computer):
    """Security 1102 (the audit log was cleared): UserData, not EventData."""
    system = _system(EVENTLOG, 1102, 0, 4, 104, 0, "0x4020000000000000", ts, rec, 1304,
                     5212, computer, None)
    ud = {"LogFileCleared": _ordered(dict(fields), ["SubjectUserSid", "SubjectUserName",
                                                     "SubjectDomainName", "SubjectLogonId"])}
    return {"Event": {"System": system, "UserData": ud}}


def scriptblock(text, ts, rec, computer, usersid, path="", sbid=None, number=1, total=1,
                level=5):
    sbid = sbid or guid("sb:" + text, upper=False, braces=False)
    system = _system(POWERSHELL, 4104, 1, level, 2, 15, "0x0", ts, rec, 6120, 7044,
                     computer, usersid)
    data = {"MessageNumber": number, "MessageTotal": total, "ScriptBlockText": text,
            "ScriptBlockId": sbid, "Path": path}
    return {"Event": {"System": system, "EventData": data}}


def dumps(ev):
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
