"""Dependency audit: pip-audit over the installed environment (Handoff's own package left out).

Fails (exit 1) on any known vulnerability. When the vulnerability services cannot be reached
(no network to the PyPI JSON API's per-release pages nor to OSV), pip-audit skips every
package instead of failing; this says so plainly and exits 0, since nothing was audited and
nothing was found. Run with the virtual environment's Python: `make audit`.
"""

import json
import subprocess
import sys
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
SERVICES = ("pypi", "osv")


def audit(service: str) -> dict | None:
    run = subprocess.run(
        [
            str(PIP_AUDIT),
            "--skip-editable",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--vulnerability-service",
            service,
            "--timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        return json.loads(run.stdout)
    except json.JSONDecodeError:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit ({service}) could not run: {last[:300]}")
        return None


def main() -> int:
    for service in SERVICES:
        report = audit(service)
        if report is None:
            continue
        dependencies = report.get("dependencies", [])
        audited = [dep for dep in dependencies if "skip_reason" not in dep]
        if not audited:
            print(f"pip-audit: the {service} vulnerability service answered for no package.")
            continue
        vulnerable = [dep for dep in audited if dep.get("vulns")]
        skipped = len(dependencies) - len(audited)
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
                print(f"VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
        print(
            f"pip-audit ({service}): {len(audited)} packages audited, {skipped} skipped, "
            f"{len(vulnerable)} vulnerable."
        )
        return 1 if vulnerable else 0
    print(
        "pip-audit: NOT AUDITED — no vulnerability service is reachable from this machine "
        f"({' and '.join(SERVICES)}); not failing for that alone."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
