//! The `keksdose` commands: each opens the store, calls the services and
//! prints what they did. `main.rs` parses the command line and calls one of
//! these.

use std::path::Path;

use anyhow::Context as _;
use futures_util::StreamExt as _;
use keksdose_shared::SiteConfig;
use keksdose_store::Store as _;
use keksdose_store_postgres::PgStore;
use keksdose_store_sled::SledStore;

use crate::backend::Backend;

use crate::service::operators::{self, Operator, Role};
use crate::service::{self, export::Format, proofs, retention, sites};
use crate::settings::{self, Settings};

/// Opens the store the settings name: PostgreSQL (migrated to this release's
/// schema) or the embedded store in the data directory.
pub async fn open(settings: &Settings) -> anyhow::Result<Backend> {
    if let Some(url) = &settings.store {
        let url = url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!("store: expected a PostgreSQL URL (postgres://…)");
        }
        return Ok(Backend::Postgres(
            PgStore::connect(url)
                .await
                .context("opening the PostgreSQL store")?,
        ));
    }
    let data = &settings.data;
    let store = SledStore::open_with(
        data,
        keksdose_store_sled::Options {
            cache_bytes: settings.sled_cache_mb.saturating_mul(1024 * 1024),
            on_commit: Some(|jobs, records, sync| {
                crate::metrics::STORE.committed(jobs, records, sync);
            }),
        },
    )
    .with_context(|| format!("opening the data directory {}", data.display()))?;
    // The embedded store keeps no keys: its checkpoints are signed by the key in
    // its data directory, which a server registers at start and a command here.
    if data.join("signing.key").exists() {
        let signer = crate::signing::Signer::load_or_create(data)
            .with_context(|| format!("the signing key in {}", data.display()))?;
        store.register_key(signer.public_key()).await?;
    }
    Ok(Backend::Embedded(store))
}

/// `keksdose db migrate`: the PostgreSQL schema brought to this release's.
pub async fn db_migrate(settings: &Settings) -> anyhow::Result<()> {
    let Some(url) = &settings.store else {
        println!("The embedded store needs no migration (no `store` is set).");
        return Ok(());
    };
    let applied = PgStore::migrate(url.expose()).await?;
    println!("Database schema up to date ({applied} migration(s) applied now).");
    Ok(())
}

