// What the widget decides without a browser: which language to speak, what
// a server message looks like on screen, when buttons are a rating, whether
// a file may be sent. Pure functions, tested with `node --test`.

import { LANGUAGES } from "./i18n.js";

/** Handoff states the server reports; while one of these holds, the bot is
 * paused, so the widget does not wait for a bot reply. */
export const HANDOFF_ACTIVE = new Set(["queued", "connecting", "connected"]);
export const HANDOFF_STATES = new Set([...HANDOFF_ACTIVE, "released", "resolved"]);

// A rating has this many choices at least and at most (1–5 stars, 1–10).
const RATING_MIN_CHOICES = 3;
const RATING_MAX_CHOICES = 10;

/** Files a customer may send unless the site says otherwise: what the
 * handoff bridge keeps (it checks again; this spares a useless upload). A
 * type ending in "." or "/" is a prefix. */
export const DEFAULT_FILE_RULES = {
  maxBytes: 10 * 1024 * 1024,
  types: [
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.",
  ],
};

/** The first supported language among the page's explicit choice, the
 * document's `lang` and the browser's languages; Chinese when none. */
export function chooseLanguage({ explicit, page, browser = [] } = {}) {
  for (const tag of [explicit, page, ...browser]) {
    const primary = String(tag || "")
      .toLowerCase()
      .split(/[-_]/)[0];
    if (LANGUAGES.includes(primary)) return primary;
  }
  return LANGUAGES[0];
}

/** The URL when it is one a page may load as an image or link: http(s),
 * blob or an inline raster image. Anything else (javascript:, data:text/html)
 * is dropped. */
export function safeUrl(value, base) {
  if (typeof value !== "string" || !value.trim()) return null;
  let url;
  try {
    url = new URL(value.trim(), base);
  } catch {
    return null;
  }
  if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "blob:") {
    return url.href;
  }
  if (url.protocol === "data:" && /^data:image\/(png|jpe?g|gif|webp);/i.test(url.href)) {
    return url.href;
  }
  return null;
}

/** Up to two letters standing for a person: "Alice Smith" -> "AS", "王芳" -> "王". */
export function initials(name) {
  const words = String(name || "")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  if (!words.length) return "?";
  const first = Array.from(words[0])[0];
  if (/[\u3000-\u9fff\uac00-\ud7af]/.test(first)) return first;
  const last = words.length > 1 ? Array.from(words[words.length - 1])[0] : "";
  return (first + last).toUpperCase();
}

/** Text cut into plain runs and links, so links can be made clickable
 * without ever treating the text as HTML. */
