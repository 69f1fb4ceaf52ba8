// Loads /docs and /redoc of a real server in headless Chromium with every request outside
// 127.0.0.1 refused, authorizes with a bearer token through Swagger UI's "Authorize" dialog,
// runs one operation with "Try it out", and prints what it saw as one JSON line.
// Usage: node docs_check.mjs BASE TOKEN CHROMIUM (run by tests/api/test_docs_offline.py; it lives here so that Node finds playwright-core).
import { chromium } from "playwright-core";

const [base, token, executablePath] = process.argv.slice(2);
const flags = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run",
];
const browser = await chromium.launch({ executablePath, args: flags, headless: true });
const result = { outside: [], failed: [] };
try {
  const context = await browser.newContext({ serviceWorkers: "block" });
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    result.outside.push(url.href);
    return route.abort("internetdisconnected");
  });
  const page = await context.newPage();
  page.on("requestfailed", (r) => result.failed.push(r.url()));
  await page.goto(`${base}/docs`, { waitUntil: "networkidle" });
  await page.waitForSelector(".opblock", { timeout: 30000 });
  result.operations = await page.$$eval(".opblock .opblock-summary-operation-id", (els) =>
    els.map((e) => e.textContent.trim()),
  );
  result.tags = await page.$$eval(".opblock-tag", (els) => els.map((e) => e.getAttribute("data-tag")));

  await page.click("button.authorize");
  await page.fill(".auth-container input", token);
  await page.click(".auth-btn-wrapper button.authorize");
  await page.click(".auth-btn-wrapper button.btn-done");

  const operation = page.locator("#operations-instances-getActiveBuild");
  await operation.locator(".opblock-summary").click();
  // /docs opens with "Try it out" on (tryItOutEnabled): the inputs are editable at once.
  await operation.locator('tr[data-param-name="workspaceId"] input').fill("00000000-0000-0000-0000-000000000001");
  await operation.locator('tr[data-param-name="appId"] input').fill("00000000-0000-0000-0000-0000000000a1");
  const answered = page.waitForResponse((r) => r.url().endsWith("/build/info"));
  await operation.locator("button.execute").click();
  const answer = await answered;
  result.tryItOut = { status: answer.status(), authorization: answer.request().headers()["authorization"] ?? null };

  const bodyOperation = page.locator("#operations-start-startProcess");
  await bodyOperation.locator(".opblock-summary").click();
  result.bodyEditable = await bodyOperation.locator("textarea.body-param__text").isEditable();
  result.bodyExample = await bodyOperation.locator("textarea.body-param__text").inputValue();

  const redoc = await context.newPage();
  await redoc.goto(`${base}/redoc`, { waitUntil: "networkidle" });
  await redoc.waitForSelector("[data-section-id^='tag/']", { timeout: 30000 });
  result.redocSections = await redoc.$$eval("[data-section-id^='operation/']", (els) =>
    els.map((e) => e.getAttribute("data-section-id")),
  );
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
