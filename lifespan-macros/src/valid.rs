//! Validation: checks the parsed attribute and function against the rules and builds the model
//! that expansion works from. Every mistake found is reported, not only the first.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, Ident, Pat, Path, ReturnType, Signature, Type};

use crate::ast::{Arg, Args, Errors, ItemFn, Kind, OptionArg};
use crate::options::{self, Options};
use crate::suggest;

/// What expansion needs, all of it checked.
pub(crate) struct Model {
    pub(crate) kind: Kind,
    /// The path to the runtime crate (`::lifespan_core` unless `crate = ...`).
    pub(crate) krate: Path,
    /// The function's identifier as written (possibly raw).
    pub(crate) ident: Ident,
    /// The function's name without `r#`, the last segment of its registered name.
    pub(crate) name: String,
    /// The function's `#[cfg]`s, which the registration must share.
    pub(crate) cfgs: Vec<Attribute>,
    pub(crate) params: Vec<Param>,
    /// Where a wrong return type is reported: the return type, or the name if there is none.
    pub(crate) output_span: Span,
    /// The options of `#[lifespan(...)]`.
    pub(crate) options: Options,
}

pub(crate) struct Param {
    /// The parameter's name, or `#n` for a pattern that is not a plain name.
    pub(crate) name: String,
    pub(crate) ty: Type,
    pub(crate) source: Source,
}

pub(crate) enum Source {
    /// A keyword argument: its key, for errors about it, and its value.
    Arg { key: Ident, value: Box<Expr> },
    /// Injected by type.
    Inject,
}

/// Checks the function and its arguments and options; every mistake is reported, in the order
/// of the signature, the parameters, the arguments, the yield point and the options.
pub(crate) fn validate(
    kind: Kind,
    args: Args,
    option_args: Vec<OptionArg>,
    item: &ItemFn,
) -> syn::Result<Model> {
    let mut errors = Errors::default();
    let sig = &item.sig;
    let name = sig.ident.unraw().to_string();

    check_signature(&mut errors, kind, &name, sig);
    let mut params = params(&mut errors, kind.noun(), &name, sig);
    bind_args(&mut errors, kind.noun(), &name, args.args, &mut params);
    check_yield(&mut errors, kind, &name, &sig.ident, &params);
    let param_names: Vec<&str> = params.iter().map(|param| param.name.as_str()).collect();
    let options = options::validate(&mut errors, kind, &name, &param_names, option_args);

    errors.finish()?;
    let krate = match args.krate {
        Some((_, path)) => path,
        None => syn::parse_quote!(::lifespan_core),
    };
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    Ok(Model {
        kind,
        krate,
        ident: sig.ident.clone(),
        name,
        cfgs: cfgs(item),
        params,
        output_span,
        options,
    })
}

