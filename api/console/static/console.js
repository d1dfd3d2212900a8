// GridSight review console: plain JavaScript, no build step, nothing loaded from the network.
// It calls the ticket API with the signed-in user's credentials; the API enforces every role.
"use strict";

const API = "/api/v1";
const STORE = "gridsight.console.credentials";
const CONFIG = JSON.parse(document.querySelector('meta[name="gridsight-config"]').content || "{}");
// Who may do what (shown by role; the API checks again: api/auth.py PERMISSIONS).
const MAY = {
  review: ["operator", "dispatcher", "admin"],
  dispatch: ["dispatcher", "admin"],
  original: ["dispatcher", "admin"],  // an upload's unblurred original (evidence.original)
};
const REASONS = {  // reject reasons: key, English, Chinese
  not_a_problem: ["r", "Not a problem", "不是问题"],
  wrong_class: ["w", "Wrong class", "类别错误"],
  privacy: ["p", "Privacy", "隐私"],
};
const KEYS = [
  ["j / ↓", "next detection", "下一条"], ["k / ↑", "previous detection", "上一条"],
  ["c", "confirm the detection", "确认"], ["r", "reject: not a problem (mutes the place)", "驳回：不是问题"],
  ["w", "reject: wrong class (mutes the place)", "驳回：类别错误"], ["p", "reject: privacy", "驳回：隐私"],
  ["u", "duplicate of another ticket", "重复工单"], ["d", "dispatch to a department", "派遣"],
  ["o / Enter", "open the full evidence", "查看证据大图"], ["g", "reload the queue", "刷新"],
  ["?", "this help", "帮助"], ["Esc", "close", "关闭"],
];

const state = {
  cred: null, me: null, items: [], sel: -1, next: null, loading: false,
  types: {}, cameras: {}, departments: [], grids: [], blobs: new Map(), detailFor: null,
};
const $ = (sel) => document.querySelector(sel);

// ---- DOM and formatting helpers ---------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const zh = (text) => h("span", {lang: "zh"}, text);
const when = (iso) => iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "—";
function ago(iso) {
  if (!iso) return "";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 0) return "";
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
function toast(text, bad) {
  const t = $("#toast");
  t.textContent = text;
  t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.className = ""; }, bad ? 6000 : 2500);
}
const may = (what) => !!state.me && MAY[what].includes(state.me.role);

// ---- the API -----------------------------------------------------------------------------
function authHeaders() {
  const c = state.cred;
  if (!c) return {};
  return c.kind === "key" ? {"X-API-Key": c.secret} : {"Authorization": `Bearer ${c.secret}`};
}
async function api(path, opts = {}) {  // path: under /api/v1 (or a URL the API answered with)
  const r = await fetch(path.startsWith(API + "/") ? path : API + path, {...opts, headers: {...authHeaders(), ...(opts.headers || {})}});
  if (r.status === 401 && state.cred) { signOut("Signed out: the credentials expired or were revoked."); }
  if (!r.ok) {
    let detail = `${r.status}`;
    try { const b = await r.json(); detail = typeof b.detail === "string" ? b.detail : JSON.stringify(b.detail); } catch (e) { /* not JSON */ }
    const err = new Error(detail);
    err.status = r.status;
    throw err;
  }
  const type = r.headers.get("content-type") || "";
  return type.includes("json") ? r.json() : r.blob();
}
const post = (path, body) => api(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                        body: JSON.stringify(body || {})});
async function imageURL(path) {  // an authorized image as a blob: URL (an <img src> cannot send headers)
  if (state.blobs.has(path)) return state.blobs.get(path);
  const url = URL.createObjectURL(await api(path));
  state.blobs.set(path, url);
  return url;
}
function img(path, cls, alt) {
  const el = h("img", {class: cls, alt: alt || ""});
  if (path) imageURL(path).then((u) => { el.src = u; }, (e) => { el.alt = `(${e.status === 403 ? "not for your role" : "unavailable"})`; el.classList.add("missing"); });
  else el.classList.add("missing");
  return el;
}

