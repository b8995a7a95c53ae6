// compare-ui.js: the page's compare view (index.html, section 4): a grid of labelled tiles, one
// explanation each, of the current image in the current style, varying the classes (top K), the
// layers or the methods, as the CLI's --compare classes:K|layers:..|methods:.. --grid does. A click on
// a tile makes it the main view (its class, layer and method go to the pickers). It owns these
// elements only; app.js runs the jobs (gradcam.js compare()) through its queue, so that a newer request
// or Cancel stops a grid like any explanation.
//
// Quick grids (every tile about one forward + backward) follow the main view by themselves. A grid
// with a long tile (Score-CAM, FullGrad, Ablation-CAM below layer4, aug-smooth), or any grid while the
// main view is long, waits for the Compare button and shows the progress bar and Cancel: redrawing
// it for every opacity step would re-run minutes of work, since the worker keeps one explanation.
// For the same reason compare-by-methods starts with the quick methods only; the slow ones can be
// ticked.
import { isLong, LAYERS, methodInfo, METHODS, tileCaption } from './gradcam.js';

const $ = (id) => document.getElementById(id);
const QUICK_METHODS = ['gradcam', 'hirescam', 'gradcam++', 'xgradcam', 'layercam', 'eigencam'];
const DEFAULT_LAYERS = ['layer2', 'layer3', 'layer4'];
const MAX_SIDE = 448; // tiles of larger images are shown scaled down to this (the grid is for looking)

function checkbox(name, value, text, checked) {
  const input = Object.assign(document.createElement('input'), { type: 'checkbox', name, value, checked });
  const label = Object.assign(document.createElement('label'), { className: 'check' });
  label.append(input, ` ${text}`);
  return label;
}

