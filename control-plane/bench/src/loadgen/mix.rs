//! What a load run sends: a mix of request types, each with a weight, read from TOML (the
//! built-in mixes are TOML files too, in `mixes/`). A request is a method, a path and optional
//! headers and JSON body, all templates whose `{{placeholders}}` are drawn per request from
//! the catalog and the currencies; `auth = true` sends a signed-in shopper's token, and
//! `before` names requests sent first, in order (as Online Boutique's checkout adds to the cart
//! first), each counted under its own name.

use std::collections::BTreeMap;
use std::fmt;

use http::{HeaderName, HeaderValue, Method};
use rand::Rng;
use serde::Deserialize;
use toml::Spanned;

/// The mixes built in, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("boutique", include_str!("mixes/boutique.toml")),
    ("browse", include_str!("mixes/browse.toml")),
    ("checkout", include_str!("mixes/checkout.toml")),
];

/// The most shoppers a mix may sign up: each costs a password hash before the run.
pub const MAX_SHOPPERS: u32 = 1_000;

/// A mix that was refused, with where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{origin}: {source}")]
    Toml {
        origin: String,
        source: toml::de::Error,
    },
    #[error("{origin}, line {line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
    #[error(
        "there is no built-in mix {0:?}; the built-in mixes are boutique, browse and checkout"
    )]
    UnknownBuiltIn(String),
}

/// A value drawn for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// A product id from the catalog's listing.
    Product,
    /// A currency code the currency service supports.
    Currency,
    /// The currency the catalog prices in.
    CatalogCurrency,
    /// A quantity from 1 to 5.
    Quantity,
    /// A fresh UUID, e.g. for an Idempotency-Key.
    Uuid,
}

impl Placeholder {
    const ALL: &'static [(&'static str, Placeholder)] = &[
        ("product", Placeholder::Product),
        ("currency", Placeholder::Currency),
        ("catalog_currency", Placeholder::CatalogCurrency),
        ("quantity", Placeholder::Quantity),
        ("uuid", Placeholder::Uuid),
    ];

    fn known() -> String {
        Placeholder::ALL
            .iter()
            .map(|(name, _)| format!("{{{{{name}}}}}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// What placeholders are drawn from: gathered before the run starts.
#[derive(Debug, Clone)]
pub struct Values {
    pub products: Vec<String>,
    pub currencies: Vec<String>,
    pub catalog_currency: String,
}

impl Values {
    /// Stand-ins to check that templates render to something valid before anything is sent.
    fn samples() -> Values {
        Values {
            products: vec!["00000000-0000-4000-8000-000000000000".to_owned()],
            currencies: vec!["USD".to_owned()],
            catalog_currency: "EUR".to_owned(),
        }
    }
}

impl Template {
    /// Parses `text`; an unknown or unclosed placeholder is an error naming it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("a placeholder opened with {{{{ is not closed: {rest:?}"))?;
            let name = after[..close].trim();
            let placeholder = Placeholder::ALL
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    format!(
                        "unknown placeholder {{{{{name}}}}}; the placeholders are {}",
                        Placeholder::known()
                    )
                })?;
            parts.push(Part::Value(placeholder));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template(parts))
    }

    /// The text with each placeholder drawn from `values`.
    pub fn render(&self, values: &Values, rng: &mut impl Rng) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(placeholder) => out.push_str(&draw(*placeholder, values, rng)),
            }
        }
        out
    }
}

fn draw(placeholder: Placeholder, values: &Values, rng: &mut impl Rng) -> String {
    fn one(list: &[String], rng: &mut impl Rng) -> String {
        if list.is_empty() {
            return String::new();
        }
        list[rng.random_range(0..list.len())].clone()
    }
    match placeholder {
        Placeholder::Product => one(&values.products, rng),
        Placeholder::Currency => one(&values.currencies, rng),
        Placeholder::CatalogCurrency => values.catalog_currency.clone(),
        Placeholder::Quantity => rng.random_range(1..=5u32).to_string(),
        Placeholder::Uuid => uuid::Builder::from_random_bytes(rng.random())
            .into_uuid()
            .to_string(),
    }
}

/// One type of request, counted under its name.
#[derive(Debug, Clone)]
pub struct RequestKind {
    pub name: String,
    pub method: Method,
    pub path: Template,
    pub headers: Vec<(HeaderName, Template)>,
    /// JSON, once rendered.
    pub body: Option<Template>,
    /// Sends a signed-in shopper's bearer token.
    pub auth: bool,
}

/// What one arrival sends: the requests named in `before`, then the request itself; indices
/// into [`Mix::requests`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub weight: u32,
    pub steps: Vec<usize>,
}

