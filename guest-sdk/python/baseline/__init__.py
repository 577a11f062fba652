"""baseline — write Baseline cogs in Python.

A cog is a WebAssembly component; componentize-py builds one from a Python
module and the WIT (``wit/``). This module gives it the shape of the Rust
SDK: one class, :class:`Cog`, whose handler methods all have defaults;
builders for manifests, commands, messages and buttons; custom ids built
and read back; ``kv`` and ``settings`` that raise errors the user can read.
Build (``cogs/tally-py`` is a complete cog)::

    componentize-py -d wit -w baseline:cog/cog componentize app \\
        -p cogs/tally-py -p guest-sdk/python -o tally-py.wasm

In ``app.py``::

    from baseline import Cog, Manifest, Command, Option, reply, message, export

    class Hello(Cog):
        def manifest(self):
            return Manifest("hello", "Says hello").command(Command("hello", "Say hello"))

        def on_command(self, command):
            return reply(message(f"Hello, {command.context.user.username}!"))

    Handler, Pages = export(Hello())

Errors: raise :class:`UserError` with words the user reads (ephemeral), or
anything else for an internal error (logged for the operator; the user gets
an apology). Capability errors become one or the other as in the Rust SDK:
an operator's denial, a missing server, a rate limit or a full quota in
words; a capability missing from the manifest or a service down, internal.
"""

import json
import traceback
from typing import Any, Callable, Iterable, List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import kv as _kv
from wit_world.imports import log as _log
from wit_world.imports import schedule as _schedule
from wit_world.imports import settings as _settings
from wit_world.imports import types

__all__ = [
    "Cog", "Manifest", "Command", "Option", "UserError", "InternalError",
    "message", "button", "row", "reply", "update", "custom_id", "CustomId",
    "option", "kv", "settings", "log", "schedule", "export", "types",
]


class UserError(Exception):
    """An error the user reads (shown ephemeral)."""


class InternalError(Exception):
    """An error for the operator's log; the user gets an apology."""


# ----- capability errors, in words where the user can act on them -----

NEEDS_SERVER = "This only works in a server."


