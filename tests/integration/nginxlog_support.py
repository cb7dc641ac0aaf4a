"""nginxlog_support.py - what the fastprom-nginxlog tests add to harness.py:
starting the daemon, nginx configured with the shipped snippet
(conf/nginx/fastprom-nginxlog.conf) aimed at the daemon's socket, and
reading the exported families back through the worker's /metrics.

    start_nginxlog(tmp, segment, config=None, ...) -> Process with .socket
    nginxlog_http_extra(socket_path)               -> the snippet, adapted
    start_stack(testcase, site, config=None)       -> Stack(tmp, segment, daemon, worker, nginx)
    Stack.metrics()                                -> [(name, labels, value)] from /metrics
    Stack.wait_datagrams(n)                        -> waits until the daemon received n
"""
import json
import os
import shutil
import socket

import harness

NGINXLOG = os.path.join(harness.BUILD, "fastprom-nginxlog")
SNIPPET = os.path.join(harness.ROOT, "conf", "nginx", "fastprom-nginxlog.conf")
SNIPPET_SOCKET = "unix:/run/fastprom/nginx-log.sock"


def nginxlog_http_extra(socket_path):
    """The shipped http-level snippet with its socket replaced; each edit
    must apply, so a changed snippet fails here instead of testing less."""
    with open(SNIPPET) as f:
        text = f.read()
    if SNIPPET_SOCKET not in text:
        raise AssertionError(f"{SNIPPET} no longer sends to {SNIPPET_SOCKET}; update nginxlog_support.py")
    return text.replace(SNIPPET_SOCKET, f"unix:{socket_path}")


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
    queue_limit_argv; None: this machine's). Waits (5 s) until the socket
    receives."""
    socket_path = socket_path or os.path.join(tmp, f"{name}.sock")
    argv = queue_limit_argv(qlen) + [NGINXLOG, "--socket", socket_path, "--segment", segment]
    config_path = None
    if config is not None:
        config_path = os.path.join(tmp, f"{name}.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        argv += ["--config", config_path]
    proc = harness.start_process(argv + list(args), tmp, name, testcase=testcase, env=env)
    proc.socket = socket_path
    proc.config_path = config_path
    if wait:
        def ready():
            if not proc.alive():
                raise AssertionError(f"fastprom-nginxlog exited with {proc.returncode}:\n{proc.log()}")
            return _receiving(socket_path)
        harness.wait_until(ready, 5, what=f"fastprom-nginxlog on {socket_path}")
    return proc


class Stack:
    """nginx logging to fastprom-nginxlog, the worker serving the segment."""

    def __init__(self, tmp, segment, daemon, worker, nginx):
        self.tmp, self.segment, self.daemon, self.worker, self.nginx = tmp, segment, daemon, worker, nginx

    def metrics(self):
        r = harness.http_get(self.nginx.url("/metrics"))
        if r.status != 200:
            raise AssertionError(f"/metrics answered {r.status}: {r.body[:300]!r}")
        return harness.samples(r.body)

    def value(self, name, **labels):
        """Sum of the samples called name whose labels include `labels`."""
        return sum(v for n, l, v in self.metrics() if n == name and all(l.get(k) == x for k, x in labels.items()))

    def wait_datagrams(self, n, timeout=10):
        try:
            harness.wait_until(lambda: self.value("nginxlog_datagrams_total") >= n, timeout,
                               what=f"fastprom-nginxlog to receive {n} datagrams")
        except TimeoutError as e:
            with open(os.path.join(self.tmp, "nginx", "error.log"), errors="replace") as f:
                errors = f.read()[-2000:]
            raise AssertionError(f"{e}; received {self.value('nginxlog_datagrams_total')}\n"
                                 f"daemon log:\n{self.daemon.log()[-2000:]}\nnginx error.log:\n{errors}")
        return self.value("nginxlog_datagrams_total")

    def stub_requests(self):
        """nginx's own count of client requests (stub_status), this one included."""
        body = harness.http_get(self.nginx.url("/nginx_status")).body.decode()
        return int(body.splitlines()[2].split()[2])


def start_stack(testcase, site, config=None, daemon_args=(), qlen=512):
    """tmp dir, segment, daemon, worker and nginx (site: server blocks, with
    {snippet} for the worker's locations and {port}); cleaned up by testcase."""
    tmp = harness.make_temp_dir(testcase)
    segment = os.path.join(tmp, "segment")
    daemon = start_nginxlog(tmp, segment, config=config, args=daemon_args, testcase=testcase, qlen=qlen)
    worker = harness.start_worker(tmp, segment, testcase=testcase)
    nginx = harness.start_nginx(tmp, worker.socket, site=site, http_extra=nginxlog_http_extra(daemon.socket),
                                testcase=testcase)
    return Stack(tmp, segment, daemon, worker, nginx)
