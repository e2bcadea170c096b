/**
 * The local stack's self-service page (dev/portal/) driven in headless Chromium: before
 * the user types it shows that writeback is available (agent online) and the on-premises policy;
 * a reset for a password-hash-sync user succeeds (and the directory really has the new password);
 * a too-short password, a cloud-only account, a wrong current password and unlock-without-reset
 * show the user message messages.json gives for their error code; no typed password is left in
 * the page; with the agent stopped the page shows AGENT_OFFLINE's message instead of the policy.
 * A full-page screenshot is kept in test-artifacts/portal.png.
 *
 * Needs /usr/bin/chromium (Debian package `chromium`); skipped when it is missing.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, test } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { DEMO_POLICY, DEMO_USERS, type DemoUser, demoUser, userRef } from "../../dev/demo-tenant.js";
import type { LocalStackHandle } from "../../dev/local-stack-handle.js";
import { startLocalStack } from "../../dev/local-stack.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(import.meta.dirname, "..", "..", "test-artifacts");
const SCREENSHOT = join(ARTIFACTS, "portal.png");
const skip: false | string = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM} (apt-get install chromium); the portal UI test needs it`;

let stack: LocalStackHandle | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let messages: Record<string, { userMessage: string }>;
/** Every password the test typed into the page. */
const typed: string[] = [];
/** Uncaught exceptions in the page (portal.js failing). */
const pageErrors: string[] = [];
/** Requests the page tried to send anywhere but the stack (aborted). */
const offHost: string[] = [];

const user = demoUser;
const asRef = userRef;
const uniquePassword = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}-Aa1!`;
const message = (code: string): string => {
  const m = messages[code];
  if (m === undefined) throw new Error(`messages.json has no ${code}`);
  return m.userMessage;
};

/** Empties a result box, so the next answer is the one waited for (a string: no DOM types here). */
const clear = (id: "result" | "availability") => page.evaluate(`document.getElementById(${JSON.stringify(id)}).replaceChildren()`);

/** Submits a form and returns the answer the page shows: ok or error, and its text. */
async function submit(form: "reset" | "change" | "unlock"): Promise<{ ok: boolean; text: string }> {
  await clear("result");
  await page.locator(`#form-${form} button[type=submit]`).click();
  const box = page.locator("#result .result");
  await box.waitFor({ state: "visible" });
  const cls = (await box.getAttribute("class")) ?? "";
  return { ok: cls.split(/\s+/).includes("ok"), text: (await box.innerText()).trim() };
}

/** Chooses an account (which runs the precheck again) and waits for the availability answer. */
async function selectUser(u: DemoUser): Promise<void> {
  await clear("availability");
  if ((await page.locator("#user").inputValue()) === u.cloudAnchor) await page.locator("#check").click();
  else await page.locator("#user").selectOption(u.cloudAnchor);
  await page.locator("#availability .result").waitFor({ state: "visible" });
}

/** No typed password is in the page's HTML, nor left in any password field. */
async function assertNoPasswordInPage(): Promise<void> {
  const html = await page.content();
  const text = await page.locator("body").innerText();
  for (const pw of typed) {
    assert.ok(!html.includes(pw), "a typed password is in the page's HTML");
    assert.ok(!text.includes(pw), "a typed password is in the page's text");
  }
  for (const id of ["reset-new", "change-current", "change-new"]) assert.equal(await page.locator(`#${id}`).inputValue(), "", `#${id} still holds a value`);
}

/** The API's own view, to check what the page did really reached the directory. */
async function changeThroughApi(u: DemoUser, currentPassword: string): Promise<number> {
  if (stack === undefined) throw new Error("no stack");
  const res = await fetch(`${stack.apiBase}/v1/tenants/${stack.tenantId}/password-changes`, {
    method: "POST",
    headers: { Authorization: `Bearer ${stack.operateToken}`, "Content-Type": "application/json" },
    body: JSON.stringify({ requestId: randomUUID(), user: asRef(u), currentPassword, newPassword: uniquePassword("Api"), reason: "voluntary", initiator: { kind: "user", channel: "accessPanel" } }),
  });
  await res.arrayBuffer();
  return res.status;
}

