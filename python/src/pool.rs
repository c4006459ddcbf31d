//! Fork-safe parallelism.
//!
//! rayon's global thread pool does not survive `fork()`: in a child process (a PyTorch `DataLoader`
//! worker, `multiprocessing` with the fork start method) its threads are gone and the first parallel
//! call would wait for them forever. Work that may use rayon goes through [`install`], which runs it
//! on the global pool in the process that imported the module and on a pool of the child's own in a
//! forked child.

use std::sync::{Arc, Mutex, OnceLock};

/// The process that loaded the extension.
static HOME_PID: OnceLock<u32> = OnceLock::new();

/// A forked child's own pool, tagged with the child's pid (a grandchild builds another).
static CHILD_POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

/// Records the current process as the one whose global rayon pool is usable (at module import).
pub fn init() {
    HOME_PID.get_or_init(std::process::id);
}

/// Runs `f` where rayon can run: the global pool at home, a pool of this process's own after a fork.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pid = std::process::id();
    if HOME_PID.get().is_none_or(|&home| home == pid) {
        return f();
    }
    let pool = {
        let mut slot = CHILD_POOL.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some((owner, pool)) if *owner == pid => Some(Arc::clone(pool)),
            _ => match rayon::ThreadPoolBuilder::new().build() {
                Ok(pool) => {
                    let pool = Arc::new(pool);
                    *slot = Some((pid, Arc::clone(&pool)));
                    Some(pool)
                }
                Err(_) => None,
            },
        }
    };
    match pool {
        Some(pool) => pool.install(f),
        // No thread could be started at all: nothing better is left than to try on this one.
        None => f(),
    }
}
