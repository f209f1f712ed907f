//! The options object given to `start()`: reading it from JS with clear
//! errors, and the relay URL arithmetic.
//!
//! Owns: option names, defaults and validation. Does not own: what the
//! options do (masking in `serialize.rs`, the socket in `transport.rs`).

use wasm_bindgen::{JsCast, JsValue};

use crate::error::VisitorError;
use crate::mask::Rules;

/// `start()`'s options, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The relay's base URL, without a trailing slash.
    pub relay: String,
    /// `enableStaticResourceService` (default true): the page's resources
    /// are fetched with the visitor's credentials and uploaded to the relay.
    pub enable_static_resource_service: bool,
    /// `css: { server }` (default true): a resource that could not be
    /// cached may be fetched by the relay (from its allowed domains only).
    pub css_server: bool,
    /// CSS selectors whose elements' text and values never leave the page.
    pub mask: Vec<String>,
    /// CSS selectors of elements to replace by an empty box of their size.
    pub block: Vec<String>,
    /// `privateByDefault`: every text and value is masked unless inside
    /// `data-cobrowse-unmask`.
    pub private_by_default: bool,
    /// `invitation`: the secret of an agent's invitation (the relay's
    /// `POST /api/invitations` gave it to the site): the session starts
    /// under the invitation's code and the inviting agent is asked for at
    /// once. Used by the first hello only; never kept for the next page.
    pub invitation: Option<String>,
    /// `canvas: { fps, bytesPerSecond }`: the canvas capture's frame-rate
    /// ceiling and byte budget (see `canvas/budget.rs` for the defaults).
    pub canvas: crate::canvas::budget::Limits,
    /// `maxNodes` (default [`DEFAULT_MAX_NODES`], at most
    /// [`MAX_MAX_NODES`]): nodes a snapshot carries at most; past it the
    /// rest of the page is left out and the console shows a notice.
    pub max_nodes: u32,
}

/// A generous default: most real pages have a few ten thousand nodes, but a
/// big table page passes half a million (the benchmark's 8 MB page has about
/// 520,000); at about 30 wire bytes a node, 1,000,000 is a 30 MB snapshot,
/// just under the relay's default 32 MiB frame limit. A site may set less.
pub const DEFAULT_MAX_NODES: u32 = MAX_MAX_NODES;
/// The console builds no more than this (`agent-viewer`'s own cap is the
/// same number), so a larger option would only be refused there.
pub const MAX_MAX_NODES: u32 = 1_000_000;

impl Options {
    /// What the relay is told about resources in the hello.
    pub fn resource_policy(&self) -> protocol::ResourcePolicy {
        protocol::ResourcePolicy {
            upload: self.enable_static_resource_service,
            server_fetch: self.css_server,
        }
    }

    /// Options with defaults for everything but the relay.
    pub fn new(relay: &str) -> Result<Options, VisitorError> {
        socket_url(relay)?;
        Ok(Options {
            relay: relay.trim().trim_end_matches('/').to_owned(),
            enable_static_resource_service: true,
            css_server: true,
            mask: Vec::new(),
            block: Vec::new(),
            private_by_default: false,
            invitation: None,
            canvas: crate::canvas::budget::Limits::default(),
            max_nodes: DEFAULT_MAX_NODES,
        })
    }

    /// Reads the JS options object. Anything of the wrong type is an error
    /// naming the option, never a silent default.
    pub fn from_js(value: &JsValue) -> Result<Options, VisitorError> {
        if value.is_undefined() || value.is_null() {
            return Err(VisitorError::MissingRelay);
        }
        if !value.is_object() {
            return Err(VisitorError::InvalidOption {
                name: "(the options argument)",
                expected: "an object",
            });
        }
        let relay = get(value, "relay")?;
        if relay.is_undefined() || relay.is_null() {
            return Err(VisitorError::MissingRelay);
        }
        let relay = relay.as_string().ok_or(VisitorError::InvalidOption {
            name: "relay",
            expected: "a string",
        })?;
        let mut options = Options::new(&relay)?;

        let v = get(value, "enableStaticResourceService")?;
        if let Some(b) = optional_bool(&v, "enableStaticResourceService")? {
            options.enable_static_resource_service = b;
        }

        let css = get(value, "css")?;
        if !(css.is_undefined() || css.is_null()) {
            if !css.is_object() {
                return Err(VisitorError::InvalidOption {
                    name: "css",
                    expected: "an object like { server: true }",
                });
            }
            if let Some(b) = optional_bool(&get(&css, "server")?, "css.server")? {
                options.css_server = b;
            }
        }

        options.mask = selector_list(&get(value, "mask")?, "mask")?;
        options.block = selector_list(&get(value, "block")?, "block")?;
        let v = get(value, "privateByDefault")?;
        if let Some(b) = optional_bool(&v, "privateByDefault")? {
            options.private_by_default = b;
        }
        let v = get(value, "invitation")?;
        if !(v.is_undefined() || v.is_null()) {
            let secret = v.as_string().ok_or(VisitorError::InvalidOption {
                name: "invitation",
                expected: "the invitation string the relay gave out",
            })?;
            options.invitation = Some(secret.trim().to_owned()).filter(|s| !s.is_empty());
        }
        options.canvas = canvas_limits(&get(value, "canvas")?)?;
        let v = get(value, "maxNodes")?;
        if !(v.is_undefined() || v.is_null()) {
            let n = v.as_f64().filter(|n| n.is_finite() && *n >= 1.0).ok_or(
                VisitorError::InvalidOption {
                    name: "maxNodes",
                    expected: "a positive number of nodes",
                },
            )?;
            options.max_nodes = n.min(f64::from(MAX_MAX_NODES)) as u32;
        }
        Ok(options)
    }

