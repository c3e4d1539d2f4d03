// The wallboard page: one EventSource, every update drawn with textContent (never parsed as HTML),
// so a rep or team name is always shown as text.
"use strict";

const LABELS = {
  en: {
    title: "Call floor", leaderboard: "Teams today", team: "Team", rep: "Rep", dials: "Dials",
    connects: "Connects", valid_connects: "Valid", talk_minutes: "Talk min", sales: "Sales / month",
    sales_today: "Sales", abandon: "Abandon rate by campaign", alerts: "Firing alerts",
    regime_30d: "30 days, line {line}", regime_24h: "24 hours, line {line}",
    no_alerts: "No alerts firing", alerts_more: "+{n} more", alerts_unavailable: "Alerts unavailable",
    alerts_not_connected: "Alerts not connected", no_campaigns: "No campaigns yet",
    stale: "NOT LIVE: data is {age} s old", no_data: "NOT LIVE: no data from the pipeline yet",
    offline: "NOT LIVE: wallboard unreachable for {age} s", on_break: "Break", before: "Before shift",
    after: "Shift over", shift: "Shift {pct} %", all_teams: "All teams", no_reps: "No reps yet today",
    ahead: "ahead of pace", behind: "behind pace", met: "target met",
    tier_next: "{rate} \u00B7 {amount} to {next}", tier_top: "{rate} \u00B7 top tier",
    awards: "Awards, month to date", awards_final: "Final places, {month}", no_leader: "No leader yet",
    no_plan: "No pay plan: {detail}", no_awards: "No awards: {detail}", no_roster: "No roster: {detail}",
    problem_csv: "ranked at month end ({by})", problem_counter: "{by} is not counted live",
    problem_roles: "leads' award: on the statement", unknown: "Not on the roster: {reps}",
    ties_split: "ties split", ties_share: "ties share",
  },
  zh: {
    title: "呼叫中心", leaderboard: "今日团队排名", team: "团队", rep: "坐席", dials: "拨打",
    connects: "接通", valid_connects: "有效通话", talk_minutes: "通话分钟", sales: "销售 / 本月",
    sales_today: "销售", abandon: "各活动放弃率", alerts: "当前告警",
    regime_30d: "30天，警戒线 {line}", regime_24h: "24小时，警戒线 {line}",
    no_alerts: "无告警", alerts_more: "另有 {n} 条", alerts_unavailable: "告警不可用", alerts_not_connected: "告警未连接", no_campaigns: "暂无活动",
    stale: "非实时：数据已 {age} 秒未更新", no_data: "非实时：尚无流水线数据",
    offline: "非实时：看板已断开 {age} 秒", on_break: "休息中", before: "未上班",
    after: "已下班", shift: "班次 {pct} %", all_teams: "全部团队", no_reps: "今日暂无坐席",
    ahead: "进度领先", behind: "进度落后", met: "已达标",
    tier_next: "{rate} \u00B7 还差 {amount} 到 {next}", tier_top: "{rate} \u00B7 最高档",
    awards: "本月奖项（截至目前）", awards_final: "{month} 最终名次", no_leader: "暂无领先者",
    no_plan: "无薪酬方案：{detail}", no_awards: "无奖项：{detail}", no_roster: "无花名册：{detail}",
    problem_csv: "月底评定（{by}）", problem_counter: "看板不实时统计 {by}",
    problem_roles: "主管奖项：见工资单", unknown: "不在花名册：{reps}",
    ties_split: "并列平分", ties_share: "并列同奖",
  },
};
const MARKS = { ahead: "\u25B2", behind: "\u25BC", met: "\u2714", none: "" };
const COLUMNS = ["dials", "connects", "valid_connects", "talk_minutes", "sales"];
const OFFLINE_AFTER_MS = 5000;
// Alert groups listed before "+N more": with the campaigns and awards the side column fits a
// 1080-line TV (tests/integration/test_wallboard_page.py checks every panel is on the screen).
const ALERT_GROUPS_SHOWN = 3;
const MIN_DRAW_MS = 250;

const params = new URLSearchParams(location.search);
const lang = params.get("lang") === "zh" ? "zh" : "en";
const T = LABELS[lang];
let lastMessageAt = Date.now();
let lastView = null;

