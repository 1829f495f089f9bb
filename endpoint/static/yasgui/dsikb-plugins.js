// Pictures of query results in the editor on /sparql, as the Wikidata Query Service draws them: two
// YASR plugins, registered before YASGUI starts (sparql-editor.js).
// - "chart": a bar chart (Chart.js, /static/stats/) when the results have a label column and one or
//   more numeric columns (or two numeric columns: the first gives the bars' names, e.g. years).
// - "map": the points of geo:lat/geo:long columns (?lat ?long, ?orgLat ?orgLong, ...) or of WKT
//   literals (POINT(long lat)) as markers (Leaflet), over the world's coasts and borders (Natural
//   Earth, a static file), without map tiles: no request leaves this server.
// A file, not inline: the CSP allows no inline script.
(function () {
  if (typeof Yasgui === "undefined") return;
  var Yasr = Yasgui.Yasr;
  var HERE = document.currentScript ? document.currentScript.src : "";
  var XSD = "http://www.w3.org/2001/XMLSchema#";
  var NUMERIC = ["integer", "decimal", "double", "float", "int", "long", "short", "byte", "nonNegativeInteger",
                 "positiveInteger", "nonPositiveInteger", "negativeInteger", "unsignedInt", "unsignedLong",
                 "unsignedShort", "unsignedByte"].map(function (t) { return XSD + t; });
  var WKT = "http://www.opengis.net/ont/geosparql#wktLiteral";
  var POINT = /^\s*(?:<[^>]*>\s*)?POINT\s*\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)\s*\)\s*$/i;
  var MAX_BARS = 300;
  var MAX_MARKERS = 10000;
  var COLOURS = ["#1f5fa8", "#e07b00", "#2a8c4a", "#a83279", "#6b5b95", "#c0392b"];

  function svgIcon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    paths.forEach(function (d) {
      var p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      p.setAttribute("fill", "currentColor");
      svg.appendChild(p);
    });
    return svg;
  }

  function table(yasr) {
    var r = yasr.results;
    if (!r || (r.hasError && r.hasError()) || !r.getVariables) return null;
    var vars = r.getVariables() || [];
    var rows = r.getBindings ? r.getBindings() || [] : [];
    return vars.length && rows.length ? { vars: vars, rows: rows } : null;
  }

  function isNumber(b) {
    return !!b && (b.type === "literal" || b.type === "typed-literal") && NUMERIC.indexOf(b.datatype) >= 0 &&
      isFinite(parseFloat(b.value));
  }

  function numericColumn(t, v) {
    var seen = false;
    for (var i = 0; i < t.rows.length; i++) {
      var b = t.rows[i][v];
      if (!b) continue;
      if (!isNumber(b)) return false;
      seen = true;
    }
    return seen;
  }

  // {label: variable naming the bars, series: numeric variables} or null
  function chartShape(t) {
    if (!t) return null;
    var coordinates = [].concat.apply([], coordinatePairs(t));
    var numeric = t.vars.filter(function (v) { return coordinates.indexOf(v) < 0 && numericColumn(t, v); });
    var others = t.vars.filter(function (v) { return numeric.indexOf(v) < 0 && coordinates.indexOf(v) < 0; });
    var literal = others.filter(function (v) {
      return t.rows.some(function (row) { return row[v] && row[v].type !== "uri" && row[v].type !== "bnode"; });
    });
    var label = literal[0] || others[0];
    if (!label && numeric.length >= 2) label = numeric[0];
    var series = numeric.filter(function (v) { return v !== label; });
    return label && series.length ? { label: label, series: series } : null;
  }

  function shortIri(yasr, iri) {
    var prefixes = yasr.getPrefixes ? yasr.getPrefixes() || {} : {};
    for (var p in prefixes) {
      if (prefixes[p] && iri.indexOf(prefixes[p]) === 0 && iri.length > prefixes[p].length) {
        return p + ":" + iri.substring(prefixes[p].length);
      }
    }
    return iri.replace(/[\/#]$/, "").split(/[\/#]/).pop() || iri;
  }

  function text(yasr, b) {
    if (!b) return "";
    return b.type === "uri" ? shortIri(yasr, b.value) : b.value;
  }

  function note(parent, message) {
    var p = document.createElement("p");
    p.className = "dsikb-plugin-note";
    p.textContent = message;
    parent.appendChild(p);
  }

  // -- the chart ------------------------------------------------------------------------------
  function ChartPlugin(yasr) {
    this.yasr = yasr;
    this.priority = 2;
    this.label = "Chart";
  }
  ChartPlugin.prototype.canHandleResults = function () {
    return typeof Chart !== "undefined" && !!chartShape(table(this.yasr));
  };
  ChartPlugin.prototype.getIcon = function () {
    return svgIcon(["M4 20h16v-2H4z", "M6 16h3V8H6z", "M11 16h3V4h-3z", "M16 16h3v-6h-3z"]);
  };
  ChartPlugin.prototype.destroy = function () {
    if (this.chart) this.chart.destroy();
    this.chart = null;
  };
  ChartPlugin.prototype.draw = function () {
    this.destroy();
    var yasr = this.yasr, t = table(yasr), shape = chartShape(t);
    if (!shape) return;
    var rows = t.rows.slice(0, MAX_BARS);
    var labels = rows.map(function (row) { return text(yasr, row[shape.label]); });
    var horizontal = labels.length > 12 || labels.some(function (l) { return l.length > 12; });
    var box = document.createElement("div");
    box.className = "dsikb-plugin-chart";
    box.style.height = (horizontal ? Math.max(300, labels.length * shape.series.length * 11 + 90) : 400) + "px";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Bar chart of " + shape.series.join(", ") + " by " + shape.label);
    box.appendChild(canvas);
    yasr.resultsEl.appendChild(box);
    if (t.rows.length > rows.length) note(yasr.resultsEl, "The chart shows the first " + rows.length + " of " + t.rows.length + " rows.");
    this.chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: shape.series.map(function (v, i) {
          return {
            label: v,
            data: rows.map(function (row) { return row[v] ? parseFloat(row[v].value) : null; }),
            backgroundColor: COLOURS[i % COLOURS.length]
          };
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x", responsive: true, maintainAspectRatio: false, animation: false,
        scales: horizontal ? { y: { ticks: { autoSkip: false } } } : {}
      }
    });
    window.dsikbEditorChart = this.chart;
  };

  // -- the map --------------------------------------------------------------------------------
  function coordinatePairs(t) {
    var pairs = [];
    t.vars.forEach(function (v) {
      var m = /^(.*?)(lat|latitude)$/i.exec(v);
      if (!m) return;
      var stem = m[1].toLowerCase();
      var lon = t.vars.filter(function (w) {
        var n = /^(.*?)(long|lon|lng|longitude)$/i.exec(w);
        return n && n[1].toLowerCase() === stem;
      })[0];
      if (lon) pairs.push([v, lon]);
    });
    return pairs;
  }

  function points(t) {
    if (!t) return [];
    var out = [];
    var pairs = coordinatePairs(t);
    var wkt = t.vars.filter(function (v) {
      return t.rows.some(function (row) { return row[v] && (row[v].datatype === WKT || POINT.test(row[v].value)) && row[v].type !== "uri"; });
    });
    t.rows.forEach(function (row) {
      pairs.forEach(function (p) {
        if (row[p[0]] && row[p[1]]) add(row, parseFloat(row[p[0]].value), parseFloat(row[p[1]].value));
      });
      wkt.forEach(function (v) {
        var m = row[v] && row[v].type !== "uri" ? POINT.exec(row[v].value) : null;
        if (m) add(row, parseFloat(m[2]), parseFloat(m[1]));
      });
    });
    function add(row, lat, lon) {
      if (isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) out.push({ lat: lat, lon: lon, row: row });
    }
    return out;
  }

  function popup(yasr, t, row) {
    var box = document.createElement("div");
    t.vars.forEach(function (v) {
      var b = row[v];
      if (!b) return;
      var line = document.createElement("div");
      var name = document.createElement("strong");
      name.textContent = v + ": ";
      line.appendChild(name);
      if (b.type === "uri" && /^https?:/i.test(b.value)) {
        var a = document.createElement("a");
        a.href = b.value;
        a.textContent = shortIri(yasr, b.value);
        line.appendChild(a);
      } else {
        line.appendChild(document.createTextNode(b.value));
      }
      box.appendChild(line);
    });
    return box;
  }

  var borders = null; // the coasts and borders, fetched once
  function loadBorders() {
    if (!borders) {
      borders = fetch(new URL("world-borders.geojson", HERE || location.href).toString())
        .then(function (r) { return r.ok ? r.json() : null; })
        .catch(function () { return null; });
    }
    return borders;
  }

  function MapPlugin(yasr) {
    this.yasr = yasr;
    this.priority = 1;
    this.label = "Map";
  }
  MapPlugin.prototype.canHandleResults = function () {
    return typeof L !== "undefined" && points(table(this.yasr)).length > 0;
  };
  MapPlugin.prototype.getIcon = function () {
    return svgIcon(["M12 2a7 7 0 0 0-7 7c0 5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z"]);
  };
  MapPlugin.prototype.destroy = function () {
    if (this.map) this.map.remove();
    this.map = null;
  };
  MapPlugin.prototype.draw = function () {
    this.destroy();
    var yasr = this.yasr, t = table(yasr), found = points(t);
    if (!found.length) return;
    var shown = found.slice(0, MAX_MARKERS);
    var box = document.createElement("div");
    box.className = "dsikb-plugin-map";
    yasr.resultsEl.appendChild(box);
    if (found.length > shown.length) note(yasr.resultsEl, "The map shows the first " + shown.length + " of " + found.length + " points.");
    var map = L.map(box, { worldCopyJump: true, minZoom: 1, maxZoom: 16 });
    map.attributionControl.setPrefix("Leaflet");
    map.attributionControl.addAttribution("Coasts and borders: Natural Earth");
    var layer = L.featureGroup();
    shown.forEach(function (p) {
      L.circleMarker([p.lat, p.lon], { radius: 6, weight: 1, color: "#0b3d75", fillColor: "#1f5fa8", fillOpacity: 0.8,
                                       className: "dsikb-marker" })
        .bindPopup(popup(yasr, t, p.row)).addTo(layer);
    });
    layer.addTo(map);
    var bounds = layer.getBounds(), fit = { padding: [24, 24], maxZoom: 9 };
    map.fitBounds(bounds, fit);
    this.map = map;
    window.dsikbEditorMap = { map: map, markers: shown.length };
    loadBorders().then(function (data) {
      if (!data || !map._container) return;
      L.geoJSON(data, { interactive: false, style: { color: "#8a9bb0", weight: 1, fill: false } }).addTo(map).bringToBack();
    });
    // drawn before the results area is laid out: fit again once it has its size
    setTimeout(function () { if (map._container) { map.invalidateSize(); map.fitBounds(bounds, fit); } }, 0);
  };

  Yasr.registerPlugin("chart", ChartPlugin);
  Yasr.registerPlugin("map", MapPlugin);
  window.dsikbPlugins = { chartShape: chartShape, points: points };
})();
