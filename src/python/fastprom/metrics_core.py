"""prometheus_client.metrics_core's names, for collectors imported from
there: Metric and the *MetricFamily classes are prometheus_client's own
(see fastprom.collectors)."""
from ._compat import missing_name

__all__ = (
    "Metric", "CounterMetricFamily", "GaugeMetricFamily", "SummaryMetricFamily", "HistogramMetricFamily",
    "GaugeHistogramMetricFamily", "InfoMetricFamily", "StateSetMetricFamily", "UnknownMetricFamily",
    "UntypedMetricFamily",
)


def __getattr__(name):
    return missing_name(__name__, name)
