// Agent workspace page: log in with a token, set state, take offers, talk to customers on any
// channel with the AI insights and the customer's cross-channel history beside the conversation.
// Protocol: docs/websocket-api.md, section 2. Customer text is only ever set as textContent.
import { WorkspaceSocket, clockTime, el, tokenStore } from "./workspace-socket.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "cc-agent-token";
const CHANNEL_NAMES = {
  sms: "SMS", voice: "Voice", whatsapp: "WhatsApp", email: "E-mail", webchat: "Web chat", api: "API",
};
const STATE_NAMES = {
  offline: "Offline", available: "Available", busy: "Busy", after_contact_work: "After-contact work", break: "On break",
};

let socket = null;
const offers = new Map(); // reservationId -> {offer, card, countdown}
const contacts = new Map(); // contactId -> contact state
let selected = null;
let myAgentId = "";
const pendingSends = new Map(); // request id -> {contactId, text}

function status(text) {
  $("connection").textContent = text;
}

function channelName(channel) {
  return CHANNEL_NAMES[channel] || channel || "?";
}

// ---- login ----
function login(token) {
  tokenStore.save(TOKEN_KEY, token);
  socket = new WorkspaceSocket(token, {
    onStatus: (text, final) => {
      status(text);
      if (final) showLogin(text);
    },
    onReady: ready,
    onFrame: handle,
  });
  socket.connect();
}

function showLogin(reason) {
  tokenStore.clear(TOKEN_KEY);
  $("workspace").hidden = true;
  $("whoami").hidden = true;
  $("login").hidden = false;
  if (reason) status(reason);
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (token) login(token);
});

$("logout").addEventListener("click", () => {
  if (socket) socket.close();
  socket = null;
  offers.clear();
  contacts.clear();
  selected = null;
  $("token").value = "";
  showLogin("Logged out");
  renderOffers();
  renderContacts();
  renderConversation();
});

function ready(frame) {
  $("login").hidden = true;
  $("workspace").hidden = false;
  $("whoami").hidden = false;
  myAgentId = frame.agentId;
  $("agent-name").textContent = `${frame.displayName || frame.agentId} (${frame.tenant}, ${frame.role})`;
  showState(frame.state);
}

// One place shows the state: routing's, in the box the agent changes it with. "Busy" (set by
// routing while the agent is at capacity) is shown there but cannot be chosen.
function showState(state) {
  const box = $("state-select");
  if (![...box.options].some((option) => option.value === state)) {
    box.append(el("option", { value: state, disabled: "", text: STATE_NAMES[state] || state }));
  }
  box.value = state;
  box.dataset.state = state;
}

$("state-select").addEventListener("change", () => {
  socket?.send("set_state", { state: $("state-select").value });
});

