"""prometheus_client.multiprocess's two entry points, so apps written for
its multiprocess mode switch by changing imports only.

    registry = CollectorRegistry()
    MultiProcessCollector(registry)        # /metrics handlers in the app
    data = generate_latest(registry)       # -> every process's metrics

    def child_exit(server, worker):        # gunicorn.conf.py
        mark_process_dead(worker.pid)      # -> nothing to do

With fastprom every process already writes to one segment; there are no
per-process files to merge or to delete.
"""
from .registry import REGISTRY


def MultiProcessCollector(registry, path=None):  # noqa: N802 - prometheus_client's name
    """Makes registry show the shared segment (every process's metrics),
    as prometheus_client's collector merges every process's files. path
    (the PROMETHEUS_MULTIPROC_DIR) is ignored: the segment is $FASTPROM_PATH."""
    registry.use_segment_of(REGISTRY)
    return registry


def mark_process_dead(pid, path=None):
    """Nothing to do: fastprom notices dead processes itself (the kernel
    releases their slot locks), drops their live gauges and keeps their
    counts."""
