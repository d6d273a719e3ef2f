//! A visitor's own history as a page (`GET /v1/consents/{id}` asked for by a
//! browser, `Accept: text/html`): every decision under the consent ID, newest
//! first, in the visitor's language — the one asked for with `?lang=` (the
//! banner's link passes the one it showed), else the one the newest record was
//! shown in — with the site's words (`shared/texts/<lang>.toml`, `[history]`).
//!
//! Plain HTML from the server: no script, no third-party resource, its own
//! strict Content Security Policy ([`CSP`]), and nothing personal (the history's
//! records carry no pseudonyms).

use std::fmt::Write as _;

use keksdose_shared::SiteConfig;
use keksdose_shared::record::{ConsentRecord, PurposeState, Source};
use keksdose_shared::texts::{self, Words};

/// No script at all; the one inline stylesheet; no framing, no form, no base.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

const STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1f2328;background:#f6f7f9}\
main{max-width:58rem;margin:0 auto;padding:1.5rem}h1{font-size:1.5rem;margin:0 0 .25rem}\
.site{margin:0 0 1rem;color:#4b5563}dl{display:flex;flex-wrap:wrap;gap:.25rem .75rem;margin:0 0 1rem}\
dt{font-weight:600}dd{margin:0}code{font:.875rem ui-monospace,monospace;overflow-wrap:anywhere}\
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #d0d7de}\
th,td{text-align:left;vertical-align:top;padding:.5rem .75rem;border-bottom:1px solid #d0d7de}\
th{background:#eef1f4}td code{white-space:nowrap}@media (max-width:40rem){thead{display:none}td{display:block;border:0}\
tr{display:block;border-bottom:1px solid #d0d7de;padding:.5rem 0}td::before{content:attr(data-label)': ';font-weight:600}}";

pub(super) use keksdose_shared::html::escape as esc;

/// The language of the page: `asked` if the site offers it (by the one rule),
/// else the newest record's, else the site's default.
pub fn language<'a>(
    config: &'a SiteConfig,
    asked: Option<&str>,
    records: &[ConsentRecord],
) -> &'a str {
    let asked = asked.or_else(|| records.last().map(|r| r.language.as_str()));
    config.language_for(asked)
}

/// The page, in `lang` (one the site offers).
pub fn render(
    config: &SiteConfig,
    lang: &str,
    consent_id: &str,
    records: &[ConsentRecord],
) -> String {
    let words = texts::words_for(config, lang);
    let w = |key: &str| esc(words.get(key).map_or(key, String::as_str));
    let mut rows = String::new();
    for record in records.iter().rev() {
        let _ = write!(
            rows,
            "<tr><td data-label=\"{when}\"><time datetime=\"{at}\">{shown}</time></td>\
             <td data-label=\"{decision_label}\">{decision}</td>\
             <td data-label=\"{allowed_label}\">{allowed}</td>\
             <td data-label=\"{checksum}\"><code title=\"{hash}\">{short}…</code></td></tr>",
            when = w("history.when"),
            at = esc(&record.received_at),
            shown = esc(&when(&words, &record.received_at)),
            decision_label = w("history.decision"),
            decision = decision(&words, record),
            allowed_label = w("history.allowed"),
            allowed = allowed(config, &words, lang, record),
            checksum = w("history.checksum"),
            hash = esc(&record.record_hash),
            short = esc(record.record_hash.get(..16).unwrap_or(&record.record_hash)),
        );
    }
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title} – {site}</title>\
         <style>{STYLE}</style></head><body><main><h1>{title}</h1><p class=\"site\">{site}</p>\
         <dl><dt>{id_label}</dt><dd><code>{id}</code></dd></dl><p>{intro}</p>\
         <table><thead><tr><th scope=\"col\">{when}</th><th scope=\"col\">{decision}</th>\
         <th scope=\"col\">{allowed}</th><th scope=\"col\">{checksum}</th></tr></thead>\
         <tbody>{rows}</tbody></table><p>{change}</p></main></body></html>",
        lang = esc(lang),
        title = w("texts.history"),
        site = esc(&config.site.name),
        id_label = w("texts.consent_id"),
        id = esc(consent_id),
        intro = w("history.intro"),
        when = w("history.when"),
        decision = w("history.decision"),
        allowed = w("history.allowed"),
        checksum = w("history.checksum"),
        change = w("history.change"),
    )
}