// ---- frames from the gateway ----
function handle(frame) {
  switch (frame.type) {
    case "state":
      showState(frame.state);
      if (frame.requeued) status(`${frame.requeued} offer(s) went back to the queue.`);
      break;
    case "offer":
      addOffer(frame);
      break;
    case "offer_withdrawn":
      removeOffer(frame.reservationId);
      status(`Offer withdrawn (${frame.reason}).`);
      break;
    case "accepted":
      acceptedOffer(frame);
      break;
    case "declined":
      removeOffer(frame.reservationId);
      break;
    case "conversation":
      updateContact(frame.contactId, (contact) => {
        contact.channel = frame.channel || contact.channel;
        contact.queue = frame.queue || contact.queue;
        contact.customerId = frame.customerId || contact.customerId;
        contact.displayName = frame.displayName || contact.displayName;
        contact.timeline = frame.timeline || [];
        for (const message of frame.messages || []) addMessage(contact, message);
        // Insights made before the accept; the panel shows the latest.
        const insights = frame.insights || [];
        if (insights.length) contact.insight = insights[insights.length - 1];
        for (const line of frame.transcript || []) addTranscript(contact, line);
      });
      break;
    case "message":
      updateContact(frame.contactId, (contact) => {
        addMessage(contact, frame);
        if (frame.from === "customer") contact.customerTyping = false;
      });
      break;
    case "sent": {
      const pending = pendingSends.get(frame.id);
      pendingSends.delete(frame.id);
      if (pending) {
        updateContact(frame.contactId, (contact) =>
          addMessage(contact, { messageId: frame.messageId, from: "agent", text: pending.text, at: Date.now() / 1000 }),
        );
      }
      break;
    }
    case "message_status":
      updateContact(frame.contactId, (contact) => {
        const message = contact.messages.find((m) => m.messageId === frame.messageId);
        if (message) message.status = frame.reason ? `${frame.status}: ${frame.reason}` : frame.status;
      });
      break;
    case "insight":
      updateContact(frame.contactId, (contact) => (contact.insight = frame));
      break;
    case "transcript":
      updateContact(frame.contactId, (contact) => addTranscript(contact, frame));
      break;
    case "suggestions":
      updateContact(frame.contactId, (contact) => (contact.suggestions = frame.suggestions || []));
      break;
    case "summary":
      updateContact(frame.contactId, (contact) => (contact.summary = frame.summary));
      break;
    case "typing":
      updateContact(frame.contactId, (contact) => (contact.customerTyping = true));
      break;
    case "transferred":
      removeContact(frame.contactId);
      status(`Transferred to ${frame.queue}.`);
      break;
    case "wrapped_up":
      removeContact(frame.contactId);
      status(
        frame.ticket
          ? `Wrapped up (${frame.disposition}); ticket: ${frame.ticket.title}`
          : `Wrapped up (${frame.disposition}).`,
      );
      break;
    case "contact_closed":
      updateContact(frame.contactId, (contact) => (contact.closed = frame.outcome || "closed"));
      break;
    case "error":
      pendingSends.delete(frame.id);
      status(`Error (${frame.code}): ${frame.message}`);
      for (const entry of offers.values()) entry.card.querySelectorAll("button").forEach((b) => (b.disabled = false));
      break;
    default:
      break; // pong, ack, queues
  }
}

// ---- offers ----
function addOffer(offer) {
  removeOffer(offer.reservationId);
  offer.receivedAt = Date.now() / 1000;
  const countdown = el("span", { class: "countdown" });
  const accept = el("button", {
    type: "button", class: "accept", text: "Accept",
    onclick: () => answer("accept", offer.reservationId),
  });
  const decline = el("button", {
    type: "button", class: "decline", text: "Decline",
    onclick: () => answer("decline", offer.reservationId),
  });
  const card = el(
    "li",
    { class: "offer", "data-reservation": offer.reservationId, "aria-label": `Offer: ${channelName(offer.channel)} contact in ${offer.queue}` },
    el(
      "p",
      { class: "offer-head" },
      el("strong", { text: channelName(offer.channel) }),
      el("span", { class: "customer-name", text: ` \u00B7 ${customerName(offer.customer)}` }),
      ` \u00B7 queue ${offer.queue} \u00B7 `,
      countdown,
    ),
    el("blockquote", { class: "first-message", text: offer.customer?.firstMessage || "(no message yet)" }),
    // A queued call back: accepting it rings the customer at this number.
    offer.callback
      ? el("p", { class: "callback-offer", text: `Call back: accepting calls ${offer.callback.number || "the customer"}` })
      : null,
    el("div", { class: "buttons" }, accept, decline),
  );
  offers.set(offer.reservationId, { offer, card, countdown });
  tickCountdowns();
  renderOffers();
}

function answer(kind, reservationId) {
  const entry = offers.get(reservationId);
  if (!entry) return;
  if (socket?.send(kind, { reservationId })) entry.card.querySelectorAll("button").forEach((b) => (b.disabled = true));
}

function removeOffer(reservationId) {
  offers.delete(reservationId);
  renderOffers();
}

function renderOffers() {
  $("offers").replaceChildren(...[...offers.values()].map((entry) => entry.card));
  $("no-offers").hidden = offers.size > 0;
}

// An offer carries when it was made and, when routing says so, when it expires.
function tickCountdowns() {
  const now = Date.now() / 1000;
  for (const { offer, countdown } of offers.values()) {
    if (offer.expiresAt) countdown.textContent = `expires in ${Math.max(0, Math.round(offer.expiresAt - now))} s`;
    else countdown.textContent = `waiting ${Math.max(0, Math.round(now - (offer.at || offer.receivedAt)))} s`;
  }
}
setInterval(tickCountdowns, 1000);

