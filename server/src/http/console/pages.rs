//! The console's pages on a site: overview, consent log and export, a
//! consent's proof with the banner as its visitor saw it, data subjects,
//! config (editor, preview, publish, history), users and key, audit trail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::record::{ConsentRecord, PurposeState, Source};
use keksdose_shared::{SiteConfig, texts};
use keksdose_store::{Change, Store};
use serde::{Deserialize, Serialize};

use super::super::AppState;
use super::super::history_page::esc;
use super::{Answer, Ctx, Form, Lang, Nav, page, page_with, see_other, words};
use crate::service::operators::{self, Need, Role};
use crate::service::{consents, export, proofs, sites, subjects};

/// A stored time (RFC 3339, milliseconds, UTC) as people read it:
/// `2026-11-30 14:17:53 UTC`.
fn when(at: &str) -> String {
    match (at.get(..10), at.get(11..19)) {
        (Some(day), Some(time)) if at.len() >= 20 => format!("{day} {time} UTC"),
        _ => at.to_string(),
    }
}

/// A share in percent, with the language's decimal sign.
fn percent(lang: Lang, value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$} %");
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

fn nav<'a>(site: &'a str, role: Role, here: &'static str) -> Option<Nav<'a>> {
    Some(Nav { site, role, here })
}

fn short(version: &str) -> &str {
    version.get(..10).unwrap_or(version)
}

/// `?a=b&c=d` as a map (the query's own decoding).
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct Query(BTreeMap<String, String>);

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

// ------------------------------------------------------------------ overview

const ACTIONS: [&str; 4] = ["accept_all", "reject_all", "custom", "withdraw"];

/// The last verification of a site's whole ledger (table `verifications`).
#[derive(Debug, Serialize, Deserialize)]
struct Verification {
    at: String,
    by: String,
    verified: bool,
    checked: u64,
}

/// `GET /console/sites/{site}`.
pub async fn overview<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, role) = ctx.site(store, &path, Need::View).await?;
    let t = |en, de| ctx.t(en, de);
    let (from, days) = export::stats(store, &site, None, None)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let mut body = String::new();

    // Decisions per day by action, the last 30 days, as stacked bars.
    let start =
        keksdose_shared::time::parse_rfc3339(&format!("{from}T00:00:00Z")).unwrap_or(0) / 1000;
    let dates: Vec<String> = (0..30)
        .map(|i| keksdose_shared::time::date(start + i * 86_400))
        .collect();
    let total: u64 = days.values().map(|d| d.decisions).sum();
    let gpc: u64 = days.values().map(|d| d.gpc).sum();
    // The axis goes up in four whole steps to at least the busiest day.
    let busiest = days.values().map(|d| d.decisions).max().unwrap_or(0).max(1);
    let step = busiest.div_ceil(4);
    let max = step * 4;
    let (w, h, left, bottom, top) = (720.0_f64, 220.0_f64, 44.0_f64, 24.0_f64, 10.0_f64);
    let plot = h - bottom - top;
    let bar = (w - left) / 30.0;
    let _ = write!(
        body,
        "<section class=\"panel chart\" aria-labelledby=\"c1\"><h2 id=\"c1\">{}</h2>\
         <svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"c1 c1d\"><desc id=\"c1d\">{} {total}. {}</desc>",
        t(
            "Decisions per day, last 30 days",
            "Entscheidungen pro Tag, letzte 30 Tage"
        ),
        t(
            "Decisions in these 30 days:",
            "Entscheidungen in diesen 30 Tagen:"
        ),
        t(
            "The same figures are in the table below.",
            "Dieselben Zahlen stehen in der Tabelle darunter."
        ),
    );
    for tick in 0..=4u8 {
        let y = top + plot * (1.0 - f64::from(tick) / 4.0);
        let value = step * u64::from(tick);
        let _ = write!(
            body,
            "<line class=\"gridline\" x1=\"{left}\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{value}</text>",
            left - 4.0,
            y + 4.0
        );
    }
    for (i, date) in dates.iter().enumerate() {
        let x = left + bar * i as f64 + 2.0;
        let mut y = h - bottom;
        if let Some(d) = days.get(date) {
            for action in ACTIONS {
                let n = d.actions.get(action).copied().unwrap_or(0);
                if n == 0 {
                    continue;
                }
                let height = plot * n as f64 / max as f64;
                y -= height;
                let _ = write!(
                    body,
                    "<rect class=\"k-{action}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\"/>",
                    bar - 4.0
                );
            }
        }
        if i % 7 == 0 {
            let _ = write!(
                body,
                "<text class=\"axis\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
                h - 6.0,
                date.get(5..).unwrap_or(date)
            );
        }
    }
    body.push_str("</svg><ul class=\"legend\">");
    for action in ACTIONS {
        let _ = write!(
            body,
            "<li><span class=\"k-{action}\" aria-hidden=\"true\"></span>{}</li>",
            words::action(ctx.lang, action)
        );
    }
    let _ = write!(
        body,
        "</ul><details><summary>{}</summary><table><thead><tr><th scope=\"col\">{}</th>",
        t("The figures as a table", "Die Zahlen als Tabelle"),
        t("Day", "Tag")
    );
    for action in ACTIONS {
        let _ = write!(
            body,
            "<th scope=\"col\" class=\"num\">{}</th>",
            words::action(ctx.lang, action)
        );
    }
    body.push_str("</tr></thead><tbody>");
    for (date, d) in &days {
        let _ = write!(body, "<tr><th scope=\"row\">{date}</th>");
        for action in ACTIONS {
            let _ = write!(
                body,
                "<td class=\"num\">{}</td>",
                d.actions.get(action).copied().unwrap_or(0)
            );
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></details></section>");

    // Opt-in rate per category by week, and the GPC share.
    let current = state
        .published
        .get(store, &site)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let config = &current.config;
    let _ = write!(
        body,
        "<div class=\"grid2\"><section class=\"panel\" aria-labelledby=\"c2\"><h2 id=\"c2\">{}</h2>\
         <table><thead><tr><th scope=\"col\">{}</th>",
        t("Opt-in rate per category", "Zustimmungsrate je Kategorie"),
        t("Category", "Kategorie")
    );
    let weeks: Vec<&[String]> = dates.chunks(7).collect();
    for week in &weeks {
        let _ = write!(
            body,
            "<th scope=\"col\" class=\"num\">{} {}</th>",
            t("from", "ab"),
            week.first().and_then(|d| d.get(5..)).unwrap_or("")
        );
    }
    let _ = write!(
        body,
        "<th scope=\"col\" class=\"num\">{}</th></tr></thead><tbody>",
        t("30 days", "30 Tage")
    );
    let lang = config.language_for(Some(ctx.lang.code()));
    let site_words = texts::words_for(config, lang);
    for category in config.categories() {
        if category.id == keksdose_shared::config::NECESSARY {
            continue;
        }
        let (name, _) = texts::category_text(config, &site_words, &category.id, lang);
        let name = name.as_str();
        let _ = write!(body, "<tr><th scope=\"row\">{}</th>", esc(name));
        let rate = |ds: &[String]| {
            let (mut n, mut yes) = (0u64, 0u64);
            for d in ds.iter().filter_map(|d| days.get(d)) {
                n += d.decisions;
                yes += d.allowed.get(&category.id).copied().unwrap_or(0);
            }
            if n == 0 {
                "–".to_string()
            } else {
                percent(ctx.lang, yes as f64 * 100.0 / n as f64, 0)
            }
        };
        for week in &weeks {
            let _ = write!(body, "<td class=\"num\">{}</td>", rate(week));
        }
        let _ = write!(body, "<td class=\"num\">{}</td></tr>", rate(&dates));
    }
    let gpc_share = if total == 0 {
        "–".to_string()
    } else {
        percent(ctx.lang, gpc as f64 * 100.0 / total as f64, 1)
    };
    let _ = write!(
        body,
        "</tbody></table><p>{}: <strong>{gpc_share}</strong> ({gpc} / {total})</p></section>",
        t(
            "Decisions sent with Global Privacy Control",
            "Entscheidungen mit Global Privacy Control"
        )
    );

    // The config live, and the ledger's health.
    let times = store
        .config_times(&site.id)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let since = times
        .iter()
        .rev()
        .find(|(v, _)| *v == site.config_version)
        .map_or("–", |(_, at)| at.as_str());
    let head = store
        .head(&site.id)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let checkpoint = store
        .latest_checkpoint(&site.id)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let signed = match &checkpoint {
        Some(c) => Some(
            proofs::signed(store, c)
                .await
                .map_err(|e| ctx.service_error(&e))?,
        ),
        None => None,
    };
    let last: Option<Verification> = store
        .doc("verifications", &site.id)
        .await
        .ok()
        .flatten()
        .and_then(|v| serde_json::from_str(&v).ok());
    let _ = write!(
        body,
        "<section class=\"panel\" aria-labelledby=\"c3\"><h2 id=\"c3\">{}</h2><dl class=\"facts\">\
         <dt>{}</dt><dd><code>{}</code></dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
        t("Config and ledger", "Konfiguration und Ledger"),
        t("Config version live", "Aktive Konfigurationsversion"),
        esc(&site.config_version),
        t("Live since", "Aktiv seit"),
        esc(&when(since)),
        t("Records in the ledger", "Einträge im Ledger"),
        head.as_ref().map_or(0, |h| h.seq),
    );
    match &last {
        Some(v) => {
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{} <span class=\"badge {}\">{}</span> ({} {})</dd>",
                t("Last verification", "Letzte Prüfung"),
                esc(&when(&v.at)),
                if v.verified { "good" } else { "badx" },
                if v.verified {
                    t("intact", "intakt")
                } else {
                    t("BROKEN", "BESCHÄDIGT")
                },
                v.checked,
                t("records recomputed", "Einträge nachgerechnet"),
            );
        }
        None => {
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{}</dd>",
                t("Last verification", "Letzte Prüfung"),
                t("not yet", "noch keine")
            );
        }
    }
    match (&checkpoint, signed) {
        (Some(c), Some(ok)) => {
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{} {} {} <span class=\"badge {}\">{}</span></dd><dt>{}</dt><dd><code>{}</code></dd>",
                t("Last signed checkpoint", "Letzter signierter Checkpoint"),
                t("record", "Eintrag"),
                c.seq,
                esc(&when(&c.signed_at)),
                if ok { "good" } else { "badx" },
                if ok {
                    t("signature valid", "Signatur gültig")
                } else {
                    t("signature INVALID", "Signatur UNGÜLTIG")
                },
                t("Signing key", "Signaturschlüssel"),
                esc(&c.key_id),
            );
            let newer = head.as_ref().map_or(0, |h| h.seq.saturating_sub(c.seq));
            if newer > 0 {
                let _ = write!(
                    body,
                    "<dd class=\"hint\">{newer} {}</dd>",
                    t(
                        "newer records are covered by the next checkpoint (the server signs one every 10 minutes; a proof pack signs one at once)",
                        "neuere Einträge deckt der nächste Checkpoint (der Server signiert alle 10 Minuten einen; ein Nachweispaket sofort)"
                    )
                );
            }
        }
        _ => {
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{}</dd>",
                t("Last signed checkpoint", "Letzter signierter Checkpoint"),
                t("none yet", "noch keiner")
            );
        }
    }
    body.push_str("</dl>");
    if role.allows(Need::Consents) {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/console/sites/{}/verify\">{}<button type=\"submit\">{}</button></form>",
            esc(&site.id),
            ctx.csrf_field(),
            t("Verify the whole ledger now", "Ganzes Ledger jetzt prüfen"),
        );
    }
    body.push_str("</section></div>");
    Ok(page(
        Some(&ctx),
        ctx.lang,
        t("Overview", "Übersicht"),
        nav(&site.id, role, "overview"),
        &body,
    ))
}

