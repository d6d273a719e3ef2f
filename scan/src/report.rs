//! The scan's report: JSON (the schema is in docs/contract.md), a terminal summary
//! and one self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write;

use keksdose_shared::html::escape;
use serde::Serialize;

use crate::analyse::{Analysis, Finding, Severity};
use crate::visit::{SetBy, State, Visit};

/// `format` in the JSON: raised when a field changes meaning or goes.
pub const FORMAT: u32 = 1;

/// Everything a scan found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format: u32,
    pub site: String,
    /// The CMP the page's loader tag named (or `--server`).
    pub server: String,
    /// The published config version the site was held to.
    pub config_version: String,
    pub started_at: String,
    pub duration_ms: u64,
    /// Every page visited, in the order found.
    pub pages: Vec<PageSummary>,
    pub counts: Counts,
    pub findings: Vec<Finding>,
    pub proposals: Vec<crate::analyse::Proposal>,
    /// Every cookie, storage key and third-party host seen, in which states.
    pub inventory: Vec<Item>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub violation: usize,
    pub warning: usize,
    pub notice: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageSummary {
    pub url: String,
    pub states: Vec<VisitSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VisitSummary {
    pub state: State,
    pub timed_out: bool,
    pub error: Option<String>,
    pub banner_shown: bool,
    pub decided: bool,
    pub requests: usize,
    pub cookies: usize,
}

/// One cookie, key or host and where it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    /// For cookies: the domain, path, longest lifetime and flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<CookieFacts>,
    pub states: Vec<State>,
    pub before_decision: bool,
    pub set_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CookieFacts {
    pub domain: String,
    pub path: String,
    /// Seconds; absent for a session cookie.
    pub lifetime_secs: Option<u64>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<String>,
}

impl Report {
    pub fn new(
        site: &str,
        server: &str,
        config_version: &str,
        started_at: String,
        duration_ms: u64,
        visits: &[Visit],
        analysis: Analysis,
    ) -> Self {
        let mut pages: Vec<PageSummary> = Vec::new();
        for v in visits {
            let summary = VisitSummary {
                state: v.state,
                timed_out: v.timed_out,
                error: v.error.clone(),
                banner_shown: v.banner_shown,
                decided: v.decided,
                requests: v.requests.len(),
                cookies: v.cookies.len(),
            };
            match pages.iter_mut().find(|p| p.url == v.page) {
                Some(p) => p.states.push(summary),
                None => pages.push(PageSummary {
                    url: v.page.clone(),
                    states: vec![summary],
                }),
            }
        }
        for p in &mut pages {
            p.states.sort_by_key(|s| s.state);
        }
        let mut counts = Counts::default();
        for f in &analysis.findings {
            match f.severity {
                Severity::Violation => counts.violation += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Notice => counts.notice += 1,
            }
        }
        Self {
            format: FORMAT,
            site: site.into(),
            server: server.into(),
            config_version: config_version.into(),
            started_at,
            duration_ms,
            pages,
            counts,
            findings: analysis.findings,
            proposals: analysis.proposals,
            inventory: inventory(visits),
        }
    }

    pub fn violations(&self) -> usize {
        self.counts.violation
    }

    /// The terminal summary: counts, then each finding grouped by severity.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let visits: usize = self.pages.iter().map(|p| p.states.len()).sum();
        let _ = writeln!(
            out,
            "Scanned {} page(s) of site {} ({} visits, {:.1} s), config {}.",
            self.pages.len(),
            self.site,
            visits,
            self.duration_ms as f64 / 1000.0,
            self.config_version
        );
        let _ = writeln!(
            out,
            "{} violation(s), {} warning(s), {} notice(s).",
            self.counts.violation, self.counts.warning, self.counts.notice
        );
        for severity in [Severity::Violation, Severity::Warning, Severity::Notice] {
            let group: Vec<&Finding> = self
                .findings
                .iter()
                .filter(|f| f.severity == severity)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{}:", severity_title(severity).to_uppercase());
            for f in group {
                let _ = writeln!(out, "  [{}] {}", f.kind.as_str(), f.message);
                if let Some(e) = f.evidence.first() {
                    let _ = writeln!(out, "      seen: {e}");
                }
                if let Some(p) = f.pages.first() {
                    let more = f.pages.len() - 1;
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(out, "      on: {p}{more}");
                }
                let _ = writeln!(out, "      fix: {}", f.fix);
            }
        }
        if !self.proposals.is_empty() {
            let _ = writeln!(
                out,
                "\nPROPOSED CONFIG ENTRIES (from the scan's catalogue; review each against your contract with the provider):"
            );
            for p in &self.proposals {
                let _ = writeln!(out, "\n{}", p.toml);
            }
        }
        out
    }

    /// The HTML report: one page, its style inline, no script.
    pub fn html(&self) -> String {
        let e = escape;
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Keksdose scan: {site}</title><style>{CSS}</style></head><body>\
             <header><h1>Keksdose scan of <code>{site}</code></h1>\
             <p>{pages} page(s) on {server}, config <code>{version}</code>, {at}, {secs:.1} s.</p>\
             <ul class=\"counts\"><li class=\"violation\"><strong>{v}</strong> violation(s)</li>\
             <li class=\"warning\"><strong>{w}</strong> warning(s)</li>\
             <li class=\"notice\"><strong>{n}</strong> notice(s)</li></ul></header><main>",
            site = e(&self.site),
            pages = self.pages.len(),
            server = e(&self.server),
            version = e(&self.config_version),
            at = e(&self.started_at),
            secs = self.duration_ms as f64 / 1000.0,
            v = self.counts.violation,
            w = self.counts.warning,
            n = self.counts.notice,
        );
        if self.findings.is_empty() {
            out.push_str("<p class=\"clean\">Nothing found: every cookie, key and host is declared, and nothing that is not necessary ran before consent or after “Nur Notwendige”.</p>");
        }
        for severity in [Severity::Violation, Severity::Warning, Severity::Notice] {
            let group: Vec<&Finding> = self
                .findings
                .iter()
                .filter(|f| f.severity == severity)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                "<section><h2>{} ({})</h2>",
                severity_title(severity),
                group.len()
            );
            // One card per subject (a cookie, host, element, page), with each of
            // its problems: a tracker before consent, after "Nur Notwendige" and
            // undeclared is one thing to fix.
            let mut subjects: Vec<(&crate::analyse::Subject, Vec<&Finding>)> = Vec::new();
            for f in group {
                match subjects.iter_mut().find(|(s, _)| **s == f.subject) {
                    Some((_, list)) => list.push(f),
                    None => subjects.push((&f.subject, vec![f])),
                }
            }
            for (subject, list) in subjects {
                let kinds: Vec<String> = list
                    .iter()
                    .map(|f| format!("<span class=\"kind\">{}</span>", e(f.kind.as_str())))
                    .collect();
                let domain = subject
                    .domain
                    .as_ref()
                    .map(|d| format!(" on {}", e(d)))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "<article class=\"finding {sev}\"><h3>{kinds} <code>{name}</code> <small>{kind}{domain}</small></h3><ul class=\"messages\">",
                    sev = severity_class(severity),
                    kinds = kinds.join(" "),
                    name = e(&subject.name),
                    kind = e(&subject.kind.replace('_', " ")),
                );
                for f in &list {
                    let _ = write!(out, "<li>{}</li>", e(&f.message));
                }
                out.push_str("</ul><dl>");
                let first = list[0];
                if let Some(s) = &first.service {
                    let _ = write!(out, "<dt>Service</dt><dd><code>{}</code></dd>", e(s));
                }
                let states: Vec<&str> = first.states.iter().map(|s| state_title(*s)).collect();
                if !states.is_empty() {
                    let _ = write!(out, "<dt>Seen</dt><dd>{}</dd>", e(&states.join(", ")));
                }
                if !first.evidence.is_empty() {
                    let _ = write!(out, "<dt>By</dt><dd><ul>");
                    for ev in &first.evidence {
                        let _ = write!(out, "<li><code>{}</code></li>", e(ev));
                    }
                    out.push_str("</ul></dd>");
                }
                if !first.pages.is_empty() {
                    let _ = write!(out, "<dt>Pages</dt><dd><ul>");
                    for p in &first.pages {
                        let _ = write!(out, "<li>{}</li>", e(p));
                    }
                    out.push_str("</ul></dd>");
                }
                let mut fixes: Vec<&str> = Vec::new();
                for f in &list {
                    if !fixes.contains(&f.fix.as_str()) {
                        fixes.push(&f.fix);
                    }
                }
                let _ = write!(out, "<dt>Fix</dt><dd><ul>");
                for fix in fixes {
                    let _ = write!(out, "<li>{}</li>", e(fix));
                }
                out.push_str("</ul></dd>");
                if let Some(p) = list.iter().find_map(|f| f.proposal.as_ref()) {
                    let _ = write!(
                        out,
                        "<dt>Proposal</dt><dd><a href=\"#proposal-{id}\">{id}</a></dd>",
                        id = e(p)
                    );
                }
                out.push_str("</dl></article>");
            }
            out.push_str("</section>");
        }
        if !self.proposals.is_empty() {
            out.push_str("<section><h2>Proposed config entries</h2><p>From the scan's catalogue of well-known services: review each against your contract with the provider before you publish it.</p>");
            for p in &self.proposals {
                let _ = write!(
                    out,
                    "<article id=\"proposal-{id}\" class=\"proposal\"><h3>{name}</h3><p>Source: {source}</p><pre>{toml}</pre></article>",
                    id = e(&p.id),
                    name = e(&p.name),
                    source = e(&p.source),
                    toml = e(&p.toml),
                );
            }
            out.push_str("</section>");
        }
        out.push_str("<section><h2>Everything seen</h2><table><thead><tr><th scope=\"col\">Type</th><th scope=\"col\">Name</th><th scope=\"col\">Lifetime</th><th scope=\"col\">Before a decision</th><th scope=\"col\">States</th><th scope=\"col\">Set by</th></tr></thead><tbody>");
        for i in &self.inventory {
            let lifetime = i
                .cookie
                .as_ref()
                .map(|c| crate::analyse::lifetime_text(c.lifetime_secs))
                .unwrap_or_default();
            let states: Vec<&str> = i.states.iter().map(|s| state_title(*s)).collect();
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&i.kind.replace('_', " ")),
                e(&i.name),
                e(&lifetime),
                if i.before_decision { "yes" } else { "no" },
                e(&states.join(", ")),
                e(&i.set_by.join("; ")),
            );
        }
        out.push_str("</tbody></table></section><section><h2>Pages</h2><table><thead><tr><th scope=\"col\">Page</th><th scope=\"col\">State</th><th scope=\"col\">Banner</th><th scope=\"col\">Decided</th><th scope=\"col\">Requests</th><th scope=\"col\">Cookies</th><th scope=\"col\">Problem</th></tr></thead><tbody>");
        for p in &self.pages {
            for s in &p.states {
                let problem = if s.timed_out {
                    "did not finish loading".to_string()
                } else {
                    s.error.clone().unwrap_or_default()
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    e(&p.url),
                    state_title(s.state),
                    if s.banner_shown { "shown" } else { "—" },
                    if s.decided { "yes" } else { "—" },
                    s.requests,
                    s.cookies,
                    e(&problem)
                );
            }
        }
        out.push_str("</tbody></table></section></main></body></html>\n");
        out
    }
}

