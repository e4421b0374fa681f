// The process owner's modeler: bpmn-js with the properties panel, Meezan's own properties,
// save (draft), validate (engine + app rules, each problem marked on its element).
import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import spiffworkflow from './spiffworkflow.json';
import MeezanPropertiesModule from './meezan-properties.js';
import { getJson, postJson } from './http.js';

const ERROR_MARKER = 'meezan-error';

function setStatus(text, kind) {
  const status = document.getElementById('modeler-status');
  status.textContent = text;
  status.className = `modeler-status ${kind || ''}`;
  status.dataset.state = kind || '';
}

class ProblemMarkers {
  constructor(modeler) {
    this.modeler = modeler;
    this.marked = [];
  }

  clear() {
    const canvas = this.modeler.get('canvas');
    const overlays = this.modeler.get('overlays');
    for (const id of this.marked) {
      canvas.removeMarker(id, ERROR_MARKER);
    }
    overlays.remove({ type: 'meezan-problem' });
    this.marked = [];
    document.getElementById('modeler-problems').replaceChildren();
  }

  show(problems) {
    this.clear();
    const registry = this.modeler.get('elementRegistry');
    const canvas = this.modeler.get('canvas');
    const overlays = this.modeler.get('overlays');
    const list = document.getElementById('modeler-problems');
    const perElement = new Map();
    for (const problem of problems) {
      const item = document.createElement('li');
      item.dataset.elementId = problem.element_id || '';
      const element = problem.element_id && registry.get(problem.element_id);
      if (problem.element_id) {
        const code = document.createElement('code');
        code.textContent = problem.element_id;
        item.append(code, ': ');
      }
      item.append(problem.message);
      list.append(item);
      if (!element) continue;
      item.classList.add('linked');
      item.addEventListener('click', () => {
        this.modeler.get('selection').select(element);
        canvas.scrollToElement(element);
      });
      if (!perElement.has(element.id)) perElement.set(element.id, []);
      perElement.get(element.id).push(problem.message);
    }
    for (const [id, messages] of perElement) {
      canvas.addMarker(id, ERROR_MARKER);
      this.marked.push(id);
      const badge = document.createElement('div');
      badge.className = 'meezan-problem';
      badge.dataset.elementId = id;
      badge.title = messages.join('\n');
      badge.textContent = messages.length > 1 ? `${messages.length} problems` : messages[0];
      overlays.add(id, 'meezan-problem', { position: { bottom: -6, left: 0 }, html: badge });
    }
  }
}

async function main() {
  const app = document.getElementById('modeler-app');
  if (!app) return;
  const { csrfToken } = app.dataset;
  setStatus('Loading…');
  const options = await getJson(app.dataset.optionsUrl);
  const modeler = new BpmnModeler({
    container: '#modeler-canvas',
    propertiesPanel: { parent: '#modeler-properties' },
    additionalModules: [BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, MeezanPropertiesModule],
    moddleExtensions: { spiffworkflow },
    meezan: options,
  });
  if (app.dataset.exposeForTests === 'true') {
    window.meezanModeler = modeler;
  }
  const markers = new ProblemMarkers(modeler);

  const response = await fetch(app.dataset.xmlUrl, { credentials: 'same-origin' });
  const { warnings } = await modeler.importXML(await response.text());
  modeler.get('canvas').zoom('fit-viewport', 'auto');
  let dirty = false;
  modeler.on('commandStack.changed', () => {
    dirty = true;
    setStatus('Unsaved changes', 'dirty');
  });
  window.addEventListener('beforeunload', (event) => {
    if (dirty) event.preventDefault();
  });
  setStatus(warnings.length ? `Loaded with ${warnings.length} import warning(s)` : 'Loaded', 'ready');

  async function save() {
    const { xml } = await modeler.saveXML({ format: true });
    if (xml.length > options.max_bytes) {
      throw new Error(`The diagram is larger than ${options.max_bytes} bytes.`);
    }
    await postJson(app.dataset.saveUrl, { xml }, csrfToken);
    dirty = false;
  }

  const saveButton = document.getElementById('save-draft');
  const validateButton = document.getElementById('validate-draft');
  saveButton.addEventListener('click', async () => {
    setStatus('Saving…', 'busy');
    try {
      await save();
      setStatus('Draft saved', 'saved');
    } catch (error) {
      setStatus(`Not saved: ${error.message}`, 'error');
    }
  });
  validateButton.addEventListener('click', async () => {
    setStatus('Saving and validating…', 'busy');
    try {
      await save();
      const report = await postJson(app.dataset.validateUrl, {}, csrfToken);
      markers.show(report.problems);
      setStatus(report.valid ? 'Draft saved and valid: ready to deploy'
        : `Draft saved; ${report.problems.length} problem(s) to fix`, report.valid ? 'valid' : 'invalid');
    } catch (error) {
      setStatus(`Not validated: ${error.message}`, 'error');
    }
  });
  document.getElementById('go-deploy').addEventListener('click', (event) => {
    if (dirty && !window.confirm('You have unsaved changes. Leave without saving?')) {
      event.preventDefault();
    } else {
      dirty = false;
    }
  });
}

main().catch((error) => setStatus(`The modeler could not start: ${error.message}`, 'error'));
