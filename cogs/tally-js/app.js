// Tally in JavaScript: the twin of cogs/tally (Rust) and cogs/tally-py.
//
// The server keeps a running total: `/jstally amount:<1-1000> [note:<text>]`
// adds to it and answers with a button that adds the step from the
// settings; the button updates the message in place. Built by
// `just polyglot` (and the tests) with guest-sdk/js/build.mjs.
import {
  Cog, Command, CustomId, Manifest, Option, UserError, button, customId, exportCog, kv,
  message, option, reply, row, settings, update,
} from 'baseline';

const SETTINGS = {
  type: 'object',
  properties: {
    title: { type: 'string', title: 'Title', description: 'The word before the total.', minLength: 1, maxLength: 50, default: 'Tally' },
    step: { type: 'integer', title: 'Button step', description: 'What the button adds.', minimum: 1, maximum: 100, default: 1 },
  },
};

/** The message showing `total` after adding `added` (and why). */
function shown(config, total, added, note) {
  const why = note ? ` — ${note}` : '';
  return message(`${config.title}: ${total} (+${added}${why})`, [
    row(button(customId('add', config.step), `+${config.step}`)),
  ]);
}

class Tally extends Cog {
  manifest() {
    return new Manifest('tally-js', 'A tally the server keeps, in JavaScript')
      .command(
        new Command('jstally', "Add to the server's tally")
          .option(Option.integer('amount', 'How much to add', { required: true, min: 1, max: 1000 }))
          .option(Option.text('note', 'What it is for')),
      )
      .settings(SETTINGS)
      .capability('kv', "Keeps the server's total.");
  }

  onCommand(command) {
    const amount = option(command, 'amount') ?? 0;
    if (!(amount >= 1 && amount <= 1000)) throw new UserError('The amount must be 1 to 1000.');
    const config = settings.get();
    const total = kv.increment('total', amount);
    return reply(shown(config, total, amount, option(command, 'note')));
  }

  onComponent(component) {
    const id = new CustomId(component.customId);
    if (id.name !== 'add') throw new UserError('That button is no longer supported.');
    const step = id.arg(0, Number);
    const config = settings.get();
    const total = kv.increment('total', step);
    return update(shown(config, total, step));
  }
}

export const { handler, pages } = exportCog(new Tally());
