// display-ui.js: how the page shows an explanation (index.html, section 3's "Display" row and the result
// card): the colormap, display mode, greyscale, sign, scale and interpolation pickers, the second
// target layer, the legend under the heatmap, and the downloads (the overlay PNG byte-exact, the panel
// with its legend). It owns these elements only; app.js runs the explanations.
//
// The pickers offer only what the engine takes (gradcam.js COLORMAPS, MODES, ...), and a control that
// means nothing in the current mode is disabled and says why, so nothing pretends to apply.
// Colormap, mode, greyscale and opacity are the style: a change redraws the explanation the worker
// holds (result.reused). Sign, scale, interpolation and the layers change the map itself.
import { COLORMAPS, defaultColormap, INTERPS, LAYERS, MODES, SCALES, SIGNS } from './gradcam.js';

const $ = (id) => document.getElementById(id);

const MODE_LABELS = {
  blended_heat_map: 'blended (heatmap over the image)', heat_map: 'heatmap only', masked_image: 'masked image (image × map)',
  alpha_scaling: 'alpha scaling (the map as transparency)',
};
const SIGN_LABELS = { positive: 'positive (for the class)', negative: 'negative (against it)', all: 'all (both, centred on 0)' };
const SCALE_LABELS = { normalised: 'normalised (0 .. 1)', raw: 'raw (the CAM\'s own units)' };
const INTERP_LABELS = { linear: 'bilinear (smooth)', nearest: 'nearest (the layer\'s grid)' };

const option = (value, textContent, selected = false) => Object.assign(document.createElement('option'), { value, textContent, selected });

export function initDisplayUI({ onChange }) {
  const cmap = $('colormap'), mode = $('mode'), grey = $('grey'), sign = $('sign'), scale = $('scale'), interp = $('interp');
  const layer = $('layer'), layer2 = $('layer2'), opacity = $('opacity');

  // '' = the engine's default for the sign: its label says which one that is.
  cmap.replaceChildren(option('', ''), ...COLORMAPS.map((c) => option(c, c)));
  mode.replaceChildren(...MODES.map((m, i) => option(m, MODE_LABELS[m], !i)));
  sign.replaceChildren(...SIGNS.map((s, i) => option(s, SIGN_LABELS[s], !i)));
  scale.replaceChildren(...SCALES.map((s, i) => option(s, SCALE_LABELS[s], !i)));
  interp.replaceChildren(...INTERPS.map((s, i) => option(s, INTERP_LABELS[s], !i)));
  layer.replaceChildren(...LAYERS.map((l) => option(l, l, l === 'layer4')));
  layer2.replaceChildren(option('', 'none'), ...LAYERS.map((l) => option(l, l)));

  let fullgrad = false; // FullGrad ignores the layers (the method-ui tells us)
  function reflect() {
    cmap.options[0].textContent = `default (${defaultColormap(sign.value)})`;
    const blended = mode.value === 'blended_heat_map';
    grey.disabled = !blended;
    opacity.disabled = !blended;
    $('grey-note').textContent = blended ? '' : '(blended mode only)';
    // A second layer other than the first; the same one twice would only be the first.
    for (const o of layer2.options) o.disabled = o.value !== '' && o.value === layer.value;
    if (layer2.value === layer.value) layer2.value = '';
    layer.disabled = layer2.disabled = fullgrad;
  }
  reflect();
  for (const el of [cmap, mode, grey, sign, scale, interp, layer, layer2]) {
    el.addEventListener('change', () => { reflect(); onChange(); });
  }

  const bar = $('legend-bar');

  return {
    // What explain() gets from these controls.
    options() {
      return {
        layer: [layer.value, layer2.value].filter(Boolean).join(','), colormap: cmap.value, mode: mode.value,
        grey: grey.checked && !grey.disabled, sign: sign.value, scale: scale.value, interp: interp.value,
      };
    },
    // The model's own layers (gc.layers: resnet50 has layer1.0 .. layer4.2), keeping the choices it also has.
    setLayers(list) {
      const [a, b] = [layer.value, layer2.value];
      layer.replaceChildren(...list.map((l) => option(l, l)));
      layer2.replaceChildren(option('', 'none'), ...list.map((l) => option(l, l)));
      layer.value = list.includes(a) ? a : 'layer4';
      layer2.value = list.includes(b) ? b : '';
      reflect();
    },
    // Show a compare tile's layer(s) in the pickers ('layer3' or 'layer3,layer4').
    setLayer(l) {
      const [a, b = ''] = String(l).split(',');
      layer.value = a;
      layer2.value = b;
      reflect();
    },
    methodChanged(name) {
      fullgrad = name === 'fullgrad';
      reflect();
    },

    // The colour bar under the heatmap: the engine's own table (r.lut, 256 RGB), left = index 0,
    // and the engine's words for what its two ends are (the CLI's legend).
    showLegend(r) {
      const g = bar.getContext('2d');
      const d = g.createImageData(256, 1);
      for (let i = 0; i < 256; i++) d.data.set([r.lut[3 * i], r.lut[3 * i + 1], r.lut[3 * i + 2], 255], 4 * i);
      g.putImageData(d, 0, 0);
      bar.setAttribute('aria-label', `colour bar: ${r.colormap}`);
      $('legend-text').textContent = `${r.colormap} · ${r.legend}`;
      $('legend').hidden = false;
      $('legend').dataset.legend = r.legend;
    },
  };
}

