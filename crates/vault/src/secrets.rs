//! Where secrets live: the OS keyring, every call bounded by a timeout; a
//! plaintext file only when the user asked for it. On Linux the Secret
//! Service over one persistent D-Bus connection (`platform`, below); on macOS
//! and Windows the Keychain and Credential Manager through the `keyring` crate.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result};

/// Stores secrets by name. Implementations must never fall back silently.
pub trait SecretStore: Send + Sync {
    fn get(&self, name: &str) -> Result<Option<String>>;
    fn set(&self, name: &str, value: &str) -> Result<()>;
    /// Deletes; deleting what is not there is not an error.
    fn delete(&self, name: &str) -> Result<()>;
    /// A name for status output.
    fn backend(&self) -> &'static str;
}

/// The platform keyring's name.
pub const KEYRING_BACKEND: &str = if cfg!(target_os = "macos") {
    "macOS Keychain"
} else if cfg!(target_os = "windows") {
    "Windows Credential Manager"
} else {
    "Secret Service"
};

/// Credential Manager holds at most 2560 bytes (1280 UTF-16 units) per credential;
/// longer values are split into numbered parts.
const PLATFORM_CHUNK_CHARS: Option<usize> = if cfg!(target_os = "windows") {
    Some(1000)
} else {
    None
};

const CHUNK_MARKER: &str = "mcpauth-chunked:v1:";

/// The OS keyring, with a timeout on every call and long values split.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
    timeout: Duration,
    chunk_chars: Option<usize>,
}

impl KeyringStore {
    /// A store under the given keyring service name.
    pub fn new(service: impl Into<String>, timeout: Duration) -> Self {
        Self {
            service: service.into(),
            timeout,
            chunk_chars: PLATFORM_CHUNK_CHARS,
        }
    }

    /// Splits values longer than `chars` (tests use it on platforms that need no splitting).
    pub fn with_chunk_limit(mut self, chars: Option<usize>) -> Self {
        self.chunk_chars = chars;
        self
    }

