//! The real `labplan` binary as a user starts it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use super::{Backend, TestDb};

/// A running `labplan serve`, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `labplan` command in `cwd` over `db`: on SQLite the binary's default, labplan.db in
/// the working directory, is what is tested.
pub fn command(db: &TestDb, cwd: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labplan"));
    cmd.current_dir(cwd).env_remove("DATABASE_URL");
    if db.backend == Backend::Postgres {
        cmd.env("DATABASE_URL", &db.url);
    }
    cmd
}

/// Starts `labplan serve` with `args` and waits until it answers `/readyz`.
pub async fn start(db: &TestDb, cwd: &std::path::Path, args: &[&str]) -> (Server, String) {
    let port = free_port();
    let mut cmd = command(db, cwd);
    cmd.args(["serve", "--addr", &format!("127.0.0.1:{port}")]).args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let server = Server(cmd.spawn().expect("labplan starts"));
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(resp) = client.get(format!("{base}/readyz")).send().await
            && resp.status() == StatusCode::OK
        {
            return (server, base);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("labplan did not become ready");
}

/// `labplan users token --email E` against the same database as the server.
pub fn token(db: &TestDb, cwd: &std::path::Path, email: &str) -> String {
    let out = command(db, cwd).args(["users", "token", "--email", email]).output().expect("labplan users token runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
