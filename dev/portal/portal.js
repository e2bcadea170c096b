// The demo self-service page: calls the writeback API with the operate token the local stack hands it.
const config = await (await fetch("config.json")).json();
const messages = await (await fetch("messages.json")).json();
const $ = (id) => document.getElementById(id);

for (const u of config.users) {
  const o = document.createElement("option");
  o.value = u.cloudAnchor;
  o.textContent = `${u.userPrincipalName} (${u.authType})`;
  $("user").append(o);
}
const currentUser = () => config.users.find((u) => u.cloudAnchor === $("user").value);

async function call(path, body) {
  const res = await fetch(`${config.apiBase}/v1/tenants/${config.tenantId}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${config.operateToken}` },
    body: JSON.stringify(body),
  });
  // A proxy error page or a dropped connection is not JSON: answer as the API would.
  const answer = await res.json().catch(() => ({ error: { code: "NETWORK_ERROR", message: `The service answered HTTP ${res.status}.` } }));
  return { status: res.status, body: answer };
}

/** The API's answer, or a network failure dressed as one, so the page always says something. */
async function safeCall(path, body) {
  try {
    return await call(path, body);
  } catch {
    return { status: 0, body: { error: { code: "NETWORK_ERROR", message: "The service cannot be reached. Check your connection and try again." } } };
  }
}

function describeError(error) {
  const known = messages[error.code];
  const text = known ? known.userMessage : error.message;
  const reason = error.reason ? ` (${error.reason})` : "";
  return `${text}${reason}`;
}

function show(target, ok, html) {
  target.innerHTML = `<div class="result ${ok ? "ok" : "err"}">${html}</div>`;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function duration(seconds) {
  if (seconds >= 86400) return `${Math.round(seconds / 86400)} day(s)`;
  if (seconds >= 3600) return `${Math.round(seconds / 3600)} hour(s)`;
  return `${Math.max(1, Math.round(seconds / 60))} minute(s)`;
}

function policyList(p) {
  const items = [`At least ${p.minLength} characters`];
  if (p.complexity) items.push("Three of: upper case, lower case, digits, symbols; not your account name");
  if (p.historyLength > 0) items.push(`Not one of your last ${p.historyLength} passwords`);
  if (p.minAgeSeconds > 0) items.push(`At most one change every ${duration(p.minAgeSeconds)}`);
  return `<ul class="policy">${items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`;
}

async function precheck() {
  const user = currentUser();
  const r = await safeCall("/writeback/precheck", { user });
  if (r.status === 200) {
    show($("availability"), true, `<span class="status-online">Available.</span> Your new password must follow these rules:${policyList(r.body.policy)}`);
  } else {
    show($("availability"), false, `${escapeHtml(describeError(r.body.error))} <span class="code">${escapeHtml(r.body.error.code)}</span>`);
  }
  return r.status === 200;
}

$("check").addEventListener("click", () => void precheck());
$("user").addEventListener("change", () => {
  $("result").innerHTML = ""; // the last result belonged to the previous account
  void precheck();
});

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll("[role=tab]")) t.setAttribute("aria-selected", String(t === tab));
    for (const f of document.querySelectorAll("form")) f.hidden = f.dataset.op !== tab.dataset.tab;
    $("result").innerHTML = "";
  });
}

for (const form of document.querySelectorAll("form")) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    const user = currentUser();
    const initiator = { kind: "user", channel: $("channel").value };
    const requestId = crypto.randomUUID();
    let r;
    try {
      if (form.dataset.op === "reset") {
        r = await safeCall("/password-resets", { requestId, user, newPassword: $("reset-new").value, initiator, unlockAccount: $("reset-unlock").checked });
      } else if (form.dataset.op === "change") {
        r = await safeCall("/password-changes", { requestId, user, currentPassword: $("change-current").value, newPassword: $("change-new").value, reason: $("change-reason").value, initiator });
      } else {
        r = await safeCall("/account-unlocks", { requestId, user, initiator });
      }
      if (r.status === 200) show($("result"), true, `Done: your ${escapeHtml(r.body.operation)} succeeded.`);
      else show($("result"), false, `${escapeHtml(describeError(r.body.error))} <span class="code">${escapeHtml(r.body.error.code)}</span>`);
    } finally {
      button.disabled = false;
      for (const input of form.querySelectorAll("input[type=password]")) input.value = "";
    }
  });
}

await precheck();
document.body.dataset.ready = "true";
