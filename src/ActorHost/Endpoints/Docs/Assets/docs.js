// The /docs page: reads GET /methods (with the token typed in, when the host needs one) and builds a form per
// method that calls POST /call. Everything shown comes from the host's answers and is inserted as text, never HTML.
"use strict";

(function () {
  const state = { token: "" };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (state.token) h["Authorization"] = "Bearer " + state.token;
    return h;
  }

  function notice(text, bad) {
    const n = $("notice");
    n.textContent = text;
    n.classList.toggle("bad", !!bad);
  }

  async function readJson(response) {
    const text = await response.text();
    try { return { json: JSON.parse(text), text }; } catch { return { json: null, text }; }
  }

  async function loadHealth() {
    const status = $("host-status");
    try {
      const response = await fetch("/health", { cache: "no-store" });
      const { json } = await readJson(response);
      const host = response.headers.get("X-Affinetes-Host");
      const parts = [json && json.status ? json.status : String(response.status)];
      if (json && json.runtime) parts.push(json.runtime + " runtime");
      if (host) parts.push("host " + host);
      status.textContent = parts.join(" · ");
      status.className = "status " + (response.ok ? "ok" : "bad");
    } catch (e) {
      status.textContent = "the host does not answer: " + e.message;
      status.className = "status bad";
    }
  }

  async function loadMethods() {
    const main = $("methods");
    for (const old of main.querySelectorAll("section.method")) old.remove();
    $("toc").replaceChildren();
    notice("loading methods…", false);
    let response;
    try {
      response = await fetch("/methods", { headers: headers(), cache: "no-store" });
    } catch (e) {
      notice("GET /methods failed: " + e.message, true);
      return;
    }
    const { json, text } = await readJson(response);
    if (response.status === 401) {
      notice("This host requires a bearer token: enter it above and press Load methods.", true);
      $("token").focus();
      return;
    }
    if (!response.ok || !json || !Array.isArray(json.methods)) {
      const error = json && json.error ? json.error.code + ": " + json.error.message : text;
      notice("GET /methods answered " + response.status + ": " + error, true);
      return;
    }
    notice(json.methods.length === 0 ? "The actor has no public methods." : "", false);
    const list = el("ul");
    json.methods.forEach((method, index) => {
      main.append(renderMethod(method, index));
      list.append(el("li", {}, el("a", { href: "#m" + index, text: method.name })));
    });
    $("toc").append(list);
  }

  function typeHint(p) {
    const bits = [p.type || "any"];
    if (p.nullable) bits.push("or null");
    if (p.required) bits.push("required");
    else if (p.default !== undefined && p.default !== null) bits.push("default " + JSON.stringify(p.default));
    else bits.push("optional");
    return bits.join(", ");
  }

  function renderMethod(method, index) {
    const id = "m" + index;
    const section = el("section", { class: "method", id, "data-method": method.name, "aria-labelledby": id + "-title" });
    const title = el("h2", { id: id + "-title" }, method.name, el("span", { class: "sig", text: method.signature || "" }));
    if (method.is_async) title.append(el("span", { class: "badge", text: "async" }));
    section.append(title);
    if (method.aliases && method.aliases.length) section.append(el("p", { class: "hint", text: "also answers to: " + method.aliases.join(", ") }));
    if (method.description) section.append(el("p", { class: "doc", text: method.description }));

    const form = el("form", { "data-method": method.name, novalidate: true });
    const grid = el("div", { class: "params" });
    const fields = [];
    (method.parameters || []).forEach((p, j) => {
      if (p.kind === "var_positional") return;
      const fieldId = id + "-p" + j;
      let input;
      if (p.kind === "var_keyword") {
        input = el("textarea", { id: fieldId, "data-param": p.name, "data-extra": "true", placeholder: '{"name": "value"}', spellcheck: "false" });
        grid.append(el("label", { for: fieldId }, "**" + p.name, el("span", { class: "hint", text: "more keyword arguments: a JSON object" })));
      } else {
        if (p.type === "boolean") {
          input = el("select", { id: fieldId, "data-param": p.name },
            el("option", { value: "", text: p.required ? "(choose)" : "(default)" }), el("option", { value: "true", text: "true" }), el("option", { value: "false", text: "false" }));
        } else if (p.type === "object" || p.type === "array") {
          input = el("textarea", { id: fieldId, "data-param": p.name, spellcheck: "false", placeholder: p.default !== undefined && p.default !== null ? JSON.stringify(p.default) : p.type === "array" ? "[…]" : "{…}" });
        } else {
          input = el("input", { id: fieldId, "data-param": p.name, type: "text", spellcheck: "false", placeholder: p.default !== undefined && p.default !== null ? JSON.stringify(p.default) : "" });
        }
        grid.append(el("label", { for: fieldId }, p.name, el("span", { class: "hint", text: typeHint(p) })));
      }
      grid.append(input);
      fields.push({ p, input });
    });
    if (fields.length) form.append(grid);

    const deadlineId = id + "-deadline";
    const deadline = el("input", { id: deadlineId, type: "text", inputmode: "decimal", placeholder: "none", "data-deadline": "true" });
    const button = el("button", { type: "submit", "data-call": method.name, text: "Call " + method.name });
    form.append(el("div", { class: "actions" }, button, el("label", { for: deadlineId, text: "deadline (s)" }), deadline));
    const curl = el("pre", { class: "curl-text", "data-curl": method.name });
    const result = el("div", { class: "result", "data-result": method.name, "aria-live": "polite" });
    form.append(el("details", { class: "curl" }, el("summary", { text: "curl" }), curl), result);
    section.append(form);

    const refresh = () => { curl.textContent = curlFor(method.name, buildKwargs(fields).kwargs, deadline.value.trim()); };
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    refresh();
    form.addEventListener("submit", (event) => { event.preventDefault(); call(method.name, fields, deadline, button, result, refresh); });
    return section;
  }

  // A string parameter takes the text as it is; any other type takes JSON (42, true, [1,2], {"a":1}, null) and,
  // when the text is not JSON, the text as a string, so that the host itself says what it expected.
  function buildKwargs(fields) {
    const kwargs = {};
    for (const { p, input } of fields) {
      const raw = input.value;
      if (input.dataset.extra) {
        if (!raw.trim()) continue;
        let extra;
        try { extra = JSON.parse(raw); } catch { return { kwargs, error: "**" + p.name + " must be a JSON object, e.g. {\"name\": \"value\"}" }; }
        if (!extra || typeof extra !== "object" || Array.isArray(extra)) return { kwargs, error: "**" + p.name + " must be a JSON object, e.g. {\"name\": \"value\"}" };
        Object.assign(kwargs, extra);
        continue;
      }
      if (raw === "" && !(p.type === "string" && p.required)) continue;
      if (p.type === "string") { kwargs[p.name] = raw; continue; }
      try { kwargs[p.name] = JSON.parse(raw); } catch { kwargs[p.name] = raw; }
    }
    return { kwargs };
  }

  function shellQuote(text) { return "'" + text.replace(/'/g, "'\\''") + "'"; }

  function curlFor(name, kwargs, deadline) {
    const url = location.origin + "/call";
    const lines = ["curl -sS -X POST " + shellQuote(url), "  -H 'Content-Type: application/json'"];
    if (state.token) lines.push('  -H "Authorization: Bearer $AFFINETES_AUTH_TOKEN"');
    if (deadline) lines.push("  -H " + shellQuote("X-Affinetes-Timeout: " + deadline));
    lines.push("  -d " + shellQuote(JSON.stringify({ method: name, kwargs })));
    return lines.join(" \\\n");
  }

  async function call(name, fields, deadline, button, result, refresh) {
    refresh();
    const built = buildKwargs(fields);
    result.replaceChildren();
    if (built.error) {
      result.dataset.status = "client";
      result.append(el("p", { class: "line bad", text: built.error }));
      return;
    }
    const extra = { "Content-Type": "application/json" };
    if (deadline.value.trim()) extra["X-Affinetes-Timeout"] = deadline.value.trim();
    button.disabled = true;
    result.dataset.status = "pending";
    result.append(el("p", { class: "line", text: "calling…" }));
    const started = performance.now();
    let response;
    try {
      response = await fetch("/call", { method: "POST", headers: headers(extra), body: JSON.stringify({ method: name, kwargs: built.kwargs }) });
    } catch (e) {
      button.disabled = false;
      result.dataset.status = "network";
      result.replaceChildren(el("p", { class: "line bad", text: "the call did not reach the host: " + e.message }));
      return;
    }
    const { json, text } = await readJson(response);
    const ms = performance.now() - started;
    button.disabled = false;
    result.dataset.status = String(response.status);
    const head = response.status + " " + (response.statusText || "") + " · " + ms.toFixed(1) + " ms";
    if (response.ok && json && json.status === "success") {
      result.replaceChildren(el("p", { class: "line ok", text: head }), el("pre", { class: "value", text: JSON.stringify(json.result, null, 2) }));
    } else if (json && json.error && typeof json.error === "object") {
      const e = json.error;
      const lines = [e.code + ": " + e.message];
      if (e.parameter) lines.push("parameter: " + e.parameter);
      if (e.type) lines.push("raised: " + e.type);
      const children = [el("p", { class: "line bad", text: head }), el("pre", { class: "error", "data-code": e.code, text: lines.join("\n") })];
      if (e.traceback) children.push(el("pre", { class: "traceback", text: e.traceback }));
      result.replaceChildren(...children);
      if (response.status === 401) $("token").focus();
    } else {
      // the original's failed envelope ({"status": "failed", "result": {"error": ...}}) or anything else
      result.replaceChildren(el("p", { class: "line bad", text: head }), el("pre", { class: "error", text: json ? JSON.stringify(json, null, 2) : text }));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("auth").addEventListener("submit", (event) => {
      event.preventDefault();
      state.token = $("token").value.trim();
      loadMethods();
    });
    loadHealth();
    if (document.body.dataset.auth === "required") {
      // Asking without a token would only answer 401: say so and wait for one.
      notice("This host requires a bearer token: enter it above and press Load methods.", false);
    } else {
      loadMethods();
    }
  });
})();
