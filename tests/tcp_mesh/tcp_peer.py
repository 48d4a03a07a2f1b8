#!/usr/bin/env python3
"""TCP peers for the mesh tests: servers that say who they are, and a client.

  tcp_peer.py serve NAME PORT [first]   an echo server on every address of PORT (IPv4 and IPv6):
                                        each line comes back as "NAME: line"; at the client's end of
                                        stream (a half-close) it answers "NAME: bye" and closes.
                                        With "first" it speaks first ("NAME: hello"), as MySQL,
                                        SMTP or a broker's greeting do.
  tcp_peer.py call HOST PORT [TEXT]     connects, sends TEXT (if any), half-closes, and prints what
                                        comes back until the server closes (5 s at most). Without
                                        TEXT nothing is sent and nothing half-closed before the
                                        first answer: a server-first exchange.
"""
import socket
import sys
import threading


def serve(name, port, first):
    sockets = []
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((address, port))
        s.listen(64)
        sockets.append(s)

    def handle(conn):
        with conn:
            if first:
                conn.sendall(f"{name}: hello\n".encode())
            buffer = b""
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                buffer += data
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    conn.sendall(f"{name}: ".encode() + line + b"\n")
            conn.sendall(f"{name}: bye\n".encode())

    def accept(s):
        while True:
            conn, _ = s.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    for s in sockets[1:]:
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    accept(sockets[0])


def call(host, port, text):
    conn = socket.create_connection((host, port), timeout=5)
    out = b""
    try:
        if text is None:
            out += conn.recv(4096)          # the server speaks first
            conn.sendall(b"ping\n")
        else:
            conn.sendall(text.encode() + b"\n")
        conn.shutdown(socket.SHUT_WR)       # half-close: the answer must still come back
        while True:
            data = conn.recv(4096)
            if not data:
                break
            out += data
    except OSError as e:
        out += f"[{e.__class__.__name__}]".encode()
    sys.stdout.write(out.decode(errors="replace"))


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4 and sys.argv[4] == "first")
    elif len(sys.argv) >= 4 and sys.argv[1] == "call":
        call(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit(__doc__)
