"""Flask integration: the route template and unhandled exceptions, reported
to fastprom.wsgi.MetricsMiddleware from inside Flask.

    import fastprom.flask
    fastprom.flask.instrument(app, excluded_paths=["/static/"])

is the same as

    app.wsgi_app = fastprom.wsgi.MetricsMiddleware(app.wsgi_app, flask_app=app, ...)

Two hooks, registered once per app:
 - a before_request function, put first so an app's own before_request that
   answers early (auth, redirects) cannot hide the route: it reports
   request.url_rule.rule, the template Flask matched (None on 404/405);
 - a receiver of Flask's got_request_exception signal (a teardown_request
   function when blinker is missing): Flask reports there the exception it
   turned into a 500 page, which never reaches a WSGI middleware otherwise.
Flask is imported only when these are installed.
"""
from .wsgi import ENVIRON_KEY, MetricsMiddleware


def install_hooks(app):
    """Makes a Flask app report its route templates and exceptions to the
    fastprom WSGI middleware around it. Idempotent."""
    if app.extensions.get("fastprom"):
        return
    from flask import request

    def report_route():
        record = request.environ.get(ENVIRON_KEY)
        rule = request.url_rule
        if record is not None and rule is not None:
            record.set_route(rule.rule)

    def report_exception(exc):
        if exc is not None:
            record = request.environ.get(ENVIRON_KEY)
            if record is not None:
                record.exception = exc

    app.before_request_funcs.setdefault(None, []).insert(0, report_route)
    from flask import signals
    if signals.signals_available:
        # Sent only when a request fails: costs nothing per request.
        signals.got_request_exception.connect(lambda sender, exception, **_: report_exception(exception), app,
                                              weak=False)
    else:
        app.teardown_request(report_exception)
    app.extensions["fastprom"] = True


def instrument(app, **options):
    """Wraps app.wsgi_app with the metrics middleware (options as
    fastprom.wsgi.MetricsMiddleware's) and installs the hooks. Returns app."""
    app.wsgi_app = MetricsMiddleware(app.wsgi_app, flask_app=app, **options)
    return app