/// `POST /console/sites/{site}/verify`: recomputes the chain, notes the result.
pub async fn verify<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, _) = ctx.site(store, &path, Need::Consents).await?;
    if let Err(wait) = state.limits.verify(&site.id) {
        return Err(ctx
            .error_page(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "{} {wait} s.",
                    ctx.t(
                        "The ledger was just verified. Try again in",
                        "Das Ledger wurde eben geprüft. Versuchen Sie es wieder in"
                    )
                ),
            )
            .into());
    }
    let report = proofs::verify(store, &site.id)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let v = Verification {
        at: keksdose_shared::time::rfc3339_millis(keksdose_store::now_ms()),
        by: ctx.actor(),
        verified: report.verified && report.checkpoint_matches != Some(false),
        checked: report.checked,
    };
    let text = serde_json::to_string(&v).unwrap_or_default();
    store
        .change(vec![
            Change::Put {
                table: "verifications".into(),
                key: site.id.clone(),
                value: Some(text),
            },
            Change::Audit {
                event: keksdose_store::AuditEvent {
                    actor: ctx.actor(),
                    action: "verify".into(),
                    site: Some(site.id.clone()),
                    target: None,
                    detail: format!(
                        "{} records, {}",
                        report.checked,
                        if v.verified { "intact" } else { "broken" }
                    ),
                },
            },
        ])
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    Ok(see_other(&format!("/console/sites/{}", site.id)))
}

// ------------------------------------------------------------------ consent log

fn log_query(q: &Query) -> String {
    let mut out = Vec::new();
    for k in ["from", "to", "action", "version"] {
        if let Some(v) = q.get(k) {
            out.push(format!("{k}={}", urlencode(v)));
        }
    }
    out.join("&")
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `GET /console/sites/{site}/consents`: search, paged; a consent ID goes
/// straight to its proof.
pub async fn log<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Query>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, role) = ctx.site(store, &path, Need::Consents).await?;
    let t = |en, de| ctx.t(en, de);
    let q = query.into_inner();
    if let Some(id) = q.get("consent") {
        return Ok(see_other(&format!(
            "/console/sites/{}/consents/{}",
            site.id,
            urlencode(id.trim())
        )));
    }
    let found = async {
        let selection = export::selection(&site, q.get("from"), q.get("to"), None)?;
        let filter = export::Filter::parse(q.get("action"), q.get("version"))?;
        let after = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
        export::page(store, &site.id, &selection, &filter, after, 50).await
    }
    .await;
    let times = store.config_times(&site.id).await.unwrap_or_default();
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" class=\"row panel\" role=\"search\" aria-label=\"{}\">\
         <label>{}<input type=\"date\" name=\"from\" value=\"{}\"></label>\
         <label>{}<input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <label>{}<select name=\"action\"><option value=\"\">{}</option>",
        t("Search the consent log", "Einwilligungen durchsuchen"),
        t("From", "Von"),
        esc(q.get("from").unwrap_or("")),
        t("To (not included)", "Bis (ausschließlich)"),
        esc(q.get("to").unwrap_or("")),
        t("Action", "Aktion"),
        t("any", "alle"),
    );
    for a in ACTIONS {
        let sel = if q.get("action") == Some(a) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{a}\"{sel}>{}</option>",
            words::action(ctx.lang, a)
        );
    }
    let _ = write!(
        body,
        "</select></label><label>{}<select name=\"version\"><option value=\"\">{}</option>",
        t("Config version", "Konfigurationsversion"),
        t("any", "alle")
    );
    let mut seen = BTreeSet::new();
    for (v, at) in times.iter().rev() {
        if !seen.insert(v) {
            continue;
        }
        let sel = if q.get("version") == Some(v.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{}\"{sel}>{} ({})</option>",
            esc(v),
            esc(short(v)),
            esc(at.get(..10).unwrap_or(at))
        );
    }
    let _ = write!(
        body,
        "</select></label><label>{}<input name=\"consent\" autocomplete=\"off\"></label>\
         <button type=\"submit\" class=\"primary\">{}</button></form>\
         <p class=\"hint\">{} <a href=\"/console/sites/{}/subjects\">{}</a>.</p>",
        t("Consent ID", "Consent-ID"),
        t("Search", "Suchen"),
        t(
            "A site user's consents (kept out of addresses):",
            "Die Einwilligungen einer Nutzerin oder eines Nutzers (ohne ID in der Adresse):"
        ),
        esc(&site.id),
        t("Data subjects", "Betroffene Personen"),
    );
    let (records, next) = match found {
        Ok(found) => found,
        Err(e) => {
            let _ = write!(
                body,
                "<p class=\"error\" role=\"alert\">{}</p>",
                esc(&e.to_string())
            );
            return Ok(page_with(
                StatusCode::BAD_REQUEST,
                Some(&ctx),
                ctx.lang,
                t("Consent log", "Einwilligungen"),
                nav(&site.id, role, "consents"),
                &body,
            ));
        }
    };
    let qs = log_query(&q);
    let _ = write!(
        body,
        "<p class=\"noprint\">{}: <a href=\"/console/sites/{1}/export?format=csv{2}\">CSV</a> · \
         <a href=\"/console/sites/{1}/export?format=ndjson{2}\">NDJSON</a></p>",
        t("Export this selection", "Diese Auswahl exportieren"),
        esc(&site.id),
        if qs.is_empty() {
            String::new()
        } else {
            format!("&amp;{}", esc(&qs))
        },
    );
    if records.is_empty() {
        let _ = write!(
            body,
            "<p role=\"status\">{}</p>",
            t("No records match.", "Keine Einträge gefunden.")
        );
    } else {
        let _ = write!(
            body,
            "<table><caption class=\"visually-hidden\">{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
             <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">GPC</th></tr></thead><tbody>",
            t("Records", "Einträge"),
            t("Received", "Empfangen"),
            t("Consent ID", "Consent-ID"),
            t("Action", "Aktion"),
            t("Source", "Quelle"),
            t("Config", "Konfiguration"),
            t("Language", "Sprache"),
        );
        for r in &records {
            let _ = write!(
                body,
                "<tr><td>{}</td><td><a href=\"/console/sites/{}/consents/{}\"><code>{}</code></a></td><td>{}</td><td>{}</td>\
                 <td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&when(&r.received_at)),
                esc(&site.id),
                esc(&r.consent_id),
                esc(&r.consent_id),
                words::action(ctx.lang, r.action.as_str()),
                source(ctx.lang, r.source),
                esc(short(&r.config_version)),
                esc(&r.language),
                if r.signals.gpc { t("yes", "ja") } else { "–" },
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("<nav class=\"pager\" aria-label=\"Pages\">");
    if q.get("after").is_some() {
        let _ = write!(
            body,
            "<a href=\"?{}\">{}</a>",
            esc(&qs),
            t("First page", "Erste Seite")
        );
    }
    if let Some(n) = next {
        let _ = write!(
            body,
            "<a href=\"?{}&amp;after={n}\">{}</a>",
            esc(&qs),
            t("Next page", "Nächste Seite")
        );
    }
    body.push_str("</nav>");
    Ok(page(
        Some(&ctx),
        ctx.lang,
        t("Consent log", "Einwilligungen"),
        nav(&site.id, role, "consents"),
        &body,
    ))
}

fn source(lang: Lang, s: Source) -> &'static str {
    match s {
        Source::Banner => lang.t("banner", "Banner"),
        Source::Backend => lang.t("site's backend", "Backend der Website"),
        Source::Operator => lang.t("operator", "Betreiber"),
    }
}

/// `GET /console/sites/{site}/export?format=csv|ndjson&…`: the selection, as
/// a download (audited).
pub async fn export<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Query>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, _) = ctx.site(store, &path, Need::Consents).await?;
    super::not_cross_site(&req, ctx.lang)?;
    let q = query.into_inner();
    let parsed = (|| {
        let selection = export::selection(&site, q.get("from"), q.get("to"), None)?;
        let filter = export::Filter::parse(q.get("action"), q.get("version"))?;
        let format = export::Format::parse(q.get("format").unwrap_or(""))
            .ok_or_else(|| crate::service::Error::bad_request("format: expected csv or ndjson"))?;
        Ok::<_, crate::service::Error>((selection, filter, format))
    })();
    let (selection, filter, format) = parsed.map_err(|e| ctx.service_error(&e))?;
    let detail = format!("{} {}", q.get("format").unwrap_or(""), log_query(&q));
    operators::audit(
        store,
        &ctx.actor(),
        "export",
        Some(&site.id),
        None,
        detail.trim(),
    )
    .await
    .map_err(|e| ctx.service_error(&e))?;
    let pages = export::export(
        state.store.clone(),
        site.id.clone(),
        selection,
        filter,
        format,
        0,
    );
    let stream = futures_util::StreamExt::map(pages, |page| {
        page.map(actix_web::web::Bytes::from)
            .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))
    });
    let (content_type, ext) = match format {
        export::Format::Csv => ("text/csv; charset=utf-8", "csv"),
        export::Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}-consents.{ext}\"", site.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream))
}

