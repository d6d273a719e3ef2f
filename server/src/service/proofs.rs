//! Proofs: a consent's records checked against the ledger around them, a whole
//! chain recomputed, and checkpoints signed over ledger heads.

use std::collections::BTreeMap;

use keksdose_shared::record::{Broken, ChainVerifier, GENESIS};
use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::{Change, ConsentProof, Store, now_ms};

use futures_util::future::{try_join, try_join_all};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Error, Result};
use crate::signing::Signer;

/// One record of a proof with its check against the ledger around it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProofEntry {
    pub record: ConsentRecord,
    /// Its own hashes hold, it links to the record before it, and the record
    /// after it links to it.
    pub verified: bool,
    pub problem: Option<String>,
    /// `prev_hash` of the record after this one, if there is one.
    pub next_prev_hash: Option<String>,
}

/// `GET /v1/admin/sites/{site}/consents/{consent_id}/proof`
#[derive(Debug, Serialize, ToSchema)]
pub struct Proof {
    pub site: String,
    pub consent_id: String,
    pub verified: bool,
    pub records: Vec<ProofEntry>,
    /// Every config version the records name, by version: the exact texts,
    /// categories and services the visitor was shown.
    pub configs: BTreeMap<String, SiteConfig>,
    /// The first signed checkpoint at or after the latest record.
    pub checkpoint: Option<Checkpoint>,
    pub checkpoint_signature_valid: Option<bool>,
}

/// Where a chain broke.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenLink {
    pub error: String,
    /// `{"kind": "record_hash" | "personal_hash" | "link" | "sequence" | "site" | "canonical", "seq": n, …}`
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// `GET /v1/admin/sites/{site}/verify`
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    pub site: String,
    pub verified: bool,
    pub records: u64,
    pub checked: u64,
    pub head: Option<String>,
    pub first_broken: Option<BrokenLink>,
    pub checkpoint: Option<Checkpoint>,
    /// Whether the latest checkpoint's signature holds and the record it names
    /// still has the hash it signed.
    pub checkpoint_matches: Option<bool>,
}

