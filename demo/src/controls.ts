/**
 * The form on the left of the lab: fills the selects from the option tables, shows the options
 * and the formula of the chosen optimizer and schedule, reads a RunConfig and writes one back.
 */
import {
  ACTIVATIONS, type Choice, DATASETS, type DatasetName, OPTIMIZERS, type OptimizerName, type OptionValues, presetFor, type RunConfig,
  SCHEDULES, type ScheduleName,
} from './config.js';

function element<T extends HTMLElement>(root: ParentNode, selector: string): T {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
}

function fillSelect(select: HTMLSelectElement, labels: Record<string, string>): void {
  select.replaceChildren(...Object.entries(labels).map(([value, label]) => new Option(label, value)));
}

function labelsOf(choices: Record<string, Choice>): Record<string, string> {
  return Object.fromEntries(Object.entries(choices).map(([name, c]) => [name, c.label]));
}

/** One labelled field per option of the choice, with `data-key` naming the option. */
function renderOptions(container: HTMLElement, choice: Choice, values: OptionValues = {}): void {
  container.replaceChildren(
    ...choice.options.map((spec) => {
      const label = document.createElement('label');
      const input = document.createElement('input');
      input.dataset.key = spec.key;
      const value = values[spec.key] ?? spec.value;
      if (typeof spec.value === 'boolean') {
        input.type = 'checkbox';
        input.checked = Boolean(value);
        label.className = 'check';
        label.append(input, ` ${spec.label}`);
      } else {
        input.type = 'number';
        input.step = String(spec.step ?? 'any');
        if (spec.min !== undefined) input.min = String(spec.min);
        if (spec.max !== undefined) input.max = String(spec.max);
        input.value = String(value);
        label.append(`${spec.label} `, input);
      }
      return label;
    }),
  );
}

function readOptions(container: HTMLElement): OptionValues {
  const out: OptionValues = {};
  for (const input of Array.from(container.querySelectorAll<HTMLInputElement>('input[data-key]'))) {
    const key = input.dataset.key!;
    out[key] = input.type === 'checkbox' ? input.checked : number(input, key);
  }
  return out;
}

function number(input: HTMLInputElement, name: string): number {
  const v = input.valueAsNumber;
  if (!Number.isFinite(v)) throw new Error(`${name}: '${input.value}' is not a number`);
  return v;
}

function parseHidden(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  return parts.map((p) => {
    const h = Number(p);
    if (!Number.isInteger(h) || h < 1 || h > 4096) throw new Error(`hidden sizes: '${p}' is not a width from 1 to 4096`);
    return h;
  });
}

export class Controls {
  private readonly field = <T extends HTMLElement>(name: string) => element<T>(this.form, `[name="${name}"]`);
  readonly start: HTMLButtonElement;
  readonly stop: HTMLButtonElement;

  constructor(private readonly form: HTMLFormElement) {
    fillSelect(this.field('dataset'), DATASETS);
    fillSelect(this.field('activation'), ACTIVATIONS);
    fillSelect(this.field('optimizer'), labelsOf(OPTIMIZERS));
    fillSelect(this.field('schedule'), labelsOf(SCHEDULES));
    this.start = element(form, '#start');
    this.stop = element(form, '#stop');
    this.field('optimizer').addEventListener('change', () => this.showOptimizer());
    this.field('schedule').addEventListener('change', () => this.showSchedule());
    this.field('dataset').addEventListener('change', () => {
      this.apply(presetFor(this.field<HTMLSelectElement>('dataset').value as DatasetName));
    });
    form.addEventListener('submit', (e) => e.preventDefault());
  }

  private showOptimizer(values?: OptionValues): void {
    const choice = OPTIMIZERS[this.field<HTMLSelectElement>('optimizer').value as OptimizerName];
    renderOptions(element(this.form, '#optimizer-options'), choice, values);
    element(this.form, '#optimizer-formula').textContent = choice.formula;
  }

  private showSchedule(values?: OptionValues): void {
    const choice = SCHEDULES[this.field<HTMLSelectElement>('schedule').value as ScheduleName];
    renderOptions(element(this.form, '#schedule-options'), choice, values);
    element(this.form, '#schedule-formula').textContent = choice.formula;
  }

  /** The configuration in the form; throws a message naming the field when one is invalid. */
  read(): RunConfig {
    const value = (name: string) => this.field<HTMLInputElement | HTMLSelectElement>(name).value;
    const num = (name: string) => number(this.field<HTMLInputElement>(name), name);
    return {
      dataset: value('dataset') as RunConfig['dataset'],
      hidden: parseHidden(value('hidden')),
      activation: value('activation') as RunConfig['activation'],
      residual: this.field<HTMLInputElement>('residual').checked,
      dropout: num('dropout'),
      optimizer: value('optimizer') as RunConfig['optimizer'],
      optimizerOptions: readOptions(element(this.form, '#optimizer-options')),
      schedule: value('schedule') as RunConfig['schedule'],
      scheduleOptions: readOptions(element(this.form, '#schedule-options')),
      clipGradNorm: num('clipGradNorm'),
      clipGradValue: num('clipGradValue'),
      l1: num('l1'),
      l2: num('l2'),
      batchSize: num('batchSize'),
      epochs: num('epochs'),
      seed: num('seed'),
    };
  }

  /** Writes the given fields into the form; option values not given keep their defaults. */
  apply(config: Partial<RunConfig>): void {
    const set = (name: string, v: string) => {
      this.field<HTMLInputElement | HTMLSelectElement>(name).value = v;
    };
    if (config.dataset) set('dataset', config.dataset);
    if (config.hidden) set('hidden', config.hidden.join(', '));
    if (config.activation) set('activation', config.activation);
    if (config.residual !== undefined) this.field<HTMLInputElement>('residual').checked = config.residual;
    for (const key of ['dropout', 'clipGradNorm', 'clipGradValue', 'l1', 'l2', 'batchSize', 'epochs', 'seed'] as const) {
      if (config[key] !== undefined) set(key, String(config[key]));
    }
    if (config.optimizer) set('optimizer', config.optimizer);
    if (config.optimizer || config.optimizerOptions) this.showOptimizer(config.optimizerOptions);
    if (config.schedule) set('schedule', config.schedule);
    if (config.schedule || config.scheduleOptions) this.showSchedule(config.scheduleOptions);
  }

  /** Calls `listener` with the data set chosen, after the form has taken that set's preset. */
  onDatasetChange(listener: (name: DatasetName) => void): void {
    const select = this.field<HTMLSelectElement>('dataset');
    select.addEventListener('change', () => listener(select.value as DatasetName));
  }

  setRunning(running: boolean): void {
    this.start.disabled = running;
    this.stop.disabled = !running;
    this.form.querySelectorAll('fieldset').forEach((fieldset) => {
      fieldset.disabled = running;
    });
  }
}
