//! The console's address: `/agent/#token=TOKEN&code=CODE&mode=view|shared`.
//! Owns: reading those parameters (form-encoded, as `URLSearchParams` writes
//! them) and writing them back. Does not own: what happens next (`app`).

use protocol::{JoinCode, Mode};

/// What the address asks the console to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Not enough to join: show the login form, filled with what is known.
    Login {
        token: String,
        code: String,
        mode: Mode,
    },
    Join(JoinRequest),
    /// The address cannot work as it is (a malformed code): say why, don't
    /// connect.
    Invalid {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub token: String,
    pub code: JoinCode,
    pub mode: Mode,
}

/// Reads `location.hash` (with or without its leading `#`).
pub fn route(hash: &str) -> Route {
    let hash = hash.strip_prefix('#').unwrap_or(hash);
    let (mut token, mut code, mut mode) = (String::new(), String::new(), Mode::ViewOnly);
    for pair in hash.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode_component(value);
        match decode_component(key).as_str() {
            "token" => token = value.trim().to_owned(),
            "code" => code = value.trim().to_owned(),
            "mode" => mode = parse_mode(&value),
            _ => {}
        }
    }
    if token.is_empty() || code.is_empty() {
        return Route::Login { token, code, mode };
    }
    match JoinCode::parse(&code) {
        Ok(code) => Route::Join(JoinRequest { token, code, mode }),
        Err(_) => Route::Invalid {
            message: format!("“{code}” is not a join code: the code has 6 digits."),
        },
    }
}

/// `view` (and anything unknown, the least the agent can do) or `shared`.
fn parse_mode(value: &str) -> Mode {
    if value.eq_ignore_ascii_case("shared") {
        Mode::Shared
    } else {
        Mode::ViewOnly
    }
}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::ViewOnly => "view",
        Mode::Shared => "shared",
    }
}

/// The hash (with `#`) that joins with these parameters.
pub fn hash_for(token: &str, code: &str, mode: Mode) -> String {
    // A code typed as "123 456" goes into the address as "123456".
    let code = JoinCode::parse(code).map_or_else(|_| code.trim().to_owned(), String::from);
    format!(
        "#token={}&code={}&mode={}",
        encode_component(token.trim()),
        encode_component(&code),
        mode_name(mode)
    )
}

/// Form-decodes one component: `+` is a space, `%XX` a byte; broken escapes
/// stay as written and bytes that are not UTF-8 become U+FFFD.
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(token: &str, code: &str, mode: Mode) -> Route {
        Route::Join(JoinRequest {
            token: token.into(),
            code: JoinCode::parse(code).expect("valid code"),
            mode,
        })
    }

    #[test]
    fn a_full_link_joins_at_once_in_view_mode_by_default() {
        assert_eq!(
            route("#token=dev&code=123456"),
            join("dev", "123456", Mode::ViewOnly)
        );
        assert_eq!(
            route("#token=dev&code=123456&mode=view"),
            join("dev", "123456", Mode::ViewOnly)
        );
        assert_eq!(
            route("token=dev&code=123456&mode=shared"),
            join("dev", "123456", Mode::Shared)
        );
    }

    #[test]
    fn encoded_tokens_and_spaced_codes_are_read() {
        assert_eq!(
            route("#code=123+456&token=a%2Bb%3D%3D"),
            join("a+b==", "123456", Mode::ViewOnly)
        );
    }

    #[test]
    fn without_token_or_code_the_login_form_shows_what_is_known() {
        assert_eq!(
            route(""),
            Route::Login {
                token: String::new(),
                code: String::new(),
                mode: Mode::ViewOnly
            }
        );
        assert_eq!(
            route("#code=123456&mode=shared"),
            Route::Login {
                token: String::new(),
                code: "123456".into(),
                mode: Mode::Shared
            }
        );
        assert!(matches!(route("#token=dev"), Route::Login { .. }));
    }

    #[test]
    fn a_malformed_code_is_refused_with_a_sentence() {
        let Route::Invalid { message } = route("#token=dev&code=12ab56") else {
            panic!("expected Invalid");
        };
        assert!(
            message.contains("12ab56") && message.contains("6 digits"),
            "{message}"
        );
        assert!(matches!(
            route("#token=dev&code=1234567"),
            Route::Invalid { .. }
        ));
    }

    #[test]
    fn broken_escapes_do_not_panic() {
        assert!(matches!(route("#token=%&code=%zz%"), Route::Invalid { .. }));
        assert!(matches!(route("#token=%C3&code=123456"), Route::Join(_)));
        assert!(matches!(route("#&&=&token"), Route::Login { .. }));
    }

    #[test]
    fn hash_for_round_trips() {
        let hash = hash_for("t&k=1 2", " 123 456 ", Mode::Shared);
        assert_eq!(hash, "#token=t%26k%3D1%202&code=123456&mode=shared");
        assert_eq!(route(&hash), join("t&k=1 2", "123456", Mode::Shared));
        // What is not a code is kept as typed, for the route to refuse.
        assert_eq!(
            hash_for("t", "12ab", Mode::ViewOnly),
            "#token=t&code=12ab&mode=view"
        );
    }
}
