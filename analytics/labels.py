"""Labels of sections, metrics, tables and columns, in Chinese and English.

Keys missing here show as themselves, so a new metric is never hidden.
The definitions behind them are in docs/analytics.md.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")

LABELS: dict[str, tuple[str, str]] = {
    # report chrome
    "report_title": ("客服数据分析报告", "Customer service report"),
    "period": ("统计区间", "Period"),
    "filters": ("筛选条件", "Filters"),
    "generated_at": ("生成时间", "Generated at"),
    "no_data": ("该区间没有数据", "No data in this period"),
    "warnings": ("提示", "Warnings"),
    "contents": ("目录", "Contents"),
    "no_filters": ("无", "None"),
    "about_data": ("数据说明", "About the data"),
    "more_rows": (
        "另有 {count} 行未显示，完整数据见 {csv} 与 report.xlsx",
        "{count} more rows in {csv} and report.xlsx",
    ),
    "chart_first_bars": ("图中仅显示前 {count} 项", "The chart shows the first {count} items"),
    # warnings and stats
    "empty_period": (
        "该区间没有会话，报告为空。",
        "No conversations in this period: the report is empty.",
    ),
    "no_ticket_database": (
        "未找到工单数据库，人工服务、坐席和满意度部分为空。",
        "No ticket database: the service, agent and satisfaction sections are empty.",
    ),
    "corrupted_rows": (
        "部分对话事件的 JSON 已损坏，已跳过并计数（见数据说明）。",
        "Some tracker events had corrupted JSON; they were skipped and counted "
        "(see About the data).",
    ),
    "timezone": ("时区", "Time zone"),
    "events_read": ("本次读取事件数", "Events read this run"),
    "incremental": ("增量运行", "Incremental run"),
    "last_event_id": ("检查点（最后事件 ID）", "Checkpoint (last event id)"),
    "tickets": ("工单", "Tickets"),
    # sections
    "volume": ("咨询量", "Volume"),
    "questions": ("客户问题", "Questions"),
    "quality": ("机器人服务质量", "Bot quality"),
    "knowledge_gaps": ("知识缺口", "Knowledge gaps"),
    "service": ("响应与处理时效", "Service times"),
    "agents": ("坐席表现", "Agents"),
    "satisfaction": ("满意度", "Satisfaction"),
    "channels": ("渠道效果", "Channels"),
    # metrics
    "conversations": ("会话数", "Conversations"),
    "customer_messages": ("客户消息数", "Customer messages"),
    "bot_messages": ("机器人消息数", "Bot messages"),
    "agent_messages": ("人工消息数", "Agent messages"),
    "containment_rate": ("机器人独立解决率", "Containment rate"),
    "handoff_rate": ("转人工率", "Handoff rate"),
    "fallback_rate": ("兜底回复率", "Fallback rate"),
    "low_confidence_rate": ("低置信度率", "Low-confidence rate"),
    "abandonment_rate": ("放弃率", "Abandonment rate"),
    "bot_response_p50": ("机器人响应 P50", "Bot response p50"),
    "bot_response_p90": ("机器人响应 P90", "Bot response p90"),
    "bot_resolution_p50": ("机器人解决时长 P50", "Bot resolution p50"),
    "bot_resolution_p90": ("机器人解决时长 P90", "Bot resolution p90"),
    "human_first_response_p50": ("人工首次响应 P50", "First human response p50"),
    "human_first_response_p90": ("人工首次响应 P90", "First human response p90"),
    "queue_wait_p50": ("排队等待 P50", "Queue wait p50"),
    "queue_wait_p90": ("排队等待 P90", "Queue wait p90"),
    "human_resolution_p50": ("人工解决时长 P50", "Human resolution p50"),
    "human_resolution_p90": ("人工解决时长 P90", "Human resolution p90"),
    "csat_average": ("平均满意度", "Average CSAT"),
    "csat_responses": ("评价数", "CSAT responses"),
    "csat_response_rate": ("评价率", "CSAT response rate"),
    "csat_satisfied_share": ("满意占比（4–5 分）", "Satisfied (4–5)"),
    # tables
    "volume_by_day": ("每日咨询量", "Volume per day"),
    "volume_by_week": ("每周咨询量", "Volume per week"),
    "volume_by_hour": ("分时段消息量", "Messages by hour of day"),
    "volume_by_channel": ("各渠道咨询量", "Volume by channel"),
    "volume_by_language": ("各语言咨询量", "Volume by language"),
    "intent_distribution": ("意图分布", "Intent distribution"),
    "top_faq": ("热门 FAQ", "Top FAQ questions"),
    "weekly_topic_trends": ("热门话题周趋势", "Weekly trends of the top topics"),
    "rising_topics": ("上升话题", "Rising topics"),
    "hot_keywords": ("热词", "Hot keywords"),
    "handoff_reasons": ("转人工原因", "Why conversations went to a human"),
    "quality_by_day": ("每日服务质量", "Quality per day"),
    "response_times": ("响应与解决时长", "Response and resolution times"),
    "backlog": ("未结工单（按状态和时长）", "Open tickets by status and age"),
    "sla_breaches": ("SLA 超时", "SLA breaches"),
    "agent_performance": ("坐席绩效", "Agent performance"),
    "csat_distribution": ("满意度分布", "CSAT distribution"),
    "csat_by_week": ("满意度周趋势", "CSAT per week"),
    "csat_by_channel": ("各渠道满意度", "CSAT by channel"),
    "csat_by_category": ("各类别满意度", "CSAT by category"),
    "csat_by_agent": ("各坐席满意度", "CSAT by agent"),
    "csat_comments": ("客户评价留言", "Customer comments"),
    "channel_effectiveness": ("渠道效果对比", "Channel effectiveness"),
    # columns
    "day": ("日期", "Day"),
    "week": ("周（周一）", "Week (Monday)"),
    "hour": ("时段", "Hour"),
    "channel": ("渠道", "Channel"),
    "language": ("语言", "Language"),
    "category": ("类别", "Category"),
    "intent": ("意图", "Intent"),
    "messages": ("消息数", "Messages"),
    "share": ("占比", "Share"),
    "faq": ("FAQ 条目", "FAQ entry"),
    "topic": ("话题", "Topic"),
    "last_7_days": ("最近 7 天", "Last 7 days"),
    "previous_7_days": ("前 7 天", "Previous 7 days"),
    "growth": ("增长", "Growth"),
    "keyword": ("关键词", "Keyword"),
    "mentions": ("出现次数", "Mentions"),
    "reason": ("原因", "Reason"),
    "cluster": ("问题簇", "Cluster"),
    "distinct_questions": ("不同问法数", "Distinct questions"),
    "intent_guessed": ("识别的意图", "Intent recognised"),
    "examples": ("示例", "Examples"),
    "measure": ("指标", "Measure"),
    "p50": ("P50", "p50"),
    "p90": ("P90", "p90"),
    "count": ("样本数", "Count"),
    "status": ("状态", "Status"),
    "total": ("合计", "Total"),
    "sla": ("SLA", "SLA"),
    "threshold": ("阈值", "Threshold"),
    "breaches": ("超时数", "Breaches"),
    "breach_rate": ("超时率", "Breach rate"),
    "agent": ("坐席", "Agent"),
    "handled": ("接待数", "Handled"),
    "resolved": ("解决数", "Resolved"),
    "average_handling_time": ("平均处理时长", "Average handling time"),
    "transfers": ("转接次数", "Transfers"),
    "score": ("评分", "Score"),
    "responses": ("评价数", "Responses"),
    "ticket": ("工单", "Ticket"),
    "comment": ("留言", "Comment"),
    # values
    "bot_response": ("机器人响应", "Bot response"),
    "bot_resolution": (
        "机器人解决（未转人工会话时长）",
        "Bot resolution (contained conversations)",
    ),
    "human_first_response": ("人工首次响应", "First human response"),
    "queue_wait": ("排队等待", "Queue wait"),
    "human_resolution": ("人工解决", "Human resolution"),
    "sla_first_response": ("人工首次响应", "First human response"),
    "sla_queue_wait": ("排队等待", "Queue wait"),
    "sla_resolution": ("工单解决", "Ticket resolution"),
    "asked": ("客户主动要求", "Customer asked"),
    "fallback": ("多次未理解", "Bot did not understand"),
    "urgent": ("紧急/投诉", "Urgent or complaint"),
    "form_failure": ("流程无法完成", "Form could not finish"),
    "pending": ("待处理", "Pending"),
    "in_progress": ("处理中", "In progress"),
    "reopened": ("已重开", "Reopened"),
    # notes
    "note_weekly_topic_trends": (
        "话题 = FAQ 条目（若有）否则为意图；显示全区间最多的 5 个话题。",
        "A topic is the FAQ entry if any, else the intent; the 5 most frequent of the period.",
    ),
    "note_rising_topics": (
        "区间最后 7 天与其前 7 天相比，至少出现 3 次且有增长的话题。",
        "Topics mentioned at least 3 times in the period's last 7 days "
        "and more than in the 7 before.",
    ),
    "note_knowledge_gaps": (
        "未解答的问题（兜底、超出范围、FAQ 把握不足）按相似度聚类；"
        "候选条目已导出为 knowledge_gaps.yml。",
        "Unanswered questions (fallback, out of scope, unsure FAQ match) clustered by similarity; "
        "candidate entries are in knowledge_gaps.yml.",
    ),
    "note_response_times": (
        "机器人：每条客户消息到机器人首个回复；人工：从进入队列起计算；解决时长从工单创建起计算。",
        "Bot: from each customer message to the bot's first reply. Human: from queueing; "
        "resolution from ticket creation.",
    ),
    "note_backlog": (
        "区间结束时仍未解决的工单，按当时状态与已存在时长分组。",
        "Tickets still open at the end of the period, by their status then and their age.",
    ),
    "note_agent_performance": (
        "区间内创建并分配的工单；处理时长 = 解决时间 − 分配时间；转接为该坐席转出的次数。",
        "Tickets created in the period and assigned; handling time = resolved − assigned; "
        "transfers are those the agent made.",
    ),
}


def label(key: str, language: str) -> str:
    texts = LABELS.get(key)
    if texts is None:
        return key
    return texts[0] if language == "zh" else texts[1]
