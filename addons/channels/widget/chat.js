// The chat itself: a shadow-DOM panel the host page's CSS cannot reach, a
// socket.io connection to Rasa's web channel, the session token kept in
// localStorage and the history fetched from the server. Customers' and
// agents' words only ever become text nodes, never HTML.

import { io } from "./vendor/socket.io.esm.min.js";
import { translate } from "./i18n.js";
import {
  DEFAULT_FILE_RULES,
  HANDOFF_ACTIVE,
  fileProblem,
  handoffBanner,
  historyViews,
  initials,
  lastHandoff,
  messageView,
  nextHandoff,
  safeUrl,
  segments,
} from "./model.js";

const ROUTE = "/webhooks/socketio";
// How long the bot's typing dots stay up when no reply comes.
const BOT_TYPING_TIMEOUT_MS = 20000;
// The message field grows with its text up to this height, then scrolls.
const MAX_INPUT_HEIGHT = 120;
const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  chat: "M4 5.5A2.5 2.5 0 0 1 6.5 3h11A2.5 2.5 0 0 1 20 5.5v8a2.5 2.5 0 0 1-2.5 2.5H10l-4.2 3.6c-.5.4-1.3.1-1.3-.6V16A2.5 2.5 0 0 1 4 13.5z",
  close: "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
  send: "M3.4 20.4 21 12 3.4 3.6 3.4 10.1 15.5 12 3.4 13.9z",
  attach:
    "M16.5 6.5v10.6a4.5 4.5 0 0 1-9 0V5.8a3 3 0 0 1 6 0v10.3a1.5 1.5 0 0 1-3 0V6.5H9v9.6a3 3 0 0 0 6 0V5.8a4.5 4.5 0 0 0-9 0v11.3a6 6 0 0 0 12 0V6.5z",
  star: "M12 2.8l2.8 5.8 6.4.9-4.6 4.5 1.1 6.3L12 17.3l-5.7 3 1.1-6.3-4.6-4.5 6.4-.9z",
  file: "M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V9h5.5z",
  bot: "M12 2a1.5 1.5 0 0 1 .8 2.8V6H17a3 3 0 0 1 3 3v8a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3V9a3 3 0 0 1 3-3h4.2V4.8A1.5 1.5 0 0 1 12 2zM9 11.2a1.4 1.4 0 1 0 0 2.8 1.4 1.4 0 0 0 0-2.8zm6 0a1.4 1.4 0 1 0 0 2.8 1.4 1.4 0 0 0 0-2.8z",
};

