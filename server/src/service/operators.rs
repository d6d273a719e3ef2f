//! The console's people: operator accounts with a role per site, their
//! passwords (argon2id), their sessions, and the audit trail of what they —
//! and machines with a site key, and commands on the server — did.
//!
//! Accounts and sessions are documents in the store (tables `operators` and
//! `sessions`), so every server on one database sees the same ones. A session
//! is known to the store only by the SHA-256 of its token; a password only by
//! its argon2id hash. The audit trail is the store's hash chain
//! ([`keksdose_store::audit`]).

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use keksdose_store::{AuditEntry, AuditEvent, Change, Store};
use serde::{Deserialize, Serialize};

use super::{Error, Result};
use crate::pseudonym::random_token;

const OPERATORS: &str = "operators";
const SESSIONS: &str = "sessions";
/// A session's last use and language, apart from the session itself: a late
/// write of them (a request still running when its session ended) leaves a
/// stray document, never a session back.
const SESSION_USE: &str = "session_use";

/// A session ends after this long without a request.
pub const IDLE_MS: u64 = 30 * 60 * 1000;
/// And after this long in any case.
pub const MAX_AGE_MS: u64 = 12 * 60 * 60 * 1000;
/// A session's last use is written at most this often.
const TOUCH_MS: u64 = 60 * 1000;
/// The shortest password an operator may choose.
pub const MIN_PASSWORD: usize = 12;

/// What an operator may do on a site.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: config, consents, subjects, users and the API key.
    Admin,
    /// The config: edit, preview, publish. And the overview.
    Editor,
    /// The data-protection officer: read, verify, export, subject requests and
    /// operator withdrawals; no publishing.
    Dpo,
}

/// What a request needs on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The overview, the config, the audit trail: every role.
    View,
    /// Consents, proofs, exports, subjects, withdrawals: `dpo` and `admin`.
    Consents,
    /// Publishing a config: `editor` and `admin`.
    Publish,
    /// Users and the API key: `admin`.
    Manage,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Dpo => "dpo",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "dpo" => Some(Role::Dpo),
            _ => None,
        }
    }

    /// Whether this role may do what `need` names.
    pub fn allows(self, need: Need) -> bool {
        matches!(
            (self, need),
            (Role::Admin, _)
                | (_, Need::View)
                | (Role::Dpo, Need::Consents)
                | (Role::Editor, Need::Publish)
        )
    }
}

/// An operator account. `Debug` redacts the password hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    /// Random, never reused; what the audit trail names (`operator:<id>`).
    pub id: String,
    /// Lower-case; how the operator signs in.
    pub email: String,
    /// The argon2id hash (PHC string) of the password.
    pub password: String,
    pub roles: BTreeMap<String, Role>,
    pub created_at: String,
    /// When the password last changed (ms, the sessions' clock): sessions
    /// begun before it are over, even one whose sign-in checked the old
    /// password while it changed.
    #[serde(default)]
    pub password_changed_ms: u64,
    /// The password was handed over (an initial one, a reset): the console
    /// lets its owner do nothing but choose their own first.
    #[serde(default)]
    pub must_change_password: bool,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("roles", &self.roles)
            .finish()
    }
}

impl Operator {
    pub fn role(&self, site: &str) -> Option<Role> {
        self.roles.get(site).copied()
    }

    /// The actor the audit trail names.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.id)
    }
}

/// An operator as the API shows it: without the password hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OperatorView {
    pub id: String,
    pub email: String,
    /// The operator's role on the site asked about.
    pub role: Role,
    pub created_at: String,
}