/// `keksdose migrate --to postgres://…`: copies the store the settings name
/// (the embedded one in `data`, stopped: opening it takes its lock) into a
/// PostgreSQL database: sites with their keys, every config version, the
/// signing keys, every record unchanged (hashes and idempotency keys), subject
/// links and checkpoints. Run again after an interruption, it goes on where
/// the target's ledger ends. Each site is verified on the target at the end:
/// the whole chain recomputed, the same head hash as the source's, the latest
/// checkpoint's signature.
pub async fn migrate(settings: &Settings, to: &str) -> anyhow::Result<()> {
    use keksdose_store::Change;
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        anyhow::bail!("--to: expected a PostgreSQL URL (postgres://…)");
    }
    let source = open(settings).await?;
    let target = PgStore::connect(to)
        .await
        .context("opening the target database")?;
    for key in source.keys().await? {
        target.register_key(key).await?;
    }
    let mut failed = 0;
    for site in source.sites().await? {
        let id = site.id.clone();
        target
            .import_site(
                &site,
                &source.configs(&id).await?,
                &source.config_times(&id).await?,
            )
            .await
            .with_context(|| format!("{id}: copying the site"))?;
        let source_head = source.head(&id).await?;
        // What an earlier run copied must be this ledger's beginning; what the
        // source erased since goes over too.
        let copied = target.head(&id).await?.map_or(0, |h| h.seq);
        let erased = erase_like(&source, &target, &id, copied).await?;
        let mut next = copied + 1;
        let first = next;
        let keys: std::collections::HashMap<u64, String> =
            source.idempotency_keys(&id).await?.into_iter().collect();
        loop {
            let page = source.records(&id, next, u64::MAX, 5000).await?;
            let Some(last) = page.last() else { break };
            next = last.seq + 1;
            target
                .import_records(&id, &page, &keys)
                .await
                .with_context(|| format!("{id}: copying records up to seq {}", last.seq))?;
        }
        // Links as the source has them: a subject whose links differ gets them
        // anew (unlinked, then linked), in one transaction.
        let links = source.links(&id).await?;
        let mut want: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (subject, consent) in &links {
            want.entry(subject).or_default().push(consent);
        }
        let had = target.links(&id).await?;
        let mut have: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (subject, consent) in &had {
            have.entry(subject).or_default().push(consent);
        }
        let mut changes = Vec::new();
        let subjects: std::collections::BTreeSet<&str> =
            want.keys().chain(have.keys()).copied().collect();
        for subject in subjects {
            if want.get(subject) == have.get(subject) {
                continue;
            }
            changes.push(Change::Unlink {
                site: id.clone(),
                subject_hash: subject.to_string(),
            });
            for consent in want.get(subject).into_iter().flatten() {
                changes.push(Change::Link {
                    site: id.clone(),
                    subject_hash: subject.to_string(),
                    consent_id: consent.to_string(),
                });
            }
            if changes.len() >= 1000 {
                target.change(std::mem::take(&mut changes)).await?;
            }
        }
        if !changes.is_empty() {
            target.change(changes).await?;
        }
        let checkpoints = source.checkpoints(&id).await?;
        let count = checkpoints.len();
        for chunk in checkpoints.chunks(1000) {
            let changes = chunk
                .iter()
                .map(|c| Change::Checkpoint {
                    checkpoint: c.clone(),
                })
                .collect();
            target.change(changes).await?;
        }
        let report = proofs::verify(&target, &id).await?;
        let same_head = report.head == source_head.as_ref().map(|h| h.hash.clone());
        let head = report.head.as_deref().unwrap_or("(empty)");
        if report.verified && same_head {
            println!(
                "{id}: {} records ({} copied now{}), {} links, {count} checkpoints; \
                 verified on the target, head {head}",
                report.records,
                next - first,
                if erased > 0 {
                    format!(", {erased} erased since the last run")
                } else {
                    String::new()
                },
                links.len(),
            );
        } else {
            failed += 1;
            println!(
                "{id}: NOT VERIFIED on the target: {}",
                serde_json::to_string(&report).unwrap_or_default()
            );
        }
    }
    // The console's accounts, drafts and last verifications (sessions end:
    // operators sign in again on the new store), and the audit trail unchanged.
    let mut documents = 0;
    for table in ["operators", "drafts", "verifications"] {
        let docs = source.docs(table).await?;
        documents += docs.len();
        let changes: Vec<Change> = docs
            .into_iter()
            .map(|(key, value)| Change::Put {
                table: table.into(),
                key,
                value: Some(value),
            })
            .collect();
        for chunk in changes.chunks(1000) {
            target.change(chunk.to_vec()).await?;
        }
    }
    let mut entries = 0;
    let mut after = 0;
    loop {
        let page = source.audit(after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        entries += page.len();
        target
            .import_audit(&page)
            .await
            .context("copying the audit trail")?;
    }
    // The whole trail on the target, page by page.
    let mut checked: Option<keksdose_store::AuditEntry> = None;
    loop {
        let page = target
            .audit(checked.as_ref().map_or(0, |e| e.seq), 5000)
            .await?;
        if page.is_empty() {
            break;
        }
        anyhow::ensure!(
            keksdose_store::audit::verify(checked.as_ref(), &page).is_none(),
            "the audit trail does not verify on the target"
        );
        checked = page.last().cloned();
    }
    println!(
        "console: {documents} documents, {entries} audit entries; the trail verified on the target"
    );
    if failed > 0 {
        anyhow::bail!("{failed} site(s) did not verify on the target");
    }
    Ok(())
}

