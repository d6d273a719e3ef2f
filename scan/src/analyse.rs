//! What the visits mean against the site's published config: the findings. Pure:
//! no browser, no IO, so each rule is tested on its own.

use std::collections::{BTreeMap, BTreeSet};

use keksdose_shared::SiteConfig;
use keksdose_shared::config::{NECESSARY, Service, Storage};
use keksdose_shared::lifetime::Lifetime;
use serde::Serialize;

use crate::catalogue::{self, Tracker};
use crate::visit::{State, Visit, host_of};

/// How much a finding matters. A violation makes `keksdose scan` exit non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Against the law or against what the site tells its visitors.
    Violation,
    /// The scan could not see everything it should have.
    Warning,
    /// Worth a look; not wrong in itself.
    Notice,
}

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Set or contacted before any decision, by something not necessary.
    BeforeConsent,
    /// Set or contacted after "Nur Notwendige", by something not necessary.
    AfterReject,
    /// An element marked `data-consent` that loaded or ran without consent.
    BlockedElementLoaded,
    /// A cookie, storage key or host the config does not declare.
    Undeclared,
    /// A declared cookie that lives longer than the config says.
    LifetimeUnderstated,
    /// A declared cookie or storage key no visit saw.
    DeclaredNotSeen,
    /// A page that did not finish loading within the bound.
    PageTimeout,
    /// A page the browser could not visit.
    PageError,
    /// A page without the Keksdose loader (or whose banner never showed).
    NoBanner,
    /// A visit whose decision could not be made or was not acknowledged: what
    /// follows that decision on that page was not checked.
    DecisionFailed,
}

impl Kind {
    pub fn severity(self) -> Severity {
        match self {
            Kind::BeforeConsent
            | Kind::AfterReject
            | Kind::BlockedElementLoaded
            | Kind::Undeclared
            | Kind::LifetimeUnderstated => Severity::Violation,
            Kind::PageTimeout | Kind::PageError | Kind::NoBanner | Kind::DecisionFailed => {
                Severity::Warning
            }
            Kind::DeclaredNotSeen => Severity::Notice,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BeforeConsent => "before_consent",
            Kind::AfterReject => "after_reject",
            Kind::BlockedElementLoaded => "blocked_element_loaded",
            Kind::Undeclared => "undeclared",
            Kind::LifetimeUnderstated => "lifetime_understated",
            Kind::DeclaredNotSeen => "declared_not_seen",
            Kind::PageTimeout => "page_timeout",
            Kind::PageError => "page_error",
            Kind::NoBanner => "no_banner",
            Kind::DecisionFailed => "decision_failed",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Subject {
    /// `cookie`, `local_storage`, `session_storage`, `indexed_db`, `host`, `element` or `page`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The cookie's or key's name, the host, the element's address (or service), the page.
    pub name: String,
    /// A cookie's domain, as the browser keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    pub subject: Subject,
    /// The declared service it belongs to, if any.
    pub service: Option<String>,
    /// What happened, in a sentence.
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// Where it was seen.
    pub pages: Vec<String>,
    pub states: Vec<State>,
    /// What set or asked for it (scripts, responses, initiators), at most five.
    pub evidence: Vec<String>,
    /// The catalogue entry whose config proposal fits (`proposals[].id`).
    pub proposal: Option<String>,
}

/// A config entry proposed from the catalogue for what was found undeclared.
#[derive(Debug, Clone, Serialize)]
pub struct Proposal {
    pub id: String,
    pub name: String,
    /// Where the catalogue took it from.
    pub source: String,
    /// A `[[services]]` entry to paste into the config (and review).
    pub toml: String,
}

/// The findings, with the proposals they refer to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub proposals: Vec<Proposal>,
}

/// The site the visits were made to, and where its CMP lives.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub site: &'a str,
    pub config: &'a SiteConfig,
    /// The host the Keksdose loader and API are served from.
    pub cmp_host: &'a str,
    /// The host of the first page scanned: requests to it (or its subdomains, or
    /// the domain it is under) are the site's own.
    pub site_host: &'a str,
}

/// One thing seen (a cookie, key or host), gathered across visits.
#[derive(Debug, Default)]
struct Seen {
    pages: BTreeSet<String>,
    states: BTreeSet<State>,
    before: bool,
    after_reject: bool,
    evidence: BTreeSet<String>,
    /// The longest lifetime seen (cookies); `Some(None)` = a session cookie.
    longest: Option<Option<u64>>,
}

impl Seen {
    /// Seen on `page` in `state`: before the decision (or in a visit without
    /// one), and/or after it.
    fn note(
        &mut self,
        page: &str,
        state: State,
        before: bool,
        after: bool,
        evidence: Option<String>,
    ) {
        self.pages.insert(page.to_string());
        self.states.insert(state);
        self.before |= before;
        self.after_reject |= after && state == State::RejectAll;
        if let Some(e) = evidence {
            self.evidence.insert(e);
        }
    }
}

/// Whether a request to `host` is the site's own (or the CMP's): the same
/// registrable domain as the first page's host (`cdn.taskwerk.de` for
/// `app.taskwerk.de`).
fn first_party(ctx: &Context, host: &str) -> bool {
    host == ctx.cmp_host || registrable(host) == registrable(ctx.site_host)
}

/// A host's registrable domain by the Public Suffix List (`psl`): a tenant of
/// `github.io` is not another tenant's first party; an IP address or a bare name
/// is its own.
fn registrable(host: &str) -> &str {
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host;
    }
    psl::domain_str(host).unwrap_or(host)
}

