// Browser test of the graygate admin page: drives the real page in headless Chromium against a
// running graygate (demo config) and checks the effects through the admin API and the proxy.
//
//   npm install            # once, in this directory (playwright-core only; no browser download)
//   node admin.mjs <admin_base_url> <token> <proxy_base_url> <screenshot_path>
//
// Needs Chromium at /usr/bin/chromium (Debian: apt-get install chromium), or set CHROMIUM.
// Exit code 0 when every step passed, 1 with a message naming the failed step otherwise.

import { chromium } from 'playwright-core';

const [adminArg, token, proxyArg, screenshotPath] = process.argv.slice(2);
if (!adminArg || token === undefined || !proxyArg || !screenshotPath) {
  console.error('usage: node admin.mjs <admin_base_url> <token> <proxy_base_url> <screenshot_path>');
  process.exit(2);
}
const admin = adminArg.replace(/\/+$/, '');
const proxy = proxyArg.replace(/\/+$/, '');
const SITE = 'demo';
const CANARY = '1.1.0';
const UID = '4242';
const DEVICE = 'browser-test-device';
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

let step = 'start';
function log(message) {
  console.log(`[admin.mjs] ${message}`);
}
function check(condition, message) {
  if (!condition) throw new Error(message);
}
const tid = (id) => `[data-testid="${id}"]`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function adminGet(path) {
  const response = await fetch(admin + path, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const text = await response.text();
  check(response.ok, `GET ${path}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** The summed percentage of the demo site's percent rules for `version`. */
async function percentFor(version) {
  const site = await adminGet(`/api/v1/sites/${SITE}`);
  const rules = (site.release && site.release.rules) || [];
  const percent = rules.filter((r) => r.percent !== undefined && r.percent !== null && r.version === version);
  check(percent.length > 0, `site ${SITE} has no percent rule for ${version}: ${JSON.stringify(rules)}`);
  return percent.reduce((sum, r) => sum + Number(r.percent), 0);
}

async function pinsOf(version) {
  const body = await adminGet(`/api/v1/sites/${SITE}/release/pins`);
  return (body.pins && body.pins[version]) || [];
}

/** Polls `probe` until it returns a truthy value or `ms` pass; the last value is reported. */
async function eventually(what, probe, ms = 10000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Error(`${what} (last seen: ${JSON.stringify(last)})`);
    await sleep(200);
  }
}

async function proxied() {
  const response = await fetch(`${proxy}/`, {
    headers: { Cookie: `uid=${UID}; uuid=${DEVICE}` },
    redirect: 'manual',
  });
  await response.arrayBuffer();
  return {
    status: response.status,
    version: response.headers.get('x-graygate-version'),
    reason: response.headers.get('x-graygate-reason'),
  };
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

// Playwright gives every launch a fresh temporary --user-data-dir of its own (and refuses one in
// `args`), so nothing carries over between runs.
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
// Record CSP violations from inside the page (init scripts are injected past the CSP).
await context.addInitScript(() => {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile || '?'}:${e.lineNumber || 0}`);
  });
});
const page = await context.newPage();
page.setDefaultTimeout(15000);

const consoleErrors = [];
const pageErrors = [];
const dialogs = [];
let tokenEntered = false;
page.on('console', (msg) => {
  if (msg.type() !== 'error') return;
  const text = msg.text();
  const url = (msg.location() && msg.location().url) || '';
  // Before the token is entered the page's first load is refused (401) by design; the browser
  // logs that resource failure. Anything else, and any 401 after the token, is an error.
  if (!tokenEntered && /Failed to load resource/.test(text) && /\b401\b/.test(text) && url.includes('/api/v1/')) return;
  consoleErrors.push(`${text}${url ? ` (${url})` : ''}`);
});
page.on('pageerror', (err) => pageErrors.push(String(err && err.stack ? err.stack : err)));
page.on('dialog', async (dialog) => {
  dialogs.push({ step, type: dialog.type(), message: dialog.message() });
  await dialog.accept();
});

/** Confirms the page asked before a state change in the current step. */
function checkConfirmed() {
  check(dialogs.some((d) => d.step === step && d.type === 'confirm'), `no confirm() dialog was shown`);
}

async function pageError() {
  const box = page.locator(tid('error'));
  if (!(await box.isVisible())) return '';
  return box.evaluate((el) => [...el.querySelectorAll('[data-testid="error-message"], [data-testid="error-list"] li')]
    .map((n) => n.textContent.trim()).join('; '));
}

/** Waits until the page finished (re)loading its data, and that it shows no error. */
async function settled() {
  await page.waitForFunction(() => document.body.getAttribute('data-state') !== 'loading');
  const err = await pageError();
  check(!err, `the page shows an error: ${err}`);
}