/// A checked mix.
#[derive(Debug, Clone)]
pub struct Mix {
    pub name: String,
    /// Shoppers signed up (and logged in) before the clock starts.
    pub shoppers: u32,
    pub requests: Vec<RequestKind>,
    pub flows: Vec<Flow>,
    total_weight: u64,
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let weights: Vec<String> = self
            .flows
            .iter()
            .filter_map(|flow| {
                let last = *flow.steps.last()?;
                Some(format!("{} {}", self.requests[last].name, flow.weight))
            })
            .collect();
        write!(f, "{} ({})", self.name, weights.join(", "))
    }
}

impl Mix {
    /// A built-in mix by name.
    pub fn built_in(name: &str) -> Result<Mix, Error> {
        let (_, text) = BUILT_IN
            .iter()
            .find(|(known, _)| *known == name)
            .ok_or_else(|| Error::UnknownBuiltIn(name.to_owned()))?;
        Mix::parse(name, &format!("the built-in mix {name}"), text)
    }

    /// Parses and checks a mix; `origin` (a file name) starts every error message.
    pub fn parse(name: &str, origin: &str, text: &str) -> Result<Mix, Error> {
        let raw: RawMix = toml::from_str(text).map_err(|source| Error::Toml {
            origin: origin.to_owned(),
            source,
        })?;
        Checker { origin, text }.check(name, raw)
    }