// ------------------------------------------------------------------ proof

fn badge(lang: Lang, ok: bool) -> String {
    if ok {
        format!(
            "<span class=\"badge good\">{}</span>",
            lang.t("verified", "geprüft")
        )
    } else {
        format!(
            "<span class=\"badge badx\">{}</span>",
            lang.t("NOT verified", "NICHT bestätigt")
        )
    }
}

/// `GET /console/sites/{site}/consents/{id}`: the proof, verified, with the
/// banner as the visitor saw it (`?seq=` picks the record; the latest by default).
pub async fn proof<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<Query>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site_id, consent_id) = path.into_inner();
    let (site, role) = ctx.site(store, &site_id, Need::Consents).await?;
    let t = |en, de| ctx.t(en, de);
    let proof = proofs::proof(store, &site.id, &consent_id)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let shown = query
        .get("seq")
        .and_then(|s| s.parse::<u64>().ok())
        .and_then(|s| proof.records.iter().find(|e| e.record.seq == s))
        // The latest banner decision: a withdrawal by the operator or a
        // backend's consent was shown no banner.
        .or_else(|| {
            proof
                .records
                .iter()
                .rev()
                .find(|e| e.record.source == Source::Banner)
        })
        .filter(|e| e.record.source == Source::Banner)
        .map(|e| e.record.seq)
        .unwrap_or(0);
    let id = esc(&consent_id);
    let sid = esc(&site.id);
    let mut body = String::new();
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>{}</dt><dd><code>{id}</code></dd><dt>{}</dt><dd>{sid}</dd>\
         <dt>{}</dt><dd>{} {}</dd><dt>{}</dt><dd>",
        t("Consent ID", "Consent-ID"),
        t("Site", "Website"),
        t("Records", "Einträge"),
        proof.records.len(),
        badge(ctx.lang, proof.verified),
        t("Covering checkpoint", "Abdeckender Checkpoint"),
    );
    match (&proof.checkpoint, proof.checkpoint_signature_valid) {
        (Some(c), Some(valid)) => {
            let _ = write!(
                body,
                "{} {} · {} {} · {} <code>{}</code> · <span class=\"badge {}\">{}</span><br><code>{}</code>",
                t("record", "Eintrag"),
                c.seq,
                t("signed", "signiert"),
                esc(&when(&c.signed_at)),
                t("key", "Schlüssel"),
                esc(&c.key_id),
                if valid { "good" } else { "badx" },
                if valid {
                    t("signature valid", "Signatur gültig")
                } else {
                    t("signature INVALID", "Signatur UNGÜLTIG")
                },
                esc(&c.head_hash),
            );
        }
        _ => {
            body.push_str(t(
                "none yet: the next checkpoint (or the proof pack) signs it",
                "noch keiner: der nächste Checkpoint (oder das Nachweispaket) signiert ihn",
            ));
        }
    }
    let _ = write!(
        body,
        "</dd></dl><p class=\"noprint\"><a href=\"/console/sites/{sid}/consents/{id}/proof-pack\" download>{}</a> · {}</p>",
        t(
            "Download the proof pack (JSON)",
            "Nachweispaket herunterladen (JSON)"
        ),
        t(
            "check it offline with: keksdose verify-proof FILE. Print this page for a paper copy.",
            "offline prüfen mit: keksdose verify-proof DATEI. Diese Seite lässt sich als Nachweis drucken."
        ),
    );

    // The timeline.
    let _ = write!(
        body,
        "<h2>{}</h2><ol class=\"timeline\">",
        t("Records", "Einträge")
    );
    for entry in &proof.records {
        let r = &entry.record;
        let (granted, denied): (Vec<_>, Vec<_>) = r.choices.iter().partition(|(_, on)| *on);
        let ids = |v: &[(&str, bool)]| {
            if v.is_empty() {
                "–".to_string()
            } else {
                v.iter()
                    .map(|(id, _)| esc(id))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = write!(
            body,
            "<li><h3>{} · {} {}</h3><dl class=\"facts\">\
             <dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd><code>{}</code> · {}</dd>\
             <dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
            esc(&when(&r.received_at)),
            words::action(ctx.lang, r.action.as_str()),
            badge(ctx.lang, entry.verified),
            t("Source, sequence", "Quelle, Nummer"),
            source(ctx.lang, r.source),
            r.seq,
            t("Config version, language", "Konfigurationsversion, Sprache"),
            esc(&r.config_version),
            esc(&r.language),
            t("Allowed", "Erlaubt"),
            ids(&granted),
            t("Refused", "Abgelehnt"),
            ids(&denied),
        );
        if !r.purposes.is_empty() {
            let purposes: Vec<String> = r
                .purposes
                .iter()
                .map(|(p, s)| format!("{}: {}", esc(p), purpose_state(ctx.lang, *s)))
                .collect();
            let _ = write!(
                body,
                "<dt>{}</dt><dd>{}</dd>",
                t("Purposes", "Zwecke"),
                purposes.join(", ")
            );
        }
        let _ = write!(
            body,
            "<dt>{}</dt><dd>GPC {} · DNT {}</dd><dt>{}</dt><dd>{}</dd>\
             <dt>{}</dt><dd><code>{}</code></dd><dt>{}</dt><dd><code>{}</code></dd>",
            t("Signals", "Signale"),
            if r.signals.gpc {
                t("on", "an")
            } else {
                t("off", "aus")
            },
            if r.signals.dnt {
                t("on", "an")
            } else {
                t("off", "aus")
            },
            t("Personal part", "Personenbezogener Teil"),
            if r.personal.is_some() {
                t(
                    "kept (keyed hashes only)",
                    "vorhanden (nur als Schlüssel-Hashes)",
                )
            } else {
                t(
                    "erased; its hash stays in the chain",
                    "gelöscht; sein Hash bleibt in der Kette",
                )
            },
            t("Record hash", "Hash des Eintrags"),
            esc(&r.record_hash),
            t("Previous hash", "Vorheriger Hash"),
            esc(&r.prev_hash),
        );
        if let Some(p) = &entry.problem {
            let _ = write!(
                body,
                "<dt>{}</dt><dd class=\"error\">{}</dd>",
                t("Problem", "Problem"),
                esc(p)
            );
        }
        let _ = write!(body, "</dl>");
        if r.source == Source::Banner && r.seq != shown {
            let _ = write!(
                body,
                "<p class=\"noprint\"><a href=\"?seq={}#banner\">{}</a></p>",
                r.seq,
                t(
                    "Show the banner as shown for this record",
                    "Banner zu diesem Eintrag zeigen"
                )
            );
        }
        body.push_str("</li>");
    }
    body.push_str("</ol>");

    if let Some(r) = proof
        .records
        .iter()
        .map(|e| &e.record)
        .find(|r| r.seq == shown)
    {
        let _ = write!(
            body,
            "<h2 id=\"banner\">{} ({} {}, {})</h2><p class=\"hint\">{}</p><div class=\"grid2\">\
             <iframe class=\"banner\" tabindex=\"-1\" title=\"{}\" src=\"/console/sites/{sid}/consents/{id}/banner?seq={}&amp;layer=first\"></iframe>\
             <iframe class=\"banner settings\" tabindex=\"-1\" title=\"{}\" src=\"/console/sites/{sid}/consents/{id}/banner?seq={}&amp;layer=settings\"></iframe></div>",
            t(
                "The banner as the visitor saw it",
                "Das Banner, wie es die besuchende Person sah"
            ),
            t("record", "Eintrag"),
            r.seq,
            esc(&r.language),
            t(
                "Rendered now from the stored config version and language, by the banner's own components; the settings show the switches as this record left them.",
                "Jetzt aus der gespeicherten Konfigurationsversion und Sprache gerendert, mit den Komponenten des Banners; die Einstellungen zeigen die Schalter so, wie dieser Eintrag sie hinterließ."
            ),
            t("First layer", "Erste Ebene"),
            r.seq,
            t("Settings", "Einstellungen"),
            r.seq,
        );
    }

    // What operators did to this consent (the reasons of their withdrawals).
    let done: Vec<keksdose_store::AuditEntry> = operators::trail(store, &site.id, usize::MAX)
        .await
        .map_err(|e| ctx.service_error(&e))?
        .entries
        .into_iter()
        .filter(|e| e.event.target.as_deref() == Some(consent_id.as_str()))
        .collect();
    if !done.is_empty() {
        let names: BTreeMap<String, String> = operators::all(store)
            .await
            .map_err(|e| ctx.service_error(&e))?
            .into_iter()
            .map(|o| (o.actor(), o.email))
            .collect();
        let _ = write!(
            body,
            "<h2>{}</h2><ul>",
            t(
                "Done by operators (audit trail)",
                "Von Betreibern veranlasst (Protokoll)"
            )
        );
        for e in done.iter().rev() {
            let _ = write!(
                body,
                "<li>{} · {} · {}{}</li>",
                esc(&when(&e.at)),
                esc(names.get(&e.event.actor).unwrap_or(&e.event.actor)),
                esc(&words::audited(ctx.lang, &e.event.action)),
                if e.event.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", esc(&e.event.detail))
                },
            );
        }
        body.push_str("</ul>");
    }
    let withdrawn = proof
        .records
        .last()
        .is_some_and(|e| e.record.action == keksdose_shared::Action::Withdraw);
    if role.allows(Need::Consents) && !withdrawn {
        let _ = write!(
            body,
            "<h2 class=\"noprint\">{}</h2><form method=\"post\" action=\"/console/sites/{sid}/consents/{id}/withdraw\" class=\"stack noprint\">{}\
             <label for=\"reason\">{}</label><textarea id=\"reason\" name=\"reason\" required maxlength=\"500\" rows=\"3\"></textarea>\
             <button type=\"submit\" class=\"danger\">{}</button></form>",
            t(
                "Withdraw on the visitor's behalf",
                "Im Auftrag der Person widerrufen"
            ),
            ctx.csrf_field(),
            t(
                "Reason (kept in the audit trail; e.g. an e-mail of 3 Nov asking to withdraw)",
                "Grund (steht im Protokoll; z. B. E-Mail vom 3. 11. mit Widerruf)"
            ),
            t("Withdraw consent", "Einwilligung widerrufen"),
        );
    }
    Ok(page(
        Some(&ctx),
        ctx.lang,
        t("Proof of consent", "Einwilligungsnachweis"),
        nav(&site.id, role, "consents"),
        &body,
    ))
}

