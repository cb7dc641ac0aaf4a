#!/usr/bin/python3
"""The WSGI (Flask) and ASGI (FastAPI/Starlette) middleware, in process,
against real framework apps, each test with its own private registry.

What is proved: route labels are the framework's templates (never raw
paths), unmatched requests share one value, methods are bounded, excluded
paths leave no trace, the in-progress gauge is 1 inside a request and 0
after, streamed responses are timed to their last chunk, a client that goes
away mid-response is status 499, exceptions are counted once with status
500 (also those Flask turns into an error page), an app's own early-answering
before_request cannot hide the route, lifespan and websocket scopes pass
through untouched, a full series limit never breaks a request, and the
namespace / label_names options rename what they should. Under wsgiref's
own server code, the middleware hides neither a wsgi.file_wrapper response
(the server's sendfile path) nor the length of a list response (the
server's Content-Length).
"""
import asyncio
import io
import time
import unittest
import wsgiref.handlers
import wsgiref.util

import python_support

fastprom = python_support.import_fastprom()
import fastprom.asgi  # noqa: E402
import fastprom.flask  # noqa: E402
import fastprom.wsgi  # noqa: E402


def samples(registry):
    return python_support.parse(fastprom.generate_latest(registry).decode("utf-8"))


def value(registry, name, **labels):
    return registry.get_sample_value(name, labels)


# ---- WSGI -------------------------------------------------------------------

def serve_wsgi(app, method, path, chunks_to_read=None):
    """Does what a WSGI server does: call, iterate (all, or only
    chunks_to_read chunks: the client went away), close. Returns (status, body)."""
    environ = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ["REQUEST_METHOD"] = method
    environ["PATH_INFO"] = path
    got = {}

    def start_response(status, headers, exc_info=None):
        got["status"] = status
        return lambda data: None

    result = app(environ, start_response)
    body = []
    try:
        for chunk in result:
            body.append(chunk)
            if chunks_to_read is not None and len(body) >= chunks_to_read:
                break
    finally:
        if hasattr(result, "close"):
            result.close()
    return got.get("status"), b"".join(body)


def run_wsgiref(app, path, handler_class=wsgiref.handlers.SimpleHandler):
    """Runs one GET through wsgiref's server-side handler (the code
    wsgiref.simple_server runs per request); returns the raw HTTP answer."""
    environ = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    out = io.BytesIO()
    handler_class(io.BytesIO(), out, io.StringIO(), environ, multithread=False).run(app)
    return out.getvalue()


def flask_app(registry, **options):
    from flask import Flask, Response, abort
    app = Flask("middleware_test")
    app.logger.disabled = True
    seen = {}

    @app.route("/items/<int:item_id>")
    def item(item_id):
        seen["inprogress"] = value(registry, "http_requests_in_progress", method="GET", route="/items/<int:item_id>")
        return f"item {item_id}"

    @app.route("/fail/<name>")
    def fail(name):
        raise RuntimeError(name)

    @app.route("/missing/<name>")
    def missing(name):
        abort(404)

    @app.route("/stream/<int:n>")
    def stream(n):
        def gen():
            for i in range(n):
                time.sleep(0.05)
                yield b"chunk\n"
        return Response(gen())

    @app.route("/guarded/<token>")
    def guarded(token):
        return "never reached"

    @app.before_request
    def guard():
        from flask import request
        if request.path.startswith("/guarded/"):
            return "denied", 403

    fastprom.flask.instrument(app, registry=registry, **options)
    return app, seen


