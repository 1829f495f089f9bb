// The /network page: draws /network.json with sigma.js (WebGL) over a graphology graph.
// Positions come from the server (kb/network.py), so the first paint needs no layout here.
// Sets data-nodes / data-edges / data-drawn / data-paint-ms on the container once drawn (tests and
// the benchmark read them) and data-selected-x/-y with a selected node's position in the viewport.
import Graph from "graphology";
import Sigma from "sigma";

const PALETTE = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#7b4fa0", "#00798c", "#e36414", "#6a994e",
  "#b5179e", "#3d5a80", "#9c6644", "#118ab2"];
const GREY = "#b8bcc4";

export function colour(community) {
  return community >= 1 ? PALETTE[(community - 1) % PALETTE.length] : GREY;
}

function text(el, value) {
  el.textContent = value;
  return el;
}

function show(container, panel, graph, node) {
  panel.replaceChildren();
  if (!node) return;
  const a = graph.getNodeAttributes(node);
  const h = document.createElement("h2");
  const link = document.createElement("a");
  link.href = a.url;
  text(link, a.label);
  h.append(link);
  const p = document.createElement("p");
  const parts = [`${a.degree} ${container.dataset.degree}`, a.communityLabel || `${container.dataset.community} ${a.community}`];
  if (a.links > 1) parts.push(container.dataset.links.replace("{n}", a.links));
  text(p, parts.join(" · "));
  const open = document.createElement("a");
  open.href = a.url;
  open.className = "button";
  text(open, container.dataset.open);
  panel.append(h, p, open);
}

function start(container) {
  const t0 = performance.now();
  fetch(container.dataset.src, { headers: { Accept: "application/json" } })
    .then((r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); return r.json(); })
    .then((data) => draw(container, data, t0))
    .catch((err) => { container.dataset.error = String(err); text(container, String(err)); });
}

function draw(container, data, t0) {
  const graph = new Graph({ type: "undirected" });
  const maxDegree = data.nodes.reduce((m, n) => Math.max(m, n.degree), 1);
  const communityLabel = new Map(data.communities.map((c) => [c.number, c.label]));
  for (const n of data.nodes) {
    graph.addNode(n.id, {
      x: n.x, y: n.y, label: n.label, url: n.url, degree: n.degree, community: n.community, links: n.links,
      communityLabel: communityLabel.get(n.community),
      size: 2 + 10 * Math.sqrt(n.degree / maxDegree), color: colour(n.community),
    });
  }
  for (const [s, t, w, funding] of data.edges) {
    const a = data.nodes[s].id, b = data.nodes[t].id;
    if (!graph.hasEdge(a, b)) graph.addEdge(a, b, { size: Math.min(4, 0.5 + 0.5 * w), color: funding ? "#e0b95a" : "#d5d8de" });
  }
  container.dataset.nodes = String(graph.order);
  container.dataset.edges = String(graph.size);
  if (graph.order === 0) {
    text(container, container.dataset.empty);
    container.dataset.drawn = "1";
    container.dataset.paintMs = String(Math.round(performance.now()));
    return;
  }
  let selected = null;
  let neighbours = new Set();
  const renderer = new Sigma(graph, container, {
    labelRenderedSizeThreshold: 9,
    defaultEdgeColor: "#d5d8de",
    nodeReducer: (node, attrs) => {
      if (!selected) return attrs;
      if (node === selected) return { ...attrs, highlighted: true, forceLabel: true, zIndex: 2 };
      if (neighbours.has(node)) return { ...attrs, zIndex: 1 };
      return { ...attrs, color: "#e6e8ec", label: "" };
    },
    edgeReducer: (edge, attrs) => {
      if (!selected) return attrs;
      return graph.hasExtremity(edge, selected) ? { ...attrs, color: "#555", size: attrs.size + 0.5 } : { ...attrs, hidden: true };
    },
  });
  const panel = document.getElementById("network-selected");
  const camera = renderer.getCamera();

  function place() {
    if (!selected) {
      delete container.dataset.selectedX;
      delete container.dataset.selectedY;
      return;
    }
    const at = renderer.graphToViewport(renderer.getNodeDisplayData(selected));
    const box = container.getBoundingClientRect();
    container.dataset.selectedX = String(Math.round(box.left + at.x));
    container.dataset.selectedY = String(Math.round(box.top + at.y));
  }

  function select(node, focus) {
    selected = node;
    neighbours = new Set(node ? graph.neighbors(node) : []);
    container.dataset.selected = node || "";
    show(container, panel, graph, node);
    renderer.refresh();
    if (node && focus) {
      const d = renderer.getNodeDisplayData(node);
      camera.animate({ x: d.x, y: d.y, ratio: Math.min(camera.ratio, 0.35) }, { duration: 300 }).then(place);
    } else {
      place();
    }
  }

  renderer.on("clickNode", ({ node }) => { window.location.assign(graph.getNodeAttribute(node, "url")); });
  renderer.on("enterNode", ({ node }) => { container.style.cursor = "pointer"; show(container, panel, graph, node); });
  renderer.on("leaveNode", () => { container.style.cursor = ""; show(container, panel, graph, selected); });
  renderer.on("clickStage", () => select(null));
  camera.on("updated", place);

  const search = document.getElementById("network-search");
  const names = document.getElementById("network-names");
  const byLabel = new Map();
  graph.forEachNode((node, a) => {
    byLabel.set(a.label.toLowerCase(), node);
    const option = document.createElement("option");
    option.value = a.label;
    names.append(option);
  });
  function find() {
    const q = search.value.trim().toLowerCase();
    if (!q) return select(null);
    let node = byLabel.get(q);
    if (!node) for (const [label, n] of byLabel) if (label.includes(q)) { node = n; break; }
    select(node || null, true);
  }
  search.addEventListener("change", find);
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); find(); } });
  document.getElementById("network-zoom-in").addEventListener("click", () => camera.animatedZoom({ duration: 200 }));
  document.getElementById("network-zoom-out").addEventListener("click", () => camera.animatedUnzoom({ duration: 200 }));
  document.getElementById("network-zoom-reset").addEventListener("click", () => { select(null); camera.animatedReset({ duration: 200 }); });

  renderer.once("afterRender", () => {
    container.dataset.drawn = "1";
    container.dataset.paintMs = String(Math.round(performance.now()));
    container.dataset.loadMs = String(Math.round(performance.now() - t0));
  });
  renderer.refresh();
}

function legend() {
  for (const swatch of document.querySelectorAll(".swatch[data-community]")) {
    swatch.style.background = colour(Number(swatch.dataset.community));
  }
}

function init() {
  legend();
  const container = document.getElementById("network-graph");
  if (container) start(container);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
