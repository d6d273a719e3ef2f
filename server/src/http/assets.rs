//! The loader and the banner, served from memory in every encoding worth sending.
//!
//! Every first visit fetches `/k.js`, the site's config and the banner's module and
//! WASM, so these are read once at start, compressed once (brotli and gzip at their
//! best levels), and answered without touching the disk. `/k.js` gets the current banner's file
//! names written into it (`"__KEKSDOSE_WIDGET__"` becomes the manifest), so the
//! loader can fetch the module and the WASM at once instead of asking for the
//! manifest first.
//!
//! `/k.js` is the minified loader the widget build writes to
//! `static/widget/k.min.js` (terser; its first line names the SHA-256 of the
//! `static/k.js` it was made from), or the readable source itself when there is
//! no minified file or it was made from another source (a `k.js` edited since
//! the last build): never a stale loader.
//!
//! Caching: the banner's files have content-hashed names and never change, so they
//! are `immutable` for a year; `/k.js` keeps its stable address and is cached for
//! five minutes, then revalidated by ETag; the manifest is always revalidated.
//! (The widget build keeps the pair it replaced, for loaders still cached.)

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::Path;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// What the loader's source holds in place of the manifest.
const WIDGET_TOKEN: &str = "\"__KEKSDOSE_WIDGET__\"";
/// What the loader's source holds in place of the site's config and first
/// layers in the per-site form `/s/{site}/k.js`.
const SITE_TOKEN: &str = "\"__KEKSDOSE_SITE__\"";
/// What the loader's source holds in place of its other half's function in the
/// per-site form.
const PART_TOKEN: &str = "\"__KEKSDOSE_PART__\"";
/// The minified loader, in `static/widget/` (built, gitignored).
pub const MINIFIED_LOADER: &str = "k.min.js";
/// The loader's other half (`static/k-banner.js`, an ES module) and its minified
/// form in `static/widget/`; served as `/widget/k-banner.{hash}.js`.
const PART_SOURCE: &str = "k-banner.js";
const MINIFIED_PART: &str = "k-banner.min.js";
/// What the minified loader's first line carries before the first 16 hex
/// digits of its source's SHA-256 (xtask/src/widget.rs writes it).
pub const SOURCE_MARK: &str = "source-sha256:";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const LOADER_CACHE: &str = "public, max-age=300";
/// The per-site loader carries the config: fresh for as long as the config
/// endpoint's answer (60 s). After that a browser may still use its copy once
/// while it revalidates in the background (an ETag, usually answered 304), so a
/// returning visitor's page never waits for it; a newly published config
/// reaches a visitor within 60 s, or on the next page after that.
pub const SITE_LOADER_CACHE: &str = "public, max-age=60, stale-while-revalidate=86400";
const REVALIDATE: &str = "no-cache";

/// A body in the encodings a client may accept.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub identity: Bytes,
    /// Only where smaller than the identity.
    pub gzip: Option<Bytes>,
    pub br: Option<Bytes>,
}

/// Which encoding to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Br,
    Gzip,
    Identity,
}

impl Encoded {
    /// Compresses `bytes` with brotli and gzip at their best levels. A compressed
    /// form that is not smaller (or failed) is not kept: the identity is sent.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self::with_brotli(bytes, BROTLI_QUALITY)
    }

    /// [`new`](Self::new) with brotli at `quality` (configs, compressed in a
    /// request on the first GET after a publish, use a faster level).
    pub fn with_brotli(bytes: Vec<u8>, quality: i32) -> Self {
        let br = brotli(&bytes, quality);
        let gzip = gzip_best(&bytes);
        let smaller = |c: Option<Vec<u8>>| c.filter(|c| c.len() < bytes.len()).map(Bytes::from);
        Self {
            gzip: smaller(gzip),
            br: smaller(br),
            identity: Bytes::from(bytes),
        }
    }

    /// The body for `encoding`, and the `Content-Encoding` to name (none for identity
    /// or where the compressed form was not kept).
    pub fn body(&self, encoding: Encoding) -> (Bytes, Option<&'static str>) {
        let (kept, name) = match encoding {
            Encoding::Br => (&self.br, "br"),
            Encoding::Gzip => (&self.gzip, "gzip"),
            Encoding::Identity => (&None, ""),
        };
        match kept {
            Some(b) => (b.clone(), Some(name)),
            None => (self.identity.clone(), None),
        }
    }

    /// Sets the body of `r` for what `req` accepts, with `Vary: Accept-Encoding`.
    pub fn respond(
        &self,
        req: &HttpRequest,
        r: &mut actix_web::HttpResponseBuilder,
    ) -> HttpResponse {
        let (body, encoding) = self.body(accepted(req));
        r.append_header((header::VARY, "Accept-Encoding"));
        if let Some(encoding) = encoding {
            r.insert_header((header::CONTENT_ENCODING, encoding));
        }
        r.body(body)
    }
}

