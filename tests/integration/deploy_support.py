"""Helpers for the deploy tests (tests/integration/test_deploy_*.py): paths,
bounded subprocess runs, a real Prometheus started from
deploy/prometheus/prometheus.yml, and systemd's system call groups.

Servers the worker's tests also need (nginx, the worker, the demo writer)
come from harness.py; this file only adds what the deploy files need.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse

import yaml

import harness

ROOT, BUILD, WORKER, DEMO = harness.ROOT, harness.BUILD, harness.WORKER, harness.DEMO
DEPLOY = os.path.join(ROOT, "deploy")
PROMETHEUS_DIR = os.path.join(DEPLOY, "prometheus")
DASHBOARD = os.path.join(DEPLOY, "grafana/dashboards/fastprom.json")
MAN_PAGES = {"fastprom.1": "1", "libfastprom.3": "3", "fastprom-fcgi.8": "8", "fastprom-nginxlog.8": "8"}


def run(argv, timeout=60, check=True, **kw):
    """Runs argv with a time limit; on failure the message shows its output."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    proc = subprocess.run(argv, timeout=timeout, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_dashboard():
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def dashboard_targets(dash):
    """(panel title, refId, expr) of every query target, rows included."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p["title"], t["refId"], t["expr"]))
            walk(p.get("panels", []))
    walk(dash["panels"])
    return out


def grafana_substitute(expr, variables, rate_interval, interval):
    """Expands Grafana's variables the way Grafana would before sending the
    query: $__rate_interval / $__interval / $__range, and template variables
    (multi-value, regex-formatted as (a|b))."""
    for name, value in (("__rate_interval", rate_interval), ("__interval", interval),
                        ("__range", "5m")):
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    for name in sorted(variables, key=len, reverse=True):
        values = variables[name]
        # Regex-escaped, then escaped again for the PromQL string: "a\\.b".
        value = "(" + "|".join(re.escape(v).replace("\\", "\\\\") for v in values) + ")"
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    return expr


def start_prometheus(tmp, targets, scrape_interval="1s", testcase=None):
    """A real Prometheus running deploy/prometheus/prometheus.yml and its
    rules, adapted only where a test must: short intervals, its own port, the
    targets file naming the test's nginx, absolute paths. Returns a
    harness.Prometheus (query(), value(), wait_target_up())."""
    top = os.path.join(tmp, "prometheus-deploy")
    os.makedirs(os.path.join(top, "targets"))
    port = harness.free_port()
    cfg = load_yaml(os.path.join(PROMETHEUS_DIR, "prometheus.yml"))
    cfg["global"].update(scrape_interval=scrape_interval, scrape_timeout=scrape_interval,
                         evaluation_interval=scrape_interval)
    cfg["rule_files"] = [os.path.join(PROMETHEUS_DIR, r) for r in cfg["rule_files"]]
    for am in cfg["alerting"]["alertmanagers"]:
        for sd in am["file_sd_configs"]:
            sd["files"] = [os.path.join(PROMETHEUS_DIR, f) for f in sd["files"]]
    for job in cfg["scrape_configs"]:
        job.update(scrape_interval=scrape_interval, scrape_timeout=scrape_interval)
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        else:
            job["file_sd_configs"] = [{"files": [os.path.join(top, "targets/*.yml")]}]
    with open(os.path.join(top, "targets/test.yml"), "w") as f:
        yaml.safe_dump([{"targets": targets, "labels": {"env": "test"}}], f)
    config = os.path.join(top, "prometheus.yml")
    with open(config, "w") as f:
        yaml.safe_dump(cfg, f)
    run(["promtool", "check", "config", config])
    argv = ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={top}/data",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    prom = harness.start_process(argv, tmp, "prometheus-deploy", testcase=testcase, cls=harness.Prometheus)
    prom.port = port

    def ready():
        if not prom.alive():
            raise AssertionError(f"prometheus exited:\n{prom.log()}")
        return harness.http_get(f"http://127.0.0.1:{port}/-/ready", timeout=2).status == 200
    harness.wait_until(ready, 30, interval=0.2, what=f"Prometheus on port {port}")
    return prom


def prometheus_api(prom, path, **params):
    """data of a Prometheus HTTP API answer (/api/v1/rules, /api/v1/series...)."""
    url = f"http://127.0.0.1:{prom.port}{path}?" + urllib.parse.urlencode(params)
    r = harness.http_get(url)
    doc = json.loads(r.body)
    if r.status != 200 or doc.get("status") != "success":
        raise AssertionError(f"{path} {params}: HTTP {r.status}: {doc}")
    return doc["data"]


def syscall_group(name, _cache={}):
    """The system calls a systemd filter group (like @system-service) allows,
    nested groups expanded, as systemd-analyze lists them."""
    if name in _cache:
        return _cache[name]
    text = run(["systemd-analyze", "syscall-filter", name]).stdout
    calls = set()
    for line in text.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= syscall_group(word) if word.startswith("@") else {word}
    _cache[name] = calls
    return calls


def unit_settings(path):
    """{key: [values]} of a systemd unit file, all sections together."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;[" or "=" not in line:
                continue
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def systemd_verify(workdir, units, installed_binary, built_binary):
    """`systemd-analyze verify` on unit files copied into workdir with the
    installed binary's path replaced by the built one, deploy/man on
    MANPATH (Documentation=man:... is checked). Returns (exit code, output):
    (0, "") is a clean bill."""
    for unit in units:
        with open(unit, encoding="utf-8") as f:
            text = f.read().replace(installed_binary, built_binary)
        with open(os.path.join(workdir, os.path.basename(unit)), "w", encoding="utf-8") as f:
            f.write(text)
    env = dict(os.environ, MANPATH=man_tree(workdir))
    out = run(["systemd-analyze", "verify"] + [os.path.basename(u) for u in units], cwd=workdir, env=env,
              check=False)
    return out.returncode, out.stdout + out.stderr


def systemd_exposure(service):
    """(exposure, rating) from `systemd-analyze security --offline` for a
    service unit file, e.g. (0.8, "SAFE"); AssertionError if not found."""
    out = run(["systemd-analyze", "security", "--offline=true", "--no-pager", service])
    name = re.escape(os.path.basename(service))
    m = re.search(rf"Overall exposure level for {name}: (\d+\.\d+) (\w+)", out.stdout)
    if not m:
        raise AssertionError(f"no exposure level in:\n{out.stdout}")
    return float(m.group(1)), m.group(2)


def man_tree(workdir):
    """A MANPATH directory holding deploy/man's pages, for tools that look
    pages up by name (systemd-analyze verify checks Documentation=)."""
    top = os.path.join(workdir, "man")
    for page, section in MAN_PAGES.items():
        os.makedirs(os.path.join(top, "man" + section), exist_ok=True)
        shutil.copy(os.path.join(DEPLOY, "man", page), os.path.join(top, "man" + section, page))
    return top


def temp_dir(owner, prefix="fastprom-deploy-"):
    """A scratch directory removed when the test (or, for a class, the
    whole class) is done."""
    d = tempfile.mkdtemp(prefix=prefix)
    cleanup = owner.addClassCleanup if isinstance(owner, type) else owner.addCleanup
    cleanup(shutil.rmtree, d, True)
    return d
