//! Console logging for the plain-Rust parts: `console.warn`/`console.debug` in
//! the browser, stderr (warnings only) in native tests. Owns nothing else.

#[cfg(target_arch = "wasm32")]
pub fn warn(message: &str) {
    web_sys::console::warn_1(&format!("[cobrowse] {message}").into());
}

#[cfg(target_arch = "wasm32")]
pub fn debug(message: &str) {
    web_sys::console::debug_1(&format!("[cobrowse] {message}").into());
}

#[cfg(not(target_arch = "wasm32"))]
pub fn warn(message: &str) {
    eprintln!("[cobrowse] warn: {message}");
}

#[cfg(not(target_arch = "wasm32"))]
pub fn debug(_message: &str) {}
