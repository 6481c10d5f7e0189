"""The soak: the real app (gunicorn, a Celery worker and beat, PostgreSQL, Redis, a local SMTP
server) under concurrent clients for a bounded time, then the books are checked.

    setup.py    the soak's own users, tokens, campaigns, nurture programme and leads
    load.py     the asyncio clients (httpx) and the request mix
    checks.py   after the queues drain: statuses, logs, rollups, the log, messages, imports
    run.py      starts the processes, runs the load, drains, checks, prints the figures

`make soak` (SOAK_SECONDS, SOAK_CLIENTS) runs it on a throwaway test_ database;
tests/hardening/test_soak.py runs it short inside the suite.
"""
