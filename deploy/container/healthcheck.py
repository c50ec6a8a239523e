"""Container healthcheck: exit 0 when GET $CDC_SYNC_HEALTHCHECK_URL (or argv[1]) answers 2xx.

The image has no curl; this needs only the standard library. One image runs several processes,
each healthy on its own endpoint (serve: /readyz on 8000; run, writer: /readyz on their admin listeners)."""

import os
import sys
import urllib.request


def main() -> int:
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CDC_SYNC_HEALTHCHECK_URL", "")
    if not url.startswith("http://127.0.0.1:"):
        print(f"healthcheck: want http://127.0.0.1:PORT/PATH, got {url!r}", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if 200 <= response.status < 300 else 1
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
