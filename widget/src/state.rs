//! The banner's state and its reducer: which layer is open, where every switch
//! stands, what is expanded, and what the visitor decided.
//!
//! Pure data and one pure function ([`State::reduce`]), so that every rule of the
//! banner is unit-tested natively, without a browser: nothing is pre-ticked,
//! necessary services are always on, closing is never a choice, and "Nur
//! Notwendige" after a consent is a withdrawal. The components only render a
//! [`State`] and dispatch [`Msg`]s; the DOM, focus and callbacks live there.
//!
//! Ids are kept in lists, not `BTreeMap`s or sets: a banner has a few dozen at
//! most, and the B-tree code for each key and value type cost the WASM some
//! 14 KB (issue 13).

use std::rc::Rc;

use keksdose_shared::config::NECESSARY;
use keksdose_shared::{Action, Decision};
use yew::Reducible;

use crate::site::Earlier;
use crate::view::View;

/// Which part of the banner is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Title, short text and the three equal buttons.
    First,
    /// Every category and service with its switch and details.
    Settings,
}

/// Switches by id, in the view's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(pub Vec<(String, bool)>);

impl Flags {
    /// The switch of `id`, if it has one.
    pub fn get(&self, id: &str) -> Option<bool> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, on)| *on)
    }

    /// Sets the switch of `id`, adding it if it has none.
    pub fn set(&mut self, id: &str, on: bool) {
        match self.0.iter_mut().find(|(k, _)| k == id) {
            Some(entry) => entry.1 = on,
            None => self.0.push((id.to_string(), on)),
        }
    }
}

/// What the visitor decided: the action and, for `custom`, every switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub action: Action,
    /// The switches, for `custom` (empty otherwise): what to POST as the decision.
    pub categories: Flags,
    pub services: Flags,
}

impl Decided {
    fn new(action: Action) -> Decided {
        Decided {
            action,
            categories: Flags::default(),
            services: Flags::default(),
        }
    }

    /// The same as the ledger's [`Decision`] (for the tests and the server).
    pub fn to_decision(&self) -> Decision {
        let mut d = Decision::new(self.action);
        d.categories = self.categories.0.iter().cloned().collect();
        d.services = self.services.0.iter().cloned().collect();
        d
    }
}

/// How the banner ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The visitor chose; this is what to record and apply.
    Decided(Decided),
    /// The visitor closed the settings they had reopened: their earlier decision stands.
    Closed,
}

/// Something the visitor did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// "Einstellungen" on the first layer.
    OpenSettings,
    /// A category's switch.
    ToggleCategory(String),
    /// A service's own switch.
    ToggleService(String),
    /// Show or hide a category's services.
    ToggleCategoryDetails(String),
    /// Show or hide a service's details.
    ToggleServiceDetails(String),
    /// "Alle akzeptieren".
    AcceptAll,
    /// "Nur Notwendige".
    RejectAll,
    /// "Auswahl speichern".
    Save,
    /// The settings' close button or Escape. Never a choice: on the first layer it
    /// does nothing, in settings opened from the first layer it goes back there,
    /// and only in settings reopened over an existing decision does it close.
    Close,
}

/// Everything the banner shows that can change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub layer: Layer,
    /// Whether the visitor reopened the settings over a decision they made before
    /// ("Cookie-Einstellungen"); only then may the banner close without a new one.
    pub reopened: bool,
    /// Whether "Nur Notwendige" withdraws a consent: the visitor has a consent ID
    /// and allowed something beyond the necessary.
    pub withdraws: bool,
    /// Every category's switch; `necessary` is always on.
    pub categories: Flags,
    /// Every service's switch; necessary services are always on.
    pub services: Flags,
    /// Categories whose services are shown.
    pub expanded_categories: Vec<String>,
    /// Services whose details are shown.
    pub expanded_services: Vec<String>,
    /// Set once; the banner is done then.
    pub outcome: Option<Outcome>,
    /// Each service with its category, so that the reducer needs no view.
    service_category: Vec<(String, String)>,
}

