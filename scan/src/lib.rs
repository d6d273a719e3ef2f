//! `keksdose scan`: a site visited in headless Chromium in three states — no
//! decision, after "Nur Notwendige", after "Alle akzeptieren" — each in a fresh
//! profile, with every cookie, storage key and third-party request recorded and
//! held to the site's published config.
//!
//! `browser` drives Chromium, `visit` makes one visit, `analyse` (pure) turns the
//! visits into findings, `catalogue` proposes config entries for what is
//! undeclared, `report` writes the JSON, terminal and HTML reports.

pub mod analyse;
pub mod browser;
pub mod catalogue;
pub mod report;
pub mod visit;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keksdose_shared::SiteConfig;
use serde_json::{Value, json};

use crate::browser::Driver;
use crate::report::Report;
use crate::visit::{Bounds, State, Visit};

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The first page.
    pub url: String,
    pub site: String,
    /// At most this many pages (the first page included).
    pub pages: usize,
    /// Pages from this sitemap instead of the pages' links.
    pub sitemap: Option<String>,
    /// The CMP's base URL, if not the one the page's loader tag names.
    pub server: Option<String>,
    /// A page load's bound.
    pub timeout: Duration,
    /// Visits at a time.
    pub jobs: usize,
    pub chromedriver: String,
    pub chromium: String,
    /// More flags for Chromium (a proxy, host rules).
    pub chromium_args: Vec<String>,
}

/// Fetches `url` from inside a page of its own origin: the browser speaks HTTP and TLS,
/// so the scan needs no HTTP client of its own.
const FETCH: &str = "const done = arguments[arguments.length - 1];\
    fetch(arguments[0], { credentials: 'omit' })\
      .then((r) => r.text().then((t) => done({ status: r.status, text: t })))\
      .catch((e) => done({ status: 0, text: String(e) }));";

/// Runs the scan: the first page, then its same-origin links (or the sitemap's
/// pages), up to `pages`, each in the three states.
pub async fn run(options: &Options) -> Result<Report> {
    let started = Instant::now();
    let started_at = keksdose_shared::time::rfc3339_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default(),
    );
    let start = url::Url::parse(&options.url).context("the URL to scan")?;
    if !matches!(start.scheme(), "http" | "https") {
        bail!("the URL to scan must be http or https: {}", options.url);
    }
    let driver = Arc::new(
        Driver::start(
            &options.chromedriver,
            &options.chromium,
            &options.chromium_args,
        )
        .await?,
    );
    // Each only an upper bound: a visit goes on as soon as the network is quiet,
    // the banner shows, the ledger answers.
    let bounds = Bounds {
        page_load: options.timeout,
        settle: Duration::from_secs(6),
        banner: Duration::from_secs(15),
    };

    // The first page, as a first-time visitor sees it: it names the CMP and site.
    let first = visit::visit(&driver, start.as_str(), State::NoDecision, bounds).await;
    if let Some(e) = &first.error {
        bail!("could not scan {start}: {e}");
    }
    if first.timed_out && first.loader.is_none() {
        bail!(
            "{start} did not finish loading within {} s (--timeout)",
            options.timeout.as_secs()
        );
    }
    let server = match (&options.server, &first.loader) {
        (Some(s), _) => s.trim_end_matches('/').to_string(),
        (None, Some(tag)) => tag.server.clone(),
        (None, None) => bail!(
            "{} has no Keksdose loader tag (<script src=\".../k.js\" data-site=…> or .../s/SITE/k.js); pass --server",
            start
        ),
    };
    if let Some(named) = first.loader.as_ref().and_then(|t| t.site.as_deref())
        && named != options.site
    {
        bail!("{start} embeds site {named:?}, not {:?}", options.site);
    }
    let (version, config) = published_config(&driver, &server, &options.site, bounds).await?;
    // A site with nothing to consent to shows no banner: no visit waits for one.
    let bounds = Bounds {
        banner: if config.needs_banner() {
            bounds.banner
        } else {
            Duration::ZERO
        },
        ..bounds
    };
    let mut pages: Vec<String> = vec![start.to_string()];
    if let Some(sitemap) = &options.sitemap {
        for page in sitemap_pages(&driver, start.as_str(), sitemap, bounds).await? {
            if pages.len() >= options.pages {
                break;
            }
            if let Some(page) = page_link(&start, &page)
                && !pages.contains(&page)
            {
                pages.push(page);
            }
        }
    }

    let mut visits: Vec<Visit> = Vec::new();
    let mut queue: VecDeque<(String, State)> = VecDeque::new();
    // Every page to visit, in the order found (the report's order).
    let mut known: Vec<String> = pages.clone();
    queue.extend([
        (start.to_string(), State::RejectAll),
        (start.to_string(), State::AcceptAll),
    ]);
    for page in pages.iter().skip(1) {
        queue.extend(State::ALL.map(|s| (page.clone(), s)));
    }
    // Links are taken from the pages in the order the pages were found (not the
    // order their visits end), so the same site gives the same pages every time.
    let follow_links = options.sitemap.is_none();
    let mut links_of: HashMap<String, Vec<String>> = HashMap::new();
    let mut expanded = 0;
    let mut found = |v: &Visit, queue: &mut VecDeque<(String, State)>, known: &mut Vec<String>| {
        if !follow_links || v.state != State::NoDecision {
            return;
        }
        links_of.insert(v.page.clone(), v.links.clone());
        while let Some(links) = known.get(expanded).and_then(|p| links_of.get(p)) {
            expanded += 1;
            for link in links {
                if known.len() >= options.pages {
                    break;
                }
                let Some(page) = page_link(&start, link) else {
                    continue;
                };
                if !known.contains(&page) {
                    known.push(page.clone());
                    queue.extend(State::ALL.map(|s| (page.clone(), s)));
                }
            }
        }
    };
    found(&first, &mut queue, &mut known);
    visits.push(first);
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < options.jobs.max(1) {
            let Some((page, state)) = queue.pop_front() else {
                break;
            };
            let driver = Arc::clone(&driver);
            running.spawn(async move { visit::visit(&driver, &page, state, bounds).await });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let v = done.context("a visit panicked")?;
        found(&v, &mut queue, &mut known);
        visits.push(v);
    }
    // Pages in the order they were found, each in state order.
    visits.sort_by_key(|v| (known.iter().position(|p| *p == v.page), v.state));

    let cmp_host = url::Url::parse(&server)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    let site_host = analyse::site_host(start.as_str());
    let analysis = analyse::analyse(
        &analyse::Context {
            site: &options.site,
            config: &config,
            cmp_host: &cmp_host,
            site_host: &site_host,
        },
        &visits,
    );
    Ok(Report::new(
        &options.site,
        &server,
        &version,
        started_at,
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        &visits,
        analysis,
    ))
}

