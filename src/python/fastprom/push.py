"""Pushing a registry's segment to a Prometheus Pushgateway, with
prometheus_client's functions and arguments, for batch jobs.

    registry = fastprom.CollectorRegistry()      # this job's own metrics
    ...
    fastprom.push_to_gateway("pushgw:9091", job="nightly", registry=registry)

What is pushed is the registry's segment rendered in text format: with a
private CollectorRegistry() the job's metrics, with REGISTRY the shared
segment (every process's metrics). URL layout, grouping-key escaping
(base64 for values that are empty or contain "/") and methods (PUT
replaces the group, POST replaces the pushed families, DELETE removes the
group) follow the Pushgateway's API. handler= takes prometheus_client's
handler signature, so its basic_auth_handler and tls_auth_handler also work.
"""
import base64
import socket
import urllib.request
from urllib.parse import quote_plus, urlparse

from .exposition import CONTENT_TYPE_LATEST, generate_latest
from .registry import REGISTRY


def default_handler(url, method, timeout, headers, data):
    """Returns a function doing the HTTP request; it raises OSError
    (urllib's HTTPError / URLError) when the gateway refuses or cannot be
    reached."""

    def handle():
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()

    return handle


def push_to_gateway(gateway, job, registry, grouping_key=None, timeout=30, handler=default_handler):
    """Replaces every metric of the (job, grouping_key) group (HTTP PUT)."""
    _use_gateway("PUT", gateway, job, registry, grouping_key, timeout, handler)


def pushadd_to_gateway(gateway, job, registry, grouping_key=None, timeout=30, handler=default_handler):
    """Replaces the group's metrics that have the pushed names (HTTP POST)."""
    _use_gateway("POST", gateway, job, registry, grouping_key, timeout, handler)


def delete_from_gateway(gateway, job, grouping_key=None, timeout=30, handler=default_handler):
    """Deletes the (job, grouping_key) group (HTTP DELETE)."""
    _use_gateway("DELETE", gateway, job, None, grouping_key, timeout, handler)


def instance_ip_grouping_key():
    """{"instance": this host's address}, as a grouping key."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("localhost", 0))  # UDP: no packet sent, the kernel picks the source address
        return {"instance": s.getsockname()[0]}


def _escape_grouping_key(name, value):
    if value == "":
        return name + "@base64", "="
    if "/" in value:
        return name + "@base64", base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii")
    return name, quote_plus(value)


def _use_gateway(method, gateway, job, registry, grouping_key, timeout, handler):
    if urlparse(gateway).scheme not in ("http", "https"):
        gateway = "http://" + gateway
    url = gateway.rstrip("/") + "/metrics/{}/{}".format(*_escape_grouping_key("job", job))
    for name, value in sorted((grouping_key or {}).items()):
        url += "/{}/{}".format(*_escape_grouping_key(str(name), str(value)))
    data = b"" if method == "DELETE" else generate_latest(registry if registry is not None else REGISTRY)
    handler(url=url, method=method, timeout=timeout, headers=[("Content-Type", CONTENT_TYPE_LATEST)], data=data)()
