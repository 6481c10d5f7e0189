"""The signing key of a development installation that sets no SECRET_KEY (`make run`).

A key fixed in the source would let anyone forge the tracking redirects, unsubscribe links
and sessions of every dev install. Instead each installation makes a random key on its first
run and keeps it under var/ (readable by its owner only), so links and sessions stay valid
across restarts and processes (web, worker and beat read the same file).
"""

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_LENGTH = 50


def installation_secret_key(path: Path) -> str:
    """The key in `path`, made (mode 0600) on first use. Processes starting together agree:
    the key is written to a temporary file and linked into place, so the first link wins and
    nobody reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(descriptor, "w") as handle:  # mkstemp creates it 0600
                handle.write(secrets.token_urlsafe(64) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            # Another process made it first: use theirs.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise ImproperlyConfigured(
            f"{path} holds no usable secret key; delete it to make a new one, or set SECRET_KEY."
        )
    return key
