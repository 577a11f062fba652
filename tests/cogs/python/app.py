"""A cog in Python, built with componentize-py against Baseline's WIT.

It proves the contract is language-neutral and measures what a big-runtime
cog costs the host. Build:

    componentize-py -d ../../../wit -w baseline:cog/cog componentize app -o pyecho.wasm
"""

from wit_world import exports
from wit_world.imports import kv, log, types
from componentize_py_types import Err


def text_reply(text: str, ephemeral: bool = False) -> types.CommandResponse:
    message = types.Message(content=text, embeds=[], components=[], attachments=[],
                            allowed_mentions=None, tts=False)
    return types.CommandResponse_Reply(types.Reply(message=message, ephemeral=ephemeral))


def command(name: str, description: str) -> types.Command:
    return types.Command(name=name, description=description, options=[], subcommands=[], groups=[],
                         default_member_permissions=None, guild_only=False, nsfw=False)


class Handler(exports.Handler):
    def manifest(self) -> types.CogManifest:
        return types.CogManifest(
            name="pyecho",
            version="0.1.0",
            description="A Python cog: /pyhello and /pycount",
            commands=[command("pyhello", "Say hello from Python"),
                      command("pycount", "Count in kv from Python")],
            events=[],
            settings_schema=None,
            capabilities=[types.CapabilityRequest(name="kv", reason="Counts /pycount calls.")],
            pages=[],
        )

    def on_command(self, invocation: types.CommandInvocation) -> types.CommandResponse:
        if invocation.name == "pyhello":
            return text_reply(f"Hello from Python, {invocation.context.user.username}!")
        if invocation.name == "pycount":
            count = kv.increment(kv.Scope_Guild(), "count", 1)
            log.write(log.Level.INFO, "counted", [("count", str(count))])
            return text_reply(f"Python counted {count}")
        raise Err(types.CogError_User(f"unknown command {invocation.name}"))

    def on_component(self, invocation):
        raise Err(types.CogError_User("no components"))

    def on_autocomplete(self, invocation):
        return []

    def on_event(self, event, context):
        return None

    def on_timer(self, name, payload, context):
        return None


class Pages(exports.Pages):
    def render(self, context):
        raise Err(types.CogError_User("no pages"))

    def act(self, context, action, payload):
        raise Err(types.CogError_User("no pages"))
