// baseline.js — write Baseline cogs in JavaScript.
//
// A cog is a WebAssembly component; componentize-js builds one from a
// JavaScript module and the WIT (`wit/`). This module gives it the shape of
// the Rust SDK: one class, `Cog`, whose handler methods all have defaults;
// builders for manifests, commands, messages and buttons; custom ids built
// and read back; `kv` and `settings` that throw errors the user can read.
// `cogs/tally-js` is a complete cog; `build.mjs` here bundles a cog with
// this module (esbuild) and makes the component (componentize-js):
//
//     node guest-sdk/js/build.mjs cogs/tally-js/app.js tally-js.wasm
//
// In `app.js`:
//
//     import { Cog, Manifest, Command, reply, message, exportCog } from 'baseline';
//     class Hello extends Cog {
//       manifest() { return new Manifest('hello', 'Says hello').command(new Command('hello', 'Say hello')); }
//       onCommand(command) { return reply(message(`Hello, ${command.context.user.username}!`)); }
//     }
//     export const { handler, pages } = exportCog(new Hello());
//
// WIT values in JavaScript (componentize-js's bindings): records are
// objects with camelCase fields, variants `{ tag, val }`, enums strings,
// 64-bit integers (ids, kv counters) BigInts, options `undefined` or the
// value.
//
// Errors: throw `new UserError(words)` for what the user reads (ephemeral);
// anything else is internal (logged for the operator; the user gets an
// apology). Capability errors become one or the other as in the Rust SDK.

import * as rawKv from 'baseline:cog/kv@0.3.0';
import * as rawSettings from 'baseline:cog/settings@0.3.0';
import * as rawLog from 'baseline:cog/log@0.3.0';
import * as rawSchedule from 'baseline:cog/schedule@0.3.0';

/** An error the user reads (shown ephemeral). */
export class UserError extends Error {}

/** An error for the operator's log; the user gets an apology. */
export class InternalError extends Error {}

/** Said when a command that needs a server runs in a DM. */
export const NEEDS_SERVER = 'This only works in a server.';

/** The user's words for a capability error (`{ tag, val }`), or undefined when it is internal. */
function words(error) {
  const { tag, val } = error ?? {};
  if (tag === 'denied' && !String(val).includes('manifest')) return `Not allowed here: ${val}.`;
  if (tag === 'no-guild') return NEEDS_SERVER;
  if (tag === 'rate-limited') {
    return `Discord asks to slow down; try again in ${Math.max(1, Math.ceil(Number(val) / 1000))} s.`;
  }
  if (tag === 'unavailable' && String(val).includes('quota')) {
    return "This server's storage for this feature is full; an admin can clear some.";
  }
  return undefined;
}

/** Call an import; its error as a UserError or an InternalError. */
function capability(what, call) {
  try {
    return call();
  } catch (thrown) {
    const error = thrown?.payload ?? thrown;
    const said = words(error);
    if (said !== undefined) throw new UserError(said);
    throw new InternalError(`${what}: ${JSON.stringify(error, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`);
  }
}

/** Durable key-value storage in the cog's own space of the current guild. */
export const kv = {
  GUILD: { tag: 'guild' },
  GLOBAL: { tag: 'global' },
  user: (id) => ({ tag: 'user', val: BigInt(id) }),
  get: (key, scope = kv.GUILD) => capability('kv.get', () => rawKv.get(scope, key)),
  set: (key, bytes, scope = kv.GUILD, ttlSeconds = undefined) =>
    capability('kv.set', () => rawKv.set(scope, key, bytes, ttlSeconds)),
  getJson(key, scope = kv.GUILD) {
    const bytes = kv.get(key, scope);
    return bytes === undefined ? undefined : JSON.parse(new TextDecoder().decode(bytes));
  },
  setJson: (key, value, scope = kv.GUILD, ttlSeconds = undefined) =>
    kv.set(key, new TextEncoder().encode(JSON.stringify(value)), scope, ttlSeconds),
  /** Add `delta` to the integer under `key`; the new value, as a Number. */
  increment: (key, delta = 1, scope = kv.GUILD) =>
    Number(capability('kv.increment', () => rawKv.increment(scope, key, BigInt(delta)))),
  delete: (key, scope = kv.GUILD) => capability('kv.delete', () => rawKv.delete(scope, key)),
};