fn inventory(visits: &[Visit]) -> Vec<Item> {
    let mut items: BTreeMap<(String, String), Item> = BTreeMap::new();
    let mut add = |kind: &str,
                   name: &str,
                   state: State,
                   before: bool,
                   by: Option<String>,
                   cookie: Option<CookieFacts>| {
        let item = items
            .entry((kind.to_string(), name.to_string()))
            .or_insert_with(|| Item {
                kind: kind.into(),
                name: name.into(),
                cookie: None,
                states: Vec::new(),
                before_decision: false,
                set_by: Vec::new(),
            });
        if !item.states.contains(&state) {
            item.states.push(state);
            item.states.sort();
        }
        item.before_decision |= before;
        if let Some(by) = by
            && !item.set_by.contains(&by)
            && item.set_by.len() < 5
        {
            item.set_by.push(by);
        }
        if let Some(c) = cookie {
            let longer = match (&item.cookie, c.lifetime_secs) {
                (None, _) => true,
                (Some(old), Some(new)) => old.lifetime_secs.is_none_or(|o| new > o),
                _ => false,
            };
            if longer {
                item.cookie = Some(c);
            }
        }
    };
    for v in visits {
        for c in &v.cookies {
            add(
                "cookie",
                &c.name,
                v.state,
                c.before_decision,
                c.set_by.as_ref().map(SetBy::describe),
                Some(CookieFacts {
                    domain: c.domain.clone(),
                    path: c.path.clone(),
                    lifetime_secs: c.lifetime_secs,
                    http_only: c.http_only,
                    secure: c.secure,
                    same_site: c.same_site.clone(),
                }),
            );
        }
        for s in &v.storage {
            add(
                &s.storage,
                &s.name,
                v.state,
                s.before_decision,
                s.set_by.as_ref().map(SetBy::describe),
                None,
            );
        }
        for r in &v.requests {
            add(
                "host",
                &r.host,
                v.state,
                !r.after_decision,
                r.initiator.clone(),
                None,
            );
        }
    }
    items.into_values().collect()
}

