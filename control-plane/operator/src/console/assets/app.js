// The console's frame: tabs chosen by the URL's hash (`#traces/ID` opens a trace), a DOM
// builder that never parses HTML (every value shown is text), fetch helpers with time limits,
// number formats, and the pause that stops every live update.
"use strict";

const Console = (() => {
  const tabs = new Map();
  let active = null;
  let paused = false;
  const pauseListeners = [];

  /** `el("td", {class: "num"}, "12", child)`: an element; strings become text nodes. */
  function el(tag, attributes, ...children) {
    const node = tag === "svg" || Console.svgTags.has(tag)
      ? document.createElementNS("http://www.w3.org/2000/svg", tag)
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith("on") && typeof value === "function") {
        node.addEventListener(name.slice(2), value);
      } else if (name === "dataset") {
        Object.assign(node.dataset, value);
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  /** Replaces what `node` shows. */
  function fill(node, ...children) {
    node.replaceChildren();
    append(node, children);
  }

  /** JSON from `url`, or an error saying why not; `cancel` (an AbortSignal) ends it early. */
  async function request(method, url, timeoutMs, cancel, body) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs || 5000);
    cancel?.addEventListener("abort", () => abort.abort());
    try {
      const init = {method, signal: abort.signal, cache: "no-store", headers: {}};
      // The proof that a change comes from this page: no page of another origin can add it
      // without a CORS preflight, which the control port never approves (see operator_auth).
      if (method !== "GET") init.headers["x-brigade-console"] = "1";
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers["content-type"] = "application/json";
      }
      const response = await fetch(url, init);
      // Not `body`: that is the request's, and a `const body` here would shadow it from the
      // top of this block (reading it above would throw).
      const text = await response.text();
      const json = text ? JSON.parse(text) : null;
      if (!response.ok) {
        // Problems (RFC 9457) say why in `detail`.
        throw new Error((json && json.detail) || `${url} answered ${response.status}`);
      }
      return json;
    } catch (error) {
      if (error.name === "AbortError") {
        throw new Error(cancel?.aborted ? `${url}: cancelled` : `${url} did not answer in time`);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  const getJSON = (url, timeoutMs, cancel) => request("GET", url, timeoutMs, cancel);
  const postJSON = (url, timeoutMs, body) => request("POST", url, timeoutMs, undefined, body);

  /** A query string from the non-empty entries of `params`. */
  function query(params) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") search.set(k, v);
    const text = search.toString();
    return text ? "?" + text : "";
  }

  function showProblem(message) {
    const banner = document.getElementById("banner");
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  /**
   * A tab: `{init(panel), show(argument), refresh(), every}`; `refresh` runs every `every` ms
   * while the tab is shown and the console is not paused.
   */
  function register(name, tab) {
    tabs.set(name, tab);
  }

  function route() {
    const [name, ...rest] = decodeURIComponent(location.hash.slice(1)).split("/");
    const chosen = tabs.has(name) ? name : "resources";
    if (active !== chosen) {
      for (const [other] of tabs) {
        document.getElementById(other).hidden = other !== chosen;
        const link = document.getElementById("tab-" + other);
        if (other === chosen) link.setAttribute("aria-current", "page");
        else link.removeAttribute("aria-current");
      }
      active = chosen;
      document.title = `${document.getElementById("tab-" + chosen).textContent} · Brigade console`;
    }
    tabs.get(chosen).show?.(rest.join("/"));
    tick(true);
  }

  let timer = null;
  let running = false;
  /** Set when a refresh is asked for while one runs: it runs again as soon as that one ends. */
  let again = false;
  /** Refreshes the shown tab now (when `force`d or due), then again after its interval. */
  async function tick(force) {
    clearTimeout(timer);
    if (running) {
      again = again || force;
      return;
    }
    const tab = tabs.get(active);
    if (!tab || !tab.refresh) return;
    if (force || !paused) {
      running = true;
      try {
        await tab.refresh();
        showProblem(null);
      } catch (error) {
        showProblem(`${error.message}. Is \`brigade up\` still running? Retrying…`);
      } finally {
        running = false;
      }
    }
    if (again) {
      again = false;
      tick(true);
      return;
    }
    timer = setTimeout(() => tick(false), tab.every || 2000);
  }

  function setPaused(value) {
    paused = value;
    const button = document.getElementById("pause");
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume" : "Pause";
    for (const listener of pauseListeners) listener(paused);
    if (!paused) tick(true);
  }

  async function header() {
    try {
      const view = await getJSON("/v1/system", 3000);
      Console.system = view;
      const up = view.now_ms - view.started_at_ms;
      document.getElementById("meta").textContent =
        `control plane ${view.control_url} · v${view.version} · up ${format.duration(up)}`;
      for (const select of document.querySelectorAll("select[name=service]")) {
        if (select.options.length > 1) continue;
        for (const service of view.services) select.append(el("option", {}, service.name));
      }
    } catch (error) {
      document.getElementById("meta").textContent = "control plane unreachable";
    }
  }

  const format = {
    duration(ms) {
      if (ms == null) return "";
      const s = Math.floor(ms / 1000);
      if (s < 60) return s + "s";
      if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
      if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
      return Math.floor(s / 86400) + "d" + String(Math.floor(s % 86400 / 3600)).padStart(2, "0") + "h";
    },
    bytes(n) {
      if (n == null) return "";
      const units = ["B", "KiB", "MiB", "GiB"];
      let i = 0;
      while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
      return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
    },
    ms(value) {
      if (value == null || Number.isNaN(value)) return "–";
      if (value < 1) return value.toFixed(2) + " ms";
      if (value < 1000) return value.toFixed(value < 10 ? 1 : 0) + " ms";
      return (value / 1000).toFixed(2) + " s";
    },
    rate(value) {
      if (value == null) return "–";
      return (value < 10 ? value.toFixed(2) : value.toFixed(0)) + "/s";
    },
    percent(ratio) {
      if (ratio == null) return "–";
      const p = ratio * 100;
      return (p === 0 || p >= 10 ? p.toFixed(0) : p.toFixed(1)) + " %";
    },
    time(unixMs) {
      return new Date(unixMs).toLocaleTimeString();
    },
  };

  function start() {
    for (const [name, tab] of tabs) tab.init?.(document.getElementById(name));
    document.getElementById("pause").addEventListener("click", () => setPaused(!paused));
    // `p` pauses and resumes, unless typing in a field.
    document.addEventListener("keydown", (event) => {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName);
      if (event.key === "p" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) setPaused(!paused);
    });
    window.addEventListener("hashchange", route);
    header();
    setInterval(() => { if (!paused) header(); }, 5000);
    route();
  }

  return {
    el, fill, getJSON, postJSON, query, format, register, showProblem,
    svgTags: new Set(["g", "path", "rect", "text", "title", "defs", "marker", "line"]),
    system: null,
    get paused() { return paused; },
    get active() { return active; },
    onPause(listener) { pauseListeners.push(listener); },
    refreshNow: () => tick(true),
    start,
  };
})();

// Every tab's script has registered itself by the time the document is parsed (`defer`).
document.addEventListener("DOMContentLoaded", () => Console.start());