    /// A flow drawn by weight.
    pub fn pick(&self, rng: &mut impl Rng) -> &Flow {
        let mut ticket = rng.random_range(0..self.total_weight);
        for flow in &self.flows {
            if ticket < u64::from(flow.weight) {
                return flow;
            }
            ticket -= u64::from(flow.weight);
        }
        // Unreachable: the tickets add up to the total weight, which is positive.
        &self.flows[self.flows.len() - 1]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMix {
    shoppers: Option<Spanned<u32>>,
    #[serde(default)]
    request: Vec<Spanned<RawRequest>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    name: Spanned<String>,
    weight: Option<Spanned<u32>>,
    method: Option<Spanned<String>>,
    path: Spanned<String>,
    #[serde(default)]
    auth: bool,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    body: Option<Spanned<String>>,
    #[serde(default)]
    before: Vec<Spanned<String>>,
}

/// The highest weight: weights are relative, so this loses nothing.
const MAX_WEIGHT: u32 = 1_000_000;
/// The default when a mix does not say.
const DEFAULT_SHOPPERS: u32 = 40;

struct Checker<'a> {
    origin: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn fail<T>(&self, at: std::ops::Range<usize>, message: String) -> Result<T, Error> {
        let line = self.text[..at.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        Err(Error::Invalid {
            origin: self.origin.to_owned(),
            line,
            message,
        })
    }

    fn check(&self, name: &str, raw: RawMix) -> Result<Mix, Error> {
        if raw.request.is_empty() {
            return self.fail(
                0..0,
                "a mix needs at least one [[request]] table".to_owned(),
            );
        }
        let shoppers = match &raw.shoppers {
            Some(s) if *s.get_ref() > MAX_SHOPPERS => {
                return self.fail(
                    s.span(),
                    format!("shoppers takes 0 to {MAX_SHOPPERS}, got {}", s.get_ref()),
                )
            }
            Some(s) => *s.get_ref(),
            None => DEFAULT_SHOPPERS,
        };
        let mut requests = Vec::with_capacity(raw.request.len());
        for raw_request in &raw.request {
            let request = self.request(raw_request.get_ref(), &requests)?;
            if request.auth && shoppers == 0 {
                return self.fail(
                    raw_request.span(),
                    format!(
                        "request {:?} sends a shopper's token (auth = true) but the mix signs up \
                         no shoppers (shoppers = 0)",
                        request.name
                    ),
                );
            }
            requests.push(request);
        }
        let flows = self.flows(&raw, &requests)?;
        let total_weight: u64 = flows.iter().map(|f| u64::from(f.weight)).sum();
        if total_weight == 0 {
            return self.fail(
                raw.request[0].span(),
                "every request has weight 0: at least one must be sent".to_owned(),
            );
        }
        Ok(Mix {
            name: name.to_owned(),
            shoppers,
            requests,
            flows,
            total_weight,
        })
    }

    fn request(&self, raw: &RawRequest, earlier: &[RequestKind]) -> Result<RequestKind, Error> {
        let name = raw.name.get_ref();
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid_name {
            return self.fail(
                raw.name.span(),
                format!("name {name:?}: 1 to 64 letters, digits, `_`, `-` or `.`"),
            );
        }
        if earlier.iter().any(|r| &r.name == name) {
            return self.fail(raw.name.span(), format!("two requests are named {name:?}"));
        }
        let method = match &raw.method {
            None => Method::GET,
            Some(method) => match method.get_ref().to_ascii_uppercase().as_str() {
                "GET" => Method::GET,
                "POST" => Method::POST,
                "PUT" => Method::PUT,
                "PATCH" => Method::PATCH,
                "DELETE" => Method::DELETE,
                "HEAD" => Method::HEAD,
                other => {
                    return self.fail(
                        method.span(),
                        format!(
                            "request {name:?}: method {other:?} is not one of GET, POST, PUT, \
                             PATCH, DELETE, HEAD"
                        ),
                    )
                }
            },
        };
        let path = self.path(name, &raw.path)?;
        let body = match &raw.body {
            None => None,
            Some(body) => Some(self.body(name, body)?),
        };
        let mut headers = Vec::new();
        for (header, value) in &raw.headers {
            headers.push(self.header(name, header, value)?);
        }
        Ok(RequestKind {
            name: name.clone(),
            method,
            path,
            headers,
            body,
            auth: raw.auth,
        })
    }

    fn template(&self, name: &str, field: &str, raw: &Spanned<String>) -> Result<Template, Error> {
        Template::parse(raw.get_ref())
            .or_else(|reason| self.fail(raw.span(), format!("request {name:?}, {field}: {reason}")))
    }

    fn path(&self, name: &str, raw: &Spanned<String>) -> Result<Template, Error> {
        let template = self.template(name, "path", raw)?;
        let sample = template.render(&Values::samples(), &mut rand::rng());
        if !sample.starts_with('/') || sample.parse::<http::uri::PathAndQuery>().is_err() {
            return self.fail(
                raw.span(),
                format!(
                    "request {name:?}, path {:?}: a path on the target starting with /, e.g. \
                     /api/v1/products/{{{{product}}}}",
                    raw.get_ref()
                ),
            );
        }
        Ok(template)
    }

    fn body(&self, name: &str, raw: &Spanned<String>) -> Result<Template, Error> {
        let template = self.template(name, "body", raw)?;
        let sample = template.render(&Values::samples(), &mut rand::rng());
        if let Err(error) = serde_json::from_str::<serde_json::Value>(&sample) {
            return self.fail(
                raw.span(),
                format!(
                    "request {name:?}, body: not JSON once its placeholders are filled in: {error}"
                ),
            );
        }
        Ok(template)
    }

    fn header(
        &self,
        name: &str,
        header: &str,
        raw: &Spanned<String>,
    ) -> Result<(HeaderName, Template), Error> {
        let Ok(header_name) = HeaderName::from_bytes(header.as_bytes()) else {
            return self.fail(
                raw.span(),
                format!("request {name:?}: {header:?} is not a header name"),
            );
        };
        if header_name == http::header::AUTHORIZATION || header_name == http::header::HOST {
            return self.fail(
                raw.span(),
                format!(
                    "request {name:?}: the {header_name} header is the generator's own (use \
                     auth = true for a shopper's token)"
                ),
            );
        }
        let template = self.template(name, &format!("header {header}"), raw)?;
        let sample = template.render(&Values::samples(), &mut rand::rng());
        if HeaderValue::from_str(&sample).is_err() {
            return self.fail(
                raw.span(),
                format!("request {name:?}, header {header}: not a valid header value"),
            );
        }
        Ok((header_name, template))
    }

    fn flows(&self, raw: &RawMix, requests: &[RequestKind]) -> Result<Vec<Flow>, Error> {
        let index_of = |name: &str| requests.iter().position(|r| r.name == name);
        let mut flows = Vec::new();
        for (index, raw_request) in raw.request.iter().enumerate() {
            let raw_request = raw_request.get_ref();
            let name = raw_request.name.get_ref();
            let weight = match &raw_request.weight {
                Some(w) if *w.get_ref() > MAX_WEIGHT => {
                    return self.fail(
                        w.span(),
                        format!("request {name:?}: weight takes 0 to {MAX_WEIGHT}"),
                    )
                }
                Some(w) => *w.get_ref(),
                None => 1,
            };
            let mut steps = Vec::new();
            for before in &raw_request.before {
                let Some(step) = index_of(before.get_ref()) else {
                    return self.fail(
                        before.span(),
                        format!(
                            "request {name:?}: before names {:?}, which is not a request of \
                             this mix",
                            before.get_ref()
                        ),
                    );
                };
                if step == index || !raw.request[step].get_ref().before.is_empty() {
                    return self.fail(
                        before.span(),
                        format!(
                            "request {name:?}: before may name only requests without a before \
                             of their own, not {:?}",
                            before.get_ref()
                        ),
                    );
                }
                steps.push(step);
            }
            steps.push(index);
            if weight > 0 {
                flows.push(Flow { weight, steps });
            }
        }
        Ok(flows)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    fn refused(text: &str) -> String {
        match Mix::parse("test", "mix.toml", text) {
            Ok(mix) => panic!("accepted: {mix}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_built_in_mixes_parse_with_online_boutiques_weights() {
        for (name, _) in BUILT_IN {
            Mix::built_in(name).unwrap();
        }
        let boutique = Mix::built_in("boutique").unwrap();
        assert_eq!(
            boutique.to_string(),
            "boutique (index 1, setCurrency 2, browseProduct 10, addToCart 2, viewCart 3, checkout 1)"
        );
        assert_eq!(boutique.shoppers, 40);
        let checkout = boutique.flows.last().unwrap();
        let names: Vec<&str> = checkout
            .steps
            .iter()
            .map(|i| boutique.requests[*i].name.as_str())
            .collect();
        assert_eq!(names, ["emptyCart", "addToCart", "checkout"]);
        assert!(matches!(
            Mix::built_in("nope"),
            Err(Error::UnknownBuiltIn(_))
        ));
    }

    #[test]
    fn flows_are_drawn_by_weight() {
        let mix = Mix::built_in("boutique").unwrap();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(9);
        let mut counts = BTreeMap::<String, u32>::new();
        for _ in 0..19_000 {
            let flow = mix.pick(&mut rng);
            let last = *flow.steps.last().unwrap();
            *counts.entry(mix.requests[last].name.clone()).or_default() += 1;
        }
        // 1000 per unit of weight, give or take a few standard deviations.
        for (name, weight) in [("index", 1.0), ("browseProduct", 10.0), ("viewCart", 3.0)] {
            let count = f64::from(counts[name]);
            assert!((count - weight * 1000.0).abs() < 250.0, "{name}: {count}");
        }
    }

    #[test]
    fn templates_draw_their_placeholders() {
        let values = Values {
            products: vec!["p1".into(), "p2".into()],
            currencies: vec!["JPY".into()],
            catalog_currency: "EUR".into(),
        };
        let template =
            Template::parse("/x/{{product}}?c={{ currency }}&f={{catalog_currency}}").unwrap();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let rendered = template.render(&values, &mut rng);
        assert!(
            rendered == "/x/p1?c=JPY&f=EUR" || rendered == "/x/p2?c=JPY&f=EUR",
            "{rendered}"
        );
        let quantity = Template::parse("{{quantity}}")
            .unwrap()
            .render(&values, &mut rng);
        assert!((1..=5).contains(&quantity.parse::<u32>().unwrap()));
        let key = Template::parse("{{uuid}}")
            .unwrap()
            .render(&values, &mut rng);
        assert!(uuid::Uuid::parse_str(&key).is_ok());
    }

    #[test]
    fn toml_syntax_errors_name_the_file_and_line() {
        let error = refused("shoppers = 3\n[[request]]\nname = \"a\"\npath = \n");
        assert!(error.starts_with("mix.toml: "), "{error}");
        assert!(error.contains("line 4"), "{error}");
        let error = refused("[[request]]\nname = \"a\"\npath = \"/\"\nwieght = 3\n");
        assert!(error.contains("unknown field `wieght`"), "{error}");
        assert!(error.contains("line 4"), "{error}");
    }

    #[test]
    fn bad_fields_are_refused_with_their_line_and_request() {
        let cases = [
            (
                "[[request]]\nname = \"a\"\npath = \"/p/{{produkt}}\"\n",
                "line 3: request \"a\", path: unknown placeholder {{produkt}}",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"products\"\n",
                "line 3: request \"a\", path \"products\": a path on the target starting with /",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nmethod = \"FETCH\"\n",
                "line 4: request \"a\": method \"FETCH\" is not one of",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nbody = '{\"q\": }'\n",
                "line 4: request \"a\", body: not JSON",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\n\n[[request]]\nname = \"b\"\npath = \"/\"\nbefore = [\"c\"]\n",
                "line 8: request \"b\": before names \"c\", which is not a request of this mix",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\n[[request]]\nname = \"a\"\npath = \"/\"\n",
                "line 5: two requests are named \"a\"",
            ),
            (
                "shoppers = 0\n[[request]]\nname = \"a\"\npath = \"/\"\nauth = true\n",
                "line 2: request \"a\" sends a shopper's token (auth = true) but the mix signs up no shoppers",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nweight = 0\n",
                "every request has weight 0",
            ),
            (
                "[[request]]\nname = \"a\"\npath = \"/\"\nheaders = { Authorization = \"x\" }\n",
                "line 4: request \"a\": the authorization header is the generator's own",
            ),
            ("shoppers = 3\n", "line 1: a mix needs at least one [[request]] table"),
        ];
        for (text, expected) in cases {
            let error = refused(text);
            assert!(
                error.contains(expected),
                "{text}\n→ {error}\nwanted: {expected}"
            );
        }
    }
}
