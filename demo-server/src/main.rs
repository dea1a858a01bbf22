//! `demo-server`: serves the demo plugins over HTTP on 127.0.0.1:8080 (see the library's
//! documentation for the routes). On SIGTERM or Ctrl-C it stops accepting connections,
//! lets the requests in flight finish (within `--grace-seconds`), deactivates the
//! plugins in reverse order and exits 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use demo_server::{AppState, Limits};

/// The patchpanel demo plugins behind HTTP; the plugins are chosen by Cargo features.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The port to listen on, on 127.0.0.1 (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Where plugins' durable storage lives (a redb file `demo.redb` inside).
    #[arg(long, default_value = "patchpanel-data")]
    data_dir: PathBuf,
    /// Keeps plugins' storage in memory instead; nothing survives the process.
    #[arg(long)]
    in_memory: bool,
    /// A TOML file with a `[plugins."<id>"]` table per plugin (see demo-app/patchpanel.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The largest command request body, in bytes.
    #[arg(long, default_value_t = Limits::default().body_bytes)]
    max_body_bytes: usize,
    /// How long a request may take, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    request_timeout_ms: u64,
    /// How many requests are served at once; more get 503.
    #[arg(long, default_value_t = Limits::default().concurrent_requests)]
    max_concurrent_requests: usize,
    /// How often the plugins' health is checked in the background, in seconds.
    #[arg(long, default_value_t = 10)]
    health_interval_seconds: u64,
    /// How long requests in flight may take to finish after SIGTERM, in seconds.
    #[arg(long, default_value_t = 10)]
    grace_seconds: u64,
    /// How long a client may take to send a request's head, in milliseconds; then its
    /// connection is closed.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// A file holding the admin token (the admin API's `Authorization: Bearer <token>`
    /// and the admin page's login). `PATCHPANEL_ADMIN_TOKEN` takes precedence; with
    /// neither, a token is generated into `<data-dir>/admin-token`.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (auth, source) = demo_server::auth::AdminAuth::configure(
        std::env::var("PATCHPANEL_ADMIN_TOKEN").ok(),
        cli.admin_token_file.as_deref(),
        &cli.data_dir,
    )
    .map_err(anyhow::Error::msg)?;
    let metrics = demo_server::telemetry::prometheus().map_err(anyhow::Error::msg)?;
    let config = cli
        .config
        .as_ref()
        .map(patchpanel::config::ConfigFile::read)
        .transpose()?;
    let setup = demo_app::Setup {
        storage: demo_app::storage(&cli.data_dir, cli.in_memory)?,
        config,
        metrics: true,
        registry_file: (!cli.in_memory).then(|| cli.data_dir.join("registry.json")),
    };
    // Built off the async workers, inside this runtime (patchpanel's `tokio` feature):
    // plugins' `activate_async` (motd reads its message file) run there.
    let host = Arc::new(
        patchpanel::blocking::unblock(move || demo_app::start_with(setup))
            .await
            .context("the plugin host did not start")?,
    );
    // Health changes are recorded even when nobody asks /readyz.
    let health_watch = host.watch_health(Duration::from_secs(cli.health_interval_seconds));
    for notice in host.registry_notices() {
        eprintln!("warning: {notice}");
    }
    let limits = Limits {
        body_bytes: cli.max_body_bytes,
        request_timeout: Duration::from_millis(cli.request_timeout_ms),
        concurrent_requests: cli.max_concurrent_requests,
    };
    let state = AppState {
        host: Arc::clone(&host),
        metrics: Some(metrics.clone()),
        auth: Arc::new(auth),
    };
    let app = demo_server::app(state, &limits);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{} (`--port` picks another)", cli.port))?;
    eprintln!("demo-server listening on http://{}", listener.local_addr()?);
    match source {
        demo_server::auth::TokenSource::Environment => {
            eprintln!("demo-server: the admin token is PATCHPANEL_ADMIN_TOKEN");
        }
        demo_server::auth::TokenSource::File(path) | demo_server::auth::TokenSource::Generated(path) => eprintln!(
            "demo-server: the admin token is in {} (send `Authorization: Bearer <token>`, or log in to the admin page with it)",
            path.display()
        ),
    }

    // Histograms are folded in periodically, as the exporter asks.
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            metrics.run_upkeep();
        }
    });

    // Idle and slow connections close at SIGTERM; requests whose handlers are running
    // get the grace period to finish.
    let stopped = demo_server::serve::serve(
        listener,
        app,
        Duration::from_millis(cli.header_timeout_ms),
        async {
            shutdown_signal().await;
            eprintln!(
                "demo-server: stopping; requests in flight may finish within {} s",
                cli.grace_seconds
            );
        },
        Duration::from_secs(cli.grace_seconds),
    )
    .await;
    eprintln!(
        "demo-server: connections closed at once: {}, finished their request: {}, cut off at the grace period: {}",
        stopped.closed_at_once, stopped.finished, stopped.cut_off
    );
    upkeep.abort();
    drop(health_watch);
    // The shutdown waits for calls in flight, so it runs off the async workers. A
    // request cut off at the grace period may still hold the host: it is shut down
    // through the shared handle all the same.
    let report = host.shutdown_shared_async().await;
    eprintln!("demo-server: deactivated {}", report.deactivated.join(", "));
    for (plugin, failure) in report.errors {
        eprintln!("  {plugin}: {failure}");
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