/// A signed-in session: the store keeps it under the SHA-256 of its token, in
/// two documents (`sessions`: who and since when, written once; `session_use`:
/// last use and language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub operator: String,
    /// The token every state-changing request must carry (the form field `csrf`).
    pub csrf: String,
    pub created_ms: u64,
    pub seen_ms: u64,
    /// The console's language: `de` or `en`.
    pub lang: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionDoc {
    operator: String,
    csrf: String,
    created_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionUse {
    seen_ms: u64,
    lang: String,
}

fn put_use(key: &str, seen_ms: u64, lang: &str) -> Result<Change> {
    Ok(Change::Put {
        table: SESSION_USE.into(),
        key: key.to_string(),
        value: Some(json(&SessionUse {
            seen_ms,
            lang: lang.to_string(),
        })?),
    })
}

/// The two documents of a session, deleted.
fn delete_session(key: &str) -> [Change; 2] {
    [SESSIONS, SESSION_USE].map(|table| Change::Put {
        table: table.into(),
        key: key.to_string(),
        value: None,
    })
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::Store(keksdose_store::StoreError::Internal(e.to_string())))
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::Store(keksdose_store::StoreError::Internal(e.to_string())))
}

/// `email` as accounts are keyed: trimmed, lower-case, and plausible.
pub fn normalise_email(email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let plausible = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible {
        Ok(e)
    } else {
        Err(Error::bad_request("not an e-mail address"))
    }
}

/// The argon2id hash of a password, with a fresh salt (RFC 9106's second
/// recommended setting: 64 MiB, 3 passes).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| Error::Store(keksdose_store::StoreError::Internal(e.to_string())))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| Error::Store(keksdose_store::StoreError::Internal(e.to_string())))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Store(keksdose_store::StoreError::Internal(e.to_string())))
}

fn argon2() -> argon2::Argon2<'static> {
    let params = argon2::Params::new(64 * 1024, 3, 1, None).unwrap_or_default();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// At most this many argon2id computations (64 MiB each) run at once; the
/// rest wait their turn.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`hash_password`] on a blocking thread, one of at most two at a time.
pub async fn hash_password_async(password: &str) -> Result<String> {
    let permit = HASHING.acquire().await.map_err(internal)?;
    let password = password.to_string();
    // The permit goes with the work: a caller that gives up waiting (a client
    // gone) does not free it while the hash still runs.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hash_password(&password)
    })
    .await
    .map_err(internal)?
}

/// [`password_matches`] on a blocking thread, one of at most two at a time.
pub async fn password_matches_async(hash: &str, password: &str) -> bool {
    let Ok(permit) = HASHING.acquire().await else {
        return false;
    };
    let (hash, password) = (hash.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password_matches(&hash, &password)
    })
    .await
    .unwrap_or(false)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Store(keksdose_store::StoreError::Internal(e.to_string()))
}

/// Whether `password` is the one `hash` was made from.
pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A password to hand a new operator once: 20 characters from an alphabet
/// without look-alikes (about 115 bits).
pub fn initial_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Bytes past the largest multiple of the alphabet's size are drawn again,
    // so that every character is equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut bytes = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut bytes) {
            panic!("the operating system's random number generator failed: {e}");
        }
        for b in bytes.into_iter().map(usize::from).filter(|b| *b < limit) {
            if out.len() < 20 {
                out.push(ALPHABET[b % ALPHABET.len()] as char);
            }
        }
    }
    out
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::bad_request(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    if password.len() > 1024 {
        return Err(Error::bad_request("a password may have at most 1024 bytes"));
    }
    Ok(())
}

/// Every operator account, by email.
pub async fn all<S: Store>(store: &S) -> Result<Vec<Operator>> {
    let mut all = store
        .docs(OPERATORS)
        .await?
        .iter()
        .map(|(_, v)| parse::<Operator>(v))
        .collect::<Result<Vec<_>>>()?;
    all.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(all)
}

pub async fn by_id<S: Store>(store: &S, id: &str) -> Result<Option<Operator>> {
    store
        .doc(OPERATORS, id)
        .await?
        .map(|v| parse(&v))
        .transpose()
}

pub async fn by_email<S: Store>(store: &S, email: &str) -> Result<Option<Operator>> {
    let Ok(email) = normalise_email(email) else {
        return Ok(None);
    };
    Ok(all(store).await?.into_iter().find(|o| o.email == email))
}

