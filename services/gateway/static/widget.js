/*
 * Embeddable web chat widget. One tag on any page opens the chat:
 *
 *   <script src="https://<gateway>/widget.js" data-endpoint="<endpoint>" async></script>
 *
 * Optional attributes: data-title (header text until the gateway sends the endpoint's title),
 * data-open="true" (start opened). Speaks the customer protocol of docs/websocket-api.md over
 * `/v1/webchat/<endpoint>/ws` on the gateway the script came from.
 *
 * The widget lives in a shadow root so the host page's styles cannot break it (nor its styles
 * the host page). Customer and agent text is only ever set with textContent, never as HTML.
 * Messages wait in a local outbox until the gateway acks them and are re-sent with the same id
 * after a reconnect, so a dropped connection neither loses nor duplicates a message.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.dataset.endpoint) {
    if (window.console) console.error("cc-chat: the widget's <script> tag needs data-endpoint");
    return;
  }
  var endpoint = script.dataset.endpoint;
  var gateway = new URL(script.src, document.baseURI);
  var socketUrl = (gateway.protocol === "https:" ? "wss://" : "ws://") + gateway.host +
    "/v1/webchat/" + encodeURIComponent(endpoint) + "/ws";
  var storageKey = "cc-chat:" + endpoint + ":";
  var MAX_TEXT = 4096;
  var TYPING_EVERY_MS = 3000;

  // ---- small DOM helpers (text only; no HTML strings with data in them) ----
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function load(name, fallback) {
    try {
      var value = window.localStorage.getItem(storageKey + name);
      return value === null ? fallback : JSON.parse(value);
    } catch (error) {
      return fallback; // storage blocked (private mode, third-party context): work in memory
    }
  }

  function save(name, value) {
    try { window.localStorage.setItem(storageKey + name, JSON.stringify(value)); } catch (error) { /* memory only */ }
  }

  function newMessageId() {
    var bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    return "m-" + Date.now().toString(36) + "-" + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function timeOf(seconds) {
    var date = seconds ? new Date(seconds * 1000) : new Date();
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // A drawn icon rather than an emoji: machines without an emoji font would show a box.
  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "launcher-icon");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H9l-5 4v-4H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  // ---- markup ----
  var host = el("div", { "class": "cc-chat-host", "data-endpoint": endpoint });
  var root = host.attachShadow({ mode: "open" });
  root.appendChild(el("link", { rel: "stylesheet", href: new URL("/static/widget.css", gateway).href }));

  var panelId = "cc-chat-panel";
  var launcher = el("button", {
    type: "button", "class": "launcher", "aria-controls": panelId, "aria-expanded": "false",
    "aria-label": "Open chat",
  }, [chatIcon(), el("span", { "class": "badge", hidden: "", "aria-hidden": "true" })]);
  var badge = launcher.querySelector(".badge");

  var title = el("h2", { "class": "title", id: "cc-chat-title", text: script.dataset.title || "Chat with us" });
  var closeButton = el("button", { type: "button", "class": "close", "aria-label": "Close chat", text: "\u00D7" });
  var status = el("p", { "class": "status", role: "status", "aria-live": "polite", text: "Connecting\u2026" });
  var log = el("ol", { "class": "messages", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  var typingNote = el("p", { "class": "typing", hidden: "", text: "Agent is typing\u2026" });

  var input = el("textarea", {
    id: "cc-chat-input", rows: "2", maxlength: String(MAX_TEXT), placeholder: "Write a message\u2026",
    autocomplete: "off",
  });
  var sendButton = el("button", { type: "submit", "class": "send", text: "Send" });
  var composer = el("form", { "class": "composer", "aria-label": "Write a message" }, [
    el("label", { "for": "cc-chat-input", "class": "visually-hidden", text: "Message (Enter sends, Shift+Enter for a new line)" }),
    input, sendButton,
  ]);

  var callbackToggle = el("button", {
    type: "button", "class": "callback-toggle", "aria-expanded": "false", "aria-controls": "cc-chat-callback",
    text: "Call me back",
  });
  var phoneInput = el("input", {
    id: "cc-chat-phone", type: "tel", inputmode: "tel", autocomplete: "tel", required: "",
    placeholder: "+44 20 7183 8750", pattern: "\\+?[0-9 ()\\-]{8,22}",
  });
  var callbackNote = el("input", { id: "cc-chat-callback-note", type: "text", maxlength: "500", placeholder: "Best time to call (optional)" });
  var callbackForm = el("form", { id: "cc-chat-callback", "class": "callback", hidden: "", "aria-label": "Request a call back" }, [
    el("label", { "for": "cc-chat-phone", text: "Your phone number (with country code)" }), phoneInput,
    el("label", { "for": "cc-chat-callback-note", text: "Note" }), callbackNote,
    el("button", { type: "submit", text: "Request call" }),
  ]);

  var panel = el("section", { id: panelId, "class": "panel", role: "dialog", "aria-labelledby": "cc-chat-title", hidden: "" }, [
    el("header", {}, [title, closeButton]), status, log, typingNote, composer,
    el("div", { "class": "callback-area" }, [callbackToggle, callbackForm]),
  ]);
  root.appendChild(panel);
  root.appendChild(launcher);

  // ---- state ----
  var visitor = load("visitor", null);
  var outbox = load("outbox", []); // [{id, text, kind: "message"|"callback", phone?}]: not yet acked
  var socket = null;
  var welcomed = false;
  var retryDelay = 500;
  var stopped = false;
  var unread = 0;
  var lastTypingSent = 0;
  var typingTimer = null;
  var rendered = {}; // messageId / client id -> <li>, so history and live pushes never show one twice

  function setStatus(text) { status.textContent = text; }

  function addEntry(kind, text, options) {
    options = options || {};
    var key = options.key;
    if (key && rendered[key]) return rendered[key];
    var who = { customer: "You", agent: options.agentName || "Agent", bot: "Assistant" }[kind];
    var item = el("li", { "class": "message " + kind });
    if (who) item.appendChild(el("span", { "class": "who", text: who }));
    item.appendChild(el("span", { "class": "text", text: text }));
    if (kind !== "notice") item.appendChild(el("span", { "class": "meta", text: options.pending ? "sending\u2026" : timeOf(options.at) }));
    log.appendChild(item);
    if (key) rendered[key] = item;
    log.scrollTop = log.scrollHeight;
    if (panel.hidden && (kind === "agent" || kind === "bot")) {
      unread += 1;
      badge.textContent = String(unread);
      badge.hidden = false;
      launcher.setAttribute("aria-label", "Open chat, " + unread + " new");
    }
    return item;
  }

  function markSent(clientId, at) {
    var item = rendered[clientId];
    if (item) item.querySelector(".meta").textContent = timeOf(at);
  }

  function renderHistory(messages) {
    log.textContent = "";
    rendered = {};
    messages.forEach(function (message) {
      addEntry(message.from, message.text, { key: message.messageId, at: message.at, agentName: message.agentName });
    });
    // Messages written while offline are not in the history yet: keep showing them as pending.
    outbox.forEach(function (item) {
      if (item.kind === "message") addEntry("customer", item.text, { key: item.id, pending: true });
    });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN && welcomed) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function flushOutbox() {
    outbox.forEach(function (item) {
      if (item.kind === "callback") send({ type: "callback_request", id: item.id, phone: item.phone, text: item.text || undefined });
      else send({ type: "message", id: item.id, text: item.text });
    });
  }

  function dropFromOutbox(id) {
    outbox = outbox.filter(function (item) { return item.id !== id; });
    save("outbox", outbox);
  }

  // ---- socket ----
  function connect() {
    if (stopped) return;
    setStatus(welcomed ? "Reconnecting\u2026" : "Connecting\u2026");
    welcomed = false;
    socket = new WebSocket(socketUrl);
    socket.addEventListener("open", function () {
      var hello = { type: "hello" };
      if (visitor) hello.visitor = visitor;
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (error) { return; }
      handle(frame);
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      welcomed = false;
      if (event.code === 4403) {
        stopped = true;
        setStatus("This chat is not available here (" + (event.reason || "forbidden") + ").");
        return;
      }
      if (event.code === 1009) setStatus("That message was too long and was not sent.");
      else setStatus("Connection lost; reconnecting\u2026");
      var delay = event.code === 4429 ? Math.max(retryDelay, 5000) : retryDelay;
      retryDelay = Math.min(retryDelay * 2, 10000);
      window.setTimeout(connect, delay);
    });
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome":
        welcomed = true;
        retryDelay = 500;
        visitor = frame.visitor;
        save("visitor", visitor);
        if (frame.title) title.textContent = frame.title;
        setStatus("Connected. We usually answer within minutes.");
        if (!frame.contactId) renderHistory([]);
        flushOutbox();
        break;
      case "history":
        renderHistory(frame.messages || []);
        break;
      case "ack":
        if (frame.callback === "queued") {
          addEntry("notice", "Thanks, we will call you back when it is your turn; you keep your place.");
        } else if (frame.callback === "requested") {
          addEntry("notice", "Thanks, we will call you back.");
        } else {
          markSent(frame.id);
          if (frame.messageId && rendered[frame.id]) rendered[frame.messageId] = rendered[frame.id];
        }
        dropFromOutbox(frame.id);
        break;
      case "message":
        typingNote.hidden = true;
        addEntry(frame.from, frame.text, { key: frame.messageId, at: frame.at, agentName: frame.agentName });
        break;
      case "agent_joined":
        addEntry("notice", frame.text || "An agent joined the conversation");
        break;
      case "typing":
        typingNote.hidden = false;
        window.clearTimeout(typingTimer);
        typingTimer = window.setTimeout(function () { typingNote.hidden = true; }, 5000);
        break;
      case "contact_closed":
        addEntry("notice", "This conversation was closed. Write again any time.");
        break;
      case "error":
        // A refused message stays visible but leaves the outbox: re-sending it would fail again.
        if (frame.id && rendered[frame.id]) {
          rendered[frame.id].querySelector(".meta").textContent = "not sent: " + frame.message;
          rendered[frame.id].classList.add("failed");
        }
        if (frame.id) dropFromOutbox(frame.id);
        setStatus("Problem: " + frame.message);
        break;
      default:
        break; // pong, and types added later
    }
  }

  // ---- user actions ----
  function submitMessage() {
    var text = input.value.trim();
    if (!text) return;
    var item = { id: newMessageId(), kind: "message", text: text.slice(0, MAX_TEXT) };
    outbox.push(item);
    save("outbox", outbox);
    addEntry("customer", item.text, { key: item.id, pending: true });
    input.value = "";
    send({ type: "message", id: item.id, text: item.text });
  }

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    submitMessage();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitMessage();
    }
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (input.value && now - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = now;
      send({ type: "typing" });
    }
  });

  callbackToggle.addEventListener("click", function () {
    var open = callbackForm.hidden;
    callbackForm.hidden = !open;
    callbackToggle.setAttribute("aria-expanded", String(open));
    if (open) phoneInput.focus();
  });
  callbackForm.addEventListener("submit", function (event) {
    event.preventDefault();
    // E.164: the gateway wants +<digits>; people type spaces and brackets.
    var phone = phoneInput.value.replace(/[\s()\-]/g, "");
    if (!/^\+[1-9][0-9]{6,14}$/.test(phone)) {
      setStatus("Please enter the number with its country code, e.g. +44 20 7183 8750.");
      phoneInput.focus();
      return;
    }
    var item = { id: newMessageId(), kind: "callback", phone: phone, text: callbackNote.value.trim() };
    outbox.push(item);
    save("outbox", outbox);
    send({ type: "callback_request", id: item.id, phone: phone, text: item.text || undefined });
    addEntry("notice", "Call back requested to " + phone + ".");
    callbackForm.hidden = true;
    callbackToggle.setAttribute("aria-expanded", "false");
    callbackForm.reset();
  });

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.setAttribute("aria-label", open ? "Close chat" : "Open chat");
    if (open) {
      unread = 0;
      badge.hidden = true;
      input.focus();
    }
  }
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { setOpen(false); launcher.focus(); }
  });

  function start() {
    document.body.appendChild(host);
    if (script.dataset.open === "true") setOpen(true);
    connect();
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
