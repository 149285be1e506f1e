"""Supply-chain checks for CI: bandit must be clean; pip-audit must find no known vulnerability.

pip-audit needs a vulnerability database (PyPI's JSON API or OSV). When none is
reachable it can audit nothing: that is reported loudly, not taken as clean.
"""

import json
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def bandit() -> bool:
    result = subprocess.run([str(BIN / "bandit"), "-q", "-c", "pyproject.toml", "-r", "domain", "persistence",
                             "projections", "api", "wsgi.py", "gunicorn.conf.py"], text=True, capture_output=True)
    print(result.stdout + result.stderr)
    print(f"bandit: {'clean' if result.returncode == 0 else 'FINDINGS'}")
    return result.returncode == 0


def pip_audit() -> bool:
    result = subprocess.run([str(BIN / "pip-audit"), "--progress-spinner", "off", "--format", "json"],
                            text=True, capture_output=True, timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stdout + result.stderr)
        print("pip-audit: could not run")
        return result.returncode == 0
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = [d for d in dependencies if "skip_reason" not in d]
    for dependency in vulnerable:
        ids = ", ".join(v["id"] for v in dependency["vulns"])
        print(f"pip-audit: {dependency['name']} {dependency['version']}: {ids}")
    if not audited:
        print(f"pip-audit: WARNING no vulnerability data reachable from this machine; "
              f"{len(dependencies)} dependencies could not be audited")
    else:
        print(f"pip-audit: {len(audited)} dependencies audited, {len(vulnerable)} vulnerable")
    return not vulnerable


if __name__ == "__main__":
    sys.exit(0 if all([bandit(), pip_audit()]) else 1)
