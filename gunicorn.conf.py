"""gunicorn settings for the API; each one can be overridden from the environment."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
accesslog = "-"
# No request headers and no query string in the access log: no bearer token, even one sent in a URL
# (?access_token=...), and no ids from filters are ever logged.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
# Generous enough that the application answers oversized headers itself (431, problem+json,
# MAX_HEADER_BYTES); beyond these, gunicorn refuses the request before it reaches the application.
limit_request_line = 8190
limit_request_field_size = 32768
limit_request_fields = 100
