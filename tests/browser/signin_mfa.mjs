// The sign-in page's second step in a real headless Chromium, driven by tests/e2e/signin_page.rs.
//
// Environment: SIGNIN_BASE_URL (the server), SIGNIN_EMAIL and SIGNIN_PASSWORD (a user with MFA
// on), SIGNIN_ENROL_EMAIL (a user of the same organisation, which requires MFA, who has none
// yet; same password), SIGNIN_MEETING_ID (a meeting of theirs). Optional SIGNIN_ARTIFACTS_DIR:
// where a screenshot goes when a check fails.
//
// Conversation with the driver:
//   stdout `ENROL <key>`                      the page shows the enrolling user their new key
//   stdin  `{"enrol":…}`                      the current TOTP code of that key
//   stdout `CODES`                            the page shows the code step
//   stdin  `{"wrong":…,"totp":…,"backup":…}`  a six-digit code valid at no step near now, the
//                                             current TOTP code (unused), an unused backup code
//   stdout `RESULT {…}`                       every check passed (exit 0); otherwise `FAIL: …`
//                                             on stderr, exit 1

import readline from "node:readline";

import { Failure, check, elapsedMs, env, finish, logger, until, watchConsole, withChromium } from "./harness.mjs";

const log = logger("signin_mfa");

// Everything the page keeps in the browser: web storage and cookies.
async function kept(context, page) {
  const all = await page.evaluate(() => {
    const items = (s) => Object.fromEntries(Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i))]));
    return { local: items(localStorage), session: items(sessionStorage), cookie: document.cookie };
  });
  all.cookies = (await context.cookies()).map((c) => `${c.name}=${c.value}`);
  return all;
}

// Which of the page's parts are on screen.
async function steps(page) {
  const shown = (sel) => page.locator(sel).isVisible();
  return {
    login: await shown("form#login"),
    mfa: await shown("form#mfa"),
    enrol: await shown("form#enrol"),
    backup: await shown("section#backup"),
    meetings: await shown("section#meetings"),
    signOut: await shown("#sign-out"),
  };
}

async function expectSteps(page, what, want) {
  const got = await steps(page);
  check(JSON.stringify(got) === JSON.stringify(want), `${what}: expected ${JSON.stringify(want)} on screen, the page shows ${JSON.stringify(got)}`);
}

const NONE = { login: false, mfa: false, enrol: false, backup: false, meetings: false, signOut: false };
const PASSWORD_STEP = { ...NONE, login: true };
const CODE_STEP = { ...NONE, mfa: true };
const ENROL_STEP = { ...NONE, enrol: true };
const BACKUP_STEP = { ...NONE, backup: true };
const SIGNED_IN = { ...NONE, meetings: true, signOut: true };

const api = (path) => (r) => new URL(r.url()).pathname === path && r.request().method() === "POST";

// Fills and submits the password form; the server's answer.
async function submitPassword(page, email, password) {
  await page.fill('form#login input[name="email"]', email);
  await page.fill('form#login input[name="password"]', password);
  const [res] = await Promise.all([
    page.waitForResponse(api("/api/v1/auth/login"), { timeout: 10000 }),
    page.click('form#login button[type="submit"]'),
  ]);
  check(res.status() === 200, `the password step was answered ${res.status()}`);
  return res.json();
}

// Fills and submits the code form (with a double click if `double`); the server's status and
// answer (null when the page had already moved on and its body is gone).
async function submitCode(page, code, { double = false } = {}) {
  await page.fill('form#mfa input[name="code"]', code);
  const button = 'form#mfa button[type="submit"]';
  const [res] = await Promise.all([
    page.waitForResponse(api("/api/v1/mfa/verify"), { timeout: 10000 }),
    double ? page.dblclick(button) : page.click(button),
  ]);
  return { status: res.status(), body: await res.json().catch(() => null) };
}

// The code step refuses `code`: a visible error, still on the code step, nothing signed in.
async function expectRefused(context, page, watch, code, what) {
  watch.tolerate(/status of 401/);
  const r = await submitCode(page, code);
  check(r.status === 401, `${what} was answered ${r.status}, not 401`);
  const error = await until(`the page to show an error for ${what}`, 5000, async () => (await page.textContent("#mfa-error")).trim());
  watch.tolerate(null);
  check(await page.locator("#mfa-error").isVisible(), `the error for ${what} is not visible`);
  await expectSteps(page, `after ${what}`, CODE_STEP);
  const k = await kept(context, page);
  check(!("access_token" in k.session), `an access token is stored after ${what}`);
  return error;
}

