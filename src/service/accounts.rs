//! Accounts: one per person, with a role. An account's document id is its normalised name, so
//! the documents table's primary key keeps names unique: of two creations of one name, however
//! concurrent, one wins and the other conflicts. Accounts are disabled, never deleted (their
//! names stay in the audit log); a password, if set, is kept as an argon2id PHC string in the
//! secret column, which no answer, log line or audit entry shows.

use std::fmt;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::clock::stamped;
use super::documents::{self, Document, Stored};
use super::{Actor, Result, ServiceError};
use crate::store::{Doc, DocKind, DocOp, SecretBytes, Store, StoreError};

/// Roles, weakest first; each may do everything the ones before it may. An auditor reads
/// everything and changes nothing; an officer also changes the libraries, plans and runs; an
/// approver (负责人) also approves plans and amendments, never their own; an admin also manages
/// accounts, tokens and calendars. An admin can make accounts anyway, so withholding approval
/// from admins would separate nothing: the four eyes are two distinct accounts, and who made
/// which account is in the audit log.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Auditor,
    Officer,
    Approver,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Officer => "officer",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auditor" => Ok(Role::Auditor),
            "officer" => Ok(Role::Officer),
            "approver" => Ok(Role::Approver),
            "admin" => Ok(Role::Admin),
            _ => Err(ServiceError::Invalid(format!(
                "{s:?} is not a role: auditor, officer, approver or admin"
            ))),
        }
    }
}

/// The most characters a name may have, after normalisation.
pub const NAME_MAX_CHARS: usize = 64;

