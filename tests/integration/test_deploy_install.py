#!/usr/bin/python3
"""`make install` / `make uninstall` checked by the tools that consume the
installed files:
  - a C program built with `pkg-config --cflags --libs fastprom` (and
    `--static` against libfastprom.a) from a DESTDIR-staged tree runs;
  - the Python package imports from the staged site directory and records
    into a segment the installed CLI reads back; installed under a PREFIX it
    finds its installed extension by itself (no FASTPROM_BUILD);
  - `man -l` renders every page without a warning;
  - `systemd-analyze verify` accepts the installed units as installed;
  - `make uninstall` leaves nothing behind, except a configuration file the
    administrator edited.
"""
import glob
import os
import re
import stat
import unittest

from deploy_support import MAN_PAGES, ROOT, run, temp_dir

PY_PACKAGE = os.path.join(ROOT, "src/python/fastprom")
VERSION = re.search(r'#define FASTPROM_VERSION "([^"]+)"',
                    open(os.path.join(ROOT, "include/fastprom.h")).read()).group(1)

PROGRAM = r"""
#include <fastprom.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    fastprom_error_t err;
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE};
    fastprom_t *fp = fastprom_open(&opt, &err);
    if (!fp) {
        fprintf(stderr, "open: %s\n", err.text);
        return 1;
    }
    fastprom_family_def_t def = {.type = FASTPROM_COUNTER, .name = "deploy_install_total",
                                 .help = "Counted by the install test."};
    fastprom_family_t *family = fastprom_family(fp, &def, &err);
    fastprom_series_t *series = family ? fastprom_series(family, NULL, NULL, &err) : NULL;
    if (!series) {
        fprintf(stderr, "family/series: %s\n", err.text);
        return 1;
    }
    fastprom_inc(series, 3);
    fastprom_render_options_t ro = {.format = FASTPROM_FORMAT_TEXT};
    fastprom_buf_t out = {0};
    if (fastprom_render(fp, &ro, &out, &err) != 0) {
        fprintf(stderr, "render: %s\n", err.text);
        return 1;
    }
    fwrite(out.data, 1, out.len, stdout);
    printf("version %s\n", fastprom_version());
    fastprom_buf_free(&out);
    fastprom_close(fp);
    return 0;
}
"""

PY_CHECK = r"""
import os, sys
import fastprom
print("module", fastprom.__file__)
c = fastprom.Counter("deploy_python_total", "Counted by the install test.")
c.inc(2)
print("native", fastprom._native.__file__)
"""


def make(*args, **kw):
    return run(["make", "-s", "--no-print-directory", "-C", ROOT] + list(args), timeout=300, **kw)


