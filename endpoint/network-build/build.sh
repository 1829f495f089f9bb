#!/bin/sh
# Bundle the /network page's script (src/network.js with sigma.js and graphology, from the versions
# pinned in package-lock.json) into endpoint/static/network/, with the licences of what it contains,
# so the page is served by the project itself (no CDN, works offline) and `make run` needs no npm.
# Run after changing src/ or the pinned versions, then commit endpoint/static/network/:
#   cd endpoint/network-build && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
dest=../static/network
[ -x node_modules/.bin/esbuild ] || { echo "run 'npm ci' in $(pwd) first" >&2; exit 2; }
mkdir -p "$dest"
node_modules/.bin/esbuild src/network.js --bundle --minify --format=iife --target=es2019 \
  --legal-comments=none --outfile="$dest/network.js"
cp src/network.css "$dest/network.css"
version() { node -p "require('./node_modules/$1/package.json').version"; }
{
  echo "network.js bundles the following, each under its licence (copied below); built by endpoint/network-build/build.sh"
  for pkg in sigma graphology graphology-utils events; do
    echo
    echo "== $pkg $(version $pkg) =="
    cat "node_modules/$pkg/LICENSE"* 2>/dev/null || node -p "'licence: ' + require('./node_modules/$pkg/package.json').license"
  done
} > "$dest/LICENSES.txt"
printf 'sigma %s, graphology %s (MIT), bundled with esbuild %s by build.sh\n' \
  "$(version sigma)" "$(version graphology)" "$(version esbuild)" > VERSION
echo "network.js built into $(cd "$dest" && pwd)"
