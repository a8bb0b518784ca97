use std::path::PathBuf;

/// Errors of the data layer. Messages name the file (and line where there is one).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV problem at a place in a file.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A problem with a file as a whole.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An invalid argument or setting.
    #[error("{0}")]
    Invalid(String),
    /// An image could not be read.
    #[error(transparent)]
    Image(#[from] imaging::ImageError),
}

impl From<store::StoreError> for DataError {
    fn from(e: store::StoreError) -> Self {
        DataError::Io {
            path: e.path,
            source: e.source,
        }
    }
}
