//! Integration tests of the website against real Postgres and Redis: one
//! binary, one module per area. Each test runs its own app on port 0 with
//! its own database and Redis key prefix (see `helpers`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_matrix;
mod accounts;
mod api;
mod assistant;
mod availability;
mod dms;
mod emotions;
mod helpers;
mod pages;
mod people;
mod personalization;
mod preferences;
mod profiles;
mod replica;
mod room_events;
mod room_files;
mod room_page;
mod search;
mod security;
mod uploads;
