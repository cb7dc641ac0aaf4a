#!/usr/bin/python3
"""servers.py - starts fastprom's demo stack pieces on 127.0.0.1: the FastCGI
worker, the demo writer, nginx with the shipped snippet, Prometheus. Used by
`make run` (stack.py beside it) and by the integration tests and benchmarks
(through tests/integration/harness.py).

Real servers only. Everything listens on 127.0.0.1 ports picked free at run
time (or given), keeps its files in a directory the caller names, and is
stopped by PID: by the returned object's stop(), by a unittest cleanup when a
`testcase` is passed, and as a last resort at interpreter exit. Every wait is
bounded.

    ROOT, BUILD, WORKER, DEMO, NGINX_SNIPPET, NGINX_EXAMPLE_SITE
    free_port()                          -> int (a new one at each call)
    wait_until(predicate, timeout, ...)  -> the predicate's truthy value
    start_process(argv, tmp, name, ...)  -> Process (.pid .alive() .stop() .kill() .log())
    start_worker(tmp, segment, ...)      -> Worker (a Process with .socket)
    start_demo(tmp, segment, ...)        -> Process
    start_nginx(tmp, socket, ...)        -> Nginx (a Process with .port, .url(path))
    start_prometheus(tmp, target, ...)   -> Prometheus (.query(expr), .wait_target_up())
    http_request(url, method, headers)   -> Response (.status .headers .header(name) .body)
    http_get(url, headers), http_head(url, headers)

BUILD is $FASTPROM_TEST_BUILD when set (the Makefile's $(BUILD)), else build/.
"""
import atexit
import grp
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("FASTPROM_TEST_BUILD") or os.path.join(ROOT, "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
WORKER = os.path.join(BUILD, "fastprom-fcgi")
DEMO = os.path.join(BUILD, "fastprom-demo")
NGINX_SNIPPET = os.path.join(ROOT, "conf", "nginx", "fastprom-locations.conf")
NGINX_EXAMPLE_SITE = os.path.join(ROOT, "conf", "nginx", "example-site.conf")
SNIPPET_SOCKET = "unix:/run/fastprom/fastprom-fcgi.sock"

_running = []  # every Process started and not yet stopped, for the exit net


def _cleanup(testcase, fn, *args):
    """Registers fn(*args) with a unittest TestCase instance (addCleanup) or
    class (addClassCleanup, for setUpClass); None registers nothing."""
    if testcase is None:
        return
    if isinstance(testcase, type):
        testcase.addClassCleanup(fn, *args)
    else:
        testcase.addCleanup(fn, *args)


_ports_given = set()


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago, and that
    this process has not been given before.

    The kernel may hand out a port it just gave back (about one bind(0) in
    12,000 repeats the last), and a test often picks two ports before the
    first is bound (a backend's, then nginx's): both servers would then
    want the same port."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise AssertionError("no TCP port on 127.0.0.1 that this process was not given before")


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Calls predicate() until it returns a truthy value, which is returned.

    Raises TimeoutError naming `what` after `timeout` seconds. Exceptions from
    the predicate count as "not yet" (a server that is still starting).
    """
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - any failure means "not ready"
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


class Process:
    """A started server or tool: stopped by PID, its output kept in a log file."""

    def __init__(self, argv, popen, log_path, name):
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.log_path = log_path
        self.name = name

    def alive(self):
        """True while the process has not exited."""
        return self.popen.poll() is None

    @property
    def returncode(self):
        """The exit status once exited (negative: killed by that signal), else None."""
        return self.popen.poll()

    def wait(self, timeout):
        """Waits for exit (bounded) and returns the exit status."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} (pid {self.pid}) still running after {timeout}s; log:\n{self.log()}")

    def send_signal(self, sig):
        """Sends sig to this process's PID if it still runs."""
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process with sig, then SIGKILL (its whole process group,
        to catch forked children) after timeout. Returns the exit status."""
        if self.alive():
            try:
                os.kill(self.pid, sig)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self.popen.wait(timeout=timeout)
        if self in _running:
            _running.remove(self)
        return self.popen.returncode

    def kill(self):
        """SIGKILL to the process and to the process group it leads."""
        for send in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                send()
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def log(self):
        """Everything the process wrote to stdout and stderr so far."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def start_process(argv, tmp, name, env=None, cwd=None, testcase=None, pass_fds=(), stdin=None, cls=Process):
    """Starts argv in its own session (Ctrl-C in a terminal does not reach it),
    output to <tmp>/<name>.log. env entries are added to os.environ. With a
    testcase (instance or class), it is stopped at cleanup."""
    log_path = os.path.join(tmp, f"{name}.log")
    full_env = dict(os.environ)
    full_env.update(env or {})
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=stdin or subprocess.DEVNULL,
                                 env=full_env, cwd=cwd or tmp, start_new_session=True, pass_fds=pass_fds)
    proc = cls(argv, popen, log_path, name)
    _running.append(proc)
    _cleanup(testcase, proc.stop)
    return proc