let failed = null;
try {
  step = '1 open the page and enter the token';
  const response = await page.goto(`${admin}/`, { waitUntil: 'load' });
  check(response && response.ok(), `GET / answered ${response && response.status()}`);
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && csp.includes("default-src 'none'"), `the page is served without the strict CSP (got ${JSON.stringify(csp)})`);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.getAttribute('data-state')));
  await page.locator(tid('token')).fill(token);
  tokenEntered = true;
  await page.locator(tid('token-save')).click();
  await settled();
  await page.locator(tid(`site-${SITE}`)).waitFor();
  await page.locator(tid(`percent-input-${SITE}-${CANARY}`)).waitFor();
  check(await page.locator(tid(`default-${SITE}-1.0.0`)).isVisible(), '1.0.0 is not marked as the default version');
  const stored = await page.evaluate(() => sessionStorage.getItem('graygate.admin.token'));
  check(stored === token, 'the token is not kept in sessionStorage');
  log(`step ${step}: ok`);

  step = '2 set 1.1.0 to 25%';
  await page.locator(tid(`percent-input-${SITE}-${CANARY}`)).fill('25');
  await page.locator(tid(`percent-apply-${SITE}-${CANARY}`)).click();
  await eventually(`the API does not show ${CANARY} at 25%`, async () => (await percentFor(CANARY)) === 25);
  checkConfirmed();
  await settled();
  await page.locator(tid(`percent-current-${SITE}-${CANARY}`)).filter({ hasText: '25%' }).waitFor();
  const revisionBeforePin = (await adminGet('/api/v1/revisions')).current;
  check(Number.isInteger(revisionBeforePin), `GET /api/v1/revisions has no current revision`);
  log(`step ${step}: ok (revision ${revisionBeforePin})`);

  step = '3 pin uid 4242 to 1.1.0';
  await page.locator(tid(`pin-input-${SITE}-${CANARY}`)).fill(UID);
  await page.locator(tid(`pin-add-${SITE}-${CANARY}`)).click();
  await eventually(`uid ${UID} is not pinned to ${CANARY} in the API`, async () => (await pinsOf(CANARY)).includes(UID));
  await settled();
  await page.locator(tid(`pin-${SITE}-${CANARY}-${UID}`)).waitFor();
  log(`step ${step}: ok`);

  step = '4 the proxy serves the pin; the API has 25%';
  const pinned = await proxied();
  check(pinned.version === CANARY, `x-graygate-version is ${JSON.stringify(pinned.version)}, expected ${CANARY} (status ${pinned.status})`);
  check(pinned.reason === 'pin', `x-graygate-reason is ${JSON.stringify(pinned.reason)}, expected "pin"`);
  const percentNow = await percentFor(CANARY);
  check(percentNow === 25, `the percent rule for ${CANARY} is ${percentNow}, expected 25`);
  // Live stats: traffic to 1.1.0 shows up as a rate once two polls bracket it.
  await page.locator(tid(`stats-${SITE}-${CANARY}`)).waitFor();
  const qps = page.locator(tid(`stats-qps-${SITE}-${CANARY}`));
  const deadline = Date.now() + 12000;
  let shown = '–';
  while (Date.now() < deadline) {
    await Promise.all(Array.from({ length: 5 }, () => proxied()));
    shown = (await qps.innerText()).trim();
    if (shown !== '–' && shown !== '') break;
    await sleep(300);
  }
  check(/^\d+(\.\d+)?$/.test(shown), `the live QPS of ${CANARY} never showed a rate (shows ${JSON.stringify(shown)})`);
  const p99 = (await page.locator(tid(`stats-p99-${SITE}-${CANARY}`)).innerText()).trim();
  check(/\d/.test(p99), `the live P99 of ${CANARY} shows ${JSON.stringify(p99)} while QPS shows ${shown}`);
  log(`step ${step}: ok (live: ${shown} req/s, P99 ${p99})`);

  step = '5 roll back to 0%';
  await page.locator(tid(`rollback-zero-${SITE}`)).click();
  await eventually(`the API does not show ${CANARY} at 0%`, async () => (await percentFor(CANARY)) === 0);
  checkConfirmed();
  await settled();
  await page.locator(tid(`percent-current-${SITE}-${CANARY}`)).filter({ hasText: /^0%$/ }).waitFor();
  log(`step ${step}: ok`);

  step = `6 roll back to revision ${revisionBeforePin} (before the pin)`;
  const button = page.locator(tid(`revision-rollback-${revisionBeforePin}`));
  await button.waitFor();
  await button.click();
  await eventually(`uid ${UID} is still pinned after the rollback`, async () => !(await pinsOf(CANARY)).includes(UID));
  checkConfirmed();
  await settled();
  await page.locator(tid(`pin-${SITE}-${CANARY}-${UID}`)).waitFor({ state: 'detached' });
  const unpinned = await proxied();
  check(unpinned.version !== null, `the proxied response has no x-graygate-version (status ${unpinned.status})`);
  check(unpinned.reason !== 'pin', `uid ${UID} still gets reason "pin" from the proxy (version ${unpinned.version})`);
  log(`step ${step}: ok (now ${unpinned.version}, reason ${unpinned.reason})`);

  step = '7 screenshot';
  await page.screenshot({ path: screenshotPath, fullPage: true });
  log(`step ${step}: ok (${screenshotPath})`);

  step = '8 no console errors, page errors or CSP violations';
  const violations = await page.evaluate(() => window.__cspViolations || []);
  const problems = [
    ...consoleErrors.map((e) => `console error: ${e}`),
    ...pageErrors.map((e) => `page error: ${e}`),
    ...violations.map((e) => `CSP violation: ${e}`),
  ];
  check(problems.length === 0, `\n  ${problems.join('\n  ')}`);
  log(`step ${step}: ok`);
} catch (e) {
  failed = e;
}

if (failed) {
  const shown = await pageError().catch(() => '');
  console.error(`[admin.mjs] FAILED at step ${step}: ${failed.message}`);
  if (shown) console.error(`[admin.mjs] the page's error area says: ${shown}`);
  if (consoleErrors.length) console.error(`[admin.mjs] console errors so far:\n  ${consoleErrors.join('\n  ')}`);
  if (pageErrors.length) console.error(`[admin.mjs] page errors so far:\n  ${pageErrors.join('\n  ')}`);
  await page.screenshot({ path: screenshotPath, fullPage: true }).then(
    () => console.error(`[admin.mjs] screenshot of the failure: ${screenshotPath}`),
    () => {});
}
await browser.close();
if (failed) process.exit(1);
log('all steps passed');
