//! A real server on a random port over a fresh database: a SQLite file in a temporary
//! directory, or a new PostgreSQL database when `LABPLAN_TEST_POSTGRES_URL` is set.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod binary;
pub mod browser;
pub mod web;

use std::net::SocketAddr;

use labplan::domain::access::Caller;
use labplan::startup::{Application, Settings};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

pub const POSTGRES_ENV: &str = "LABPLAN_TEST_POSTGRES_URL";

/// The password of every user the tests create.
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::create($crate::common::Backend::Sqlite).await {
                        super::$name(db).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::TestDb::create($crate::common::Backend::Postgres).await {
                        super::$name(db).await;
                    }
                }
            )*
        }
    };
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// `None` when the backend is PostgreSQL and no server was given (the test says so and passes).
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("labplan.db").display());
                Some(Self { backend, url, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var(POSTGRES_ENV) else {
                    eprintln!("PostgreSQL variant not run: {POSTGRES_ENV} is not set");
                    return None;
                };
                let name = format!("labplan_test_{}", uuid_like());
                let admin = Database::connect(admin_url.as_str()).await.expect("connect to PostgreSQL");
                admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
                admin.close().await.expect("close admin connection");
                let mut url = url::Url::parse(&admin_url).expect("postgres url");
                url.set_path(&format!("/{name}"));
                Some(Self { backend, url: url.to_string(), _dir: None })
            }
        }
    }

    pub async fn connect(&self) -> sea_orm::DatabaseConnection {
        let db = labplan::db::connect(&self.url).await.expect("connect");
        labplan::db::migrate(&db).await.expect("migrate");
        db
    }

    pub async fn spawn(&self) -> TestApp {
        TestApp::spawn(&self.url).await
    }

    /// A server with the embedded planning worker.
    pub async fn spawn_with_worker(&self) -> TestApp {
        TestApp::spawn_with_worker(&self.url).await
    }

    /// A server over this database with the small fixture data set loaded.
    pub async fn spawn_with_fixture(&self) -> TestApp {
        let app = self.spawn().await;
        let instance = labplan::app::import::parse_instance(FIXTURE.as_bytes()).expect("fixture parses");
        labplan::app::import::instance(&app.db, &Caller::Operator, &instance).await.expect("fixture loads");
        app.act_as(Who::Admin).await;
        app
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    format!("{:016x}{:08x}", rng.random::<u64>(), std::process::id())
}

/// Who a test acts as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Anonymous,
    Admin,
    Planner,
    Ministry,
    Company(&'static str),
    Lab(String),
}

pub struct TestApp {
    pub addr: SocketAddr,
    client: std::sync::Mutex<reqwest::Client>,
    tokens: std::sync::Mutex<std::collections::HashMap<Who, String>>,
    pub db: sea_orm::DatabaseConnection,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(url: &str) -> Self {
        let settings = Settings::new(url, "127.0.0.1:0".parse().unwrap());
        Self::spawn_with(settings).await
    }

    /// A server with its embedded planning worker (short lease, so tests see retries quickly).
    pub async fn spawn_with_worker(url: &str) -> Self {
        let worker = labplan::planning::worker::WorkerConfig::new(std::time::Duration::from_secs(3), None);
        let settings = Settings { worker: Some(worker), ..Settings::new(url, "127.0.0.1:0".parse().unwrap()) };
        Self::spawn_with(settings).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        labplan::telemetry::init_with_default("warn,sqlx=error,highs=error");
        let app = Application::build(&settings).await.expect("application builds");
        let addr = app.local_addr().unwrap();
        let db = app.db().clone();
        let server = tokio::spawn(async move {
            app.run_until_stopped().await.expect("server runs");
        });
        Self { addr, client: std::sync::Mutex::new(reqwest::Client::new()), tokens: Default::default(), db, server }
    }

    /// A server with the demo data (cluster-1300) and its planning worker, as `serve --demo`.
    pub async fn spawn_demo(url: &str) -> Self {
        let worker = labplan::planning::worker::WorkerConfig::new(std::time::Duration::from_secs(10), None);
        let settings =
            Settings { demo: true, worker: Some(worker), ..Settings::new(url, "127.0.0.1:0".parse().unwrap()) };
        Self::spawn_with(settings).await
    }

