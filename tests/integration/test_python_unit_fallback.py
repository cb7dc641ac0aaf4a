#!/usr/bin/python3
"""Monitoring never takes an application down (issue 12, item 5): when the
shared segment cannot be created or attached, an app that creates its
metrics at import still starts and runs.

For each cause -- no space (a 512 KiB tmpfs), permission denied (a segment
the app's user may not open), another layout version, a corrupt file -- a
fresh interpreter imports fastprom with FASTPROM_PATH at the bad segment,
creates and updates metrics at import time, and must:
 - exit normally, its metrics counted exactly (in-process exposition);
 - emit exactly one FastpromWarning naming the path, the problem and the
   fix (or one log line instead when the app configured logging);
 - show fastprom_segment_fallback_total{path,reason} 1.
"""
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import harness
import python_support

APP = r"""
import json, logging, sys, warnings
if sys.argv[1] == "logging":
    logging.basicConfig(stream=sys.stdout, format="LOG %(name)s %(levelname)s %(message)s")
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import fastprom
    hits = fastprom.Counter("app_hits", "Hits.", ["route"])   # at import time, as apps do
    latency = fastprom.Histogram("app_latency_seconds", "Latency.")
    for i in range(10):
        hits.labels("/a").inc()
        latency.observe(0.1)
from prometheus_client.parser import text_string_to_metric_families
samples = {}
for fam in text_string_to_metric_families(fastprom.generate_latest().decode()):
    for s in fam.samples:
        samples[s.name + json.dumps(s.labels, sort_keys=True)] = s.value
print(json.dumps({"warnings": [str(w.message) for w in caught if issubclass(w.category, fastprom.FastpromWarning)],
                  "fallback": fastprom.REGISTRY.fallback, "samples": samples}))
"""


class Fallback(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="fastprom-fallback-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_app(self, segment, env=None, mode="warnings", user=None, pythonpath=None):
        full = {"PATH": os.environ["PATH"], "PYTHONPATH": pythonpath or python_support.PYTHON_SRC,
                "FASTPROM_BUILD": harness.BUILD, "FASTPROM_PATH": segment, "PYTHONDONTWRITEBYTECODE": "1"}
        full.update(env or {})
        p = subprocess.run([sys.executable, "-c", APP, mode], env=full, capture_output=True, text=True, timeout=60,
                           cwd=self.tmp, user=user)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        return json.loads(lines[-1]), lines[:-1], p.stderr

    def check(self, segment, reason, fix_words, **kw):
        out, log, _ = self.run_app(segment, **kw)
        self.assertEqual(out["samples"]['app_hits_total{"route": "/a"}'], 10)
        self.assertEqual(out["samples"]["app_latency_seconds_count{}"], 10)
        self.assertEqual(out["samples"][f'fastprom_segment_fallback_total{{"path": "{segment}", "reason": "{reason}"}}'],
                         1)
        self.assertEqual(len(out["warnings"]), 1, out["warnings"])
        text = out["warnings"][0]
        self.assertEqual(out["fallback"], text)
        self.assertIn(segment, text)
        self.assertIn("private in-process segment", text)
        for word in fix_words:
            self.assertIn(word, text)
        self.assertEqual(log, [])
        return text

    def valid_segment(self, path):
        cli = os.path.join(harness.BUILD, "fastprom")
        subprocess.run([cli, "init"], env=dict(os.environ, FASTPROM_PATH=path), check=True, capture_output=True,
                       timeout=30)
        self.assertTrue(os.path.exists(path))

    def test_no_space(self):
        mnt = os.path.join(self.tmp, "small")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a small tmpfs here (needs root): the no-space case is not exercised")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        segment = os.path.join(mnt, "segment")
        self.check(segment, "no_space", ["No space left", "FASTPROM_SIZE"], env={"FASTPROM_SIZE": "8M"})
        self.assertFalse(os.path.exists(segment), "a failed creation leaves no segment behind")

    def test_permission_denied(self):
        segment = os.path.join(self.tmp, "segment")
        self.valid_segment(segment)
        os.chmod(segment, 0o600)
        user = None
        pythonpath = None
        if os.geteuid() == 0:
            # root opens anything: run the app as nobody, from a copy of the
            # package it can read wherever this tree lives.
            site = os.path.join(self.tmp, "site")
            shutil.copytree(os.path.join(python_support.PYTHON_SRC, "fastprom"), os.path.join(site, "fastprom"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            for ext in glob.glob(os.path.join(harness.BUILD, "python", "fastprom", "_native*.so")):
                shutil.copy(ext, os.path.join(site, "fastprom"))
            for dirpath, dirnames, filenames in os.walk(site):
                os.chmod(dirpath, 0o755)
                for f in filenames:
                    os.chmod(os.path.join(dirpath, f), 0o644)
            user, pythonpath = "nobody", site
        self.check(segment, "permission", ["Permission denied", "FASTPROM_PATH"], user=user, pythonpath=pythonpath)

    def test_another_layout_version(self):
        segment = os.path.join(self.tmp, "segment")
        self.valid_segment(segment)
        with open(segment, "r+b") as f:
            f.seek(8)  # struct fp_header: magic (8 bytes), then the layout version
            f.write(struct.pack("<I", 99))
        self.check(segment, "layout_version", ["version", "remove " + segment])

    def test_corrupt(self):
        segment = os.path.join(self.tmp, "segment")
        with open(segment, "wb") as f:
            f.write(os.urandom(512 << 10))
        self.check(segment, "corrupt", ["remove " + segment])

    def test_one_log_line_instead_when_the_app_logs(self):
        segment = os.path.join(self.tmp, "segment")
        with open(segment, "wb") as f:
            f.write(b"\0" * (512 << 10))
        out, log, _ = self.run_app(segment, mode="logging")
        self.assertEqual(out["warnings"], [])
        self.assertEqual(len(log), 1, log)
        self.assertTrue(log[0].startswith("LOG fastprom WARNING fastprom: cannot use the shared segment " + segment),
                        log)

    def test_a_good_segment_has_no_fallback(self):
        segment = os.path.join(self.tmp, "segment")
        out, log, _ = self.run_app(segment)
        self.assertIsNone(out["fallback"])
        self.assertEqual(out["warnings"], [])
        self.assertFalse(any(k.startswith("fastprom_segment_fallback") for k in out["samples"]))


if __name__ == "__main__":
    unittest.main(verbosity=1)
