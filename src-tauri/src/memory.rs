//! What the app gives back when its window closes (Linux).
//!
//! Destroying the window ends its web process, but two costs stay:
//! - WebKit's network process: the web context is kept for the app's life
//!   (tauri-runtime-wry keeps it on Linux, tauri#14626, so that windows do not
//!   leak one network process each), and WebKit never ends that process on
//!   its own. It is ended here; WebKit starts a new one for the next window.
//! - The pages of WebKit, JavaScriptCore, Mesa and GTK code the window touched
//!   stay in this process's resident set (~110 MB), clean and backed by the
//!   library files. They are handed back to the kernel (`MADV_PAGEOUT`); the
//!   page cache keeps most of them, so the next window faults them in quickly.
//!
//! Measured by `bench/app.sh` (BENCHMARKS.md): the closed app's resident
//! memory, every process it started counted.

use std::time::{Duration, Instant};

use tauri::AppHandle;

/// Called when the main window was destroyed: waits (off the main thread)
/// for its web process to end, then releases what the closed window held,
/// unless a new window opened meanwhile.
pub fn release(app: &AppHandle) {
    release_after(app, Duration::ZERO);
}

/// [`release`] after `delay`: started hidden, the app first lets the tray
/// and the scheduler settle.
pub fn release_after(app: &AppHandle, delay: Duration) {
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("release-memory".into())
        .spawn(move || {
            std::thread::sleep(delay);
            let me = std::process::id();
            // The web process ends a moment after its web view.
            wait_until(Duration::from_secs(5), || {
                children(me, WEB_PROCESS).is_empty()
            });
            if crate::window::current(&app).is_some() {
                return; // shown again meanwhile
            }
            let network = children(me, NETWORK_PROCESS);
            for pid in &network {
                sys::terminate(*pid);
            }
            wait_until(Duration::from_secs(5), || {
                network.iter().all(|pid| !alive(*pid))
            });
            if crate::window::current(&app).is_none() {
                sys::page_out_file_mappings();
            }
        });
    if let Err(e) = spawned {
        eprintln!("mcpauth-app: cannot release the closed window's memory: {e}");
    }
}

/// The names WebKit's helpers show in `/proc/<pid>/comm` (15 bytes at most).
const WEB_PROCESS: &str = "WebKitWebProces";
const NETWORK_PROCESS: &str = "WebKitNetworkPr";

fn wait_until(bound: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() && start.elapsed() < bound {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The child processes of `parent` whose command name is `comm`.
fn children(parent: u32, comm: &str) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                parse_stat(&stat).is_some_and(|s| s.name == comm && s.ppid == parent)
            })
        })
        .collect()
}

/// The fields of a `/proc/<pid>/stat` line this needs.
#[derive(Debug, PartialEq, Eq)]
struct Stat<'a> {
    name: &'a str,
    /// One letter: R, S, D, Z (ended, not yet reaped), …
    state: &'a str,
    ppid: u32,
}

/// The name is in parentheses and may itself hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<Stat<'_>> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(Stat { name, state, ppid })
}

/// Whether the process still runs (a zombie has ended: its parent, WebKit,
/// reaps it).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| parse_stat(&stat).is_some_and(|s| s.state != "Z"))
}

/// The two system calls this needs; libc has no safe wrapper for either.
#[allow(unsafe_code)]
mod sys {
    /// Asks a process to end (SIGTERM).
    pub fn terminate(pid: i32) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }

    /// Hands the resident pages of every file-backed mapping back to the
    /// kernel. Only clean pages that no other process maps are reclaimed
    /// (madvise(2)); the rest, and every anonymous page, stay as they are.
    pub fn page_out_file_mappings() {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for (start, end) in super::file_mappings(&maps) {
            // SAFETY: MADV_PAGEOUT is advice: it changes no mapping and no
            // contents, and a reclaimed page is read back from its file on the
            // next access. The range is one of this process's own mappings,
            // page-aligned as /proc/self/maps gives it; an error (an old
            // kernel without MADV_PAGEOUT, a mapping gone since) is harmless.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT);
            }
        }
    }
}

/// The address ranges of `/proc/self/maps` lines backed by a file (a path,
/// not `[heap]`, `[stack]` or an anonymous mapping).
fn file_mappings(maps: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let path = fields.nth(4)?;
            if !path.starts_with('/') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some((start, end))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_state_and_parent() {
        let stat = |name, state, ppid| Some(Stat { name, state, ppid });
        assert_eq!(
            parse_stat("4242 (WebKitNetworkPr) S 17 4242 17 0 -1"),
            stat("WebKitNetworkPr", "S", 17)
        );
        assert_eq!(parse_stat("7 (a) b) (c) Z 1 7"), stat("a) b) (c", "Z", 1));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn only_file_backed_mappings_are_paged_out() {
        let maps = "\
7f00a000-7f00b000 r-xp 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libgtk-3.so.0
7f00b000-7f00c000 rw-p 00000000 00:00 0
55550000-55560000 rw-p 00000000 00:00 0 [heap]
7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]
7f00c000-7f00e000 r--p 00001000 08:01 99 /SYSV00000000 (deleted)
";
        assert_eq!(
            file_mappings(maps),
            [(0x7f00a000, 0x7f00b000), (0x7f00c000, 0x7f00e000)]
        );
    }

    #[test]
    fn this_test_process_is_alive_and_has_no_webkit_children() {
        assert!(alive(std::process::id() as i32));
        assert!(children(std::process::id(), NETWORK_PROCESS).is_empty());
    }
}
