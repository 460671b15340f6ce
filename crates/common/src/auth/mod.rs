//! Authentication shared by both services: token keys, JWT issue/verify and
//! password hashing.

mod hash_threads;
pub mod keys;
pub mod password;
pub mod token;
