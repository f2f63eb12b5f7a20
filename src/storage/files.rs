//! The file operations of the models folder, in one place so that every one of them refuses
//! what an attacker or a careless user could plant there: files are opened without following
//! symlinks and without blocking on a FIFO, and only regular files are read; temporary files are
//! created exclusively under unpredictable names; a rename replaces a planted symlink instead of
//! writing through it.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use tempfile::{NamedTempFile, TempPath};

/// In the name of every temporary file, after a leading `.` and the name of the file it will
/// become: [`super::FolderRepository::open`] removes files with this marker left by a crash.
pub const TEMP_MARKER: &str = ".tmp-";

/// Random characters in a temporary file's name.
const TEMP_RANDOM_CHARS: usize = 16;

/// Which bytes a file held: a rename puts a new inode in place, and a file rewritten in place
/// changes its time or length, so an unchanged version means unchanged bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileVersion {
    dev: u64,
    ino: u64,
    modified_ns: i128,
    len: u64,
}

impl FileVersion {
    pub fn of(metadata: &Metadata) -> FileVersion {
        FileVersion {
            dev: metadata.dev(),
            ino: metadata.ino(),
            modified_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            len: metadata.len(),
        }
    }

    /// The version as short text, for what is keyed by it (a picture's `ETag`).
    pub fn tag(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.dev, self.ino, self.modified_ns, self.len
        )
    }
}

/// How a path failed to open as a regular file.
#[derive(Debug)]
pub enum OpenError {
    Missing,
    /// A symlink, FIFO, device, socket or folder.
    NotRegular,
    Io(io::Error),
}

/// Opens `path` for reading without following a symlink (`O_NOFOLLOW`) and without waiting
/// for a writer on a FIFO (`O_NONBLOCK`), then refuses anything but a regular file. The
/// metadata comes from the open file, so it describes the bytes read.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), OpenError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|err| match err.raw_os_error() {
            _ if err.kind() == io::ErrorKind::NotFound => OpenError::Missing,
            Some(libc::ELOOP) | Some(libc::ENXIO) => OpenError::NotRegular,
            _ => OpenError::Io(err),
        })?;
    let metadata = file.metadata().map_err(OpenError::Io)?;
    if !metadata.is_file() {
        return Err(OpenError::NotRegular);
    }
    Ok((file, metadata))
}

/// The metadata of `path` itself, not of what a symlink there points to; `None` when absent.
pub fn regular_metadata(path: &Path) -> Result<Option<Metadata>, OpenError> {
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(Some(metadata)),
        Ok(_) => Err(OpenError::NotRegular),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(OpenError::Io(err)),
    }
}

/// Reads what remains of `file`, whose length is `len`, without growing the buffer twice.
pub fn read_rest(file: &mut File, mut bytes: Vec<u8>, len: u64) -> io::Result<Vec<u8>> {
    bytes.reserve_exact(
        usize::try_from(len)
            .unwrap_or(0)
            .saturating_sub(bytes.len()),
    );
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to a new file in `dir` named `.{file_name}.tmp-` and 16 random characters,
/// created exclusively (a planted file or symlink at that name makes another name be drawn),
/// and flushed to disk. The file is removed when the returned path is dropped, unless kept.
pub fn write_temp(dir: &Path, file_name: &str, bytes: &[u8]) -> io::Result<TempPath> {
    let mut file = create_temp(dir, file_name)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    Ok(file.into_temp_path())
}

/// A new empty file in `dir` named `.{file_name}.tmp-` and 16 random characters, created
/// exclusively; removed when dropped, unless kept.
pub fn create_temp(dir: &Path, file_name: &str) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!(".{file_name}{TEMP_MARKER}"))
        .rand_bytes(TEMP_RANDOM_CHARS)
        .tempfile_in(dir)
}

/// Writes `bytes` to a temporary file beside `path` ([`write_temp`]), renames it over `path`
/// and flushes the folder: readers see the old file or the new, never a torn one, and a symlink
/// planted at `path` is replaced, not written through.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = write_temp(dir, &file_name, bytes)?;
    temp.persist(path).map_err(|err| err.error)?;
    sync_dir(dir)
}

/// Flushes a folder's entries, so that a rename or removal in it survives a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes `path`; a missing file is no error.
pub fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}
