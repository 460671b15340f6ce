//! The rooms' sentence vectors in memory, so a semantic search scans RAM
//! instead of reading every readable room's vectors from Postgres (100,000
//! vectors are 39 MB: half a second to read, 9 ms to scan). The `vectors`
//! follower drops a room when it writes to it; a search that read a room
//! while it was being written keeps its copy to itself (a generation per
//! room says so). Bounded: past `max_vectors` it starts empty again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One room's vectors: (message id, vector).
pub type RoomVectors = Arc<Vec<(i64, ml::Quantized)>>;

/// A cached room's vectors with its id: a hit names its message's room.
pub type CachedRoom = (i64, RoomVectors);

#[derive(Default)]
struct Inner {
    rooms: HashMap<i64, RoomVectors>,
    /// Bumped on every drop of a room: a copy read before is not kept.
    generation: HashMap<i64, u64>,
    vectors: usize,
}

/// The cache; cheap to share.
pub struct VectorCache {
    inner: Mutex<Inner>,
    max_vectors: usize,
}

impl VectorCache {
    /// An empty cache holding at most `max_vectors` vectors.
    pub fn new(max_vectors: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_vectors,
        }
    }

    /// The cached vectors of `rooms`, each with its room, and the rooms
    /// missing with the generation to give [`Self::put`] once they are read.
    pub fn get(&self, rooms: &[i64]) -> (Vec<CachedRoom>, Vec<(i64, u64)>) {
        let Ok(inner) = self.inner.lock() else {
            return (Vec::new(), rooms.iter().map(|r| (*r, u64::MAX)).collect());
        };
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for room in rooms {
            match inner.rooms.get(room) {
                Some(v) => found.push((*room, v.clone())),
                None => missing.push((*room, inner.generation.get(room).copied().unwrap_or(0))),
            }
        }
        (found, missing)
    }

    /// Keeps a room's vectors read at `generation`, unless the room was
    /// written since.
    pub fn put(&self, room: i64, generation: u64, vectors: RoomVectors) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation.get(&room).copied().unwrap_or(0) != generation {
            return;
        }
        if inner.vectors + vectors.len() > self.max_vectors {
            inner.rooms.clear();
            inner.vectors = 0;
        }
        inner.vectors += vectors.len();
        if let Some(old) = inner.rooms.insert(room, vectors) {
            inner.vectors -= old.len();
        }
    }

    /// Forgets a room (its vectors changed).
    pub fn drop_room(&self, room: i64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        *inner.generation.entry(room).or_default() += 1;
        if let Some(old) = inner.rooms.remove(&room) {
            inner.vectors -= old.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors(n: usize) -> RoomVectors {
        let q = match ml::quantize(&[0.5; ml::DIM]) {
            Ok(q) => q,
            Err(e) => panic!("{e}"),
        };
        Arc::new((0..n as i64).map(|i| (i, q.clone())).collect())
    }

    #[test]
    fn a_copy_read_before_a_write_is_not_kept() {
        let cache = VectorCache::new(100);
        let (_, missing) = cache.get(&[7]);
        assert_eq!(missing, vec![(7, 0)]);
        cache.drop_room(7); // the follower wrote meanwhile
        cache.put(7, 0, vectors(3));
        assert_eq!(cache.get(&[7]).0.len(), 0);
        let (_, missing) = cache.get(&[7]);
        cache.put(7, missing[0].1, vectors(3));
        assert_eq!(cache.get(&[7]).0.len(), 1);
    }

    #[test]
    fn past_its_bound_it_starts_again() {
        let cache = VectorCache::new(5);
        cache.put(1, 0, vectors(3));
        cache.put(2, 0, vectors(3));
        let (found, missing) = cache.get(&[1, 2]);
        assert_eq!((found.len(), missing.len()), (1, 1));
    }
}