class Wsgi(unittest.TestCase):
    def setUp(self):
        self.r = fastprom.CollectorRegistry()

    def test_route_templates_not_paths(self):
        app, seen = flask_app(self.r)
        for i in range(20):
            self.assertEqual(serve_wsgi(app, "GET", f"/items/{i}")[0], "200 OK")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/items/<int:item_id>",
                               status="200"), 20)
        self.assertEqual(value(self.r, "http_request_duration_seconds_count", method="GET",
                               route="/items/<int:item_id>"), 20)
        self.assertEqual(seen["inprogress"], 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/items/<int:item_id>"), 0)
        routes = {dict(labels).get("route") for (_, labels) in samples(self.r)}
        self.assertEqual(routes, {"/items/<int:item_id>"})

    def test_unmatched_and_methods_are_bounded(self):
        app, _ = flask_app(self.r)
        for i in range(5):
            serve_wsgi(app, "GET", f"/no/such/{i}")
        serve_wsgi(app, "BREW", "/items/1")
        serve_wsgi(app, "POST", "/items/1")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="__unknown__", status="404"), 5)
        self.assertEqual(value(self.r, "http_requests_total", method="OTHER", route="__unknown__", status="405"), 1)
        self.assertEqual(value(self.r, "http_requests_total", method="POST", route="__unknown__", status="405"), 1)

    def test_template_route_with_handler_status(self):
        app, _ = flask_app(self.r)
        serve_wsgi(app, "GET", "/missing/x")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/missing/<name>", status="404"), 1)
        self.assertIsNone(value(self.r, "http_request_exceptions_total", method="GET", route="/missing/<name>",
                                exception="NotFound"))

    def test_exception_turned_into_500_page_is_counted(self):
        app, _ = flask_app(self.r)
        status, _ = serve_wsgi(app, "GET", "/fail/x")
        self.assertTrue(status.startswith("500"))
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/fail/<name>", status="500"), 1)
        self.assertEqual(value(self.r, "http_request_exceptions_total", method="GET", route="/fail/<name>",
                               exception="RuntimeError"), 1)

    def test_propagated_exception_counted_once(self):
        app, _ = flask_app(self.r)
        app.testing = True  # PROPAGATE_EXCEPTIONS: the error leaves the WSGI app
        with self.assertRaises(RuntimeError):
            serve_wsgi(app, "GET", "/fail/y")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/fail/<name>", status="500"), 1)
        self.assertEqual(value(self.r, "http_request_exceptions_total", method="GET", route="/fail/<name>",
                               exception="RuntimeError"), 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/fail/<name>"), 0)

    def test_early_answer_of_another_before_request_keeps_route(self):
        app, _ = flask_app(self.r)
        self.assertTrue(serve_wsgi(app, "GET", "/guarded/abc")[0].startswith("403"))
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/guarded/<token>", status="403"), 1)

    def test_streaming_timed_to_last_chunk(self):
        app, _ = flask_app(self.r)
        _, body = serve_wsgi(app, "GET", "/stream/4")
        self.assertEqual(body.count(b"chunk"), 4)
        self.assertEqual(value(self.r, "http_request_duration_seconds_bucket", method="GET", route="/stream/<int:n>",
                               le="0.1"), 0)
        self.assertGreaterEqual(value(self.r, "http_request_duration_seconds_sum", method="GET",
                                      route="/stream/<int:n>"), 0.2)

    def test_client_gone_mid_stream_is_499(self):
        app, _ = flask_app(self.r)
        serve_wsgi(app, "GET", "/stream/20", chunks_to_read=1)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/stream/<int:n>", status="499"), 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/stream/<int:n>"), 0)
        # Timed to the client's going (one 0.05 s chunk), not to the whole
        # stream, which cannot take less than its 20 sleeps: that bound
        # tells the two apart on a slow host too (0.3 s left it 0.25 s).
        self.assertLess(value(self.r, "http_request_duration_seconds_sum", method="GET", route="/stream/<int:n>"),
                        20 * 0.05)

    def test_excluded_paths(self):
        app, _ = flask_app(self.r, excluded_paths=[r"/items/1\d*$"])
        serve_wsgi(app, "GET", "/items/1")
        serve_wsgi(app, "GET", "/items/12")
        serve_wsgi(app, "GET", "/items/2")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/items/<int:item_id>",
                               status="200"), 1)

    def test_namespace_and_label_names(self):
        app, _ = flask_app(self.r, namespace="shop", label_names={"route": "handler", "status": "code"})
        serve_wsgi(app, "GET", "/items/3")
        self.assertEqual(value(self.r, "shop_http_requests_total", method="GET", handler="/items/<int:item_id>",
                               code="200"), 1)
        with self.assertRaises(ValueError):
            fastprom.wsgi.MetricsMiddleware(app.wsgi_app, registry=self.r, label_names={"path": "x"})

    def test_plain_wsgi_with_route_function(self):
        def hello(environ, start_response):
            start_response("201 Created", [("Content-Type", "text/plain")])
            return [b"ok"]

        def route(environ):
            parts = environ["PATH_INFO"].split("/")
            return "/users/{id}" if len(parts) == 3 and parts[1] == "users" else None

        app = fastprom.wsgi.MetricsMiddleware(hello, route=route, registry=self.r)
        for i in range(3):
            serve_wsgi(app, "PUT", f"/users/{i}")
        serve_wsgi(app, "GET", "/elsewhere/9")
        self.assertEqual(value(self.r, "http_requests_total", method="PUT", route="/users/{id}", status="201"), 3)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="__unknown__", status="201"), 1)

    def test_full_family_never_breaks_a_request(self):
        small = fastprom.CollectorRegistry(family_limit=2)
        app, _ = flask_app(small)
        for path in ("/items/1", "/no/1", "/fail/z", "/guarded/q", "/items/2"):
            self.assertIsNotNone(serve_wsgi(app, "GET", path)[0])
        self.assertGreater(small.stat()["dropped_series"], 0)
        self.assertEqual(value(small, "http_requests_total", method="GET", route="/items/<int:item_id>",
                               status="200"), 2)

    def test_file_wrapper_response_reaches_the_server(self):
        files = []

        def download(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            files.append(io.BytesIO(b"x" * 1000))
            return environ["wsgi.file_wrapper"](files[-1], 256)

        class SendfileServer(wsgiref.handlers.SimpleHandler):
            sent = []

            def sendfile(self):
                # wsgiref's hook for a platform sendfile(), called only when the
                # result is the server's own file_wrapper (as gunicorn decides).
                self.sent.append(self.result)
                for block in self.result:
                    self.write(block)
                return True

        app = fastprom.wsgi.MetricsMiddleware(download, route=lambda environ: "/download", registry=self.r)
        answer = run_wsgiref(app, "/download", SendfileServer)
        self.assertTrue(answer.endswith(b"x" * 1000), answer[:200])
        self.assertEqual(len(SendfileServer.sent), 1, "the server did not see its file_wrapper")
        self.assertIsInstance(SendfileServer.sent[0], wsgiref.util.FileWrapper)
        self.assertTrue(files[0].closed)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/download", status="200"), 1)
        self.assertEqual(value(self.r, "http_request_duration_seconds_count", method="GET", route="/download"), 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/download"), 0)

    def test_list_response_keeps_its_length(self):
        def hello(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]

        app = fastprom.wsgi.MetricsMiddleware(hello, registry=self.r)
        answer = run_wsgiref(app, "/hello")
        # wsgiref sets Content-Length only when len(result) == 1.
        self.assertIn(b"\r\nContent-Length: 5\r\n", answer)
        self.assertTrue(answer.endswith(b"\r\n\r\nhello"), answer)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="__unknown__", status="200"), 1)
        body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda status, headers, exc_info=None: None)
        self.assertEqual(len(body), 1)
        body.close()


