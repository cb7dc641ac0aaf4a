#!/usr/bin/python3
"""`make install` / `make uninstall`: puts fastprom's files where Debian and
systemd look for them, under DESTDIR when staging a package.

Install writes a manifest (PREFIX/share/fastprom/install-manifest.json) of
every file, symlink and directory it created; uninstall removes exactly those,
so it never guesses and never touches what was there before. Configuration
files in SYSCONFDIR are the one exception both ways: install never overwrites
an existing one that differs (it writes <name>.new beside it), and uninstall
keeps one the administrator has edited since.

Paths inside installed files (the systemd unit's ExecStart, the pkg-config
file, the Python package's library path) name the final location, never
DESTDIR.
"""
import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
MANIFEST_NAME = "share/fastprom/install-manifest.json"

# The units under deploy/systemd name the PREFIX=/usr locations; other
# prefixes get these rewritten.
UNIT_WORKER_PATH = "/usr/sbin/fastprom-fcgi"
UNIT_CONF_DIR = "/etc/fastprom/"
UNIT_NGINXLOG_PATH = "/usr/sbin/fastprom-nginxlog"


class InstallError(Exception):
    pass


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Install or uninstall fastprom (called by make).")
    ap.add_argument("action", choices=["install", "uninstall"])
    for name in ("prefix", "build", "libdir", "bindir", "sbindir", "includedir", "mandir",
                 "sysconfdir", "version"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--destdir", default="")
    args = ap.parse_args(argv)
    for name in ("prefix", "libdir", "bindir", "sbindir", "includedir", "mandir", "sysconfdir"):
        if not os.path.isabs(getattr(args, name)):
            raise InstallError(f"--{name}={getattr(args, name)!r} is not an absolute path: "
                               f"pass {name.upper()}=/absolute/path to make")
    return args


def python_site_dir(prefix):
    """Debian's python3 site directory for PREFIX: /usr and /usr/local ones
    are on /usr/bin/python3's path, any other needs PYTHONPATH."""
    if prefix == "/usr":
        return "/usr/lib/python3/dist-packages"
    if prefix == "/usr/local":
        major, minor = sys.version_info[:2]
        return f"/usr/local/lib/python{major}.{minor}/dist-packages"
    return os.path.join(prefix, "lib/python3/dist-packages")


def systemd_dirs(prefix):
    """(units, sysusers.d, tmpfiles.d): the distribution's own places for
    PREFIX=/usr, else under PREFIX/lib, which systemd searches for
    /usr/local and ignores for other prefixes."""
    if prefix == "/usr":
        return "/lib/systemd/system", "/usr/lib/sysusers.d", "/usr/lib/tmpfiles.d"
    lib = os.path.join(prefix, "lib")
    return os.path.join(lib, "systemd/system"), os.path.join(lib, "sysusers.d"), \
        os.path.join(lib, "tmpfiles.d")


class Plan:
    """What to install: (destination, kind, payload, mode) in install order."""

    def __init__(self):
        self.items = []

    def copy(self, src, dst, mode=0o644):
        if not os.path.isfile(src):
            raise InstallError(f"{os.path.relpath(src, ROOT)} is missing: run `make` first")
        self.items.append((dst, "file", src, mode))

    def text(self, dst, content, mode=0o644):
        self.items.append((dst, "text", content, mode))

    def link(self, dst, target):
        self.items.append((dst, "symlink", target, None))

    def conf(self, src, dst):
        self.items.append((dst, "conf", src, 0o644))


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def plan_install(a):
    p = Plan()
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    real = f"libfastprom.so.{a.version}"
    soname = "libfastprom.so." + a.version.split(".")[0]
    p.copy(os.path.join(build, real), os.path.join(a.libdir, real))
    p.link(os.path.join(a.libdir, soname), real)
    p.link(os.path.join(a.libdir, "libfastprom.so"), soname)
    p.copy(os.path.join(build, "libfastprom.a"), os.path.join(a.libdir, "libfastprom.a"))
    p.copy(os.path.join(ROOT, "include/fastprom.h"), os.path.join(a.includedir, "fastprom.h"))
    pc = read(os.path.join(DEPLOY, "fastprom.pc.in"))
    for key, value in (("PREFIX", a.prefix), ("LIBDIR", a.libdir),
                       ("INCLUDEDIR", a.includedir), ("VERSION", a.version)):
        pc = pc.replace(f"@{key}@", value)
    p.text(os.path.join(a.libdir, "pkgconfig/fastprom.pc"), pc)
    p.copy(os.path.join(build, "fastprom"), os.path.join(a.bindir, "fastprom"), 0o755)
    p.copy(os.path.join(build, "fastprom-fcgi"), os.path.join(a.sbindir, "fastprom-fcgi"), 0o755)
    p.copy(os.path.join(build, "fastprom-nginxlog"), os.path.join(a.sbindir, "fastprom-nginxlog"), 0o755)

    plan_python(p, a)
    plan_node(p, a, build)

    conf_src = os.path.join(ROOT, "conf")
    for dirpath, dirnames, filenames in os.walk(conf_src):
        dirnames.sort()
        for name in sorted(filenames):
            src = os.path.join(dirpath, name)
            rel = os.path.relpath(src, conf_src)
            p.conf(src, os.path.join(a.sysconfdir, "fastprom", rel))

    units, sysusers, tmpfiles = systemd_dirs(a.prefix)
    for unit in ("fastprom-fcgi.socket", "fastprom-fcgi.service"):
        text = read(os.path.join(DEPLOY, "systemd", unit))
        text = text.replace(UNIT_WORKER_PATH, os.path.join(a.sbindir, "fastprom-fcgi"))
        text = text.replace(UNIT_CONF_DIR, os.path.join(a.sysconfdir, "fastprom") + "/")
        p.text(os.path.join(units, unit), text)
    for unit in ("fastprom-nginxlog.socket", "fastprom-nginxlog.service"):
        text = read(os.path.join(DEPLOY, "systemd", unit))
        text = text.replace(UNIT_NGINXLOG_PATH, os.path.join(a.sbindir, "fastprom-nginxlog"))
        text = text.replace(UNIT_CONF_DIR, os.path.join(a.sysconfdir, "fastprom") + "/")
        p.text(os.path.join(units, unit), text)
    p.copy(os.path.join(DEPLOY, "systemd/fastprom.sysusers.conf"), os.path.join(sysusers, "fastprom.conf"))
    p.copy(os.path.join(DEPLOY, "systemd/fastprom.tmpfiles.conf"), os.path.join(tmpfiles, "fastprom.conf"))

    for page, section in (("fastprom.1", "1"), ("libfastprom.3", "3"), ("fastprom-fcgi.8", "8"),
                          ("fastprom-nginxlog.8", "8")):
        p.copy(os.path.join(DEPLOY, "man", page), os.path.join(a.mandir, "man" + section, page))
    return p


def plan_python(p, a):
    """The package's .py files and its C extension fastprom._native (which
    has libfastprom linked in), built by `make` into BUILD/python/fastprom."""
    src = os.path.join(ROOT, "src/python/fastprom")
    if not os.path.isdir(src):
        print("install.py: src/python/fastprom does not exist yet: the Python package is not installed")
        return
    dst = os.path.join(python_site_dir(a.prefix), "fastprom")
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py") and name != "_paths.py":
                full = os.path.join(dirpath, name)
                p.copy(full, os.path.join(dst, os.path.relpath(full, src)))
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) else a.build
    for ext in sorted(glob.glob(os.path.join(build, "python", "fastprom", "_native*.so"))):
        p.copy(ext, os.path.join(dst, os.path.basename(ext)), 0o644)


