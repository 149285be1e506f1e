"""gunicorn settings for the API; each one can be overridden from the environment.

The workers are gevent workers (``api.serving.ProblemGeventWorker``): each connection is a greenlet, so slow
or idle clients cannot take the workers' threads away from everyone else (see docs/adr/008-serving.md).
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "api.serving.ProblemGeventWorker")
# Connections one worker holds at once (slow ones included); beyond it, new ones wait in the listen backlog.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))  # used only with GUNICORN_WORKER_CLASS=gthread
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# gunicorn 25+ opens a control socket for `gunicornc` at one fixed path per user ($HOME/.gunicorn/gunicorn.ctl),
# which every instance on the host would share. Off, unless a path of its own is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
# Embedded mode (SQLite): views catch up behind commands within 200 ms, the commands of that moment in one
# batch, instead of after each command before it is answered; every read still catches up first.
os.environ.setdefault("CATCH_UP_WITHIN", "0.2")
accesslog = "-"
# No request headers and no query string in the access log: no bearer token, even one sent in a URL
# (?access_token=...), and no ids from filters are ever logged. The logger builds only these fields.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
logger_class = "api.serving.AccessLogger"
# Generous enough that the application answers oversized headers itself (431, problem+json,
# MAX_HEADER_BYTES); beyond these, gunicorn refuses the request itself, also as problem+json (api.serving).
limit_request_line = 8190
limit_request_field_size = 32768
limit_request_fields = 100


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """The application is loaded: move its objects (76,000 of a worker's 85,000 under load) out of the cyclic
    garbage collector's reach. A full collection then walks only what requests made: 3.5 ms instead of 50 ms,
    during which every connection of the worker waited."""
    import gc

    if not getattr(worker, "loaded", True):
        return  # the event store did not answer: called again once the application is loaded (api.serving)
    gc.freeze()
    worker.log.info("Worker ready (pid: %s)", worker.pid)  # its application loaded: it answers from now on
