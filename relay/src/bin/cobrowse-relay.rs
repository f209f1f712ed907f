//! `cobrowse-relay`: reads the command line, reaches the backend, binds,
//! prints the address and hands over to [`relay::run_connected`]; and
//! `cobrowse-relay token ...`, which mints a signed agent token (for
//! integrators trying the relay, and for tests). Nothing else lives here.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use clap::{Args as ClapArgs, Subcommand};
use futures_util::Stream;
use relay::{AgentAuth, AgentSecret, Backend, Claims, Config, Connected, LimitsFile, OriginPolicy};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// The co-browsing relay.
#[derive(Debug, Parser)]
#[command(
    name = "cobrowse-relay",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Args,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a signed agent token (what an integrator's backend would issue).
    Token(TokenArgs),
}

#[derive(Debug, ClapArgs)]
struct TokenArgs {
    /// File holding the secret (the relay's agent_secret).
    #[arg(long)]
    secret_file: PathBuf,
    /// The agent's id in your system.
    #[arg(long)]
    sub: String,
    /// The name the visitor is shown.
    #[arg(long)]
    name: String,
    /// Seconds until the token expires.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

#[derive(Debug, ClapArgs)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Directory holding sdk/ and agent/ (what `cargo xtask dist` builds).
    #[arg(long = "static", default_value = "target/dist")]
    static_dir: PathBuf,
    /// Keep sessions and the message bus in this Redis (e.g.
    /// redis://127.0.0.1:6379), so several relays can serve one session.
    #[arg(long)]
    redis: Option<String>,
    /// TOML file: max_frame_bytes, max_agents_per_session, agent_queue_frames,
    /// code_ttl_secs, code_guesses_per_minute, agent_messages_per_second,
    /// resume_grace_secs, resume_failures_per_minute, idle_timeout_secs,
    /// agent_secret; tables [cache]
    /// (ttl, local_max_bytes), [resources] (allowed_external_domains,
    /// strict, max_resource_bytes, session_budget_bytes), [drain]
    /// (grace_secs), [admission] (new_sessions_per_second,
    /// new_sessions_burst) and [redis] (session_ttl_secs).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Accept agents presenting this token. DEVELOPMENT ONLY.
    #[arg(long)]
    dev_agent_token: Option<String>,
    /// File holding the secret agents' signed tokens are checked with
    /// (instead of agent_secret in --config; never the secret itself here).
    #[arg(long)]
    agent_secret_file: Option<PathBuf>,
    /// Only pages of this origin may start a visitor session (repeatable).
    /// Without any, every origin may.
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Overrides max_frame_bytes from --config.
    #[arg(long)]
    max_frame_bytes: Option<usize>,
    /// Overrides max_agents_per_session from --config.
    #[arg(long)]
    max_agents_per_session: Option<usize>,
    /// Overrides agent_queue_frames from --config.
    #[arg(long)]
    agent_queue_frames: Option<usize>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr: stdout carries only the "listening" line, which
    // scripts and the test harness parse.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(relay::logging::log_directives(
            std::env::var("RUST_LOG").ok().as_deref(),
        )))
        .with_writer(std::io::stderr)
        .init();
    // A plain message, not anyhow's debug form: these are an operator's
    // mistakes, not crashes, so no backtrace.
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Token(args)) => mint_token(&args),
        None => relay_main(cli.serve).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cobrowse-relay: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn relay_main(args: Args) -> anyhow::Result<()> {
    let backend = Backend::from_redis_flag(args.redis.as_deref())?;
    let file = match &args.config {
        Some(path) => LimitsFile::read(path)?,
        None => LimitsFile::default(),
    };
    let file_secret = file.agent_secret()?;
    let resources = file.resource_settings()?;
    let masking = file.masking()?;
    let (drain, admission, redis) = file.scale_settings()?;
    if !masking.is_empty() {
        tracing::info!("masking rules from the config apply to matching pages");
    }
    let limits = file.into_limits(&LimitsFile {
        max_frame_bytes: args.max_frame_bytes,
        max_agents_per_session: args.max_agents_per_session,
        agent_queue_frames: args.agent_queue_frames,
        ..LimitsFile::default()
    })?;
    let secret = match (file_secret, &args.agent_secret_file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "the agent secret is given twice (agent_secret in --config and --agent-secret-file); keep one"
        ),
        (Some(secret), None) => Some(secret),
        (None, Some(path)) => Some(AgentSecret::read_file(path)?),
        (None, None) => None,
    };
    let mut auth = match secret {
        Some(secret) => {
            tracing::info!("agents authenticate with signed tokens");
            AgentAuth::signed(secret)
        }
        None => AgentAuth::none(),
    };
    if let Some(token) = args.dev_agent_token {
        auth = auth.with_dev_token(token)?;
        eprintln!(
            "\n\
             ************************************************************\n\
             *  DEVELOPMENT ONLY: --dev-agent-token is set.             *\n\
             *  Anyone who knows this one shared token can watch any    *\n\
             *  visitor who reads them a code. Never expose this relay. *\n\
             ************************************************************\n"
        );
    }
    let config = Config {
        limits,
        auth,
        origins: OriginPolicy::from_list(args.allowed_origins),
        backend,
        resources,
        masking,
        drain,
        admission,
        redis,
        ..Config::new(args.static_dir)
    };

    // Before binding: a relay that cannot reach its Redis never announces
    // an address.
    let connected = Connected::connect_with(&config.backend, config.redis.clone()).await?;
    let signals = stop_signals().context("cannot listen for Ctrl-C and SIGTERM")?;
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "cobrowse-relay listening on http://{addr}")?;
        out.flush()?;
    }
    relay::run_signalled(listener, config, connected, signals).await?;
    Ok(())
}

/// `cobrowse-relay token`: prints one signed token on stdout.
fn mint_token(args: &TokenArgs) -> anyhow::Result<()> {
    let secret = AgentSecret::read_file(&args.secret_file)?;
    let claims = Claims {
        sub: args.sub.clone(),
        name: args.name.clone(),
        exp: relay::token::unix_now().saturating_add(args.ttl),
    };
    let token = relay::token::mint(&secret, &claims)?;
    println!("{token}");
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is one (service managers, containers),
/// each time one comes: the first begins the stop (a drain with --redis),
/// a second one cuts the drain short. The handlers are installed here, not
/// when the stream is first polled: a SIGTERM that arrives after the
/// "listening" line but before the server runs must shut down gracefully
/// too, not kill the process.
fn stop_signals() -> std::io::Result<impl Stream<Item = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt())?;
        let terminate = signal(SignalKind::terminate())?;
        Ok(futures_util::stream::unfold(
            (interrupt, terminate),
            |(mut interrupt, mut terminate)| async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                Some(((), (interrupt, terminate)))
            },
        ))
    }
    #[cfg(not(unix))]
    {
        Ok(futures_util::stream::unfold((), |()| async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Some(((), ()))
        }))
    }
}
