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
//! - `MADV_PAGEOUT` leaves a page alone while another process maps it too:
//!   libLLVM, which WebKit's EGL display loads and which an X server with
//!   software GL (Xvfb's GLX) maps as well, ~30 MB. Those pages are dropped
//!   from this process's page tables instead (`MADV_DONTNEED`), but only in
//!   read-only mappings of shared libraries that hold no page of their own
//!   (no copy-on-write copy): there the next access reads the same bytes
//!   back from the file, and the page cache keeps them for the other process.
//!   Never shared memory (`/memfd:…`, a deleted file), whose mappings WebKit
//!   makes and ends as it pleases: a range unmapped after the list was read
//!   and reused for the heap would be zeroed. The list is read just before,
//!   while no window is being built (the window's build lock is held), so
//!   no library is being loaded meanwhile.
//!
//! Measured by `bench/app.sh` (BENCHMARKS.md): the closed app's resident
//! memory, every process it started counted.

use std::time::{Duration, Instant};

use tauri::{AppHandle, Manager};

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
            // Not while a window is built: it loads libraries meanwhile.
            let memory = app.state::<crate::window::WindowMemory>();
            let _no_window_built = memory.hold_building();
            if crate::window::current(&app).is_none() {
                sys::release_file_pages();
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

    /// Hands the resident pages of file-backed mappings back to the kernel:
    /// first every clean page no other process maps (`MADV_PAGEOUT`, which
    /// reclaims them), then, from the mappings whose pages are all the file's
    /// own, the shared ones too (`MADV_DONTNEED`, which only unmaps them here).
    pub fn release_file_pages() {
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return;
        };
        let mappings = super::mappings(&smaps);
        for m in mappings.iter().filter(|m| m.file) {
            // SAFETY: MADV_PAGEOUT is advice: it changes no mapping and no
            // contents, and a reclaimed page is read back from its file on the
            // next access. The range is one of this process's own mappings,
            // page-aligned as the kernel lists it; an error (an old kernel
            // without MADV_PAGEOUT, a mapping gone since) is harmless.
            unsafe {
                libc::madvise(
                    m.start as *mut libc::c_void,
                    m.end - m.start,
                    libc::MADV_PAGEOUT,
                );
            }
        }
        for m in mappings.iter().filter(|m| m.only_file_pages()) {
            // SAFETY: MADV_DONTNEED on a file mapping unmaps its pages from
            // this process; the next access reads them from the file again.
            // That returns the same bytes only where no page differs from the
            // file: `only_file_pages` admits read-only mappings of shared
            // libraries with no anonymous (copy-on-write) page, so relocated
            // data (RELRO) and anything written are never touched; and a
            // read-only mapping gains no such page later without an
            // mprotect, which nothing in this process does to a loaded
            // library after start. The list was read just now, with the
            // window's build lock held (no library is being loaded); a
            // library's mappings end only when it is unloaded, which WebKit,
            // GTK and Mesa do not do while the app runs. Shared memory,
            // deleted files and devices are left out (see the module's notes).
            unsafe {
                libc::madvise(
                    m.start as *mut libc::c_void,
                    m.end - m.start,
                    libc::MADV_DONTNEED,
                );
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use std::io::Write;

        /// Held by each test that releases pages: a release in one test would
        /// unmap the pages another is about to count.
        static RELEASING: std::sync::Mutex<()> = std::sync::Mutex::new(());

        /// A file holding `bytes`, named like a shared library (only those are
        /// unmapped), removed when dropped (no crate for temp files here).
        struct TempLib {
            file: std::fs::File,
            path: std::path::PathBuf,
        }

        impl Drop for TempLib {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.path);
            }
        }

        fn temp_file(bytes: &[u8]) -> TempLib {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("libmcpauth-memory-{}-{n}.so", std::process::id()));
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .expect("temp file");
            file.write_all(bytes).expect("write");
            TempLib { file, path }
        }

        /// Maps `len` bytes of `file` read-only and private, as the dynamic
        /// loader maps a library's code.
        fn map(lib: &TempLib, len: usize, prot: i32) -> *mut u8 {
            use std::os::fd::AsRawFd;
            let file = &lib.file;
            // SAFETY: a fresh mapping of a file we own; the pointer is checked.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED, "mmap failed");
            p.cast()
        }

        fn read_all(p: *const u8, len: usize) -> Vec<u8> {
            // SAFETY: `p` maps `len` readable bytes (map above) until munmap.
            unsafe { std::slice::from_raw_parts(p, len) }.to_vec()
        }

        /// The resident kB of this process's mapping that starts at `p`.
        fn resident_kb(p: *const u8) -> u64 {
            let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
            let found = super::super::mappings(&smaps)
                .into_iter()
                .find(|m| m.start == p as usize)
                .expect("the mapping is listed");
            found.rss_kb
        }

        #[test]
        fn shared_clean_pages_leave_the_resident_set_and_read_back_the_same() {
            let _one = RELEASING.lock().unwrap_or_else(|e| e.into_inner());
            const LEN: usize = 64 * 4096;
            let content: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
            let file = temp_file(&content);
            // Two mappings of one file: each page is mapped twice, so
            // MADV_PAGEOUT alone would keep it, as it keeps a page Xvfb maps.
            let a = map(&file, LEN, libc::PROT_READ);
            let b = map(&file, LEN, libc::PROT_READ);
            assert_eq!(read_all(a, LEN), content);
            assert_eq!(read_all(b, LEN), content);
            assert!(
                resident_kb(a) >= 256 && resident_kb(b) >= 256,
                "both mappings resident"
            );

            super::release_file_pages();

            assert_eq!(
                (resident_kb(a), resident_kb(b)),
                (0, 0),
                "nothing left resident"
            );
            assert_eq!(read_all(a, LEN), content, "the same bytes read back");
            assert_eq!(read_all(b, LEN), content);
            // SAFETY: both were mapped above with LEN bytes and are not used after.
            unsafe {
                libc::munmap(a.cast(), LEN);
                libc::munmap(b.cast(), LEN);
            }
        }

        #[test]
        fn a_page_written_before_the_mapping_became_read_only_is_kept() {
            // As the loader does with relocated data (RELRO): written while
            // writable, then made read-only. Unmapping it would read back the
            // file's bytes, not the written ones.
            let _one = RELEASING.lock().unwrap_or_else(|e| e.into_inner());
            const LEN: usize = 4 * 4096;
            let file = temp_file(&[0u8; LEN]);
            let p = map(&file, LEN, libc::PROT_READ | libc::PROT_WRITE);
            // SAFETY: `p` maps LEN writable bytes; then made read-only.
            unsafe {
                std::ptr::write_bytes(p, 0x5a, LEN);
                assert_eq!(libc::mprotect(p.cast(), LEN, libc::PROT_READ), 0);
            }

            super::release_file_pages();

            assert_eq!(read_all(p, LEN), vec![0x5a; LEN], "the written bytes stay");
            assert!(resident_kb(p) >= 16, "its own pages stay resident");
            // SAFETY: mapped above with LEN bytes and not used after.
            unsafe {
                libc::munmap(p.cast(), LEN);
            }
        }
    }
}

