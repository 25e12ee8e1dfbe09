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

function seconds(value) {
  if (value === null || value === undefined) return "\u2013";
  if (value < 60) return `${Math.round(value)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

function percent(value) {
  return value === null || value === undefined || value < 0 ? "\u2013" : `${Math.round(value * 100)}%`;
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
