//! The OpenAPI document's frame: info, tags, the bearer scheme and the error answers every
//! route shares. The paths come from the handlers' `#[utoipa::path]` as the routes are
//! registered (`routes`), so a route and its description are one declaration.

use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToResponse};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "double-random",
        version = "1",
        description = "Verifiable random draws for 双随机、一公开 market-regulation inspections: \
            inspected objects and inspectors are drawn at random, and the draw and its results \
            are made public. Each task run goes committed → entropy → drawn → results → \
            published: the pool is frozen and a commitment published before the randomness \
            exists; the entropy announced with the commitment arrives (values of a public event \
            entered by officers, a drand beacon fetched and verified, or both); the draw follows \
            and is signed; officers enter results and publish them. Anyone can recompute a draw \
            from its public bundle (docs/draw-spec.md), and each enterprise can check its own \
            outcome. Errors are JSON `{\"error\": {\"code\", \"message\"}}` with stable codes \
            (see `Error`). Roles: auditor < officer < approver < admin; see docs/api.md."
    ),
    tags(
        (name = "public", description = "No token; read only (the log's checkpoint and \
            log-proof routes also keep each checkpoint they sign)."),
        (name = "libraries", description = "Object, inspector, penalty, inspection and \
            check-item libraries."),
        (name = "plans", description = "Annual plans (年度抽查计划) and their tasks."),
        (name = "runs", description = "The draw lifecycle."),
        (name = "audit", description = "The hash-chained audit log."),
        (name = "admin", description = "Accounts, tokens and calendars."),
    ),
    security(("bearer" = [])),
    modifiers(&Bearer),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            Unprocessable,
            TooManyRequests,
            Storage,
            Corrupt,
            Internal
        )
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "`Authorization: Bearer drt_<64 hex>` (scheme in any case). The first start prints an admin token once; \
             admins create accounts and tokens with POST /api/tokens and /api/accounts."
                .into(),
        );
        api.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The shared error answers: each a reusable response whose body is `Error`.
macro_rules! error_responses {
    ($($(#[doc = $doc:literal])+ $name:ident;)+) => {$(
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                let description = [$($doc.trim()),+].join(" ");
                let body = Content::new(Some(Ref::from_schema_name("Error")));
                let response = ResponseBuilder::new()
                    .description(description)
                    .content("application/json", body);
                (stringify!($name), response.build().into())
            }
        }
    )+};
}

error_responses! {
    /// Malformed request: `bad_request` for a body that is not the expected JSON (including
    /// unknown fields), a calendar body that is not UTF-8 or a calendar year that is not a
    /// number, or a query string that does not parse; on protected routes only once the token
    /// is known.
    BadRequest;
    /// `unauthorized`: no `Authorization: Bearer` header, or an unknown token.
    Unauthorized;
    /// `forbidden`: the token's role is too weak.
    Forbidden;
    /// `not_found`: no such plan, task or run, or not available in its current state.
    NotFound;
    /// `conflict`: the run is in the wrong state for this step, or another request changed
    /// the same document first.
    Conflict;
    /// `payload_too_large`: a body over the configured limit (`[server] max_body_bytes`, or
    /// `max_upload_bytes` for library uploads).
    PayloadTooLarge;
    /// `invalid` (a rule of the service), `bad_field` (file, line and field of a bad task file
    /// or calendar), `bad_file`, or `rejected` (refused by the database's own checks).
    Unprocessable;
    /// `too_many_requests`: a rate limit of `[access]` is spent (lookups per client address,
    /// wrong access codes per address or per credit code); the `Retry-After` header says how
    /// many seconds to wait.
    TooManyRequests;
    /// `storage`: the database failed; the request changed nothing.
    Storage;
    /// `corrupt`: stored data is damaged or inconsistent, e.g. the transparency log was
    /// edited, reordered or truncated after a checkpoint was signed; the daemon refuses to
    /// sign or prove over it.
    Corrupt;
    /// `internal`: a failure of the daemon itself, neither the request's nor the database's
    /// (an export that did not encode as text).
    Internal;
}

/// Schemas of the protocol's own answers, described here because the core they come from
/// knows nothing of HTTP (docs/draw-spec.md is their definition).
pub mod protocol {
    use utoipa::ToSchema;

    /// `core::signature::Signature`: the publication key's Ed25519 signature over a bundle
    /// statement (docs/draw-spec.md §19).
    #[derive(ToSchema)]
    #[schema(as = Signature)]
    #[allow(dead_code)] // a schema only
    pub struct SignatureSchema {
        /// `ed25519`.
        algorithm: String,
        /// Hex, 32 bytes.
        public_key: String,
        /// The signed statement.
        message: String,
        /// Hex, 64 bytes.
        signature: String,
    }

    /// `core::tlog::InclusionProof`: a log entry with its RFC 6962 inclusion proof in a signed
    /// checkpoint.
    #[derive(ToSchema)]
    #[schema(as = InclusionProof)]
    #[allow(dead_code)] // a schema only
    pub struct InclusionProofSchema {
        /// The signed checkpoint (C2SP signed note).
        checkpoint: String,
        index: u64,
        size: u64,
        /// The leaf's entry, as hashed.
        entry: String,
        /// Hex hashes, leaf to root.
        proof: Vec<String>,
    }

    /// `core::attestation::Attestation`: an auditor's Ed25519 signature over a run's
    /// commitment and result (docs/draw-spec.md §21).
    #[derive(ToSchema)]
    #[schema(as = Attestation)]
    #[allow(dead_code)] // a schema only
    pub struct AttestationSchema {
        /// `double-random/attestation/v2`.
        format: String,
        run: String,
        /// Hex, 32 bytes.
        commitment_hash: String,
        /// Hex, 32 bytes.
        result_digest: String,
        /// Hex Ed25519 public key, 32 bytes.
        auditor_key: String,
        /// Hex, 64 bytes: over the statement of §21.
        signature: String,
        /// The name the auditor gives itself (not signed).
        name: Option<String>,
    }

    /// `core::tlog::ConsistencyProof`: RFC 6962 consistency between two log sizes.
    #[derive(ToSchema)]
    #[schema(as = ConsistencyProof)]
    #[allow(dead_code)] // a schema only
    pub struct ConsistencyProofSchema {
        first: u64,
        second: u64,
        /// Hex hashes.
        proof: Vec<String>,
    }
}
