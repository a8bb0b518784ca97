use std::path::{Path, PathBuf};

/// Why an image could not be read. Messages are one line, fit for a user.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not a DICOM, PNG or PGM file.
    #[error("not a recognised image (expected DICOM, PNG or PGM)")]
    Unrecognized,
    /// The header claims a size no mammogram has; refused before allocation.
    #[error("image size {width}x{height} is beyond the supported limit")]
    TooLarge {
        /// Claimed columns.
        width: usize,
        /// Claimed rows.
        height: usize,
    },
    /// The file ends before its pixel data does.
    #[error("truncated: {0}")]
    Truncated(String),
    /// The file is of a kind or encoding this tool does not decode.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The content is malformed.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A failure on a named file (wraps one of the above).
    #[error("{path}: {inner}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        inner: Box<ImageError>,
    },
}

impl ImageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        ImageError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Attaches the file name to an error that lacks one.
    pub fn with_path(self, path: &Path) -> Self {
        match self {
            e @ (ImageError::Io { .. } | ImageError::File { .. }) => e,
            e => ImageError::File {
                path: path.to_path_buf(),
                inner: Box::new(e),
            },
        }
    }
}

impl From<store::StoreError> for ImageError {
    fn from(e: store::StoreError) -> Self {
        ImageError::Io {
            path: e.path,
            source: e.source,
        }
    }
}
