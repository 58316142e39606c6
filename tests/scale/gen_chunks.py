#!/usr/bin/env python3
"""gen_chunks.py — input files for tests/scale/run.sh: records whose bytes
hold the hard cases of cutting one CSV into chunks (a quoted line end, a
doubled quote, a CRLF line end), and a chooser of CHUNK_BYTES values that
put a chunk's nominal start exactly on such a byte (transform_plan.c cuts a
file of S bytes into K = ceil(S / CHUNK_BYTES) chunks at floor(S * k / K)).

  gen_chunks.py tricky FILE         write the test file, print nothing
  gen_chunks.py cp1252 FILE         UTF-8 text early, a Windows-1252 byte late
  gen_chunks.py dayfirst FILE       ambiguous dates early, a day-first one late
  gen_chunks.py conflict FILE       day-first early, month-first late
  gen_chunks.py cuts FILE N         print up to N CHUNK_BYTES values, one per
                                    line, each putting a boundary on (or just
                                    after) a hard byte
"""
import math
import sys

HEAD = "Order ID,Order Date,Ship Date,Product ID,Category,Sales,Quantity,Profit,Note\r\n"


def row(i, date="1/13/2024", ship="1/15/2024", note="plain"):
    return f"O-{i},{date},{ship},P-{i % 37},Cat{i % 5},{10 + i % 90}.25,{1 + i % 7},{i % 11 - 5}.5,{note}"


def tricky():
    out = [HEAD]
    for i in range(600):
        kind = i % 6
        if kind == 0:
            note = '"two\nlines"'               # a quoted LF
        elif kind == 1:
            note = '"say ""hi"" twice"'         # doubled quotes
        elif kind == 2:
            note = '"crlf\r\ninside"'           # a quoted CRLF
        elif kind == 3:
            note = '"a, comma and ""quote""\n\nand a blank line"'
        else:
            note = "plain"
        end = "\r\n" if i % 2 else "\n"
        r = row(i, note=note)
        if i % 53 == 0:
            r = r.replace(f"P-{i % 37}", "")    # a product_id reject
        if i % 71 == 0:
            r += ",extra"                       # a malformed reject
        out.append(r + end)
        if i % 97 == 0:
            out.append("\r\n")                  # a blank line
    out.append('O-x,1/1/2024,1/2/2024,P-1,Cat,1,1,1,"never closed\nat the end\n')
    return "".join(out).encode()


def cp1252():
    out = [HEAD]
    for i in range(400):
        note = "caf\u00e9" if i == 3 else "plain"
        out.append(row(i, note=note) + "\n")
    data = "".join(out).encode()
    # a byte that is not UTF-8 (0xE9, Windows-1252's e-acute) near the end
    return data + b"O-late,1/13/2024,1/14/2024,P-1,Cat,5,1,1,caf\xe9\n"


def dayfirst():
    out = [HEAD]
    for i in range(400):
        out.append(row(i, date="1/2/2024", ship="1/3/2024") + "\n")
    out.append(row(999, date="25/2/2024", ship="26/2/2024") + "\n")
    return "".join(out).encode()


def conflict():
    out = [HEAD, row(0, date="25/2/2024", ship="26/2/2024") + "\n"]
    for i in range(1, 400):
        out.append(row(i, date="1/2/2024", ship="1/3/2024") + "\n")
    out.append(row(999, date="2/25/2024", ship="2/26/2024") + "\n")
    return "".join(out).encode()


def cuts(data, n):
    size = len(data)
    targets = []
    in_quotes = False
    for p, b in enumerate(data):
        if b == ord('"'):
            in_quotes = not in_quotes
            if p + 1 < size and data[p + 1] == ord('"'):
                targets.append(p + 1)           # between two quotes of a pair
        elif b == ord("\n") and in_quotes:
            targets += [p, p + 1]               # on a quoted LF, and just past it
        elif b == ord("\r") and p + 1 < size and data[p + 1] == ord("\n"):
            targets += [p + 1]                  # between CR and LF
    seen, found = set(), []
    for t in targets:
        for K in range(2, 400):
            cb = math.ceil(size / K)
            if math.ceil(size / cb) != K:
                continue
            if any(size * k // K == t for k in range(1, K)) and cb not in seen:
                seen.add(cb)
                found.append(cb)
                break
        if len(found) >= n:
            break
    return found


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "cuts":
        with open(path, "rb") as f:
            for cb in cuts(f.read(), int(sys.argv[3])):
                print(cb)
        return
    data = {"tricky": tricky, "cp1252": cp1252, "dayfirst": dayfirst, "conflict": conflict}[what]()
    with open(path, "wb") as f:
        f.write(data)


main()