/// Account edits read an account, change it and write it whole: one at a time
/// in this process, so that two admins' edits never undo each other here.
/// (Servers sharing a database each hold their own.)
static EDITS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn save<S: Store>(store: &S, operator: &Operator, audit: Option<AuditEvent>) -> Result<()> {
    let mut changes = vec![Change::Put {
        table: OPERATORS.into(),
        key: operator.id.clone(),
        value: Some(json(operator)?),
    }];
    changes.extend(audit.map(|event| Change::Audit { event }));
    store.change(changes).await?;
    Ok(())
}

/// What [`add`] did.
#[derive(Debug)]
pub struct Added {
    pub operator: Operator,
    /// The initial password, when the account is new: shown once, never kept.
    pub password: Option<String>,
}

/// Whether [`add`] may give a role to an account that exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// The server's administrator (the CLI, the demo): yes.
    Join,
    /// A site's admin (the console, the API key): no. E-mail addresses are not
    /// verified, so an account is not known to be the person a site means: an
    /// admin of another site could have made it for an address they do not
    /// own. The server's administrator gives an existing account a role.
    Refuse,
}

/// Gives `email` the role `role` on `site`: a new account with an initial
/// password, or (with [`Existing::Join`]) a role added to an existing one
/// (whose password stays).
pub async fn add<S: Store>(
    store: &S,
    actor: &str,
    email: &str,
    site: &str,
    role: Role,
    existing: Existing,
) -> Result<Added> {
    let email = normalise_email(email)?;
    let _edit = EDITS.lock().await;
    let event = |id: &str, action: &str| AuditEvent {
        actor: actor.to_string(),
        action: action.into(),
        site: Some(site.to_string()),
        target: Some(format!("operator:{id}")),
        detail: format!("role {}", role.as_str()),
    };
    if let Some(mut operator) = by_email(store, &email).await? {
        if existing == Existing::Refuse
            && let Some(has) = operator.role(site)
        {
            return Err(Error::new(
                keksdose_shared::api::ErrorCode::Conflict,
                format!(
                    "{email} is a user of this site already ({}); change the role in the list",
                    has.as_str()
                ),
            ));
        }
        if existing == Existing::Refuse {
            return Err(Error::new(
                keksdose_shared::api::ErrorCode::Conflict,
                format!(
                    "{email} has an account already; the server's administrator gives it a role: \
                     keksdose user set {email} --site {site} --role {}",
                    role.as_str()
                ),
            ));
        }
        operator.roles.insert(site.to_string(), role);
        save(store, &operator, Some(event(&operator.id, "user_change"))).await?;
        return Ok(Added {
            operator,
            password: None,
        });
    }
    let password = initial_password();
    let operator = Operator {
        id: random_token(12),
        email,
        password: hash_password_async(&password).await?,
        roles: BTreeMap::from([(site.to_string(), role)]),
        created_at: keksdose_shared::time::rfc3339_millis(keksdose_store::now_ms()),
        password_changed_ms: 0,
        must_change_password: true,
    };
    save(store, &operator, Some(event(&operator.id, "user_add"))).await?;
    Ok(Added {
        operator,
        password: Some(password),
    })
}

/// Changes (or with `None` takes away) the role on `site` of an operator who
/// has one there (a role on another site is given by [`add`]). An account
/// left without any role stays, so that its id keeps meaning the same person
/// in the audit trail; it cannot see anything.
pub async fn set_role<S: Store>(
    store: &S,
    actor: &str,
    id: &str,
    site: &str,
    role: Option<Role>,
) -> Result<Operator> {
    let _edit = EDITS.lock().await;
    let mut operator = by_id(store, id)
        .await?
        .filter(|o| o.roles.contains_key(site))
        .ok_or_else(|| Error::not_found("no such user on this site"))?;
    match role {
        Some(r) => operator.roles.insert(site.to_string(), r),
        None => operator.roles.remove(site),
    };
    let event = AuditEvent {
        actor: actor.to_string(),
        action: if role.is_some() {
            "user_change"
        } else {
            "user_remove"
        }
        .into(),
        site: Some(site.to_string()),
        target: Some(operator.actor()),
        detail: role.map_or_else(String::new, |r| format!("role {}", r.as_str())),
    };
    save(store, &operator, Some(event)).await?;
    Ok(operator)
}