/// A link worth visiting: same origin, a page (not a file), without its fragment.
fn page_link(start: &url::Url, link: &str) -> Option<String> {
    let mut u = url::Url::parse(link).ok()?;
    if u.origin() != start.origin() {
        return None;
    }
    u.set_fragment(None);
    let path = u.path().to_ascii_lowercase();
    const FILES: &[&str] = &[
        ".pdf", ".zip", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".mp4", ".mp3", ".css",
        ".js", ".json", ".xml", ".txt", ".ico", ".woff", ".woff2",
    ];
    if FILES.iter().any(|f| path.ends_with(f)) {
        return None;
    }
    Some(u.to_string())
}

/// The site's published config, read from the CMP as a visitor's browser reads it.
async fn published_config(
    driver: &Driver,
    server: &str,
    site: &str,
    bounds: Bounds,
) -> Result<(String, SiteConfig)> {
    let url = format!("{server}/v1/sites/{site}/config");
    let (status, text) = fetch_text(driver, &url, bounds).await?;
    let body: Value = serde_json::from_str(&text)
        .with_context(|| format!("{url} did not answer with JSON (HTTP {status})"))?;
    if let Some(err) = body.get("error") {
        bail!("{url} answered: {err}");
    }
    let version = body["version"].as_str().unwrap_or_default().to_string();
    let config: SiteConfig = serde_json::from_value(body["config"].clone())
        .with_context(|| format!("reading the config {url} answered"))?;
    Ok((version, config))
}

/// `url`'s body, as the browser fetches it from `url`'s own origin.
async fn fetch_text(driver: &Driver, url: &str, bounds: Bounds) -> Result<(u64, String)> {
    let session = driver.session(bounds.page_load).await?;
    let result = async {
        // Opened first, so the fetch is same-origin (no CORS to pass).
        session
            .client()
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))?;
        let got = session.eval_async(FETCH, vec![json!(url)]).await?;
        let status = got["status"].as_u64().unwrap_or_default();
        let text = got["text"].as_str().unwrap_or_default().to_string();
        if status == 0 {
            bail!("could not connect to {url} ({text})");
        }
        Ok((status, text))
    }
    .await;
    session.close().await;
    result
}

/// The pages a sitemap lists; a sitemap index's sitemaps are read too (up to ten).
async fn sitemap_pages(
    driver: &Driver,
    page: &str,
    sitemap: &str,
    bounds: Bounds,
) -> Result<Vec<String>> {
    let url = url::Url::parse(page)?.join(sitemap)?;
    let text = sitemap_text(driver, url.as_str(), bounds).await?;
    let mut pages = Vec::new();
    let index = text.contains("<sitemapindex");
    for loc in locs(&text)
        .into_iter()
        .take(if index { 10 } else { usize::MAX })
    {
        if index {
            pages.extend(locs(&sitemap_text(driver, &loc, bounds).await?));
        } else {
            pages.push(loc);
        }
    }
    Ok(pages)
}

/// A sitemap's text; anything but a 2xx answer is an error.
async fn sitemap_text(driver: &Driver, url: &str, bounds: Bounds) -> Result<String> {
    let (status, text) = fetch_text(driver, url, bounds).await?;
    if !(200..300).contains(&status) {
        bail!("the sitemap {url} answered HTTP {status}");
    }
    Ok(text)
}

/// Every `<loc>…</loc>` in a sitemap, entities undone.
pub fn locs(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<loc>") {
        rest = &rest[i + 5..];
        let Some(j) = rest.find("</loc>") else { break };
        let loc = rest[..j]
            .trim()
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'");
        out.push(loc);
        rest = &rest[j + 6..];
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sitemap_locs() {
        let xml = "<?xml version=\"1.0\"?><urlset><url><loc> https://a.example/x?a=1&amp;b=2 </loc></url><url><loc>https://a.example/y</loc></url></urlset>";
        assert_eq!(
            super::locs(xml),
            vec!["https://a.example/x?a=1&b=2", "https://a.example/y"]
        );
    }

    #[test]
    fn links_worth_visiting() {
        let start = url::Url::parse("https://a.example/").unwrap();
        assert_eq!(
            super::page_link(&start, "https://a.example/p#top").as_deref(),
            Some("https://a.example/p")
        );
        assert_eq!(super::page_link(&start, "https://b.example/p"), None);
        assert_eq!(super::page_link(&start, "https://a.example/x.pdf"), None);
    }
}
