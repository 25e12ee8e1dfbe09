// Reports page: a period's offered, answered, abandoned and service level by interval and by
// queue (or channel, agent, ...), drawn as inline SVG from GET /v1/tenants/{tenant}/reports.
// Nothing is loaded from outside hosts; the gateway checks the token's tenant and role.
import { tokenStore } from "./workspace-socket.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "cc-supervisor-token";
const SVG = "http://www.w3.org/2000/svg";
const VOLUME = [
  ["offered", "Offered", "#1f5fbf"],
  ["answered", "Answered", "#1b6e34"],
  ["abandoned", "Abandoned", "#a3261b"],
];
const PALETTE = ["#1f5fbf", "#f0a500", "#1b6e34", "#a3261b", "#6b46c1", "#0e7490", "#9d174d", "#4a5568"];
const FIELDS = ["start", "end", "interval", "by", "timeZone"];
let session = null;

function status(text) {
  $("status").textContent = text;
}

// The token's readable part names its tenant; the gateway verifies the signature, not this page.
function claimsOf(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3 || parts[0] !== "cct1") return null;
  try {
    const text = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(text);
    return typeof claims.t === "string" && claims.t ? claims : null;
  } catch {
    return null;
  }
}

function showLogin(reason) {
  tokenStore.clear(TOKEN_KEY);
  session = null;
  $("reports").hidden = true;
  $("whoami").hidden = true;
  $("login").hidden = false;
  if (reason) status(reason);
}

function login(token) {
  const claims = claimsOf(token);
  if (!claims) {
    showLogin("That is not a platform token (cct1.<payload>.<signature>).");
    return;
  }
  tokenStore.save(TOKEN_KEY, token.trim());
  session = { token: token.trim(), tenant: claims.t };
  $("supervisor-name").textContent = `${claims.s || "?"} (${claims.t}, ${claims.r || "?"})`;
  $("login").hidden = true;
  $("whoami").hidden = false;
  $("reports").hidden = false;
  status("");
  const day = (offset) => {
    const d = new Date();
    d.setDate(d.getDate() + offset);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  };
  if (!$("start").value) $("start").value = day(0);
  if (!$("end").value) $("end").value = day(1);
  show();
}

function showError(text) {
  // The last report's charts would read as the answer to the refused question: clear them.
  for (const id of ["volume-chart", "level-chart", "groups-chart", "report-rows"]) $(id).replaceChildren();
  $("no-rows").hidden = true;
  $("reports").dataset.state = "error";
  $("report-error").textContent = text;
  $("report-error").hidden = false;
}

async function show() {
  if (!session) return;
  const query = new URLSearchParams();
  for (const name of FIELDS) {
    const field = document.querySelector(`#report-form [name=${name}]`);
    if (field.value.trim()) query.set(name, field.value.trim());
  }
  $("reports").dataset.state = "loading";
  $("report-error").hidden = true;
  status("Loading the report\u2026");
  let response;
  let body = null;
  try {
    response = await fetch(`/v1/tenants/${encodeURIComponent(session.tenant)}/reports?${query}`, {
      headers: { Authorization: `Bearer ${session.token}` },
    });
    body = await response.json().catch(() => null);
  } catch {
    status("");
    showError("The gateway could not be reached; try again.");
    return;
  }
  status("");
  if (response.status === 401) {
    showLogin(body?.error?.message || "The token was not accepted.");
    return;
  }
  if (!response.ok) {
    const message = body?.error?.message || `HTTP ${response.status}`;
    showError(`The report was refused: ${message}`);
    return;
  }
  render(body, query.get("by") || "");
  $("reports").dataset.state = "ready";
}

// ---- SVG helpers ----------------------------------------------------------------------------

function svg(tag, attributes = {}, children = []) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children) node.append(child);
  return node;
}

function text(x, y, content, attributes = {}) {
  const node = svg("text", { x, y, ...attributes });
  node.textContent = content;
  return node;
}

function titled(node, content) {
  const title = svg("title");
  title.textContent = content;
  node.append(title);
  return node;
}

/** The top of a count axis with four whole, round steps (4, 8, 20, 40, 200, ...). */
function countTop(value) {
  const wanted = Math.max(1, value / 4);
  const power = 10 ** Math.floor(Math.log10(wanted));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= wanted);
  return 4 * step;
}

