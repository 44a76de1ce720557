//! Real AMI client libraries against the host in the modern dialect: Python `panoramisk`
//! 1.4 (`tests/clients/panoramisk_check.py`) and Node `asterisk-manager` 0.2.0
//! (`tests/clients/node/check.js`). Each script logs in and pings, receives a `UserEvent`
//! sent from a second connection, and checks that a bad secret is refused; it exits 0
//! only when all of that works. `tests/run.sh` installs both libraries.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::{target_dir, Host, HostBuilder};

/// Longer than the scripts' own overall timeouts (25 s), so a script normally reports
/// its own failure; this only catches a hung interpreter.
const SCRIPT_DEADLINE: Duration = Duration::from_secs(90);

/// `tests/clients/...`
fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

struct Outcome {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `cmd` to completion (killing it after `SCRIPT_DEADLINE`), capturing its output.
fn run_script(mut cmd: Command) -> Outcome {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = loop {
        match child.try_wait().expect("wait for the client script") {
            Some(s) => break Some(s),
            None if started.elapsed() > SCRIPT_DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    Outcome {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// Runs the script off the async runtime and asserts it succeeded, showing its output
/// and the host log otherwise.
async fn assert_script_passes(host: &Host, what: &str, cmd: Command) {
    let shown = format!("{cmd:?}");
    let outcome = tokio::task::spawn_blocking(move || run_script(cmd))
        .await
        .expect("client script task");
    let verdict = match outcome.status {
        Some(s) if s.success() => return,
        Some(s) => format!("exited with {s}"),
        None => format!("was killed after {} s", SCRIPT_DEADLINE.as_secs()),
    };
    panic!(
        "{what} check failed: {shown} {verdict} after {:.1} s\n\
         --- script stdout ---\n{}\n--- script stderr ---\n{}\n--- host log ---\n{}",
        outcome.elapsed.as_secs_f64(),
        outcome.stdout,
        outcome.stderr,
        host.log()
    );
}

/// The venv's python, failing when `tests/run.sh` has not installed panoramisk.
fn panoramisk_python() -> PathBuf {
    let venv = target_dir().join("client-venv");
    let python = venv.join("bin").join("python");
    let installed = std::fs::read_dir(venv.join("lib")).is_ok_and(|dirs| {
        dirs.filter_map(Result::ok).any(|d| {
            d.path()
                .join("site-packages")
                .join("panoramisk")
                .join("__init__.py")
                .exists()
        })
    });
    assert!(
        python.exists() && installed,
        "panoramisk is not installed in {}: run tests/run.sh (it creates the venv and \
         installs panoramisk==1.4)",
        venv.display()
    );
    python
}

/// The Node check's directory, failing when `tests/run.sh` has not installed
/// asterisk-manager.
fn node_check_dir() -> PathBuf {
    let dir = clients_dir().join("node");
    let lib = dir
        .join("node_modules")
        .join("asterisk-manager")
        .join("package.json");
    assert!(
        lib.exists(),
        "{} missing: run tests/run.sh (it runs npm install for tests/clients/node)",
        lib.display()
    );
    dir
}

#[tokio::test]
async fn panoramisk_logs_in_pings_and_gets_user_events() {
    let python = panoramisk_python();
    let host = HostBuilder::default().modern().start();
    let mut cmd = Command::new(python);
    cmd.arg(clients_dir().join("panoramisk_check.py"))
        .arg("127.0.0.1")
        .arg(host.addr.port().to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    assert_script_passes(&host, "panoramisk", cmd).await;
}

#[tokio::test]
async fn asterisk_manager_node_logs_in_pings_and_gets_user_events() {
    let dir = node_check_dir();
    let host = HostBuilder::default().modern().start();
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("check.js"))
        .arg("127.0.0.1")
        .arg(host.addr.port().to_string())
        .current_dir(&dir);
    assert_script_passes(&host, "asterisk-manager (Node)", cmd).await;
}
