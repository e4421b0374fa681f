// The "Meezan" group of the properties panel: what the app reads from a diagram.
//   user task   → form (spiffworkflow property formKey, one of the forms the app knows),
//                 due in days (property dueInDays), instructions for the person doing it
//   lane        → the role its tasks go to (the lane's name)
//   script task → the script (Python, checked by the restricted compiler on validation)
//   flow out of a gateway → its condition (a Python expression)
// Everything is changed through bpmn-js commands, so undo and redo work.
import { h } from '@bpmn-io/properties-panel/preact';
import {
  SelectEntry, isSelectEntryEdited,
  TextFieldEntry, isTextFieldEntryEdited,
  TextAreaEntry, isTextAreaEntryEdited,
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';

const PROPERTIES = 'spiffworkflow:properties';
const INSTRUCTIONS = 'spiffworkflow:instructionsForEndUser';

function extensionValues(bo) {
  const ext = bo.get('extensionElements');
  return ext ? ext.get('values') : [];
}

function findExtension(bo, type) {
  return extensionValues(bo).find((value) => is(value, type));
}

export function getSpiffProperty(element, name) {
  const props = findExtension(getBusinessObject(element), PROPERTIES);
  const found = props && props.get('properties').find((p) => p.name === name);
  return found ? found.value : '';
}

// Ensure bo has extensionElements and an extension of `type`; returns [commands, extension].
function ensureExtension(element, type, attrs, bpmnFactory, moddle) {
  const bo = getBusinessObject(element);
  const commands = [];
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: bo, properties: { extensionElements: ext } } });
  }
  let found = ext.get('values').find((value) => is(value, type));
  if (!found) {
    found = moddle.create(type, attrs);
    found.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: ext, properties: { values: [...ext.get('values'), found] } } });
  }
  return [commands, found];
}

export function setSpiffProperty(injector, element, name, value) {
  const bpmnFactory = injector.get('bpmnFactory');
  const moddle = injector.get('moddle');
  const commandStack = injector.get('commandStack');
  const [commands, props] = ensureExtension(element, PROPERTIES, { properties: [] }, bpmnFactory, moddle);
  const list = props.get('properties');
  const existing = list.find((p) => p.name === name);
  if (value === '' || value === undefined || value === null) {
    if (existing) {
      commands.push({ cmd: 'element.updateModdleProperties',
        context: { element, moddleElement: props, properties: { properties: list.filter((p) => p !== existing) } } });
    }
  } else if (existing) {
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: existing, properties: { value: String(value) } } });
  } else {
    const created = moddle.create('spiffworkflow:property', { name, value: String(value) });
    created.$parent = props;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: props, properties: { properties: [...list, created] } } });
  }
  if (commands.length) {
    commandStack.execute('properties-panel.multi-command-executor', commands);
  }
}

function FormEntry(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const options = useService('config.meezan') || { forms: [] };
  return h(SelectEntry, {
    id, element, label: 'Form',
    description: 'What the person doing this task fills in.',
    getValue: () => getSpiffProperty(element, 'formKey'),
    setValue: (value) => setSpiffProperty(injector, element, 'formKey', value),
    getOptions: () => {
      const current = getSpiffProperty(element, 'formKey');
      const known = options.forms.map((f) => ({ value: f.key, label: `${f.title} (${f.key})` }));
      const extra = current && !options.forms.some((f) => f.key === current)
        ? [{ value: current, label: `${current} (unknown to Meezan)` }] : [];
      return [{ value: '', label: '— choose a form —' }, ...extra, ...known];
    },
  });
}

function DueEntry(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    id, element, debounce, label: 'Due in days',
    description: 'Days from assignment until the task is due; empty for no due date.',
    getValue: () => getSpiffProperty(element, 'dueInDays'),
    setValue: (value, error) => { if (!error) setSpiffProperty(injector, element, 'dueInDays', (value || '').trim()); },
    validate: (value) => (value && !/^\s*\d{1,3}\s*$/.test(value) ? 'A whole number of days.' : null),
  });
}

