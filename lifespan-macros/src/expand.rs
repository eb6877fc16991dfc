//! Expansion: the user's function as written, followed by its registration.

use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use crate::ast::{self, Args, Errors, Kind};
use crate::options::{Misfire, Options, Overlap, Restart};
use crate::valid::{self, Model, Source};

/// Runs the three stages. On any error the function is still emitted as written, beside the
/// errors, so that one mistake does not turn into unresolved names elsewhere. Its
/// `#[lifespan(...)]` attributes are taken off in any case: they are read here.
pub(crate) fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let (item, options) = ast::take_options(item);
    let mut errors = Errors::default();
    // An attribute that does not parse is reported, and the function still checked without it.
    let args = syn::parse2::<Args>(args).unwrap_or_else(|error| {
        errors.push(error);
        Args::default()
    });
    let options = options.unwrap_or_else(|error| {
        errors.push(error);
        Vec::new()
    });
    let model = match ast::parse_fn(kind, item.clone()) {
        Ok(function) => valid::validate(kind, args, options, &function)
            .map_err(|error| errors.push(error))
            .ok(),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    match (errors.finish(), model) {
        (Ok(()), Some(model)) => {
            let registration = registration(&model);
            quote! { #item #registration }
        }
        (Err(error), _) => {
            let error = error.to_compile_error();
            quote! { #item #error }
        }
        (Ok(()), None) => unreachable!("no model without an error"),
    }
}

/// `#[lifespan(...)]` expanding on its own: it was written above `#[lifespan_task]` or
/// `#[lifespan_context]`, which is among the item's remaining attributes. It moves that one
/// first, itself right after, so that the task or context attribute reads it as if written below.
pub(crate) fn options_entry(args: TokenStream, item: TokenStream) -> TokenStream {
    let (mut attrs, rest) = ast::split_attrs(item.clone());
    let target = attrs.iter().position(|attr| {
        attr.name()
            .is_some_and(|name| name == "lifespan_task" || name == "lifespan_context")
    });
    match target {
        Some(index) => {
            let target = attrs.remove(index);
            quote! { #target #[lifespan(#args)] #(#attrs)* #rest }
        }
        None => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[lifespan(...)]` gives options to a `#[lifespan_task]` or `#[lifespan_context]` function; add one of those to this function",
            )
            .to_compile_error();
            quote! { #item #error }
        }
    }
}

/// The registration: a `prepare` function that evaluates the arguments, injects the other
/// parameters and calls the user's function, submitted to the link-time registry.
fn registration(model: &Model) -> TokenStream {
    let krate = &model.krate;
    let private = quote!(#krate::__private);
    // Generated names are mixed-site: an argument expression cannot see or shadow them.
    let cx = Ident::new("__lifespan_cx", Span::mixed_site());
    let prepare = Ident::new("__lifespan_prepare", Span::mixed_site());

    let names = KindNames::of(model.kind);
    let Bindings {
        checks,
        bindings,
        values,
    } = bindings(model, &private, &cx, &names);
    let KindNames {
        kind,
        injected_trait,
        plain_trait,
        ..
    } = names;
    let ident = &model.ident;
    // Wholly located at the return type, so that an unaccepted one is reported there.
    let call = respan(
        quote!(#private::boxed(#ident(#(#values),*))),
        model.output_span,
    );
    let registered_name = format!("::{}", model.name);
    let cfgs = &model.cfgs;
    let yield_check = yield_check(model);
    let options = options(&model.options, &private);

    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(deprecated)]
        const _: () = {
            // An argument's value stands where braces or parentheses around it are redundant;
            // the user had to write them in the attribute, so they are not theirs to remove.
            #[allow(unused_braces, unused_parens)]
            fn #prepare(
                #cx: &mut #private::InjectCx<'_>,
            ) -> #private::core::result::Result<#private::BoxFuture, #private::ArgError> {
                {
                    use #private::{#injected_trait as _, #plain_trait as _};
                    #(#checks)*
                }
                #(#bindings)*
                #private::core::result::Result::Ok(#call)
            }
            #yield_check
            #private::inventory::submit! {
                #private::Registration::new(
                    #private::Kind::#kind,
                    #private::core::concat!(#private::core::module_path!(), #registered_name),
                    #private::core::module_path!(),
                    #private::core::file!(),
                    #private::core::line!(),
                    #prepare,
                )
                #options
            }
        };
    }
}

/// The names in the runtime's private API that differ between a task and a context.
struct KindNames {
    /// The function that injects a parameter: `inject_task`.
    inject: TokenStream,
    /// The variant of the runtime's `Kind`: `Task`.
    kind: TokenStream,
    /// The method that fails if an argument's parameter is of a type the app injects.
    check: &'static str,
    /// The traits that provide `check` for an injected type and for any other.
    injected_trait: TokenStream,
    plain_trait: TokenStream,
}