    /// Runs one keyring operation on its own thread, one at a time (see
    /// [`Turnstile`]), and gives up when the keyring stops answering: a locked
    /// collection makes Secret Service wait for a prompt nobody answers.
    fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce() -> keyring::Result<T> + Send + 'static,
    ) -> Result<T> {
        match KEYRING.run(self.timeout, op) {
            Ok(result) => result.map_err(keyring_error),
            Err(Stalled::NoThread(e)) => Err(Error::Keyring {
                backend: KEYRING_BACKEND,
                message: format!("cannot start a keyring thread: {e}"),
            }),
            Err(Stalled::TimedOut) => Err(Error::KeyringTimeout {
                seconds: self.timeout.as_secs().max(1),
            }),
        }
    }

    fn get_raw(&self, name: &str) -> Result<Option<String>> {
        let (service, user) = (self.service.clone(), name.to_string());
        match self.call(move || platform::get(&service, &user)) {
            Ok(v) => Ok(Some(v)),
            Err(Error::Keyring { message, .. }) if message == NO_ENTRY => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn set_raw(&self, name: &str, value: &str) -> Result<()> {
        let (service, user) = (self.service.clone(), name.to_string());
        let value = zeroize::Zeroizing::new(value.to_string());
        self.call(move || platform::set(&service, &user, &value))
    }

    fn delete_raw(&self, name: &str) -> Result<()> {
        let (service, user) = (self.service.clone(), name.to_string());
        match self.call(move || platform::delete(&service, &user)) {
            Err(Error::Keyring { message, .. }) if message == NO_ENTRY => Ok(()),
            other => other,
        }
    }
}

/// Everywhere but Linux: the `keyring` crate, one call per operation.
#[cfg(not(target_os = "linux"))]
mod platform {
    pub fn get(service: &str, user: &str) -> keyring::Result<String> {
        keyring::Entry::new(service, user)?.get_password()
    }

    pub fn set(service: &str, user: &str, value: &str) -> keyring::Result<()> {
        keyring::Entry::new(service, user)?.set_password(value)
    }

    pub fn delete(service: &str, user: &str) -> keyring::Result<()> {
        keyring::Entry::new(service, user)?.delete_credential()
    }
}

/// Linux: the Secret Service over one D-Bus connection and one encrypted
/// session for the whole process, used by one operation at a time.
///
/// The `keyring` crate connects and negotiates a session for every operation
/// (twice for a write). Besides the cost, that churn is what crashes
/// gnome-keyring (see [`KEYRING`]): a client that disconnects right after its
/// last call races the daemon's own bookkeeping. Serializing operations made
/// the crash rare, not impossible: it happened again after ~2,500 operations
/// of a 1,000-account sign-in run. A connection that stays open has no such
/// race.
///
/// Items are the ones the `keyring` crate (v3) reads and writes, so either can
/// read what the other wrote: attributes `service`, `username`, `target` =
/// `default` (plus `application` on creation), in the default collection.
#[cfg(target_os = "linux")]
mod platform {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use dbus_secret_service::{EncryptionType, Error as SsError, Item, SecretService};
    use keyring::Error as KeyringError;

    /// How long an unlock prompt (a locked keyring) stays up for the user to
    /// answer. The caller stops waiting after the keyring timeout and says the
    /// keyring may be locked; the prompt stays long enough to type a password,
    /// and the next call after unlocking succeeds. Meanwhile later calls time
    /// out behind it, as they must: the keyring is not usable until then.
    const PROMPT_SECS: u64 = 120;

    /// The open connection; None until first use and after a failure.
    static CONNECTION: Mutex<Option<SecretService>> = Mutex::new(None);

    fn wrap(e: SsError) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(e)
    }

    /// As the `keyring` crate reports them.
    fn to_keyring(e: SsError) -> KeyringError {
        match e {
            SsError::Locked | SsError::NoResult | SsError::Prompt => {
                KeyringError::NoStorageAccess(wrap(e))
            }
            e => KeyringError::PlatformFailure(wrap(e)),
        }
    }

    /// Runs `op` on the process's connection (opening it if needed). When the
    /// operation fails on a connection that was already open (the daemon may
    /// have restarted since, which ends the session), it is retried once on a
    /// new one; every operation here may safely run twice.
    fn with_service<T>(op: impl Fn(&SecretService) -> Result<T, SsError>) -> keyring::Result<T> {
        let mut slot = CONNECTION.lock().unwrap_or_else(|e| e.into_inner());
        let reused = slot.is_some();
        for attempt in 0..2 {
            if slot.is_none() {
                let service =
                    SecretService::connect_with_max_prompt_timeout(EncryptionType::Dh, PROMPT_SECS)
                        .map_err(|e| KeyringError::NoStorageAccess(wrap(e)))?;
                *slot = Some(service);
            }
            let service = slot.as_ref().expect("connected above");
            match op(service) {
                Ok(v) => return Ok(v),
                // Answers about the keyring's contents, not about the connection.
                Err(e @ (SsError::NoResult | SsError::Locked | SsError::Prompt)) => {
                    return Err(to_keyring(e))
                }
                Err(e) => {
                    *slot = None;
                    if !(reused && attempt == 0) {
                        return Err(to_keyring(e));
                    }
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    fn search<'a>(
        service: &'a SecretService,
        service_name: &str,
        user: &str,
    ) -> Result<Vec<Item<'a>>, SsError> {
        let attributes = HashMap::from([
            ("service", service_name),
            ("username", user),
            ("target", "default"),
        ]);
        let found = service.search_items(attributes)?;
        for item in &found.locked {
            item.unlock()?;
        }
        Ok(found.unlocked.into_iter().chain(found.locked).collect())
    }

    /// The one matching item, NoEntry, or Ambiguous (as the `keyring` crate).
    enum Match<'a> {
        One(Item<'a>),
        None,
        Several(usize),
    }

    fn find<'a>(
        service: &'a SecretService,
        service_name: &str,
        user: &str,
    ) -> Result<Match<'a>, SsError> {
        let mut items = search(service, service_name, user)?;
        Ok(match items.len() {
            0 => Match::None,
            1 => Match::One(items.remove(0)),
            n => Match::Several(n),
        })
    }

    fn several(n: usize) -> KeyringError {
        KeyringError::PlatformFailure(
            format!(
                "{n} keyring items match this entry; remove the extra ones (e.g. with Seahorse)"
            )
            .into(),
        )
    }

    pub fn get(service_name: &str, user: &str) -> keyring::Result<String> {
        let found = with_service(|ss| {
            Ok(match find(ss, service_name, user)? {
                Match::One(item) => Ok(item.get_secret()?),
                Match::None => Err(KeyringError::NoEntry),
                Match::Several(n) => Err(several(n)),
            })
        })??;
        String::from_utf8(found).map_err(|e| KeyringError::BadEncoding(e.into_bytes()))
    }

    pub fn set(service_name: &str, user: &str, value: &str) -> keyring::Result<()> {
        with_service(|ss| {
            Ok(match find(ss, service_name, user)? {
                Match::One(item) => Ok(item.set_secret(value.as_bytes(), "text/plain")?),
                Match::Several(n) => Err(several(n)),
                Match::None => {
                    let collection = ss.get_default_collection()?;
                    if collection.is_locked()? {
                        collection.unlock()?;
                    }
                    let attributes = HashMap::from([
                        ("service", service_name),
                        ("username", user),
                        ("target", "default"),
                        ("application", "rust-keyring"),
                    ]);
                    collection.create_item(
                        &format!("{user}@{service_name}:default (MCP Auth)"),
                        attributes,
                        value.as_bytes(),
                        true,
                        "text/plain",
                    )?;
                    Ok(())
                }
            })
        })?
    }

    pub fn delete(service_name: &str, user: &str) -> keyring::Result<()> {
        with_service(|ss| {
            Ok(match find(ss, service_name, user)? {
                Match::One(item) => Ok(item.delete()?),
                Match::None => Err(KeyringError::NoEntry),
                Match::Several(n) => Err(several(n)),
            })
        })?
    }
}