fn purpose_state(lang: Lang, s: PurposeState) -> &'static str {
    match s {
        PurposeState::Requested => lang.t("requested, not confirmed", "angefragt, nicht bestätigt"),
        PurposeState::Granted => lang.t("granted", "erteilt"),
        PurposeState::Refused => lang.t("refused", "abgelehnt"),
        PurposeState::Withdrawn => lang.t("withdrawn", "widerrufen"),
    }
}

/// A banner layer as a page of its own, for an iframe: the banner's markup
/// and its stylesheet (allowed by its hash), no script.
fn banner_document(lang: &str, css: &str, markup: &str) -> HttpResponse {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(css.as_bytes()));
    let csp = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    );
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>Banner</title><style>{css}</style></head>\
         <body><main>{markup}</main></body></html>",
        esc(lang)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

/// The banner's markup for `config` in `lang`, the settings switched as
/// `stored` says.
fn render_layer(
    config: &SiteConfig,
    version: &str,
    lang: &str,
    stored: Option<StoredDecision>,
    settings: bool,
) -> (String, String) {
    use keksdose_widget::site::Site;
    use keksdose_widget::state::Layer;
    let lang = config.language_for(Some(lang)).to_string();
    let words = texts::words_for(config, &lang);
    let view = keksdose_widget::view::View::new(config, version, &lang, &words);
    let site = Site::new(
        view,
        stored.as_ref().map(keksdose_widget::site::Earlier::from),
        None,
    );
    // Printed as on screen: a proof on paper shows the buttons as they were.
    let css = format!(
        "{}@media print{{*{{-webkit-print-color-adjust:exact;print-color-adjust:exact}}}}",
        site.stylesheet
    );
    let layer = if settings {
        Layer::Settings
    } else {
        Layer::First
    };
    let markup = keksdose_widget::ssr::layer(site, layer);
    (css, markup)
}

fn stored_of(r: &ConsentRecord, revision: u32) -> StoredDecision {
    let mut granted = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for (id, on) in r.choices.iter() {
        if on {
            granted.insert(id.to_string());
        } else {
            denied.insert(id.to_string());
        }
    }
    StoredDecision {
        consent_id: Some(r.consent_id.clone()),
        pending: None,
        decided_at: keksdose_shared::time::parse_rfc3339(&r.received_at).unwrap_or(0) / 1000,
        config_version: r.config_version.clone(),
        revision,
        action: r.action,
        signals: r.signals,
        granted,
        denied,
    }
}

/// `GET /console/sites/{site}/consents/{id}/banner?seq=&layer=first|settings`.
pub async fn banner<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<Query>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site_id, consent_id) = path.into_inner();
    let (site, _) = ctx.site(store, &site_id, Need::Consents).await?;
    let records = store
        .consent(&site.id, &consent_id)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let seq = query.get("seq").and_then(|s| s.parse::<u64>().ok());
    let record = records
        .iter()
        .rev()
        .find(|r| seq.is_none_or(|s| r.seq == s))
        .ok_or_else(|| {
            ctx.error_page(
                StatusCode::NOT_FOUND,
                ctx.t("No such record.", "Diesen Eintrag gibt es nicht."),
            )
        })?;
    let config = store
        .config(&site.id, &record.config_version)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?
        .ok_or_else(|| {
            ctx.error_page(
                StatusCode::NOT_FOUND,
                ctx.t(
                    "The config version is not stored.",
                    "Die Konfigurationsversion ist nicht gespeichert.",
                ),
            )
        })?;
    let settings = query.get("layer") == Some("settings");
    let stored = settings.then(|| stored_of(record, config.consent.revision));
    let (css, markup) = render_layer(
        &config,
        &record.config_version,
        &record.language,
        stored,
        settings,
    );
    Ok(banner_document(&record.language, &css, &markup))
}

/// `GET /console/sites/{site}/consents/{id}/proof-pack` (audited).
pub async fn proof_pack<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site_id, consent_id) = path.into_inner();
    let (site, _) = ctx.site(store, &site_id, Need::Consents).await?;
    super::not_cross_site(&req, ctx.lang)?;
    let pack = proofs::proof_pack(store, &state.signer, &site.id, &consent_id)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    operators::audit(
        store,
        &ctx.actor(),
        "proof_pack",
        Some(&site.id),
        Some(&consent_id),
        "",
    )
    .await
    .map_err(|e| ctx.service_error(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"proof-{}-{consent_id}.json\"",
                site.id
            ),
        ))
        .json(pack))
}

/// `POST /console/sites/{site}/consents/{id}/withdraw` with a reason.
pub async fn withdraw<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site_id, consent_id) = path.into_inner();
    let (site, _) = ctx.site(store, &site_id, Need::Consents).await?;
    let reason = form.get("reason").map_or("", |r| r.trim());
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ctx
            .error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                ctx.t(
                    "Give a reason of at most 500 characters.",
                    "Geben Sie einen Grund mit höchstens 500 Zeichen an.",
                ),
            )
            .into());
    }
    let known = store
        .consent(&site.id, &consent_id)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    if known.is_empty() {
        return Err(ctx
            .error_page(
                StatusCode::NOT_FOUND,
                ctx.t(
                    "There is no such consent.",
                    "Diese Einwilligung gibt es nicht.",
                ),
            )
            .into());
    }
    // Noted first: nothing is done that the trail does not hold.
    operators::audit(
        store,
        &ctx.actor(),
        "withdraw",
        Some(&site.id),
        Some(&consent_id),
        reason,
    )
    .await
    .map_err(|e| ctx.service_error(&e))?;
    consents::withdraw_for_visitor(store, &state.published, &site, consent_id.clone())
        .await
        .map_err(|e| ctx.service_error(&e))?;
    Ok(see_other(&format!(
        "/console/sites/{}/consents/{}",
        site.id,
        urlencode(&consent_id)
    )))
}

// ------------------------------------------------------------------ subjects

fn subject_form(ctx: &Ctx, site: &str, subject: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/sites/{}/subjects\" class=\"row panel\">{}\
         <label>{}<input name=\"subject\" required maxlength=\"256\" autocomplete=\"off\" value=\"{}\"></label>\
         <button type=\"submit\" class=\"primary\">{}</button></form><p class=\"hint\">{}</p>",
        esc(site),
        ctx.csrf_field(),
        ctx.t("The site's own user id", "Die Nutzer-ID der Website"),
        esc(subject),
        ctx.t("Look up", "Abfragen"),
        ctx.t(
            "Requests under Art. 15 (access), 20 (portability) and 17 (erasure). The id is kept only as a keyed hash; it is sent by POST so that it stays out of addresses and histories.",
            "Anfragen nach Art. 15 (Auskunft), 20 (Übertragbarkeit) und 17 (Löschung). Die ID wird nur als Schlüssel-Hash gespeichert; sie wird per POST gesendet, damit sie in keiner Adresse und keinem Verlauf steht."
        ),
    )
}

/// `GET /console/sites/{site}/subjects`.
pub async fn subjects<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, role) = ctx.site(store, &path, Need::Consents).await?;
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Data subjects", "Betroffene Personen"),
        nav(&site.id, role, "subjects"),
        &subject_form(&ctx, &site.id, ""),
    ))
}

