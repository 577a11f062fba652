//! A cog's exported functions, found once when it loads.
//!
//! wasmtime's generated bindings (`CogPre::instantiate_async`, `Cog::new`)
//! type-check every export of the world each time an instance is made —
//! about 44 000 instructions, a sixth of an interaction served by a fresh
//! instance (docs/benchmarks.md). The types of a component do not change
//! between its instances, so the host checks them once: [`Exports::check`]
//! runs on the instance of the load's `manifest` call, type-checks each
//! export against the WIT of the cog's version and keeps its index; a call
//! then looks up only the function it needs and calls it without checking
//! again. A cog of an older version has every export called with that
//! version's types and its values adapted ([`crate::wit::v0_2`], whose
//! invocations, answers and pages 0.1.0 shares, and [`crate::wit::v0_1`]
//! for its manifest and events).

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance, TypedFunc};

use super::call::{Answer, Call};
use super::sandbox::Sandbox;
use crate::wit::types::{
    ActionOutcome, AutocompleteInvocation, Choice, CogError, CogManifest, CommandInvocation,
    CommandResponse, ComponentInvocation, ComponentResponse, Event, InvocationContext, PageContext,
    View,
};
use crate::wit::v0_2::types as old;
use crate::wit::{WitVersion, v0_1, v0_2};

/// The exported interfaces of `version`, as the world `baseline:cog/cog` names them.
fn interfaces(version: WitVersion) -> (String, String) {
    (
        format!("baseline:cog/handler@{version}"),
        format!("baseline:cog/pages@{version}"),
    )
}

/// Where each export the host calls sits in the component, its type
/// already checked against the WIT of the cog's version.
#[derive(Debug, Clone)]
pub(crate) struct Exports {
    version: WitVersion,
    manifest: ComponentExportIndex,
    on_command: ComponentExportIndex,
    on_component: ComponentExportIndex,
    on_autocomplete: ComponentExportIndex,
    on_event: ComponentExportIndex,
    render: ComponentExportIndex,
    act: ComponentExportIndex,
    /// `on-timer`, which cogs have from 0.3.0 on.
    on_timer: Option<ComponentExportIndex>,
}

impl Exports {
    /// Type-check every export of `instance` against the WIT of `version`
    /// (with the Rust types the host will call it with) and find where each
    /// sits in its component.
    pub(crate) fn check(
        store: &mut Store<Sandbox>,
        instance: &Instance,
        version: WitVersion,
    ) -> wasmtime::Result<Self> {
        let (handler, pages) = interfaces(version);
        let pre = instance.instance_pre(&*store);
        let component = pre.component().clone();
        let lookup = |interface: &str, name: &str| {
            let instance = component
                .get_export_index(None, interface)
                .ok_or_else(|| wasmtime::format_err!("no exported instance `{interface}`"))?;
            component
                .get_export_index(Some(&instance), name)
                .ok_or_else(|| wasmtime::format_err!("`{interface}` has no export `{name}`"))
        };
        let exports = Self {
            version,
            manifest: lookup(&handler, "manifest")?,
            on_command: lookup(&handler, "on-command")?,
            on_component: lookup(&handler, "on-component")?,
            on_autocomplete: lookup(&handler, "on-autocomplete")?,
            on_event: lookup(&handler, "on-event")?,
            render: lookup(&pages, "render")?,
            act: lookup(&pages, "act")?,
            on_timer: match version >= WitVersion::V0_3 {
                true => Some(lookup(&handler, "on-timer")?),
                false => None,
            },
        };
        // The checks: `get_typed_func` compares the export's type with the
        // Rust types' WIT shape (structurally, so an older version's
        // unchanged functions check against today's types).
        let at = |what: &'static str| at(version, what);
        match version {
            WitVersion::V0_1 => {
                check::<(), (v0_1::types::CogManifest,)>(instance, store, &exports.manifest)
                    .map_err(at("manifest"))?;
                check::<(&v0_1::types::Event, &old::InvocationContext), (Result<(), old::CogError>,)>(
                    instance,
                    store,
                    &exports.on_event,
                )
                .map_err(at("on-event"))?;
                check_handlers_of_0_2(&exports, instance, store)?;
            }
            WitVersion::V0_2 => {
                check::<(), (old::CogManifest,)>(instance, store, &exports.manifest)
                    .map_err(at("manifest"))?;
                check::<(&old::Event, &old::InvocationContext), (Result<(), old::CogError>,)>(
                    instance,
                    store,
                    &exports.on_event,
                )
                .map_err(at("on-event"))?;
                check_handlers_of_0_2(&exports, instance, store)?;
            }
            WitVersion::V0_3 => {
                check::<(), (CogManifest,)>(instance, store, &exports.manifest)
                    .map_err(at("manifest"))?;
                check::<(&Event, &InvocationContext), (Result<(), CogError>,)>(
                    instance,
                    store,
                    &exports.on_event,
                )
                .map_err(at("on-event"))?;
                check::<(&CommandInvocation,), (Result<CommandResponse, CogError>,)>(
                    instance,
                    store,
                    &exports.on_command,
                )
                .map_err(at("on-command"))?;
                check::<(&ComponentInvocation,), (Result<ComponentResponse, CogError>,)>(
                    instance,
                    store,
                    &exports.on_component,
                )
                .map_err(at("on-component"))?;
                check::<(&AutocompleteInvocation,), (Result<Vec<Choice>, CogError>,)>(
                    instance,
                    store,
                    &exports.on_autocomplete,
                )
                .map_err(at("on-autocomplete"))?;
                check::<(&PageContext,), (Result<View, CogError>,)>(
                    instance,
                    store,
                    &exports.render,
                )
                .map_err(at("render"))?;
                check::<(&PageContext, &str, &str), (Result<ActionOutcome, CogError>,)>(
                    instance,
                    store,
                    &exports.act,
                )
                .map_err(at("act"))?;
                if let Some(on_timer) = &exports.on_timer {
                    check::<(&str, &str, &InvocationContext), (Result<(), CogError>,)>(
                        instance, store, on_timer,
                    )
                    .map_err(at("on-timer"))?;
                }
            }
        }
        Ok(exports)
    }