/// Compares the first `copied` records of a site on both stores: the same
/// hashes, or an error (the target is not a copy of this ledger); a record the
/// source erased since is erased on the target too. Returns how many were.
async fn erase_like(
    source: &Backend,
    target: &PgStore,
    id: &str,
    copied: u64,
) -> anyhow::Result<usize> {
    let mut erased = 0;
    let mut from = 1;
    while from <= copied {
        let ours = source.records(id, from, copied, 5000).await?;
        let theirs = target.records(id, from, copied, 5000).await?;
        anyhow::ensure!(
            !ours.is_empty() && ours.len() == theirs.len(),
            "{id}: the target holds records {from}..={copied} that this store does not"
        );
        let mut changes = Vec::new();
        for (o, t) in ours.iter().zip(&theirs) {
            anyhow::ensure!(
                o.seq == t.seq && o.record_hash == t.record_hash,
                "{id}: the target's record {} is not this store's: not a copy of this ledger",
                t.seq
            );
            if o.personal.is_none() && t.personal.is_some() {
                changes.push(keksdose_store::Change::Erase {
                    site: id.to_string(),
                    seq: t.seq,
                });
            }
        }
        erased += changes.len();
        if !changes.is_empty() {
            target.change(changes).await?;
        }
        from = ours.last().map_or(copied, |r| r.seq) + 1;
    }
    Ok(erased)
}

/// Runs `future` to its end on a runtime of the current thread.
pub fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// `keksdose serve [--demo]`: binds first (so that `--listen 127.0.0.1:0`
/// works and the demo sites get the port really bound), then serves.
pub fn serve(settings: &Settings, demo: bool) -> anyhow::Result<()> {
    let store = block_on(open(settings))?;
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("listening on {}", settings.listen))?;
    let listen = listener.local_addr()?;
    if demo {
        let keys = block_on(crate::demo::install(&store, listen))?;
        let base = format!("http://{listen}");
        println!("Keksdose demo: {base}/demo/");
        for (id, key) in keys {
            println!("  {id:<15} {base}/v1/sites/{id}/config   API key {key}");
        }
        println!("Console: {base}/console/ (accounts renewed at every start)");
        for (email, password) in block_on(crate::demo::install_operators(&store))? {
            println!("  {email:<22} password {password}");
        }
    }
    println!(
        "Listening on http://{listen} (data in {})",
        settings.data.display()
    );
    let limits = &settings.rate_limits;
    let limit = |l: settings::Limit| match l.per_minute {
        0 => "off".to_string(),
        n => format!("{n}/min,burst={}", l.burst),
    };
    crate::log::info(
        "starting",
        &[
            ("version", &env!("CARGO_PKG_VERSION")),
            ("listen", &listen),
            ("pid", &std::process::id()),
            ("store", &store.kind()),
            ("data", &settings.data.display()),
            ("sled_cache_mb", &settings.sled_cache_mb),
            ("trusted_proxies", &settings.trusted_proxies.len()),
            ("metrics_token", &settings.metrics_token.is_some()),
            ("rate_consents", &limit(limits.consents)),
            ("rate_history", &limit(limits.history)),
            ("rate_config", &limit(limits.config)),
        ],
    );
    let signer = crate::signing::Signer::load_or_create(&settings.data)
        .with_context(|| format!("the signing key in {}", settings.data.display()))?;
    // Every server on this store lists it, so its checkpoints verify anywhere.
    block_on(async { Ok(store.register_key(signer.public_key()).await?) })
        .context("registering the signing key")?;
    crate::http::run(settings, listener, store, signer)
        .with_context(|| format!("serving on {listen}"))
}

