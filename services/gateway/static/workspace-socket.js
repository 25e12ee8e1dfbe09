// The agent workspace socket (`/v1/agent/ws`, docs/websocket-api.md) shared by the agent and
// supervisor pages: log in with a token, reconnect with back-off, match replies to requests by id.

/** Build an element; strings become text nodes (never HTML), so customer text cannot inject markup. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function clockTime(seconds) {
  const date = seconds ? new Date(seconds * 1000) : new Date();
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// Close codes after which reconnecting with the same token cannot help.
const FINAL_CLOSES = new Map([
  [4401, "The token was not accepted (missing, invalid or expired)."],
  [4403, "This token's role may not use this page."],
]);

export class WorkspaceSocket {
  /**
   * @param {string} token bearer token (`ccctl token --tenant T --role agent --subject <agent-id>`)
   * @param {{onFrame: (frame: object) => void, onStatus: (text: string, final?: boolean) => void,
   *          onReady: (frame: object) => void}} handlers
   */
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.socket = null;
    this.ready = false;
    this.stopped = false;
    this.retryDelay = 500;
    this.nextId = 1;
  }

  get url() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/agent/ws`;
  }

  connect() {
    if (this.stopped) return;
    this.ready = false;
    this.handlers.onStatus("Connecting\u2026");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    // The token goes in the first message, never in the URL: URLs end up in logs.
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", token: this.token })));
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "ready") {
        this.ready = true;
        this.retryDelay = 500;
        this.handlers.onStatus("Connected");
        this.handlers.onReady(frame);
        return;
      }
      this.handlers.onFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      const final = FINAL_CLOSES.get(event.code);
      if (final || this.stopped) {
        this.stopped = true;
        this.handlers.onStatus(final ? `${final} ${event.reason || ""}`.trim() : "Logged out", true);
        return;
      }
      const delay = event.code === 4429 ? Math.max(this.retryDelay, 5000) : this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, 10000);
      this.handlers.onStatus(`Connection lost (${event.code}${event.reason ? ": " + event.reason : ""}); reconnecting\u2026`);
      setTimeout(() => this.connect(), delay);
    });
  }

  /** Send a message; returns its id (replies carry it), or null when not connected. */
  send(type, fields = {}) {
    if (!this.socket || !this.ready || this.socket.readyState !== WebSocket.OPEN) {
      this.handlers.onStatus("Not connected: try again in a moment.");
      return null;
    }
    const id = String(this.nextId++);
    this.socket.send(JSON.stringify({ type, id, ...fields }));
    return id;
  }

  close() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000, "logged out");
  }
}

/** Keep the token for this browser tab only (sessionStorage), so a reload stays logged in. */
export const tokenStore = {
  load: (key) => {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  },
  save: (key, token) => {
    try {
      sessionStorage.setItem(key, token);
    } catch {
      /* memory only */
    }
  },
  clear: (key) => {
    try {
      sessionStorage.removeItem(key);
    } catch {
      /* memory only */
    }
  },
};
