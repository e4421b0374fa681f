// Import a BPMN file with bpmn-moddle and Meezan's spiffworkflow descriptor, export it again and
// print both as JSON: the test suite checks the modeler keeps every spiffworkflow extension.
// Usage: node frontend/roundtrip.mjs FILE.bpmn
import { readFileSync } from 'node:fs';
import { BpmnModdle } from 'bpmn-moddle';
import spiffworkflow from './spiffworkflow.json' with { type: 'json' };

const xml = readFileSync(process.argv[2], 'utf8');
const moddle = new BpmnModdle({ spiffworkflow });
const { rootElement, warnings } = await moddle.fromXML(xml);
const { xml: exported } = await moddle.toXML(rootElement, { format: true });
process.stdout.write(JSON.stringify({ warnings: warnings.map((w) => w.message), xml: exported }));
