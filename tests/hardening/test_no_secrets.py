"""No secrets in the repository: every tracked file is searched for the shapes real keys have.

Keys a test, the demo or a build step needs are spelled so that they say what they are
("test-only", "dev-only", "change-me", "not-a-secret"...); anything else that looks like a
key, a private key block or a committed .env fails here.
"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Stripe live key": re.compile(r"\b[rs]k_live_[0-9A-Za-z]{16,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "secret assignment": re.compile(
        r"""(?ix)\b[A-Z_]*(?:SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY|TOKEN)\b
        \s*[:=]\s*["']([^"'\s]{20,})["']"""
    ),
}
# Words a value carries when it is a placeholder or a key for tests, demos and builds only.
HARMLESS = re.compile(
    r"test|dev-only|change-me|example|not-a-secret|not-for-production|collectstatic|benchmark"
    r"|placeholder|dummy|fake|\{|\$",
    re.IGNORECASE,
)
SKIP_SUFFIXES = {".png", ".jpg", ".ico", ".gif", ".woff", ".woff2", ".gz", ".dump", ".pdf"}


def tracked_files(root: Path) -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True, timeout=30
        ).stdout.decode()
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        skip = {".venv", "var", ".git", "node_modules"}
        names = [
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file() and not skip & set(path.relative_to(root).parts)
        ]
    return [root / name for name in names]


def find_secrets(files: list[Path], root: Path) -> list[str]:
    found = []
    for path in files:
        relative = path.relative_to(root)
        if path.name == ".env" or (path.name.startswith(".env.") and path.name != ".env.example"):
            found.append(f"{relative}: an environment file is committed")
            continue
        if path.suffix.lower() in SKIP_SUFFIXES or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            for name, pattern in PATTERNS.items():
                for match in pattern.finditer(line):
                    value = match.group(match.lastindex or 0)
                    if name == "secret assignment" and HARMLESS.search(value):
                        continue
                    found.append(f"{relative}:{number}: {name}")
    return found


def test_no_secret_is_committed():
    files = tracked_files(ROOT)
    assert len(files) > 50, "the file list is not the repository's"
    assert find_secrets(files, ROOT) == []


def test_the_search_finds_planted_keys(tmp_path):
    planted = tmp_path / "settings_local.py"
    # Built from pieces, so this file does not hold a key shape itself.
    aws = "AKIA" + "Q" * 16
    stripe = "STRIPE_" + 'SECRET = "' + "9f8e7d6c5b4a3928" * 2 + '"'
    planted.write_text(
        f'AWS_KEY = "{aws}"\n{stripe}\n'
        'SECRET_KEY = "test-only-secret-key-not-for-production-0123456789"\n'
    )
    (tmp_path / ".env").write_text("SECRET_KEY=whatever\n")
    found = find_secrets([planted, tmp_path / ".env"], tmp_path)
    assert found == [
        "settings_local.py:1: AWS access key",
        "settings_local.py:2: secret assignment",
        ".env: an environment file is committed",
    ]
