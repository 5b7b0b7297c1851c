// The live transcript page in a real headless Chromium, driven by tests/e2e/live_page.rs.
//
// Environment: LIVE_BASE_URL (the server), LIVE_EMAIL and LIVE_PASSWORD (a user of the meeting's
// organisation), LIVE_MEETING_ID, LIVE_MEETING_TITLE. Optional LIVE_ARTIFACTS_DIR: where a
// screenshot goes when a check fails; with LIVE_SCREENSHOTS=1 also a few along the way.
//
// Conversation with the driver:
//   stdout `READY`            the live page is connected; the driver starts streaming speech
//   stdout `CHECKED`          the checks that need lines arriving are done; the driver ends
//                             the stream after the current pass over its clip
//   stdin  `{"finals":[…]}`   the stream has ended; the stored transcript, [{segment_id, text}]
//   stdout `RESULT {…}`       every check passed (exit 0); otherwise `FAIL: …` on stderr, exit 1
//
// The browser reaches the server through a small TCP proxy here, so the test can cut the
// network under the page mid-stream: Chromium's offline emulation (`context.setOffline`) fails
// new requests but leaves an open WebSocket alone, so it cannot drop the live socket.

import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";

import { Failure, check, elapsedMs, env, finish, logger, sleep, until, watchConsole, withChromium } from "./harness.mjs";

const OUTAGE_MS = 2000;
const log = logger("live_page");

async function screenshot(page, name) {
  const dir = process.env.LIVE_ARTIFACTS_DIR;
  if (!dir || !process.env.LIVE_SCREENSHOTS) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `live_page_${name}.png`) });
}
// ---------------------------------------------------------------- the network under the page

// Forwards 127.0.0.1:<port> to the server; `cut()` drops every open connection and refuses new
// ones until `restore()`.
async function startProxy(target) {
  const up = new URL(target);
  const open = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return client.destroy();
    const upstream = net.connect(Number(up.port), up.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    restore() {
      down = false;
    },
    close() {
      for (const s of open) s.destroy();
      server.close();
    },
  };
}

// ---------------------------------------------------------------- what the page shows, recorded in it

// Injected by DevTools before any page script (so not subject to the page's CSP and not part of
// the product): records, after every change of the transcript or the status, the lines, their
// style and the scroll position.
function recorder() {
  const rec = { events: [] };
  window.__liveRecorder = rec;
  document.addEventListener("DOMContentLoaded", () => {
    const pane = document.getElementById("transcript");
    const status = document.getElementById("status");
    const jump = document.getElementById("new-lines");
    if (!pane || !status || !jump) return;
    const snap = () => {
      const lines = [...pane.querySelectorAll(".segment")].map((el) => {
        const text = el.querySelector(".text");
        const style = getComputedStyle(text);
        return {
          id: el.dataset.segmentId,
          kind: el.classList.contains("final") ? "final" : el.classList.contains("partial") ? "partial" : "?",
          text: text.textContent,
          italic: style.fontStyle === "italic",
          color: style.color,
        };
      });
      rec.events.push({
        t: Date.now(),
        lines,
        status: status.dataset.state,
        scrollTop: pane.scrollTop,
        scrollHeight: pane.scrollHeight,
        clientHeight: pane.clientHeight,
        jumpShown: !jump.hidden && jump.getClientRects().length > 0,
      });
    };
    const opts = { subtree: true, childList: true, characterData: true, attributes: true };
    new MutationObserver(snap).observe(pane, opts);
    new MutationObserver(snap).observe(status, { attributes: true });
    snap();
  });
}

const events = (page) => page.evaluate(() => window.__liveRecorder.events);
const lastEvent = async (page) => (await events(page)).at(-1);
const finalsOf = (ev) => ev.lines.filter((l) => l.kind === "final").map((l) => ({ segment_id: l.id, text: l.text }));

function describe(lines) {
  return lines.map((l) => `${l.segment_id ?? l.id}: ${JSON.stringify(l.text)}`).join("\n    ") || "(none)";
}

// ---------------------------------------------------------------- the test

