// The map pages: /map (#map[data-src]: GeoJSON points from /map.json, clustered) and the small map of
// an entity or place page (.minimap: one marker). Country shapes come from a static GeoJSON file
// (Natural Earth, built by endpoint/map-build/build.sh): no tile server, nothing from elsewhere.
// When the markers are in, the map element gets data-state="drawn", data-markers (how many) and
// data-drawn-ms (milliseconds since navigation), which tests and the benchmark read.
(function () {
  "use strict";

  var EUROPE = [[35, -11], [63, 32]];
  var countriesCache = {};

  function countries(url) {
    if (!countriesCache[url]) {
      countriesCache[url] = fetch(url, { credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("country shapes: HTTP " + r.status);
        return r.json();
      });
    }
    return countriesCache[url];
  }

  function baseMap(el, options) {
    el.textContent = "";
    var map = L.map(el, Object.assign({ zoomSnap: 0.25, minZoom: 2, maxZoom: 14, worldCopyJump: false,
                                        attributionControl: true, preferCanvas: false }, options || {}));
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("Natural Earth");
    var shapes = countries(el.getAttribute("data-countries")).then(function (geo) {
      L.geoJSON(geo, { interactive: false, style: { color: "#8a9bb0", weight: 0.7, fillColor: "#eef1e6", fillOpacity: 1 } })
        .addTo(map).bringToBack();
    });
    return { map: map, shapes: shapes };
  }

  function icon(kind, link) {
    return L.divIcon({ html: link, className: "dsikb-marker dsikb-marker-" + kind, iconSize: [14, 14], iconAnchor: [7, 7] });
  }

  function markerFor(feature) {
    var p = feature.properties || {};
    var c = feature.geometry && feature.geometry.coordinates;
    if (!c || typeof c[0] !== "number" || typeof c[1] !== "number") return null;
    var a = document.createElement("a");
    if (p.href) a.href = p.href;
    var title = p.name + (p.at ? " (" + (p.placed === "partner" ? "via " : "in ") + p.at + ")" : "");
    a.title = title;
    a.setAttribute("aria-label", title);
    a.className = "dsikb-marker-link";
    return L.marker([c[1], c[0]], { icon: icon(p.type || "organisation", a), keyboard: false, riseOnHover: true });
  }

  function drawn(el, n) {
    el.setAttribute("data-markers", String(n));
    el.setAttribute("data-drawn-ms", String(Math.round(performance.now())));
    el.setAttribute("data-state", "drawn");
  }

  function failed(el, message) {
    el.setAttribute("data-state", "error");
    var p = document.createElement("p");
    p.className = "map-error";
    p.textContent = "The map could not be drawn: " + message;
    el.appendChild(p);
  }

  function bigMap(el) {
    var base;
    try {
      base = baseMap(el, {});
    } catch (e) { failed(el, String(e)); return; }
    var map = base.map;
    map.fitBounds(EUROPE);
    var group = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 45,
                                       spiderfyOnMaxZoom: true });
    map.addLayer(group);
    el.dsikbMap = map;  // for tests and the benchmark (a property of the element, not a global)
    fetch(el.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) {
        if (!r.ok) return r.text().then(function (t) { throw new Error(t || ("HTTP " + r.status)); });
        return r.json();
      })
      .then(function (data) {
        var markers = [];
        (data.features || []).forEach(function (f) { var m = markerFor(f); if (m) markers.push(m); });
        var finish = function () {
          if (el.getAttribute("data-fit") === "markers" && markers.length) {
            map.fitBounds(L.latLngBounds(markers.map(function (m) { return m.getLatLng(); })),
                          { maxZoom: 8, padding: [20, 20] });
          }
          drawn(el, group.getLayers().length);
        };
        if (!markers.length) { finish(); return; }
        group.options.chunkProgress = function (done, total) { if (done >= total) finish(); };
        group.addLayers(markers);
      })
      .catch(function (e) { failed(el, e.message || String(e)); });
  }

  function miniMap(el) {
    var lat = parseFloat(el.getAttribute("data-lat")), lon = parseFloat(el.getAttribute("data-long"));
    if (!isFinite(lat) || !isFinite(lon)) return;
    var base;
    try {
      base = baseMap(el, { zoomControl: false, dragging: false, scrollWheelZoom: false, doubleClickZoom: false,
                           boxZoom: false, keyboard: false, touchZoom: false });
    } catch (e) { failed(el, String(e)); return; }
    base.map.setView([lat, lon], parseFloat(el.getAttribute("data-zoom")) || 5);
    var a = document.createElement("a");
    a.href = el.getAttribute("data-href") || "#";
    a.title = el.getAttribute("data-label") || "";
    a.setAttribute("aria-label", a.title);
    a.className = "dsikb-marker-link";
    L.marker([lat, lon], { icon: icon("here", a), keyboard: false }).addTo(base.map);
    base.shapes.then(function () { drawn(el, 1); }, function (e) { failed(el, e.message || String(e)); });
  }

  function tidyForm(form) {
    // leave the facets left at "any" out of the URL (the page works the same with them)
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.querySelectorAll("select"), function (s) { if (!s.value) s.disabled = true; });
    });
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.querySelectorAll("select"), function (s) { s.disabled = false; });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form.map-filters"), tidyForm);
    if (typeof L === "undefined") return;
    var big = document.querySelector("#map[data-src]");
    if (big) bigMap(big);
    Array.prototype.forEach.call(document.querySelectorAll(".minimap[data-lat]"), miniMap);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
