#!/usr/bin/python3
"""test_fcgi_shrink.py - a segment that shrinks under the worker's reads
(regression for issue 12's SIGBUS: the worker died in every run).

A 32 MB segment holds 20,000 series; three threads scrape the worker
straight over FastCGI while the file is truncated to half and restored
(its bytes written back) every 2 ms. The worker must survive; every answer
is a 200 or a 503 saying why; scrapes that met the shrink are counted in
fastprom_render_errors_total{reason="truncated"}; and once the file stays
whole, the next scrape (after the worker's one-second re-attach pause)
answers 200 with exactly the values written before."""
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ROUTES = 6667  # three series per route (counter, histogram, gauge): 20,001 series
SIZE = 32 << 20
SCRAPERS = 3
FLAP_SECONDS = 0.002
MIN_SECONDS, MAX_SECONDS = 2, 15
PAGE = 4096
PARAMS = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/metrics", "QUERY_STRING": ""}


def scrape(socket_path, query=""):
    return harness.fastcgi_request(socket_path, dict(PARAMS, QUERY_STRING=query), timeout=30)


def requests_total(body):
    return sum(float(m) for m in re.findall(rb"^http_requests_total\{[^}]*\} (\S+)$", body, re.M))


class Shrink(unittest.TestCase):
    def test_truncating_the_segment_under_scrapes(self):
        tmp = harness.make_temp_dir(self)
        segment = os.path.join(tmp, "segment")
        demo = harness.start_process(
            [harness.DEMO, "--path", segment, "--processes", "1", "--rate", "0", "--uniform", "--routes",
             str(ROUTES), "--requests", str(ROUTES), "--max-series", str(ROUTES)],
            tmp, "populate", env={"FASTPROM_SIZE": str(SIZE)}, testcase=self)
        self.assertEqual(demo.wait(120), 0, demo.log())
        self.assertEqual(os.path.getsize(segment), SIZE)
        with open(segment, "rb") as f:
            image = f.read()
        half = SIZE // 2
        # The runs of pages in the second half that hold anything: what a
        # restore writes back.
        runs = []
        for off in range(half, SIZE, PAGE):
            if image[off:off + PAGE].strip(b"\0"):
                if runs and runs[-1][1] == off:
                    runs[-1][1] = off + PAGE
                else:
                    runs.append([off, off + PAGE])
        self.assertTrue(runs, "the populated segment keeps nothing past its middle: the test would not shrink "
                              "anything a reader follows")

        worker = harness.start_worker(tmp, segment, testcase=self)
        status, _, before = scrape(worker.socket)
        self.assertEqual(status, 200, before[:300])
        expected = requests_total(before)
        self.assertEqual(expected, ROUTES)

        stop = threading.Event()
        answers, failures = [], []
        lock = threading.Lock()

        def scraper():
            while not stop.is_set():
                try:
                    code, _, body = scrape(worker.socket)
                except Exception as e:  # noqa: BLE001 - a dead worker shows as errors
                    code, body = "error", repr(e).encode()
                with lock:
                    answers.append((code, body.splitlines()[0][:200] if code != 200 else b""))
                    if code not in (200, 503) and len(failures) < 5:
                        failures.append((code, body[:300]))
                if code != 200:
                    time.sleep(0.01)  # a 503 comes at once: leave the CPU to the worker

        flaps = [0]

        def restore(fd):
            os.ftruncate(fd, SIZE)
            for start, end in runs:
                os.pwrite(fd, image[start:end], start)

        def flapper():
            fd = os.open(segment, os.O_RDWR)
            try:
                while not stop.is_set():
                    os.ftruncate(fd, half)
                    time.sleep(FLAP_SECONDS)
                    restore(fd)
                    flaps[0] += 1
                    time.sleep(FLAP_SECONDS)
            finally:
                restore(fd)
                os.close(fd)

        threads = [threading.Thread(target=scraper) for _ in range(SCRAPERS)] + [threading.Thread(target=flapper)]
        for t in threads:
            t.start()
        started = time.monotonic()

        def shrunk_answers():
            with lock:
                return sum(1 for code, line in answers if code == 503 and b"shrank" in line)
        try:
            while time.monotonic() - started < MAX_SECONDS and worker.alive():
                if time.monotonic() - started >= MIN_SECONDS and shrunk_answers() > 0:
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "a scraper or the flapper hung")
        self.assertTrue(worker.alive(), f"the worker died (exit {worker.returncode}) after {flaps[0]} truncations:\n"
                                        f"{worker.log()[-2000:]}")
        self.assertFalse(failures, failures)
        codes = {code for code, _ in answers}
        self.assertLessEqual(codes, {200, 503}, codes)
        self.assertGreater(shrunk_answers(), 0, f"{len(answers)} answers, {flaps[0]} truncations, none met a shrink: "
                                                f"{sorted(set(line for _, line in answers))[:5]}")
        print(f"\n{time.monotonic() - started:.1f} s, {flaps[0]} truncations, {len(answers)} scrapes: {sum(1 for c, _ in answers if c == 200)} x 200, "
              f"{sum(1 for c, _ in answers if c == 503)} x 503 ({shrunk_answers()} met the shrink)", file=sys.stderr)

        # Whole again: after the re-attach pause the next scrape is exact.
        with open(segment, "rb") as f:
            self.assertEqual(f.read(), image)
        time.sleep(1.1)
        status, _, after = scrape(worker.socket)
        self.assertEqual(status, 200, after[:300])
        self.assertEqual(requests_total(after), expected)
        counted = re.search(rb'^fastprom_render_errors_total\{reason="truncated"\} (\S+)$', after, re.M)
        self.assertIsNotNone(counted, "no fastprom_render_errors_total{reason=\"truncated\"} sample")
        self.assertGreaterEqual(float(counted.group(1)), 1)
        self.assertTrue(worker.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
