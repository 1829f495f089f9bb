#!/bin/sh
# Copy YASGUI's built files from its npm package into endpoint/static/yasgui/, so the editor is served
# by the project itself (no CDN, works offline). This folder (package files, node_modules, this
# script) stays out of the static folder: only what the pages use is served. Also for the editor's
# map plugin (endpoint/static/yasgui/dsikb-plugins.js): Leaflet (its own copy, apart from any other
# page's) and the world's coasts and borders as GeoJSON lines (Natural Earth 1:110m, public domain,
# from world-atlas), drawn under the markers instead of map tiles, which would need a tile server.
# Run after changing the pinned versions in package.json:
#   cd endpoint/yasgui-build && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
src=node_modules/@zazuko/yasgui
dest=../static/yasgui
[ -d "$src/build" ] || { echo "run 'npm ci' in $(pwd) first" >&2; exit 2; }
mkdir -p "$dest"
cp "$src/build/yasgui.min.js" "$src/build/yasgui.min.css" "$dest/"
# The editor's map plugin uses the Leaflet that endpoint/map-build copies into static/map (one copy).
node -e '
const topojson = require("topojson-client"), world = require("world-atlas/countries-110m.json");
const lines = topojson.mesh(world, world.objects.countries);
const round = (k, v) => typeof v === "number" ? Math.round(v * 100) / 100 : v;
process.stdout.write(JSON.stringify({type: "Feature", properties: {source: "Natural Earth 1:110m (public domain) via world-atlas"}, geometry: lines}, round));
' > "$dest/world-borders.geojson"
cp node_modules/world-atlas/LICENSE "$dest/world-atlas-LICENSE"
version=$(node -p "require('./$src/package.json').version")
atlas=$(node -p "require('./node_modules/world-atlas/package.json').version")
{
  printf '@zazuko/yasgui %s (MIT licence, https://github.com/zazuko/Yasgui), copied by build.sh\n' "$version"
  printf 'world-atlas %s (ISC licence; Natural Earth data, public domain), converted by build.sh\n' "$atlas"
} > VERSION
echo "yasgui $version, world-atlas $atlas copied into $(cd "$dest" && pwd)"
