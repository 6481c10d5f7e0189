"""gunicorn's settings, written once: every server of Handoff starts as

    gunicorn -c config/gunicorn.conf.py config.wsgi

(the image's CMD, compose's `web`, the tests' and benchmarks' servers, the soak). What varies
between them comes from the environment:

    HANDOFF_WEB_BIND        address:port to listen on (0.0.0.0:$PORT, PORT 8000 by default)
    HANDOFF_WEB_WORKERS     processes (3)
    HANDOFF_WEB_THREADS     threads per process (8): requests wait on the database, not the CPU
    HANDOFF_WEB_TIMEOUT     seconds a request may take before its worker is restarted (60)
    HANDOFF_WEB_KEEP_ALIVE  seconds an idle client connection stays open (75: longer than a
                            proxy's, so a connection is never closed under its next request;
                            gunicorn's default is 2)
    HANDOFF_WEB_ACCESS_LOG  where the access log goes: "-" (stdout, the default) or a file;
                            empty: none
    HANDOFF_WEB_LOG_LEVEL   gunicorn's own log level (info)
"""

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise SystemExit(f"{name}={value} is below the minimum 1")
    return value


bind = os.environ.get("HANDOFF_WEB_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("HANDOFF_WEB_WORKERS", 3)
worker_class = "gthread"
threads = _int("HANDOFF_WEB_THREADS", 8)
timeout = _int("HANDOFF_WEB_TIMEOUT", 60)
keepalive = _int("HANDOFF_WEB_KEEP_ALIVE", 75)
accesslog = os.environ.get("HANDOFF_WEB_ACCESS_LOG", "-") or None
loglevel = os.environ.get("HANDOFF_WEB_LOG_LEVEL", "info")
