//! Joins diesel cannot read from foreign keys, declared by hand beside the
//! generated `schema.rs`: the hot tables have none (migration
//! 2026-11-29-000003, docs/PERFORMANCE.md).

use crate::schema::{messages, users};

diesel::joinable!(messages -> users (user_id));
