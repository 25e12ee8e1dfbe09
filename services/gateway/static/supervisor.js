// Supervisor view: queues with live depth, longest wait and service level, and agents by state,
// pushed every couple of seconds over the workspace socket (docs/websocket-api.md, section 3).
import { WorkspaceSocket, clockTime, el, tokenStore } from "./workspace-socket.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "cc-supervisor-token";
const STATES = [
  ["available", "Available"], ["busy", "Busy"], ["after_contact_work", "After-contact work"],
  ["break", "On break"], ["offline", "Offline"],
];
let socket = null;

function status(text) {
  $("connection").textContent = text;
}

function showLogin(reason) {
  tokenStore.clear(TOKEN_KEY);
  $("board").hidden = true;
  $("whoami").hidden = true;
  $("login").hidden = false;
  if (reason) status(reason);
}

function login(token) {
  tokenStore.save(TOKEN_KEY, token);
  socket = new WorkspaceSocket(token, {
    onStatus: (text, final) => {
      status(text);
      if (final) showLogin(text);
    },
    onReady: (frame) => {
      $("login").hidden = true;
      $("board").hidden = false;
      $("whoami").hidden = false;
      $("supervisor-name").textContent = `${frame.displayName || frame.agentId} (${frame.tenant}, ${frame.role})`;
      socket.send("subscribe_queues", { intervalSeconds: 2 });
    },
    onFrame: (frame) => {
      if (frame.type === "queues") render(frame);
      else if (frame.type === "error") status(`Error (${frame.code}): ${frame.message}`);
    },
  });
  socket.connect();
}

// Whole seconds first, then split: 599.6 s is "10 min 0 s", never "9 min 60 s".
function seconds(value) {
  if (value === null || value === undefined || value < 0) return "\u2013";
  const total = Math.round(value);
  if (total < 60) return `${total} s`;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  return hours ? `${hours} h ${minutes} min` : `${minutes} min ${rest} s`;
}

const CHANNEL_NAMES = {
  voice: "Voice", sms: "SMS", whatsapp: "WhatsApp", email: "E-mail", webchat: "Web chat", task: "Task", api: "API",
};
const STATE_NAMES = Object.fromEntries(STATES);
const WINDOW_NAMES = { last15m: "Last 15 min", today: "Today" };

function percent(value) {
  return value === null || value === undefined || value < 0 ? "\u2013" : `${Math.round(value * 100)}%`;
}

function staffing(queue) {
  // "N more agents to reach the target" (Erlang A), or that the staffed agents reach it.
  const more = queue.additionalAgentsNeeded || 0;
  if (!more) return "target reached";
  const prefix = queue.staffingReachable === false ? "over " : "";
  return `${prefix}${more} more agent${more === 1 ? "" : "s"} to reach target`;
}

function render(frame) {
  $("updated").textContent = `updated ${clockTime(frame.at)}`;
  const queues = frame.queues || [];
  $("queue-rows").replaceChildren(
    ...queues.map((queue) => {
      const target = queue.serviceLevelTarget;
      const targetText = target ? ` (${percent(target.answeredFraction)} in ${target.withinSeconds} s)` : "";
      const level = el("td", { class: queue.serviceLevel === null ? "" : queue.meetsTarget ? "good" : "bad" },
        `${percent(queue.serviceLevel)}${targetText}`);
      return el(
        "tr",
        { "data-queue": queue.name },
        el("th", { scope: "row", text: queue.name }),
        el("td", { text: queue.brand || "\u2013" }),
        el("td", { class: "depth", text: String(queue.depth) }),
        el("td", { class: "longest-wait", text: seconds(queue.longestWaitSeconds) }),
        el("td", { text: String(queue.staffedAgents) }),
        level,
        el("td", { text: percent(queue.predictedServiceLevel) }),
        el("td", { text: seconds(queue.predictedAverageWaitSeconds) }),
        el("td", { class: "arrivals", text: (queue.arrivalsPerHour ?? 0).toFixed(1) }),
        el("td", {
          class: "handle-time",
          title: queue.handleTimeSamples ? `measured on ${queue.handleTimeSamples} contacts` : "default until measured",
          text: `${seconds(queue.averageHandleSeconds)}${queue.handleTimeSamples ? "" : " (default)"}`,
        }),
        el("td", { class: "with-abandons", text: percent(queue.abandonmentAwareServiceLevel) }),
        el("td", { class: "abandon-rate", text: percent(queue.predictedAbandonRate) }),
        el("td", { class: queue.overloaded ? "bad overloaded" : "good", text: queue.overloaded ? "overloaded" : "ok" }),
        el("td", { class: queue.additionalAgentsNeeded ? "bad staffing" : "good staffing", text: staffing(queue) }),
      );
    }),
  );
  $("no-queues").hidden = queues.length > 0;
  const agents = frame.agents || {};
  $("agent-states").replaceChildren(
    ...STATES.map(([state, name]) =>
      el("li", { "data-state": state }, el("span", { class: "count", text: String(agents[state] || 0) }), ` ${name}`),
    ),
  );
  renderAgentTable(frame.agentList || [], frame.at);
  renderServiceLevels(frame.serviceLevels);
  renderSurge(frame.surge || [], frame.at);
  renderCallbacks(frame.callbacks || {}, frame.at);
}

