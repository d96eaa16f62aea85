//! Spreadsheets through the HTTP API and the command line, on SQLite and PostgreSQL: a
//! survey with shuffled Russian headers imports once and then changes nothing; bad rows
//! answer 422 and change nothing; hostile files are refused; the demo's requests go out
//! as XLSX and come back the same; the plan exports. And the reader never panics on
//! arbitrary or mutated files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use chrono::NaiveDate;
use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value;

both_backends!(
    a_survey_imports_and_imports_again_without_changes,
    bad_rows_answer_422_naming_each_and_change_nothing,
    hostile_files_are_refused_and_change_nothing,
    the_command_line_imports_as_a_user,
    exports_are_workbooks_with_real_dates,
    the_demo_goes_out_and_comes_back_the_same,
    a_labs_workbook_goes_out_and_comes_back,
);

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A value of a test sheet.
#[derive(Clone)]
enum V {
    T(&'static str),
    S(String),
    N(f64),
    D(NaiveDate),
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A one-sheet workbook: `header` and `rows`, as a person would fill it in.
fn workbook(header: &[&str], rows: &[Vec<V>]) -> Vec<u8> {
    sheets(&[("Sheet1", header, rows.to_vec())])
}

/// One sheet of a test workbook: its name, header and rows.
type Sheet<'a> = (&'a str, &'a [&'a str], Vec<Vec<V>>);

