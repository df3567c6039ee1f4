// Traces: the recent traces (`/v1/traces`, filtered by service, duration and errors), and one
// as a waterfall (`/v1/console/traces/ID`: the trace and the traces of the events it published,
// each consumer's span drawn under the producer's span it links to), each span's attributes on
// click, and the logs of those traces beside it (`/v1/logs?trace=ID`).
"use strict";

(() => {
  const {el, fill, getJSON, query, format} = Console;
  const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
  const STATUS_ERROR = 2;
  let shownId = null;
  let shownSpans = 0;
  let selectedSpan = null;
  let spans = [];

  function filters() {
    const form = document.getElementById("traces-filters");
    return {
      service: form.service.value,
      min_duration: form.min_duration.value.trim(),
      error: form.error.value,
      limit: 100,
    };
  }

  function renderList(list) {
    fill(document.getElementById("traces-list"),
      el("thead", {}, el("tr", {}, ["time", "root", "duration", "spans", "services", ""]
        .map((h) => el("th", {scope: "col", class: h === "duration" || h === "spans" ? "num" : ""}, h)))),
      el("tbody", {}, list.length ? list.map((t) => el("tr", {
        class: t.trace_id === shownId ? "selected" : "",
        dataset: {traceId: t.trace_id},
      },
      el("td", {}, format.time(t.start_unix_ms)),
      el("td", {}, el("a", {href: `#traces/${t.trace_id}`, "aria-label": `trace ${t.trace_id}: ${t.root_service} ${t.root_route}`},
        el("strong", {}, t.root_service), " ", t.root_route)),
      el("td", {class: "num"}, format.ms(t.duration_ms)),
      el("td", {class: "num"}, t.span_count),
      el("td", {class: "detail"}, t.services.join(", ")),
      el("td", {}, t.error ? el("span", {class: "badge bad"}, "error") : "")))
        : el("tr", {}, el("td", {colspan: 6, class: "muted"}, "no traces match (spans arrive every few seconds)"))));
  }

  /** An OTLP attribute value as text. */
  function value(v) {
    if (!v) return "";
    if ("stringValue" in v) return v.stringValue;
    if ("intValue" in v) return String(v.intValue);
    if ("doubleValue" in v) return String(v.doubleValue);
    if ("boolValue" in v) return String(v.boolValue);
    if ("arrayValue" in v) return (v.arrayValue.values || []).map(value).join(", ");
    return JSON.stringify(v);
  }

  /** Every span of an OTLP JSON export, with its service. */
  function flatten(otlp) {
    const out = [];
    for (const resource of otlp.resourceSpans || []) {
      const attributes = resource.resource?.attributes || [];
      const service = value(attributes.find((a) => a.key === "service.name")?.value) || "unknown_service";
      const instance = value(attributes.find((a) => a.key === "service.instance.id")?.value);
      for (const scope of resource.scopeSpans || []) {
        for (const span of scope.spans || []) {
          out.push({
            service, instance, span,
            start: BigInt(span.startTimeUnixNano || 0),
            end: BigInt(span.endTimeUnixNano || 0),
            kind: KINDS[span.kind] || String(span.kind),
            error: span.status?.code === STATUS_ERROR || span.status?.code === "STATUS_CODE_ERROR",
          });
        }
      }
    }
    return out;
  }

  /**
   * The spans in waterfall order: depth-first from the roots, children by start; a span of
   * another trace that links to one here is drawn as that span's child.
   */
  function order(all) {
    const byId = new Map(all.map((s) => [s.span.spanId, s]));
    const children = new Map();
    const roots = [];
    for (const s of all) {
      let parent = s.span.parentSpanId && byId.has(s.span.parentSpanId) ? s.span.parentSpanId : null;
      s.linkedFrom = null;
      if (!parent) {
        const link = (s.span.links || []).find((l) => byId.has(l.spanId));
        if (link) { parent = link.spanId; s.linkedFrom = link; }
      }
      if (parent) {
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(s);
      } else {
        roots.push(s);
      }
    }
    const byStart = (a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0);
    const out = [];
    const visit = (s, depth) => {
      s.depth = depth;
      out.push(s);
      for (const child of (children.get(s.span.spanId) || []).sort(byStart)) visit(child, depth + 1);
    };
    for (const root of roots.sort(byStart)) visit(root, 0);
    return out;
  }

  function waterfall(ordered) {
    const start = ordered.reduce((m, s) => (s.start < m ? s.start : m), ordered[0].start);
    const end = ordered.reduce((m, s) => (s.end > m ? s.end : m), ordered[0].end);
    const total = Number(end - start) || 1;
    const grid = el("div", {class: "waterfall", role: "list", "aria-label": "Spans"});
    for (const s of ordered) {
      const duration = Number(s.end - s.start) / 1e6;
      const bar = el("button", {
        type: "button",
        class: [s.kind, s.error ? "error" : ""].join(" "),
        "aria-pressed": String(s.span.spanId === selectedSpan),
        "aria-label": `${s.service} ${s.span.name}, ${format.ms(duration)}${s.error ? ", error" : ""}`,
        title: `${s.service}: ${s.span.name} (${format.ms(duration)})`,
        onclick: () => select(s),
      });
      // Positions through the CSSOM: the policy forbids `style` attributes, not this.
      const left = Number(s.start - start) / total * 100;
      bar.style.left = left + "%";
      bar.style.width = Math.max(Number(s.end - s.start) / total * 100, 0.2) + "%";
      const label = el("span", {class: "dur"}, format.ms(duration));
      const right = left + Number(s.end - s.start) / total * 100;
      // Beside the bar, on the side with room.
      if (right < 85) label.style.left = `calc(${right}% + 4px)`;
      else label.style.right = `calc(${100 - left}% + 4px)`;
      const indent = el("span", {}, "\u00a0".repeat(s.depth * 2));
      grid.append(
        el("div", {class: "label", role: "listitem", dataset: {service: s.service, kind: s.kind}},
          indent, s.linkedFrom ? el("span", {class: "muted", title: "linked: handles an event this trace published"}, "↪ ") : "",
          el("span", {class: "svc"}, s.service), " ", s.span.name),
        el("div", {class: "track"}, bar, label));
    }
    return grid;
  }

  function attributesTable(s) {
    const rows = [
      ["service", s.service], ["instance", s.instance], ["name", s.span.name], ["kind", s.kind],
      ["trace", s.span.traceId], ["span", s.span.spanId], ["parent", s.span.parentSpanId || "—"],
      ["duration", format.ms(Number(s.end - s.start) / 1e6)],
      ["status", s.error ? `error${s.span.status?.message ? ": " + s.span.status.message : ""}` : "ok"],
      ...(s.span.attributes || []).map((a) => [a.key, value(a.value)]),
    ];
    const links = (s.span.links || []).map((l) => ["link", el("a", {href: `#traces/${l.traceId}`}, `${l.traceId} / ${l.spanId}`)]);
    const events = (s.span.events || []).map((e) => [`event ${e.name}`, (e.attributes || []).map((a) => `${a.key}=${value(a.value)}`).join(" ")]);
    return el("table", {class: "attributes", "aria-label": "Attributes of the chosen span"},
      el("tbody", {}, [...rows, ...links, ...events].map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))));
  }

  function select(s) {
    selectedSpan = s.span.spanId;
    for (const bar of document.querySelectorAll(".waterfall button")) bar.setAttribute("aria-pressed", "false");
    const index = spans.indexOf(s);
    document.querySelectorAll(".waterfall button")[index]?.setAttribute("aria-pressed", "true");
    fill(document.getElementById("span-attributes"), el("h3", {}, `${s.service}: ${s.span.name}`), attributesTable(s));
  }

  function logLines(pages) {
    const lines = pages.flatMap((p) => p.lines).sort((a, b) => (a.time < b.time ? -1 : 1));
    return lines.length
      ? lines.map((line) => Console.logLine(line))
      : el("p", {class: "muted"}, "no log lines carry these traces");
  }

  async function showTrace(id) {
    const otlp = await getJSON(`/v1/console/traces/${encodeURIComponent(id)}`);
    const all = flatten(otlp);
    if (id === shownId && all.length === shownSpans) return;
    shownId = id;
    shownSpans = all.length;
    spans = order(all);
    const traceIds = [...new Set(all.map((s) => s.span.traceId))];
    const pages = await Promise.all(traceIds.slice(0, 10).map((t) =>
      getJSON(`/v1/logs${query({trace: t, limit: 500})}`).catch(() => ({lines: []}))));
    const services = [...new Set(spans.map((s) => s.service))];
    const detail = document.getElementById("trace-detail");
    fill(detail,
      el("h2", {}, "Trace ", el("code", {}, id)),
      el("p", {class: "muted"}, `${spans.length} spans in ${traceIds.length} trace${traceIds.length > 1 ? "s" : ""} (the others handle its events) across ${services.join(", ")}. `,
        el("a", {href: `#logs/${id}`}, "its logs in the Logs tab")),
      waterfall(spans),
      el("div", {id: "span-attributes"}, el("p", {class: "muted"}, "Choose a span to see its attributes.")),
      el("h3", {}, "Logs of this request"),
      el("div", {class: "log-view trace-logs", role: "log", "aria-label": "Log lines of this trace", tabindex: "0"}, logLines(pages)));
    const chosen = spans.find((s) => s.span.spanId === selectedSpan);
    if (chosen) select(chosen);
  }

  Console.register("traces", {
    every: 3000,
    init() {
      const form = document.getElementById("traces-filters");
      form.addEventListener("submit", (event) => { event.preventDefault(); Console.refreshNow(); });
      document.getElementById("traces-clear").addEventListener("click", () => {
        form.reset();
        shownId = null;
        fill(document.getElementById("trace-detail"), el("p", {class: "muted"}, "Choose a trace to see it as a waterfall."));
        location.hash = "#traces";
        Console.refreshNow();
      });
    },
    show(argument) {
      if (argument && argument !== shownId) {
        selectedSpan = null;
        shownSpans = 0;
      }
      this.wanted = argument || null;
    },
    async refresh() {
      renderList(await getJSON(`/v1/traces${query(filters())}`));
      if (this.wanted) {
        await showTrace(this.wanted).catch((error) => fill(document.getElementById("trace-detail"),
          el("p", {class: "bad"}, error.message)));
      }
    },
  });
})();