def plan_node(p, a, build):
    """The Node package in LIBDIR/node_modules/fastprom (NODE_PATH=LIBDIR/node_modules, or
    `npm install` that directory), the addon beside it, and lib/paths.json naming the addon's
    installed path for copies of the package."""
    src = os.path.join(ROOT, "src/node")
    addon = os.path.join(build, "node", "fastprom.node")
    if not os.path.exists(addon):
        print("install.py: no node/fastprom.node in the build: the Node package is not installed")
        return
    dst = os.path.join(a.libdir, "node_modules", "fastprom")
    for name in sorted(os.listdir(src)):
        if name == "package.json" or name.endswith((".js", ".d.ts")):
            p.copy(os.path.join(src, name), os.path.join(dst, name))
    for name in sorted(os.listdir(os.path.join(src, "lib"))):
        if name.endswith(".js"):
            p.copy(os.path.join(src, "lib", name), os.path.join(dst, "lib", name))
    p.copy(addon, os.path.join(dst, "fastprom.node"), 0o755)
    p.text(os.path.join(dst, "lib", "paths.json"),
           json.dumps({"addon": os.path.join(dst, "fastprom.node")}) + "\n")


def staged(destdir, path):
    return os.path.join(destdir, path.lstrip("/")) if destdir else path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def make_dirs(destdir, path, created):
    """mkdir -p of the staged `path` that records, as final paths, every
    directory it made, outermost first."""
    missing = []
    while path != "/" and not os.path.lexists(staged(destdir, path)):
        missing.append(path)
        path = os.path.dirname(path)
    for d in reversed(missing):
        os.mkdir(staged(destdir, d), 0o755)
        created.append(d)


