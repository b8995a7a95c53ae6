// firefox.mjs: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi, dressed as the part of
// Playwright's persistent BrowserContext and Page that the browser tests use, so that one set of tests
// runs in both engines (helpers.mjs's launch() comes here when GC_BROWSER=firefox).
//
// What it covers: context.newPage/pages/on('request')/setOffline/addInitScript/close; page.goto/reload/
// evaluate/waitForFunction/addInitScript/$eval/$$eval/click/dblclick/hover/focus/fill/press/type/check/
// uncheck/selectOption/setInputFiles/textContent/innerText/innerHTML/getAttribute/inputValue/isVisible/
// isHidden/isDisabled/isEnabled/isChecked/waitForSelector/waitForEvent/waitForTimeout/screenshot/
// workers/keyboard/mouse/on/close. Selectors: CSS (piercing open shadow roots when the light DOM has no
// match, as Playwright's CSS engine does), optionally followed by `>> nth=N`. Locators and getBy* are not
// here on purpose (common.md's subset); they throw a one-line error naming this file.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
const TIMEOUT = 30000; // Playwright's default for actions and waits

// Headless firefox-esr with a fresh profile in a folder of ours (also its TMPDIR, so nothing it writes
// is left elsewhere), a fake camera, and downloads saved to <folder>/downloads.
export async function launchFirefox({ viewport = { width: 1200, height: 1100 }, colorScheme } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-firefox-'));
  const downloads = path.join(dir, 'downloads');
  fs.mkdirSync(downloads);
  const prefs = {
    // The Firefox counterpart of Chromium's --use-fake-device-for-media-stream --use-fake-ui-for-media-stream.
    'media.navigator.streams.fake': true,
    'media.navigator.permission.disabled': true,
    'datareporting.policy.dataSubmissionEnabled': false,
    'browser.shell.checkDefaultBrowser': false,
    // A download must not open the downloads panel: it takes the window's focus from the page.
    'browser.download.alwaysOpenPanel': false,
    'browser.download.panel.shown': true,
  };
  // prefers-color-scheme: there is no BiDi command for it (puppeteer's emulateMediaFeatures is CDP-only).
  if (colorScheme) prefs['layout.css.prefers-color-scheme.content-override'] = colorScheme === 'dark' ? 0 : 1;
  let browser, chrome;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox', executablePath: FIREFOX, headless: true, userDataDir: path.join(dir, 'profile'),
      env: { ...process.env, TMPDIR: dir }, extraPrefsFirefox: prefs, defaultViewport: viewport, protocolTimeout: 600000,
      args: ['--remote-allow-system-access'], // for chromeScope
    });
    await browser.connection.send('browser.setDownloadBehavior', { downloadBehavior: { type: 'allowed', destinationFolder: downloads } });
    chrome = await chromeScope(browser.connection);
    await chrome('ChromeUtils.unregisterProcessActor("WebDriverWorkerListener")').catch((e) => {
      console.warn(`firefox.mjs: could not remove WebDriver's worker listener (pages with nested workers may hang): ${e.message}`);
    });
  } catch (e) {
    await browser?.close().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`firefox (${FIREFOX}) did not start: ${String(e.message).split('\n')[0]}`);
  }
  const context = new Context(browser, dir, viewport, chrome);
  for (const p of await browser.pages()) context._adopt(p); // Playwright's persistent context starts with a blank page too
  const close = async () => {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { context, close };
}

// expression → its value, evaluated in the browser's parent process (chrome scope: the flag
// --remote-allow-system-access), for what BiDi has no command for.
//
// First use, a Firefox bug this works around: while a WebDriver BiDi session is open, its worker listener
// (a WorkerDebuggerManager listener in every content process, registered for every session) makes a
// worker that creates a worker of its own block in `new Worker()` until the main thread has registered
// the new worker's debugger (WorkerDebuggerManager::RegisterDebugger), and now and then that wait never
// ends: the engine worker creating its pthread worker hangs for good, the page stays responsive. About one
// page load in 15-40 under BiDi here, none without it (0 in 90). The tests need no worker realms (Firefox
// cannot evaluate in them anyway), so the listener goes: its process actor is unregistered (then 0 hangs
// in 80 fresh launches). page.workers() is empty from then on; workers' requests are still reported.
async function chromeScope(conn) {
  const tree = await conn.send('browsingContext.getTree', { 'moz:scope': 'chrome' });
  const context = tree.result.contexts[0].context;
  return async (expression) => {
    const r = await conn.send('script.evaluate', { expression, target: { context }, awaitPromise: true });
    if (r.result.type !== 'success') throw new Error(r.result.exceptionDetails?.text || 'chrome-scope evaluation failed');
    return r.result.result.value;
  };
}

