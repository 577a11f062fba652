//! A cog's exported functions, found once when it loads.
//!
//! wasmtime's generated bindings (`CogPre::instantiate_async`, `Cog::new`)
//! type-check every export of the world each time an instance is made —
//! about 44 000 instructions, a sixth of an interaction served by a fresh
//! instance (docs/benchmarks.md). The types of a component do not change
//! between its instances, so the host checks them once: [`Exports::check`]
//! runs on the instance of the load's `manifest` call, type-checks through
//! the generated bindings and keeps each export's index; a call then looks
//! up only the function it needs and calls it without checking again.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance, TypedFunc};

use super::invoke::{Answer, Call};
use super::sandbox::Sandbox;
use crate::wit::types::{
    ActionOutcome, AutocompleteInvocation, Choice, CogError, CommandInvocation, CommandResponse,
    ComponentInvocation, ComponentResponse, Event, InvocationContext, PageContext, View,
};

/// The exported interfaces, as the world `baseline:cog/cog` names them.
const HANDLER: &str = "baseline:cog/handler@0.1.0";
const PAGES: &str = "baseline:cog/pages@0.1.0";

/// Where each export the host calls sits in the component, its type
/// already checked against the WIT.
#[derive(Debug, Clone)]
pub(crate) struct Exports {
    on_command: ComponentExportIndex,
    on_component: ComponentExportIndex,
    on_autocomplete: ComponentExportIndex,
    on_event: ComponentExportIndex,
    render: ComponentExportIndex,
    act: ComponentExportIndex,
}

impl Exports {
    /// Type-check every export of `instance` (what the generated `Cog::new`
    /// does) and find where each sits in its component; the checked
    /// bindings too, for the call that loads the cog.
    pub(crate) fn check(
        store: &mut Store<Sandbox>,
        instance: &Instance,
    ) -> wasmtime::Result<(Self, crate::wit::Cog)> {
        let cog = crate::wit::Cog::new(&mut *store, instance)?;
        let pre = instance.instance_pre(&*store);
        let component = pre.component();
        let lookup = |interface: &str, name: &str| {
            let instance = component
                .get_export_index(None, interface)
                .ok_or_else(|| wasmtime::format_err!("no exported instance `{interface}`"))?;
            component
                .get_export_index(Some(&instance), name)
                .ok_or_else(|| wasmtime::format_err!("`{interface}` has no export `{name}`"))
        };
        let exports = Self {
            on_command: lookup(HANDLER, "on-command")?,
            on_component: lookup(HANDLER, "on-component")?,
            on_autocomplete: lookup(HANDLER, "on-autocomplete")?,
            on_event: lookup(HANDLER, "on-event")?,
            render: lookup(PAGES, "render")?,
            act: lookup(PAGES, "act")?,
        };
        Ok((exports, cog))
    }

    /// Run `call` on `instance`.
    pub(crate) async fn call(
        &self,
        instance: &Instance,
        store: &mut Store<Sandbox>,
        call: Call,
    ) -> wasmtime::Result<Answer> {
        Ok(match call {
            Call::Command(invocation) => {
                let func = self
                    .typed::<(&CommandInvocation,), (Result<CommandResponse, CogError>,)>(
                        instance,
                        store,
                        &self.on_command,
                    )?;
                Answer::Command(func.call_async(&mut *store, (&invocation,)).await?.0)
            }
            Call::Component(invocation) => {
                let func = self
                    .typed::<(&ComponentInvocation,), (Result<ComponentResponse, CogError>,)>(
                        instance,
                        store,
                        &self.on_component,
                    )?;
                Answer::Component(func.call_async(&mut *store, (&invocation,)).await?.0)
            }
            Call::Autocomplete(invocation) => {
                let func = self
                    .typed::<(&AutocompleteInvocation,), (Result<Vec<Choice>, CogError>,)>(
                        instance,
                        store,
                        &self.on_autocomplete,
                    )?;
                Answer::Autocomplete(func.call_async(&mut *store, (&invocation,)).await?.0)
            }
            Call::Event(event, context) => {
                let func = self.typed::<(&Event, &InvocationContext), (Result<(), CogError>,)>(
                    instance,
                    store,
                    &self.on_event,
                )?;
                Answer::Event(func.call_async(&mut *store, (&event, &context)).await?.0)
            }
            Call::Render(context) => {
                let func = self.typed::<(&PageContext,), (Result<View, CogError>,)>(
                    instance,
                    store,
                    &self.render,
                )?;
                Answer::Render(func.call_async(&mut *store, (&context,)).await?.0)
            }
            Call::Act(context, action, payload) => {
                let func = self
                    .typed::<(&PageContext, &str, &str), (Result<ActionOutcome, CogError>,)>(
                        instance, store, &self.act,
                    )?;
                Answer::Act(
                    func.call_async(&mut *store, (&context, &action, &payload))
                        .await?
                        .0,
                )
            }
        })
    }

    /// The function at `index` of `instance`, with the types the WIT gives it.
    fn typed<Params, Results>(
        &self,
        instance: &Instance,
        store: &mut Store<Sandbox>,
        index: &ComponentExportIndex,
    ) -> wasmtime::Result<TypedFunc<Params, Results>>
    where
        Params: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        Results: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        let func = instance
            .get_func(&mut *store, index)
            .ok_or_else(|| wasmtime::format_err!("the instance lacks a checked export"))?;
        // SAFETY: `Exports` is made only by `check`, after the generated
        // bindings type-checked every export of this component against the
        // WIT (`Params`/`Results` here are exactly the bindings' signatures
        // for these exports), and every instance it is used with is of the
        // same component (the `LoadedCog` holding both).
        Ok(unsafe { TypedFunc::new_unchecked(func) })
    }
}
