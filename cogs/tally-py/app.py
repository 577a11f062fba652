"""Tally in Python: the twin of cogs/tally (Rust) and cogs/tally-js.

The server keeps a running total: `/pytally amount:<1-1000> [note:<text>]`
adds to it and answers with a button that adds the step from the settings;
the button updates the message in place. Built by `just polyglot` (and the
tests) with componentize-py and the helper module in guest-sdk/python:

    componentize-py -d ../../wit -w baseline:cog/cog componentize app \
        -p . -p ../../guest-sdk/python -o ../tally-py.wasm
"""

from baseline import (Cog, Command, CustomId, Manifest, Option, UserError, button, custom_id,
                      export, kv, message, option, reply, row, settings, update)

SETTINGS = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "title": "Title", "description": "The word before the total.",
                  "minLength": 1, "maxLength": 50, "default": "Tally"},
        "step": {"type": "integer", "title": "Button step", "description": "What the button adds.",
                 "minimum": 1, "maximum": 100, "default": 1},
    },
}


def shown(config: dict, total: int, added: int, note=None):
    """The message showing `total` after adding `added` (and why)."""
    note = f" — {note}" if note else ""
    step = config["step"]
    return message(f"{config['title']}: {total} (+{added}{note})",
                   [row(button(custom_id("add", step), f"+{step}"))])


class Tally(Cog):
    def manifest(self):
        return (Manifest("tally-py", "A tally the server keeps, in Python")
                .command(Command("pytally", "Add to the server's tally")
                         .option(Option.integer("amount", "How much to add", required=True,
                                                min=1, max=1000))
                         .option(Option.text("note", "What it is for")))
                .settings(SETTINGS)
                .capability("kv", "Keeps the server's total."))

    def on_command(self, command):
        amount = option(command, "amount") or 0
        if not 1 <= amount <= 1000:
            raise UserError("The amount must be 1 to 1000.")
        config = settings.get()
        total = kv.increment("total", amount)
        return reply(shown(config, total, amount, option(command, "note")))

    def on_component(self, component):
        id = CustomId(component.custom_id)
        if id.name != "add":
            raise UserError("That button is no longer supported.")
        step = id.arg(0, int)
        config = settings.get()
        total = kv.increment("total", step)
        return update(shown(config, total, step))


Handler, Pages = export(Tally())