function say(key, values) {
  let text = T[key] || key;
  for (const [name, value] of Object.entries(values || {})) text = text.replace("{" + name + "}", value);
  return text;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// One formatter: toLocaleString builds one per call, a quarter of the page's CPU at 20 updates/s.
const NUMBERS = new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US", { maximumFractionDigits: 0 });

function fmt(n) {
  return n === null || n === undefined ? "" : NUMBERS.format(Math.round(n));
}

// Commission rates as the plan writes them ("0.025") shown as "2.5 %"; the amount still to
// reach the next tier rounded UP to whole currency units ("¥2,340"): it is never less than needed.
const MONEY = new Map();
function money(amount, currency) {
  if (!MONEY.has(currency)) {
    MONEY.set(currency, new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US", {
      style: "currency", currency, currencyDisplay: "narrowSymbol", maximumFractionDigits: 0, minimumFractionDigits: 0,
    }));
  }
  return MONEY.get(currency).format(Math.ceil(Number(amount)));
}

// Award figures cut to whole units (never more than earned), prizes exact (a split prize has cents).
const MONEY_EXACT = new Map();
function moneyExact(amount, currency, digits) {
  const key = currency + digits;
  if (!MONEY_EXACT.has(key)) {
    MONEY_EXACT.set(key, new Intl.NumberFormat(lang === "zh" ? "zh-CN" : "en-US", {
      style: "currency", currency, currencyDisplay: "narrowSymbol", maximumFractionDigits: digits, minimumFractionDigits: 0,
    }));
  }
  return MONEY_EXACT.get(key).format(digits === 0 ? Math.floor(Number(amount)) : Number(amount));
}

function rate(text) {
  return +(Number(text) * 100).toFixed(2) + " %";
}

function tierText(tier, currency) {
  if (!tier) return "";
  if (tier.to_next === null) return say("tier_top", { rate: rate(tier.rate) });
  return say("tier_next", { rate: rate(tier.rate), amount: money(tier.to_next, currency), next: rate(tier.next_rate) });
}