/// Brotli's best level costs about a second per 500 KB in a release build, many
/// times that in a debug build, which every test starts: debug builds use a fast
/// level.
const BROTLI_QUALITY: i32 = if cfg!(debug_assertions) { 5 } else { 11 };
/// For configs: a few milliseconds per version instead of tens, within 5 % of 11.
pub const CONFIG_BROTLI_QUALITY: i32 = if cfg!(debug_assertions) { 5 } else { 9 };

fn brotli(bytes: &[u8], quality: i32) -> Option<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality,
        lgwin: 22,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(bytes.len() / 3);
    let mut input = bytes;
    brotli::BrotliCompress(&mut input, &mut out, &params).ok()?;
    Some(out)
}

fn gzip_best(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::new(if cfg!(debug_assertions) { 6 } else { 9 }),
    );
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

/// Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110 asks for
/// `If-None-Match`), or is `*`.
pub fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// The best encoding `Accept-Encoding` allows: brotli, then gzip, else none.
pub fn accepted(req: &HttpRequest) -> Encoding {
    let Some(value) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Encoding::Identity;
    };
    let mut br = false;
    let mut gzip = false;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.get(..2)
                .is_some_and(|k| k.eq_ignore_ascii_case("q="))
                .then(|| p[2..].trim().parse::<f32>().ok())
                .flatten()
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        if name.eq_ignore_ascii_case("br") {
            br = true;
        } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            gzip = true;
        }
    }
    if br {
        Encoding::Br
    } else if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// One file served from memory.
#[derive(Debug)]
pub struct Asset {
    content_type: &'static str,
    cache_control: &'static str,
    etag: String,
    body: Encoded,
}

impl Asset {
    fn new(content_type: &'static str, cache_control: &'static str, body: Encoded) -> Self {
        let etag = format!("\"{}\"", &hex(&Sha256::digest(&body.identity))[..32]);
        Self {
            content_type,
            cache_control,
            etag,
            body,
        }
    }

    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let fresh = etag_matches(req, &self.etag);
        let mut r = if fresh {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        r.insert_header((header::ETAG, self.etag.clone()))
            .insert_header((header::CACHE_CONTROL, self.cache_control));
        if fresh {
            r.insert_header((header::VARY, "Accept-Encoding"));
            return r.finish();
        }
        r.content_type(self.content_type);
        self.body.respond(req, &mut r)
    }
}

/// `/k.js` and `/widget/*`, loaded at start.
#[derive(Debug, Default)]
pub struct Assets {
    loader: Option<Asset>,
    /// The loader's text with the banner's file names written in: the
    /// per-site loader is made from it, with `part` written in too.
    loader_source: Option<String>,
    /// The loader's other half as a JavaScript function expression.
    part: Option<String>,
    widget: HashMap<String, Asset>,
}

/// `static/name`, or its minified form `static/widget/minified` when that was
/// made from it (never a stale one).
fn read_minified(static_dir: &Path, name: &str, minified: &str) -> Option<String> {
    let source = std::fs::read_to_string(static_dir.join(name)).ok()?;
    match std::fs::read_to_string(static_dir.join("widget").join(minified)).ok() {
        Some(m) if made_from(&m, &source) => Some(m),
        Some(_) => {
            crate::log::line(
                "warn",
                &format!(
                    "serving static/{name} unminified: widget/{minified} was made from another {name} (run cargo xtask widget)"
                ),
                &[],
            );
            Some(source)
        }
        None => Some(source),
    }
}

