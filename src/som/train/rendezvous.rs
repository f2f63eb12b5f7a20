//! Where the bands of the online trainer meet once per presentation to agree on the
//! best-matching node.

use std::sync::atomic::{AtomicU64, Ordering};

/// Publishes "stopped" for its band when the band unwinds from a panic, so that the other
/// bands leave the rendezvous instead of waiting forever for its next answer. Not on a normal
/// return: a band that has finished may still be read by slower ones.
pub(super) struct StopIfUnwinding<'a> {
    pub rendezvous: &'a Rendezvous,
    pub band: usize,
}

impl Drop for StopIfUnwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.rendezvous.stop(self.band);
        }
    }
}

/// Where the bands swap their nearest nodes, once per presentation.
///
/// Band `i` writes its nearest node into its slot, in the half chosen by the presentation's
/// parity, then publishes the presentation number; it reads the others' once they have
/// published the same number. A band can be at most one presentation ahead of the slowest
/// (it needs everyone's answer to go on), so two halves are enough for no answer to be
/// overwritten before it is read.
pub(super) struct Rendezvous {
    slots: Vec<Slot>,
}

/// One band's mailbox, on its own cache lines so that bands do not slow each other down.
#[repr(align(128))]
#[derive(Default)]
struct Slot {
    presentation: AtomicU64,
    distance: [AtomicU64; 2],
    node: [AtomicU64; 2],
}

/// Published instead of a presentation number when a band stops.
const STOPPED: u64 = u64::MAX;

/// Busy-wait rounds before a waiting band starts yielding its core.
const SPINS_BEFORE_YIELD: u32 = 1 << 8;

impl Rendezvous {
    pub fn new(bands: usize) -> Self {
        Rendezvous {
            slots: (0..bands).map(|_| Slot::default()).collect(),
        }
    }

    /// Publishes band `band`'s nearest node for `presentation` and returns the nearest of all
    /// bands (ties: the smallest flat index), or `None` if a band stopped (then this band is
    /// marked stopped too).
    pub fn exchange(&self, band: usize, presentation: u64, nearest: (f64, usize)) -> Option<usize> {
        if self.slots.len() == 1 {
            return Some(nearest.1);
        }
        let half = (presentation % 2) as usize;
        let mine = &self.slots[band];
        mine.distance[half].store(nearest.0.to_bits(), Ordering::Relaxed);
        mine.node[half].store(nearest.1 as u64, Ordering::Relaxed);
        mine.presentation.store(presentation, Ordering::Release);
        let mut best = (f64::INFINITY, usize::MAX);
        for slot in &self.slots {
            let mut spins = 0;
            loop {
                match slot.presentation.load(Ordering::Acquire) {
                    STOPPED => {
                        // Leaving too: a band still waiting for this one's answer (rather than
                        // the stopped band's) must learn of the stop from it.
                        self.stop(band);
                        return None;
                    }
                    published if published >= presentation => break,
                    _ if spins < SPINS_BEFORE_YIELD => {
                        spins += 1;
                        std::hint::spin_loop();
                    }
                    _ => std::thread::yield_now(),
                }
            }
            let distance = f64::from_bits(slot.distance[half].load(Ordering::Relaxed));
            let node = slot.node[half].load(Ordering::Relaxed) as usize;
            if distance < best.0 || (distance == best.0 && node < best.1) {
                best = (distance, node);
            }
        }
        Some(best.1)
    }

    /// Tells the other bands that band `band` stopped (the leader on a cancel, any band on a
    /// panic).
    pub fn stop(&self, band: usize) {
        self.slots[band]
            .presentation
            .store(STOPPED, Ordering::Release);
    }
}