export function segments(text) {
  const parts = [];
  const pattern = /https?:\/\/[^\s<>"'，。！？、）)]+/g;
  let at = 0;
  for (const match of String(text || "").matchAll(pattern)) {
    if (match.index > at) parts.push({ text: text.slice(at, match.index) });
    parts.push({ text: match[0], href: match[0] });
    at = match.index + match[0].length;
  }
  if (at < String(text || "").length) parts.push({ text: String(text).slice(at) });
  return parts;
}

/** The score a rating button stands for: its payload is the number itself
 * ("4") or an intent carrying it ('/rate{"score": 4}'). */
export function ratingScore(button) {
  const payload = String(button?.payload ?? "").trim();
  const plain = /^(\d{1,2})$/.exec(payload);
  const carried = /^\/\w+\{\s*"[\w-]*(?:score|rating)[\w-]*"\s*:\s*"?(\d{1,2})"?\s*\}$/i.exec(
    payload,
  );
  const score = Number((plain || carried || [])[1]);
  return Number.isInteger(score) && score > 0 ? score : null;
}

/** The buttons as stars (ascending), when they are exactly the scores
 * 1..n of a rating; otherwise null and they stay buttons. */
export function ratingStars(buttons) {
  if (!Array.isArray(buttons)) return null;
  const n = buttons.length;
  if (n < RATING_MIN_CHOICES || n > RATING_MAX_CHOICES) return null;
  const stars = buttons.map((button) => ({ ...button, score: ratingScore(button) }));
  const scores = new Set(stars.map((star) => star.score));
  for (let score = 1; score <= n; score++) if (!scores.has(score)) return null;
  return stars.sort((a, b) => a.score - b.score);
}

function normalisedButtons(message) {
  const raw = message.quick_replies || message.buttons || [];
  return (Array.isArray(raw) ? raw : [])
    .filter((button) => button && (button.title || button.payload))
    .map((button) => ({
      title: String(button.title ?? button.payload),
      payload: String(button.payload ?? button.title),
    }));
}

function agentOf(message) {
  const agent = message.agent || {};
  const name = agent.name || message.agent_name;
  const id = agent.id ?? message.agent_id;
  if (!name && id == null && message.sender !== "agent") return null;
  return {
    id: id ?? null,
    name: name ? String(name) : "",
    avatar: safeUrl(agent.avatar || message.agent_avatar || ""),
  };
}

function imageOf(message) {
  const attachment = message.attachment;
  if (attachment && attachment.type === "image") {
    return safeUrl(attachment.payload?.src || attachment.payload?.url || "");
  }
  return safeUrl(message.image || "");
}

/** The handoff state a message reports, from `handoff: {state, position}`
 * or a bare `handoff_state`; null when it reports none. */
export function handoffOf(message) {
  const raw = message?.handoff || (message?.handoff_state ? { state: message.handoff_state } : null);
  if (!raw || !HANDOFF_STATES.has(raw.state)) return null;
  const position = Number(raw.position);
  return {
    state: raw.state,
    position: Number.isInteger(position) && position > 0 ? position : null,
    ticketId: raw.ticket_id ?? null,
  };
}

/** What one message looks like on screen. `sender` is who said it:
 * "bot", "agent" or "customer"; a live `bot_uttered` payload is the bot's
 * unless it names an agent. */
export function messageView(received, { sender } = {}) {
  // Our fields may also come under `metadata`, where rasa-webchat (which
  // drops a message with keys it does not know) ignores them.
  const extra = received.metadata && typeof received.metadata === "object" ? received.metadata : {};
  const message = { ...extra, ...received };
  const agent = sender === "customer" ? null : agentOf(message);
  const who = sender === "customer" ? "customer" : agent ? "agent" : "bot";
  const buttons = who === "customer" ? [] : normalisedButtons(message);
  // A file: Rasa's `{type, payload: {name, url}}`, or the bridge's `{name,
  // content_type, ...}` on a customer's replayed upload (its URL is the
  // agents', so it is not linked).
  const attachment = message.attachment && message.attachment.type !== "image" ? message.attachment : null;
  return {
    sender: who,
    text: typeof message.text === "string" ? message.text : "",
    buttons,
    stars: ratingStars(buttons),
    image: imageOf(message),
    file: attachment
      ? { name: String(attachment.payload?.name || attachment.name || ""), url: safeUrl(attachment.payload?.url || "") }
      : null,
    agent,
    handoff: handoffOf(message),
  };
}

/** The views of a replayed history, oldest first. A customer's button
 * press shows the button's title, as it did live, not its payload; only the
 * last message keeps its buttons, the others were answered or passed. */
export function historyViews(messages) {
  let offered = [];
  const views = [];
  for (const message of Array.isArray(messages) ? messages : []) {
    if (!message || typeof message !== "object") continue;
    const view = messageView(message, { sender: message.sender });
    if (view.sender === "customer") {
      const pressed = offered.find((button) => button.payload === view.text);
      if (pressed) view.text = pressed.title;
      // A sent file shows as itself, not as the words the bot was told ("[图片] a.png").
      if (view.file) view.text = "";
    } else if (view.buttons.length) {
      offered = view.buttons;
    }
    if (view.text || view.image || view.file || view.buttons.length) views.push(view);
  }
  const last = views.length - 1;
  return views.map((view, index) => (index === last ? view : { ...view, buttons: [], stars: null }));
}

/** The handoff state after `view` is shown: the one it reports, else
 * none once the bot speaks while an agent had the conversation (the bot is
 * paused during a handoff, so it speaking means it is back), else as it was. */
export function nextHandoff(current, view) {
  if (view.handoff) return view.handoff;
  if (view.sender === "bot" && current?.state === "connected") return null;
  return current;
}

/** The handoff state at the end of a history, so a reload shows the banner. */
export function lastHandoff(messages) {
  let latest = null;
  for (const message of Array.isArray(messages) ? messages : []) {
    if (message && typeof message === "object") {
      latest = nextHandoff(latest, messageView(message, { sender: message.sender }));
    }
  }
  return latest;
}

/** A size in words people read: 512 B, 1.5 MB. */
export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}

/** Why a file may not be sent, as an i18n key with its values; null when it may. */
export function fileProblem(file, rules = DEFAULT_FILE_RULES) {
  if (!file || !file.size) return { key: "fileEmpty" };
  if (file.size > rules.maxBytes) {
    return { key: "fileTooLarge", values: { max: humanSize(rules.maxBytes), size: humanSize(file.size) } };
  }
  const type = String(file.type || "").toLowerCase();
  if (!rules.types.some((allowed) => (allowed.endsWith("/") || allowed.endsWith(".") ? type.startsWith(allowed) : type === allowed))) {
    return { key: "fileTypeNotAllowed" };
  }
  return null;
}

/** The banner a handoff state shows, as an i18n key with its values; null for none. */
export function handoffBanner(handoff, agentName) {
  if (!handoff || !HANDOFF_ACTIVE.has(handoff.state)) return null;
  if (handoff.state === "connected") {
    return agentName ? { key: "connected", values: { name: agentName } } : { key: "handoffConnecting" };
  }
  if (handoff.state === "connecting") return { key: "handoffConnecting" };
  return handoff.position
    ? { key: "queued", values: { position: handoff.position } }
    : { key: "queuedUnknown" };
}