def _can_connect_unix(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        s.connect(path)
        return True


class Worker(Process):
    """The FastCGI worker; .socket is its unix socket path."""
    socket = None


def start_worker(tmp, segment, socket_path=None, args=(), env=None, testcase=None, name="worker", wait=True):
    """Starts build/fastprom-fcgi on a unix socket in tmp, exporting segment.

    Waits (5 s) until the socket accepts connections unless wait is False.
    """
    socket_path = socket_path or os.path.join(tmp, f"{name}.sock")
    argv = [WORKER, "--socket", socket_path, "--segment", segment, *args]
    proc = start_process(argv, tmp, name, env=env, testcase=testcase, cls=Worker)
    proc.socket = socket_path
    if wait:
        def ready():
            if not proc.alive():
                raise AssertionError(f"worker exited with {proc.returncode}:\n{proc.log()}")
            return _can_connect_unix(socket_path)
        try:
            wait_until(ready, 5, what=f"the worker socket {socket_path}")
        except TimeoutError:
            raise AssertionError(f"worker did not come up:\n{proc.log()}")
    return proc


def start_demo(tmp, segment, processes=4, rate=20, requests=None, args=(), testcase=None, name="demo"):
    """Starts build/fastprom-demo writing to segment. With requests=N each
    process records N requests and the demo exits (wait() for it)."""
    argv = [DEMO, "--path", segment, "--processes", str(processes), "--rate", str(rate), *args]
    if requests is not None:
        argv += ["--requests", str(requests)]
    return start_process(argv, tmp, name, testcase=testcase)


class Nginx(Process):
    """nginx running unprivileged under a prefix in tmp; .port it listens on."""
    port = None

    def url(self, path):
        """http://127.0.0.1:<port><path>"""
        return f"http://127.0.0.1:{self.port}{path}"


def snippet_for(socket_path, snippet=NGINX_SNIPPET):
    """The shipped nginx snippet's text with fastcgi_pass aimed at socket_path."""
    with open(snippet) as f:
        text = f.read()
    if SNIPPET_SOCKET not in text:
        raise AssertionError(f"{snippet} no longer passes to {SNIPPET_SOCKET}; update servers.SNIPPET_SOCKET")
    return text.replace(SNIPPET_SOCKET, f"unix:{socket_path}")


def start_nginx(tmp, socket_path, port=None, site=None, http_extra="", testcase=None, name="nginx"):
    """Starts nginx on 127.0.0.1:port (free if None) with the shipped snippet
    (fastcgi_pass to socket_path) included in one server block.

    site: the server block(s) to use instead; "{snippet}" in it is replaced by
    the path of the adapted snippet and "{port}" by the port.
    """
    port = port or free_port()
    prefix = os.path.join(tmp, name)
    os.makedirs(os.path.join(prefix, "temp"), exist_ok=True)
    snippet_path = os.path.join(prefix, "fastprom-locations.conf")
    with open(snippet_path, "w") as f:
        f.write(snippet_for(socket_path))
    shutil.copy("/etc/nginx/fastcgi_params", os.path.join(prefix, "fastcgi_params"))
    if site is None:
        site = ("server {\n    listen 127.0.0.1:{port};\n    include {snippet};\n"
                "    location / { return 404 \"the application's 404\\n\"; }\n}\n")
    site = site.replace("{snippet}", snippet_path).replace("{port}", str(port))
    user = ""
    if os.geteuid() == 0:  # workers would drop to nobody and could not reach a 0660 socket
        user = f"user {pwd.getpwuid(0).pw_name} {grp.getgrgid(0).gr_name};"
    temp = os.path.join(prefix, "temp")
    conf = f"""daemon off;
{user}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    log_format harness '$status "$request" accept="$http_accept" encoding="$http_accept_encoding"';
    access_log {prefix}/access.log harness;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    {http_extra}
    {site}
}}
"""
    conf_path = os.path.join(prefix, "nginx.conf")
    with open(conf_path, "w") as f:
        f.write(conf)
    check = subprocess.run(["nginx", "-t", "-q", "-p", prefix, "-e", os.path.join(prefix, "error.log"),
                            "-c", conf_path], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise AssertionError(f"nginx -t failed for {conf_path}:\n{check.stderr}\n{conf}")
    argv = ["nginx", "-p", prefix, "-e", os.path.join(prefix, "error.log"), "-c", conf_path]
    proc = start_process(argv, tmp, name, testcase=testcase, cls=Nginx)
    proc.port = port

    def ready():
        if not proc.alive():
            raise AssertionError(f"nginx exited:\n{proc.log()}")
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    wait_until(ready, 10, what=f"nginx on port {port}")
    return proc


class Prometheus(Process):
    """A Prometheus server; .port of its web API."""
    port = None

    def query(self, expr):
        """Instant query; returns the API's data.result list."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        r = http_get(url)
        if r.status != 200:
            raise AssertionError(f"query {expr!r}: HTTP {r.status} {r.body[:300]!r}")
        return json.loads(r.body)["data"]["result"]

    def value(self, expr):
        """The single sample value of an instant query as a string, or None."""
        result = self.query(expr)
        return result[0]["value"][1] if len(result) == 1 else None

    def targets(self):
        """The API's active targets."""
        r = http_get(f"http://127.0.0.1:{self.port}/api/v1/targets")
        return json.loads(r.body)["data"]["activeTargets"]

    def wait_target_up(self, timeout=30, job="fastprom"):
        """Waits until up{job=...} == 1; returns the target's API entry."""
        wait_until(lambda: self.value(f'up{{job="{job}"}}') == "1", timeout, interval=0.2,
                   what=f"Prometheus target {job} to be up")
        return [t for t in self.targets() if t["labels"].get("job") == job][0]


def start_prometheus(tmp, target, port=None, metrics_path="/metrics", scrape_interval="1s", testcase=None,
                     name="prometheus", job="fastprom"):
    """Starts Prometheus scraping target ("127.0.0.1:PORT") at metrics_path.

    Waits (30 s) until its API is ready, not until the target is up: call
    wait_target_up() for that.
    """
    port = port or free_port()
    data = os.path.join(tmp, name)
    os.makedirs(data, exist_ok=True)
    config = os.path.join(data, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"""global:
  scrape_interval: {scrape_interval}
  scrape_timeout: {scrape_interval}
  evaluation_interval: {scrape_interval}
scrape_configs:
  - job_name: {job}
    metrics_path: {metrics_path}
    static_configs:
      - targets: ['{target}']
""")
    argv = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}/data",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    proc = start_process(argv, tmp, name, testcase=testcase, cls=Prometheus)
    proc.port = port

    def ready():
        if not proc.alive():
            raise AssertionError(f"prometheus exited:\n{proc.log()}")
        return http_get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status == 200
    wait_until(ready, 30, interval=0.2, what=f"Prometheus on port {port}")
    return proc


class Response:
    """An HTTP response: status, headers (list of (name, value)), body bytes."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        """The first header called name (case-insensitive), else default."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


def http_request(url, method="GET", headers=None, timeout=10):
    """One request with exactly the given headers (no Accept-Encoding unless
    given); the body is returned as sent, not decompressed."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.putrequest(method, path, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, resp.reason, resp.getheaders(), body)
    finally:
        conn.close()


def http_get(url, headers=None, timeout=10):
    """GET url; see http_request."""
    return http_request(url, "GET", headers, timeout)


def http_head(url, headers=None, timeout=10):
    """HEAD url; see http_request."""
    return http_request(url, "HEAD", headers, timeout)


def stop_all():
    """Stops every process still running, newest first (the exit net)."""
    for proc in reversed(list(_running)):
        try:
            proc.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            proc.kill()


atexit.register(stop_all)
