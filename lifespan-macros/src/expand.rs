//! Expansion: the user's function as written, followed by its registration.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use crate::ast::{self, Args, Kind};
use crate::valid::{self, Model, Source};

/// Runs the three stages. On any error the function is still emitted as written, beside the
/// errors, so that one mistake does not turn into unresolved names elsewhere.
pub(crate) fn entry(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed_args = syn::parse2::<Args>(args);
    let parsed_fn = ast::parse_fn(kind, item.clone());
    let model = match (parsed_args, parsed_fn) {
        (Ok(args), Ok(function)) => valid::validate(kind, args, &function),
        (Err(mut error), Ok(function)) => {
            // Still check the function, so that its mistakes are reported with the attribute's.
            let empty = Args {
                krate: None,
                args: Vec::new(),
            };
            if let Err(more) = valid::validate(kind, empty, &function) {
                error.combine(more);
            }
            Err(error)
        }
        (Ok(_), Err(error)) => Err(error),
        (Err(mut error), Err(more)) => {
            error.combine(more);
            Err(error)
        }
    };
    match model {
        Ok(model) => {
            let registration = registration(&model);
            quote! { #item #registration }
        }
        Err(error) => {
            let error = error.to_compile_error();
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

    let (inject, kind, check, injected_trait, plain_trait) = match model.kind {
        Kind::Task => (
            quote!(inject_task),
            quote!(Task),
            "check_task_argument",
            quote!(TaskArgumentOfInjected),
            quote!(TaskArgumentOfPlain),
        ),
        Kind::Context => (
            quote!(inject_context),
            quote!(Context),
            "check_context_argument",
            quote!(ContextArgumentOfInjected),
            quote!(ContextArgumentOfPlain),
        ),
    };
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
    let ident = &model.ident;
    // Wholly located at the return type, so that an unaccepted one is reported there.
    let call = respan(
        quote!(#private::boxed(#ident(#(#values),*))),
        model.output_span,
    );
    let registered_name = format!("::{}", model.name);
    let cfgs = &model.cfgs;
    let yield_check = yield_check(model);

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
            }
        };
    }
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
