//! Filings on PostgreSQL, written in batches: under load, the filings that arrive while
//! one statement runs go together into the next one. One statement and one commit for
//! many filings is what lets filing keep up with the database's own insert rate; a
//! filing that arrives alone is written at once, alone, so a quiet server waits for
//! nothing.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbErr, RuntimeErr};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::requests::{Filing, insert_audited_at_once};

/// Filings in one statement at most: a batch stays one small JSON parameter and a short
/// statement, and one slow batch holds few answers back.
pub const MAX_BATCH: usize = 32;
/// Statements in flight at once: enough that a batch is gathered while others run.
pub const WRITERS: usize = 4;

/// The answer to one filing: the new id, or None when a reference or the caller's
/// token did not hold.
type Answer = Result<Option<String>, DbErr>;

struct Queued {
    filing: Filing,
    answer: oneshot::Sender<Answer>,
}

/// Where the server's filings go. Dropping every clone stops its writers once the
/// filings already queued are written.
#[derive(Clone)]
pub struct FilingQueue {
    queue: mpsc::Sender<Queued>,
}

impl FilingQueue {
    /// Starts `writers` tasks that each take what is queued, up to `max_batch`, and
    /// write it in one statement.
    pub fn start(db: DatabaseConnection, writers: usize, max_batch: usize) -> Self {
        let (writers, max_batch) = (writers.max(1), max_batch.max(1));
        let (queue, queued) = mpsc::channel(writers * max_batch * 4);
        let queued = Arc::new(Mutex::new(queued));
        for _ in 0..writers {
            tokio::spawn(write_batches(db.clone(), Arc::clone(&queued), max_batch));
        }
        Self { queue }
    }

    /// Files one request with the others queued beside it.
    pub async fn file(&self, filing: Filing) -> Answer {
        let (answer, answered) = oneshot::channel();
        self.queue.send(Queued { filing, answer }).await.map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbErr {
    DbErr::Custom("the server is stopping: the filing was not written".into())
}

async fn write_batches(db: DatabaseConnection, queued: Arc<Mutex<mpsc::Receiver<Queued>>>, max_batch: usize) {
    loop {
        let mut batch = Vec::with_capacity(max_batch);
        // One writer gathers at a time; it lets go as soon as it holds what was there.
        if queued.lock().await.recv_many(&mut batch, max_batch).await == 0 {
            return;
        }
        write(&db, batch).await;
    }
}

/// Writes a batch and answers each filing.
async fn write(db: &DatabaseConnection, batch: Vec<Queued>) {
    let (filings, answers): (Vec<Filing>, Vec<oneshot::Sender<Answer>>) =
        batch.into_iter().map(|queued| (queued.filing, queued.answer)).unzip();
    for (answer, written) in answers.into_iter().zip(write_batch(db, &filings).await) {
        // A caller that went away (its client hung up) is not waiting: its row stays.
        let _ = answer.send(written);
    }
}

/// Writes filings in one statement and gives each its own answer, in their order.
/// When the database refuses the statement, one filing's fault must not become the
/// others': each is then written on its own. When the database is away, each is told so.
pub async fn write_batch(db: &DatabaseConnection, filings: &[Filing]) -> Vec<Answer> {
    metrics::histogram!("labplan_filing_batch_size").record(filings.len() as f64);
    match insert_audited_at_once(db, filings).await {
        Ok(ids) => ids.into_iter().map(Ok).collect(),
        Err(err) if filings.len() == 1 => vec![Err(err)],
        Err(err) if super::is_unavailable(&err) => {
            let text = err.to_string();
            filings.iter().map(|_| Err(DbErr::Conn(RuntimeErr::Internal(text.clone())))).collect()
        }
        Err(_) => {
            let mut answers = Vec::with_capacity(filings.len());
            for filing in filings {
                let written = insert_audited_at_once(db, std::slice::from_ref(filing)).await;
                answers.push(written.map(|ids| ids.into_iter().next().flatten()));
            }
            answers
        }
    }
}
