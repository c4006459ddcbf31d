//! Process settings that make CPU training faster; call [`tune_cpu_process`] first thing in
//! `main`, before any thread starts.

/// glibc allocations above this size are served by `mmap` (its largest fixed threshold).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 32 << 20;
/// Free memory glibc keeps at the top of the heap instead of returning it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = 256 << 20;

/// Applies the settings above; call it at the start of `main`, before other threads exist.
///
/// On glibc, the allocator then keeps freed tensor buffers (up to 32 MiB each) for reuse
/// instead of unmapping them: a training step allocates and frees hundreds of multi-megabyte
/// buffers, and each fresh mapping costs page faults, zeroing and TLB shootdowns (about 5 % of
/// a full-width SMA-VGG8 step's CPU samples on AMD EPYC Zen 4 before this).
pub fn tune_cpu_process() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
