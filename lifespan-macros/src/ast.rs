//! Parsing: the attribute's arguments and the annotated function, each token kept with its span.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
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

    /// The attribute's name: `lifespan_task`.
    pub(crate) fn macro_name(self) -> &'static str {
        match self {
            Kind::Task => "lifespan_task",
            Kind::Context => "lifespan_context",
        }
    }
}

/// The attribute's contents: `#[lifespan_task(crate = path, name = value, ...)]`.
#[derive(Default)]
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

/// One option of `#[lifespan(...)]`: a flag `key`, or `key = value`.
pub(crate) struct OptionArg {
    pub(crate) key: Ident,
    pub(crate) value: Option<Expr>,
}

impl Parse for OptionArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if !input.peek(Ident::peek_any) {
            return Err(
                input.error("expected an option, as in `restart = on_failure` or `critical`")
            );
        }
        let key = Ident::parse_any(input)?;
        if !input.peek(Token![=]) {
            return Ok(OptionArg { key, value: None });
        }
        input.parse::<Token![=]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(input.error(format!("expected a value after `{} =`", key.unraw())));
        }
        let value = input.parse()?;
        Ok(OptionArg {
            key,
            value: Some(value),
        })
    }
}

/// An outer attribute of the item, as tokens: `#` and its bracketed contents.
pub(crate) struct RawAttr {
    pound: TokenTree,
    group: Group,
}

impl RawAttr {
    /// The last segment of the attribute's path: `lifespan` in `#[lifespan_core::lifespan(..)]`.
    pub(crate) fn name(&self) -> Option<Ident> {
        self.path_and_rest().0
    }

    /// Whether the attribute is `#[lifespan(...)]`, by any path.
    pub(crate) fn is_options(&self) -> bool {
        self.name().is_some_and(|name| name == "lifespan")
    }

    /// The last segment of the path, and the tokens after the path.
    fn path_and_rest(&self) -> (Option<Ident>, Vec<TokenTree>) {
        let mut tokens = self.group.stream().into_iter().peekable();
        let mut last = None;
        while let Some(token) = tokens.peek() {
            match token {
                TokenTree::Ident(ident) => last = Some(ident.clone()),
                TokenTree::Punct(punct) if punct.as_char() == ':' => {}
                _ => break,
            }
            tokens.next();
        }
        (last, tokens.collect())
    }

    /// The options of a `#[lifespan(...)]` attribute: what is in its parentheses.
    fn options(&self) -> syn::Result<Vec<OptionArg>> {
        let (_, rest) = self.path_and_rest();
        let options = match rest.as_slice() {
            [] => TokenStream::new(),
            [TokenTree::Group(group)] if group.delimiter() == Delimiter::Parenthesis => {
                group.stream()
            }
            _ => {
                return Err(syn::Error::new(
                    self.group.span(),
                    "`#[lifespan]` takes its options in parentheses, as in `#[lifespan(restart = on_failure)]`",
                ))
            }
        };
        let options = Punctuated::<OptionArg, Token![,]>::parse_terminated.parse2(options)?;
        Ok(options.into_iter().collect())
    }
}

impl ToTokens for RawAttr {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend([self.pound.clone(), TokenTree::Group(self.group.clone())]);
    }
}

/// Splits `item` into its outer attributes and the tokens after them, all as written.
pub(crate) fn split_attrs(item: TokenStream) -> (Vec<RawAttr>, TokenStream) {
    let mut tokens = item.into_iter().peekable();
    let mut attrs = Vec::new();
    while let Some(TokenTree::Punct(pound)) = tokens.peek() {
        if pound.as_char() != '#' {
            break;
        }
        let pound = tokens.next().unwrap();
        match tokens.next() {
            Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Bracket => {
                attrs.push(RawAttr { pound, group });
            }
            // Not an outer attribute after all: keep the tokens as they are.
            other => {
                let rest: TokenStream = [pound].into_iter().chain(other).chain(tokens).collect();
                return (attrs, rest);
            }
        }
    }
    (attrs, tokens.collect())
}

/// Takes the `#[lifespan(...)]` attributes off `item`: the item without them, token for token
/// otherwise, and their options, merged in order.
pub(crate) fn take_options(item: TokenStream) -> (TokenStream, syn::Result<Vec<OptionArg>>) {
    let (attrs, rest) = split_attrs(item);
    let mut kept = TokenStream::new();
    let mut options = Vec::new();
    let mut errors = Errors::default();
    for attr in attrs {
        if !attr.is_options() {
            attr.to_tokens(&mut kept);
            continue;
        }
        match attr.options() {
            Ok(more) => options.extend(more),
            Err(error) => errors.push(error),
        }
    }
    kept.extend(rest);
    (kept, errors.finish().map(|()| options))
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
