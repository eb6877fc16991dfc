//! The values of options: strings, flags, restart policies, durations, counts, each checked
//! and reported at the value.

use super::*;

/// The expression inside the invisible group that a `macro_rules!` `$value:expr` makes.
pub(super) fn unwrap_group(value: Expr) -> Expr {
    match value {
        Expr::Group(group) => unwrap_group(*group.expr),
        value => value,
    }
}

pub(super) fn string(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(lit), ..
        }) => Some(lit),
        _ => None,
    }
}

pub(super) fn boolean(value: &Expr) -> Option<bool> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(lit),
            ..
        }) => Some(lit.value),
        _ => None,
    }
}

/// A single identifier: `on_failure`.
pub(super) fn ident(value: &Expr) -> Option<&Ident> {
    match value {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => path.path.get_ident(),
        _ => None,
    }
}

/// One of the `policies` of `key`: `restart = on_failure`, or `restart = "on_failure"`;
/// `overlap = allow`; `misfire = latest`.
pub(super) fn policy<P: Copy>(
    errors: &mut Errors,
    key: Key,
    policies: &[(&'static str, P)],
    value: &Expr,
) -> Option<P> {
    let (written, span) = match (ident(value), string(value)) {
        (Some(ident), _) => (ident.unraw().to_string(), ident.span()),
        (None, Some(lit)) => (lit.value(), lit.span()),
        (None, None) => {
            errors.error(value.span(), key.wrong_value());
            return None;
        }
    };
    if let Some(&(_, policy)) = policies.iter().find(|(known, _)| *known == written) {
        return Some(policy);
    }
    let known: Vec<&str> = policies.iter().map(|(known, _)| *known).collect();
    let mut message = format!(
        "unknown {} policy `{written}`; the policies are {}",
        key.name(),
        listed(&known)
    );
    suggest::append(&mut message, suggest::did_you_mean(&written, &known));
    errors.error(span, message);
    None
}

/// "`never`, `on_failure` and `always`"
pub(super) fn listed(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// A duration, as a string; reported at the value and `None` if it is not one.
pub(super) fn duration_of(errors: &mut Errors, key: Key, value: &Expr) -> Option<(LitStr, u64)> {
    let Some(lit) = string(value) else {
        let message = match value {
            // `every = 5s` lexes as an integer with a suffix.
            Expr::Lit(syn::ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) if !lit_suffix(lit).is_empty() => {
                let text = quote::ToTokens::to_token_stream(lit).to_string();
                format!(
                    "write the duration `{text}` as a string: `{} = \"{text}\"`",
                    key.name()
                )
            }
            _ => key.wrong_value(),
        };
        errors.error(value.span(), message);
        return None;
    };
    match duration::parse(&lit.value()) {
        Ok(nanos) => Some((lit.clone(), nanos)),
        Err(message) => {
            errors.error(lit.span(), message);
            None
        }
    }
}

pub(super) fn lit_suffix(lit: &Lit) -> &str {
    match lit {
        Lit::Int(lit) => lit.suffix(),
        Lit::Float(lit) => lit.suffix(),
        _ => "",
    }
}

/// `every`, `within`, the lease settings and `hold`: a duration longer than zero.
pub(super) fn positive_duration(errors: &mut Errors, key: Key, value: &Expr) -> Option<u64> {
    let (lit, nanos) = duration_of(errors, key, value)?;
    if nanos == 0 {
        errors.error(
            lit.span(),
            format!("`{}` must be longer than zero", key.name()),
        );
        return None;
    }
    Some(nanos)
}

/// `backoff = "100ms..30s"`, or `backoff = "5s"` for a constant delay.
pub(super) fn backoff(errors: &mut Errors, value: &Expr) -> Option<(u64, u64)> {
    let Some(lit) = string(value) else {
        // The wrong form, reported as for any duration.
        duration_of(errors, Key::Backoff, value);
        return None;
    };
    let text = lit.value();
    let (first, longest) = text.split_once("..").unwrap_or((&text, &text));
    let parsed = |errors: &mut Errors, text: &str| match duration::parse(text) {
        Ok(nanos) => Some(nanos),
        Err(message) => {
            errors.error(lit.span(), message);
            None
        }
    };
    let start = parsed(errors, first);
    let cap = parsed(errors, longest);
    let (start, cap) = (start?, cap?);
    if start == 0 {
        errors.error(
            lit.span(),
            "the first delay of `backoff` must be longer than zero",
        );
        return None;
    }
    if start > cap {
        let (first, longest) = (first.trim(), longest.trim());
        errors.error(
            lit.span(),
            format!("`backoff` starts at `{first}`, longer than its longest delay `{longest}`: write the shorter delay first, as in `backoff = \"{longest}..{first}\"`"),
        );
        return None;
    }
    Some((start, cap))
}

/// `max_restarts = 5`, `misfire_limit = 5`: from 1 to `u32::MAX`.
pub(super) fn count(errors: &mut Errors, key: Key, value: &Expr) -> Option<u32> {
    let lit = match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(lit), ..
        }) if lit.suffix().is_empty() => lit,
        _ => {
            errors.error(value.span(), key.wrong_value());
            return None;
        }
    };
    match lit.base10_parse::<u128>() {
        Ok(0) => errors.error(
            lit.span(),
            match key {
                Key::MisfireLimit => super::rules::MISFIRE_LIMIT_ZERO,
                _ => "`max_restarts` must be at least 1; for no restarts, leave `restart` out",
            },
        ),
        Ok(max) => match u32::try_from(max) {
            Ok(max) => return Some(max),
            Err(_) => errors.error(
                lit.span(),
                format!("`{}` must be at most {}", key.name(), u32::MAX),
            ),
        },
        Err(error) => errors.push(error),
    }
    None
}