def _words(error: Any) -> Optional[str]:
    """The user's words for a capability error, or None when it is internal."""
    name = type(error).__name__
    value = getattr(error, "value", None)
    if name.endswith("_Denied") and "manifest" not in str(value):
        return f"Not allowed here: {value}."
    if name.endswith("_NoGuild"):
        return NEEDS_SERVER
    if name.endswith("_RateLimited"):
        seconds = max(1, -(-int(value) // 1000))
        return f"Discord asks to slow down; try again in {seconds} s."
    if name.endswith("_Unavailable") and "quota" in str(value):
        return "This server's storage for this feature is full; an admin can clear some."
    return None


def _capability(call: Callable[..., Any], *args: Any) -> Any:
    """Call an import; its error as UserError or InternalError."""
    try:
        return call(*args)
    except Err as err:
        words = _words(err.value)
        if words is not None:
            raise UserError(words) from None
        raise InternalError(f"{call.__module__}.{call.__name__}: {err.value!r}") from None


class kv:
    """Durable key-value storage in the cog's own space of the current guild.

    Scopes: ``kv.GUILD`` (the guild's), ``kv.user(id)`` (one member's in the
    guild), ``kv.GLOBAL`` (the cog's, across guilds).
    """

    GUILD = _kv.Scope_Guild()
    GLOBAL = _kv.Scope_Global()

    @staticmethod
    def user(user_id: int) -> Any:
        return _kv.Scope_User(user_id)

    @staticmethod
    def get(key: str, scope: Any = None) -> Optional[bytes]:
        return _capability(_kv.get, scope or kv.GUILD, key)

    @staticmethod
    def set(key: str, value: bytes, scope: Any = None, ttl_seconds: Optional[int] = None) -> None:
        _capability(_kv.set, scope or kv.GUILD, key, value, ttl_seconds)

    @staticmethod
    def get_json(key: str, scope: Any = None) -> Any:
        raw = kv.get(key, scope)
        return None if raw is None else json.loads(raw)

    @staticmethod
    def set_json(key: str, value: Any, scope: Any = None, ttl_seconds: Optional[int] = None) -> None:
        kv.set(key, json.dumps(value).encode(), scope, ttl_seconds)

    @staticmethod
    def increment(key: str, delta: int = 1, scope: Any = None) -> int:
        return _capability(_kv.increment, scope or kv.GUILD, key, delta)

    @staticmethod
    def delete(key: str, scope: Any = None) -> bool:
        return _capability(_kv.delete, scope or kv.GUILD, key)


class schedule:
    """Timers: this cog's ``on_timer(name, payload, context)`` run later in
    the current guild, kept by the host across restarts, run once; setting a
    name again replaces its timer (capability ``schedule``)."""

    @staticmethod
    def after(name: str, seconds: float, payload: str = "") -> None:
        _capability(_schedule.after, name, max(0, int(seconds * 1000)), payload)

    @staticmethod
    def at(name: str, at_ms: int, payload: str = "") -> None:
        """Due at ``at_ms``, milliseconds since the Unix epoch."""
        _capability(_schedule.at, name, at_ms, payload)

    @staticmethod
    def cancel(name: str) -> bool:
        return _capability(_schedule.cancel, name)

    @staticmethod
    def pending() -> List[Any]:
        """``[(name, due_ms), ...]``, soonest first."""
        return _capability(_schedule.pending)


class settings:
    """The guild's settings of this cog (defaults from the schema filled in)."""

    @staticmethod
    def get() -> dict:
        return json.loads(_capability(_settings.get))


class log:
    """Log lines, with fields, in the host's log under the cog's name."""

    @staticmethod
    def info(text: str, **fields: Any) -> None:
        _log.write(_log.Level.INFO, text, [(k, str(v)) for k, v in fields.items()])

    @staticmethod
    def warn(text: str, **fields: Any) -> None:
        _log.write(_log.Level.WARN, text, [(k, str(v)) for k, v in fields.items()])


# ----- builders -----

_STYLES = {
    "primary": types.ButtonStyle.PRIMARY,
    "secondary": types.ButtonStyle.SECONDARY,
    "success": types.ButtonStyle.SUCCESS,
    "danger": types.ButtonStyle.DANGER,
}


def button(custom_id: str, label: str, style: str = "primary", disabled: bool = False) -> types.Component:
    """A button whose click comes back to ``on_component`` with ``custom_id``."""
    return types.Component_Button(types.Button(
        style=_STYLES[style], label=label, emoji=None, custom_id=custom_id, url=None,
        disabled=disabled))


def row(*components: types.Component) -> types.ActionRow:
    """A row of up to five buttons, or one select."""
    return types.ActionRow(components=list(components))


def message(content: Optional[str] = None, rows: Iterable[types.ActionRow] = ()) -> types.Message:
    """A message with text and rows of components (mentions are off)."""
    return types.Message(content=content, embeds=[], components=list(rows), attachments=[],
                         allowed_mentions=None, tts=False)


def reply(message: types.Message, ephemeral: bool = False) -> types.CommandResponse:
    """Answer a command (or, from ``on_component``, a new message) with ``message``."""
    return types.CommandResponse_Reply(types.Reply(message=message, ephemeral=ephemeral))


def update(message: types.Message) -> types.ComponentResponse:
    """Answer a click by replacing the message the component sits on."""
    return types.ComponentResponse_Update(message)


class Option:
    """An option of a slash command: ``Option.integer("amount", "How much", required=True, min=1, max=10)``."""

    @staticmethod
    def _of(kind: Any, name: str, description: str, required: bool = False,
            min: Optional[float] = None, max: Optional[float] = None,
            max_length: Optional[int] = None) -> types.CommandOption:
        return types.CommandOption(
            name=name, description=description, kind=kind, required=required, choices=[],
            autocomplete=False, min_value=None if min is None else float(min),
            max_value=None if max is None else float(max), min_length=None,
            max_length=max_length, channel_kinds=[])

    @staticmethod
    def text(name: str, description: str, required: bool = False, max_length: Optional[int] = None) -> types.CommandOption:
        return Option._of(types.OptionKind.TEXT, name, description, required, max_length=max_length)

    @staticmethod
    def integer(name: str, description: str, required: bool = False,
                min: Optional[int] = None, max: Optional[int] = None) -> types.CommandOption:
        return Option._of(types.OptionKind.INTEGER, name, description, required, min, max)

    @staticmethod
    def number(name: str, description: str, required: bool = False,
               min: Optional[float] = None, max: Optional[float] = None) -> types.CommandOption:
        return Option._of(types.OptionKind.NUMBER, name, description, required, min, max)

    @staticmethod
    def boolean(name: str, description: str, required: bool = False) -> types.CommandOption:
        return Option._of(types.OptionKind.BOOLEAN, name, description, required)

    @staticmethod
    def user(name: str, description: str, required: bool = False) -> types.CommandOption:
        return Option._of(types.OptionKind.USER, name, description, required)

    @staticmethod
    def channel(name: str, description: str, required: bool = False) -> types.CommandOption:
        return Option._of(types.OptionKind.CHANNEL, name, description, required)

    @staticmethod
    def role(name: str, description: str, required: bool = False) -> types.CommandOption:
        return Option._of(types.OptionKind.ROLE, name, description, required)


class Command:
    """A slash command: ``Command("tally", "Add to the tally").option(...)``."""

    def __init__(self, name: str, description: str, guild_only: bool = True) -> None:
        self.inner = types.Command(name=name, description=description, options=[], subcommands=[],
                                   groups=[], default_member_permissions=None,
                                   guild_only=guild_only, nsfw=False)

    def option(self, option: types.CommandOption) -> "Command":
        self.inner.options.append(option)
        return self


class Manifest:
    """What the cog declares: ``Manifest("tally", "Keeps a tally")`` then
    ``.command(...)``, ``.event(types.EventKind.MESSAGE_DELETE)``,
    ``.settings(schema)`` (a JSON Schema as a dict), ``.capability(name, reason)``."""

    def __init__(self, name: str, description: str, version: str = "0.1.0") -> None:
        self.inner = types.CogManifest(name=name, version=version, description=description,
                                       commands=[], events=[], settings_schema=None,
                                       capabilities=[], pages=[])

    def command(self, command: Command) -> "Manifest":
        self.inner.commands.append(command.inner)
        return self

    def event(self, kind: Any) -> "Manifest":
        self.inner.events.append(kind)
        return self

    def settings(self, schema: dict) -> "Manifest":
        """Declare the settings' JSON Schema (give every property a default);
        asks for the ``settings`` capability too."""
        self.inner.settings_schema = json.dumps(schema)
        if not any(c.name == "settings" for c in self.inner.capabilities):
            self.capability("settings", "Reads its settings for the server.")
        return self

    def capability(self, name: str, reason: str) -> "Manifest":
        """Ask for a capability with the reason the operator reads (asked again, the last reason stands)."""
        self.inner.capabilities = [c for c in self.inner.capabilities if c.name != name]
        self.inner.capabilities.append(types.CapabilityRequest(name=name, reason=reason))
        return self


# ----- invocations -----

def option(invocation: Any, name: str) -> Any:
    """The value of the option ``name`` (an int, str, bool, float or id), or None."""
    command = getattr(invocation, "command", invocation)
    for entry in command.options:
        if entry.name == name:
            return entry.value.value
    return None


def custom_id(name: str, *args: Any) -> str:
    """A custom id from a name and arguments, joined by ``:``: ``custom_id("add", 3)`` is ``"add:3"``."""
    return ":".join([name, *(str(a) for a in args)])


class CustomId:
    """A custom id read back: ``CustomId(component.custom_id).arg(0, int)``."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.name, *self.args = raw.split(":")

    def arg(self, index: int, kind: Callable[[str], Any] = str) -> Any:
        """Argument ``index`` (0 is the first after the name), converted by ``kind``."""
        if index >= len(self.args):
            raise InternalError(f"custom id `{self.raw}` has no argument {index}")
        try:
            return kind(self.args[index])
        except ValueError:
            raise InternalError(
                f"custom id `{self.raw}`: argument {index} (`{self.args[index]}`) is not a {kind.__name__}"
            ) from None


# ----- the cog -----

class Cog:
    """A cog: override what it does. State lives in ``kv``, not in the object
    (a warm instance serves only one guild, and is dropped after a while)."""

    def manifest(self) -> Manifest:
        raise NotImplementedError("a cog declares its manifest")

    def on_command(self, command: types.CommandInvocation) -> types.CommandResponse:
        raise UserError(f"`/{command.name}` is not implemented yet.")

    def on_component(self, component: types.ComponentInvocation) -> types.ComponentResponse:
        raise UserError("That button is no longer supported.")

    def on_autocomplete(self, request: types.AutocompleteInvocation) -> List[types.Choice]:
        return []

    def on_event(self, event: types.Event, context: types.InvocationContext) -> None:
        return None

    def on_timer(self, name: str, payload: str, context: types.InvocationContext) -> None:
        return None

    def render(self, context: types.PageContext) -> types.View:
        raise UserError(f"This cog has no page `{context.route}`.")

    def act(self, context: types.PageContext, action: str, payload: Any) -> types.ActionOutcome:
        raise UserError(f"This page has no action `{action}`.")


def _guarded(call: Callable[..., Any], *args: Any) -> Any:
    """Run a handler; its exceptions as the WIT's cog-error."""
    try:
        return call(*args)
    except Err as err:
        if isinstance(err.value, (types.CogError_User, types.CogError_Internal)):
            raise
        # A capability's own error (discord, interaction, cache, llm, …)
        # called without the helpers: in words when the user can act on it.
        words = _words(err.value)
        if words is not None:
            raise Err(types.CogError_User(words)) from None
        raise Err(types.CogError_Internal(f"capability error: {err.value!r}")) from None
    except UserError as error:
        raise Err(types.CogError_User(str(error))) from None
    except InternalError as error:
        raise Err(types.CogError_Internal(str(error))) from None
    except Exception as error:  # the cog's bug: the operator reads where
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise Err(types.CogError_Internal(
            f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})")) from None


def export(cog: Cog) -> Any:
    """The ``Handler`` and ``Pages`` classes componentize-py looks for in the
    app module, serving ``cog``: ``Handler, Pages = export(MyCog())``."""

    class Handler(exports.Handler):
        def manifest(self) -> types.CogManifest:
            declared = cog.manifest()
            return declared.inner if isinstance(declared, Manifest) else declared

        def on_command(self, invocation):
            return _guarded(cog.on_command, invocation)

        def on_component(self, invocation):
            return _guarded(cog.on_component, invocation)

        def on_autocomplete(self, invocation):
            return _guarded(cog.on_autocomplete, invocation)

        def on_event(self, event, context):
            return _guarded(cog.on_event, event, context)

        def on_timer(self, name, payload, context):
            return _guarded(cog.on_timer, name, payload, context)

    class Pages(exports.Pages):
        def render(self, context):
            return _guarded(cog.render, context)

        def act(self, context, action, payload):
            return _guarded(cog.act, context, action, json.loads(payload or "null"))

    return Handler, Pages