/// `2026-11-30T08:01:02.345Z` as the language writes the date, with hours and
/// minutes (UTC, as the column says).
fn when(words: &Words, received_at: &str) -> String {
    let (Some(y), Some(m), Some(d), Some(hm)) = (
        received_at.get(0..4),
        received_at.get(5..7),
        received_at.get(8..10),
        received_at.get(11..16),
    ) else {
        return received_at.to_string();
    };
    let date = words.get("date.format").map_or_else(
        || format!("{y}-{m}-{d}"),
        |f| f.replace("{d}", d).replace("{m}", m).replace("{y}", y),
    );
    format!("{date} {hm}")
}

fn decision(words: &Words, record: &ConsentRecord) -> String {
    let word = |key: &str| esc(words.get(key).map_or(key, String::as_str));
    let action = word(&format!("history.{}", record.action.as_str()));
    match record.source {
        Source::Banner => action,
        Source::Backend => format!("{action} ({})", word("history.source_backend")),
        Source::Operator => format!("{action} ({})", word("history.source_operator")),
    }
}

/// The categories allowed beyond the necessary ones, the services allowed one by
/// one (their category not as a whole), and the purposes with their state.
fn allowed(config: &SiteConfig, words: &Words, lang: &str, record: &ConsentRecord) -> String {
    let fallback = config.default_language();
    let choices = &record.choices;
    let mut names: Vec<String> = choices
        .categories
        .iter()
        .filter(|(id, on)| **on && id.as_str() != keksdose_shared::config::NECESSARY)
        .map(|(id, _)| texts::category_text(config, words, id, lang).0)
        .collect();
    for (id, _) in choices.services.iter().filter(|(_, on)| **on) {
        let Some(service) = config.service(id) else {
            continue;
        };
        if service.category != keksdose_shared::config::NECESSARY
            && choices.categories.get(&service.category) != Some(&true)
        {
            names.push(service.name.clone());
        }
    }
    let mut out = if names.is_empty() {
        esc(words
            .get("history.only_necessary")
            .map_or("only_necessary", String::as_str))
    } else {
        esc(&names.join(", "))
    };
    for (id, state) in &record.purposes {
        let name = config
            .purposes
            .iter()
            .find(|p| &p.id == id)
            .map_or_else(|| id.clone(), |p| p.name.get(lang, fallback).to_string());
        let state = match state {
            PurposeState::Requested => "history.purpose_requested",
            PurposeState::Granted => "history.purpose_granted",
            PurposeState::Refused => "history.purpose_refused",
            PurposeState::Withdrawn => "history.purpose_withdrawn",
        };
        let _ = write!(
            out,
            "<br>{}: {}",
            esc(&name),
            esc(words.get(state).map_or(state, String::as_str))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_the_sites_words_and_says_its_language() {
        let mut config =
            SiteConfig::from_toml(include_str!("../../../examples/sites/coaching.toml")).unwrap();
        config.site.name = "<script>alert('x')</script> & \"Co\"".into();
        let page = render(&config, "pl", "c-1", &[]);
        assert!(
            page.starts_with("<!doctype html><html lang=\"pl\">"),
            "{page}"
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"),
            "{page}"
        );
        let words = texts::words_for(&config, "pl");
        assert!(
            page.contains(&format!("<h1>{}</h1>", words["texts.history"])),
            "{page}"
        );
        assert_eq!(language(&config, Some("el-GR"), &[]), "el");
        assert_eq!(language(&config, Some("sv"), &[]), "de");
    }

    #[test]
    fn times_read_as_the_language_writes_dates() {
        let config =
            SiteConfig::from_toml(include_str!("../../../examples/sites/coaching.toml")).unwrap();
        let at = "2026-11-30T08:01:02.345Z";
        assert_eq!(
            when(&texts::words_for(&config, "de"), at),
            "30.11.2026 08:01"
        );
        assert_eq!(
            when(&texts::words_for(&config, "en"), at),
            "2026-11-30 08:01"
        );
        assert_eq!(when(&texts::words_for(&config, "de"), "garbage"), "garbage");
    }
}
