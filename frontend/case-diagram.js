// The case page's diagram: the case's own process version in the bpmn-js viewer, steps done
// and steps waiting highlighted.
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { getJson } from './http.js';

async function main() {
  const container = document.getElementById('case-diagram');
  if (!container) return;
  const data = await getJson(container.dataset.url);
  const viewer = new NavigatedViewer({ container: '#case-diagram-canvas' });
  await viewer.importXML(data.bpmn_xml);
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  canvas.zoom('fit-viewport');
  for (const id of data.completed) {
    if (registry.get(id)) canvas.addMarker(id, 'meezan-completed');
  }
  for (const id of data.current) {
    if (registry.get(id)) canvas.addMarker(id, 'meezan-current');
  }
  container.dataset.state = 'ready';
  container.dataset.completed = data.completed.join(' ');
  container.dataset.current = data.current.join(' ');
}

main().catch((error) => {
  const container = document.getElementById('case-diagram');
  if (container) {
    container.dataset.state = 'error';
    container.querySelector('.diagram-error').textContent = `The diagram could not be shown: ${error.message}`;
  }
});