// A request of this script's own (not the page's) to the server.
async function call(base, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body) headers["Content-Type"] = "application/json";
  const r = await fetch(base + path, { method: body ? "POST" : "GET", headers, body: body && JSON.stringify(body) });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function main() {
  const need = (name) => env(name, "tests/e2e/signin_page.rs");
  const base = need("SIGNIN_BASE_URL");
  const email = need("SIGNIN_EMAIL");
  const password = need("SIGNIN_PASSWORD");
  const enrolEmail = need("SIGNIN_ENROL_EMAIL");
  const meetingId = need("SIGNIN_MEETING_ID");
  const stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  // The codes are made when the page asks for one, so the TOTP code is fresh.
  // The enrolling user's first code, made by the driver from the secret the page shows.
  const askEnrolCode = async (secret) => {
    console.log("ENROL " + secret);
    const next = await stdinLines.next();
    check(!next.done, "the driver closed stdin without sending the enrolment code");
    const got = JSON.parse(next.value);
    check(typeof got.enrol === "string", "the driver's enrolment code is missing");
    return got.enrol;
  };
  const askCodes = async () => {
    console.log("CODES");
    const next = await stdinLines.next();
    check(!next.done, "the driver closed stdin without sending the codes");
    const codes = JSON.parse(next.value);
    check(["wrong", "totp", "backup"].every((k) => typeof codes[k] === "string"), "the driver's codes are incomplete");
    return codes;
  };
  return withChromium("signin_mfa", process.env.SIGNIN_ARTIFACTS_DIR, (browser, state) =>
    run(browser, state, { base, email, password, enrolEmail, meetingId, askCodes, askEnrolCode }),
  );
}

