#!/bin/sh
# Copy Chart.js's UMD build (one file, no dependencies: it bundles @kurkle/color) and its licence
# from its npm package into endpoint/static/stats/, so /stats and the query editor's chart plugin are
# served by the project itself (no CDN, works offline). This folder (package files, node_modules,
# this script) stays out of the static folder. Run after changing the pinned version in package.json:
#   cd endpoint/stats-build && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
src=node_modules/chart.js
dest=../static/stats
[ -f "$src/dist/chart.umd.min.js" ] || { echo "run 'npm ci' in $(pwd) first" >&2; exit 2; }
mkdir -p "$dest"
# without its sourceMappingURL line: the map is not shipped
grep -v '^//# sourceMappingURL=' "$src/dist/chart.umd.min.js" > "$dest/chart.umd.min.js"
cp "$src/LICENSE.md" "$dest/chart.js-LICENSE.md"
version=$(node -p "require('./$src/package.json').version")
printf 'chart.js %s (MIT licence, https://github.com/chartjs/Chart.js), copied by build.sh\n' "$version" > VERSION
echo "chart.js $version copied into $(cd "$dest" && pwd)"
