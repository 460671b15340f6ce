//! HTTP plumbing shared by pages and the API: sessions, CSRF, cookies,
//! client addresses, redirects, headers, rendering and extractor errors.

pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod headers;
pub mod layout;
pub mod observe;
pub mod redirect;
pub mod render;
pub mod session;