const unsupported = (what) => { throw new Error(`${what} is not in the Firefox adapter's Playwright subset (tests/browser/firefox.mjs)`); };

class Context extends EventEmitter {
  constructor(browser, dir, viewport, chrome) {
    super();
    this._browser = browser;
    this._chrome = chrome;
    this._dir = dir;
    this._viewport = viewport;
    this._active = null; // the page input last went to
    this._pages = [];
    this._initScripts = [];
    this._downloads = new Map();
    this._timeout = TIMEOUT;
    const conn = browser.connection;
    // Every request the browser reports, as Playwright's context 'request' event: the pages' and their
    // workers' (including those a service worker answers), but not a service worker's own fetches, which
    // Firefox's BiDi does not report (Chromium's CDP does). data: URLs are no network requests; Playwright
    // does not report them, Firefox does.
    const seen = new Set();
    conn.on('network.beforeRequestSent', (e) => {
      if (/^data:/.test(e.request.url)) return;
      const key = `${e.request.request}/${e.redirectCount}`;
      if (seen.has(key)) return; // the same request again (an auth challenge or an intercept phase)
      seen.add(key);
      const r = new Request(e);
      this.emit('request', r);
      this._pageOf(e.context)?.emit('request', r);
    });
    conn.on('browsingContext.downloadWillBegin', (e) => {
      const d = new Download(e, this._pageOf(e.context));
      this._downloads.set(e.navigation, d);
      d._page?.emit('download', d);
    });
    conn.on('browsingContext.downloadEnd', (e) => this._downloads.get(e.navigation)?._end(e));
  }

  _pageOf(contextId) {
    if (!contextId) return null;
    return this._pages.find((p) => p._p.frames().some((f) => f._id === contextId)) || null;
  }

  // Each page in a window of its own: a Firefox tab behind another is hidden (visibilitychange, no
  // requestAnimationFrame, no IntersectionObserver updates), where every Playwright page is visible.
  // puppeteer's newPage() always opens a tab; its user context can open a window (puppeteer-core 24.9).
  async newPage() {
    let p;
    const bc = this._browser.defaultBrowserContext();
    if (typeof bc.userContext?.createBrowsingContext === 'function') {
      const bidi = await bc.userContext.createBrowsingContext('window');
      p = (await bc.pages()).find((x) => x.mainFrame()._id === bidi.id);
      if (!p) throw new Error('firefox: the new window has no page');
      await p.setViewport(this._viewport);
    } else {
      p = await this._browser.newPage();
    }
    const page = this._adopt(p);
    this._active = page; // a new window opens in front
    for (const [fn, arg] of this._initScripts) await p.evaluateOnNewDocument(fn, arg);
    this.emit('page', page);
    return page;
  }

  _adopt(p) {
    const page = new Page(p, this);
    this._pages.push(page);
    return page;
  }

  pages() { return [...this._pages]; }
  browser() { return this._browser; }
  setDefaultTimeout(ms) { this._timeout = ms; }

  // All contexts (pages, workers, service workers) offline, as Playwright's context.setOffline.
  async setOffline(offline) {
    await this._browser.connection.send('emulation.setNetworkConditions', { networkConditions: offline ? { type: 'offline' } : null });
  }

  async addInitScript(fn, arg) {
    this._initScripts.push([fn, arg]);
    for (const p of this._pages) await p._p.evaluateOnNewDocument(fn, arg);
  }

  async close() {
    await this._browser.close().catch(() => {});
    for (const p of this._pages) p.emit('close', p);
    this._pages = [];
  }
}