fn severity_title(s: Severity) -> &'static str {
    match s {
        Severity::Violation => "Violations",
        Severity::Warning => "Warnings",
        Severity::Notice => "Notices",
    }
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Violation => "violation",
        Severity::Warning => "warning",
        Severity::Notice => "notice",
    }
}

fn state_title(s: State) -> &'static str {
    match s {
        State::NoDecision => "no decision",
        State::RejectAll => "after Nur Notwendige",
        State::AcceptAll => "after Alle akzeptieren",
    }
}

const CSS: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1f;background:#f6f6f8}\
header{background:#20232a;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem;font-size:1.4rem}\
header code{color:#ffd479}main{padding:1rem 2rem 3rem;max-width:72rem}\
.counts{list-style:none;padding:0;display:flex;gap:1rem;margin:.6rem 0 0}\
.counts li{padding:.2rem .7rem;border-radius:4px;background:#3a3f4b}\
.counts .violation strong{color:#ff8a80}.counts .warning strong{color:#ffd479}\
h2{margin-top:2rem;border-bottom:2px solid #ccc}\
.finding{background:#fff;border-left:6px solid #999;margin:.8rem 0;padding:.6rem 1rem;border-radius:4px}\
.finding.violation{border-color:#c62828}.finding.warning{border-color:#b26a00}.finding.notice{border-color:#546e7a}\
.finding h3{font-size:1rem;margin:.2rem 0 .4rem}.finding h3 small{font-weight:400;color:#555}.messages{margin:.2rem 0 .5rem;padding-left:1.2rem}.kind{font:600 .75rem ui-monospace,monospace;background:#eceff1;padding:.1rem .4rem;border-radius:3px;margin-right:.4rem}\
dl{display:grid;grid-template-columns:7rem 1fr;gap:.2rem .8rem;margin:0}dt{font-weight:600;color:#555}dd{margin:0;overflow-wrap:anywhere}\
dd ul{margin:0;padding-left:1rem}pre{background:#20232a;color:#e6e6e6;padding:.8rem;overflow:auto;border-radius:4px}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e0e0e0;vertical-align:top;overflow-wrap:anywhere}\
.clean{background:#e8f5e9;border-left:6px solid #2e7d32;padding:.8rem 1rem}";
