//! The control socket: a Unix socket named `amihost.ctl` in the configuration file's
//! directory, through which `amihost cli --config FILE 'words...'` runs CLI commands in a
//! running host.
//!
//! Protocol: the client connects, sends one command line ended by `\n` (at most
//! [`MAX_LINE`] bytes), and reads the output until the host closes the connection.
//!
//! Access: the socket is created with mode 0600, and the host also checks each peer's
//! credentials: only its own user (or root) is served. A socket file left by a host that
//! died is replaced at start; one a live host still answers on is not (the second host
//! logs a warning and runs without a control socket). The host removes its socket when it
//! shuts down.

use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::Config;
use crate::state::Shared;

/// The socket's file name.
pub const SOCKET_NAME: &str = "amihost.ctl";

/// Longest command line accepted, in bytes.
pub const MAX_LINE: usize = 4096;

/// How long a client may take to send its line.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the `amihost cli` client waits for the output.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Connections served at once; more are refused.
const MAX_CONNECTIONS: usize = 32;

/// The socket path for `config`: its file's directory + [`SOCKET_NAME`].
pub fn socket_path(config: &Config) -> PathBuf {
    config.dir.join(SOCKET_NAME)
}

/// The socket path for the configuration file `file`, without reading it (the same as
/// [`socket_path`] of the loaded file).
pub fn socket_path_for_file(file: &Path) -> PathBuf {
    file.parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
        .join(SOCKET_NAME)
}

/// A bound control socket.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    /// The socket file's owner: the host's user.
    owner: u32,
    /// Device and inode of the socket file, to remove only our own at shutdown.
    file_id: (u64, u64),
}

impl ControlSocket {
    /// Where it is bound.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Binds the control socket at `path` (mode 0600), replacing a stale socket file. Fails
/// if a live host answers on it, or if the path exists and is not a socket. Call it
/// inside the tokio runtime.
pub fn bind(path: &Path) -> io::Result<ControlSocket> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another host is serving this socket", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: exists and is not a socket", path.display()),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let meta = std::fs::metadata(path)?;
    Ok(ControlSocket {
        listener,
        path: path.to_path_buf(),
        owner: meta.uid(),
        file_id: (meta.dev(), meta.ino()),
    })
}

/// Binds the control socket at `path` and serves it until `shutdown` turns true. A
/// failure to bind is logged as a warning: the host runs on without a control socket.
pub async fn serve(shared: Arc<Shared>, path: PathBuf, shutdown: watch::Receiver<bool>) {
    match bind(&path) {
        Ok(socket) => serve_socket(shared, socket, shutdown).await,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "control socket not available");
        }
    }
}

/// Binds the control socket now (so it is ready when this returns) and serves it in a
/// task until `shutdown` turns true. `None`, after a warning, when it cannot be bound.
pub fn start(
    shared: &Arc<Shared>,
    path: PathBuf,
    shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    match bind(&path) {
        Ok(socket) => {
            tracing::info!(path = %path.display(), "control socket ready");
            Some(tokio::spawn(serve_socket(shared.clone(), socket, shutdown)))
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "control socket not available");
            None
        }
    }
}

/// Serves a bound socket until `shutdown` turns true (or its sender is dropped), then
/// removes the socket file if it is still ours.
pub async fn serve_socket(
    shared: Arc<Shared>,
    socket: ControlSocket,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut clients = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            accepted = socket.listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if clients.len() >= MAX_CONNECTIONS {
                        tracing::warn!("control socket: too many connections, one refused");
                        continue;
                    }
                    if !peer_allowed(&stream, socket.owner) {
                        continue;
                    }
                    clients.spawn(handle(shared.clone(), stream));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    clients.abort_all();
    let ours =
        std::fs::symlink_metadata(&socket.path).is_ok_and(|m| (m.dev(), m.ino()) == socket.file_id);
    if ours {
        if let Err(e) = std::fs::remove_file(&socket.path) {
            tracing::warn!(path = %socket.path.display(), error = %e, "control socket not removed");
        }
    }
}

