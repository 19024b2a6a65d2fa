//! Where the `mcpauth` command is, for the entries the app writes into other
//! MCP clients' configuration files. Those clients start it without a shell
//! and often with a PATH of their own (Claude Desktop started from a dock has
//! the desktop's), so the entry names it by its absolute path.

use std::path::{Path, PathBuf};

/// The command's file name on this platform.
const NAME: &str = if cfg!(windows) {
    "mcpauth.exe"
} else {
    "mcpauth"
};

/// The `mcpauth` command for export entries: beside the app's own binary (the
/// .deb installs both in /usr/bin; a cargo build puts both in target/), else
/// the first on PATH; None when neither has it.
pub fn command() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    find(exe.as_deref(), std::env::var_os("PATH").as_deref())
}

fn find(app_exe: Option<&Path>, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let beside = app_exe.and_then(Path::parent).map(|dir| dir.join(NAME));
    let on_path = path
        .into_iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(NAME));
    beside
        .into_iter()
        .chain(on_path)
        .find(|candidate| is_program(candidate))
        .map(|found| found.canonicalize().unwrap_or(found))
}

fn is_program(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(dir: &Path) -> PathBuf {
        let path = dir.join(NAME);
        std::fs::write(&path, "#!/bin/sh\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        path.canonicalize().expect("canonical")
    }

    #[test]
    fn the_command_beside_the_app_comes_first_then_path() {
        let tmp = std::env::temp_dir().join(format!("mcpauth-cli-path-{}", std::process::id()));
        let (app_dir, path_dir, empty) = (tmp.join("app"), tmp.join("bin"), tmp.join("empty"));
        for d in [&app_dir, &path_dir, &empty] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let on_path = program(&path_dir);
        let path = std::env::join_paths([&empty, &path_dir]).expect("join");
        let app = app_dir.join("mcpauth-app");
        assert_eq!(find(Some(&app), Some(&path)), Some(on_path.clone()));
        let beside = program(&app_dir);
        assert_eq!(find(Some(&app), Some(&path)), Some(beside));
        // Relative PATH entries are not trusted; nothing found is None.
        assert_eq!(find(None, Some(std::ffi::OsStr::new("bin"))), None);
        assert_eq!(find(None, Some(empty.as_os_str())), None);
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_cannot_run_is_not_the_command() {
        let tmp = std::env::temp_dir().join(format!("mcpauth-cli-noexec-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).expect("mkdir");
        std::fs::write(tmp.join(NAME), "not a program").expect("write");
        assert_eq!(find(Some(&tmp.join("mcpauth-app")), None), None);
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