function acceptedOffer(frame) {
  const entry = offers.get(frame.reservationId);
  removeOffer(frame.reservationId);
  updateContact(frame.contactId, (contact) => {
    if (entry) {
      contact.channel = entry.offer.channel;
      contact.queue = entry.offer.queue;
      contact.customerId = entry.offer.customer?.customerId;
      contact.displayName = entry.offer.customer?.displayName || contact.displayName;
    }
  });
  select(frame.contactId);
}

// ---- contacts and the conversation ----
function updateContact(contactId, change) {
  if (!contactId) return;
  let contact = contacts.get(contactId);
  if (!contact) {
    contact = { contactId, channel: "", queue: "", customerId: "", messages: [], transcript: [], timeline: [], insight: null, suggestions: [], summary: "" };
    contacts.set(contactId, contact);
    if (!selected) selected = contactId;
  }
  change(contact);
  renderContacts();
  if (contactId === selected) renderConversation();
}

function addMessage(contact, message) {
  if (message.messageId && contact.messages.some((m) => m.messageId === message.messageId)) return;
  contact.messages.push({ ...message });
}

// A call's utterances, kept in the order they were said on the call (both sides share one clock).
function addTranscript(contact, line) {
  if (contact.transcript.some((l) => l.segmentId === line.segmentId)) return;
  contact.transcript.push({ ...line });
  contact.transcript.sort((a, b) => a.startSeconds - b.startSeconds);
}

function transcriptSpeaker(line) {
  return line.track === "agent" ? "Agent" : customerName(contacts.get(selected));
}