/// One mapping of `/proc/self/smaps`: its range and what its pages are.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    /// Backed by a file (a path, not `[heap]`, `[stack]` or anonymous).
    file: bool,
    /// A shared library's file (`….so`, `….so.N`), still on disk: not shared
    /// memory (`/memfd:…`, `/SYSV…`, a deleted file) and not a device.
    library: bool,
    writable: bool,
    rss_kb: u64,
    /// Pages of its own (`Anonymous`, and `Swap` for those swapped out):
    /// copy-on-write copies of the file's, written to (relocations, say). A dirty page of the file itself is the
    /// file's current content (the page cache), and reads back the same.
    anon_kb: u64,
}

impl Mapping {
    /// Every resident page is the file's own bytes, and stays so: a shared
    /// library's mapping, read-only, with no copy-on-write copy.
    fn only_file_pages(&self) -> bool {
        self.file && self.library && !self.writable && self.anon_kb == 0
    }
}

/// The path of a mapping's header line: the rest of the line from its first
/// ` /` (it may hold spaces), or "" for an anonymous one, `[heap]`, `[stack]`.
fn mapped_path(header: &str) -> &str {
    header
        .find(" /")
        .map_or("", |at| header[at + 1..].trim_end())
}

/// Whether a mapped path is a shared library still on disk.
fn is_library(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    !path.starts_with("/memfd:")
        && !path.starts_with("/dev/")
        && !path.ends_with("(deleted)")
        && (name.ends_with(".so") || name.contains(".so."))
}