def tree(top):
    """Every path under top, relative, directories marked with a /."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        out += [os.path.join(rel, d) + "/" for d in dirnames]
        out += [os.path.join(rel, f) for f in filenames]
    return sorted(p[2:] if p.startswith("./") else p for p in out)


def compile_and_run(testcase, work, cflags_libs, env, name):
    src = os.path.join(work, "prog.c")
    with open(src, "w") as f:
        f.write(PROGRAM)
    exe = os.path.join(work, name)
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", src, "-o", exe] + cflags_libs, env=env)
    out = run([exe], env=env).stdout
    testcase.assertRegex(out, r"(?m)^deploy_install_total 3(\.0)?$")
    testcase.assertIn(f"version {VERSION}", out)
    return exe


class StagedInstallTest(unittest.TestCase):
    """make install DESTDIR=<tmp> PREFIX=/usr, as a Debian package build does."""

    @classmethod
    def setUpClass(cls):
        cls.work = temp_dir(cls)
        cls.dest = os.path.join(cls.work, "stage")
        make("install", f"DESTDIR={cls.dest}", "PREFIX=/usr")

    @classmethod
    def tearDownClass(cls):
        make("uninstall", f"DESTDIR={cls.dest}", "PREFIX=/usr")

    def staged(self, path):
        return os.path.join(self.dest, path.lstrip("/"))

    def test_layout(self):
        lib = self.staged("/usr/lib")
        self.assertEqual(os.readlink(os.path.join(lib, "libfastprom.so")), "libfastprom.so.0")
        self.assertEqual(os.readlink(os.path.join(lib, "libfastprom.so.0")), f"libfastprom.so.{VERSION}")
        for path, mode in ((f"/usr/lib/libfastprom.so.{VERSION}", 0o644), ("/usr/lib/libfastprom.a", 0o644),
                           ("/usr/include/fastprom.h", 0o644), ("/usr/lib/pkgconfig/fastprom.pc", 0o644),
                           ("/usr/bin/fastprom", 0o755), ("/usr/sbin/fastprom-fcgi", 0o755),
                           ("/etc/fastprom/fastprom.json", 0o644),
                           ("/lib/systemd/system/fastprom-fcgi.socket", 0o644),
                           ("/lib/systemd/system/fastprom-fcgi.service", 0o644),
                           ("/usr/lib/sysusers.d/fastprom.conf", 0o644),
                           ("/usr/lib/tmpfiles.d/fastprom.conf", 0o644),
                           ("/usr/share/man/man1/fastprom.1", 0o644),
                           ("/usr/share/man/man3/libfastprom.3", 0o644),
                           ("/usr/share/man/man8/fastprom-fcgi.8", 0o644)):
            st = os.lstat(self.staged(path))
            self.assertTrue(stat.S_ISREG(st.st_mode), path)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, path)
        self.assertTrue(glob.glob(self.staged("/etc/fastprom/nginx/*")), "the nginx examples")
        # Installed files name final paths, never the staging directory.
        for path in (self.staged("/usr/lib/pkgconfig/fastprom.pc"),
                     self.staged("/lib/systemd/system/fastprom-fcgi.service")):
            with open(path) as f:
                self.assertNotIn(self.dest, f.read(), path)
        with open(self.staged("/lib/systemd/system/fastprom-fcgi.service")) as f:
            self.assertIn("ExecStart=/usr/sbin/fastprom-fcgi --config /etc/fastprom/fastprom.json", f.read())

    def test_pkg_config_shared(self):
        env = dict(os.environ, PKG_CONFIG_PATH=self.staged("/usr/lib/pkgconfig"), PKG_CONFIG_LIBDIR="",
                   PKG_CONFIG_SYSROOT_DIR=self.dest, PKG_CONFIG_ALLOW_SYSTEM_CFLAGS="1",
                   PKG_CONFIG_ALLOW_SYSTEM_LIBS="1", LD_LIBRARY_PATH=self.staged("/usr/lib"))
        self.assertEqual(run(["pkg-config", "--modversion", "fastprom"], env=env).stdout.strip(), VERSION)
        flags = run(["pkg-config", "--cflags", "--libs", "fastprom"], env=env).stdout.split()
        self.assertIn(f"-I{self.staged('/usr/include')}", flags)
        self.assertIn(f"-L{self.staged('/usr/lib')}", flags)
        exe = compile_and_run(self, self.work, flags, env, "prog_shared")
        ldd = run(["ldd", exe], env=env).stdout
        self.assertRegex(ldd, rf"libfastprom\.so\.0 => {re.escape(self.staged('/usr/lib'))}/libfastprom\.so\.0 ")

    def test_library_needs_only_libm_and_libc(self):
        # jansson is for the CLI, the worker and fastprom-nginxlog: an
        # application linking libfastprom must not load it.
        dynamic = run(["readelf", "-d", self.staged("/usr/lib/libfastprom.so.0")]).stdout
        needed = sorted(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
        self.assertEqual(needed, ["libc.so.6", "libm.so.6"], dynamic)

    def test_pkg_config_static(self):
        env = dict(os.environ, PKG_CONFIG_PATH=self.staged("/usr/lib/pkgconfig"), PKG_CONFIG_LIBDIR="",
                   PKG_CONFIG_SYSROOT_DIR=self.dest, PKG_CONFIG_ALLOW_SYSTEM_CFLAGS="1",
                   PKG_CONFIG_ALLOW_SYSTEM_LIBS="1")
        flags = run(["pkg-config", "--static", "--cflags", "--libs", "fastprom"], env=env).stdout.split()
        for private in ("-lm", "-pthread"):
            self.assertIn(private, flags)
        self.assertNotIn("-ljansson", flags)
        # -l:libfastprom.a makes the linker take the archive, as a static-only
        # install would.
        flags = ["-l:libfastprom.a" if f == "-lfastprom" else f for f in flags]
        exe = compile_and_run(self, self.work, flags, env, "prog_static")
        self.assertNotIn("libfastprom", run(["ldd", exe]).stdout)

    def test_python_package_from_the_staged_site_dir(self):
        if not os.path.isdir(PY_PACKAGE):
            self.skipTest("src/python/fastprom does not exist yet (the Python package issue): nothing to import")
        site = self.staged("/usr/lib/python3/dist-packages")
        segment = os.path.join(self.work, "py-segment")
        env = {k: v for k, v in os.environ.items() if k != "FASTPROM_BUILD"}
        env.update(PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1", FASTPROM_PATH=segment)
        out = run(["/usr/bin/python3", "-c", PY_CHECK], env=env, cwd=self.work).stdout
        self.assertIn(f"module {site}/fastprom/__init__.py", out)
        self.assertRegex(out, f"native {re.escape(site)}/fastprom/_native[^/]*\\.so")
        dump = run([self.staged("/usr/bin/fastprom"), "dump"], env=env).stdout
        self.assertRegex(dump, r"(?m)^deploy_python_total 2(\.0)?$")

    def test_node_package_from_the_staged_node_modules(self):
        pkg = self.staged("/usr/lib/node_modules/fastprom")
        with open(os.path.join(pkg, "lib/paths.json")) as f:
            self.assertIn('"/usr/lib/node_modules/fastprom/fastprom.node"', f.read())
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(pkg, "fastprom.node")).st_mode), 0o755)
        segment = os.path.join(self.work, "node-segment")
        env = dict(os.environ, NODE_PATH=self.staged("/usr/lib/node_modules"), FASTPROM_PATH=segment)
        env.pop("FASTPROM_NODE_ADDON", None)
        script = ("const c = require('fastprom'); console.log('addon', c.addonPath);"
                  "new c.Counter({name: 'deploy_node_total', help: 'Counted by the install test.'}).inc(4);")
        out = run(["node", "-e", script], env=env, cwd=self.work).stdout
        self.assertIn(f"addon {pkg}/fastprom.node", out)
        dump = run([self.staged("/usr/bin/fastprom"), "dump"], env=env).stdout
        self.assertRegex(dump, r"(?m)^deploy_node_total 4(\.0)?$")

    def test_man_pages_render_without_warnings(self):
        for page, section in MAN_PAGES.items():
            path = self.staged(f"/usr/share/man/man{section}/{page}")
            out = run(["man", "-l", "--warnings=w", path], env=dict(os.environ, MANWIDTH="80"))
            self.assertEqual(out.stderr, "", page)
            self.assertIn("NAME", out.stdout, page)
            self.assertIn(f"fastprom {VERSION}", out.stdout, f"{page}: version differs from fastprom.h")
            groff = run(["groff", "-ww", "-man", "-Tutf8", "-z", path])
            self.assertEqual(groff.stderr, "", page)


class PrefixInstallTest(unittest.TestCase):
    """make install PREFIX=<tmp>: the installed files work where they are,
    with no environment pointing at them."""

    def test_installed_tree_works_in_place_and_uninstalls_completely(self):
        work = temp_dir(self)
        prefix = os.path.join(work, "prefix")
        make("install", f"PREFIX={prefix}")
        try:
            env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib/pkgconfig"),
                       LD_LIBRARY_PATH=os.path.join(prefix, "lib"))
            compile_and_run(self, work, run(["pkg-config", "--cflags", "--libs", "fastprom"],
                                            env=env).stdout.split(), env, "prog")

            units = os.path.join(prefix, "lib/systemd/system")
            with open(os.path.join(units, "fastprom-fcgi.service")) as f:
                self.assertIn(f"ExecStart={prefix}/sbin/fastprom-fcgi --config {prefix}/etc/fastprom/fastprom.json",
                              f.read())
            out = run(["systemd-analyze", "verify", "fastprom-fcgi.socket", "fastprom-fcgi.service"],
                      cwd=units, env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")), check=False)
            self.assertEqual((out.returncode, out.stdout + out.stderr), (0, ""))

            if os.path.isdir(PY_PACKAGE):
                site = os.path.join(prefix, "lib/python3/dist-packages")
                penv = {k: v for k, v in os.environ.items() if k != "FASTPROM_BUILD"}
                penv.update(PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1",
                            FASTPROM_PATH=os.path.join(work, "py-segment"))
                out = run(["/usr/bin/python3", "-c", PY_CHECK], env=penv, cwd=work).stdout
                self.assertIn(f"native {site}/fastprom/_native", out,
                              "the installed package must load its installed extension")
        finally:
            make("uninstall", f"PREFIX={prefix}")
        self.assertFalse(os.path.exists(prefix), tree(prefix) if os.path.exists(prefix) else "")


class UninstallTest(unittest.TestCase):
    def test_uninstall_leaves_nothing_but_an_edited_config(self):
        dest = os.path.join(temp_dir(self), "stage")
        os.mkdir(dest)
        make("install", f"DESTDIR={dest}", "PREFIX=/usr")
        conf = os.path.join(dest, "etc/fastprom/fastprom.json")
        with open(conf, "a") as f:
            f.write("\n")
        # A reinstall keeps the edit and offers the new example beside it.
        out = make("install", f"DESTDIR={dest}", "PREFIX=/usr").stdout
        self.assertIn(f"kept your {conf}", out)
        self.assertTrue(os.path.exists(conf + ".new"))
        out = make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr").stdout
        self.assertIn(f"kept {conf}: edited since it was installed", out)
        self.assertEqual(tree(dest), ["etc/", "etc/fastprom/", "etc/fastprom/fastprom.json"])
        os.unlink(conf)
        make("install", f"DESTDIR={dest}", "PREFIX=/usr")
        make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr")
        self.assertEqual(tree(dest), ["etc/", "etc/fastprom/"],
                         "only the directories the edited file kept alive")
        # Twice is harmless.
        self.assertIn("nothing to uninstall", make("uninstall", f"DESTDIR={dest}", "PREFIX=/usr").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