/// The operators with a role on `site`, by email.
pub async fn of_site<S: Store>(store: &S, site: &str) -> Result<Vec<OperatorView>> {
    Ok(all(store)
        .await?
        .into_iter()
        .filter_map(|o| {
            Some(OperatorView {
                role: o.role(site)?,
                id: o.id,
                email: o.email,
                created_at: o.created_at,
            })
        })
        .collect())
}

/// Who chose a password: its owner, or someone who hands it over (a reset,
/// which its owner must then change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    ByOwner,
    HandedOver,
}

/// Sets a new password (the operator's own change, or a reset by the CLI).
pub async fn set_password<S: Store>(
    store: &S,
    actor: &str,
    operator: &Operator,
    password: &str,
    chosen: Chosen,
) -> Result<()> {
    check_password(password)?;
    let hash = hash_password_async(password).await?;
    let _edit = EDITS.lock().await;
    // The account as it is now (its roles may have changed since it was read).
    let mut changed = by_id(store, &operator.id)
        .await?
        .ok_or_else(|| Error::not_found("no such account"))?;
    changed.password = hash;
    changed.password_changed_ms = super::retention::clock_ms();
    changed.must_change_password = chosen == Chosen::HandedOver;
    let event = AuditEvent {
        actor: actor.to_string(),
        action: "password_change".into(),
        site: None,
        target: Some(operator.actor()),
        detail: String::new(),
    };
    save(store, &changed, Some(event)).await
}

/// Deletes an account (CLI); its id stays in the audit trail.
pub async fn remove<S: Store>(store: &S, actor: &str, operator: &Operator) -> Result<()> {
    store
        .change(vec![
            Change::Put {
                table: OPERATORS.into(),
                key: operator.id.clone(),
                value: None,
            },
            Change::Audit {
                event: AuditEvent {
                    actor: actor.to_string(),
                    action: "user_remove".into(),
                    site: None,
                    target: Some(operator.actor()),
                    detail: "account deleted".into(),
                },
            },
        ])
        .await?;
    Ok(())
}

/// Checks a sign-in. The answer is the same for an unknown email and a wrong
/// password, and costs the same time (a hash is checked either way).
pub async fn check_sign_in<S: Store>(
    store: &S,
    email: &str,
    password: &str,
) -> Result<Option<Operator>> {
    // A hash of a password nobody knows, checked for unknown emails.
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let operator = by_email(store, email).await?;
    let hash = match &operator {
        Some(o) => o.password.clone(),
        None => DUMMY
            .get_or_try_init(|| async { hash_password_async(&random_token(32)).await })
            .await?
            .clone(),
    };
    let ok = password_matches_async(&hash, password).await;
    Ok(operator.filter(|_| ok))
}

/// The SHA-256 (hex) under which a session token is kept.
fn token_key(token: &str) -> String {
    keksdose_shared::canonical::sha256_hex(token.as_bytes())
}

/// Starts a session for `operator`; returns its token (the cookie's value)
/// and the session.
pub async fn start_session<S: Store>(
    store: &S,
    operator: &Operator,
    lang: &str,
) -> Result<(String, Session)> {
    let token = random_token(32);
    let key = token_key(&token);
    let now = super::retention::clock_ms();
    let doc = SessionDoc {
        operator: operator.id.clone(),
        csrf: random_token(24),
        created_ms: now,
    };
    store
        .change(vec![
            Change::Put {
                table: SESSIONS.into(),
                key: key.clone(),
                value: Some(json(&doc)?),
            },
            put_use(&key, now, lang)?,
            Change::Audit {
                event: AuditEvent {
                    actor: operator.actor(),
                    action: "sign_in".into(),
                    site: None,
                    target: None,
                    detail: String::new(),
                },
            },
        ])
        .await?;
    let session = Session {
        operator: doc.operator,
        csrf: doc.csrf,
        created_ms: now,
        seen_ms: now,
        lang: lang.to_string(),
    };
    Ok((token, session))
}

