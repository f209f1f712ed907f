//! Who may do what on the visitor's page, as plain Rust: the agents asking
//! and watching, the mode this script granted each one, open requests for
//! control, and the refusals that hold in any mode.
//!
//! Owns: the bookkeeping and the decisions. The relay checks modes too;
//! this script checks again on its own record, so a relay that forwards a
//! control it should not cannot make the page act. Does not own: the panel
//! (`ui.rs`) or acting on the page (`remote.rs`).

use protocol::{AgentId, Mode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    /// Asked for (while asking), or granted by this script (while watching).
    pub mode: Mode,
}

/// What a mode request from an agent leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Shared mode: the visitor is asked.
    Ask,
    /// View-only: control was dropped at once.
    Dropped,
    /// Nothing changes (not watching, already in that mode).
    Ignored,
}

/// May an agent's control act on the page?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; `first` says it is this agent's first refusal (logged once).
    Refused {
        first: bool,
    },
}

#[derive(Debug, Default)]
pub struct Roster {
    asking: Vec<Agent>,
    watching: Vec<Agent>,
    /// Agents waiting for the visitor's answer to "may I control?".
    requests: Vec<AgentId>,
    /// Agents whose refused control was logged already.
    warned: Vec<AgentId>,
}

impl Roster {
    /// The first agent waiting to be let in.
    pub fn asking(&self) -> Option<&Agent> {
        self.asking.first()
    }

    pub fn watching(&self) -> &[Agent] {
        &self.watching
    }

    pub fn is_watched(&self) -> bool {
        !self.watching.is_empty()
    }

    fn watcher(&mut self, id: AgentId) -> Option<&mut Agent> {
        self.watching.iter_mut().find(|a| a.id == id)
    }

    /// The first agent whose request for control waits for an answer.
    pub fn requesting(&self) -> Option<&Agent> {
        let id = self.requests.first()?;
        self.watching.iter().find(|a| a.id == *id)
    }

    /// An agent asks to see the page (in `mode`).
    pub fn joined(&mut self, id: AgentId, name: String, mode: Mode) {
        self.asking.retain(|a| a.id != id);
        self.asking.push(Agent { id, name, mode });
    }

    /// The visitor accepted: the agent watches in the mode it asked for
    /// (accepting is consent to that mode). `false` if it was not asking.
    pub fn accept(&mut self, id: AgentId) -> bool {
        let Some(at) = self.asking.iter().position(|a| a.id == id) else {
            return false;
        };
        let agent = self.asking.remove(at);
        self.watching.retain(|a| a.id != id);
        self.watching.push(agent);
        true
    }

    /// A resumed session: exactly these agents watch, in these modes (the
    /// visitor let them in on an earlier page). Questions still open before
    /// are void: the relay asks again for whoever still waits.
    pub fn resumed(&mut self, agents: impl IntoIterator<Item = Agent>) {
        self.asking.clear();
        self.requests.clear();
        self.watching = agents.into_iter().collect();
    }

    pub fn decline(&mut self, id: AgentId) {
        self.asking.retain(|a| a.id != id);
    }

    /// The agent is gone; whatever it held or asked goes with it.
    pub fn left(&mut self, id: AgentId) {
        self.asking.retain(|a| a.id != id);
        self.watching.retain(|a| a.id != id);
        self.requests.retain(|a| *a != id);
        self.warned.retain(|a| *a != id);
    }

    /// An agent asks for `mode`.
    pub fn request(&mut self, id: AgentId, mode: Mode) -> Request {
        let Some(agent) = self.watcher(id) else {
            return Request::Ignored;
        };
        match mode {
            Mode::ViewOnly => {
                let was = std::mem::replace(&mut agent.mode, Mode::ViewOnly);
                self.requests.retain(|a| *a != id);
                if was == Mode::Shared {
                    Request::Dropped
                } else {
                    Request::Ignored
                }
            }
            Mode::Shared if agent.mode == Mode::Shared => Request::Ignored,
            Mode::Shared => {
                if !self.requests.contains(&id) {
                    self.requests.push(id);
                }
                Request::Ask
            }
        }
    }