    /// Runs the planner on the demo through the API (8 s limit) and publishes the plan;
    /// returns the run's id. Leaves the app acting as the planner.
    pub async fn publish_demo_plan(&self) -> i64 {
        self.act_as(Who::Planner).await;
        // Deterministic: the same plan however loaded the machine is while the tests run
        // side by side, so that what a test expects of it (bottlenecks, unmet requests) is there.
        let body = serde_json::json!({"time_limit_seconds": 8, "deterministic": true});
        let (status, run) = self.post("/api/v1/planning-runs", &body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
        let id = run["id"].as_i64().unwrap();
        let started = std::time::Instant::now();
        loop {
            let (_, run) = self.get(&format!("/api/v1/planning-runs/{id}")).await;
            match run["status"].as_str() {
                Some("succeeded") => break,
                Some("failed" | "cancelled") => panic!("the demo run ended without a plan: {run}"),
                _ => {}
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(300), "the demo run takes too long");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let (status, body) = self.post(&format!("/api/v1/planning-runs/{id}/publish"), &serde_json::json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id
    }

    /// The e-mail of `who`, creating the user (password [`PASSWORD`]) the first time.
    pub async fn user(&self, who: &Who) -> String {
        self.token(who).await.expect("a signed-in user");
        match who {
            Who::Anonymous => String::new(),
            Who::Admin => "admin@test.local".into(),
            Who::Planner => "planner@test.local".into(),
            Who::Ministry => "ministry@test.local".into(),
            Who::Company(id) => format!("{}@company.test.local", id.to_lowercase()),
            Who::Lab(id) => format!("{}@lab.test.local", id.to_lowercase()),
        }
    }

    /// A client that sends the current caller's token.
    pub fn client(&self) -> reqwest::Client {
        self.client.lock().unwrap().clone()
    }

    /// An API token for `who`, creating the user the first time.
    pub async fn token(&self, who: &Who) -> Option<String> {
        use labplan::app::users::{self, Binding, NewUser};
        use labplan::domain::access::Role;
        if let Some(token) = self.tokens.lock().unwrap().get(who) {
            return Some(token.clone());
        }
        let (email, role, company, lab) = match who {
            Who::Anonymous => return None,
            Who::Admin => ("admin@test.local".to_string(), Role::Admin, None, None),
            Who::Planner => ("planner@test.local".to_string(), Role::Planner, None, None),
            Who::Ministry => ("ministry@test.local".to_string(), Role::Ministry, None, None),
            Who::Company(id) => (format!("{}@company.test.local", id.to_lowercase()), Role::Company, Some(*id), None),
            Who::Lab(id) => (format!("{}@lab.test.local", id.to_lowercase()), Role::Lab, None, Some(id.as_str())),
        };
        let user = match users::find_by_email(&self.db, &Caller::Operator, &email).await {
            Ok(user) => user,
            Err(_) => {
                let binding = Binding { role, company: company.map(str::to_string), lab: lab.map(str::to_string) };
                let new = NewUser { email: email.clone(), password: PASSWORD.to_string(), binding };
                users::add(&self.db, &Caller::Operator, new).await.unwrap()
            }
        };
        let token = users::create_token(&self.db, &Caller::Operator, user.id, "test", None).await.unwrap();
        self.tokens.lock().unwrap().insert(who.clone(), token.clone());
        Some(token)
    }

    /// Makes every following request of this app act as `who`.
    pub async fn act_as(&self, who: Who) {
        let mut builder = reqwest::Client::builder();
        if let Some(token) = self.token(&who).await {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
            builder = builder.default_headers(headers);
        }
        *self.client.lock().unwrap() = builder.build().unwrap();
    }

    /// Stops the server and closes its connections, as a process exit would.
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        let _ = self.db.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self.client().get(self.url(path)).send().await.expect("request sent");
        read(resp).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self.client().post(self.url(path)).json(body).send().await.expect("request sent");
        read(resp).await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let resp = self
            .client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        read(resp).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self.client().put(self.url(path)).json(body).send().await.expect("request sent");
        read(resp).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self.client().patch(self.url(path)).json(body).send().await.expect("request sent");
        read(resp).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        let resp = self.client().delete(self.url(path)).send().await.expect("request sent");
        read(resp).await
    }

    /// A `multipart/form-data` POST: each string of `fields` a part; `protocol`, when
    /// present, a file part with those bytes.
    pub async fn post_multipart(&self, path: &str, fields: &Value) -> (StatusCode, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields.as_object().expect("an object of fields") {
            let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
            form = if name == "protocol" {
                form.part("protocol", reqwest::multipart::Part::bytes(text.into_bytes()).file_name("protocol.pdf"))
            } else {
                form.text(name.clone(), text)
            };
        }
        let resp = self.client().post(self.url(path)).multipart(form).send().await.expect("request sent");
        read(resp).await
    }

    pub async fn total(&self, path: &str) -> u64 {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body["total"].as_u64().expect("total")
    }
}

/// Reads a response; problem documents must carry their media type.
async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = resp.text().await.expect("body read");
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(content_type, "application/problem+json", "error {status} without problem+json: {text}");
    }
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, value)
}

