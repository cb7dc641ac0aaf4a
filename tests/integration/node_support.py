#!/usr/bin/python3
"""node_support.py - what the Node package's integration tests share
(test_node_*.py): starting a src/node example (or any script) with node on a
free port writing a given segment, waiting until it answers /health, and the
whole stack (the app + fastprom-fcgi + nginx with the app at "location /").
Servers come from harness.py (free ports, temp dirs, stopped by PID).
"""
import os
import shutil

import harness
import python_support

NODE = shutil.which("node") or "/usr/bin/node"
NODE_SRC = os.path.join(harness.ROOT, "src", "node")
EXAMPLES = os.path.join(NODE_SRC, "examples")


def node_env(segment, extra=None):
    env = {"FASTPROM_PATH": segment,
           "FASTPROM_NODE_ADDON": os.path.join(harness.BUILD, "node", "fastprom.node")}
    env.update(extra or {})
    return env


def start_node_app(script, tmp, segment, testcase, env=None, name="node", health=True):
    """node <script> with PORT set to a free port; waits for GET /health."""
    port = harness.free_port()
    proc = harness.start_process([NODE, script], tmp, name, env=node_env(segment, dict(env or {}, PORT=str(port))),
                                 testcase=testcase)
    proc.port = port
    if health:
        python_support.wait_healthy(proc, name)
    return proc


def start_stack(script, tmp, testcase, env=None):
    segment = os.path.join(tmp, "segment")
    app = start_node_app(script, tmp, segment, testcase, env=env)
    worker = harness.start_worker(tmp, segment, testcase=testcase)
    nginx = harness.start_nginx(tmp, worker.socket, site=python_support.SITE % app.port, testcase=testcase)
    return python_support.Stack(app, worker, nginx)
