//! The client's address, as the rate limits count it: the connection's, or the last
//! `X-Forwarded-For` entry (the one the balancer in front appended; earlier ones are the
//! client's word) when `[access] client_address = "forwarded_for"`.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use crate::config::ClientAddress;
use crate::service::enterprises::Client;

pub struct ClientAddr(pub Client);

impl FromRequestParts<Arc<AppState>> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = match state.config.access.client_address {
            ClientAddress::Peer => None,
            ClientAddress::ForwardedFor => parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse::<IpAddr>().ok()),
        };
        let addr = forwarded.or(peer).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(Self(Client::new(addr)))
    }
}
