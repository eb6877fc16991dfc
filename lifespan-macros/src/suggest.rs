//! "Did you mean" suggestions, shared by every message that offers one. Depends on no other
//! module of the crate.

/// The candidate that `given` is most likely a typo of: the one at the smallest edit distance,
/// if it is within a third of the longer word's length (at least 1).
pub(crate) fn did_you_mean<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(given, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(given.len()) / 3).max(1))
        .min()
        .map(|(_, candidate)| candidate)
}

/// Appends `` (did you mean `suggestion`?)`` to `message`, if there is a suggestion.
pub(crate) fn append(message: &mut String, suggestion: Option<&str>) {
    if let Some(suggestion) = suggestion {
        message.push_str(&format!(" (did you mean `{suggestion}`?)"));
    }
}

/// Levenshtein distance: the insertions, deletions and substitutions that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{append, did_you_mean, edit_distance};

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("foo", "foo"), 0);
        assert_eq!(edit_distance("fo", "foo"), 1);
        assert_eq!(edit_distance("bar", "baz"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_the_closest_candidate() {
        let options = ["restart", "backoff", "max_restarts", "within", "every"];
        assert_eq!(did_you_mean("restrat", &options), Some("restart"));
        assert_eq!(did_you_mean("evry", &options), Some("every"));
        assert_eq!(did_you_mean("max_restart", &options), Some("max_restarts"));
        assert_eq!(
            did_you_mean("on_falure", &["never", "on_failure", "always"]),
            Some("on_failure")
        );
    }

    #[test]
    fn suggests_nothing_too_far_off() {
        assert_eq!(did_you_mean("timeout", &["restart", "every"]), None);
        assert_eq!(did_you_mean("ab", &["xyz"]), None);
        assert_eq!(did_you_mean("anything", &[]), None);
    }

    #[test]
    fn a_short_word_allows_one_edit() {
        assert_eq!(did_you_mean("fo", &["foo"]), Some("foo"));
        assert_eq!(did_you_mean("f", &["foo"]), None);
    }

    #[test]
    fn a_tie_goes_to_the_first_alphabetically() {
        assert_eq!(did_you_mean("bat", &["baz", "bar"]), Some("bar"));
    }

    #[test]
    fn appends_the_suggestion_only_if_there_is_one() {
        let mut message = String::from("unknown option `evry`");
        append(&mut message, None);
        assert_eq!(message, "unknown option `evry`");
        append(&mut message, Some("every"));
        assert_eq!(message, "unknown option `evry` (did you mean `every`?)");
    }
}
