// methods-ui.js: the page's CAM-method controls (index.html, section 3 and the result card): the
// method picker, the eigen-/aug-smooth toggles, the progress bar + Cancel of a long job, and the
// Metrics button with its numbers. It owns these elements only; app.js runs the explanations and
// tells it what happens (jobStart / progress / jobEnd / showResult).
import { isLong, METHOD_GROUPS, methodInfo, METHODS } from './gradcam.js';

const $ = (id) => document.getElementById(id);

// One line per method for the note under the picker: what it computes, and what it costs when that
// is more than one forward + backward pass.
const NOTES = {
  gradcam: 'channel weights = the mean gradient (the default)',
  hirescam: 'gradient × activation, summed over channels',
  'gradcam++': 'channel weights from second- and third-order gradient terms',
  xgradcam: 'channel weights = gradient × activation, normalised by the activation',
  layercam: 'positive gradient × activation, summed over channels',
  gradcamelementwise: 'ReLU(gradient × activation), summed over channels',
  shapleycam: 'the same as Grad-CAM for a ReLU network (its Hessian term is zero)',
  finercam: 'the class against its three closest rivals (by logit)',
  eigencam: 'the first principal component of the activations, no gradients',
  eigengradcam: 'the first principal component of gradient × activation',
  segeigencam: 'the first principal component of |gradient| × activation',
  kpcacam: 'kernel PCA (sigmoid kernel) of the activations, no gradients',
  fem: 'channels weighted by how often they exceed mean + 2 std, no gradients',
  scorecam: 'one network pass per channel (512 at layer4): slow, shows progress',
  ablationcam: 'one pass per channel with that channel removed: slow below layer4',
  fullgrad: 'gradients × biases of every layer and the input: ignores the layer picker; slow',
};

const signed = (v) => (v >= 0 ? '+' : '') + v.toFixed(4);

