// manifest.test.mjs: web/custom-elements.json (the Custom Elements Manifest of <grad-cam-viewer>) says
// what the element is. Loaded in the browser from a served copy of the site, the element is compared
// with the manifest: observed attributes, properties (accessors of the class), methods, the events its
// source dispatches, the parts of its rendered shadow root and the custom properties its stylesheet
// reads, both ways. The comparison is one function (drift) that is also shown to catch a changed copy.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import * as h from './helpers.mjs';

let site, suite, facts, manifest;

before(async () => {
  site = h.makeSite();
  suite = await h.openSuite(site.dir);
  const { page } = suite;
  // A page with only the element (the site's pages would start loading models this copy does not have).
  fs.writeFileSync(path.join(site.dir, 'manifest-test.html'), '<!doctype html><meta charset="utf-8"><title>manifest</title><body>');
  await page.goto(`${suite.srv.url}manifest-test.html`);
  manifest = await page.evaluate(async () => (await fetch('custom-elements.json')).json());
  facts = await page.evaluate(async () => {
    const mod = await import('./grad-cam-viewer.js');
    const source = await (await fetch('grad-cam-viewer.js')).text();
    const Cls = customElements.get('grad-cam-viewer');
    const proto = Cls.prototype;
    const accessors = {}, methods = [];
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (name === 'constructor' || name.startsWith('_')) continue;
      if (d.get || d.set) accessors[name] = { get: !!d.get, set: !!d.set };
      else if (typeof d.value === 'function') methods.push(name);
    }
    // A fresh element, not connected: nothing loads, and the properties show their defaults.
    const el = document.createElement('grad-cam-viewer');
    const defaults = Object.fromEntries(Object.keys(accessors).map((k) => [k, el[k]]));
    // A connected one (no src: nothing to load): its rendered shadow root, and the style sheet adopted there.
    const v = document.body.appendChild(document.createElement('grad-cam-viewer'));
    const parts = [...new Set([...v.shadowRoot.querySelectorAll('[part]')].flatMap((p) => p.getAttribute('part').trim().split(/\s+/)))];
    const cssText = v.shadowRoot.adoptedStyleSheets.flatMap((s) => [...s.cssRules].map((r) => r.cssText)).join('\n');
    return {
      tagName: v.localName, exported: mod.GradCamViewer === Cls, exports: Object.keys(mod), className: Cls.name,
      observed: Cls.observedAttributes, accessors, methods, defaults,
      events: [...new Set([...source.matchAll(/new CustomEvent\('([^']+)'/g)].map((m) => m[1]))],
      anyEvent: [...source.matchAll(/new (\w*Event)\(/g)].map((m) => m[1]),
      parts, cssProperties: [...new Set([...cssText.matchAll(/var\(\s*(--[\w-]+)/g)].map((m) => m[1]))],
    };
  });
});

after(async () => {
  await h.closeSuite(suite);
  site?.cleanup();
});

const LIFECYCLE = ['connectedCallback', 'disconnectedCallback', 'attributeChangedCallback', 'adoptedCallback'];
const sameSet = (problems, what, inElement, inManifest) => {
  const a = new Set(inElement), b = new Set(inManifest);
  for (const x of a) if (!b.has(x)) problems.push(`${what} '${x}' is not in the manifest`);
  for (const x of b) if (!a.has(x)) problems.push(`${what} '${x}' is in the manifest but not in the element`);
};
// A manifest default ("'layer4'", "0.5", "false", "null") as a value.
const valueOf = (text) => JSON.parse(text.replace(/^'(.*)'$/, (_, s) => JSON.stringify(s)));

// Every difference between the manifest and the element's facts, as one line each.
function drift(m, f) {
  const problems = [];
  const mod = m.modules?.find((x) => x.path === 'grad-cam-viewer.js');
  if (!/^2\./.test(m.schemaVersion || '')) problems.push(`schemaVersion ${m.schemaVersion} is not 2.x`);
  if (!mod) return [...problems, 'no module grad-cam-viewer.js'];
  const c = mod.declarations?.find((d) => d.customElement && d.tagName === f.tagName);
  if (!c) return [...problems, `no custom element declaration with tagName ${f.tagName}`];
  if (c.name !== f.className || !f.exported) problems.push(`class ${c.name}: the module exports ${f.exports}`);
  const ex = mod.exports || [];
  if (!ex.some((e) => e.kind === 'js' && e.name === c.name && e.declaration?.name === c.name)) problems.push('no js export of the class');
  if (!ex.some((e) => e.kind === 'custom-element-definition' && e.name === f.tagName && e.declaration?.name === c.name
    && e.declaration?.module === mod.path)) problems.push('no custom-element-definition export');
  const attrs = c.attributes || [], members = c.members || [];
  const fields = members.filter((x) => x.kind === 'field' && !x.static && x.privacy !== 'private');
  const methods = members.filter((x) => x.kind === 'method' && !x.static && x.privacy !== 'private');
  sameSet(problems, 'attribute', f.observed, attrs.map((a) => a.name));
  sameSet(problems, 'property', Object.keys(f.accessors), fields.map((x) => x.name));
  sameSet(problems, 'method', f.methods.filter((x) => !LIFECYCLE.includes(x)), methods.map((x) => x.name));
  sameSet(problems, 'event', f.events, (c.events || []).map((e) => e.name));
  sameSet(problems, 'css part', f.parts, (c.cssParts || []).map((p) => p.name));
  sameSet(problems, 'css custom property', f.cssProperties, (c.cssProperties || []).map((p) => p.name));
  for (const a of attrs) {
    for (const k of ['type', 'description']) if (!a[k]) problems.push(`attribute ${a.name} has no ${k}`);
    if (a.fieldName && !fields.some((x) => x.name === a.fieldName && x.attribute === a.name)) problems.push(`attribute ${a.name}: no field ${a.fieldName} naming it`);
    if (a.fieldName && a.default !== (fields.find((x) => x.name === a.fieldName)?.default)) problems.push(`attribute ${a.name}: default differs from its field's`);
  }
  for (const x of fields) {
    const acc = f.accessors[x.name];
    if (!x.description || !x.type?.text) problems.push(`property ${x.name} has no type or description`);
    if (!acc) continue;
    if (!acc.get) problems.push(`property ${x.name} has no getter`);
    if (acc.set === !!x.readonly) problems.push(`property ${x.name}: ${acc.set ? 'has a setter but is readonly' : 'has no setter'} in the manifest`);
    if (x.attribute && !attrs.some((a) => a.name === x.attribute && a.fieldName === x.name)) problems.push(`property ${x.name}: attribute ${x.attribute} does not name it`);
    if (x.default !== undefined && JSON.stringify(valueOf(x.default)) !== JSON.stringify(f.defaults[x.name])) {
      problems.push(`property ${x.name}: default ${x.default}, the element's ${JSON.stringify(f.defaults[x.name])}`);
    }
  }
  for (const e of c.events || []) if (e.type?.text !== 'CustomEvent' || !/detail/.test(e.description || '')) problems.push(`event ${e.name}: type or detail undocumented`);
  for (const p of [...(c.cssParts || []), ...(c.cssProperties || [])]) if (!p.description) problems.push(`${p.name} has no description`);
  return problems;
}

test('custom-elements.json describes <grad-cam-viewer> exactly', { timeout: 60000 }, () => {
  assert.deepEqual(facts.anyEvent.filter((e) => e !== 'CustomEvent'), [], 'events are dispatched as new CustomEvent(\'name\', ...) (what this test reads)');
  assert.deepEqual(drift(manifest, facts), []);
  assert.ok(facts.events.length >= 6 && facts.parts.length >= 5 && facts.cssProperties.length >= 7, JSON.stringify(facts));
});

test('properties reflect their attributes as the manifest says', { timeout: 60000 }, async () => {
  const fields = manifest.modules[0].declarations[0].members.filter((x) => x.kind === 'field' && x.attribute);
  const r = await suite.page.evaluate((fields) => fields.map(({ name, attribute, type }) => {
    const el = document.createElement('grad-cam-viewer');
    const t = type.text;
    const value = t.startsWith('boolean') ? true : t === 'number' ? 0.25 : t.startsWith("'") ? t.split("'")[3] : 'x-1';
    el[name] = value;
    const set = el.getAttribute(attribute);
    const back = el[name];
    el[name] = t === 'boolean' ? false : null;
    return { name, set, back: back === value, removed: !el.hasAttribute(attribute) };
  }), fields);
  for (const x of r) {
    assert.ok(x.set !== null && x.back, `${x.name}: setting it gave attribute ${x.set} and read back another value`);
    assert.ok(x.removed, `${x.name}: resetting it left the attribute`);
  }
});

test('the comparison catches drift', () => {
  const copy = () => structuredClone(manifest);
  const decl = (m) => m.modules[0].declarations[0];
  const cases = [
    (m) => decl(m).attributes.pop(),
    (m) => decl(m).members.splice(decl(m).members.findIndex((x) => x.name === 'result'), 1),
    (m) => decl(m).members.splice(decl(m).members.findIndex((x) => x.name === 'toBlob'), 1),
    (m) => decl(m).events.push({ name: 'gradcam-nothing', type: { text: 'CustomEvent' }, description: 'detail: none' }),
    (m) => { decl(m).cssParts[0].name = 'picture'; },
    (m) => decl(m).cssProperties.pop(),
    (m) => { decl(m).members.find((x) => x.name === 'layer').default = "'layer3'"; },
    (m) => { decl(m).members.find((x) => x.name === 'result').readonly = false; },
    (m) => { m.modules[0].exports = m.modules[0].exports.filter((e) => e.kind !== 'custom-element-definition'); },
  ];
  cases.forEach((change, i) => {
    const m = copy();
    change(m);
    assert.ok(drift(m, facts).length > 0, `change ${i} went unnoticed`);
  });
  // and the element side: an event dispatched but not documented, an attribute observed but not in the manifest
  assert.ok(drift(manifest, { ...facts, events: [...facts.events, 'ready'] }).length > 0);
  assert.ok(drift(manifest, { ...facts, observed: [...facts.observed, 'poster'] }).length > 0);
  assert.ok(drift(manifest, { ...facts, accessors: { ...facts.accessors, poster: { get: true, set: true } } }).length > 0);
});