function renderTranscript(contact) {
  const lines = contact.transcript;
  $("transcript-panel").hidden = !lines.length && contact.channel !== "voice";
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(
    ...lines.map((line) =>
      el(
        "li",
        { class: `transcript-line ${line.track}`, "data-segment-id": line.segmentId },
        el("span", { class: "who", text: transcriptSpeaker(line) }),
        // An utterance the recogniser could not transcribe says so rather than showing nothing.
        el("span", { class: "text", text: line.transcribed ? line.text : `(not transcribed: ${line.reason})` }),
        el("span", { class: "meta", text: `${line.startSeconds.toFixed(1)} s` }),
      ),
    ),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function removeContact(contactId) {
  contacts.delete(contactId);
  if (selected === contactId) selected = contacts.keys().next().value || null;
  renderContacts();
  renderConversation();
}

function select(contactId) {
  selected = contactId;
  renderContacts();
  renderConversation();
}

function renderContacts() {
  const tabs = [...contacts.values()].map((contact) =>
    el(
      "li",
      { role: "presentation" },
      el("button", {
        type: "button", role: "tab", "aria-selected": String(contact.contactId === selected),
        text: `${channelName(contact.channel)} \u00B7 ${customerName(contact)}${contact.closed ? " (closed)" : ""}`,
        onclick: () => select(contact.contactId),
      }),
    ),
  );
  $("contacts").replaceChildren(...tabs);
  $("no-contacts").hidden = contacts.size > 0;
}

function renderConversation() {
  const contact = selected ? contacts.get(selected) : null;
  $("no-conversation").hidden = Boolean(contact);
  $("conversation-body").hidden = !contact;
  if (!contact) {
    renderInsights(null);
    $("timeline").replaceChildren();
    return;
  }
  $("contact-meta").textContent =
    `${channelName(contact.channel)} \u00B7 queue ${contact.queue || "\u2013"} \u00B7 ${customerName(contact)}` +
    (contact.closed ? ` \u00B7 closed (${contact.closed})` : "");
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(
    ...contact.messages.map((message) =>
      el(
        "li",
        { class: `message ${message.from}`, "data-message-id": message.messageId },
        el("span", { class: "who", text: senderName(message) }),
        el("span", { class: "text", text: message.text }),
        el("span", { class: "meta", text: clockTime(message.at) + (message.status ? ` \u00B7 ${message.status}` : "") }),
      ),
    ),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
  $("customer-typing").hidden = !contact.customerTyping;
  renderTranscript(contact);
  renderInsights(contact);
  $("timeline").replaceChildren(
    ...(contact.timeline.length
      ? contact.timeline.map((entry) =>
          el(
            "li",
            { class: entry.contactId === contact.contactId ? "current" : "" },
            el("span", { class: "when", text: new Date(entry.at * 1000).toLocaleString() }),
            el("span", { class: "channel", text: channelName(entry.channel) }),
            el("span", { class: "summary", text: entry.summary || entry.kind }),
          ),
        )
      : [el("li", { class: "empty", text: "No earlier contacts." })]),
  );
}

// The name the channel gave (WhatsApp profile, e-mail From) or a masked address; never an id.
function customerName(who) {
  return who?.displayName || "Customer";
}

function senderName(message) {
  if (message.from === "customer") return customerName(contacts.get(selected));
  if (message.from === "bot") return "Assistant";
  if (message.sender === `agent:${myAgentId}`) return "You";
  return message.sender?.startsWith("agent:") ? `Agent ${message.sender.slice(6)}` : "Agent";
}

function percent(value) {
  return typeof value === "number" ? `${Math.round(value * 100)}%` : "\u2013";
}

function trendName(trend) {
  if (Math.abs(trend) < 0.05) return "steady";
  return trend > 0 ? "improving" : "worsening";
}

function renderInsights(contact) {
  const insight = contact?.insight;
  // Which message the panel describes (the newest analysed one).
  $("insights").dataset.messageId = insight?.messageId || "";
  // Told for people: "unknown" for a message no intent fits, sentiment in words.
  $("insight-channel").textContent = insight ? channelName(insight.channel || contact.channel) : "\u2013";
  $("insight-language").textContent = insight?.language && insight.language !== "und" ? insight.language : "\u2013";
  const intent = insight ? insight.intentLabel || "unknown" : "";
  $("insight-intent").textContent = insight
    ? intent === "unknown" ? "unknown" : `${intent} (${percent(insight.intentScore)})`
    : "\u2013";
  $("insight-sentiment").textContent = insight
    ? `${insight.sentimentLabel || "neutral"}, ${trendName(insight.sentimentTrend)}`
    : "\u2013";
  $("insight-escalation").textContent = insight
    ? `${percent(insight.escalationScore)}${insight.escalationReasons?.length ? ": " + insight.escalationReasons.join(", ") : ""}`
    : "\u2013";
  $("summary").textContent = contact?.summary || "\u2013";
  $("suggestions").replaceChildren(
    ...(contact?.suggestions || []).map((suggestion) =>
      el(
        "li",
        { class: "suggestion" },
        el("p", { class: "reply-text", text: suggestion.reply }),
        el("p", { class: "source", text: suggestion.articleTitle ? `Source: ${suggestion.articleTitle}` : "" }),
        el("button", {
          type: "button", text: "Insert", "aria-label": `Insert suggested answer: ${suggestion.reply.slice(0, 60)}`,
          onclick: () => insertReply(suggestion.reply),
        }),
      ),
    ),
  );
}

function insertReply(text) {
  const box = $("reply");
  box.value = box.value ? `${box.value.trimEnd()} ${text}` : text;
  box.focus();
}

// ---- agent actions ----
function sendReply() {
  const text = $("reply").value.trim();
  if (!text || !selected) return;
  const id = socket?.send("send", { contactId: selected, text });
  if (id) {
    pendingSends.set(id, { contactId: selected, text });
    $("reply").value = "";
  }
}

$("reply-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sendReply();
});
$("reply").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendReply();
  }
});
let lastTyping = 0;
$("reply").addEventListener("input", () => {
  if (selected && Date.now() - lastTyping > 3000) {
    lastTyping = Date.now();
    socket?.send("typing", { contactId: selected });
  }
});

$("transfer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!selected) return;
  const reason = $("transfer-reason").value.trim();
  socket?.send("transfer", { contactId: selected, queue: $("transfer-queue").value.trim(), ...(reason ? { reason } : {}) });
});

$("wrapup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!selected) return;
  const notes = $("wrapup-notes").value.trim();
  socket?.send("wrap_up", { contactId: selected, disposition: $("disposition").value, ...(notes ? { notes } : {}) });
  $("wrapup-notes").value = "";
});

$("summarize").addEventListener("click", () => selected && socket?.send("summarize", { contactId: selected }));
$("suggest").addEventListener("click", () => selected && socket?.send("suggest", { contactId: selected }));

// A reload in the same tab continues the session.
const saved = tokenStore.load(TOKEN_KEY);
if (saved) login(saved);
else status("Not logged in");
