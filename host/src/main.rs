//! `amihost`: run the manager host, check a configuration file, or run a CLI command in a
//! running host.
//!
//! ```text
//! amihost --config FILE [--listen ADDR:PORT] [--http-listen ADDR:PORT]
//! amihost --check-config FILE
//! amihost cli --config FILE 'command words...'
//! ```
//!
//! When the listener is ready it prints `AMI listening on <addr>:<port>` on stdout, then,
//! when `[http] enabled` is set, `HTTP listening on <addr>:<port>`. The
//! host also serves its control socket (`amihost.ctl` beside FILE) for `amihost cli`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use ami_host::config::Config;

const USAGE: &str = "usage: amihost --config FILE [--listen ADDR:PORT] [--http-listen ADDR:PORT]
       amihost --check-config FILE
       amihost cli --config FILE 'command words...'";

enum Command {
    Run {
        config: PathBuf,
        listen: Option<SocketAddr>,
        http_listen: Option<SocketAddr>,
    },
    Check(PathBuf),
    Cli {
        config: PathBuf,
        line: String,
    },
}

/// `cli --config FILE words...`: the words, joined by blanks, form the command line.
fn parse_cli_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut config = None;
    let mut words = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" if config.is_none() => {
                config = Some(PathBuf::from(args.next().ok_or("--config needs a value")?));
            }
            "--" => words.extend(args.by_ref()),
            _ => words.push(arg),
        }
    }
    let config = config.ok_or("cli: --config FILE is required")?;
    if words.iter().all(|w| w.trim().is_empty()) {
        return Err("cli: no command given".into());
    }
    Ok(Command::Cli {
        config,
        line: words.join(" "),
    })
}

fn parse_args() -> Result<Command, String> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "cli") {
        args.next();
        return parse_cli_args(args);
    }
    let mut config = None;
    let mut listen = None;
    let mut http_listen = None;
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
            "--http-listen" => {
                let v = value("--http-listen")?;
                http_listen = Some(
                    v.parse()
                        .map_err(|_| format!("--http-listen: \"{v}\" is not ADDR:PORT"))?,
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
        (None, Some(config)) => Ok(Command::Run {
            config,
            listen,
            http_listen,
        }),
        _ => Err(String::new()),
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
        Command::Cli { config, line } => cli(&config, &line),
        Command::Run {
            config,
            listen,
            http_listen,
        } => {
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
            match runtime.block_on(run(config, listen, http_listen)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("amihost: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(
    path: PathBuf,
    listen: Option<SocketAddr>,
    http_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
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
    let _background = ami_host::server::spawn_background(&shared);
    let listener = ami_host::server::bind(addr)?;
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "Asterisk Management interface listening on port {}", local.port());
    let http = ami_host::http::start(&shared, http_listen).await?;
    let (stop_control, control_stopped) = tokio::sync::watch::channel(false);
    let control = ami_host::cli::control::start(
        &shared,
        ami_host::cli::control::socket_path(&shared.config()),
        control_stopped,
    );
    let mut stdout = std::io::stdout();
    writeln!(stdout, "AMI listening on {local}")?;
    if let Some(http) = &http {
        writeln!(stdout, "HTTP listening on {}", http.local_addr())?;
    }
    stdout.flush()?;
    ami_host::server::run(shared, listener, ami_host::server::shutdown_signal()).await;
    if let Some(http) = http {
        http.stop().await;
    }
    let _ = stop_control.send(true);
    if let Some(task) = control {
        let _ = task.await;
    }
    Ok(())
}

/// `amihost cli`: sends `line` to the host whose configuration is `config` and prints its
/// output.
fn cli(config: &std::path::Path, line: &str) -> ExitCode {
    let socket = ami_host::cli::control::socket_path_for_file(config);
    match ami_host::cli::control::request(&socket, line) {
        Ok(output) => {
            print!("{output}");
            let _ = std::io::stdout().flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "amihost: cannot reach the host at {}: {e} (is it running with --config {}?)",
                socket.display(),
                config.display()
            );
            ExitCode::FAILURE
        }
    }
}
