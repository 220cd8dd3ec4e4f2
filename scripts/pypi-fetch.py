#!/usr/bin/env python3
"""Downloads one file of a PyPI release through the index's JSON API, without pip.

    pypi-fetch.py PACKAGE VERSION PACKAGETYPE DESTINATION

PACKAGETYPE is `sdist` or `bdist_wheel`. Not `pip download` for sources: pip prepares an sdist's metadata,
which for some packages runs their whole build. The file URL in the JSON may be relative (mirrors and
proxies answer `../../packages/...`): it is resolved against the URL the JSON came from, after redirects.
The file's sha256 from the index is checked; the destination appears only when complete and verified.
PYPI_JSON_URL overrides the index (default https://pypi.org/pypi), for tests and mirrors.
"""
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    package, version, kind, destination = sys.argv[1:5]
    index = os.environ.get("PYPI_JSON_URL", "https://pypi.org/pypi").rstrip("/")
    with urllib.request.urlopen(f"{index}/{package}/json", timeout=60) as response:
        base = response.geturl()
        release = json.load(response)
    files = [f for f in release.get("releases", {}).get(version, []) if f.get("packagetype") == kind]
    if not files:
        print(f"pypi-fetch: {package} {version} has no {kind} on {index}", file=sys.stderr)
        return 1
    chosen = files[0]
    url = urllib.parse.urljoin(base, chosen["url"])
    expected = (chosen.get("digests") or {}).get("sha256")
    digest = hashlib.sha256()
    partial = destination + ".part"
    with urllib.request.urlopen(url, timeout=600) as response, open(partial, "wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if expected and digest.hexdigest() != expected:
        os.remove(partial)
        print(f"pypi-fetch: {url} has sha256 {digest.hexdigest()}, the index says {expected}", file=sys.stderr)
        return 1
    os.replace(partial, destination)
    return 0


if __name__ == "__main__":
    sys.exit(main())
