// Services: per service, request rate, error ratio and p50/p99 latency over the last minutes
// (uPlot charts), in-flight and shed requests, each dependency's breaker, the outbox and each
// subscription's lag (`/v1/console/services`), and the parked events with replay
// (`/v1/console/parked`).
"use strict";

(() => {
  const {el, fill, getJSON, postJSON, format} = Console;
  const CHART_HEIGHT = 120;
  /** uPlot charts by `service/metric`, kept across refreshes so that only data changes. */
  const charts = new Map();
  let layoutKey = "";

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  /** A round top for the y axis (1, 2 or 5 times a power of ten), so it carries a label. */
  function niceCeiling(max) {
    if (!(max > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(max * 1.05));
    return [1, 2, 5, 10].map((m) => m * power).find((top) => top >= max * 1.05);
  }

  /** `ratio` charts (0 to 1) keep that scale: 100 % at the top means all failed. */
  function chartOptions(series, width, valueFormat, ratio) {
    const axis = {stroke: css("--muted"), grid: {stroke: css("--line"), width: 1}, ticks: {stroke: css("--line")}};
    return {
      width, height: CHART_HEIGHT,
      legend: {show: true, live: false},
      cursor: {drag: {x: false, y: false}},
      scales: {x: {time: true}, y: {range: (u, min, max) => [0, ratio ? 1 : niceCeiling(max)]}},
      axes: [axis, {...axis, size: 66, values: (u, values) => values.map(valueFormat)}],
      series: [{}, ...series.map(([label, color]) => ({label, stroke: color, width: 1.5, value: (u, v) => v == null ? "–" : valueFormat(v)}))],
    };
  }

  function chart(key, title, seriesLabels, container) {
    const figure = el("figure", {class: "chart", "aria-label": title}, el("h4", {}, title));
    container.append(figure);
    const width = Math.max(figure.clientWidth || 280, 220);
    const formats = {rate: format.rate, errors: format.percent, latency: format.ms};
    const metric = key.split("/")[1];
    const plot = new uPlot(chartOptions(seriesLabels, width, formats[metric], metric === "errors"), [[]], figure);
    charts.set(key, plot);
  }

  function facts(s) {
    const last = (series) => (series && series.length ? series[series.length - 1] : null);
    const items = [
      ["rate", format.rate(last(s.rate))],
      ["errors", format.percent(last(s.error_ratio))],
      ["p99", format.ms(last(s.p99_ms))],
      ["in flight", s.in_flight],
      ["shed", format.rate(last(s.shed_rate))],
      ["instances scraped", s.instances_scraped],
    ];
    if (s.outbox) items.push(["outbox pending", s.outbox.pending], ["oldest unsent", `${(s.outbox.oldest_age_seconds ?? 0).toFixed(1)} s`]);
    return el("div", {class: "facts"}, items.map(([k, v]) => el("div", {}, el("div", {class: "k"}, k), el("div", {}, v))));
  }

  const BREAKER = {closed: "good", half_open: "caution", open: "bad"};

  function dependencies(s) {
    if (!s.dependencies.length) return "";
    return el("table", {class: "data", "aria-label": `${s.service}'s dependencies`},
      el("thead", {}, el("tr", {}, ["dependency", "breaker", "rate", "errors", "p99", "retries", "rejected"].map((h) =>
        el("th", {scope: "col", class: h === "dependency" || h === "breaker" ? "" : "num"}, h)))),
      el("tbody", {}, s.dependencies.map((d) => el("tr", {dataset: {dependency: d.dependency, breaker: d.breaker}},
        el("td", {}, d.dependency),
        el("td", {}, el("span", {class: `badge ${BREAKER[d.breaker] || "neutral"}`}, d.breaker.replace("_", " "))),
        el("td", {class: "num"}, format.rate(d.rate)),
        el("td", {class: "num"}, format.percent(d.error_ratio)),
        el("td", {class: "num"}, format.ms(d.p99_ms)),
        el("td", {class: "num"}, format.rate(d.retries_rate)),
        el("td", {class: "num"}, format.rate(d.rejected_rate))))));
  }

  function consumers(s) {
    if (!s.consumers.length) return "";
    return el("table", {class: "data", "aria-label": `${s.service}'s subscriptions`},
      el("thead", {}, el("tr", {}, ["subscription", "lag", "parked"].map((h) => el("th", {scope: "col", class: h === "subscription" ? "" : "num"}, h)))),
      el("tbody", {}, s.consumers.map((c) => el("tr", {dataset: {subscription: c.subscription}},
        el("td", {}, c.subscription),
        el("td", {class: "num"}, c.lag),
        el("td", {class: "num"}, c.parked ? el("span", {class: "badge bad"}, c.parked) : "0")))));
  }

  function render(data) {
    document.getElementById("services-caption").textContent =
      `The last ${Math.round(data.window_seconds / 60)} minutes, a point every ${data.step_seconds} s, scraped from every instance's /metrics.`;
    const list = document.getElementById("services-list");
    const key = data.services.map((s) => s.service).join(",");
    if (key !== layoutKey) {
      layoutKey = key;
      for (const plot of charts.values()) plot.destroy();
      charts.clear();
      fill(list, data.services.map((s) => el("section", {class: "card", dataset: {service: s.service}, "aria-label": s.service},
        el("h2", {}, s.service),
        el("div", {class: "body"},
          el("div", {class: "summary"}),
          el("div", {class: "service-grid"}),
          el("div", {class: "tables"})))));
      for (const s of data.services) {
        const grid = list.querySelector(`[data-service="${CSS.escape(s.service)}"] .service-grid`);
        chart(`${s.service}/rate`, "requests", [["req/s", css("--accent")], ["shed/s", css("--warn")]], grid);
        chart(`${s.service}/errors`, "error ratio", [["errors", css("--bad")]], grid);
        chart(`${s.service}/latency`, "latency", [["p50", css("--ok")], ["p99", css("--accent")]], grid);
      }
    }
    for (const s of data.services) {
      const card = list.querySelector(`[data-service="${CSS.escape(s.service)}"]`);
      fill(card.querySelector(".summary"), facts(s));
      fill(card.querySelector(".tables"), dependencies(s), consumers(s));
      charts.get(`${s.service}/rate`).setData([s.t, s.rate, s.shed_rate]);
      charts.get(`${s.service}/errors`).setData([s.t, s.error_ratio]);
      charts.get(`${s.service}/latency`).setData([s.t, s.p50_ms, s.p99_ms]);
    }
  }

  async function replay(service, id, button) {
    button.disabled = true;
    try {
      const done = await postJSON(`/v1/console/parked/${encodeURIComponent(service)}/${encodeURIComponent(id)}/replay`, 15000);
      Console.showProblem(null);
      button.replaceWith(el("span", {class: "badge good"}, `replayed ${done.replayed.length}`));
    } catch (error) {
      Console.showProblem(`replay ${id} in ${service}: ${error.message}`);
      button.disabled = false;
    }
  }

  function renderParked(lists) {
    const rows = lists.flatMap((l) => l.items.map((p) => [l.service, p]));
    fill(document.getElementById("services-parked"), rows.length
      ? el("table", {class: "data", "aria-label": "Parked events"},
        el("thead", {}, el("tr", {}, ["service", "event", "type", "subject", "attempts", "parked at", "why", ""].map((h) => el("th", {scope: "col"}, h)))),
        el("tbody", {}, rows.map(([service, p]) => el("tr", {dataset: {event: p.id}},
          el("td", {}, service), el("td", {}, el("code", {}, p.id)), el("td", {}, p.type), el("td", {}, p.subject),
          el("td", {class: "num"}, p.attempts), el("td", {}, p.parked_at),
          el("td", {class: "detail"}, p.held_behind ? `held behind ${p.held_behind}` : p.error),
          el("td", {}, el("button", {type: "button", "aria-label": `Replay ${p.id} in ${service}`,
            onclick: (event) => replay(service, p.id, event.currentTarget)}, "Replay"))))))
      : el("p", {class: "muted"}, "No parked events: every consumer has applied what it received."));
  }

  /** Whether a parked-events answer is awaited: asked apart from the charts and never twice at
   * once, because it asks every service and one slow service must not hold the charts back. */
  let parkedInFlight = false;

  function refreshParked() {
    if (parkedInFlight) return;
    parkedInFlight = true;
    getJSON("/v1/console/parked", 15000)
      .then(renderParked, (error) => fill(document.getElementById("services-parked"),
        el("p", {class: "bad"}, `Parked events unavailable: ${error.message}`)))
      .finally(() => { parkedInFlight = false; });
  }

  Console.register("services", {
    every: 2000,
    async refresh() {
      refreshParked();
      render(await getJSON("/v1/console/services"));
    },
  });
})();