/** An element with attributes and children; strings become text nodes. */
function h(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of [].concat(children)) {
    if (child == null || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

function icon(name, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: the session lasts as long as the page
  }
}

class Chat {
  constructor(options) {
    this.server = options.server.replace(/\/+$/, "");
    this.base = options.base;
    this.lang = options.lang;
    this.customer = options.customer || null;
    this.fileRules = { ...DEFAULT_FILE_RULES, ...(options.files || {}) };
    this.socketPath = options.socketPath || "/socket.io";
    // socket.io transports in the order tried (init option `transports`).
    this.transports = options.transports || ["websocket", "polling"];
    this.storageKey = `cloudpick-chat:${this.server}`;
    this.token = storage()?.getItem(this.storageKey) || null;
    this.socket = null;
    this.handoff = null;
    this.agentName = "";
    this.unread = 0;
    this.replaying = null; // live messages that arrive while the history loads
    this.botTypingTimer = null;
    this.build(options.container || document.body);
    if (this.token || options.open) this.connect();
    if (options.open) this.open();
  }

  t(key, values) {
    return translate(this.lang, key, values);
  }

  // --- The page ---------------------------------------------------------

  build(container) {
    this.host = h("div", { class: "cloudpick-chat", "data-testid": "cloudpick-chat" });
    const root = this.host.attachShadow({ mode: "open" });
    this.root = root;
    const stylesheet = h("link", { rel: "stylesheet", href: new URL("widget.css", this.base).href });
    root.append(stylesheet);

    this.launcher = h(
      "button",
      {
        class: "launcher",
        type: "button",
        "aria-label": this.t("open"),
        "aria-expanded": "false",
        "aria-controls": "cp-panel",
        "data-testid": "launcher",
        onclick: () => this.open(),
      },
      [icon("chat"), (this.badge = h("span", { class: "badge", "data-testid": "unread", hidden: true }))],
    );
    this.status = h("p", { class: "status", "data-testid": "status" }, this.t("connecting"));
    this.banner = h("div", { class: "banner", role: "status", "data-testid": "banner", hidden: true });
    this.typing = h("div", { class: "typing", "data-testid": "typing", hidden: true }, [
      h("span", { class: "dots", "aria-hidden": "true" }, [h("i"), h("i"), h("i")]),
      (this.typingLabel = h("span", { class: "typing-label" })),
    ]);
    this.messages = h("div", { class: "messages" });
    this.log = h(
      "div",
      { class: "log", role: "log", "aria-live": "polite", "aria-label": this.t("log"), tabindex: "0", "data-testid": "log" },
      [this.messages, this.typing],
    );
    this.notice = h("div", { class: "notice", role: "alert", "data-testid": "notice", hidden: true });
    this.input = h("textarea", {
      rows: "1",
      placeholder: this.t("input"),
      "aria-label": this.t("inputLabel"),
      "data-testid": "input",
      enterkeyhint: "send",
      oninput: () => this.fitInput(),
      onkeydown: (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
          event.preventDefault();
          this.submit();
        }
      },
    });
    this.file = h("input", {
      type: "file",
      class: "file",
      accept: "image/jpeg,image/png,image/gif,image/webp,.pdf,.txt,.doc,.docx,.xls,.xlsx,.ppt,.pptx",
      tabindex: "-1",
      "aria-hidden": "true",
      "data-testid": "file",
      onchange: () => {
        const [file] = this.file.files;
        this.file.value = "";
        if (file) this.upload(file);
      },
    });
    this.sendButton = h("button", { type: "submit", class: "send", "aria-label": this.t("send"), "data-testid": "send" }, [icon("send")]);
    this.panel = h(
      "section",
      { class: "panel", id: "cp-panel", role: "dialog", "aria-label": this.t("title"), "data-testid": "panel", hidden: true },
      [
        h("header", { class: "header" }, [
          h("div", { class: "avatar avatar-bot", "aria-hidden": "true" }, [icon("bot")]),
          h("div", { class: "titles" }, [h("h2", {}, this.t("title")), this.status]),
          h("button", { type: "button", class: "close", "aria-label": this.t("close"), "data-testid": "close", onclick: () => this.close() }, [icon("close")]),
        ]),
        this.banner,
        this.log,
        this.notice,
        h("form", { class: "composer", "data-testid": "composer", onsubmit: (event) => (event.preventDefault(), this.submit()) }, [
          h("button", { type: "button", class: "attach", "aria-label": this.t("attach"), "data-testid": "attach", onclick: () => this.file.click() }, [icon("attach")]),
          this.file,
          this.input,
          this.sendButton,
        ]),
      ],
    );
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    // Shown once styled, so the page never flashes a bare button.
    const shell = h("div", { class: "root", lang: this.lang === "zh" ? "zh-CN" : "en", hidden: true }, [this.launcher, this.panel]);
    const reveal = () => (shell.hidden = false);
    stylesheet.addEventListener("load", reveal);
    stylesheet.addEventListener("error", reveal);
    root.append(shell);
    container.append(this.host);
    this.setConnection("connecting");
  }

  open() {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    this.host.classList.add("is-open");
    this.root.querySelector(".root").classList.add("is-open");
    this.unread = 0;
    this.showUnread();
    if (!this.socket) this.connect();
    this.scrollToEnd();
    this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.root.querySelector(".root").classList.remove("is-open");
    this.launcher.focus();
  }

  destroy() {
    this.socket?.close();
    clearTimeout(this.botTypingTimer);
    this.host.remove();
  }

  fitInput() {
    this.input.style.height = "auto";
    const height = this.input.scrollHeight;
    this.input.style.height = `${Math.min(height, MAX_INPUT_HEIGHT)}px`;
    this.input.classList.toggle("scrolls", height > MAX_INPUT_HEIGHT);
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  showNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }

  showUnread() {
    this.badge.hidden = !this.unread;
    this.badge.textContent = this.unread > 9 ? "9+" : String(this.unread);
    this.launcher.setAttribute(
      "aria-label",
      this.unread ? `${this.t("open")} (${this.t("unread", { count: this.unread })})` : this.t("open"),
    );
  }

  /** "connecting" (first attempt), "online" or "offline" (lost, retrying). */
  setConnection(connection) {
    this.connection = connection;
    this.online = connection === "online";
    this.sendButton.disabled = !this.online;
    this.root.querySelector(".root").dataset.connection = connection;
    this.status.textContent = this.t(connection === "offline" ? "statusOffline" : connection);
    this.showBanner();
  }

  showBanner() {
    const wanted =
      this.connection === "offline" ? { key: "offline" } : handoffBanner(this.handoff, this.agentName);
    this.banner.textContent = wanted
      ? this.t(wanted.key, { ...wanted.values, name: wanted.values?.name || this.t("agentFallbackName") })
      : "";
    this.banner.hidden = !wanted;
    this.banner.dataset.state = wanted?.key === "offline" ? "offline" : this.handoff?.state || "";
  }

  showTyping(label) {
    this.typingLabel.textContent = label || "";
    this.typing.hidden = !label;
    if (label) this.scrollToEnd();
  }

  waitForBot() {
    if (HANDOFF_ACTIVE.has(this.handoff?.state)) return; // the bot is paused
    this.showTyping(this.t("botTyping"));
    clearTimeout(this.botTypingTimer);
    this.botTypingTimer = setTimeout(() => this.showTyping(""), BOT_TYPING_TIMEOUT_MS);
  }

  // --- Messages on screen -------------------------------------------------

  avatarOf(view) {
    if (view.sender === "agent") {
      const letters = h("span", { class: "initials" }, initials(view.agent?.name || this.t("agentFallbackName")));
      const avatar = h("div", { class: "avatar avatar-agent", "aria-hidden": "true" }, [letters]);
      if (view.agent?.avatar) {
        const image = h("img", { src: view.agent.avatar, alt: "" });
        image.addEventListener("error", () => image.remove());
        avatar.append(image);
      }
      return avatar;
    }
    return h("div", { class: "avatar avatar-bot", "aria-hidden": "true" }, [icon("bot")]);
  }

  textOf(text) {
    return segments(text).map((part) =>
      part.href ? h("a", { href: part.href, target: "_blank", rel: "noopener noreferrer" }, part.text) : part.text,
    );
  }

  render(view) {
    const last = this.messages.lastElementChild;
    const speaker = view.sender === "agent" ? `agent:${view.agent?.id ?? view.agent?.name}` : view.sender;
    const continued = last && last.dataset.speaker === speaker;
    const body = h("div", { class: "body" });
    if (view.sender === "agent" && !continued) {
      body.append(
        h("div", { class: "who" }, [
          h("span", { class: "name", "data-testid": "agent-name" }, view.agent?.name || this.t("agentFallbackName")),
          h("span", { class: "tag" }, this.t("agentBadge")),
        ]),
      );
    }
    if (view.text) body.append(h("div", { class: "bubble", "data-testid": "message-text" }, this.textOf(view.text)));
    if (view.image) {
      const link = h("a", { class: "image", href: view.image, target: "_blank", rel: "noopener noreferrer" }, [
        h("img", {
          src: view.image,
          alt: view.text || this.t("image"),
          loading: "lazy",
          "data-testid": "message-image",
          onload: () => this.scrollToEnd(),
          onerror: () => link.replaceWith(h("div", { class: "file-chip" }, [icon("file", "icon file-icon"), this.t("imageUnavailable")])),
        }),
      ]);
      body.append(link);
    }
    if (view.file) {
      const label = [icon("file", "icon file-icon"), h("span", {}, view.file.name || "file")];
      body.append(
        view.file.url
          ? h("a", { class: "file-chip", href: view.file.url, target: "_blank", rel: "noopener noreferrer", "data-testid": "message-file" }, label)
          : h("div", { class: "file-chip", "data-testid": "message-file" }, label),
      );
    }
    if (view.stars) body.append(this.starsOf(view.stars));
    else if (view.buttons.length) body.append(this.repliesOf(view.buttons));
    const row = h(
      "div",
      {
        class: `message message-${view.sender}${continued ? " continued" : ""}`,
        "data-testid": "message",
        "data-sender": view.sender,
        "data-speaker": speaker,
      },
      view.sender === "customer" ? [body] : [this.avatarOf(view), body],
    );
    this.messages.append(row);
    this.scrollToEnd();
    return row;
  }

  repliesOf(buttons) {
    return h(
      "div",
      { class: "replies", role: "group", "data-testid": "quick-replies" },
      buttons.map((button) =>
        h("button", { type: "button", class: "reply", "data-testid": "quick-reply", onclick: () => this.choose(button) }, button.title),
      ),
    );
  }

  starsOf(stars) {
    const group = h("div", { class: "stars", role: "group", "aria-label": this.t("ratingGroup"), "data-testid": "rating" });
    // Lights the stars up to `score`; once rated, the chosen score stays lit.
    const light = (score) => {
      const shown = Number(group.dataset.score) || score;
      group.querySelectorAll("button").forEach((star) => star.classList.toggle("lit", Number(star.dataset.score) <= shown));
    };
    for (const star of stars) {
      group.append(
        h(
          "button",
          {
            type: "button",
            class: "star",
            "data-score": String(star.score),
            "data-testid": "star",
            "aria-label": `${this.t("ratingStar", { score: star.score })}: ${star.title}`,
            title: star.title,
            onmouseenter: () => light(star.score),
            onfocus: () => light(star.score),
            onclick: () => {
              if (group.dataset.score) return;
              group.dataset.score = String(star.score);
              group.setAttribute("aria-label", this.t("rated", { score: star.score }));
              light(star.score);
              this.choose(star);
            },
          },
          [icon("star", "icon star-icon")],
        ),
      );
    }
    group.addEventListener("mouseleave", () => light(0));
    group.addEventListener("focusout", () => light(0));
    return group;
  }

  /** Buttons are answered once: after any reply the old ones go, a rating stays shown. */
  retireChoices() {
    for (const replies of this.messages.querySelectorAll(".replies")) replies.remove();
    for (const stars of this.messages.querySelectorAll(".stars")) {
      stars.classList.add("rated");
      stars.querySelectorAll("button").forEach((star) => (star.disabled = true));
    }
  }

  show(view) {
    this.setHandoff(nextHandoff(this.handoff, view));
    if (view.sender === "agent" && view.agent?.name) {
      this.agentName = view.agent.name;
      this.showBanner();
    }
    if (!view.text && !view.image && !view.file && !view.buttons.length) return null;
    return this.render(view);
  }

  setHandoff(handoff) {
    this.handoff = handoff;
    if (!HANDOFF_ACTIVE.has(handoff?.state)) this.agentName = "";
    this.showBanner();
  }

  // --- The server -----------------------------------------------------------

  connect() {
    // A websocket stays with the Rasa process that accepted it, so several
    // processes can serve the chat; polling, for networks that block
    // websockets, needs sticky sessions in front of them (docs/deployment.md).
    const socket = io(this.server, {
      path: this.socketPath,
      transports: this.transports,
      tryAllTransports: true,
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.setConnection("online");
      socket.emit("session_request", { session_id: this.token || undefined, customData: this.customData() });
    });
    socket.on("disconnect", () => this.setConnection("offline"));
    socket.on("connect_error", () => this.setConnection("offline"));
    socket.on("session_confirm", (data) => this.confirmSession(data));
    socket.on("bot_uttered", (message) => this.receive(message));
    socket.on("typing", (event) => this.receiveTyping(event));
    socket.on("message_rejected", (event) => {
      this.showTyping("");
      this.showNotice(this.t("rejected", { reason: event?.error?.message || "" }));
    });
  }

  customData() {
    return { language: this.lang, ...(this.customer ? { customer: this.customer } : {}) };
  }

  async confirmSession(data) {
    const token = typeof data === "string" ? data : data?.session_id;
    if (!token) return;
    const resumed = token === this.token;
    this.token = token;
    storage()?.setItem(this.storageKey, token);
    if (!resumed) {
      this.messages.replaceChildren();
      this.handoff = null;
      this.showBanner();
      return;
    }
    await this.replayHistory();
  }

  /** Shows the conversation as the server has it (after a reload or a
   * reconnect), then what arrived live meanwhile. */
  async replayHistory() {
    this.replaying = [];
    let messages = null;
    try {
      const response = await fetch(`${this.server}${ROUTE}/history`, {
        headers: { Authorization: `Bearer ${this.token}` },
      });
      if (response.ok) messages = (await response.json()).messages;
    } catch {
      messages = null; // offline again: the live messages still show
    }
    const live = this.replaying;
    this.replaying = null;
    if (messages) {
      this.messages.replaceChildren();
      for (const view of historyViews(messages)) this.render(view);
      this.setHandoff(lastHandoff(messages));
      const agent = [...messages].reverse().find((message) => message?.sender === "agent");
      if (HANDOFF_ACTIVE.has(this.handoff?.state) && agent?.agent?.name) this.agentName = agent.agent.name;
      this.showBanner();
    }
    const shown = new Set(
      [...this.messages.querySelectorAll('[data-testid="message-text"]')].slice(-live.length || 0).map((node) => node.textContent),
    );
    for (const message of live) {
      if (!messages || !shown.has(message.text)) this.receive(message);
    }
  }

  receive(message) {
    if (!message || typeof message !== "object") return;
    if (this.replaying) {
      this.replaying.push(message);
      return;
    }
    const view = messageView(message);
    clearTimeout(this.botTypingTimer);
    this.showTyping("");
    if (view.buttons.length) this.retireChoices();
    const row = this.show(view);
    if (row && this.panel.hidden) {
      this.unread++;
      this.showUnread();
    }
  }

  receiveTyping(event) {
    if (!event || event.who !== "agent") return;
    this.showTyping(event.typing ? this.t("agentTyping", { name: event.name || this.agentName || this.t("agentFallbackName") }) : "");
  }

  // --- What the customer does ------------------------------------------------

  submit() {
    const text = this.input.value.trim();
    if (!text || !this.online) return;
    this.input.value = "";
    this.fitInput();
    this.say(text, text);
  }

  choose(button) {
    this.say(button.payload, button.title);
  }

  say(message, shown) {
    if (!this.online) return;
    this.showNotice("");
    this.retireChoices();
    this.render({ sender: "customer", text: shown, buttons: [], stars: null, image: null, file: null });
    this.socket.emit("user_uttered", { message, session_id: this.token, customData: this.customData() });
    this.waitForBot();
  }

  async upload(file) {
    const problem = fileProblem(file, this.fileRules);
    if (problem) {
      this.showNotice(this.t(problem.key, problem.values));
      return;
    }
    this.showNotice("");
    const preview = file.type.startsWith("image/") ? safeUrl(URL.createObjectURL(file)) : null;
    const row = this.render({
      sender: "customer",
      text: "",
      buttons: [],
      stars: null,
      image: preview,
      file: preview ? null : { name: file.name, url: null },
    });
    row.classList.add("pending");
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      const response = await fetch(`${this.server}${ROUTE}/attachments`, {
        method: "POST",
        headers: { Authorization: `Bearer ${this.token}` },
        body: form,
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body?.error?.message || `HTTP ${response.status}`);
      }
      row.classList.remove("pending");
      this.waitForBot();
    } catch (error) {
      row.remove();
      this.showNotice(this.t("uploadFailed", { reason: error.message }));
    }
  }
}

export function start(options) {
  return new Chat(options);
}