// ---- downloads ----------------------------------------------------------------------------------------

function save(blob, name) {
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ImageData → PNG bytes, RGBA when any pixel is not opaque, else RGB. Not canvas.toBlob: a canvas
// keeps its pixels premultiplied, which changes the colours under a partial alpha (alpha_scaling),
// and the file should hold exactly what the engine drew (the CLI's -o gives the same bytes' pixels).
export async function encodePng(img) {
  const { width: w, height: h, data } = img;
  let alpha = false;
  for (let i = 3; i < data.length && !alpha; i += 4) alpha = data[i] !== 255;
  const ch = alpha ? 4 : 3, raw = new Uint8Array(h * (1 + w * ch));
  for (let y = 0, p = 0; y < h; y++) {
    raw[p++] = 0; // filter: none
    for (let x = 0; x < w; x++, p += ch) {
      const q = 4 * (y * w + x);
      raw[p] = data[q]; raw[p + 1] = data[q + 1]; raw[p + 2] = data[q + 2];
      if (alpha) raw[p + 3] = data[q + 3];
    }
  }
  // 'deflate' is the zlib format, which is what IDAT holds.
  const z = new Uint8Array(await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream('deflate'))).arrayBuffer());
  const chunk = (type, body) => {
    const out = new Uint8Array(12 + body.length), v = new DataView(out.buffer);
    v.setUint32(0, body.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(body, 8);
    v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
    return out;
  };
  const ihdr = new Uint8Array(13), v = new DataView(ihdr.buffer);
  v.setUint32(0, w); v.setUint32(4, h);
  ihdr.set([8, alpha ? 6 : 2, 0, 0, 0], 8);
  return new Blob([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', z), chunk('IEND', new Uint8Array())],
    { type: 'image/png' });
}

// The panel: original | heatmap | overlay on white, 8 px gaps and margins, then the colour bar and
// its legend, then the caption (the CLI's --panel layout, with the browser's font). Like the CLI's,
// the panel is opaque: an alpha_scaling overlay is shown over black, i.e. as masked_image.
export const PANEL = { gap: 8, textH: 28, barH: 12, legendH: 20 };
export function drawPanel(r) {
  const [o, h, v] = ['original', 'heatmap', 'overlay'].map($);
  const { gap, textH, barH, legendH } = PANEL, w = o.width, ht = o.height;
  const c = document.createElement('canvas');
  c.width = 3 * w + 4 * gap;
  c.height = ht + 2 * gap + barH + legendH + textH;
  const g = c.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, c.width, c.height);
  if (r?.mode === 'alpha_scaling') { g.fillStyle = '#000'; g.fillRect(gap + 2 * (w + gap), gap, w, ht); }
  [o, h, v].forEach((src, i) => g.drawImage(src, gap + i * (w + gap), gap));
  let y = ht + 2 * gap;
  g.fillStyle = '#000';
  g.font = '16px sans-serif';
  g.textBaseline = 'middle';
  if (r?.lut) {
    g.imageSmoothingEnabled = false;
    g.drawImage($('legend-bar'), gap, y, c.width - 2 * gap, barH);
    g.font = '14px sans-serif';
    g.fillText(r.legend, gap, y + barH + legendH / 2, c.width - 2 * gap);
    g.font = '16px sans-serif';
  }
  y += barH + legendH;
  g.fillText($('caption').textContent, gap, y + textH / 2 - 4, c.width - 2 * gap);
  return c;
}

// Download buttons. last() is the result on show: the overlay file holds its pixels as drawn.
export function initDownloads(last, onError) {
  $('dl-overlay').addEventListener('click', () => {
    const r = last();
    if (!r?.overlay) return;
    // Without CompressionStream (older browsers) the canvas encodes it: exact unless partly transparent.
    if (typeof CompressionStream !== 'function') $('overlay').toBlob((b) => save(b, 'gradcam-overlay.png'), 'image/png');
    else encodePng(r.overlay).then((b) => save(b, 'gradcam-overlay.png'), onError);
  });
  $('dl-panel').addEventListener('click', () => drawPanel(last()).toBlob((b) => save(b, 'gradcam-panel.png'), 'image/png'));
}
