// The option kinds of the command line's tables (cli-args.ts): each turns one option's text into
// its typed value, says what it accepts in `--help`, and throws UsageError naming the option when
// the text is bad. No engine import, so every rule is unit-tested without a model.
import type { CommandName } from './cli-args';

/** A mistake in the command line: the CLI prints its message as one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: CommandName) {
    super(message);
  }
}

// --- option kinds ---------------------------------------------------------------------------

export interface Option<T> {
  /** Placeholder in the usage (`N`, `DIR`); absent for a flag, which takes no value. */
  readonly arg?: string;
  readonly help: string;
  readonly required: boolean;
  /** Used when the option is not given (flags: false). */
  readonly default?: T;
  /** Constraints and default as shown in `--help`, e.g. ">= 16, default 512". */
  readonly detail?: string;
  /** Turns the raw text into the typed value; throws UsageError naming `flag` when it is bad. */
  readonly parse: (raw: string, flag: string) => T;
}

export const show = (raw: string) => JSON.stringify(raw);
const join = (parts: (string | undefined)[]) => parts.filter(Boolean).join(', ') || undefined;

export function flag(help: string): Option<boolean> {
  return { help, required: false, default: false, parse: () => true };
}

export function text(arg: string, help: string): Option<string | undefined> {
  return {
    arg, help, required: false,
    parse: (raw, name) => {
      if (raw === '') throw new UsageError(`${name} needs a value (${arg}), got an empty string`);
      return raw;
    },
  };
}

interface Range { min?: number; max?: number }

const rangeText = ({ min, max }: Range) =>
  min !== undefined && max !== undefined ? `${min}-${max}` : min !== undefined ? `>= ${min}` : max !== undefined ? `<= ${max}` : undefined;

export function parseInt10(raw: string, name: string, range: Range, what = 'an integer'): number {
  // Digits only: Number() would also take '', ' 12', '1e3', '0x10' and '12.0'.
  const v = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  const bad = !Number.isSafeInteger(v) || (range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max);
  if (bad) throw new UsageError(`${name} must be ${what}${rangeText(range) ? ` ${rangeText(range)}` : ''}, got ${show(raw)}`);
  return v;
}

export function int(help: string, range: Range & { default: number }): Option<number>;
export function int(help: string, range?: Range): Option<number | undefined>;
export function int(help: string, range: Range & { default?: number } = {}): Option<number | undefined> {
  return {
    arg: 'N', help, required: false, default: range.default,
    detail: join([rangeText(range), range.default !== undefined ? `default ${range.default}` : undefined]),
    parse: (raw, name) => parseInt10(raw, name, range),
  };
}

export function oneOf<const V extends readonly string[]>(values: V, help: string, def: V[number]): Option<V[number]> {
  return {
    arg: values.join('|'), help, required: false, default: def, detail: `default ${def}`,
    parse: (raw, name) => {
      if (!values.includes(raw)) throw new UsageError(`${name} must be ${orList(values)}, got ${show(raw)}`);
      return raw as V[number];
    },
  };
}

/** Comma-separated values, each parsed by `item`; no empty items, no repeats. */
export function listOf<T>(arg: string, help: string, def: T[], item: (raw: string, name: string) => T): Option<T[]> {
  return {
    arg, help, required: false, default: def, detail: `default ${def.join(',')}`,
    parse: (raw, name) => {
      const items = raw.split(',');
      if (items.some((s) => s === '')) throw new UsageError(`${name} takes a comma-separated list (${arg}) with no empty items, got ${show(raw)}`);
      const dup = items.find((s, i) => items.indexOf(s) !== i);
      if (dup !== undefined) throw new UsageError(`${name} lists ${dup} twice`);
      return items.map((s) => item(s, name));
    },
  };
}

export function required<T>(o: Option<T | undefined>): Option<T> {
  return { ...o, required: true } as Option<T>;
}

export function orList(values: readonly string[], word = 'or'): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} ${word} ${values[values.length - 1]}`;
}
