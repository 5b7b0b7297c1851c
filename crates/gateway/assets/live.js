// Live transcript of one meeting (PROTOCOL.md §2).
//
// Segments are keyed by segment_id, each an inline <span class="segment"> inside a paragraph
// (<p class="line">, its start time shown once): live finals are a few words each, so they
// flow into paragraphs that end at a pause (over 1.5 s), at a sentence end once the paragraph
// is long enough to read on its own, when it grows too long, or when another stream speaks.
// A partial is provisional (class "partial": grey, italic), shown after the finals (in the
// last paragraph when it continues it) and replaced in place by later partials of its
// segment; an empty partial without words withdraws it. A final settles its span (class
// "final") and never changes again. Finals stay in the order they arrived, which is seq
// order, the stored order.
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
const lines = new Map(); // segment_id -> <span class="segment">
let lastSeq = null; // seq of the newest message applied
let retry = 0;
let timer = null; // pending reconnect
let stopped = false; // refused for good, or leaving for sign-in
let follow = true; // keep the newest line in view

// When a paragraph ends (milliseconds, characters).
const PAUSE_MS = 1500;
const SENTENCE_MIN_CHARS = 120;
const MAX_CHARS = 400;

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
  const line = el.parentElement;
  // Take the space that separated it from its neighbour along.
  const gap = el.previousSibling?.nodeType === Node.TEXT_NODE ? el.previousSibling : el.nextSibling;
  if (gap?.nodeType === Node.TEXT_NODE) gap.remove();
  el.remove();
  lines.delete(id);
  if (line && !line.querySelector(".segment")) line.remove();
  return true;
}

// The stream a segment belongs to (its id's first 64 bits, PROTOCOL.md: version-8 ids built
// from the stream id), so two bots never share a paragraph.
function streamOf(id) {
  return id.replace(/-/g, "").slice(0, 16);
}

// Does a segment continue paragraph `line` (judged by the line's finals)?
function continues(line, el) {
  if (!line || line.dataset.stream !== el.dataset.stream) return false;
  const end = Number(line.dataset.endMs);
  const chars = Number(line.dataset.chars);
  if (Number(el.dataset.startMs) > end + PAUSE_MS) return false;
  if (line.dataset.sentenceEnd === "1" && chars >= SENTENCE_MIN_CHARS) return false;
  return chars + 1 + el.lastChild.textContent.length <= MAX_CHARS;
}

function newLine(el) {
  const line = document.createElement("p");
  line.className = "line";
  const time = document.createElement("time");
  time.textContent = clock(Number(el.dataset.startMs) || 0);
  line.append(time);
  line.dataset.stream = el.dataset.stream;
  line.dataset.endMs = el.dataset.startMs;
  line.dataset.chars = "0";
  line.dataset.sentenceEnd = "0";
  return line;
}

// Adds `el` at the end of `line`, after a space.
function appendTo(line, el) {
  if (line.querySelector(".segment")) line.append(document.createTextNode(" "));
  line.append(el);
}

// The paragraph holding the newest final.
function lastFinalLine() {
  const finals = pane.querySelectorAll(".segment.final");
  return finals.length ? finals[finals.length - 1].parentElement : null;
}

// Puts a newly settled final after the others, then the open partials after it.
function placeFinal(el) {
  const partials = [...pane.querySelectorAll(".segment.partial")];
  for (const p of partials) {
    remove(p.dataset.segmentId); // detached for now, placed again below
    lines.set(p.dataset.segmentId, p);
  }
  if (el.parentElement) remove(el.dataset.segmentId);
  lines.set(el.dataset.segmentId, el);
  let line = lastFinalLine();
  if (!continues(line, el)) {
    line = newLine(el);
    pane.append(line);
  }
  appendTo(line, el);
  const text = el.lastChild.textContent;
  line.dataset.endMs = String(Math.max(Number(line.dataset.endMs), Number(el.dataset.endMs) || 0));
  line.dataset.chars = String(Number(line.dataset.chars) + 1 + text.length);
  line.dataset.sentenceEnd = /[.?!]["')]*$/.test(text.trim()) ? "1" : "0";
  for (const p of partials) placePartial(p);
}

function placePartial(el) {
  if (el.parentElement) return; // already shown: updated in place
  const last = pane.lastElementChild;
  const finalLine = lastFinalLine();
  if (last && last === finalLine && continues(finalLine, el)) {
    appendTo(finalLine, el);
  } else if (last && last !== finalLine && last.dataset.stream === el.dataset.stream) {
    appendTo(last, el); // another partial of the same stream's open paragraph
  } else {
    const line = newLine(el);
    pane.append(line);
    appendTo(line, el);
  }
}

// Applies one segment; true when the page changed.
function apply(seg) {
  if (typeof seg.segment_id !== "string") return false;
  let el = lines.get(seg.segment_id);
  if (el && el.classList.contains("final")) return false; // a final never changes
  if (isWithdrawal(seg)) return remove(seg.segment_id);
  if (!el) {
    el = document.createElement("span");
    el.className = "segment";
    el.dataset.segmentId = seg.segment_id;
    el.dataset.stream = streamOf(seg.segment_id);
    const text = document.createElement("span");
    text.className = "text";
    el.append(text);
    lines.set(seg.segment_id, el);
  }
  el.dataset.startMs = String(Number(seg.start_ms) || 0);
  el.dataset.endMs = String(Number(seg.end_ms) || 0);
  el.lastChild.textContent = typeof seg.text === "string" ? seg.text : "";
  if (seg.is_final) {
    el.classList.remove("partial");
    el.classList.add("final");
    el.removeAttribute("aria-hidden");
    placeFinal(el);
  } else {
    el.classList.add("partial");
    el.setAttribute("aria-hidden", "true"); // screen readers announce settled lines only
    placePartial(el);
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
