#!/usr/bin/env python3
"""Records which upstream peer Debian's nginx picks, for the balancer unit tests.

Runs /usr/sbin/nginx (one process: master_process off) on loopback with

    upstream g { <--upstream, "@" standing for "127.0.0.1:"> }
    server { listen 127.0.0.1:18399; listen [::1]:18399;
             location / { proxy_pass http://g; add_header X-Up $upstream_addr always; } }

and origins on 127.0.0.1:18400+n answering "n": server{} blocks of the same nginx, or with
--hold Python listeners that keep each request until told to answer.  Then it runs the
steps and prints one result per request:

    N          N requests            k=KEY      a request for /?k=KEY
    from=IP    a request from IP (any 127/8 address, or ::1)
    sleep=S    wait S seconds
    o          (--hold) a request the origin keeps open
    cK         (--hold) the K-th request (from 0) is answered; waits for it to finish

A result is the origin's number, or with --tried the origins tried in order ("1+3"), "=502"
when the request failed, and "g" for no live upstreams.  --dead N,M leaves those origins
out (connections refused).  Example:

    scripts/record-nginx-picks.py --origins 3 \\
        --upstream 'server @18400 weight=5; server @18401; server @18402;' 30
"""
import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

BASE, FRONT = 18400, 18399
NGINX = '/usr/sbin/nginx'


def nginx_conf(d, a):
    dead = set(int(x) for x in a.dead.split(',') if x)
    origins = '' if a.hold else '\n'.join(
        f'    server {{ listen 127.0.0.1:{BASE + i}; return 200 "{i}"; }}'
        for i in range(a.origins) if i not in dead)
    origins += ''.join(f'\n    server {{ listen {e.split("=")[0]}; return 200 "{e.split("=")[1]}"; }}'
                       for e in a.extra)
    temps = ' '.join(f'{n}_temp_path {d}/{n};' for n in
                     ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    return f"""master_process off;
daemon off;
error_log {d}/error.log info;
pid {d}/nginx.pid;
events {{}}
http {{
    access_log off;
    {temps}
    upstream g {{ {a.upstream.replace('@', '127.0.0.1:')} }}
    server {{
        listen 127.0.0.1:{FRONT}; listen [::1]:{FRONT};
        location / {{ proxy_pass http://g; proxy_read_timeout 60s;
                     add_header X-Up $upstream_addr always; }}
    }}
{origins}
}}
"""


def wait_port(port):
    for _ in range(200):
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f'nothing listens on {port}')


def label(addr):
    addr = addr.strip()
    if addr.startswith('127.0.0.1:') and int(addr.rsplit(':', 1)[1]) >= BASE:
        return str(int(addr.rsplit(':', 1)[1]) - BASE)
    return addr


def request(path, src, tried):
    host = '::1' if ':' in src else '127.0.0.1'
    c = http.client.HTTPConnection(host, FRONT, timeout=30, source_address=(src, 0))
    c.request('GET', path)
    r = c.getresponse()
    body = r.read().decode()
    up = r.getheader('X-Up') or '-'
    c.close()
    if tried:
        return '+'.join(label(x) for x in up.split(',')) + ('' if r.status == 200 else '=%d' % r.status)
    return body if r.status == 200 else str(r.status)


class Holder:
    """Origins that keep every request until released."""

    def __init__(self, n):
        self.lock = threading.Lock()
        self.arrivals = []          # (origin, release event)
        for i in range(n):
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(('127.0.0.1', BASE + i))
            ls.listen(64)
            threading.Thread(target=self.accept, args=(i, ls), daemon=True).start()

    def accept(self, i, ls):
        while True:
            c, _ = ls.accept()
            data = b''
            while b'\r\n\r\n' not in data:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            ev = threading.Event()
            with self.lock:
                self.arrivals.append((i, ev))
            threading.Thread(target=self.answer, args=(i, c, ev), daemon=True).start()

    @staticmethod
    def answer(i, c, ev):
        ev.wait(120)
        c.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n' + str(i).encode())
        c.close()


def held_request(res):
    try:
        res['r'] = request('/', '127.0.0.1', False)
    except OSError as e:            # nginx stopped while it was held: not a result
        res['r'] = type(e).__name__


def run_hold(steps, holder):
    out, reqs = [], []              # reqs: [thread, arrival index or None]
    for step in steps:
        if step == 'o':
            with holder.lock:
                before = len(holder.arrivals)
            res = {}
            t = threading.Thread(target=held_request, args=(res,), daemon=True)
            t.start()
            for _ in range(1000):
                with holder.lock:
                    if len(holder.arrivals) > before:
                        break
                if 'r' in res:
                    break
                time.sleep(0.005)
            with holder.lock:
                got = len(holder.arrivals) > before
            if got:
                out.append(str(holder.arrivals[before][0]))
                reqs.append([t, before])
            else:
                t.join(10)
                out.append(res.get('r', '?'))
                reqs.append([t, None])
        else:
            t, arrival = reqs[int(step[1:])]
            holder.arrivals[arrival][1].set()
            t.join(10)
            time.sleep(0.02)
    return out


def run_plain(steps, tried):
    out = []
    for step in steps:
        if step.startswith('sleep='):
            time.sleep(float(step[6:]))
        elif step.startswith('k='):
            out.append(request('/?k=' + step[2:], '127.0.0.1', tried))
        elif step.startswith('from='):
            out.append(request('/', step[5:], tried))
        else:
            out.extend(request('/', '127.0.0.1', tried) for _ in range(int(step)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--origins', type=int, default=4)
    ap.add_argument('--dead', default='')
    ap.add_argument('--extra', action='append', default=[],
                    help='another origin: LISTEN=LABEL ("127.0.0.2:80=8", "unix:/p=9")')
    ap.add_argument('--tried', action='store_true')
    ap.add_argument('--hold', action='store_true')
    ap.add_argument('--upstream', required=True)
    ap.add_argument('steps', nargs='+')
    a = ap.parse_args()

    d = tempfile.mkdtemp(prefix='record-picks-')
    for e in a.extra:
        if e.startswith('unix:') and os.path.exists(e[5:].split('=')[0]):
            os.unlink(e[5:].split('=')[0])
    open(f'{d}/nginx.conf', 'w').write(nginx_conf(d, a))
    holder = Holder(a.origins) if a.hold else None
    p = subprocess.Popen([NGINX, '-p', d + '/', '-c', f'{d}/nginx.conf', '-e', f'{d}/error.log'])
    try:
        wait_port(FRONT)
        out = run_hold(a.steps, holder) if a.hold else run_plain(a.steps, a.tried)
        print(' '.join(out))
    finally:
        if holder:
            for _, ev in holder.arrivals:
                ev.set()
            time.sleep(0.2)
        p.terminate()
        p.wait()
        subprocess.run(['rm', '-rf', d])


if __name__ == '__main__':
    main()
