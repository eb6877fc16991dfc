//! Masking the credentials of URLs in the texts the library logs, records and serves: error
//! messages quote connection strings (`postgres://admin:hunter2@db.internal:5432/prod`) more
//! often than not.

use std::borrow::Cow;

/// What a masked password reads as.
const MASK: &str = "***";

/// `text` with the password of every URL masked: `scheme://user:password@host` becomes
/// `scheme://user:***@host`, and `scheme://:password@host` becomes `scheme://:***@host`.
///
/// A URL is recognised by its `scheme://`, and runs to the first whitespace, control character,
/// quote or angle bracket. Its credentials are a user name (no `/`, `?`, `#`, `@` or `:`), a
/// `:`, and a password that runs to the last `@` of the URL: so a password holding `/`, `?`,
/// `#`, `:` or `@` that was not percent-encoded (`audit:12345/S3cretPw@host`, which a URL
/// parser reads as a host and a path) is masked whole. The price is that an `@` in a path or a
/// query after a `:` that looks like a port (`https://host:8080/users/@me`) masks what stands
/// between them: a leak would cost more. `user:password@host` without a scheme is left alone, as
/// is an `@` in a path when no `:` precedes it (`https://host/users/@me?q=a:b@c`). A user name
/// without a password is kept. Borrows `text` when nothing is masked; never panics: it only
/// cuts `text` at ASCII characters, which are always on a character boundary.
///
/// The library masks what it logs, records and serves with it; a coordinator or an app can
/// mask its own texts the same way.
///
/// ```
/// assert_eq!(
///     lifespan_core::redact("connecting to postgres://app:12345/S3cret@db:5432/prod: refused"),
///     "connecting to postgres://app:***@db:5432/prod: refused"
/// );
/// ```
pub fn redact(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut masked: Option<String> = None;
    // Everything before `copied` is in `masked` already.
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = find(&bytes[from..], b"://") {
        let separator = from + found;
        let authority = separator + 3;
        let end = authority
            + bytes[authority..]
                .iter()
                .position(|&b| ends_url(b))
                .unwrap_or(bytes.len() - authority);
        from = authority;
        if !has_scheme(&bytes[..separator]) {
            continue;
        }
        let Some(password) = password(&bytes[authority..end]) else {
            continue;
        };
        let (start, stop) = (authority + password.0, authority + password.1);
        if &text[start..stop] == MASK {
            continue;
        }
        let out = masked.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = stop;
        // A `://` within the password is part of it, not another URL.
        from = stop;
    }
    match masked {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Whether a URL ends before `byte`.
fn ends_url(byte: u8) -> bool {
    matches!(byte, b'"' | b'\'' | b'`' | b'<' | b'>')
        || byte.is_ascii_whitespace()
        || byte.is_ascii_control()
}

/// Whether `before`, the text before a `://`, ends with a scheme: a letter then letters,
/// digits, `+`, `-` or `.` (`postgres`, `git+ssh`).
fn has_scheme(before: &[u8]) -> bool {
    let scheme_len = before
        .iter()
        .rev()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        .count();
    before[before.len() - scheme_len..]
        .iter()
        .any(u8::is_ascii_alphabetic)
}

/// The password's span within `url`, the URL after its `scheme://`
/// (`user:password@host:port/path`): from after the first `:`, if only a user name precedes
/// it, to the last `@`. `None` without credentials or password.
fn password(url: &[u8]) -> Option<(usize, usize)> {
    let colon = url.iter().position(|&b| b == b':')?;
    if url[..colon]
        .iter()
        .any(|&b| matches!(b, b'/' | b'?' | b'#' | b'@'))
    {
        return None;
    }
    let at = url.iter().rposition(|&b| b == b'@')?;
    (colon + 1 < at).then_some((colon + 1, at))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::thread::ThreadId;
    use std::time::{Duration, Instant};

    use super::*;

    /// The longest one call of [`redact`] may take in these tests: microseconds are its due.
    const CALL_LIMIT: Duration = Duration::from_secs(10);

    /// The calls in flight, by thread, and when each began.
    static IN_FLIGHT: Mutex<Option<HashMap<ThreadId, Instant>>> = Mutex::new(None);

    /// [`redact`], watched: a call that never returns (a loop that does not advance) cannot be
    /// stopped from its own thread, so a watchdog thread ends the process, with a message, once
    /// a call has run for [`CALL_LIMIT`], rather than let the test binary spin for ever.
    fn guarded(text: &str) -> Cow<'_, str> {
        static WATCHDOG: OnceLock<()> = OnceLock::new();
        WATCHDOG.get_or_init(|| {
            std::thread::spawn(|| loop {
                std::thread::sleep(Duration::from_millis(100));
                let in_flight = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
                let stuck = in_flight
                    .iter()
                    .flatten()
                    .any(|(_, began)| began.elapsed() > CALL_LIMIT);
                if stuck {
                    eprintln!(
                        "a call of redact ran for over {CALL_LIMIT:?}: a loop that never ends"
                    );
                    std::process::abort();
                }
            });
        });
        let me = std::thread::current().id();
        let begin = |map: &mut Option<HashMap<ThreadId, Instant>>| {
            map.get_or_insert_with(HashMap::new)
                .insert(me, Instant::now());
        };
        begin(&mut IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()));
        let out = redact(text);
        if let Some(map) = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            map.remove(&me);
        }
        out
    }

    fn masked(text: &str) -> String {
        guarded(text).into_owned()
    }

    #[test]
    fn masks_the_password_of_a_url_and_keeps_the_rest() {
        assert_eq!(
            masked("connecting to postgres://admin:hunter2@db.internal:5432/prod: password authentication failed"),
            "connecting to postgres://admin:***@db.internal:5432/prod: password authentication failed"
        );
        assert_eq!(masked("redis://:pw@cache:6379"), "redis://:***@cache:6379");
        assert_eq!(masked("a://b:c@"), "a://b:***@");
        assert_eq!(masked("git+ssh://me:s3cret@host"), "git+ssh://me:***@host");
        assert_eq!(masked("(amqp://u:p@mq)"), "(amqp://u:***@mq)");
    }

    #[test]
    fn masks_every_url_and_a_password_holding_colons_or_at_signs() {
        assert_eq!(
            masked("primary postgres://a:x@h1/db, replica postgres://b:y@h2/db"),
            "primary postgres://a:***@h1/db, replica postgres://b:***@h2/db"
        );
        assert_eq!(masked("mysql://u:p:a@ss@h"), "mysql://u:***@h");
        assert_eq!(
            masked("proxy http://h/?to=https://u:p@inner"),
            "proxy http://h/?to=https://u:***@inner"
        );
        assert_eq!(masked("a://b://c:d@e"), "a://b:***@e");
        assert_eq!(masked("\"s3://k:v@bucket\""), "\"s3://k:***@bucket\"");
        assert_eq!(masked("dé db://ü:ö@ä"), "dé db://ü:***@ä");
    }

    /// A password that was not percent-encoded, holding what ends an authority: a URL parser
    /// reads `audit:12345` as a host and port, and the rest as a path, but the password is
    /// still masked whole.
    #[test]
    fn masks_a_password_holding_slashes_question_marks_hashes_or_at_signs() {
        assert_eq!(
            masked("PostgreSQL at postgres://audit:12345/S3cretPw@127.0.0.1:5432/db failed"),
            "PostgreSQL at postgres://audit:***@127.0.0.1:5432/db failed"
        );
        assert_eq!(masked("redis://:a?b#c@cache/0"), "redis://:***@cache/0");
        assert_eq!(masked("pg://u:p@ss/w?rd@h:1/d?x=1"), "pg://u:***@h:1/d?x=1");
        assert_eq!(
            masked("pg://u:p/a@h pg://v:q#b@i"),
            "pg://u:***@h pg://v:***@i"
        );
        // An `@` in a path after something that looks like a port: masked, as it could be a
        // password.
        assert_eq!(masked("https://host:8080/users/@me"), "https://host:***@me");
    }

    #[test]
    fn leaves_alone_what_holds_no_password_and_borrows_it() {
        for text in [
            "",
            "no url here",
            "user:pw@host without a scheme",
            "://@",
            "://u:p@h",
            "1://u:p@h",
            "https://example.com/users/@me?q=a:b@c#x:y@z",
            "ssh://git@github.com/owner/repo",
            "a://b:@host",
            "postgres://admin:***@db/prod",
            "https://example.com:8080 and u:p@h",
            "Authorization: Bearer sk_live_123",
            "ünïcödé :// @ : / ?",
            "é://ü:ö@ä",
        ] {
            assert!(
                matches!(guarded(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    /// Every string of up to 6 characters from an alphabet of the characters that matter, and
    /// a multi-byte one: no panic, borrowed when unchanged, masked text masked again unchanged,
    /// and what is outside a mask kept.
    #[test]
    fn every_short_string_is_handled() {
        const ALPHABET: [char; 8] = ['a', ':', '/', '@', 'é', ' ', '?', '*'];
        let mut text = String::new();
        let mut digits = Vec::new();
        loop {
            text.clear();
            text.extend(digits.iter().map(|&d: &usize| ALPHABET[d]));
            check(&text);
            // The next combination, counting in base 8, one digit longer after the last.
            match digits.iter().rposition(|&d| d + 1 < ALPHABET.len()) {
                Some(i) => {
                    digits[i] += 1;
                    digits[i + 1..].fill(0);
                }
                None if digits.len() < 6 => digits = vec![0; digits.len() + 1],
                None => break,
            }
        }
    }

    fn check(text: &str) {
        let once = guarded(text);
        if let Cow::Owned(out) = &once {
            assert_ne!(out, text, "allocated for nothing: {text:?}");
            assert!(out.contains(MASK), "{text:?} -> {out:?}");
        }
        assert!(
            matches!(guarded(&once), Cow::Borrowed(_)),
            "masking {text:?} twice changed it again: {once:?}"
        );
        if !text.contains("://") {
            assert!(matches!(once, Cow::Borrowed(_)), "{text:?}");
        }
    }

    /// Arbitrary texts around a URL with credentials, and arbitrary strings of any characters.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_string_is_handled(text in any::<String>()) {
                check(&text);
            }

            #[test]
            fn any_string_of_url_characters_is_handled(text in "[a-z0-9:/@?#*. \n\"é\x00]{0,40}") {
                check(&text);
            }

            #[test]
            fn a_password_in_any_text_is_masked(
                before in "([^:/@]{0,12}[ \n(=])?",
                scheme in "[a-zA-Z][a-zA-Z0-9+.-]{0,8}",
                user in "[a-zA-Z0-9_.%é-]{0,8}",
                password in "[^/?#@\"'`<>\\s\\x00-\\x1f\\x7f]{1,12}",
                host in "[a-z0-9.-]{0,12}(:[0-9]{1,5})?",
                // No `@` in the path: one there would be taken for the end of a password.
                after in "(/[^ @]{0,8})?( .{0,12})?",
            ) {
                let url = format!("{scheme}://{user}:{password}@{host}");
                let text = format!("{before}{url}{after}");
                let out = masked(&text);
                let expected = format!("{before}{scheme}://{user}:***@{host}{after}");
                prop_assert_eq!(out, expected);
            }

            /// A password of any characters a URL can hold unencoded (`/`, `?`, `#`, `@`, `:`
            /// among them) never appears in the masked text.
            #[test]
            fn a_password_holding_any_url_character_is_masked(
                before in "([^:/@]{0,12}[ \n(=])?",
                scheme in "[a-zA-Z][a-zA-Z0-9+.-]{0,8}",
                user in "[a-zA-Z0-9_.%é-]{0,8}",
                password in "[^\"'`<>\\s\\x00-\\x1f\\x7f]{0,4}[/?#@:][^\"'`<>\\s\\x00-\\x1f\\x7f]{0,8}",
                host in "[a-z0-9.-]{1,12}(:[0-9]{1,5})?",
                after in "([/?#][^ @]{0,8})?( [^@]{0,12})?",
            ) {
                let text = format!("{before}{scheme}://{user}:{password}@{host}{after}");
                let out = masked(&text);
                let expected = format!("{before}{scheme}://{user}:***@{host}{after}");
                prop_assert_eq!(out, expected);
            }
        }
    }
}
