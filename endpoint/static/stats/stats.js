// /stats: draws each figure's bar chart (Chart.js, served from /static/stats/) from the JSON block
// beside its canvas; the same numbers are in the figure's table. A file, not inline: the CSP allows
// no inline script. window.dsikbCharts maps a figure's name to its Chart (tests read the numbers).
(function () {
  var COLOURS = ["#1f5fa8", "#e07b00", "#2a8c4a", "#a83279"];
  window.dsikbCharts = {};
  document.querySelectorAll("script.figure-data").forEach(function (block) {
    var fig = JSON.parse(block.textContent);
    var canvas = document.getElementById("chart-" + fig.name);
    if (!canvas || typeof Chart === "undefined") return;
    var box = canvas.parentNode;
    // a bar per row: long lists grow downwards instead of squeezing their bars
    box.style.height = (fig.horizontal ? Math.max(220, fig.labels.length * fig.series.length * 11 + 90) : 360) + "px";
    window.dsikbCharts[fig.name] = new Chart(canvas, {
      type: "bar",
      data: {
        labels: fig.labels,
        datasets: fig.series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: COLOURS[i % COLOURS.length] };
        })
      },
      options: {
        indexAxis: fig.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { ticks: { autoSkip: !fig.horizontal } }, y: { ticks: { autoSkip: false } } },
        plugins: { legend: { position: "top" } }
      }
    });
  });
})();