    /// The visitor allowed control: `true` if there was such a request
    /// (then the agent is in shared mode and the relay must be told).
    pub fn allow(&mut self, id: AgentId) -> bool {
        if !self.requests.contains(&id) {
            return false;
        }
        self.requests.retain(|a| *a != id);
        match self.watcher(id) {
            Some(agent) => {
                agent.mode = Mode::Shared;
                true
            }
            None => false,
        }
    }

    /// The visitor kept the agent view-only.
    pub fn deny(&mut self, id: AgentId) {
        self.requests.retain(|a| *a != id);
    }

    /// The visitor took control back: `true` if the agent had it.
    pub fn view_only(&mut self, id: AgentId) -> bool {
        match self.watcher(id) {
            Some(agent) if agent.mode == Mode::Shared => {
                agent.mode = Mode::ViewOnly;
                true
            }
            _ => false,
        }
    }

    /// Whether a control from `id` may act: only from a watching agent this
    /// script granted shared mode.
    pub fn may_control(&mut self, id: AgentId) -> Verdict {
        if self
            .watching
            .iter()
            .any(|a| a.id == id && a.mode == Mode::Shared)
        {
            return Verdict::Allowed;
        }
        let first = !self.warned.contains(&id);
        if first {
            self.warned.push(id);
        }
        Verdict::Refused { first }
    }
}

/// What a control does to its element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Click,
    /// Sets a value, ticks a box or chooses options.
    Fill,
    Submit,
}

/// What the page knows of a control's target element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Target {
    /// The element is the visitor's own UI or inside it.
    pub inside_ui: bool,
    /// A password field (now or ever).
    pub password: bool,
    /// Masked (a mask marker or selector, or private by default).
    pub masked: bool,
    /// Blocked (it or an ancestor).
    pub blocked: bool,
    /// A click would follow a link to another origin.
    pub foreign_link: bool,
}

/// Why a control is refused, in any mode (`None`: it may act).
pub fn refusal(act: Act, t: Target) -> Option<&'static str> {
    if t.inside_ui {
        return Some("the visitor's own co-browsing panel");
    }
    match act {
        Act::Fill if t.password => Some("a password field"),
        Act::Fill if t.masked => Some("a masked field"),
        Act::Fill if t.blocked => Some("a blocked element"),
        Act::Click if t.foreign_link => Some("a link to another site"),
        _ => None,
    }
}