// ---- signing in --------------------------------------------------------------------------
async function signIn(cred) {
  state.cred = cred;
  try {
    state.me = await api("/auth/me");
  } catch (e) {
    state.cred = null;
    $("#signin-error").textContent = `Sign-in failed: ${e.message}`;
    return;
  }
  localStorage.setItem(STORE, JSON.stringify(cred));
  $("#signin").hidden = true;
  for (const id of ["#tabs", "#signout", "#help-btn"]) $(id).hidden = false;
  $("#who").textContent = `${state.me.username} · ${state.me.role}`;
  document.body.dataset.role = state.me.role;
  await loadLookups();
  show("queue");
}
function signOut(message) {
  localStorage.removeItem(STORE);
  state.cred = state.me = null;
  for (const u of state.blobs.values()) URL.revokeObjectURL(u);
  state.blobs.clear();
  for (const id of ["#tabs", "#signout", "#help-btn", "#view-queue", "#view-cameras", "#view-map"]) $(id).hidden = true;
  $("#who").textContent = "";
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
}
$("#pw-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = new URLSearchParams({username: $("#username").value, password: $("#password").value});
  const r = await fetch(`${API}/auth/token`, {method: "POST", body});
  if (!r.ok) { $("#signin-error").textContent = "Wrong username or password. 用户名或密码错误。"; return; }
  $("#password").value = "";
  signIn({kind: "bearer", secret: (await r.json()).access_token});
});
$("#key-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  signIn({kind: "key", secret: $("#apikey").value.trim()});
  $("#apikey").value = "";
});
$("#signout").addEventListener("click", () => signOut());

async function loadLookups() {
  const [types, cams, grids, deps] = await Promise.all([
    api("/issue-types"), api("/cameras"), api("/grids"), api("/departments")]);
  state.types = Object.fromEntries(types.map((t) => [t.key, t]));
  state.cameras = Object.fromEntries(cams.map((c) => [c.id, c]));
  state.grids = grids;
  state.departments = deps;
  const fill = (sel, rows) => { const s = $(sel); s.length = 1; for (const [v, label] of rows) s.append(h("option", {value: v}, label)); };
  fill("#f-camera", cams.map((c) => [c.id, c.name && c.name !== c.id ? `${c.id} · ${c.name}` : c.id]));
  fill("#f-type", types.map((t) => [t.key, `${t.name_en} / ${t.name_zh}`]));
  fill("#f-grid", grids.map((g) => [g.id, g.name || g.id]));
}

// ---- tabs --------------------------------------------------------------------------------
function show(tab) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("on", b.dataset.tab === tab);
  for (const t of ["queue", "cameras", "map"]) $(`#view-${t}`).hidden = t !== tab;
  state.tab = tab;
  if (tab === "queue") loadQueue(true);
  if (tab === "cameras") loadCameras();
  if (tab === "map") loadMap();
}
for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.tab));

// ---- the queue ---------------------------------------------------------------------------
function queueQuery(after) {
  const q = new URLSearchParams({limit: "50"});
  for (const [id, name] of [["#f-camera", "camera"], ["#f-type", "type"], ["#f-grid", "grid"], ["#f-status", "status"]]) {
    if ($(id).value) q.set(name, $(id).value);
  }
  if (after) q.set("after", after);
  return q;
}
async function loadQueue(fresh) {
  if (state.loading || (!fresh && !state.next)) return;
  state.loading = true;
  try {
    const page = await api(`/review-queue?${queueQuery(fresh ? null : state.next)}`);
    if (fresh) { state.items = []; state.sel = -1; $("#list").replaceChildren(); }
    const known = new Set(state.items.map((i) => i.id));
    const added = page.items.filter((i) => !known.has(i.id));
    state.items.push(...added);
    state.next = page.next;
    for (const item of added) $("#list").append(card(item));
    if (state.sel < 0 && state.items.length) select(0);
    if (!state.items.length) $("#detail").replaceChildren(h("p", {class: "muted"}, "Nothing waiting for review. ", zh("没有待审核的检测。")));
  } catch (e) {
    toast(`Queue: ${e.message}`, true);
  } finally {
    state.loading = false;
    updateCount();
  }
}
function updateCount() { $("#count").textContent = state.items.length + (state.next ? "+" : ""); }
for (const id of ["#f-camera", "#f-type", "#f-grid", "#f-status"]) $(id).addEventListener("change", () => loadQueue(true));
$("#reload").addEventListener("click", () => loadQueue(true));

