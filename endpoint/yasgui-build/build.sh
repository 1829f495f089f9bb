#!/bin/sh
# Copy YASGUI's built files from its npm package into endpoint/static/yasgui/, so the editor is served
# by the project itself (no CDN, works offline). This folder (package files, node_modules, this
# script) stays out of the static folder: only what the pages use is served. Run after changing the
# pinned version in package.json:
#   cd endpoint/yasgui-build && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
src=node_modules/@zazuko/yasgui
dest=../static/yasgui
[ -d "$src/build" ] || { echo "run 'npm ci' in $(pwd) first" >&2; exit 2; }
mkdir -p "$dest"
cp "$src/build/yasgui.min.js" "$src/build/yasgui.min.css" "$dest/"
version=$(node -p "require('./$src/package.json').version")
printf '@zazuko/yasgui %s (MIT licence, https://github.com/zazuko/Yasgui), copied by build.sh\n' "$version" > VERSION
echo "yasgui $version copied into $(cd "$dest" && pwd)"