export function initMethodsUI({ onChange, onMetrics, onCancel }) {
  const sel = $('method'), eigen = $('eigen-smooth'), aug = $('aug-smooth');
  const job = $('job'), bar = $('job-progress'), status = $('job-status'), cancel = $('cancel');
  const metricsBtn = $('metrics-btn'), metricsOut = $('metrics'), announce = $('job-announce');

  sel.replaceChildren(...Object.entries(METHOD_GROUPS).map(([g, title]) => {
    const og = document.createElement('optgroup');
    og.label = title;
    og.append(...METHODS.filter((m) => m.group === g).map((m) => Object.assign(document.createElement('option'), {
      value: m.name, textContent: `${m.label}${m.long === true ? ' (slow)' : ''}`, selected: m.name === 'gradcam',
    })));
    return og;
  }));

  // Eigen-smooth stays checked as the user left it, but is off and says why for the methods that
  // ignore it (the library ignores it there too), so nothing pretends to apply.
  function reflect() {
    const m = methodInfo(sel.value);
    eigen.disabled = !m.eigenSmooth;
    $('eigen-note').textContent = m.eigenSmooth ? '' : `(${m.label} ignores it)`;
    $('method-note').textContent = `${m.label}: ${NOTES[m.name]}`;
  }
  reflect();
  sel.addEventListener('change', () => { reflect(); onChange(); });
  eigen.addEventListener('change', onChange);
  aug.addEventListener('change', onChange);
  cancel.addEventListener('click', onCancel);
  metricsBtn.addEventListener('click', onMetrics);

  let started = 0, label = '', shownKey = null, announced = false; // announced: the start of this job was
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

  return {
    // What explain() gets from these controls.
    options() {
      const m = methodInfo(sel.value);
      return { method: m.name, eigenSmooth: m.eigenSmooth && eigen.checked, augSmooth: aug.checked };
    },

    // Show a method in the picker (a compare tile made the main view), without an explain of its own.
    set(name) {
      if (!methodInfo(name)) return;
      sel.value = name;
      reflect();
    },

    // A job starts: the bar shows at once for the ones known to be long, at its first progress
    // report for any other that turns out to take more than one step. what: {label, long} for a job
    // that is not one explanation (a compare grid).
    jobStart(opts, what = null) {
      started = performance.now();
      label = what ? what.label : `${methodInfo(opts.method)?.label || opts.method}${opts.metrics ? ' + metrics' : ''}`;
      bar.value = 0;
      announced = false;
      if (what ? what.long : isLong(opts)) {
        job.hidden = false;
        cancel.disabled = false;
        status.textContent = `${label}…`;
        announce.textContent = `${label} started: it takes a while; Cancel stops it`;
        announced = true;
      }
    },
    progress(f) {
      job.hidden = false;
      cancel.disabled = false;
      bar.value = f;
      status.textContent = `${label}: ${Math.round(100 * f)}% (${elapsed()})`;
      document.body.dataset.jobProgress = String(f);
    },
    // how: 'done' | 'cancelled' (by the user) | 'superseded' (a newer request took over) | 'failed'
    // A keyboard user on Cancel keeps a focus: a button that is disabled or hidden drops it to <body>.
    // It goes to the status line ("... cancelled after 3.2 s"), or, once the row hides, to the method picker.
    jobEnd(how) {
      const focused = job.contains(document.activeElement);
      cancel.disabled = true;
      document.body.dataset.jobProgress = '';
      if (how === 'superseded') return; // the next job shows its own state at once
      if (how === 'cancelled') {
        bar.value = 0;
        status.textContent = `${label}: cancelled after ${elapsed()}`;
        announce.textContent = status.textContent;
        announced = false;
        job.hidden = false;
        if (focused) status.focus();
        document.body.dataset.cancelled = String(Number(document.body.dataset.cancelled || 0) + 1);
        return;
      }
      if (announced) announce.textContent = how === 'failed' ? `${label} failed` : `${label} done`;
      announced = false;
      job.hidden = true;
      status.textContent = '';
      if (focused) sel.focus();
    },

    // The caption's "method layer" part (the CLI's panel says the same), with the smoothing applied.
    where(r) {
      const extras = [r.eigenSmooth && 'eigen-smooth', r.augSmooth && 'aug-smooth'].filter(Boolean);
      return `${r.method}${extras.length ? ` (${extras.join(', ')})` : ''} ${r.layer}`;
    },

    // After each explanation. key names the explanation (image, class, layer, method, ...): metrics
    // shown for another one are taken down; names: the labels, for FinerCAM's rivals.
    showResult(r, key, names) {
      metricsBtn.disabled = false;
      const rivals = r.compared?.length ? `Finer-CAM compared it with ${r.compared.map((i) => names[i] ?? `class ${i}`).join(', ')}` : '';
      $('method-result').textContent = rivals;
      if (r.metrics) {
        shownKey = key;
        const m = r.metrics;
        const rows = [
          ['Confidence change (CamMultImageConfidenceChange)', signed(m.camMultImageConfidenceChange)],
          ['Drop in confidence', m.dropInConfidence.toFixed(4)],
          ['Increase in confidence', String(m.increaseInConfidence)],
          ['ROAD MoRF mean (most relevant removed first; lower is better)', signed(m.roadMorfMean)],
          ['ROAD LeRF mean (least relevant removed first; higher is better)', signed(m.roadLerfMean)],
          ['ROADCombined ((LeRF − MoRF) / 2)', signed(m.roadCombined)],
        ];
        $('metrics-for').textContent = `for ${names[r.classIndex] ?? `class ${r.classIndex}`} (score ${m.score.toFixed(4)}), ${this.where(r)}; ROAD at percentiles ${m.roadPercentiles.join(', ')}`;
        metricsOut.replaceChildren(...rows.flatMap(([k, v]) => [
          Object.assign(document.createElement('dt'), { textContent: k }),
          Object.assign(document.createElement('dd'), { textContent: v }),
        ]));
        $('metrics-box').hidden = false;
      } else if (key !== shownKey) {
        shownKey = null;
        $('metrics-box').hidden = true;
      }
    },
  };
}