function typeName(item) {
  const t = state.types[item.issue_type];
  return [item.name_en || (t && t.name_en) || item.issue_type, item.name_zh || (t && t.name_zh) || ""];
}
function actionButtons(item) {
  const out = [];
  if (may("review")) {
    out.push(h("button", {class: "ok", "data-action": "confirm", title: "Confirm (c)", onclick: (e) => { e.stopPropagation(); act(item, "confirm"); }}, "✓ Confirm"));
    for (const [reason, [key, en]] of Object.entries(REASONS)) {
      out.push(h("button", {class: "no", "data-action": `reject:${reason}`, title: `Reject: ${en} (${key})`, onclick: (e) => { e.stopPropagation(); act(item, reason); }}, `✗ ${en}`));
    }
    out.push(h("button", {"data-action": "duplicate", title: "Duplicate (u)", onclick: (e) => { e.stopPropagation(); askDuplicate(item); }}, "Duplicate"));
  }
  if (may("dispatch") && ["new", "reopened"].includes(item.status)) {
    out.push(h("button", {"data-action": "dispatch", title: "Dispatch (d)", onclick: (e) => { e.stopPropagation(); askDispatch(item); }}, "Dispatch"));
  }
  return out.length ? h("div", {class: "actions"}, out) : null;
}
function card(item) {
  const [en, cn] = typeName(item);
  const cam = state.cameras[item.camera_id];
  return h("li", {class: "item", "data-id": item.id, onclick: () => select(state.items.indexOf(item))},
    h("div", {class: "pics"}, img(item.thumbnail_url, "thumb", "evidence frame"), img(item.crop_url, "crop", "the problem, zoomed")),
    h("div", {class: "meta"},
      h("div", {class: "title", title: `${en} / ${cn} (${item.category_code})`}, h("b", {}, en), " ", zh(cn)),
      h("div", {}, cam && cam.name ? `${cam.name} (${item.camera_id})` : (item.camera_id || item.source), item.zone_id ? ` · ${item.zone_id}` : ""),
      h("div", {}, h("span", {class: `sev ${item.severity}`}, item.severity), ` score ${Number(item.score).toFixed(2)} · `,
        h("span", {class: "status"}, item.status)),
      h("div", {class: "muted", title: "footage time 画面时间"}, `footage ${when(item.detected_at)}`),
      h("div", {class: "muted"}, item.number, item.grid_id ? ` · ${item.grid_id}` : "")),
    actionButtons(item));
}
function select(i) {
  if (!state.items.length) return;
  i = Math.max(0, Math.min(i, state.items.length - 1));
  state.sel = i;
  for (const li of document.querySelectorAll("#list .item")) li.classList.toggle("sel", Number(li.dataset.id) === state.items[i].id);
  const li = document.querySelector(`#list .item[data-id="${state.items[i].id}"]`);
  if (li) li.scrollIntoView({block: "nearest"});
  clearTimeout(select.timer);
  select.timer = setTimeout(() => showDetail(state.items[i].id), 120);  // racing through: load the last one only
  if (state.items.length - i < 10) loadQueue(false);
}
function removeItem(item) {
  const i = state.items.indexOf(item);
  if (i < 0) return;
  state.items.splice(i, 1);
  const li = document.querySelector(`#list .item[data-id="${item.id}"]`);
  if (li) li.remove();
  updateCount();
  if (!state.items.length) { state.sel = -1; loadQueue(true); return; }
  select(Math.min(i, state.items.length - 1));
}
async function act(item, what, extra) {
  if (!item || item.busy) return;
  item.busy = true;
  try {
    if (what === "confirm") await post(`/tickets/${item.id}/review`, {verdict: "confirmed"});
    else if (what === "dispatch") await post(`/tickets/${item.id}/dispatch`, extra);
    else await post(`/tickets/${item.id}/review`, {verdict: "rejected", reason: what, ...(extra || {})});
    const label = what === "confirm" ? "confirmed 已确认" : what === "dispatch" ? "dispatched 已派遣" : `rejected (${what}) 已驳回`;
    toast(`${item.number} ${label}`);
    if (what === "dispatch") { item.status = "dispatched"; item.busy = false; showDetail(item.id); refreshCard(item); return; }
    removeItem(item);
  } catch (e) {
    item.busy = false;
    toast(`${item.number}: ${e.message}`, true);
  }
}
function refreshCard(item) {
  const li = document.querySelector(`#list .item[data-id="${item.id}"]`);
  if (li) li.replaceWith(card(item));
  select(state.items.indexOf(item));
}