/// A two-region, three-lab, two-company data set for the API tests.
pub const FIXTURE: &str = r#"{
  "format": "labplan-instance/1",
  "name": "api-fixture",
  "horizon": {"start": "2027-01-04", "weeks": 12},
  "weights": {"tardiness_per_week": 150000, "transport_per_km": 40, "unassigned": 3000000, "max_late_weeks": 4},
  "regions": [
    {"code": "RU-SAM", "name": "Самарская область", "name_en": "Samara Oblast", "lat": 53.51, "lon": 49.42},
    {"code": "RU-TA", "name": "Республика Татарстан", "name_en": "Tatarstan", "lat": 55.79, "lon": 49.12}
  ],
  "distances": [{"from": "RU-SAM", "to": "RU-TA", "km": 360}],
  "equipment": [
    {"code": "CLIM", "name": "Климатическая камера", "name_en": "Climatic chamber", "max_hours_per_test_week": 168},
    {"code": "EMC", "name": "Безэховая камера ЭМС", "name_en": "EMC chamber", "max_hours_per_test_week": 40}
  ],
  "test_types": [
    {"code": "CLIM-GOST15150", "standard": "ГОСТ 15150", "name": "Климатические испытания", "name_en": "Climatic test", "equipment": "CLIM", "hours": 240},
    {"code": "EMC-R10", "standard": "UNECE R10", "name": "ЭМС электронных узлов", "name_en": "EMC of ESA", "equipment": "EMC", "hours": 60}
  ],
  "labs": [
    {"id": "L001", "name": "Самарский ЦСМ", "name_en": "Samara CSM", "region": "RU-SAM", "accredited": ["CLIM-GOST15150", "EMC-R10"],
     "capacity": [{"equipment": "CLIM", "hours_per_week": 336, "price_per_hour": 1200}, {"equipment": "EMC", "hours_per_week": 40, "price_per_hour": 5000}]},
    {"id": "L002", "name": "Татарстанский ЦСМ", "name_en": "Tatarstan CSM", "region": "RU-TA", "accredited": ["EMC-R10"],
     "capacity": [{"equipment": "EMC", "hours_per_week": 80, "price_per_hour": 4500}]},
    {"id": "L003", "name": "НИЦ Тольятти", "name_en": "Togliatti RC", "region": "RU-SAM", "accredited": ["CLIM-GOST15150"],
     "capacity": [{"equipment": "CLIM", "hours_per_week": 168, "price_per_hour": 1100}]}
  ],
  "capacity_overrides": [{"lab": "L001", "equipment": "EMC", "week": 0, "hours_per_week": 0}],
  "companies": [
    {"id": "C0001", "name": "ООО «Уралстекло»", "region": "RU-SAM"},
    {"id": "C0002", "name": "АО «КАМА-Электро»", "region": "RU-TA"}
  ],
  "requests": [
    {"id": "R00001", "company": "C0001", "test_type": "EMC-R10", "samples": 2, "release_week": 1, "due_week": 4, "priority": 2},
    {"id": "R00002", "company": "C0001", "test_type": "CLIM-GOST15150", "samples": 1, "release_week": 0, "due_week": 6, "priority": 1, "excluded_labs": ["L003"]},
    {"id": "R00003", "company": "C0002", "test_type": "EMC-R10", "samples": 3, "release_week": 2, "due_week": 8, "priority": 3}
  ],
  "pinned": []
}"#;
