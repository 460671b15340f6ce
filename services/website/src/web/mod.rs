//! HTTP plumbing shared by pages and the API: who is asking, CSRF, cookies,
//! client addresses, redirects, headers, the layout, rendering and
//! extractor errors. The rules themselves are in `actions`.

pub mod auth;
pub mod client_ip;
pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod headers;
pub mod layout;
pub mod observe;
pub mod page;
pub mod redirect;
pub mod render;
pub mod times;