/// Rejects the forms of function the app cannot call: not `async`, `const`, `unsafe`, `extern`,
/// generic, with a `where` clause, variadic.
fn check_signature(errors: &mut Errors, kind: Kind, name: &str, sig: &Signature) {
    let noun = kind.noun();
    if sig.asyncness.is_none() {
        errors.error(
            sig.fn_token.span,
            format!(
                "{} must be on an `async fn`: add `async` before `fn`",
                kind.attribute()
            ),
        );
    }
    if let Some(token) = &sig.constness {
        errors.error(
            token.span,
            format!("{noun} `{name}` cannot be a `const fn`"),
        );
    }
    if let Some(token) = &sig.unsafety {
        errors.error(
            token.span,
            format!("{noun} `{name}` cannot be `unsafe`: the app calls it outside of any `unsafe` block; make the function safe and use `unsafe` inside it"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.error(
            abi.span(),
            format!("{noun} `{name}` cannot have an `extern` ABI"),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.error(
            sig.generics.span(),
            format!("{noun} `{name}` cannot be generic: the app calls it once, with concrete types; remove the generic parameters"),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.error(
            where_clause.span(),
            format!(
                "{noun} `{name}` cannot have a `where` clause: its parameters have concrete types"
            ),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(
            variadic.span(),
            format!("{noun} `{name}` cannot be variadic"),
        );
    }
}

/// The parameters, each injected until an argument is bound to it; rejects `self` and the types
/// that nothing can satisfy.
fn params(errors: &mut Errors, noun: &str, name: &str, sig: &Signature) -> Vec<Param> {
    let mut params = Vec::with_capacity(sig.inputs.len());
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => errors.error(
                receiver.span(),
                format!("{noun} `{name}` cannot take `self`: it must be a free function; move it out of the `impl` block"),
            ),
            FnArg::Typed(typed) => {
                let param_name = match &*typed.pat {
                    Pat::Ident(pat) => pat.ident.unraw().to_string(),
                    _ => format!("#{}", index + 1),
                };
                check_type(errors, noun, name, &param_name, &typed.ty);
                params.push(Param { name: param_name, ty: (*typed.ty).clone(), source: Source::Inject });
            }
        }
    }
    params
}

/// Binds each keyword argument to the parameter of its name; rejects one given twice or naming
/// no parameter.
fn bind_args(errors: &mut Errors, noun: &str, name: &str, args: Vec<Arg>, params: &mut [Param]) {
    for arg in args {
        let key = arg.key.unraw().to_string();
        match params.iter_mut().find(|param| param.name == key) {
            Some(param) if matches!(param.source, Source::Arg { .. }) => errors.error(
                arg.key.span(),
                format!("argument `{key}` of {noun} `{name}` is given twice"),
            ),
            Some(param) => {
                param.source = Source::Arg {
                    key: arg.key,
                    value: Box::new(arg.value),
                };
            }
            None => errors.error(arg.key.span(), unknown_argument(noun, name, &key, params)),
        }
    }
}

/// The function's `#[cfg]`s, for the registration to share.
fn cfgs(item: &ItemFn) -> Vec<Attribute> {
    item.attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .cloned()
        .collect()
}

/// A context needs a yield point and a task has none. Types are compared by name here only where
/// the answer is certain without one: a context with no injected parameter at all, and a task
/// parameter spelled `Yield`; the rest is checked on the types themselves by the expansion.
fn check_yield(errors: &mut Errors, kind: Kind, name: &str, ident: &Ident, params: &[Param]) {
    let injected = params
        .iter()
        .filter(|param| matches!(param.source, Source::Inject));
    match kind {
        Kind::Context => {
            let injected: Vec<&Param> = injected.collect();
            if injected.is_empty() {
                errors.error(ident.span(), no_yield_message(name));
            }
            for extra in injected
                .iter()
                .filter(|param| last_segment_is(&param.ty, "Yield"))
                .skip(1)
            {
                errors.error(extra.ty.span(), several_yields_message(name));
            }
        }
        Kind::Task => {
            for param in injected.filter(|param| last_segment_is(&param.ty, "Yield")) {
                errors.error(
                    param.ty.span(),
                    format!("lifespan task `{name}` cannot take a `Yield`: a task has no yield point, only a `#[lifespan_context]` has one; to learn when to stop, take a `Shutdown`"),
                );
            }
        }
    }
}

/// The error for a context without a yield point; also used by the expansion's type-level check.
pub(crate) fn no_yield_message(name: &str) -> String {
    format!("lifespan context `{name}` takes no `Yield` parameter, so its setup could never end: add a parameter `lifespan: Yield` and call `lifespan.ready().await` where setup ends")
}

/// The error for a context with two yield points; also used by the expansion's type-level check.
pub(crate) fn several_yields_message(name: &str) -> String {
    format!("lifespan context `{name}` takes more than one `Yield` parameter, but a context has one yield point: keep one")
}

/// Whether a context's parameters leave its yield point to the type-level check: none of its
/// injected parameters is spelled `Yield` (it may be an alias).
pub(crate) fn yield_needs_type_check(params: &[Param]) -> bool {
    !params
        .iter()
        .any(|param| matches!(param.source, Source::Inject) && last_segment_is(&param.ty, "Yield"))
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) => {
            path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == name)
        }
        _ => false,
    }
}

/// Rejects parameter types that no argument or injection can satisfy.
fn check_type(errors: &mut Errors, noun: &str, name: &str, param: &str, ty: &Type) {
    match ty {
        Type::ImplTrait(_) => errors.error(
            ty.span(),
            format!("parameter `{param}` of {noun} `{name}` cannot be `impl Trait`: give it a concrete type"),
        ),
        Type::Reference(reference)
            if !matches!(&reference.lifetime, Some(lifetime) if lifetime.ident == "static") =>
        {
            errors.error(
                ty.span(),
                format!("parameter `{param}` of {noun} `{name}` borrows, but the {noun} outlives the code that starts it: take an owned value or a `&'static` reference"),
            )
        }
        Type::Paren(inner) => check_type(errors, noun, name, param, &inner.elem),
        Type::Group(inner) => check_type(errors, noun, name, param, &inner.elem),
        _ => {}
    }
}

fn unknown_argument(noun: &str, name: &str, key: &str, params: &[Param]) -> String {
    let names: Vec<&str> = params
        .iter()
        .map(|p| p.name.as_str())
        .filter(|n| !n.starts_with('#'))
        .collect();
    if names.is_empty() {
        return format!(
            "unknown argument `{key}` for {noun} `{name}`; it takes no named parameters"
        );
    }
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut message =
        format!("unknown argument `{key}` for {noun} `{name}`; its parameters are {list}");
    suggest::append(&mut message, suggest::did_you_mean(key, &names));
    message
}