/// The default export of the loader's other half (an ES module whose only
/// statement it is) as a function expression, for the per-site loader.
pub fn part_function(module: &str) -> Option<String> {
    // Every leading comment (the source's, the minified file's first line).
    let mut text = module.trim_start();
    loop {
        if let Some(rest) = text.strip_prefix("/*") {
            text = rest[rest.find("*/")? + 2..].trim_start();
        } else if let Some(rest) = text.strip_prefix("//") {
            text = rest.split_once('\n')?.1.trim_start();
        } else {
            break;
        }
    }
    let function = text.strip_prefix("export default ")?.trim_end();
    let function = function.strip_suffix(';').unwrap_or(function);
    function
        .starts_with("function")
        .then(|| function.to_string())
}

impl Assets {
    /// Reads `static_dir/k.js` (served minified when `widget/k.min.js` was made
    /// from it) and every file of `static_dir/widget/`. A missing file is not an
    /// error here (the routes answer 404): the server runs without a built
    /// banner, as the API's tests do.
    pub fn load(static_dir: &Path) -> std::io::Result<Self> {
        let mut assets = Self::default();
        let widget_dir = static_dir.join("widget");
        // The other half, named by its content: cached for good, like the banner.
        let part = read_minified(static_dir, PART_SOURCE, MINIFIED_PART);
        if part.is_none() && static_dir.join("k.js").exists() {
            crate::log::line(
                "warn",
                "no static/k-banner.js (the loader's other half): visitors can see no banner and decide nothing",
                &[],
            );
        }
        let part_name = part.as_ref().map(|text| {
            format!(
                "k-banner.{}.js",
                &hex(&Sha256::digest(text.as_bytes()))[..10]
            )
        });
        let manifest = std::fs::read_to_string(widget_dir.join("manifest.json"))
            .ok()
            .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok());
        let names = manifest_literal(manifest.as_ref(), part_name.as_deref());
        if let Some(source) = read_minified(static_dir, "k.js", MINIFIED_LOADER) {
            let source = source.replacen(WIDGET_TOKEN, &names, 1);
            assets.loader = Some(Asset::new(
                "text/javascript; charset=utf-8",
                LOADER_CACHE,
                Encoded::new(source.clone().into_bytes()),
            ));
            assets.loader_source = Some(source);
        }
        if let (Some(text), Some(name)) = (part, part_name) {
            assets.part = part_function(&text);
            if assets.part.is_none() {
                crate::log::line(
                    "warn",
                    "static/k-banner.js does not start with `export default function`: no per-site loader",
                    &[],
                );
            }
            assets.widget.insert(
                name,
                Asset::new(
                    "text/javascript; charset=utf-8",
                    IMMUTABLE,
                    Encoded::new(text.into_bytes()),
                ),
            );
        }
        if manifest.is_some() {
            // Served with the other half's name in it, for a loader the server
            // did not write the names into.
            assets.widget.insert(
                "manifest.json".to_string(),
                Asset::new(
                    "application/json",
                    REVALIDATE,
                    Encoded::new(names.into_bytes()),
                ),
            );
        }
        let Ok(entries) = std::fs::read_dir(&widget_dir) else {
            return Ok(assets);
        };
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
                continue;
            };
            if name == MINIFIED_LOADER || name == MINIFIED_PART || name == "manifest.json" {
                continue; // served as /k.js, /widget/k-banner.{hash}.js, and above
            }
            let (content_type, cache_control) = if name.ends_with(".wasm") {
                ("application/wasm", IMMUTABLE)
            } else if name.ends_with(".js") {
                ("text/javascript; charset=utf-8", IMMUTABLE)
            } else {
                continue;
            };
            let body = Encoded::new(std::fs::read(&path)?);
            assets
                .widget
                .insert(name, Asset::new(content_type, cache_control, body));
        }
        Ok(assets)
    }

    pub fn loader(&self, req: &HttpRequest) -> Option<HttpResponse> {
        self.loader.as_ref().map(|a| a.respond(req))
    }

    pub fn widget(&self, req: &HttpRequest, name: &str) -> Option<HttpResponse> {
        self.widget.get(name).map(|a| a.respond(req))
    }

    /// The per-site loader for `published` (`/s/{site}/k.js`): the loader with the
    /// site's published config, its stylesheet and its first layer in every
    /// language it offers written in; `None` without a loader. Made and compressed
    /// once per published version ([`crate::published::Published::site_loader`]).
    pub fn site_loader(&self, published: &crate::published::Published) -> Option<Asset> {
        let source = self.loader_source.as_ref()?;
        // The other half first: the site's literal might contain its token.
        // Without one, the loader imports it (and says why it cannot).
        let source = match &self.part {
            Some(part) => source.replacen(PART_TOKEN, part, 1),
            None => source.clone(),
        };
        let text = source.replacen(SITE_TOKEN, &published.loader_data().text, 1);
        Some(Asset::new(
            "text/javascript; charset=utf-8",
            SITE_LOADER_CACHE,
            Encoded::new(text.into_bytes()),
        ))
    }
}

