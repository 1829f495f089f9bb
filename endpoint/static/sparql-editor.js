// The query editor on /sparql: YASGUI set up from the page's JSON config block (#sparql-config),
// the prefixes button and the example gallery. A file, not inline: the CSP allows no inline script.
//
// Shared links: /sparql#query=<urlencoded query> opens that query and runs it (so does YASGUI's own
// share link, /sparql#query=...&endpoint=...&outputFormat=..., and /sparql?query=... from the
// "open the query in SPARQL" links of pages). "#defaultView:Map" or "#defaultView:BarChart" in a
// query (as on the Wikidata Query Service), or outputFormat=map|chart in the link, picks the picture
// the results open with (plugins in yasgui/dsikb-plugins.js).
(function () {
  var cfg = JSON.parse(document.getElementById("sparql-config").textContent);
  var VIEWS = { map: "map", barchart: "chart", chart: "chart", linechart: "chart", table: "table" };
  var pendingView = null;

  function fromHash() {
    var hash = location.hash.replace(/^#/, "");
    if (!hash) return null;
    var params = new URLSearchParams(hash);
    var query = params.get("query");
    return query ? { query: query, view: params.get("outputFormat") } : null;
  }

  // PREFIX lines for the project prefixes a query uses without declaring them (the endpoint knows
  // them; the editor's syntax checker wants them spelled out), as the server does for ?query=.
  function withPrefixes(query) {
    var declared = {}, used = {}, m;
    var decl = /^\s*PREFIX\s+([\w-]*):/gim;
    while ((m = decl.exec(query))) declared[m[1]] = true;
    var use = /(^|[^\w<?$:])([A-Za-z][\w-]*)?:(?=\w)/g;
    while ((m = use.exec(query))) used[m[2] || ""] = true;
    var head = "";
    Object.keys(cfg.prefixes).forEach(function (p) {
      if (used[p] && !declared[p]) head += "PREFIX " + p + ": <" + cfg.prefixes[p] + ">\n";
    });
    return head + query;
  }

  function viewOf(query) {
    var m = /^\s*#\s*defaultView:\s*(\w+)/im.exec(query || "");
    return m ? VIEWS[m[1].toLowerCase()] || null : null;
  }

  // YASGUI's share button: this page with #query=<the query> (and the picture, when not the table)
  Yasgui.Tab.prototype.getShareableLink = function () {
    var link = location.origin + location.pathname + "#query=" + encodeURIComponent(this.getQuery());
    var yasr = this.getYasr && this.getYasr();
    var view = yasr ? yasr.getSelectedPluginName() : null;
    return view === "map" || view === "chart" ? link + "&outputFormat=" + view : link;
  };

  var shared = fromHash();
  var initial = shared ? withPrefixes(shared.query) : cfg.initial;
  pendingView = shared ? shared.view : null;

  // Only the offline autocompleters: the others call web services (prefix.cc, LOV).
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: cfg.endpoint, method: "GET" },
    copyEndpointOnNewTab: true,
    persistenceId: null,
    populateFromUrl: false,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: cfg.endpoint }]; } },
    yasqe: { value: initial, autocompleters: ["variables"] },
    yasr: { pluginOrder: ["table", "chart", "map", "response"], prefixes: cfg.prefixes }
  });
  var tab = yasgui.getTab();
  tab.setEndpoint(cfg.endpoint);
  tab.setQuery(initial);
  window.dsikbYasgui = yasgui;

  // The picture a query asks for, once per answer (the reader may switch afterwards).
  var answered = null;
  function watch(t) {
    var yasr = t.getYasr();
    if (!yasr || yasr.dsikbWatched) return;
    yasr.dsikbWatched = true;
    yasr.on("drawn", function () {
      if (!yasr.results || yasr.results === answered) return;
      answered = yasr.results;
      var view = VIEWS[(pendingView || "").toLowerCase()] || viewOf(t.getQuery());
      pendingView = null;
      var plugin = view && yasr.plugins[view];
      if (plugin && yasr.getSelectedPluginName() !== view && plugin.canHandleResults()) yasr.selectPlugin(view);
    });
  }
  watch(tab);
  yasgui.on("tabSelect", function () { setTimeout(function () { watch(yasgui.getTab()); }, 0); });

  function run(query, view) {
    var current = yasgui.getTab();
    watch(current);
    if (query !== undefined) current.setQuery(query);
    pendingView = view || null;
    current.query();
  }
  if (shared || cfg.shared) run(undefined, pendingView);

  window.addEventListener("hashchange", function () {
    var next = fromHash();
    if (next) run(withPrefixes(next.query), next.view);
  });
  document.getElementById("add-prefixes").addEventListener("click", function () {
    yasgui.getTab().getYasqe().addPrefixes(cfg.prefixes);
  });
  document.querySelectorAll(".load-example").forEach(function (button) {
    button.addEventListener("click", function () {
      yasgui.getTab().setQuery(button.getAttribute("data-query"));
      document.getElementById("yasgui").scrollIntoView();
    });
  });
})();