// Playwright's Request, from a network.beforeRequestSent event.
class Request {
  constructor(e) { this._e = e; }
  url() { return this._e.request.url; }
  method() { return this._e.request.method; }
  // BiDi gives the body's size, not the body: a placeholder when there is one, null as Playwright otherwise.
  postData() { return this._e.request.bodySize > 0 ? `<${this._e.request.bodySize} bytes>` : null; }
  headers() { return Object.fromEntries((this._e.request.headers || []).map((h) => [h.name.toLowerCase(), h.value.value])); }
  isNavigationRequest() { return this._e.navigation != null; }
  resourceType() {
    const d = this._e.request.destination, t = this._e.request.initiatorType;
    const map = { document: 'document', iframe: 'document', style: 'stylesheet', script: 'script', worker: 'script', sharedworker: 'script',
      serviceworker: 'script', image: 'image', font: 'font', audio: 'media', video: 'media', track: 'texttrack', manifest: 'manifest' };
    if (map[d]) return map[d];
    if (t === 'fetch' || t === 'xmlhttprequest') return t === 'fetch' ? 'fetch' : 'xhr';
    return d === '' ? 'fetch' : 'other';
  }
}

class Download {
  constructor(e, page) {
    this._e = e;
    this._page = page;
    this._done = new Promise((resolve) => { this._end = resolve; });
  }
  page() { return this._page; }
  url() { return this._e.url; }
  suggestedFilename() { return this._e.suggestedFilename; }
  async path() {
    const end = await this._done;
    if (end.status !== 'complete') throw new Error(`download of ${this._e.suggestedFilename} ${end.status}`);
    return end.filepath;
  }
  async failure() { const end = await this._done; return end.status === 'complete' ? null : end.status; }
  async saveAs(to) { fs.copyFileSync(await this.path(), to); }
  async delete() { fs.rmSync(await this.path(), { force: true }); }
}

// `css` or `css >> nth=N` → {css, nth}
function parseSelector(selector) {
  const [first, ...rest] = selector.split(/\s+>>\s+/);
  let css = first.replace(/^css=/, ''), nth = 0;
  if (/^(text|xpath|role|id|data-testid|internal:[\w-]+)=|^\/\/|^\.\.$/.test(css)) unsupported(`selector '${selector}'`);
  for (const r of rest) {
    const m = /^nth=(-?\d+)$/.exec(r);
    if (!m) unsupported(`selector '${selector}'`);
    nth = Number(m[1]);
  }
  return { css, nth };
}

// In the page: the nth element matching css (light DOM first, then open shadow roots) in the state
// asked for. Returns the element (or true for hidden/detached) when the state is met, else null; with
// asBool, a boolean at once. Self-contained: it is serialised into the page.
function pageFind(css, nth, state, asBool) {
  let list = [...document.querySelectorAll(css)];
  if (list.length <= Math.max(nth, -nth - 1)) {
    const walk = (root) => {
      for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) { list.push(...el.shadowRoot.querySelectorAll(css)); walk(el.shadowRoot); }
      }
    };
    walk(document);
  }
  const el = nth < 0 ? list[list.length + nth] : list[nth];
  const visible = (e) => {
    if (getComputedStyle(e).visibility === 'hidden') return false;
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const disabled = (e) => e.matches(':disabled') || e.closest('[aria-disabled=true]') !== null;
  let ok;
  if (state === 'attached') ok = !!el;
  else if (state === 'visible') ok = !!el && visible(el);
  else if (state === 'actionable') ok = !!el && visible(el) && !disabled(el);
  else if (state === 'hidden') ok = !el || !visible(el);
  else if (state === 'detached') ok = !el;
  else throw new Error(`unknown state ${state}`);
  if (asBool) return ok;
  if (!ok) return null;
  return el && state !== 'hidden' && state !== 'detached' ? el : true;
}

const MODIFIERS = { Shift: 'Shift', Control: 'Control', Ctrl: 'Control', Alt: 'Alt', Meta: 'Meta', ControlOrMeta: 'Control' };