impl State {
    /// The banner as it opens. `stored` is the visitor's earlier decision, if any:
    /// the switches start from it (a service it does not explicitly allow starts
    /// off, a category is on when all of its services are). Without one, every
    /// switch but the necessary ones is off. `layer` is where the loader asked to
    /// open; settings count as reopened only when there is an earlier decision to
    /// fall back on.
    pub fn new(view: &View, stored: Option<&Earlier>, layer: Layer) -> State {
        // The switches are the stored decision restated by the rule the loader
        // and `Decision::restate` share, and "Nur Notwendige" withdraws by the
        // rule of `withdrawal::reject_action`: a test holds both equal to those
        // over every example config.
        let allowed = |id: &str| stored.is_some_and(|s| s.allowed(id));
        let (mut categories, mut services) = (Flags::default(), Flags::default());
        let mut service_category = Vec::new();
        for c in &view.categories {
            let necessary = c.id == NECESSARY;
            let mut all = true;
            for s in &c.services {
                let on = necessary || allowed(&s.id);
                all &= on;
                services.set(&s.id, on);
                service_category.push((s.id.clone(), c.id.clone()));
            }
            let on = necessary
                || if c.services.is_empty() {
                    allowed(&c.id)
                } else {
                    all
                };
            categories.set(&c.id, on);
        }
        let withdraws = stored.is_some_and(|s| {
            s.consent_id.is_some() && s.granted.iter().any(|id| !view.is_necessary(id))
        });
        State {
            layer,
            reopened: layer == Layer::Settings && stored.is_some(),
            withdraws,
            categories,
            services,
            expanded_categories: Vec::new(),
            expanded_services: Vec::new(),
            outcome: None,
            service_category,
        }
    }

    /// The state after `msg`. Once decided or closed, nothing changes any more.
    #[must_use]
    pub fn reduce(&self, msg: Msg) -> State {
        let mut next = self.clone();
        if self.outcome.is_some() {
            return next;
        }
        match msg {
            Msg::OpenSettings => next.layer = Layer::Settings,
            Msg::ToggleCategory(id) => {
                if id != NECESSARY
                    && let Some(on) = self.categories.get(&id)
                {
                    next.categories.set(&id, !on);
                    for (service, category) in &self.service_category {
                        if *category == id {
                            next.services.set(service, !on);
                        }
                    }
                }
            }
            Msg::ToggleService(id) => {
                let Some(category) = self.category_of(&id) else {
                    return next;
                };
                if category == NECESSARY {
                    return next;
                }
                if let Some(on) = self.services.get(&id) {
                    next.services.set(&id, !on);
                }
                // A category is on when all of its services are (as `Decision::resolve`
                // counts it); a service may still differ from its category.
                let all_on = self
                    .service_category
                    .iter()
                    .filter(|(_, c)| c == category)
                    .all(|(s, _)| next.services.get(s).unwrap_or(false));
                next.categories.set(category, all_on);
            }
            Msg::ToggleCategoryDetails(id) => toggle(&mut next.expanded_categories, id),
            Msg::ToggleServiceDetails(id) => toggle(&mut next.expanded_services, id),
            Msg::AcceptAll => {
                next.outcome = Some(Outcome::Decided(Decided::new(Action::AcceptAll)))
            }
            Msg::RejectAll => {
                let action = if self.withdraws {
                    Action::Withdraw
                } else {
                    Action::RejectAll
                };
                next.outcome = Some(Outcome::Decided(Decided::new(action)));
            }
            Msg::Save => {
                next.outcome = Some(Outcome::Decided(Decided {
                    action: Action::Custom,
                    categories: self.categories.clone(),
                    services: self.services.clone(),
                }));
            }
            Msg::Close => match self.layer {
                Layer::First => {}
                Layer::Settings if self.reopened => next.outcome = Some(Outcome::Closed),
                Layer::Settings => next.layer = Layer::First,
            },
        }
        next
    }

    fn category_of(&self, service: &str) -> Option<&str> {
        self.service_category
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, c)| c.as_str())
    }

    /// Whether a category's switch is on.
    pub fn category_on(&self, id: &str) -> bool {
        id == NECESSARY || self.categories.get(id).unwrap_or(false)
    }

    /// Whether a service's switch is on.
    pub fn service_on(&self, id: &str) -> bool {
        self.services.get(id).unwrap_or(false) || self.category_of(id) == Some(NECESSARY)
    }

    /// Whether a category's services are shown.
    pub fn category_expanded(&self, id: &str) -> bool {
        self.expanded_categories.iter().any(|c| c == id)
    }

    /// Whether a service's details are shown.
    pub fn service_expanded(&self, id: &str) -> bool {
        self.expanded_services.iter().any(|s| s == id)
    }

    /// The decision, once made.
    pub fn decision(&self) -> Option<&Decided> {
        match &self.outcome {
            Some(Outcome::Decided(d)) => Some(d),
            _ => None,
        }
    }
}

/// Adds `id` to `list`, or takes it out.
fn toggle(list: &mut Vec<String>, id: String) {
    if list.contains(&id) {
        list.retain(|other| *other != id);
    } else {
        list.push(id);
    }
}