/// The keyring operations of this process, which run one at a time.
///
/// gnome-keyring aborts when Secret Service clients come and go while it
/// dispatches their calls (`gkd_secret_service_publish_dispatch: assertion
/// 'client' failed`, then a GLib error; reported against gnome-keyring 42 to
/// 50). With the `keyring` crate's connection per operation, eight writers at
/// once killed it within a few hundred writes here (bench `keyring-writes 400
/// 8`), and the daemon D-Bus started next had the login collection locked, so
/// every program on the desktop lost its secrets until a password prompt was
/// answered. One at a time, it crashed far less often; on Linux the
/// connection is now also kept open (`platform`). gnome-keyring handles one
/// request at a time anyway.
static KEYRING: Turnstile = Turnstile::new();

/// Runs operations one at a time, each on its own thread, and bounds how long
/// the caller waits by how long the *running* operation has taken, not by how
/// long the queue is: under a refresh storm an operation may wait behind many
/// others that each answer in a fraction of a second, and it must not time out
/// for that (when it did, it was the likeliest cause of 19 failed refreshes in
/// 10,000 in a storm; none failed since). When the
/// running operation has taken longer than the timeout, the keyring is stuck:
/// the caller gives up, and its operation, if it has not started, never runs.
pub(crate) struct Turnstile {
    turn: std::sync::Mutex<()>,
    /// When the running operation started (None when none is running).
    running_since: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Why [`Turnstile::run`] has no result.
#[derive(Debug)]
pub(crate) enum Stalled {
    /// The operation, or the one ahead of it, took longer than the timeout.
    TimedOut,
    NoThread(std::io::Error),
}

impl Turnstile {
    pub(crate) const fn new() -> Self {
        Self {
            turn: std::sync::Mutex::new(()),
            running_since: std::sync::Mutex::new(None),
        }
    }

    fn running_for(&self) -> Option<Duration> {
        self.running_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|t| t.elapsed())
    }