class Keyboard {
  constructor(page) { this._page = page; }
  async _k() { await this._page._front(); return this._page._p.keyboard; }
  // Playwright's 'Shift+Tab' combinations; a lone '+' is the key itself.
  async press(key, { delay } = {}) {
    const [, prefix, main] = /^((?:[A-Za-z]+\+)*)(.+)$/.exec(key);
    const mods = prefix.split('+').filter(Boolean).map((m) => MODIFIERS[m] || unsupported(`key modifier '${m}'`));
    const k = await this._k();
    for (const m of mods) await k.down(m);
    try {
      await k.press(main, { delay });
    } finally {
      for (const m of mods.reverse()) await k.up(m);
    }
  }
  async down(key) { await (await this._k()).down(MODIFIERS[key] || key); }
  async up(key) { await (await this._k()).up(MODIFIERS[key] || key); }
  async type(text, { delay } = {}) { await (await this._k()).type(text, { delay }); }
  async insertText(text) { await this._page._front(); await this._page._p.evaluate((t) => { document.execCommand('insertText', false, t); }, text); }
}

class Mouse {
  constructor(page) { this._page = page; }
  async _m() { await this._page._front(); return this._page._p.mouse; }
  async move(x, y, { steps } = {}) { await (await this._m()).move(x, y, { steps }); }
  async down({ button, clickCount } = {}) { await (await this._m()).down({ button, clickCount }); }
  async up({ button, clickCount } = {}) { await (await this._m()).up({ button, clickCount }); }
  async click(x, y, { button, clickCount, delay } = {}) { await (await this._m()).click(x, y, { button, count: clickCount, delay }); }
  dblclick(x, y, opts = {}) { return this.click(x, y, { ...opts, clickCount: 2 }); }
  async wheel(deltaX, deltaY) { await (await this._m()).wheel({ deltaX, deltaY }); }
}

class Worker {
  constructor(w) { this._w = w; }
  url() { return this._w.url(); }
  async evaluate(fn, arg) {
    try {
      return await this._w.evaluate(fn, arg);
    } catch (e) {
      throw new Error(`Firefox cannot evaluate in worker ${this._w.url()}: ${String(e.message).split('\n')[0]}`);
    }
  }
}

class Page extends EventEmitter {
  constructor(p, context) {
    super();
    this._p = p;
    this._context = context;
    this._closed = false;
    this.keyboard = new Keyboard(this);
    this.mouse = new Mouse(this);
    // puppeteer's events, in Playwright's shape.
    p.on('console', (m) => this.emit('console', {
      type: () => ({ warn: 'warning' }[m.type()] || m.type()), text: () => m.text(), args: () => m.args(), location: () => m.location(), page: () => this,
    }));
    p.on('pageerror', (e) => this.emit('pageerror', e instanceof Error ? e : new Error(String(e))));
    p.on('workercreated', (w) => this.emit('worker', new Worker(w)));
    p.on('response', (r) => this.emit('response', r));
    p.on('load', () => this.emit('load', this));
    p.on('domcontentloaded', () => this.emit('domcontentloaded', this));
    p.on('close', () => { this._closed = true; this.emit('close', this); });
    p.on('framenavigated', (f) => { if (f === p.mainFrame()) this._applyScheme().catch(() => {}); });
    // Playwright dismisses dialogs nobody listens to; puppeteer would leave the page blocked.
    p.on('dialog', (d) => { if (this.listenerCount('dialog')) this.emit('dialog', d); else d.dismiss().catch(() => {}); });
  }

  context() { return this._context; }
  isClosed() { return this._closed; }
  url() { return this._p.url(); }
  title() { return this._p.title(); }
  content() { return this._p.content(); }
  setContent(html, { waitUntil = 'load', timeout } = {}) { return this._p.setContent(html, { waitUntil: nav(waitUntil), timeout: timeout ?? this._context._timeout }); }
  async goto(url, { waitUntil = 'load', timeout } = {}) {
    const r = await this._p.goto(url, { waitUntil: nav(waitUntil), timeout: timeout ?? this._context._timeout });
    await this._applyScheme();
    return r;
  }
  async reload({ waitUntil = 'load', timeout } = {}) {
    const r = await this._p.reload({ waitUntil: nav(waitUntil), timeout: timeout ?? this._context._timeout });
    await this._applyScheme();
    return r;
  }
  goBack(opts = {}) { return this._p.goBack({ waitUntil: nav(opts.waitUntil || 'load'), timeout: opts.timeout ?? this._context._timeout }); }
  goForward(opts = {}) { return this._p.goForward({ waitUntil: nav(opts.waitUntil || 'load'), timeout: opts.timeout ?? this._context._timeout }); }
  async bringToFront() { await this._p.bringToFront(); this._context._active = this; }
  // Input goes to the window in front (focus, :focus-visible, keyboard): bring this page there first,
  // as every Playwright page behaves as the focused one.
  async _front() { if (this._context._active !== this) await this.bringToFront(); }
  setDefaultTimeout(ms) { this._context._timeout = ms; }
  async close() { if (!this._closed) await this._p.close(); this._context._pages = this._context._pages.filter((x) => x !== this); }

