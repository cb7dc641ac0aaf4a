"""prometheus_client.core's names that fastprom has, so apps importing
`from prometheus_client.core import ...` switch by changing the import too.

Its other names (Metric, the *MetricFamily classes, Sample, Exemplar,
Timestamp) build custom collectors and raise an ImportError that says why
and what to do instead (see fastprom._compat).
"""
from ._compat import missing_name
from .metrics import Counter, Enum, Gauge, Histogram, Info, Summary
from .registry import REGISTRY, CollectorRegistry

__all__ = ("CollectorRegistry", "REGISTRY", "Counter", "Gauge", "Summary", "Histogram", "Info", "Enum")


def __getattr__(name):
    return missing_name(__name__, name)