/// `keksdose site create`.
pub async fn site_create(
    settings: &Settings,
    id: &str,
    origins: Vec<String>,
    config: &Path,
    json: bool,
) -> anyhow::Result<()> {
    // The arguments first, then the file, then the store.
    sites::check_new(id, &origins).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let config = load(config)?;
    let store = open(settings).await?;
    let (_, key) = sites::create(&store, id, origins, config).await?;
    if json {
        println!("{}", serde_json::json!({"site": id, "api_key": key}));
    } else {
        println!("Created site {id}. Its API key (shown only now, keep it safe):\n{key}");
    }
    Ok(())
}

fn role_arg(role: &str) -> anyhow::Result<Option<Role>> {
    match role {
        "none" => Ok(None),
        r => Role::parse(r).map(Some).ok_or_else(|| {
            anyhow::anyhow!("--role: expected admin, editor, dpo (or none), got {r:?}")
        }),
    }
}

async fn operator(store: &Backend, email: &str) -> anyhow::Result<Operator> {
    operators::by_email(store, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account with the e-mail {email:?}"))
}

/// `keksdose user add EMAIL --site SITE --role ROLE`.
pub async fn user_add(
    settings: &Settings,
    email: String,
    site: String,
    role: String,
    json: bool,
) -> anyhow::Result<()> {
    let role = role_arg(&role)?.ok_or_else(|| anyhow::anyhow!("--role: none adds nothing"))?;
    let store = open(settings).await?;
    sites::get(&store, &site).await?;
    let added = operators::add(
        &store,
        "cli",
        &email,
        &site,
        role,
        operators::Existing::Join,
    )
    .await?;
    let o = &added.operator;
    if json {
        println!(
            "{}",
            serde_json::json!({"id": o.id, "email": o.email, "site": site, "role": role.as_str(), "password": added.password})
        );
    } else {
        match &added.password {
            Some(p) => println!(
                "Created {} ({}) as {} of {site}. Initial password (shown only now; change it under Account):\n{p}\nSign in at /console/",
                o.email,
                o.id,
                role.as_str()
            ),
            None => println!(
                "{} has an account already; now {} of {site} (password unchanged)",
                o.email,
                role.as_str()
            ),
        }
    }
    Ok(())
}

/// `keksdose user list [--site SITE]`.
pub async fn user_list(settings: &Settings, site: Option<String>) -> anyhow::Result<()> {
    let store = open(settings).await?;
    for o in operators::all(&store).await? {
        if site.as_ref().is_some_and(|s| !o.roles.contains_key(s)) {
            continue;
        }
        let roles: Vec<String> = o
            .roles
            .iter()
            .map(|(s, r)| format!("{s}:{}", r.as_str()))
            .collect();
        println!("{:<32} {}  {}", o.email, o.id, roles.join(" "));
    }
    Ok(())
}

/// `keksdose user set EMAIL --site SITE --role ROLE|none`.
pub async fn user_set(
    settings: &Settings,
    email: String,
    site: String,
    role: String,
) -> anyhow::Result<()> {
    let role = role_arg(&role)?;
    let store = open(settings).await?;
    sites::get(&store, &site).await?;
    let o = operator(&store, &email).await?;
    if o.roles.contains_key(&site) {
        operators::set_role(&store, "cli", &o.id, &site, role).await?;
    } else if let Some(r) = role {
        operators::add(&store, "cli", &email, &site, r, operators::Existing::Join).await?;
    }
    println!(
        "{} on {site}: {}",
        o.email,
        role.map_or("no role", Role::as_str)
    );
    Ok(())
}

/// `keksdose user remove EMAIL`.
pub async fn user_remove(settings: &Settings, email: String) -> anyhow::Result<()> {
    let store = open(settings).await?;
    let o = operator(&store, &email).await?;
    operators::remove(&store, "cli", &o).await?;
    println!("Deleted the account of {} ({})", o.email, o.id);
    Ok(())
}

/// `keksdose user password EMAIL`: a new initial password.
pub async fn user_password(settings: &Settings, email: String, json: bool) -> anyhow::Result<()> {
    let store = open(settings).await?;
    let o = operator(&store, &email).await?;
    let password = operators::initial_password();
    operators::set_password(&store, "cli", &o, &password, operators::Chosen::HandedOver).await?;
    operators::end_sessions_of(&store, &o.id, None).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"email": o.email, "password": password})
        );
    } else {
        println!("New password for {} (shown only now):\n{password}", o.email);
    }
    Ok(())
}

