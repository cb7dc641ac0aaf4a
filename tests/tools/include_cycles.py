#!/usr/bin/python3
"""Fails on a dependency cycle between the modules of src/.

A module is a .c file and the header of the same name (segment.c and
segment.h are one module). Two graphs are checked:

  includes  module A -> module B when a file of A includes B's header;
  calls     module A -> module B when A's object file uses a symbol that
            B's object file defines (nm), given --objects DIR; this also
            sees calls made by inline functions of a header.

Either graph with a cycle means some module cannot be read or changed
without the others of the cycle. The library's modules are also placed in
LAYERS (the README's architecture section shows the same table): a module
may use its own layer and the ones below, never one above. Each cycle and
each upward edge is printed, one per line, and the exit status is 1. With
--list they are printed and the status is 0.
"""
import argparse
import os
import re
import subprocess
import sys

# The library, bottom up. Modules of src/ not listed (the CLI, the demo, a
# new file) are checked for cycles only; list a new library file here.
LAYERS = [
    # definitions and helpers that know nothing of a segment's life
    ["layout", "geometry", "handle", "str", "wallclock", "error", "testpoint", "types", "names", "sketch", "arena", "buf", "fmt", "put", "mem"],
    # mapping and allocators
    ["options", "segment", "alloc", "chain", "records"],
    # the slot table and slot liveness
    ["slots"],
    # folding dead writers (under the lock)
    ["fold"],
    # the robust lock, and repair when its holder died
    ["lock"],
    # writing (registry, series, lanes, hot path) and reading (merge, order, snapshot, renderers)
    ["registry", "series", "writer", "update", "merge", "order", "snapshot", "render", "render_text", "render_json"],
    # the handle's life: fastprom_open, fastprom_close
    ["open"],
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path):
    return os.path.splitext(os.path.normpath(path))[0]


def source_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".c", ".h")):
                yield os.path.join(dirpath, name)


def include_graph(root):
    graph = {}
    for path in source_files(root):
        mod = module_of(path)
        graph.setdefault(mod, set())
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            # As the compiler resolves "x.h": next to the file, then -Isrc.
            for cand in (os.path.join(os.path.dirname(path), inc), os.path.join(root, inc)):
                if os.path.isfile(cand):
                    dep = module_of(cand)
                    if dep != mod:
                        graph[mod].add(dep)
                    break
    return graph


def nm_symbols(obj):
    out = subprocess.run(["nm", "--defined-only", "-g", obj], check=True, capture_output=True, text=True).stdout
    defined = {line.split()[-1] for line in out.splitlines() if line.strip()}
    out = subprocess.run(["nm", "--undefined-only", "-g", obj], check=True, capture_output=True, text=True).stdout
    used = {line.split()[-1] for line in out.splitlines() if line.strip()}
    return defined, used


def call_graph(root, objdir):
    # Only objects of sources that exist: a stale one would bring back edges
    # of code that is gone.
    objs = sorted(
        f for f in os.listdir(objdir) if f.endswith(".o") and os.path.isfile(os.path.join(root, f[:-2] + ".c"))
    )
    if not objs:
        sys.exit("include_cycles: no object files in %s; build first" % objdir)
    defined, used = {}, {}
    for o in objs:
        mod = module_of(os.path.join(root, o[:-2]))
        defined[mod], used[mod] = nm_symbols(os.path.join(objdir, o))
    owner = {sym: mod for mod, syms in defined.items() for sym in syms}
    return {mod: {owner[s] for s in syms if s in owner and owner[s] != mod} for mod, syms in used.items()}


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def upward(kind, graph, root):
    layer = {os.path.join(root, m): i for i, mods in enumerate(LAYERS) for m in mods}
    return sorted(
        "%s goes up: %s (layer %d) -> %s (layer %d)"
        % (kind, os.path.relpath(a, root), layer[a], os.path.relpath(b, root), layer[b])
        for a in graph for b in graph[a]
        if a in layer and b in layer and layer[b] > layer[a]
    )


def describe(kind, comp, graph, root):
    names = [os.path.relpath(m, root) for m in comp]
    edges = sorted(
        "%s->%s" % (os.path.relpath(a, root), os.path.relpath(b, root))
        for a in comp for b in graph.get(a, ()) if b in comp
    )
    return "%s cycle: {%s} via %s" % (kind, ", ".join(names), " ".join(edges))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default="src", help="source tree (default src)")
    ap.add_argument("--objects", help="directory of the library's object files, for the call graph")
    ap.add_argument("--list", action="store_true", help="print cycles but exit 0")
    args = ap.parse_args()
    root = os.path.normpath(args.root)
    found = []
    graph = include_graph(root)
    found += [describe("include", c, graph, root) for c in cycles(graph)] + upward("include", graph, root)
    if args.objects:
        graph = call_graph(root, args.objects)
        found += [describe("call", c, graph, root) for c in cycles(graph)] + upward("call", graph, root)
    for line in found:
        print(line)
    if not found:
        print("include_cycles: no cycle between the modules of %s, no call or include up a layer" % root)
    return 1 if found and not args.list else 0


if __name__ == "__main__":
    sys.exit(main())