// ---- dialogs (duplicate, dispatch, help, big evidence) -------------------------------------
function openDialog(...content) {
  $("#dialog").replaceChildren(...content);
  $("#overlay").hidden = false;
  const first = $("#dialog").querySelector("input, select, button");
  if (first) first.focus();
}
function closeDialog() { $("#overlay").hidden = true; $("#dialog").replaceChildren(); }
$("#overlay").addEventListener("click", (e) => { if (e.target.id === "overlay") closeDialog(); });
function askDuplicate(item) {
  const earlier = state.items.find((o) => o !== item && o.camera_id === item.camera_id && o.issue_type === item.issue_type);
  const input = h("input", {name: "original", value: earlier ? earlier.number : "", placeholder: "GS-2026-000123", required: true});
  openDialog(h("form", {onsubmit: (e) => { e.preventDefault(); closeDialog(); act(item, "duplicate", {duplicate_of: input.value.trim()}); }},
    h("h2", {}, `${item.number} duplicates… `, zh("重复于")), h("label", {}, "Original ticket ", zh("原工单"), " ", input),
    h("p", {}, h("button", {type: "submit"}, "Mark duplicate (Enter)"), " ", h("button", {type: "button", onclick: closeDialog}, "Cancel (Esc)"))));
}
function askDispatch(item) {
  const routed = (state.types[item.issue_type] || {}).department_id;
  const sel = h("select", {name: "department"}, state.departments.map((d) =>
    h("option", {value: d.id, selected: d.id === (item.department_id || routed)}, `${d.name_en} / ${d.name_zh}`)));
  openDialog(h("form", {onsubmit: (e) => { e.preventDefault(); closeDialog(); act(item, "dispatch", {department_id: sel.value}); }},
    h("h2", {}, `Dispatch ${item.number} `, zh("派遣")), h("label", {}, "Department ", zh("部门"), " ", sel),
    h("p", {}, h("button", {type: "submit"}, "Dispatch (Enter)"), " ", h("button", {type: "button", onclick: closeDialog}, "Cancel (Esc)"))));
}
function showHelp() {
  openDialog(h("h2", {}, "Keyboard ", zh("快捷键")),
    h("table", {class: "keys"}, KEYS.map(([k, en, cn]) => h("tr", {}, h("td", {}, h("kbd", {}, k)), h("td", {}, en), h("td", {}, zh(cn))))),
    h("p", {class: "muted"}, may("review") ? "Rejections of camera detections mute that camera, zone and type for a while." :
      `Your role (${state.me.role}) reads only: no review actions. 当前角色只读。`),
    h("button", {onclick: closeDialog}, "Close (Esc)"));
}
$("#help-btn").addEventListener("click", showHelp);

