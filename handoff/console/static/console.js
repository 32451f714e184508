/*
 * The agent console: queue, offers, conversations, replies and agent assist.
 *
 * Vanilla JS under a strict CSP (no inline code or styles). Everything that
 * comes from the server or a customer reaches the page through textContent
 * or createTextNode, never as HTML.
 */
(function () {
  "use strict";

  // --- UI strings ------------------------------------------------------------

  var MESSAGES = {
    zh: {
      "app.title": "客服工作台",
      "login.title": "登录客服工作台",
      "login.subtitle": "使用您的客服账号登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.submit": "登录",
      "login.busy": "正在登录…",
      "login.failed": "用户名或密码错误。",
      "login.required": "请输入用户名和密码。",
      "logout": "退出登录",
      "logout.title": "退出登录",
      "logout.confirm": "您还有 {n} 个进行中的会话，退出后它们会回到排队队列。确定退出吗？",
      "lang.label": "语言",
      "presence.label": "状态",
      "presence.online": "在线",
      "presence.away": "离开",
      "presence.offline": "离线",
      "conn.connecting": "正在连接…",
      "conn.online": "已连接",
      "conn.reconnecting": "连接已断开，{s} 秒后重连…",
      "conn.retrying": "正在重新连接…",
      "role.analyst": "分析师（只读）",
      "queue.title": "排队中",
      "queue.empty": "暂无排队的客户",
      "queue.claim": "接入",
      "queue.offered_me": "已推送给您",
      "queue.offered_other": "已推送给其他客服",
      "mine.title": "我的会话",
      "mine.empty": "暂无进行中的会话",
      "mine.live": "对话中",
      "mine.with_bot": "机器人接待中",
      "mine.by_mail": "邮件往来",
      "offer.title": "新会话请求",
      "offer.accept": "接受",
      "offer.since": "{t} 前推送",
      "wait": "等待 {t}",
      "conv.placeholder.title": "选择一个会话",
      "conv.placeholder.body": "从左侧排队列表接入客户，或打开“我的会话”中的对话。",
      "conv.loading": "正在加载会话…",
      "conv.transfer": "转接",
      "conv.release": "交还机器人",
      "conv.resolve": "标记解决",
      "conv.with_bot": "客户当前由机器人接待，不能发送消息。",
      "conv.not_mine": "该会话由 {name} 处理，您只能查看。",
      "conv.unassigned": "该会话尚未被接入。",
      "conv.done": "工单状态：{status}，对话已交还机器人。",
      "conv.abandoned": "客户已离开对话（{t}）。",
      "conv.assistant_unreachable": "智能助手暂时连接不上：以下是转人工时工单保存的对话记录，可能不是最新的。助手恢复后会自动刷新。",
      "conv.live": "客户在线",
      "conv.customer": "客户：{name}",
      "transcript.empty": "暂无对话记录",
      "transcript.saved": "转人工时保存",
      "transcript.pause": "对话已转接人工客服",
      "transcript.resume": "对话已交还机器人",
      "transcript.intent": "意图",
      "transcript.open_image": "查看原图",
      "profile.title": "个人资料",
      "profile.body": "网页聊天的客户会在您的消息旁看到您的名字和头像。",
      "profile.display_name": "显示名称",
      "profile.avatar_url": "头像图片地址（https://…，可留空）",
      "profile.save": "保存",
      "toast.profile_saved": "个人资料已保存",
      "reply.failed": "未送达：{reason}",
      "sender.customer": "客户",
      "sender.bot": "机器人",
      "sender.agent": "客服",
      "reply.placeholder": "输入回复…（Enter 发送，Shift+Enter 换行）",
      "reply.send": "发送",
      "reply.sending": "发送中…",
      "reply.hint": "Enter 发送 · Shift+Enter 换行",
      "reply.by_mail": "客户不在对话中，回复将通过邮件发送 · Enter 发送",
      "assist.title": "推荐回复",
      "assist.refresh": "刷新",
      "assist.empty": "暂无推荐答案",
      "assist.unreachable": "智能助手暂时连接不上，暂无推荐答案。",
      "assist.loading": "正在查找答案…",
      "assist.failed": "暂时无法获取推荐：{e}",
      "assist.for": "针对：“{text}”",
      "assist.send": "发送",
      "assist.insert": "插入",
      "assist.best": "最佳匹配",
      "tab.info": "详情",
      "tab.notes": "内部备注",
      "tab.history": "处理记录",
      "tab.past": "客户",
      "info.slots": "对话信息",
      "info.facts": "工单信息",
      "slots.empty": "助手尚未收集到信息",
      "notes.placeholder": "添加内部备注（客户看不到）",
      "notes.add": "添加备注",
      "notes.empty": "暂无备注",
      "history.empty": "暂无记录",
      "past.empty": "该客户没有其他工单",
      "customer.unnamed": "未留姓名的客户",
      "customer.verified": "已验证身份",
      "customer.unverified": "身份未验证",
      "customer.unverified_note": "渠道未验证该客户的身份，这里只列出本会话的工单。",
      "customer.channels": "渠道：{channels}",
      "customer.tickets": "各渠道的工单",
      "customer.created": "创建于 {t}",
      "customer.resolved": "解决于 {t}",
      "customer.read_only": "其他客服的工单，仅供查看",
      "identity.user": "网站账号",
      "identity.phone": "手机",
      "identity.email": "邮箱",
      "transfer.title": "转接会话",
      "transfer.to_agent": "转给客服",
      "transfer.to_group": "转到技能组",
      "transfer.agent": "客服",
      "transfer.group": "技能组",
      "transfer.comment": "备注（可选）",
      "transfer.submit": "转接",
      "transfer.none": "没有可转接的其他客服",
      "transfer.load": "{a}/{c} 进行中",
      "resolve.title": "标记为已解决",
      "resolve.body": "客户将回到机器人对话，并可能收到满意度调查。",
      "resolve.comment": "解决说明（可选）",
      "resolve.confirm": "确认解决",
      "release.title": "交还机器人",
      "release.body": "客户将回到机器人对话，工单仍保留在您名下以便后续跟进。",
      "release.confirm": "交还",
      "cancel": "取消",
      "toast.claimed": "已接入：{title}",
      "toast.note_added": "备注已添加",
      "toast.transferred": "会话已转接",
      "toast.resolved": "工单已解决",
      "toast.released": "已交还机器人",
      "toast.transferred_in": "“{title}”已转接给您",
      "toast.requeued": "“{title}”已回到排队队列",
      "toast.offer": "新会话请求：{title}",
      "toast.abandoned": "客户已离开：“{title}”",
      "error.network": "网络错误，请检查连接后重试。",
      "error.already_claimed": "{holder} 已接入该会话。",
      "error.already_claimed_generic": "该会话已被其他客服接入。",
      "error.rasa_unavailable": "助手服务暂时不可用，消息未送达，请重试。",
      "error.not_authenticated": "登录已失效，请重新登录。",
      "error.forbidden": "您没有权限执行此操作。",
      "error.not_found": "记录不存在。",
      "error.invalid_transition": "工单状态已变化，无法执行此操作。",
      "error.internal_error": "服务器出错了，请稍后再试。",
      "status.pending": "待处理",
      "status.in_progress": "处理中",
      "status.resolved": "已解决",
      "status.closed": "已关闭",
      "status.reopened": "已重开",
      "priority.normal": "普通",
      "priority.urgent": "紧急",
      "category.pre_sales": "售前咨询",
      "category.order_logistics": "订单物流",
      "category.after_sales": "售后服务",
      "category.technical": "技术支持",
      "category.complaint": "投诉",
      "category.general": "综合咨询",
      "language.zh": "中文",
      "language.en": "英文",
      "reason.asked": "客户要求人工",
      "reason.fallback": "机器人未能理解",
      "reason.urgent": "紧急问题",
      "reason.form_failure": "表单填写失败",
      "reason.offer_expired": "推送超时未接受",
      "reason.agent_disconnected": "客服连接断开",
      "field.id": "工单号",
      "field.status": "状态",
      "field.priority": "优先级",
      "field.category": "类别",
      "field.skill_group": "技能组",
      "field.language": "语言",
      "field.channel": "渠道",
      "field.customer": "客户",
      "field.contact": "联系方式",
      "field.conversation_id": "会话 ID",
      "field.order_id": "订单号",
      "field.handoff_reason": "转人工原因",
      "field.source": "来源",
      "field.assignee": "处理人",
      "field.description": "问题描述",
      "field.created_at": "创建时间",
      "field.queued_at": "排队时间",
      "field.assigned_at": "接入时间",
      "field.first_response_at": "首次回复",
      "field.resolved_at": "解决时间",
      "field.abandoned_at": "客户离开",
      "field.csat": "满意度",
      "slot.order_id": "订单号",
      "slot.category": "问题类别",
      "slot.priority": "优先级",
      "slot.language": "语言",
      "slot.handoff_reason": "转人工原因",
      "slot.product": "商品",
      "slot.ticket_id": "工单号",
      "slot.csat_score": "满意度评分",
      "slot.csat_comment": "满意度评价",
      "slot.csat_retries": "满意度追问次数",
      "slot.order_problem": "订单问题",
      "slot.refund_reason": "退款原因",
      "slot.refund_confirm": "确认退款",
      "slot.new_address": "新地址",
      "slot.address_confirm": "确认改地址",
      "slot.cancel_confirm": "确认取消",
      "slot.invoice_type": "发票类型",
      "slot.invoice_title": "发票抬头",
      "slot.tax_id": "税号",
      "slot.email": "邮箱",
      "event.ticket.created": "创建工单",
      "event.ticket.updated": "更新工单",
      "event.ticket.status_changed": "状态变更",
      "event.ticket.handoff_requested": "请求人工",
      "event.ticket.offered": "推送给客服",
      "event.ticket.offer_expired": "推送超时",
      "event.ticket.assigned": "接入",
      "event.ticket.requeued": "回到队列",
      "event.ticket.transferred": "转接",
      "event.ticket.released": "交还机器人",
      "event.ticket.abandoned": "客户离开",
      "event.ticket.note_added": "添加备注",
      "event.ticket.csat_recorded": "满意度评价",
      "history.by": "操作人：{actor}",
      "actor.system": "系统",
      "actor.service": "助手",
      "actor.customer": "客户",
      "time.s": "{s}秒",
      "time.m": "{m}分{s}秒",
      "time.h": "{h}小时{m}分",
      "time.d": "{d}天{h}小时",
      "csat.value": "{score}/5",
      "csat.skipped": "未评价",
      "yes": "是",
      "no": "否"
    },
    en: {
      "app.title": "Agent Console",
      "login.title": "Sign in to the agent console",
      "login.subtitle": "Use your agent account",
      "login.username": "Username",
      "login.password": "Password",
      "login.submit": "Sign in",
      "login.busy": "Signing in…",
      "login.failed": "Wrong username or password.",
      "login.required": "Enter your username and password.",
      "logout": "Sign out",
      "logout.title": "Sign out",
      "logout.confirm": "You have {n} conversation(s) in progress; they will go back to the queue. Sign out?",
      "lang.label": "Language",
      "presence.label": "Status",
      "presence.online": "Online",
      "presence.away": "Away",
      "presence.offline": "Offline",
      "conn.connecting": "Connecting…",
      "conn.online": "Connected",
      "conn.reconnecting": "Disconnected; retrying in {s}s…",
      "conn.retrying": "Reconnecting…",
      "role.analyst": "Analyst (read only)",
      "queue.title": "Waiting",
      "queue.empty": "No customers waiting",
      "queue.claim": "Claim",
      "queue.offered_me": "Offered to you",
      "queue.offered_other": "Offered to a colleague",
      "mine.title": "My conversations",
      "mine.empty": "No conversations in progress",
      "mine.live": "Live",
      "mine.with_bot": "With the bot",
      "mine.by_mail": "By mail",
      "offer.title": "New conversation for you",
      "offer.accept": "Accept",
      "offer.since": "offered {t} ago",
      "wait": "waiting {t}",
      "conv.placeholder.title": "Select a conversation",
      "conv.placeholder.body": "Claim a customer from the queue, or open one of your conversations.",
      "conv.loading": "Loading the conversation…",
      "conv.transfer": "Transfer",
      "conv.release": "Return to bot",
      "conv.resolve": "Resolve",
      "conv.with_bot": "The customer is with the bot; you cannot send messages.",
      "conv.not_mine": "{name} is handling this conversation; you can only read it.",
      "conv.unassigned": "Nobody has claimed this conversation yet.",
      "conv.done": "Ticket status: {status}. The conversation is back with the bot.",
      "conv.abandoned": "The customer left the conversation ({t}).",
      "conv.assistant_unreachable": "The assistant can't be reached right now: below is the conversation as saved with the ticket at handoff, which may be out of date. It refreshes by itself when the assistant is back.",
      "conv.live": "Customer online",
      "conv.customer": "Customer: {name}",
      "transcript.empty": "No messages yet",
      "transcript.saved": "saved at handoff",
      "transcript.pause": "Handed over to a human agent",
      "transcript.resume": "Returned to the bot",
      "transcript.intent": "Intent",
      "transcript.open_image": "Open the full image",
      "profile.title": "Your profile",
      "profile.body": "Customers on the web chat see your name and picture beside your messages.",
      "profile.display_name": "Display name",
      "profile.avatar_url": "Picture URL (https://…, may be empty)",
      "profile.save": "Save",
      "toast.profile_saved": "Profile saved",
      "reply.failed": "Not delivered: {reason}",
      "sender.customer": "Customer",
      "sender.bot": "Bot",
      "sender.agent": "Agent",
      "reply.placeholder": "Type a reply… (Enter to send, Shift+Enter for a new line)",
      "reply.send": "Send",
      "reply.sending": "Sending…",
      "reply.hint": "Enter to send · Shift+Enter for a new line",
      "reply.by_mail": "The customer is not in a chat: your reply goes by mail · Enter to send",
      "assist.title": "Suggested answers",
      "assist.refresh": "Refresh",
      "assist.empty": "No suggested answers",
      "assist.unreachable": "The assistant can't be reached, so there are no suggested answers for now.",
      "assist.loading": "Looking for answers…",
      "assist.failed": "Suggestions unavailable: {e}",
      "assist.for": "For: “{text}”",
      "assist.send": "Send",
      "assist.insert": "Insert",
      "assist.best": "Best match",
      "tab.info": "Details",
      "tab.notes": "Notes",
      "tab.history": "Activity",
      "tab.past": "Customer",
      "info.slots": "Collected by the assistant",
      "info.facts": "Ticket",
      "slots.empty": "Nothing collected yet",
      "notes.placeholder": "Add an internal note (customers never see it)",
      "notes.add": "Add note",
      "notes.empty": "No notes yet",
      "history.empty": "No activity yet",
      "past.empty": "No other tickets from this customer",
      "customer.unnamed": "Customer without a name",
      "customer.verified": "Verified identity",
      "customer.unverified": "Identity not verified",
      "customer.unverified_note": "No channel verified who this customer is: only this conversation's tickets are listed.",
      "customer.channels": "Channels: {channels}",
      "customer.tickets": "Tickets on every channel",
      "customer.created": "opened {t}",
      "customer.resolved": "resolved {t}",
      "customer.read_only": "Another agent's ticket, to read here only",
      "identity.user": "Site account",
      "identity.phone": "Phone",
      "identity.email": "E-mail",
      "transfer.title": "Transfer the conversation",
      "transfer.to_agent": "To an agent",
      "transfer.to_group": "To a skill group",
      "transfer.agent": "Agent",
      "transfer.group": "Skill group",
      "transfer.comment": "Comment (optional)",
      "transfer.submit": "Transfer",
      "transfer.none": "No other agents to transfer to",
      "transfer.load": "{a}/{c} active",
      "resolve.title": "Resolve the ticket",
      "resolve.body": "The customer goes back to the bot and may be asked to rate the help.",
      "resolve.comment": "Resolution note (optional)",
      "resolve.confirm": "Resolve",
      "release.title": "Return to the bot",
      "release.body": "The customer goes back to the bot; the ticket stays yours for follow-up.",
      "release.confirm": "Return",
      "cancel": "Cancel",
      "toast.claimed": "You are now talking to: {title}",
      "toast.note_added": "Note added",
      "toast.transferred": "Conversation transferred",
      "toast.resolved": "Ticket resolved",
      "toast.released": "Returned to the bot",
      "toast.transferred_in": "“{title}” was transferred to you",
      "toast.requeued": "“{title}” went back to the queue",
      "toast.offer": "New conversation: {title}",
      "toast.abandoned": "The customer left: “{title}”",
      "error.network": "Network error; check your connection and try again.",
      "error.already_claimed": "{holder} has already taken this conversation.",
      "error.already_claimed_generic": "Another agent has already taken this conversation.",
      "error.rasa_unavailable": "The assistant did not accept the message; try again.",
      "error.not_authenticated": "Your session has ended; sign in again.",
      "error.forbidden": "You are not allowed to do this.",
      "error.not_found": "No such record.",
      "error.invalid_transition": "The ticket has changed; this is no longer possible.",
      "error.internal_error": "Something went wrong on our side; try again later.",
      "status.pending": "Pending",
      "status.in_progress": "In progress",
      "status.resolved": "Resolved",
      "status.closed": "Closed",
      "status.reopened": "Reopened",
      "priority.normal": "Normal",
      "priority.urgent": "Urgent",
      "category.pre_sales": "Pre-sales",
      "category.order_logistics": "Orders & delivery",
      "category.after_sales": "After-sales",
      "category.technical": "Technical",
      "category.complaint": "Complaint",
      "category.general": "General",
      "language.zh": "Chinese",
      "language.en": "English",
      "reason.asked": "Customer asked",
      "reason.fallback": "Bot did not understand",
      "reason.urgent": "Urgent",
      "reason.form_failure": "Form failed",
      "reason.offer_expired": "Offer not accepted in time",
      "reason.agent_disconnected": "Agent disconnected",
      "field.id": "Ticket",
      "field.status": "Status",
      "field.priority": "Priority",
      "field.category": "Category",
      "field.skill_group": "Skill group",
      "field.language": "Language",
      "field.channel": "Channel",
      "field.customer": "Customer",
      "field.contact": "Contact",
      "field.conversation_id": "Conversation",
      "field.order_id": "Order",
      "field.handoff_reason": "Handoff reason",
      "field.source": "Source",
      "field.assignee": "Assignee",
      "field.description": "Description",
      "field.created_at": "Created",
      "field.queued_at": "Queued",
      "field.assigned_at": "Claimed",
      "field.first_response_at": "First reply",
      "field.resolved_at": "Resolved",
      "field.abandoned_at": "Customer left",
      "field.csat": "CSAT",
      "slot.order_id": "Order number",
      "slot.category": "Category",
      "slot.priority": "Priority",
      "slot.language": "Language",
      "slot.handoff_reason": "Handoff reason",
      "slot.product": "Product",
      "slot.ticket_id": "Ticket",
      "slot.csat_score": "CSAT score",
      "slot.csat_comment": "CSAT comment",
      "slot.csat_retries": "CSAT re-asks",
      "slot.order_problem": "Order problem",
      "slot.refund_reason": "Refund reason",
      "slot.refund_confirm": "Refund confirmed",
      "slot.new_address": "New address",
      "slot.address_confirm": "Address change confirmed",
      "slot.cancel_confirm": "Cancellation confirmed",
      "slot.invoice_type": "Invoice type",
      "slot.invoice_title": "Invoice title",
      "slot.tax_id": "Tax ID",
      "slot.email": "Email",
      "event.ticket.created": "Ticket created",
      "event.ticket.updated": "Ticket updated",
      "event.ticket.status_changed": "Status changed",
      "event.ticket.handoff_requested": "Human requested",
      "event.ticket.offered": "Offered to an agent",
      "event.ticket.offer_expired": "Offer expired",
      "event.ticket.assigned": "Claimed",
      "event.ticket.requeued": "Back in the queue",
      "event.ticket.transferred": "Transferred",
      "event.ticket.released": "Returned to the bot",
      "event.ticket.abandoned": "Customer left",
      "event.ticket.note_added": "Note added",
      "event.ticket.csat_recorded": "CSAT recorded",
      "history.by": "by {actor}",
      "actor.system": "system",
      "actor.service": "assistant",
      "actor.customer": "customer",
      "time.s": "{s}s",
      "time.m": "{m}m {s}s",
      "time.h": "{h}h {m}m",
      "time.d": "{d}d {h}h",
      "csat.value": "{score}/5",
      "csat.skipped": "skipped",
      "yes": "yes",
      "no": "no"
    }
  };

  var LANGUAGES = ["zh", "en"];
  var SKILL_GROUPS = ["pre_sales", "order_logistics", "after_sales", "technical", "complaint", "general"];
  var PRESENCES = ["online", "away", "offline"];
  var WAITING = ["pending", "reopened"];
  var QUEUE_EVENTS = [
    "ticket.created", "ticket.updated", "ticket.status_changed", "ticket.assigned",
    "ticket.requeued", "ticket.transferred", "ticket.released", "ticket.abandoned",
    "ticket.offered", "ticket.csat_recorded", "queue.changed"
  ];
  var PING_SECONDS = 25;
  var PONG_GRACE_SECONDS = 10;
  var MAX_BACKOFF_SECONDS = 30;
  var LANG_KEY = "handoff.console.lang";
  var PRESENCE_KEY = "handoff.console.presence.";

  // --- state ---------------------------------------------------------------------

  var state = {
    lang: "zh",
    agent: null,
    queue: [],
    mine: [],
    offers: {},          // ticket id -> {ticket, since}
    unread: {},          // ticket id -> count of customer messages not yet seen
    open: null,          // the conversation on screen, see openConversation
    socket: null,
    socketGeneration: 0,
    retries: 0,
    retryTimer: null,
    pingTimer: null,
    lastPong: 0,
    refreshTimer: null,
    suggestTimer: null,
    agents: [],
    channels: {},        // channel name -> {name, labels: {zh, en}, delivers_offline}: GET /api/channels
    drafts: {},          // ticket id -> unsent reply, kept while another is open
    tab: "info"
  };

  var $ = function (id) { return document.getElementById(id); };
  var byTestId = function (id) { return document.querySelector('[data-testid="' + id + '"]'); };

  // --- i18n -------------------------------------------------------------------------

  function t(key, values) {
    var table = MESSAGES[state.lang] || MESSAGES.zh;
    var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : MESSAGES.en[key];
    if (text === undefined) {
      return key;
    }
    return text.replace(/\{(\w+)\}/g, function (match, name) {
      return values && values[name] !== undefined && values[name] !== null ? String(values[name]) : match;
    });
  }

  /** A translated label for an enum value, or the value itself. Channels
   * are named by the server (channels.yml), so the console and the reports
   * say the same. */
  function label(kind, value) {
    if (value === null || value === undefined || value === "") {
      return "—";
    }
    if (kind === "channel") {
      var known = state.channels[value];
      return known ? known.labels[state.lang] || String(value) : String(value);
    }
    var key = kind + "." + value;
    var table = MESSAGES[state.lang] || MESSAGES.zh;
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : String(value);
  }

  function initialLanguage() {
    var stored = null;
    try {
      stored = window.localStorage.getItem(LANG_KEY);
    } catch (error) { /* storage may be disabled */ }
    if (LANGUAGES.indexOf(stored) >= 0) {
      return stored;
    }
    var preferred = (navigator.languages && navigator.languages[0]) || navigator.language || "zh";
    return /^zh\b/i.test(preferred) ? "zh" : "en";
  }

  function hasStoredLanguage() {
    try {
      return LANGUAGES.indexOf(window.localStorage.getItem(LANG_KEY)) >= 0;
    } catch (error) {
      return false;
    }
  }

  function setLanguage(lang, remember) {
    state.lang = LANGUAGES.indexOf(lang) >= 0 ? lang : "zh";
    if (remember) {
      try {
        window.localStorage.setItem(LANG_KEY, state.lang);
      } catch (error) { /* storage may be disabled */ }
    }
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.documentElement.setAttribute("data-lang", state.lang);
    $("lang-switch").value = state.lang;
    translateStatic();
    renderAll();
  }

  function translateStatic() {
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (node) {
      node.setAttribute("placeholder", t(node.getAttribute("data-i18n-placeholder")));
    });
    document.title = baseTitle();
    updateTitle();
  }

  function baseTitle() {
    return t("app.title") + (state.lang === "zh" ? " · Agent Console" : "");
  }

  // --- DOM helpers --------------------------------------------------------------------

  /** Builds an element; `text` always goes in as text, never as markup. */
  function h(tag, options, children) {
    var node = document.createElement(tag);
    options = options || {};
    if (options.cls) {
      node.className = options.cls;
    }
    if (options.text !== undefined && options.text !== null) {
      node.textContent = String(options.text);
    }
    if (options.testid) {
      node.setAttribute("data-testid", options.testid);
    }
    if (options.attrs) {
      Object.keys(options.attrs).forEach(function (name) {
        var value = options.attrs[name];
        if (value !== null && value !== undefined && value !== false) {
          node.setAttribute(name, value === true ? "" : String(value));
        }
      });
    }
    if (options.title) {
      node.title = String(options.title);
    }
    if (options.onclick) {
      node.addEventListener("click", options.onclick);
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) {
        return;
      }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) {
      node.removeChild(node.firstChild);
    }
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function button(text, cls, testid, onclick) {
    return h("button", { cls: "button " + (cls || ""), text: text, testid: testid, attrs: { type: "button" }, onclick: onclick });
  }

  function badge(text, kind, testid) {
    return h("span", { cls: "badge" + (kind ? " badge-" + kind : ""), text: text, testid: testid });
  }

  // --- time ---------------------------------------------------------------------------

  function parseTime(iso) {
    if (!iso) {
      return null;
    }
    var moment = new Date(iso);
    return isNaN(moment.getTime()) ? null : moment;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) {
      return t("time.s", { s: seconds });
    }
    if (seconds < 3600) {
      return t("time.m", { m: Math.floor(seconds / 60), s: seconds % 60 });
    }
    if (seconds < 86400) {
      return t("time.h", { h: Math.floor(seconds / 3600), m: Math.floor((seconds % 3600) / 60) });
    }
    return t("time.d", { d: Math.floor(seconds / 86400), h: Math.floor((seconds % 86400) / 3600) });
  }

  function since(iso) {
    var moment = parseTime(iso);
    return moment ? (Date.now() - moment.getTime()) / 1000 : 0;
  }

  function locale() {
    return state.lang === "zh" ? "zh-CN" : "en-GB";
  }

  function clock(iso) {
    var moment = parseTime(iso);
    if (!moment) {
      return "";
    }
    var sameDay = new Date().toDateString() === moment.toDateString();
    var options = sameDay
      ? { hour: "2-digit", minute: "2-digit", second: "2-digit" }
      : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return moment.toLocaleString(locale(), options);
  }

  function dateTime(iso) {
    var moment = parseTime(iso);
    return moment
      ? moment.toLocaleString(locale(), { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })
      : "—";
  }

  /** An element whose text is kept current by the one-second ticker. */
  function elapsed(iso, template, cls) {
    var node = h("span", { cls: "elapsed " + (cls || ""), attrs: { "data-since": iso || "", "data-template": template } });
    updateElapsed(node);
    return node;
  }

  function updateElapsed(node) {
    var iso = node.getAttribute("data-since");
    if (!iso) {
      node.textContent = "";
      return;
    }
    var seconds = since(iso);
    node.textContent = t(node.getAttribute("data-template"), { t: duration(seconds) });
    node.classList.toggle("is-late", seconds >= 60 && seconds < 180);
    node.classList.toggle("is-very-late", seconds >= 180);
  }

  function tick() {
    document.querySelectorAll(".elapsed[data-since]").forEach(updateElapsed);
  }

  // --- API ----------------------------------------------------------------------------

  function ApiError(status, code, message, details) {
    this.status = status;
    this.code = code;
    this.message = message;
    this.details = details || {};
  }

  /** JSON over fetch; errors become ApiError; a 401 sends the agent to sign in. */
  function api(method, path, body, options) {
    options = options || {};
    var init = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      cache: "no-store"
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (response) {
      return response.text().then(function (raw) {
        var data = null;
        try {
          data = raw ? JSON.parse(raw) : null;
        } catch (error) {
          data = null;
        }
        if (response.ok) {
          return data;
        }
        var problem = (data && data.error) || {};
        var error = new ApiError(response.status, problem.code || "http_" + response.status,
          problem.message || response.statusText, problem.details);
        if (response.status === 401 && !options.allow401) {
          sessionEnded();
        }
        throw error;
      });
    }, function () {
      throw new ApiError(0, "network", t("error.network"));
    });
  }

  /** The message to show for an API error: ours in Chinese where we know the
   * code, the server's (English, often more specific) otherwise. */
  function errorText(error) {
    if (!(error instanceof ApiError)) {
      return String(error && error.message ? error.message : error);
    }
    if (error.code === "already_claimed") {
      if (error.details.assignee) {
        return t("error.already_claimed", { holder: error.details.assignee });
      }
      return state.lang === "en" && error.message ? error.message : t("error.already_claimed_generic");
    }
    var key = "error." + error.code;
    var known = Object.prototype.hasOwnProperty.call(MESSAGES[state.lang], key) ? t(key) : null;
    if (error.code === "network" || error.code === "not_authenticated" || error.code === "internal_error") {
      return known;
    }
    if (state.lang === "en") {
      return error.message || known || error.code;
    }
    return known || error.message || error.code;
  }

  function reportError(error) {
    if (error instanceof ApiError && error.status === 401) {
      return;  // sessionEnded already said so
    }
    toast(errorText(error), "error");
  }

  // --- toasts -----------------------------------------------------------------------

  function toast(text, kind, action) {
    var node = h("div", {
      cls: "toast toast-" + (kind || "info"),
      testid: "toast",
      attrs: { role: kind === "error" ? "alert" : "status", "data-kind": kind || "info" }
    }, [h("span", { cls: "toast-text", text: text })]);
    if (action) {
      node.appendChild(h("button", { cls: "link-button", text: action.text, attrs: { type: "button" }, onclick: function () {
        action.run();
        dismiss();
      } }));
    }
    var close = h("button", { cls: "toast-close", text: "×", attrs: { type: "button", "aria-label": "close" } });
    node.appendChild(close);
    var timer = window.setTimeout(dismiss, kind === "error" ? 9000 : 5000);
    function dismiss() {
      window.clearTimeout(timer);
      node.classList.add("is-leaving");
      window.setTimeout(function () { node.remove(); }, 200);
    }
    close.addEventListener("click", dismiss);
    $("toasts").appendChild(node);
    while ($("toasts").children.length > 5) {
      $("toasts").firstChild.remove();
    }
  }

  // --- session ---------------------------------------------------------------------

  function showLogin(message) {
    document.body.classList.remove("is-booting", "is-signed-in");
    show($("login-view"), true);
    show($("console-view"), false);
    show(byTestId("presence"), false);
    show(byTestId("agent-name"), false);
    show(byTestId("connection-status"), false);
    show($("logout-button"), false);
    var error = byTestId("login-error");
    error.textContent = message || "";
    show(error, Boolean(message));
    var username = byTestId("login-username");
    window.setTimeout(function () { (username.value ? byTestId("login-password") : username).focus(); }, 0);
  }

  function sessionEnded() {
    if (!state.agent) {
      return;
    }
    stopConsole();
    showLogin(t("error.not_authenticated"));
  }

  function login(event) {
    event.preventDefault();
    var username = byTestId("login-username").value.trim();
    var password = byTestId("login-password").value;
    var error = byTestId("login-error");
    if (!username || !password) {
      error.textContent = t("login.required");
      show(error, true);
      return;
    }
    var submit = byTestId("login-submit");
    submit.disabled = true;
    submit.textContent = t("login.busy");
    api("POST", "/api/session", { username: username, password: password }, { allow401: true })
      .then(function (data) {
        byTestId("login-password").value = "";
        show(error, false);
        startConsole(data.agent);
      }, function (failure) {
        error.textContent = failure.status === 401 ? t("login.failed") : errorText(failure);
        show(error, true);
        byTestId("login-password").select();
      })
      .then(function () {
        submit.disabled = false;
        submit.textContent = t("login.submit");
      });
  }

  function logout() {
    var live = state.mine.filter(function (ticket) { return ticket.live; }).length;
    var proceed = live > 0
      ? confirmDialog(t("logout.title"), t("logout.confirm", { n: live }), t("logout"))
      : Promise.resolve(true);
    proceed.then(function (ok) {
      if (!ok) {
        return;
      }
      send({ action: "presence", presence: "offline" });
      api("DELETE", "/api/session", undefined, { allow401: true }).catch(function () {}).then(function () {
        stopConsole();
        showLogin();
      });
    });
  }

  function startConsole(agent) {
    state.agent = agent;
    if (!hasStoredLanguage() && agent.languages && agent.languages.indexOf("zh") < 0 && agent.languages.indexOf("en") >= 0) {
      setLanguage("en", false);
    }
    document.body.classList.remove("is-booting");
    document.body.classList.add("is-signed-in");
    document.body.setAttribute("data-role", agent.role);
    show($("login-view"), false);
    show($("console-view"), true);
    show($("logout-button"), true);
    show(byTestId("agent-name"), true);
    show(byTestId("presence"), canHandle());
    renderAgent();
    connect();
    refreshLists();
    loadChannels();
  }

  function loadChannels() {
    api("GET", "/api/channels").then(function (data) {
      state.channels = {};
      (data.channels || []).forEach(function (channel) {
        state.channels[channel.name] = channel;
      });
      renderAll();
    }, function () { /* tickets keep their channels' names */ });
  }

  function stopConsole() {
    state.agent = null;
    state.socketGeneration += 1;
    window.clearTimeout(state.retryTimer);
    window.clearInterval(state.pingTimer);
    if (state.socket) {
      try { state.socket.close(1000); } catch (error) { /* already closed */ }
    }
    state.socket = null;
    state.queue = [];
    state.mine = [];
    state.offers = {};
    state.unread = {};
    state.drafts = {};
    state.open = null;
    $("reply-input").value = "";
    byTestId("note-input").value = "";
    closeConversationView();
    renderLists();
    updateTitle();
  }

  function canHandle() {
    return Boolean(state.agent) && (state.agent.role === "agent" || state.agent.role === "admin");
  }

  function isMe(agentId) {
    return Boolean(state.agent) && agentId === state.agent.id;
  }

  function renderAgent() {
    if (!state.agent) {
      return;
    }
    var name = byTestId("agent-name");
    name.textContent = state.agent.display_name || state.agent.username;
    name.title = canHandle() ? t("profile.title") : "";
    name.disabled = !canHandle();
    if (state.agent.role === "analyst") {
      name.textContent += " · " + t("role.analyst");
    }
    setPresenceUi(state.agent.presence);
  }

  // --- presence ------------------------------------------------------------------------

  function storedPresence() {
    try {
      return window.localStorage.getItem(PRESENCE_KEY + state.agent.id);
    } catch (error) {
      return null;
    }
  }

  function rememberPresence(presence) {
    try {
      window.localStorage.setItem(PRESENCE_KEY + state.agent.id, presence);
    } catch (error) { /* storage may be disabled */ }
  }

  /** Online when the console connects, unless the agent stepped away (or
   * went offline) in this browser earlier. */
  function presenceOnConnect() {
    var stored = storedPresence();
    return stored === "away" || stored === "offline" ? stored : "online";
  }

  function setPresenceUi(presence) {
    if (PRESENCES.indexOf(presence) < 0) {
      presence = "offline";
    }
    byTestId("presence-select").value = presence;
    byTestId("presence").setAttribute("data-presence", presence);
  }

  function choosePresence() {
    var presence = byTestId("presence-select").value;
    rememberPresence(presence);
    setPresenceUi(presence);
    if (!send({ action: "presence", presence: presence })) {
      api("PUT", "/api/agents/me/presence", { presence: presence }).then(function (agent) {
        state.agent = agent;
        setPresenceUi(agent.presence);
      }, reportError);
    }
  }

  // --- websocket ------------------------------------------------------------------------

  function connect() {
    if (!state.agent) {
      return;
    }
    window.clearTimeout(state.retryTimer);
    var generation = ++state.socketGeneration;
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket;
    setConnection("connecting");
    try {
      socket = new WebSocket(scheme + "//" + window.location.host + "/console/ws");
    } catch (error) {
      scheduleReconnect(generation);
      return;
    }
    state.socket = socket;
    socket.addEventListener("open", function () {
      if (generation !== state.socketGeneration) {
        return;
      }
      state.retries = 0;
      state.lastPong = Date.now();
      setConnection("online");
      if (canHandle()) {
        var presence = presenceOnConnect();
        setPresenceUi(presence);
        send({ action: "presence", presence: presence });
      }
      window.clearInterval(state.pingTimer);
      state.pingTimer = window.setInterval(function () { ping(generation); }, PING_SECONDS * 1000);
      refreshAll();
    });
    socket.addEventListener("message", function (message) {
      if (generation !== state.socketGeneration) {
        return;
      }
      var envelope;
      try {
        envelope = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (envelope && typeof envelope.event === "string") {
        try {
          onEvent(envelope.event, envelope.data || {});
        } catch (error) {
          window.console.error("Event", envelope.event, error);
        }
      }
    });
    socket.addEventListener("close", function () {
      if (generation === state.socketGeneration && state.socket === socket) {
        socketLost(generation);
      }
    });
  }

  function socketLost(generation) {
    window.clearInterval(state.pingTimer);
    state.socket = null;
    // A refused handshake looks like any other close: ask whether the
    // session is still good before retrying.
    api("GET", "/api/session", undefined, { allow401: true }).then(function () {
      scheduleReconnect(generation);
    }, function (error) {
      if (error.status === 401) {
        sessionEnded();
      } else {
        scheduleReconnect(generation);
      }
    });
  }

  function scheduleReconnect(generation) {
    if (!state.agent || generation !== state.socketGeneration) {
      return;
    }
    var delay = Math.min(MAX_BACKOFF_SECONDS, Math.pow(2, state.retries));
    delay = delay * (0.8 + Math.random() * 0.4);
    state.retries += 1;
    var until = Date.now() + delay * 1000;
    setConnection("reconnecting", Math.ceil(delay));
    var countdown = window.setInterval(function () {
      if (generation !== state.socketGeneration || !state.agent) {
        window.clearInterval(countdown);
        return;
      }
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left > 0) {
        setConnection("reconnecting", left);
      } else {
        window.clearInterval(countdown);
      }
    }, 1000);
    state.retryTimer = window.setTimeout(function () {
      window.clearInterval(countdown);
      if (generation === state.socketGeneration) {
        connect();
      }
    }, delay * 1000);
  }

  function ping(generation) {
    if (generation !== state.socketGeneration || !state.socket) {
      return;
    }
    if (Date.now() - state.lastPong > (PING_SECONDS + PONG_GRACE_SECONDS) * 1000) {
      // Silent too long: a dead connection may take long to report its
      // close, so give up on it now.
      var dead = state.socket;
      socketLost(generation);
      try { dead.close(); } catch (error) { /* already closed */ }
      return;
    }
    send({ action: "ping" });
  }

  function send(message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function setConnection(status, seconds) {
    var node = byTestId("connection-status");
    node.setAttribute("data-state", status);
    node.textContent = status === "reconnecting"
      ? t("conn.reconnecting", { s: seconds })
      : t("conn." + status);
    show(node, Boolean(state.agent));
    document.body.classList.toggle("is-disconnected", status === "reconnecting");
  }

  // --- events ---------------------------------------------------------------------------

  function onEvent(name, data) {
    if (name === "pong") {
      state.lastPong = Date.now();
      return;
    }
    state.lastPong = Date.now();
    if (name === "hello") {
      if (data.agent) {
        state.agent = Object.assign({}, state.agent, data.agent);
        renderAgent();
        if (canHandle()) {
          setPresenceUi(presenceOnConnect());
        }
      }
      return;
    }
    if (name === "error") {
      toast(String(data.message || "error"), "error");
      return;
    }
    if (name === "agent.presence_changed") {
      if (data.agent && isMe(data.agent.id)) {
        state.agent.presence = data.agent.presence;
        setPresenceUi(data.agent.presence);
      }
      updateAgentCache(data.agent);
      return;
    }
    if (name.indexOf("message.") === 0) {
      onMessage(name, data);
      return;
    }
    if (name === "ticket.attachment_added") {
      if (state.open && state.open.id === data.ticket_id && !state.open.loading) {
        appendTurn(attachmentTurn(data.attachment), true);
      }
      return;
    }
    if (name === "ticket.note_added") {
      if (state.open && state.open.id === data.ticket_id) {
        addNote(data);
      }
      return;
    }
    if (data.ticket) {
      onTicket(name, data);
    }
    if (QUEUE_EVENTS.indexOf(name) >= 0) {
      scheduleRefresh();
    }
  }

  function onTicket(name, data) {
    var ticket = data.ticket;
    if (name === "ticket.offered" && isMe(data.agent_id) && ticket.live && WAITING.indexOf(ticket.status) >= 0) {
      if (!state.offers[ticket.id]) {
        state.offers[ticket.id] = { ticket: ticket, since: new Date().toISOString() };
        announce(t("toast.offer", { title: ticket.title }));
      }
    } else if (state.offers[ticket.id] && !isOfferedToMe(ticket)) {
      delete state.offers[ticket.id];
    }
    if (name === "ticket.transferred" && isMe(ticket.assignee_id) && !isMe(data.from_agent_id)) {
      toast(t("toast.transferred_in", { title: ticket.title }), "info");
      announce(null);
    }
    if (name === "ticket.requeued" && isMe(data.from_agent_id)) {
      toast(t("toast.requeued", { title: ticket.title }), "warning");
    }
    if (name === "ticket.abandoned" && isMe(ticket.assignee_id)) {
      toast(t("toast.abandoned", { title: ticket.title }), "warning");
    }
    var customer = state.open && state.open.customer && state.open.customer.customer;
    if (customer && ticket.customer && ticket.customer.id === customer.id) {
      loadCustomer(state.open);  // one of their tickets, on any channel, changed
    }
    // Show the change at once; the refresh that follows settles the order.
    upsertList(state.mine, ticket);
    if (ticket.live && WAITING.indexOf(ticket.status) >= 0) {
      upsertList(state.queue, ticket);
    } else {
      state.queue = state.queue.filter(function (item) { return item.id !== ticket.id; });
    }
    if (state.open && state.open.id === ticket.id) {
      state.open.ticket = ticket;
      renderConversationHeader();
      renderFacts();
      renderComposerState();
      refreshHistory();
    }
    renderLists();
  }

  function isOfferedToMe(ticket) {
    return isMe(ticket.offered_to_id) && ticket.live && WAITING.indexOf(ticket.status) >= 0;
  }

  function upsertList(list, ticket) {
    for (var i = 0; i < list.length; i += 1) {
      if (list[i].id === ticket.id) {
        list[i] = ticket;
        return;
      }
    }
  }

  function onMessage(name, data) {
    var open = state.open;
    if (open && open.id === data.ticket_id) {
      if (open.loading) {
        open.pending.push(data);
      } else {
        appendTurn(turnFromEvent(data), true);
      }
      if (data.sender === "customer") {
        scheduleSuggestions(data.text);
        if (document.hidden) {
          announce(null);
        }
      }
      return;
    }
    if (data.sender === "customer" && isMe(data.owner_id)) {
      state.unread[data.ticket_id] = (state.unread[data.ticket_id] || 0) + 1;
      renderMine();
      announce(null);
    }
  }

  function turnFromEvent(data) {
    return {
      message_id: data.message_id,
      sender: data.sender,
      text: data.text,
      intent: data.intent,
      confidence: data.confidence,
      agent_name: data.agent_name,
      at: data.at
    };
  }

  /** Draws attention to something new: the tab title and a short tone. */
  function announce(text) {
    updateTitle();
    if (text) {
      toast(text, "offer");
    }
    beep();
  }

  var audio = null;
  function beep() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      var activation = navigator.userActivation;
      if (!Context || (activation && !activation.hasBeenActive)) {
        return;
      }
      audio = audio || new Context();
      if (audio.state === "suspended") {
        audio.resume();
      }
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.08, audio.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.25);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + 0.3);
    } catch (error) { /* sound is a nicety */ }
  }

  function updateTitle() {
    var waiting = Object.keys(state.offers).length;
    Object.keys(state.unread).forEach(function (id) { waiting += state.unread[id]; });
    document.title = (waiting ? "(" + waiting + ") " : "") + baseTitle();
  }

  // --- queue and my conversations --------------------------------------------------------

  function scheduleRefresh() {
    window.clearTimeout(state.refreshTimer);
    state.refreshTimer = window.setTimeout(refreshLists, 200);
  }

  function refreshAll() {
    refreshLists();
    if (state.open) {
      openConversation(state.open.id, { keepTab: true, quiet: true });
    }
  }

  function refreshLists() {
    if (!state.agent) {
      return Promise.resolve();
    }
    var me = state.agent.id;
    return Promise.all([
      api("GET", "/api/queue").then(function (data) {
        state.queue = data.tickets || [];
        // Offers survive a reload: the queue says what is reserved for us.
        var offered = {};
        state.queue.forEach(function (ticket) {
          if (isOfferedToMe(ticket)) {
            offered[ticket.id] = state.offers[ticket.id] || { ticket: ticket, since: ticket.queued_at };
            offered[ticket.id].ticket = ticket;
          }
        });
        state.offers = offered;
      }),
      api("GET", "/api/tickets?status=in_progress&limit=100&assignee_id=" + encodeURIComponent(me)).then(function (data) {
        state.mine = (data.tickets || []).slice().sort(function (a, b) {
          return (a.assigned_at || "").localeCompare(b.assigned_at || "");
        });
        Object.keys(state.unread).forEach(function (id) {
          if (!state.mine.some(function (ticket) { return String(ticket.id) === id; })) {
            delete state.unread[id];
          }
        });
      })
    ]).then(renderLists, function (error) {
      if (error.code !== "network") {  // the connection badge already says so
        reportError(error);
      }
    });
  }

  function renderLists() {
    renderOffers();
    renderQueue();
    renderMine();
    updateTitle();
  }

  function renderOffers() {
    var box = byTestId("offers");
    clear(box);
    updateTitle();
    Object.keys(state.offers).forEach(function (id) {
      var offer = state.offers[id];
      var ticket = offer.ticket;
      box.appendChild(h("article", { cls: "offer", testid: "offer", attrs: { "data-ticket-id": ticket.id } }, [
        h("div", { cls: "offer-head" }, [
          h("span", { cls: "offer-pulse", attrs: { "aria-hidden": "true" } }),
          h("span", { cls: "offer-label", text: t("offer.title") })
        ]),
        h("div", { cls: "offer-title", text: ticket.title, testid: "offer-title" }),
        ticketBadges(ticket),
        h("div", { cls: "offer-foot" }, [
          elapsed(ticket.queued_at || ticket.created_at, "wait", "small"),
          button(t("offer.accept"), "primary", "offer-accept", function (event) {
            claim(ticket, event.currentTarget);
          })
        ])
      ]));
    });
  }

  function ticketBadges(ticket) {
    return h("div", { cls: "badges" }, [
      ticket.priority === "urgent" ? badge(label("priority", "urgent"), "urgent", "priority-urgent") : null,
      badge(label("category", ticket.category), "category"),
      badge(label("language", ticket.language), "language"),
      badge(label("channel", ticket.channel), "channel")
    ]);
  }

  function renderQueue() {
    var list = $("queue-list");
    clear(list);
    state.queue.forEach(function (ticket) {
      var offeredNote = null;
      if (isMe(ticket.offered_to_id)) {
        offeredNote = h("span", { cls: "small offered-me", text: t("queue.offered_me") });
      } else if (ticket.offered_to_id) {
        offeredNote = h("span", { cls: "small muted", text: t("queue.offered_other") });
      }
      list.appendChild(h("li", {
        cls: "ticket-item" + (ticket.priority === "urgent" ? " is-urgent" : ""),
        testid: "queue-item",
        attrs: { "data-ticket-id": ticket.id, "data-priority": ticket.priority }
      }, [
        h("div", { cls: "ticket-item-main" }, [
          h("div", { cls: "ticket-item-title", text: ticket.title, testid: "queue-item-title" }),
          ticketBadges(ticket),
          h("div", { cls: "ticket-item-meta" }, [
            elapsed(ticket.queued_at || ticket.created_at, "wait", "small"),
            offeredNote
          ])
        ]),
        canHandle()
          ? button(t("queue.claim"), "primary small-button", "claim-button", function (event) {
            claim(ticket, event.currentTarget);
          })
          : null
      ]));
    });
    byTestId("queue-count").textContent = String(state.queue.length);
    show($("queue-empty"), state.queue.length === 0);
  }

  function renderMine() {
    var list = $("mine-list");
    clear(list);
    state.mine.forEach(function (ticket) {
      var unread = state.unread[ticket.id] || 0;
      var item = h("li", {
        cls: "ticket-item is-clickable" + (state.open && state.open.id === ticket.id ? " is-open" : "") +
          (ticket.priority === "urgent" ? " is-urgent" : ""),
        testid: "my-ticket",
        attrs: { "data-ticket-id": ticket.id, tabindex: "0", role: "button" }
      }, [
        h("div", { cls: "ticket-item-main" }, [
          h("div", { cls: "ticket-item-title", text: ticket.title }),
          h("div", { cls: "ticket-item-meta" }, [
            h("span", {
              cls: "live-state " + (ticket.live ? "is-live" : "is-bot"),
              text: ticket.live ? t("mine.live") : t(deliversOffline(ticket) ? "mine.by_mail" : "mine.with_bot")
            }),
            h("span", { cls: "small muted", text: ticket.customer && ticket.customer.name ? ticket.customer.name : "#" + ticket.id }),
            ticket.priority === "urgent" ? badge(label("priority", "urgent"), "urgent") : null
          ])
        ]),
        unread ? h("span", { cls: "unread", text: String(unread), testid: "unread" }) : null
      ]);
      item.addEventListener("click", function () { openConversation(ticket.id); });
      item.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          openConversation(ticket.id);
        }
      });
      list.appendChild(item);
    });
    byTestId("my-count").textContent = String(state.mine.length);
    show($("mine-empty"), state.mine.length === 0);
    updateTitle();
  }

  function claim(ticket, control) {
    if (control) {
      control.disabled = true;
    }
    api("POST", "/api/tickets/" + ticket.id + "/claim").then(function (claimed) {
      delete state.offers[ticket.id];
      toast(t("toast.claimed", { title: claimed.title }), "success");
      state.mine = state.mine.filter(function (item) { return item.id !== claimed.id; }).concat([claimed]);
      state.queue = state.queue.filter(function (item) { return item.id !== claimed.id; });
      renderLists();
      openConversation(claimed.id);
      scheduleRefresh();
    }, function (error) {
      delete state.offers[ticket.id];
      if (control) {
        control.disabled = false;
      }
      reportError(error);
      renderOffers();
      scheduleRefresh();
    });
  }

  // --- the open conversation ------------------------------------------------------------

  function closeConversationView() {
    show($("conversation-placeholder"), true);
    show($("conversation-body"), false);
    show($("details"), false);
    document.body.classList.remove("has-conversation");
  }

  function openConversation(ticketId, options) {
    options = options || {};
    var previous = state.open;
    var sameTicket = previous && previous.id === ticketId;
    stopTyping();
    state.open = {
      id: ticketId,
      ticket: sameTicket ? previous.ticket : null,
      loading: true,
      pending: [],
      seen: {},
      turns: [],
      notes: []
    };
    var open = state.open;
    delete state.unread[ticketId];
    renderMine();
    show($("conversation-placeholder"), false);
    show($("conversation-body"), true);
    show($("details"), true);
    document.body.classList.add("has-conversation");
    if (!sameTicket) {
      // Each conversation keeps its own unsent reply.
      if (previous) {
        state.drafts[previous.id] = $("reply-input").value;
      }
      $("reply-input").value = state.drafts[ticketId] || "";
      delete state.drafts[ticketId];
      $("conversation-title").textContent = t("conv.loading");
      clear($("conversation-badges"));
      clear($("transcript"));
      clear($("assist-list"));
      $("assist-for").textContent = "";
      show($("conversation-banner"), false);
      if (!options.keepTab) {
        selectTab("info");
      }
    }
    return api("GET", "/api/tickets/" + ticketId + "/context").then(function (context) {
      if (state.open !== open) {
        return;
      }
      open.loading = false;
      applyContext(open, context);
      // Live messages that arrived while loading: the transcript may already
      // hold them (it has no message ids), so skip ones matching its tail.
      open.pending.forEach(function (data) {
        if (!inTranscriptTail(data)) {
          appendTurn(turnFromEvent(data), false);
        }
      });
      open.pending = [];
      scrollTranscript(true);
      loadSuggestions();
      if (context.assistant_unreachable) {
        retryContext(open, RETRY_FIRST_MS);
      }
    }, function (error) {
      if (state.open !== open) {
        return;
      }
      open.loading = false;
      reportError(error);
      if (error.status === 404 || error.status === 403) {
        state.open = null;
        closeConversationView();
      }
    });
  }

  var RETRY_FIRST_MS = 3000;
  var RETRY_MAX_MS = 30000;

  /** With the assistant unreachable, asks again in the background (backing
   * off) while the same conversation stays open; once it answers, the live
   * transcript, slots and suggestions replace what the ticket had saved. */
  function retryContext(open, delay) {
    window.setTimeout(function () {
      if (state.open !== open) {
        return;
      }
      api("GET", "/api/tickets/" + open.id + "/context").then(function (context) {
        if (state.open !== open) {
          return;
        }
        if (context.assistant_unreachable) {
          retryContext(open, Math.min(delay * 2, RETRY_MAX_MS));
          return;
        }
        applyContext(open, context);
        scrollTranscript(true);
        loadSuggestions();
      }, function () {
        retryContext(open, Math.min(delay * 2, RETRY_MAX_MS));
      });
    }, delay);
  }

  /** Shows what GET /context said of the open conversation. */
  function applyContext(open, context) {
    open.ticket = context.ticket;
    open.context = context;
    open.notes = context.notes || [];
    open.history = context.history || [];
    open.past = context.past_tickets || [];
    renderConversation(true);
    loadCustomer(open);
  }

  /** The customer of the open ticket and their tickets on every channel. */
  function loadCustomer(open) {
    api("GET", "/api/tickets/" + open.id + "/customer").then(function (data) {
      if (state.open === open) {
        open.customer = data.customer ? data : null;
        renderPast();
      }
    }, function () { /* the conversation's own past tickets stay listed */ });
  }

  function inTranscriptTail(data) {
    var turns = state.open.turns.slice(-10);
    return turns.some(function (turn) {
      return !turn.message_id && turn.sender === data.sender && turn.text === data.text;
    });
  }

  function renderConversation(fresh) {
    if (!state.open || !state.open.ticket) {
      return;
    }
    renderConversationHeader();
    renderTranscript(fresh);
    renderComposerState();
    renderFacts();
    renderSlots();
    renderNotes();
    renderHistory();
    renderPast();
    renderMine();
  }

  function renderConversationHeader() {
    var ticket = state.open.ticket;
    $("conversation-title").textContent = ticket.title;
    var badges = $("conversation-badges");
    clear(badges);
    badges.appendChild(badge(label("status", ticket.status), "status-" + ticket.status, "ticket-status"));
    if (ticket.priority === "urgent") {
      badges.appendChild(badge(label("priority", "urgent"), "urgent"));
    }
    badges.appendChild(badge(label("category", ticket.category), "category"));
    badges.appendChild(badge(label("language", ticket.language), "language"));
    badges.appendChild(badge(label("channel", ticket.channel), "channel"));
    if (ticket.live) {
      badges.appendChild(badge(t("conv.live"), "live"));
    }
    badges.appendChild(h("span", { cls: "small muted", text: "#" + ticket.id + " · " + (ticket.customer && ticket.customer.name ? ticket.customer.name : ticket.conversation_id) }));

    var mine = isMe(ticket.assignee_id);
    var admin = state.agent.role === "admin";
    var inProgress = ticket.status === "in_progress";
    $("transfer-button").disabled = !(inProgress && (mine || admin));
    $("release-button").disabled = !(ticket.live && (mine || admin));
    $("resolve-button").disabled = !((mine || admin) && ["pending", "in_progress", "reopened"].indexOf(ticket.status) >= 0 && (inProgress || admin));

    var banner = $("conversation-banner");
    var context = state.open.context || {};
    var notices = [];
    if (context.assistant_unreachable) {
      notices.push(t("conv.assistant_unreachable"));
    }
    if (ticket.abandoned_at && !ticket.live) {
      notices.push(t("conv.abandoned", { t: dateTime(ticket.abandoned_at) }));
    }
    banner.textContent = notices.join(" ");
    banner.className = "banner" + (context.assistant_unreachable ? " is-warning" : "");
    show(banner, notices.length > 0);
  }

  /** The ticket's channel reaches the customer outside a live chat (mail),
   * so its agent may answer whenever they like (channels.yml). */
  function deliversOffline(ticket) {
    var known = state.channels[ticket.channel];
    return Boolean(known && known.delivers_offline);
  }

  /** Why the agent cannot reply right now, or null when they can. */
  function replyBlocked() {
    var ticket = state.open && state.open.ticket;
    if (!ticket) {
      return t("conv.loading");
    }
    if (["resolved", "closed"].indexOf(ticket.status) >= 0) {
      return t("conv.done", { status: label("status", ticket.status) });
    }
    if (!ticket.assignee_id) {
      return t("conv.unassigned");
    }
    if (!isMe(ticket.assignee_id)) {
      return t("conv.not_mine", { name: ticket.assignee ? ticket.assignee.display_name : "#" + ticket.assignee_id });
    }
    if (!ticket.live && !deliversOffline(ticket)) {
      return t("conv.with_bot");
    }
    if (ticket.status !== "in_progress") {
      return label("status", ticket.status);
    }
    return null;
  }

  function renderComposerState() {
    var blocked = replyBlocked();
    var input = $("reply-input");
    input.disabled = Boolean(blocked);
    $("reply-send").disabled = Boolean(blocked) || Boolean(state.open && state.open.sending);
    var note = $("reply-state");
    var undelivered = !blocked && state.open && state.open.undelivered;
    var hint = state.open && state.open.ticket && !state.open.ticket.live ? t("reply.by_mail") : t("reply.hint");
    note.textContent = blocked || (undelivered ? t("reply.failed", { reason: undelivered }) : hint);
    note.classList.toggle("is-blocked", Boolean(blocked || undelivered));
    document.querySelectorAll("[data-testid=suggestion-send], [data-testid=suggestion-insert]").forEach(function (node) {
      node.disabled = Boolean(blocked);
    });
  }

  // --- transcript ---------------------------------------------------------------------------

  /** Draws the transcript: from the context just loaded, or again (in
   * another language, say) from the turns shown so far, live ones included. */
  function renderTranscript(fresh) {
    var list = $("transcript");
    var open = state.open;
    var turns = fresh
      ? withAttachments(open.context.transcript || [], open.context.attachments || [])
      : open.turns;
    clear(list);
    open.turns = [];
    open.seen = {};
    turns.forEach(function (turn) {
      appendTurn(turn, false);
    });
    if (!open.turns.length) {
      list.appendChild(h("li", { cls: "transcript-empty muted", text: t("transcript.empty"), attrs: { "data-empty": "" } }));
    }
  }

  function appendTurn(turn, live) {
    var open = state.open;
    if (turn.message_id) {
      if (open.seen[turn.message_id]) {
        return;
      }
      open.seen[turn.message_id] = true;
    }
    var list = $("transcript");
    var empty = list.querySelector("[data-empty]");
    if (empty) {
      empty.remove();
    }
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    open.turns.push(turn);
    list.appendChild(renderTurn(turn));
    if (live) {
      scrollTranscript(nearBottom || turn.sender === "agent");
    }
  }

  function renderTurn(turn) {
    var sender = ["customer", "bot", "agent", "system"].indexOf(turn.sender) >= 0 ? turn.sender : "bot";
    if (sender === "system") {
      var key = turn.text === "pause" ? "transcript.pause" : turn.text === "resume" ? "transcript.resume" : null;
      return h("li", { cls: "turn turn-system", testid: "message", attrs: { "data-sender": "system" } }, [
        h("span", { cls: "turn-system-text", text: (key ? t(key) : turn.text) + (turn.at ? " · " + clock(turn.at) : "") })
      ]);
    }
    var author = sender === "agent"
      ? (turn.agent_name || t("sender.agent"))
      : t("sender." + sender);
    var meta = [h("span", { cls: "turn-time", text: turn.saved ? t("transcript.saved") : clock(turn.at) })];
    if (sender === "customer" && turn.intent) {
      var confidence = typeof turn.confidence === "number" ? " · " + Math.round(turn.confidence * 100) + "%" : "";
      meta.push(h("span", {
        cls: "turn-intent",
        testid: "message-intent",
        text: t("transcript.intent") + ": " + turn.intent + confidence
      }));
    }
    var buttons = null;
    if (turn.buttons && turn.buttons.length) {
      buttons = h("div", { cls: "turn-buttons" }, turn.buttons.map(function (title) {
        return h("span", { cls: "chip", text: title });
      }));
    }
    return h("li", {
      cls: "turn turn-" + sender + (turn.saved ? " is-saved" : ""),
      testid: "message",
      attrs: { "data-sender": sender, "data-message-id": turn.message_id || null, "data-saved": turn.saved ? "" : null }
    }, [
      h("div", { cls: "turn-author", text: author }),
      turn.attachment
        ? h("div", { cls: "turn-bubble turn-attachment", testid: "message-attachment" }, [renderAttachment(turn.attachment)])
        : h("div", { cls: "turn-bubble", testid: "message-text", text: turn.text || "" }),
      buttons,
      h("div", { cls: "turn-meta" }, meta)
    ]);
  }

  // --- customers' files ---------------------------------------------------------------------

  /** A file the customer sent, as a turn of the transcript. */
  function attachmentTurn(attachment) {
    return { sender: "customer", attachment: attachment, message_id: "attachment-" + attachment.id, at: attachment.created_at };
  }

  /** The transcript with the ticket's files among its turns, by time. */
  function withAttachments(turns, attachments) {
    var files = attachments.map(attachmentTurn);
    var merged = [];
    turns.forEach(function (turn) {
      while (files.length && turn.at && files[0].at < turn.at) {
        merged.push(files.shift());
      }
      merged.push(turn);
    });
    return merged.concat(files);
  }

  /** An image as a thumbnail opening the full picture; any other file as a
   * download link with its kind and size. */
  function renderAttachment(attachment) {
    var url = "/api/attachments/" + encodeURIComponent(attachment.id);
    if (attachment.image) {
      var image = h("img", { cls: "turn-image", attrs: { src: url, alt: attachment.name, loading: "lazy" } });
      // The picture grows the transcript once loaded: keep the end in view.
      image.addEventListener("load", function () {
        var list = $("transcript");
        if (list.scrollHeight - list.scrollTop - list.clientHeight < image.offsetHeight + 80) {
          list.scrollTop = list.scrollHeight;
        }
      });
      return h("a", { cls: "turn-image-link", testid: "attachment-image", title: t("transcript.open_image"), attrs: { href: url, target: "_blank", rel: "noopener noreferrer" } }, [image]);
    }
    var kind = attachment.name.indexOf(".") >= 0 ? attachment.name.split(".").pop().toUpperCase().slice(0, 4) : "FILE";
    return h("a", { cls: "turn-file", testid: "attachment-file", attrs: { href: url, download: attachment.name, rel: "noopener noreferrer" } }, [
      h("span", { cls: "turn-file-kind", text: kind }),
      h("span", { cls: "turn-file-name", text: attachment.name }),
      h("span", { cls: "turn-file-size", text: fileSize(attachment.size) })
    ]);
  }

  function fileSize(bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    if (bytes < 1024 * 1024) {
      return Math.round(bytes / 1024) + " KB";
    }
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function scrollTranscript(force) {
    var list = $("transcript");
    if (force) {
      list.scrollTop = list.scrollHeight;
    }
  }

  // --- replying -------------------------------------------------------------------------------

  function newClientMessageId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (byte) {
      return ("0" + byte.toString(16)).slice(-2);
    }).join("");
  }

  function sendReply(text) {
    var open = state.open;
    text = (text || "").trim();
    if (!open || !text || open.sending || replyBlocked()) {
      return Promise.resolve(false);
    }
    open.sending = true;
    stopTyping();
    // A reply keeps its id until it is sent, so sending it again after an
    // error or a timeout reaches the customer once.
    if (!open.pendingReply || open.pendingReply.text !== text) {
      open.pendingReply = { text: text, id: newClientMessageId() };
    }
    var sendButton = $("reply-send");
    sendButton.textContent = t("reply.sending");
    renderComposerState();
    var body = { text: text, client_message_id: open.pendingReply.id };
    return api("POST", "/api/tickets/" + open.id + "/messages", body).then(function (message) {
      open.pendingReply = null;
      open.undelivered = null;
      if (state.open === open) {
        appendTurn(turnFromEvent(message), true);
      }
      return true;
    }, function (error) {
      if (error.code === "delivery_failed") {
        open.undelivered = error.message;
      } else {
        reportError(error);
      }
      return false;
    }).then(function (sent) {
      open.sending = false;
      sendButton.textContent = t("reply.send");
      if (state.open === open) {
        renderComposerState();
      }
      return sent;
    });
  }

  function submitReply(event) {
    if (event) {
      event.preventDefault();
    }
    var input = $("reply-input");
    var text = input.value;
    if (!text.trim()) {
      return;
    }
    sendReply(text).then(function (sent) {
      if (sent && input.value === text) {
        input.value = "";
      }
      input.focus();
    });
  }

  // --- typing ---------------------------------------------------------------------------------

  var TYPING_REPEAT_MS = 3000;
  var TYPING_IDLE_MS = 4000;

  /** Customers on channels that can show it see the agent typing: the
   * bridge hears about it at most every 3 s while keys go down, and a stop
   * once the agent pauses, clears the box, sends or leaves. */
  function onReplyInput() {
    var open = state.open;
    if (!open || replyBlocked() || !$("reply-input").value.trim()) {
      stopTyping();
      return;
    }
    var now = Date.now();
    if (!state.typing) {
      state.typing = { ticketId: open.id, sentAt: 0, timer: null };
    }
    if (now - state.typing.sentAt >= TYPING_REPEAT_MS) {
      state.typing.sentAt = now;
      send({ action: "typing", ticket_id: open.id, typing: true });
    }
    window.clearTimeout(state.typing.timer);
    state.typing.timer = window.setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    var typing = state.typing;
    if (!typing) {
      return;
    }
    window.clearTimeout(typing.timer);
    state.typing = null;
    send({ action: "typing", ticket_id: typing.ticketId, typing: false });
  }

  function onReplyKey(event) {
    // Enter while an IME is composing Chinese picks a candidate: never send.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    submitReply();
  }

  // --- agent assist -------------------------------------------------------------------------

  /** Suggestions for what the customer just wrote. The text goes along:
   * Rasa may not have stored the message in the tracker yet. */
  function scheduleSuggestions(text) {
    text = (text || "").trim();
    if (!text || text.charAt(0) === "/") {
      return;  // a button payload, not words to answer
    }
    window.clearTimeout(state.suggestTimer);
    state.suggestTimer = window.setTimeout(function () { loadSuggestions(text); }, 300);
  }

  /** Without `text` the bridge answers the customer's latest message. */
  function loadSuggestions(text) {
    var open = state.open;
    if (!open || !open.ticket || !canHandle()) {
      return;
    }
    var list = $("assist-list");
    var request = (open.suggestRequest || 0) + 1;
    open.suggestRequest = request;
    $("assist").classList.add("is-loading");
    if (!list.children.length) {
      list.appendChild(h("li", { cls: "muted small", text: t("assist.loading") }));
    }
    // Kept short: the request line has a size limit, and the start of a
    // message says what it is about.
    var query = typeof text === "string" && text ? "?text=" + encodeURIComponent(text.slice(0, 300)) : "";
    api("GET", "/api/tickets/" + open.id + "/suggestions" + query).then(function (data) {
      if (state.open !== open || open.suggestRequest !== request) {
        return;
      }
      open.suggestions = data;
      renderSuggestions();
    }, function (error) {
      if (state.open !== open || open.suggestRequest !== request) {
        return;
      }
      open.suggestions = { error: errorText(error) };
      renderSuggestions();
    }).then(function () {
      $("assist").classList.remove("is-loading");
    });
  }

  function renderSuggestions() {
    var open = state.open;
    var list = $("assist-list");
    clear(list);
    var data = open && open.suggestions;
    if (!data) {
      $("assist-for").textContent = "";
      return;
    }
    if (data.error) {
      $("assist-for").textContent = "";
      list.appendChild(h("li", { cls: "muted small", text: t("assist.failed", { e: data.error }) }));
      return;
    }
    $("assist-for").textContent = data.text ? t("assist.for", { text: truncate(data.text, 60) }) : "";
    var suggestions = data.suggestions || [];
    if (!suggestions.length) {
      list.appendChild(h("li", { cls: "muted small", text: t(data.assistant_unreachable ? "assist.unreachable" : "assist.empty") }));
      return;
    }
    var blocked = Boolean(replyBlocked());
    // Scores rank the knowledge base (they are not probabilities), so the
    // console shows the order, not the numbers.
    suggestions.forEach(function (suggestion, index) {
      var sendButton = button(t("assist.send"), "primary small-button", "suggestion-send", function (event) {
        var control = event.currentTarget;
        control.disabled = true;
        sendReply(suggestion.answer).then(function () { control.disabled = Boolean(replyBlocked()); });
      });
      sendButton.disabled = blocked;
      var insertButton = button(t("assist.insert"), "small-button", "suggestion-insert", function () {
        insertIntoReply(suggestion.answer);
      });
      insertButton.disabled = blocked;
      list.appendChild(h("li", {
        cls: "suggestion",
        testid: "suggestion",
        attrs: { "data-key": suggestion.key, title: typeof suggestion.score === "number" ? "score " + suggestion.score : null }
      }, [
        h("div", { cls: "suggestion-question" }, [
          h("span", { text: suggestion.question || suggestion.key }),
          index === 0 ? h("span", { cls: "suggestion-score", text: t("assist.best") }) : null
        ]),
        h("p", { cls: "suggestion-answer", testid: "suggestion-answer", text: suggestion.answer }),
        h("div", { cls: "suggestion-actions" }, [insertButton, sendButton])
      ]));
    });
  }

  function insertIntoReply(text) {
    var input = $("reply-input");
    if (input.disabled) {
      return;
    }
    var start = input.selectionStart || 0;
    var end = input.selectionEnd || 0;
    var before = input.value.slice(0, start);
    var after = input.value.slice(end);
    input.value = before + text + after;
    input.focus();
    var caret = before.length + text.length;
    input.setSelectionRange(caret, caret);
  }

  function truncate(text, length) {
    text = String(text);
    return text.length > length ? text.slice(0, length - 1) + "…" : text;
  }

  // --- details: facts, slots, notes, history, past tickets -------------------------------------

  function selectTab(name) {
    state.tab = name;
    document.querySelectorAll(".tab").forEach(function (tab) {
      var selected = tab.getAttribute("data-tab") === name;
      tab.classList.toggle("is-selected", selected);
      tab.setAttribute("aria-selected", selected ? "true" : "false");
    });
    document.querySelectorAll(".tab-panel").forEach(function (panel) {
      show(panel, panel.getAttribute("data-panel") === name);
    });
  }

  function renderFacts() {
    var ticket = state.open.ticket;
    var facts = $("facts");
    clear(facts);
    var csat = ticket.csat
      ? (ticket.csat.score ? t("csat.value", { score: ticket.csat.score }) : t("csat.skipped")) +
        (ticket.csat.comment ? " · " + ticket.csat.comment : "")
      : null;
    var rows = [
      ["id", "#" + ticket.id],
      ["status", label("status", ticket.status)],
      ["priority", label("priority", ticket.priority)],
      ["category", label("category", ticket.category)],
      ["skill_group", label("category", ticket.skill_group)],
      ["language", label("language", ticket.language)],
      ["channel", label("channel", ticket.channel)],
      ["customer", ticket.customer && ticket.customer.name],
      ["contact", ticket.customer && ticket.customer.contact],
      ["order_id", ticket.order_id],
      ["handoff_reason", ticket.handoff_reason ? label("reason", ticket.handoff_reason) : null],
      ["assignee", ticket.assignee ? ticket.assignee.display_name : null],
      ["conversation_id", ticket.conversation_id],
      ["source", ticket.source],
      ["description", ticket.description],
      ["created_at", ticket.created_at && dateTime(ticket.created_at)],
      ["queued_at", ticket.queued_at && dateTime(ticket.queued_at)],
      ["assigned_at", ticket.assigned_at && dateTime(ticket.assigned_at)],
      ["first_response_at", ticket.first_response_at && dateTime(ticket.first_response_at)],
      ["resolved_at", ticket.resolved_at && dateTime(ticket.resolved_at)],
      ["abandoned_at", ticket.abandoned_at && dateTime(ticket.abandoned_at)],
      ["csat", csat]
    ];
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") {
        return;
      }
      facts.appendChild(h("div", { cls: "fact", attrs: { "data-field": row[0] } }, [
        h("dt", { text: t("field." + row[0]) }),
        h("dd", { text: row[1] })
      ]));
    });
  }

  function renderSlots() {
    var body = $("slots-body");
    clear(body);
    var slots = (state.open.context && state.open.context.slots) || {};
    var names = Object.keys(slots);
    var first = ["order_id", "category", "priority"];
    names.sort(function (a, b) {
      var ia = first.indexOf(a);
      var ib = first.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    names.forEach(function (name) {
      body.appendChild(h("tr", { testid: "slot", attrs: { "data-slot": name } }, [
        h("th", { text: slotLabel(name), title: name }),
        h("td", { text: slotValue(name, slots[name]) })
      ]));
    });
    if (!names.length) {
      body.appendChild(h("tr", {}, [h("td", { cls: "muted", text: t("slots.empty"), attrs: { colspan: "2" } })]));
    }
  }

  function slotLabel(name) {
    var key = "slot." + name;
    return MESSAGES[state.lang][key] ? t(key) : name;
  }

  function slotValue(name, value) {
    if (name === "category") {
      return label("category", value);
    }
    if (name === "priority") {
      return label("priority", value);
    }
    if (name === "language") {
      return label("language", value);
    }
    if (name === "handoff_reason") {
      return label("reason", value);
    }
    if (typeof value === "boolean") {
      return t(value ? "yes" : "no");
    }
    if (value !== null && typeof value === "object") {
      return JSON.stringify(value);
    }
    return String(value);
  }

  function renderNotes() {
    var list = $("notes-list");
    clear(list);
    var notes = state.open.notes || [];
    notes.slice().reverse().forEach(function (note) {
      list.appendChild(renderNote(note));
    });
    if (!notes.length) {
      list.appendChild(h("li", { cls: "muted small", text: t("notes.empty"), attrs: { "data-empty": "" } }));
    }
    $("notes-count").textContent = String(notes.length);
  }

  function renderNote(note) {
    return h("li", { cls: "note", testid: "note", attrs: { "data-note-id": note.id } }, [
      h("div", { cls: "note-meta" }, [
        h("span", { cls: "note-author", text: note.author }),
        h("span", { cls: "muted", text: dateTime(note.created_at) })
      ]),
      h("p", { cls: "note-text", text: note.text })
    ]);
  }

  function addNote(note) {
    var open = state.open;
    if (open.notes.some(function (existing) { return existing.id === note.id; })) {
      return;
    }
    open.notes.push({ id: note.id, author: note.author, text: note.text, created_at: note.created_at });
    renderNotes();
  }

  function submitNote(event) {
    event.preventDefault();
    var open = state.open;
    var input = byTestId("note-input");
    var text = input.value.trim();
    if (!open || !text) {
      return;
    }
    var submit = byTestId("note-submit");
    submit.disabled = true;
    api("POST", "/api/tickets/" + open.id + "/notes", { text: text }).then(function (note) {
      if (state.open === open) {
        addNote(note);
      }
      if (input.value.trim() === text) {
        input.value = "";
      }
      toast(t("toast.note_added"), "success");
    }, reportError).then(function () {
      submit.disabled = false;
    });
  }

  function refreshHistory() {
    var open = state.open;
    if (!open || open.loading) {
      return;
    }
    window.clearTimeout(open.historyTimer);
    open.historyTimer = window.setTimeout(function () {
      api("GET", "/api/tickets/" + open.id).then(function (ticket) {
        if (state.open !== open) {
          return;
        }
        open.history = ticket.history || [];
        (ticket.notes || []).forEach(function (note) {
          if (!open.notes.some(function (existing) { return existing.id === note.id; })) {
            open.notes.push(note);
          }
        });
        renderHistory();
        renderNotes();
      }, function () { /* the activity list can wait for the next change */ });
    }, 300);
  }

  function renderHistory() {
    var list = $("history-list");
    clear(list);
    var history = state.open.history || [];
    history.slice().reverse().forEach(function (event) {
      var details = event.details || {};
      var extra = [];
      if (event.from_status || event.to_status) {
        extra.push(label("status", event.from_status) + " → " + label("status", event.to_status));
      }
      ["comment", "reason", "skill_group"].forEach(function (name) {
        if (details[name]) {
          extra.push(name === "skill_group" ? label("category", details[name])
            : name === "reason" ? label("reason", details[name]) : String(details[name]));
        }
      });
      list.appendChild(h("li", { cls: "history-item", testid: "history-item", attrs: { "data-name": event.name } }, [
        h("div", { cls: "history-head" }, [
          h("span", { cls: "history-name", text: label("event", event.name) }),
          h("span", { cls: "muted small", text: clock(event.at) })
        ]),
        h("div", { cls: "muted small", text: t("history.by", { actor: actorName(event.actor) }) }),
        extra.length ? h("div", { cls: "small", text: extra.join(" · ") }) : null
      ]));
    });
    if (!history.length) {
      list.appendChild(h("li", { cls: "muted small", text: t("history.empty") }));
    }
  }

  function actorName(actor) {
    if (!actor) {
      return "—";
    }
    if (actor.indexOf("agent:") === 0) {
      return actor.slice(6);
    }
    return label("actor", actor);
  }

  /** The customer tab: who the customer is across channels, and their
   * other tickets (before their record loads, this conversation's). */
  function renderPast() {
    var open = state.open;
    var found = open.customer;
    renderCustomerCard(found && found.customer);
    var list = $("past-list");
    clear(list);
    var past = found
      ? found.tickets.filter(function (ticket) { return ticket.id !== open.id; })
      : open.past || [];
    past.forEach(function (ticket) {
      var openable = ticket.openable !== false;
      var when = [t("customer.created", { t: dateTime(ticket.created_at) })];
      if (ticket.resolved_at) {
        when.push(t("customer.resolved", { t: dateTime(ticket.resolved_at) }));
      }
      var item = h("li", {
        cls: "past-item" + (openable ? " is-clickable" : " is-read-only"),
        testid: "past-ticket",
        title: openable ? null : t("customer.read_only"),
        attrs: { "data-ticket-id": ticket.id, "data-channel": ticket.channel, tabindex: openable ? "0" : null, role: openable ? "button" : null }
      }, [
        h("div", { cls: "past-head" }, [
          h("span", { cls: "ticket-item-title", text: ticket.title }),
          badge(label("status", ticket.status), "status-" + ticket.status)
        ]),
        h("div", { cls: "past-meta muted small" }, [
          badge(label("channel", ticket.channel), "channel", "past-channel"),
          h("span", { text: "#" + ticket.id + " · " + label("category", ticket.category) + " · " + when.join(" · ") })
        ]),
        ticket.description ? h("p", { cls: "small past-description", text: truncate(ticket.description, 140) }) : null
      ]);
      if (openable) {
        item.addEventListener("click", function () { openConversation(ticket.id); });
      }
      list.appendChild(item);
    });
    if (!past.length) {
      list.appendChild(h("li", { cls: "muted small", text: t("past.empty") }));
    }
    $("past-count").textContent = String(past.length);
  }

  function renderCustomerCard(customer) {
    var card = $("customer-card");
    clear(card);
    show(card, Boolean(customer));
    if (!customer) {
      return;
    }
    var keys = customer.identities.filter(function (identity) { return identity.verified; });
    var channels = [];
    state.open.customer.tickets.forEach(function (ticket) {
      var name = label("channel", ticket.channel);
      if (channels.indexOf(name) < 0) {
        channels.push(name);
      }
    });
    card.appendChild(h("div", { cls: "customer-head" }, [
      h("span", { cls: "customer-name", testid: "customer-name", text: customer.name || t("customer.unnamed") }),
      badge(t(customer.verified ? "customer.verified" : "customer.unverified"), customer.verified ? "verified" : "unverified", "customer-verified")
    ]));
    if (customer.contact) {
      card.appendChild(h("div", { cls: "small", text: customer.contact }));
    }
    keys.forEach(function (identity) {
      var kind = Object.prototype.hasOwnProperty.call(MESSAGES.zh, "identity." + identity.kind)
        ? t("identity." + identity.kind) : label("channel", identity.kind);
      card.appendChild(h("div", { cls: "muted small", testid: "customer-identity", text: kind + " · " + identity.value }));
    });
    card.appendChild(h("div", { cls: "muted small", testid: "customer-channels", text: t("customer.channels", { channels: channels.join(state.lang === "zh" ? "、" : ", ") }) }));
    if (!customer.verified) {
      card.appendChild(h("p", { cls: "small customer-note", text: t("customer.unverified_note") }));
    }
  }

  // --- transfer, resolve, release -----------------------------------------------------------

  function updateAgentCache(agent) {
    if (!agent) {
      return;
    }
    state.agents = state.agents.map(function (known) {
      return known.id === agent.id ? Object.assign({}, known, agent) : known;
    });
  }

  function openTransfer() {
    var open = state.open;
    if (!open || !open.ticket) {
      return;
    }
    var dialog = $("transfer-dialog");
    var select = $("transfer-agent");
    clear(select);
    var groups = $("transfer-skill");
    clear(groups);
    SKILL_GROUPS.forEach(function (group) {
      groups.appendChild(h("option", { text: label("category", group), attrs: { value: group } }));
    });
    groups.value = open.ticket.skill_group || "general";
    $("transfer-form").reset();
    groups.value = open.ticket.skill_group || "general";
    setTransferTarget("agent");
    dialog.showModal();
    api("GET", "/api/agents").then(function (data) {
      state.agents = data.agents || [];
      renderTransferAgents();
    }, reportError);
  }

  function renderTransferAgents() {
    var select = $("transfer-agent");
    clear(select);
    var order = { online: 0, away: 1, offline: 2 };
    var candidates = state.agents.filter(function (agent) {
      return !isMe(agent.id) && (agent.role === "agent" || agent.role === "admin");
    }).sort(function (a, b) {
      return (order[a.presence] - order[b.presence]) || (a.active / a.capacity - b.active / b.capacity);
    });
    candidates.forEach(function (agent) {
      var text = agent.display_name + " · " + label("presence", agent.presence) + " · " +
        t("transfer.load", { a: agent.active || 0, c: agent.capacity });
      select.appendChild(h("option", { text: text, attrs: { value: agent.id, disabled: agent.presence === "offline" } }));
    });
    if (!candidates.length) {
      select.appendChild(h("option", { text: t("transfer.none"), attrs: { value: "", disabled: true } }));
      setTransferTarget("group");
    }
    var firstEnabled = candidates.filter(function (agent) { return agent.presence !== "offline"; })[0];
    if (firstEnabled) {
      select.value = String(firstEnabled.id);
    }
  }

  function setTransferTarget(target) {
    var form = $("transfer-form");
    form.querySelector('input[name=target][value="' + target + '"]').checked = true;
    show($("transfer-agent-field"), target === "agent");
    show($("transfer-group-field"), target === "group");
  }

  function submitTransfer(event) {
    event.preventDefault();
    var open = state.open;
    var form = $("transfer-form");
    var target = form.querySelector("input[name=target]:checked").value;
    var comment = form.elements.comment.value.trim();
    var body = comment ? { comment: comment } : {};
    if (target === "agent") {
      var agentId = parseInt($("transfer-agent").value, 10);
      if (!agentId) {
        return;
      }
      body.agent_id = agentId;
    } else {
      body.skill_group = $("transfer-skill").value;
    }
    var submit = byTestId("transfer-submit");
    submit.disabled = true;
    api("POST", "/api/tickets/" + open.id + "/transfer", body).then(function (ticket) {
      $("transfer-dialog").close();
      toast(t("toast.transferred"), "success");
      if (state.open === open) {
        open.ticket = ticket;
        renderConversationHeader();
        renderComposerState();
        renderFacts();
      }
      state.mine = state.mine.filter(function (item) { return item.id !== ticket.id; });
      renderMine();
      scheduleRefresh();
    }, reportError).then(function () {
      submit.disabled = false;
    });
  }

  // --- profile ---------------------------------------------------------------------------------

  /** What customers see of the agent: their name and picture. */
  function openProfile() {
    if (!canHandle()) {
      return;
    }
    var form = $("profile-form");
    form.elements.display_name.value = state.agent.display_name || "";
    form.elements.avatar_url.value = state.agent.avatar_url || "";
    $("profile-dialog").showModal();
  }

  function submitProfile(event) {
    event.preventDefault();
    var form = $("profile-form");
    var avatar = form.elements.avatar_url.value.trim();
    var body = { display_name: form.elements.display_name.value.trim(), avatar_url: avatar || null };
    var submit = byTestId("profile-save");
    submit.disabled = true;
    api("PATCH", "/api/agents/me", body).then(function (agent) {
      $("profile-dialog").close();
      state.agent = Object.assign({}, state.agent, agent);
      renderAgent();
      toast(t("toast.profile_saved"), "success");
    }, reportError).then(function () {
      submit.disabled = false;
    });
  }

  function openResolve() {
    $("resolve-form").reset();
    $("resolve-dialog").showModal();
  }

  function submitResolve(event) {
    event.preventDefault();
    var open = state.open;
    var comment = $("resolve-form").elements.comment.value.trim();
    var body = { status: "resolved" };
    if (comment) {
      body.comment = comment;
    }
    var submit = byTestId("resolve-confirm");
    submit.disabled = true;
    api("PATCH", "/api/tickets/" + open.id + "/status", body).then(function (ticket) {
      $("resolve-dialog").close();
      toast(t("toast.resolved"), "success");
      if (state.open === open) {
        open.ticket = ticket;
        renderConversationHeader();
        renderComposerState();
        renderFacts();
        reloadSoon(open);
      }
      state.mine = state.mine.filter(function (item) { return item.id !== ticket.id; });
      renderMine();
      scheduleRefresh();
    }, reportError).then(function () {
      submit.disabled = false;
    });
  }

  /** The bot's reply to being handed the conversation back is not relayed
   * live (the ticket is no longer live), so read the transcript again. */
  function reloadSoon(open) {
    window.setTimeout(function () {
      if (state.open === open) {
        openConversation(open.id, { keepTab: true });
      }
    }, 1200);
  }

  function release() {
    var open = state.open;
    confirmDialog(t("release.title"), t("release.body"), t("release.confirm")).then(function (ok) {
      if (!ok || state.open !== open) {
        return;
      }
      api("POST", "/api/tickets/" + open.id + "/release").then(function (ticket) {
        toast(t("toast.released"), "success");
        open.ticket = ticket;
        renderConversationHeader();
        renderComposerState();
        upsertList(state.mine, ticket);
        renderMine();
        reloadSoon(open);
      }, reportError);
    });
  }

  function confirmDialog(title, body, ok) {
    var dialog = $("confirm-dialog");
    $("confirm-title").textContent = title;
    $("confirm-body").textContent = body;
    $("confirm-ok").textContent = ok;
    return new Promise(function (resolve) {
      function done() {
        dialog.removeEventListener("close", done);
        resolve(dialog.returnValue === "ok");
      }
      dialog.returnValue = "";
      dialog.addEventListener("close", done);
      dialog.showModal();
    });
  }

  // --- wiring ---------------------------------------------------------------------------------

  function renderAll() {
    if (!state.agent) {
      return;
    }
    renderAgent();
    renderLists();
    if (state.socket) {
      setConnection(state.socket.readyState === WebSocket.OPEN ? "online" : "connecting");
    }
    if (state.open && state.open.ticket && !state.open.loading) {
      var scroll = $("transcript").scrollTop;
      renderConversation();
      $("transcript").scrollTop = scroll;
      renderSuggestions();
    }
  }

  function bind() {
    $("login-form").addEventListener("submit", login);
    $("lang-switch").addEventListener("change", function (event) {
      setLanguage(event.target.value, true);
    });
    $("logout-button").addEventListener("click", logout);
    byTestId("presence-select").addEventListener("change", choosePresence);
    $("reply-form").addEventListener("submit", submitReply);
    $("reply-input").addEventListener("keydown", onReplyKey);
    $("reply-input").addEventListener("input", onReplyInput);
    $("assist-refresh").addEventListener("click", function () {
      var data = state.open && state.open.suggestions;
      loadSuggestions(data && data.text ? data.text : undefined);
    });
    $("note-form").addEventListener("submit", submitNote);
    byTestId("note-input").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        submitNote(event);
      }
    });
    $("transfer-button").addEventListener("click", openTransfer);
    $("transfer-form").addEventListener("submit", submitTransfer);
    $("transfer-form").querySelectorAll("input[name=target]").forEach(function (radio) {
      radio.addEventListener("change", function () { setTransferTarget(radio.value); });
    });
    $("resolve-button").addEventListener("click", openResolve);
    $("resolve-form").addEventListener("submit", submitResolve);
    byTestId("agent-name").addEventListener("click", openProfile);
    $("profile-form").addEventListener("submit", submitProfile);
    $("release-button").addEventListener("click", release);
    document.querySelectorAll("dialog [data-close]").forEach(function (control) {
      control.addEventListener("click", function () { control.closest("dialog").close(); });
    });
    document.querySelectorAll(".tab").forEach(function (tab) {
      tab.addEventListener("click", function () { selectTab(tab.getAttribute("data-tab")); });
    });
    window.setInterval(tick, 1000);
    document.addEventListener("visibilitychange", updateTitle);
  }

  function boot() {
    bind();
    setLanguage(initialLanguage(), false);
    selectTab("info");
    api("GET", "/api/session", undefined, { allow401: true }).then(function (data) {
      startConsole(data.agent);
    }, function (error) {
      showLogin(error.status === 401 || error.status === 0 ? "" : errorText(error));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", boot);
  } else {
    boot();
  }
})();
