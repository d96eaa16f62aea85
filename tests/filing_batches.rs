//! Many filings at once. On PostgreSQL the server writes the filings that arrive together
//! in one statement; each must still get exactly its own answer, its own row and its own
//! audit entry, and one filing's fault must not fail the others beside it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use common::{TestApp, TestDb, Who};
use labplan::db::filings::write_batch;
use labplan::db::requests::{Filing, insert_audited_at_once};
use labplan::domain::Code;
use labplan::domain::access::{Role, TokenClaim};
use labplan::domain::request::RequestFields;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::sync::Barrier;

both_backends!(many_filings_at_once_each_get_their_own_answer_row_and_audit_entry);

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_answers_each_filing_on_its_own() {
        if let Some(db) = crate::common::TestDb::create(crate::common::Backend::Postgres).await {
            super::a_batch_answers_each_filing_on_its_own(db).await;
        }
    }
}

async fn rows(app: &TestApp, sql: &str) -> Vec<Vec<String>> {
    let backend = app.db.get_database_backend();
    app.db
        .query_all_raw(Statement::from_string(backend, sql.to_string()))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            (0..).map_while(|i| row.try_get_by_index::<Option<String>>(i).ok()).map(Option::unwrap_or_default).collect()
        })
        .collect()
}

/// 160 filings sent on one barrier by two companies' users: some name a test type that
/// does not exist, and some come in pairs with one reference of their company.
async fn many_filings_at_once_each_get_their_own_answer_row_and_audit_entry(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let before = rows(&app, "SELECT id FROM test_requests").await.len();
    let mut calls = Vec::new();
    for i in 0..160 {
        let company = if i % 2 == 0 { "C0001" } else { "C0002" };
        let paired = (100..140).contains(&i);
        let test_type = match i % 10 {
            3 if !paired => "NO-SUCH-TYPE",
            n if n % 2 == 0 => "EMC-R10",
            _ => "CLIM-GOST15150",
        };
        let mut body = json!({"company": company, "test_type": test_type, "samples": 1 + i % 4,
            "ready_date": "2027-01-11", "due_date": "2027-04-30", "priority": 1 + i % 3, "notes": format!("filing {i}")});
        // Filings 100..140 come in pairs that share a reference (i and i + 2 are of one company).
        if paired {
            body["external_ref"] = json!(format!("REF-{}", i / 4 * 4 + i % 2));
        }
        calls.push((Who::Company(company), body));
    }
    let barrier = Arc::new(Barrier::new(calls.len()));
    let mut tasks = Vec::new();
    for (who, body) in calls.clone() {
        let token = app.token(&who).await.unwrap();
        let url = app.url("/api/v1/requests");
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let request = reqwest::Client::new().post(url).bearer_auth(token).json(&body);
            barrier.wait().await;
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }

    let mut filed: HashMap<String, Value> = HashMap::new();
    let mut per_reference: HashMap<String, Vec<StatusCode>> = HashMap::new();
    for ((status, answer), (_, body)) in answers.iter().zip(&calls) {
        if body["test_type"] == "NO-SUCH-TYPE" {
            assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
            continue;
        }
        if let Some(reference) = body["external_ref"].as_str() {
            per_reference.entry(reference.to_string()).or_default().push(*status);
            if *status == StatusCode::CONFLICT {
                continue;
            }
        }
        assert_eq!(*status, StatusCode::CREATED, "{answer}");
        // The answer is this filing's own, not a neighbour's in the same statement.
        assert_eq!(answer["notes"], body["notes"], "{answer}");
        assert_eq!(answer["company"], body["company"]);
        assert_eq!(answer["samples"], body["samples"]);
        let id = answer["id"].as_str().unwrap().to_string();
        assert!(filed.insert(id.clone(), body.clone()).is_none(), "id {id} given twice");
    }
    for (reference, statuses) in &per_reference {
        let mut statuses = statuses.clone();
        statuses.sort();
        assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT], "reference {reference}");
    }
    assert_eq!(per_reference.len(), 20);
    assert_eq!(filed.len(), 160 - 12 - 20);

    // Exactly these rows were written, each as its answer says, each with one audit entry
    // naming its id and its own fields.
    let written = rows(
        &app,
        "SELECT id, company, notes, CAST(samples AS TEXT) FROM test_requests WHERE notes LIKE 'filing %' ORDER BY id",
    )
    .await;
    assert_eq!(written.len(), filed.len());
    assert_eq!(rows(&app, "SELECT id FROM test_requests").await.len(), before + filed.len());
    for row in &written {
        let body = filed.get(&row[0]).unwrap_or_else(|| panic!("row {} was answered to nobody", row[0]));
        assert_eq!(row[1], body["company"].as_str().unwrap());
        assert_eq!(row[2], body["notes"].as_str().unwrap());
        assert_eq!(row[3], body["samples"].to_string());
    }
    let audited = rows(
        &app,
        "SELECT entity_id, CAST(after AS TEXT) FROM audit_log WHERE action = 'create' AND entity = 'test_request'",
    )
    .await;
    let mut seen = HashSet::new();
    for row in &audited {
        let Some(body) = filed.get(&row[0]) else { continue };
        assert!(seen.insert(row[0].clone()), "two audit entries for {}", row[0]);
        let after: Value = serde_json::from_str(&row[1]).unwrap();
        assert_eq!(after["id"], row[0].as_str());
        assert_eq!(after["notes"], body["notes"]);
        assert_eq!(after["company"], body["company"]);
    }
    assert_eq!(seen.len(), filed.len(), "every filed request has its audit entry");
}

