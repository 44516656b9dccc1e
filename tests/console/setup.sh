#!/usr/bin/env bash
# setup.sh: installs what tests/console_browser_test.go drives the web console
# with, idempotently, cached beside tests/compat's (COMPAT_CACHE, default
# tests/compat/.cache, git-ignored):
#   - $cache/console-node/node_modules: playwright-core (package-lock.json,
#     npm ci). Only the driver library: no browser is downloaded (playwright's
#     own browser builds are not fetched; scenario.mjs launches Debian's
#     chromium, which `make deps` installs).
# Skipped when up to date. A lock keeps concurrent test processes from
# installing into the same place. Prints the node_modules directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${COMPAT_CACHE:-$here/../compat/.cache}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
step() { echo "console setup: $*" >&2; }
exec 9>"$cache/console-setup.lock"
flock 9

dir=$cache/console-node
if [ ! -f "$dir/node_modules/playwright-core/package.json" ] || [ "$here/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
	step "installing playwright-core (npm ci) into $dir"
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$here/package.json" "$here/package-lock.json" "$dir/"
	(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
	step "done in ${SECONDS}s"
fi
echo "$dir/node_modules"