    /// One selector matching every masked element: the markup attribute plus
    /// the `mask` option's selectors.
    pub fn mask_selector(&self) -> String {
        self.rules().mask
    }

    /// The masking configuration: markup attributes plus these options.
    pub fn rules(&self) -> Rules {
        Rules::new(&self.mask, &self.block, self.private_by_default)
    }

    /// Every selector must parse, or `start()` fails now rather than every
    /// `matches()` failing later on the page.
    pub fn check_selectors(&self, document: &web_sys::Document) -> Result<(), VisitorError> {
        for (option, list) in [("mask", &self.mask), ("block", &self.block)] {
            for selector in list {
                if crate::dom::query_selector(&document, selector).is_err() {
                    return Err(VisitorError::InvalidSelector {
                        option,
                        selector: selector.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `canvas: { fps, bytesPerSecond }`, each optional and positive.
fn canvas_limits(v: &JsValue) -> Result<crate::canvas::budget::Limits, VisitorError> {
    let mut limits = crate::canvas::budget::Limits::default();
    if v.is_undefined() || v.is_null() {
        return Ok(limits);
    }
    if !v.is_object() {
        return Err(VisitorError::InvalidOption {
            name: "canvas",
            expected: "an object like { fps: 10, bytesPerSecond: 48000 }",
        });
    }
    let positive = |key: &str, name: &'static str| -> Result<Option<f64>, VisitorError> {
        let n = get(v, key)?;
        if n.is_undefined() || n.is_null() {
            return Ok(None);
        }
        match n.as_f64() {
            Some(n) if n.is_finite() && n > 0.0 => Ok(Some(n)),
            _ => Err(VisitorError::InvalidOption {
                name,
                expected: "a positive number",
            }),
        }
    };
    if let Some(fps) = positive("fps", "canvas.fps")? {
        limits.fps = fps.min(60.0);
    }
    if let Some(b) = positive("bytesPerSecond", "canvas.bytesPerSecond")? {
        limits.bytes_per_second = b.min(f64::from(u32::MAX)) as u32;
    }
    Ok(limits)
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue, VisitorError> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).map_err(VisitorError::js)
}

fn optional_bool(v: &JsValue, name: &'static str) -> Result<Option<bool>, VisitorError> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_bool().map(Some).ok_or(VisitorError::InvalidOption {
        name,
        expected: "true or false",
    })
}

fn selector_list(v: &JsValue, name: &'static str) -> Result<Vec<String>, VisitorError> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    let invalid = VisitorError::InvalidOption {
        name,
        expected: "an array of CSS selector strings",
    };
    let Some(array) = v.dyn_ref::<js_sys::Array>() else {
        return Err(invalid);
    };
    let mut out = Vec::with_capacity(array.length() as usize);
    for item in array.iter() {
        match item.as_string() {
            Some(s) if !s.trim().is_empty() => out.push(s),
            _ => return Err(invalid),
        }
    }
    Ok(out)
}

/// The visitor socket's URL for a relay base URL: `http` becomes `ws`,
/// `https` becomes `wss`, and `/ws/visitor` is appended.
pub fn socket_url(relay: &str) -> Result<String, VisitorError> {
    let base = relay.trim().trim_end_matches('/');
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| VisitorError::InvalidRelay(relay.to_owned()))?;
    let ws_scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws://",
        "https" | "wss" => "wss://",
        _ => return Err(VisitorError::InvalidRelay(relay.to_owned())),
    };
    if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
        return Err(VisitorError::InvalidRelay(relay.to_owned()));
    }
    let mut url = String::with_capacity(base.len() + 12);
    url.push_str(ws_scheme);
    url.push_str(rest);
    url.push_str("/ws/visitor");
    Ok(url)
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn http_relays_become_websocket_urls() {
        assert_eq!(
            socket_url("http://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080/ws/visitor"
        );
        assert_eq!(
            socket_url("https://relay.example.com/").unwrap(),
            "wss://relay.example.com/ws/visitor"
        );
        assert_eq!(
            socket_url(" HTTPS://relay.example.com/cb// ").unwrap(),
            "wss://relay.example.com/cb/ws/visitor"
        );
        assert_eq!(
            socket_url("wss://r.test").unwrap(),
            "wss://r.test/ws/visitor"
        );
    }

    #[test]
    fn other_relay_strings_are_refused() {
        for bad in [
            "",
            "relay.example.com",
            "ftp://x",
            "http://",
            "http:///path",
            "http://a b",
        ] {
            assert!(
                matches!(socket_url(bad), Err(VisitorError::InvalidRelay(_))),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn defaults_are_as_documented() {
        let o = Options::new("http://127.0.0.1:8080/").unwrap();
        assert_eq!(o.relay, "http://127.0.0.1:8080");
        assert!(o.enable_static_resource_service);
        assert!(o.css_server);
        assert_eq!(o.mask_selector(), "[data-cobrowse-mask]");
        assert!(!o.private_by_default);
        assert_eq!(o.rules().block, "[data-cobrowse-block]");
        assert_eq!(o.rules().unmask, "[data-cobrowse-unmask]");
    }

    #[test]
    fn block_selectors_join_the_markup_attribute() {
        let mut o = Options::new("http://r.test").unwrap();
        o.block = vec!["#ssn".into()];
        o.private_by_default = true;
        let rules = o.rules();
        assert_eq!(rules.block, "[data-cobrowse-block],#ssn");
        assert!(rules.private_by_default);
    }

    #[test]
    fn mask_selectors_join_the_markup_attribute() {
        let mut o = Options::new("http://r.test").unwrap();
        o.mask = vec![".secret".into(), "#card input".into()];
        assert_eq!(
            o.mask_selector(),
            "[data-cobrowse-mask],.secret,#card input"
        );
    }
}
