//! Wrapping the page's CSSOM methods, setters and constructors so the
//! capture hears of changes the DOM does not show.
//!
//! Owns: [`Patch`], one wrapped property as an RAII guard. Each wrapper is
//! a `Proxy` of the page's original function whose trap calls the original
//! first (its result or exception is the page's, untouched) and then a hook
//! that cannot throw. Dropping the guard puts the original back; if the
//! page has since wrapped our wrapper in turn, the original cannot be put
//! back without undoing the page's, so the trap is removed from the proxy
//! instead, which then forwards calls as if it were not there. Either way
//! the Rust closure is unreachable before it is freed.
//! Does not own: what the hooks do (`cssom/mod.rs`).

use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// What a hook hears: `this` (for a constructor, the new object), the
/// arguments, and the original's result.
pub(crate) type Hook = Rc<dyn Fn(&JsValue, &Array, &JsValue)>;

type Trap = Closure<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>;

#[must_use = "a patch is removed when dropped"]
pub(crate) struct Patch {
    target: Object,
    key: JsValue,
    /// The property's descriptor before we wrapped it.
    original: Object,
    /// The wrapper we installed: restored only if it is still there.
    proxy: JsValue,
    /// `value` or `set`: which part of the descriptor was wrapped.
    part: &'static str,
    handler: Object,
    _trap: Trap,
}

impl Patch {
    /// Wraps method `name` of `target` (a prototype). `None` when the
    /// browser has no such method.
    pub(crate) fn method(target: &JsValue, name: &str, hook: Hook) -> Option<Patch> {
        Patch::wrap(target, name, "value", "apply", hook)
    }

    /// Wraps the setter of accessor `name` of `target`.
    pub(crate) fn setter(target: &JsValue, name: &str, hook: Hook) -> Option<Patch> {
        Patch::wrap(target, name, "set", "apply", hook)
    }

    /// Wraps the constructor `name` of `target` (the window); the hook gets
    /// the new object as `this`.
    pub(crate) fn constructor(target: &JsValue, name: &str, hook: Hook) -> Option<Patch> {
        Patch::wrap(target, name, "value", "construct", hook)
    }

    fn wrap(
        target: &JsValue,
        name: &str,
        part: &'static str,
        trap_name: &str,
        hook: Hook,
    ) -> Option<Patch> {
        let target: Object = target.clone().dyn_into().ok()?;
        let key = JsValue::from_str(name);
        let original = Reflect::get_own_property_descriptor(&target, &key)
            .ok()?
            .dyn_into::<Object>()
            .ok()?;
        let function = Reflect::get(&original, &JsValue::from_str(part)).ok()?;
        if !function.is_function() {
            return None;
        }
        let construct = trap_name == "construct";
        // `Fn`, not `FnMut`: a page may call a wrapped method from inside
        // another (a subclass constructor), and re-entering must not panic.
        let trap: Trap = Closure::wrap(Box::new(
            move |target: JsValue, first: JsValue, second: JsValue| {
                if construct {
                    // construct(target, args, newTarget)
                    let args: Array = first.unchecked_into();
                    let made = Reflect::construct_with_new_target(
                        target.unchecked_ref(),
                        &args,
                        second.unchecked_ref(),
                    )?;
                    hook(&made, &args, &made);
                    Ok(made)
                } else {
                    // apply(target, this, args)
                    let args: Array = second.unchecked_into();
                    let function: &js_sys::Function = target.unchecked_ref();
                    let result = Reflect::apply(function, &first, &args)?;
                    hook(&first, &args, &result);
                    Ok(result)
                }
            },
        ));
        let handler = Object::new();
        Reflect::set(&handler, &JsValue::from_str(trap_name), trap.as_ref()).ok()?;
        let proxy: JsValue = js_sys::Proxy::new(&function, &handler).into();
        let replaced = Object::assign(&Object::new(), &original);
        Reflect::set(&replaced, &JsValue::from_str(part), &proxy).ok()?;
        // A non-configurable property (a frozen prototype) cannot be wrapped.
        if !Reflect::define_property(&target, &key, &replaced).unwrap_or(false) {
            return None;
        }
        Some(Patch {
            target,
            key,
            original,
            proxy,
            part,
            handler,
            _trap: trap,
        })
    }
}

impl Patch {
    /// The page's own function, unwrapped (for the capture's own calls,
    /// which must not be heard as the page's).
    pub(crate) fn original(&self) -> JsValue {
        Reflect::get(&self.original, &JsValue::from_str(self.part)).unwrap_or(JsValue::UNDEFINED)
    }
}

impl Drop for Patch {
    fn drop(&mut self) {
        for trap in ["apply", "construct"] {
            let _ = Reflect::delete_property(&self.handler, &JsValue::from_str(trap));
        }
        let current = Reflect::get_own_property_descriptor(&self.target, &self.key)
            .ok()
            .and_then(|d| Reflect::get(&d, &JsValue::from_str(self.part)).ok());
        if current.is_some_and(|f| Object::is(&f, &self.proxy)) {
            let _ = Reflect::define_property(&self.target, &self.key, &self.original);
        }
    }
}
