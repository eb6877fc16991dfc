//! Errors as `anyhow` prints them, the convention of every public error type of the crate:
//! `{}` prints the error's own message, `{:#}` follows it with the messages of its causes (its
//! [`source`](std::error::Error::source) chain), joined by `": "`, each with the passwords of
//! URLs [masked](crate::base::redact::redact).

use std::error::Error;
use std::fmt::{self, Write};

use crate::base::redact::redact;

/// Writes an error: its own message, written by `message`; with `{:#}`, then its causes,
/// `source` first. An error's `Display` is this, given its message and its `source()`.
pub(crate) fn fmt(
    f: &mut fmt::Formatter<'_>,
    message: impl FnOnce(&mut fmt::Formatter<'_>) -> fmt::Result,
    source: Option<&(dyn Error + 'static)>,
) -> fmt::Result {
    message(f)?;
    if f.alternate() {
        write_causes(f, source)?;
    }
    Ok(())
}

/// Any error and its causes, as `{:#}` prints them, masked: for the status and the logs.
pub(crate) fn text(error: &(dyn Error + 'static)) -> String {
    let mut text = redact(&error.to_string()).into_owned();
    // Writing to a `String` does not fail.
    let _ = write_causes(&mut text, error.source());
    text
}

/// `": cause"` for `cause` and each of its own causes, masked.
fn write_causes(out: &mut dyn Write, mut cause: Option<&(dyn Error + 'static)>) -> fmt::Result {
    while let Some(error) = cause {
        out.write_str(": ")?;
        out.write_str(&redact(&error.to_string()))?;
        cause = error.source();
    }
    Ok(())
}
