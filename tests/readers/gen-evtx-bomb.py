#!/usr/bin/env python3
"""Writes a crafted EVTX file whose "work bomb" records cost far more to
expand than their size (issue 14, item 4), between ordinary records.

Why it is built here and not kept as a blob: the bytes are easy to state.
One template T is FANOUT elements <A>%0</A>, %0 being an optional
substitution. A bomb record instantiates T with %0 = Binary XML
that instantiates T again, DEPTH levels deep; the innermost %0 is NULL, so
every <A> vanishes and nothing reaches the field list or its cap. Each level
expands its value FANOUT times: FANOUT**(DEPTH+1) element visits from a
record of a few hundred bytes. Every chunk holds ordinary records (which
must still be read) around BOMBS bomb records.

usage: gen-evtx-bomb.py OUT [--fanout F] [--depth D] [--bombs N] [--chunks C]
Prints one line per record: "good ID OFFSET" or "bomb ID OFFSET" (file
offset of the record header).
"""
import argparse
import struct
import zlib

CHUNK = 65536
HEADER = 4096


class Chunk:
    def __init__(self):
        self.b = bytearray(CHUNK)
        self.b[0:8] = b"ElfChnk\0"
        self.pos = 512
        self.names = {}
        self.first = self.last = 0
        self.last_rec = 0

    def put(self, data):
        if self.pos + len(data) > CHUNK:
            raise SystemExit("gen-evtx-bomb: the records do not fit in a chunk")
        self.b[self.pos:self.pos + len(data)] = data
        self.pos += len(data)

    def name(self, s):
        """A name reference: inline the first time, then by offset."""
        if s in self.names:
            self.put(struct.pack("<I", self.names[s]))
            return
        at = self.pos + 4
        self.names[s] = at
        self.put(struct.pack("<IIHH", at, 0, 0, len(s)) + s.encode("utf-16-le") + b"\0\0")


def frag():
    return b"\x0f\x01\x01\x00"


def element(c, name, body):
    """<name>body()</name>: body writes the content at c.pos."""
    c.put(b"\x01\xff\xff")
    size_at = c.pos
    c.put(b"\0\0\0\0")
    c.name(name)
    c.put(b"\x02")
    body()
    c.put(b"\x04")
    struct.pack_into("<I", c.b, size_at, c.pos - size_at - 4)


def sub(idx, vtype, optional):
    return struct.pack("<BHB", 0x0e if optional else 0x0d, idx, vtype)


def template(c, body):
    """Template instance with its definition inline; returns its offset."""
    c.put(b"\x0c\x01" + struct.pack("<I", 0x1234))
    c.put(struct.pack("<I", c.pos + 4))
    d = c.pos
    c.put(struct.pack("<I", 0) + bytes(range(16)) + struct.pack("<I", 0))
    c.put(frag())
    body()
    c.put(b"\x00")
    struct.pack_into("<I", c.b, d + 20, c.pos - d - 24)
    return d


def tpl_ref(d):
    return b"\x0c\x01" + struct.pack("<I", 0x1234) + struct.pack("<I", d)


def values(vals):
    """vals: list of (type, bytes)."""
    out = struct.pack("<I", len(vals))
    for t, v in vals:
        out += struct.pack("<HBB", len(v), t, 0)
    return out + b"".join(v for _, v in vals)


def record(c, rid, binxml_writer):
    at = c.pos
    c.put(b"\x2a\x2a\0\0" + struct.pack("<IQQ", 0, rid, 132790500000000000))
    binxml_writer()
    while (c.pos + 4 - at) % 8:
        c.put(b"\0")
    size = c.pos + 4 - at
    c.put(struct.pack("<I", size))
    struct.pack_into("<I", c.b, at + 4, size)
    c.first = c.first or rid
    c.last = rid
    c.last_rec = at
    return at


def good_template(c):
    """<Event><System><EventID>%0</EventID><EventRecordID>%1</EventRecordID>
    </System><EventData><Data>%2</Data></EventData></Event>"""
    def body():
        def system():
            element(c, "EventID", lambda: c.put(sub(0, 0x06, False)))
            element(c, "EventRecordID", lambda: c.put(sub(1, 0x0a, False)))
        element(c, "Event", lambda: (element(c, "System", system),
                                     element(c, "EventData",
                                             lambda: element(c, "Data", lambda: c.put(sub(2, 0x01, False))))))
    return body


def good_values(rid):
    cmd = ("cmd.exe /c echo %d" % rid).encode("utf-16-le")
    return values([(0x06, struct.pack("<H", 4688)), (0x0a, struct.pack("<Q", rid)), (0x01, cmd)])


def bomb_template(c, fanout):
    """FANOUT top-level <A>%0</A>: no parent that would give an empty field
    when all of them vanish."""
    def body():
        for _ in range(fanout):
            element(c, "A", lambda: c.put(sub(0, 0x21, True)))
    return body


def nested(tdef, depth):
    """Binary XML instantiating T with %0 nested depth more levels."""
    v = values([(0x00, b"")])
    for _ in range(depth):
        v = values([(0x21, frag() + tpl_ref(tdef) + v + b"\x00")])
    return v


def build_chunk(args, next_id, out_lines, base):
    c = Chunk()
    gdef = [None]
    bdef = [None]

    def good(rid):
        def w():
            c.put(frag())
            if gdef[0] is None:
                gdef[0] = template(c, good_template(c))
            else:
                c.put(tpl_ref(gdef[0]))
            c.put(good_values(rid) + b"\x00")
        return w

    def bomb():
        def w():
            c.put(frag())
            if bdef[0] is None:
                bdef[0] = template(c, bomb_template(c, args.fanout))
            else:
                c.put(tpl_ref(bdef[0]))
            c.put(nested(bdef[0], args.depth) + b"\x00")
        return w

    rid = next_id
    at = record(c, rid, good(rid))
    out_lines.append("good %d %d" % (rid, base + at))
    for _ in range(args.bombs):
        rid += 1
        at = record(c, rid, bomb())
        out_lines.append("bomb %d %d" % (rid, base + at))
        rid += 1
        at = record(c, rid, good(rid))
        out_lines.append("good %d %d" % (rid, base + at))
    b = c.b
    struct.pack_into("<QQQQ", b, 8, c.first, c.last, c.first, c.last)
    struct.pack_into("<III", b, 40, 128, c.last_rec, c.pos)
    struct.pack_into("<I", b, 52, zlib.crc32(bytes(b[512:c.pos])))
    struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[128:512]), zlib.crc32(bytes(b[0:120]))))
    return bytes(b), rid + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--fanout", type=int, default=12)
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--bombs", type=int, default=1)
    ap.add_argument("--chunks", type=int, default=1)
    args = ap.parse_args()
    lines = []
    chunks = []
    rid = 1
    for i in range(args.chunks):
        data, rid = build_chunk(args, rid, lines, HEADER + i * CHUNK)
        chunks.append(data)
    h = bytearray(HEADER)
    h[0:8] = b"ElfFile\0"
    struct.pack_into("<QQQIHHHH", h, 8, 0, args.chunks - 1, rid, 128, 1, 3, HEADER, args.chunks)
    struct.pack_into("<I", h, 124, zlib.crc32(bytes(h[0:120])))
    with open(args.out, "wb") as f:
        f.write(bytes(h) + b"".join(chunks))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
