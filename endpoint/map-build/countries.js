// Natural Earth country shapes (world-atlas TopoJSON) as one small GeoJSON file for the map pages:
// 1:50m outlines for Europe and its neighbours, where the map is looked at closely, and 1:110m for the
// rest of the world; coordinates rounded to 0.01 degree (about 1 km), far below what the map shows.
"use strict";
const fs = require("fs");
const topojson = require("topojson-client");

const EUROPE = { west: -32, east: 60, south: 26, north: 82 };  // Azores to the Urals, Crete to Svalbard

function load(scale) {
  const topo = JSON.parse(fs.readFileSync(`node_modules/world-atlas/countries-${scale}.json`, "utf8"));
  return topojson.feature(topo, topo.objects.countries).features;
}

function bbox(geometry) {
  const box = { west: 180, east: -180, south: 90, north: -90 };
  const walk = (c) => {
    if (typeof c[0] === "number") {
      box.west = Math.min(box.west, c[0]); box.east = Math.max(box.east, c[0]);
      box.south = Math.min(box.south, c[1]); box.north = Math.max(box.north, c[1]);
    } else c.forEach(walk);
  };
  if (geometry) walk(geometry.coordinates);
  return box;
}

function touchesEurope(feature) {
  // a country with a polygon that reaches into the window (Alaska's islands make the USA's box global)
  const g = feature.geometry;
  if (!g) return false;
  const polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
  const whole = bbox(g);
  if (whole.east > 80 || whole.west < -50) return false;  // Russia, Greenland: mostly far away, 1:110m
  return polygons.some((poly) => {
    const b = bbox({ coordinates: poly });
    return b.west < EUROPE.east && b.east > EUROPE.west && b.south < EUROPE.north && b.north > EUROPE.south;
  });
}

function unwrap(ring) {
  // a ring that crosses the antimeridian (Russia's Chukotka, Fiji) jumps from 180 to -180; drawn as is,
  // it strikes a line across the whole map: carry its western points past 180 instead
  const jumps = ring.some((p, i) => i && Math.abs(p[0] - ring[i - 1][0]) > 180);
  return jumps ? ring.map((p) => (p[0] < 0 ? [p[0] + 360, p[1]] : p)) : ring;
}

function round(c) {
  if (typeof c[0] === "number") return [Math.round(c[0] * 100) / 100, Math.round(c[1] * 100) / 100];
  if (typeof c[0][0] !== "number") return c.map(round);
  // a ring: rounded, without the points rounding made equal to the one before
  const ring = [];
  for (const p of unwrap(c).map(round)) {
    const last = ring[ring.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) ring.push(p);
  }
  return ring;
}

const near = load("50m").filter(touchesEurope);
const nearIds = new Set(near.map((f) => f.id + "|" + f.properties.name));
const far = load("110m").filter((f) => !touchesEurope(f) && !nearIds.has(f.id + "|" + f.properties.name));
const features = [...near, ...far]
  .filter((f) => f.geometry && f.properties.name !== "Antarctica")
  .map((f) => ({ type: "Feature", id: f.id, properties: { name: f.properties.name },
                 geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) } }))
  .map((f) => { // rings that rounding shrank to nothing (islets) are left out
    const ok = (ring) => ring.length >= 4;
    const g = f.geometry;
    g.coordinates = g.type === "Polygon" ? g.coordinates.filter(ok)
      : g.coordinates.map((poly) => poly.filter(ok)).filter((poly) => poly.length);
    return f;
  })
  .filter((f) => f.geometry.coordinates.length);
process.stdout.write(JSON.stringify({ type: "FeatureCollection", features }));