/// `keksdose site list`.
pub async fn site_list(settings: &Settings) -> anyhow::Result<()> {
    let store = open(settings).await?;
    for (s, records) in sites::list(&store).await? {
        println!(
            "{:<20} config {}  {} records  origins {}",
            s.id,
            s.config_version,
            records,
            s.origins.join(" ")
        );
    }
    Ok(())
}

/// `keksdose site key rotate`.
pub async fn key_rotate(settings: &Settings, id: &str, json: bool) -> anyhow::Result<()> {
    let store = open(settings).await?;
    sites::get(&store, id).await?;
    // Noted first: a new key is never lost to a failed note after it.
    operators::audit(&store, "cli", "key_rotate", Some(id), None, "").await?;
    let key = sites::rotate_key(&store, id).await?;
    if json {
        println!("{}", serde_json::json!({"site": id, "api_key": key}));
    } else {
        println!("New API key for {id} (the old one no longer works):\n{key}");
    }
    Ok(())
}

/// `keksdose site config publish`.
pub async fn config_publish(settings: &Settings, id: &str, config: &Path) -> anyhow::Result<()> {
    let store = open(settings).await?;
    let config = load(config)?;
    let site = sites::get(&store, id).await?;
    // Valid, and noted before it is published.
    let check = sites::check(&store, &site, config.clone()).await?;
    if !check.published {
        let detail = format!("after {}", site.config_version);
        operators::audit(
            &store,
            "cli",
            "publish",
            Some(id),
            Some(&check.version),
            &detail,
        )
        .await?;
    }
    let (version, previous) = sites::publish(&store, &site, config).await?;
    if version == previous {
        println!("Published config version {version} for {id} (unchanged: already current)");
    } else {
        println!("Published config version {version} for {id}");
    }
    Ok(())
}