/// A person's name as accounts, tokens and the audit log know it: NFKC-normalised (so a
/// full-width `ｌｉ` is `li`), 1 to 64 characters, no control, bidirectional-control or other
/// invisible formatting character, no whitespace but single inner spaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self> {
        let name: String = raw.nfkc().collect();
        let bad = |why: &str| {
            Err(ServiceError::Invalid(format!(
                "account name {:?}: {why}",
                name.escape_debug().to_string()
            )))
        };
        let chars = name.chars().count();
        if chars == 0 || chars > NAME_MAX_CHARS {
            return bad("must be 1 to 64 characters");
        }
        if let Some(c) = name.chars().find(|&c| invisible(c)) {
            return bad(&format!(
                "U+{:04X} is a control, bidirectional or invisible character",
                c as u32
            ));
        }
        if name.trim() != name || name.contains("  ") {
            return bad("spaces only between words, one at a time");
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters a name must not hold: controls, whitespace other than the space, the
/// bidirectional controls (U+061C, U+200E/F, U+202A–202E, U+2066–2069) and the other
/// default-ignorable or format characters that print as nothing.
fn invisible(c: char) -> bool {
    c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c as u32,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// A password as typed; `Debug` never shows it.
pub struct Password(String);

/// Passwords shorter than this are refused.
pub const PASSWORD_MIN_CHARS: usize = 12;

impl Password {
    pub fn new(text: String) -> Result<Self> {
        let n = text.chars().count();
        if n < PASSWORD_MIN_CHARS || text.len() > 1024 {
            return Err(ServiceError::Invalid(format!(
                "a password has {PASSWORD_MIN_CHARS} to 1024 characters"
            )));
        }
        Ok(Self(text))
    }

    /// The argon2id PHC string (algorithm, parameters, salt, hash) stored for it.
    fn hash(&self) -> Result<Vec<u8>> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| ServiceError::Invalid(format!("no OS randomness for a salt: {e}")))?;
        let salt = SaltString::encode_b64(&bytes)
            .map_err(|e| ServiceError::Invalid(format!("password salt: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default());
        let phc = argon
            .hash_password(self.0.as_bytes(), &salt)
            .map_err(|e| ServiceError::Invalid(format!("password hash: {e}")))?;
        Ok(phc.to_string().into_bytes())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A stored account (its password hash, if any, is in the secret column, not here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub name: String,
    pub role: Role,
    #[serde(with = "stamped")]
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// When a password was last set (none: the account signs in with tokens only).
    #[serde(default, with = "stamped::option", skip_serializing_if = "Option::is_none")]
    pub password_set_at: Option<DateTime<Utc>>,
    /// A disabled account's tokens stop working; the account stays for the record.
    #[serde(default, with = "stamped::option", skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_by: Option<String>,
}

impl Document for Account {
    const KIND: DocKind = DocKind::Account;
    fn id(&self) -> String {
        self.name.clone()
    }
}

impl Account {
    pub fn enabled(&self) -> bool {
        self.disabled_at.is_none()
    }
}

/// A new account's document and its write, which conflicts if the name is taken.
pub fn new_account(
    name: &AccountName,
    role: Role,
    password: Option<&Password>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Account, Doc)> {
    let account = Account {
        name: name.to_string(),
        role,
        created_at: now,
        created_by: actor.name.clone(),
        password_set_at: password.map(|_| now),
        disabled_at: None,
        disabled_by: None,
    };
    let mut doc = documents::to_doc(&account);
    if let Some(p) = password {
        doc.secret = Some(SecretBytes(p.hash()?));
    }
    Ok((account, doc))
}

/// Names identify people: a second account of one name is a 409 `conflict`.
pub fn name_taken(name: &AccountName) -> impl FnOnce(StoreError) -> ServiceError + '_ {
    move |e| match e {
        StoreError::Conflict(_) => StoreError::Conflict(format!(
            "an account named {name} exists already: names identify people"
        ))
        .into(),
        e => e.into(),
    }
}

/// Creates an account.
pub async fn create(
    store: &dyn Store,
    name: &str,
    role: Role,
    password: Option<&Password>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Account> {
    let name = AccountName::parse(name)?;
    let (account, doc) = new_account(&name, role, password, actor, now)?;
    let audit = documents::draft(actor, "account.create", name.as_str(), &[&doc]);
    store
        .write_docs(vec![documents::create(doc)], audit)
        .await
        .map_err(name_taken(&name))?;
    Ok(account)
}

/// The account named `name` (normalised as when it was made).
pub async fn load(store: &dyn Store, name: &str) -> Result<Stored<Account>> {
    let name = AccountName::parse(name)?;
    documents::load(store, name.as_str()).await
}

pub async fn list(store: &dyn Store) -> Result<Vec<Account>> {
    documents::list(store, None).await
}

/// Disables an account: its tokens stop working at once.
pub async fn disable(
    store: &dyn Store,
    name: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Account> {
    let stored = load(store, name).await?;
    let mut account = stored.value.clone();
    if !account.enabled() {
        return Err(ServiceError::Invalid(format!(
            "account {} is disabled already",
            account.name
        )));
    }
    account.disabled_at = Some(now);
    account.disabled_by = Some(actor.name.clone());
    let (doc, op) = stored.replace_with(&account);
    let audit = documents::draft(actor, "account.disable", &account.name, &[&doc]);
    store.write_docs(vec![op], audit).await?;
    Ok(account)
}

/// Sets a new password (the old one, if any, stops working).
pub async fn reset_password(
    store: &dyn Store,
    name: &str,
    password: &Password,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Account> {
    let stored = load(store, name).await?;
    let mut account = stored.value.clone();
    account.password_set_at = Some(now);
    let (mut doc, _) = stored.replace_with(&account);
    doc.secret = Some(SecretBytes(password.hash()?));
    let op = DocOp::Put {
        new: doc.clone(),
        previous: Some(stored.doc.doc.clone()),
    };
    let audit = documents::draft(actor, "account.password", &account.name, &[&doc]);
    store.write_docs(vec![op], audit).await?;
    Ok(account)
}

/// The enabled account `name` with at least `role`, or 403 `forbidden` saying why: the rule
/// every approval checks, whoever calls (the daemon or the CLI on the database).
pub async fn require(store: &dyn Store, name: &str, role: Role) -> Result<Stored<Account>> {
    let refuse = ServiceError::Forbidden;
    let stored = match load(store, name).await {
        Ok(s) => s,
        Err(ServiceError::NotFound(_) | ServiceError::Invalid(_)) => {
            return Err(refuse(format!(
                "{name:?} is no account: this needs an account with the {} role",
                role.as_str()
            )));
        }
        Err(e) => return Err(e),
    };
    let a = &stored.value;
    if !a.enabled() {
        return Err(refuse(format!("account {} is disabled", a.name)));
    }
    if a.role < role {
        return Err(refuse(format!(
            "account {} is {}: this needs {}",
            a.name,
            a.role.as_str(),
            role.as_str()
        )));
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;
    use argon2::password_hash::PasswordHash;

    #[test]
    fn names_are_nfkc_and_refuse_invisible_characters() {
        assert_eq!(AccountName::parse("ｌｉ").unwrap().as_str(), "li");
        assert_eq!(AccountName::parse("王　小明").unwrap().as_str(), "王 小明");
        for bad in [
            "", " li", "li ", "l  i", "li\u{0}", "li\n", "li\u{202E}", "li\u{2066}", "\u{200E}li",
            "l\u{200B}i", "li\u{061C}", "li\u{FEFF}", "li\u{E0041}",
        ] {
            assert!(AccountName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(AccountName::parse(&"名".repeat(64)).is_ok());
        assert!(AccountName::parse(&"名".repeat(65)).is_err());
    }

    #[test]
    fn a_password_is_an_argon2id_phc_string_and_never_shown() {
        let p = Password::new("correct horse battery".into()).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
        let phc = String::from_utf8(p.hash().unwrap()).unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("horse"));
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
        assert!(Password::new("short".into()).is_err());
    }

    #[test]
    fn roles_are_ordered_and_parsed() {
        assert!(Role::Auditor < Role::Officer && Role::Officer < Role::Approver);
        assert!(Role::Approver < Role::Admin);
        assert_eq!(Role::parse("approver").unwrap(), Role::Approver);
        assert!(Role::parse("root").is_err());
    }
}
