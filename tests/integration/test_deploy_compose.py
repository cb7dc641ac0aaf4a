#!/usr/bin/python3
"""deploy/docker-compose.yml checked without Docker (no engine runs here):
the YAML parses, every file it builds from or mounts exists, and what the
services must agree on does agree: ports (nginx's listen, the published
ports, Prometheus' target and listen address, Grafana's data source), the
socket path (worker flag, conf/nginx snippet), the segment path (demo and
worker), the shared volume and its owner (Dockerfile uid/gid). The pieces
are then fed to their own tools as the containers would see them: `nginx -t`
on the site with the shipped snippet, `promtool check config` on the
Prometheus directory with the compose targets, and the worker's
--check-config on its compose command line.
"""
import os
import re
import shutil
import unittest

import harness
from deploy_support import DEPLOY, ROOT, WORKER, load_yaml, run, temp_dir

COMPOSE = os.path.join(DEPLOY, "docker-compose.yml")
SERVICES = {"demo", "fastprom-fcgi", "nginx", "prometheus", "grafana"}


def flag(argv, name):
    return argv[argv.index(name) + 1]


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.doc = load_yaml(COMPOSE)
        cls.svc = cls.doc["services"]

    def mounts(self, service):
        """{container path: host path (absolute) or volume name}."""
        out = {}
        for spec in self.svc[service].get("volumes", []):
            source, target = spec.split(":")[:2]
            if source.startswith((".", "/")):
                source = os.path.normpath(os.path.join(DEPLOY, source))
            out[target] = source
        return out

    def mount_source(self, service, container_path):
        """The host file behind a container path, through the mounts."""
        best = max((t for t in self.mounts(service) if container_path == t or container_path.startswith(t + "/")),
                   key=len)
        return self.mounts(service)[best] + container_path[len(best):]

    def test_services_and_files(self):
        self.assertEqual(set(self.svc), SERVICES)
        for name, s in self.svc.items():
            self.assertTrue(s.get("image"), f"{name}: an image")
            if "build" in s:
                context = os.path.normpath(os.path.join(DEPLOY, s["build"]["context"]))
                self.assertEqual(context, ROOT)
                self.assertTrue(os.path.isfile(os.path.join(context, s["build"]["dockerfile"])))
            for target, source in self.mounts(name).items():
                if source.startswith("/"):
                    self.assertTrue(os.path.exists(source), f"{name}: {source} (mounted at {target}) is missing")
                else:
                    self.assertIn(source, self.doc["volumes"], f"{name}: undeclared volume {source}")

    def test_the_shared_runtime_volume(self):
        socket = flag(self.svc["fastprom-fcgi"]["command"], "--socket")
        segment = flag(self.svc["fastprom-fcgi"]["command"], "--segment")
        self.assertEqual(flag(self.svc["demo"]["command"], "--path"), segment)
        for name, path in (("demo", segment), ("fastprom-fcgi", segment), ("fastprom-fcgi", socket),
                           ("nginx", socket)):
            self.assertEqual(self.mount_source(name, os.path.dirname(path)), "fastprom-run", (name, path))
        # The snippet nginx includes passes to the worker's socket.
        snippet = self.mount_source("nginx", "/etc/nginx/snippets/fastprom-locations.conf")
        with open(snippet) as f:
            self.assertEqual(set(re.findall(r"fastcgi_pass unix:([^;]+);", f.read())), {socket})
        # The volume belongs to the image's fastprom user.
        with open(os.path.join(DEPLOY, "docker/Dockerfile")) as f:
            dockerfile = f.read()
        uid = re.search(r"useradd --system --uid (\d+)", dockerfile).group(1)
        gid = re.search(r"groupadd --system --gid (\d+)", dockerfile).group(1)
        opts = self.doc["volumes"]["fastprom-run"]["driver_opts"]
        self.assertEqual(opts["type"], "tmpfs")
        self.assertEqual(dict(kv.split("=") for kv in opts["o"].split(",")),
                         {"uid": uid, "gid": gid, "mode": "2771"})
        self.assertEqual(self.svc["demo"]["user"], "fastprom")
        self.assertEqual(flag(self.svc["fastprom-fcgi"]["command"], "--user"), "fastprom")

    def test_ports_agree(self):
        site = self.mount_source("nginx", "/etc/nginx/sites-enabled/fastprom-demo.conf")
        with open(site) as f:
            listen = int(re.search(r"^\s*listen\s+(\d+)", f.read(), re.M).group(1))
        published = {int(p.split(":")[1]): int(p.split(":")[0]) for p in self.svc["nginx"]["ports"]}
        self.assertIn(listen, published)
        # Prometheus lives in nginx's network namespace: its port is nginx's.
        self.assertEqual(self.svc["prometheus"]["network_mode"], "service:nginx")
        prom_port = int(next(a for a in self.svc["prometheus"]["command"]
                             if a.startswith("--web.listen-address=")).rsplit(":", 1)[1])
        self.assertIn(prom_port, published)
        self.assertIn("prometheus", self.svc["nginx"]["networks"]["default"]["aliases"])
        # Its targets: nginx on loopback, which the snippet allows.
        targets_dir = self.mount_source("prometheus", "/etc/prometheus/targets")
        targets = [t for f in os.listdir(targets_dir) for g in load_yaml(os.path.join(targets_dir, f))
                   for t in g["targets"]]
        self.assertEqual(targets, [f"localhost:{listen}"])
        prom_cfg = load_yaml(self.mount_source("prometheus", "/etc/prometheus/prometheus.yml"))
        self_job = next(j for j in prom_cfg["scrape_configs"] if j["job_name"] == "prometheus")
        self.assertEqual(self_job["static_configs"][0]["targets"], [f"localhost:{prom_port}"])
        # Grafana reaches Prometheus by the alias.
        ds = load_yaml(self.mount_source("grafana", "/etc/grafana/provisioning/datasources/prometheus.yml"))
        self.assertEqual(ds["datasources"][0]["url"], f"http://prometheus:{prom_port}")
        self.assertEqual(ds["datasources"][0]["jsonData"]["timeInterval"], prom_cfg["global"]["scrape_interval"])
        provider = load_yaml(self.mount_source("grafana", "/etc/grafana/provisioning/dashboards/fastprom.yml"))
        dashboards = self.mount_source("grafana", provider["providers"][0]["options"]["path"])
        self.assertTrue(os.path.isfile(os.path.join(dashboards, "fastprom.json")))

    def test_nginx_accepts_the_site_and_snippet(self):
        tmp = harness.make_temp_dir(self)
        snippet = os.path.join(tmp, "fastprom-locations.conf")
        shutil.copy(self.mount_source("nginx", "/etc/nginx/snippets/fastprom-locations.conf"), snippet)
        with open(self.mount_source("nginx", "/etc/nginx/sites-enabled/fastprom-demo.conf")) as f:
            site = f.read().replace("/etc/nginx/snippets/fastprom-locations.conf", snippet)
        shutil.copy("/etc/nginx/fastcgi_params", os.path.join(tmp, "fastcgi_params"))
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
                    f"http {{\n{site}\n}}\n")
        run(["nginx", "-t", "-q", "-p", tmp, "-e", os.path.join(tmp, "error.log"), "-c", conf])

    def test_promtool_accepts_the_compose_prometheus_directory(self):
        work = temp_dir(self)
        etc = os.path.join(work, "prometheus")
        shutil.copytree(self.mount_source("prometheus", "/etc/prometheus"), etc)
        shutil.rmtree(os.path.join(etc, "targets"))
        shutil.copytree(self.mount_source("prometheus", "/etc/prometheus/targets"), os.path.join(etc, "targets"))
        out = run(["promtool", "check", "config", os.path.join(etc, "prometheus.yml")])
        self.assertNotIn("WARNING", out.stdout + out.stderr)

    def test_the_worker_accepts_its_compose_command_line(self):
        argv = list(self.svc["fastprom-fcgi"]["command"])
        self.assertEqual(argv[0], "fastprom-fcgi")
        config = flag(argv, "--config")
        argv[argv.index("--config") + 1] = self.mount_source("fastprom-fcgi", config)
        # The image's fastprom user does not exist on this machine.
        argv[argv.index("--user") + 1] = "nobody"
        run([WORKER] + argv[1:] + ["--check-config"], timeout=20)


if __name__ == "__main__":
    unittest.main(verbosity=2)
