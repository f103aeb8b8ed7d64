//! The way in for an enterprise, and its limits. Anyone may look an object up in a published
//! list (`Runs::public_check`); the enterprise's own proof, which places it in its stratum,
//! needs its access code (`access_codes`). Every lookup spends from the client address's
//! budget; every wrong code spends from the address's and the credit code's budget of
//! failures, and once either is spent even the right code waits (a guessing run stops, it is
//! not merely slowed). Limits are per instance (`rate_limit`).

use std::net::IpAddr;

use super::access_codes::{self, AccessCodes};
use super::rate_limit::{Limiter, Rate};
use super::runs::{EnterprisePage, OwnProof, PublicCheck, Runs};
use super::{Actor, Result, ServiceError};
use crate::core::model::ObjectId;
use crate::service::runs::object_id;
use crate::store::Store;

/// The address a request came from, as the budgets count it: an IPv6 client by its /64 (one
/// host usually holds a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client(IpAddr);

impl Client {
    pub fn new(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(bits.into()))
                }
            },
            v4 => Self(v4),
        }
    }

    fn key(&self) -> String {
        self.0.to_string()
    }
}

/// The budgets (`[access]`); a count of 0 is no limit.
#[derive(Clone, Copy, Debug)]
pub struct AccessLimits {
    /// Public checks, pages and proof requests per client address per minute.
    pub lookups_per_minute: u32,
    /// Wrong access codes per client address per hour.
    pub failures_per_hour: u32,
    /// Wrong access codes per credit code per hour.
    pub failures_per_hour_per_code: u32,
}

pub struct EnterpriseAccess {
    codes: AccessCodes,
    lookups: Limiter,
    failures: Limiter,
    failures_per_code: Limiter,
}

impl std::fmt::Debug for EnterpriseAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnterpriseAccess")
    }
}

/// 429: how long to wait, in whole seconds (at least one).
fn too_many(what: &str, wait: chrono::Duration) -> ServiceError {
    let secs = (wait.num_milliseconds().max(0) as u64).div_ceil(1000).max(1);
    ServiceError::TooMany {
        message: format!("{what}; try again in {secs} s"),
        retry_after_secs: secs,
    }
}

impl EnterpriseAccess {
    /// The office's access code key (made on first use) and fresh budgets.
    pub async fn new(
        store: &dyn Store,
        now: chrono::DateTime<chrono::Utc>,
        limits: AccessLimits,
    ) -> Result<Self> {
        Ok(Self {
            codes: AccessCodes::load_or_create(store, now).await?,
            lookups: Limiter::new(Rate::per_minute(limits.lookups_per_minute)),
            failures: Limiter::new(Rate::per_hour(limits.failures_per_hour)),
            failures_per_code: Limiter::new(Rate::per_hour(limits.failures_per_hour_per_code)),
        })
    }

    fn lookup(&self, runs: &Runs, client: Client) -> Result<()> {
        self.lookups
            .take(&client.key(), runs.now())
            .map_err(|wait| too_many("too many lookups from this address", wait))
    }

    /// What the published list of a run says of credit code `code`.
    pub async fn check(
        &self,
        runs: &Runs,
        client: Client,
        run_id: &str,
        code: &str,
    ) -> Result<PublicCheck> {
        self.lookup(runs, client)?;
        runs.public_check(run_id, &object_id(code)?).await
    }

    /// Credit code `code` in every run whose list is public.
    pub async fn page(&self, runs: &Runs, client: Client, code: &str) -> Result<EnterprisePage> {
        self.lookup(runs, client)?;
        runs.enterprise_page(&object_id(code)?).await
    }

    /// The enterprise's own proof, for the holder of its access code. A wrong code is 403 and
    /// spends from both budgets of failures; with either spent, every attempt is 429.
    pub async fn proof(
        &self,
        runs: &Runs,
        client: Client,
        run_id: &str,
        code: &str,
        access_code: &str,
    ) -> Result<OwnProof> {
        self.lookup(runs, client)?;
        let id: ObjectId = object_id(code)?;
        let (now, address) = (runs.now(), client.key());
        let code_key = id.to_string();
        self.failures
            .check(&address, now)
            .map_err(|w| too_many("too many wrong access codes from this address", w))?;
        self.failures_per_code
            .check(&code_key, now)
            .map_err(|w| too_many("too many wrong access codes for this credit code", w))?;
        if !self.codes.matches(&id, access_code) {
            // Spent whatever the other budget says: both count every failure.
            let _ = self.failures.take(&address, now);
            let _ = self.failures_per_code.take(&code_key, now);
            return Err(ServiceError::Forbidden(
                "this is not the access code of this credit code (the office sends each \
                 enterprise its own through its liaison)"
                    .into(),
            ));
        }
        runs.own_proof(run_id, &id).await
    }

    /// Every library object's access code as CSV for a mail merge (see
    /// `access_codes::export`); recorded in the audit log as `actor`'s.
    pub async fn export(
        &self,
        store: &dyn Store,
        actor: &Actor,
        out: &mut (dyn std::io::Write + Send),
        name: &str,
    ) -> Result<u64> {
        access_codes::export(store, &self.codes, actor, out, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_counts_by_its_64_prefix() {
        let a = Client::new("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Client::new("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = Client::new("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mapped = Client::new("::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(mapped, Client::new("10.0.0.1".parse().unwrap()));
    }
}