impl Reducible for State {
    type Action = Msg;

    fn reduce(self: Rc<Self>, msg: Msg) -> Rc<Self> {
        Rc::new(State::reduce(&self, msg))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use keksdose_shared::cookie::StoredDecision;
    use keksdose_shared::decision::Signals;
    use keksdose_shared::{Action, Decision, SiteConfig};

    use super::{Decided, Flags, Layer, Msg, Outcome, State};
    use crate::site::Earlier;
    use crate::view::View;

    fn saas() -> SiteConfig {
        SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap()
    }

    /// The banner's view of `config` in German.
    fn view(config: &SiteConfig) -> View {
        let words = keksdose_shared::texts::words_for(config, "de");
        View::new(config, &config.version(), "de", &words)
    }

    /// The banner starts its switches as `Decision::restate` and decides "Nur
    /// Notwendige" as `withdrawal::reject_action`, the rules the loader shares,
    /// for every example config and earlier decisions of every kind.
    #[test]
    fn the_switches_start_as_the_shared_rules_restate_them() {
        use keksdose_shared::withdrawal;
        for example in crate::options::tests::EXAMPLES {
            let mut config = SiteConfig::from_toml(example).unwrap();
            // A category without services: switched by its own id.
            config.categories.push(keksdose_shared::config::Category {
                id: "empty".into(),
                name: None,
                description: None,
            });
            let mut decisions = vec![
                Decision::new(Action::AcceptAll),
                Decision::new(Action::RejectAll),
            ];
            // Each service alone, and each category alone.
            for s in &config.services {
                let mut d = Decision::new(Action::Custom);
                d.services.insert(s.id.clone(), true);
                decisions.push(d);
            }
            for c in config.categories() {
                let mut d = Decision::new(Action::Custom);
                d.categories.insert(c.id.clone(), true);
                decisions.push(d);
            }
            let mut earlier = vec![None];
            for d in &decisions {
                for id in [None, Some("c1")] {
                    earlier.push(Some(stored(&config, d, id)));
                }
            }
            // Cookies the config did not make: one id alone (a category
            // without its services, a service of a necessary category), an
            // id the config does not know.
            let base = stored(&config, &Decision::new(Action::RejectAll), Some("c1"));
            let ids = config
                .categories()
                .into_iter()
                .map(|c| c.id)
                .chain(config.services.iter().map(|s| s.id.clone()))
                .chain(["gone".to_string()]);
            for id in ids {
                let mut s = base.clone();
                s.granted = BTreeSet::from([id]);
                s.denied.clear();
                earlier.push(Some(s));
            }
            let view = view(&config);
            for s in &earlier {
                let earlier = s.as_ref().map(Earlier::from);
                let state = State::new(&view, earlier.as_ref(), Layer::Settings);
                let restated = Decision::restate(&config, s.as_ref());
                assert_eq!(map(&state.categories), restated.categories, "{s:?}");
                assert_eq!(map(&state.services), restated.services, "{s:?}");
                assert_eq!(
                    state.withdraws,
                    withdrawal::reject_action(&config, s.as_ref()) == Action::Withdraw,
                    "{s:?}"
                );
            }
        }
    }

    fn stored(
        config: &SiteConfig,
        decision: &Decision,
        consent_id: Option<&str>,
    ) -> StoredDecision {
        let choices = decision.resolve(config).unwrap();
        let mut s = StoredDecision::from_choices(
            &choices,
            decision.action,
            &config.version(),
            1,
            1_717_200_000,
            Signals::default(),
        );
        s.consent_id = consent_id.map(String::from);
        s
    }

    fn map(flags: &Flags) -> BTreeMap<String, bool> {
        flags.0.iter().cloned().collect()
    }

    fn run(state: &State, msgs: impl IntoIterator<Item = Msg>) -> State {
        msgs.into_iter().fold(state.clone(), |s, m| s.reduce(m))
    }

    fn cat(id: &str) -> Msg {
        Msg::ToggleCategory(id.into())
    }
    fn svc(id: &str) -> Msg {
        Msg::ToggleService(id.into())
    }

    #[test]
    fn nothing_is_pre_ticked_but_necessary_is_locked_on() {
        let config = saas();
        let state = State::new(&view(&config), None, Layer::First);
        assert_eq!(state.layer, Layer::First);
        for (id, on) in &state.categories.0 {
            assert_eq!(*on, id == "necessary", "category {id}");
        }
        for s in &config.services {
            assert_eq!(
                state.service_on(&s.id),
                s.category == "necessary",
                "service {}",
                s.id
            );
        }
        assert_eq!(
            state
                .categories
                .0
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>(),
            [
                "necessary",
                "functional",
                "analytics",
                "marketing",
                "affiliate"
            ]
        );
        // Necessary can't be switched off, by category or service.
        let after = run(&state, [cat("necessary"), svc("login"), svc("keksdose")]);
        assert_eq!(after.categories, state.categories);
        assert_eq!(after.services, state.services);
    }

    #[test]
    fn accept_all_and_reject_all_decide_at_once_from_the_first_layer() {
        let config = saas();
        let state = State::new(&view(&config), None, Layer::First);
        assert_eq!(
            state.reduce(Msg::AcceptAll).outcome,
            Some(Outcome::Decided(Decided::new(Action::AcceptAll)))
        );
        assert_eq!(
            state.reduce(Msg::RejectAll).outcome,
            Some(Outcome::Decided(Decided::new(Action::RejectAll)))
        );
    }

    #[test]
    fn closing_is_never_a_choice() {
        let config = saas();
        let first = State::new(&view(&config), None, Layer::First);
        // Escape on the first layer: nothing happens.
        assert_eq!(first.reduce(Msg::Close), first);
        // Settings reached from the first layer: close goes back, keeps the switches.
        let settings = run(&first, [Msg::OpenSettings, cat("analytics")]);
        assert_eq!(settings.layer, Layer::Settings);
        let back = settings.reduce(Msg::Close);
        assert_eq!(back.layer, Layer::First);
        assert_eq!(back.outcome, None);
        assert!(back.category_on("analytics"));
        // Settings opened directly without any decision: close also goes back.
        let direct = State::new(&view(&config), None, Layer::Settings);
        assert!(!direct.reopened);
        assert_eq!(direct.reduce(Msg::Close).layer, Layer::First);
        assert_eq!(direct.reduce(Msg::Close).outcome, None);
        // Reopened over a decision ("Cookie-Einstellungen"): close without a new one.
        let old = stored(&config, &Decision::new(Action::AcceptAll), Some("c1"));
        let reopened = State::new(&view(&config), Some(&Earlier::from(&old)), Layer::Settings);
        assert_eq!(reopened.reduce(Msg::Close).outcome, Some(Outcome::Closed));
        assert_eq!(reopened.reduce(Msg::Close).decision(), None);
    }

    #[test]
    fn a_category_switch_moves_its_services_and_a_service_may_differ() {
        let config = saas();
        let state = run(
            &State::new(&view(&config), None, Layer::First),
            [Msg::OpenSettings, cat("analytics")],
        );
        for s in ["mixpanel", "segment", "satismeter"] {
            assert!(state.service_on(s), "{s}");
        }
        assert!(!state.service_on("intercom"));

        // One analytics service off: the category no longer counts as on.
        let one_off = state.reduce(svc("segment"));
        assert!(!one_off.service_on("segment"));
        assert!(one_off.service_on("mixpanel"));
        assert!(!one_off.category_on("analytics"));
        // And back on: the category is whole again.
        assert!(one_off.reduce(svc("segment")).category_on("analytics"));
        // The category switch (shown off) sets every service again: on, then off.
        let all_on = one_off.reduce(cat("analytics"));
        assert!(all_on.category_on("analytics"));
        assert!(
            ["mixpanel", "segment", "satismeter"]
                .iter()
                .all(|s| all_on.service_on(s))
        );
        let all_off = all_on.reduce(cat("analytics"));
        assert!(!all_off.category_on("analytics"));
        assert!(
            ["mixpanel", "segment", "satismeter"]
                .iter()
                .all(|s| !all_off.service_on(s))
        );
        // A single service of a category that was off.
        let only_intercom = state.reduce(svc("intercom"));
        assert!(only_intercom.service_on("intercom"));
        assert!(!only_intercom.service_on("userlane"));
        assert!(!only_intercom.category_on("functional"));
        // Unknown ids change nothing.
        assert_eq!(state.reduce(svc("nope")), state);
        assert_eq!(state.reduce(cat("nope")), state);
    }

    #[test]
    fn save_records_exactly_the_switches() {
        let config = saas();
        let state = run(
            &State::new(&view(&config), None, Layer::First),
            [
                Msg::OpenSettings,
                cat("analytics"),
                svc("segment"),
                svc("intercom"),
                Msg::Save,
            ],
        );
        let decision = state.decision().unwrap().to_decision();
        assert_eq!(decision.action, Action::Custom);
        let choices = decision.resolve(&config).unwrap();
        let on: BTreeSet<&str> = choices
            .services
            .iter()
            .filter(|(_, on)| **on)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(
            on,
            BTreeSet::from([
                "login",
                "language",
                "keksdose",
                "mixpanel",
                "satismeter",
                "intercom"
            ])
        );
        assert!(choices.categories["necessary"]);
        assert!(!choices.categories["analytics"]);
        assert!(!choices.categories["marketing"]);

        // Saving untouched settings allows only the necessary.
        let nothing = run(
            &State::new(&view(&config), None, Layer::Settings),
            [Msg::Save],
        );
        let choices = nothing
            .decision()
            .unwrap()
            .to_decision()
            .resolve(&config)
            .unwrap();
        for s in &config.services {
            assert_eq!(
                choices.services[&s.id],
                s.category == "necessary",
                "{}",
                s.id
            );
        }
    }

    #[test]
    fn reopened_settings_start_from_the_stored_decision() {
        let config = saas();
        let mut custom = Decision::new(Action::Custom);
        custom.categories.insert("analytics".into(), true);
        custom.services.insert("segment".into(), false);
        custom.services.insert("awin".into(), true);
        let old = stored(&config, &custom, Some("c1"));
        let state = State::new(&view(&config), Some(&Earlier::from(&old)), Layer::Settings);
        assert!(state.reopened);
        assert!(state.service_on("mixpanel"));
        assert!(!state.service_on("segment"));
        assert!(state.service_on("awin"));
        assert!(state.category_on("affiliate"));
        assert!(!state.category_on("analytics"));
        assert!(!state.category_on("marketing"));
        // Saving unchanged gives back the same choices.
        let again = state.reduce(Msg::Save);
        assert_eq!(
            again
                .decision()
                .unwrap()
                .to_decision()
                .resolve(&config)
                .unwrap(),
            custom.resolve(&config).unwrap()
        );
    }

    #[test]
    fn a_service_added_to_an_allowed_category_is_not_pre_ticked() {
        let config = saas();
        // Accepted before satismeter joined analytics: the cookie grants the
        // category but does not name the service.
        let old = stored(&config, &Decision::new(Action::AcceptAll), Some("c1"));
        let mut old = Earlier::from(&old);
        old.granted.retain(|id| id != "satismeter");
        let state = State::new(&view(&config), Some(&old), Layer::Settings);
        assert!(!state.service_on("satismeter"));
        assert!(state.service_on("mixpanel") && state.service_on("segment"));
        assert!(!state.category_on("analytics"), "not all of its services");
        assert!(state.category_on("marketing"));
    }

    #[test]
    fn only_necessary_after_a_consent_is_a_withdrawal() {
        let config = saas();
        let reject = |stored: &StoredDecision| {
            State::new(
                &view(&config),
                Some(&Earlier::from(stored)),
                Layer::Settings,
            )
            .reduce(Msg::RejectAll)
            .decision()
            .unwrap()
            .action
        };
        let accepted = stored(&config, &Decision::new(Action::AcceptAll), Some("c1"));
        assert_eq!(reject(&accepted), Action::Withdraw);
        // Nothing beyond the necessary was allowed: nothing to withdraw.
        let rejected = stored(&config, &Decision::new(Action::RejectAll), Some("c1"));
        assert_eq!(reject(&rejected), Action::RejectAll);
        // No consent ID yet (the ledger never acknowledged it): a fresh rejection.
        let pending = stored(&config, &Decision::new(Action::AcceptAll), None);
        assert_eq!(reject(&pending), Action::RejectAll);
        // From the first layer of a fresh visitor: plain rejection.
        assert_eq!(
            State::new(&view(&config), None, Layer::First)
                .reduce(Msg::RejectAll)
                .decision()
                .unwrap()
                .action,
            Action::RejectAll
        );
    }

    #[test]
    fn details_expand_and_collapse_and_nothing_changes_after_the_end() {
        let config = saas();
        let state = run(
            &State::new(&view(&config), None, Layer::Settings),
            [
                Msg::ToggleCategoryDetails("analytics".into()),
                Msg::ToggleServiceDetails("mixpanel".into()),
            ],
        );
        assert!(state.category_expanded("analytics"));
        assert!(state.service_expanded("mixpanel"));
        let collapsed = state.reduce(Msg::ToggleCategoryDetails("analytics".into()));
        assert!(!collapsed.category_expanded("analytics"));
        assert!(collapsed.service_expanded("mixpanel"));

        let done = state.reduce(Msg::AcceptAll);
        assert_eq!(done.reduce(Msg::RejectAll), done);
        assert_eq!(done.reduce(cat("analytics")), done);
    }
}
