//! From the operator's `[llm]` configuration to providers and routes: the
//! providers whose keys are set (or, with none, every provider at the
//! embedded simulator), each model's chain of routes — the configured ones,
//! then one route for every priced model of a configured provider — and a
//! check that the default model has a route.

use std::collections::HashMap;
use std::time::Duration;

use super::client::Provider;
use super::gateway::Route;
use super::pricing;
use super::providers::Kind;
use crate::config::LlmConfig;

/// Providers and routes, ready for a gateway.
#[derive(Debug)]
pub struct Plan {
    /// Providers by name.
    pub providers: HashMap<String, Provider>,
    /// Model → routes.
    pub routes: HashMap<String, Vec<Route>>,
    /// Every provider is the simulator.
    pub simulated: bool,
}

const KINDS: [Kind; 4] = [Kind::OpenAi, Kind::Anthropic, Kind::Gemini, Kind::Xai];

/// The plan for `config`; `simulator(kind)` is the base URL of the embedded
/// simulator for `kind`, used when no key is set. `Err` says what is wrong.
pub fn plan(
    config: &LlmConfig,
    simulator: Option<&dyn Fn(Kind) -> String>,
) -> Result<Plan, String> {
    let timeout = Duration::from_secs(config.timeout_secs.max(1));
    let mut providers = HashMap::new();
    let simulated = config.keys.is_empty();
    for kind in KINDS {
        let provider = match (config.keys.get(kind.name()), simulated, simulator) {
            (Some(key), _, _) => Provider::new(kind, key.clone()),
            (None, true, Some(simulator)) => Provider::new(kind, "simulated").at(simulator(kind)),
            _ => continue,
        };
        let mut provider = match config.base_urls.get(kind.name()) {
            Some(base) if !simulated => provider.at(base.clone()),
            _ => provider,
        };
        provider.timeout = timeout;
        providers.insert(kind.name().to_string(), provider);
    }
    let mut routes: HashMap<String, Vec<Route>> = HashMap::new();
    for (model, chain) in &config.routes {
        let mut steps = Vec::new();
        for step in chain {
            let (provider, target) = step
                .split_once('/')
                .ok_or_else(|| format!("llm.routes.{model}: `{step}` is not provider/model"))?;
            if !providers.contains_key(provider) {
                return Err(format!(
                    "llm.routes.{model}: provider `{provider}` has no key (set {}_API_KEY)",
                    provider.to_uppercase()
                ));
            }
            steps.push(Route {
                provider: provider.to_string(),
                model: target.to_string(),
            });
        }
        routes.insert(model.clone(), steps);
    }
    for (provider, model, _, _) in pricing::SEEDED {
        if providers.contains_key(*provider) && !routes.contains_key(*model) {
            routes.insert(
                model.to_string(),
                vec![Route {
                    provider: provider.to_string(),
                    model: model.to_string(),
                }],
            );
        }
    }
    if providers.is_empty() {
        return Err(
            "no LLM provider: set a key (OPENAI_API_KEY, …) or run with the simulator".into(),
        );
    }
    if !routes.contains_key(&config.default_model) {
        return Err(format!(
            "llm.default_model `{}` has no route: add it to [llm.routes] or set the key of a provider that serves it",
            config.default_model
        ));
    }
    Ok(Plan {
        providers,
        routes,
        simulated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_sim(kind: Kind) -> String {
        format!("http://sim/{}", kind.name())
    }

    #[test]
    fn no_key_means_the_simulator_for_everyone() {
        let plan = plan(&LlmConfig::default(), Some(&at_sim)).unwrap();
        assert!(plan.simulated);
        assert_eq!(plan.providers.len(), 4);
        assert_eq!(plan.providers["anthropic"].base_url, "http://sim/anthropic");
        assert_eq!(plan.routes["claude-haiku-5-5"][0].provider, "anthropic");
    }

    #[test]
    fn keys_choose_the_providers_and_routes_are_checked() {
        let mut config = LlmConfig::default();
        config.keys.insert("openai".into(), "sk".into());
        config
            .base_urls
            .insert("openai".into(), "https://proxy/v1".into());
        let plan = plan(&config, Some(&at_sim)).unwrap();
        assert!(!plan.simulated);
        assert_eq!(plan.providers.keys().collect::<Vec<_>>(), ["openai"]);
        assert_eq!(plan.providers["openai"].base_url, "https://proxy/v1");
        assert!(!plan.routes.contains_key("claude-haiku-5-5"));
        config.routes.insert(
            "gpt-6-luna".into(),
            vec![
                "openai/gpt-6-luna".into(),
                "anthropic/claude-haiku-5-5".into(),
            ],
        );
        assert!(
            super::plan(&config, None)
                .unwrap_err()
                .contains("ANTHROPIC_API_KEY")
        );
        config.routes.clear();
        config.default_model = "claude-haiku-5-5".into();
        assert!(
            super::plan(&config, None)
                .unwrap_err()
                .contains("has no route")
        );
    }
}
