"""Check or extend digest/store/migrations/manifest.txt, the list of shipped revisions.

    python scripts/migrations_manifest.py            # check (exit 1 on a problem)
    python scripts/migrations_manifest.py --add      # append revision files not listed yet
    python scripts/migrations_manifest.py --rehash 0013 [--since main]
                                                     # a revision no commit has shipped yet,
                                                     # edited after it was listed

Needs neither digest's dependencies nor an installed digest: it reads the files as text.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.store import manifest  # noqa: E402  (stdlib only: no digest dependency loads)

MIGRATIONS = ROOT / "digest" / "store" / "migrations"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--add", action="store_true", help="append unlisted revision files")
    action.add_argument("--rehash", metavar="REV", help="re-hash a revision not shipped yet")
    parser.add_argument(
        "--since",
        default="HEAD",
        help="with --rehash: the commit whose manifest counts as shipped (default HEAD)",
    )
    parser.add_argument("--migrations", type=Path, default=MIGRATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.add:
            for entry in manifest.add_missing(args.migrations):
                print(f"added {entry.line()}")
        elif args.rehash:
            print(f"re-hashed {manifest.rehash(args.migrations, args.rehash, args.since).line()}")
    except manifest.ManifestError as exc:
        print(exc, file=sys.stderr)
        return 1
    found = manifest.problems(args.migrations, history=True)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