/// The words the loader itself shows (a blocked embed's placeholder).
const LOADER_WORDS: [&str; 4] = [
    "texts.placeholder",
    "texts.provider_privacy",
    "texts.load_content",
    "texts.always_allow",
];

/// What the per-site loader carries, as a JavaScript literal (JSON):
/// `{"published": <the config endpoint's body, its config as
/// `SiteConfig::loader_view` and of its words only the placeholders'>, "css": <the first layer's part of the banner's stylesheet>,
/// "first": {<lang>: <the first layer's markup>, …}}`.
pub(crate) fn site_literal(published: &crate::published::Published) -> String {
    use keksdose_widget::site::Site;
    let config = &published.config;
    let words = keksdose_shared::texts::words_by_language(config);
    let site = |lang: &str| {
        let words = words.get(lang).cloned().unwrap_or_default();
        let view = keksdose_widget::view::View::new(config, &published.version, lang, &words);
        Site::new(view, None, None)
    };
    let first: serde_json::Map<String, serde_json::Value> = config
        .site
        .languages
        .iter()
        .map(|lang| {
            let html = keksdose_widget::ssr::first_layer(site(lang));
            (lang.clone(), serde_json::Value::String(html))
        })
        .collect();
    // The first layer's rules only: the banner's WASM brings the whole stylesheet.
    let css = minify_css(&format!(
        "{}{}",
        keksdose_widget::style::FIRST_LAYER_CSS,
        keksdose_widget::style::variables(&config.appearance)
    ));
    // The config as the loader needs it: the banner's settings get their view
    // of it from the banner endpoint, beside the WASM.
    // Of the words, those the loader shows itself: the two-click placeholders'.
    let placeholder_words: BTreeMap<&String, BTreeMap<&String, &String>> = words
        .iter()
        .map(|(lang, w)| {
            let wanted = w
                .iter()
                .filter(|(k, _)| LOADER_WORDS.contains(&k.as_str()))
                .collect();
            (lang, wanted)
        })
        .collect();
    let view = serde_json::json!({
        "site": published.site,
        "version": published.version,
        "config": config.loader_view(),
        "words": placeholder_words,
    });
    serde_json::json!({
        "published": view,
        "css": css,
        "first": first,
    })
    .to_string()
    // JSON is JavaScript, but for these two in strings before ES2019.
    .replace('\u{2028}', "\\u2028")
    .replace('\u{2029}', "\\u2029")
}

/// `css` without the whitespace it does not need: none around `{`, `}`, `;` and
/// `,` or after `:`, runs of it made one space, no `;` before `}`. For the
/// banner's own stylesheet (no strings or comments holding those characters);
/// a space before `:` stays (a descendant selector's).
fn minify_css(css: &str) -> String {
    const TIGHT: [char; 4] = ['{', '}', ';', ','];
    let mut out = String::with_capacity(css.len());
    let mut space = false;
    for c in css.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space
            && !out.is_empty()
            && !TIGHT.contains(&c)
            && !out.ends_with(TIGHT)
            && !out.ends_with(':')
        {
            out.push(' ');
        }
        space = false;
        if c == '}' && out.ends_with(';') {
            out.pop();
        }
        out.push(c);
    }
    out
}

