//! Account records in SQLite: WAL mode, versioned migrations, no secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::{Error, Result};
use crate::model::{now_secs, Account, AccountKind, AccountStatus, Activity};

/// Each entry moves the schema one version up; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: accounts and their activity log.
    "CREATE TABLE accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        server_url TEXT NOT NULL,
        resource TEXT NOT NULL,
        issuer TEXT NOT NULL,
        discovery_json TEXT NOT NULL,
        client_id TEXT NOT NULL,
        registration TEXT NOT NULL,
        client_auth TEXT NOT NULL,
        signing_alg TEXT,
        redirect_uri TEXT,
        subject TEXT,
        requested_scopes TEXT NOT NULL DEFAULT '',
        granted_scopes TEXT NOT NULL DEFAULT '',
        offered_scopes TEXT NOT NULL DEFAULT '',
        token_type TEXT NOT NULL DEFAULT 'Bearer',
        expires_at INTEGER,
        issued_at INTEGER,
        has_refresh_token INTEGER NOT NULL DEFAULT 0,
        status_json TEXT NOT NULL,
        last_refresh_at INTEGER,
        is_default INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX accounts_server ON accounts(server_url);
    CREATE TABLE activity (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        account_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        summary TEXT NOT NULL,
        error TEXT,
        error_description TEXT
    );
    CREATE INDEX activity_account ON activity(account_id, seq);",
    // 2: the redacted HTTP exchanges behind each activity entry (JSON).
    "ALTER TABLE activity ADD COLUMN exchanges_json TEXT;",
    // 3: when the authorization server last refused the account's client
    // (`invalid_client`: a deleted registration); the next sign-in registers
    // again instead of presenting it.
    "ALTER TABLE accounts ADD COLUMN client_rejected_at INTEGER;",
    // 4: where a workload identity account reads its assertion (JSON of
    // workload::AssertionSource; NULL for every other account), and the
    // fingerprint of the assertion its authorization server last refused,
    // which is not sent again.
    "ALTER TABLE accounts ADD COLUMN assertion_source TEXT;
     ALTER TABLE accounts ADD COLUMN assertion_refused TEXT;",
    // 5: the thumbprint (RFC 7638) of the account's DPoP key, whose private
    // half is in the keyring; NULL for an account without one.
    "ALTER TABLE accounts ADD COLUMN dpop_jkt TEXT;",
    // 6: one sign-in per authorization server (RFC 8707 §2.2). An account
    // whose tokens come from another account's refresh token, for its own
    // resource, names that account (it holds no refresh token itself); and,
    // per authorization server and client, whether such a refresh was
    // accepted or refused, so a server that refused is not asked again.
    "ALTER TABLE accounts ADD COLUMN grant_holder TEXT;
     CREATE TABLE shared_grants (
        issuer TEXT NOT NULL,
        client_id TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        detail TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (issuer, client_id)
     );",
];

/// The open database.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

const COLUMNS: &str = "id, name, kind, server_url, resource, issuer, client_id, registration, client_auth, \
    signing_alg, redirect_uri, subject, requested_scopes, granted_scopes, offered_scopes, token_type, \
    expires_at, issued_at, has_refresh_token, status_json, last_refresh_at, is_default, created_at, \
    updated_at, generation, assertion_source, dpop_jkt, grant_holder";

fn enum_to_sql<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn enum_from_sql<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let status_json: String = row.get(19)?;
    let dpop_jkt = row.get(26)?;
    Ok(Account {
        dpop_jkt,
        grant_holder: row.get(27)?,
        id: row.get(0)?,
        name: row.get(1)?,
        kind: enum_from_sql::<AccountKind>(&row.get::<_, String>(2)?)?,
        server_url: row.get(3)?,
        resource: row.get(4)?,
        issuer: row.get(5)?,
        client_id: row.get(6)?,
        registration: enum_from_sql(&row.get::<_, String>(7)?)?,
        client_auth: row.get(8)?,
        signing_alg: row.get(9)?,
        redirect_uri: row.get(10)?,
        subject: row.get(11)?,
        requested_scopes: row.get(12)?,
        granted_scopes: row.get(13)?,
        offered_scopes: row.get(14)?,
        token_type: row.get(15)?,
        expires_at: row.get(16)?,
        issued_at: row.get(17)?,
        has_refresh_token: row.get(18)?,
        status: serde_json::from_str(&status_json).unwrap_or(AccountStatus::Error {
            message: "unreadable status".into(),
            retry_at: None,
        }),
        last_refresh_at: row.get(20)?,
        is_default: row.get(21)?,
        created_at: row.get(22)?,
        updated_at: row.get(23)?,
        generation: row.get(24)?,
        assertion_source: row
            .get::<_, Option<String>>(25)?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    25,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
    })
}

