// Sign-in and meeting list. Runs under a strict CSP (no inline script); text goes in via
// textContent only.
"use strict";

const loginForm = document.getElementById("login");
const loginError = document.getElementById("login-error");
const meetings = document.getElementById("meetings");
const list = document.getElementById("meeting-list");

function token() {
  return sessionStorage.getItem("access_token");
}

async function showMeetings() {
  const r = await fetch("/api/v1/meetings", { headers: { Authorization: "Bearer " + token() } });
  if (r.status === 401) {
    sessionStorage.removeItem("access_token");
    return showLogin();
  }
  const body = await r.json();
  list.replaceChildren();
  for (const m of body.meetings || []) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "/meetings/" + encodeURIComponent(m.meeting_id) + "/live";
    a.textContent = m.title || m.meeting_id;
    li.append(a);
    list.append(li);
  }
  loginForm.hidden = true;
  meetings.hidden = false;
}

function showLogin() {
  meetings.hidden = true;
  loginForm.hidden = false;
}

loginForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  loginError.textContent = "";
  const data = new FormData(loginForm);
  const r = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: data.get("email"), password: data.get("password") }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || !body.access_token) {
    loginError.textContent = (body.error && body.error.message) || "Sign-in failed";
    return;
  }
  sessionStorage.setItem("access_token", body.access_token);
  const next = new URLSearchParams(location.search).get("next");
  if (next && next.startsWith("/meetings/")) {
    location.assign(next);
  } else {
    showMeetings();
  }
});

if (token()) {
  showMeetings();
} else {
  showLogin();
}