/**
 * Timers: this cog's `onTimer(name, payload, context)` run later in the
 * current guild, kept by the host across restarts, run once; setting a name
 * again replaces its timer (capability `schedule`).
 */
export const schedule = {
  after: (name, ms, payload = '') => capability('schedule.after', () => rawSchedule.after(name, BigInt(Math.max(0, Math.floor(ms))), payload)),
  /** Due at `atMs`, milliseconds since the Unix epoch. */
  at: (name, atMs, payload = '') => capability('schedule.at', () => rawSchedule.at(name, BigInt(atMs), payload)),
  cancel: (name) => capability('schedule.cancel', () => rawSchedule.cancel(name)),
  /** `[[name, dueMs], ...]`, soonest first. */
  pending: () => capability('schedule.pending', () => rawSchedule.pending()).map(([name, at]) => [name, Number(at)]),
};

/** The guild's settings of this cog (defaults from the schema filled in). */
export const settings = {
  get: () => JSON.parse(capability('settings.get', () => rawSettings.get())),
};

/** Log lines, with fields, in the host's log under the cog's name. */
export const log = {
  info: (text, fields = {}) => rawLog.write('info', text, Object.entries(fields).map(([k, v]) => [k, String(v)])),
  warn: (text, fields = {}) => rawLog.write('warn', text, Object.entries(fields).map(([k, v]) => [k, String(v)])),
};

// ----- builders -----

/** A button whose click comes back to `onComponent` with `customId`. */
export function button(customId, label, style = 'primary', disabled = false) {
  return { tag: 'button', val: { style, label, emoji: undefined, customId, url: undefined, disabled } };
}

/** A row of up to five buttons, or one select. */
export function row(...components) {
  return { components };
}

/** A message with text and rows of components (mentions are off). */
export function message(content, rows = []) {
  return { content, embeds: [], components: rows, attachments: [], allowedMentions: undefined, tts: false };
}

/** Answer a command (or, from `onComponent`, a new message) with `message`. */
export function reply(message, ephemeral = false) {
  return { tag: 'reply', val: { message, ephemeral } };
}

/** Answer a click by replacing the message the component sits on. */
export function update(message) {
  return { tag: 'update', val: message };
}

/** Options of slash commands: `Option.integer('amount', 'How much', { required: true, min: 1, max: 10 })`. */
export const Option = Object.fromEntries(
  ['text', 'integer', 'number', 'boolean', 'user', 'channel', 'role'].map((kind) => [
    kind,
    (name, description, { required = false, min, max, maxLength } = {}) => ({
      name,
      description,
      kind,
      required,
      choices: [],
      autocomplete: false,
      minValue: min,
      maxValue: max,
      minLength: undefined,
      maxLength,
      channelKinds: [],
    }),
  ]),
);

/** A slash command: `new Command('tally', 'Add to the tally').option(...)`. */
export class Command {
  constructor(name, description, { guildOnly = true } = {}) {
    this.inner = {
      name,
      description,
      options: [],
      subcommands: [],
      groups: [],
      defaultMemberPermissions: undefined,
      guildOnly,
      nsfw: false,
    };
  }
  option(option) {
    this.inner.options.push(option);
    return this;
  }
}

/** What the cog declares: commands, events, settings (a JSON Schema object), capabilities. */
export class Manifest {
  constructor(name, description, version = '0.1.0') {
    this.inner = { name, version, description, commands: [], events: [], settingsSchema: undefined, capabilities: [], pages: [] };
  }
  command(command) {
    this.inner.commands.push(command.inner);
    return this;
  }
  event(kind) {
    this.inner.events.push(kind);
    return this;
  }
  /** Declare the settings' JSON Schema (give every property a default); asks for `settings` too. */
  settings(schema) {
    this.inner.settingsSchema = JSON.stringify(schema);
    if (!this.inner.capabilities.some((c) => c.name === 'settings')) {
      this.capability('settings', 'Reads its settings for the server.');
    }
    return this;
  }
  /** Ask for a capability with the reason the operator reads (asked again, the last reason stands). */
  capability(name, reason) {
    this.inner.capabilities = this.inner.capabilities.filter((c) => c.name !== name);
    this.inner.capabilities.push({ name, reason });
    return this;
  }
}