# ---- ASGI -------------------------------------------------------------------

def call_asgi(app, method, path, disconnect_after_chunks=None):
    """Drives one HTTP request like uvicorn: sends after a disconnect are
    dropped, receive() says http.disconnect once the client is gone.
    Returns (status, body)."""
    async def run():
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 5000),
                 "server": ("test", 80)}
        gone = asyncio.Event()
        state = {"request_sent": False, "chunks": 0, "status": None, "body": b""}

        async def receive():
            if not state["request_sent"]:
                state["request_sent"] = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if gone.is_set():
                return
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["body"] += message.get("body", b"")
                state["chunks"] += 1
                if disconnect_after_chunks is not None and state["chunks"] >= disconnect_after_chunks:
                    gone.set()

        await app(scope, receive, send)
        return state["status"], state["body"]

    return asyncio.run(run())


def fastapi_app(registry, **options):
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import StreamingResponse
    app = FastAPI()
    seen = {}

    @app.get("/items/{item_id}")
    async def item(item_id: int):
        seen["inprogress"] = value(registry, "http_requests_in_progress", method="GET", route="/items/{item_id}")
        return {"id": item_id}

    @app.get("/missing/{name}")
    async def missing(name: str):
        raise HTTPException(status_code=404)

    @app.get("/fail/{name}")
    async def fail(name: str):
        raise RuntimeError(name)

    @app.get("/stream/{n}")
    async def stream(n: int):
        async def gen():
            for _ in range(n):
                await asyncio.sleep(0.05)
                yield b"chunk\n"
        return StreamingResponse(gen())

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    async def thing(thing_id: str):
        return {"thing": thing_id}

    app.mount("/v2", sub)
    app.add_middleware(fastprom.asgi.MetricsMiddleware, registry=registry, **options)
    return app, seen


