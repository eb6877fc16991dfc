//! Programs a test needs from this machine (Prometheus, promtool), found on `PATH`: without
//! one, the test says it was skipped, and on CI (`CI=true`) it fails instead.

use std::path::PathBuf;

/// The program `name` from `PATH`; `None` after printing "skipped: `why`" if there is none,
/// but with the environment variable `CI` at `true`, a panic with that message instead: CI must
/// not pass by skipping.
pub fn program(name: &str, why: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let message = format!("skipped: {why}: `{name}` is not on PATH");
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message} (CI must not pass by skipping)"
        );
        println!("{message}");
    }
    found
}

/// A folder of its own in the system's temporary folder, removed with everything in it when
/// dropped.
pub struct TempFolder(PathBuf);

impl TempFolder {
    /// A new, empty folder whose name begins with `prefix`.
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(crate::unique_name(prefix));
        std::fs::create_dir_all(&path).unwrap();
        TempFolder(path)
    }

    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
