// Logs: every instance's lines as they come (`/v1/logs` long polls from a cursor), filtered by
// service, level, text and trace, with pause (the global one), clear and download.
"use strict";

(() => {
  const {el, fill, getJSON, query} = Console;
  /** Lines kept in the page; the oldest go first. */
  const KEEP = 5000;
  const WAIT_MS = 20000;
  let lines = [];
  let cursor = null;
  /** Bumped by every new filter: an answer to an older query is dropped. */
  let generation = 0;
  let streaming = false;
  /** Ends the query in flight (a long poll may wait 20 s) when the filters change. */
  let inFlight = new AbortController();

  function line(l) {
    const level = l.level || "";
    const fields = Object.entries(l.fields || {}).map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join("");
    return el("div", {class: "log-line", dataset: {service: l.service, level}},
      el("span", {class: "muted"}, (l.time || "").replace(/^.*T/, "").replace(/Z$/, ""), " "),
      el("span", {class: "svc"}, `${l.service}-${l.instance}`), " ",
      level ? el("span", {class: `lvl-${level}`}, level.toUpperCase().padEnd(5)) : "", " ",
      l.message, el("span", {class: "muted"}, fields),
      l.trace_id ? [" ", el("a", {href: `#traces/${l.trace_id}`, title: "open this trace"}, "trace " + l.trace_id.slice(0, 8))] : "");
  }
  Console.logLine = line;

  function filters() {
    const form = document.getElementById("logs-filters");
    return {
      service: form.service.value,
      level: form.level.value,
      grep: form.grep.value,
      trace: form.trace.value.trim(),
    };
  }

  function add(page) {
    const view = document.getElementById("logs-lines");
    // Follow the end only when the reader is already there.
    const atEnd = view.scrollHeight - view.scrollTop - view.clientHeight < 40;
    lines.push(...page.lines);
    view.append(...page.lines.map(line));
    if (lines.length > KEEP) {
      const drop = lines.length - KEEP;
      lines = lines.slice(drop);
      for (let i = 0; i < drop; i++) view.firstChild?.remove();
    }
    document.getElementById("logs-count").textContent = `${lines.length} lines`;
    if (atEnd) view.scrollTop = view.scrollHeight;
  }

  async function stream() {
    if (streaming) return;
    streaming = true;
    try {
      while (Console.active === "logs" && !Console.paused) {
        const mine = generation;
        const params = filters();
        try {
          const page = cursor === null
            ? await getJSON(`/v1/logs${query({...params, limit: 500})}`)
            : await getJSON(`/v1/logs${query({...params, after: cursor, wait_ms: WAIT_MS, limit: 1000})}`, WAIT_MS + 5000, inFlight.signal);
          if (mine !== generation) continue;
          cursor = page.next;
          add(page);
          Console.showProblem(null);
        } catch (error) {
          if (mine !== generation) continue;
          Console.showProblem(`logs: ${error.message}`);
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      }
    } finally {
      streaming = false;
    }
  }

  function restart() {
    generation++;
    inFlight.abort();
    inFlight = new AbortController();
    cursor = null;
    lines = [];
    fill(document.getElementById("logs-lines"));
    stream();
  }

  function download() {
    const blob = new Blob(lines.map((l) => JSON.stringify(l) + "\n"), {type: "application/x-ndjson"});
    const link = el("a", {href: URL.createObjectURL(blob), download: `brigade-logs-${new Date().toISOString()}.jsonl`});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  Console.register("logs", {
    init() {
      const form = document.getElementById("logs-filters");
      form.addEventListener("submit", (event) => { event.preventDefault(); restart(); });
      form.service.addEventListener("change", restart);
      form.level.addEventListener("change", restart);
      document.getElementById("logs-clear").addEventListener("click", () => {
        lines = [];
        fill(document.getElementById("logs-lines"));
        document.getElementById("logs-count").textContent = "0 lines";
      });
      document.getElementById("logs-download").addEventListener("click", download);
      Console.onPause((paused) => { if (!paused) stream(); });
    },
    show(argument) {
      // `#logs/TRACE` shows one request's lines.
      const form = document.getElementById("logs-filters");
      if (argument && form.trace.value !== argument) {
        form.trace.value = argument;
        restart();
      } else {
        stream();
      }
    },
  });
})();
