//! [`PluginError`]: the error a plugin's own code returns, and the conversions that let
//! a handler `?` the host's errors. A leaf: it depends on nothing else in the crate.

use std::fmt;

/// An error returned by a plugin's own code.
///
/// ```
/// let error = patchpanel::PluginError::new("the cache directory is read-only");
/// assert_eq!(error.to_string(), "the cache directory is read-only");
/// ```
///
/// Guide: [failure handling](crate::guide::failures).
#[derive(Debug)]
pub struct PluginError(Box<ErrorInner>);

/// Boxed so that a handler's `Result<T, PluginError>` is small enough to come back in
/// registers on the dispatch path; errors pay the allocation instead.
#[derive(Debug)]
struct ErrorInner {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// The error stands for its source: `message` is the source's message, and the
    /// cause chain continues at the source's own source, so nothing is printed twice.
    transparent: bool,
}

impl PluginError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> PluginError {
        PluginError(Box::new(ErrorInner {
            message: message.into(),
            source: None,
            transparent: false,
        }))
    }

    /// An error that wraps another, keeping it as the source.
    pub fn wrap(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> PluginError {
        PluginError(Box::new(ErrorInner {
            message: message.into(),
            source: Some(Box::new(source)),
            transparent: false,
        }))
    }

    /// An error that stands for another, as `?` makes one from a host error: the same
    /// message and the same cause chain, with the original kept for
    /// [`wrapped`](PluginError::wrapped).
    ///
    /// ```
    /// use std::error::Error;
    ///
    /// let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    /// let error = patchpanel::PluginError::transparent(io);
    /// assert_eq!(error.to_string(), "no such file");
    /// assert!(error.source().is_none());
    /// assert!(error.wrapped().unwrap().is::<std::io::Error>());
    /// ```
    pub fn transparent(error: impl std::error::Error + Send + Sync + 'static) -> PluginError {
        PluginError(Box::new(ErrorInner {
            message: error.to_string(),
            source: Some(Box::new(error)),
            transparent: true,
        }))
    }

    /// The message, without the cause chain.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The error this one wraps or stands for, to downcast to the host error it came
    /// from (`error.wrapped()?.downcast_ref::<StorageError>()`).
    pub fn wrapped(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.0.source.as_deref()
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for PluginError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.0.source.as_deref()?;
        if self.0.transparent {
            source.source()
        } else {
            Some(source as &(dyn std::error::Error + 'static))
        }
    }
}

/// `error`'s message followed by each of its causes, `outer: inner: innermost`, for
/// records that keep only text (incidents, failure reasons, the audit log).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // A wrapper that already prints its cause (`{source}` in its message) would
        // print it twice.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// `From<E> for PluginError` for host errors, so that a handler can `?` them. The
/// conversion is [`PluginError::transparent`]: the message and cause chain are kept.
macro_rules! plugin_error_from {
    ($($error:ty),* $(,)?) => {
        $(
            impl From<$error> for $crate::error::PluginError {
                fn from(error: $error) -> $crate::error::PluginError {
                    $crate::error::PluginError::transparent(error)
                }
            }
        )*
    };
}
pub(crate) use plugin_error_from;

impl From<String> for PluginError {
    fn from(message: String) -> PluginError {
        PluginError::new(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> PluginError {
        PluginError::new(message)
    }
}