/// `POST /console/sites/{site}/subjects`: a subject's consents (audited).
pub async fn subject<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, role) = ctx.site(store, &path, Need::Consents).await?;
    let t = |en, de| ctx.t(en, de);
    let subject = form.get("subject").map_or("", |s| s.trim());
    let access = subjects::access(store, &site, subject)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let hash = subjects::subject_hash(&site, subject).map_err(|e| ctx.service_error(&e))?;
    operators::audit(
        store,
        &ctx.actor(),
        "access",
        Some(&site.id),
        Some(&format!("subject:{hash}")),
        "",
    )
    .await
    .map_err(|e| ctx.service_error(&e))?;
    let mut body = subject_form(&ctx, &site.id, subject);
    if access.consents.is_empty() {
        let _ = write!(
            body,
            "<p role=\"status\">{}</p>",
            t(
                "No consent is linked to this user id.",
                "Mit dieser Nutzer-ID ist keine Einwilligung verknüpft."
            )
        );
    } else {
        let _ = write!(
            body,
            "<h2>{}</h2><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            t("Linked consents", "Verknüpfte Einwilligungen"),
            t("Consent ID", "Consent-ID"),
            t("Latest record", "Letzter Eintrag"),
            t("Action and source", "Aktion und Quelle"),
            t(
                "Purposes (e.g. a newsletter's double opt-in)",
                "Zwecke (z. B. Double-Opt-in eines Newsletters)"
            ),
        );
        for c in &access.consents {
            let Some(last) = c.records.last() else {
                continue;
            };
            let mut purposes: BTreeMap<&str, PurposeState> = BTreeMap::new();
            for r in &c.records {
                for (p, s) in &r.purposes {
                    purposes.insert(p, *s);
                }
            }
            let purposes = if purposes.is_empty() {
                "–".to_string()
            } else {
                purposes
                    .iter()
                    .map(|(p, s)| format!("{}: {}", esc(p), purpose_state(ctx.lang, *s)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let _ = write!(
                body,
                "<tr><td><a href=\"/console/sites/{}/consents/{}\"><code>{}</code></a></td><td>{}</td><td>{} ({})</td><td>{purposes}</td></tr>",
                esc(&site.id),
                esc(&c.consent_id),
                esc(&c.consent_id),
                esc(&when(&last.received_at)),
                words::action(ctx.lang, last.action.as_str()),
                source(ctx.lang, last.source),
            );
        }
        body.push_str("</tbody></table>");
    }
    // Nothing to export or erase for an id without consents.
    if !access.consents.is_empty() {
        let _ = write!(
            body,
            "<div class=\"grid2 noprint\"><form method=\"post\" action=\"/console/sites/{0}/subjects/export\" class=\"panel stack\">{1}\
             <input type=\"hidden\" name=\"subject\" value=\"{2}\"><h2>{3}</h2><p>{4}</p><button type=\"submit\">{5}</button></form>\
             <form method=\"post\" action=\"/console/sites/{0}/subjects/erase\" class=\"panel stack\">{1}\
             <input type=\"hidden\" name=\"subject\" value=\"{2}\"><h2>{6}</h2><p>{7}</p>\
             <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> {8}</label>\
             <button type=\"submit\" class=\"danger\">{9}</button></form></div>",
            esc(&site.id),
            ctx.csrf_field(),
            esc(subject),
            t("Access and portability", "Auskunft und Übertragbarkeit"),
            t(
                "Every record of these consents as JSON (Art. 15, 20).",
                "Alle Einträge dieser Einwilligungen als JSON (Art. 15, 20)."
            ),
            t("Download (JSON)", "Herunterladen (JSON)"),
            t("Erasure", "Löschung"),
            t(
                "Erases the personal part of every record of these consents and removes the link (Art. 17). The decisions and their hashes stay, so the ledger still verifies.",
                "Löscht den personenbezogenen Teil aller Einträge dieser Einwilligungen und die Verknüpfung (Art. 17). Die Entscheidungen und ihre Hashes bleiben, das Ledger bleibt prüfbar."
            ),
            t(
                "I have checked the request and want to erase",
                "Ich habe die Anfrage geprüft und will löschen"
            ),
            t("Erase", "Löschen"),
        );
    }
    Ok(page(
        Some(&ctx),
        ctx.lang,
        t("Data subjects", "Betroffene Personen"),
        nav(&site.id, role, "subjects"),
        &body,
    ))
}

/// `POST /console/sites/{site}/subjects/export`: the subject's records (audited).
pub async fn subject_export<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, _) = ctx.site(store, &path, Need::Consents).await?;
    let subject = form.get("subject").map_or("", |s| s.trim());
    let access = subjects::access(store, &site, subject)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let hash = subjects::subject_hash(&site, subject).map_err(|e| ctx.service_error(&e))?;
    operators::audit(
        store,
        &ctx.actor(),
        "export",
        Some(&site.id),
        Some(&format!("subject:{hash}")),
        "subject access JSON",
    )
    .await
    .map_err(|e| ctx.service_error(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}-subject.json\"", site.id),
        ))
        .json(access))
}

/// `POST /console/sites/{site}/subjects/erase` (audited).
pub async fn subject_erase<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, role) = ctx.site(store, &path, Need::Consents).await?;
    if form.get("confirm").map(String::as_str) != Some("yes") {
        return Err(ctx
            .error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                ctx.t(
                    "Confirm the erasure first.",
                    "Bestätigen Sie die Löschung zuerst.",
                ),
            )
            .into());
    }
    let subject = form.get("subject").map_or("", |s| s.trim());
    let hash = subjects::subject_hash(&site, subject).map_err(|e| ctx.service_error(&e))?;
    // Noted first: nothing is erased that the trail does not hold.
    let target = format!("subject:{hash}");
    operators::audit(
        store,
        &ctx.actor(),
        "erase",
        Some(&site.id),
        Some(&target),
        "",
    )
    .await
    .map_err(|e| ctx.service_error(&e))?;
    let erased = subjects::erase(store, &site, subject)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let body = format!(
        "<p class=\"ok\" role=\"status\">{} {} / {}</p>{}",
        ctx.t(
            "Erased. Consents and records:",
            "Gelöscht. Einwilligungen und Einträge:"
        ),
        erased.consents.len(),
        erased.erased_records,
        subject_form(&ctx, &site.id, ""),
    );
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Data subjects", "Betroffene Personen"),
        nav(&site.id, role, "subjects"),
        &body,
    ))
}

// ------------------------------------------------------------------ config

const DRAFTS: &str = "drafts";

fn draft_key(site: &str, ctx: &Ctx) -> String {
    format!("{site}/{}", ctx.operator.id)
}

/// The editor's text as a config: JSON if it starts as an object, else TOML.
fn parse_config(text: &str) -> Result<SiteConfig, keksdose_shared::config::ParseError> {
    if text.trim_start().starts_with('{') {
        SiteConfig::from_json(text)
    } else {
        SiteConfig::from_toml(text)
    }
}

/// The config as TOML, as the editor shows it.
fn to_toml(config: &SiteConfig) -> String {
    toml::to_string_pretty(config).unwrap_or_else(|e| format!("# cannot show as TOML: {e}"))
}

/// Whether visitors who decided under `current` are asked again under
/// `draft`, in words.
fn asked_again(lang: Lang, current: &SiteConfig, draft: &SiteConfig) -> (bool, String) {
    match sites::reask(current, draft) {
        sites::Reask::No => (
            false,
            lang.t(
                "Visitors are not asked again: their decisions still hold under this config.",
                "Besucher werden nicht erneut gefragt: ihre Entscheidungen gelten unter dieser Konfiguration weiter.",
            )
            .to_string(),
        ),
        sites::Reask::Revision { from, to } => (
            true,
            format!(
                "{} ({from} → {to})",
                lang.t(
                    "Every visitor is asked again: consent.revision is raised",
                    "Alle Besucher werden erneut gefragt: consent.revision ist erhöht"
                )
            ),
        ),
        sites::Reask::NewIds { ids } => (
            true,
            format!(
                "{} {}",
                lang.t(
                    "Every visitor who decided before is asked again: new, needing consent:",
                    "Alle, die vorher entschieden haben, werden erneut gefragt; neu und einwilligungspflichtig:"
                ),
                esc(&ids.join(", "))
            ),
        ),
    }
}

/// The preview's two layers; `source` is the query naming what they show
/// (`source=current`, `version=V`, or the draft: `draft=V`). The editor's
/// script points them at each valid draft as it is typed.
fn preview(ctx: &Ctx, site: &str, lang: &str, source: &str) -> String {
    format!(
        "<h2>{}</h2><p id=\"preview-status\" role=\"status\" aria-live=\"polite\"></p><div class=\"grid2\">\
         <iframe class=\"banner\" data-preview title=\"{}\" src=\"/console/sites/{2}/config/preview?layer=first&amp;lang={3}&amp;{4}\"></iframe>\
         <iframe class=\"banner\" data-preview title=\"{5}\" src=\"/console/sites/{2}/config/preview?layer=settings&amp;lang={3}&amp;{4}\"></iframe></div>",
        ctx.t("Preview", "Vorschau"),
        ctx.t("Preview of the first layer", "Vorschau der ersten Ebene"),
        esc(site),
        esc(lang),
        esc(source),
        ctx.t("Preview of the settings", "Vorschau der Einstellungen"),
    )
}

