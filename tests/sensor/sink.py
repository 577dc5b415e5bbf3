#!/usr/bin/env python3
"""Loopback-only HTTP sink for the sensor tests: accepts ONE connection on
127.0.0.1:PORT, reads the request (headers + Content-Length body), answers
200, reads to EOF, writes the number of bytes it received to COUNTFILE, exits. Bounded in
time (10 s) so a broken test cannot leave it behind."""
import socket, sys

port, countfile, readyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(10)
open(readyfile, "w").write("ready\n")
conn, _ = srv.accept()
conn.settimeout(10)
total = 0
data = b""
while b"\r\n\r\n" not in data:
    chunk = conn.recv(65536)
    if not chunk:
        break
    total += len(chunk)
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
length = 0
for line in head.split(b"\r\n"):
    if line.lower().startswith(b"content-length:"):
        length = int(line.split(b":", 1)[1])
got = len(body)
while got < length:
    chunk = conn.recv(65536)
    if not chunk:
        break
    total += len(chunk)
    got += len(chunk)
conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
# the client closes after the answer: count anything else it sent, to EOF
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    total += len(chunk)
conn.close()
srv.close()
open(countfile, "w").write("%d\n" % total)