/// Whether an agent may send the page to `target_origin` (an origin as
/// `URL.origin` gives it: `"null"` for `javascript:`, `data:` and the like).
pub fn may_navigate(page_origin: &str, target_origin: &str) -> bool {
    target_origin != "null" && target_origin == page_origin
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const ANN: AgentId = AgentId(1);
    const BO: AgentId = AgentId(2);

    fn roster() -> Roster {
        let mut r = Roster::default();
        r.joined(ANN, "Ann".into(), Mode::ViewOnly);
        r.joined(BO, "Bo".into(), Mode::Shared);
        r
    }

    #[test]
    fn a_resumed_session_restores_watchers_and_their_modes_without_consent() {
        let mut r = roster();
        r.accept(ANN);
        assert_eq!(r.request(ANN, Mode::Shared), Request::Ask);
        r.resumed([
            Agent {
                id: BO,
                name: "Bo".into(),
                mode: Mode::Shared,
            },
            Agent {
                id: AgentId(3),
                name: "Cy".into(),
                mode: Mode::ViewOnly,
            },
        ]);
        assert_eq!(r.asking(), None, "no question survives");
        assert_eq!(r.requesting(), None);
        assert_eq!(r.may_control(BO), Verdict::Allowed);
        assert_eq!(r.may_control(AgentId(3)), Verdict::Refused { first: true });
        assert_eq!(r.may_control(ANN), Verdict::Refused { first: true });
        assert_eq!(r.watching().len(), 2);
        // Later agents still ask.
        r.joined(AgentId(4), "Di".into(), Mode::ViewOnly);
        assert_eq!(r.asking().map(|a| a.id), Some(AgentId(4)));
    }

    #[test]
    fn accepting_grants_the_mode_the_agent_asked_for() {
        let mut r = roster();
        assert!(!r.is_watched());
        assert_eq!(r.may_control(BO), Verdict::Refused { first: true });
        assert!(r.accept(ANN) && r.accept(BO));
        assert!(!r.accept(BO), "not asking any more");
        assert_eq!(r.may_control(ANN), Verdict::Refused { first: true });
        assert_eq!(r.may_control(ANN), Verdict::Refused { first: false });
        assert_eq!(r.may_control(BO), Verdict::Allowed);
        r.decline(AgentId(9));
        assert_eq!(r.may_control(AgentId(9)), Verdict::Refused { first: true });
    }

    #[test]
    fn shared_mode_needs_the_visitors_allow_and_view_only_is_immediate() {
        let mut r = roster();
        r.accept(ANN);
        assert_eq!(
            r.request(BO, Mode::Shared),
            Request::Ignored,
            "not admitted"
        );
        assert_eq!(r.request(ANN, Mode::Shared), Request::Ask);
        assert_eq!(r.request(ANN, Mode::Shared), Request::Ask, "asked again");
        assert_eq!(r.requesting().map(|a| a.id), Some(ANN));
        assert_eq!(r.may_control(ANN), Verdict::Refused { first: true });
        assert!(r.allow(ANN));
        assert!(!r.allow(ANN), "one answer per request");
        assert_eq!(r.requesting(), None);
        assert_eq!(r.may_control(ANN), Verdict::Allowed);
        assert_eq!(r.request(ANN, Mode::Shared), Request::Ignored);
        // The agent drops back itself: control stops at once.
        assert_eq!(r.request(ANN, Mode::ViewOnly), Request::Dropped);
        assert_eq!(r.may_control(ANN), Verdict::Refused { first: false });
        assert_eq!(r.request(ANN, Mode::ViewOnly), Request::Ignored);
        // Keep view-only: nothing granted.
        r.request(ANN, Mode::Shared);
        r.deny(ANN);
        assert_eq!(r.requesting(), None);
        assert!(!r.allow(ANN), "the answer was given");
        assert!(matches!(r.may_control(ANN), Verdict::Refused { .. }));
    }

    #[test]
    fn the_visitor_takes_control_back_and_a_leaver_takes_nothing_along() {
        let mut r = roster();
        r.accept(BO);
        assert_eq!(r.may_control(BO), Verdict::Allowed);
        assert!(r.view_only(BO));
        assert!(!r.view_only(BO), "already view-only");
        assert_eq!(r.may_control(BO), Verdict::Refused { first: true });
        r.request(BO, Mode::Shared);
        r.left(BO);
        assert_eq!(r.requesting(), None);
        assert!(!r.allow(BO));
        assert!(r.watching().is_empty());
        // Back under the same id (ids are not reused, but be safe): asks anew.
        r.joined(BO, "Bo".into(), Mode::ViewOnly);
        r.accept(BO);
        assert_eq!(r.may_control(BO), Verdict::Refused { first: true });
    }

    #[test]
    fn the_visitors_panel_and_secret_fields_refuse_in_any_mode() {
        let ui = Target {
            inside_ui: true,
            ..Target::default()
        };
        for act in [Act::Click, Act::Fill, Act::Submit] {
            assert!(refusal(act, ui).is_some());
            assert_eq!(refusal(act, Target::default()), None);
        }
        for t in [
            Target {
                password: true,
                ..Target::default()
            },
            Target {
                masked: true,
                ..Target::default()
            },
            Target {
                blocked: true,
                ..Target::default()
            },
        ] {
            assert!(refusal(Act::Fill, t).is_some(), "{t:?}");
            assert_eq!(refusal(Act::Click, t), None, "clicking is not typing");
        }
        let link = Target {
            foreign_link: true,
            ..Target::default()
        };
        assert!(refusal(Act::Click, link).is_some());
        assert!(may_navigate("https://shop.example", "https://shop.example"));
        assert!(!may_navigate(
            "https://shop.example",
            "https://evil.example"
        ));
        assert!(!may_navigate("https://shop.example", "http://shop.example"));
        assert!(!may_navigate("null", "null"), "javascript: and data: URLs");
    }
}