/// The declared service a host belongs to.
fn service_for_host<'a>(config: &'a SiteConfig, host: &str) -> Option<&'a Service> {
    config.services.iter().find(|s| {
        s.hosts
            .iter()
            .any(|h| catalogue::host_matches(h, host) || host.ends_with(&format!(".{h}")))
    })
}

/// The declared service (and its cookie's lifetime) a cookie or key belongs to:
/// by name and storage, a declaration whose `domain` matches first. A declared
/// domain is not required (the same cookie is often set on `www.` and on the bare
/// domain, and the demo's stand-ins set third-party cookies on the demo's host).
fn service_for_name<'a>(
    config: &'a SiteConfig,
    storage: Storage,
    name: &str,
    domain: &str,
) -> Option<(&'a Service, &'a str)> {
    let domain = domain.trim_start_matches('.');
    let candidates = || {
        config.services.iter().flat_map(move |s| {
            s.cookies
                .iter()
                .filter(move |c| c.storage == storage && c.matches(name))
                .map(move |c| (s, c))
        })
    };
    candidates()
        .find(|(_, c)| {
            c.domain.as_deref().is_some_and(|d| {
                let d = d.trim_start_matches('.');
                domain == d || domain.ends_with(&format!(".{d}"))
            })
        })
        .or_else(|| candidates().next())
        .map(|(s, c)| (s, c.lifetime.as_str()))
}

fn storage_of(code: &str) -> Storage {
    match code {
        "local_storage" => Storage::LocalStorage,
        "session_storage" => Storage::SessionStorage,
        "indexed_db" => Storage::IndexedDb,
        _ => Storage::Cookie,
    }
}

