#!/usr/bin/python3
"""deploy/systemd checked by systemd's own tools (no systemd runs as PID 1
here, so these are the checks there are):
  - `systemd-analyze verify` on the units, their ExecStart pointing at the
    built worker and their Documentation= at deploy/man: no output at all;
  - `systemd-analyze security --offline` rates the service SAFE;
  - `systemd-sysusers --root` and `systemd-tmpfiles --root` apply the
    sysusers.d and tmpfiles.d files to a scratch root: the user, the group
    and /run/fastprom with the documented owner and mode;
  - the worker itself accepts the service's command line (--check-config),
    and nginx's snippet connects where the socket unit listens.
Socket activation itself (LISTEN_FDS, fd 3) runs for real in
test_deploy_spawnfcgi.py.
"""
import glob
import os
import re
import shutil
import stat
import unittest

from deploy_support import DEPLOY, ROOT, WORKER, run, systemd_exposure, systemd_verify, temp_dir, unit_settings

SYSTEMD = os.path.join(DEPLOY, "systemd")
SERVICE = os.path.join(SYSTEMD, "fastprom-fcgi.service")
SOCKET = os.path.join(SYSTEMD, "fastprom-fcgi.socket")
UNIT_WORKER_PATH = "/usr/sbin/fastprom-fcgi"


def require_worker(testcase):
    if not os.access(WORKER, os.X_OK):
        testcase.fail(f"{WORKER} is missing: run `make` first (make check-deploy does)")


class VerifyTest(unittest.TestCase):
    def test_units_verify_without_a_single_warning(self):
        require_worker(self)
        self.assertEqual(systemd_verify(temp_dir(self), (SOCKET, SERVICE), UNIT_WORKER_PATH, WORKER), (0, ""))

    def test_security_review_rates_the_service_safe(self):
        exposure, rating = systemd_exposure(SERVICE)
        print(f"\n  systemd-analyze security: exposure {exposure} {rating}", end=" ")
        self.assertEqual(rating, "SAFE")
        self.assertLessEqual(exposure, 1.0)

    def test_the_hardening_the_issue_asks_for(self):
        s = unit_settings(SERVICE)
        for key, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                           ("PrivateTmp", "yes"), ("RestrictAddressFamilies", "AF_UNIX"),
                           ("MemoryDenyWriteExecute", "yes"), ("User", "fastprom"),
                           ("RuntimeDirectory", "fastprom"), ("ExecReload", "/bin/kill -HUP $MAINPID")):
            self.assertEqual(s.get(key), [value], key)
        self.assertIn("@system-service", s["SystemCallFilter"])
        self.assertNotIn("DynamicUser", s, "the segment's group needs a static user (sysusers.d)")


class SocketTest(unittest.TestCase):
    def test_socket_is_for_nginx_only(self):
        s = unit_settings(SOCKET)
        self.assertEqual(s["ListenStream"], ["/run/fastprom/fastprom-fcgi.sock"])
        self.assertEqual((s["SocketMode"], s["SocketUser"], s["SocketGroup"]),
                         (["0660"], ["fastprom"], ["www-data"]))
        self.assertEqual(run(["getent", "group", "www-data"]).returncode, 0)

    def test_nginx_snippet_connects_where_the_socket_listens(self):
        listen = unit_settings(SOCKET)["ListenStream"][0]
        passes = set()
        for path in glob.glob(os.path.join(ROOT, "conf/nginx/**/*"), recursive=True):
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as f:
                    passes |= set(re.findall(r"^\s*fastcgi_pass\s+unix:([^;\s]+)\s*;", f.read(), re.M))
        self.assertTrue(passes, "conf/nginx has no fastcgi_pass unix:...")
        self.assertEqual(passes, {listen})


class ServiceCommandLineTest(unittest.TestCase):
    def test_the_worker_accepts_the_services_command_line(self):
        require_worker(self)
        argv = unit_settings(SERVICE)["ExecStart"][0].split()
        self.assertEqual(argv[0], UNIT_WORKER_PATH)
        conf = os.path.join(ROOT, "conf/fastprom.json")
        self.assertIn("--config", argv)
        argv[argv.index("--config") + 1] = conf
        self.assertEqual(argv[argv.index("--segment") + 1], "/run/fastprom/segment")
        run([WORKER] + argv[1:] + ["--check-config"], timeout=20)


class SysusersTmpfilesTest(unittest.TestCase):
    def test_user_group_and_runtime_directory(self):
        root = temp_dir(self)
        os.makedirs(os.path.join(root, "etc"))
        run(["systemd-sysusers", f"--root={root}", os.path.join(SYSTEMD, "fastprom.sysusers.conf")])
        with open(os.path.join(root, "etc/passwd")) as f:
            users = {line.split(":")[0]: line.rstrip("\n").split(":") for line in f}
        with open(os.path.join(root, "etc/group")) as f:
            groups = {line.split(":")[0]: line.rstrip("\n").split(":") for line in f}
        self.assertIn("fastprom", users)
        self.assertIn("fastprom", groups)
        uid, gid = int(users["fastprom"][2]), int(groups["fastprom"][2])
        self.assertLess(uid, 1000, "a system user")
        self.assertEqual(int(users["fastprom"][3]), gid)
        self.assertTrue(users["fastprom"][6].endswith("nologin"), users["fastprom"])

        run(["systemd-tmpfiles", f"--root={root}", "--create", os.path.join(SYSTEMD, "fastprom.tmpfiles.conf")])
        st = os.stat(os.path.join(root, "run/fastprom"))
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o2771)
        self.assertEqual((st.st_uid, st.st_gid), (uid, gid))
        # The service's own RuntimeDirectory= must agree, or a restart would
        # change what the applications may do.
        s = unit_settings(SERVICE)
        self.assertEqual(s["RuntimeDirectoryMode"], ["2771"])
        self.assertEqual(s["RuntimeDirectoryPreserve"], ["yes"])
        self.assertEqual((s["User"], s["Group"]), (["fastprom"], ["fastprom"]))
        shutil.rmtree(os.path.join(root, "run"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
