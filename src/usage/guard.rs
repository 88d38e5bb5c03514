//! The one way voxrelay adds to a float counter or histogram: a non-finite or negative amount
//! is dropped and logged, so no input can leave a counter at `+Inf`/`NaN` for the life of the
//! process (or make `prometheus` panic on a negative increment).

use prometheus::core::Collector;
use prometheus::{Counter, Histogram};
use tracing::warn;

fn name(c: &impl Collector) -> String {
    c.desc()
        .first()
        .map_or_else(String::new, |d| d.fq_name.clone())
}

fn usable(v: f64, metric: impl FnOnce() -> String) -> bool {
    let ok = v.is_finite() && v >= 0.0;
    if !ok {
        warn!(metric = %metric(), value = v, "dropped a non-finite or negative metric amount");
    }
    ok
}

/// Adds `v` to `counter` when it is finite and not negative.
pub(crate) fn add(counter: &Counter, v: f64) {
    if usable(v, || name(counter)) {
        counter.inc_by(v);
    }
}

/// Observes `v` in `histogram` when it is finite and not negative.
pub(crate) fn observe(histogram: &Histogram, v: f64) {
    if usable(v, || name(histogram)) {
        histogram.observe(v);
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{HistogramOpts, Opts};

    use super::*;

    #[test]
    fn non_finite_and_negative_amounts_are_dropped() {
        let c = Counter::with_opts(Opts::new("c_total", "c")).unwrap();
        let h = Histogram::with_opts(HistogramOpts::new("h_seconds", "h")).unwrap();
        for bad in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -1.0,
            -f64::MIN_POSITIVE,
        ] {
            add(&c, bad);
            observe(&h, bad);
        }
        assert_eq!(c.get(), 0.0);
        assert_eq!((h.get_sample_count(), h.get_sample_sum()), (0, 0.0));
        add(&c, 1.5);
        add(&c, 0.0);
        observe(&h, 0.25);
        assert_eq!(c.get(), 1.5);
        assert_eq!((h.get_sample_count(), h.get_sample_sum()), (1, 0.25));
    }
}
