//! What a user can do, shared by the pages and the JSON API so both follow
//! the same rules: handlers parse the request, call one of these, and answer.

pub mod accounts;
pub mod messages;
pub mod rooms;
