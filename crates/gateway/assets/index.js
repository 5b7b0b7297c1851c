// Sign-in and meeting list. Runs under a strict CSP (no inline script or style, no eval); text
// from the server goes in via textContent only. The access token lives in sessionStorage: it is
// gone when the tab closes.
"use strict";

const loginForm = document.getElementById("login");
const loginError = document.getElementById("login-error");
const meetings = document.getElementById("meetings");
const list = document.getElementById("meeting-list");
const noMeetings = document.getElementById("no-meetings");
const meetingsError = document.getElementById("meetings-error");
const signOut = document.getElementById("sign-out");
const mfaForm = document.getElementById("mfa");
const mfaError = document.getElementById("mfa-error");
const enrolForm = document.getElementById("enrol");
const enrolError = document.getElementById("enrol-error");
const backup = document.getElementById("backup");
// The pre-MFA token between the password and the code steps (memory only, 5 minutes).
let preMfaToken = null;
// The session's tokens while the backup codes are on screen (memory only).
let pendingSession = null;

function token() {
  return sessionStorage.getItem("access_token");
}

// Only a live page of this site is a place to go back to after sign-in.
function nextPage() {
  const next = new URLSearchParams(location.search).get("next");
  return next && /^\/meetings\/[^/?#]+\/live$/.test(next) ? next : null;
}

function showLogin() {
  meetings.hidden = true;
  signOut.hidden = true;
  mfaForm.hidden = true;
  enrolForm.hidden = true;
  backup.hidden = true;
  document.getElementById("backup-codes").replaceChildren();
  preMfaToken = null;
  pendingSession = null;
  loginForm.hidden = false;
  loginForm.elements.email.focus();
}

async function showMeetings() {
  meetingsError.textContent = "";
  let r;
  try {
    r = await fetch("/api/v1/meetings", { headers: { Authorization: "Bearer " + token() } });
  } catch (e) {
    meetingsError.textContent = "Cannot reach the server.";
    return;
  }
  if (r.status === 401) {
    sessionStorage.removeItem("access_token");
    return showLogin();
  }
  const body = await r.json().catch(() => ({}));
  loginForm.hidden = true;
  meetings.hidden = false;
  signOut.hidden = false;
  list.replaceChildren();
  if (!r.ok) {
    meetingsError.textContent = (body.error && body.error.message) || "Could not load meetings.";
    return;
  }
  const all = Array.isArray(body.meetings) ? body.meetings : [];
  for (const m of all) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "/meetings/" + encodeURIComponent(m.meeting_id) + "/live";
    a.textContent = m.title || m.meeting_id;
    li.append(a);
    if (m.created_at_ms) {
      const when = document.createElement("time");
      when.dateTime = new Date(m.created_at_ms).toISOString();
      when.textContent = new Date(m.created_at_ms).toLocaleString();
      li.append(" ", when);
    }
    list.append(li);
  }
  noMeetings.hidden = all.length > 0;
}

loginForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  loginError.textContent = "";
  const data = new FormData(loginForm);
  const button = loginForm.querySelector("button");
  button.disabled = true;
  let r;
  let body = {};
  try {
    r = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: data.get("email"), password: data.get("password") }),
    });
    body = await r.json().catch(() => ({}));
  } catch (e) {
    loginError.textContent = "Cannot reach the server.";
    return;
  } finally {
    button.disabled = false;
  }
  if (r.ok && body.mfa_required === true && typeof body.pre_mfa_token === "string") {
    loginForm.reset();
    preMfaToken = body.pre_mfa_token;
    if (body.mfa_enrollment_required) {
      return startEnrolment();
    }
    loginForm.hidden = true;
    mfaForm.hidden = false;
    mfaForm.elements.code.focus();
    return;
  }
  if (!r.ok || typeof body.access_token !== "string") {
    loginError.textContent = (body.error && body.error.message) || "Sign-in failed.";
    return;
  }
  signedIn(body);
  loginForm.reset();
});