// ----- invocations -----

/** The value of the option `name` (a Number for integers, a BigInt for ids), or undefined. */
export function option(invocation, name) {
  const command = invocation.command ?? invocation;
  const entry = command.options.find((o) => o.name === name);
  if (entry === undefined) return undefined;
  return entry.value.tag === 'integer' ? Number(entry.value.val) : entry.value.val;
}

/** A custom id from a name and arguments, joined by `:`: `customId('add', 3)` is `'add:3'`. */
export function customId(name, ...args) {
  return [name, ...args].join(':');
}

/** A custom id read back: `new CustomId(component.customId).arg(0, Number)`. */
export class CustomId {
  constructor(raw) {
    this.raw = raw;
    [this.name, ...this.args] = raw.split(':');
  }
  /** Argument `index` (0 is the first after the name), converted by `kind` (`Number`, `String`). */
  arg(index, kind = String) {
    if (index >= this.args.length) throw new InternalError(`custom id \`${this.raw}\` has no argument ${index}`);
    const value = kind(this.args[index]);
    if (kind === Number && (this.args[index].trim() === '' || !Number.isFinite(value))) {
      throw new InternalError(`custom id \`${this.raw}\`: argument ${index} (\`${this.args[index]}\`) is not a number`);
    }
    return value;
  }
}

// ----- the cog -----

/** A cog: override what it does. State lives in `kv`, not in the object. */
export class Cog {
  manifest() {
    throw new Error('a cog declares its manifest');
  }
  onCommand(command) {
    throw new UserError(`\`/${command.name}\` is not implemented yet.`);
  }
  onComponent(_component) {
    throw new UserError('That button is no longer supported.');
  }
  onAutocomplete(_request) {
    return [];
  }
  onEvent(_event, _context) {}
  onTimer(_name, _payload, _context) {}
  render(context) {
    throw new UserError(`This cog has no page \`${context.route}\`.`);
  }
  act(_context, action, _payload) {
    throw new UserError(`This page has no action \`${action}\`.`);
  }
}

/** The error componentize-js returns as the `err` of a `result`. */
class ComponentError extends Error {
  constructor(payload) {
    super(String(payload?.val ?? payload));
    this.payload = payload;
  }
}

/** Run a handler; its exceptions as the WIT's cog-error. */
function guarded(call) {
  try {
    return call();
  } catch (error) {
    if (error instanceof ComponentError) throw error;
    if (error instanceof UserError) throw new ComponentError({ tag: 'user', val: error.message });
    if (error instanceof InternalError) throw new ComponentError({ tag: 'internal', val: error.message });
    // A capability's own error (discord, interaction, cache, llm, …) called
    // without the helpers: in words when the user can act on it.
    if (error?.payload?.tag !== undefined) {
      const said = words(error.payload);
      if (said !== undefined) throw new ComponentError({ tag: 'user', val: said });
      throw new ComponentError({ tag: 'internal', val: `capability error: ${error.payload.tag}: ${error.payload.val ?? ''}` });
    }
    throw new ComponentError({ tag: 'internal', val: `${error?.name ?? 'Error'}: ${error?.message ?? error}` });
  }
}

/** The `handler` and `pages` exports serving `cog`: `export const { handler, pages } = exportCog(new MyCog());`. */
export function exportCog(cog) {
  return {
    handler: {
      manifest: () => {
        const declared = cog.manifest();
        return declared instanceof Manifest ? declared.inner : declared;
      },
      onCommand: (invocation) => guarded(() => cog.onCommand(invocation)),
      onComponent: (invocation) => guarded(() => cog.onComponent(invocation)),
      onAutocomplete: (invocation) => guarded(() => cog.onAutocomplete(invocation)),
      onEvent: (event, context) => guarded(() => cog.onEvent(event, context)),
      onTimer: (name, payload, context) => guarded(() => cog.onTimer(name, payload, context)),
    },
    pages: {
      render: (context) => guarded(() => cog.render(context)),
      act: (context, action, payload) => guarded(() => cog.act(context, action, JSON.parse(payload || 'null'))),
    },
  };
}