async function main() {
  const need = (name) => env(name, "tests/e2e/live_page.rs");
  const base = need("LIVE_BASE_URL");
  const email = need("LIVE_EMAIL");
  const password = need("LIVE_PASSWORD");
  const meetingId = need("LIVE_MEETING_ID");
  const title = need("LIVE_MEETING_TITLE");

  const stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const proxy = await startProxy(base);
  try {
    return await withChromium("live_page", process.env.LIVE_ARTIFACTS_DIR, (browser, state) =>
      run(Object.assign(state, { proxy, browser }), { base: proxy.url, email, password, meetingId, title, stdinLines }),
    );
  } finally {
    proxy.close();
  }
}

async function run(state, { base, email, password, meetingId, title, stdinLines }) {
  // A small window, so a few lines overflow the transcript pane and scrolling matters.
  const context = await state.browser.newContext({ viewport: { width: 400, height: 220 } });
  await context.addInitScript(recorder);
  const page = await context.newPage();
  state.page = page;
  // CSP violations, console errors and uncaught exceptions fail the test, except network errors
  // while the test itself has cut the network or made the token invalid (the browser logs those
  // by itself).
  const watch = await watchConsole(context, page);

  // Every transcript socket and what it received.
  const sockets = [];
  page.on("websocket", (ws) => {
    const s = { url: new URL(ws.url()), frames: [], closedAt: null };
    sockets.push(s);
    ws.on("framereceived", (f) => {
      try {
        const m = JSON.parse(f.payload);
        s.frames.push({ type: m.type, seq: m.seq, id: m.segment_id, final: m.is_final });
      } catch (e) {
        s.frames.push({ type: "unparsable" });
      }
    });
    ws.on("close", () => (s.closedAt = Date.now()));
  });

  // 1. Sign in through the form.
  await page.goto(base + "/");
  await page.locator("form#login").waitFor({ state: "visible", timeout: 10000 });
  await screenshot(page, "sign_in");
  await page.fill('input[name="email"]', "nobody@example.org");
  await page.fill('input[name="password"]', "wrong password");
  watch.tolerate(/status of 401/);
  await page.click('form#login button[type="submit"]');
  await until("the sign-in error", 10000, async () => (await page.textContent("#login-error")).trim());
  watch.tolerate(null);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.click('form#login button[type="submit"]');

  // 2. The meeting list shows the meeting, linking to its live page.
  const link = page.locator(`#meeting-list a[href="/meetings/${meetingId}/live"]`);
  await link.waitFor({ state: "visible", timeout: 10000 }).catch(() => {
    throw new Failure(`the meeting list shows no link to /meetings/${meetingId}/live`);
  });
  check((await link.textContent()) === title, `the meeting link reads ${JSON.stringify(await link.textContent())}, not the title ${JSON.stringify(title)}`);
  check(await page.evaluate(() => !!sessionStorage.getItem("access_token")), "no access token in sessionStorage after sign-in");
  await link.click();
  await page.waitForURL(`**/meetings/${meetingId}/live`, { timeout: 10000 });
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15000 }).catch(() => {
    throw new Failure("the live page did not reach the `live` state");
  });
  check(sockets.length === 1 && sockets[0].url.searchParams.has("ticket"), "the live page did not open one socket with a ticket");
  check(!sockets[0].url.searchParams.has("token"), "the access token went into the socket URL");
  console.log("READY");
  log("live page connected; the bot may stream");

  // 3. A partial shows up, provisional.
  const firstPartial = await until("a partial line", 40000, async () =>
    (await events(page)).flatMap((e) => e.lines).find((l) => l.kind === "partial"),
  );
  log("first partial", JSON.stringify(firstPartial.text));
  await screenshot(page, "partial");

  // 4. The network goes away under the page mid-stream, and comes back.
  await sleep(300);
  const before = sockets.at(-1);
  const seenBefore = Math.max(...sockets.flatMap((s) => s.frames).map((f) => f.seq ?? -1));
  watch.tolerate(/net::ERR_|WebSocket connection to .* failed/);
  const cutAt = Date.now();
  state.proxy.cut();
  log("network cut");
  await until("the socket to close after the network was cut", 5000, async () => before.closedAt !== null);
  await page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 5000 }).catch(() => {
    throw new Failure("the status indicator did not show `reconnecting` while the network was down");
  });
  await sleep(Math.max(0, cutAt + OUTAGE_MS - Date.now()));
  state.proxy.restore();
  log("network back");
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 20000 }).catch(() => {
    throw new Failure("the page did not get back to `live` within 20 s of the network coming back");
  });
  const reconnectMs = Date.now() - cutAt;
  const again = sockets.at(-1);
  check(again !== before && again.closedAt === null, "live again, but not on a new socket");
  check(again.url.searchParams.has("since_seq"), `the page reconnected without since_seq: ${again.url.pathname}${again.url.search.replace(/ticket=[^&]*/, "ticket=…")}`);
  const sinceSeq = Number(again.url.searchParams.get("since_seq"));
  const seenAtCut = Math.max(...sockets.filter((s) => s !== again).flatMap((s) => s.frames).map((f) => f.seq ?? -1));
  check(
    sinceSeq === seenAtCut,
    `reconnected with since_seq=${sinceSeq}, but the last message received before was seq ${seenAtCut}`,
  );
  log(`reconnected after ${reconnectMs} ms with since_seq=${sinceSeq} (seq ${seenBefore} when cut)`);
  await sleep(300);
  watch.tolerate(null);

  // 5. Scrolled up, the page stays put and offers the new lines; the button goes back down.
  const pane = page.locator("#transcript");
  // Twice the page's "near the bottom" margin (32 px), so the top is really "up".
  await until("the transcript to overflow its pane", 20000, async () => {
    const e = await lastEvent(page);
    return e.scrollHeight > e.clientHeight + 64;
  });
  log("transcript overflows its pane; scrolling up");
  const box = await pane.boundingBox();
  const scrolledAt = (await events(page)).length;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -5000);
  await until("the pane to scroll to the top", 3000, () => pane.evaluate((el) => el.scrollTop === 0));
  const upAt = (await events(page)).length;
  const whileUp = await until("a new line while scrolled up", 15000, async () => {
    const evs = await events(page);
    return evs.slice(upAt).find((e, i) => JSON.stringify(e.lines) !== JSON.stringify(evs[upAt + i - 1].lines));
  });
  await screenshot(page, "scrolled_up");
  check(whileUp.scrollTop === 0, `a new line moved the pane although the reader had scrolled up (scrollTop ${whileUp.scrollTop})`);
  check(whileUp.jumpShown, "no `new lines` button while scrolled up and lines arrived");
  await page.click("#new-lines");
  await until("the pane back at the bottom", 3000, () =>
    pane.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight <= 2),
  );
  check(await page.locator("#new-lines").isHidden(), "the `new lines` button stays after going down");
  const backAt = (await events(page)).length;
  log("scroll-up behaviour checked");
  console.log("CHECKED");

  // 6. The stream ends: the page ends with exactly the stored transcript.
  const next = await stdinLines.next();
  check(!next.done, "the driver closed stdin without sending the stored transcript");
  const expected = JSON.parse(next.value).finals;
  check(Array.isArray(expected) && expected.length > 0, "the driver sent no finals");
  const settled = await until("the page to show exactly the stored finals", 15000, async () => {
    const e = await lastEvent(page);
    return JSON.stringify(finalsOf(e)) === JSON.stringify(expected) && e.lines.every((l) => l.kind === "final") ? e : null;
  }).catch(async (err) => {
    const e = await lastEvent(page);
    throw new Failure(
      `${err.message}\n  page:\n    ${describe(e.lines.map((l) => ({ id: `${l.id} (${l.kind})`, text: l.text })))}\n  stored:\n    ${describe(expected)}`,
    );
  });

  await screenshot(page, "settled");

  // 7. The whole history: partials provisional before their finals, finals never changed or
  //    moved, the newest line in view whenever the reader had not scrolled up.
  const history = await events(page);
  const shownFinal = new Map();
  let partialFirst = 0;
  let partialEvents = 0;
  let followedChecks = 0;
  const seenPartial = new Set();
  for (const [i, e] of history.entries()) {
    const ids = e.lines.map((l) => l.id);
    check(new Set(ids).size === ids.length, `a segment shown twice at once: ${ids.join(", ")}`);
    for (const l of e.lines) {
      if (l.kind === "partial") {
        partialEvents += 1;
        seenPartial.add(l.id);
        check(l.italic, `a partial line is not shown provisional (italic): ${JSON.stringify(l.text)}`);
      } else if (l.kind === "final") {
        check(!l.italic, `a final line is shown provisional (italic): ${JSON.stringify(l.text)}`);
        if (!shownFinal.has(l.id)) {
          shownFinal.set(l.id, l.text);
          if (seenPartial.has(l.id)) partialFirst += 1;
        }
        check(shownFinal.get(l.id) === l.text, `final ${l.id} changed from ${JSON.stringify(shownFinal.get(l.id))} to ${JSON.stringify(l.text)}`);
      } else {
        throw new Failure(`a line that is neither partial nor final: ${JSON.stringify(l)}`);
      }
    }
    for (const [id] of shownFinal) {
      const l = e.lines.find((x) => x.id === id);
      check(l && l.kind === "final", `final ${id} disappeared or turned partial again`);
    }
    const changed = i > 0 && JSON.stringify(e.lines) !== JSON.stringify(history[i - 1].lines);
    const readerUp = i >= scrolledAt && i < backAt;
    if (changed && !readerUp && e.scrollHeight > e.clientHeight) {
      followedChecks += 1;
      check(
        e.scrollHeight - e.scrollTop - e.clientHeight <= 2,
        `the newest line is out of view after an update (scrollTop ${e.scrollTop}, height ${e.scrollHeight}, view ${e.clientHeight})`,
      );
    }
  }
  const partialStyle = history.flatMap((e) => e.lines).find((l) => l.kind === "partial");
  const finalStyle = settled.lines[0];
  check(partialStyle.color !== finalStyle.color, `partial and final lines have the same colour (${finalStyle.color})`);
  check(partialFirst > 0, "no final was shown as a partial first");
  check(followedChecks > 0, "the pane never overflowed while following: auto-scroll was not exercised");

  // 8. What the sockets carried: one snapshot, then every seq once, in order, across the
  //    reconnect (the server's half of "nothing lost, nothing twice").
  const frames = sockets.flatMap((s) => s.frames);
  check(frames[0] && frames[0].type === "snapshot", "the first socket did not start with a snapshot");
  check(frames.filter((f) => f.type === "snapshot").length === 1, "a snapshot was sent again after the reconnect");
  let seq = frames[0].seq;
  for (const f of frames.slice(1)) {
    if (f.type !== "segment") continue;
    check(f.seq === seq + 1, `after seq ${seq} the sockets carried seq ${f.seq} (${f.seq <= seq ? "duplicate" : "gap"})`);
    seq = f.seq;
  }

  // 9. A fresh page (a reload: a new socket, a new snapshot) shows the same lines.
  await page.reload();
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15000 });
  await until("the reloaded page to show exactly the stored finals", 10000, async () => {
    const e = await lastEvent(page);
    return JSON.stringify(finalsOf(e)) === JSON.stringify(expected) && e.lines.length === expected.length;
  });

  // 10. A refused access token leads back to sign-in, and from there back to this page.
  await page.evaluate(() => sessionStorage.setItem("access_token", "not-a-token"));
  watch.tolerate(/status of 401/);
  await page.reload();
  await page.waitForURL(/\/\?next=/, { timeout: 10000 }).catch(() => {
    throw new Failure(`a refused token did not lead to sign-in (at ${page.url()})`);
  });
  watch.tolerate(null);
  await page.locator("form#login").waitFor({ state: "visible", timeout: 5000 });
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', password);
  await page.click('form#login button[type="submit"]');
  await page.waitForURL(`**/meetings/${meetingId}/live`, { timeout: 10000 });
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15000 });
  await until("the page after signing in again to show the stored finals", 10000, async () =>
    JSON.stringify(finalsOf(await lastEvent(page))) === JSON.stringify(expected),
  );

  // 11. Nothing broke the CSP, nothing logged an error.
  watch.checkClean();

  return {
    finals: expected.length,
    finals_shown_partial_first: partialFirst,
    partial_updates_seen: partialEvents,
    auto_scroll_checks: followedChecks,
    sockets: sockets.length,
    since_seq: sinceSeq,
    last_seq: seq,
    outage_to_live_again_ms: reconnectMs,
    csp_violations: watch.csp.length,
    console_errors: 0,
    elapsed_ms: elapsedMs(),
  };
}

finish("live page test", 120000, main);
