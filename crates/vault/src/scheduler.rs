//! The background scheduler the app runs: refreshes ahead of expiry, retries
//! passing failures, and tells the front end about changes, its own and those
//! of other processes (SQLite `data_version`).

use std::sync::Arc;
use std::time::Duration;

use futures::{stream, StreamExt};
use tokio::sync::broadcast;

use crate::model::{now_secs, AccountStatus};
use crate::{Error, Vault};

/// What the scheduler saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultEvent {
    /// Something changed in the database (this process or another).
    Changed,
    Refreshed {
        account: String,
    },
    NeedsSignIn {
        account: String,
        reason: String,
    },
    Failed {
        account: String,
        message: String,
    },
}

/// How often the scheduler looks, at most.
pub const TICK: Duration = Duration::from_secs(1);

/// How many due accounts the scheduler refreshes at once.
pub const REFRESH_CONCURRENCY: usize = 8;

/// Starts the scheduler on the current tokio runtime. Drop the handle's task to stop.
pub fn spawn(vault: Arc<Vault>) -> (tokio::task::JoinHandle<()>, broadcast::Receiver<VaultEvent>) {
    let (tx, rx) = broadcast::channel(256);
    let handle = tokio::spawn(run(vault, tx));
    (handle, rx)
}

/// Refreshes one due account and says how it went.
async fn refresh_one(vault: Arc<Vault>, tx: broadcast::Sender<VaultEvent>, id: String) {
    // Not forced: if another process refreshed meanwhile, this just reads its token.
    let event = match vault.token(&id).await {
        Ok(_) => VaultEvent::Refreshed {
            account: id.clone(),
        },
        Err(Error::NeedsSignIn { reason, .. }) => VaultEvent::NeedsSignIn {
            account: id.clone(),
            reason,
        },
        Err(e) => VaultEvent::Failed {
            account: id.clone(),
            message: e.to_string(),
        },
    };
    let _ = tx.send(event);
    // Our own writes bump data_version only for other connections; announce them.
    let _ = tx.send(VaultEvent::Changed);
}

async fn run(vault: Arc<Vault>, tx: broadcast::Sender<VaultEvent>) {
    let mut seen_version = vault.change_stamp().ok().map(|(version, _)| version);
    // The accounts as last listed, and the database's change stamp then: they
    // are listed again only when something was written since, not every tick.
    let mut accounts = Vec::new();
    let mut listed_at = None;
    loop {
        // (another process's commits, this process's writes)
        let stamp = vault.change_stamp().ok();
        if let Some((version, _)) = stamp {
            if seen_version != Some(version) {
                seen_version = Some(version);
                let _ = tx.send(VaultEvent::Changed);
            }
        }
        if stamp.is_none() || stamp != listed_at {
            (accounts, listed_at) = match vault.list() {
                Ok(list) => (list, stamp),
                Err(_) => (Vec::new(), None), // listed again next tick
            };
        }
        let now = now_secs();
        let due: Vec<_> = accounts
            .iter()
            // A workload assertion in an environment variable is the asking
            // process's (a proxy's, `mcpauth token`'s), not this one's: its
            // tokens are fetched on demand, by the process that has it.
            .filter(|account| {
                !account
                    .assertion_source
                    .as_ref()
                    .is_some_and(crate::workload::AssertionSource::reads_env)
            })
            .filter(|account| match &account.status {
                AccountStatus::Active { .. } | AccountStatus::Refreshing => account
                    .next_refresh_at(vault.min_skew_secs())
                    .is_some_and(|at| at <= now),
                AccountStatus::Error { retry_at, .. } => retry_at.is_some_and(|at| at <= now),
                _ => false,
            })
            .map(|account| account.id.clone())
            .collect();
        // A few at a time, each on its own task: while one waits for its
        // authorization server, another stores its tokens. Many accounts coming
        // due together (a laptop waking up) then take a fraction of the time.
        stream::iter(due)
            .map(|id| tokio::spawn(refresh_one(vault.clone(), tx.clone(), id)))
            .buffer_unordered(REFRESH_CONCURRENCY)
            .for_each(|_| async {})
            .await;
        tokio::time::sleep(TICK).await;
    }
}
