# The Mentorship Ledger service image: the API (gunicorn) and the projection worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 ledger \
 && useradd --system --uid 10001 --gid ledger --home-dir /app --shell /usr/sbin/nologin ledger

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY projections ./projections
COPY persistence ./persistence
COPY api ./api
RUN pip install .
COPY wsgi.py gunicorn.conf.py ./
RUN mkdir -p /app/instance && chown ledger:ledger /app/instance

USER ledger
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
