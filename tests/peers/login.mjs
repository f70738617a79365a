// Browser driver used as gitsign's URL opener in tests/login.rs:
//   node login.mjs URL     (GITSIGN_URL_OPENER='node tests/peers/login.mjs {{.URL}}')
// Opens URL in headless Debian chromium through playwright-core, signs in to oidc-provider's
// development pages and approves consent (PEER_ACTION=deny: cancels instead), then waits until
// the browser lands on the loopback callback. gitsign detaches the opener's stdio, so progress
// and the callback page's text go to the file named by PEER_LOG.
import { chromium } from "playwright-core";
import { appendFileSync } from "node:fs";

const url = process.argv[2];
const log = (msg) => process.env.PEER_LOG && appendFileSync(process.env.PEER_LOG, `${msg}\n`);
let browser;
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  log(`goto ${url}`);
  await page.goto(url);
  if (process.env.PEER_ACTION === "deny") {
    await page.click('a[href*="/abort"]');
  } else {
    await page.fill("input[name=login]", process.env.PEER_LOGIN || "alice");
    await page.fill("input[name=password]", "any");
    await page.click("button[type=submit]");
    // The consent page's marker input is hidden: wait for it to be attached, not visible.
    await page.waitForSelector("input[name=prompt][value=consent]", { state: "attached", timeout: 20000 });
    await page.click("button[type=submit]");
  }
  await page.waitForURL(/\/auth\/callback/, { timeout: 20000 });
  log(`landed ${page.url()}`);
  log(`page: ${(await page.textContent("body")).trim().replace(/\s+/g, " ")}`);
} catch (e) {
  log(`error: ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
} finally {
  // launch() made a fresh temporary profile, removed on close.
  if (browser) await browser.close();
}