/// `keksdose verify`: every chain (or one), recomputed offline.
pub async fn verify(settings: &Settings, site: Option<&str>) -> anyhow::Result<()> {
    let store = open(settings).await?;
    let mut broken = 0;
    let keys = store.keys().await?;
    for id in sites::chosen(&store, site).await? {
        let report = proofs::verify(&store, &id).await?;
        let checked = report.checked;
        let checkpoint = match (&report.checkpoint, report.checkpoint_matches) {
            (Some(c), Some(true)) => format!("checkpoint at seq {} signed and matching", c.seq),
            // A data directory whose signing key was replaced: the old key's
            // checkpoints cannot be checked here, which is no sign of tampering.
            (Some(c), _) if !keys.iter().any(|k| k.key_id == c.key_id) => format!(
                "checkpoint at seq {} signed by key {}, which this store does not know: \
                 not checked",
                c.seq, c.key_id
            ),
            (Some(c), _) => {
                broken += 1;
                format!(
                    "CHECKPOINT at seq {} does NOT match the ledger or its signature",
                    c.seq
                )
            }
            (None, _) => "no checkpoint".to_string(),
        };
        match &report.first_broken {
            None => println!(
                "{id}: {checked} records, chain intact, head {}; {checkpoint}",
                report.head.as_deref().unwrap_or("(empty)")
            ),
            Some(e) => {
                broken += 1;
                println!("{id}: BROKEN after {checked} good records: {}", e.error);
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{broken} ledger(s) failed verification");
    }
    Ok(())
}

/// `keksdose export`: a site's records on standard output, as the HTTP export
/// streams them.
pub async fn export(
    settings: &Settings,
    site: &str,
    format: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let format = Format::parse(format)
        .with_context(|| format!("--format: expected ndjson or csv, got {format:?}"))?;
    let instant = |name, text: Option<&str>| {
        text.map(|t| service::export::instant(name, t))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--{e}"))
    };
    let selection = keksdose_store::Selection {
        from_ms: instant("from", from)?,
        to_ms: instant("to", to)?,
        subject_hash: None,
    };
    let store = std::sync::Arc::new(open(settings).await?);
    let meta = sites::get(&*store, site).await?;
    let detail = format!(
        "{} from {} to {}",
        if format == Format::Csv {
            "csv"
        } else {
            "ndjson"
        },
        from.unwrap_or("start"),
        to.unwrap_or("now")
    );
    operators::audit(&*store, "cli", "export", Some(site), None, &detail).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut pages = std::pin::pin!(service::export::export(
        store,
        meta.id,
        selection,
        service::export::Filter::default(),
        format,
        0,
    ));
    while let Some(text) = pages.next().await {
        out.write_all(text?.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `keksdose purge`.
pub async fn purge(
    settings: &Settings,
    older_than: Option<&str>,
    site: Option<&str>,
) -> anyhow::Result<()> {
    let Some(older_than) = older_than else {
        let store = open(settings).await?;
        let now = retention::clock_ms();
        for id in sites::chosen(&store, site).await? {
            let Some(meta) = store.site(&id).await? else {
                continue;
            };
            let config = store
                .config(&id, &meta.config_version)
                .await?
                .ok_or_else(|| anyhow::anyhow!("{id}: its current config is missing"))?;
            let a = retention::apply(&store, &meta, &config, now).await?;
            println!(
                "{}: {} consents aged out by the config's retention rules, the personal content of {} records dropped (hashes kept); {} consents in force keep theirs",
                a.site, a.consents, a.erased, a.in_force
            );
        }
        return Ok(());
    };
    let cutoff = retention::cutoff(older_than).map_err(|e| anyhow::anyhow!("--older-than: {e}"))?;
    let store = open(settings).await?;
    let ids = sites::chosen(&store, site).await?;
    let done = retention::purge(&store, &ids, cutoff).await?;
    for p in done {
        println!(
            "{}: dropped the personal content of {} records received before {}; hashes kept",
            p.site, p.erased, p.cutoff
        );
    }
    Ok(())
}

/// `keksdose verify-proof FILE`: a proof pack checked offline.
pub fn verify_proof(file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let pack: crate::service::proofs::ProofPack = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a proof pack: {e}", file.display()))?;
    match crate::service::proofs::verify_pack(&pack) {
        Ok(report) => {
            println!("{}: verified\n  {report}", file.display());
            println!(
                "  Compare the signing keys with the ones the operator publishes (GET /v1/keys): {}",
                pack.checkpoints
                    .iter()
                    .map(|c| c.key_id.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Err(problem) => anyhow::bail!("{}: NOT verified: {problem}", file.display()),
    }
}

/// `keksdose config check`: every problem of every file.
pub fn check(files: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in files {
        match load(path) {
            Ok(config) => {
                println!(
                    "{}: ok (version {}, {} services{})",
                    path.display(),
                    config.version(),
                    config.services.len(),
                    if config.needs_banner() {
                        ""
                    } else {
                        ", only necessary: no banner"
                    }
                );
                // Valid, but worth knowing: a text missing in an offered language.
                for notice in config.notices() {
                    println!("  note: {notice}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: invalid", path.display());
                for line in format!("{e:#}").lines() {
                    eprintln!("  {line}");
                }
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} configs are invalid", files.len());
    }
    Ok(())
}

/// Reads and validates a config file; TOML unless it ends in `.json`.
fn load(path: &Path) -> anyhow::Result<SiteConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config = if path.extension().is_some_and(|e| e == "json") {
        SiteConfig::from_json(&text)?
    } else {
        SiteConfig::from_toml(&text)?
    };
    config.validate()?;
    Ok(config)
}
