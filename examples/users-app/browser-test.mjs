// The example app in headless Chromium, against usersgraph over a Cognigy
// fake: filter and sort, scroll through every page, and check that the list
// is exactly the REST listing of the same filter and order (each user once,
// in order, with the creator the fake records); reload at the last page and
// go back with "Load earlier"; then the UNAUTHENTICATED and RATE_LIMITED
// notices. It saves a screenshot of the list and ends with "N passed, N
// failed". Run by check.sh, which starts the servers and sets:
//   APP_URL     the built app (vite preview, proxying /graphql to usersgraph)
//   REST_URL    the Cognigy fake's base URL (".../new") usersgraph pages over
//   API_KEY     the key both accept
//   SCREENSHOT  where the PNG goes
//   CHROMIUM    the browser (default /usr/bin/chromium)
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const env = (name, def) => {
  const v = process.env[name] ?? def;
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const appURL = env('APP_URL');
const restURL = env('REST_URL');
const apiKey = env('API_KEY', 'demo-key');
const screenshot = path.resolve(env('SCREENSHOT'));
const executablePath = env('CHROMIUM', '/usr/bin/chromium');

// The list under test: a filter with several pages of 20, by name, Z to A.
const filter = 'an';
const order = { field: 'NAME', direction: 'DESC', rest: 'name:desc' };
const STEP_MS = 20_000;

// The REST listing, walked with Cognigy's own cursors, 100 at a time.
async function restListing(params) {
  const out = [];
  let next = '';
  for (let pages = 0; pages < 100; pages++) {
    const q = new URLSearchParams({ ...params, limit: '100' });
    if (next) q.set('next', next);
    const res = await fetch(`${restURL}/v2.0/users?${q}`, {
      headers: { 'X-API-Key': apiKey },
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`REST listing: HTTP ${res.status}: ${await res.text()}`);
    const page = await res.json();
    out.push(...page.items);
    if (!page.nextCursor) return out;
    next = page.nextCursor;
  }
  throw new Error('REST listing: more than 100 pages');
}

let passed = 0;
let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(err?.stack ?? err).split('\n').join('\n     ')}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// What the page shows: one entry per row, in order.
const shownUsers = (page) =>
  page.$$eval('[data-user-id]', (rows) =>
    rows.map((r) => ({
      id: r.getAttribute('data-user-id'),
      name: r.querySelector('.name')?.textContent ?? '',
      creator: r.querySelector('.creator')?.textContent ?? '',
    })),
  );

// The rows expected from the REST listing: names as the app shows them,
// and each creator's name looked up among all users (deleted: none).
function expectedRows(listing, everyone) {
  const byID = new Map(everyone.map((u) => [u._id, u]));
  return listing.map((u) => {
    const creator = u.createdBy ? byID.get(u.createdBy) : undefined;
    return {
      id: u._id,
      name: u.name || '(no name)',
      creator: creator ? `created by ${creator.name || creator._id}` : 'creator deleted',
    };
  });
}

function compareLists(shown, expected) {
  const ids = shown.map((u) => u.id);
  const dupes = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert(dupes.length === 0, `users shown more than once: ${dupes.join(', ')}`);
  assert(
    shown.length === expected.length,
    `the app shows ${shown.length} users, the REST listing has ${expected.length}`,
  );
  for (let i = 0; i < expected.length; i++) {
    const a = shown[i];
    const b = expected[i];
    assert(
      a.id === b.id && a.name === b.name && a.creator === b.creator,
      `row ${i + 1}: the app shows ${JSON.stringify(a)}, REST says ${JSON.stringify(b)}`,
    );
  }
}

// Waits until the list is settled (no request in flight) for the filter.
async function settled(page) {
  await page.waitForFunction(
    (f) => {
      const s = document.querySelector('.status');
      return s && s.dataset.filter === f && s.dataset.busy === 'false';
    },
    filter,
    { timeout: STEP_MS },
  );
}

const everyone = await restListing({});
const listing = await restListing({ filter, sort: order.rest });
const expected = expectedRows(listing, everyone);
console.log(`REST listing: ${listing.length} users match "${filter}" (of ${everyone.length}), sort ${order.rest}`);

const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'users-app-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 720 },
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const origin = new URL(appURL).origin;
const foreign = [];
const problems = [];
context.on('request', (r) => {
  const u = new URL(r.url());
  if (u.protocol !== 'data:' && u.origin !== origin) foreign.push(r.url());
});
const page = context.pages()[0] ?? (await context.newPage());
page.on('console', (m) => {
  if (m.type() === 'error') problems.push(`console: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`exception: ${e.message}`));

try {
  await step('the app opens and lists users with their creators', async () => {
    await page.goto(appURL, { timeout: STEP_MS });
    await page.waitForSelector('[data-user-id] .creator', { timeout: STEP_MS });
  });

  await step(`filter "${filter}", sort by name descending`, async () => {
    await page.getByLabel('Sort by').selectOption(order.field);
    await page.getByLabel('Direction').selectOption(order.direction);
    await page.getByLabel('Filter by name or e-mail').fill(filter);
    await settled(page);
    const status = await page.locator('.status').textContent();
    assert(status?.includes(`of ${listing.length} users`), `status says "${status}", want a total of ${listing.length}`);
  });

  await step('scrolling to the end loads every page; the list equals the REST listing', async () => {
    let pages = 1;
    for (;;) {
      await settled(page);
      if (await page.locator('.end').isVisible()) break;
      assert(pages < 50, 'more than 50 pages');
      const before = (await shownUsers(page)).length;
      // From the top down to the end of the list, as a person scrolls.
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.getByTestId('end-of-list').scrollIntoViewIfNeeded();
      await page.waitForFunction((n) => document.querySelectorAll('[data-user-id]').length > n, before, {
        timeout: STEP_MS,
      });
      pages++;
    }
    const shown = await shownUsers(page);
    compareLists(shown, expected);
    console.log(`     ${pages} pages, ${shown.length} users, equal to the REST listing`);
  });

  await step('the screenshot shows users with their creators', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await mkdir(path.dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    console.log(`     screenshot: ${screenshot}`);
  });

  await step('a reload starts at the last page; "Load earlier" goes back to the first', async () => {
    assert(new URL(page.url()).searchParams.get('after'), `the address ${page.url()} keeps no position`);
    await page.reload({ timeout: STEP_MS });
    await settled(page);
    const first = await shownUsers(page);
    assert(first.length < expected.length, `after the reload ${first.length} users are shown, want the last page only`);
    for (let i = 0; i < 50; i++) {
      const earlier = page.getByRole('button', { name: 'Load earlier' });
      if (!(await earlier.isVisible())) break;
      const before = (await shownUsers(page)).length;
      await earlier.click();
      await page.waitForFunction((n) => document.querySelectorAll('[data-user-id]').length > n, before, {
        timeout: STEP_MS,
      });
      await settled(page);
    }
    compareLists(await shownUsers(page), expected);
  });

  await step('a wrong API key shows UNAUTHENTICATED', async () => {
    await page.getByLabel('X-API-Key').fill('not-the-key');
    await page.getByRole('button', { name: 'Use key' }).click();
    const notice = page.locator('.error[data-code="UNAUTHENTICATED"]');
    await notice.waitFor({ timeout: STEP_MS });
    assert((await notice.textContent())?.includes('API key was not accepted'), 'the notice does not say what to do');
  });

  await step('RATE_LIMITED counts down retryAfter, then Retry loads the list', async () => {
    // The answer usersgraph gives when Cognigy answers 429 with Retry-After: 2.
    await page.route(
      '**/graphql',
      (route) =>
        route.fulfill({
          status: 200,
          contentType: 'application/graphql-response+json',
          body: JSON.stringify({
            errors: [
              {
                message: "Cognigy's rate limit was reached; retry later",
                path: ['users'],
                extensions: { code: 'RATE_LIMITED', retryAfter: 2, upstreamStatus: 429 },
              },
            ],
            data: null,
          }),
        }),
      { times: 1 },
    );
    await page.getByLabel('X-API-Key').fill(apiKey);
    await page.getByRole('button', { name: 'Use key' }).click();
    const notice = page.locator('.error[data-code="RATE_LIMITED"]');
    await notice.waitFor({ timeout: STEP_MS });
    const text = await notice.textContent();
    assert(/retry in [12] s/.test(text ?? ''), `the notice says "${text}", want a countdown from 2 s`);
    const retry = notice.getByRole('button', { name: 'Retry' });
    assert(await retry.isDisabled(), 'Retry is enabled before retryAfter has passed');
    await page.waitForFunction(
      () => !document.querySelector('.error[data-code="RATE_LIMITED"] button')?.disabled,
      null,
      { timeout: 5_000 },
    );
    await retry.click();
    await settled(page);
    assert((await shownUsers(page)).length > 0, 'no users after the retry');
  });

  await step('the page loaded nothing from other hosts and logged no error', async () => {
    assert(foreign.length === 0, `requests to other hosts: ${foreign.join(', ')}`);
    assert(problems.length === 0, problems.join('\n'));
  });
} finally {
  if (failed > 0) await page.screenshot({ path: screenshot }).catch(() => {});
  await context.close();
  await rm(userDataDir, { recursive: true, force: true });
}

console.log(`users-app: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
