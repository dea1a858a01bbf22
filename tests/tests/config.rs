//! Typed per-plugin configuration from a TOML file.

use patchpanel::config::{ConfigFile, ConfigFileError};
use patchpanel::{
    Context, Host, Manifest, Plugin, PluginError, PluginSpec, State, config::PluginConfig, lifecycle::Failure,
};

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LimiterConfig {
    #[serde(default)]
    limits: Limits,
    names: Vec<String>,
}

#[derive(Debug, Default, PartialEq, serde::Deserialize)]
struct Limits {
    per_minute: u32,
}

#[derive(Default)]
struct Limiter {
    config: LimiterConfig,
}

impl Plugin for Limiter {
    fn configure(&mut self, config: &PluginConfig) -> Result<(), PluginError> {
        self.config = config
            .get()
            .map_err(|error| PluginError::wrap(error.to_string(), error))?;
        Ok(())
    }

    fn activate(&mut self, _: &mut Context<'_, Self>) -> Result<(), PluginError> {
        Ok(())
    }
}

fn limiter() -> PluginSpec {
    PluginSpec::new::<Limiter>(Manifest::builder("limiter", "1.0.0").build().unwrap())
}

fn host(toml: &str) -> Host {
    Host::builder()
        .config_file(ConfigFile::parse(toml).unwrap())
        .plugins(vec![limiter()])
        .build()
        .unwrap()
}

#[test]
fn a_plugin_gets_its_table_typed() {
    let host = host("[plugins.\"limiter\"]\nnames = [\"ada\", \"grace\"]\nlimits = { per_minute = 30 }\n");
    let config = host
        .with_plugin(|limiter: &mut Limiter| std::mem::take(&mut limiter.config))
        .unwrap();
    assert_eq!(
        config,
        LimiterConfig {
            limits: Limits { per_minute: 30 },
            names: vec!["ada".into(), "grace".into()]
        }
    );
    assert!(host.config_warnings().is_empty());
}

#[test]
fn an_invalid_value_names_plugin_key_path_and_expected_type_and_the_plugin_stays_down() {
    let host = host("[plugins.\"limiter\"]\nnames = []\nlimits = { per_minute = \"thirty\" }\n");
    let message = "invalid configuration for plugin `limiter` at `limits.per_minute`: invalid type: string \"thirty\", expected u32";
    assert_eq!(host.failure("limiter"), Some(Failure::Configure(message.into())));
    assert_eq!(host.plugin("limiter").unwrap().state(), State::Failed);
}

#[test]
fn a_table_for_a_plugin_that_is_not_running_is_reported() {
    let host = host(
        "[plugins.\"limiter\"]\nnames = []\n\n[plugins.\"limitr\"]\nnames = []\n\n[plugins.\"mailer\"]\nfrom = \"x\"\n",
    );
    assert_eq!(
        host.config_warnings(),
        [
            "configuration table [plugins.\"limitr\"] matches no running plugin; did you mean `limiter`?",
            "configuration table [plugins.\"mailer\"] matches no running plugin; is its crate linked?",
        ]
    );
}

#[test]
fn a_file_with_anything_but_plugin_tables_is_refused() {
    let error = ConfigFile::parse("verbose = true\n").unwrap_err();
    assert!(matches!(&error, ConfigFileError::Unexpected(key) if key == "verbose"));
    assert_eq!(
        error.to_string(),
        "the configuration has `verbose` where only `[plugins.\"<plugin-id>\"]` tables, a `[grants]` and a `[pins]` table belong; move it into the table of the plugin it configures"
    );
    assert!(matches!(
        ConfigFile::parse("[plugins\n"),
        Err(ConfigFileError::Parse(_))
    ));
    let missing = ConfigFile::read("/nonexistent/patchpanel.toml").unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("cannot read the configuration file `/nonexistent/patchpanel.toml`: ")
    );
}

#[test]
fn the_demo_sample_configures_the_demo_plugins() {
    let file = ConfigFile::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../demo-app/patchpanel.toml")).unwrap();
    assert_eq!(file.plugin_ids().collect::<Vec<_>>(), ["auth-guard", "greeter"]);
}

#[test]
fn a_grants_table_in_the_config_file_declares_grants() {
    let file = ConfigFile::parse("[grants]\n\"limiter\" = [\"storage.read\"]\n").unwrap();
    assert_eq!(file.plugin_ids().count(), 0);
    let host = Host::builder()
        .plugins(vec![patchpanel::testing::fn_plugin(
            Manifest::builder("limiter", "1.0.0")
                .permission("storage", "read", patchpanel::manifest::Scope::PluginOnly)
                .build()
                .unwrap(),
            |_| Ok(()),
        )])
        .config_file(file)
        .build()
        .unwrap();
    assert!(host.grants_enforced());
    let error = ConfigFile::parse("[grants]\n\"limiter\" = \"storage.read\"\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the grant for `limiter` must be a list of permissions, e.g. `\"limiter\" = [\"storage.read\"]`"
    );
}
