#!/bin/sh
# Make sure Debian's Chromium is installed at /usr/bin/chromium, for the
# browser-peer test (tests/browser/). Idempotent and silent when it is there.
# Installing needs root and Debian's package registry; otherwise this exits
# non-zero and says so.
set -u

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

fail() {
    echo "ensure_chromium: $*" >&2
    echo "ensure_chromium: install it by hand (as root: apt-get update && apt-get install -y chromium)" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "$CHROMIUM is missing and apt-get is not available"
[ "$(id -u)" -eq 0 ] || fail "$CHROMIUM is missing and installing it needs root (running as uid $(id -u))"

log=$(mktemp "${TMPDIR:-/tmp}/ensure_chromium.XXXXXX")
trap 'rm -f "$log"' EXIT
echo "ensure_chromium: installing Debian's chromium (one time) ..." >&2
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get could not install chromium (output above)"
fi
[ -x "$CHROMIUM" ] || fail "apt-get finished but $CHROMIUM is still missing"
echo "ensure_chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed" >&2
