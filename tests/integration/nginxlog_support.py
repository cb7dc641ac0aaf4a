"""nginxlog_support.py - what the fastprom-nginxlog tests add to harness.py:
the daemon and nginx configured with the shipped snippet
(conf/nginx/fastprom-nginxlog.conf) aimed at the daemon's socket, which
deploy/stack/nginxlog.py starts (`make run` uses it too), and reading the
exported families back through the worker's /metrics.

    start_nginxlog(tmp, segment, config=None, ...) -> Process with .socket
    nginxlog_http_extra(socket_path)               -> the snippet, adapted
    start_stack(testcase, site, config=None)       -> Stack(tmp, segment, daemon, worker, nginx)
    Stack.metrics()                                -> [(name, labels, value)] from /metrics
    Stack.wait_datagrams(n)                        -> waits until the daemon received and recorded n
"""
import os

import harness
from nginxlog import (  # noqa: F401 - re-exported for the tests
    NGINXLOG, SNIPPET, SNIPPET_SOCKET, DemoTraffic, nginxlog_http_extra, queue_limit_argv, start_nginxlog)


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

    def processed(self, samples=None):
        """Datagrams the daemon is done with: recorded, malformed or dropped.
        It counts a datagram as received before it parses and records it, and
        as one of these three last, so once they reach n, every update of the
        first n datagrams is in the segment."""
        samples = self.metrics() if samples is None else samples
        return sum(v for name, _, v in samples
                   if name in ("nginxlog_lines_recorded_total", "nginxlog_malformed_total", "nginxlog_dropped_total"))

    def wait_datagrams(self, n, timeout=10):
        """Waits until the daemon received and finished n datagrams; returns
        how many it received (n, unless more came)."""
        try:
            # Not nginxlog_datagrams_total >= n: a scrape between the receive
            # and the record would show the datagram counted but its request
            # not yet in nginx_http_requests_total.
            harness.wait_until(lambda: self.processed() >= n, timeout,
                               what=f"fastprom-nginxlog to receive and record {n} datagrams")
        except TimeoutError as e:
            with open(os.path.join(self.tmp, "nginx", "error.log"), errors="replace") as f:
                errors = f.read()[-2000:]
            raise AssertionError(f"{e}; received {self.value('nginxlog_datagrams_total')}, "
                                 f"finished {self.processed()}\n"
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