    /// Runs `op` when no other operation of this turnstile is running. Gives
    /// up once `op` has run for `timeout`, or once the operation ahead of it
    /// has run for `timeout` (then `op` never runs).
    pub(crate) fn run<T: Send + 'static>(
        &'static self,
        timeout: Duration,
        op: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<T, Stalled> {
        use std::sync::{Arc, Mutex};

        #[derive(PartialEq)]
        enum Phase {
            Queued,
            Running,
            Abandoned,
        }
        let phase = Arc::new(Mutex::new(Phase::Queued));
        let (tx, rx) = mpsc::channel();
        let thread_phase = phase.clone();
        std::thread::Builder::new()
            .name("mcpauth-keyring".into())
            .spawn(move || {
                let _turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
                {
                    let mut phase = thread_phase.lock().unwrap_or_else(|e| e.into_inner());
                    if *phase == Phase::Abandoned {
                        return; // the caller stopped waiting before its turn came
                    }
                    *phase = Phase::Running;
                }
                *self.running_since.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(std::time::Instant::now());
                let result = op();
                *self.running_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
                let _ = tx.send(result);
            })
            .map_err(Stalled::NoThread)?;

        // Queued: wait as long as whatever runs keeps finishing in time.
        let poll = timeout.min(Duration::from_millis(250));
        let started = loop {
            match rx.recv_timeout(poll) {
                Ok(result) => return Ok(result),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(Stalled::TimedOut),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let mut phase = phase.lock().unwrap_or_else(|e| e.into_inner());
            if *phase == Phase::Running {
                // It started since the last look, so at most `poll` ago.
                break std::time::Instant::now();
            }
            if self.running_for().is_some_and(|d| d >= timeout) {
                *phase = Phase::Abandoned;
                return Err(Stalled::TimedOut);
            }
        };
        // Running: bounded by the timeout.
        rx.recv_timeout(timeout.saturating_sub(started.elapsed()))
            .map_err(|_| Stalled::TimedOut)
    }
}

const NO_ENTRY: &str = "no entry";

fn keyring_error(e: keyring::Error) -> Error {
    let message = match e {
        keyring::Error::NoEntry => NO_ENTRY.to_string(),
        keyring::Error::NoStorageAccess(inner) => format!(
            "no keyring is available ({inner}); on Linux, a Secret Service provider such as gnome-keyring must be running and unlocked"
        ),
        keyring::Error::PlatformFailure(inner) => format!("platform failure: {inner}"),
        other => other.to_string(),
    };
    Error::Keyring {
        backend: KEYRING_BACKEND,
        message,
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, name: &str) -> Result<Option<String>> {
        let Some(head) = self.get_raw(name)? else {
            return Ok(None);
        };
        join_chunks(&head, |i| self.get_raw(&format!("{name}#{i}"))).map(Some)
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        let old_parts = self.get_raw(name)?.and_then(|h| chunk_count(&h));
        let new_parts = match split_chunks(value, self.chunk_chars) {
            None => {
                self.set_raw(name, value)?;
                0
            }
            Some(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    self.set_raw(&format!("{name}#{}", i + 1), part)?;
                }
                // The head goes last: until it is written, readers see the old value whole.
                self.set_raw(name, &format!("{CHUNK_MARKER}{}", parts.len()))?;
                parts.len()
            }
        };
        for i in new_parts + 1..=old_parts.unwrap_or(0) {
            self.delete_raw(&format!("{name}#{i}"))?;
        }
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<()> {
        let parts = self.get_raw(name)?.and_then(|h| chunk_count(&h));
        self.delete_raw(name)?;
        for i in 1..=parts.unwrap_or(0) {
            self.delete_raw(&format!("{name}#{i}"))?;
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        KEYRING_BACKEND
    }
}

fn chunk_count(head: &str) -> Option<usize> {
    head.strip_prefix(CHUNK_MARKER)?.parse().ok()
}

/// Splits a value longer than `limit` characters; `None` when it fits whole.
pub(crate) fn split_chunks(value: &str, limit: Option<usize>) -> Option<Vec<String>> {
    let limit = limit?.max(1);
    if value.chars().count() <= limit && !value.starts_with(CHUNK_MARKER) {
        return None;
    }
    let chars: Vec<char> = value.chars().collect();
    Some(chars.chunks(limit).map(|c| c.iter().collect()).collect())
}

/// Joins the parts named by a chunked head; a plain value is returned as is.
pub(crate) fn join_chunks(
    head: &str,
    mut part: impl FnMut(usize) -> Result<Option<String>>,
) -> Result<String> {
    let Some(count) = chunk_count(head) else {
        return Ok(head.to_string());
    };
    let mut out = String::new();
    for i in 1..=count {
        match part(i)? {
            Some(p) => out.push_str(&p),
            None => {
                return Err(Error::Keyring {
                    backend: KEYRING_BACKEND,
                    message: format!("part {i} of {count} of a split secret is missing"),
                })
            }
        }
    }
    Ok(out)
}

/// Secrets in a file readable by the user only. Used only when the user turned
/// it on (`MCPAUTH_SECRET_STORE=plaintext`); status output says so.
#[derive(Debug)]
pub struct PlaintextStore {
    path: PathBuf,
    lock: std::sync::Mutex<()>,
}

impl PlaintextStore {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: std::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::io("cannot parse the plaintext secret file", &self.path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(Error::io("cannot read", &self.path, e)),
        }
    }

    fn write(&self, map: &serde_json::Map<String, serde_json::Value>) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let bytes = serde_json::to_vec(map).map_err(|e| Error::Invalid(e.to_string()))?;
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options
                .open(&tmp)
                .map_err(|e| Error::io("cannot write", &tmp, e))?;
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io("cannot write", &tmp, e))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io("cannot replace", &self.path, e))
    }
}

