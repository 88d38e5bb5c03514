//! Read buffers lent out while data is in flight: a session takes one when a socket has bytes
//! to read and gives it back once they are written on, so an idle session holds none.

use std::cell::RefCell;

/// Buffers kept per thread for reuse; more are freed when returned.
const MAX_POOLED: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer from this thread's pool, returned to it on drop.
pub(crate) struct PoolBuf(Box<[u8]>);

impl PoolBuf {
    /// A buffer of `size` bytes (its contents are whatever its last user left).
    pub(crate) fn take(size: usize) -> Self {
        let reused = POOL.with(|p| {
            let mut p = p.borrow_mut();
            match p.pop() {
                Some(b) if b.len() == size => Some(b),
                // a pool of another size (the setting changed in a test): start afresh
                Some(_) => {
                    p.clear();
                    None
                }
                None => None,
            }
        });
        Self(reused.unwrap_or_else(|| vec![0u8; size].into_boxed_slice()))
    }
}

impl std::ops::Deref for PoolBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for PoolBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        // during thread teardown the pool may be gone: the buffer is simply freed
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut()
                && p.len() < MAX_POOLED
            {
                p.push(buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returned_buffers_are_lent_again() {
        let first = PoolBuf::take(4096);
        let ptr = first.as_ptr();
        drop(first);
        let again = PoolBuf::take(4096);
        assert_eq!(again.as_ptr(), ptr);
        assert_eq!(again.len(), 4096);
        drop(again);
        assert_eq!(PoolBuf::take(2048).len(), 2048);
    }
}