// Queued call backs in the order they are called: scheduled, placed (calling), failed (last day).
function renderCallbacks(callbacks, now) {
  const rows = [
    ...(callbacks.scheduled || []).map((c) => [c, "scheduled", seconds(now - c.waitingSince)]),
    ...(callbacks.placed || []).map((c) => [c, "placed", seconds(now - c.waitingSince)]),
    ...(callbacks.failed || []).map((c) => [c, `failed (${c.attempts} attempts, ${c.status})`, seconds(now - c.failedAt)]),
  ];
  $("callback-rows").replaceChildren(
    ...rows.map(([c, state, since]) =>
      el(
        "tr",
        { "data-contact": c.contactId, "data-state": state.split(" ")[0] },
        el("th", { scope: "row", text: c.contactId }),
        el("td", { text: c.queue }),
        el("td", { class: state.startsWith("failed") ? "bad" : "", text: state }),
        el("td", { text: c.agentId || "\u2013" }),
        el("td", { text: since }),
      ),
    ),
  );
  $("no-callbacks").hidden = rows.length > 0;
}

// Fallback policies of the surge guard: engaged ones first, with the signal that engaged them.
function renderSurge(policies, now) {
  const engaged = (p) => p.phase === "engaged" || p.phase === "releasing";
  const sorted = [...policies].sort((a, b) => Number(engaged(b)) - Number(engaged(a)));
  $("surge-rows").replaceChildren(
    ...sorted.map((p) => {
      const why = !p.metric ? "\u2013" : p.metric === "manual" ? "engaged by hand"
        : `${p.metric} ${p.value.toFixed(2)} / ${p.baseline.toFixed(2)}, score ${p.score.toFixed(1)}`;
      const state = p.phase + (p.manual ? ` (manual ${p.manual})` : "");
      return el(
        "tr",
        { "data-policy": p.policy, "data-phase": p.phase },
        el("th", { scope: "row", text: p.policy }),
        el("td", { text: p.queue || "all queues" }),
        el("td", { class: engaged(p) ? "bad surge-state" : "good surge-state", text: state }),
        el("td", { text: p.engagedAt ? seconds(now - p.engagedAt) : "\u2013" }),
        el("td", { text: why }),
        el("td", { text: (p.actions || []).join(", ") }),
      );
    }),
  );
  $("no-surge").hidden = policies.length > 0;
}

// Every agent of the roster: who, state, for how long, contacts held (and offers ringing).
function renderAgentTable(list, now) {
  $("agent-rows").replaceChildren(
    ...list.map((agent) =>
      el(
        "tr",
        { "data-agent": agent.agentId, "data-state": agent.state },
        el("th", { scope: "row", text: agent.displayName || agent.agentId }),
        el("td", { class: "state", text: STATE_NAMES[agent.state] || agent.state }),
        el("td", { class: "since", text: seconds(now - agent.since) }),
        el("td", { class: "contacts", text: String(agent.contacts) + (agent.offers ? ` (+${agent.offers} ringing)` : "") }),
      ),
    ),
  );
  $("no-agents").hidden = list.length > 0;
}

function levelCell(entry) {
  if (!entry || entry.serviceLevel === null) return el("td", { text: "\u2013" });
  return el("td", { text: `${percent(entry.serviceLevel)} (${entry.answeredInTarget}/${entry.contacts})` });
}

// Service level per queue and per channel, over the last 15 minutes and today.
function renderServiceLevels(levels) {
  if (!levels) return;
  const windows = levels.windows || [];
  const head = (first) => [
    el("th", { scope: "col", text: first }),
    ...windows.map((window) => el("th", { scope: "col", text: WINDOW_NAMES[window] || window })),
  ];
  $("level-head").replaceChildren(...head("Queue"));
  $("level-channel-head").replaceChildren(...head("Channel"));
  const row = (kind, key, name, byWindow) =>
    el("tr", { [`data-${kind}`]: key }, el("th", { scope: "row", text: name }), ...windows.map((w) => levelCell(byWindow[w])));
  $("level-queue-rows").replaceChildren(
    ...Object.entries(levels.queues || {}).map(([queue, byWindow]) => row("queue", queue, queue, byWindow)),
  );
  $("level-channel-rows").replaceChildren(
    ...Object.entries(levels.channels || {}).map(([channel, byWindow]) =>
      row("channel", channel, CHANNEL_NAMES[channel] || channel, byWindow),
    ),
  );
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (token) login(token);
});
$("logout").addEventListener("click", () => {
  socket?.close();
  socket = null;
  $("token").value = "";
  showLogin("Logged out");
});

const saved = tokenStore.load(TOKEN_KEY);
if (saved) login(saved);
else status("Not logged in");