/// Every record of a consent ID with hashes and chain links, each checked
/// against its neighbours in the ledger, the config versions the visitor was
/// shown, and the signed checkpoint that covers the latest record.
pub async fn proof<S: Store>(store: &S, site: &str, consent_id: &str) -> Result<Proof> {
    // Everything the proof checks the records against, asked at once: each
    // record with the ones before and after it (seqs have no gaps) and the
    // covering checkpoint (one round trip on PostgreSQL), and the keys that
    // may have signed it; then the config versions (kept in memory once read).
    let (read, keys) = try_join(store.consent_proof(site, consent_id), store.keys()).await?;
    let ConsentProof {
        records,
        neighbours,
        checkpoint,
    } = read;
    if records.is_empty() {
        return Err(Error::not_found(format!(
            "no records of consent ID {consent_id:?}"
        )));
    }
    let at = |seq: u64| records.iter().chain(&neighbours).find(|r| r.seq == seq);
    // Two records that claim one seq (a row altered in the database): which
    // of them is the ledger's cannot be told here, so nothing around them
    // verifies.
    let mut seqs: Vec<u64> = records.iter().chain(&neighbours).map(|r| r.seq).collect();
    seqs.sort_unstable();
    let twice: Vec<u64> = seqs
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    let mut versions: Vec<&str> = records.iter().map(|r| r.config_version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    let shown = try_join_all(versions.iter().map(|v| store.config(site, v))).await?;
    let mut verified = true;
    let mut entries = Vec::new();
    for r in &records {
        // A record verifies when its own hashes hold, it links to the record
        // before it in the ledger, and the record after it links to it.
        let own = r.verify_self();
        let prev_ok = match r.seq {
            1 => r.prev_hash == GENESIS,
            n => at(n - 1).is_some_and(|p| p.record_hash == r.prev_hash && p.verify_self().is_ok()),
        };
        let next = at(r.seq + 1);
        let next_ok = next.is_none_or(|n| n.prev_hash == r.record_hash);
        let claimed = [r.seq.saturating_sub(1), r.seq, r.seq + 1]
            .into_iter()
            .find(|n| twice.contains(n));
        let ok = own.is_ok() && prev_ok && next_ok && claimed.is_none();
        verified &= ok;
        let problem = own
            .err()
            .map(|e| e.to_string())
            .or_else(|| {
                (!prev_ok).then(|| {
                    format!(
                        "record {}: prev_hash does not match record {}",
                        r.seq,
                        r.seq - 1
                    )
                })
            })
            .or_else(|| {
                (!next_ok)
                    .then(|| format!("record {} does not link to record {}", r.seq + 1, r.seq))
            })
            .or_else(|| claimed.map(|n| format!("two records claim seq {n}")));
        entries.push(ProofEntry {
            record: r.clone(),
            verified: ok,
            problem,
            next_prev_hash: next.map(|n| n.prev_hash.clone()),
        });
    }
    let configs: BTreeMap<String, SiteConfig> = versions
        .iter()
        .zip(shown)
        .filter_map(|(v, c)| Some((v.to_string(), c?)))
        .collect();
    let checkpoint_signature_valid = checkpoint
        .as_ref()
        .map(|c| crate::signing::verify_by(&keys, c));
    Ok(Proof {
        site: site.to_string(),
        consent_id: consent_id.to_string(),
        verified,
        records: entries,
        configs,
        checkpoint,
        checkpoint_signature_valid,
    })
}

/// Whether a checkpoint's signature holds, by the key it names among every
/// server's keys (it may have been signed by another server on this store).
pub async fn signed<S: Store>(store: &S, c: &Checkpoint) -> Result<bool> {
    Ok(crate::signing::verify_by(&store.keys().await?, c))
}

/// Recomputes a site's whole chain, page by page: how many records verified,
/// and the first break if there is one.
pub async fn verify_chain<S: Store>(store: &S, site: &str) -> Result<(u64, Option<Broken>)> {
    let mut verifier = ChainVerifier::new(site);
    loop {
        let page = store
            .records(site, verifier.verified() + 1, u64::MAX, 1000)
            .await?;
        if page.is_empty() {
            return Ok((verifier.verified(), None));
        }
        for r in &page {
            if let Err(e) = verifier.push(r) {
                return Ok((verifier.verified(), Some(e)));
            }
        }
    }
}

/// The whole chain recomputed, and whether the latest checkpoint still matches
/// (its signature holds and the record it names has the hash it signed).
pub async fn verify<S: Store>(store: &S, site: &str) -> Result<VerifyReport> {
    let (checked, broken) = verify_chain(store, site).await?;
    let head = store.head(site).await?;
    let checkpoint = store.latest_checkpoint(site).await?;
    let checkpoint_matches = match &checkpoint {
        None => None,
        Some(c) => Some(
            signed(store, c).await?
                && (c.seq == 0
                    || store
                        .records(site, c.seq, c.seq, 1)
                        .await?
                        .first()
                        .is_some_and(|r| r.record_hash == c.head_hash)),
        ),
    };
    Ok(VerifyReport {
        site: site.to_string(),
        verified: broken.is_none() && checkpoint_matches != Some(false),
        records: head.as_ref().map_or(0, |h| h.seq),
        checked,
        head: head.map(|h| h.hash),
        first_broken: broken.as_ref().map(|b| BrokenLink {
            error: b.to_string(),
            detail: serde_json::to_value(b).unwrap_or_default(),
        }),
        checkpoint,
        checkpoint_matches,
    })
}

/// Signs and stores a checkpoint of `site`'s current head.
pub async fn sign_head<S: Store>(store: &S, signer: &Signer, site: &str) -> Result<Checkpoint> {
    let (seq, hash) = store
        .head(site)
        .await?
        .map_or((0, GENESIS.to_string()), |h| (h.seq, h.hash));
    let c = signer.sign(site, seq, &hash, now_ms());
    store
        .change(vec![Change::Checkpoint {
            checkpoint: c.clone(),
        }])
        .await?;
    Ok(c)
}

/// Signs the head of every site whose ledger grew since its last checkpoint
/// (the server's periodic job, and its last act on the way out).
pub async fn checkpoint_grown<S: Store>(store: &S, signer: &Signer) {
    let sites = match store.sites().await {
        Ok(sites) => sites,
        Err(e) => {
            eprintln!("keksdose: checkpoints skipped: {e}");
            return;
        }
    };
    for site in sites {
        let head = store
            .head(&site.id)
            .await
            .ok()
            .flatten()
            .map_or(0, |h| h.seq);
        let last = store
            .latest_checkpoint(&site.id)
            .await
            .ok()
            .flatten()
            .map_or(0, |c| c.seq);
        if head > last
            && let Err(e) = sign_head(store, signer, &site.id).await
        {
            eprintln!("keksdose: checkpoint of {} failed: {e}", site.id);
        }
    }
}

// ------------------------------------------------------------ proof packs

/// What a proof pack's `format` says.
pub const PACK_FORMAT: &str = "keksdose-proof-pack/1";

/// A consent's proof in one file, checkable offline (`keksdose verify-proof`)
/// by anyone who trusts the signing key: the consent's records; for each, the
/// ledger from it up to the signed checkpoint that covers it (other visitors'
/// records without their personal part, which no hash needs); those
/// checkpoints and the keys that signed them; and the config versions shown.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofPack {
    pub format: String,
    pub site: String,
    pub consent_id: String,
    /// When the pack was made (RFC 3339).
    pub made_at: String,
    /// The consent's own records, in order, with their personal parts.
    pub records: Vec<ConsentRecord>,
    /// The other records between each of them and its checkpoint, by seq.
    pub chain: Vec<ConsentRecord>,
    pub checkpoints: Vec<Checkpoint>,
    /// The public keys (JWK, as `GET /v1/keys`) that signed them.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
    /// Every config version the records name, by version.
    pub configs: BTreeMap<String, SiteConfig>,
}

