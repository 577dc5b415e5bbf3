#!/usr/bin/env python3
"""Loopback-only listener playing the attacker's side of a reverse shell in
the sensor tests: accepts ONE connection on 127.0.0.1:PORT, sends a few
commands, collects what comes back into OUTFILE, exits. Bounded (10 s)."""
import socket, sys, time

port, outfile, readyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(10)
open(readyfile, "w").write("ready\n")
conn, _ = srv.accept()
conn.settimeout(10)
time.sleep(0.3)
conn.sendall(b"echo REVSHELL_$((6*7)); /bin/sleep 0.3; exit\n")
got = b""
deadline = time.time() + 10
while time.time() < deadline:
    try:
        chunk = conn.recv(4096)
    except socket.timeout:
        break
    if not chunk:
        break
    got += chunk
conn.close()
srv.close()
open(outfile, "wb").write(got)
