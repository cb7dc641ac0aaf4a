"""prometheus_client.samples' names (Sample, Exemplar, Timestamp):
prometheus_client's own (see fastprom.collectors)."""
from ._compat import missing_name

__all__ = ("Sample", "Exemplar", "Timestamp")


def __getattr__(name):
    return missing_name(__name__, name)
