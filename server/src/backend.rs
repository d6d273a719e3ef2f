//! The store a server or a command runs on, picked by the `store` setting: the
//! embedded one (journal and sled in the data directory) or PostgreSQL. One
//! type, so that the services and handlers are built once; each call goes to
//! the backend it names.

use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::{
    Change, ConsentProof, Draft, Head, PublicKey, Result, Selection, SiteMeta, Store,
};
use keksdose_store_postgres::PgStore;
use keksdose_store_sled::SledStore;

/// Either store.
#[derive(Debug)]
pub enum Backend {
    Embedded(SledStore),
    Postgres(PgStore),
}

impl Backend {
    /// What the startup line says.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Embedded(_) => "embedded",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Calls the same method on whichever store it is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            Backend::Embedded($s) => $call.await,
            Backend::Postgres($s) => $call.await,
        }
    };
}

impl Store for Backend {
    async fn create_site(&self, site: SiteMeta, config: SiteConfig) -> Result<()> {
        each!(self, s => s.create_site(site, config))
    }

    async fn update_site(&self, site: SiteMeta) -> Result<()> {
        each!(self, s => s.update_site(site))
    }

    async fn publish_config(&self, site: &str, config: SiteConfig) -> Result<String> {
        each!(self, s => s.publish_config(site, config))
    }

    async fn append(&self, site: &str, draft: Draft) -> Result<ConsentRecord> {
        each!(self, s => s.append(site, draft))
    }

    async fn change(&self, changes: Vec<Change>) -> Result<()> {
        each!(self, s => s.change(changes))
    }

    async fn register_key(&self, key: PublicKey) -> Result<()> {
        each!(self, s => s.register_key(key))
    }

    async fn keys(&self) -> Result<Vec<PublicKey>> {
        each!(self, s => s.keys())
    }

    async fn site(&self, id: &str) -> Result<Option<SiteMeta>> {
        each!(self, s => s.site(id))
    }

    async fn site_recent(&self, id: &str) -> Result<Option<SiteMeta>> {
        each!(self, s => s.site_recent(id))
    }

    async fn sites(&self) -> Result<Vec<SiteMeta>> {
        each!(self, s => s.sites())
    }

    async fn config(&self, site: &str, version: &str) -> Result<Option<SiteConfig>> {
        each!(self, s => s.config(site, version))
    }

    async fn head(&self, site: &str) -> Result<Option<Head>> {
        each!(self, s => s.head(site))
    }

    async fn records(
        &self,
        site: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        each!(self, s => s.records(site, from, to, limit))
    }

    async fn consent(&self, site: &str, consent_id: &str) -> Result<Vec<ConsentRecord>> {
        each!(self, s => s.consent(site, consent_id))
    }

    async fn consent_proof(&self, site: &str, consent_id: &str) -> Result<ConsentProof> {
        each!(self, s => s.consent_proof(site, consent_id))
    }

    async fn consent_site(&self, consent_id: &str) -> Result<Option<String>> {
        each!(self, s => s.consent_site(consent_id))
    }

    async fn subject(&self, site: &str, subject_hash: &str) -> Result<Vec<String>> {
        each!(self, s => s.subject(site, subject_hash))
    }

    async fn checkpoint_covering(&self, site: &str, seq: u64) -> Result<Option<Checkpoint>> {
        each!(self, s => s.checkpoint_covering(site, seq))
    }

    async fn latest_checkpoint(&self, site: &str) -> Result<Option<Checkpoint>> {
        each!(self, s => s.latest_checkpoint(site))
    }

    async fn select(
        &self,
        site: &str,
        selection: &Selection,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        each!(self, s => s.select(site, selection, after, limit))
    }

    async fn day_stats(
        &self,
        site: &str,
        selection: &Selection,
    ) -> Result<std::collections::BTreeMap<String, keksdose_store::DayStats>> {
        each!(self, s => s.day_stats(site, selection))
    }

    async fn config_times(&self, site: &str) -> Result<Vec<(String, String)>> {
        each!(self, s => s.config_times(site))
    }

    async fn configs(&self, site: &str) -> Result<Vec<(String, SiteConfig)>> {
        each!(self, s => s.configs(site))
    }

    async fn links(&self, site: &str) -> Result<Vec<(String, String)>> {
        each!(self, s => s.links(site))
    }

    async fn checkpoints(&self, site: &str) -> Result<Vec<Checkpoint>> {
        each!(self, s => s.checkpoints(site))
    }

    async fn idempotency_keys(&self, site: &str) -> Result<Vec<(u64, String)>> {
        each!(self, s => s.idempotency_keys(site))
    }

    async fn doc(&self, table: &str, key: &str) -> Result<Option<String>> {
        each!(self, s => s.doc(table, key))
    }

    async fn docs(&self, table: &str) -> Result<Vec<(String, String)>> {
        each!(self, s => s.docs(table))
    }

    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<keksdose_store::AuditEntry>> {
        each!(self, s => s.audit(after, limit))
    }

    async fn lease(&self, name: &str, holder: &str, ttl_ms: u64) -> Result<bool> {
        each!(self, s => s.lease(name, holder, ttl_ms))
    }
}