fn expired(session: &Session, now: u64) -> bool {
    now.saturating_sub(session.seen_ms) > IDLE_MS
        || now.saturating_sub(session.created_ms) > MAX_AGE_MS
}

async fn read_session<S: Store>(store: &S, key: &str) -> Result<Option<Session>> {
    let Some(text) = store.doc(SESSIONS, key).await? else {
        return Ok(None);
    };
    let doc: SessionDoc = parse(&text)?;
    let used = match store.doc(SESSION_USE, key).await? {
        Some(text) => Some(parse::<SessionUse>(&text)?),
        None => None,
    };
    Ok(Some(Session {
        operator: doc.operator,
        csrf: doc.csrf,
        created_ms: doc.created_ms,
        seen_ms: used.as_ref().map_or(doc.created_ms, |u| u.seen_ms),
        lang: used.map_or_else(|| "de".to_string(), |u| u.lang),
    }))
}

/// The session and operator a token names, if it is still running (idle for
/// less than [`IDLE_MS`], younger than [`MAX_AGE_MS`], its operator there);
/// its last use is noted.
pub async fn session<S: Store>(store: &S, token: &str) -> Result<Option<(Session, Operator)>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let key = token_key(token);
    let Some(mut session) = read_session(store, &key).await? else {
        return Ok(None);
    };
    let now = super::retention::clock_ms();
    let operator = if expired(&session, now) {
        None
    } else {
        by_id(store, &session.operator)
            .await?
            .filter(|o| session.created_ms >= o.password_changed_ms)
    };
    let Some(operator) = operator else {
        store.change(delete_session(&key).to_vec()).await?;
        return Ok(None);
    };
    if now.saturating_sub(session.seen_ms) > TOUCH_MS {
        session.seen_ms = now;
        store
            .change(vec![put_use(&key, now, &session.lang)?])
            .await?;
    }
    Ok(Some((session, operator)))
}

/// Changes the language a session's pages are in.
pub async fn set_session_lang<S: Store>(
    store: &S,
    token: &str,
    session: &Session,
    lang: &str,
) -> Result<()> {
    store
        .change(vec![put_use(&token_key(token), session.seen_ms, lang)?])
        .await?;
    Ok(())
}

/// Ends every session of an operator but the one with token `except`.
pub async fn end_sessions_of<S: Store>(store: &S, id: &str, except: Option<&str>) -> Result<()> {
    let keep = except.map(token_key);
    let mut ended = Vec::new();
    for (key, text) in store.docs(SESSIONS).await? {
        let Ok(session) = parse::<SessionDoc>(&text) else {
            continue;
        };
        if session.operator == id && keep.as_ref() != Some(&key) {
            ended.extend(delete_session(&key));
        }
    }
    if !ended.is_empty() {
        store.change(ended).await?;
    }
    Ok(())
}

/// Removes the sessions that have run out and stray use documents (the
/// periodic retention run does this); returns how many sessions went.
pub async fn purge_sessions<S: Store>(store: &S) -> Result<usize> {
    let now = super::retention::clock_ms();
    // The use documents first: one of a session started meanwhile is not taken
    // for a stray one.
    let uses = store.docs(SESSION_USE).await?;
    let mut gone = Vec::new();
    let mut live = std::collections::BTreeSet::new();
    for (key, _) in store.docs(SESSIONS).await? {
        // A document that cannot be read is no session.
        match read_session(store, &key).await.ok().flatten() {
            Some(s) if !expired(&s, now) => {
                live.insert(key);
            }
            _ => gone.push(key),
        }
    }
    let mut changes: Vec<Change> = gone.iter().flat_map(|k| delete_session(k)).collect();
    for (key, _) in uses {
        if !live.contains(&key) && !gone.contains(&key) {
            changes.push(Change::Put {
                table: SESSION_USE.into(),
                key,
                value: None,
            });
        }
    }
    for chunk in changes.chunks(1000) {
        store.change(chunk.to_vec()).await?;
    }
    Ok(gone.len())
}