  // Playwright: evaluate(fn, arg) and waitForFunction(fn, arg, {timeout, polling}); puppeteer takes
  // (fn, ...args) and (fn, options, ...args).
  evaluate(fn, ...arg) { return this._p.evaluate(fn, ...arg.slice(0, 1)); }
  evaluateHandle(fn, ...arg) { return this._p.evaluateHandle(fn, ...arg.slice(0, 1)); }
  // Polling every 100 ms rather than on animation frames (Playwright's default): it also goes on in a
  // page that is not in front.
  waitForFunction(fn, arg, { timeout, polling = 100 } = {}) {
    return this._p.waitForFunction(fn, { timeout: timeout ?? this._context._timeout, polling }, arg);
  }
  addInitScript(fn, arg) {
    if (fn && typeof fn === 'object') unsupported('addInitScript({path|content})');
    return this._p.evaluateOnNewDocument(fn, arg);
  }
  $eval(selector, fn, ...arg) { return this._p.$eval(selector, fn, ...arg.slice(0, 1)); }
  $$eval(selector, fn, ...arg) { return this._p.$$eval(selector, fn, ...arg.slice(0, 1)); }
  $(selector) { return this._p.$(selector); }
  $$(selector) { return this._p.$$(selector); }
  waitForTimeout(ms) { return new Promise((r) => setTimeout(r, ms)); }
  workers() { return this._p.workers().map((w) => new Worker(w)); }
  viewportSize() { return this._p.viewport(); }
  setViewportSize({ width, height }) { return this._p.setViewport({ width, height }); }
  async screenshot({ path: file, fullPage = false, type, quality, clip } = {}) {
    return Buffer.from(await this._p.screenshot({ path: file, fullPage, type, quality, clip }));
  }
  // Playwright's emulateMedia({colorScheme}) for this page only: BiDi has no command for it, the
  // browsing context's prefersColorSchemeOverride (what DevTools' simulation sets) does it.
  // A navigation that switches browsing context (these pages are cross-origin isolated) drops the
  // override: it is set again on each main-frame navigation, as Playwright's lasts for the page.
  async emulateMedia({ colorScheme, ...rest } = {}) {
    if (Object.keys(rest).length) unsupported(`page.emulateMedia({${Object.keys(rest).join(', ')}})`);
    if (colorScheme === undefined) return;
    this._scheme = colorScheme === 'light' || colorScheme === 'dark' ? colorScheme : 'none';
    await this._applyScheme();
  }
  async _applyScheme() {
    if (!this._scheme) return;
    await this._context._chrome(`(() => {
      const { NavigableManager } = ChromeUtils.importESModule('chrome://remote/content/shared/NavigableManager.sys.mjs');
      NavigableManager.getBrowsingContextById(${JSON.stringify(this._p.mainFrame()._id)}).prefersColorSchemeOverride = ${JSON.stringify(this._scheme)};
    })()`);
  }

  // The element for selector once it is in state ('attached', 'visible', 'actionable'), as Playwright's
  // actions wait for it.
  async _el(selector, state = 'attached', timeout) {
    const { css, nth } = parseSelector(selector);
    const t = timeout ?? this._context._timeout;
    try {
      const h = await this._p.waitForFunction(pageFind, { timeout: t, polling: 100 }, css, nth, state, false);
      return h.asElement();
    } catch (e) {
      if (/Waiting failed|timeout|exceeded/i.test(e.message)) throw new Error(`${selector}: no ${state} element after ${t} ms`);
      throw e;
    }
  }