fn code(value: &str) -> Code {
    Code::parse(value).unwrap()
}

fn filing(company: &str, notes: &str, claim: Option<TokenClaim>) -> Filing {
    let fields = RequestFields {
        company: code(company),
        test_type: code("EMC-R10"),
        samples: 1,
        ready_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 11).unwrap(),
        due_date: chrono::NaiveDate::from_ymd_opt(2027, 4, 30).unwrap(),
        priority: 2,
        excluded_labs: Vec::new(),
        external_ref: None,
        notes: Some(notes.to_string()),
    };
    let after = json!({"id": "", "company": company, "notes": notes});
    Filing { fields, now: labplan::db::requests::database_now(), actor: Some("test".into()), after, claim }
}

/// The claim a company user's token makes, as the server keeps it after a first read.
async fn claim_of(app: &TestApp, who: Who) -> TokenClaim {
    let token = app.token(&who).await.unwrap();
    let hash = labplan::auth::token_hash(&token);
    let row = rows(
        app,
        &format!(
            "SELECT t.token_hash, CAST(u.id AS TEXT), u.email, u.company FROM api_tokens t \
             JOIN users u ON u.id = t.\"user\" WHERE t.token_hash = '{hash}'"
        ),
    )
    .await
    .remove(0);
    TokenClaim {
        token_hash: row[0].clone(),
        user: row[1].parse().unwrap(),
        email: row[2].clone(),
        role: Role::Company,
        company: Some(row[3].clone()),
        lab: None,
    }
}

async fn a_batch_answers_each_filing_on_its_own(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let live = claim_of(&app, Who::Company("C0001")).await;
    let revoked = claim_of(&app, Who::Company("C0002")).await;
    app.db
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("UPDATE api_tokens SET revoked_at = now() WHERE token_hash = '{}'", revoked.token_hash),
        ))
        .await
        .unwrap();
    let wrong_role = TokenClaim { role: Role::Planner, ..live.clone() };

    let batch = [
        filing("C0001", "plain", None),
        filing("C9999", "no such company", None),
        filing("C0001", "live token", Some(live.clone())),
        filing("C0002", "revoked token", Some(revoked)),
        filing("C0001", "token of another role", Some(wrong_role)),
    ];
    let ids = insert_audited_at_once(&app.db, &batch).await.unwrap();
    assert!(ids[0].is_some() && ids[2].is_some(), "{ids:?}");
    assert!(ids[1].is_none() && ids[3].is_none() && ids[4].is_none(), "{ids:?}");
    assert_ne!(ids[0], ids[2]);
    for (id, notes) in [(&ids[0], "plain"), (&ids[2], "live token")] {
        let id = id.as_deref().unwrap();
        let written = rows(&app, &format!("SELECT notes FROM test_requests WHERE id = '{id}'")).await;
        assert_eq!(written, [[notes.to_string()]]);
        let audited = rows(&app, &format!("SELECT CAST(after AS TEXT) FROM audit_log WHERE entity_id = '{id}'")).await;
        assert_eq!(audited.len(), 1);
        let after: Value = serde_json::from_str(&audited[0][0]).unwrap();
        assert_eq!(after, json!({"id": id, "company": "C0001", "notes": notes}));
    }
    let refused = rows(
        &app,
        "SELECT notes FROM test_requests WHERE notes IN ('no such company', 'revoked token', 'token of another role')",
    )
    .await;
    assert!(refused.is_empty(), "{refused:?}");

    // A text PostgreSQL cannot store fails the statement; the filings beside it are
    // written one by one, and only the one at fault fails.
    let batch =
        [filing("C0001", "before", None), filing("C0001", "nul \u{0} inside", None), filing("C0002", "after", None)];
    let answers = write_batch(&app.db, &batch).await;
    assert!(matches!(&answers[0], Ok(Some(_))), "{answers:?}");
    assert!(answers[1].is_err(), "{answers:?}");
    assert!(matches!(&answers[2], Ok(Some(_))), "{answers:?}");
    let written = rows(&app, "SELECT notes FROM test_requests WHERE notes IN ('before', 'after') ORDER BY notes").await;
    assert_eq!(written, [["after".to_string()], ["before".to_string()]]);
    let nul = rows(&app, "SELECT id FROM test_requests WHERE notes LIKE 'nul%'").await;
    assert!(nul.is_empty());
}