const SUITE = "self-service portal in headless Chromium";
// Without Chromium: one skipped test saying why (a skipped suite would count no skipped test).
if (skip !== false) test.skip(`${SUITE} (${skip})`, () => {});
else describe(SUITE, { timeout: 60_000 }, () => {
  beforeAll(async () => {
    // A short heartbeat window, so the agent-offline step takes seconds, not eleven minutes.
    stack = await startLocalStack({ ports: "free", quiet: true, heartbeatIntervalSeconds: 1, heartbeatWindowSeconds: 4, rateLimitMaxOperations: 50 });
    const served = await fetch(new URL("messages.json", stack.portalUrl));
    assert.equal(served.status, 200);
    messages = (await served.json()) as Record<string, { userMessage: string }>;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 20_000,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
    });
    context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    context.setDefaultTimeout(10_000);
    // Loopback only: anything else the page asks for is aborted and reported.
    await context.route("**/*", async (route) => {
      const host = new URL(route.request().url()).hostname;
      if (host === "127.0.0.1") await route.continue();
      else {
        offHost.push(route.request().url());
        await route.abort();
      }
    });
    page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
  }, 45_000);

  // Runs even when before or a test failed: browser first, then the stack.
  afterAll(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await stack?.stop();
  }, 20_000);

  test("before typing: writeback available (agent online) and the policy summary", async () => {
    if (stack === undefined) throw new Error("no stack");
    await page.goto(stack.portalUrl);
    await page.locator("body[data-ready=true]").waitFor({ state: "attached" });
    assert.equal(await page.title(), "Self-service password");

    const options = page.locator("#user option");
    assert.equal(await options.count(), DEMO_USERS.length);
    assert.equal(await page.locator("#user").inputValue(), user("alice").cloudAnchor, "the first demo user (password hash sync) is preselected");

    const availability = page.locator("#availability .result");
    assert.equal(await availability.getAttribute("class"), "result ok");
    assert.equal((await availability.locator(".status-online").innerText()).trim(), "Available.");
    const rules = (await availability.locator("ul.policy li").allInnerTexts()).map((s) => s.trim());
    assert.deepEqual(rules, [
      `At least ${DEMO_POLICY.minLength} characters`,
      "Three of: upper case, lower case, digits, symbols; not your account name",
      `Not one of your last ${DEMO_POLICY.historyLength} passwords`,
    ]);
    assert.equal(await page.locator("#reset-new").inputValue(), "");
    assert.equal(await page.locator("#result").innerText(), "");
  });

  test("reset for a password-hash-sync user succeeds and reaches the directory", async () => {
    await selectUser(user("alice"));
    const pw = uniquePassword("Portal");
    typed.push(pw);
    await page.locator("#reset-new").fill(pw);
    const r = await submit("reset");
    assert.equal(r.ok, true, r.text);
    assert.equal(r.text, "Done: your reset succeeded.");
    await assertNoPasswordInPage();
    assert.equal(await changeThroughApi(user("alice"), pw), 200, "the directory has the password typed in the page");
  });

  test("a too-short password shows PASSWORD_POLICY_VIOLATION's message and the reason", async () => {
    await selectUser(user("carol"));
    const pw = `Aa1!${randomUUID().slice(0, 2)}`;
    assert.ok(pw.length < DEMO_POLICY.minLength);
    typed.push(pw);
    await page.locator("#reset-new").fill(pw);
    const r = await submit("reset");
    assert.equal(r.ok, false);
    assert.ok(r.text.includes(message("PASSWORD_POLICY_VIOLATION")), r.text);
    assert.match(r.text, /\(tooShort\)/);
    assert.match(r.text, /PASSWORD_POLICY_VIOLATION$/);
    await assertNoPasswordInPage();
  });

  test("a cloud-only account shows NOT_APPLICABLE_CLOUD_ONLY's message, at precheck and on reset", async () => {
    await selectUser(user("dave"));
    const availability = page.locator("#availability .result");
    assert.equal(await availability.getAttribute("class"), "result err");
    const pre = (await availability.innerText()).trim();
    assert.ok(pre.startsWith(message("NOT_APPLICABLE_CLOUD_ONLY")), pre);
    assert.match(pre, /NOT_APPLICABLE_CLOUD_ONLY$/);
    assert.equal(await availability.locator("ul.policy").count(), 0, "no policy for an account without an on-premises password");

    const pw = uniquePassword("Cloud");
    typed.push(pw);
    await page.locator("#reset-new").fill(pw);
    const r = await submit("reset");
    assert.equal(r.ok, false);
    assert.ok(r.text.includes(message("NOT_APPLICABLE_CLOUD_ONLY")), r.text);
    await assertNoPasswordInPage();
  });

  test("change with a wrong current password, and unlock without reset turned off", async () => {
    await selectUser(user("bob"));
    await page.getByRole("tab", { name: "Change" }).click();
    assert.equal(await page.locator("#form-change").isVisible(), true);
    assert.equal(await page.locator("#form-reset").isVisible(), false);
    const current = uniquePassword("Wrong");
    const next = uniquePassword("Next");
    typed.push(current, next);
    await page.locator("#change-current").fill(current);
    await page.locator("#change-new").fill(next);
    const changed = await submit("change");
    assert.equal(changed.ok, false);
    assert.ok(changed.text.includes(message("WRONG_CURRENT_PASSWORD")), changed.text);
    await assertNoPasswordInPage();

    await page.getByRole("tab", { name: "Unlock" }).click();
    const unlocked = await submit("unlock");
    assert.equal(unlocked.ok, false);
    assert.ok(unlocked.text.includes(message("UNLOCK_NOT_ENABLED")), unlocked.text);
  });

  test("agent stopped: the page says so (AGENT_OFFLINE's message); back online when it returns", async () => {
    if (stack === undefined) throw new Error("no stack");
    await page.getByRole("tab", { name: "Reset" }).click();
    await stack.agent.kill();
    const deadline = Date.now() + (stack.settings.heartbeatWindowSeconds + 8) * 1000;
    let shown = "";
    while (Date.now() < deadline) {
      await selectUser(user("alice"));
      const box = page.locator("#availability .result");
      if ((await box.getAttribute("class")) === "result err") {
        shown = (await box.innerText()).trim();
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(shown.startsWith(message("AGENT_OFFLINE")), `availability: ${shown}`);
    assert.match(shown, /AGENT_OFFLINE$/);
    assert.equal(await page.locator("#availability ul.policy").count(), 0);

    await stack.agent.start();
    await selectUser(user("alice"));
    assert.equal((await page.locator("#availability .status-online").innerText()).trim(), "Available.");
  });

  test("the API unreachable or answering non-JSON: the page says so instead of failing silently", async () => {
    await selectUser(user("alice"));
    await page.route("**/password-resets", (route) => route.abort("connectionrefused"));
    await page.locator("#reset-new").fill(uniquePassword("Down"));
    const dropped = await submit("reset");
    assert.equal(dropped.ok, false);
    assert.match(dropped.text, /cannot be reached/);
    await page.unroute("**/password-resets");
    await page.route("**/password-resets", (route) => route.fulfill({ status: 502, contentType: "text/html", body: "<html>Bad gateway</html>" }));
    await page.locator("#reset-new").fill(uniquePassword("Proxy"));
    const proxied = await submit("reset");
    assert.equal(proxied.ok, false);
    assert.match(proxied.text, /HTTP 502/);
    await page.unroute("**/password-resets");
    // Choosing another account clears the previous account's result.
    await page.locator("#user").selectOption(user("bob").cloudAnchor);
    await page.locator("#availability .result").waitFor({ state: "visible" });
    assert.equal(await page.locator("#result .result").count(), 0);
  });

  test("full-page screenshot kept as a test artifact; no script errors, loopback only", async () => {
    await selectUser(user("alice"));
    const pw = uniquePassword("Shot");
    typed.push(pw);
    await page.locator("#reset-new").fill(pw);
    const r = await submit("reset");
    assert.equal(r.ok, true, r.text);
    mkdirSync(ARTIFACTS, { recursive: true });
    rmSync(SCREENSHOT, { force: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT), `no screenshot at ${SCREENSHOT}`);
    assert.ok(statSync(SCREENSHOT).size > 0, "the screenshot is empty");
    await assertNoPasswordInPage();
    assert.deepEqual(pageErrors, [], "portal.js threw");
    assert.deepEqual(offHost, [], "the page asked for something off loopback");
  });
});
