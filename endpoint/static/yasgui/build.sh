#!/bin/sh
# Copy YASGUI's built files from its npm package into this folder, so the editor is served by the
# project itself (no CDN, works offline). Run after changing the pinned version in package.json:
#   cd endpoint/static/yasgui && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
src=node_modules/@zazuko/yasgui
[ -d "$src/build" ] || { echo "run 'npm ci' in $(pwd) first" >&2; exit 2; }
cp "$src/build/yasgui.min.js" "$src/build/yasgui.min.css" .
version=$(node -p "require('./$src/package.json').version")
printf '@zazuko/yasgui %s (MIT licence, https://github.com/zazuko/Yasgui), copied by build.sh\n' "$version" > VERSION
echo "yasgui $version copied into $(pwd)"
