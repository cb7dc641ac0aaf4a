"""Seed 000's Python market-data collector, instrumented with fastprom's
Python package: the half of seed 000 that is not Node. Its WebSocket
collector is ws-collector.js beside this file; both write one segment, and
one /metrics through nginx shows both (tests/integration/test_node_seed000.py).

Before: prometheus_client with its own HTTP server on port 8000, and
prom-client on port 8001 for the TypeScript collector. Now: no metrics port
in either process; fastprom-fcgi serves the shared segment.

    PYTHONPATH=src/python FASTPROM_PATH=/dev/shm/fastprom /usr/bin/python3 src/node/examples/seed000_collector.py

The exchange API and the database are simulated (deterministic). CYCLES=N
stops after N collection cycles, prints what it counted as JSON, then idles
until SIGTERM (its gauges stay live).
"""
import json
import os
import random
import signal
import sys
import time

from fastprom import Counter, Gauge, Histogram

OHLCV = Counter("collector_ohlcv_collected_total", "OHLCV candles collected.", ["symbol"])
TRADES = Counter("collector_trades_collected_total", "Trades collected.", ["symbol"])
API_REQUESTS = Counter("collector_api_requests_total", "Exchange API requests by status.", ["status"])
API_ERRORS = Counter("collector_api_errors_total", "Exchange API errors by type.", ["error_type"])
API_SECONDS = Histogram("collector_api_request_duration_seconds", "Exchange API request latency.",
                        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
VALIDATION_FAILURES = Counter("collector_validation_failures_total", "Candles that failed validation.")
QUALITY = Gauge("collector_data_quality_score", "Data quality score (0-100).", multiprocess_mode="mostrecent")
RUNNING = Gauge("collector_running", "1 while the collector runs.")
LAST_SUCCESS = Gauge("collector_last_successful_collection_timestamp", "Unix time of the last good cycle.",
                     multiprocess_mode="mostrecent")

SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")


def cycle(rng, tally):
    for symbol in SYMBOLS:
        latency = rng.random() / 5
        API_SECONDS.observe(latency)
        if rng.random() < 0.05:
            API_REQUESTS.labels("error").inc()
            API_ERRORS.labels("timeout").inc()
            tally["errors"] += 1
            continue
        API_REQUESTS.labels("ok").inc()
        candles = rng.randint(1, 5)
        OHLCV.labels(symbol).inc(candles)
        TRADES.labels(symbol).inc(candles * 10)
        tally["ohlcv"] += candles
        if rng.random() < 0.02:
            VALIDATION_FAILURES.inc()
            tally["validation_failures"] += 1
    QUALITY.set(100 - tally["errors"] % 7)
    LAST_SUCCESS.set(time.time())


def main():
    cycles = int(os.environ.get("CYCLES", "0"))
    rng = random.Random(int(os.environ.get("SEED", "1")))
    tally = {"ohlcv": 0, "errors": 0, "validation_failures": 0, "cycles": 0}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    RUNNING.set(1)
    while not cycles or tally["cycles"] < cycles:
        cycle(rng, tally)
        tally["cycles"] += 1
        time.sleep(0.001)
    print(json.dumps(tally), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
