"""`python -m medkg_server [--store DIR] [--host H] [--port N] [--workers N]`: serve a built store.

The `medkg serve` command is the usual entry point (it builds the store first when missing);
this one serves an existing store and is what the tests start.
"""

from __future__ import annotations

import argparse
import sys

from medkg.config import ConfigError, load_settings
from medkg_server.serving import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medkg_server", description=__doc__)
    parser.add_argument("--store", help="store folder (default: MEDKG_STORE or .medkg/store)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(store=args.store)
        serve(settings, args.host, args.port, args.workers)
    except ConfigError as exc:
        print(f"medkg_server: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
