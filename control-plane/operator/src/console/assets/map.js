// Map: the services and the calls and event flows between them over the last minutes
// (`/v1/console/map`, drawn from traces), laid out by dagre, each edge labelled with its rate
// and error ratio; the same edges as a table below for reading and for screen readers.
"use strict";

(() => {
  const {el, fill, getJSON, format} = Console;
  const NODE_HEIGHT = 38;
  /** Wide enough for the name in the node's 13px bold font. */
  const nodeWidth = (name) => Math.max(100, name.length * 8.5 + 24);
  let drawn = "";

  function layout(map) {
    const graph = new dagre.graphlib.Graph({multigraph: true});
    graph.setGraph({rankdir: "LR", nodesep: 28, ranksep: 90, marginx: 16, marginy: 16});
    graph.setDefaultEdgeLabel(() => ({}));
    const names = new Set(map.nodes.map((n) => n.service));
    for (const edge of map.edges) { names.add(edge.from); names.add(edge.to); }
    for (const name of names) graph.setNode(name, {label: name, width: nodeWidth(name), height: NODE_HEIGHT});
    map.edges.forEach((edge, i) => graph.setEdge(edge.from, edge.to, {edge, width: 90, height: 14, labelpos: "c"}, `e${i}`));
    dagre.layout(graph);
    return graph;
  }

  /** The rate, or for a trickle (under one every ten seconds) how many in the window. */
  function edgeLabel(edge) {
    const errors = edge.error_ratio > 0 ? ` · ${format.percent(edge.error_ratio)} err` : "";
    const volume = edge.rate >= 0.1 ? format.rate(edge.rate) : `${edge.count}×`;
    return `${volume}${errors}`;
  }

  function draw(map) {
    const svg = document.getElementById("map-graph");
    if (!map.nodes.length && !map.edges.length) {
      svg.setAttribute("width", 400);
      svg.setAttribute("height", 60);
      fill(svg, el("text", {x: 16, y: 34}, "No traffic in the window yet: send some requests."));
      return;
    }
    const graph = layout(map);
    const size = graph.graph();
    svg.setAttribute("width", Math.ceil(size.width));
    svg.setAttribute("height", Math.ceil(size.height));
    svg.setAttribute("viewBox", `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`);
    const defs = el("defs", {}, el("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"},
      el("path", {d: "M 0 0 L 10 5 L 0 10 z"})));
    const edges = graph.edges().map((e) => {
      const data = graph.edge(e);
      const points = data.points.map((p) => `${p.x},${p.y}`);
      const failing = data.edge.error_ratio >= 0.05;
      return el("g", {class: `edge ${data.edge.kind}${failing ? " failing" : ""}`, dataset: {from: data.edge.from, to: data.edge.to}},
        el("title", {}, `${data.edge.from} → ${data.edge.to} (${data.edge.kind}): ${edgeLabel(data.edge)}, p99 ${format.ms(data.edge.p99_ms)}`),
        el("path", {d: "M" + points.join(" L"), "marker-end": "url(#arrow)"}),
        el("text", {x: data.x, y: data.y, "text-anchor": "middle"}, edgeLabel(data.edge)));
    });
    const nodes = graph.nodes().map((name) => {
      const node = graph.node(name);
      return el("g", {class: "node", dataset: {service: name}},
        el("rect", {x: node.x - node.width / 2, y: node.y - NODE_HEIGHT / 2, width: node.width, height: NODE_HEIGHT, rx: 8}),
        el("text", {x: node.x, y: node.y + 4, "text-anchor": "middle"}, name));
    });
    fill(svg, defs, edges, nodes);
  }

  function table(map) {
    fill(document.getElementById("map-edges"),
      el("thead", {}, el("tr", {}, ["from", "to", "kind", "rate", "errors", "p99", "count"].map((h) =>
        el("th", {scope: "col", class: ["rate", "errors", "p99", "count"].includes(h) ? "num" : ""}, h)))),
      el("tbody", {}, map.edges.map((e) => el("tr", {},
        el("td", {}, e.from), el("td", {}, e.to), el("td", {}, e.kind === "event" ? "event" : "call"),
        el("td", {class: "num"}, format.rate(e.rate)),
        el("td", {class: "num"}, el("span", {class: e.error_ratio >= 0.05 ? "badge bad" : ""}, format.percent(e.error_ratio))),
        el("td", {class: "num"}, format.ms(e.p99_ms)),
        el("td", {class: "num"}, e.count)))));
  }

  Console.register("map", {
    every: 5000,
    async refresh() {
      const map = await getJSON("/v1/console/map?window=5m");
      document.getElementById("map-caption").textContent =
        `Calls (solid) and event flows (dashed) between services over the last ${Math.round(map.window_seconds / 60)} minutes, from traces; red edges fail 5 % or more.`;
      // Laying out again only when something changed keeps the picture still.
      const key = JSON.stringify(map.edges) + JSON.stringify(map.nodes);
      if (key !== drawn) {
        drawn = key;
        draw(map);
        table(map);
      }
    },
  });
})();