fn config_editor(ctx: &Ctx, site: &str, text: &str, can_publish: bool) -> String {
    format!(
        "<h2>{}</h2><form method=\"post\" action=\"/console/sites/{}/config\" class=\"noprint\">{}\
         <label for=\"config\">{}</label><textarea id=\"config\" name=\"config\" spellcheck=\"false\" aria-describedby=\"config-hint\">{}</textarea>\
         <p id=\"config-hint\" class=\"hint\">{}</p><button type=\"submit\" class=\"primary\">{}</button></form>",
        ctx.t("Edit", "Bearbeiten"),
        esc(site),
        ctx.csrf_field(),
        ctx.t(
            "The config (TOML or JSON)",
            "Die Konfiguration (TOML oder JSON)"
        ),
        esc(text),
        if can_publish {
            ctx.t(
                "Check shows every problem at its path, the differences to the published version, whether visitors are asked again, and a preview; publishing comes after.",
                "Prüfen zeigt jedes Problem an seinem Pfad, die Unterschiede zur veröffentlichten Version, ob Besucher erneut gefragt werden, und eine Vorschau; veröffentlicht wird danach.",
            )
        } else {
            ctx.t(
                "Your role may check and preview a config, not publish it.",
                "Ihre Rolle darf eine Konfiguration prüfen und ansehen, nicht veröffentlichen.",
            )
        },
        ctx.t("Check and preview", "Prüfen und Vorschau"),
    )
}

async fn config_history<S: Store>(store: &S, ctx: &Ctx, site: &keksdose_store::SiteMeta) -> String {
    let times = store.config_times(&site.id).await.unwrap_or_default();
    let mut body = format!(
        "<h2>{}</h2><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        ctx.t("Version history", "Versionen"),
        ctx.t("Version", "Version"),
        ctx.t("Became current", "Aktiv geworden"),
    );
    for (v, at) in times.iter().rev() {
        let current = if *v == site.config_version {
            format!(" <strong>({})</strong>", ctx.t("current", "aktiv"))
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td><a href=\"/console/sites/{}/config?version={}\"><code>{}</code></a>{current}</td><td>{}</td></tr>",
            esc(&site.id),
            esc(v),
            esc(v),
            esc(&when(at))
        );
    }
    body.push_str("</tbody></table>");
    body
}

/// `GET /console/sites/{site}/config`.
pub async fn config<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Query>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, role) = ctx.site(store, &path, Need::View).await?;
    let current = state
        .published
        .get(store, &site)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let mut body = String::new();
    if let Some(v) = query.get("published") {
        let _ = write!(
            body,
            "<p class=\"ok\" role=\"status\">{} <code>{}</code></p>",
            ctx.t("Published version", "Veröffentlicht: Version"),
            esc(v)
        );
    }
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>{}</dt><dd><code>{}</code></dd></dl>",
        ctx.t("Current version", "Aktuelle Version"),
        esc(&site.config_version)
    );
    // An older version in the editor: to read it, or to publish it again.
    let older = match query.get("version").filter(|v| *v != site.config_version) {
        Some(v) => Some((
            v.to_string(),
            store
                .config(&site.id, v)
                .await
                .map_err(|e| ctx.service_error(&e.into()))?
                .ok_or_else(|| {
                    ctx.error_page(
                        StatusCode::NOT_FOUND,
                        ctx.t("There is no such version.", "Diese Version gibt es nicht."),
                    )
                })?,
        )),
        None => None,
    };
    if let Some((v, _)) = &older {
        let _ = write!(
            body,
            "<p class=\"warn\" role=\"status\">{} <code>{}</code>. {}</p>",
            ctx.t(
                "The editor shows the older version",
                "Der Editor zeigt die ältere Version"
            ),
            esc(v),
            ctx.t(
                "Check and publish it to make it current again.",
                "Prüfen und veröffentlichen Sie sie, um sie wieder aktiv zu machen."
            ),
        );
    }
    let shown = older.as_ref().map_or(&current.config, |(_, c)| c);
    body.push_str(&config_editor(
        &ctx,
        &site.id,
        &to_toml(shown),
        role.allows(Need::Publish),
    ));
    let source = older.as_ref().map_or_else(
        || "source=current".to_string(),
        |(v, _)| format!("version={v}"),
    );
    body.push_str(&preview(&ctx, &site.id, shown.default_language(), &source));
    body.push_str(&config_history(store, &ctx, &site).await);
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Config", "Konfiguration"),
        nav(&site.id, role, "config"),
        &body,
    ))
}

/// `POST /console/sites/{site}/config`: checks a draft; a valid one is kept
/// for the preview and for publishing.
pub async fn config_check<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, role) = ctx.site(store, &path, Need::View).await?;
    let t = |en, de| ctx.t(en, de);
    let text = form.get("config").map_or("", String::as_str);
    let parsed = parse_config(text);
    let mut body = String::new();
    let title = t("Config", "Konfiguration");
    let draft = match parsed {
        Err(e) => {
            let _ = write!(
                body,
                "<div role=\"alert\"><p class=\"error\">{}</p><pre class=\"diff\">{}</pre></div>",
                t(
                    "The config cannot be read:",
                    "Die Konfiguration ist nicht lesbar:"
                ),
                esc(&e.to_string())
            );
            None
        }
        Ok(config) => match config.validate() {
            Err(errors) => {
                let _ = write!(
                    body,
                    "<div role=\"alert\"><p class=\"error\">{} {}</p><ul>",
                    t(
                        "Problems, nothing is kept:",
                        "Probleme, nichts wurde übernommen:"
                    ),
                    errors.0.len(),
                );
                for e in &errors.0 {
                    let _ = write!(
                        body,
                        "<li><code>{}</code>: {}</li>",
                        esc(&e.path),
                        esc(&e.message)
                    );
                }
                body.push_str("</ul></div>");
                None
            }
            Ok(()) => Some(config),
        },
    };
    let Some(draft) = draft else {
        body.push_str(&config_editor(
            &ctx,
            &site.id,
            text,
            role.allows(Need::Publish),
        ));
        return Ok(page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&ctx),
            ctx.lang,
            title,
            nav(&site.id, role, "config"),
            &body,
        ));
    };
    let current = state
        .published
        .get(store, &site)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let version = draft.version();
    let text_kept = serde_json::to_string(&draft).unwrap_or_default();
    store
        .change(vec![Change::Put {
            table: DRAFTS.into(),
            key: draft_key(&site.id, &ctx),
            value: Some(text_kept),
        }])
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let _ = write!(
        body,
        "<p class=\"ok\" role=\"status\">{} <code>{}</code></p>",
        t(
            "The config is valid. Its version would be",
            "Die Konfiguration ist gültig. Ihre Version wäre"
        ),
        esc(&version)
    );
    for n in draft.notices() {
        let _ = write!(
            body,
            "<p class=\"warn\"><code>{}</code>: {}</p>",
            esc(&n.path),
            esc(&n.message)
        );
    }
    if version == site.config_version {
        let _ = write!(
            body,
            "<p>{}</p>",
            t(
                "It is the published version.",
                "Das ist die veröffentlichte Version."
            )
        );
    } else {
        let diff = sites::differences(&current.config, &draft);
        let _ = write!(
            body,
            "<h2>{}</h2><ul class=\"diff\">",
            t(
                "Differences to the published version",
                "Unterschiede zur veröffentlichten Version"
            )
        );
        for d in &diff {
            let _ = write!(
                body,
                "<li><strong>{}</strong>: {} → {}</li>",
                esc(&d.path),
                esc(&d.before),
                esc(&d.after)
            );
        }
        let (again, statement) = asked_again(ctx.lang, &current.config, &draft);
        let _ = write!(
            body,
            "</ul><p class=\"{}\">{statement}</p>",
            if again { "warn" } else { "ok" }
        );
        if role.allows(Need::Publish) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/console/sites/{}/config/publish\" class=\"stack\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">\
                 {}<button type=\"submit\" class=\"primary\">{}</button></form>",
                esc(&site.id),
                ctx.csrf_field(),
                esc(&version),
                if again {
                    format!(
                        "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> {}</label>",
                        t(
                            "I know that visitors will be asked again",
                            "Mir ist bewusst, dass Besucher erneut gefragt werden"
                        )
                    )
                } else {
                    String::new()
                },
                t("Publish this version", "Diese Version veröffentlichen"),
            );
        }
    }
    let source = format!("draft={version}");
    body.push_str(&preview(&ctx, &site.id, draft.default_language(), &source));
    body.push_str(&config_editor(
        &ctx,
        &site.id,
        text,
        role.allows(Need::Publish),
    ));
    Ok(page(
        Some(&ctx),
        ctx.lang,
        title,
        nav(&site.id, role, "config"),
        &body,
    ))
}

/// `POST /console/sites/{site}/config/draft` (the editor's script): checks the
/// text as *Check* does and keeps a valid one as the operator's draft;
/// answers JSON `{ok, version?, message}` for the preview's status line.
pub async fn config_draft<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, _) = ctx.site(store, &path, Need::View).await?;
    let text = form.get("config").map_or("", String::as_str);
    let parsed = parse_config(text);
    let answer = |status: StatusCode, body: serde_json::Value| {
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body)
    };
    let problem = match &parsed {
        Err(e) => Some(format!(
            "{} {e}",
            ctx.t(
                "The config cannot be read:",
                "Die Konfiguration ist nicht lesbar:"
            )
        )),
        Ok(config) => config.validate().err().map(|errors| {
            let first = errors.0.first().map_or(String::new(), ToString::to_string);
            format!(
                "{} {}; {} {first}",
                ctx.t("Problems:", "Probleme:"),
                errors.0.len(),
                ctx.t("the first:", "das erste:")
            )
        }),
    };
    let (Ok(draft), None) = (parsed, problem.as_ref()) else {
        let message = problem.unwrap_or_default();
        return Ok(answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({"ok": false, "message": message}),
        ));
    };
    let version = draft.version();
    store
        .change(vec![Change::Put {
            table: DRAFTS.into(),
            key: draft_key(&site.id, &ctx),
            value: Some(serde_json::to_string(&draft).unwrap_or_default()),
        }])
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    let message = format!(
        "{} {version}",
        ctx.t(
            "Valid; the preview shows it. Check it to see the differences and publish. Version:",
            "Gültig; die Vorschau zeigt sie. Prüfen Sie sie, um die Unterschiede zu sehen und zu veröffentlichen. Version:"
        )
    );
    Ok(answer(
        StatusCode::OK,
        serde_json::json!({"ok": true, "version": version, "message": message}),
    ))
}