function InstructionsEntry(props) {
  const { element, id } = props;
  const injector = useService('injector');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    id, element, debounce, label: 'Instructions', rows: 3,
    getValue: () => {
      const found = findExtension(getBusinessObject(element), INSTRUCTIONS);
      return found ? (found.text || '') : '';
    },
    setValue: (value) => {
      const [commands, found] = ensureExtension(element, INSTRUCTIONS, { text: value },
        injector.get('bpmnFactory'), injector.get('moddle'));
      commands.push({ cmd: 'element.updateModdleProperties',
        context: { element, moddleElement: found, properties: { text: value } } });
      injector.get('commandStack').execute('properties-panel.multi-command-executor', commands);
    },
  });
}

function RoleEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const options = useService('config.meezan') || { lanes: [] };
  return h(SelectEntry, {
    id, element, label: 'Role',
    description: 'Who the tasks in this lane go to, resolved for each case’s employee.',
    getValue: () => getBusinessObject(element).name || '',
    setValue: (value) => modeling.updateProperties(element, { name: value }),
    getOptions: () => {
      const current = getBusinessObject(element).name || '';
      const extra = current && !options.lanes.includes(current)
        ? [{ value: current, label: `${current} (unknown to Meezan)` }] : [];
      return [{ value: '', label: '— choose a role —' }, ...extra,
        ...options.lanes.map((lane) => ({ value: lane, label: lane.replace(/_/g, ' ') }))];
    },
  });
}

function ScriptEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    id, element, debounce, label: 'Script (Python)', rows: 6, monospace: true,
    description: 'Checked by the script restrictions when you validate: no imports, no dunder access.',
    getValue: () => getBusinessObject(element).script || '',
    setValue: (value) => modeling.updateProperties(element, { scriptFormat: 'python', script: value }),
  });
}

function ConditionEntry(props) {
  const { element, id } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    id, element, debounce, label: 'Condition (Python expression)', rows: 2, monospace: true,
    description: 'Evaluated against the case data, e.g. employee_decision == "agree".',
    getValue: () => {
      const expression = getBusinessObject(element).conditionExpression;
      return expression ? (expression.body || '') : '';
    },
    setValue: (value) => {
      const conditionExpression = value
        ? bpmnFactory.create('bpmn:FormalExpression', { body: value }) : undefined;
      modeling.updateProperties(element, { conditionExpression });
    },
  });
}

function isGatewayFlow(element) {
  if (!is(element, 'bpmn:SequenceFlow')) return false;
  const source = getBusinessObject(element).sourceRef;
  return is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway');
}

function meezanEntries(element) {
  if (is(element, 'bpmn:UserTask')) {
    return [
      { id: 'meezan-form', element, component: FormEntry, isEdited: isSelectEntryEdited },
      { id: 'meezan-due', element, component: DueEntry, isEdited: isTextFieldEntryEdited },
      { id: 'meezan-instructions', element, component: InstructionsEntry, isEdited: isTextAreaEntryEdited },
    ];
  }
  if (is(element, 'bpmn:Lane')) {
    return [{ id: 'meezan-role', element, component: RoleEntry, isEdited: isSelectEntryEdited }];
  }
  if (is(element, 'bpmn:ScriptTask')) {
    return [{ id: 'meezan-script', element, component: ScriptEntry, isEdited: isTextAreaEntryEdited }];
  }
  if (isGatewayFlow(element)) {
    return [{ id: 'meezan-condition', element, component: ConditionEntry, isEdited: isTextAreaEntryEdited }];
  }
  return [];
}

function MeezanPropertiesProvider(propertiesPanel) {
  this.getGroups = (element) => (groups) => {
    const entries = meezanEntries(element);
    if (entries.length) {
      groups.splice(1, 0, { id: 'meezan', label: 'Meezan', entries, shouldOpen: true });
    }
    return groups;
  };
  propertiesPanel.registerProvider(500, this);
}
MeezanPropertiesProvider.$inject = ['propertiesPanel'];

export default {
  __init__: ['meezanPropertiesProvider'],
  meezanPropertiesProvider: ['type', MeezanPropertiesProvider],
};