// ---- ticket detail -------------------------------------------------------------------------
async function showDetail(id) {
  state.detailFor = id;
  const box = $("#detail");
  let t;
  try { t = await api(`/tickets/${id}`); } catch (e) { box.replaceChildren(h("p", {class: "error"}, e.message)); return; }
  const [history, feedback, review, checks] = await Promise.all([
    api(`/tickets/${id}/history`).catch(() => []), api(`/tickets/${id}/feedback`).catch(() => []),
    api(`/tickets/${id}/review`).catch(() => null), api(`/tickets/${id}/verifications`).catch(() => [])]);
  if (state.detailFor !== id) return;
  box.replaceChildren(...detailView(t, history, feedback, review, checks));
}
function evidenceFigure(t, e) {
  const label = {annotated: ["Annotated", "标注图"], raw: ["Raw (people blurred)", "原图（人像模糊）"],
                 crop: ["Problem region", "问题区域"], original: ["Original, unblurred", "原始图（未模糊）"]}[e.kind] || [e.kind, ""];
  const path = `/tickets/${t.id}/evidence?key=${encodeURIComponent(e.object_key)}`;
  const pic = img(path, "evidence", `${e.kind} evidence`);
  pic.addEventListener("click", () => openDialog(img(path, "big", e.kind), h("p", {}, h("button", {onclick: closeDialog}, "Close (Esc)"))));
  return h("figure", {}, pic, h("figcaption", {}, `${label[0]} `, zh(label[1])));
}
function detailView(t, history, feedback, review, checks) {
  const item = state.items.find((i) => i.id === t.id) || t;
  const [en, cn] = typeName(t);
  const dept = state.departments.find((d) => d.id === t.department_id);
  const kinds = (t.evidence || []).map((e) => e.kind);
  const order = ["crop", "annotated", "raw", "original"];
  const shown = (t.evidence || []).filter((e) => e.kind !== "original" || may("original"))  // as the API allows
    .sort((a, b) => (order.indexOf(a.kind) + 9) % 9 - (order.indexOf(b.kind) + 9) % 9);
  const out = [
    h("h2", {}, `${t.number} · ${en} `, zh(cn), " ", h("code", {}, t.category_code)),
    h("p", {}, h("span", {class: `sev ${t.severity}`}, t.severity), " ", h("span", {class: "status"}, t.status),
      ` · camera ${t.camera_id || "—"}${t.zone_id ? " · " + t.zone_id : ""} · score ${Number(t.score).toFixed(2)}`),
    h("p", {class: "muted"}, `footage ${when(t.detected_at)} → ${when(t.last_seen_at)} · created ${when(t.created_at)}`,
      t.location ? ` · ${t.location.address || ""} (${t.location.lat.toFixed(5)}, ${t.location.lon.toFixed(5)})` : "",
      t.grid_id ? ` · grid ${t.grid_id}` : "", dept ? ` · ${dept.name_en} / ${dept.name_zh}` : ""),
    actionButtons(item),
    h("div", {class: "evidence"}, item.crop_url && !kinds.includes("crop") ? h("figure", {},
      img(item.crop_url, "zoom", "the problem, zoomed"), h("figcaption", {}, "Problem region ", zh("问题区域"))) : null,
      shown.map((e) => evidenceFigure(t, e))),
  ];
  if (review && review.review) {
    const r = review.review;
    out.push(h("h3", {}, "Review ", zh("审核")), h("p", {}, `${r.verdict}${r.reason ? " · " + r.reason : ""} by ${r.reviewer}, ${when(r.at)}`));
  }
  if (review && review.mutes && review.mutes.length) {
    out.push(h("ul", {class: "mutes"}, review.mutes.map((m) => h("li", {}, `mute #${m.id} ${m.camera_id}/${m.zone_id || "-"} ${m.issue_type} until ${when(m.until)}${m.active ? "" : " (ended)"} · ${m.suppressed} held back`))));
  }
  out.push(h("h3", {}, "Verification ", zh("核查")));
  out.push(checks.length ? h("ul", {}, checks.map((v) => h("li", {}, `${when(v.at)} · ${v.method} · ${v.outcome} → ${v.applied}` +
    (v.frames ? ` (${v.present_frames}/${v.frames} frames)` : "") + (v.note ? ` · ${v.note}` : "")))) : h("p", {class: "muted"}, "none yet / 暂无"));
  out.push(h("h3", {}, "Feedback ", zh("反馈")));
  out.push(feedback.length ? h("ul", {}, feedback.map((f) => h("li", {}, `${when(f.at)} · ${f.author} (${f.role})` +
    (f.rating ? ` · ${"★".repeat(f.rating)}` : "") + (f.note ? ` · ${f.note}` : "") + (f.photos.length ? ` · ${f.photos.length} photo(s)` : "")))) : h("p", {class: "muted"}, "none yet / 暂无"));
  out.push(h("h3", {}, "History ", zh("处理记录")));
  out.push(h("ol", {class: "history"}, history.map((e) => h("li", {}, h("span", {class: "muted"}, when(e.at)), ` ${e.actor} · ${e.action}`,
    e.from_status !== e.to_status && e.to_status ? ` · ${e.from_status || "—"} → ${e.to_status}` : "", e.note ? ` · ${e.note}` : ""))));
  return out;
}

