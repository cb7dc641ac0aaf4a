#!/usr/bin/python3
"""nginxlog.py - fastprom-nginxlog for `make run` and the tests: starting the
daemon, the shipped http-level snippet (conf/nginx/fastprom-nginxlog.conf)
aimed at its socket, and the demo site whose pages nginx logs to it.

    start_nginxlog(tmp, segment, config=None, ...) -> Process with .socket
    nginxlog_http_extra(socket_path)               -> the snippet, adapted
    queue_limit_argv(qlen)                         -> a prefix giving sockets a queue limit
    demo_site(run_dir, backend_port)               -> `make run`'s server blocks
    DemoTraffic(base_url)                          -> a few requests a second until stop()
"""
import json
import os
import re
import shutil
import socket

import servers

NGINXLOG = os.path.join(servers.BUILD, "fastprom-nginxlog")
SNIPPET = os.path.join(servers.ROOT, "conf", "nginx", "fastprom-nginxlog.conf")
SNIPPET_SOCKET = "unix:/run/fastprom/nginx-log.sock"


def nginxlog_http_extra(socket_path):
    """The shipped http-level snippet with its socket replaced; each edit
    must apply, so a changed snippet fails here instead of testing less."""
    with open(SNIPPET) as f:
        text = f.read()
    if SNIPPET_SOCKET not in text:
        raise AssertionError(f"{SNIPPET} no longer sends to {SNIPPET_SOCKET}; update deploy/stack/nginxlog.py")
    return text.replace(SNIPPET_SOCKET, f"unix:{socket_path}")


_READY = re.compile(rb"^fastprom-nginxlog: \S+ receiving on ", re.M)  # its start-up line, after the set-up


def _receiving(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)  # ECONNREFUSED until the daemon has bound it
        return True


def queue_limit_argv(qlen):
    """A prefix that runs a command in a network namespace of its own where
    net.unix.max_dgram_qlen is qlen, so the sockets it creates queue qlen
    datagrams, as on a systemd host (512), without touching this machine's
    setting. [] when that is not possible (not root, no unshare)."""
    if qlen is None or os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    return ["unshare", "--net", "sh", "-c", f'echo {int(qlen)} > /proc/sys/net/unix/max_dgram_qlen && exec "$@"', "sh"]


def start_nginxlog(tmp, segment, socket_path=None, config=None, args=(), testcase=None, name="nginxlog",
                   wait=True, env=None, qlen=512):
    """Starts build/fastprom-nginxlog on a datagram socket in tmp writing to
    segment. config: a dict written as its --config file (the path is kept
    in .config_path for reloads). qlen: the socket's queue limit (see
    queue_limit_argv; None: this machine's). Waits (5 s) until the daemon
    has logged that it receives (set up, privileges dropped) and the socket
    takes datagrams."""
    socket_path = socket_path or os.path.join(tmp, f"{name}.sock")
    argv = queue_limit_argv(qlen) + [NGINXLOG, "--socket", socket_path, "--segment", segment]
    config_path = None
    if config is not None:
        config_path = os.path.join(tmp, f"{name}.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        argv += ["--config", config_path]
    log_path = os.path.join(tmp, f"{name}.log")
    logged_before = os.path.getsize(log_path) if os.path.exists(log_path) else 0  # a restart appends to it
    proc = servers.start_process(argv + list(args), tmp, name, testcase=testcase, env=env)
    proc.socket = socket_path
    proc.config_path = config_path
    if wait:
        # A datagram socket takes datagrams from its bind on, before the
        # daemon gives it its mode and owner, drops privileges and opens the
        # segment; its "receiving on" line comes after all of that.
        def ready():
            if not proc.alive():
                raise AssertionError(f"fastprom-nginxlog exited with {proc.returncode}:\n{proc.log()}")
            with open(log_path, "rb") as f:
                f.seek(logged_before)
                return _READY.search(f.read()) is not None and _receiving(socket_path)
        servers.wait_until(ready, 5, what=f"fastprom-nginxlog on {socket_path}")
    return proc


# ---- `make run`: the demo site's nginx pages, logged to fastprom-nginxlog ----

DEMO_CONFIG = {"rules": [{"match": "^/static/", "route": "/static/*"}]}

DEMO_PAGE = """<!doctype html><title>fastprom demo</title>
<h1>fastprom demo</h1>
<p>Every request to this nginx is counted by fastprom-nginxlog: see
<code>nginx_http_requests_total</code> in <a href="/metrics">/metrics</a>.</p>
<ul><li><a href="/products/42">/products/42</a> (route from <code>$fastprom_route</code>)</li>
<li><a href="/static/app.css">/static/app.css</a> (route from a rule in nginxlog.json)</li>
<li><a href="/api/time">/api/time</a> (through an upstream)</li>
<li><a href="/missing">/missing</a> (404, route "unmatched")</li></ul>
"""


def demo_site(run_dir, backend_port):
    """The server blocks of `make run`: a page at /, a templated product
    route, static files, a tiny upstream, and the worker's locations."""
    static = os.path.join(run_dir, "static")
    os.makedirs(static, exist_ok=True)
    with open(os.path.join(static, "app.css"), "w") as f:
        f.write("body { font-family: sans-serif; }\n")
    with open(os.path.join(run_dir, "index.html"), "w") as f:
        f.write(DEMO_PAGE)
    return f"""
server {{
    listen 127.0.0.1:{{port}};
    server_name demo.local;
    include {{snippet}};
    location = / {{ root {run_dir}; try_files /index.html =404; }}
    location ~ ^/products/[0-9]+$ {{
        set $fastprom_route "/products/{{id}}";
        default_type text/plain;
        return 200 "a product\\n";
    }}
    location /static/ {{ alias {static}/; }}
    location = /api/time {{ set $fastprom_route "/api/time"; proxy_pass http://127.0.0.1:{backend_port}; }}
    location / {{ return 404; }}
}}
server {{
    listen 127.0.0.1:{backend_port};
    access_log off;
    default_type text/plain;
    location / {{ return 200 "$time_iso8601\\n"; }}
}}
"""


class DemoTraffic:
    """A few requests a second to the demo site, so nginx_http_* move."""

    PATHS = ("/", "/products/1", "/products/2", "/static/app.css", "/api/time", "/missing")

    def __init__(self, base_url, per_second=5):
        import threading
        self.base_url, self.interval = base_url, 1.0 / per_second
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import random
        while not self.stopped.wait(self.interval):
            try:
                servers.http_get(self.base_url + random.choice(self.PATHS), timeout=5)
            except OSError:
                pass  # nginx is stopping

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