fn newer_schema(path: &Path, version: usize) -> Error {
    Error::Database {
        path: path.display().to_string(),
        message: format!(
            "it was written by a newer MCP Auth (schema {version}, this one knows {}) and is \
             left as it is; upgrade MCP Auth to use it",
            MIGRATIONS.len()
        ),
    }
}

impl Db {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| Error::db(path, e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| Error::db(path, e))?;
        // A newer schema is refused before this release changes anything in
        // the file (its journal mode, a migration). The version is read
        // through SQLite, never from the file's header by hand: closing a
        // descriptor of our own on the database drops the POSIX locks SQLite
        // holds on it for this process's other connections, and another
        // process can then corrupt it (seen: "database disk image is malformed"
        // after a sign-in was killed beside an open vault).
        let version: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| Error::db(path, e))?;
        if version > MIGRATIONS.len() {
            return Err(newer_schema(path, version));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| Error::db(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| Error::db(path, e))?;
        let mut db = Self {
            conn,
            path: path.to_path_buf(),
        };
        db.migrate()?;
        Ok(db)
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::db(&self.path, e)
    }

    fn migrate(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        let version: usize = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| Error::db(&self.path, e))?;
        // Checked again under the write lock: a newer release may have
        // migrated the file since the read in `open`.
        if version > MIGRATIONS.len() {
            return Err(newer_schema(&self.path, version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)
                .map_err(|e| Error::db(&self.path, e))?;
            tx.pragma_update(None, "user_version", i + 1)
                .map_err(|e| Error::db(&self.path, e))?;
        }
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// Changes whenever another connection commits (SQLite `data_version`).
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Changes whenever anything is written to the database, by this
    /// connection (SQLite `total_changes`) or committed by another
    /// (`data_version`); equal stamps mean nothing changed in between.
    pub fn change_stamp(&self) -> Result<(i64, u64)> {
        Ok((self.data_version()?, self.conn.total_changes()))
    }

    pub fn list(&self) -> Result<Vec<Account>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM accounts ORDER BY server_url, created_at"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], account_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    pub fn get(&self, id: &str) -> Result<Option<Account>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM accounts WHERE id = ?1"),
                [id],
                account_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The fingerprint of the workload assertion the account's authorization
    /// server last refused, if it refused one since the last token.
    pub fn assertion_refused(&self, id: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT assertion_refused FROM accounts WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// Records (or, with `None`, forgets) the refused assertion's fingerprint.
    pub fn set_assertion_refused(&self, id: &str, fingerprint: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET assertion_refused = ?2 WHERE id = ?1",
                params![id, fingerprint],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The cached discovery of an account.
    pub fn discovery_json(&self, id: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT discovery_json FROM accounts WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Inserts a new account; it becomes its server's default when it is the first.
    pub fn insert(
        &mut self,
        account: &Account,
        discovery_json: &str,
        activities: &[Activity],
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        let others: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM accounts WHERE server_url = ?1 AND is_default = 1",
                [&account.server_url],
                |r| r.get(0),
            )
            .map_err(|e| Error::db(&self.path, e))?;
        tx.execute(
            &format!("INSERT INTO accounts ({COLUMNS}, discovery_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)"),
            params![
                account.id,
                account.name,
                enum_to_sql(&account.kind),
                account.server_url,
                account.resource,
                account.issuer,
                account.client_id,
                enum_to_sql(&account.registration),
                account.client_auth,
                account.signing_alg,
                account.redirect_uri,
                account.subject,
                account.requested_scopes,
                account.granted_scopes,
                account.offered_scopes,
                account.token_type,
                account.expires_at,
                account.issued_at,
                account.has_refresh_token,
                serde_json::to_string(&account.status).unwrap_or_default(),
                account.last_refresh_at,
                others == 0,
                account.created_at,
                account.updated_at,
                account.generation,
                account
                    .assertion_source
                    .as_ref()
                    .and_then(|s| serde_json::to_string(s).ok()),
                account.dpop_jkt,
                account.grant_holder,
                discovery_json,
            ],
        )
        .map_err(|e| Error::db(&self.path, e))?;
        for activity in activities {
            insert_activity(&tx, &account.id, activity).map_err(|e| Error::db(&self.path, e))?;
        }
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// Writes the token facts of an account and logs the step, in one transaction.
    pub fn update_tokens(&mut self, account: &Account, activity: Option<&Activity>) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        update_token_columns(&tx, account).map_err(|e| Error::db(&self.path, e))?;
        if let Some(activity) = activity {
            insert_activity(&tx, &account.id, activity).map_err(|e| Error::db(&self.path, e))?;
        }
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// An account that moved to another authorization server: its client,
    /// discovery and token facts together.
    pub fn move_account(
        &mut self,
        account: &Account,
        discovery_json: &str,
        activity: &Activity,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        tx.execute(
            "UPDATE accounts SET issuer = ?2, resource = ?3, client_id = ?4, registration = ?5,
             client_auth = ?6, signing_alg = ?7, redirect_uri = ?8, offered_scopes = ?9,
             discovery_json = ?10, updated_at = ?11, client_rejected_at = NULL WHERE id = ?1",
            params![
                account.id,
                account.issuer,
                account.resource,
                account.client_id,
                enum_to_sql(&account.registration),
                account.client_auth,
                account.signing_alg,
                account.redirect_uri,
                account.offered_scopes,
                discovery_json,
                now_secs(),
            ],
        )
        .map_err(|e| Error::db(&self.path, e))?;
        update_token_columns(&tx, account).map_err(|e| Error::db(&self.path, e))?;
        insert_activity(&tx, &account.id, activity).map_err(|e| Error::db(&self.path, e))?;
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// The thumbprint of the account's DPoP key, or none.
    pub fn set_dpop_jkt(&mut self, id: &str, jkt: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET dpop_jkt = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, jkt, now_secs()],
            )
            .map_err(|e| Error::db(&self.path, e))?;
        Ok(())
    }

    /// Links an account to the account whose sign-in it shares, or (`None`)
    /// unlinks it.
    pub fn set_grant_holder(&mut self, id: &str, holder: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET grant_holder = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, holder, now_secs()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Whether the authorization server accepted (`Some(true)`) or refused a
    /// refresh token of this client for another resource, with what it said.
    pub fn shared_grant(&self, issuer: &str, client_id: &str) -> Result<Option<(bool, String)>> {
        self.conn
            .query_row(
                "SELECT accepted, detail FROM shared_grants WHERE issuer = ?1 AND client_id = ?2",
                [issuer, client_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records what the authorization server did with such a refresh.
    pub fn set_shared_grant(
        &mut self,
        issuer: &str,
        client_id: &str,
        accepted: bool,
        detail: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO shared_grants (issuer, client_id, accepted, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (issuer, client_id) DO UPDATE SET accepted = ?3, detail = ?4, at = ?5",
                params![issuer, client_id, accepted, detail, now_secs()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Marks a client the authorization server refused (`invalid_client`) on
    /// every account that presents it.
    pub fn mark_client_rejected(&mut self, issuer: &str, client_id: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET client_rejected_at = ?3 WHERE issuer = ?1 AND client_id = ?2",
                params![issuer, client_id, now_secs()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Whether the account's client was refused since it was last stored.
    pub fn client_rejected(&self, id: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT client_rejected_at IS NOT NULL FROM accounts WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()
            .map(|v| v.unwrap_or(false))
            .map_err(|e| self.err(e))
    }

    /// Logs a step of an account, changing nothing else.
    pub fn log(&mut self, id: &str, activity: &Activity) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        insert_activity(&tx, id, activity).map_err(|e| Error::db(&self.path, e))?;
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// Sets an account's status, logging the step when given.
    pub fn set_status(
        &mut self,
        id: &str,
        status: &AccountStatus,
        activity: Option<&Activity>,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        tx.execute(
            "UPDATE accounts SET status_json = ?2, updated_at = ?3 WHERE id = ?1",
            params![
                id,
                serde_json::to_string(status).unwrap_or_default(),
                now_secs()
            ],
        )
        .map_err(|e| Error::db(&self.path, e))?;
        if let Some(activity) = activity {
            insert_activity(&tx, id, activity).map_err(|e| Error::db(&self.path, e))?;
        }
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// Makes `id` the default account of its server.
    pub fn set_default(&mut self, id: &str) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        tx.execute(
            "UPDATE accounts SET is_default = (id = ?1) WHERE server_url = (SELECT server_url FROM accounts WHERE id = ?1)",
            [id],
        )
        .map_err(|e| Error::db(&self.path, e))?;
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    /// Deletes an account and its log; another account of the server becomes the default.
    pub fn delete(&mut self, id: &str) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| Error::db(&self.path, e))?;
        let server: Option<String> = tx
            .query_row("SELECT server_url FROM accounts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| Error::db(&self.path, e))?;
        tx.execute("DELETE FROM accounts WHERE id = ?1", [id])
            .map_err(|e| Error::db(&self.path, e))?;
        tx.execute("DELETE FROM activity WHERE account_id = ?1", [id])
            .map_err(|e| Error::db(&self.path, e))?;
        if let Some(server) = server {
            tx.execute(
                "UPDATE accounts SET is_default = 1 WHERE id = (SELECT id FROM accounts WHERE server_url = ?1 ORDER BY created_at LIMIT 1)
                 AND NOT EXISTS (SELECT 1 FROM accounts WHERE server_url = ?1 AND is_default = 1)",
                [&server],
            )
            .map_err(|e| Error::db(&self.path, e))?;
        }
        tx.commit().map_err(|e| Error::db(&self.path, e))
    }

    pub fn activity(&self, id: &str) -> Result<Vec<Activity>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, kind, summary, error, error_description, exchanges_json FROM activity WHERE account_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(Activity {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    summary: r.get(2)?,
                    error: r.get(3)?,
                    error_description: r.get(4)?,
                    exchanges: r
                        .get::<_, Option<String>>(5)?
                        .and_then(|j| serde_json::from_str(&j).ok())
                        .unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))
    }

    /// `PRAGMA integrity_check` says "ok".
    pub fn integrity_ok(&self) -> Result<bool> {
        let answer: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(answer == "ok")
    }
}

fn update_token_columns(
    tx: &rusqlite::Transaction<'_>,
    account: &Account,
) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE accounts SET granted_scopes = ?2, requested_scopes = ?3, token_type = ?4, expires_at = ?5,
         issued_at = ?6, has_refresh_token = ?7, status_json = ?8, last_refresh_at = ?9, subject = ?10,
         updated_at = ?11, generation = ?12 WHERE id = ?1",
        params![
            account.id,
            account.granted_scopes,
            account.requested_scopes,
            account.token_type,
            account.expires_at,
            account.issued_at,
            account.has_refresh_token,
            serde_json::to_string(&account.status).unwrap_or_default(),
            account.last_refresh_at,
            account.subject,
            now_secs(),
            account.generation,
        ],
    )
}

fn insert_activity(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    a: &Activity,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO activity (account_id, at, kind, summary, error, error_description, exchanges_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            a.at,
            a.kind,
            a.summary,
            a.error,
            a.error_description,
            (!a.exchanges.is_empty())
                .then(|| serde_json::to_string(&a.exchanges).ok())
                .flatten()
        ],
    )?;
    // A bounded history: with short-lived tokens the scheduler refreshes all
    // day, and each entry carries its HTTP exchanges.
    tx.execute(
        "DELETE FROM activity WHERE account_id = ?1 AND seq <= \
         (SELECT seq FROM activity WHERE account_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        params![id, ACTIVITY_KEPT],
    )
}

/// How many activity entries each account keeps.
pub const ACTIVITY_KEPT: i64 = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_stamp_moves_with_writes_from_either_connection_only() {
        let dir = std::env::temp_dir().join(format!("mcpauth-db-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("a.sqlite3");
        let _ = std::fs::remove_file(&path);
        let mut ours = Db::open(&path).expect("open");
        let mut theirs = Db::open(&path).expect("open");
        let write = |db: &mut Db, at: i64| {
            let tx = db.conn.transaction().expect("tx");
            let entry = Activity {
                at,
                kind: "refresh".into(),
                summary: "entry".into(),
                error: None,
                error_description: None,
                exchanges: Vec::new(),
            };
            insert_activity(&tx, "acct", &entry).expect("insert");
            tx.commit().expect("commit");
        };
        let start = ours.change_stamp().expect("stamp");
        ours.list().expect("read");
        ours.activity("acct").expect("read");
        assert_eq!(
            ours.change_stamp().expect("stamp"),
            start,
            "reads change nothing"
        );
        write(&mut ours, 1);
        let after_ours = ours.change_stamp().expect("stamp");
        assert_ne!(after_ours, start, "our own write");
        write(&mut theirs, 2);
        assert_ne!(
            ours.change_stamp().expect("stamp"),
            after_ours,
            "another connection's write"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_activity_history_is_bounded() {
        let dir = std::env::temp_dir().join(format!("mcpauth-db-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut db = Db::open(&dir.join("a.sqlite3")).expect("open");
        for i in 0..(ACTIVITY_KEPT + 25) {
            let tx = db.conn.transaction().expect("tx");
            let entry = Activity {
                at: i,
                kind: "refresh".into(),
                summary: format!("entry {i}"),
                error: None,
                error_description: None,
                exchanges: Vec::new(),
            };
            insert_activity(&tx, "acct", &entry).expect("insert");
            insert_activity(&tx, "other", &entry).expect("insert");
            tx.commit().expect("commit");
        }
        let kept = db.activity("acct").expect("read");
        assert_eq!(kept.len() as i64, ACTIVITY_KEPT);
        assert_eq!(
            kept.first().map(|a| a.at),
            Some(25),
            "the oldest went first"
        );
        assert_eq!(kept.last().map(|a| a.at), Some(ACTIVITY_KEPT + 24));
        assert_eq!(
            db.activity("other").expect("read").len() as i64,
            ACTIVITY_KEPT
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
