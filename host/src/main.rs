//! `amihost`: run the manager host, or check a configuration file.
//!
//! ```text
//! amihost --config FILE [--listen ADDR:PORT]
//! amihost --check-config FILE
//! ```
//!
//! When the listener is ready it prints `AMI listening on <addr>:<port>` on stdout.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use ami_host::config::Config;

const USAGE: &str =
    "usage: amihost --config FILE [--listen ADDR:PORT]\n       amihost --check-config FILE";

enum Command {
    Run {
        config: PathBuf,
        listen: Option<SocketAddr>,
    },
    Check(PathBuf),
}

fn parse_args() -> Result<Command, String> {
    let mut args = std::env::args().skip(1);
    let mut config = None;
    let mut listen = None;
    let mut check = None;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--config" | "-c" => config = Some(PathBuf::from(value("--config")?)),
            "--listen" => {
                let v = value("--listen")?;
                listen = Some(
                    v.parse()
                        .map_err(|_| format!("--listen: \"{v}\" is not ADDR:PORT"))?,
                );
            }
            "--check-config" => check = Some(PathBuf::from(value("--check-config")?)),
            "--help" | "-h" => return Err(String::new()),
            "--version" | "-V" => {
                println!("amihost {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument \"{other}\"")),
        }
    }
    match (check, config) {
        (Some(path), None) => Ok(Command::Check(path)),
        (None, Some(config)) => Ok(Command::Run { config, listen }),
        _ => Err(String::new()),
    }
}

fn main() -> ExitCode {
    let command = match parse_args() {
        Ok(c) => c,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("amihost: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match command {
        Command::Check(path) => match Config::load(&path) {
            Ok(_) => {
                println!("{}: configuration is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("amihost: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config, listen } => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("amihost: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(run(config, listen)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("amihost: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(path: PathBuf, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    if !config.general.enabled {
        anyhow::bail!(
            "the manager is disabled ([general] enabled = false in {})",
            path.display()
        );
    }
    let addr = listen.unwrap_or(SocketAddr::new(
        config.general.bindaddr,
        config.general.port,
    ));
    let shared = ami_host::server::start(config).await?;
    let listener = ami_host::server::bind(addr)?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "Asterisk Management interface listening on port {}", local.port());
    let mut stdout = std::io::stdout();
    writeln!(stdout, "AMI listening on {local}")?;
    stdout.flush()?;
    ami_host::server::run(shared, listener, ami_host::server::shutdown_signal()).await;
    Ok(())
}
