//! Authentication shared by both services: token keys, JWT issue/verify and
//! password hashing.

pub mod keys;
pub mod password;
pub mod token;