class Asgi(unittest.TestCase):
    def setUp(self):
        self.r = fastprom.CollectorRegistry()

    def test_route_templates_not_paths(self):
        app, seen = fastapi_app(self.r)
        for i in range(20):
            self.assertEqual(call_asgi(app, "GET", f"/items/{i}")[0], 200)
        call_asgi(app, "GET", "/v2/things/abc")
        call_asgi(app, "GET", "/v2/things/def")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/items/{item_id}", status="200"), 20)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/v2/things/{thing_id}",
                               status="200"), 2)
        self.assertEqual(seen["inprogress"], 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/items/{item_id}"), 0)
        routes = {dict(labels).get("route") for (_, labels) in samples(self.r)}
        self.assertEqual(routes, {"/items/{item_id}", "/v2/things/{thing_id}"})

    def test_wrapping_outside_finds_routes_too(self):
        from fastapi import FastAPI
        inner = FastAPI()

        @inner.get("/orders/{order_id}")
        async def order(order_id: int):
            return {}

        app = fastprom.asgi.MetricsMiddleware(inner, registry=self.r)
        call_asgi(app, "GET", "/orders/7")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/orders/{order_id}",
                               status="200"), 1)

    def test_unmatched_405_and_handler_statuses(self):
        app, _ = fastapi_app(self.r)
        for i in range(3):
            self.assertEqual(call_asgi(app, "GET", f"/nowhere/{i}")[0], 404)
        self.assertEqual(call_asgi(app, "DELETE", "/items/1")[0], 405)
        self.assertEqual(call_asgi(app, "GET", "/missing/x")[0], 404)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="__unknown__", status="404"), 3)
        self.assertEqual(value(self.r, "http_requests_total", method="DELETE", route="/items/{item_id}",
                               status="405"), 1)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/missing/{name}", status="404"), 1)
        self.assertNotIn("http_request_exceptions_total", {n for (n, _) in samples(self.r)})

    def test_exception_is_500_and_counted(self):
        app, _ = fastapi_app(self.r)
        with self.assertRaises(RuntimeError):
            call_asgi(app, "GET", "/fail/x")
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/fail/{name}", status="500"), 1)
        self.assertEqual(value(self.r, "http_request_exceptions_total", method="GET", route="/fail/{name}",
                               exception="RuntimeError"), 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/fail/{name}"), 0)

    def test_streaming_timed_to_last_chunk(self):
        app, _ = fastapi_app(self.r)
        status, body = call_asgi(app, "GET", "/stream/4")
        self.assertEqual((status, body.count(b"chunk")), (200, 4))
        self.assertEqual(value(self.r, "http_request_duration_seconds_bucket", method="GET", route="/stream/{n}",
                               le="0.1"), 0)
        self.assertGreaterEqual(value(self.r, "http_request_duration_seconds_sum", method="GET",
                                      route="/stream/{n}"), 0.2)

    def test_client_disconnect_is_499(self):
        app, _ = fastapi_app(self.r)
        call_asgi(app, "GET", "/stream/40", disconnect_after_chunks=2)
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/stream/{n}", status="499"), 1)
        self.assertEqual(value(self.r, "http_requests_in_progress", method="GET", route="/stream/{n}"), 0)
        self.assertLess(value(self.r, "http_request_duration_seconds_sum", method="GET", route="/stream/{n}"), 1.0)

    def test_excluded_paths(self):
        app, _ = fastapi_app(self.r, excluded_paths=[r"/items/"])
        call_asgi(app, "GET", "/items/1")
        self.assertEqual(samples(self.r), {})

    def test_lifespan_and_websocket_pass_through_untouched(self):
        calls = []

        async def raw(scope, receive, send):
            calls.append((scope["type"], receive, send))

        app = fastprom.asgi.MetricsMiddleware(raw, registry=self.r)

        async def run():
            async def receive():
                return {}

            async def send(message):
                pass
            await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
            await app({"type": "websocket", "path": "/ws", "headers": []}, receive, send)
            return receive, send

        receive, send = asyncio.run(run())
        self.assertEqual(calls, [("lifespan", receive, send), ("websocket", receive, send)])
        self.assertEqual(samples(self.r), {})

    def test_fastapi_startup_runs_through_middleware(self):
        from starlette.testclient import TestClient
        app, _ = fastapi_app(self.r)
        started = []
        app.router.on_startup.append(lambda: started.append(True))
        with TestClient(app) as client:
            self.assertEqual(client.get("/items/5").status_code, 200)
        self.assertEqual(started, [True])
        self.assertEqual(value(self.r, "http_requests_total", method="GET", route="/items/{item_id}", status="200"), 1)


if __name__ == "__main__":
    unittest.main(verbosity=1)