function legend(items) {
  const list = document.createElement("ul");
  list.className = "legend";
  for (const [label, colour] of items) {
    const item = document.createElement("li");
    item.append(svg("svg", { class: "swatch", width: 12, height: 12, "aria-hidden": "true" }, [svg("rect", { width: 12, height: 12, rx: 2, fill: colour })]));
    item.append(` ${label}`);
    list.append(item);
  }
  return list;
}

const W = 760;
const H = 250;
const M = { left: 48, right: 12, top: 12, bottom: 44 };

/** Axes and horizontal grid for values 0..top; returns the plot's y(value). */
function frame(chart, top, format) {
  const y = (value) => M.top + (H - M.top - M.bottom) * (1 - value / top);
  for (let i = 0; i <= 4; i += 1) {
    const value = (top * i) / 4;
    chart.append(svg("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(value), y2: y(value) }));
    chart.append(text(M.left - 6, y(value) + 4, format(value), { "text-anchor": "end" }));
  }
  chart.append(svg("line", { class: "axis", x1: M.left, x2: W - M.right, y1: y(0), y2: y(0) }));
  return y;
}

function xLabels(chart, labels, centre) {
  const every = Math.max(1, Math.ceil(labels.length / 12));
  labels.forEach((label, i) => {
    if (i % every === 0) chart.append(text(centre(i), H - M.bottom + 16, label, { "text-anchor": "middle" }));
  });
}

function chartSvg(label) {
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
}

// ---- the report -----------------------------------------------------------------------------

function intervalLabel(start, interval, manyDays) {
  if (interval === "day") return start.slice(0, 10);
  return manyDays ? `${start.slice(5, 10)} ${start.slice(11, 16)}` : start.slice(11, 16);
}

function percent(value) {
  return value === undefined || value === null ? "\u2013" : `${Math.round(value * 100)}%`;
}

function seconds(value) {
  if (value === undefined || value === null) return "\u2013";
  return value < 10 ? `${value.toFixed(1)} s` : `${Math.round(value)} s`;
}

/** Bars per interval, one per measure; counts add up over the groups. */
function volumeChart(starts, labels, rows) {
  const totals = starts.map(() => ({ offered: 0, answered: 0, abandoned: 0 }));
  const index = new Map(starts.map((start, i) => [start, i]));
  for (const row of rows) {
    const total = totals[index.get(row.start)];
    for (const [key] of VOLUME) total[key] += row[key] || 0;
  }
  const top = countTop(Math.max(0, ...totals.flatMap((t) => VOLUME.map(([key]) => t[key]))));
  const chart = chartSvg("Offered, answered and abandoned contacts by interval");
  const y = frame(chart, top, String);
  const slot = (W - M.left - M.right) / starts.length;
  const bar = Math.max(1, Math.min(28, (slot * 0.8) / VOLUME.length));
  totals.forEach((total, i) => {
    VOLUME.forEach(([key, name, colour], k) => {
      const x = M.left + i * slot + (slot - bar * VOLUME.length) / 2 + k * bar;
      chart.append(titled(svg("rect", {
        class: `bar ${key}`, x, y: y(total[key]), width: bar, height: y(0) - y(total[key]), fill: colour,
        "data-interval": starts[i], "data-value": total[key],
      }), `${labels[i]}: ${name.toLowerCase()} ${total[key]}`));
    });
  });
  xLabels(chart, labels, (i) => M.left + (i + 0.5) * slot);
  return [chart, legend(VOLUME.map(([, name, colour]) => [name, colour]))];
}

/** One line per group (or one for all): the share answered within target, gaps where unmeasured. */
function levelChart(starts, labels, rows, by) {
  const groups = [...new Set(rows.map((row) => row.group))];
  const chart = chartSvg("Service level by interval");
  const y = frame(chart, 1, (v) => `${Math.round(v * 100)}%`);
  const step = (W - M.left - M.right) / starts.length;
  const x = (i) => M.left + (i + 0.5) * step;
  const index = new Map(starts.map((start, i) => [start, i]));
  const items = [];
  groups.forEach((group, g) => {
    const colour = PALETTE[g % PALETTE.length];
    const name = by ? group || "(none)" : "All contacts";
    items.push([name, colour]);
    const points = rows
      .filter((row) => row.group === group && row.serviceLevel !== undefined)
      .map((row) => [index.get(row.start), row.serviceLevel])
      .sort((a, b) => a[0] - b[0]);
    // Consecutive intervals are joined; an interval without a measure breaks the line.
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        chart.append(svg("polyline", {
          class: "level-line", fill: "none", stroke: colour, "stroke-width": 2,
          points: run.map(([i, v]) => `${x(i)},${y(v)}`).join(" "),
        }));
      }
      run = [];
    };
    points.forEach((point, p) => {
      if (p > 0 && point[0] !== points[p - 1][0] + 1) flush();
      run.push(point);
      chart.append(titled(svg("circle", {
        class: "level-point", cx: x(point[0]), cy: y(point[1]), r: 3.5, fill: colour,
        "data-group": group, "data-interval": starts[point[0]], "data-value": point[1],
      }), `${name}, ${labels[point[0]]}: ${percent(point[1])}`));
    });
    flush();
  });
  xLabels(chart, labels, x);
  return [chart, legend(items)];
}

