//! An agent's pointing, control and mode requests on their way to the
//! visitor: this connection's budgets and standing, the mode check for
//! control, and the drops (counted; logged with a cap).
//!
//! Owns: passing an agent's message on. Does not own: the rules of what may
//! pass (`gate.rs`) or the agent's live loop (`live.rs`).

use std::sync::Arc;

use protocol::{AgentId, Control, FromAgent, Mode, SessionId, ToAgent, ToVisitor};

use crate::bus::{Bus, Delivery, Topic};
use crate::gate::{Budget, DropReason, Standing};
use crate::metrics::AgentKind;
use crate::server::App;
use crate::sessions::{ModeChange, SessionStore};
use crate::RelayError;

/// This connection's part in deciding what reaches the visitor.
pub(super) struct Gate {
    pub(super) standing: Arc<Standing>,
    /// Pointing has a budget of its own, so a flood of it cannot starve
    /// control.
    points: Budget,
    /// Control and mode requests.
    acts: Budget,
    /// Drops this connection logged at warn; later ones go to debug (the
    /// metric counts them all), so a runaway console cannot flood the log.
    warned: u32,
}

/// Warn lines per connection about its dropped messages.
const DROP_WARNINGS: u32 = 5;

impl Gate {
    pub(super) fn new(standing: Arc<Standing>, per_second: u32) -> Gate {
        Gate {
            standing,
            points: Budget::new(per_second),
            acts: Budget::new(per_second),
            warned: 0,
        }
    }

    /// Whether a message of `kind` may go on by the agent's standing and
    /// budget (not its mode: see [`control_page`]); counts what it drops.
    pub(super) fn pass<S, B>(
        &mut self,
        app: &App<S, B>,
        session: &SessionId,
        agent: AgentId,
        kind: AgentKind,
    ) -> bool {
        let refusal = if !self.standing.admitted() {
            Some(DropReason::NotAdmitted)
        } else {
            let budget = match kind {
                AgentKind::Point => &mut self.points,
                AgentKind::Control | AgentKind::ModeRequest => &mut self.acts,
            };
            (!budget.take()).then_some(DropReason::Rate)
        };
        match refusal {
            None => true,
            Some(reason) => {
                // Pointing before admission or too fast is harmless noise.
                let notable = kind != AgentKind::Point;
                self.dropped(app, session, agent, reason, (kind.label(), notable));
                false
            }
        }
    }

    fn dropped<S, B>(
        &mut self,
        app: &App<S, B>,
        session: &SessionId,
        agent: AgentId,
        reason: DropReason,
        (what, notable): (&str, bool),
    ) {
        app.metrics.agent_dropped(reason);
        if notable && self.warned < DROP_WARNINGS {
            self.warned += 1;
            let last = self.warned == DROP_WARNINGS;
            tracing::warn!(
                %session,
                agent = agent.0,
                message = what,
                reason = reason.label(),
                "agent message dropped{}",
                if last { " (this agent's further drops are logged at debug level)" } else { "" }
            );
        } else {
            tracing::debug!(%session, agent = agent.0, message = what, reason = reason.label(), "agent message dropped");
        }
    }
}

/// Passes `msg` on to the session's visitor.
pub(super) async fn to_visitor<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
    msg: FromAgent,
) -> Result<(), RelayError> {
    let kind = match &msg {
        FromAgent::Point(_) => AgentKind::Point,
        FromAgent::Control(_) => AgentKind::Control,
        FromAgent::ModeRequest(_) => AgentKind::ModeRequest,
    };
    let delivery = Delivery::Visitor(ToVisitor::FromAgent { agent, msg });
    // Nobody took it: the visitor is gone and the session's end is on its
    // way to this agent.
    if app
        .bus
        .publish(&Topic::Visitor(session.clone()), delivery)
        .await?
        > 0
    {
        app.metrics.agent_forwarded(kind);
    }
    Ok(())
}

/// Control goes on only while the agent is admitted and its mode is
/// Shared: first as this connection last heard it (no store round trip for
/// a console that keeps clicking in view-only mode), then as the store
/// records it (a withdrawal may be on its way here from another relay).
/// A dropped control does not end the connection: a console may send one
/// just before it hears that its mode changed.
pub(super) async fn control_page<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
    gate: &mut Gate,
    control: Control,
) -> Result<(), RelayError> {
    let what = control_kind(&control);
    if !gate.standing.admitted() {
        gate.dropped(app, session, agent, DropReason::NotAdmitted, (what, true));
        return Ok(());
    }
    if gate.standing.mode() != Mode::Shared {
        gate.dropped(app, session, agent, DropReason::Mode, (what, true));
        return Ok(());
    }
    // Before the store is asked, so a flood costs no round trips.
    if !gate.acts.take() {
        gate.dropped(app, session, agent, DropReason::Rate, (what, true));
        return Ok(());
    }
    if app.store.agent_mode(session, agent).await? != Some(Mode::Shared) {
        gate.dropped(app, session, agent, DropReason::Mode, (what, true));
        return Ok(());
    }
    to_visitor(app, session, agent, FromAgent::Control(control)).await
}

/// Shared mode is the visitor's to grant: the request goes to the visitor
/// and changes nothing here. View-only takes effect at once (recorded,
/// confirmed to the agent) and the visitor hears of it too.
pub(super) async fn request_mode<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
    gate: &mut Gate,
    mode: Mode,
) -> Result<(), RelayError> {
    if !gate.pass(app, session, agent, AgentKind::ModeRequest) {
        return Ok(());
    }
    if mode == Mode::ViewOnly {
        let change = app.store.set_mode(session, agent, mode).await?;
        app.metrics.mode_change(change);
        if change == ModeChange::Changed {
            tracing::info!(%session, agent = agent.0, "agent stepped down to view-only");
        }
        if matches!(change, ModeChange::Changed | ModeChange::Unchanged) {
            // Through the bus, not straight into our mailbox: the standing
            // then follows this and the visitor's grants in one order.
            let topic = Topic::Agent(session.clone(), agent);
            app.bus
                .publish(&topic, Delivery::Agent(ToAgent::Mode(mode)))
                .await?;
        }
    }
    to_visitor(app, session, agent, FromAgent::ModeRequest(mode)).await
}

/// A control's kind for the log; never its content (a typed value may be
/// anything the visitor would not want in a log).
fn control_kind(control: &Control) -> &'static str {
    match control {
        Control::Click { .. } => "control:click",
        Control::SetValue { .. } => "control:set_value",
        Control::SetChecked { .. } => "control:set_checked",
        Control::SelectOptions { .. } => "control:select_options",
        Control::Submit { .. } => "control:submit",
        Control::Navigate(_) => "control:navigate",
    }
}