/// A workbook of named sheets.
fn sheets(sheets: &[Sheet<'_>]) -> Vec<u8> {
    let mut book = Workbook::new();
    let date_format = Format::new().set_num_format("dd.mm.yyyy");
    for (name, header, rows) in sheets {
        let sheet = book.add_worksheet().set_name(*name).unwrap();
        for (c, h) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let (r, c) = (r as u32 + 1, c as u16);
                match v {
                    V::T(t) => sheet.write_string(r, c, *t).map(|_| ()),
                    V::S(t) => sheet.write_string(r, c, t).map(|_| ()),
                    V::N(n) => sheet.write_number(r, c, *n).map(|_| ()),
                    V::D(d) => sheet.write_date_with_format(r, c, d, &date_format).map(|_| ()),
                }
                .unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// The survey: shuffled columns, Russian headers, a column the import does not know,
/// dates as real dates and as text, a test type by its standard.
const SURVEY_HEADER: [&str; 8] = [
    "Требуемый срок",
    "Образцов",
    "Цвет упаковки",
    "  вид ИСПЫТАНИЯ ",
    "Номер заявки предприятия",
    "Компания",
    "Дата готовности образцов",
    "Приоритет",
];

fn survey_rows(samples_of_first: f64) -> Vec<Vec<V>> {
    vec![
        vec![
            V::D(date(2027, 3, 26)),
            V::N(samples_of_first),
            V::T("синий"),
            V::T("EMC-R10"),
            V::T("ОПР-1"),
            V::T("C0001"),
            V::D(date(2027, 2, 1)),
            V::N(2.0),
        ],
        vec![
            V::T("2027-04-30"),
            V::N(1.0),
            V::T(""),
            V::T("ГОСТ 15150"),
            V::T("ОПР-2"),
            V::T("C0001"),
            V::T("01.02.2027"),
            V::N(1.0),
        ],
        vec![
            V::D(date(2027, 5, 28)),
            V::T("4"),
            V::T("красный"),
            V::T("emc-r10"),
            V::T("КЭ-77"),
            V::T("C0002"),
            V::D(date(2027, 3, 1)),
            V::N(3.0),
        ],
    ]
}

async fn upload(app: &TestApp, query: &str, content_type: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    upload_to(app, &format!("/api/v1/imports/requests{query}"), content_type, bytes).await
}

async fn upload_to(app: &TestApp, path: &str, content_type: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    // A server that answers 413 from the declared length may close the connection while
    // the client still writes the body; that race is the client's, so such a send is retried.
    let mut tries = 0;
    let resp = loop {
        let sent =
            app.client().post(app.url(path)).header("content-type", content_type).body(bytes.clone()).send().await;
        match sent {
            Ok(resp) => break resp,
            Err(e) if tries < 5 && e.is_request() => tries += 1,
            Err(e) => panic!("the upload was not sent: {e}"),
        }
    };
    let status = resp.status();
    let content = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap_or(Value::Null);
    if status.is_client_error() {
        assert_eq!(content, "application/problem+json", "{status} {body}");
    }
    (status, body)
}

/// Every request and the audit log's length, as the admin reads them.
async fn dump(app: &TestApp) -> (Vec<Value>, u64) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let rows = labplan::entities::test_requests::Entity::find().all(&app.db).await.unwrap();
    let mut rows: Vec<Value> = rows.into_iter().map(|r| serde_json::to_value(r).unwrap()).collect();
    rows.sort_by_key(|r| r["id"].as_str().unwrap().to_string());
    let audit = labplan::entities::audit_log::Entity::find().count(&app.db).await.unwrap();
    (rows, audit)
}

async fn a_survey_imports_and_imports_again_without_changes(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let file = workbook(&SURVEY_HEADER, &survey_rows(2.0));

    // A dry run reports and writes nothing.
    let before = dump(&app).await;
    let (status, report) = upload(&app, "?dry_run=true", XLSX, file.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["created"].as_u64(), report["written"].as_bool()), (Some(3), Some(false)), "{report}");
    assert_eq!(dump(&app).await, before, "a dry run changes nothing");

    let (status, report) = upload(&app, "?file_name=survey.xlsx", XLSX, file.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 3, "{report}");
    assert_eq!(report["ignored_columns"], serde_json::json!(["Цвет упаковки"]));
    assert_eq!(app.total("/api/v1/requests?company=C0001").await, 4);
    let (_, listed) = app.get("/api/v1/requests?company=C0002&test_type=EMC-R10").await;
    let imported = listed["items"].as_array().unwrap().iter().find(|r| r["external_ref"] == "КЭ-77").unwrap().clone();
    assert_eq!((imported["samples"].as_i64(), imported["priority"].as_i64()), (Some(4), Some(3)));
    assert_eq!(
        (imported["ready_date"].as_str(), imported["due_date"].as_str()),
        (Some("2027-03-01"), Some("2027-05-28"))
    );

    // Each row audited as a create by the planner, with the file's name.
    app.act_as(Who::Admin).await;
    let (_, audit) = app.get("/api/v1/audit?per_page=3").await;
    for entry in audit["items"].as_array().unwrap() {
        assert_eq!(entry["action"], "create", "{entry}");
        assert_eq!(entry["actor"], "planner@test.local", "{entry}");
        assert_eq!(entry["after"]["import_file"], "survey.xlsx", "{entry}");
    }

    // The same file again changes nothing.
    app.act_as(Who::Planner).await;
    let after_first = dump(&app).await;
    let (status, report) = upload(&app, "", XLSX, file).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["created"].as_u64(), report["unchanged"].as_u64()), (Some(0), Some(3)), "{report}");
    assert_eq!(dump(&app).await, after_first, "a re-import changes nothing");

    // A changed row changes its request; the others stay.
    let (status, report) = upload(&app, "", XLSX, workbook(&SURVEY_HEADER, &survey_rows(5.0))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["updated"].as_u64(), report["unchanged"].as_u64()), (Some(1), Some(2)), "{report}");

    // A company imports only its own rows: one of another company refuses the file.
    app.act_as(Who::Company("C0001")).await;
    let before = dump(&app).await;
    let (status, report) = upload(&app, "", XLSX, workbook(&SURVEY_HEADER, &survey_rows(6.0))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    let rows: Vec<u64> = report["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, [4], "{report}");
    assert_eq!(dump(&app).await, before);
    // ... and may not add companies.
    let (status, _) = upload(&app, "?create_companies=true", XLSX, workbook(&SURVEY_HEADER, &[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The committed fixture, as a multipart form, with a new company by INN.
    app.act_as(Who::Admin).await;
    let fixture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/requests-survey.xlsx")).unwrap();
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(fixture).file_name("requests-survey.xlsx"));
    let resp = app
        .client()
        .post(app.url("/api/v1/imports/requests?create_companies=true"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!((report["created"].as_u64(), report["companies_created"].as_u64()), (Some(3), Some(1)), "{report}");
    let (_, company) = app.get("/api/v1/companies/C0003").await;
    assert_eq!(company["inn"], "7707083893", "{company}");

    // The template: the caller's language, an example row, the test types.
    app.act_as(Who::Company("C0001")).await;
    let resp = app
        .client()
        .get(app.url("/api/v1/imports/requests/template"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], XLSX);
    let template = resp.bytes().await.unwrap().to_vec();
    let sheet = labplan::sheets::read(&template).unwrap();
    assert_eq!(sheet.header[0], "External ref");
    assert_eq!(sheet.rows.len(), 1);
    let types =
        labplan::sheets::read::read_sheet(&template, labplan::sheets::read::Which::Named(&["Test types"])).unwrap();
    assert_eq!(types.rows.len(), 2);
    // The template's example row is itself a valid import (as a dry run).
    let (status, report) = upload(&app, "?dry_run=true", XLSX, template).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    app.stop().await;
}

async fn bad_rows_answer_422_naming_each_and_change_nothing(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let before = dump(&app).await;
    let fixture =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/requests-three-bad-rows.xlsx")).unwrap();
    let (status, report) = upload(&app, "", XLSX, fixture).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    let mut named: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap().to_string()))
        .collect();
    named.dedup();
    assert_eq!(
        named,
        [(3, "test_type".to_string()), (5, "samples".to_string()), (6, "due_date".to_string())],
        "{report}"
    );
    assert_eq!(report["written"], false);
    assert!(report["detail"].as_str().unwrap().contains("3, 5, 6"), "{report}");
    assert_eq!(dump(&app).await, before, "nothing was written");

    // An ambiguous standard lists its candidates.
    app.act_as(Who::Admin).await;
    let twin = serde_json::json!({"code": "EMC-R10-B", "standard": "UNECE R10", "name": "ЭМС (Б)", "name_en": "EMC (B)",
        "equipment": "EMC", "hours": 30});
    let (status, body) = app.post("/api/v1/test-types", &twin).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.act_as(Who::Planner).await;
    let csv = "Компания;Вид испытания;Образцов;Дата готовности;Требуемый срок;Приоритет\nC0001;UNECE R10;1;01.02.2027;01.04.2027;1\n";
    let (status, report) = upload(&app, "", "text/csv", csv.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("EMC-R10") && message.contains("EMC-R10-B"), "{message}");
    app.stop().await;
}

/// A ZIP whose one entry inflates to 200 MiB of zeros.
fn zip_bomb() -> Vec<u8> {
    let mut out = Vec::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut out));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    zip.start_file("xl/worksheets/sheet1.xml", options).unwrap();
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
    out
}

async fn hostile_files_are_refused_and_change_nothing(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let before = dump(&app).await;
    let header = ["Компания", "Вид испытания", "Образцов", "Дата готовности", "Требуемый срок", "Приоритет"];
    let good =
        |samples: V, ready: V| vec![V::T("C0001"), V::T("EMC-R10"), samples, ready, V::D(date(2027, 4, 1)), V::N(1.0)];
    let mut many = String::from("Компания;Вид испытания;Образцов;Дата готовности;Требуемый срок;Приоритет\n");
    for _ in 0..20_001 {
        many.push_str("C0001;EMC-R10;1;01.02.2027;01.04.2027;1\n");
    }
    let long = "я".repeat(5000);
    let formula = {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_string(1, 0, "C0001").unwrap();
        sheet.write_string(1, 1, "EMC-R10").unwrap();
        sheet.write_formula(1, 2, "=1/0").unwrap();
        sheet.write_string(1, 3, "01.02.2027").unwrap();
        sheet.write_string(1, 4, "01.04.2027").unwrap();
        sheet.write_number(1, 5, 1).unwrap();
        book.save_to_buffer().unwrap()
    };
    let merged = {
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in header.iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.merge_range(1, 0, 2, 0, "C0001", &Format::new()).unwrap();
        for r in 1..=2 {
            sheet.write_string(r, 1, "EMC-R10").unwrap();
            sheet.write_number(r, 2, 1).unwrap();
            sheet.write_string(r, 3, "01.02.2027").unwrap();
            sheet.write_string(r, 4, "01.04.2027").unwrap();
            sheet.write_number(r, 5, 1).unwrap();
        }
        book.save_to_buffer().unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("a picture", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), StatusCode::UNPROCESSABLE_ENTITY),
        ("an empty file", Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        ("an empty sheet", workbook(&[], &[]), StatusCode::UNPROCESSABLE_ENTITY),
        ("a header without rows", workbook(&header, &[]), StatusCode::UNPROCESSABLE_ENTITY),
        ("a zip bomb", zip_bomb(), StatusCode::UNPROCESSABLE_ENTITY),
        ("too many rows", many.into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
        ("too many bytes", vec![b'a'; 11 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
        ("a formula's error", formula, StatusCode::UNPROCESSABLE_ENTITY),
        ("merged cells", merged, StatusCode::UNPROCESSABLE_ENTITY),
        (
            "text in a number column",
            workbook(&header, &[good(V::T("много"), V::T("01.02.2027"))]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a date in 1900",
            workbook(&header, &[good(V::N(1.0), V::D(date(1900, 1, 1)))]),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a 5,000-character cell",
            workbook(
                &[
                    "Примечание",
                    "Компания",
                    "Вид испытания",
                    "Образцов",
                    "Дата готовности",
                    "Требуемый срок",
                    "Приоритет",
                ],
                &[vec![
                    V::S(long),
                    V::T("C0001"),
                    V::T("EMC-R10"),
                    V::N(1.0),
                    V::T("01.02.2027"),
                    V::T("01.04.2027"),
                    V::N(1.0),
                ]],
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("an old .xls", vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1], StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (what, bytes, expected) in cases {
        let (status, body) = upload(&app, "", XLSX, bytes).await;
        assert_eq!(status, expected, "{what}: {body}");
        assert_eq!(dump(&app).await, before, "{what} changed the registry");
    }

    // A hidden sheet is not read: the first visible one is.
    let mut book = Workbook::new();
    let hidden = book.add_worksheet();
    hidden.write_string(0, 0, "мусор").unwrap();
    hidden.set_hidden(true);
    let visible = book.add_worksheet();
    // The first sheet may be hidden only when another is the active one.
    visible.set_active(true);
    for (c, h) in header.iter().enumerate() {
        visible.write_string(0, c as u16, *h).unwrap();
    }
    for (c, v) in ["C0001", "EMC-R10", "1", "01.02.2027", "01.04.2027", "1"].iter().enumerate() {
        visible.write_string(1, c as u16, *v).unwrap();
    }
    let (status, report) = upload(&app, "?dry_run=true", XLSX, book.save_to_buffer().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 1);
    app.stop().await;
}

async fn the_command_line_imports_as_a_user(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let email = app.user(&Who::Company("C0002")).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = "Номер заявки предприятия;Вид испытания;Образцов;Дата готовности;Требуемый срок;Приоритет\n\
               К-1;EMC-R10;2;01.02.2027;01.04.2027;2\nК-2;CLIM-GOST15150;1;2027-02-08;2027-05-03;1\n";
    let (encoded, _, _) = encoding_rs::WINDOWS_1251.encode(csv);
    let file = dir.path().join("опрос.csv");
    std::fs::write(&file, &encoded).unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_labplan"));
        cmd.env("DATABASE_URL", &db.url).args(["import", "requests"]).arg(&file).args(extra);
        cmd.output().unwrap()
    };
    let dry = run(&["--as", &email, "--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would import: 2 created"));
    app.act_as(Who::Admin).await;
    assert_eq!(app.total("/api/v1/requests?company=C0002").await, 1);
    let out = run(&["--as", &email]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.total("/api/v1/requests?company=C0002").await, 3);
    let (_, audit) = app.get("/api/v1/audit?per_page=1").await;
    assert_eq!(audit["items"][0]["actor"], email.as_str());
    assert_eq!(audit["items"][0]["after"]["import_file"], "опрос.csv");
    let again = run(&["--as", &email]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 created, 0 updated, 2 unchanged"));
    // A lab user may not import requests.
    let lab = app.user(&Who::Lab("L001".into())).await;
    let refused = run(&["--as", &lab]);
    assert!(!refused.status.success());
    app.stop().await;
}

async fn exports_are_workbooks_with_real_dates(db: TestDb) {
    let app = db.spawn_with_worker().await;
    let instance = labplan::app::import::parse_instance(common::FIXTURE.as_bytes()).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    app.act_as(Who::Company("C0001")).await;
    let resp = app.client().get(app.url("/api/v1/requests/export?status=submitted")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let sheet = labplan::sheets::read(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(sheet.header[0], "Номер в реестре");
    assert_eq!(sheet.rows.len(), 2, "a company exports its own requests only");
    let ready = sheet.header.iter().position(|h| h == "Дата готовности образцов").unwrap();
    assert!(matches!(sheet.rows[0].1[ready], labplan::sheets::Cell::Date(_)), "{:?}", sheet.rows[0]);

    app.act_as(Who::Planner).await;
    let (status, run) = app
        .post(
            "/api/v1/planning-runs",
            &serde_json::json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let started = std::time::Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        if run["status"] == "succeeded" {
            break;
        }
        assert!(!matches!(run["status"].as_str(), Some("failed" | "cancelled")), "{run}");
        assert!(started.elapsed().as_secs() < 120, "the run takes too long");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (_, plan) = app.get(&format!("/api/v1/planning-runs/{id}/plan")).await;
    let resp = app
        .client()
        .get(app.url(&format!("/api/v1/planning-runs/{id}/plan/export")))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let bookings = labplan::sheets::read(&bytes).unwrap();
    assert_eq!(bookings.sheet, "Bookings");
    assert_eq!(bookings.rows.len(), plan["assignments"].as_array().unwrap().len());
    assert!(matches!(bookings.rows[0].1[6], labplan::sheets::Cell::Date(_)));
    assert!(matches!(bookings.rows[0].1[11], labplan::sheets::Cell::Number(_)));
    let unplaced = labplan::sheets::read::read_sheet(&bytes, labplan::sheets::read::Which::Named(&["Unplaced"]));
    match unplaced {
        Ok(sheet) => assert_eq!(sheet.rows.len(), plan["unassigned"].as_array().unwrap().len()),
        Err(labplan::sheets::ReadError::EmptySheet(_)) => assert!(plan["unassigned"].as_array().unwrap().is_empty()),
        Err(e) => panic!("{e}"),
    }
    let (status, _) = app.get("/api/v1/planning-runs/999/plan/export").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The dashboard's tables as workbooks, beside their CSV links.
    let email = app.user(&Who::Ministry).await;
    let cookie = common::web::session(&app, &email, common::PASSWORD).await;
    let page = common::web::client()
        .get(app.url("/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"xlsx-demand_equipment\"") && page.contains("demand-equipment.xlsx"),
        "no XLSX link on the dashboard"
    );
    let resp = common::web::client()
        .get(app.url("/dashboard/demand-equipment.xlsx"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], XLSX);
    let table = labplan::sheets::read(&resp.bytes().await.unwrap()).unwrap();
    assert!(!table.rows.is_empty());
    assert!(table.rows[0].1.iter().any(|c| matches!(c, labplan::sheets::Cell::Number(_))), "{:?}", table.rows[0]);
    app.stop().await;
}

/// The fields a request is filed with, for comparing two registries.
fn filed(r: &Value) -> String {
    format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}",
        r["company"],
        r["test_type"],
        r["samples"],
        r["ready_date"],
        r["due_date"],
        r["priority"],
        r["excluded_labs"],
        r["external_ref"],
        r["notes"]
    )
}

async fn all_requests(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for page in 1.. {
        let (status, body) = app.get(&format!("/api/v1/requests?per_page=500&page={page}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let items = body["items"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        out.extend(items.iter().map(filed));
    }
    out.sort();
    out
}

async fn the_demo_goes_out_and_comes_back_the_same(db: TestDb) {
    // The demo registry, exported.
    let source = TestApp::spawn(&db.url).await;
    let demo = labplan::app::import::parse_instance(labplan::demo::BUNDLED).unwrap();
    labplan::app::import::instance(&source.db, &labplan::domain::access::Caller::Operator, &demo).await.unwrap();
    source.act_as(Who::Planner).await;
    let resp = source.client().get(source.url("/api/v1/requests/export")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let file = resp.bytes().await.unwrap().to_vec();
    let expected = all_requests(&source).await;
    assert_eq!(expected.len(), 1300);
    source.stop().await;

    // An empty registry with the same catalog and companies takes it back.
    let target_db = TestDb::create(db.backend).await.unwrap();
    let target = target_db.spawn().await;
    let mut catalog_only = labplan::app::import::parse_instance(labplan::demo::BUNDLED).unwrap();
    catalog_only.requests.clear();
    labplan::app::import::instance(&target.db, &labplan::domain::access::Caller::Operator, &catalog_only)
        .await
        .unwrap();
    target.act_as(Who::Planner).await;
    let started = std::time::Instant::now();
    let (status, report) = upload(&target, "?file_name=demo.xlsx", XLSX, file).await;
    eprintln!("{:?}: 1,300 exported requests imported in {:?}", db.backend, started.elapsed());
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 1300, "{report}");
    assert_eq!(all_requests(&target).await, expected);
    target.stop().await;
}

/// Regenerates the committed fixtures (`cargo test --test spreadsheets -- --ignored`).
#[test]
#[ignore]
fn write_fixtures() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let header = [
        "ИНН",
        "Наименование компании",
        "Регион",
        "Вид испытания",
        "Образцов",
        "Дата готовности",
        "Требуемый срок",
        "Приоритет",
        "Номер заявки предприятия",
    ];
    let company = || vec![V::T("7707083893"), V::T("ООО «Кубань-Деталь»"), V::T("RU-SAM")];
    let row = |test: &'static str, n: f64, r#ref: &'static str| {
        let mut row = company();
        row.extend([V::T(test), V::N(n), V::D(date(2027, 2, 1)), V::D(date(2027, 4, 30)), V::N(2.0), V::T(r#ref)]);
        row
    };
    let good = workbook(
        &header,
        &[row("EMC-R10", 2.0, "КД-1"), row("ГОСТ 15150", 1.0, "КД-2"), row("CLIM-GOST15150", 3.0, "КД-3")],
    );
    std::fs::write(format!("{dir}/requests-survey.xlsx"), good).unwrap();
    let header = ["Компания", "Вид испытания", "Образцов", "Дата готовности", "Требуемый срок", "Приоритет"];
    let line = |test: &'static str, samples: V, due: NaiveDate| {
        vec![V::T("C0001"), V::T(test), samples, V::D(date(2027, 2, 1)), V::D(due), V::N(1.0)]
    };
    let bad = workbook(
        &header,
        &[
            line("EMC-R10", V::N(1.0), date(2027, 4, 1)),
            line("NO-SUCH-TEST", V::N(1.0), date(2027, 4, 1)),
            line("EMC-R10", V::N(2.0), date(2027, 4, 1)),
            line("EMC-R10", V::T("много"), date(2027, 4, 1)),
            line("EMC-R10", V::N(1.0), date(2027, 1, 11)),
        ],
    );
    std::fs::write(format!("{dir}/requests-three-bad-rows.xlsx"), bad).unwrap();
}

mod fuzz {
    use proptest::prelude::*;

    fn valid_xlsx() -> Vec<u8> {
        super::workbook(
            &["Компания", "Образцов", "Дата готовности"],
            &[vec![super::V::T("C0001"), super::V::N(2.0), super::V::D(super::date(2027, 2, 1))]],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Any bytes at all: an answer, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = labplan::sheets::read(&bytes);
        }

        /// A real workbook with bytes changed, cut or inserted.
        #[test]
        fn mutated_workbooks_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = valid_xlsx();
            for (at, value, kind) in edits {
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = value,
                    1 => bytes.insert(i, value),
                    _ => { bytes.remove(i); }
                }
            }
            let _ = labplan::sheets::read(&bytes);
            let keep = cut.index(bytes.len() + 1);
            let _ = labplan::sheets::read(&bytes[..keep]);
        }

        /// CSV text of any characters, in either encoding's bytes.
        #[test]
        fn arbitrary_csv_never_panics(text in "[;,\"\\n\\r a-zа-я0-9.\\-]{0,400}") {
            let _ = labplan::sheets::read(text.as_bytes());
            let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(&text);
            let _ = labplan::sheets::read(&cp1251);
        }
    }
}

/// The process's peak resident memory so far (VmHWM), in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Figures for docs/benchmarks.md: a 10,000-row survey imported, and the demo's plan
/// exported (`cargo test --release --test spreadsheets bench -- --ignored --nocapture`).
async fn bench(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let header = [
        "Номер заявки предприятия",
        "Компания",
        "Вид испытания",
        "Образцов",
        "Дата готовности",
        "Требуемый срок",
        "Приоритет",
    ];
    let rows: Vec<Vec<V>> = (0..10_000)
        .map(|i| {
            vec![
                V::S(format!("B-{i:05}")),
                V::T(if i % 2 == 0 { "C0001" } else { "C0002" }),
                V::T(if i % 3 == 0 { "CLIM-GOST15150" } else { "EMC-R10" }),
                V::N(f64::from(1 + i % 5)),
                V::D(date(2027, 2, 1)),
                V::D(date(2027, 6, 30)),
                V::N(f64::from(1 + i % 3)),
            ]
        })
        .collect();
    let file = workbook(&header, &rows);
    let peak_before = peak_mib();
    let started = std::time::Instant::now();
    let (status, report) = upload(&app, "", XLSX, file.clone()).await;
    let import = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 10_000);
    let peak_after = peak_mib();
    let started = std::time::Instant::now();
    let (status, report) = upload(&app, "", XLSX, file.clone()).await;
    let again = started.elapsed();
    assert_eq!((status, report["unchanged"].as_u64()), (StatusCode::OK, Some(10_000)));
    println!(
        "BENCH {:?} import of 10,000 rows ({} KiB XLSX): {:.2} s; again, unchanged: {:.2} s; peak RSS {:.0} MiB before, {:.0} MiB after",
        db.backend,
        file.len() / 1024,
        import.as_secs_f64(),
        again.as_secs_f64(),
        peak_before,
        peak_after
    );

    // The request list exported at 200,000 requests: copies of an imported row, by SQL.
    use sea_orm::ConnectionTrait;
    let series = match db.backend {
        common::Backend::Postgres => "SELECT generate_series(1, 190000) AS i",
        common::Backend::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 190000) SELECT i FROM n"
        }
    };
    let copy = format!(
        "INSERT INTO test_requests (id, company, test_type, samples, ready_date, due_date, priority, external_ref, \
         notes, status, status_reason, version, created_at, updated_at, planned_lab, planned_start, planned_end) \
         SELECT 'X' || CAST(s.i AS TEXT), r.company, r.test_type, r.samples, r.ready_date, r.due_date, r.priority, \
         'X-' || CAST(s.i AS TEXT), r.notes, r.status, r.status_reason, r.version, r.created_at, r.updated_at, \
         r.planned_lab, r.planned_start, r.planned_end \
         FROM ({series}) s CROSS JOIN (SELECT * FROM test_requests WHERE external_ref = 'B-00000') r"
    );
    app.db.execute_unprepared(&copy).await.unwrap();
    assert_eq!(app.total("/api/v1/requests").await, 200_003);
    let peak_before = peak_mib();
    let started = std::time::Instant::now();
    let resp = app.client().get(app.url("/api/v1/requests/export")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let exported = resp.bytes().await.unwrap();
    let export = started.elapsed();
    let peak_after = peak_mib();
    // Every row is there (too many for the importer's own limits, so read as the XML).
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(exported.to_vec())).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut xml).unwrap();
    assert_eq!(xml.matches("<row ").count(), 200_004, "the header and every request");
    println!(
        "BENCH {:?} export of 200,003 requests: {:.2} s ({} KiB); peak RSS {:.0} MiB before, {:.0} MiB after",
        db.backend,
        export.as_secs_f64(),
        exported.len() / 1024,
        peak_before,
        peak_after
    );
    app.stop().await;

    let demo_db = TestDb::create(db.backend).await.unwrap();
    let demo = TestApp::spawn_demo(&demo_db.url).await;
    let run = demo.publish_demo_plan().await;
    let started = std::time::Instant::now();
    let resp = demo.client().get(demo.url(&format!("/api/v1/planning-runs/{run}/plan/export"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap();
    let plan = started.elapsed();
    let started = std::time::Instant::now();
    let resp = demo.client().get(demo.url("/api/v1/requests/export")).send().await.unwrap();
    let list = resp.bytes().await.unwrap();
    println!(
        "BENCH {:?} export of the 1,300-request plan: {:.2} s ({} KiB); of the request list: {:.2} s ({} KiB); peak RSS {:.0} MiB",
        db.backend,
        plan.as_secs_f64(),
        bytes.len() / 1024,
        started.elapsed().as_secs_f64(),
        list.len() / 1024,
        peak_mib()
    );
    demo.stop().await;
}

mod bench_sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore]
    async fn bench() {
        super::bench(crate::common::TestDb::create(crate::common::Backend::Sqlite).await.unwrap()).await;
    }
}

mod bench_postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore]
    async fn bench() {
        if let Some(db) = crate::common::TestDb::create(crate::common::Backend::Postgres).await {
            super::bench(db).await;
        }
    }
}

/// L002's scope and capacity, as the API lists them.
async fn lab_records(app: &TestApp, lab: &str) -> (Value, Value) {
    let (_, scope) = app.get(&format!("/api/v1/labs/{lab}/accreditations")).await;
    let (_, capacity) = app.get(&format!("/api/v1/labs/{lab}/capacity")).await;
    (scope["items"].clone(), capacity["items"].clone())
}

async fn a_labs_workbook_goes_out_and_comes_back(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Lab("L002".into())).await;

    // The workbook as the registry holds it, in English: both sheets, read back by the import.
    let resp =
        app.client().get(app.url("/api/v1/imports/labs/L002")).header("accept-language", "en").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], XLSX);
    let held = resp.bytes().await.unwrap().to_vec();
    let read =
        |names: &[&str]| labplan::sheets::read::read_sheet(&held, labplan::sheets::read::Which::Named(names)).unwrap();
    let scope = read(&["Scope"]);
    assert_eq!(scope.header[..3], ["Test type", "Valid from", "Valid to"]);
    assert_eq!(scope.rows.len(), 1);
    let capacity = read(&["Capacity"]);
    assert_eq!(
        capacity.rows[0].1[..3],
        [
            labplan::sheets::Cell::Text("EMC".into()),
            labplan::sheets::Cell::Number(80.0),
            labplan::sheets::Cell::Number(4500.0)
        ]
    );
    let (status, report) = upload_to(&app, "/api/v1/imports/labs/L002", XLSX, held).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["unchanged"].as_u64(), report["written"].as_bool()), (Some(2), Some(false)), "{report}");

    // As a coordinator fills it in: Russian sheet names, shuffled columns, an extra one, a
    // test type by its standard, dates as dates and as text.
    let scope_header: &[&str] = &["Действует по", "Примечание", "Вид испытания", "Действует с"];
    let capacity_header: &[&str] = &["Цена часа", "Оборудование", "Часов в неделю"];
    let good = sheets(&[
        (
            "Область аккредитации",
            scope_header,
            vec![
                vec![V::D(date(2029, 12, 31)), V::T("продлено"), V::T("EMC-R10"), V::T("01.01.2026")],
                vec![V::T(""), V::T("новое"), V::T("ГОСТ 15150"), V::D(date(2027, 1, 4))],
            ],
        ),
        (
            "Мощности",
            capacity_header,
            vec![
                vec![V::N(4500.0), V::T("emc"), V::N(120.0)],
                vec![V::N(1300.0), V::T("Климатическая камера"), V::T("168")],
            ],
        ),
    ]);
    let before = (lab_records(&app, "L002").await, dump(&app).await);
    let (status, report) = upload_to(&app, "/api/v1/imports/labs/L002?dry_run=true", XLSX, good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["scope"], serde_json::json!({"created": 1, "updated": 1, "unchanged": 0}), "{report}");
    assert_eq!(report["capacity"], serde_json::json!({"created": 1, "updated": 1, "unchanged": 0}), "{report}");
    assert_eq!(report["ignored_columns"], serde_json::json!(["Область аккредитации: Примечание"]), "{report}");
    assert_eq!((lab_records(&app, "L002").await, dump(&app).await), before, "a dry run writes nothing");

    let (status, report) = upload_to(&app, "/api/v1/imports/labs/L002?file_name=L002.xlsx", XLSX, good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!((report["created"].as_u64(), report["updated"].as_u64()), (Some(2), Some(2)), "{report}");
    let (scope, capacity) = lab_records(&app, "L002").await;
    let clim = scope.as_array().unwrap().iter().find(|a| a["test_type"] == "CLIM-GOST15150").unwrap();
    assert_eq!((clim["valid_from"].as_str(), clim["valid_to"].as_str()), (Some("2027-01-04"), None), "{scope}");
    let emc = scope.as_array().unwrap().iter().find(|a| a["test_type"] == "EMC-R10").unwrap();
    assert_eq!(emc["valid_to"], "2029-12-31", "{scope}");
    let hours: Vec<(String, i64)> = capacity
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["equipment"].as_str().unwrap().to_string(), c["hours_per_week"].as_i64().unwrap()))
        .collect();
    assert_eq!(hours, [("CLIM".to_string(), 168), ("EMC".to_string(), 120)]);
    app.act_as(Who::Admin).await;
    let (_, audit) = app.get("/api/v1/audit?per_page=4").await;
    for entry in audit["items"].as_array().unwrap() {
        assert_eq!(entry["actor"], "l002@lab.test.local", "{entry}");
        assert_eq!(entry["after"]["import_file"], "L002.xlsx", "{entry}");
    }

    // The same file again changes nothing.
    app.act_as(Who::Lab("L002".into())).await;
    let after = (lab_records(&app, "L002").await, dump(&app).await);
    let (status, report) = upload_to(&app, "/api/v1/imports/labs/L002", XLSX, good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["unchanged"], 4, "{report}");
    assert_eq!((lab_records(&app, "L002").await, dump(&app).await), after, "a re-import changes nothing");

    // Bad rows on both sheets: 422 naming sheet, row and column, in the caller's
    // language; nothing written, not even the good rows.
    let bad = sheets(&[
        (
            "Область аккредитации",
            scope_header,
            vec![
                vec![V::T(""), V::T(""), V::T("EMC-R10"), V::D(date(2026, 6, 1))],
                vec![V::D(date(2026, 1, 1)), V::T(""), V::T("ГОСТ 15150"), V::D(date(2027, 1, 4))],
                vec![V::T(""), V::T(""), V::T("NOISE-1"), V::D(date(2027, 1, 4))],
            ],
        ),
        (
            "Мощности",
            capacity_header,
            vec![vec![V::N(4500.0), V::T("EMC"), V::T("много")], vec![V::N(1.0), V::T("EMC"), V::N(10.0)]],
        ),
    ]);
    let (status, report) = upload_to(&app, "/api/v1/imports/labs/L002", XLSX, bad.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    let named: Vec<(String, u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["sheet"].as_str().unwrap().to_string(),
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let scope_sheet = "Область аккредитации".to_string();
    assert_eq!(
        named,
        [
            (scope_sheet.clone(), 3, "valid_to".into()),
            (scope_sheet, 4, "test_type".into()),
            ("Мощности".into(), 2, "hours_per_week".into()),
        ],
        "{report}"
    );
    let message = report["errors"][1]["message"].as_str().unwrap();
    assert!(message.contains("NOISE-1") && message.chars().any(|c| ('а'..='я').contains(&c)), "{message}");
    assert!(report["detail"].as_str().unwrap().contains("Мощности!2"), "{report}");
    assert_eq!((lab_records(&app, "L002").await, dump(&app).await), after, "nothing was written");
    let resp = app
        .client()
        .post(app.url("/api/v1/imports/labs/L002"))
        .header("accept-language", "en-US,en;q=0.9")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["errors"][1]["message"], "Unknown test type 'NOISE-1'.", "{report}");

    // Files that are no lab workbook: refused, nothing written.
    let one_sheet = sheets(&[(
        "Область аккредитации",
        scope_header,
        vec![vec![V::T(""), V::T(""), V::T("EMC-R10"), V::D(date(2026, 6, 1))]],
    )]);
    let no_columns = sheets(&[
        ("Scope", &["Test type"], vec![vec![V::T("EMC-R10")]]),
        ("Capacity", &["Equipment"], vec![vec![V::T("EMC")]]),
    ]);
    for (what, file, expect) in [
        ("a CSV", b"a;b\n1;2\n".to_vec(), "XLSX"),
        ("no capacity sheet", one_sheet, "Мощности"),
        ("not a spreadsheet", b"\x89PNG\r\n\x1a\n".to_vec(), "XLSX"),
    ] {
        let (status, body) = upload_to(&app, "/api/v1/imports/labs/L002", XLSX, file).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert!(body.to_string().contains(expect), "{what}: {body}");
    }
    let (status, body) = upload_to(&app, "/api/v1/imports/labs/L002", XLSX, no_columns).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let missing: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["column"].as_str().unwrap()).collect();
    assert_eq!(missing, ["valid_from", "hours_per_week", "price_per_hour"], "{body}");
    assert_eq!((lab_records(&app, "L002").await, dump(&app).await), after, "nothing was written");

    // A coordinator keeps only their own lab; a company none; the admin any.
    for (who, lab, expect) in [
        (Who::Lab("L002".into()), "L001", StatusCode::FORBIDDEN),
        (Who::Company("C0001"), "L002", StatusCode::FORBIDDEN),
        (Who::Admin, "L404", StatusCode::NOT_FOUND),
        (Who::Admin, "L001", StatusCode::OK),
    ] {
        app.act_as(who.clone()).await;
        let (status, body) =
            upload_to(&app, &format!("/api/v1/imports/labs/{lab}?dry_run=true"), XLSX, good.clone()).await;
        assert_eq!(status, expect, "{who:?} on {lab}: {body}");
    }

    // The command line, as the coordinator.
    let email = app.user(&Who::Lab("L002".into())).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("лаборатория.xlsx");
    let changed = sheets(&[
        ("Scope", &["Test type", "Valid from"], vec![vec![V::T("EMC-R10"), V::T("2026-01-01")]]),
        (
            "Capacity",
            &["Equipment", "Hours per week", "Price per hour"],
            vec![vec![V::T("EMC"), V::N(100.0), V::N(4500.0)]],
        ),
    ]);
    std::fs::write(&file, changed).unwrap();
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_labplan"));
        cmd.env("DATABASE_URL", &db.url).args(["import", "lab", "L002"]).arg(&file).args(extra);
        cmd.output().unwrap()
    };
    let dry = run(&["--as", &email, "--dry-run"]);
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    assert!(out.contains("would import for lab L002: scope 0 created, 1 updated"), "{out}");
    assert!(out.contains("kept, not in the file: test types CLIM-GOST15150"), "{out}");
    let done = run(&["--as", &email]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    app.act_as(Who::Lab("L002".into())).await;
    let (scope, capacity) = lab_records(&app, "L002").await;
    assert_eq!(scope.as_array().unwrap().len(), 2, "the scope not in the file is kept: {scope}");
    let emc = capacity.as_array().unwrap().iter().find(|c| c["equipment"] == "EMC").unwrap();
    assert_eq!(emc["hours_per_week"], 100);
    let other = run(&["--as", &app.user(&Who::Lab("L001".into())).await]);
    assert!(!other.status.success(), "another lab's coordinator is refused");
    app.stop().await;
}
