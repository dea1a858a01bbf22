//! `demo-app`: a patchpanel host. Run with no subcommand for the start-up report, a short
//! scenario and the shutdown.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use patchpanel::{host::DependentsPolicy, lifecycle::LifecycleError};

/// A patchpanel demo host; its plugins are chosen by Cargo features.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Where plugins' durable storage lives (a redb file `demo.redb` inside).
    #[arg(long, global = true, default_value = "patchpanel-data")]
    data_dir: PathBuf,
    /// Keeps plugins' storage in memory instead; nothing survives the process.
    #[arg(long, global = true)]
    in_memory: bool,
    /// A TOML file with a `[plugins."<id>"]` table per plugin (see demo-app/patchpanel.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Records metrics and prints a snapshot at shutdown.
    #[arg(long, global = true)]
    metrics: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Lists the plugins, one per line, in activation order.
    List {
        /// Prints a JSON array instead.
        #[arg(long)]
        json: bool,
        /// Lists only the plugins offering this capability (a command id, an event or
        /// service type, a hook id), whatever their state.
        #[arg(long)]
        capability: Option<String>,
    },
    /// Prints the dependency graph as Graphviz DOT.
    Graph,
    /// Prints one plugin's manifest, permissions and state.
    Inspect {
        /// The plugin id.
        id: String,
    },
    /// Runs a command through the JSON boundary and prints its JSON response.
    Exec {
        /// The command id, `plugin:name` (`demo-app commands` lists them).
        command: String,
        /// The request as JSON; `null` when left out.
        request: Option<String>,
        /// The token `auth-guard` checks (the demo's is `demo-token`).
        #[arg(long)]
        token: Option<String>,
    },
    /// Lists every command id.
    Commands,
    /// Checks every plugin's health; exits 1 when a required plugin is not healthy.
    Health,
    /// Finds plugins whose id, name or description contains the text (any case).
    Search {
        /// The text to look for.
        text: String,
    },
    /// Disables a plugin, waiting for its running calls; it stays disabled in later runs.
    Disable {
        /// The plugin id.
        id: String,
        /// Also disables the active plugins that depend on it (otherwise they refuse it).
        #[arg(long)]
        cascade: bool,
    },
    /// Enables a disabled plugin, and those its cascading disable took down.
    Enable {
        /// The plugin id.
        id: String,
    },
    /// Replaces a plugin's instance, carrying its state; the old one serves until then.
    Reload {
        /// The plugin id.
        id: String,
    },
}

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = cli
        .config
        .as_ref()
        .map(patchpanel::config::ConfigFile::read)
        .transpose()?;
    let recorder = patchpanel::metrics::SnapshotRecorder::default();
    if cli.metrics {
        metrics::set_global_recorder(recorder.clone()).context("a metrics recorder is already installed")?;
    }
    let setup = demo_app::Setup {
        storage: demo_app::storage(&cli.data_dir, cli.in_memory)?,
        config,
        metrics: cli.metrics,
        registry_file: (!cli.in_memory).then(|| cli.data_dir.join("registry.json")),
    };
    let host = demo_app::start_with(setup).context("the plugin host did not start")?;
    for notice in host.registry_notices() {
        eprintln!("warning: {notice}");
    }
    match cli.command {
        None => {
            print!("{}", demo_app::report(&host));
            println!("scenario:");
            for line in demo_app::scenario(&host) {
                println!("  {line}");
            }
            let report = host.shutdown();
            println!("shutdown: deactivated {}", report.deactivated.join(", "));
            for (plugin, failure) in report.errors {
                println!("  {plugin}: {failure}");
            }
        }
        Some(Command::List {
            capability: Some(capability),
            ..
        }) => print!("{}", demo_app::with_capability(&host, &capability)),
        Some(Command::List { json: false, .. }) => print!("{}", demo_app::list(&host)),
        Some(Command::List { json: true, .. }) => println!("{:#}", demo_app::list_json(&host)),
        Some(Command::Graph) => print!("{}", demo_app::graph(&host)),
        Some(Command::Inspect { id }) => match demo_app::inspect(&host, &id) {
            Ok(text) => print!("{text}"),
            Err(LifecycleError::UnknownPlugin {
                suggestion: Some(suggestion),
                ..
            }) => bail!(
                "no plugin {} is running; did you mean `{suggestion}`?",
                demo_app::quoted(&id)
            ),
            Err(_) => bail!(
                "no plugin {} is running; `demo-app list` shows the ids",
                demo_app::quoted(&id)
            ),
        },
        Some(Command::Exec {
            command,
            request,
            token,
        }) => {
            let request = match request {
                Some(text) => serde_json::from_str(&text)
                    .with_context(|| format!("the request is not JSON: {}", demo_app::quoted(&text)))?,
                None => serde_json::Value::Null,
            };
            let response = demo_app::exec(&host, &command, request, token.as_deref())?;
            println!("{response:#}");
        }
        Some(Command::Commands) => print!("{}", demo_app::commands(&host)),
        Some(Command::Health) => {
            let report = host.health();
            print!("{}", demo_app::health(&report));
            if !report.is_healthy() {
                host.shutdown();
                std::process::exit(1);
            }
        }
        Some(Command::Search { text }) => print!("{}", demo_app::search(&host, &text)),
        Some(Command::Disable { id, cascade }) => {
            let policy = if cascade {
                DependentsPolicy::Cascade
            } else {
                DependentsPolicy::Refuse
            };
            let disabled = host.disable_with(&id, policy).map_err(|error| match error {
                LifecycleError::DependentsActive { .. } => anyhow::anyhow!("{error}; or pass --cascade"),
                other => other.into(),
            })?;
            println!("disabled {}", disabled.join(", "));
        }
        Some(Command::Enable { id }) => {
            host.enable(&id)?;
            println!("enabled {id}");
        }
        Some(Command::Reload { id }) => {
            let report = host.reload(&id)?;
            println!("reloaded {id} (generation {})", report.generation);
            if let Err(failure) = report.old_deactivate {
                println!("  the old instance failed to deactivate: {failure}");
            }
        }
    }
    if cli.metrics {
        println!("metrics:");
        for (name, value) in recorder.snapshot() {
            println!("  {name} {value}");
        }
    }
    Ok(())
}
