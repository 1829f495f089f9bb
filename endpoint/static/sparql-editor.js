// The query editor on /sparql: YASGUI set up from the page's JSON config block (#sparql-config),
// the prefixes button and the example gallery. A file, not inline: the CSP allows no inline script.
(function () {
  var cfg = JSON.parse(document.getElementById("sparql-config").textContent);
  // Only the offline autocompleters: the others call web services (prefix.cc, LOV).
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: cfg.endpoint, method: "GET" },
    copyEndpointOnNewTab: true,
    persistenceId: null,
    populateFromUrl: false,
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: cfg.endpoint }]; } },
    yasqe: { value: cfg.initial, autocompleters: ["variables"] }
  });
  var tab = yasgui.getTab();
  tab.setEndpoint(cfg.endpoint);
  tab.setQuery(cfg.initial);
  window.dsikbYasgui = yasgui;
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