impl KindNames {
    /// The names for `kind`.
    fn of(kind: Kind) -> Self {
        match kind {
            Kind::Task => KindNames {
                inject: quote!(inject_task),
                kind: quote!(Task),
                check: "check_task_argument",
                injected_trait: quote!(TaskArgumentOfInjected),
                plain_trait: quote!(TaskArgumentOfPlain),
            },
            Kind::Context => KindNames {
                inject: quote!(inject_context),
                kind: quote!(Context),
                check: "check_context_argument",
                injected_trait: quote!(ContextArgumentOfInjected),
                plain_trait: quote!(ContextArgumentOfPlain),
            },
        }
    }
}

/// The body of `prepare`, parameter by parameter.
struct Bindings {
    /// For each argument, the check that its parameter is not of a type the app injects.
    checks: Vec<TokenStream>,
    /// For each parameter, the statement that binds its value: evaluated or injected.
    bindings: Vec<TokenStream>,
    /// The variables bound, in the order of the parameters.
    values: Vec<Ident>,
}

/// The checks and bindings of the parameters of `model`, injected through `cx`.
fn bindings(model: &Model, private: &TokenStream, cx: &Ident, names: &KindNames) -> Bindings {
    let KindNames { inject, check, .. } = names;
    let mut checks = Vec::new();
    let mut bindings = Vec::with_capacity(model.params.len());
    let mut values = Vec::with_capacity(model.params.len());
    for (index, param) in model.params.iter().enumerate() {
        let value = format_ident!("__lifespan_arg{}", index, span = Span::mixed_site());
        let ty = &param.ty;
        let name = &param.name;
        bindings.push(match &param.source {
            // Spanned on the value, so that rustc's type mismatch points at it.
            // The value is bound to the parameter's type, so that rustc's mismatch points at the
            // value and at the parameter's type as the expectation.
            Source::Arg { key, value: expr } => {
                // Fails, at the key, if the parameter's type is one the app injects.
                let check = Ident::new(check, Span::call_site().located_at(key.span()));
                checks.push(quote! {
                    (&#private::Probe::<#ty>::NEW).#check();
                });
                quote! {
                    let #value = #private::arg(#name, || {
                        let #value: #ty = #expr;
                        #private::core::result::Result::Ok(#value)
                    })?;
                }
            }
            // Spanned on the type, so that "not injectable" points at the parameter.
            Source::Inject => {
                let call = quote_spanned!(ty.span()=> #private::#inject::<#ty>);
                quote! { let #value = #call(#cx, #name)?; }
            }
        });
        values.push(value);
    }
    Bindings {
        checks,
        bindings,
        values,
    }
}

/// `.with_options(TaskOptions::new()...)`, calling the builder only for the options given; nothing
/// if none is, so that a plain function expands as before. It is in a `static`: all `const`.
fn options(options: &Options, private: &TokenStream) -> TokenStream {
    let duration = |nanos: u64| {
        let nanos = Literal::u64_suffixed(nanos);
        quote!(#private::core::time::Duration::from_nanos(#nanos))
    };
    let mut calls = Vec::new();
    if let Some(name) = &options.name {
        calls.push(quote!(.display_name(#name)));
    }
    if let Some(restart) = options.restart {
        let restart = match restart {
            Restart::Never => quote!(Never),
            Restart::OnFailure => quote!(OnFailure),
            Restart::Always => quote!(Always),
        };
        calls.push(quote!(.restart(#private::Restart::#restart)));
    }
    if let Some((start, cap)) = options.backoff {
        let (start, cap) = (duration(start), duration(cap));
        calls.push(quote!(.backoff(#start, #cap)));
    }
    if let Some(jitter) = options.jitter {
        calls.push(quote!(.jitter(#jitter)));
    }
    if let Some(max_restarts) = options.max_restarts {
        let max_restarts = Literal::u32_suffixed(max_restarts);
        calls.push(quote!(.max_restarts(#max_restarts)));
    }
    if let Some(within) = options.within {
        let within = duration(within);
        calls.push(quote!(.within(#within)));
    }
    if let Some(every) = options.every {
        let every = duration(every);
        calls.push(quote!(.every(#every)));
    }
    if options.fixed_delay {
        calls.push(quote!(.schedule(#private::Schedule::FixedDelay)));
    }
    if options.at_startup {
        calls.push(quote!(.at_startup(true)));
    }
    if options.critical {
        calls.push(quote!(.critical(true)));
    }
    if options.is_singleton() {
        calls.push(quote!(.singleton(true)));
    }
    if let Some((lease, renew_deadline, retry)) = options.lease_settings() {
        let (lease, renew_deadline, retry) =
            (duration(lease), duration(renew_deadline), duration(retry));
        calls.push(quote!(.lease(#private::LeaseSettings::checked_by_macro(
            #lease, #renew_deadline, #retry
        ))));
    }
    calls.extend(once_per_point_options(options, private));
    calls.extend(timing_options(options, private));
    if calls.is_empty() {
        return TokenStream::new();
    }
    quote!(.with_options(#private::TaskOptions::new() #(#calls)*))
}

/// The calls for the options of a once-per-point task: the flag, its hold, and its overlap and
/// misfire policies.
fn once_per_point_options(options: &Options, private: &TokenStream) -> Vec<TokenStream> {
    let duration = |nanos: u64| {
        let nanos = Literal::u64_suffixed(nanos);
        quote!(#private::core::time::Duration::from_nanos(#nanos))
    };
    let mut calls = Vec::new();
    if options.is_once_per_point() {
        calls.push(quote!(.once_per_point(true)));
    }
    if let Some(hold) = options.hold {
        let hold = duration(hold);
        calls.push(quote!(.hold(#hold)));
    }
    if let Some(overlap) = options.overlap {
        let overlap = match overlap {
            Overlap::Forbid => quote!(Forbid),
            Overlap::Allow => quote!(Allow),
        };
        calls.push(quote!(.overlap(#private::Overlap::#overlap)));
    }
    if let Some(misfire) = options.misfire {
        let misfire = match misfire {
            Misfire::Skip => quote!(Skip),
            Misfire::Latest => quote!(Latest),
            Misfire::All => quote!(All),
        };
        calls.push(quote!(.misfire(#private::Misfire::#misfire)));
    }
    if let Some(grace) = options.misfire_grace {
        let grace = duration(grace);
        calls.push(quote!(.misfire_grace(#grace)));
    }
    if let Some(limit) = options.misfire_limit {
        let limit = Literal::u32_suffixed(limit);
        calls.push(quote!(.misfire_limit(#limit)));
    }
    calls
}

/// The calls for the options that time a periodic task's runs: its cron schedule, its first
/// delay, its time limit and its jitter per run.
fn timing_options(options: &Options, private: &TokenStream) -> Vec<TokenStream> {
    let mut calls = Vec::new();
    if let Some(cron) = &options.cron {
        let zone = match &options.time_zone {
            Some(zone) => quote!(#private::core::option::Option::Some(#zone)),
            None => quote!(#private::core::option::Option::None),
        };
        calls.push(quote!(.cron_checked_by_macro(#cron, #zone)));
    }
    for (value, method) in [
        (options.initial_delay, quote!(initial_delay)),
        (options.timeout, quote!(timeout)),
        (options.run_jitter, quote!(run_jitter)),
    ] {
        if let Some(nanos) = value {
            let nanos = Literal::u64_suffixed(nanos);
            let nanos = quote!(#private::core::time::Duration::from_nanos(#nanos));
            calls.push(quote!(.#method(#nanos)));
        }
    }
    calls
}

/// For a context none of whose injected parameters is spelled `Yield`, a check on their types
/// that exactly one is the `Yield` all the same (through an alias), failing at the function's
/// name. Where one is spelled `Yield`, validation has checked the spelling, and this check is
/// left out so that a parameter that is not injectable is reported once, not twice.
fn yield_check(model: &Model) -> TokenStream {
    if model.kind != Kind::Context || !valid::yield_needs_type_check(&model.params) {
        return TokenStream::new();
    }
    let private = {
        let krate = &model.krate;
        quote!(#krate::__private)
    };
    let yields = model
        .params
        .iter()
        .filter(|p| matches!(p.source, Source::Inject))
        .map(|p| {
            let ty = &p.ty;
            let is_yield = quote_spanned!(ty.span()=> #private::is_yield::<#ty>);
            quote!(#is_yield() as usize)
        });
    let none = valid::no_yield_message(&model.name);
    let several = valid::several_yields_message(&model.name);
    // The panics are located at the function's name: const evaluation reports them there.
    let span = model.ident.span();
    let none = respan(quote!(#private::core::panic!(#none)), span);
    let several = respan(quote!(#private::core::panic!(#several)), span);
    quote! {
        const _: () = match 0 #(+ #yields)* {
            0 => #none,
            1 => {}
            _ => #several,
        };
    }
}

/// `tokens` located at `span`, each still resolving as before, so that an error about the
/// expression they form is reported at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(group.span().located_at(span));
                token = TokenTree::Group(respanned);
            }
            token.set_span(token.span().located_at(span));
            token
        })
        .collect()
}