async fn draft_of<S: Store>(store: &S, ctx: &Ctx, site: &str) -> Option<SiteConfig> {
    let text = store.doc(DRAFTS, &draft_key(site, ctx)).await.ok()??;
    serde_json::from_str(&text).ok()
}

/// `GET /console/sites/{site}/config/preview?layer=&lang=`: the checked draft.
pub async fn config_preview<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Query>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, _) = ctx.site(store, &path, Need::View).await?;
    let missing = || {
        ctx.error_page(
            StatusCode::NOT_FOUND,
            ctx.t(
                "Check a config first.",
                "Prüfen Sie zuerst eine Konfiguration.",
            ),
        )
    };
    // The published config, a stored version, or the operator's checked draft.
    let draft = match (query.get("source"), query.get("version")) {
        (Some("current"), _) => state
            .published
            .get(store, &site)
            .await
            .map_err(|e| ctx.service_error(&e.into()))?
            .config
            .clone(),
        (_, Some(v)) => store
            .config(&site.id, v)
            .await
            .map_err(|e| ctx.service_error(&e.into()))?
            .ok_or_else(missing)?,
        _ => draft_of(store, &ctx, &site.id).await.ok_or_else(missing)?,
    };
    let lang = query
        .get("lang")
        .unwrap_or(draft.default_language())
        .to_string();
    let settings = query.get("layer") == Some("settings");
    let (css, markup) = render_layer(&draft, &draft.version(), &lang, None, settings);
    Ok(banner_document(&lang, &css, &markup))
}

/// `POST /console/sites/{site}/config/publish`: the checked draft, if it is
/// still the version the form showed.
pub async fn config_publish<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, _) = ctx.site(store, &path, Need::Publish).await?;
    let draft = draft_of(store, &ctx, &site.id)
        .await
        .filter(|d| form.get("version").is_some_and(|v| *v == d.version()))
        .ok_or_else(|| {
            ctx.error_page(StatusCode::CONFLICT,
                ctx.t(
                    "This is not the config you checked last. Check it again, then publish.",
                    "Das ist nicht die zuletzt geprüfte Konfiguration. Prüfen Sie sie erneut und veröffentlichen Sie dann.",
                ),
            )
        })?;
    let current = state
        .published
        .get(store, &site)
        .await
        .map_err(|e| ctx.service_error(&e.into()))?;
    if sites::reask(&current.config, &draft) != sites::Reask::No
        && form.get("confirm").map(String::as_str) != Some("yes")
    {
        return Err(ctx
            .error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                ctx.t(
                    "This config asks every visitor again: confirm that first.",
                    "Diese Konfiguration fragt alle Besucher erneut: bestätigen Sie das zuerst.",
                ),
            )
            .into());
    }
    let version = draft.version();
    if version != site.config_version {
        // Noted first: nothing is published that the trail does not hold.
        let detail = format!("after {}", site.config_version);
        operators::audit(
            store,
            &ctx.actor(),
            "publish",
            Some(&site.id),
            Some(&version),
            &detail,
        )
        .await
        .map_err(|e| ctx.service_error(&e))?;
    }
    sites::publish(store, &site, draft)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    Ok(see_other(&format!(
        "/console/sites/{}/config?published={version}",
        site.id
    )))
}

// ------------------------------------------------------------------ users and key

fn role_select(lang: Lang, name: &str, id: &str, selected: Option<Role>) -> String {
    let mut s = format!("<select name=\"{name}\" id=\"{id}\">");
    for r in [Role::Admin, Role::Editor, Role::Dpo] {
        let sel = if selected == Some(r) { " selected" } else { "" };
        let _ = write!(
            s,
            "<option value=\"{}\"{sel}>{}</option>",
            r.as_str(),
            words::role(lang, r)
        );
    }
    s.push_str("</select>");
    s
}

async fn users_body<S: Store>(
    store: &S,
    ctx: &Ctx,
    site: &str,
    message: &str,
) -> Result<String, crate::service::Error> {
    let t = |en, de| ctx.t(en, de);
    let users = operators::of_site(store, site).await?;
    let key_mark = store
        .site(site)
        .await?
        .map(|s| s.key_hash.chars().take(16).collect::<String>())
        .unwrap_or_default();
    let mut body = message.to_string();
    let _ = write!(
        body,
        "<table><caption class=\"visually-hidden\">{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("Users of this site", "Benutzer dieser Website"),
        t("E-mail", "E-Mail"),
        t("Role", "Rolle"),
        t("Change", "Ändern"),
    );
    for u in &users {
        let field = format!("role-{}", esc(&u.id));
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td><form method=\"post\" action=\"/console/sites/{}/users/{}\" class=\"row\">{}\
             <label for=\"{field}\" class=\"visually-hidden\">{} {}</label>{}\
             <button type=\"submit\" name=\"do\" value=\"set\">{}</button><button type=\"submit\" name=\"do\" value=\"remove\" class=\"danger\">{}</button></form></td></tr>",
            esc(&u.email),
            words::role(ctx.lang, u.role),
            esc(site),
            esc(&u.id),
            ctx.csrf_field(),
            t("Role of", "Rolle von"),
            esc(&u.email),
            role_select(ctx.lang, "role", &field, Some(u.role)),
            t("Set role", "Rolle setzen"),
            t("Remove from site", "Von der Website entfernen"),
        );
    }
    let _ = write!(
        body,
        "</tbody></table><div class=\"grid2\"><form method=\"post\" action=\"/console/sites/{0}/users\" class=\"panel stack\">{1}<h2>{2}</h2>\
         <label for=\"new-email\">{3}</label><input id=\"new-email\" name=\"email\" type=\"email\" required autocomplete=\"off\">\
         <label for=\"new-role\">{4}</label>{5}<button type=\"submit\" class=\"primary\">{6}</button>\
         <p class=\"hint\">{7}</p></form>\
         <form method=\"post\" action=\"/console/sites/{0}/key\" class=\"panel stack\">{1}<input type=\"hidden\" name=\"key\" value=\"{12}\"><h2>{8}</h2><p>{9}</p>\
         <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> {10}</label><button type=\"submit\" class=\"danger\">{11}</button></form></div>",
        esc(site),
        ctx.csrf_field(),
        t("Add a user", "Benutzer hinzufügen"),
        t("E-mail", "E-Mail"),
        t("Role", "Rolle"),
        role_select(ctx.lang, "role", "new-role", Some(Role::Dpo)),
        t("Add", "Hinzufügen"),
        t(
            "A new account gets an initial password, shown once on the next page: hand it over by a channel of its own.",
            "Ein neues Konto erhält ein Startpasswort, das nur auf der nächsten Seite erscheint: geben Sie es auf eigenem Weg weiter."
        ),
        t("API key", "API-Schlüssel"),
        t(
            "The site's backend uses the API key. A new key replaces the old one at once; only its hash is kept.",
            "Das Backend der Website nutzt den API-Schlüssel. Ein neuer ersetzt den alten sofort; gespeichert wird nur sein Hash."
        ),
        t(
            "The old key stops working now",
            "Der alte Schlüssel gilt ab sofort nicht mehr"
        ),
        t("Rotate the API key", "API-Schlüssel erneuern"),
        // Which key the form replaces: sent twice (a reload), it replaces none.
        esc(&key_mark),
    );
    Ok(body)
}

/// `GET /console/sites/{site}/users` (admin).
pub async fn users<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, role) = ctx.site(store, &path, Need::Manage).await?;
    let body = users_body(store, &ctx, &site.id, "")
        .await
        .map_err(|e| ctx.service_error(&e))?;
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Users and API key", "Benutzer und API-Schlüssel"),
        nav(&site.id, role, "users"),
        &body,
    ))
}