impl SecretStore for PlaintextStore {
    fn get(&self, name: &str) -> Result<Option<String>> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self
            .read()?
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string))
    }

    fn set(&self, name: &str, value: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = self.read()?;
        map.insert(name.to_string(), value.into());
        self.write(&map)
    }

    fn delete(&self, name: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut map = self.read()?;
        if map.remove(name).is_some() {
            self.write(&map)?;
        }
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "plaintext file (insecure; MCPAUTH_SECRET_STORE=plaintext)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_operations_never_overlap_within_a_process() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static GATE: Turnstile = Turnstile::new();
        static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..20 {
                        GATE.run(Duration::from_secs(5), || {
                            let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
                            MOST.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_micros(200));
                            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                        })
                        .expect("in time");
                    }
                });
            }
        });
        assert_eq!(MOST.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn waiting_for_a_turn_does_not_count_against_the_timeout() {
        // Six operations of 150 ms, all asked for at once, with a 400 ms timeout:
        // the last waits ~750 ms for its turn, and every one of them succeeds.
        static GATE: Turnstile = Turnstile::new();
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    scope.spawn(move || {
                        GATE.run(Duration::from_millis(400), move || {
                            std::thread::sleep(Duration::from_millis(150));
                            i
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let mut done: Vec<usize> = results.into_iter().map(|r| r.expect("in time")).collect();
        done.sort_unstable();
        assert_eq!(done, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_stuck_operation_times_out_and_so_do_the_ones_behind_it_without_running() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::Instant;
        static GATE: Turnstile = Turnstile::new();
        static BEHIND_RAN: AtomicBool = AtomicBool::new(false);
        let timeout = Duration::from_millis(300);
        let started = Instant::now();
        let stuck = std::thread::spawn(move || {
            GATE.run(timeout, || std::thread::sleep(Duration::from_millis(1500)))
        });
        std::thread::sleep(Duration::from_millis(50));
        let behind = GATE.run(timeout, || BEHIND_RAN.store(true, Ordering::SeqCst));
        assert!(matches!(behind, Err(Stalled::TimedOut)), "{behind:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "gave up only after the stuck operation ended"
        );
        let stuck = stuck.join().expect("no panic");
        assert!(matches!(stuck, Err(Stalled::TimedOut)), "{stuck:?}");
        // Once the stuck one has ended, the abandoned one still never runs,
        // and the next one runs as usual.
        std::thread::sleep(Duration::from_millis(1600).saturating_sub(started.elapsed()));
        assert_eq!(GATE.run(timeout, || 7).expect("in time"), 7);
        assert!(!BEHIND_RAN.load(Ordering::SeqCst));
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split_chunks("short", Some(10)), None);
        assert_eq!(split_chunks("anything", None), None);
        let long = "é".repeat(25) + "xyz";
        let parts = split_chunks(&long, Some(10)).expect("split");
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 10));
        let head = format!("{CHUNK_MARKER}{}", parts.len());
        let joined = join_chunks(&head, |i| Ok(parts.get(i - 1).cloned())).expect("join");
        assert_eq!(joined, long);
        let missing = join_chunks(&head, |i| Ok((i == 1).then(|| parts[0].clone())));
        assert!(missing.is_err());
        // A value that looks like a head is itself split, so it is never misread.
        assert!(split_chunks(&format!("{CHUNK_MARKER}2"), Some(100)).is_some());
        assert_eq!(join_chunks("plain", |_| Ok(None)).expect("plain"), "plain");
    }

    #[test]
    fn plaintext_store_round_trip_and_mode() {
        let dir = std::env::temp_dir().join(format!("mcpauth-plain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let store = PlaintextStore::new(dir.join("secrets.json"));
        assert_eq!(store.get("a").expect("get"), None);
        store.set("a", "1").expect("set");
        store.set("b", "2").expect("set");
        store.delete("a").expect("delete");
        assert_eq!(store.get("a").expect("get"), None);
        assert_eq!(store.get("b").expect("get").as_deref(), Some("2"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secrets.json"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