export function initCompareUI({ onChange, onRun, onPick }) {
  const by = $('compare-by'), k = $('compare-k'), run = $('compare-run'), status = $('compare-status'), grid = $('compare-grid');
  const layersBox = $('compare-layers'), methodsBox = $('compare-methods');
  layersBox.append(...LAYERS.map((l) => checkbox('compare-layer', l, l, DEFAULT_LAYERS.includes(l))));
  methodsBox.append(...METHODS.map((m) => checkbox('compare-method', m.name,
    `${m.label}${m.long === true ? ' (slow)' : m.long ? ' (slow below layer4)' : ''}`, QUICK_METHODS.includes(m.name))));
  const ticked = (box) => [...box.querySelectorAll('input:checked')].map((i) => i.value);

  let shownKey = null; // what the grid on show was made from (null: nothing, or out of date)
  function reflect() {
    const v = by.value;
    $('compare-k-box').hidden = v !== 'classes';
    layersBox.hidden = v !== 'layers';
    methodsBox.hidden = v !== 'methods';
    run.disabled = !v;
    if (!v) { grid.replaceChildren(); shownKey = null; status.textContent = ''; }
  }
  reflect();
  by.addEventListener('change', () => { reflect(); onChange(); });
  k.addEventListener('change', onChange);
  layersBox.addEventListener('change', onChange);
  methodsBox.addEventListener('change', onChange);
  run.addEventListener('click', onRun);

  const api = {
    // The number of classes of the model: K goes up to it (and to 16, as the CLI's).
    // The model's layers (gc.layers), the ticks kept where the model has the layer.
    setLayers(list) {
      const was = ticked(layersBox);
      layersBox.replaceChildren(...list.map((l) => checkbox('compare-layer', l, l, (was.length ? was : DEFAULT_LAYERS).includes(l))));
      shownKey = null;
    },
    setClasses(n) {
      k.max = String(Math.min(16, n));
      if (Number(k.value) > Number(k.max)) k.value = k.max;
    },

    // The grid the controls ask for, given the main view's options (null: off, or nothing ticked):
    // {by, items, long, key, base}. The tiles take opts except what the grid varies. scene names the
    // image, model and input size (a grid of another one is out of date).
    plan(opts, scene) {
      const v = by.value;
      if (!v) return null;
      const base = { ...opts, metrics: false };
      let items = [], long;
      if (v === 'classes') {
        const kk = Math.max(1, Math.min(Number(k.max) || 16, Math.round(Number(k.value)) || 1));
        k.value = String(kk);
        items = kk;
        long = isLong(base);
        delete base.classIndex;
      } else {
        items = ticked(v === 'layers' ? layersBox : methodsBox);
        if (!items.length) { status.textContent = `tick at least one of the ${v}`; return null; }
        long = items.some((x) => isLong({ ...base, [v === 'layers' ? 'layer' : 'method']: x }));
        delete base[v === 'layers' ? 'layer' : 'method'];
      }
      return { by: v, items, long, key: JSON.stringify([scene, v, items, base]), base };
    },

    // Is the grid on show the one plan asks for?
    current(plan) { return !!plan && plan.key === shownKey; },

    // The grid no longer shows the main view's settings and waits for the Compare button.
    stale(plan) {
      if (api.current(plan)) return;
      grid.classList.toggle('stale', grid.children.length > 0);
      status.textContent = `${plan.long ? 'slow tiles: ' : ''}press Compare to ${grid.children.length ? 'update' : 'draw'} the grid`;
    },

    // Draw the grid with gc.compare: tiles appear as they are done. labels: the page's class names.
    async run(gc, plan, labels, { signal, onProgress }) {
      shownKey = null;
      const n = plan.by === 'classes' ? plan.items : plan.items.length;
      status.textContent = `comparing ${n} ${plan.by}…`;
      // Keep the old tiles until new ones replace them (no flicker for a quick grid).
      while (grid.children.length > n) grid.lastChild.remove();
      const t0 = performance.now();
      try {
        await gc.compare(null, {
          ...plan.base, by: plan.by, k: plan.by === 'classes' ? plan.items : undefined, items: plan.by === 'classes' ? undefined : plan.items,
          signal, onProgress,
          onTile: (r, i) => {
            const caption = tileCaption(labels[r.classIndex] ?? `class ${r.classIndex}`, r.prob, r.method, r.layerNames);
            const tile = grid.children[i] || grid.appendChild(makeTile());
            drawTile(tile, r, caption);
            tile.onclick = () => onPick({ classIndex: r.classIndex, layer: r.layer, method: r.method });
          },
        });
      } catch (e) {
        grid.classList.add('stale');
        status.textContent = e.name === 'AbortError' ? 'stopped: press Compare to draw the grid' : '';
        throw e;
      }
      shownKey = plan.key;
      grid.classList.remove('stale');
      status.textContent = `${n} ${plan.by} in ${((performance.now() - t0) / 1000).toFixed(1)} s · pick a tile (click, or Enter) to make it the main view`;
      document.body.dataset.compared = String(Number(document.body.dataset.compared || 0) + 1);
    },
  };
  return api;
}

function makeTile() {
  const b = Object.assign(document.createElement('button'), { type: 'button', className: 'tile' });
  b.append(document.createElement('canvas'), Object.assign(document.createElement('span'), { className: 'tile-label' }));
  return b;
}

// The tile's canvas holds the engine's overlay as is (scaled down only past MAX_SIDE).
async function drawTile(tile, r, caption) {
  const c = tile.querySelector('canvas');
  const s = Math.min(1, MAX_SIDE / Math.max(r.width, r.height));
  c.width = Math.max(1, Math.round(r.width * s));
  c.height = Math.max(1, Math.round(r.height * s));
  if (s === 1) c.getContext('2d').putImageData(r.overlay, 0, 0);
  else c.getContext('2d').drawImage(await createImageBitmap(r.overlay, { resizeWidth: c.width, resizeHeight: c.height, resizeQuality: 'high' }), 0, 0);
  tile.querySelector('.tile-label').textContent = caption;
  tile.dataset.classIndex = String(r.classIndex);
  tile.dataset.layer = r.layer;
  tile.dataset.method = r.method;
  tile.setAttribute('aria-label', `${caption}: make this the main view`);
  c.setAttribute('role', 'img');
  c.setAttribute('aria-label', `${methodInfo(r.method)?.label || r.method} overlay: ${caption}`);
}
