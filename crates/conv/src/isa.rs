//! Which instruction set the stride-1 convolution kernels use, chosen at run time.
//!
//! The best the CPU supports is used unless `SNNKIT_CONV_ISA=avx512|avx2|portable` asks for
//! another (read once per process), or a caller wraps work in [`with_isa`] (per thread; tests
//! use it to run every path on one machine). A request the CPU cannot honour falls back to the
//! next path down the list `avx512` → `avx2` → `portable`, so forcing a path never runs an
//! instruction the CPU lacks.

use std::cell::Cell;
use std::sync::OnceLock;

/// A kernel family for [`crate::conv2d_same`] on the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Direct kernels on 16-float zmm vectors (needs AVX-512F).
    Avx512,
    /// Direct kernels on 8-float ymm vectors with fused multiply-add (needs AVX2 and FMA).
    Avx2,
    /// Implicit GEMM through the `gemm` crate: any CPU, any architecture.
    Portable,
}

impl Isa {
    /// Every family, fastest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// The name `SNNKIT_CONV_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }

    /// Parses a name as [`Isa::name`] writes it (case-insensitive).
    pub fn parse(s: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Whether the running CPU can execute this family.
    pub fn supported(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => false,
        }
    }

    /// This family if the CPU supports it, else the next supported one down [`Isa::ALL`].
    pub fn or_fallback(self) -> Isa {
        Isa::ALL
            .into_iter()
            .skip_while(|&i| i != self)
            .find(|i| i.supported())
            .unwrap_or(Isa::Portable)
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The families the running CPU supports, fastest first (`portable` always last).
pub fn supported_isas() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.supported()).collect()
}

/// The process-wide choice: `SNNKIT_CONV_ISA` when set (`SNNKIT_CONV_KERNEL=gemm`, the older
/// spelling, means `portable`), else the fastest supported family.
fn process_isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let requested = match std::env::var("SNNKIT_CONV_ISA") {
            Ok(v) => match Isa::parse(&v) {
                Some(i) => i,
                None => {
                    // A typo must not silently measure the wrong kernel.
                    eprintln!(
                        "warning: SNNKIT_CONV_ISA={v:?} is not avx512, avx2 or portable; \
                         using the fastest supported kernel"
                    );
                    Isa::Avx512
                }
            },
            Err(_) if std::env::var("SNNKIT_CONV_KERNEL").is_ok_and(|v| v == "gemm") => {
                Isa::Portable
            }
            Err(_) => Isa::Avx512,
        };
        requested.or_fallback()
    })
}

thread_local! {
    static OVERRIDE: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// The family convolutions started on this thread use now: the innermost [`with_isa`], else
/// the process-wide choice (see the module docs).
pub fn active_isa() -> Isa {
    OVERRIDE.with(|o| o.get()).unwrap_or_else(process_isa)
}

/// Runs `f` with this thread's convolutions on `isa` (or its fallback, see
/// [`Isa::or_fallback`]). The choice is made when an op starts, on the calling thread, so it
/// covers the forward and the backward run inside `f`, whatever threads the kernels use.
pub fn with_isa<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    // Restores the previous choice even if `f` panics.
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.replace(Some(isa.or_fallback()))));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fallback_is_supported() {
        for i in Isa::ALL {
            assert_eq!(Isa::parse(i.name()), Some(i));
            assert!(i.or_fallback().supported());
        }
        assert_eq!(Isa::parse("AVX2"), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse"), None);
        assert_eq!(Isa::Portable.or_fallback(), Isa::Portable);
        assert_eq!(supported_isas().last(), Some(&Isa::Portable));
    }

    #[test]
    fn with_isa_nests_and_restores() {
        let outer = active_isa();
        with_isa(Isa::Portable, || {
            assert_eq!(active_isa(), Isa::Portable);
            with_isa(Isa::Avx2, || {
                assert_eq!(active_isa(), Isa::Avx2.or_fallback())
            });
            assert_eq!(active_isa(), Isa::Portable);
        });
        assert_eq!(active_isa(), outer);
    }
}