/// What was seen of a tracker: (storage code, name) → the longest lifetime.
type SeenNames = BTreeMap<(&'static str, String), Option<u64>>;

/// The findings of a scan.
pub fn analyse(ctx: &Context, visits: &[Visit]) -> Analysis {
    let mut findings = Vec::new();
    let mut proposals: BTreeMap<String, (&'static Tracker, SeenNames)> = BTreeMap::new();

    // Pages: timeouts, errors, no banner.
    let mut pages: BTreeMap<&str, Vec<&Visit>> = BTreeMap::new();
    for v in visits {
        pages.entry(&v.page).or_default().push(v);
    }
    for (page, vs) in &pages {
        let page_finding = |kind: Kind, message: String, fix: &str, vs: &[&Visit]| Finding {
            kind,
            severity: kind.severity(),
            subject: Subject {
                kind: "page".into(),
                name: page.to_string(),
                domain: None,
            },
            service: None,
            message,
            fix: fix.into(),
            pages: vec![page.to_string()],
            states: vs.iter().map(|v| v.state).collect(),
            evidence: vs.iter().filter_map(|v| v.error.clone()).take(5).collect(),
            proposal: None,
        };
        let timed: Vec<&Visit> = vs.iter().copied().filter(|v| v.timed_out).collect();
        if !timed.is_empty() {
            findings.push(page_finding(
                Kind::PageTimeout,
                format!("{page} did not finish loading within the bound; what it did until then is in the scan, the rest is not"),
                "Find what keeps the page loading (a request that never answers, a script waiting on one); or scan with a longer --timeout.",
                &timed,
            ));
        }
        let failed: Vec<&Visit> = vs.iter().copied().filter(|v| v.error.is_some()).collect();
        if !failed.is_empty() {
            findings.push(page_finding(
                Kind::PageError,
                format!("{page} could not be scanned"),
                "See the error; check that the page answers.",
                &failed,
            ));
        }
        let quiet: Vec<&Visit> = vs
            .iter()
            .copied()
            .filter(|v| !v.timed_out && v.error.is_none() && !v.banner_shown)
            .collect();
        let no_banner = quiet.len() == vs.len() && !quiet.is_empty();
        let undecided: Vec<&Visit> = vs
            .iter()
            .copied()
            .filter(|v| v.state != State::NoDecision && !v.timed_out && v.error.is_none())
            .filter(|v| !v.decided)
            .collect();
        if !no_banner && !undecided.is_empty() && ctx.config.needs_banner() {
            findings.push(page_finding(
                Kind::DecisionFailed,
                format!("on {page} the decision was not made or not acknowledged by the ledger, so what follows it was not checked"),
                "Check that the banner shows and that the server accepts consents from this origin (the site's origins, its rate limits); then scan again.",
                &undecided,
            ));
        }
        if no_banner && ctx.config.needs_banner() {
            findings.push(page_finding(
                Kind::NoBanner,
                format!("{page} showed no Keksdose banner to a first-time visitor, so the decisions could not be made there"),
                &format!(
                    "Embed the loader on every page: <script src=\"https://{}/s/{}/k.js\" async></script>.",
                    ctx.cmp_host, ctx.site
                ),
                &quiet,
            ));
        }
    }

    // Blockable elements the markup left free, or whose address was requested
    // before a decision.
    let mut elements: BTreeMap<(String, String), Seen> = BTreeMap::new();
    for v in visits {
        let early: BTreeSet<&str> = v
            .requests
            .iter()
            .filter(|r| !r.after_decision)
            .map(|r| r.url.as_str())
            .collect();
        for e in &v.elements {
            let category = ctx
                .config
                .services
                .iter()
                .find(|s| s.id == e.service)
                .map_or(e.service.as_str(), |s| s.category.as_str());
            if category == NECESSARY {
                continue;
            }
            let requested = e.url.as_deref().is_some_and(|u| early.contains(u));
            if e.unblocked || requested {
                let name = e
                    .url
                    .clone()
                    .unwrap_or_else(|| format!("inline {} for {}", e.tag, e.service));
                let why = if e.unblocked {
                    format!("its markup does not hold it back: {}", e.markup)
                } else {
                    "requested before any decision".to_string()
                };
                elements.entry((name, e.service.clone())).or_default().note(
                    &v.page,
                    v.state,
                    true,
                    false,
                    Some(why),
                );
            }
        }
    }
    for ((name, service), seen) in elements {
        findings.push(Finding {
            kind: Kind::BlockedElementLoaded,
            severity: Kind::BlockedElementLoaded.severity(),
            subject: Subject {
                kind: "element".into(),
                name: name.clone(),
                domain: None,
            },
            service: Some(service.clone()),
            message: format!("an element meant to wait for consent to \"{service}\" loaded without it: {name}"),
            fix: "A script must read type=\"text/plain\" data-consent=\"SERVICE\" (and keep its src); an iframe data-consent=\"SERVICE\" data-src=\"…\" with no src.".into(),
            pages: seen.pages.into_iter().collect(),
            states: seen.states.into_iter().collect(),
            evidence: seen.evidence.into_iter().take(5).collect(),
            proposal: None,
        });
    }

    // Hosts.
    let mut hosts: BTreeMap<String, Seen> = BTreeMap::new();
    for v in visits {
        for r in &v.requests {
            if r.host.is_empty() || first_party(ctx, &r.host) {
                continue;
            }
            let evidence = format!(
                "{} {}{}",
                r.kind,
                r.url,
                r.initiator
                    .as_ref()
                    .map(|i| format!(" (from {i})"))
                    .unwrap_or_default()
            );
            hosts.entry(r.host.clone()).or_default().note(
                &v.page,
                v.state,
                !r.after_decision,
                r.after_decision,
                Some(evidence),
            );
        }
    }
    for (host, seen) in hosts {
        let service = service_for_host(ctx.config, &host);
        let tracker = catalogue::by_host(&host);
        if let Some(t) = tracker.filter(|_| service.is_none()) {
            proposals
                .entry(t.id.clone())
                .or_insert((t, BTreeMap::new()));
        }
        let subject = Subject {
            kind: "host".into(),
            name: host.clone(),
            domain: None,
        };
        judge(
            &mut findings,
            ctx,
            subject,
            service,
            tracker.filter(|_| service.is_none()),
            seen,
        );
    }

    // Cookies and storage.
    // Keyed by storage, name and (for cookies) domain: a tracker's `id` cookie on
    // its own domain is not the site's `id`.
    let mut things: BTreeMap<(String, String, String), Seen> = BTreeMap::new();
    for v in visits {
        for c in &v.cookies {
            let seen = things
                .entry(("cookie".into(), c.name.clone(), c.domain.clone()))
                .or_default();
            seen.note(
                &v.page,
                v.state,
                c.before_decision,
                c.after_decision,
                c.set_by
                    .as_ref()
                    .map(|s| format!("set by {}", s.describe())),
            );
            seen.longest = Some(match (seen.longest, c.lifetime_secs) {
                (None, l) => l,
                (Some(None), l) => l,
                (Some(Some(a)), Some(b)) => Some(a.max(b)),
                (Some(Some(a)), None) => Some(a),
            });
        }
        for s in &v.storage {
            things
                .entry((s.storage.clone(), s.name.clone(), String::new()))
                .or_default()
                .note(
                    &v.page,
                    v.state,
                    s.before_decision,
                    s.after_decision,
                    s.set_by
                        .as_ref()
                        .map(|b| format!("set by {}", b.describe())),
                );
        }
    }
    let mut matched: BTreeSet<(String, String)> = BTreeSet::new();
    for ((kind, name, domain), seen) in things {
        let cookie_domain = (!domain.is_empty()).then(|| domain.clone());
        let storage = storage_of(&kind);
        let declared = service_for_name(ctx.config, storage, &name, &domain);
        if let Some((service, lifetime)) = declared {
            if let Some(cookie) = service
                .cookies
                .iter()
                .find(|c| c.storage == storage && c.matches(&name))
            {
                matched.insert((service.id.clone(), cookie.name.clone()));
            }
            if let (Some(longest), Ok(said)) = (seen.longest, Lifetime::parse(lifetime))
                && let Some(real) = understated(said, longest)
            {
                findings.push(Finding {
                    kind: Kind::LifetimeUnderstated,
                    severity: Kind::LifetimeUnderstated.severity(),
                    subject: Subject {
                        kind: kind.clone(),
                        name: name.clone(),
                        domain: cookie_domain.clone(),
                    },
                    service: Some(service.id.clone()),
                    message: format!("{name} lives {real}, the config says {lifetime}"),
                    fix: format!(
                        "Declare its lifetime as {} (or make whatever sets it keep it shorter).",
                        lifetime_text(longest)
                    ),
                    pages: seen.pages.iter().cloned().collect(),
                    states: seen.states.iter().copied().collect(),
                    evidence: seen.evidence.iter().take(5).cloned().collect(),
                    proposal: None,
                });
            }
        }
        let tracker = catalogue::by_name(storage, &name).or_else(|| {
            // A third-party cookie: the catalogue may know its domain.
            (!domain.is_empty())
                .then(|| catalogue::by_host(domain.trim_start_matches('.')))
                .flatten()
        });
        let tracker = tracker.filter(|_| declared.is_none());
        if let Some(t) = tracker {
            proposals
                .entry(t.id.clone())
                .or_insert((t, BTreeMap::new()))
                .1
                .insert((storage.as_str(), name.clone()), seen.longest.flatten());
        }
        judge(
            &mut findings,
            ctx,
            Subject {
                kind,
                name,
                domain: cookie_domain,
            },
            declared.map(|d| d.0),
            tracker,
            seen,
        );
    }

    // Declared, never seen.
    for s in &ctx.config.services {
        for c in &s.cookies {
            if c.storage == Storage::Pixel || matched.contains(&(s.id.clone(), c.name.clone())) {
                continue;
            }
            findings.push(Finding {
                kind: Kind::DeclaredNotSeen,
                severity: Kind::DeclaredNotSeen.severity(),
                subject: Subject {
                    kind: c.storage.as_str().into(),
                    name: c.name.clone(),
                    domain: None,
                },
                service: Some(s.id.clone()),
                message: format!(
                    "{} ({}) is declared for {} but no visit saw it",
                    c.name,
                    c.storage.as_str().replace('_', " "),
                    s.id
                ),
                fix: "If the site no longer sets it, take it out of the config; it may also be set only on pages the scan did not visit or after signing in.".into(),
                pages: Vec::new(),
                states: Vec::new(),
                evidence: Vec::new(),
                proposal: None,
            });
        }
    }

    let proposals = proposals
        .into_values()
        .map(|(t, seen)| Proposal {
            id: t.id.clone(),
            name: t.name.clone(),
            source: t.source.clone(),
            toml: proposal_toml(t, &seen),
        })
        .collect();
    findings
        .sort_by(|a, b| (a.severity, a.kind, &a.subject).cmp(&(b.severity, b.kind, &b.subject)));
    Analysis {
        findings,
        proposals,
    }
}

/// The findings for one cookie, key or host: before consent, after "Nur
/// Notwendige", undeclared.
fn judge(
    findings: &mut Vec<Finding>,
    ctx: &Context,
    subject: Subject,
    service: Option<&Service>,
    tracker: Option<&Tracker>,
    seen: Seen,
) {
    let necessary = service.is_some_and(|s| s.category == NECESSARY);
    let what = if subject.kind == "host" {
        format!("{} was contacted", subject.name)
    } else {
        format!(
            "{} ({}) was set",
            subject.name,
            subject.kind.replace('_', " ")
        )
    };
    let after = if subject.kind == "host" {
        format!("{} was contacted", subject.name)
    } else {
        format!(
            "{} ({}) was there",
            subject.name,
            subject.kind.replace('_', " ")
        )
    };
    let owner = match service {
        Some(s) => format!("it belongs to {} ({})", s.id, s.category),
        None => "the config does not declare it".to_string(),
    };
    let base = |kind: Kind, message: String, fix: String| Finding {
        kind,
        severity: kind.severity(),
        subject: subject.clone(),
        service: service.map(|s| s.id.clone()),
        message,
        fix,
        pages: seen.pages.iter().cloned().collect(),
        states: seen.states.iter().copied().collect(),
        evidence: seen.evidence.iter().take(5).cloned().collect(),
        proposal: tracker.map(|t| t.id.clone()),
    };
    if !necessary && seen.before {
        findings.push(base(
            Kind::BeforeConsent,
            format!("{what} before any decision; {owner}"),
            "Hold back what does this until its service is allowed: type=\"text/plain\" data-consent=\"SERVICE\" on the script, data-src on the iframe; a font or library: host it on the site itself.".into(),
        ));
    }
    if !necessary && seen.after_reject {
        findings.push(base(
            Kind::AfterReject,
            format!("{after} after \"Nur Notwendige\" (and a reload); {owner}"),
            "Whatever does this must run only once its service is allowed (keksdose.allowed(id), or a blocked script).".into(),
        ));
    }
    if service.is_none() && !(subject.kind == "host" && host_is_cmp(ctx, &subject.name)) {
        let fix = match tracker {
            Some(t) => format!(
                "Declare it: the proposal \"{}\" below is a config entry for {} to review and add.",
                t.id, t.name
            ),
            None => {
                "Declare it under the service that sets it (with its lifetime), or stop setting it."
                    .into()
            }
        };
        findings.push(base(
            Kind::Undeclared,
            format!("{what}; the config does not declare it"),
            fix,
        ));
    }
}

fn host_is_cmp(ctx: &Context, host: &str) -> bool {
    host == ctx.cmp_host
}

/// The real lifetime in words, when it is longer than the declared one allows.
fn understated(said: Lifetime, longest: Option<u64>) -> Option<String> {
    match (said, longest) {
        (Lifetime::Persistent, _) | (_, None) => None,
        (Lifetime::Session, Some(real)) => Some(lifetime_text(Some(real))),
        (said, Some(real)) => {
            let limit = said.seconds()?;
            // A minute's slack, and a percent: the seen lifetime is measured a
            // moment after the cookie was set.
            (real > limit + 60 + limit / 100).then(|| lifetime_text(Some(real)))
        }
    }
}

/// A lifetime in the config's own notation, rounded up.
pub fn lifetime_text(secs: Option<u64>) -> String {
    let Some(s) = secs else {
        return "session".into();
    };
    let day = 86_400;
    if s <= 3_600 {
        format!("{}min", s.div_ceil(60).max(1))
    } else if s <= 2 * day {
        format!("{}h", s.div_ceil(3_600))
    } else if s <= 60 * day {
        format!("{}d", s.div_ceil(day))
    } else if s < 330 * day {
        format!("{}mo", s.div_ceil(30 * day))
    } else {
        format!("{}y", s.div_ceil(365 * day))
    }
}

/// A `[[services]]` entry for a catalogue tracker, with the cookies the scan saw
/// (at the longer of the catalogue's and the seen lifetime) and the rest of the
/// catalogue's.
fn proposal_toml(t: &Tracker, seen: &SeenNames) -> String {
    use std::fmt::Write;
    let q = |s: &str| toml_string(s);
    let loc = |l: &keksdose_shared::config::Localized| match l {
        keksdose_shared::config::Localized::Same(s) => q(s),
        keksdose_shared::config::Localized::PerLanguage(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{k} = {}", q(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# From the scan's catalogue ({}); check it against your contract with the provider.",
        t.source
    );
    let _ = writeln!(out, "[[services]]");
    let _ = writeln!(out, "id = {}", q(&t.id));
    let _ = writeln!(out, "name = {}", q(&t.name));
    let _ = writeln!(out, "category = {}", q(&t.category));
    let _ = writeln!(out, "description = {}", loc(&t.description));
    let _ = writeln!(
        out,
        "provider = {{ name = {}, address = {}, country = {} }}",
        q(&t.provider.name),
        q(&t.provider.address),
        q(&t.provider.country)
    );
    let _ = writeln!(out, "legal_basis = {}", q(&t.legal_basis));
    let _ = writeln!(out, "privacy_policy_url = {}", q(&t.privacy_policy_url));
    if !t.transfers.is_empty() {
        let list: Vec<String> = t
            .transfers
            .iter()
            .map(|x| {
                format!(
                    "{{ country = {}, safeguard = {} }}",
                    q(&x.country),
                    q(x.safeguard.as_str())
                )
            })
            .collect();
        let _ = writeln!(out, "transfers = [{}]", list.join(", "));
    }
    let hosts: Vec<String> = t
        .hosts
        .iter()
        .map(|h| q(h.strip_prefix("*.").unwrap_or(h)))
        .collect();
    let _ = writeln!(out, "hosts = [{}]", hosts.join(", "));
    for c in &t.cookies {
        let seen_here: Vec<(&(&str, String), &Option<u64>)> = seen
            .iter()
            .filter(|((storage, n), _)| {
                *storage == c.storage.as_str() && catalogue::name_matches(&c.name, n)
            })
            .collect();
        let mut lifetime = c.lifetime.clone();
        for (_, real) in &seen_here {
            if let Ok(said) = Lifetime::parse(&lifetime)
                && understated(said, **real).is_some()
            {
                lifetime = lifetime_text(**real);
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "[[services.cookies]]");
        let _ = writeln!(out, "name = {}", q(&c.name));
        if c.storage != Storage::Cookie {
            let _ = writeln!(out, "storage = {}", q(c.storage.as_str()));
        }
        let _ = writeln!(out, "lifetime = {}", q(&lifetime));
        let _ = writeln!(out, "purpose = {}", loc(&c.purpose));
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The host of the first page, for [`Context::site_host`].
pub fn site_host(url: &str) -> String {
    host_of(url).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visit::{Blockable, Request, SeenCookie, SeenStorage};

    fn config() -> SiteConfig {
        SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).expect("saas")
    }

    fn visit(state: State) -> Visit {
        Visit {
            page: "https://app.taskwerk.de/".into(),
            state,
            timed_out: false,
            error: None,
            banner_shown: true,
            decided: state != State::NoDecision,
            requests: Vec::new(),
            cookies: Vec::new(),
            storage: Vec::new(),
            elements: Vec::new(),
            links: Vec::new(),
            loader: None,
        }
    }

    fn cookie(name: &str, lifetime: Option<u64>, after: bool) -> SeenCookie {
        SeenCookie {
            name: name.into(),
            domain: "app.taskwerk.de".into(),
            path: "/".into(),
            lifetime_secs: lifetime,
            http_only: false,
            secure: true,
            same_site: None,
            set_by: None,
            before_decision: !after,
            after_decision: after,
        }
    }

    fn request(url: &str, after: bool) -> Request {
        Request {
            url: url.into(),
            host: host_of(url).unwrap_or_default(),
            kind: "Script".into(),
            initiator: None,
            after_decision: after,
        }
    }

    fn kinds(visits: &[Visit]) -> BTreeSet<(Kind, String)> {
        let config = config();
        let ctx = Context {
            site: "saas",
            config: &config,
            cmp_host: "cmp.example",
            site_host: "app.taskwerk.de",
        };
        analyse(&ctx, visits)
            .findings
            .into_iter()
            .filter(|f| f.severity != Severity::Notice)
            .map(|f| (f.kind, f.subject.name))
            .collect()
    }

    fn set(items: &[(Kind, &str)]) -> BTreeSet<(Kind, String)> {
        items.iter().map(|(k, n)| (*k, n.to_string())).collect()
    }

    #[test]
    fn what_the_site_declares_and_runs_after_consent_is_clean() {
        let mut accept = visit(State::AcceptAll);
        let day = 86_400;
        accept.cookies = vec![
            cookie("keksdose_saas", Some(300 * day), true),
            cookie("tw_session", None, false),
            cookie("mp_0a1b2c3d_mixpanel", Some(365 * day), true),
        ];
        accept.storage = vec![SeenStorage {
            storage: "local_storage".into(),
            name: "ajs_user_traits".into(),
            set_by: None,
            before_decision: false,
            after_decision: true,
        }];
        accept.requests = vec![
            request("https://app.taskwerk.de/app.js", false),
            request("https://cmp.example/k.js", false),
            request("https://cdn.taskwerk.de/logo.png", false),
            request("https://widget.intercom.io/widget/abc", true),
        ];
        assert_eq!(kinds(&[visit(State::NoDecision), accept]), set(&[]));
    }

    #[test]
    fn before_consent_after_reject_and_undeclared_are_told_apart() {
        // Mixpanel's cookie before any decision; Intercom's host only after
        // "Nur Notwendige"; an unknown host after "Alle akzeptieren".
        let mut none = visit(State::NoDecision);
        none.cookies = vec![cookie("mp_0a1b2c3d_mixpanel", Some(1000), false)];
        let mut reject = visit(State::RejectAll);
        reject.requests = vec![request("https://widget.intercom.io/w", true)];
        let mut accept = visit(State::AcceptAll);
        accept.requests = vec![request("https://tracker.example/p.gif", true)];
        assert_eq!(
            kinds(&[none, reject, accept]),
            set(&[
                (Kind::BeforeConsent, "mp_0a1b2c3d_mixpanel"),
                (Kind::AfterReject, "widget.intercom.io"),
                (Kind::Undeclared, "tracker.example"),
            ])
        );
    }

    #[test]
    fn what_runs_before_consent_and_still_after_reject_is_both() {
        let mut none = visit(State::NoDecision);
        none.cookies = vec![cookie("mp_0a1b2c3d_mixpanel", Some(1000), false)];
        let mut reject = visit(State::RejectAll);
        let mut kept = cookie("mp_0a1b2c3d_mixpanel", Some(1000), true);
        kept.before_decision = true;
        reject.cookies = vec![kept];
        assert_eq!(
            kinds(&[none, reject]),
            set(&[
                (Kind::BeforeConsent, "mp_0a1b2c3d_mixpanel"),
                (Kind::AfterReject, "mp_0a1b2c3d_mixpanel"),
            ])
        );
    }

    #[test]
    fn a_cookie_on_another_domain_is_another_cookie() {
        // The site's declared `tw_session` (necessary), and a tracker's cookie of
        // the same name on its own domain, set before consent.
        let mut none = visit(State::NoDecision);
        let mut theirs = cookie("tw_session", Some(86_400), false);
        theirs.domain = ".tracker.example".into();
        none.cookies = vec![cookie("tw_session", None, false), theirs];
        let config = config();
        let ctx = Context {
            site: "saas",
            config: &config,
            cmp_host: "cmp.example",
            site_host: "app.taskwerk.de",
        };
        let findings = analyse(&ctx, &[none]).findings;
        let about: Vec<_> = findings
            .iter()
            .filter(|f| f.subject.name == "tw_session")
            .map(|f| f.subject.domain.clone())
            .collect();
        // Declared (the name matches), so no finding for either but the
        // lifetime: the site's is a session cookie, the tracker's lives a day.
        assert_eq!(
            about,
            vec![Some(".tracker.example".to_string())],
            "{findings:#?}"
        );
    }

    #[test]
    fn a_necessary_service_may_run_before_consent_but_must_be_declared() {
        let mut none = visit(State::NoDecision);
        none.cookies = vec![
            cookie("tw_session", None, false),
            cookie("tw_unknown", None, false),
        ];
        assert_eq!(
            kinds(&[none]),
            set(&[
                (Kind::BeforeConsent, "tw_unknown"),
                (Kind::Undeclared, "tw_unknown"),
            ])
        );
    }

    #[test]
    fn lifetimes_are_held_to_the_declared_ones_with_a_little_slack() {
        let day = 86_400;
        let mut accept = visit(State::AcceptAll);
        accept.cookies = vec![
            // Declared 7d: a moment over is the clock, a day over is not.
            cookie("intercom-session-a", Some(7 * day + 30), true),
            cookie("intercom-session-b", Some(8 * day), true),
            // Declared "session", kept a month.
            cookie("tw_csrf", Some(30 * day), false),
        ];
        assert_eq!(
            kinds(&[accept]),
            set(&[
                (Kind::LifetimeUnderstated, "intercom-session-b"),
                (Kind::LifetimeUnderstated, "tw_csrf"),
            ])
        );
        assert_eq!(lifetime_text(Some(8 * day)), "8d");
        assert_eq!(lifetime_text(Some(365 * day - 5)), "1y");
        assert_eq!(lifetime_text(None), "session");
    }

    #[test]
    fn a_blocked_element_is_found_by_its_markup_or_its_early_request() {
        let mut none = visit(State::NoDecision);
        none.elements = vec![
            Blockable {
                tag: "script".into(),
                service: "segment".into(),
                url: Some("https://app.taskwerk.de/segment.js".into()),
                markup: String::new(),
                unblocked: true,
            },
            Blockable {
                tag: "iframe".into(),
                service: "intercom".into(),
                url: Some("https://app.taskwerk.de/chat.html".into()),
                markup: String::new(),
                unblocked: false,
            },
            // Held back as it should be: not a finding.
            Blockable {
                tag: "script".into(),
                service: "mixpanel".into(),
                url: Some("https://app.taskwerk.de/mixpanel.js".into()),
                markup: String::new(),
                unblocked: false,
            },
        ];
        none.requests = vec![request("https://app.taskwerk.de/chat.html", false)];
        assert_eq!(
            kinds(&[none]),
            set(&[
                (
                    Kind::BlockedElementLoaded,
                    "https://app.taskwerk.de/segment.js"
                ),
                (
                    Kind::BlockedElementLoaded,
                    "https://app.taskwerk.de/chat.html"
                ),
            ])
        );
    }

    #[test]
    fn the_sites_own_domain_is_first_party() {
        assert_eq!(registrable("cdn.taskwerk.de"), "taskwerk.de");
        assert_eq!(registrable("taskwerk.de"), "taskwerk.de");
        assert_eq!(registrable("www.shop.co.uk"), "shop.co.uk");
        assert_eq!(registrable("127.0.0.1"), "127.0.0.1");
        assert_ne!(
            registrable("fonts.googleapis.com"),
            registrable("taskwerk.de")
        );
    }

    #[test]
    fn proposals_are_config_entries() {
        let mut none = visit(State::NoDecision);
        none.requests = vec![request("https://static.hotjar.com/c/hotjar-1.js", false)];
        none.cookies = vec![cookie("_hjSessionUser_1", Some(400 * 86_400), false)];
        let config = config();
        let ctx = Context {
            site: "saas",
            config: &config,
            cmp_host: "cmp.example",
            site_host: "app.taskwerk.de",
        };
        let analysis = analyse(&ctx, &[none]);
        assert_eq!(analysis.proposals.len(), 1);
        let p = &analysis.proposals[0];
        assert_eq!(p.id, "hotjar");
        #[derive(serde::Deserialize)]
        struct Entries {
            services: Vec<Service>,
        }
        let parsed: Entries = toml::from_str(&p.toml).expect("a config entry");
        let cookie = parsed.services[0]
            .cookies
            .iter()
            .find(|c| c.matches("_hjSessionUser_1"))
            .expect("the cookie seen");
        // Seen for 400 days, whatever the catalogue says.
        let said = Lifetime::parse(&cookie.lifetime).expect("lifetime");
        assert!(
            said.seconds().unwrap_or(0) >= 400 * 86_400,
            "{}",
            cookie.lifetime
        );
    }
}
