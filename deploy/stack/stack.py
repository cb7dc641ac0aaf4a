#!/usr/bin/python3
"""stack.py - `make run`: the whole fastprom picture on 127.0.0.1, in the
foreground, until Ctrl-C.

    demo writer (4 forked "web workers", some recycled over time)
      -> segment -> fastprom-fcgi -> nginx on 127.0.0.1:${PORT:-8080}
    nginx's own pages (/, /products/{id}, /static/*, /api/time) -> access log
      -> fastprom-nginxlog -> the same segment (nginx_http_*), a few requests/s
      -> Prometheus on 127.0.0.1:${PROM_PORT:-9090}, scraping /metrics every 5 s

Everything lives under build/run/ (logs: build/run/*.log) and is stopped by
PID on Ctrl-C or SIGTERM; the segment is removed.

usage: stack.py run
"""
import os
import shutil
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nginxlog  # noqa: E402
import servers  # noqa: E402


def port_from_env(name, default):
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"stack.py: {name}={value!r} is not a TCP port number")
    return int(value)


def ensure_free(port, name):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"stack.py: 127.0.0.1:{port} is in use; run with another port, e.g. {name}={port + 1} make run")


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


def run():
    port = port_from_env("PORT", 8080)
    prom_port = port_from_env("PROM_PORT", 9090)
    for binary in (servers.WORKER, servers.DEMO, nginxlog.NGINXLOG):
        if not os.access(binary, os.X_OK):
            sys.exit(f"stack.py: {binary} is missing; run `make` first")
    ensure_free(port, "PORT")
    with_prometheus = shutil.which("prometheus") is not None
    if with_prometheus:
        ensure_free(prom_port, "PROM_PORT")

    run_dir = os.path.join(servers.BUILD, "run")
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir)
    os.chmod(run_dir, 0o755)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else run_dir
    segment = os.path.join(shm, f"fastprom-run-{os.getuid()}")
    if os.path.exists(segment):
        os.unlink(segment)  # a previous run's leftovers; this run owns the name

    signal.signal(signal.SIGTERM, on_sigterm)
    started = []
    traffic = None
    try:
        print("starting the demo writer, fastprom-fcgi, fastprom-nginxlog, nginx" + (", Prometheus" if with_prometheus else ""),
              flush=True)
        started.append(servers.start_demo(run_dir, segment, processes=4, rate=20, args=["--recycle", "15"]))
        servers.wait_until(lambda: os.path.exists(segment), 10, what="the demo's segment")
        worker = servers.start_worker(run_dir, segment, socket_path=os.path.join(run_dir, "fastprom-fcgi.sock"))
        started.append(worker)
        daemon = nginxlog.start_nginxlog(run_dir, segment, config=nginxlog.DEMO_CONFIG)
        started.append(daemon)
        nginx = servers.start_nginx(run_dir, worker.socket, port=port,
                                    site=nginxlog.demo_site(run_dir, servers.free_port()),
                                    http_extra=nginxlog.nginxlog_http_extra(daemon.socket))
        started.append(nginx)
        traffic = nginxlog.DemoTraffic(nginx.url(""))
        prom = None
        if with_prometheus:
            prom = servers.start_prometheus(run_dir, f"127.0.0.1:{port}", port=prom_port, scrape_interval="5s")
            started.append(prom)

        print(f"""
  the demo site (logged to fastprom-nginxlog)      http://127.0.0.1:{port}/
  metrics (Prometheus text; OpenMetrics on Accept) http://127.0.0.1:{port}/metrics
  all families as JSON                            http://127.0.0.1:{port}/api/v1/metrics
  health (application/health+json)                http://127.0.0.1:{port}/api/v1/health/prometheus
  liveness                                        http://127.0.0.1:{port}/api/v1/health/live""", flush=True)
        if prom:
            print(f"""  Prometheus targets                              http://127.0.0.1:{prom_port}/targets
  Prometheus query                                http://127.0.0.1:{prom_port}/graph?g0.expr=sum%20by%20(route)%20(rate(http_requests_total%5B1m%5D))""",
                  flush=True)
        else:
            print("  (prometheus is not installed: `make deps` installs it)", flush=True)
        print(f"\n  logs: {run_dir}/*.log    segment: {segment}    Ctrl-C stops everything\n", flush=True)
        if prom:
            prom.wait_target_up(timeout=30)
            print("Prometheus: target 127.0.0.1:%d UP" % port, flush=True)

        while True:
            for proc in started:
                if not proc.alive():
                    print(f"stack.py: {proc.name} exited with {proc.returncode}; its log:\n{proc.log()[-3000:]}",
                          file=sys.stderr, flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        # A second Ctrl-C (or `timeout -s INT` repeating itself) must not cut
        # the shutdown short and leave servers running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if traffic:
            traffic.stop()
        for proc in reversed(started):
            proc.stop(timeout=10)
        if os.path.exists(segment):
            os.unlink(segment)
        print("stopped: " + ", ".join(f"{p.name} (pid {p.pid})" for p in started), flush=True)


def main(argv):
    if argv[1:] != ["run"]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return run()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