  async waitForSelector(selector, { state = 'visible', timeout } = {}) {
    const { css, nth } = parseSelector(selector);
    const h = await this._p.waitForFunction(pageFind, { timeout: timeout ?? this._context._timeout, polling: 100 }, css, nth, state, false);
    return state === 'hidden' || state === 'detached' ? null : h.asElement();
  }
  async _is(selector, state) { const { css, nth } = parseSelector(selector); return this._p.evaluate(pageFind, css, nth, state, true); }
  isVisible(selector) { return this._is(selector, 'visible'); }
  async isHidden(selector) { return !(await this._is(selector, 'visible')); }
  async isDisabled(selector) { return (await this._el(selector)).evaluate((e) => e.matches(':disabled') || e.closest('[aria-disabled=true]') !== null); }
  async isEnabled(selector) { return !(await this.isDisabled(selector)); }
  async isChecked(selector) { return (await this._el(selector)).evaluate((e) => (e.type === 'checkbox' || e.type === 'radio' ? e.checked : e.getAttribute('aria-checked') === 'true')); }
  async textContent(selector, { timeout } = {}) { return (await this._el(selector, 'attached', timeout)).evaluate((e) => e.textContent); }
  async innerText(selector, { timeout } = {}) { return (await this._el(selector, 'attached', timeout)).evaluate((e) => e.innerText); }
  async innerHTML(selector, { timeout } = {}) { return (await this._el(selector, 'attached', timeout)).evaluate((e) => e.innerHTML); }
  async getAttribute(selector, name, { timeout } = {}) { return (await this._el(selector, 'attached', timeout)).evaluate((e, n) => e.getAttribute(n), name); }
  async inputValue(selector, { timeout } = {}) { return (await this._el(selector, 'attached', timeout)).evaluate((e) => e.value); }

  async click(selector, { button, clickCount, delay, position, modifiers = [], force, timeout } = {}) {
    const h = await this._el(selector, force ? 'attached' : 'actionable', timeout);
    await this._front();
    for (const m of modifiers) await this.keyboard.down(m);
    try {
      await h.click({ button, count: clickCount, delay, offset: position });
    } finally {
      for (const m of [...modifiers].reverse()) await this.keyboard.up(m);
    }
  }
  dblclick(selector, opts = {}) { return this.click(selector, { ...opts, clickCount: 2 }); }
  async hover(selector, { timeout } = {}) { const h = await this._el(selector, 'visible', timeout); await this._front(); await h.hover(); }
  async focus(selector, { timeout } = {}) { const h = await this._el(selector, 'attached', timeout); await this._front(); await h.focus(); }
  async press(selector, key, opts = {}) { await this.focus(selector, opts); await this.keyboard.press(key, opts); }
  async type(selector, text, { delay, timeout } = {}) { await this.focus(selector, { timeout }); await this.keyboard.type(text, { delay }); }

  // Playwright's fill: focus, select all, insert the text (one input event); for inputs that cannot
  // take typed text (range, date, color...) it sets the value and fires input and change.
  async fill(selector, value, { timeout } = {}) {
    const h = await this._el(selector, 'actionable', timeout);
    await this._front();
    const ok = await h.evaluate((e, v) => {
      e.focus();
      if (e.isContentEditable) document.getSelection().selectAllChildren(e);
      else if (typeof e.select === 'function') e.select();
      if (v === '' ? document.execCommand('delete', false) : document.execCommand('insertText', false, v)) return (e.isContentEditable ? e.textContent : e.value) === v;
      return false;
    }, value);
    if (!ok) {
      await h.evaluate((e, v) => {
        e.value = v;
        e.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
        e.dispatchEvent(new Event('change', { bubbles: true }));
      }, value);
    }
  }

