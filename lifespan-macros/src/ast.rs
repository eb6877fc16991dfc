//! Parsing: the attribute's arguments and the annotated function, each token kept with its span.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Path, Signature, Token, Visibility};

/// Which macro is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Task,
    Context,
}

impl Kind {
    /// The attribute as a user writes it, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Task => "`#[lifespan_task]`",
            Kind::Context => "`#[lifespan_context]`",
        }
    }

    /// What it registers, for messages: "lifespan task".
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Task => "lifespan task",
            Kind::Context => "lifespan context",
        }
    }
}

/// The attribute's contents: `#[lifespan_task(crate = path, name = value, ...)]`.
pub(crate) struct Args {
    pub(crate) krate: Option<(Token![crate], Path)>,
    pub(crate) args: Vec<Arg>,
}

/// One keyword argument, `key = value`.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

enum Item {
    Crate(Token![crate], Path),
    Arg(Arg),
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Token![crate]) {
            let token: Token![crate] = input.parse()?;
            expect_eq(input, token.span, "crate", "path")?;
            let path = input.call(Path::parse_mod_style).map_err(|error| {
                let message = "expected the path of the runtime crate after `crate =`, as in `crate = ::lifespan_core`";
                syn::Error::new(error.span(), message)
            })?;
            return Ok(Item::Crate(token, path));
        }
        if !input.peek(Ident::peek_any) {
            return Err(input.error(
                "expected an argument `name = <expression>`, where `name` is one of the function's parameters",
            ));
        }
        if input.peek(Token![mut]) {
            let token: Token![mut] = input.parse()?;
            return Err(syn::Error::new(
                token.span,
                "write the argument's name without `mut`: `mut` belongs on the parameter",
            ));
        }
        let key = Ident::parse_any(input)?;
        expect_eq(input, key.span(), &key.unraw().to_string(), "expression")?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(format!("expected an expression after `{} =`", key.unraw())));
        }
        let value = input.parse()?;
        Ok(Item::Arg(Arg { key, value }))
    }
}

/// Parses the `=` after `key`; `value` names what follows it, for the message.
fn expect_eq(input: ParseStream<'_>, span: Span, key: &str, value: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        return Ok(());
    }
    let message = format!("expected `=` after `{key}`: write `{key} = <{value}>`");
    Err(syn::Error::new(span, message))
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let items = Punctuated::<Item, Token![,]>::parse_terminated(input)?;
        let mut errors = Errors::default();
        let mut args = Args {
            krate: None,
            args: Vec::new(),
        };
        for item in items {
            match item {
                Item::Crate(token, _) if args.krate.is_some() => {
                    errors.push(syn::Error::new_spanned(token, "`crate` is given twice"));
                }
                Item::Crate(token, path) => args.krate = Some((token, path)),
                Item::Arg(arg) => args.args.push(arg),
            }
        }
        errors.finish()?;
        Ok(args)
    }
}

/// The annotated function: its signature parsed, its body kept as raw tokens.
pub(crate) struct ItemFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) sig: Signature,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let _: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let body: proc_macro2::Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected the function's body"));
        }
        Ok(ItemFn { attrs, sig })
    }
}

/// Parses `item` as a function, or says what else it is.
pub(crate) fn parse_fn(kind: Kind, item: TokenStream) -> syn::Result<ItemFn> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|_| {
        let (span, found) = match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Verbatim(_)) | Err(_) => match syn::parse2::<syn::TraitItemFn>(item) {
                Ok(method) => (method.sig.fn_token.span, "a trait method"),
                Err(_) => (Span::call_site(), "this item"),
            },
            Ok(other) => describe(&other),
        };
        syn::Error::new(
            span,
            format!(
                "{} goes on an `async fn` at module level, not on {found}",
                kind.attribute()
            ),
        )
    })
}

fn describe(item: &syn::Item) -> (Span, &'static str) {
    use syn::spanned::Spanned;
    let what = match item {
        syn::Item::Struct(_) => "a struct",
        syn::Item::Enum(_) => "an enum",
        syn::Item::Impl(_) => "an impl block",
        syn::Item::Trait(_) => "a trait",
        syn::Item::Mod(_) => "a module",
        syn::Item::Const(_) => "a const",
        syn::Item::Static(_) => "a static",
        syn::Item::Type(_) => "a type alias",
        syn::Item::Use(_) => "a use declaration",
        syn::Item::ForeignMod(_) => "an extern block",
        syn::Item::Fn(_) => "a function without a body",
        _ => "this item",
    };
    (item.span(), what)
}

/// Errors collected so that one `cargo check` reports every mistake.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