function signedIn(body) {
  sessionStorage.setItem("access_token", body.access_token);
  const next = nextPage();
  if (next) {
    location.assign(next);
  } else {
    showMeetings();
  }
}

mfaForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  mfaError.textContent = "";
  const code = new FormData(mfaForm).get("code");
  // One request per code: a second submit of a code just accepted would be refused as a replay
  // and counted against the account like a wrong code.
  const button = mfaForm.querySelector("button");
  button.disabled = true;
  let r;
  let body = {};
  try {
    r = await fetch("/api/v1/mfa/verify", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ pre_mfa_token: preMfaToken, code: code }),
    });
    body = await r.json().catch(() => ({}));
  } catch (e) {
    mfaError.textContent = "Cannot reach the server.";
    return;
  } finally {
    button.disabled = false;
  }
  if (!r.ok || typeof body.access_token !== "string") {
    mfaError.textContent = (body.error && body.error.message) || "Verification failed.";
    return;
  }
  mfaForm.reset();
  mfaForm.hidden = true;
  preMfaToken = null;
  signedIn(body);
});

// Enrolment during sign-in (the organisation requires a second factor the user has not set up):
// the pre-MFA token asks for a new secret, the first code from the app confirms it.
async function startEnrolment() {
  let r;
  let body = {};
  try {
    r = await fetch("/api/v1/mfa/enroll", {
      method: "POST",
      headers: { Authorization: "Bearer " + preMfaToken },
    });
    body = await r.json().catch(() => ({}));
  } catch (e) {
    loginError.textContent = "Cannot reach the server.";
    return;
  }
  if (!r.ok || typeof body.secret !== "string") {
    preMfaToken = null;
    loginError.textContent = (body.error && body.error.message) || "Could not start two-factor set-up.";
    return;
  }
  document.getElementById("enrol-secret").textContent = body.secret.replace(/(.{4})/g, "$1 ").trim();
  document.getElementById("enrol-link").href = body.otpauth_uri;
  loginForm.hidden = true;
  enrolForm.hidden = false;
  enrolForm.elements.code.focus();
}

enrolForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  enrolError.textContent = "";
  const code = new FormData(enrolForm).get("code");
  const button = enrolForm.querySelector("button");
  button.disabled = true;
  let r;
  let body = {};
  try {
    r = await fetch("/api/v1/mfa/confirm", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + preMfaToken },
      body: JSON.stringify({ code: code }),
    });
    body = await r.json().catch(() => ({}));
  } catch (e) {
    enrolError.textContent = "Cannot reach the server.";
    return;
  } finally {
    button.disabled = false;
  }
  if (!r.ok || typeof body.access_token !== "string" || !Array.isArray(body.backup_codes)) {
    enrolError.textContent = (body.error && body.error.message) || "That code did not work.";
    return;
  }
  enrolForm.reset();
  enrolForm.hidden = true;
  document.getElementById("enrol-secret").textContent = "";
  preMfaToken = null;
  const codes = document.getElementById("backup-codes");
  codes.replaceChildren();
  for (const c of body.backup_codes) {
    const li = document.createElement("li");
    const code = document.createElement("code");
    code.textContent = c;
    li.append(code);
    codes.append(li);
  }
  pendingSession = { access_token: body.access_token };
  backup.hidden = false;
  document.getElementById("backup-done").focus();
});

document.getElementById("backup-done").addEventListener("click", () => {
  backup.hidden = true;
  document.getElementById("backup-codes").replaceChildren();
  const session = pendingSession;
  pendingSession = null;
  if (session) {
    signedIn(session);
  } else {
    showLogin();
  }
});

signOut.addEventListener("click", async () => {
  const t = token();
  sessionStorage.removeItem("access_token");
  list.replaceChildren();
  showLogin();
  if (t) {
    // Ends the session on the server too (the token is denylisted); best effort.
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { Authorization: "Bearer " + t },
    }).catch(() => {});
  }
});

if (token()) {
  showMeetings();
} else {
  showLogin();
}
