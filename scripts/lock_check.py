"""Compare the running environment with a lock file: ``python scripts/lock_check.py LOCK``.

Prints one line per difference (a pin missing or at another version, a package installed
that the lock does not name) and exits 1 if there is any; ``--prune`` first uninstalls the
packages the lock does not name (a re-install after a lock dropped something). Markers are
evaluated for this interpreter, so one universal lock checks on 3.11, 3.12 and 3.13;
``--pins`` prints just those pins, normalised, to diff against ``pip freeze``.
pip itself, the project's own editable install and ``--ignore`` names are not compared."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib import metadata

try:
    from packaging.markers import Marker
except ImportError:  # before the lock is installed: pip's own copy
    from pip._vendor.packaging.markers import Marker

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\#]+?))?\s*\\?\s*$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: str, environment: dict[str, str] | None = None) -> dict[str, str]:
    """The lock's pins that apply to this interpreter and platform (or to ``environment``:
    marker variables that override this interpreter's, e.g. another python_version)."""
    pins = {}
    for line in open(path, encoding="utf-8"):
        m = PIN.match(line)
        if m and (not m.group(3) or Marker(m.group(3)).evaluate(environment)):
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def installed(ignore: set[str]) -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()
            if canonical(d.metadata["Name"]) not in ignore}


def differences(want: dict[str, str], have: dict[str, str]) -> list[str]:
    out = [f"missing  {n}=={v}" for n, v in sorted(want.items()) if n not in have]
    out += [f"version  {n}: installed {have[n]}, locked {v}" for n, v in sorted(want.items())
            if n in have and have[n] != v]
    out += [f"extra    {n}=={v}" for n, v in sorted(have.items()) if n not in want]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock")
    parser.add_argument("--prune", action="store_true", help="uninstall what the lock lacks")
    parser.add_argument("--ignore", nargs="*", default=[], help="names not compared")
    parser.add_argument("--pins", action="store_true",
                        help="only print the pins for this interpreter (name==version, sorted)")
    args = parser.parse_args(argv)
    if args.pins:
        print("\n".join(f"{n}=={v}" for n, v in sorted(locked(args.lock).items())))
        return 0
    ignore = {"pip", "gridgis", *map(canonical, args.ignore)}
    want = locked(args.lock)
    if args.prune:
        extra = sorted(set(installed(ignore)) - set(want))
        if extra:
            print(f"uninstalling what {args.lock} does not name: {' '.join(extra)}",
                  file=sys.stderr)
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *extra],
                           check=True)
    problems = differences(want, installed(ignore))
    for p in problems:
        print(p)
    print(f"{args.lock}: {len(want)} pins for this interpreter, {len(problems)} differences",
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
