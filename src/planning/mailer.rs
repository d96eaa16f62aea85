//! E-mail delivery of notices over SMTP, beside the planning worker.
//!
//! At least once, with an idempotency key: a sender claims due notices under a lease
//! (one conditional update, so two senders never hold one notice), hands each to the
//! SMTP server, and marks it sent. Every attempt of a notice carries the same
//! `Message-ID` (`<notice-{id}@{domain}>`). A sender that dies after the server accepted
//! a message and before the mark is committed leaves the notice `sending`; when its lease
//! has run out, another sender sends it again, with the same Message-ID. So a duplicate
//! can arise only from that window, at most once per dead sender, and is recognisable
//! by its Message-ID, which receivers that suppress duplicates drop. A server that
//! refuses or cannot be reached is tried again with exponential back-off (30 s, 1 min,
//! 2 min, … up to an hour), and after [`MAX_ATTEMPTS`] the notice is marked failed.

use std::future::Future;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::DatabaseConnection;

use crate::db::notices as queries;
use crate::entities::notices;

/// Attempts before a notice's e-mail is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// The first retry's delay; each further one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Notices claimed at once.
const BATCH: u64 = 50;

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    /// The sender, e.g. `labplan <labplan@example.ru>`
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// How long a claim holds; a sender that dies releases its notices after it.
    pub lease: Duration,
    /// How often to look for due notices.
    pub poll: Duration,
}

impl MailConfig {
    pub fn new(host: &str, port: u16, from: &str) -> Self {
        Self {
            host: host.to_string(),
            port,
            from: from.to_string(),
            username: None,
            password: None,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(2),
        }
    }

    /// The domain of Message-IDs: the sender's.
    fn domain(&self) -> String {
        self.from.rsplit('@').next().unwrap_or("labplan").trim_end_matches('>').to_string()
    }

    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        // A closed network's relay: plain SMTP, as the operator configured it.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        builder.build()
    }
}

/// The Message-ID of every attempt of a notice.
pub fn message_id(notice: i64, domain: &str) -> String {
    format!("<notice-{notice}@{domain}>")
}

fn backoff(attempts: i32) -> Duration {
    let factor = 2u32.saturating_pow(u32::try_from(attempts.max(0)).unwrap_or(0).min(16));
    (FIRST_BACKOFF * factor).min(MAX_BACKOFF)
}

fn subject(kind: &str) -> &'static str {
    match kind {
        "assigned" => "labplan: новые назначения лаборатории",
        "moved" => "labplan: заявки перенесены",
        "declined" => "labplan: лаборатория отклонила назначение",
        "confirmed" => "labplan: лаборатория подтвердила назначение",
        "received" => "labplan: образцы получены лабораторией",
        "completed" => "labplan: испытания завершены",
        "withdrawn" => "labplan: лаборатория отозвала назначение",
        "run_finished" => "labplan: расчёт плана завершён",
        "run_failed" => "labplan: расчёт плана не удался",
        _ => "labplan: уведомление",
    }
}

fn message(config: &MailConfig, notice: &notices::Model, to: &str) -> anyhow::Result<Message> {
    let body = format!(
        "{}\n\n{} {}: {}\n",
        subject(&notice.kind),
        notice.entity,
        notice.entity_id,
        notice.detail.as_deref().unwrap_or("")
    );
    Ok(Message::builder()
        .from(config.from.parse::<Mailbox>()?)
        .to(to.parse::<Mailbox>()?)
        .subject(subject(&notice.kind))
        .message_id(Some(message_id(notice.id, &config.domain())))
        .header(ContentType::TEXT_PLAIN)
        .body(body)?)
}

/// One round: claims the due notices and sends each; how many were sent.
/// `after_send` runs between the server's acceptance and the mark (a test's hook).
pub async fn deliver_due(
    db: &DatabaseConnection,
    config: &MailConfig,
    after_send: &(dyn Fn(i64) + Send + Sync),
) -> anyhow::Result<usize> {
    let lease = chrono::Duration::from_std(config.lease)?;
    let claimed = queries::claim_mail(db, BATCH, lease).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let users: Vec<i64> = claimed.iter().map(|n| n.user_id).collect();
    let emails = queries::emails(db, &users).await?;
    let transport = config.transport();
    let mut sent = 0;
    for notice in claimed {
        let result = match emails.get(&notice.user_id) {
            Some(to) => match message(config, &notice, to) {
                Ok(m) => transport.send(m).await.map(|_| ()).map_err(anyhow::Error::from),
                Err(e) => Err(e),
            },
            None => Err(anyhow::anyhow!("the user has no e-mail address")),
        };
        match result {
            Ok(()) => {
                after_send(notice.id);
                if queries::mark_mailed(db, notice.id).await? {
                    sent += 1;
                }
            }
            Err(e) => {
                let attempts = notice.mail_attempts + 1;
                let next = (attempts < MAX_ATTEMPTS).then(|| {
                    chrono::Utc::now() + chrono::Duration::from_std(backoff(attempts - 1)).unwrap_or_default()
                });
                tracing::warn!(notice = notice.id, attempts, error = %e, "a notice's e-mail was not sent");
                queries::mail_failed(db, notice.id, next).await?;
            }
        }
    }
    Ok(sent)
}

/// Delivers until `shutdown` completes.
pub async fn run(db: DatabaseConnection, config: MailConfig, shutdown: impl Future<Output = ()>) {
    tracing::info!(host = %config.host, port = config.port, "notice mailer started");
    let work = async {
        loop {
            match deliver_due(&db, &config, &|_| {}).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "notice delivery round failed"),
            }
            tokio::time::sleep(config.poll).await;
        }
    };
    tokio::select! {
        _ = work => {}
        _ = shutdown => {}
    }
    tracing::info!("notice mailer stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(20), MAX_BACKOFF);
    }

    #[test]
    fn every_attempt_has_the_same_message_id() {
        assert_eq!(message_id(7, "example.ru"), "<notice-7@example.ru>");
        let config = MailConfig::new("localhost", 25, "labplan <labplan@example.ru>");
        assert_eq!(config.domain(), "example.ru");
    }
}