/// Only the host's own user and root may use the socket.
fn peer_allowed(stream: &UnixStream, owner: u32) -> bool {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == owner || cred.uid() == 0 => true,
        Ok(cred) => {
            tracing::warn!(
                uid = cred.uid(),
                "control socket: connection from another user refused"
            );
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "control socket: peer credentials unavailable, connection refused");
            false
        }
    }
}

/// One connection: read a line, run it, write the output, close.
async fn handle(shared: Arc<Shared>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read).take(MAX_LINE as u64 + 1);
    let mut line = Vec::new();
    let text = match tokio::time::timeout(READ_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
        Err(_) => return,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "control socket: read failed");
            return;
        }
        Ok(Ok(_)) if line.len() > MAX_LINE => {
            format!("Command line too long (over {MAX_LINE} bytes)\n")
        }
        Ok(Ok(_)) => {
            let line = String::from_utf8_lossy(&line).into_owned();
            tracing::debug!(command = %line.trim(), "control socket: command");
            let shared = shared.clone();
            match tokio::task::spawn_blocking(move || super::run(&shared, &line)).await {
                Ok(output) => output.text,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket: command failed");
                    format!("Command failed: {e}\n")
                }
            }
        }
    };
    if let Err(e) = write.write_all(text.as_bytes()).await {
        tracing::debug!(error = %e, "control socket: write failed");
        return;
    }
    let _ = write.shutdown().await;
}

/// The `amihost cli` client: sends `line` to the host serving the socket at `path` and
/// returns its output.
pub fn request(path: &Path, line: &str) -> io::Result<String> {
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut message = line.replace(['\r', '\n'], " ");
    message.push('\n');
    stream.write_all(message.as_bytes())?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir::TempDir;

    #[test]
    fn paths_agree() {
        let file = Path::new("/etc/ami/amihost.toml");
        let config = Config::from_toml_str("", file).unwrap();
        assert_eq!(socket_path(&config), Path::new("/etc/ami/amihost.ctl"));
        assert_eq!(socket_path_for_file(file), socket_path(&config));
        let relative = Path::new("amihost.toml");
        let config = Config::from_toml_str("", relative).unwrap();
        assert_eq!(socket_path_for_file(relative), socket_path(&config));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_one_line_per_connection_and_cleans_up() {
        let dir = TempDir::new("ctl");
        let config_file = dir.write("amihost.toml", "[users.admin]\nsecret = \"x\"\n");
        let config = Config::load(&config_file).unwrap();
        let path = socket_path(&config);
        // A stale socket file is replaced.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let shared =
            crate::cli::tests::test_shared(config, Arc::new(crate::cli::tests::TestPbx::default()));
        let (tx, rx) = watch::channel(false);
        let task = start(&shared, path.clone(), rx).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A second host does not take over a live socket.
        assert_eq!(bind(&path).unwrap_err().kind(), io::ErrorKind::AddrInUse);

        let p = path.clone();
        let out = tokio::task::spawn_blocking(move || request(&p, "manager show users"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            "\nusername\n--------\nadmin\n-------------------\n1 manager users configured.\n"
        );
        let p = path.clone();
        let out = tokio::task::spawn_blocking(move || request(&p, "bogus"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out, "No such command 'bogus' (type 'help' for help)\n");

        // A line that never ends is cut off.
        let mut raw = UnixStream::connect(&path).await.unwrap();
        raw.write_all(&vec![b'x'; MAX_LINE + 10]).await.unwrap();
        let mut reply = String::new();
        raw.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("Command line too long"), "{reply}");

        tx.send(true).unwrap();
        task.await.unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_regular_file_is_not_replaced() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = TempDir::new("ctl");
        let path = dir.path().join(SOCKET_NAME);
        std::fs::write(&path, "keep me").unwrap();
        let err = rt.block_on(async { bind(&path).unwrap_err() });
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }

    #[test]
    fn client_reports_a_missing_socket() {
        let dir = TempDir::new("ctl");
        let err = request(&dir.path().join(SOCKET_NAME), "help").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
