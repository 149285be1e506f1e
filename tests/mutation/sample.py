"""A bounded mutation sample for CI: a fixed list of hand-written mutants, each of which the fast tests must kill.

    .venv/bin/python tests/mutation/sample.py            # every mutant in SAMPLE (about 25 s on 2 cores)
    .venv/bin/python tests/mutation/sample.py --list     # what it would do
    .venv/bin/python tests/mutation/sample.py overdue-due-today-counts errors-leak-the-exception

The repository's sources and tests are copied to a temporary directory; each mutant is one textual
substitution in that copy (never in the working tree), the chosen tests run against it with pytest, and the
file is put back before the next one. The script fails (exit 1) when

* the tests do not pass on the unmutated copy (the sample would prove nothing),
* a mutant's original text is not found exactly once (the source moved on: update SAMPLE), or
* a mutant survives (the tests no longer state that rule).

The full run is ``mutmut run`` (see tests/mutation/README.md); this sample keeps the rules that matter most
guarded on every push, in well under three minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("domain", "projections", "api", "persistence", "tests", "pyproject.toml", "wsgi.py")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", "instance", "*.sqlite3*")

DOMAIN_TESTS = ("tests/domain/test_relationship.py", "tests/domain/test_concern.py")
HEALTH_TESTS = ("tests/projections/test_health_bands.py", "tests/projections/test_health_figures.py",
                "tests/projections/test_health_score.py")
ERROR_TESTS = ("tests/api/test_error_mapping.py",)
PYTEST_ARGS = ("-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", "-m", "not postgres and not slow")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    rule: str


SAMPLE = [
    Mutant("giver-acknowledges-own-feedback", "domain/relationship.py",
           "if by.actor != recipient or by.role not in (MENTOR, MENTEE):",
           "if by.actor != recipient and by.role not in (MENTOR, MENTEE):", DOMAIN_TESTS,
           "only the recipient, never a coordinator, acknowledges feedback"),
    Mutant("closed-item-found-by-last-match", "domain/relationship.py",
           "start = marks.find(item_id.hex)", "start = marks.rfind(item_id.hex)", DOMAIN_TESTS,
           "a closed item is found at its own mark, not at a match across two marks"),
    Mutant("check-in-today-refused", "domain/relationship.py",
           "if held_on > by.at.date():", "if held_on >= by.at.date():", DOMAIN_TESTS,
           "a check-in may be held up to and including today, not later"),
    # a module-level table: outside mutmut's reach
    Mutant("resumed-stays-paused", "domain/relationship.py",
           'RelationshipResumed: (ACTIVE, "resumed")', 'RelationshipResumed: (PAUSED, "resumed")', DOMAIN_TESTS,
           "resuming makes a relationship active again"),
    Mutant("concern-visible-to-the-other-participant", "domain/concern.py",
           "return overseer or principal_id == self.raised_by", "return overseer or principal_id != self.raised_by",
           DOMAIN_TESTS, "a participant sees only the concerns they raised"),
    Mutant("overdue-due-today-counts", "projections/health/score.py",
           "due is not None and due < today", "due is not None and due <= today", HEALTH_TESTS,
           "an action due today is not overdue"),
    Mutant("overdue-in-the-machines-time-zone", "projections/health/score.py",
           "today = now.astimezone(timezone.utc).date().isoformat()",
           "today = now.astimezone().date().isoformat()", HEALTH_TESTS,
           "overdue is counted by the UTC day, whatever the machine's time zone"),
    Mutant("band-floor-excluded", "projections/health/score.py",
           "if points >= floor), \"at_risk\")", "if points > floor), \"at_risk\")", HEALTH_TESTS,
           "a score of exactly 80, 60 or 40 belongs to the band it is the floor of"),
    Mutant("dormant-at-sixty-days", "projections/health/score.py",
           "> DORMANT_DAYS:", ">= DORMANT_DAYS:", HEALTH_TESTS,
           "dormant after MORE than 60 days without contact"),
    Mutant("score-rounds-half-to-even", "projections/health/score.py",
           "return math.floor(clamp(total, 0, 100) + 0.5)", "return round(clamp(total, 0, 100))", HEALTH_TESTS,
           "the score is rounded half up"),
    Mutant("overdue-penalty-uncapped", "projections/health/score.py",
           "= -min(OVERDUE_PENALTY_CAP, OVERDUE_PENALTY * late)", "= -(OVERDUE_PENALTY * late)",
           HEALTH_TESTS, "the overdue penalty is at most 20"),
    # a @delta.register function: outside mutmut's reach
    Mutant("feedback-counted-for-the-other-side", "projections/health/figures.py",
           'by_mentor = event.giver_role == "mentor"', 'by_mentor = event.giver_role == "mentee"', HEALTH_TESTS,
           "health counts feedback for the side that gave it"),
    Mutant("interface-error-is-500", "api/errors.py",
           "if isinstance(error, OperationalError | InterfaceError):", "if isinstance(error, OperationalError):",
           ERROR_TESTS, "a lost connection is 503 with Retry-After, not 500"),
    Mutant("errors-leak-the-exception", "api/errors.py",
           '    log.exception("unhandled error answering a request")\n'
           '    return problem(500, "The service failed to answer this request.")',
           '    log.exception("unhandled error answering a request")\n'
           '    return problem(500, str(error))',
           ERROR_TESTS, "an unexpected exception never reaches the client"),
    # a module-level table: outside mutmut's reach
    Mutant("412-slug-renamed", "api/errors.py",
           '412: "version-mismatch",', '412: "precondition-failed",', ERROR_TESTS,
           "every problem type slug is part of the contract"),
]


def copy_repository(into: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=IGNORED)
        elif source.exists():
            shutil.copy2(source, into / name)


def run_tests(workdir: Path, tests: tuple[str, ...]) -> int:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # never a stale .pyc of the file just changed
    return subprocess.run([sys.executable, "-m", "pytest", *PYTEST_ARGS, *tests], cwd=workdir, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def imports_the_copy(workdir: Path) -> bool:
    """The copy, not the editable install in the virtualenv, is what the tests import."""
    found = subprocess.run([sys.executable, "-c", "import domain.relationship as m; print(m.__file__)"],
                           cwd=workdir, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    return Path(found.stdout.strip()).resolve().is_relative_to(workdir.resolve())


def apply(workdir: Path, mutant: Mutant) -> str:
    """Apply ``mutant`` to the copy; returns the original text of the file, to put back."""
    path = workdir / mutant.path
    text = path.read_text()
    count = text.count(mutant.original)
    if count != 1:
        raise LookupError(f"{mutant.name}: {mutant.original!r} occurs {count} times in {mutant.path}, not once; "
                          "update SAMPLE in tests/mutation/sample.py")
    path.write_text(text.replace(mutant.original, mutant.replacement))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (all by default)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in SAMPLE if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in SAMPLE}
    if unknown:
        parser.error(f"unknown mutants: {', '.join(sorted(unknown))}")
    if args.list:
        for mutant in chosen:
            print(f"{mutant.name:45} {mutant.path:32} {mutant.rule}")
        return 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-sample-") as tmp:
        workdir = Path(tmp)
        copy_repository(workdir)
        if not imports_the_copy(workdir):
            print("the tests would import the working tree, not the copy: refusing to run", file=sys.stderr)
            return 1
        every_test = tuple(sorted({t for m in chosen for t in m.tests}))
        if run_tests(workdir, every_test) != 0:
            print(f"the tests fail on the unmutated copy: {' '.join(every_test)}", file=sys.stderr)
            return 1
        survivors = []
        for mutant in chosen:
            original = apply(workdir, mutant)
            try:
                code = run_tests(workdir, mutant.tests)
            finally:
                (workdir / mutant.path).write_text(original)
            killed = code == 1  # 1: tests failed; anything else (errors, interrupted, no tests) proves nothing
            print(f"{'killed  ' if killed else 'SURVIVED'} {mutant.name:45} {mutant.rule}"
                  + ("" if killed else f" (pytest exit code {code})"))
            if not killed:
                survivors.append(mutant.name)
    elapsed = time.monotonic() - started
    print(f"{len(chosen) - len(survivors)}/{len(chosen)} sampled mutants killed in {elapsed:.0f} s")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
