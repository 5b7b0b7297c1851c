// Live transcript view. Partials are shown provisional (grey, italic) and replaced in place by
// their final; finals never change. On a dropped connection it reconnects with a fresh ticket
// and `since_seq`, so nothing is lost and nothing is shown twice (lines are keyed by
// segment_id). Under a strict CSP: no inline script, text only via textContent.
"use strict";

const meetingId = decodeURIComponent(location.pathname.split("/")[2] || "");
const pane = document.getElementById("transcript");
const status = document.getElementById("status");
const lines = new Map(); // segment_id -> element
let lastSeq = null;
let retry = 0;
let closedForGood = false;

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" : "") + pad(m) + ":" + pad(s % 60);
}

function nearBottom() {
  return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 48;
}

function apply(seg) {
  let el = lines.get(seg.segment_id);
  if (el && el.classList.contains("final")) {
    return; // a final never changes
  }
  if (!el) {
    el = document.createElement("p");
    el.className = "segment";
    el.dataset.segmentId = seg.segment_id;
    const t = document.createElement("time");
    const span = document.createElement("span");
    span.className = "text";
    el.append(t, span);
    lines.set(seg.segment_id, el);
    pane.append(el);
  }
  el.querySelector("time").textContent = clock(seg.start_ms);
  el.querySelector(".text").textContent = seg.text;
  el.classList.toggle("final", seg.is_final);
  el.classList.toggle("partial", !seg.is_final);
}

function handle(msg) {
  const stick = nearBottom();
  if (msg.type === "snapshot") {
    for (const s of msg.segments) apply(s);
    for (const s of msg.partials) apply(s);
    lastSeq = msg.seq;
  } else if (msg.type === "segment") {
    if (lastSeq !== null && msg.seq <= lastSeq) return;
    apply(msg);
    lastSeq = msg.seq;
  } else if (msg.type === "error") {
    setStatus("denied", msg.message);
  }
  if (stick) pane.scrollTop = pane.scrollHeight;
}

async function ticket() {
  const token = sessionStorage.getItem("access_token");
  if (!token) return null;
  const r = await fetch("/api/v1/ws-tickets", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ meeting_id: meetingId }),
  });
  if (r.status === 401) return null;
  if (!r.ok) throw new Error("ticket refused: " + r.status);
  return (await r.json()).ticket;
}

function toLogin() {
  location.assign("/?next=" + encodeURIComponent(location.pathname));
}

async function connect() {
  let t;
  try {
    t = await ticket();
  } catch (e) {
    return reconnectLater();
  }
  if (t === null) return toLogin();
  const url = new URL("/ws/transcription/" + encodeURIComponent(meetingId), location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", t);
  if (lastSeq !== null) url.searchParams.set("since_seq", String(lastSeq));
  const ws = new WebSocket(url);
  ws.addEventListener("open", () => {
    retry = 0;
    setStatus("live", "live");
  });
  ws.addEventListener("message", (ev) => {
    try {
      handle(JSON.parse(ev.data));
    } catch (e) {
      // ignore a malformed frame rather than stop rendering
    }
  });
  ws.addEventListener("close", (ev) => {
    if (ev.code === 4001) return toLogin();
    if (ev.code === 4003 || ev.code === 4004) {
      closedForGood = true;
      return setStatus("denied", ev.code === 4004 ? "no such meeting" : "not allowed");
    }
    if (!closedForGood) reconnectLater();
  });
}

function reconnectLater() {
  setStatus("reconnecting", "reconnecting…");
  const delay = Math.min(10000, 250 * 2 ** retry) * (0.5 + Math.random() / 2);
  retry += 1;
  setTimeout(connect, delay);
}

window.nexusScribe = { lines, get lastSeq() { return lastSeq; } };
connect();
