#!/bin/sh
# debian_node18.sh CMD... - runs CMD with Debian 12's own Node 18 as `node`:
# the nodejs, libnode108 and libnode-dev that `make deps` installs on a
# machine without node, so that path is tested on a machine whose node is
# another one (here Node 20), without replacing it. The packages are fetched
# with `apt-get download` and unpacked into $NODE18_ROOT (kept for the next
# run); CMD runs in a mount namespace of its own (unshare -m), where Debian's
# headers are /usr/include/node (where libnode-dev puts them, so the
# Makefile's own discovery finds them) and /usr/share/nodejs holds the
# builtins Debian's libnode loads from that fixed path (acorn,
# cjs-module-lexer, undici). Outside the namespace nothing changes, except
# that a missing mount point is created for the run and removed after it.
# Needs root (unshare, mount) and apt's package lists for bookworm.
set -eu

ROOT=${NODE18_ROOT:-/tmp/fastprom-node18}
ME=debian_node18.sh

if [ "${1:-}" = --inside ]; then
    shift
    mount --bind "$ROOT/usr/share/nodejs" /usr/share/nodejs
    mount --bind "$ROOT/usr/include/node" /usr/include/node
    # Anything that names /usr/bin/node directly gets Debian's too.
    if [ -e /usr/bin/node ]; then mount --bind "$ROOT/usr/bin/node" /usr/bin/node; fi
    export PATH="$ROOT/bin:$PATH"
    export LD_LIBRARY_PATH="$ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    version=$(node --version)
    case $version in
        v18.*) ;;
        *) echo "$ME: node on PATH is $version, not Debian's 18" >&2; exit 1 ;;
    esac
    echo "$ME: node $version ($ROOT), headers /usr/include/node from libnode-dev"
    exec "$@"
fi

if [ $# -eq 0 ]; then
    echo "usage: $ME CMD [ARG...]   (runs CMD with Debian 12's Node 18 as node)" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "$ME: needs root (unshare -m and mount); run it as root" >&2
    exit 1
fi

fetch() {
    # libnode108 is Debian's alone, so its candidate is Debian's 18 even where
    # another nodejs (NodeSource's 20) is installed and is nodejs's candidate.
    version=$(apt-cache policy libnode108 | awk '/Candidate:/ { print $2 }')
    case $version in
        18.*) ;;
        *) echo "$ME: apt knows no Debian libnode108 18.x (got '$version'): run apt-get update" >&2; exit 1 ;;
    esac
    tmp="$ROOT.part"
    rm -rf "$tmp"
    mkdir -p "$tmp/debs"
    # The libraries libnode108 links against come along in case this machine
    # lacks them; only the missing ones are put on LD_LIBRARY_PATH below.
    (cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root "nodejs=$version" "libnode108=$version" "libnode-dev=$version" \
        node-acorn node-cjs-module-lexer node-undici libuv1 libc-ares2 libbrotli1 libicu72 libnghttp2-14) ||
        { echo "$ME: apt-get download failed (see above)" >&2; exit 1; }
    for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp"; done
    mkdir -p "$tmp/bin" "$tmp/lib"
    ln -s ../usr/bin/node "$tmp/bin/node"
    libnode=$(ls "$tmp"/usr/lib/*/libnode.so.108)
    libnode=${libnode#"$tmp"/}
    ln -s "../$libnode" "$tmp/lib/libnode.so.108"
    ln -s "../$(dirname "$libnode")" "$tmp/lib/unpacked"
    for lib in $(LD_LIBRARY_PATH="$tmp/lib" ldd "$tmp/usr/bin/node" | awk '/not found/ { print $1 }'); do
        if [ ! -e "$tmp/lib/unpacked/$lib" ]; then
            echo "$ME: Debian's node needs $lib, which no downloaded package has" >&2
            exit 1
        fi
        ln -s "unpacked/$lib" "$tmp/lib/$lib"
    done
    mv "$tmp" "$ROOT"
}

[ -x "$ROOT/usr/bin/node" ] || fetch

created=""
for dir in /usr/share/nodejs /usr/include/node; do
    if [ ! -d "$dir" ]; then mkdir "$dir" && created="$created $dir"; fi
done
rc=0
unshare -m "$0" --inside "$@" || rc=$?
for dir in $created; do rmdir "$dir"; done
exit $rc