def write_atomically(dst, data, mode):
    tmp = dst + ".fastprom-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, dst)


def install(a):
    plan = plan_install(a)
    if a.destdir:
        os.makedirs(a.destdir, exist_ok=True)
    manifest_final = os.path.join(a.prefix, MANIFEST_NAME)
    manifest_path = staged(a.destdir, manifest_final)
    old = load_manifest(manifest_path) or {"files": {}, "dirs": []}
    created = list(old["dirs"])
    files = dict(old["files"])
    for dst, kind, payload, mode in plan.items:
        target = staged(a.destdir, dst)
        make_dirs(a.destdir, os.path.dirname(dst), created)
        if kind == "symlink":
            if os.path.lexists(target):
                os.unlink(target)
            os.symlink(payload, target)
            files[dst] = {"kind": "symlink"}
            continue
        data = read_bytes(payload) if kind in ("file", "conf") else payload.encode()
        if kind == "conf" and os.path.exists(target) and read_bytes(target) != data \
                and sha256(target) != files.get(dst, {}).get("sha256"):
            # The administrator's own or edited file: keep it, offer ours beside it.
            print(f"install.py: kept your {target}; the new example is {target}.new")
            dst, target = dst + ".new", target + ".new"
        write_atomically(target, data, mode)
        files[dst] = {"kind": kind, "sha256": hashlib.sha256(data).hexdigest()}
    make_dirs(a.destdir, os.path.dirname(manifest_final), created)
    manifest = {"version": a.version, "files": files, "dirs": created}
    write_atomically(manifest_path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode(), 0o644)
    print(f"install.py: installed {len(plan.items)} files under {a.destdir or '/'} "
          f"(manifest {manifest_path})")
    site = python_site_dir(a.prefix)
    if site not in sys.path and any(d.startswith(site + "/") for d in files):
        print(f"install.py: python3 does not search {site}: add it to PYTHONPATH")
    if not a.destdir and os.geteuid() == 0 and shutil.which("ldconfig"):
        subprocess.run(["ldconfig"], check=False)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def load_manifest(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise InstallError(f"{path}: unreadable install manifest ({e}): remove the files by hand "
                           "or reinstall to rewrite it")


def remove_bytecode(py_path):
    """Python writes __pycache__/<module>.*.pyc beside what it imports: that
    is ours too."""
    cache = os.path.join(os.path.dirname(py_path), "__pycache__")
    stem = os.path.splitext(os.path.basename(py_path))[0] + "."
    if os.path.isdir(cache):
        for name in os.listdir(cache):
            if name.startswith(stem) and name.endswith(".pyc"):
                os.unlink(os.path.join(cache, name))
        if not os.listdir(cache):
            os.rmdir(cache)


def uninstall(a):
    manifest_path = staged(a.destdir, os.path.join(a.prefix, MANIFEST_NAME))
    manifest = load_manifest(manifest_path)
    if manifest is None:
        print(f"install.py: nothing to uninstall: no manifest at {manifest_path}")
        return
    removed = 0
    for dst, info in sorted(manifest["files"].items()):
        target = staged(a.destdir, dst)
        if not os.path.lexists(target):
            continue
        if info["kind"] == "conf" and sha256(target) != info["sha256"]:
            print(f"install.py: kept {target}: edited since it was installed")
            continue
        os.unlink(target)
        removed += 1
        if target.endswith(".py"):
            remove_bytecode(target)
    os.unlink(manifest_path)
    for d in sorted(set(manifest["dirs"]), key=len, reverse=True):
        try:
            os.rmdir(staged(a.destdir, d))
        except FileNotFoundError:
            pass
        except OSError:
            print(f"install.py: kept {staged(a.destdir, d)}: not empty")
    print(f"install.py: removed {removed} files under {a.destdir or '/'}")


def main(argv):
    try:
        a = parse_args(argv)
        if a.action == "install":
            install(a)
        else:
            uninstall(a)
    except InstallError as e:
        print(f"install.py: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"install.py: {e.filename or ''}: {e.strerror}: check DESTDIR/PREFIX and permissions",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
