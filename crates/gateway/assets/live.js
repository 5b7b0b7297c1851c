// Live transcript of one meeting (PROTOCOL.md §2).
//
// Lines are keyed by segment_id. A partial is provisional (class "partial": grey, italic) and
// is replaced in place by later partials of its segment; an empty partial without words
// withdraws it. A final settles its line (class "final") and never changes again. Finals stay in
// the order they arrived, which is seq order, the stored order; open partials follow them.
// The newest line stays in view unless the reader scrolled up; then a "New lines" button
// appears. A dropped connection is retried with backoff, a fresh single-use ticket and
// `since_seq` (the last seq applied), so nothing is missed and nothing shown twice. A refused
// access token goes back to sign-in.
// Strict CSP: no inline script or style, no eval; transcript text only ever via textContent.
"use strict";

const meetingId = decodeURIComponent(location.pathname.split("/")[2] || "");
const pane = document.getElementById("transcript");
const statusEl = document.getElementById("status");
const jump = document.getElementById("new-lines");
const lines = new Map(); // segment_id -> <p class="segment">
let lastSeq = null; // seq of the newest message applied
let retry = 0;
let timer = null; // pending reconnect
let stopped = false; // refused for good, or leaving for sign-in
let follow = true; // keep the newest line in view

function setStatus(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" : "") + pad(m) + ":" + pad(s % 60);
}

function atBottom() {
  return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 32;
}

function isWithdrawal(seg) {
  return !seg.is_final && !seg.text && !(Array.isArray(seg.words) && seg.words.length);
}

function remove(id) {
  const el = lines.get(id);
  if (!el) return false;
  el.remove();
  lines.delete(id);
  return true;
}

// Applies one segment; true when the page changed.
function apply(seg) {
  if (typeof seg.segment_id !== "string") return false;
  let el = lines.get(seg.segment_id);
  if (el && el.classList.contains("final")) return false; // a final never changes
  if (isWithdrawal(seg)) return remove(seg.segment_id);
  if (!el) {
    el = document.createElement("p");
    el.className = "segment";
    el.dataset.segmentId = seg.segment_id;
    const text = document.createElement("span");
    text.className = "text";
    el.append(document.createElement("time"), text);
    lines.set(seg.segment_id, el);
    pane.append(el);
  }
  el.firstChild.textContent = clock(Number(seg.start_ms) || 0);
  el.lastChild.textContent = typeof seg.text === "string" ? seg.text : "";
  if (seg.is_final) {
    el.classList.remove("partial");
    el.classList.add("final");
    el.removeAttribute("aria-hidden");
    pane.insertBefore(el, pane.querySelector(".segment.partial"));
  } else {
    el.classList.add("partial");
    el.setAttribute("aria-hidden", "true"); // screen readers announce settled lines only
  }
  return true;
}

function handle(msg) {
  let changed = false;
  if (msg.type === "snapshot") {
    // A whole view: partials it no longer lists are gone; finals never change.
    const open = new Set((msg.partials || []).map((p) => p.segment_id));
    for (const [id, el] of lines) {
      if (el.classList.contains("partial") && !open.has(id)) changed = remove(id) || changed;
    }
    for (const s of msg.segments || []) changed = apply(s) || changed;
    for (const s of msg.partials || []) changed = apply(s) || changed;
    lastSeq = msg.seq;
  } else if (msg.type === "segment") {
    if (lastSeq !== null && msg.seq <= lastSeq) return; // already applied
    changed = apply(msg);
    lastSeq = msg.seq;
  }
  if (!changed) return;
  if (follow) {
    pane.scrollTop = pane.scrollHeight;
  } else {
    jump.hidden = false;
  }
}

pane.addEventListener("scroll", () => {
  follow = atBottom();
  if (follow) jump.hidden = true;
});

jump.addEventListener("click", () => {
  follow = true;
  jump.hidden = true;
  pane.scrollTop = pane.scrollHeight;
});

// A single-use ticket for the socket; null when the access token is missing or refused.
async function ticket() {
  const token = sessionStorage.getItem("access_token");
  if (!token) return null;
  const r = await fetch("/api/v1/ws-tickets", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ meeting_id: meetingId }),
  });
  if (r.status === 401) return null;
  if (r.status === 403 || r.status === 404) {
    stop(r.status === 404 ? "no such meeting" : "not allowed");
    return undefined;
  }
  if (!r.ok) throw new Error("ticket refused: " + r.status);
  const body = await r.json();
  if (typeof body.ticket !== "string") throw new Error("no ticket in the answer");
  return body.ticket;
}

function stop(text) {
  stopped = true;
  setStatus("denied", text);
}

function toLogin() {
  stopped = true;
  sessionStorage.removeItem("access_token");
  location.assign("/?next=" + encodeURIComponent(location.pathname));
}

async function connect() {
  if (stopped) return;
  let t;
  try {
    t = await ticket();
  } catch (e) {
    return reconnectLater();
  }
  if (t === null) return toLogin();
  if (t === undefined) return; // refused for good
  const url = new URL("/ws/transcription/" + encodeURIComponent(meetingId), location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", t);
  if (lastSeq !== null) url.searchParams.set("since_seq", String(lastSeq));
  const ws = new WebSocket(url);
  let openedAt = null;
  ws.addEventListener("open", () => {
    openedAt = Date.now();
    setStatus("live", "live");
  });
  ws.addEventListener("message", (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return; // not JSON: ignore the frame rather than stop rendering
    }
    if (msg && typeof msg === "object") handle(msg);
  });
  ws.addEventListener("close", (ev) => {
    if (stopped) return;
    if (ev.code === 4003 || ev.code === 4004) {
      return stop(ev.code === 4004 ? "no such meeting" : "not allowed");
    }
    // Anything else, 4001 included (a ticket that expired on the way), is retried with a fresh
    // ticket; an access token that is no longer accepted shows there and leads to sign-in.
    if (openedAt !== null && Date.now() - openedAt > 10000) retry = 0;
    reconnectLater();
  });
}

function reconnectLater() {
  if (stopped) return;
  setStatus("reconnecting", "reconnecting…");
  const delay = Math.min(10000, 250 * 2 ** retry) * (0.5 + Math.random() / 2);
  retry += 1;
  timer = setTimeout(() => {
    timer = null;
    connect();
  }, delay);
}

// Back online: no need to wait out the backoff.
window.addEventListener("online", () => {
  if (timer === null) return;
  clearTimeout(timer);
  timer = null;
  connect();
});

connect();