/// Signs out: the session is gone from the store.
pub async fn end_session<S: Store>(store: &S, token: &str, operator: &Operator) -> Result<()> {
    let mut changes = delete_session(&token_key(token)).to_vec();
    changes.push(Change::Audit {
        event: AuditEvent {
            actor: operator.actor(),
            action: "sign_out".into(),
            site: None,
            target: None,
            detail: String::new(),
        },
    });
    store.change(changes).await?;
    Ok(())
}

/// Notes an action in the audit trail. A failure to note it fails the caller:
/// an action that cannot be audited is reported as failed (it may have taken
/// effect; the caller says so).
pub async fn audit<S: Store>(
    store: &S,
    actor: &str,
    action: &str,
    site: Option<&str>,
    target: Option<&str>,
    detail: &str,
) -> Result<()> {
    store
        .change(vec![Change::Audit {
            event: AuditEvent {
                actor: actor.to_string(),
                action: action.to_string(),
                site: site.map(str::to_string),
                target: target.map(str::to_string),
                detail: detail.to_string(),
            },
        }])
        .await?;
    Ok(())
}

/// A site's part of the audit trail, newest first, at most `limit`: the
/// events about the site and the sign-ins and sign-outs of its operators; and
/// whether the whole trail verified.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditTrail {
    /// Whether every entry's hash and link in the whole trail checked out.
    pub verified: bool,
    /// The first entry that did not, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_at: Option<u64>,
    pub entries: Vec<AuditEntry>,
}

pub async fn trail<S: Store>(store: &S, site: &str, limit: usize) -> Result<AuditTrail> {
    let operators: std::collections::BTreeSet<String> = all(store)
        .await?
        .iter()
        .filter(|o| o.roles.contains_key(site))
        .map(Operator::actor)
        .collect();
    let mut entries = Vec::new();
    let mut broken_at = None;
    let mut last: Option<AuditEntry> = None;
    loop {
        let page = store
            .audit(last.as_ref().map_or(0, |e| e.seq), 1000)
            .await?;
        if page.is_empty() {
            break;
        }
        if broken_at.is_none() {
            broken_at = keksdose_store::audit::verify(last.as_ref(), &page);
        }
        for e in &page {
            let about_site = e.event.site.as_deref() == Some(site);
            let of_operator = e.event.site.is_none()
                && (operators.contains(&e.event.actor)
                    || e.event
                        .target
                        .as_ref()
                        .is_some_and(|t| operators.contains(t)));
            if about_site || of_operator {
                entries.push(e.clone());
            }
        }
        last = page.last().cloned();
    }
    entries.reverse();
    entries.truncate(limit);
    Ok(AuditTrail {
        verified: broken_at.is_none(),
        broken_at,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_issue_says_and_no_more() {
        use Need::*;
        let table = [
            (Role::Admin, [true, true, true, true]),
            (Role::Editor, [true, false, true, false]),
            (Role::Dpo, [true, true, false, false]),
        ];
        for (role, allowed) in table {
            for (need, ok) in [View, Consents, Publish, Manage].into_iter().zip(allowed) {
                assert_eq!(role.allows(need), ok, "{role:?} {need:?}");
            }
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn emails_are_keyed_lower_case_and_nonsense_is_refused() {
        assert_eq!(
            normalise_email(" Anna@Example.ORG ").unwrap(),
            "anna@example.org"
        );
        for bad in [
            "",
            "anna",
            "@example.org",
            "anna@",
            "anna@localhost",
            "an na@example.org",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_password_hash_is_argon2id_salted_and_checks_only_its_password() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=65536,t=3,p=1$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(password_matches(&a, "correct horse battery"));
        assert!(!password_matches(&a, "correct horse batterx"));
        assert!(!password_matches("not a hash", "x"));
        assert!(
            format!(
                "{:?}",
                Operator {
                    id: "i".into(),
                    email: "e@x.example".into(),
                    password: a.clone(),
                    roles: BTreeMap::new(),
                    created_at: String::new(),
                    password_changed_ms: 0,
                    must_change_password: false,
                }
            )
            .contains("<redacted>")
        );
        let p = initial_password();
        assert_eq!(p.chars().count(), 20);
        assert!(check_password(&p).is_ok() && check_password("short").is_err());
    }
}
