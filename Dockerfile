# One image for web, the workers (worker, importer) and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HANDOFF_VAR_DIR=/app/var
WORKDIR /app

COPY pyproject.toml README.md ./
COPY config ./config
COPY leads ./leads
COPY funnel ./funnel
COPY campaigns ./campaigns
COPY outbox ./outbox
RUN pip install .
COPY . .
# collectstatic needs settings to load, not real secrets.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdefghijklmnop \
    python manage.py collectstatic --noinput

RUN useradd --create-home handoff && mkdir -p /app/var && chown -R handoff /app/var
USER handoff
EXPOSE 8000
# Its settings (bind, workers, threads, timeouts, logs) are in config/gunicorn.conf.py.
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