// ---- cameras -------------------------------------------------------------------------------
async function loadCameras() {
  let rows;
  try { rows = await api("/camera-health"); } catch (e) { toast(`Cameras: ${e.message}`, true); return; }
  const label = {online: "online 在线", offline: "offline 离线", unknown: "unknown 未知"};
  $("#cameras tbody").replaceChildren(...rows.map((c) => h("tr", {},
    h("td", {}, h("a", {href: "#", onclick: (e) => { e.preventDefault(); $("#f-camera").value = c.camera_id; show("queue"); }}, c.camera_id),
      c.name && c.name !== c.camera_id ? ` · ${c.name}` : "", c.registered ? "" : " (not in the registry)"),
    h("td", {}, h("span", {class: `state ${c.state}`}, label[c.state] || c.state)),
    h("td", {}, when(c.last_frame_at), " ", h("span", {class: "muted"}, ago(c.last_frame_at))),
    h("td", {class: "num"}, c.open_incidents), h("td", {class: "num"}, c.open_tickets),
    h("td", {}, c.grid_id || "—"), h("td", {}, c.worker || "—"))));
}

// ---- the offline map -------------------------------------------------------------------------
const SVGNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
function mercator(lat, lon) {  // Web Mercator at zoom 0: [0, 256) pixels
  const r = Math.min(Math.max(lat, -85), 85) * Math.PI / 180;
  return [256 * (lon + 180) / 360, 256 * (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2];
}
async function loadMap() {
  let geo, cams;
  try { [geo, cams] = await Promise.all([api("/tickets.geojson?limit=5000"), api("/camera-health")]); }
  catch (e) { toast(`Map: ${e.message}`, true); return; }
  const W = 960, H = 640, PAD = 30;
  const pts = [];
  for (const g of state.grids) for (const [lat, lon] of g.polygon) pts.push(mercator(lat, lon));
  for (const f of geo.features) pts.push(mercator(f.geometry.coordinates[1], f.geometry.coordinates[0]));
  for (const c of cams) if (c.location) pts.push(mercator(c.location.lat, c.location.lon));
  const svg = $("#map");
  svg.replaceChildren();
  if (!pts.length) { svg.append(s("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, "No grids, cameras or located tickets / 无数据")); return; }
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const span = Math.max(x1 - x0, y1 - y0, 1e-6);
  let scale = Math.min((W - 2 * PAD) / Math.max(x1 - x0, span / 10), (H - 2 * PAD) / Math.max(y1 - y0, span / 10));
  if (CONFIG.tiles) scale = 2 ** Math.floor(Math.log2(scale));  // whole zoom levels: tiles align
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const P = (lat, lon) => { const [x, y] = mercator(lat, lon); return [W / 2 + (x - cx) * scale, H / 2 + (y - cy) * scale]; };
  if (CONFIG.tiles) drawTiles(svg, scale, cx, cy, W, H);
  const gridLayer = s("g", {class: "grids"});
  for (const g of state.grids) {
    const xy = g.polygon.map(([lat, lon]) => P(lat, lon));
    const mx = xy.reduce((a, p) => a + p[0], 0) / xy.length, my = xy.reduce((a, p) => a + p[1], 0) / xy.length;
    gridLayer.append(s("polygon", {points: xy.map((p) => p.join(",")).join(" ")}), s("text", {x: mx, y: my, "text-anchor": "middle"}, g.name || g.id));
  }
  svg.append(gridLayer);
  const camLayer = s("g", {class: "cams"});
  for (const c of cams) {
    if (!c.location) continue;
    const [x, y] = P(c.location.lat, c.location.lon);
    camLayer.append(s("path", {d: `M${x},${y - 8} l7,12 h-14 z`, class: c.state}, s("title", {}, `${c.camera_id}: ${c.state}, ${c.open_incidents} open incidents`)));
  }
  svg.append(camLayer);
  const dots = s("g", {class: "tickets"});
  for (const f of geo.features) {
    const p = f.properties;
    const [x, y] = P(f.geometry.coordinates[1], f.geometry.coordinates[0]);
    const dot = s("circle", {cx: x, cy: y, r: 6, class: `sev ${p.severity}`, tabindex: 0},
      s("title", {}, `${p.number} ${p.name_en} / ${p.name_zh} · ${p.status}`));
    dot.addEventListener("click", () => mapInfo(p));
    dots.append(dot);
  }
  svg.append(dots);
  svg.append(s("text", {x: 10, y: H - 10, class: "legend"}, `${geo.features.length} open tickets${geo.truncated ? " (newest only)" : ""} · ▲ cameras · ▭ grids`));
}
function drawTiles(svg, scale, cx, cy, W, H) {
  const z = Math.round(Math.log2(scale)), n = 2 ** z;
  const left = cx * scale - W / 2, top = cy * scale - H / 2;
  const layer = s("g", {class: "tiles"});
  for (let tx = Math.floor(left / 256); tx * 256 < left + W; tx++) {
    for (let ty = Math.floor(top / 256); ty * 256 < top + H; ty++) {
      if (ty < 0 || ty >= n) continue;
      const href = CONFIG.tiles.replace("{z}", z).replace("{x}", ((tx % n) + n) % n).replace("{y}", ty);
      layer.append(s("image", {href, x: tx * 256 - left, y: ty * 256 - top, width: 256, height: 256}));
    }
  }
  svg.append(layer);
}
function mapInfo(p) {
  $("#map-info").replaceChildren(h("h3", {}, p.number), h("p", {}, `${p.name_en} `, zh(p.name_zh)),
    h("p", {}, `${p.severity} · ${p.status} · ${p.camera_id || ""} · ${p.grid_id || ""}`), h("p", {class: "muted"}, p.address || ""),
    p.evidence_url ? img(`/tickets/${p.ticket_id}/thumbnail?kind=crop`, "crop", "crop") : "");
}

// ---- keyboard ---------------------------------------------------------------------------------
document.addEventListener("keydown", (e) => {
  if (!state.me || e.ctrlKey || e.metaKey || e.altKey) return;
  if (!$("#overlay").hidden) { if (e.key === "Escape") { e.preventDefault(); closeDialog(); } return; }
  const tag = (e.target.tagName || "").toLowerCase();
  if (["input", "select", "textarea"].includes(tag)) { if (e.key === "Escape") e.target.blur(); return; }
  if (e.key === "?") { e.preventDefault(); showHelp(); return; }
  if (state.tab !== "queue") return;
  const item = state.items[state.sel];
  const keys = {
    j: () => select(state.sel + 1), ArrowDown: () => select(state.sel + 1),
    k: () => select(state.sel - 1), ArrowUp: () => select(state.sel - 1),
    g: () => loadQueue(true),
    o: () => item && openEvidence(item), Enter: () => item && openEvidence(item),
  };
  const reviewKeys = {c: "confirm", r: "not_a_problem", w: "wrong_class", p: "privacy"};
  let run = keys[e.key];
  if (!run && item && (e.key in reviewKeys || e.key === "u")) {
    run = may("review") ? () => (e.key === "u" ? askDuplicate(item) : act(item, reviewKeys[e.key]))
      : () => toast(`Your role (${state.me.role}) may not review. 当前角色不能审核。`, true);
  }
  if (!run && item && e.key === "d") {
    run = may("dispatch") ? () => askDispatch(item) : () => toast(`Your role (${state.me.role}) may not dispatch. 当前角色不能派遣。`, true);
  }
  if (run) { e.preventDefault(); run(); }
});
function openEvidence(item) {
  const kind = ["annotated", "raw"].find((k) => item.evidence_kinds.includes(k));
  if (!kind) return;
  openDialog(img(`/tickets/${item.id}/evidence?kind=${kind}`, "big", kind), h("p", {}, h("button", {onclick: closeDialog}, "Close (Esc)")));
}

// ---- start: credentials kept across reloads ----------------------------------------------------
(function start() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || "null");
    if (saved && saved.secret) { signIn(saved); return; }
  } catch (e) { /* nothing saved */ }
  $("#signin").hidden = false;
})();
