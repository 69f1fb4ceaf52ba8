// The console end to end in a real headless Chromium against a real `procflow serve`.
// Usage: node e2e.mjs BASE TOKEN CHROMIUM SCREENSHOT_DIR CONTEXT_JSON
// (run by tests/console/test_console_browser.py, which starts the server and the instances
// named in CONTEXT_JSON, then checks through the API what the browser did). Prints one JSON
// line: what each scenario saw, every request's URL, and the axe-core violations per page.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import path from "node:path";

const [base, token, executablePath, shots, contextJson] = process.argv.slice(2);
const given = JSON.parse(contextJson);
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const flags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];
mkdirSync(shots, { recursive: true });

const result = { requests: [], outside: [], axe: {}, screenshots: [], console: [] };
let stepName = "";
const browser = await chromium.launch({ executablePath, args: flags, headless: true });
const short = (uuid) => uuid.slice(0, 8);

async function shoot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  result.screenshots.push(file);
}

async function audit(page, name) {
  // bypassCSP (below) lets the test inject axe-core; the console itself runs under its CSP.
  await page.addScriptTag({ path: AXE });
  const found = await page.evaluate(async () => {
    const answer = await window.axe.run(document, { resultTypes: ["violations"] });
    return answer.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  result.axe[name] = found;
}

async function step(name, run) {
  stepName = name;
  try {
    result[name] = await run();
  } catch (error) {
    result[name] = { error: String(error && error.stack ? error.stack : error) };
  }
}

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true, serviceWorkers: "block" });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    result.outside.push(url.href);
    return route.abort("internetdisconnected");
  });
  context.on("request", (request) => result.requests.push(request.url()));
  const page = await context.newPage();
  page.on("console", (message) => { if (message.type() === "error") result.console.push(`${stepName}: ${message.text()}`); });
  page.on("pageerror", (error) => result.console.push(`${stepName}: pageerror: ${error.message}`));

  await step("story", async () => {
    const seen = {};
    await page.goto(`${base}/`);
    await page.waitForURL(/\/console\/sign-in/);
    seen.signInUrl = new URL(page.url()).pathname;
    await shoot(page, "sign-in");
    await audit(page, "sign-in");
    // Keyboard only: the token field has the focus, Tab reaches the button, Enter submits.
    await page.keyboard.type(token);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/console\/instances/);
    seen.stored = await page.evaluate(() => sessionStorage.getItem("procflow.token") !== null);
    const row = page.locator(`a[data-uuid="${given.story}"]`);
    await row.waitFor();
    await page.locator(".counts li").first().waitFor();
    seen.counts = await page.locator(".counts li").allInnerTexts();
    await shoot(page, "instances");
    await audit(page, "instances");
    await row.click();
    await page.waitForURL(new RegExp(`/console/instances/${given.story}$`));
    const tokenBadge = page.locator('.pf-token[data-node="review"]');
    await tokenBadge.waitFor();
    seen.tokenOnReview = await tokenBadge.innerText();
    seen.activeMarked = await page.locator('.djs-element.pf-active[data-element-id="review"]').count();
    seen.visited = await page.locator(".djs-element.pf-visited").count();
    seen.watermark = await page.locator(".bjs-powered-by").count();
    await shoot(page, "instance");
    await audit(page, "instance");
    await page.setViewportSize({ width: 420, height: 800 });
    await shoot(page, "instance-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });
    const action = page.locator('form[id^="action-approve-"]');
    await action.locator("textarea").fill('{"decision": {"by": "sam"}}');
    await action.locator("button[type=submit]").click();
    await page.locator(".instance-head .badge", { hasText: "FINISHED" }).waitFor();
    seen.afterApprove = await page.locator(".instance-head .badge").innerText();

    await page.click("#rerun");
    await page.waitForURL(/\/rerun$/);
    await page.locator('#rerun-diagram .djs-element[data-element-id="review"]').waitFor();
    const data = JSON.parse(await page.inputValue("#rerun-data"));
    data.applicant.income = 6000;
    delete data.decision;
    data.retryReason = "manual-rerun";
    await page.fill("#rerun-data", JSON.stringify(data, null, 2));
    await page.click('#rerun-diagram .djs-element[data-element-id="review"]');
    seen.startAt = await page.inputValue("#rerun-start-at");
    seen.startMarked = await page.locator('#rerun-diagram .djs-element.pf-start[data-element-id="review"]').count();
    await page.click("#dry-run");
    await page.locator("table.diff").waitFor();
    seen.diff = await page.locator("table.diff tbody tr").allInnerTexts();
    seen.preview = await page.locator("#preview dl").innerText();
    await shoot(page, "rerun-preview");
    await audit(page, "rerun");
    await page.click("#start-copy");
    await page.waitForURL((url) => /\/console\/instances\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(given.story));
    seen.copy = page.url().split("/").pop();
    const back = page.locator(`a[data-lineage="${given.story}"]`);
    await back.waitFor();
    seen.lineage = await page.locator("ol.lineage").innerText();
    await page.locator('.pf-token[data-node="review"]').waitFor();
    await shoot(page, "copy-lineage");
    return seen;
  });

  await step("retry", async () => {
    const seen = {};
    await page.goto(`${base}/console/instances/${given.failing}`);
    const form = page.locator("form#retry-1");
    await form.waitFor();
    seen.incidentMarked = await page.locator(".djs-element.pf-incident").count();
    seen.before = await page.locator(".instance-head .badge").innerText();
    await shoot(page, "incident");
    await form.locator("textarea").fill('{"zero": 4}');
    await form.locator("button[type=submit]").click();
    await page.locator(".instance-head .badge", { hasText: "FINISHED" }).waitFor();
    seen.after = await page.locator(".instance-head .badge").innerText();
    seen.data = await page.locator(".json").innerText();
    return seen;
  });

  await step("externalTask", async () => {
    await page.goto(`${base}/console/instances/${given.charge}`);
    const overlay = page.locator(".pf-wait");
    await overlay.waitFor();
    const listed = await page.locator("section[aria-labelledby=waits-title] li").innerText();
    return { overlay: await overlay.innerText(), listed: listed.replace(/^pay: /, "") };
  });

  await step("batch", async () => {
    const seen = {};
    await page.goto(`${base}/console/instances?processName=loan_application&state=STARTED`);
    await page.locator("table.list tbody tr").first().waitFor();
    seen.listed = await page.locator("table.list tbody tr").count();
    await page.click("text=Batch over this search…");
    await page.waitForURL(/\/console\/batches\/new/);
    await page.selectOption("#batch-operation", "terminate");
    await page.fill("#batch-body", '{"reason": "end-to-end test"}');
    await page.click("#batch-dry-run");
    seen.dryRun = await page.locator("#dry-total").innerText();
    await audit(page, "batch-new");
    await page.click("#batch-create");
    await page.waitForURL(/\/console\/batches\/[0-9a-f-]{36}$/);
    seen.batch = page.url().split("/").pop();
    seen.progressSeen = [];
    for (let i = 0; i < 60; i++) {
      const text = await page.locator("#batch-summary").innerText();
      const value = await page.locator("#batch-progress").evaluate((p) => [p.value, p.max]);
      seen.progressSeen.push(value);
      if (text.startsWith("COMPLETED")) break;
      await page.waitForTimeout(500);
    }
    seen.summary = await page.locator("#batch-summary").innerText();
    seen.items = await page.locator("table.list tbody tr").count();
    seen.itemLinks = await page.locator("table.list tbody a").count();
    await shoot(page, "batch");
    await audit(page, "batch");
    return seen;
  });

  await step("definitions", async () => {
    const seen = {};
    await page.goto(`${base}/console/definitions`);
    await page.getByRole("link", { name: "demo", exact: true }).click();
    await page.locator("h2", { hasText: "Apps" }).waitFor();
    await page.getByRole("link", { name: "loans", exact: true }).click();
    await page.locator("table.list tbody tr").first().waitFor();
    seen.active = await page.locator("tr.active-build").count();
    await page.locator("table.list tbody tr a").first().click();
    await page.getByRole("link", { name: "loan_application", exact: true }).click();
    await page.locator('#definition-diagram .djs-element[data-element-id="review"]').waitFor();
    seen.diagram = true;
    seen.downloads = await page.locator("button", { hasText: "download" }).count();
    await shoot(page, "definitions");
    await audit(page, "definitions");
    return seen;
  });

  await step("calls", async () => {
    const seen = {};
    await page.goto(`${base}/console/instances/${given.parent}`);
    const headerChild = page.locator(`.instance-head a[data-child="${given.child}"]`);
    await headerChild.waitFor();
    seen.headerChild = await headerChild.getAttribute("data-child");
    seen.children = await page.locator(".instance-head .children-list").innerText();
    const waitLink = page.locator('.pf-wait .pf-child-link');
    await waitLink.waitFor();
    seen.waitLink = await waitLink.getAttribute("data-child");
    seen.callLineage = await page.locator("ol.calls a[data-call-child]").getAttribute("data-call-child");
    seen.lineageText = await page.locator("section[aria-labelledby=lineage-title]").innerText();
    await headerChild.click();
    await page.waitForURL(new RegExp(`/console/instances/${given.child}$`));
    seen.childUrl = page.url();
    const parentLink = page.locator("#parent-link");
    await parentLink.waitFor();
    seen.parentLink = await parentLink.getAttribute("href");
    await page.locator('.pf-token[data-node="check"]').waitFor();
    await shoot(page, "call-child");
    await audit(page, "call-child");
    await parentLink.click();
    await page.waitForURL(new RegExp(`/console/instances/${given.parent}$`));
    await headerChild.waitFor();
    seen.backAtParent = true;

    await page.goto(`${base}/console/instances`);
    await page.locator("table.list tbody tr").first().waitFor();
    await page.fill("#f-parentProcessInstanceUuid", given.parent);
    await page.click("form.filters button[type=submit]");
    await page.waitForURL(/parentProcessInstanceUuid=/);
    await page.locator(`a[data-uuid="${given.child}"]`).waitFor();
    await page.locator(".counts li").first().waitFor();
    seen.search = new URL(page.url()).search;
    seen.filtered = await page.locator("table.list tbody a[data-uuid]").evaluateAll((links) => links.map((a) => a.dataset.uuid));
    seen.filterKept = await page.inputValue("#f-parentProcessInstanceUuid");
    seen.filteredCounts = await page.locator(".counts li").allInnerTexts();
    seen.calledBy = await page.locator("table.list tbody a[data-parent]").getAttribute("data-parent");
    return seen;
  });

  await step("subprocess", async () => {
    const seen = {};
    await page.goto(`${base}/console/instances/${given.panel}`);
    const inside = page.locator('.pf-inside[data-node="box"]');
    await inside.waitFor();
    seen.inside = await inside.innerText();
    const token = page.locator('.pf-token[data-node="vote"]');
    await token.waitFor({ state: "attached" });
    seen.tokenVisibleBeforeDrill = await token.isVisible();
    await page.click('.bjs-drilldown');
    await token.waitFor();
    seen.tokenInside = await token.innerText();
    seen.loop = await page.locator('.pf-loop[data-node="vote"]').innerText();
    seen.actions = await page.locator('form[id^="action-ok-"]').count();
    await shoot(page, "subprocess");
    await audit(page, "subprocess");
    return seen;
  });

  await step("signedOut", async () => {
    await page.evaluate(() => sessionStorage.setItem("procflow.token", "not-a-token"));
    await page.goto(`${base}/console/instances`);
    await page.waitForURL(/\/console\/sign-in\?reason=/);
    return { alert: await page.locator('[role="alert"]').innerText() };
  });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