// A rep cell's nodes are made once and then only their text, class and width change:
// rebuilding a floor's rows for every update outran a TV's browser at 2,000 CDR/s.
function cellNode(metric) {
  const root = el("div", "cell none");
  root.dataset.metric = metric;
  const parts = { root, num: el("span", "num"), of: el("span", "of"), mark: el("span", "mark"), fill: el("div", "fill") };
  const bar = el("div", "bar");
  bar.append(parts.fill);
  root.append(parts.num, parts.of, parts.mark, bar);
  return parts;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function fillCell(parts, cell) {
  const className = "cell " + cell.pace;
  if (parts.root.className !== className) parts.root.className = className;
  setText(parts.num, fmt(cell.value));
  setText(parts.of, cell.target === null ? "" : "/" + fmt(cell.target));
  setText(parts.mark, MARKS[cell.pace]);
  parts.mark.title = cell.pace === "none" ? "" : say(cell.pace);
  // scaled, not resized: the bar moves without laying the page out again
  const scale = "scaleX(" + (cell.progress === null ? 0 : Math.min(1, cell.progress)).toFixed(3) + ")";
  if (parts.fill.style.transform !== scale) parts.fill.style.transform = scale;
}

// rep -> {node, cells: {metric: parts}} of the rows on the page, and the layout they were built for
const repNodes = new Map();
let repLayout = "";

function repRow(row) {
  const node = el("div", "rep");
  node.dataset.rep = row.rep;
  const who = el("div", "who", row.rep);
  const tier = el("small", "tier");
  who.append(el("small", "", row.team), tier);
  node.append(who);
  const cells = {};
  for (const metric of COLUMNS) {
    cells[metric] = cellNode(metric);
    node.append(cells[metric].root);
  }
  repNodes.set(row.rep, { node, cells, tier });
  return node;
}

function fillRow(row, currency) {
  const { cells, tier } = repNodes.get(row.rep);
  for (const metric of COLUMNS) fillCell(cells[metric], row.cells[metric]);
  setText(tier, tierText(row.tier, currency));
  tier.dataset.rate = row.tier ? row.tier.rate : "";
  tier.dataset.toNext = row.tier && row.tier.to_next !== null ? row.tier.to_next : "";
}

function headRow() {
  const node = el("div", "rep head");
  node.append(el("div", "", T.rep));
  for (const metric of COLUMNS) node.append(el("div", "", T[metric]));
  return node;
}

function drawReps(view) {
  const box = document.getElementById("reps");
  const rows = view.reps;
  const columns = rows.length > 14 ? 2 : 1;
  const perColumn = Math.max(1, Math.ceil(rows.length / columns));
  const height = box.clientHeight || window.innerHeight * 0.85;
  const rowHeight = height / (perColumn + 1);
  const layout = JSON.stringify([lang, rowHeight.toFixed(1), rows.map((row) => [row.rep, row.team])]);
  if (layout !== repLayout) {
    repLayout = layout;
    repNodes.clear();
    box.style.setProperty("--row-font", Math.max(14, Math.min(36, rowHeight * 0.42)).toFixed(1) + "px");
    box.style.gridTemplateColumns = "repeat(" + columns + ", 1fr)";
    box.style.gridTemplateRows = "repeat(" + (perColumn + 1) + ", " + rowHeight.toFixed(1) + "px)";
    const nodes = [];
    for (let c = 0; c < columns; c++) {
      nodes.push(headRow());
      for (const row of rows.slice(c * perColumn, (c + 1) * perColumn)) nodes.push(repRow(row));
      while (nodes.length < (c + 1) * (perColumn + 1)) nodes.push(el("div", "rep"));
    }
    if (rows.length === 0) nodes.push(el("div", "rep", T.no_reps));
    box.replaceChildren(...nodes);
  }
  for (const row of rows) fillRow(row, view.currency);
}

function drawTeams(view) {
  const body = document.querySelector("#teams tbody");
  body.replaceChildren(...view.teams.map((team) => {
    const tr = el("tr", team.team === view.filters.team ? "mine" : "");
    tr.dataset.team = team.team;
    tr.append(el("td", "", team.rank), el("td", "name", team.team), el("td", "", fmt(team.cells.dials.value)),
      el("td", "", fmt(team.cells.valid_connects.value)), el("td", "", fmt(team.cells.sales.today)));
    return tr;
  }));
}

function drawCampaigns(view) {
  const box = document.getElementById("campaigns");
  if (view.campaigns.length === 0) { box.replaceChildren(el("div", "campaign", T.no_campaigns)); return; }
  box.replaceChildren(...view.campaigns.map((c) => {
    const row = el("div", "campaign" + (c.over ? " over" : ""));
    row.dataset.campaign = c.campaign;
    const rate = c.rate === null ? "\u2014" : (c.rate * 100).toFixed(2) + " %";
    const line = say("regime_" + c.regime, { line: +(c.line * 100).toFixed(2) + " %" });
    row.dataset.regime = c.regime;
    row.append(el("span", "name", c.campaign), el("span", "rate", rate), el("small", "regime", line));
    return row;
  }));
}

function drawAlerts(view) {
  const list = document.getElementById("alerts");
  // Never "no alerts" unless a source was asked and answered: without one the board cannot know.
  if (!view.alerts_connected) { list.replaceChildren(el("li", "unknown", T.alerts_not_connected)); return; }
  if (!view.alerts_available) { list.replaceChildren(el("li", "critical", T.alerts_unavailable)); return; }
  if (view.alerts.length === 0) { list.replaceChildren(el("li", "none", T.no_alerts)); return; }
  const shown = view.alerts.slice(0, ALERT_GROUPS_SHOWN);
  const hidden = view.alerts.slice(ALERT_GROUPS_SHOWN).reduce((n, group) => n + group.count, 0);
  const rows = shown.map(alertRow);
  if (hidden) rows.push(el("li", "more", say("alerts_more", { n: hidden })));
  list.replaceChildren(...rows);
}

// A group of one shows its summary ("CampaignAbandonRateHigh: Campaign camp-01 abandoned ...");
// a larger one its count and first subjects ("RepDialRateLow ×12 · rep-003, rep-007, rep-011 +9").
function alertRow(group) {
  const row = el("li", group.severity);
  Object.assign(row.dataset, { name: group.name, count: group.count, subjects: group.subjects.join(",") });
  if (group.count === 1) {
    row.textContent = group.name + (group.summary ? ": " + group.summary : group.subjects.length ? " \u00B7 " + group.subjects[0] : "");
    return row;
  }
  const subjects = group.subjects.join(", ") + (group.more ? " +" + group.more : "");
  row.textContent = group.name + " \u00D7" + group.count + (subjects ? " \u00B7 " + subjects : "");
  return row;
}

// A plan names an award in both languages ("最佳新人奖 Best new hire"): each board shows its own
// part; a name in one language only is shown as written.
function awardName(name) {
  const both = /^([^A-Za-z]*[\u3400-\u9fff][^A-Za-z]*?)\s+([A-Za-z].*)$/.exec(name);
  return both ? both[lang === "zh" ? 1 : 2] : name;
}

function placeRow(award, group, place, currency) {
  const row = el("div", "place");
  Object.assign(row.dataset, { award: award.id, group: group.group, rep: place.rep, rank: place.rank,
    value: place.value, amount: place.amount });
  const who = el("span", "who");
  if (award.within !== "floor") who.append(el("small", "", group.group)); // the team (region) it leads
  who.append(place.rep);
  const figure = award.unit === "money" ? moneyExact(place.value, currency, 0) : fmt(Number(place.value));
  row.append(el("span", "rank", (place.tied > 1 ? "=" : "") + place.rank), who,
    el("span", "figure", figure), el("span", "prize", moneyExact(place.amount, currency, 2)));
  return row;
}

function awardBlock(award, currency) {
  const block = el("div", "award");
  block.dataset.award = award.id;
  const head = el("div", "award-name", awardName(award.name));
  head.append(el("small", "", say("ties_" + award.ties)));
  block.append(head);
  if (!award.live) {
    block.append(el("div", "place muted", say("problem_" + award.problem, { by: award.by })));
    return block;
  }
  const rows = award.groups.flatMap((group) => group.places.map((place) => placeRow(award, group, place, currency)));
  block.append(...(rows.length ? rows : [el("div", "place muted", T.no_leader)]));
  return block;
}

function drawAwards(view) {
  const box = document.getElementById("awards");
  const panel = view.awards;
  box.dataset.state = panel.state;
  if (panel.state !== "ok") { box.replaceChildren(el("div", "place unknown", say(panel.state, panel))); return; }
  const nodes = panel.awards.map((award) => awardBlock(award, view.currency));
  if (panel.unknown.length) {
    const reps = panel.unknown.join(", ") + (panel.unknown_more ? " +" + panel.unknown_more : "");
    nodes.push(el("div", "place unknown", say("unknown", { reps })));
  }
  if (panel.final) {
    const final = el("div", "final");
    final.append(el("h3", "", say("awards_final", { month: panel.final.month })),
      ...panel.final.awards.filter((award) => award.live).map((award) => awardBlock(award, view.currency)));
    nodes.unshift(final);
  }
  box.replaceChildren(...nodes);
}

function drawHeader(view) {
  document.getElementById("clock").textContent = view.day + "  " + view.clock;
  const scope = [view.filters.team || T.all_teams, view.filters.campaign].filter(Boolean).join(" \u00B7 ");
  document.getElementById("scope").textContent = scope;
  const s = view.shift;
  document.getElementById("shift").textContent = s.on_break ? T.on_break
    : s.share <= 0 ? T.before : s.share >= 1 ? T.after : say("shift", { pct: Math.round(s.share * 100) });
}

function drawFreshness(view) {
  const banner = document.getElementById("stale");
  const offlineFor = Date.now() - lastMessageAt;
  let text = null;
  if (offlineFor > OFFLINE_AFTER_MS) text = say("offline", { age: Math.round(offlineFor / 1000) });
  else if (view && view.fresh.age === null) text = T.no_data;
  else if (view && view.fresh.stale) text = say("stale", { age: Math.round(view.fresh.age) });
  const changed = banner.hidden !== (text === null);
  banner.hidden = text === null;
  setText(banner, text || "");
  document.body.classList.toggle("stale", text !== null);
  if (changed && view) drawReps(view); // the banner takes height from the rows
}

function draw(view) {
  // The rows first: they read the layout's height, which any write before would make the
  // browser compute twice in one frame.
  drawFreshness(view);
  drawReps(view);
  drawHeader(view);
  drawTeams(view);
  drawCampaigns(view);
  drawAlerts(view);
  drawAwards(view);
}

function start() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = T.title;
  for (const node of document.querySelectorAll("[data-label]")) node.textContent = T[node.dataset.label];
  const query = new URLSearchParams();
  for (const key of ["team", "campaign"]) if (params.get(key)) query.set(key, params.get(key));
  const source = new EventSource("/events?" + query.toString());
  // Draw the newest view only, at most once a frame and every MIN_DRAW_MS: a browser slower
  // than the updates skips views instead of falling further behind, and a TV's CPU is not
  // spent on redraws nobody across the room can tell apart.
  let newest = null;
  let drawnAt = 0;
  const drawNewest = () => {
    drawnAt = performance.now();
    lastView = JSON.parse(newest);
    newest = null;
    draw(lastView);
  };
  source.onmessage = (event) => {
    lastMessageAt = Date.now();
    if (newest === null) {
      const wait = Math.max(0, drawnAt + MIN_DRAW_MS - performance.now());
      setTimeout(() => requestAnimationFrame(drawNewest), wait);
    }
    newest = event.data;
  };
  setInterval(() => drawFreshness(lastView), 1000);
  window.addEventListener("resize", () => lastView && drawReps(lastView));
}

document.addEventListener("DOMContentLoaded", start);