/// Whether the minified loader `minified` was made from `source`: its first line
/// names the first 16 hex digits of the source's SHA-256.
pub fn made_from(minified: &str, source: &str) -> bool {
    let first = minified.lines().next().unwrap_or_default();
    let digest = hex(&Sha256::digest(source.as_bytes()));
    first
        .split_once(SOURCE_MARK)
        .is_some_and(|(_, rest)| rest.get(..16) == Some(&digest[..16]))
}

/// `{"js":…,"wasm":…,"part":…}`: the banner's names from the manifest and the
/// other half's, as far as there are any, as a JS object literal (JSON is one).
fn manifest_literal(manifest: Option<&serde_json::Value>, part: Option<&str>) -> String {
    let mut names = serde_json::Map::new();
    for key in ["js", "wasm"] {
        if let Some(name) = manifest.and_then(|m| m[key].as_str()) {
            names.insert(key.to_string(), name.into());
        }
    }
    if let Some(part) = part {
        names.insert("part".to_string(), part.into());
    }
    serde_json::Value::Object(names).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_first_layers_stylesheet_loses_only_whitespace_it_does_not_need() {
        assert_eq!(
            minify_css(
                "\n:host { all: initial; }\n.a *, .b :focus-visible {\n  font: 15px/1.5 \"Segoe UI\", x;\n  \
                 max-height: calc(100vh - 2rem);\n}\n@media (max-width: 40rem) {\n  .a { padding: 0.5rem; }\n}\n"
            ),
            ":host{all:initial}.a *,.b :focus-visible{font:15px/1.5 \"Segoe UI\",x;\
             max-height:calc(100vh - 2rem)}@media (max-width:40rem){.a{padding:0.5rem}}"
        );
    }

    /// The banner's real first-layer stylesheet loses whitespace and nothing
    /// else, and holds nothing `minify_css` does not know (a comment).
    #[test]
    fn the_first_layers_stylesheet_minifies_to_the_same_rules() {
        let config = keksdose_shared::SiteConfig::from_toml(include_str!(
            "../../../examples/sites/coaching.toml"
        ))
        .unwrap();
        let css = format!(
            "{}{}",
            keksdose_widget::style::FIRST_LAYER_CSS,
            keksdose_widget::style::variables(&config.appearance)
        );
        assert!(!css.contains("/*"), "a comment in the stylesheet");
        let squeezed = |s: &str| s.split_whitespace().collect::<String>().replace(";}", "}");
        let minified = minify_css(&css);
        assert!(minified.len() < css.len() * 9 / 10, "{minified}");
        assert_eq!(squeezed(&minified), squeezed(&css));
    }

    #[test]
    fn accept_encoding_prefers_brotli_and_honours_q_zero() {
        let enc = |v: &str| {
            accepted(
                &TestRequest::default()
                    .insert_header(("Accept-Encoding", v))
                    .to_http_request(),
            )
        };
        assert_eq!(enc("gzip, deflate, br, zstd"), Encoding::Br);
        assert_eq!(enc("gzip, deflate"), Encoding::Gzip);
        assert_eq!(enc("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(enc("identity"), Encoding::Identity);
        assert_eq!(enc("BR"), Encoding::Br);
        assert_eq!(enc("br;Q=0, gzip"), Encoding::Gzip);
        assert_eq!(
            accepted(&TestRequest::default().to_http_request()),
            Encoding::Identity
        );
    }

    #[test]
    fn compressed_forms_round_trip_and_are_smaller() {
        let text = "keksdose ".repeat(1000).into_bytes();
        let e = Encoded::new(text.clone());
        let (br, gzip) = (e.br.clone().unwrap(), e.gzip.clone().unwrap());
        assert!(br.len() < text.len() / 10 && gzip.len() < text.len() / 10);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut out).unwrap();
        assert_eq!(out, text);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut out).unwrap();
        assert_eq!(out, text);
        // Nothing to gain: the identity is sent, without a Content-Encoding.
        let tiny = Encoded::new(b"{}".to_vec());
        assert_eq!(tiny.body(Encoding::Br), (Bytes::from_static(b"{}"), None));
    }

    #[test]
    fn the_manifest_is_written_into_the_loader() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("widget")).unwrap();
        std::fs::write(
            dir.path().join("k.js"),
            "var WIDGET = \"__KEKSDOSE_WIDGET__\";\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("widget/manifest.json"),
            r#"{"js":"banner.abc.js","wasm":"banner.abc.wasm"}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("widget/banner.abc.js"), "export {}").unwrap();
        let part = "/*! the other half */\nexport default function (K) {\n  return {};\n}\n";
        std::fs::write(dir.path().join("k-banner.js"), part).unwrap();
        let assets = Assets::load(dir.path()).unwrap();
        let loader = assets.loader.as_ref().unwrap();
        // The other half is named by its content.
        let name = format!(
            "k-banner.{}.js",
            &hex(&Sha256::digest(part.as_bytes()))[..10]
        );
        let names = format!(
            "{{\"js\":\"banner.abc.js\",\"part\":\"{name}\",\"wasm\":\"banner.abc.wasm\"}}"
        );
        assert_eq!(
            String::from_utf8(loader.body.identity.to_vec()).unwrap(),
            format!("var WIDGET = {names};\n")
        );
        assert_eq!(assets.widget["banner.abc.js"].cache_control, IMMUTABLE);
        assert_eq!(assets.widget[&name].cache_control, IMMUTABLE);
        assert_eq!(&assets.widget[&name].body.identity[..], part.as_bytes());
        // The manifest, for a loader the server did not write: with the other half.
        let manifest = &assets.widget["manifest.json"];
        assert_eq!(manifest.cache_control, REVALIDATE);
        assert_eq!(manifest.body.identity, names.as_bytes());
        assert_eq!(
            assets.part.as_deref(),
            Some("function (K) {\n  return {};\n}")
        );
    }

    /// The real other half, source and (when built from it) minified, as the
    /// server reads them.
    #[test]
    fn the_loaders_other_half_in_static_is_a_function_for_the_per_site_loader() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../static");
        let source = std::fs::read_to_string(dir.join(PART_SOURCE)).unwrap();
        let function = part_function(&source).expect("static/k-banner.js");
        assert!(function.starts_with("function (K)"), "{function:.40}");
        assert!(function.ends_with('}'));
        let served = read_minified(&dir, PART_SOURCE, MINIFIED_PART).unwrap();
        assert!(part_function(&served).is_some(), "{served:.200}");
        let loader = std::fs::read_to_string(dir.join("k.js")).unwrap();
        assert_eq!(loader.matches(PART_TOKEN).count(), 1);
    }

    #[test]
    fn the_other_half_is_a_function_only_as_its_module_default_export() {
        assert_eq!(
            part_function("/*! x */\nexport default function(e){return 1};\n").as_deref(),
            Some("function(e){return 1}")
        );
        assert_eq!(
            part_function("// a\n/*! b */ /* c */\nexport default function () {}").as_deref(),
            Some("function () {}")
        );
        assert_eq!(part_function("export default 1;"), None);
        assert_eq!(part_function("export const a = 1;"), None);
        assert_eq!(part_function("/* never closed"), None);
    }

    #[test]
    fn the_per_site_loader_carries_the_config_the_stylesheet_and_each_first_layer() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("k.js"),
            "var W = \"__KEKSDOSE_WIDGET__\"; var SITE = \"__KEKSDOSE_SITE__\"; var PART = \"__KEKSDOSE_PART__\";\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("k-banner.js"),
            "export default function (K) {}\n",
        )
        .unwrap();
        let assets = Assets::load(dir.path()).unwrap();
        let config = keksdose_shared::SiteConfig::from_toml(include_str!(
            "../../../examples/sites/coaching.toml"
        ))
        .unwrap();
        let body = br#"{"site":"coaching","version":"v1","config":{}}"#.to_vec();
        let published = crate::published::Published {
            site: "coaching".into(),
            version: "v1".into(),
            config: config.clone(),
            json: Encoded::new(body.clone()),
            json_words: Encoded::new(body),
            words_etag: "\"v1.0\"".into(),
            banner: Default::default(),
            site_loader: std::sync::OnceLock::new(),
            loader_data: std::sync::OnceLock::new(),
        };
        let loader = assets.site_loader(&published).unwrap();
        assert_eq!(loader.cache_control, SITE_LOADER_CACHE);
        let text = String::from_utf8(loader.body.identity.to_vec()).unwrap();
        let literal = text
            .strip_prefix("var W = {\"part\":\"k-banner.")
            .and_then(|t| t.split_once("\"}; var SITE = "))
            .and_then(|(_, t)| t.strip_suffix("; var PART = function (K) {};\n"))
            .unwrap_or_else(|| panic!("{text}"));
        let site: serde_json::Value = serde_json::from_str(literal).unwrap();
        assert_eq!(site["published"]["version"], "v1");
        assert_eq!(site["published"]["site"], "coaching");
        assert_eq!(site["published"]["config"], config.loader_view());
        let css = site["css"].as_str().unwrap();
        assert!(
            css.contains(".kd-btn") && css.contains("--kd-accent"),
            "{css}"
        );
        assert!(
            !css.contains(".kd-category"),
            "the settings' rules come with the WASM"
        );
        let first = site["first"].as_object().unwrap();
        assert_eq!(
            first.keys().collect::<std::collections::BTreeSet<_>>(),
            config.site.languages.iter().collect()
        );
        for (lang, html) in first {
            let html = html.as_str().unwrap();
            assert!(html.contains(&format!("lang=\"{lang}\"")), "{html}");
            assert!(html.contains("data-action=\"reject_all\""), "{html}");
            // Every class of the first layer that the banner styles is styled
            // by what comes with it.
            let mut styled = 0;
            for attr in html.split("class=\"").skip(1) {
                for class in attr.split('"').next().unwrap().split_whitespace() {
                    let selector = format!(".{class}");
                    if keksdose_widget::style::CSS.contains(&selector) {
                        assert!(css.contains(&selector), "{class} unstyled");
                        styled += 1;
                    }
                }
            }
            assert!(styled >= 8, "{html}");
        }
        // Without a loader there is nothing to serve.
        assert!(Assets::default().site_loader(&published).is_none());
    }

    #[test]
    fn the_minified_loader_is_served_only_when_made_from_the_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("widget")).unwrap();
        let source = "var WIDGET = \"__KEKSDOSE_WIDGET__\"; // the readable one\n";
        std::fs::write(dir.path().join("k.js"), source).unwrap();
        std::fs::write(
            dir.path().join("widget/manifest.json"),
            r#"{"js":"banner.abc.js","wasm":"banner.abc.wasm"}"#,
        )
        .unwrap();
        let digest = hex(&Sha256::digest(source.as_bytes()));
        let minified = |digest: &str| {
            format!(
                "/*! keksdose k.js {SOURCE_MARK}{} */\nvar W=\"__KEKSDOSE_WIDGET__\";",
                &digest[..16]
            )
        };
        let served = |dir: &Path| {
            let assets = Assets::load(dir).unwrap();
            assert!(
                !assets.widget.contains_key(MINIFIED_LOADER),
                "not under /widget/"
            );
            String::from_utf8(assets.loader.unwrap().body.identity.to_vec()).unwrap()
        };

        std::fs::write(dir.path().join("widget/k.min.js"), minified(&digest)).unwrap();
        let body = served(dir.path());
        assert!(body.starts_with("/*! keksdose k.js"), "{body}");
        assert!(
            body.ends_with("var W={\"js\":\"banner.abc.js\",\"wasm\":\"banner.abc.wasm\"};"),
            "{body}"
        );

        // Made from another k.js (edited since): the source is served.
        std::fs::write(
            dir.path().join("widget/k.min.js"),
            minified(&"0".repeat(64)),
        )
        .unwrap();
        assert!(served(dir.path()).contains("the readable one"));
        // No minified file at all: the source.
        std::fs::remove_file(dir.path().join("widget/k.min.js")).unwrap();
        assert!(served(dir.path()).contains("the readable one"));
    }
}
