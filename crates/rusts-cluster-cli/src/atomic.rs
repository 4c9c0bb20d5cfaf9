//! Writing a file so that it is either the old file or the whole new one.
//!
//! `fs::write` truncates first: a full disk, a file size limit or a killed
//! process left the target (even the input of `rebalance --output
//! cluster.toml`) truncated mid-array. Here the text goes to a temporary
//! file in the same directory (same file system, so the rename is atomic),
//! is flushed to disk, and is renamed over the target only when complete.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

/// Removes the temporary file unless it was renamed into place.
struct Temporary {
    path: PathBuf,
    done: bool,
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Distinguishes temporary files of one process.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` to `path` atomically and returns the path written:
/// `path` itself, or the file it links to when it is a symbolic link (the
/// link stays a link). A path that is not a regular file or a directory
/// (`/dev/stdout`, a FIFO) is written to directly.
///
/// An existing target keeps its permissions. On any error the target is
/// untouched and the temporary file is removed; only a process killed
/// between the two (SIGKILL, SIGXFSZ, power loss) leaves a
/// `.NAME.rusts-cluster-PID-N.tmp` beside it, never a changed target.
pub(crate) fn write(path: &Path, contents: &[u8]) -> io::Result<PathBuf> {
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
        }
        _ => path.to_owned(),
    };
    let existing = match fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::other("it is a directory"));
        }
        Ok(meta) if meta.is_file() => Some(meta.permissions()),
        Ok(_) => {
            // A device, FIFO or socket (`/dev/stdout`, `/dev/full`, a pipe
            // to another program) is a stream, not a file to replace:
            // renaming over it would put a regular file in place of the
            // device. Write to it as it is.
            let mut stream = OpenOptions::new().write(true).open(&target)?;
            stream.write_all(contents)?;
            stream.flush()?;
            return Ok(target);
        }
        Err(_) => None,
    };
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "it names no file"))?;
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let (mut file, temporary) = create_temporary(&dir, &name.to_string_lossy())?;
    if let Some(permissions) = existing {
        file.set_permissions(permissions)?;
    }
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary.path, &target)?;
    let mut temporary = temporary;
    temporary.done = true;
    // Make the rename itself durable. Some file systems refuse to sync a
    // directory; the file is complete and in place either way.
    if let Ok(dir) = File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(target)
}

fn create_temporary(dir: &Path, name: &str) -> io::Result<(File, Temporary)> {
    let pid = std::process::id();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{name}.rusts-cluster-{pid}-{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, Temporary { path, done: false })),
            // Left by a killed run with the same process id: try the next.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rusts-cli-atomic-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_nothing_else() {
        let dir = scratch("replace");
        let target = dir.join("c.toml");
        fs::write(&target, "old").unwrap();
        assert_eq!(write(&target, b"new").unwrap(), target);
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(entries(&dir), ["c.toml"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_and_follows_links() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = scratch("links");
        let real = dir.join("real.toml");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.join("link.toml");
        symlink(&real, &link).unwrap();
        let written = write(&link, b"new").unwrap();
        assert_eq!(written, fs::canonicalize(&real).unwrap());
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&link).unwrap(), "new");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = scratch("fail");
        let sub = dir.join("sub");
        fs::create_dir(&sub).unwrap();
        let err = write(&sub, b"x").unwrap_err();
        assert_eq!(err.to_string(), "it is a directory");
        assert!(write(&dir.join("missing/c.toml"), b"x").is_err());
        assert_eq!(entries(&dir), ["sub"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_are_written_not_replaced() {
        // /dev/full stays the device (renaming over it would need root and
        // would replace the device with a file); the write fails as the
        // device says.
        let err = write(Path::new("/dev/full"), b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "{err}");
        assert!(!fs::metadata("/dev/full").unwrap().is_file());
        assert_eq!(
            write(Path::new("/dev/null"), b"x").unwrap(),
            Path::new("/dev/null")
        );
    }
}
