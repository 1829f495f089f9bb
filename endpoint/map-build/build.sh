#!/bin/sh
# Copy Leaflet and its marker-cluster plugin from their npm packages into endpoint/static/map/, and
# turn Natural Earth's country shapes (world-atlas TopoJSON) into one GeoJSON file there, so the map
# pages are served by the project itself (no CDN, no tile server, works offline). The built files are
# committed: `make run` needs no npm. Run after changing a pinned version in package.json:
#   cd endpoint/map-build && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
nm=node_modules
dest=../static/map
for p in leaflet leaflet.markercluster topojson-client world-atlas; do
  [ -d "$nm/$p" ] || { echo "run 'npm ci' in $(pwd) first" >&2; exit 2; }
done
mkdir -p "$dest"
cp "$nm/leaflet/dist/leaflet.js" "$nm/leaflet/dist/leaflet.css" "$dest/"
cp "$nm/leaflet/LICENSE" "$dest/LICENSE.leaflet.txt"
cp "$nm/leaflet.markercluster/dist/leaflet.markercluster.js" "$dest/"
cp "$nm/leaflet.markercluster/dist/MarkerCluster.css" "$nm/leaflet.markercluster/dist/MarkerCluster.Default.css" "$dest/"
cp "$nm/leaflet.markercluster/MIT-LICENCE.txt" "$dest/LICENSE.leaflet.markercluster.txt"
cp "$nm/world-atlas/LICENSE" "$dest/LICENSE.world-atlas.txt"
node countries.js > "$dest/countries.json"
# the minified files end with a source-map comment; the maps are not shipped
sed -i 's|^//# sourceMappingURL=.*$||' "$dest/leaflet.js" "$dest/leaflet.markercluster.js"
v() { node -p "require('./$nm/$1/package.json').version"; }
{
  echo "Copied and converted by endpoint/map-build/build.sh from npm packages:"
  echo "leaflet $(v leaflet) (BSD-2-Clause, https://leafletjs.com)"
  echo "leaflet.markercluster $(v leaflet.markercluster) (MIT, https://github.com/Leaflet/Leaflet.markercluster)"
  echo "world-atlas $(v world-atlas) (ISC; shapes from Natural Earth, public domain, https://www.naturalearthdata.com)"
  echo "topojson-client $(v topojson-client) (ISC), used at build time only to convert the shapes"
} > VERSION
cp VERSION "$dest/VERSION.txt"
echo "map assets copied into $(cd "$dest" && pwd)"