/// Reads `/proc/self/smaps`: a header line per mapping (`start-end perms
/// offset dev inode [path]`), then `Key: value [kB]` lines about it.
fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some(key) = first.strip_suffix(':') {
            let Some(m) = out.last_mut() else { continue };
            let kb: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            match key {
                "Rss" => m.rss_kb = kb,
                // A copy swapped out counts too: unmapping would lose it.
                "Anonymous" | "Swap" => m.anon_kb += kb,
                _ => {}
            }
            continue;
        }
        let Some((start, end)) = first.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let perms = fields.next().unwrap_or("");
        let path = mapped_path(line);
        out.push(Mapping {
            start,
            end,
            file: !path.is_empty() && end > start,
            library: is_library(path),
            writable: perms.as_bytes().get(1) == Some(&b'w'),
            rss_kb: 0,
            anon_kb: 0,
        });
    }
    out
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
    fn smaps_gives_each_mapping_and_whether_its_pages_are_the_files_own() {
        let smaps = "\
7f00a000-7f00c000 r-xp 00000000 08:01 1234                       /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Size:                  8 kB
Rss:                   8 kB
Shared_Dirty:          0 kB
Private_Dirty:         0 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
7f00c000-7f00d000 r--p 00002000 08:01 1234                       /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Rss:                   4 kB
Private_Dirty:         4 kB
Anonymous:             4 kB
7f00c800-7f00c900 r--p 00002800 08:01 1234                       /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Rss:                   0 kB
Anonymous:             0 kB
Swap:                  4 kB
7f00d000-7f00e000 rw-p 00003000 08:01 1234                       /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
Rss:                   4 kB
Anonymous:             0 kB
7f00e000-7f00f000 rw-p 00000000 00:00 0
Rss:                   4 kB
55550000-55560000 rw-p 00000000 00:00 0                          [heap]
7f00f000-7f010000 rw-s 00000000 00:05 77                         /dev/dri/renderD128
Rss:                   4 kB
7f010000-7f012000 r--p 00001000 08:01 99                         /SYSV00000000 (deleted)
Rss:                   8 kB
Anonymous:             0 kB
7f012000-7f014000 r--p 00000000 00:01 1035                       /memfd:WebKitSharedMemory (deleted)
Rss:                   8 kB
Anonymous:             0 kB
7f014000-7f016000 r--p 00000000 08:01 4321                       /opt/My Apps/lib/libfoo.so
Rss:                   8 kB
Anonymous:             0 kB
7f016000-7f018000 r--p 00000000 08:01 4322                       /usr/share/fonts/DejaVuSans.ttf
Rss:                   8 kB
Anonymous:             0 kB
";
        let got = mappings(smaps);
        let summary: Vec<_> = got
            .iter()
            .map(|m| (m.start, m.file, m.only_file_pages(), m.rss_kb))
            .collect();
        assert_eq!(
            summary,
            [
                (0x7f00a000, true, true, 8),   // code: read-only, the file's bytes
                (0x7f00c000, true, false, 4),  // relocated (RELRO): its own copy
                (0x7f00c800, true, false, 0),  // its own copy, swapped out
                (0x7f00d000, true, false, 4),  // writable
                (0x7f00e000, false, false, 4), // anonymous
                (0x55550000, false, false, 0), // heap
                (0x7f00f000, true, false, 4),  // a device's pages
                (0x7f010000, true, false, 8),  // shared memory: WebKit's to end
                (0x7f012000, true, false, 8),  // a memfd: the same
                (0x7f014000, true, true, 8),   // a library in a path with a space
                (0x7f016000, true, false, 8),  // a font: not a library
            ]
        );
        assert_eq!(got[0].end, 0x7f00c000);
    }

    #[test]
    fn this_test_process_is_alive_and_has_no_webkit_children() {
        assert!(alive(std::process::id() as i32));
        assert!(children(std::process::id(), NETWORK_PROCESS).is_empty());
    }
}
