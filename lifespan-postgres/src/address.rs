//! The database's URL: parsed with a URL parser before the driver sees it, so that what the
//! coordinator describes, and what the driver logs, never holds a password.

use lifespan_core::CoordinatorError;
use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use url::Url;

/// The query parameters the driver understands (and `options[name]`): any other is dropped
/// with a warning that names it, since the driver's own warning would print its value too.
const PARAMETERS: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The connection options of `url`. Fails, without quoting `url`, if it is not a URL, or if
/// an `@` follows its host: the sign of a password holding `/`, `?` or `#` that was not
/// percent-encoded, whose end a parser takes for the host, the path or the query.
pub(crate) fn parse(url: &str) -> Result<PgConnectOptions, CoordinatorError> {
    let what = "parsing the PostgreSQL URL";
    let mut parsed = Url::parse(url).map_err(|error| CoordinatorError::new(what, error))?;
    let after_host = [
        parsed.host_str(),
        Some(parsed.path()),
        parsed.query(),
        parsed.fragment(),
    ];
    if after_host
        .into_iter()
        .flatten()
        .any(|part| part.contains('@'))
    {
        return Err(CoordinatorError::msg(format!(
            "{what}: an `@` follows its host; a password holding `/`, `?`, `#` or `@` must be \
             percent-encoded (`%2F`, `%3F`, `%23`, `%40`)"
        )));
    }
    drop_unknown_parameters(&mut parsed);
    PgConnectOptions::from_url(&parsed).map_err(|error| CoordinatorError::new(what, error))
}

/// Removes the query parameters the driver does not know, each with a warning naming it (and
/// not its value, which the driver's warning prints).
fn drop_unknown_parameters(url: &mut Url) {
    let known = |key: &str| {
        PARAMETERS.contains(&key) || (key.starts_with("options[") && key.ends_with(']'))
    };
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if pairs.iter().all(|(key, _)| known(key)) {
        return;
    }
    let mut kept = Vec::new();
    for (key, value) in pairs {
        if known(&key) {
            kept.push((key, value));
        } else {
            tracing::warn!(parameter = %key, "ignoring an unknown parameter of the PostgreSQL URL");
        }
    }
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// `PostgreSQL at host:port/database`: never the user or the password.
pub(crate) fn describe(options: &PgConnectOptions) -> String {
    let host = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => options.get_host().to_owned(),
    };
    let port = options.get_port();
    match options.get_database() {
        Some(database) => format!("PostgreSQL at {host}:{port}/{database}"),
        None => format!("PostgreSQL at {host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use lifespan_core::Coordinator;
    use lifespan_test_support::{chain, CapturedLogs};

    use crate::PgCoordinator;

    /// The text of everything `new` answers and logs.
    fn everything_shown(url: &str) -> String {
        let logs = CapturedLogs::default();
        let answer =
            tracing::subscriber::with_default(logs.subscriber(), || PgCoordinator::new(url));
        let shown = match &answer {
            Ok(coordinator) => format!("{} {coordinator:?}", coordinator.describe()),
            Err(error) => format!("{} {error:?} {}", chain(error), error),
        };
        format!("{shown} {}", logs.lines().join("\n"))
    }

    #[test]
    fn a_password_holding_what_ends_a_host_is_never_shown_or_logged() {
        for url in [
            "postgres://audit:12345/S3cretPw@127.0.0.1:5432/db",
            "postgres://audit:12345?key=S3cretPw@127.0.0.1:5432/db",
            "postgres://audit:12345?S3cretPw@127.0.0.1:5432/db",
            "postgres://audit:12345#S3cretPw@127.0.0.1:5432/db",
            "postgres://audit:12345/x?a=S3cretPw@127.0.0.1:5432/db",
            "postgres://audit:S3cretPw/@127.0.0.1:5432/db",
            "postgres://audit:S3cretPw?@127.0.0.1:5432/db",
            "postgres://audit:1/S3cretPw@@127.0.0.1:5432/db",
        ] {
            let shown = everything_shown(url);
            assert!(!shown.contains("S3cretPw"), "{url}: {shown}");
        }
        let shown = everything_shown("postgres://audit:12345/S3cretPw@127.0.0.1:5432/db");
        assert!(
            shown.contains("parsing the PostgreSQL URL: an `@` follows its host"),
            "{shown}"
        );
    }

    #[test]
    fn an_unknown_parameter_is_dropped_with_a_warning_naming_only_it() {
        let logs = CapturedLogs::default();
        let coordinator = tracing::subscriber::with_default(logs.subscriber(), || {
            PgCoordinator::new("postgres://app@db:5432/x?sslmode=disable&api_key=S3cret&port=6000")
        })
        .unwrap();
        assert_eq!(coordinator.describe(), "PostgreSQL at db:6000/x");
        let lines = logs.lines();
        assert!(!lines.join("\n").contains("S3cret"), "{lines:?}");
        let warnings: Vec<&String> = lines.iter().filter(|l| l.starts_with("WARN")).collect();
        assert_eq!(
            warnings,
            ["WARN ignoring an unknown parameter of the PostgreSQL URL parameter=api_key"]
        );
    }

    #[test]
    fn a_percent_encoded_password_is_accepted() {
        let coordinator =
            PgCoordinator::new("postgres://audit:12345%2FS3cretPw%3F%23%40@127.0.0.1:5432/db")
                .unwrap();
        assert_eq!(coordinator.describe(), "PostgreSQL at 127.0.0.1:5432/db");
        assert!(!format!("{coordinator:?}").contains("S3cret"));
    }
}