  async _setChecked(selector, want, { timeout, force } = {}) {
    const h = await this._el(selector, force ? 'attached' : 'actionable', timeout);
    const state = () => h.evaluate((e) => (e.type === 'checkbox' || e.type === 'radio' ? e.checked : e.getAttribute('aria-checked') === 'true'));
    if (await state() === want) return;
    await this._front();
    await h.click();
    if (await state() !== want) throw new Error(`${selector}: clicking did not ${want ? 'check' : 'uncheck'} it`);
  }
  check(selector, opts) { return this._setChecked(selector, true, opts); }
  uncheck(selector, opts) { return this._setChecked(selector, false, opts); }
  setChecked(selector, checked, opts) { return this._setChecked(selector, checked, opts); }

  // Playwright's selectOption: strings match an option's value or label; {value}|{label}|{index}; waits
  // until the options exist; fires input and change (bubbling); returns the selected values.
  async selectOption(selector, values, { timeout } = {}) {
    const want = (Array.isArray(values) ? values : [values]).map((v) => (typeof v === 'string' ? { any: v } : v));
    const t = timeout ?? this._context._timeout, t0 = Date.now();
    for (;;) {
      const h = await this._el(selector, 'actionable', Math.max(1, t - (Date.now() - t0)));
      const r = await h.evaluate((el, want) => {
        if (el.tagName !== 'SELECT') throw new Error('not a <select> element');
        const opts = [...el.options];
        const pick = want.map((w) => opts.find((o) => ('any' in w ? o.value === w.any || o.label === w.any
          : 'value' in w ? o.value === w.value : 'label' in w ? o.label === w.label : o.index === w.index)));
        if (pick.some((o) => !o)) return null;
        for (const o of opts) o.selected = pick.includes(o);
        el.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
        el.dispatchEvent(new Event('change', { bubbles: true }));
        return pick.map((o) => o.value);
      }, want);
      if (r) return r;
      if (Date.now() - t0 > t) throw new Error(`${selector}: no option ${JSON.stringify(values)} after ${t} ms`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  // Paths, or Playwright's {name, mimeType, buffer} payloads (written to a folder of ours first).
  async setInputFiles(selector, files, { timeout } = {}) {
    const list = (Array.isArray(files) ? files : [files]).map((f) => {
      if (typeof f === 'string') return path.resolve(f);
      const d = fs.mkdtempSync(path.join(this._context._dir, 'upload-'));
      fs.writeFileSync(path.join(d, f.name), f.buffer);
      return path.join(d, f.name);
    });
    await (await this._el(selector, 'attached', timeout)).uploadFile(...list);
  }

  // Playwright's waitForEvent(event, predicate | {predicate, timeout}).
  waitForEvent(event, opts = {}) {
    const { predicate = () => true, timeout = this._context._timeout } = typeof opts === 'function' ? { predicate: opts } : opts;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.off(event, on); reject(new Error(`page.waitForEvent('${event}'): none after ${timeout} ms`)); }, timeout);
      const on = async (v) => {
        if (!(await predicate(v))) return;
        clearTimeout(t);
        this.off(event, on);
        resolve(v);
      };
      this.on(event, on);
    });
  }
  waitForRequest(match, { timeout } = {}) {
    const test = typeof match === 'function' ? match : match instanceof RegExp ? (r) => match.test(r.url()) : (r) => r.url() === match;
    return this.waitForEvent('request', { predicate: test, timeout });
  }
  waitForResponse(match, { timeout } = {}) {
    const test = typeof match === 'function' ? match : match instanceof RegExp ? (r) => match.test(r.url()) : (r) => r.url() === match;
    return this.waitForEvent('response', { predicate: test, timeout });
  }
  async waitForLoadState(state = 'load', { timeout } = {}) {
    const want = state === 'domcontentloaded' ? ['interactive', 'complete'] : ['complete'];
    await this._p.waitForFunction((w) => w.includes(document.readyState), { timeout: timeout ?? this._context._timeout }, want);
  }
}
for (const m of ['locator', 'getByRole', 'getByText', 'getByLabel', 'getByTestId', 'getByPlaceholder', 'getByAltText', 'getByTitle', 'frameLocator', 'route', 'exposeBinding']) {
  Page.prototype[m] = () => unsupported(`page.${m}()`);
}

function nav(waitUntil) {
  return { load: 'load', domcontentloaded: 'domcontentloaded', networkidle: 'networkidle0', commit: 'domcontentloaded' }[waitUntil] || unsupported(`waitUntil '${waitUntil}'`);
}
