//! Notices by e-mail through a tiny SMTP server the test runs: delivered once with its
//! Message-ID; a sender killed between the server's acceptance and the mark leaves the
//! notice to be sent again with the same Message-ID, which the receiver recognises;
//! a refusing server is retried later, not at once; a user's choice of kinds is kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestDb, Who};
use labplan::db::notices::{Audience, notify};
use labplan::entities::notices;
use labplan::planning::mailer::{MailConfig, deliver_due};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

both_backends!(notices_are_mailed_at_least_once_with_one_message_id);

/// What the SMTP server received: each message's text, in order.
#[derive(Clone, Default)]
struct Inbox {
    messages: Arc<Mutex<Vec<String>>>,
    refuse: Arc<Mutex<bool>>,
}

impl Inbox {
    fn message_ids(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| {
                m.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("message-id").then(|| value.trim().to_string())
                })
            })
            .collect()
    }

    /// The messages as a receiver that drops repeated Message-IDs keeps them.
    fn seen(&self) -> BTreeSet<String> {
        self.message_ids().into_iter().collect()
    }
}

/// Enough SMTP for one client at a time: greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT.
async fn smtp_server() -> (u16, Inbox) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inbox = Inbox::default();
    let shared = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let inbox = shared.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 test.local ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 test.local\r\n",
                        "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "RCPT" if *inbox.refuse.lock().unwrap() => b"550 no such mailbox\r\n",
                        "RCPT" => b"250 OK\r\n",
                        "DATA" => {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut text = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                text.push_str(&l);
                                text.push('\n');
                            }
                            inbox.messages.lock().unwrap().push(text);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, inbox)
}

async fn mail_state(db: &sea_orm::DatabaseConnection, id: i64) -> notices::Model {
    notices::Entity::find_by_id(id).one(db).await.unwrap().unwrap()
}

async fn notices_are_mailed_at_least_once_with_one_message_id(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let email = app.user(&Who::Company("C0001")).await;
    let (port, inbox) = smtp_server().await;
    let mut config = MailConfig::new("127.0.0.1", port, "labplan <labplan@test.local>");
    config.lease = Duration::from_secs(1);

    // Delivered once; a later round sends nothing more.
    notify(&app.db, Audience::Company("C0001"), "completed", "assignment", "1", Some("R00001".into())).await.unwrap();
    let first = notices::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(first.mail_state.as_deref(), Some("pending"));
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 1);
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 0);
    let ids = inbox.message_ids();
    assert_eq!(ids, vec![format!("<notice-{}@test.local>", first.id)]);
    assert!(inbox.messages.lock().unwrap()[0].contains(&email) || inbox.messages.lock().unwrap()[0].contains("To:"));
    assert_eq!(mail_state(&app.db, first.id).await.mail_state.as_deref(), Some("sent"));

    // A sender killed after the server accepted the message and before the mark: the
    // notice stays claimed until the lease runs out, then goes again with its Message-ID.
    notify(&app.db, Audience::Company("C0001"), "assigned", "assignment", "2", None).await.unwrap();
    let second =
        notices::Entity::find().filter(notices::Column::Kind.eq("assigned")).one(&app.db).await.unwrap().unwrap();
    let (db2, config2) = (app.db.clone(), config.clone());
    let killed = tokio::spawn(async move {
        deliver_due(&db2, &config2, &|_| panic!("the sender dies between sending and marking")).await
    })
    .await;
    assert!(killed.is_err(), "the sender died");
    assert_eq!(inbox.messages.lock().unwrap().len(), 2, "the server had accepted the message");
    assert_eq!(mail_state(&app.db, second.id).await.mail_state.as_deref(), Some("sending"));
    // Within the lease nobody else sends it.
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 1);
    assert_eq!(mail_state(&app.db, second.id).await.mail_state.as_deref(), Some("sent"));
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 0);
    let second_id = format!("<notice-{}@test.local>", second.id);
    let copies = inbox.message_ids().iter().filter(|id| **id == second_id).count();
    assert_eq!(copies, 2, "sent again after the crash, at most once more, with the same Message-ID");
    assert_eq!(inbox.seen().len(), 2, "a receiver that drops repeated Message-IDs sees each notice exactly once");

    // A refusing server: the attempt is counted and the next one waits (back-off).
    *inbox.refuse.lock().unwrap() = true;
    notify(&app.db, Audience::Company("C0001"), "declined", "assignment", "3", None).await.unwrap();
    let third =
        notices::Entity::find().filter(notices::Column::Kind.eq("declined")).one(&app.db).await.unwrap().unwrap();
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 0);
    let after = mail_state(&app.db, third.id).await;
    assert_eq!(after.mail_state.as_deref(), Some("pending"));
    assert_eq!(after.mail_attempts, 1);
    assert!(after.mail_next_at.unwrap() > chrono::Utc::now() + chrono::Duration::seconds(20), "{after:?}");
    assert_eq!(deliver_due(&app.db, &config, &|_| {}).await.unwrap(), 0, "not again before its time");
    assert_eq!(mail_state(&app.db, third.id).await.mail_attempts, 1);

    // A user who wants only completed tests by e-mail gets other notices on the page only.
    app.act_as(Who::Company("C0001")).await;
    let (status, choice) = app.put("/api/v1/notices/preferences", &serde_json::json!({"email": ["completed"]})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{choice}");
    let (_, choice) = app.get("/api/v1/notices/preferences").await;
    assert_eq!(choice["email"], serde_json::json!(["completed"]));
    let (status, _) = app.put("/api/v1/notices/preferences", &serde_json::json!({"email": ["spam"]})).await;
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    notify(&app.db, Audience::Company("C0001"), "moved", "planning_run", "1", Some("1".into())).await.unwrap();
    let moved = notices::Entity::find().filter(notices::Column::Kind.eq("moved")).one(&app.db).await.unwrap().unwrap();
    assert_eq!(moved.mail_state, None);

    // The gauge of notices waiting for e-mail (the refused one). Tests share the
    // process's recorder, so its value is checked at the source.
    assert_eq!(labplan::db::notices::mail_pending(&app.db).await.unwrap(), 1);
    let text = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(text.contains("labplan_notices_pending"), "{text}");
    app.stop().await;
}
