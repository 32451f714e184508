// The widget's pure decisions (addons/channels/widget/model.js), run with
// `node --test`; tests/addons/channels/test_widget_model.py runs them in pytest.

import assert from "node:assert/strict";
import { test } from "node:test";

import { translate } from "../../../../addons/channels/widget/i18n.js";
import {
  chooseLanguage,
  fileProblem,
  handoffBanner,
  historyViews,
  initials,
  lastHandoff,
  messageView,
  nextHandoff,
  ratingStars,
  safeUrl,
  segments,
} from "../../../../addons/channels/widget/model.js";

// utter_ask_csat_score's buttons in domain.yml, as Rasa's socket.io channel sends them.
const CSAT = [
  { content_type: "text", title: "5 非常满意", payload: "5" },
  { content_type: "text", title: "4 满意", payload: "4" },
  { content_type: "text", title: "3 一般", payload: "3" },
  { content_type: "text", title: "2 不满意", payload: "2" },
  { content_type: "text", title: "1 非常不满意", payload: "1" },
];

test("the language: the page's choice, then <html lang>, then the browser, then Chinese", () => {
  assert.equal(chooseLanguage({ explicit: "en", page: "zh-CN", browser: ["zh"] }), "en");
  assert.equal(chooseLanguage({ explicit: "fr", page: "en-GB" }), "en");
  assert.equal(chooseLanguage({ page: "", browser: ["de-DE", "en-US"] }), "en");
  assert.equal(chooseLanguage({ browser: ["zh-TW"] }), "zh");
  assert.equal(chooseLanguage({ browser: ["ja"] }), "zh");
  assert.equal(chooseLanguage(), "zh");
});

test("the CSAT question's buttons are stars, ascending, carrying their payloads", () => {
  const stars = ratingStars(CSAT);
  assert.deepEqual(
    stars.map((star) => [star.score, star.payload, star.title]),
    [[1, "1", "1 非常不满意"], [2, "2", "2 不满意"], [3, "3", "3 一般"], [4, "4", "4 满意"], [5, "5", "5 非常满意"]],
  );
  const intents = [1, 2, 3, 4, 5].map((score) => ({ title: `${score}`, payload: `/rate{"score": ${score}}` }));
  assert.equal(ratingStars(intents).length, 5);
});

test("buttons that are not a full 1..n scale stay buttons", () => {
  const greeting = [
    { title: "查询订单", payload: "/order_status" },
    { title: "退货退款", payload: "/return_refund" },
    { title: "开发票", payload: "/invoice" },
  ];
  assert.equal(ratingStars(greeting), null);
  assert.equal(ratingStars(CSAT.slice(0, 4)), null, "1 is missing");
  assert.equal(ratingStars([{ title: "没有了", payload: "没有" }]), null);
  assert.equal(ratingStars(CSAT.slice(3)), null, "two choices are no rating");
  assert.equal(ratingStars([1, 2, 3].map((n) => ({ title: `订单 ${n}`, payload: `2411083022${n}` }))), null);
  assert.equal(ratingStars(undefined), null);
});

test("a bot message with quick replies, and with Rasa's image attachment", () => {
  const view = messageView({ text: "您好", quick_replies: CSAT.slice(0, 1) });
  assert.equal(view.sender, "bot");
  assert.deepEqual(view.buttons, [{ title: "5 非常满意", payload: "5" }]);
  assert.equal(view.stars, null);
  const image = messageView({ attachment: { type: "image", payload: { src: "https://shop.example/a.png" } } });
  assert.equal(image.image, "https://shop.example/a.png");
  assert.equal(messageView({ image: "javascript:alert(1)" }).image, null);
});

test("an agent's message is the agent's, from the widget's shape or Rasa's bot event", () => {
  const shaped = messageView({ text: "您好", sender: "agent", agent: { id: 7, name: "王芳", avatar: null } });
  assert.equal(shaped.sender, "agent");
  assert.deepEqual(shaped.agent, { id: 7, name: "王芳", avatar: null });
  const raw = messageView({ text: "hi", agent_id: 3, agent_name: "Alice Smith", agent_avatar: "https://x.example/a.png" });
  assert.equal(raw.sender, "agent");
  assert.equal(raw.agent.avatar, "https://x.example/a.png");
  const nested = messageView({ text: "hi", metadata: { sender: "agent", agent: { id: 2, name: "Bo" }, handoff: { state: "connected" } } });
  assert.deepEqual([nested.sender, nested.agent.name, nested.handoff.state], ["agent", "Bo", "connected"]);
});

test("the handoff state and the banner it shows", () => {
  const queued = messageView({ text: "…", handoff: { state: "queued", position: 3, ticket_id: 9 } });
  assert.deepEqual(queued.handoff, { state: "queued", position: 3, ticketId: 9 });
  assert.deepEqual(handoffBanner(queued.handoff), { key: "queued", values: { position: 3 } });
  assert.equal(translate("zh", "queued", { position: 3 }), "正在为您转接人工客服，您排在第 3 位，请稍候…");
  assert.equal(translate("en", "queued", { position: 1 }), "Connecting you to an agent. You are number 1 in the queue…");
  assert.deepEqual(handoffBanner({ state: "queued", position: null }), { key: "queuedUnknown" });
  assert.deepEqual(handoffBanner({ state: "connected" }, "王芳"), { key: "connected", values: { name: "王芳" } });
  assert.equal(handoffBanner({ state: "resolved" }), null);
  assert.equal(messageView({ text: "x", handoff_state: "released" }).handoff.state, "released");
  assert.equal(messageView({ text: "x", handoff: { state: "bogus" } }).handoff, null);
});