/// `POST /console/sites/{site}/users`: adds a user (a new account shows its
/// initial password once).
pub async fn user_add<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, role) = ctx.site(store, &path, Need::Manage).await?;
    let new_role = form
        .get("role")
        .and_then(|r| Role::parse(r))
        .ok_or_else(|| {
            ctx.error_page(
                StatusCode::BAD_REQUEST,
                ctx.t("Choose a role.", "Wählen Sie eine Rolle."),
            )
        })?;
    let added = operators::add(
        store,
        &ctx.actor(),
        form.get("email").map_or("", String::as_str),
        &site.id,
        new_role,
        operators::Existing::Refuse,
    )
    .await;
    let added = match added {
        Ok(added) => added,
        // An address with an account already: said on the users page.
        Err(e @ crate::service::Error::Refused(_)) => {
            let message = format!(
                "<p class=\"error\" role=\"alert\">{}</p>",
                esc(&e.to_string())
            );
            let body = users_body(store, &ctx, &site.id, &message)
                .await
                .map_err(|e| ctx.service_error(&e))?;
            return Ok(page_with(
                StatusCode::CONFLICT,
                Some(&ctx),
                ctx.lang,
                ctx.t("Users and API key", "Benutzer und API-Schlüssel"),
                nav(&site.id, role, "users"),
                &body,
            ));
        }
        Err(e) => return Err(ctx.service_error(&e).into()),
    };
    let message = match &added.password {
        Some(p) => format!(
            "<div class=\"panel\" role=\"status\"><p class=\"ok\">{} {}</p><p>{} <code>{}</code></p><p class=\"hint\">{}</p></div>",
            ctx.t("Account created for", "Konto angelegt für"),
            esc(&added.operator.email),
            ctx.t("Initial password:", "Startpasswort:"),
            esc(p),
            ctx.t(
                "Shown only now. The user can change it under Account after signing in.",
                "Nur jetzt sichtbar. Nach der Anmeldung lässt es sich unter Konto ändern."
            ),
        ),
        None => format!(
            "<p class=\"ok\" role=\"status\">{} {}</p>",
            esc(&added.operator.email),
            ctx.t(
                "has an account already and now has this role here; their password is unchanged.",
                "hat schon ein Konto und hat jetzt diese Rolle hier; das Passwort bleibt."
            ),
        ),
    };
    let body = users_body(store, &ctx, &site.id, &message)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Users and API key", "Benutzer und API-Schlüssel"),
        nav(&site.id, role, "users"),
        &body,
    ))
}

/// `POST /console/sites/{site}/users/{id}`: `do=set` with a role, or `do=remove`.
pub async fn user_role<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site_id, id) = path.into_inner();
    let (site, _) = ctx.site(store, &site_id, Need::Manage).await?;
    let new_role =
        match form.get("do").map(String::as_str) {
            Some("remove") => None,
            Some("set") => Some(form.get("role").and_then(|r| Role::parse(r)).ok_or_else(
                || {
                    ctx.error_page(
                        StatusCode::BAD_REQUEST,
                        ctx.t("Choose a role.", "Wählen Sie eine Rolle."),
                    )
                },
            )?),
            _ => {
                return Err(ctx
                    .error_page(
                        StatusCode::BAD_REQUEST,
                        ctx.t("Unknown action.", "Unbekannte Aktion."),
                    )
                    .into());
            }
        };
    if id == ctx.operator.id && new_role != Some(Role::Admin) {
        let admins = operators::of_site(store, &site.id)
            .await
            .map_err(|e| ctx.service_error(&e))?
            .iter()
            .filter(|u| u.role == Role::Admin)
            .count();
        if admins <= 1 {
            return Err(ctx.error_page(StatusCode::CONFLICT,
                ctx.t(
                    "You are this site's last admin: give another user the admin role first.",
                    "Sie sind der letzte Admin dieser Website: geben Sie zuerst einem anderen Benutzer die Admin-Rolle.",
                ),
            )
            .into());
        }
    }
    operators::set_role(store, &ctx.actor(), &id, &site.id, new_role)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    Ok(see_other(&format!("/console/sites/{}/users", site.id)))
}

/// `POST /console/sites/{site}/key`: a new API key, shown once (audited).
pub async fn key_rotate<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::form(&req, store, &form).await?;
    let (site, role) = ctx.site(store, &path, Need::Manage).await?;
    if form.get("confirm").map(String::as_str) != Some("yes") {
        return Err(ctx
            .error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                ctx.t(
                    "Confirm the rotation first.",
                    "Bestätigen Sie die Erneuerung zuerst.",
                ),
            )
            .into());
    }
    let mark: String = site.key_hash.chars().take(16).collect();
    if form.get("key").map(String::as_str) != Some(mark.as_str()) {
        return Err(ctx
            .error_page(
                StatusCode::CONFLICT,
                ctx.t(
                    "The key was rotated since this form was shown (was it sent twice?). Nothing changed.",
                    "Der Schlüssel wurde erneuert, seit dieses Formular angezeigt wurde (zweimal gesendet?). Nichts wurde geändert.",
                ),
            )
            .into());
    }
    // Noted first: a rotation the trail could not record is not made (and a
    // new key is never lost to a failed note after it).
    operators::audit(store, &ctx.actor(), "key_rotate", Some(&site.id), None, "")
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let key = sites::rotate_key(store, &site.id)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let message = format!(
        "<div class=\"panel\" role=\"status\"><p class=\"ok\">{}</p><p><code>{}</code></p><p class=\"hint\">{}</p></div>",
        ctx.t("The new API key:", "Der neue API-Schlüssel:"),
        esc(&key),
        ctx.t(
            "Shown only now; only its hash is kept.",
            "Nur jetzt sichtbar; gespeichert wird nur sein Hash."
        ),
    );
    let body = users_body(store, &ctx, &site.id, &message)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Users and API key", "Benutzer und API-Schlüssel"),
        nav(&site.id, role, "users"),
        &body,
    ))
}

// ------------------------------------------------------------------ audit trail

/// `GET /console/sites/{site}/audit`.
pub async fn audit<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Answer {
    let store = &*state.store;
    let ctx = Ctx::page(&req, store).await?;
    let (site, role) = ctx.site(store, &path, Need::View).await?;
    let t = |en, de| ctx.t(en, de);
    let trail = operators::trail(store, &site.id, 500)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let names: BTreeMap<String, String> = operators::all(store)
        .await
        .map_err(|e| ctx.service_error(&e))?
        .into_iter()
        .map(|o| (o.actor(), o.email))
        .collect();
    let who = |actor: &str| match names.get(actor) {
        Some(email) => esc(email),
        None => match actor {
            "api-key" => t("the site's API key", "API-Schlüssel der Website").to_string(),
            "cli" => t("a command on the server", "ein Befehl auf dem Server").to_string(),
            other => esc(other),
        },
    };
    let mut body = format!(
        "<p>{} {}</p>",
        t(
            "The whole trail's hash chain:",
            "Die Hash-Kette des ganzen Protokolls:"
        ),
        match trail.broken_at {
            None => badge(ctx.lang, true),
            Some(seq) => format!(
                "{} ({} {seq})",
                badge(ctx.lang, false),
                t("broken at entry", "unterbrochen bei Eintrag")
            ),
        }
    );
    let _ = write!(
        body,
        "<table><caption class=\"visually-hidden\">{}</caption><thead><tr><th scope=\"col\">#</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th>\
         <th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        t("Audit trail", "Protokoll"),
        t("When", "Wann"),
        t("Who", "Wer"),
        t("What", "Was"),
        t("Concerning", "Betreff"),
        t("Detail", "Detail"),
    );
    for e in &trail.entries {
        // Consents and subjects are for DPOs and admins: an editor sees that
        // something was done, not to whom.
        let about_consents = matches!(
            e.event.action.as_str(),
            "withdraw" | "proof_pack" | "access" | "export" | "erase"
        );
        let hidden = about_consents && !role.allows(Need::Consents);
        let target = e.event.target.as_deref().map_or(String::new(), |tg| {
            if hidden {
                "–".to_string()
            } else if names.contains_key(tg) {
                who(tg)
            } else {
                format!("<code>{}</code>", esc(tg))
            }
        });
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{target}</td><td>{}</td></tr>",
            e.seq,
            esc(&when(&e.at)),
            who(&e.event.actor),
            esc(&words::audited(ctx.lang, &e.event.action)),
            if hidden {
                "–".to_string()
            } else {
                esc(&e.event.detail)
            },
        );
    }
    body.push_str("</tbody></table>");
    Ok(page(
        Some(&ctx),
        ctx.lang,
        t("Audit trail", "Protokoll"),
        nav(&site.id, role, "audit"),
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<SiteConfig> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sites");
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            out.push(SiteConfig::from_toml(&text).unwrap());
        }
        assert_eq!(out.len(), 7);
        out
    }

    #[test]
    fn the_editor_shows_every_example_config_as_toml_that_reads_back_to_the_same_version() {
        for config in examples() {
            let text = to_toml(&config);
            let back = SiteConfig::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back.version(), config.version(), "{text}");
            assert!(
                text.contains("revision = "),
                "the editor shows the revision: {text}"
            );
        }
    }

    #[test]
    fn a_raised_revision_or_a_new_service_asks_again_and_a_text_fix_does_not() {
        let config = examples().remove(0);
        let mut text_fix = config.clone();
        text_fix.site.policy_version = "Stand: 1.12.2026".into();
        assert!(!asked_again(Lang::En, &config, &text_fix).0);
        assert!(
            sites::differences(&config, &text_fix)
                .iter()
                .map(|d| d.path.clone())
                .collect::<Vec<_>>()
                .contains(&"site.policy_version".to_string())
        );
        let mut raised = config.clone();
        raised.consent.revision += 1;
        let (again, says) = asked_again(Lang::En, &config, &raised);
        assert!(again && says.contains("revision"), "{says}");
        let d = sites::differences(&config, &raised);
        assert_eq!(
            (d[0].path.as_str(), d.len()),
            ("consent.revision", 1),
            "{d:?}"
        );
        assert_eq!(d[0].after, (config.consent.revision + 1).to_string());
    }

    #[test]
    fn the_banner_document_allows_its_one_stylesheet_by_hash_and_nothing_else() {
        let r = banner_document("de", "p{color:red}", "<p>x</p>");
        let csp = r
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        // sha256 of "p{color:red}", base64.
        use base64::Engine as _;
        use sha2::Digest as _;
        let hash =
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b"p{color:red}"));
        assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(!csp.contains("script-src"), "no script at all: {csp}");
    }
}