    /// Call `manifest` (once, at load), in today's types.
    pub(crate) async fn manifest(
        &self,
        instance: &Instance,
        store: &mut Store<Sandbox>,
    ) -> wasmtime::Result<CogManifest> {
        match self.version {
            WitVersion::V0_1 => {
                let func =
                    self.typed::<(), (v0_1::types::CogManifest,)>(instance, store, &self.manifest)?;
                let (manifest,) = func.call_async(&mut *store, ()).await?;
                v0_1::manifest(&manifest).map_err(wasmtime::Error::msg)
            }
            WitVersion::V0_2 => {
                let func =
                    self.typed::<(), (old::CogManifest,)>(instance, store, &self.manifest)?;
                let (manifest,) = func.call_async(&mut *store, ()).await?;
                v0_2::manifest(&manifest).map_err(wasmtime::Error::msg)
            }
            WitVersion::V0_3 => {
                let func = self.typed::<(), (CogManifest,)>(instance, store, &self.manifest)?;
                Ok(func.call_async(&mut *store, ()).await?.0)
            }
        }
    }

    /// Run `call` on `instance`.
    pub(crate) async fn call(
        &self,
        instance: &Instance,
        store: &mut Store<Sandbox>,
        call: Call,
    ) -> wasmtime::Result<Answer> {
        if self.version < WitVersion::CURRENT {
            return self.call_old(instance, store, call).await;
        }
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
            Call::Timer(name, payload, context) => {
                let Some(on_timer) = &self.on_timer else {
                    wasmtime::bail!("the cog has no `on-timer`");
                };
                let func = self
                    .typed::<(&str, &str, &InvocationContext), (Result<(), CogError>,)>(
                        instance, store, on_timer,
                    )?;
                Answer::Timer(
                    func.call_async(&mut *store, (&name, &payload, &context))
                        .await?
                        .0,
                )
            }
        })
    }

    /// Run `call` on an instance of a cog of 0.1.0 or 0.2.0: with 0.2.0's
    /// types (0.1.0's for its events), the values adapted both ways.
    async fn call_old(
        &self,
        instance: &Instance,
        store: &mut Store<Sandbox>,
        call: Call,
    ) -> wasmtime::Result<Answer> {
        fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(
            value: &A,
        ) -> wasmtime::Result<B> {
            v0_2::convert(value).map_err(wasmtime::Error::msg)
        }
        Ok(match call {
            Call::Command(invocation) => {
                let func = self.typed::<(&old::CommandInvocation,), (Result<old::CommandResponse, old::CogError>,)>(
                    instance,
                    store,
                    &self.on_command,
                )?;
                let invocation: old::CommandInvocation = convert(&invocation)?;
                let (answer,) = func.call_async(&mut *store, (&invocation,)).await?;
                Answer::Command(convert(&answer)?)
            }
            Call::Component(invocation) => {
                let func = self.typed::<(&old::ComponentInvocation,), (Result<old::ComponentResponse, old::CogError>,)>(
                    instance,
                    store,
                    &self.on_component,
                )?;
                let invocation: old::ComponentInvocation = convert(&invocation)?;
                let (answer,) = func.call_async(&mut *store, (&invocation,)).await?;
                Answer::Component(convert(&answer)?)
            }
            Call::Autocomplete(invocation) => {
                let func = self.typed::<(&old::AutocompleteInvocation,), (Result<Vec<old::Choice>, old::CogError>,)>(
                    instance,
                    store,
                    &self.on_autocomplete,
                )?;
                let invocation: old::AutocompleteInvocation = convert(&invocation)?;
                let (answer,) = func.call_async(&mut *store, (&invocation,)).await?;
                Answer::Autocomplete(convert(&answer)?)
            }
            Call::Event(event, context) => {
                let context: old::InvocationContext = convert(&context)?;
                let answer = match self.version {
                    WitVersion::V0_1 => {
                        // A kind 0.1.0 lacks is never subscribed to; nothing to run.
                        let Some(event) = v0_1::event(&event) else {
                            return Ok(Answer::Event(Ok(())));
                        };
                        let func = self.typed::<(&v0_1::types::Event, &old::InvocationContext), (Result<(), old::CogError>,)>(
                            instance,
                            store,
                            &self.on_event,
                        )?;
                        func.call_async(&mut *store, (&event, &context)).await?.0
                    }
                    _ => {
                        let Some(event) = v0_2::event(&event) else {
                            return Ok(Answer::Event(Ok(())));
                        };
                        let func = self.typed::<(&old::Event, &old::InvocationContext), (Result<(), old::CogError>,)>(
                            instance,
                            store,
                            &self.on_event,
                        )?;
                        func.call_async(&mut *store, (&event, &context)).await?.0
                    }
                };
                Answer::Event(convert(&answer)?)
            }
            Call::Render(context) => {
                let func = self
                    .typed::<(&old::PageContext,), (Result<old::View, old::CogError>,)>(
                        instance,
                        store,
                        &self.render,
                    )?;
                let context: old::PageContext = convert(&context)?;
                let (answer,) = func.call_async(&mut *store, (&context,)).await?;
                Answer::Render(convert(&answer)?)
            }
            Call::Act(context, action, payload) => {
                let func = self.typed::<(&old::PageContext, &str, &str), (Result<old::ActionOutcome, old::CogError>,)>(
                    instance, store, &self.act,
                )?;
                let context: old::PageContext = convert(&context)?;
                let (answer,) = func
                    .call_async(&mut *store, (&context, &action, &payload))
                    .await?;
                Answer::Act(convert(&answer)?)
            }
            // Cogs before 0.3.0 cannot set timers.
            Call::Timer(..) => wasmtime::bail!("a cog of WIT {} has no timers", self.version),
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
        // SAFETY: `Exports` is made only by `check`, after `get_typed_func`
        // type-checked every export of this component with exactly the
        // `Params`/`Results` used here for it (the `Sig` aliases, chosen by
        // the same version), and every instance it is used with is of the
        // same component (the `LoadedCog` holding both).
        Ok(unsafe { TypedFunc::new_unchecked(func) })
    }
}

/// What a failed type check of the export `what` says.
fn at(version: WitVersion, what: &'static str) -> impl Fn(wasmtime::Error) -> wasmtime::Error {
    move |error| {
        wasmtime::format_err!(
            "the export `{what}` does not have its type of WIT {version}: {error:#}"
        )
    }
}

/// Type-check the handlers and pages of a 0.1.0 or 0.2.0 cog (but
/// `manifest` and `on-event`) with 0.2.0's types, which 0.1.0 shares.
fn check_handlers_of_0_2(
    exports: &Exports,
    instance: &Instance,
    store: &mut Store<Sandbox>,
) -> wasmtime::Result<()> {
    let at = |what| at(exports.version, what);
    check::<(&old::CommandInvocation,), (Result<old::CommandResponse, old::CogError>,)>(
        instance,
        store,
        &exports.on_command,
    )
    .map_err(at("on-command"))?;
    check::<(&old::ComponentInvocation,), (Result<old::ComponentResponse, old::CogError>,)>(
        instance,
        store,
        &exports.on_component,
    )
    .map_err(at("on-component"))?;
    check::<(&old::AutocompleteInvocation,), (Result<Vec<old::Choice>, old::CogError>,)>(
        instance,
        store,
        &exports.on_autocomplete,
    )
    .map_err(at("on-autocomplete"))?;
    check::<(&old::PageContext,), (Result<old::View, old::CogError>,)>(
        instance,
        store,
        &exports.render,
    )
    .map_err(at("render"))?;
    check::<(&old::PageContext, &str, &str), (Result<old::ActionOutcome, old::CogError>,)>(
        instance,
        store,
        &exports.act,
    )
    .map_err(at("act"))?;
    Ok(())
}

/// Type-check the export at `index` of `instance` as a function from
/// `Params` to `Results`.
fn check<Params, Results>(
    instance: &Instance,
    store: &mut Store<Sandbox>,
    index: &ComponentExportIndex,
) -> wasmtime::Result<()>
where
    Params: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
    Results: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
{
    instance
        .get_typed_func::<Params, Results>(&mut *store, index)
        .map(|_| ())
}