test("the bot speaking after an agent had the conversation ends the handoff", () => {
  const connected = { state: "connected", position: null, ticketId: 1 };
  assert.equal(nextHandoff(connected, messageView({ text: "我是小云，接下来由我继续为您服务" })), null);
  assert.equal(nextHandoff(connected, messageView({ text: "在的", agent_id: 1, agent_name: "王芳" })), connected);
  const queued = { state: "queued", position: 2, ticketId: 1 };
  assert.equal(nextHandoff(queued, messageView({ text: "请稍候" })), queued);
  assert.equal(nextHandoff(queued, messageView({ text: "x", handoff_state: "connected" })).state, "connected");
});

test("a replayed history keeps only the last bot message's buttons", () => {
  const history = [
    { sender: "bot", text: "您好", buttons: [{ title: "转人工", payload: "/request_human" }] },
    { sender: "customer", text: "转人工", buttons: [] },
    { sender: "bot", text: "排队中", handoff: { state: "queued", position: 2 } },
    { sender: "agent", text: "我来帮您", agent: { id: 1, name: "王芳" } },
    { sender: "bot", text: "请打分", buttons: CSAT },
    { sender: "customer", text: "4" },
    { sender: "bot", text: "谢谢！", buttons: [{ title: "没有了", payload: "没有" }] },
    { sender: "bot", text: "" },
  ];
  const views = historyViews(history);
  assert.deepEqual(views.map((view) => view.sender), ["bot", "customer", "bot", "agent", "bot", "customer", "bot"]);
  assert.deepEqual(views[0].buttons, []);
  assert.equal(views[4].stars, null);
  assert.equal(views.at(-1).buttons.length, 1);
  assert.deepEqual(
    views.filter((view) => view.sender === "customer").map((view) => view.text),
    ["转人工", "4 满意"],
    "a pressed button shows its title",
  );
  assert.equal(lastHandoff(history).state, "queued");
  assert.deepEqual(historyViews(null), []);
});

test("a customer's replayed upload shows as the file, unlinked", () => {
  const [view] = historyViews([
    {
      sender: "customer",
      text: "[图片] a.png",
      attachment: { id: 1, name: "a.png", content_type: "image/png", size: 10, url: "http://bridge.example/api/attachments/1" },
    },
  ]);
  assert.deepEqual([view.text, view.file], ["", { name: "a.png", url: null }]);
});

test("links are cut out of text, which otherwise stays text", () => {
  assert.deepEqual(segments("见 https://shop.example/o/1，谢谢 <b>"), [
    { text: "见 " },
    { text: "https://shop.example/o/1", href: "https://shop.example/o/1" },
    { text: "，谢谢 <b>" },
  ]);
  assert.deepEqual(segments("<img src=x onerror=alert(1)>"), [{ text: "<img src=x onerror=alert(1)>" }]);
});

test("only loadable URLs pass", () => {
  assert.equal(safeUrl("https://a.example/x.png"), "https://a.example/x.png");
  assert.equal(safeUrl("/media/1.png", "https://rasa.example"), "https://rasa.example/media/1.png");
  assert.equal(safeUrl("javascript:alert(1)"), null);
  assert.equal(safeUrl("data:text/html,<script>"), null);
  assert.equal(safeUrl("data:image/png;base64,iVBO"), "data:image/png;base64,iVBO");
  assert.equal(safeUrl(""), null);
});

test("initials for an avatar without a picture", () => {
  assert.equal(initials("Alice Smith"), "AS");
  assert.equal(initials("王芳"), "王");
  assert.equal(initials("bob"), "B");
  assert.equal(initials(""), "?");
});

test("files are checked before they are sent", () => {
  assert.equal(fileProblem({ size: 1000, type: "image/png" }), null);
  assert.equal(fileProblem({ size: 1000, type: "application/pdf" }), null);
  assert.equal(fileProblem({ size: 1000, type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document" }), null);
  assert.deepEqual(fileProblem({ size: 11 * 1024 * 1024, type: "image/png" }), {
    key: "fileTooLarge",
    values: { max: "10 MB", size: "11 MB" },
  });
  assert.deepEqual(fileProblem({ size: 10, type: "application/x-msdownload" }), { key: "fileTypeNotAllowed" });
  assert.deepEqual(fileProblem({ size: 0, type: "image/png" }), { key: "fileEmpty" });
  assert.deepEqual(fileProblem({ size: 2048, type: "image/png" }, { maxBytes: 1024, types: ["image/"] }).values, {
    max: "1 KB",
    size: "2 KB",
  });
});

test("every string exists in both languages", async () => {
  const { STRINGS } = await import("../../../../addons/channels/widget/i18n.js");
  assert.deepEqual(Object.keys(STRINGS.en).sort(), Object.keys(STRINGS.zh).sort());
  assert.equal(translate("en", "agentTyping", { name: "Alice" }), "Alice is typing…");
});