/** Per group over the whole period: offered, answered, abandoned side by side. */
function groupsChart(rows) {
  const totals = new Map();
  for (const row of rows) {
    const total = totals.get(row.group) || { offered: 0, answered: 0, abandoned: 0 };
    for (const [key] of VOLUME) total[key] += row[key] || 0;
    totals.set(row.group, total);
  }
  const groups = [...totals.keys()].sort();
  const top = countTop(Math.max(0, ...groups.flatMap((g) => VOLUME.map(([key]) => totals.get(g)[key]))));
  const chart = chartSvg("Offered, answered and abandoned contacts by group over the period");
  const y = frame(chart, top, String);
  const slot = (W - M.left - M.right) / Math.max(1, groups.length);
  const bar = Math.min(40, (slot * 0.8) / VOLUME.length);
  groups.forEach((group, i) => {
    const total = totals.get(group);
    VOLUME.forEach(([key, name, colour], k) => {
      const x = M.left + i * slot + (slot - bar * VOLUME.length) / 2 + k * bar;
      chart.append(titled(svg("rect", {
        class: `bar ${key}`, x, y: y(total[key]), width: bar, height: y(0) - y(total[key]), fill: colour,
        "data-group": group, "data-value": total[key],
      }), `${group || "(none)"}: ${name.toLowerCase()} ${total[key]}`));
    });
  });
  xLabels(chart, groups.map((g) => g || "(none)"), (i) => M.left + (i + 0.5) * slot);
  return [chart, legend(VOLUME.map(([, name, colour]) => [name, colour]))];
}

function render(report, by) {
  const rows = report.rows || [];
  const interval = report.interval || "hour";
  const starts = [...new Set(rows.map((row) => row.start))].sort();
  const manyDays = new Set(starts.map((start) => start.slice(0, 10))).size > 1;
  const labels = starts.map((start) => intervalLabel(start, interval, manyDays));
  $("no-rows").hidden = rows.length > 0;
  $("level-by").textContent = by ? `by ${by}, answered within target` : "answered within target";
  $("groups-section").hidden = !by;
  $("groups-name").textContent = by;
  for (const id of ["volume-chart", "level-chart", "groups-chart"]) $(id).replaceChildren();
  if (rows.length) {
    $("volume-chart").append(...volumeChart(starts, labels, rows));
    $("level-chart").append(...levelChart(starts, labels, rows, by));
    if (by) $("groups-chart").append(...groupsChart(rows));
  }
  $("report-rows").replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      const cells = [
        intervalLabel(row.start, interval, manyDays), by ? row.group || "(none)" : "\u2013",
        row.offered || 0, row.answered || 0, row.abandoned || 0, percent(row.serviceLevel),
        seconds(row.averageSpeedOfAnswer), seconds(row.averageHandleTime), row.transfers || 0,
      ];
      for (const value of cells) {
        const td = document.createElement("td");
        td.textContent = String(value);
        tr.append(td);
      }
      return tr;
    }),
  );
  status(`${rows.length} row${rows.length === 1 ? "" : "s"}, ${interval} intervals, ${report.timeZone || "UTC"}`);
}

// ---- wiring ---------------------------------------------------------------------------------

// Period and grouping may come in the page's address (?start=...&by=channel), so a view can be shared.
const asked = new URLSearchParams(location.search);
for (const name of FIELDS) {
  const field = document.querySelector(`#report-form [name=${name}]`);
  if (asked.has(name)) field.value = asked.get(name);
}
$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  login($("token").value);
});
$("report-form").addEventListener("submit", (event) => {
  event.preventDefault();
  show();
});
$("logout").addEventListener("click", () => showLogin("Logged out."));
const saved = tokenStore.load(TOKEN_KEY);
if (saved) login(saved);