async function run(browser, state, { base, email, password, enrolEmail, meetingId, askCodes, askEnrolCode }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  state.page = page;
  const watch = await watchConsole(context, page);
  let codeRequests = 0;
  page.on("request", (r) => (codeRequests += new URL(r.url()).pathname === "/api/v1/mfa/verify" ? 1 : 0));
  const nowhere = (k, secret, what) =>
    check(!JSON.stringify(k).includes(secret), `the ${what} is kept in the browser: ${Object.keys(k.local).concat(Object.keys(k.session)).join(", ")}`);

  // 1. A user whose organisation requires a second factor and who has none sets one up during
  //    sign-in: the page shows the new key, takes the first code from the app, then shows the
  //    backup codes once; only after they are acknowledged is the user signed in.
  await page.goto(base + "/");
  await page.locator("form#login").waitFor({ state: "visible", timeout: 10000 });
  await expectSteps(page, "the first visit", PASSWORD_STEP);
  const enrol = await submitPassword(page, enrolEmail, password);
  check(enrol.mfa_enrollment_required === true, `the server did not ask ${enrolEmail} to enrol: ${Object.keys(enrol)}`);
  await page.locator("form#enrol").waitFor({ state: "visible", timeout: 5000 }).catch(() => {
    throw new Failure("the enrolment form did not appear for a user who must set up two-factor sign-in");
  });
  await expectSteps(page, "after a sign-in that needs enrolment", ENROL_STEP);
  const shownSecret = (await page.textContent("#enrol-secret")).replace(/\s+/g, "");
  check(/^[A-Z2-7]{26,}$/.test(shownSecret), `the page shows no usable key: ${shownSecret.length} characters`);
  const link = await page.getAttribute("#enrol-link", "href");
  check(link.startsWith("otpauth://totp/") && link.includes(shownSecret), "the authenticator link does not carry the key");
  nowhere(await kept(context, page), enrol.pre_mfa_token, "pre-MFA token of the user who must enrol");
  nowhere(await kept(context, page), shownSecret, "new TOTP key");
  watch.tolerate(/status of 401/);
  await page.fill('form#enrol input[name="code"]', "000000");
  await page.click('form#enrol button[type="submit"]');
  const enrolRefusal = await until("the page to refuse a wrong first code", 5000, async () =>
    (await page.textContent("#enrol-error")).trim(),
  );
  watch.tolerate(null);
  await expectSteps(page, "after a wrong first code", ENROL_STEP);
  const firstCode = await askEnrolCode(shownSecret);
  await page.fill('form#enrol input[name="code"]', firstCode);
  const [confirmed] = await Promise.all([
    page.waitForResponse(api("/api/v1/mfa/confirm"), { timeout: 10000 }),
    page.click('form#enrol button[type="submit"]'),
  ]);
  check(confirmed.status() === 200, `the first code was refused: ${confirmed.status()}`);
  await page.locator("section#backup").waitFor({ state: "visible", timeout: 5000 });
  await expectSteps(page, "after the first code", BACKUP_STEP);
  const shownCodes = await page.locator("#backup-codes li").allTextContents();
  check(shownCodes.length === 10 && shownCodes.every((c) => /^[a-z0-9]{4}(-[a-z0-9]{4}){3}$/i.test(c.trim())), `the page shows ${shownCodes.length} backup codes`);
  const whileShown = await kept(context, page);
  check(Object.keys(whileShown.session).length === 0 && Object.keys(whileShown.local).length === 0, "something is stored before the backup codes are acknowledged");
  await page.click("#backup-done");
  await page.locator("section#meetings").waitFor({ state: "visible", timeout: 5000 });
  await expectSteps(page, "after the backup codes", SIGNED_IN);
  check(JSON.stringify(await kept(context, page)).includes(shownCodes[0].trim()) === false, "a backup code is kept in the browser");
  check((await page.locator("#backup-codes li").count()) === 0, "the backup codes stay in the page after they were acknowledged");
  await page.click("#sign-out");
  await page.locator("form#login").waitFor({ state: "visible", timeout: 5000 });
  await expectSteps(page, "after signing the enrolled user out", PASSWORD_STEP);
  const enrolMessage = `enrolled with a first code after ${JSON.stringify(enrolRefusal)} for a wrong one`;
  log("enrolment-required user:", enrolMessage);

  // 2. The password of a user with MFA leads to the code step, the password form gone.
  const challenge = await submitPassword(page, email, password);
  check(challenge.mfa_required === true && typeof challenge.pre_mfa_token === "string", "the server did not ask for a second factor");
  await page.locator("form#mfa").waitFor({ state: "visible", timeout: 5000 }).catch(() => {
    throw new Failure("the code form did not appear after the password was accepted");
  });
  await expectSteps(page, "after the password", CODE_STEP);
  check((await page.textContent("#login-error")).trim() === "", "the earlier sign-in message stays on the code step");
  check((await page.inputValue('form#login input[name="password"]')) === "", "the password stays in the hidden form");
  check(await page.evaluate(() => document.activeElement && document.activeElement.name === "code"), "the code field does not have the focus");
  const atCodeStep = await kept(context, page);
  nowhere(atCodeStep, challenge.pre_mfa_token, "pre-MFA token");
  check(!page.url().includes(challenge.pre_mfa_token), "the pre-MFA token is in the page's address");
  check(
    JSON.stringify(atCodeStep) === JSON.stringify({ local: {}, session: {}, cookie: "", cookies: [] }),
    `the code step keeps something in the browser: ${JSON.stringify(Object.keys(atCodeStep.session).concat(Object.keys(atCodeStep.local)))}`,
  );

  // 3. A wrong code: a visible error, still on the code step.
  const codes = await askCodes();
  const wrongMessage = await expectRefused(context, page, watch, codes.wrong, "a wrong code");
  log("wrong code refused:", JSON.stringify(wrongMessage));

  // 4. The right code (same pre-MFA token, no new password), double-clicked: one request, and
  //    signed in, the meeting list shown.
  const requestsBefore = codeRequests;
  const verified = await submitCode(page, codes.totp, { double: true });
  check(verified.status === 200 && verified.body && typeof verified.body.access_token === "string", `the right code was answered ${verified.status}`);
  const { access_token: access, refresh_token: refresh } = verified.body;
  await page.locator(`#meeting-list a[href="/meetings/${meetingId}/live"]`).waitFor({ state: "visible", timeout: 10000 }).catch(() => {
    throw new Failure("signed in with the code, but the meeting list does not show the meeting");
  });
  await expectSteps(page, "after the right code", SIGNED_IN);
  check(codeRequests === requestsBefore + 1, `a double click on Verify sent the code ${codeRequests - requestsBefore} times`);
  check((await page.inputValue('form#mfa input[name="code"]')) === "", "the code stays in the hidden form");
  const signedIn = await kept(context, page);
  check(
    JSON.stringify(signedIn) === JSON.stringify({ local: {}, session: { access_token: access }, cookie: "", cookies: [] }),
    `signed in, the browser keeps more or other than the access token in sessionStorage: ` +
      `sessionStorage ${JSON.stringify(Object.keys(signedIn.session))}, localStorage ${JSON.stringify(Object.keys(signedIn.local))}, ` +
      `${signedIn.cookies.length} cookie(s)` +
      (signedIn.session.access_token && signedIn.session.access_token !== access ? ", and not the access token the server sent" : ""),
  );
  nowhere(signedIn, challenge.pre_mfa_token, "pre-MFA token");
  nowhere(signedIn, refresh, "refresh token");
  log("signed in with the TOTP code");

  // 5. The session is live on the server: the page's access token works, and so does the
  //    session's refresh token (rotated here; the page does not keep one).
  check((await call(base, "/api/v1/meetings", { token: access })).status === 200, "the page's access token does not work");
  const rotated = await call(base, "/api/v1/auth/refresh", { body: { refresh_token: refresh } });
  check(rotated.status === 200 && rotated.body && rotated.body.refresh_token, `the session's refresh token was answered ${rotated.status}`);

  // 6. Signing out ends the session on the server: the page's access token, the refreshed
  //    one and the session's refresh token all stop working.
  const [logout] = await Promise.all([
    page.waitForResponse(api("/api/v1/auth/logout"), { timeout: 10000 }),
    page.click("#sign-out"),
  ]);
  check(logout.status() === 204, `sign-out's logout request was answered ${logout.status()}`);
  await page.locator("form#login").waitFor({ state: "visible", timeout: 5000 });
  await expectSteps(page, "after signing out", PASSWORD_STEP);
  const signedOut = await kept(context, page);
  check(Object.keys(signedOut.session).length === 0 && Object.keys(signedOut.local).length === 0, "signed out, the browser still keeps something");
  for (const [what, token] of [["the page's access token", access], ["the refreshed access token", rotated.body.access_token]]) {
    const r = await call(base, "/api/v1/meetings", { token });
    check(r.status === 401, `after signing out ${what} is answered ${r.status}, not 401`);
  }
  const stale = await call(base, "/api/v1/auth/refresh", { body: { refresh_token: rotated.body.refresh_token } });
  check(stale.status === 401, `after signing out the session's refresh token is answered ${stale.status}, not 401`);
  log("signed out; the session's tokens are refused");

  // 7. Sent to sign-in by a live page: the TOTP code already used is refused, a backup code
  //    signs in and leads back to the live page.
  await page.goto(`${base}/?next=${encodeURIComponent(`/meetings/${meetingId}/live`)}`);
  await page.locator("form#login").waitFor({ state: "visible", timeout: 10000 });
  await submitPassword(page, email, password);
  await page.locator("form#mfa").waitFor({ state: "visible", timeout: 5000 });
  await expectRefused(context, page, watch, codes.totp, "the TOTP code used already");
  const withBackup = await submitCode(page, codes.backup);
  check(withBackup.status === 200, `the backup code was answered ${withBackup.status}`);
  await page.waitForURL(`**/meetings/${meetingId}/live`, { timeout: 10000 }).catch(() => {
    throw new Failure(`signed in with a backup code, but not taken back to the live page (at ${page.url()})`);
  });
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15000 }).catch(() => {
    throw new Failure("the live page reached after the backup code did not connect");
  });
  const afterBackup = await kept(context, page);
  check(
    JSON.stringify(Object.keys(afterBackup.session)) === '["access_token"]' && Object.keys(afterBackup.local).length === 0,
    `signed in with a backup code, the browser keeps ${JSON.stringify(Object.keys(afterBackup.session).concat(Object.keys(afterBackup.local)))}`,
  );
  log("signed in with a backup code; live page connected");

  // 8. Nothing broke the CSP, nothing logged an error.
  watch.checkClean();
  return { enrolment_message: enrolMessage, wrong_code_message: wrongMessage, csp_violations: watch.csp.length, console_errors: 0, elapsed_ms: elapsedMs() };
}

finish("sign-in MFA test", 60000, main);