/// A consent's proof pack. A record no checkpoint covers yet gets one: the
/// ledger's head is signed now (as `POST …/checkpoints` would).
pub async fn proof_pack<S: Store>(
    store: &S,
    signer: &Signer,
    site: &str,
    consent_id: &str,
) -> Result<ProofPack> {
    let records = store.consent(site, consent_id).await?;
    let Some(last) = records.last().map(|r| r.seq) else {
        return Err(Error::not_found(format!(
            "no records of consent ID {consent_id:?}"
        )));
    };
    if store.checkpoint_covering(site, last).await?.is_none() {
        sign_head(store, signer, site).await?;
    }
    let own: std::collections::BTreeSet<u64> = records.iter().map(|r| r.seq).collect();
    let mut checkpoints: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    let mut chain: BTreeMap<u64, ConsentRecord> = BTreeMap::new();
    let mut fetched_to = 0;
    for r in &records {
        let Some(c) = store.checkpoint_covering(site, r.seq).await? else {
            return Err(Error::new(
                keksdose_shared::api::ErrorCode::Conflict,
                format!("record {} is not covered by a checkpoint", r.seq),
            ));
        };
        // Records already fetched for an earlier one are not fetched again.
        let from = (r.seq + 1).max(fetched_to + 1);
        fetched_to = fetched_to.max(c.seq);
        if from <= c.seq {
            let between = store
                .records(site, from, c.seq, (c.seq - from + 1) as usize)
                .await?;
            for mut b in between {
                if !own.contains(&b.seq) {
                    b.personal = None;
                    chain.insert(b.seq, b);
                }
            }
        }
        checkpoints.insert(c.seq, c);
    }
    let mut versions: Vec<&str> = records.iter().map(|r| r.config_version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    let mut configs = BTreeMap::new();
    for v in versions {
        if let Some(c) = store.config(site, v).await? {
            configs.insert(v.to_string(), c);
        }
    }
    let named: std::collections::BTreeSet<&str> =
        checkpoints.values().map(|c| c.key_id.as_str()).collect();
    let keys = store
        .keys()
        .await?
        .iter()
        .filter(|k| named.contains(k.key_id.as_str()))
        .map(|k| serde_json::to_value(crate::signing::jwk(k)).unwrap_or_default())
        .collect();
    Ok(ProofPack {
        format: PACK_FORMAT.into(),
        site: site.to_string(),
        consent_id: consent_id.to_string(),
        made_at: keksdose_shared::time::rfc3339_millis(now_ms()),
        records,
        chain: chain.into_values().collect(),
        checkpoints: checkpoints.into_values().collect(),
        keys,
        configs,
    })
}

/// What `keksdose verify-proof` found: the pack's checks passed, or the first
/// that failed.
pub fn verify_pack(pack: &ProofPack) -> std::result::Result<String, String> {
    if pack.format != PACK_FORMAT {
        return Err(format!(
            "format {:?}: expected {PACK_FORMAT:?}",
            pack.format
        ));
    }
    for (version, config) in &pack.configs {
        if config.version() != *version {
            return Err(format!(
                "config {version}: its content has another version ({})",
                config.version()
            ));
        }
    }
    let keys: Vec<keksdose_store::PublicKey> = pack
        .keys
        .iter()
        .filter_map(|k| {
            Some(keksdose_store::PublicKey {
                key_id: k.get("kid")?.as_str()?.to_string(),
                x: k.get("x")?.as_str()?.to_string(),
            })
        })
        .collect();
    let mut ledger: BTreeMap<u64, &ConsentRecord> = pack.chain.iter().map(|r| (r.seq, r)).collect();
    if pack.records.is_empty() {
        return Err("no records".into());
    }
    for r in &pack.records {
        if r.site != pack.site || r.consent_id != pack.consent_id {
            return Err(format!("record {}: of another site or consent ID", r.seq));
        }
        if r.personal.is_none() && r.personal_hash.is_empty() {
            return Err(format!("record {}: no personal hash", r.seq));
        }
        if !pack.configs.contains_key(&r.config_version) {
            return Err(format!(
                "record {}: the config version it names ({}) is missing",
                r.seq, r.config_version
            ));
        }
        ledger.insert(r.seq, r);
    }
    for r in ledger.values() {
        if r.site != pack.site {
            return Err(format!("record {}: of another site", r.seq));
        }
        // Its message names the record already.
        r.verify_self().map_err(|e| e.to_string())?;
    }
    let mut covered = Vec::new();
    for r in &pack.records {
        let Some(c) = pack
            .checkpoints
            .iter()
            .filter(|c| c.seq >= r.seq)
            .min_by_key(|c| c.seq)
        else {
            return Err(format!("record {}: no checkpoint covers it", r.seq));
        };
        if c.site != pack.site {
            return Err(format!("checkpoint {}: of another site", c.seq));
        }
        let mut hash = r.record_hash.clone();
        for seq in r.seq + 1..=c.seq {
            let Some(next) = ledger.get(&seq) else {
                return Err(format!(
                    "record {seq} is missing between record {} and checkpoint {}",
                    r.seq, c.seq
                ));
            };
            if next.prev_hash != hash {
                return Err(format!("record {seq} does not link to record {}", seq - 1));
            }
            hash.clone_from(&next.record_hash);
        }
        if hash != c.head_hash {
            return Err(format!(
                "checkpoint {}: signs another head than the ledger in the pack",
                c.seq
            ));
        }
        if !crate::signing::verify_by(&keys, c) {
            return Err(format!(
                "checkpoint {}: the signature does not hold with key {}",
                c.seq, c.key_id
            ));
        }
        covered.push(format!(
            "{} (seq {}, signed {} by key {})",
            r.seq, c.seq, c.signed_at, c.key_id
        ));
    }
    Ok(format!(
        "consent {} of site {}: {} records verified, each linked to a signed checkpoint: {}",
        pack.consent_id,
        pack.site,
        pack.records.len(),
        covered.join("; ")
    ))
}
