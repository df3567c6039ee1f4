// Resources: every service and instance from `/v1/system` (health, state, restarts, uptime,
// version, memory, endpoints), each supervised service's replica count with − and + to scale it
// live (`/v1/system/services/{name}/scale`), with kill, pause and resume when the system runs
// with --chaos (`/v1/chaos`).
"use strict";

(() => {
  const {el, fill, getJSON, postJSON, format} = Console;
  let chaos = {enabled: false, paused: []};
  /** The instance count each service is being scaled to, until the control port answers. */
  const scaling = new Map();
  const MAX_INSTANCES = 32;

  /** One word for what an operator cares about first: is it serving? */
  function status(instance) {
    if (instance.state === "paused" || chaos.paused.includes(instance.slot)) return ["paused", "caution"];
    if (instance.state === "running" && instance.health === "ready") return ["up", "good"];
    if (instance.state === "external") return instance.health === "ready" ? ["up", "good"] : [instance.health.replace("_", " "), "caution"];
    if (instance.state === "starting" || (instance.state === "running" && instance.health === "not_ready")) return ["starting", "caution"];
    return ["down", "bad"];
  }

  function stateText(instance, now) {
    if (instance.state === "backing_off" && instance.restart_at_ms) {
      const left = Math.max(0, instance.restart_at_ms - now);
      return "restarting in " + (left < 1000 ? left + " ms" : (left / 1000).toFixed(1) + " s");
    }
    return instance.state.replace("_", " ");
  }

  async function inflict(slot, fault, button) {
    button.disabled = true;
    try {
      await postJSON(`/v1/chaos/instances/${encodeURIComponent(slot)}/${fault}`);
      Console.showProblem(null);
    } catch (error) {
      Console.showProblem(`${fault} ${slot}: ${error.message}`);
    }
    await Console.refreshNow();
  }

  async function scale(service, instances) {
    scaling.set(service, instances);
    await Console.refreshNow();
    try {
      // The answer waits until new instances are ready or removed ones have drained.
      await postJSON(`/v1/system/services/${encodeURIComponent(service)}/scale`, 60000, {instances});
      Console.showProblem(null);
    } catch (error) {
      Console.showProblem(`scale ${service} to ${instances}: ${error.message}`);
    }
    scaling.delete(service);
    await Console.refreshNow();
  }

  /** The replica count of a supervised service, with − and + (none for external services). */
  function replicas(service) {
    if (service.desired == null) return "";
    const target = scaling.get(service.name);
    const busy = target !== undefined;
    const count = busy ? target : service.desired;
    const step = (label, name, to) => el("button", {
      type: "button", "aria-label": `${name} ${service.name} to ${to} instances`,
      disabled: busy || to < 0 || to > MAX_INSTANCES || undefined,
      onclick: () => scale(service.name, to),
    }, label);
    return el("div", {class: "replicas", role: "group", "aria-label": `${service.name} replicas`},
      step("−", "scale down", count - 1),
      el("output", {"aria-live": "polite", dataset: {replicas: service.name}}, busy ? `scaling to ${count}…` : `${count} ×`),
      step("+", "scale up", count + 1));
  }

  function actions(instance, state) {
    if (!chaos.enabled || !instance.slot) return "";
    const slot = instance.slot;
    const button = (fault, label, danger) => el("button", {
      type: "button", class: danger ? "danger" : "",
      "aria-label": `${label} ${slot}`,
      onclick: (event) => inflict(slot, fault, event.currentTarget),
    }, label);
    if (state === "paused") return el("div", {class: "actions"}, button("resume", "Resume"));
    if (!instance.pid) return "";
    return el("div", {class: "actions"}, button("kill", "Kill", true), button("pause", "Pause"));
  }

  function row(instance, now) {
    const [word, tone] = status(instance);
    const detail = instance.health !== "ready" && (instance.health_detail || instance.last_exit);
    return el("tr", {dataset: {slot: instance.slot || instance.instance_id || "", status: word}},
      el("td", {}, el("code", {}, instance.slot || instance.instance_id || ""),
        instance.slot ? "" : el("span", {class: "muted"}, " (external)")),
      el("td", {}, el("span", {class: `badge ${tone}`}, word),
        detail ? el("div", {class: "detail"}, instance.health_detail || "last exit: " + instance.last_exit) : ""),
      el("td", {}, stateText(instance, now)),
      el("td", {}, instance.health.replace("_", " ")),
      el("td", {}, instance.address
        ? [el("code", {}, instance.address), " ",
          el("a", {href: `http://${instance.address}/metrics`, class: "muted"}, "metrics"), " ",
          el("a", {href: `http://${instance.address}/openapi.json`, class: "muted"}, "openapi")]
        : el("span", {class: "muted"}, "—")),
      el("td", {class: "num"}, format.duration(instance.uptime_ms)),
      el("td", {}, instance.version || ""),
      el("td", {class: "num"}, instance.pid ?? ""),
      el("td", {class: "num"}, instance.restarts),
      el("td", {class: "num"}, format.bytes(instance.rss_bytes)),
      el("td", {}, actions(instance, word)));
  }

  function render(view) {
    const now = view.now_ms;
    const all = view.services.flatMap((s) => s.instances);
    const up = all.filter((i) => status(i)[0] === "up").length;
    fill(document.getElementById("resources-tiles"),
      [["services", view.services.length], ["instances up", `${up} / ${all.length}`],
        ["restarts", all.reduce((n, i) => n + i.restarts, 0)],
        ["memory", format.bytes(all.reduce((n, i) => n + (i.rss_bytes || 0), 0))]]
        .map(([k, v]) => el("div", {class: "tile"}, el("div", {class: "v"}, v), el("div", {class: "k"}, k))),
      view.gateway_url ? el("div", {class: "tile"},
        el("div", {class: "v"}, el("a", {href: view.gateway_url + "/api/v1/products"}, view.gateway_url.replace("http://", ""))),
        el("div", {class: "k"}, "gateway")) : "");
    fill(document.getElementById("resources-chaos"), chaos.enabled
      ? "Chaos is on: Kill ends an instance's process (SIGKILL) and the supervisor restarts it after its backoff, so it is also the restart; Pause stops the process (SIGSTOP) until Resume."
      : "Started without --chaos: instances cannot be killed or paused from here (brigade up --chaos).");
    const headings = ["instance", "status", "state", "health", "endpoints", "uptime", "version", "pid", "restarts", "memory", ""];
    const numeric = new Set(["uptime", "pid", "restarts", "memory"]);
    fill(document.getElementById("resources-services"), view.services.map((service) => {
      const ready = service.instances.filter((i) => status(i)[0] === "up").length;
      return el("section", {class: "card", "aria-label": service.name, dataset: {service: service.name}},
        el("h2", {}, service.name, el("span", {class: "count"},
          `${ready} up${service.desired == null ? "" : ` of ${service.desired} desired`}`), replicas(service)),
        el("table", {class: "data"},
          el("thead", {}, el("tr", {}, headings.map((h) => el("th", {scope: "col", class: numeric.has(h) ? "num" : ""}, h)))),
          el("tbody", {}, service.instances.length
            ? service.instances.map((i) => row(i, now))
            : el("tr", {}, el("td", {colspan: headings.length, class: "muted"}, "no instances")))));
    }));
  }

  Console.register("resources", {
    every: 1000,
    async refresh() {
      const [view, state] = await Promise.all([getJSON("/v1/system", 3000), getJSON("/v1/chaos", 3000)]);
      chaos = state;
      render(view);
    },
  });
})();
