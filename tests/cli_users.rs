//! `labplan users` from the command line: bad input is refused with a clear message and
//! creates nothing; a token works at once and stops working when revoked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::TestDb;
use reqwest::StatusCode;

both_backends!(users_command_refuses_bad_input_and_revokes);

fn labplan(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labplan"));
    cmd.args(args).env("DATABASE_URL", &db.url).env("LABPLAN_PASSWORD", "a long enough password");
    let out = cmd.output().expect("labplan runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn users_command_refuses_bad_input_and_revokes(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    for (args, message) in [
        (vec!["users", "add", "--email", "not-an-address", "--role", "planner"], "is not an e-mail address"),
        (vec!["users", "add", "--email", "x@firm.ru", "--role", "company"], "needs --company"),
        (vec!["users", "add", "--email", "x@firm.ru", "--role", "company", "--company", "C9999"], "does not exist"),
        (vec!["users", "add", "--email", "x@firm.ru", "--role", "lab", "--lab", "L404"], "does not exist"),
        (
            vec!["users", "add", "--email", "x@firm.ru", "--role", "planner", "--lab", "L001"],
            "bound to no company or lab",
        ),
        (vec!["users", "token", "--email", "nobody@firm.ru"], "no user"),
    ] {
        let (ok, _, stderr) = labplan(&db, &args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", "x@firm.ru", "--role", "superuser"]);
    assert!(!ok && stderr.contains("superuser"), "{stderr}");
    let (_, list, _) = labplan(&db, &["users", "list"]);
    assert!(!list.contains("x@firm.ru"), "nothing was created: {list}");

    let (ok, out, stderr) =
        labplan(&db, &["users", "add", "--email", "Ana@Firm.ru", "--role", "company", "--company", "C0001"]);
    assert!(ok, "{stderr}");
    assert!(out.contains("ana@firm.ru") && !out.contains("password:"), "a given password is not printed: {out}");
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", "ana@firm.ru", "--role", "planner"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, token, _) = labplan(&db, &["users", "token", "--email", "ana@firm.ru"]);
    assert!(ok);
    let token = token.trim();
    let client = reqwest::Client::new();
    let resp = client.get(app.url("/api/v1/requests")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (ok, out, _) = labplan(&db, &["users", "revoke", "--email", "ana@firm.ru"]);
    assert!(ok && out.contains("1 token(s) revoked"), "{out}");
    let resp = client.get(app.url("/api/v1/requests")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, list, _) = labplan(&db, &["users", "list"]);
    assert!(list.contains("token 'cli'") && list.contains("revoked"), "{list}");
    app.stop().await;
}
