//! File access shared by the readers: memory-mapped bytes and atomic writes.

use crate::error::{Ctx, Error};
use std::io::{BufWriter, Write};
use std::ops::Deref;
use std::path::Path;

/// Files smaller than this are read into memory; larger ones are memory-mapped so that peak
/// memory stays at the decoded events (the page cache holds the bytes, not our heap).
const MMAP_THRESHOLD: u64 = 1 << 20;

/// The bytes of a whole file, owned or mapped.
pub(crate) enum FileBytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Owned(v) => v,
            FileBytes::Mapped(m) => m,
        }
    }
}

/// Opens `path` for decoding.
pub(crate) fn open(path: &Path) -> Result<FileBytes, Error> {
    let ctx = Ctx { path };
    let file = std::fs::File::open(path).map_err(|e| ctx.io(e))?;
    let len = file.metadata().map_err(|e| ctx.io(e))?.len();
    if len < MMAP_THRESHOLD {
        let mut v = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut &file, &mut v).map_err(|e| ctx.io(e))?;
        return Ok(FileBytes::Owned(v));
    }
    // SAFETY: the map is read-only and private to this process. If another process truncates
    // the file while it is mapped, reads may fault (SIGBUS); that is the documented cost of
    // mapping, accepted for large recordings that are not modified while being read.
    let map =
        unsafe { memmap2::MmapOptions::new().populate().map(&file) }.map_err(|e| ctx.io(e))?;
    #[cfg(unix)]
    {
        // Only a hint; decoding is correct without it.
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Ok(FileBytes::Mapped(map))
}

/// Writes a file atomically and durably through [`snnkit_fsutil::AtomicFile`]: `fill` writes into a
/// temporary file in the same folder, which becomes `path` only when complete.
pub(crate) fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&std::fs::File>) -> Result<(), Error>,
) -> Result<(), Error> {
    let ctx = Ctx { path };
    let file = snnkit_fsutil::AtomicFile::create(path).map_err(|e| ctx.io(e))?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, file.as_file());
        fill(&mut w)?;
        w.flush().map_err(|e| ctx.io(e))?;
    }
    file.commit().map_err(|e| ctx.io(e))
}

/// Index of the first event outside a `width × height` sensor, if any.
///
/// Callers first compare the column maxima (cheap, vectorisable) and only search when a
/// coordinate is out of range, so valid files pay one pass at most.
pub(crate) fn first_outside(x: &[u16], y: &[u16], size: (u16, u16)) -> Option<usize> {
    let mx = x.iter().copied().max().unwrap_or(0);
    let my = y.iter().copied().max().unwrap_or(0);
    if (x.is_empty() || mx < size.0) && (y.is_empty() || my < size.1) {
        return None;
    }
    x.iter()
        .zip(y)
        .position(|(&xi, &yi)| xi >= size.0 || yi >= size.1)
}

/// Little-endian u32 at `off`; callers have checked the bounds.
#[inline(always)]
pub(crate) fn le_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

/// Little-endian i32 at `off`; callers have checked the bounds.
#[inline(always)]
pub(crate) fn le_i32(b: &[u8], off: usize) -> i32 {
    le_u32(b, off) as i32
}

/// Human-readable rendering of a header prefix for error messages.
pub(crate) fn show_bytes(b: &[u8]) -> String {
    let n = b.len().min(16);
    let s: String = b[..n]
        .iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                (c as char).to_string()
            } else {
                format!("\\x{c:02x}")
            }
        })
        .collect();
    format!("\"{s}\"")
}

/// Events per parallel job: large enough that rayon's overhead is noise.
pub(crate) const JOB_EVENTS: usize = 1 << 18;

/// Mutable views of the four output columns for one job.
pub(crate) struct Cols<'a> {
    pub t: &'a mut [i64],
    pub x: &'a mut [u16],
    pub y: &'a mut [u16],
    pub p: &'a mut [u8],
}

/// Decodes fixed-size records into `n = body.len() / rec` pre-sized events, in parallel jobs of
/// [`JOB_EVENTS`] records when there is more than one job.
pub(crate) fn decode_fixed(
    body: &[u8],
    rec: usize,
    fill: impl Fn(&[u8], Cols) + Sync,
) -> crate::Events {
    let n = body.len() / rec;
    let mut ev = zeroed_events(n);
    let jobs: Vec<(&[u8], Cols)> = body[..n * rec]
        .chunks(JOB_EVENTS * rec)
        .zip(ev.t.chunks_mut(JOB_EVENTS))
        .zip(ev.x.chunks_mut(JOB_EVENTS))
        .zip(ev.y.chunks_mut(JOB_EVENTS))
        .zip(ev.p.chunks_mut(JOB_EVENTS))
        .map(|((((d, t), x), y), p)| (d, Cols { t, x, y, p }))
        .collect();
    if jobs.len() > 1 {
        use rayon::prelude::*;
        jobs.into_par_iter().for_each(|(d, c)| fill(d, c));
    } else {
        jobs.into_iter().for_each(|(d, c)| fill(d, c));
    }
    ev
}

/// Asks the kernel to back a large, not yet touched allocation with transparent huge pages.
///
/// Decoding writes ~13 bytes per event into fresh memory; with 4 KiB pages the page faults cost
/// more than the decoding itself (measured with `snnkit bench decode`). `vec![0; n]` comes from
/// `calloc`, which maps fresh zero pages without touching them, so the hint lands before the
/// first fault. It is only a hint: without THP support nothing changes.
pub(crate) fn hint_huge_pages<T>(v: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(v);
        if bytes < 2 * HUGE {
            return;
        }
        let start = v.as_mut_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside `v`'s allocation and MADV_HUGEPAGE changes only how
            // the kernel backs those pages, never their contents.
            unsafe {
                libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// `n` zeroed events, hinted for huge pages (see [`hint_huge_pages`]).
pub(crate) fn zeroed_events(n: usize) -> crate::Events {
    let mut ev = crate::Events {
        t: vec![0; n],
        x: vec![0; n],
        y: vec![0; n],
        p: vec![0; n],
    };
    hint_huge_pages(&mut ev.t);
    hint_huge_pages(&mut ev.x);
    hint_huge_pages(&mut ev.y);
    hint_huge_pages(&mut ev.p);
    ev
}
