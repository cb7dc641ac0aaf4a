"""Seed 004's Flask app (camera detection + LLM calls), with fastprom.

Before: prometheus_client, and Prometheus' GET /metrics answered 404 by the
app (or a /metrics route per gunicorn worker, each showing only its own
counts). Now: the business metrics below are plain prometheus_client-style
code with the import changed, the HTTP metrics come from the middleware,
and the app has no /metrics route at all -- nginx sends /metrics to
fastprom-fcgi, which shows every worker's counts from the shared segment.

Run (from the repository root):
    make
    PYTHONPATH=src/python FASTPROM_PATH=/dev/shm/fastprom \
        gunicorn -w 4 -b 127.0.0.1:5000 'examples.flask_app:create_app()'
    build/fastprom-fcgi --socket /run/fastprom/fastprom-fcgi.sock
and nginx with conf/nginx/example-site.conf.
"""
import os
import time

from flask import Flask, abort, jsonify, request

import fastprom.flask
from fastprom import Counter, Gauge, Histogram, Info

# algo/monitoring/metrics.py of the seed; only the import line changed.
detection_total = Counter("detection_total", "Detections run, by camera and model.", ["camera_id", "model_type"])
detection_latency = Histogram("detection_latency_seconds", "Detection latency in seconds.", ["model_type"],
                              buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
detected_objects = Histogram("detected_objects", "Objects found per detection.", buckets=(0, 1, 2, 5, 10, 20, 50))
llm_requests_total = Counter("llm_requests_total", "LLM requests, by model and outcome.", ["model", "outcome"])
active_streams = Gauge("active_streams", "Camera streams being processed now.")
app_info = Info("algo_app", "Build of the detection service.")


def record_detection(camera_id, model_type, latency, num_objects, num_groups):
    """The seed's helper: one detection's metrics."""
    detection_total.labels(camera_id=camera_id, model_type=model_type).inc()
    detection_latency.labels(model_type=model_type).observe(latency)
    detected_objects.observe(num_objects + num_groups)


def create_app():
    app = Flask(__name__)
    app_info.info({"version": "1.4.0", "streaming": os.environ.get("ALGO_ENABLE_KAFKA_STREAMING", "false")})

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/api/cameras/<int:camera_id>/detections")
    def detections(camera_id):
        model = request.args.get("model", "yolov8n")
        start = time.perf_counter()
        objects = camera_id % 7
        record_detection(str(camera_id % 50), model, time.perf_counter() - start, objects, objects // 3)
        return jsonify(camera_id=camera_id, model=model, objects=objects)

    @app.get("/api/users/<user_id>/profile")
    def profile(user_id):
        if user_id.startswith("missing"):
            abort(404)
        return jsonify(user_id=user_id, plan="pro")

    @app.post("/api/llm/<model>/complete")
    def complete(model):
        prompt = request.get_data(as_text=True)
        llm_requests_total.labels(model=model, outcome="ok").inc()
        return jsonify(model=model, completion=prompt[::-1])

    @app.get("/api/streams/<int:camera_id>")
    def stream(camera_id):
        chunks = int(request.args.get("chunks", "3"))

        @active_streams.track_inprogress()
        def frames():
            for i in range(chunks):
                yield f"camera {camera_id} frame {i}\n"

        return app.response_class(frames(), mimetype="text/plain")

    @app.get("/api/reports/<int:report_id>/render")
    def render_report(report_id):
        raise RuntimeError(f"report {report_id}: renderer crashed")

    # Health checks are not traffic: keep them out of the request metrics.
    fastprom.flask.instrument(app, excluded_paths=[r"/health$"])
    return app
