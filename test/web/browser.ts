/**
 * Browser tests' helpers: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), pages of the app in desktop- and phone-sized contexts, axe-core checks and
 * screenshots. Screenshots go to test/web/screenshots/ (ignored by git).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import type { Test } from 'tap'
import { ROOT } from '../helpers/node-process.js'

interface Teardown { teardown(fn: () => unknown): void }
type Assert = Pick<Test, 'same'>

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const SCREENSHOTS = join(ROOT, 'test', 'web', 'screenshots')

export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } }
export const PHONE: BrowserContextOptions = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }

/**
 * Starts Chromium headless with networking to anything but the test's own server turned off.
 * Playwright gives every launch a fresh, temporary user-data-dir of its own.
 */
export async function launch(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic', '--disable-default-apps', '--disable-extensions',
    ],
  })
  t.teardown(() => browser.close())
  return browser
}

export interface AppPage {
  context: BrowserContext
  page: Page
  /** Page errors and console errors, which a test expects to stay empty. */
  errors: string[]
  /** Alert, confirm or prompt dialogs the page opened (an injected script would). */
  dialogs: string[]
}

/**
 * A new context (its own storage: one person) with the app open. `init` runs in every page before
 * the app's script, with `arg` (JSON) as its argument.
 */
export async function openApp<A>(browser: Browser, base: string, options: BrowserContextOptions, init?: (arg: A) => void, arg?: A): Promise<AppPage> {
  const context = await browser.newContext({ ...options, baseURL: base })
  context.setDefaultTimeout(10_000)
  // Functions handed to the page (evaluate, init scripts) are sent as their source; tests are
  // transpiled by esbuild (tsx), which wraps named functions in a `__name` helper that exists only
  // in Node. The page gets one that does nothing.
  await context.addInitScript({ content: 'globalThis.__name = (target) => target' })
  // playwright types the page's argument as Unboxed<A> (handles replaced by their values), which
  // TypeScript cannot resolve for a generic A; `arg` is plain JSON, unchanged by that.
  if (init !== undefined) await context.addInitScript(init as (arg: unknown) => void, arg as A)
  const page = await context.newPage()
  const app: AppPage = { context, page, errors: [], dialogs: [] }
  watch(app, page)
  await page.goto('/')
  return app
}

/**
 * Another window of the same person (same storage). A window, not a tab: headless Chromium draws
 * a background tab's frames about once a second, and every click or hover there then waits
 * seconds for the element to be "stable". So the app is opened from one of the person's pages as
 * a popup window of its own, as a user might open it with shift-click.
 */
export async function openTab(app: AppPage): Promise<Page> {
  const opener = app.context.pages().find((p) => !p.isClosed())
  const page = opener ? await openWindow(app.context, opener) : await app.context.newPage()
  // Watched before the app loads, so that an error while it loads is seen too.
  watch(app, page)
  await page.goto('/')
  return page
}

/** A blank popup window opened from `opener`, in its context. */
async function openWindow(context: BrowserContext, opener: Page): Promise<Page> {
  const [page] = await Promise.all([
    context.waitForEvent('page'),
    opener.evaluate(() => { window.open('about:blank', '_blank', 'popup,noopener') }),
  ])
  return page
}

function watch(app: AppPage, page: Page): void {
  page.on('pageerror', (err) => app.errors.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => {
    // A refused WebSocket or fetch while the server is down is expected in the restart tests.
    if (msg.type() === 'error' && !/ERR_CONNECTION_REFUSED|WebSocket connection|Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(msg.text())) app.errors.push(`console: ${msg.text()}`)
  })
  page.on('dialog', (dialog) => {
    app.dialogs.push(dialog.message())
    void dialog.dismiss()
  })
}

/** Signs up (or logs in when `login`) through the form and waits for the connected app. */
export async function enter(page: Page, username: string, password = 'password-123', login = false): Promise<void> {
  await page.getByTestId('username').fill(username)
  await page.getByTestId('password').fill(password)
  await page.getByTestId(login ? 'login' : 'signup').click()
  await page.locator('[data-testid="connection"][data-state="connected"]').waitFor({ timeout: 15_000 })
}

/** Runs axe-core on the page; serious and critical violations fail the test, with their details. */
export async function accessible(t: Assert, page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze()
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  t.same(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')})`), [], `axe: no serious or critical violations on ${screen}`)
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) })
}

/** The messages of the open conversation as the page shows them. */
export async function shownMessages(page: Page): Promise<Array<{ seq: string; from: string; pending: string; text: string }>> {
  return page.getByTestId('message').evaluateAll((els) => els.map((el) => ({
    seq: el.getAttribute('data-seq') ?? '',
    from: el.getAttribute('data-from') ?? '',
    pending: el.getAttribute('data-pending') ?? '',
    text: el.querySelector('.message__text')?.textContent ?? '',
  })))
}
